//! Point `QUIRE_WEB_DIST` at the built browser UI (`web/dist`), or at an empty directory when the UI has
//! not been built, so `cargo build` always compiles (the server then says how to build the UI).

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let dist = manifest.join("../../web/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    println!("cargo:rerun-if-env-changed=QUIRE_WEB_DIST");
    let chosen = if dist.join("index.html").is_file() {
        dist.canonicalize().expect("web/dist is readable")
    } else {
        let empty = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("no-web-dist");
        std::fs::create_dir_all(&empty).expect("OUT_DIR is writable");
        empty
    };
    println!("cargo:rustc-env=QUIRE_WEB_DIST={}", chosen.display());
}
