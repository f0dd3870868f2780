//! `quire-backup.json`: the list of every file in a backup with its size and BLAKE3 hash. It is
//! written last, so its presence marks a complete backup, and restore checks every byte against it
//! before anything is copied.

use crate::error::{BackupError, Result};
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io;
use std::path::{Component, Path, PathBuf};

pub const MANIFEST: &str = "quire-backup.json";
pub const FORMAT: &str = "quire-backup/1";

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub quire_version: String,
    pub created_at_ms: u64,
    pub notebooks: u64,
    pub files: u64,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Entry {
    /// Relative to the backup root, `/`-separated.
    pub path: String,
    pub size: u64,
    pub blake3: String,
}

pub fn hash_file(path: &Path) -> io::Result<(u64, String)> {
    let mut hasher = blake3::Hasher::new();
    let size = io::copy(&mut File::open(path)?, &mut hasher)?;
    Ok((size, hasher.finalize().to_hex().to_string()))
}

/// Every regular file under `root` (sorted), except the manifest itself.
pub fn entries(root: &Path) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in fs::read_dir(root.join(&rel))? {
            let entry = entry?;
            let child = rel.join(entry.file_name());
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(child);
            } else if kind.is_file() && child != Path::new(MANIFEST) {
                let (size, blake3) = hash_file(&root.join(&child))?;
                let path =
                    child.to_str().ok_or_else(|| BackupError::Invalid("a file name is not UTF-8".into()))?;
                out.push(Entry { path: path.replace('\\', "/"), size, blake3 });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Read a backup's manifest, refusing anything that is not a complete Quire backup.
pub fn read(root: &Path) -> Result<Manifest> {
    let text = fs::read_to_string(root.join(MANIFEST)).map_err(|e| {
        BackupError::NotABackup(format!(
            "{} has no readable {MANIFEST} ({e}); it is not a complete Quire backup",
            root.display()
        ))
    })?;
    let m: Manifest = serde_json::from_str(&text)
        .map_err(|e| BackupError::NotABackup(format!("{MANIFEST} is malformed: {e}")))?;
    if m.format != FORMAT {
        return Err(BackupError::NotABackup(format!(
            "unknown backup format {:?} (expected {FORMAT})",
            m.format
        )));
    }
    for e in &m.entries {
        safe_rel(&e.path)?;
    }
    Ok(m)
}

/// A manifest path must stay inside the backup and the data directory it is restored into.
pub fn safe_rel(path: &str) -> Result<PathBuf> {
    let p = PathBuf::from(path);
    let ok = !path.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    if !ok {
        return Err(BackupError::NotABackup(format!("{MANIFEST} names an unsafe path {path:?}")));
    }
    Ok(p)
}

/// Check every listed file's size and hash.
pub fn verify(root: &Path, m: &Manifest) -> Result<()> {
    for e in &m.entries {
        let (size, hash) = hash_file(&root.join(safe_rel(&e.path)?)).map_err(|err| BackupError::Damaged {
            path: e.path.clone(),
            detail: format!("cannot read it: {err}"),
        })?;
        if size != e.size || hash != e.blake3 {
            return Err(BackupError::Damaged {
                path: e.path.clone(),
                detail: format!(
                    "expected {} bytes with BLAKE3 {}, found {size} bytes with {hash}",
                    e.size, e.blake3
                ),
            });
        }
    }
    Ok(())
}
