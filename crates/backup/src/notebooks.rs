//! Copying notebook directories while the server may be editing them. Each file is replaced
//! atomically by the server, but a notebook is several files (README.md, src/*, package.json…), so a
//! notebook is read until two passes agree, and only then written: the backup never holds a cell from
//! one save beside a README from another. `node_modules` is left out (reinstall it from package.json).

use crate::error::{BackupError, Result};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

const PASSES: usize = 20;

type Snapshot = BTreeMap<PathBuf, Vec<u8>>;

fn skipped(name: &str) -> bool {
    name == "node_modules" || (name.starts_with('.') && name.contains(".tmp-"))
}

fn read_tree(root: &Path) -> std::io::Result<Snapshot> {
    let mut out = Snapshot::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in fs::read_dir(root.join(&rel))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if skipped(&name) {
                continue;
            }
            let kind = entry.file_type()?;
            let child = rel.join(&name);
            if kind.is_dir() {
                stack.push(child);
            } else if kind.is_file() {
                match fs::read(root.join(&child)) {
                    Ok(bytes) => {
                        out.insert(child, bytes);
                    }
                    // Replaced or removed between listing and reading: the next pass sees the new state.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(out)
}

/// Copy every notebook under `src` (DATA_DIR/notebooks) into `dest`; returns how many.
pub fn copy_all(src: &Path, dest: &Path) -> Result<u64> {
    fs::create_dir_all(dest)?;
    let mut count = 0;
    let Ok(dir) = fs::read_dir(src) else { return Ok(0) };
    for entry in dir {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Dot-directories are interrupted creates and deletes, removed at the next start.
        if name.starts_with('.') || !entry.file_type()?.is_dir() {
            continue;
        }
        let Some(snap) = stable_read(&entry.path())? else {
            tracing::info!(notebook = %name, "notebook deleted while the backup ran; left out");
            continue;
        };
        write_tree(&dest.join(&name), &snap)?;
        count += 1;
    }
    quire_stdx::fs::sync_dir(dest)?;
    Ok(count)
}

/// Two identical reads in a row, or `None` when the notebook disappeared.
fn stable_read(dir: &Path) -> Result<Option<Snapshot>> {
    let mut last = match read_tree(dir) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    for _ in 0..PASSES {
        let now = match read_tree(dir) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if now == last {
            return Ok(Some(now));
        }
        last = now;
    }
    Err(BackupError::Verify(format!(
        "notebook {} kept changing during {PASSES} reads; run the backup again when it is quieter",
        dir.display()
    )))
}

fn write_tree(dest: &Path, snap: &Snapshot) -> Result<()> {
    let mut dirs = std::collections::BTreeSet::new();
    dirs.insert(dest.to_path_buf());
    for (rel, bytes) in snap {
        let path = dest.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
            dirs.insert(parent.to_path_buf());
        }
        quire_stdx::fs::write_atomic(&path, bytes)?;
    }
    for d in dirs {
        quire_stdx::fs::sync_dir(&d)?;
    }
    Ok(())
}
