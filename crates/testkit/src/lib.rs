//! Helpers for Quire's tests (a dev-dependency only).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Install the npm package `spec` (`name@version`) once under `tmp` (a test's `CARGO_TARGET_TMPDIR`,
/// shared by every test binary) and return its prefix directory (`<prefix>/node_modules/<name>`).
/// Concurrent test processes race safely: each installs into a directory of its own and the first to
/// rename it into place wins.
pub fn npm_install(tmp: &Path, spec: &str) -> PathBuf {
    let name = spec.rsplit_once('@').map_or(spec, |(n, _)| n);
    let root = tmp.join("npm").join(spec.replace('/', "+"));
    let installed = |root: &Path| root.join("node_modules").join(name).join("package.json").exists();
    if installed(&root) {
        return root;
    }
    std::fs::create_dir_all(tmp.join("npm")).unwrap();
    let mine = root.with_extension(format!("tmp-{}-{}", std::process::id(), quire_stdx::random::hex(8)));
    std::fs::create_dir_all(&mine).unwrap();
    let out = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
        .arg(&mine)
        .arg(spec)
        .output()
        .expect("npm must be installed (Node 20) for this test");
    assert!(out.status.success(), "npm install {spec} failed: {}", String::from_utf8_lossy(&out.stderr));
    if std::fs::rename(&mine, &root).is_err() {
        // Another process won; its copy is complete.
        let _ = std::fs::remove_dir_all(&mine);
    }
    assert!(installed(&root), "{spec} is not installed at {}", root.display());
    root
}
