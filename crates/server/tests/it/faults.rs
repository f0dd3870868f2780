//! Faults from below: a full disk (a real, small tmpfs) and a database held by another writer.

use crate::common::TestServer;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of `mib` MiB mounted for the test's lifetime (needs root, as CI and this machine have).
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(mib: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status();
        if !status.is_ok_and(|s| s.success()) {
            // Without CAP_SYS_ADMIN there is no honest way to fill a disk; say so loudly.
            eprintln!("SKIPPED: cannot mount a tmpfs here (not root?); the disk-full test did not run");
            return None;
        }
        Some(SmallDisk { dir })
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

fn noise(n: usize) -> Vec<u8> {
    crate::files::noise(n, 7)
}

async fn upload(s: &TestServer, bytes: Vec<u8>) -> (u16, Value) {
    crate::files::upload(
        s,
        crate::common::TOKEN,
        crate::files::form("big.bin", "application/octet-stream", bytes),
        &[],
    )
    .await
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn fill(dir: &Path) -> PathBuf {
    let filler = dir.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let block = vec![7u8; 1 << 16];
    while std::io::Write::write_all(&mut f, &block).is_ok() {}
    filler
}

#[tokio::test]
async fn a_full_disk_answers_507_and_leaves_no_partial_file() {
    let Some(disk) = SmallDisk::mount(24) else { return };
    let s = TestServer::start_configured(|c| {
        c.data_dir = disk.path().into();
        c.language.enabled = false;
        c.disk_low_bytes = 0;
        c.max_body_bytes = 64 << 20;
        c.files.max_file_size = 64 << 20;
    })
    .await;
    // An upload larger than the whole disk.
    let (status, body) = upload(&s, noise(40 << 20)).await;
    assert_eq!(status, 507, "{body}");
    assert_eq!(body["code"], "INSUFFICIENT_STORAGE", "{body}");
    let (_, listed) = s.get("/files/by-extension/bin").await;
    assert_eq!(listed.to_string().matches("big.bin").count(), 0, "no partial file is listed: {listed}");
    let (_, quota) = s.get("/quota").await;
    assert_eq!(quota["used_bytes"], 0, "{quota}");

    // tus: the PATCH fails with 507 and HEAD reports only what is durable (less than sent).
    let r = s
        .http
        .post(s.url("/uploads"))
        .header("tus-resumable", "1.0.0")
        .header("upload-length", (40u64 << 20).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let location = location.trim_start_matches(&format!("http://{}", s.addr)).to_string();
    let r = s
        .http
        .patch(s.url(&location))
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", "0")
        .header("content-type", "application/offset+octet-stream")
        .body(noise(40 << 20))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 507);
    let r = s.http.head(s.url(&location)).header("tus-resumable", "1.0.0").send().await.unwrap();
    let offset: u64 = r.headers()["upload-offset"].to_str().unwrap().parse().unwrap();
    assert!(offset < 40 << 20, "offset {offset}");
    // The part file holds only the durable, acknowledged bytes: what the failed write added is gone.
    let id = location.rsplit('/').next().unwrap();
    let part = disk.path().join("files/uploads").join(format!("{id}.part"));
    assert_eq!(std::fs::metadata(&part).unwrap().len(), offset, "nothing past the offset is kept");
    // A failed multipart upload leaves no chunk blob behind.
    let chunks = disk.path().join("files/chunks");
    let blobs = walk_files(&chunks);
    assert!(blobs.is_empty(), "orphan chunk blobs after failed uploads: {blobs:?}");
    s.http.delete(s.url(&location)).header("tus-resumable", "1.0.0").send().await.unwrap();

    // Notebooks: creating one on a full disk is a clear 507; once space returns, it works.
    let filler = fill(&disk.path());
    let r = s
        .http
        .post(s.url("/api/srcbooks"))
        .json(&serde_json::json!({"name": "Full", "language": "typescript"}));
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), 507);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "insufficient_storage", "{v}");
    std::fs::remove_file(filler).unwrap();
    let r = s
        .http
        .post(s.url("/api/srcbooks"))
        .json(&serde_json::json!({"name": "Fits", "language": "typescript"}));
    assert_eq!(r.send().await.unwrap().status(), 200);
    let (status, body) = upload(&s, noise(1 << 20)).await;
    assert_eq!(status, 200, "{body}");
    let (_, health) = s.get("/health").await;
    assert_eq!(health["components"]["database"], "ok");
    s.stop().await;
}

#[tokio::test]
async fn a_locked_database_is_retried_then_503_with_retry_after() {
    let s = TestServer::start().await;
    let holder = rusqlite::Connection::open(s.data_dir.join("quire.db")).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let begun = std::time::Instant::now();
    let r = s.http.post(s.url("/api/secrets")).json(&serde_json::json!({"name": "K", "value": "v"}));
    let r = r.send().await.unwrap();
    let took = begun.elapsed();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "database_busy", "{v}");
    assert!(took >= std::time::Duration::from_secs(4), "retried for the busy timeout first ({took:?})");
    holder.execute_batch("ROLLBACK").unwrap();
    let r = s.http.post(s.url("/api/secrets")).json(&serde_json::json!({"name": "K", "value": "v"}));
    assert_eq!(r.send().await.unwrap().status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn a_database_fault_is_an_internal_error_naming_the_request_not_the_sqlite_text() {
    let s = TestServer::start().await;
    let other = rusqlite::Connection::open(s.data_dir.join("quire.db")).unwrap();
    other.execute_batch("DROP TABLE secret_links; DROP TABLE secrets").unwrap();
    let r = s.http.post(s.url("/api/secrets")).header("x-request-id", "fault-42");
    let r = r.json(&serde_json::json!({"name": "K", "value": "v"})).send().await.unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(r.headers()["x-request-id"], "fault-42");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "database_error", "{v}");
    assert_eq!(
        (v["message"].as_str(), v["result"].as_str()),
        (Some("internal error"), Some("internal error"))
    );
    assert_eq!(v["requestId"], "fault-42", "{v}");
    assert!(!v.to_string().contains("secrets"), "no SQLite detail in the body: {v}");
    s.stop().await;
}
