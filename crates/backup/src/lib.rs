//! Online backups of a Quire data directory and restore into an empty one.
//!
//! A backup is a plain directory: `quire.db` and `files/files.db` (SQLite online-backup snapshots,
//! each one read transaction), the instance key, the notebooks (each read until stable, without
//! `node_modules`), the file-store chunks and unfinished tus uploads the snapshot references, and
//! `quire-backup.json` listing every file with its BLAKE3 hash, written last. The server keeps running:
//! nothing here takes its lock or blocks its writers (WAL readers never do).

#![forbid(unsafe_code)]

mod error;
pub mod manifest;
mod notebooks;
mod restore;
mod sqlite;

pub use error::{BackupError, Result};
pub use quire_filestore::backup::BlobCopy;
pub use quire_stdx::RESTORE_MARKER;
pub use restore::{RestoreReport, restore};

use quire_stdx::{DataDir, FilesDir};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct BackupReport {
    pub notebooks: u64,
    pub files: BlobCopy,
    pub bytes: u64,
    pub entries: usize,
    /// False when the instance key comes from `--secret-key` (not a file): keep it yourself.
    pub key_included: bool,
    pub took: Duration,
}

/// Fails unless `dir` is missing (then it is created) or an empty directory.
pub(crate) fn prepare_empty(dir: &Path) -> Result<bool> {
    match fs::read_dir(dir) {
        Ok(mut it) => {
            if it.next().is_some() {
                return Err(BackupError::NotEmpty(dir.display().to_string()));
            }
            Ok(false)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dir)?;
            Ok(true)
        }
        Err(e) => Err(e.into()),
    }
}

/// Copy `src` to the new file `dest` and make it durable; `private` files (the instance key) get 0600.
pub(crate) fn copy_new(src: &Path, dest: &Path, private: bool) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    if private {
        options.mode(0o600);
    }
    let mut out = options.open(dest)?;
    std::io::copy(&mut fs::File::open(src)?, &mut out)?;
    out.sync_all()
}

/// Make a consistent backup of the data directory `data_dir` in `dest` (new or empty).
pub fn backup(data_dir: &DataDir, dest: &Path) -> Result<BackupReport> {
    if !data_dir.db().is_file() && !data_dir.notebooks().is_dir() {
        return Err(BackupError::Invalid(format!(
            "{} is not a Quire data directory",
            data_dir.root().display()
        )));
    }
    let created = prepare_empty(dest)?;
    let result = write_backup(data_dir, &DataDir::new(dest));
    if result.is_err() && created {
        let _ = fs::remove_dir_all(dest);
    }
    result
}

/// `dest` has the data directory's layout (a restore copies it back entry by entry).
fn write_backup(data_dir: &DataDir, dest: &DataDir) -> Result<BackupReport> {
    let start = Instant::now();
    if data_dir.db().is_file() {
        sqlite::snapshot(&data_dir.db(), &dest.db())?;
    }
    let mut key_included = false;
    for (from, to) in data_dir.key_files().iter().zip(dest.key_files()) {
        if from.is_file() {
            copy_new(from, &to, true)?;
            key_included = true;
        }
    }
    let notebooks = notebooks::copy_all(&data_dir.notebooks(), &dest.notebooks())?;
    let mut files = BlobCopy::default();
    let (live, copy) = (data_dir.files(), dest.files());
    if live.db().is_file() {
        fs::create_dir_all(copy.root())?;
        sqlite::snapshot(&live.db(), &copy.db())?;
        files = quire_filestore::backup::copy_blobs(&live, &copy)?;
        verify_files(&copy)?;
    }
    let dest = dest.root();
    let entries = manifest::entries(dest)?;
    let m = manifest::Manifest {
        format: manifest::FORMAT.into(),
        quire_version: env!("CARGO_PKG_VERSION").into(),
        created_at_ms: quire_stdx::now_ms() as u64,
        notebooks,
        files: files.files,
        entries,
    };
    let json = serde_json::to_vec_pretty(&m).map_err(|e| BackupError::Invalid(e.to_string()))?;
    quire_stdx::fs::write_atomic(&dest.join(manifest::MANIFEST), &json)?;
    Ok(BackupReport {
        notebooks,
        files,
        bytes: m.entries.iter().map(|e| e.size).sum(),
        entries: m.entries.len(),
        key_included,
        took: start.elapsed(),
    })
}

/// Re-hash every chunk and manifest of a copied file store (the same check as `quire fsck`).
pub(crate) fn verify_files(dir: &FilesDir) -> Result<()> {
    let store = quire_filestore::FileStore::open(dir.clone(), Default::default())?;
    let report = store.fsck(false)?;
    if !report.is_clean() {
        return Err(BackupError::Verify(format!(
            "the copied file store does not verify: {} corrupt, {} missing chunks, {} damaged files",
            report.corrupt_chunks.len(),
            report.missing_chunks.len(),
            report.damaged_files.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
