//! Restore a backup into a new or empty data directory. Every byte is checked against the manifest
//! before anything is written; while copying, a marker file makes `quire serve` refuse the directory,
//! so a restore cut short is never mistaken for a working instance. After the copy the result is
//! checked again: hashes, SQLite integrity, the instance key against the database, every chunk.

use crate::error::{BackupError, Result};
use crate::{manifest, prepare_empty};
use quire_stdx::DataDir;
use quire_stdx::fs as fsx;
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct RestoreReport {
    pub notebooks: u64,
    pub files: u64,
    pub bytes: u64,
    /// Notebooks that did not decode (id and first error); they were copied all the same.
    pub notebook_failures: Vec<(String, String)>,
    /// False when the backup holds no key file: serve with the same `--secret-key` as before.
    pub key_checked: bool,
    pub took: Duration,
}

pub fn restore(src: &Path, data: &DataDir, env_key: Option<&str>) -> Result<RestoreReport> {
    let start = Instant::now();
    let m = manifest::read(src)?;
    manifest::verify(src, &m)?;
    let data_dir = data.root();
    prepare_empty(data_dir)?;
    let marker = data.restore_marker();
    let key_files = data.key_files();
    fsx::write_atomic(
        &marker,
        b"A restore into this directory has not finished; restore again into an empty one.\n",
    )?;

    let mut dirs = BTreeSet::new();
    for e in &m.entries {
        let rel = manifest::safe_rel(&e.path)?;
        let dest = data_dir.join(&rel);
        let parent = dest.parent().unwrap_or(data_dir).to_path_buf();
        fs::create_dir_all(&parent)?;
        let private = key_files.contains(&dest);
        crate::copy_new(&src.join(&rel), &dest, private)?;
        let mut d = parent.as_path();
        while d.starts_with(data_dir) && dirs.insert(d.to_path_buf()) {
            match d.parent() {
                Some(p) => d = p,
                None => break,
            }
        }
    }
    for d in &dirs {
        fsx::sync_dir(d)?;
    }
    manifest::verify(data_dir, &m)?;
    let key_checked = check_database(data, env_key)?;
    if data.files().db().is_file() {
        crate::verify_files(&data.files())?;
    }
    let notebook_failures = check_notebooks(&data.notebooks());
    fsx::remove_file_durable(&marker)?;
    Ok(RestoreReport {
        notebooks: m.notebooks,
        files: m.files,
        bytes: m.entries.iter().map(|e| e.size).sum(),
        notebook_failures,
        key_checked,
        took: start.elapsed(),
    })
}

/// `quire.db` passes its integrity check and opens with the restored (or given) instance key.
fn check_database(data_dir: &DataDir, env_key: Option<&str>) -> Result<bool> {
    let db = data_dir.db();
    if !db.is_file() {
        return Ok(false);
    }
    crate::sqlite::check_integrity(&rusqlite::Connection::open(&db)?, &db)?;
    let has_key_file = data_dir.key_files().iter().any(|k| k.is_file());
    if env_key.is_none() && !has_key_file {
        return Ok(false);
    }
    let key = quire_notebook::seal::instance_key(data_dir, env_key)?;
    if !quire_notebook::SqliteDatabase::key_opens(&db, &key)? {
        return Err(BackupError::Verify(
            "the instance key does not open the restored database's secrets (QUIRE_SECRET_KEY differs?)"
                .into(),
        ));
    }
    Ok(true)
}

fn check_notebooks(root: &Path) -> Vec<(String, String)> {
    let mut failures = Vec::new();
    let Ok(dir) = fs::read_dir(root) else { return failures };
    for entry in dir.flatten() {
        if let Err(errors) = quire_notebook::layout::load(&entry.path()) {
            let first = errors.into_iter().next().unwrap_or_default();
            failures.push((entry.file_name().to_string_lossy().into_owned(), first));
        }
    }
    failures
}
