//! Helpers for Quire's tests (a dev-dependency only).
#![forbid(unsafe_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Install the npm package `spec` (`name@version`) once under `tmp` (a test's `CARGO_TARGET_TMPDIR`,
/// shared by every test binary) and return its prefix directory (`<prefix>/node_modules/<name>`).
/// Concurrent test processes take turns on a lock file, so one install runs per package while the
/// others wait for it: a dozen parallel installs on a cold npm cache and two cores each took long
/// enough to hit the test timeout. The install goes to a directory of its own first and is renamed
/// into place, so a test killed halfway never leaves a half-installed package behind.
pub fn npm_install(tmp: &Path, spec: &str) -> PathBuf {
    let name = spec.rsplit_once('@').map_or(spec, |(n, _)| n);
    let dir = tmp.join("npm");
    let root = dir.join(spec.replace('/', "+"));
    let installed = |root: &Path| root.join("node_modules").join(name).join("package.json").exists();
    if installed(&root) {
        return root;
    }
    std::fs::create_dir_all(&dir).unwrap();
    let lock = File::create(root.with_extension("lock")).unwrap();
    lock.lock().unwrap();
    if installed(&root) {
        return root;
    }
    let mine = root.with_extension(format!("tmp-{}-{}", std::process::id(), quire_stdx::random::hex(8)));
    std::fs::create_dir_all(&mine).unwrap();
    let out = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
        .arg(&mine)
        .arg(spec)
        .output()
        .expect("npm must be installed (Node 20) for this test");
    assert!(out.status.success(), "npm install {spec} failed: {}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&root); // a leftover without package.json
    std::fs::rename(&mine, &root).unwrap();
    assert!(installed(&root), "{spec} is not installed at {}", root.display());
    root
}
