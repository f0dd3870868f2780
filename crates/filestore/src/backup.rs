//! The blob half of a backup. The caller first snapshots `files.db` into the backup (one SQLite read
//! transaction, so the metadata is consistent); this copies exactly what that snapshot references:
//! every chunk a file or the chunk table names, and the durable bytes of each unfinished tus upload.
//! Chunks are immutable and content-addressed, so copying them after the snapshot is safe; the only
//! race is garbage collection removing a chunk whose file was deleted after the snapshot *and* whose
//! grace period then ran out, which is reported as an error asking for a new backup.

use crate::error::{FileStoreError, Result};
use crate::{Hash, hex};
use quire_stdx::FilesDir;
use quire_stdx::fs::sync_dir;
use rusqlite::Connection;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

/// What [`copy_blobs`] copied.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BlobCopy {
    pub files: u64,
    pub chunks: u64,
    pub chunk_bytes: u64,
    /// Unfinished tus uploads carried over (resumable after a restore).
    pub uploads: u64,
    /// Unfinished uploads dropped because their part file was gone (finished or expired meanwhile).
    pub uploads_dropped: u64,
}

/// Copy the blobs the snapshot at `dest/files.db` references from the live store `src` into `dest`.
pub fn copy_blobs(src: &FilesDir, dest: &FilesDir) -> Result<BlobCopy> {
    let conn = Connection::open(dest.db())?;
    // Chunks nobody references are garbage waiting for GC: not worth carrying over.
    conn.execute("DELETE FROM chunks WHERE refcount = 0 AND hash NOT IN (SELECT hash FROM file_chunks)", [])?;
    let mut out = BlobCopy {
        files: conn.query_row("SELECT COUNT(*) FROM files", [], |r| r.get::<_, i64>(0))? as u64,
        ..BlobCopy::default()
    };
    let hashes: Vec<Vec<u8>> = conn
        .prepare("SELECT hash FROM chunks")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut dirs = std::collections::BTreeSet::new();
    for raw in hashes {
        let hash: Hash =
            raw.as_slice().try_into().map_err(|_| corrupt("a chunk row has a malformed hash"))?;
        let (from, to) = (src.chunk(&hex(&hash)), dest.chunk(&hex(&hash)));
        let copied = copy_file(&from, &to, None).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => corrupt(&format!(
                "chunk {} vanished while the backup ran (its file was deleted and collected); run the backup again",
                hex(&hash)
            )),
            _ => FileStoreError::Io(e),
        })?;
        out.chunks += 1;
        out.chunk_bytes += copied;
        dirs.insert(to.parent().map(Path::to_path_buf).unwrap_or_default());
    }
    let pending: Vec<(String, i64)> = conn
        .prepare("SELECT id, offset FROM uploads WHERE file_id IS NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    fs::create_dir_all(dest.uploads())?;
    for (id, offset) in pending {
        match copy_file(&src.upload_part(&id), &dest.upload_part(&id), Some(offset.max(0) as u64)) {
            Ok(_) => out.uploads += 1,
            Err(_) => {
                conn.execute("DELETE FROM uploads WHERE id = ?1", [&id])?;
                out.uploads_dropped += 1;
            }
        }
    }
    dirs.insert(dest.uploads());
    dirs.insert(dest.chunks());
    for dir in dirs {
        sync_dir(&dir)?;
    }
    Ok(out)
}

fn corrupt(detail: &str) -> FileStoreError {
    FileStoreError::Io(io::Error::other(detail.to_string()))
}

/// Copy `src` to `dest` (made durable), at most `limit` bytes; fails when fewer than `limit` exist.
fn copy_file(src: &Path, dest: &Path, limit: Option<u64>) -> io::Result<u64> {
    let input = File::open(src)?;
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent)?;
    }
    let mut output = OpenOptions::new().write(true).create_new(true).open(dest)?;
    let mut reader: Box<dyn Read> = match limit {
        Some(n) => Box::new(input.take(n)),
        None => Box::new(input),
    };
    let copied = io::copy(&mut reader, &mut output)?;
    if limit.is_some_and(|n| copied < n) {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "part file shorter than its offset"));
    }
    output.flush()?;
    output.sync_all()?;
    Ok(copied)
}
