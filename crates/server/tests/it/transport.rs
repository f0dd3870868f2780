//! What every response carries (security headers), and HTTPS with `--tls-cert/--tls-key`.

use crate::common::{TOKEN, TestServer};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls").join(name)
}

fn assert_security_headers(h: &reqwest::header::HeaderMap, what: &str) {
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
    assert_eq!(h["x-frame-options"], "DENY", "{what}");
    let csp = h.get("content-security-policy").map(|v| v.to_str().unwrap()).unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: CSP {csp:?}");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let s = TestServer::start().await;
    let anon = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let cases: Vec<(&str, reqwest::RequestBuilder)> = vec![
        ("health", anon.get(s.url("/health"))),
        ("ready", anon.get(s.url("/ready"))),
        ("ui index", anon.get(s.url("/"))),
        ("spa fallback", anon.get(s.url("/some/page"))),
        ("401 api", anon.get(s.url("/api/sessions"))),
        ("401 metrics", anon.get(s.url("/metrics"))),
        ("api ok", s.http.get(s.url("/api/sessions"))),
        ("api 404", s.http.get(s.url("/api/sessions/nope"))),
        ("api 422", s.http.post(s.url("/api/import")).json(&serde_json::json!({}))),
        ("files 404", s.http.get(s.url("/files/0000"))),
        ("quota", s.http.get(s.url("/quota"))),
        ("tus options", s.http.request(reqwest::Method::OPTIONS, s.url("/uploads"))),
        (
            "auth login 4xx",
            anon.post(s.url("/auth/login")).json(&serde_json::json!({"email": "x", "password": "y"})),
        ),
        ("websocket without upgrade", s.http.get(s.url("/websocket"))),
        ("bad host", anon.get(s.url("/health")).header("host", "evil.example")),
    ];
    for (what, req) in cases {
        let r = req.send().await.unwrap();
        assert_security_headers(r.headers(), &format!("{what} ({})", r.status()));
        assert!(r.headers().get("strict-transport-security").is_none(), "no HSTS over plain HTTP");
    }
}

#[tokio::test]
async fn https_with_a_certificate_and_hsts() {
    quire_server::install_crypto_provider();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = quire_server::Config::new(tmp.path().into(), TOKEN.into());
    config.language.enabled = false;
    config.disk_low_bytes = 0;
    let files = quire_server::TlsFiles { cert: fixture("cert.pem"), key: fixture("key.pem") };
    quire_server::check_tls(&files).unwrap();
    config.tls = Some(files);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(quire_server::serve(config, listener, async move {
        let _ = stopped.await;
    }));
    let cert = reqwest::Certificate::from_pem(&std::fs::read(fixture("cert.pem")).unwrap()).unwrap();
    let client = reqwest::Client::builder().tls_certs_only([cert]).build().unwrap();
    let base = format!("https://localhost:{port}");
    let mut ready = false;
    for _ in 0..500 {
        if client.get(format!("{base}/ready")).send().await.is_ok_and(|r| r.status() == 200) {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(ready, "the HTTPS server never became ready");
    let r = client.get(format!("{base}/api/sessions")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    assert_security_headers(r.headers(), "https api");
    // The session cookie never travels over plain HTTP.
    let no_redirect = reqwest::Client::builder()
        .tls_certs_only([
            reqwest::Certificate::from_pem(&std::fs::read(fixture("cert.pem")).unwrap()).unwrap()
        ])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirect.get(format!("{base}/?token={TOKEN}")).send().await.unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    // Plain HTTP on the TLS port gets no answer; a client that does not trust the certificate fails.
    assert!(reqwest::get(format!("http://127.0.0.1:{port}/health")).await.is_err());
    let untrusting = reqwest::Client::builder().tls_certs_only([]).build().unwrap();
    assert!(untrusting.get(format!("{base}/health")).send().await.is_err());
    // A silent client that never finishes its handshake holds up nobody.
    let _silent = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert_eq!(client.get(format!("{base}/health")).send().await.unwrap().status(), 200);
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

#[test]
fn a_bad_certificate_or_key_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let junk = tmp.path().join("junk.pem");
    std::fs::write(&junk, "not pem").unwrap();
    let err =
        quire_server::check_tls(&quire_server::TlsFiles { cert: junk.clone(), key: fixture("key.pem") });
    assert!(err.unwrap_err().to_string().contains("no certificate"));
    let err = quire_server::check_tls(&quire_server::TlsFiles { cert: fixture("cert.pem"), key: junk });
    assert!(format!("{:#}", err.unwrap_err()).contains("private key"));
    let missing = tmp.path().join("missing.pem");
    let err = quire_server::check_tls(&quire_server::TlsFiles { cert: missing, key: fixture("key.pem") });
    assert!(err.unwrap_err().to_string().contains("cannot read the TLS certificate"));
}

#[tokio::test]
async fn shutdown_waits_for_requests_only_up_to_its_grace_period() {
    let s = TestServer::start_configured(|c| {
        c.language.enabled = false;
        c.disk_low_bytes = 0;
        c.shutdown_grace = std::time::Duration::from_millis(300);
    })
    .await;
    // An upload whose body never ends: without a grace period shutdown would wait for it forever.
    let (started, mut rx) = tokio::sync::mpsc::channel::<()>(1);
    let body = futures_util::stream::unfold(0u8, move |n| {
        let started = started.clone();
        async move {
            if n == 0 {
                let _ = started.send(()).await;
                let mut head =
                    b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\n"
                        .to_vec();
                head.extend([b'x'; 1024]);
                Some((Ok::<_, std::io::Error>(head), 1))
            } else {
                std::future::pending().await
            }
        }
    });
    let req = s.http.post(s.url("/files")).header("content-type", "multipart/form-data; boundary=XyZ");
    let hanging = tokio::spawn(req.body(reqwest::Body::wrap_stream(body)).send());
    rx.recv().await.unwrap();
    let begun = std::time::Instant::now();
    s.stop().await;
    let took = begun.elapsed();
    assert!(took < std::time::Duration::from_secs(5), "shutdown took {took:?}");
    hanging.abort();
}
