//! The real tus client: `tus-js-client` from the npm registry, run by Node, uploads to Quire, stops,
//! and resumes from the upload URL. npm installs it once per target dir.

use crate::common::{TOKEN, TestServer};
use std::path::{Path, PathBuf};
use std::process::Command;

fn install_tus_client() -> PathBuf {
    quire_testkit::npm_install(Path::new(env!("CARGO_TARGET_TMPDIR")), "tus-js-client@4.3.1")
}

#[tokio::test]
async fn tus_js_client_uploads_with_resume() {
    let modules = install_tus_client();
    let s = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..5u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let file = tmp.path().join("upload.bin");
    std::fs::write(&file, &data).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/tus-resume.js");
    let endpoint = s.url("/uploads/");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(&script)
            .args([endpoint.as_str(), TOKEN])
            .arg(&file)
            .env("NODE_PATH", modules.join("node_modules"))
            .output()
            .expect("node must be installed")
    })
    .await
    .unwrap();
    assert!(out.status.success(), "node: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let resumed = v["resumedFrom"].as_u64().unwrap();
    assert!(resumed >= 2 << 20 && resumed < data.len() as u64, "resumed from {resumed}");
    let id = v["fileId"].as_str().unwrap();
    let r = s.http.get(s.url(&format!("/files/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap() == data, "the tus-js-client upload must be byte-exact");
}
