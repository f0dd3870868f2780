//! Crash safety of tus uploads with the real binary: the server is killed with SIGKILL at random
//! points while a PATCH is streaming, 20 times. After each restart `HEAD` reports an offset the upload
//! resumes from, a file committed earlier still reads back intact, and the finished upload is byte-exact.

use common::Server;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

mod common;

const TOKEN: &str = "crash-test-token-0123456789";

fn start(data: &Path) -> (Server, String) {
    let (child, base) = common::serve(data, TOKEN, &[]);
    for _ in 0..500 {
        if request(&base, "GET", "/ready", &[], &[]).0 == 200 {
            return (child, base);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("server never became ready");
}

fn head_and_body(s: &mut TcpStream) -> (u16, HashMap<String, String>, Vec<u8>) {
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status = line.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
    let mut headers = HashMap::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).unwrap();
    (status, headers, body)
}

/// One HTTP/1.1 request on a fresh connection (no client crate needed).
fn request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, HashMap<String, String>, Vec<u8>) {
    let Ok(mut s) = TcpStream::connect(base) else { return (0, HashMap::new(), Vec::new()) };
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {base}\r\nConnection: close\r\nAuthorization: Bearer {TOKEN}\r\nTus-Resumable: 1.0.0\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    if method == "HEAD" {
        let mut r = BufReader::new(&mut s);
        let mut all = String::new();
        let mut line = String::new();
        while r.read_line(&mut line).unwrap_or(0) > 0 {
            if line.trim().is_empty() {
                break;
            }
            all.push_str(&line);
            line.clear();
        }
        let status = all.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
        let h = all
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        return (status, h, Vec::new());
    }
    head_and_body(&mut s)
}

fn noise(n: usize) -> Vec<u8> {
    common::noise(n, 1)
}

fn offset(base: &str, loc: &str) -> u64 {
    let (st, h, _) = request(base, "HEAD", loc, &[], &[]);
    assert_eq!(st, 200, "{h:?}");
    h["upload-offset"].parse().unwrap()
}

#[test]
fn sigkill_during_tus_uploads_never_loses_acknowledged_or_committed_data() {
    let data_dir = tempfile::tempdir().unwrap();
    let (mut server, mut base) = start(data_dir.path());
    // A committed file that must survive every crash.
    let keep = noise(300_000);
    let (st, h, _) = request(
        &base,
        "POST",
        "/uploads/",
        &[
            ("Upload-Length", keep.len().to_string()),
            ("Content-Type", "application/offset+octet-stream".into()),
        ],
        &keep,
    );
    assert_eq!(st, 201);
    let kept_id = h["x-file-id"].clone();

    let data = noise(24 << 20);
    let (st, h, _) = request(&base, "POST", "/uploads/", &[("Upload-Length", data.len().to_string())], &[]);
    assert_eq!(st, 201);
    let loc = h["location"].clone();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    for round in 0..20 {
        let from = offset(&base, &loc) as usize;
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let send = (rng as usize % (data.len() - from)).max(1);
        let mut s = TcpStream::connect(&base).unwrap();
        let head = format!(
            "PATCH {loc} HTTP/1.1\r\nHost: {base}\r\nAuthorization: Bearer {TOKEN}\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: {from}\r\nContent-Length: {}\r\n\r\n",
            data.len() - from
        );
        s.write_all(head.as_bytes()).unwrap();
        for piece in data[from..from + send].chunks(64 << 10) {
            if s.write_all(piece).is_err() {
                break;
            }
        }
        server.0.kill().unwrap(); // SIGKILL mid-stream
        server.0.wait().unwrap();
        drop(s);
        (server, base) = start(data_dir.path());
        let now = offset(&base, &loc) as usize;
        eprintln!("round {round}: sent {from}+{send}, durable {now}");
        assert!(
            now >= from && now <= from + send,
            "round {round}: offset {now} outside {from}..={}",
            from + send
        );
        let (st, _, body) = request(&base, "GET", &format!("/files/{kept_id}"), &[], &[]);
        assert_eq!(st, 200, "round {round}: the committed file must stay readable");
        assert!(body == keep, "round {round}: the committed file changed");
    }
    let from = offset(&base, &loc) as usize;
    let (st, h, _) = request(
        &base,
        "PATCH",
        &loc,
        &[("Content-Type", "application/offset+octet-stream".into()), ("Upload-Offset", from.to_string())],
        &data[from..],
    );
    assert_eq!(st, 204, "{h:?}");
    let (st, _, body) = request(&base, "GET", &format!("/files/{}", h["x-file-id"]), &[], &[]);
    assert_eq!(st, 200);
    assert!(body == data, "the resumed upload must be byte-exact");
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_quire"))
        .args(["fsck", "--data-dir"])
        .arg(data_dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "fsck: {}", String::from_utf8_lossy(&out.stdout));
}
