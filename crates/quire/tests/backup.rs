//! Online backup with the real binary: `quire admin backup` runs while files are being uploaded and
//! notebooks imported; the backup is restored into an empty directory, a new server serves it, and
//! every notebook and every file acknowledged before the backup started comes back byte-exact (those
//! acknowledged while it ran are either absent or exact; none acknowledged after it ended is there).

use common::{Server, noise};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Instant;

mod common;

const TOKEN: &str = "backup-test-token-0123456789";

async fn start(data: &Path) -> (Server, String) {
    quire_server::install_crypto_provider();
    let (server, addr) = common::serve(data, TOKEN, &["--rate-limit", "0"]);
    common::wait_ready(&addr).await;
    (server, format!("http://{addr}"))
}

fn admin(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_quire"))
        .arg("admin")
        .args(args)
        .env_remove("QUIRE_SECRET_KEY")
        .output()
        .unwrap()
}

fn client() -> reqwest::Client {
    quire_server::install_crypto_provider();
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    reqwest::Client::builder().default_headers(h).build().unwrap()
}

async fn upload(http: &reqwest::Client, base: &str, bytes: Vec<u8>) -> String {
    let part = reqwest::multipart::Part::bytes(bytes).file_name("b.bin").mime_str("application/octet-stream");
    let form = reqwest::multipart::Form::new().part("file", part.unwrap());
    let r = http.post(format!("{base}/files")).multipart(form).send().await.unwrap();
    assert!(r.status().is_success(), "upload: {}", r.status());
    let v: serde_json::Value = r.json().await.unwrap();
    v["file_id"].as_str().unwrap().to_string()
}

async fn import(http: &reqwest::Client, base: &str, i: u64) -> (String, String) {
    let text = format!(
        "<!-- srcbook:{{\"language\":\"typescript\"}} -->\n\n# Notebook {i}\n\nSome *markdown* {i}.\n\n\
         ###### package.json\n\n```json\n{{\n  \"type\": \"module\"\n}}\n```\n\n\
         ###### cell{i}.ts\n\n```typescript\nexport const n{i}: number = {i};\nconsole.log(n{i});\n```\n"
    );
    let r = http
        .post(format!("{base}/api/import"))
        .json(&serde_json::json!({ "text": text }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "import: {}", r.status());
    let id = r.json::<serde_json::Value>().await.unwrap()["result"]["id"].as_str().unwrap().to_string();
    (id.clone(), export(http, base, &id).await.1)
}

async fn export(http: &reqwest::Client, base: &str, id: &str) -> (u16, String) {
    let r = http.get(format!("{base}/api/sessions/{id}/export-text")).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn download(http: &reqwest::Client, base: &str, id: &str) -> (u16, Vec<u8>) {
    let r = http.get(format!("{base}/files/{id}")).send().await.unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

/// What was acknowledged, and when: files `(id, bytes, acked)`, notebooks `(id, text, acked)`.
#[derive(Default)]
struct Acked {
    files: Vec<(String, Vec<u8>, Instant)>,
    notebooks: Vec<(String, String, Instant)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_uploading_then_restore_is_byte_exact() {
    let root = tempfile::tempdir().unwrap();
    let (data, dest, restored) =
        (root.path().join("data"), root.path().join("bk"), root.path().join("restored"));
    let (server, base) = start(&data).await;
    let http = client();
    let acked = Arc::new(Mutex::new(Acked::default()));
    for i in 0..6u64 {
        let bytes = noise([0, 1, 3000, 70_000, 1 << 20, 3 << 20][i as usize], i);
        let id = upload(&http, &base, bytes.clone()).await;
        acked.lock().unwrap().files.push((id, bytes, Instant::now()));
        let (id, text) = import(&http, &base, i).await;
        acked.lock().unwrap().notebooks.push((id, text, Instant::now()));
    }
    let r =
        http.post(format!("{base}/api/secrets")).json(&serde_json::json!({"name": "KEPT", "value": "v-123"}));
    assert!(r.send().await.unwrap().status().is_success());

    // Writers keep going for the whole backup.
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut writers = Vec::new();
    for w in 0..2u64 {
        let (http, base, acked, running) = (http.clone(), base.clone(), acked.clone(), running.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 100 + w * 1000;
            while running.load(std::sync::atomic::Ordering::Relaxed) {
                let bytes = noise(1000 + (i as usize * 7919) % 600_000, i);
                let id = upload(&http, &base, bytes.clone()).await;
                acked.lock().unwrap().files.push((id, bytes, Instant::now()));
                let (id, text) = import(&http, &base, i).await;
                acked.lock().unwrap().notebooks.push((id, text, Instant::now()));
                i += 1;
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let began = Instant::now();
    let out = tokio::task::spawn_blocking({
        let (data, dest) = (data.clone(), dest.clone());
        move || admin(&["backup", dest.to_str().unwrap(), "--data-dir", data.to_str().unwrap()])
    })
    .await
    .unwrap();
    let ended = Instant::now();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert!(out.status.success(), "backup failed: {}", String::from_utf8_lossy(&out.stderr));
    server.stop();

    let out = admin(&["restore", dest.to_str().unwrap(), "--data-dir", restored.to_str().unwrap()]);
    assert!(out.status.success(), "restore failed: {}", String::from_utf8_lossy(&out.stderr));
    let (server, base) = start(&restored).await;
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let (mut before, mut during, mut after) = (0, 0, 0);
    for (id, bytes, at) in &acked.files {
        let (status, got) = download(&http, &base, id).await;
        if *at < began {
            assert_eq!((status, got.len()), (200, bytes.len()), "file {id} acknowledged before the backup");
            before += 1;
        } else if *at > ended {
            assert_eq!(status, 404, "file {id} acknowledged after the backup ended is not in it");
            after += 1;
            continue;
        } else if status == 404 {
            continue;
        } else {
            during += 1;
        }
        assert!(got == *bytes, "file {id} is not byte-exact");
    }
    for (id, text, at) in &acked.notebooks {
        let (status, got) = export(&http, &base, id).await;
        if *at < began {
            assert_eq!(status, 200, "notebook {id} acknowledged before the backup");
        } else if *at > ended {
            assert_eq!(status, 404, "notebook {id} created after the backup ended");
            continue;
        } else if status == 404 {
            continue;
        }
        assert_eq!(&got, text, "notebook {id} is not byte-exact");
    }
    let secrets: serde_json::Value =
        http.get(format!("{base}/api/secrets")).send().await.unwrap().json().await.unwrap();
    assert!(secrets["result"].to_string().contains("KEPT"), "{secrets}");
    eprintln!("files acknowledged before the backup {before}, during {during} (included), after {after}");
    assert!(before >= 6 && after >= 1, "before {before}, during {during}, after {after}");
    server.stop();
}

#[test]
fn serve_refuses_an_unfinished_restore() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join(quire_backup::RESTORE_MARKER), "x").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_quire"))
        .args(["serve", "--no-browser", "--port", "0", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unfinished restore"));
}
