//! Durable file-system primitives: every write is temp file, fsync, rename, fsync dir; a temp file that
//! does not make it into place is removed (`DeleteOnDrop`, as in Garage).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A temp file removed when the guard drops, unless `keep` said it made it into place.
#[derive(Debug)]
pub struct DeleteOnDrop(Option<PathBuf>);

impl DeleteOnDrop {
    pub fn new(path: PathBuf) -> Self {
        DeleteOnDrop(Some(path))
    }

    pub fn path(&self) -> &Path {
        self.0.as_deref().expect("a kept DeleteOnDrop has no path")
    }

    /// The file was renamed into place (or is otherwise wanted): do not remove it.
    pub fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = fs::remove_file(path);
        }
    }
}

/// fsync a directory so a rename or unlink inside it survives a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The temp name `write_atomic` uses for `path`: `.NAME.tmp-<16 hex>` next to it (backups skip these).
pub fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let dir = parent(path)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    Ok(dir.join(format!(".{name}.tmp-{}", crate::random::temp_suffix())))
}

fn parent(path: &Path) -> io::Result<&Path> {
    path.parent().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no parent"))
}

/// Atomically replace `path` with `bytes`: readers see the old or the new file, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_mode(path, bytes, 0o666)
}

/// `write_atomic` for a private file (the instance key): created with mode 0600.
pub fn write_atomic_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_mode(path, bytes, 0o600)
}

fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let tmp = DeleteOnDrop::new(temp_path(path)?);
    let mut f = OpenOptions::new().write(true).create_new(true).mode(mode).open(tmp.path())?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::rename(tmp.path(), path)?;
    tmp.keep();
    sync_dir(parent(path)?)
}

/// Remove a file (missing is fine) and make the removal durable.
pub fn remove_file_durable(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// True when `path` exists and is a symbolic link (not followed).
pub fn is_symlink(path: &Path) -> bool {
    fs::symlink_metadata(path).map(|m| m.file_type().is_symlink()).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn write_atomic_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("README.md");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "temp files must not linger");
    }

    #[test]
    fn write_atomic_into_missing_dir_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nope").join("x");
        assert!(write_atomic(&p, b"x").is_err());
    }

    #[test]
    fn private_files_are_0600() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret.key");
        write_atomic_private(&p, b"k").unwrap();
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_temp_that_is_not_kept_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t");
        fs::write(&p, "x").unwrap();
        drop(DeleteOnDrop::new(p.clone()));
        assert!(!p.exists());
        fs::write(&p, "x").unwrap();
        DeleteOnDrop::new(p.clone()).keep();
        assert!(p.exists());
    }

    #[test]
    fn remove_missing_is_ok() {
        let dir = tempfile::tempdir().unwrap();
        remove_file_durable(&dir.path().join("missing")).unwrap();
    }
}
