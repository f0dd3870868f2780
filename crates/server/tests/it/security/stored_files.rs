//! Stored XSS through the file store: an uploaded HTML/SVG/JS file must never render or run on
//! Quire's origin, tus checks types like multipart, and the UI only runs scripts from `/assets/`.

use crate::common::{TOKEN, TestServer};
use crate::files::{form, get_bytes, register, start, tus, upload};
use base64::Engine;

fn meta(pairs: &[(&str, &str)]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    pairs.iter().map(|(k, v)| format!("{k} {}", b64.encode(v))).collect::<Vec<_>>().join(",")
}

async fn headers_of(s: &TestServer, token: &str, path: &str) -> reqwest::header::HeaderMap {
    let (st, h, _) = get_bytes(s, token, path).await;
    assert_eq!(st, 200, "{path}");
    h
}

#[tokio::test]
async fn uploads_are_attachments_in_a_sandbox_unless_inert_and_asked_inline() {
    let (s, _tmp) = start(true, |_| {}).await;
    let mallory = register(&s, "mallory@example.com").await;
    let lib = form("lib.js", "text/javascript", b"fetch('/api/srcbooks',{method:'POST'})".to_vec());
    let (st, js) = upload(&s, &mallory, lib.text("owner", "quire"), &[]).await;
    assert_eq!(st, 200, "{js}");
    let page = format!("<script src=/files/{}></script>", js["file_id"].as_str().unwrap());
    let (_, html) = upload(&s, &mallory, form("r.html", "text/html", page.into_bytes()), &[]).await;
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
    let (_, svg) = upload(&s, &mallory, form("x.svg", "image/svg+xml", svg), &[]).await;
    let (_, png) = upload(&s, &mallory, form("p.png", "image/png", vec![0x89, b'P', b'N', b'G']), &[]).await;
    for (v, inline_ok) in [(&js, false), (&html, false), (&svg, false), (&png, true)] {
        let id = v["file_id"].as_str().unwrap();
        for (query, want_inline) in [("", false), ("?inline=1", inline_ok)] {
            // The server's owner opening the link (admin token) is exactly the dangerous case.
            let h = headers_of(&s, TOKEN, &format!("/files/{id}{query}")).await;
            let cd = h["content-disposition"].to_str().unwrap();
            assert_eq!(cd.starts_with("inline;"), want_inline, "{id}{query}: {cd}");
            assert!(cd.starts_with("inline;") || cd.starts_with("attachment;"), "{cd}");
            assert_eq!(h["content-security-policy"], "sandbox; default-src 'none'; frame-ancestors 'none'");
            assert_eq!(h["x-content-type-options"], "nosniff");
        }
    }
    // The owner label is the uploader's choice: listings say whose account each file is in.
    let (_, listed) = crate::files::get_json(&s, TOKEN, "/files/by-owner/quire").await;
    let row = &listed["files"][0];
    assert_eq!(row["owner"], "quire");
    assert_eq!(row["user_email"], "mallory@example.com", "{listed}");
    assert!(row["user_id"].as_str().unwrap().starts_with("user_"), "{listed}");
    let (_, info) =
        crate::files::get_json(&s, TOKEN, &format!("/files/{}/info", js["file_id"].as_str().unwrap())).await;
    assert_eq!(info["user_id"], row["user_id"]);
    // Every file route answers with the inert policy, errors included.
    let r = reqwest::get(s.url("/files/nope")).await.unwrap();
    assert_eq!(r.headers()["content-security-policy"], "sandbox; default-src 'none'; frame-ancestors 'none'");
    let r = tus(&s, reqwest::Method::OPTIONS, "/uploads", &[], vec![]).await;
    assert_eq!(r.headers()["content-security-policy"], "sandbox; default-src 'none'; frame-ancestors 'none'");
    s.stop().await;
}

#[tokio::test]
async fn tus_applies_the_multipart_type_rules() {
    let (s, _tmp) = start(true, |_| {}).await;
    let create = |metadata: String| {
        let s = &s;
        async move {
            let h = [("upload-length", "3".to_string()), ("upload-metadata", metadata)];
            tus(s, reqwest::Method::POST, "/uploads", &h, vec![]).await
        }
    };
    // A control character would drop the Content-Type header and let browsers sniff HTML.
    let r = create(meta(&[("filename", "r.html"), ("filetype", "text/html\u{1}")])).await;
    assert_eq!(r.status(), 400);
    let r = create(meta(&[("filename", "a.exe"), ("filetype", "application/x-msdownload")])).await;
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["code"], "VALIDATION_ERROR");
    let r = create(meta(&[("filename", &"n".repeat(300)), ("filetype", "text/plain")])).await;
    assert_eq!(r.status(), 400, "an over-long filename is refused at creation");
    let r = create(meta(&[("filename", &"m".repeat(5000))])).await;
    assert_eq!(r.status(), 400, "an over-long metadata header is refused");
    // A permitted type is stored, but served as an attachment.
    let r =
        create(meta(&[("filename", "r.html"), ("filetype", "text/html"), ("owner", "<b>quire</b>")])).await;
    assert_eq!(r.status(), 201);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let h = [("upload-offset", "0".to_string()), ("content-type", "application/offset+octet-stream".into())];
    let r = tus(&s, reqwest::Method::PATCH, &loc, &h, b"<b>".to_vec()).await;
    assert_eq!(r.status(), 204);
    let id = r.headers()["x-file-id"].to_str().unwrap().to_string();
    let h = headers_of(&s, TOKEN, &format!("/files/{id}?inline=1")).await;
    assert!(h["content-disposition"].to_str().unwrap().starts_with("attachment;"));
    assert_eq!(h["content-type"], "text/html");
    let (_, info) = crate::files::get_json(&s, TOKEN, &format!("/files/{id}/info")).await;
    assert_eq!(info["owner"], "quire", "tus owners are sanitised like multipart ones");
    s.stop().await;
}

#[tokio::test]
async fn multipart_filenames_are_bounded() {
    let (s, _tmp) = start(true, |_| {}).await;
    let u = register(&s, "u@example.com").await;
    let (st, v) = upload(&s, &u, form(&"f".repeat(300_000), "text/plain", b"x".to_vec()), &[]).await;
    assert!(st == 400 || st == 413, "{st} {v}");
    let (st, v) = upload(&s, &u, form(&"g".repeat(256), "text/plain", b"x".to_vec()), &[]).await;
    assert_eq!(st, 400, "{v}");
    s.stop().await;
}

#[tokio::test]
async fn the_ui_runs_scripts_only_from_its_own_assets() {
    let s = TestServer::start().await;
    let r = reqwest::get(s.url("/")).await.unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains(&format!("script-src http://{}/assets/", s.addr)), "{csp}");
    assert!(!csp.contains("script-src 'self'"), "{csp}");
    s.stop().await;
}
