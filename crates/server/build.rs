//! Point `QUIRE_WEB_DIST` at the browser UI build (`web/dist`, made by `scripts/build-web`). Without a
//! built UI the directory is created empty (it is git-ignored), so `cargo build` always compiles and the
//! server serves a page saying how to build the UI; cargo watches the directory, so a later UI build is
//! picked up by the next `cargo build`.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let mut dist = manifest.join("../../web/dist");
    if std::fs::create_dir_all(&dist).is_err() {
        // A read-only source tree: embed an empty directory instead.
        dist = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("no-web-dist");
        std::fs::create_dir_all(&dist).expect("OUT_DIR is writable");
    }
    println!("cargo:rerun-if-changed={}", dist.display());
    let dist = dist.canonicalize().expect("the dist directory exists");
    println!("cargo:rustc-env=QUIRE_WEB_DIST={}", dist.display());
}
