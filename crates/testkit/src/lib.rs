//! Helpers for Quire's tests (a dev-dependency only).
#![forbid(unsafe_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The npm packages `crates/server/tests/js/yjs-client.mjs` needs, pinned, for [`npm_install_set`]
/// (`yjs-client-proof.sh` next to it installs the same list). Run the script with
/// `NODE_PATH=<prefix>/node_modules`.
pub const YJS_CLIENT_PACKAGES: &[&str] =
    &["yjs@13.6.33", "y-protocols@1.0.7", "y-websocket@3.1.0", "ws@8.23.1", "lib0@0.2.120"];

/// Install the npm package `spec` (`name@version`) once under `tmp` (a test's `CARGO_TARGET_TMPDIR`,
/// shared by every test binary) and return its prefix directory (`<prefix>/node_modules/<name>`).
/// Concurrent test processes take turns on a lock file, so one install runs per package while the
/// others wait for it: a dozen parallel installs on a cold npm cache and two cores each took long
/// enough to hit the test timeout. The install goes to a directory of its own first and is renamed
/// into place, so a test killed halfway never leaves a half-installed package behind.
pub fn npm_install(tmp: &Path, spec: &str) -> PathBuf {
    let name = package_name(spec);
    let installed = |root: &Path| root.join("node_modules").join(name).join("package.json").exists();
    install(tmp, &spec.replace('/', "+"), &[spec], installed)
}

/// Install several specs together into one prefix named `set` under `tmp` and return the prefix,
/// with the same lock and rename safety as [`npm_install`]. One `npm install` resolves them all, so
/// packages that meet through peer dependencies (y-websocket and yjs) share a single copy, which
/// Yjs needs. The prefix records its spec list; a different list under the same name reinstalls.
pub fn npm_install_set(tmp: &Path, set: &str, specs: &[&str]) -> PathBuf {
    assert!(!specs.is_empty(), "npm_install_set({set}) needs at least one spec");
    let stamp = specs.join("\n");
    let installed = |root: &Path| {
        std::fs::read_to_string(root.join(STAMP)).is_ok_and(|s| s == stamp)
            && specs
                .iter()
                .all(|s| root.join("node_modules").join(package_name(s)).join("package.json").exists())
    };
    // "set-" keeps a set's directory apart from a single spec's.
    install(tmp, &format!("set-{}", set.replace('/', "+")), specs, installed)
}

/// The file in a prefix that lists the specs installed there.
const STAMP: &str = "quire-npm-specs.txt";

/// `name` of `name@version` (also for `@scope/name@version`).
fn package_name(spec: &str) -> &str {
    spec.rsplit_once('@').map_or(spec, |(n, _)| n)
}

fn install(tmp: &Path, dir_name: &str, specs: &[&str], installed: impl Fn(&Path) -> bool) -> PathBuf {
    let dir = tmp.join("npm");
    let root = dir.join(dir_name);
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
    let list = specs.join(" ");
    let out = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
        .arg(&mine)
        .args(specs)
        .output()
        .expect("npm must be installed (Node 20) for this test");
    assert!(out.status.success(), "npm install {list} failed: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(mine.join(STAMP), specs.join("\n")).unwrap();
    // A leftover without package.json, or a set installed from another spec list (we hold the lock).
    let _ = std::fs::remove_dir_all(&root);
    std::fs::rename(&mine, &root).unwrap();
    assert!(installed(&root), "{list} is not installed at {}", root.display());
    root
}
