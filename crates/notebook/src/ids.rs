//! Validation of names that come from requests: notebook ids, secret names, import paths.

use crate::error::{NotebookError, Result};
use std::path::{Component, Path, PathBuf};

/// Notebook ids are server-generated (26 chars of lowercase base32hex); nothing else may name a directory.
pub fn check_notebook_id(id: &str) -> Result<()> {
    if srcmd::is_valid_cell_id(id) {
        Ok(())
    } else {
        Err(NotebookError::InvalidPath(format!("'{}' is not a valid notebook id", id.escape_default())))
    }
}

/// Secret names become environment variable names: `[A-Za-z_][A-Za-z0-9_]*`, at most 128 bytes.
pub fn check_secret_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 128;
    if ok {
        Ok(())
    } else {
        Err(NotebookError::InvalidPath(format!(
            "'{}' is not a valid secret name (letters, digits and _; not starting with a digit)",
            name.escape_default()
        )))
    }
}

/// Canonicalise `path` and require it to lie under one of `roots` (themselves canonical).
/// Symlinks are resolved first, so a link pointing out of a root is refused.
pub fn contain(path: &str, roots: &[PathBuf]) -> Result<PathBuf> {
    if path.contains('\0') {
        return Err(NotebookError::InvalidPath("path contains a NUL byte".into()));
    }
    let p = Path::new(path);
    if !p.is_absolute() || p.components().any(|c| c == Component::ParentDir) {
        return Err(NotebookError::InvalidPath(format!(
            "'{}' must be an absolute path without '..'",
            path.escape_default()
        )));
    }
    let canonical = p
        .canonicalize()
        .map_err(|_| NotebookError::InvalidPath(format!("'{}' does not exist", path.escape_default())))?;
    if roots.iter().any(|r| canonical.starts_with(r)) {
        Ok(canonical)
    } else {
        Err(NotebookError::InvalidPath(format!(
            "'{}' is outside the allowed directories",
            path.escape_default()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notebook_ids() {
        assert!(check_notebook_id(&srcmd::new_cell_id()).is_ok());
        for bad in ["", "..", "../etc", "abc", "30v2av4eee17m59dg2c29758t/", "30V2AV4EEE17M59DG2C29758TO"] {
            assert!(check_notebook_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secret_names() {
        assert!(check_secret_name("OPENAI_KEY").is_ok());
        assert!(check_secret_name("_x1").is_ok());
        for bad in ["", "1A", "A-B", "A B", "../A", "A\0"] {
            assert!(check_secret_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn containment() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let r = root.path().canonicalize().unwrap();
        std::fs::write(r.join("a.src.md"), "x").unwrap();
        std::fs::write(outside.path().join("b.src.md"), "x").unwrap();
        let roots = vec![r.clone()];
        assert!(contain(r.join("a.src.md").to_str().unwrap(), &roots).is_ok());
        assert!(contain(outside.path().join("b.src.md").to_str().unwrap(), &roots).is_err());
        assert!(contain(&format!("{}/../x", r.display()), &roots).is_err());
        assert!(contain("relative.src.md", &roots).is_err());
        assert!(contain("/tmp/a\0b", &roots).is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outside.path().join("b.src.md"), r.join("link.src.md")).unwrap();
            assert!(contain(r.join("link.src.md").to_str().unwrap(), &roots).is_err());
        }
    }
}
