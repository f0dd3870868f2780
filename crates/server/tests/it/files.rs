//! The file store over HTTP: FileDB shapes, streaming round trips, dedup, Range, corruption, tus
//! (resume across a restart, 460, 409, 412), idempotency, quotas, owner isolation, listings.

use crate::common::{TOKEN, TestServer};
use quire_server::Config;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

pub(crate) fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub(crate) async fn start(
    signup_open: bool,
    tweak: impl FnOnce(&mut Config),
) -> (TestServer, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = Config::new(tmp.path().to_path_buf(), TOKEN.into());
    c.signup_open = signup_open;
    tweak(&mut c);
    (TestServer::start_with(c).await, tmp)
}

/// A plain client (no server token) with an optional bearer token.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::new()
}

pub(crate) async fn register(s: &TestServer, email: &str) -> String {
    let r = client()
        .post(s.url("/auth/register"))
        .json(&json!({"email": email, "password": "TestPassword123!"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["user"]["email"], email);
    v["accessToken"].as_str().unwrap().to_string()
}

pub(crate) fn form(name: &str, mime: &str, data: Vec<u8>) -> Form {
    Form::new().part("file", Part::bytes(data).file_name(name.to_string()).mime_str(mime).unwrap())
}

pub(crate) async fn upload(s: &TestServer, token: &str, f: Form, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = client().post(s.url("/files")).bearer_auth(token).multipart(f);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn get_bytes(
    s: &TestServer,
    token: &str,
    path: &str,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let r = client().get(s.url(path)).bearer_auth(token).send().await.unwrap();
    let st = r.status().as_u16();
    let h = r.headers().clone();
    (st, h, r.bytes().await.map(|b| b.to_vec()).unwrap_or_default())
}

pub(crate) async fn get_json(s: &TestServer, token: &str, path: &str) -> (u16, Value) {
    let r = client().get(s.url(path)).bearer_auth(token).send().await.unwrap();
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

fn chunk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for shard in std::fs::read_dir(dir.join("files/chunks")).unwrap().flatten() {
        for f in std::fs::read_dir(shard.path()).unwrap().flatten() {
            out.push(f.path());
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn auth_flow_and_closed_signup() {
    let (s, _t) = start(false, |_| {}).await;
    let r = client()
        .post(s.url("/auth/register"))
        .json(&json!({"email": "a@x.io", "password": "longenough"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "sign-up is closed by default");
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "SIGNUP_CLOSED");
    // The server token may add users even when sign-up is closed.
    let r = s
        .http
        .post(s.url("/auth/register"))
        .json(&json!({"email": "a@x.io", "password": "longenough"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let login = |email: &'static str, pw: &'static str| {
        let url = s.url("/auth/login");
        async move { client().post(url).json(&json!({"email": email, "password": pw})).send().await.unwrap() }
    };
    let ok = login("a@x.io", "longenough").await;
    assert_eq!(ok.status(), 200);
    let v: Value = ok.json().await.unwrap();
    assert_eq!(v["message"], "Login successful");
    assert_eq!(login("a@x.io", "wrongpassword").await.status(), 401);
    assert_eq!(login("invalid-email", "longenough").await.status(), 401);
    let access = v["accessToken"].as_str().unwrap();
    let (st, me) = get_json(&s, access, "/auth/me").await;
    assert_eq!((st, me["user"]["email"].as_str()), (200, Some("a@x.io")));
    let r = client()
        .post(s.url("/auth/refresh"))
        .json(&json!({"refreshToken": v["refreshToken"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r =
        client().post(s.url("/auth/refresh")).json(&json!({"refreshToken": "nope"})).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // API keys work as X-API-Key on the file routes.
    let r = client()
        .post(s.url("/auth/api-keys"))
        .bearer_auth(access)
        .json(&json!({"name": "ci"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let key = r.json::<Value>().await.unwrap()["apiKey"].as_str().unwrap().to_string();
    let r = client().get(s.url("/quota")).header("x-api-key", &key).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = client().get(s.url("/quota")).header("x-api-key", "bad key!").send().await.unwrap();
    assert_eq!(r.status(), 400, "FileDB's header validation");
    assert_eq!(client().get(s.url("/quota")).send().await.unwrap().status(), 401);
    let r = client().post(s.url("/auth/logout")).bearer_auth(access).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(get_json(&s, access, "/quota").await.0, 401, "logout revokes the token");
}

#[tokio::test]
async fn round_trips_info_status_and_quota() {
    let (s, _t) = start(true, |_| {}).await;
    let tok = register(&s, "rt@test.local").await;
    for size in [0usize, 1, 1 << 20, 9 << 20] {
        let data = noise(size, size as u64);
        let (st, v) = upload(&s, &tok, form("data.bin", "application/octet-stream", data.clone()), &[]).await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["message"], "Upload successful");
        let id = v["file_id"].as_str().unwrap().to_string();
        let (st, h, body) = get_bytes(&s, &tok, &format!("/files/{id}")).await;
        assert_eq!(st, 200);
        assert!(body == data, "size {size} must round-trip byte-exact");
        assert_eq!(h["x-file-size"], size.to_string().as_str());
        let (st, info) = get_json(&s, &tok, &format!("/files/{id}/info")).await;
        assert_eq!(st, 200);
        assert_eq!(info["total_size"], size);
        assert_eq!(info["checksum"], v["checksum"]);
        assert_eq!(info["original_filename"], "data.bin");
        assert_eq!(info["file_extension"], "bin");
        let (st, ent) = get_json(&s, &tok, &format!("/files/{id}/entities")).await;
        assert_eq!(st, 200);
        assert!(ent["total_entities"].as_u64().unwrap() > 0);
        let (st, stv) = get_json(&s, &tok, &format!("/files/{id}/status")).await;
        assert_eq!((st, stv["status"].as_str()), (200, Some("completed")));
    }
    let (st, q) = get_json(&s, &tok, "/quota").await;
    assert_eq!(st, 200);
    assert_eq!(q["used_bytes"], 1 + (1 << 20) + (9 << 20));
    assert_eq!(q["uploads_today"], 4);
    assert!(q["usage_percentage"].is_string());
    let (st, v) = get_json(&s, &tok, "/files/00000000-0000-4000-8000-000000000000").await;
    assert_eq!((st, v["code"].as_str()), (404, Some("FILE_NOT_FOUND")));
    let r = client()
        .post(s.url("/files"))
        .bearer_auth(&tok)
        .multipart(Form::new().text("owner", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "No file provided");
    let (st, _) = upload(&s, &tok, form("a.exe", "application/x-msdownload", vec![1]), &[]).await;
    assert_eq!(st, 400, "type outside FileDB's allow-list");
    let (st, _) = upload(&s, &tok, form("a.txt", "text/plain", vec![1]), &[("btl-days", "soon")]).await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn dedup_range_and_corruption() {
    let (s, _t) = start(true, |_| {}).await;
    let a = register(&s, "d1@test.local").await;
    let b = register(&s, "d2@test.local").await;
    let data = noise(6 << 20, 42);
    let (_, v1) = upload(&s, &a, form("x.bin", "application/octet-stream", data.clone()), &[]).await;
    let before = chunk_files(&s.data_dir);
    let (_, v2) = upload(&s, &b, form("y.bin", "application/octet-stream", data.clone()), &[]).await;
    assert_eq!(chunk_files(&s.data_dir), before, "the same content stores no new chunk");
    let id1 = v1["file_id"].as_str().unwrap();
    let id2 = v2["file_id"].as_str().unwrap();
    assert_ne!(id1, id2);
    let (_, e1) = get_json(&s, &a, &format!("/files/{id1}/entities")).await;
    let (_, e2) = get_json(&s, &b, &format!("/files/{id2}/entities")).await;
    assert_eq!(e1["chunk_entity_keys"], e2["chunk_entity_keys"]);

    // Range requests.
    let r = client()
        .get(s.url(&format!("/files/{id1}")))
        .bearer_auth(&a)
        .header("range", "bytes=1000000-2999999")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], format!("bytes 1000000-2999999/{}", data.len()).as_str());
    assert!(r.bytes().await.unwrap() == data[1_000_000..3_000_000]);
    let r = client()
        .get(s.url(&format!("/files/{id1}")))
        .bearer_auth(&a)
        .header("range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert!(r.bytes().await.unwrap() == data[data.len() - 10..]);
    let r = client()
        .get(s.url(&format!("/files/{id1}")))
        .bearer_auth(&a)
        .header("range", "bytes=99999999-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);

    // A small file (one chunk): flip one stored byte → CORRUPT_DATA, and fsck reports it.
    let small = noise(100_000, 7);
    let (_, v) = upload(&s, &a, form("s.bin", "application/octet-stream", small), &[]).await;
    let id = v["file_id"].as_str().unwrap();
    let (_, ent) = get_json(&s, &a, &format!("/files/{id}/entities")).await;
    let hash = ent["chunk_entity_keys"][0].as_str().unwrap().trim_start_matches("chunk:").to_string();
    let path = s.data_dir.join("files/chunks").join(&hash[..2]).join(&hash);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&path, bytes).unwrap();
    let (st, v) = get_json(&s, &a, &format!("/files/{id}")).await;
    assert_eq!((st, v["code"].as_str()), (500, Some("CORRUPT_DATA")), "{v}");
    let (_, info) = get_json(&s, &a, &format!("/files/{id}/info")).await;
    assert_eq!(info["damaged"], true);
    let report = quire_server::fsck(&s.data_dir.clone().into(), false).unwrap();
    assert_eq!(report["clean"], false);
    assert_eq!(report["corrupt_chunks"], json!([hash]));
    assert_eq!(report["damaged_files"], json!([id]));
    // The other files are intact and still download.
    let (st, _, body) = get_bytes(&s, &b, &format!("/files/{id2}")).await;
    assert_eq!(st, 200);
    assert!(body == data);
}

#[tokio::test]
async fn owner_isolation_public_and_delete() {
    let (s, _t) = start(true, |_| {}).await;
    let a = register(&s, "own-a@test.local").await;
    let b = register(&s, "own-b@test.local").await;
    let (_, v) = upload(&s, &a, form("a.txt", "text/plain", b"private".to_vec()), &[]).await;
    let id = v["file_id"].as_str().unwrap();
    assert_eq!(get_json(&s, &b, &format!("/files/{id}")).await.0, 404);
    assert_eq!(get_json(&s, &b, &format!("/files/{id}/info")).await.0, 404);
    let del = |tok: String| {
        let url = s.url(&format!("/files/{id}"));
        async move { client().delete(url).bearer_auth(tok).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(del(b.clone()).await, 404, "another user's private file does not exist for them");
    let r = client().post(s.url(&format!("/files/{id}/public"))).bearer_auth(&a).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (st, _, body) = get_bytes(&s, &b, &format!("/files/{id}")).await;
    assert_eq!((st, body.as_slice()), (200, &b"private"[..]));
    assert_eq!(del(b.clone()).await, 403, "a public file is readable, not deletable, by others");
    assert_eq!(del(a.clone()).await, 200);
    assert_eq!(get_json(&s, &a, &format!("/files/{id}")).await.0, 404);
    // The server token is admin: it sees and deletes anything.
    let (_, v) = upload(&s, &a, form("b.txt", "text/plain", b"x".to_vec()), &[]).await;
    let id = v["file_id"].as_str().unwrap();
    assert_eq!(get_json(&s, TOKEN, &format!("/files/{id}/info")).await.0, 200);
    let r = client().delete(s.url(&format!("/files/{id}"))).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn listings_by_owner_extension_and_type() {
    let (s, _t) = start(true, |_| {}).await;
    let tok = register(&s, "query@test.local").await;
    let other = register(&s, "query2@test.local").await;
    let f = form("query-test.txt", "text/plain;charset=utf-8", b"Query test content".to_vec())
        .text("owner", "  <b>smoke</b>   owner & 'x'  ");
    let (st, v) = upload(&s, &tok, f, &[]).await;
    assert_eq!(st, 200, "{v}");
    let id = v["file_id"].as_str().unwrap();
    let (_, v) = get_json(&s, &tok, "/files/by-extension/TXT").await;
    assert_eq!(v["extension"], "TXT");
    assert_eq!(v["count"], 1);
    assert_eq!(v["files"][0]["file_id"], id);
    let (_, v) = get_json(&s, &tok, "/files/by-type/text%2Fplain").await;
    assert_eq!(v["content_type"], "text/plain");
    assert_eq!(v["files"][0]["file_id"], id, "base type matches text/plain;charset=utf-8");
    let (_, v) = get_json(&s, &tok, "/files/by-owner/smoke%20owner%20x").await;
    assert_eq!((v["owner"].as_str(), v["count"].as_u64()), (Some("smoke owner x"), Some(1)));
    let (_, v) = get_json(&s, &tok, "/api/files/owner/smoke%20owner%20x").await;
    assert_eq!(v["count"], 1, "the /api alias takes FileDB credentials too");
    let (_, v) = get_json(&s, &tok, "/files/by-owner/non-existent-owner").await;
    assert_eq!((v["count"].as_u64(), &v["files"]), (Some(0), &json!([])));
    let (_, v) = get_json(&s, &other, "/files/by-extension/txt").await;
    assert_eq!(v["count"], 0, "listings show only the caller's files");
}

#[tokio::test]
async fn idempotency_keys() {
    let (s, _t) = start(true, |_| {}).await;
    let tok = register(&s, "idem@test.local").await;
    let key = [("idempotency-key", "upload-123-abc")];
    let (st, v1) = upload(&s, &tok, form("i.txt", "text/plain", b"same".to_vec()), &key).await;
    assert_eq!(st, 200);
    let (st, v2) = upload(&s, &tok, form("i.txt", "text/plain", b"same".to_vec()), &key).await;
    assert_eq!((st, &v2["file_id"]), (200, &v1["file_id"]), "a replay returns the same file");
    let (st, v3) = upload(&s, &tok, form("i.txt", "text/plain", b"different".to_vec()), &key).await;
    assert_eq!((st, v3["code"].as_str()), (422, Some("IDEMPOTENCY_MISMATCH")));
    let (_, q) = get_json(&s, &tok, "/quota").await;
    assert_eq!(q["uploads_today"], 1, "no second copy");
    let (st, sv) = get_json(&s, &tok, "/status/upload-123-abc").await;
    assert_eq!((st, &sv["file_id"], sv["status"].as_str()), (200, &v1["file_id"], Some("completed")));
    assert_eq!(get_json(&s, &tok, "/status/unknown-key").await.0, 404);

    // In flight: a slow first request holds the key; a second one gets 409.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
    let slow =
        Form::new().part("file", Part::stream(reqwest::Body::wrap_stream(stream)).file_name("slow.bin"));
    let url = s.url("/files");
    let t2 = tok.clone();
    let first = tokio::spawn(async move {
        client()
            .post(url)
            .bearer_auth(t2)
            .header("idempotency-key", "slow-key-1")
            .multipart(slow)
            .send()
            .await
    });
    tx.send(Ok(vec![1u8; 1000])).await.unwrap();
    // Wait until the first request holds the key (its status reads "uploading").
    let mut seen = false;
    for _ in 0..500 {
        let (st, v) = get_json(&s, &tok, "/status/slow-key-1").await;
        if st == 200 {
            assert_eq!(v["status"], "uploading");
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(seen, "the first request never claimed its key");
    let (st, v) = upload(
        &s,
        &tok,
        form("slow.bin", "application/octet-stream", vec![2]),
        &[("idempotency-key", "slow-key-1")],
    )
    .await;
    assert_eq!((st, v["code"].as_str()), (409, Some("IDEMPOTENCY_IN_FLIGHT")));
    drop(tx);
    let r = first.await.unwrap().unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn expiry_fields() {
    let (s, _t) = start(true, |_| {}).await;
    let tok = register(&s, "btl@test.local").await;
    for (btl, expect_days) in [(None, Some(7)), (Some("0"), None), (Some("3"), Some(3))] {
        let h: Vec<(&str, &str)> = btl.map(|b| vec![("btl-days", b)]).unwrap_or_default();
        let (_, v) = upload(&s, &tok, form("e.txt", "text/plain", b"e".to_vec()), &h).await;
        let (_, info) = get_json(&s, &tok, &format!("/files/{}/info", v["file_id"].as_str().unwrap())).await;
        match expect_days {
            None => assert!(info["expires_at"].is_null(), "BTL-Days 0 never expires"),
            Some(d) => {
                assert_eq!(info["btl_days"], d);
                assert!(info["expires_at"].as_str().unwrap() > info["created_at"].as_str().unwrap());
            }
        }
    }
}

#[tokio::test]
async fn expired_files_answer_404_at_once() {
    // One BTL day lasts 300 ms here, so expiry can be watched happen.
    let (s, _t) = start(true, |c| c.files.btl_day_ms = 300).await;
    let tok = register(&s, "expire@test.local").await;
    let f = form("gone.txt", "text/plain", b"short-lived".to_vec()).text("owner", "expiring");
    let (_, v) = upload(&s, &tok, f, &[("btl-days", "1")]).await;
    let id = v["file_id"].as_str().unwrap().to_string();
    let (_, keep) =
        upload(&s, &tok, form("keep.txt", "text/plain", b"kept".to_vec()), &[("btl-days", "0")]).await;
    assert_eq!(get_bytes(&s, &tok, &format!("/files/{id}")).await.0, 200);
    let mut gone = false;
    for _ in 0..300 {
        if get_json(&s, &tok, &format!("/files/{id}")).await.0 == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(gone, "the file never expired");
    assert_eq!(get_json(&s, &tok, &format!("/files/{id}/info")).await.0, 404);
    assert_eq!(get_json(&s, &tok, "/files/by-owner/expiring").await.1["count"], 0);
    let (_, q) = get_json(&s, &tok, "/quota").await;
    assert_eq!(q["used_bytes"], 4, "expired files stop counting against the quota");
    let keep_id = keep["file_id"].as_str().unwrap();
    assert_eq!(get_bytes(&s, &tok, &format!("/files/{keep_id}")).await.2, b"kept");
}

pub(crate) async fn tus(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> reqwest::Response {
    let mut req = client().request(method, s.url(path)).bearer_auth(TOKEN).header("tus-resumable", "1.0.0");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    req.body(body).send().await.unwrap()
}

#[tokio::test]
async fn tus_resume_across_restart_and_protocol_errors() {
    use base64::Engine;
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(Config::new(tmp.path().to_path_buf(), TOKEN.into())).await;
    let data = noise(3 << 20, 11);
    let r = client().request(reqwest::Method::OPTIONS, s.url("/uploads/")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.headers()["tus-checksum-algorithm"].to_str().unwrap().contains("sha1"));
    let meta = format!("filename {},filetype {}", b64(b"resume.bin"), b64(b"application/octet-stream"));
    let r = tus(
        &s,
        reqwest::Method::POST,
        "/uploads/",
        &[("upload-length", data.len().to_string()), ("upload-metadata", meta)],
        vec![],
    )
    .await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["tus-resumable"], "1.0.0");
    assert!(r.headers().contains_key("upload-expires"));
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let patch = |off: usize, end: usize, extra: Vec<(&'static str, String)>| {
        let mut h = vec![
            ("content-type", "application/offset+octet-stream".to_string()),
            ("upload-offset", off.to_string()),
        ];
        h.extend(extra);
        (h, data[off..end].to_vec())
    };
    let (h, body) = patch(0, 1 << 20, vec![]);
    let r = tus(&s, reqwest::Method::PATCH, &loc, &h, body).await;
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["upload-offset"], (1 << 20).to_string().as_str());
    // Wrong offset → 409; wrong version → 412; bad checksum → 460 and nothing kept.
    let (h, body) = patch(5, 10, vec![]);
    assert_eq!(tus(&s, reqwest::Method::PATCH, &loc, &h, body).await.status(), 409);
    let r =
        client().head(s.url(&loc)).bearer_auth(TOKEN).header("tus-resumable", "0.2.2").send().await.unwrap();
    assert_eq!(r.status(), 412);
    assert_eq!(r.headers()["tus-version"], "1.0.0");
    let (h, body) = patch(1 << 20, 2 << 20, vec![("upload-checksum", format!("sha1 {}", b64(&[0u8; 20])))]);
    assert_eq!(tus(&s, reqwest::Method::PATCH, &loc, &h, body).await.status(), 460);
    let (h, body) = patch(1 << 20, 2 << 20, vec![("upload-checksum", format!("md5 {}", b64(&[0u8; 16])))]);
    assert_eq!(tus(&s, reqwest::Method::PATCH, &loc, &h, body).await.status(), 400);

    // Restart on the same data dir: HEAD reports the durable offset and the upload resumes there.
    let (dir, _keep) = s.stop().await;
    let s = TestServer::start_with(Config::new(dir, TOKEN.into())).await;
    let r = tus(&s, reqwest::Method::HEAD, &loc, &[], vec![]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["upload-offset"], (1 << 20).to_string().as_str());
    assert_eq!(r.headers()["cache-control"], "no-store");
    let sum = {
        use sha2::Digest;
        b64(&sha2::Sha256::digest(&data[1 << 20..]))
    };
    let (h, body) = patch(1 << 20, data.len(), vec![("upload-checksum", format!("sha256 {sum}"))]);
    let r = tus(&s, reqwest::Method::PATCH, &loc, &h, body).await;
    assert_eq!(r.status(), 204);
    let file_id = r.headers()["x-file-id"].to_str().unwrap().to_string();
    let (st, _, body) = get_bytes(&s, TOKEN, &format!("/files/{file_id}")).await;
    assert_eq!(st, 200);
    assert!(body == data, "the resumed upload is byte-exact");
    let (_, info) = get_json(&s, TOKEN, &format!("/files/{file_id}/info")).await;
    assert_eq!(info["original_filename"], "resume.bin");

    // Termination, and creation-with-upload.
    let r = tus(&s, reqwest::Method::POST, "/uploads/", &[("upload-length", "5".into())], vec![]).await;
    let loc2 = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(tus(&s, reqwest::Method::DELETE, &loc2, &[], vec![]).await.status(), 204);
    assert_eq!(tus(&s, reqwest::Method::HEAD, &loc2, &[], vec![]).await.status(), 404);
    let h =
        [("upload-length", "5".to_string()), ("content-type", "application/offset+octet-stream".to_string())];
    let r = tus(&s, reqwest::Method::POST, "/uploads/", &h, b"hello".to_vec()).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["upload-offset"], "5");
    let id = r.headers()["x-file-id"].to_str().unwrap().to_string();
    assert_eq!(get_bytes(&s, TOKEN, &format!("/files/{id}")).await.2, b"hello");
    let r = tus(&s, reqwest::Method::POST, "/uploads/", &[("upload-length", "0".into())], vec![]).await;
    assert_eq!(r.status(), 201);
    let id = r.headers()["x-file-id"].to_str().unwrap().to_string();
    let (st, _, body) = get_bytes(&s, TOKEN, &format!("/files/{id}")).await;
    assert_eq!((st, body.len()), (200, 0), "an empty tus upload is an empty file");
}

#[tokio::test]
async fn health_speaks_both_vocabularies() {
    let (s, _t) = start(false, |_| {}).await;
    let r = client().get(s.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "healthy");
    assert_eq!(v["services"]["database"], "connected");
    assert_eq!(v["services"]["redis"], "unknown");
    assert_eq!(v["components"]["files"], "ok");
    assert!(v["timestamp"].is_number() && v["version"].is_string());
}

#[tokio::test]
async fn a_file_attached_to_a_notebook_is_read_by_a_cell() {
    let s = TestServer::start_node().await;
    let csv = b"city,pop\nOslo,709000\n".to_vec();
    let (st, v) = upload(&s, TOKEN, form("data.csv", "text/csv", csv.clone()), &[]).await;
    assert_eq!(st, 200, "{v}");
    let file_id = v["file_id"].as_str().unwrap();
    let nb = s.create("Attach", "javascript").await;
    let (st, v) = s.post(&format!("/api/sessions/{nb}/files"), json!({"file_id": file_id})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["result"]["path"], "files/data.csv");
    assert_eq!(std::fs::read(s.notebook_dir(&nb).join("files/data.csv")).unwrap(), csv);
    let (st, v) =
        s.post(&format!("/api/sessions/{nb}/files"), json!({"file_id": file_id, "filename": "../x"})).await;
    assert_eq!((st, v["code"].as_str()), (400, Some("invalid_filename")));
    let (st, _) = s.post(&format!("/api/sessions/{nb}/files"), json!({"file_id": "nope"})).await;
    assert_eq!(st, 404);

    // A cell runs in the notebook directory and reads the attached file.
    let topic = format!("session:{nb}");
    let mut ws = s.ws().await;
    ws.subscribe(&nb, &["errors", "cells"]).await;
    let src =
        "import fs from 'node:fs';\nconsole.log(fs.readFileSync('files/data.csv', 'utf8').split('\\n')[1]);";
    let cell = json!({"id": "c1", "type": "code", "source": src, "language": "javascript", "filename": "read.mjs", "status": "idle"});
    ws.send(&topic, "cell:create", json!({"index": 2, "cell": cell})).await;
    ws.recv_event("cell:created").await;
    ws.send(&topic, "cell:exec", json!({"cellId": "c1"})).await;
    let mut out = String::new();
    loop {
        let (_, e, p) = ws.recv_within(std::time::Duration::from_secs(20)).await;
        match e.as_str() {
            "cell:output" if p["output"]["type"] == "stdout" => {
                out.push_str(p["output"]["data"].as_str().unwrap())
            }
            "cell:updated" if p["cell"]["status"] != "running" => break,
            _ => {}
        }
    }
    assert_eq!(out.trim(), "Oslo,709000");
}

#[tokio::test]
async fn a_100_mib_file_round_trips_byte_exact() {
    let (s, _t) = start(true, |_| {}).await;
    let tok = register(&s, "big@test.local").await;
    let data = noise(100 << 20, 7);
    let (st, v) = upload(&s, &tok, form("big.bin", "application/octet-stream", data.clone()), &[]).await;
    assert_eq!(st, 200, "{v}");
    let id = v["file_id"].as_str().unwrap().to_string();
    let (st, h, body) = get_bytes(&s, &tok, &format!("/files/{id}")).await;
    assert_eq!(st, 200);
    assert_eq!(h["x-file-size"], (100usize << 20).to_string().as_str());
    assert!(body == data, "100 MiB must round-trip byte-exact");
}
