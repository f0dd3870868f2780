//! File-store limits: quotas, sizes, failed-credential throttling and per-account rate limits.

use crate::common::TOKEN;
use crate::files::{client, form, get_json, noise, register, start, upload};
use serde_json::Value;

#[tokio::test]
async fn failed_credentials_are_throttled_but_good_ones_never_are() {
    let (s, _t) = start(true, |_| {}).await;
    let tok = register(&s, "throttle@test.local").await;
    let mut statuses = Vec::new();
    for _ in 0..15 {
        let r = client().get(s.url("/quota")).bearer_auth("qa_not-a-real-token").send().await.unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["code"], "RATE_LIMIT_ERROR");
            assert!(v["error"].is_string(), "FileDB clients show `error`");
            break;
        }
    }
    assert_eq!(statuses.first(), Some(&401));
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert_eq!(get_json(&s, &tok, "/quota").await.0, 200, "a valid token still works");
    assert_eq!(get_json(&s, TOKEN, "/quota").await.0, 200);
}

#[tokio::test]
async fn quotas_and_size_limits() {
    let (s, _t) = start(true, |c| {
        c.files.quota_bytes = 3 << 20;
        c.files.max_file_size = 2 << 20;
    })
    .await;
    let tok = register(&s, "quota@test.local").await;
    let (st, v) = upload(&s, &tok, form("big.bin", "application/octet-stream", noise(3 << 20, 1)), &[]).await;
    assert_eq!((st, v["code"].as_str()), (413, Some("FILE_TOO_LARGE")), "{v}");
    let (st, _) = upload(&s, &tok, form("a.bin", "application/octet-stream", noise(2 << 20, 2)), &[]).await;
    assert_eq!(st, 200);
    let (st, v) = upload(&s, &tok, form("b.bin", "application/octet-stream", noise(2 << 20, 3)), &[]).await;
    assert_eq!((st, v["code"].as_str()), (429, Some("QUOTA_EXCEEDED")), "{v}");
    assert!(v["error"].as_str().unwrap().contains("Quota exceeded"));
    assert_eq!(v["context"]["limit"], 3 << 20);
    // tus creation is admitted against the same limits.
    let r = client()
        .post(s.url("/uploads/"))
        .bearer_auth(&tok)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", (3u64 << 20).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn each_account_has_its_own_rate_limit() {
    let (s, _tmp) = start(true, |c| {
        c.user_rate_limit_rps = 2;
        c.rate_limit_rps = 0;
    })
    .await;
    let (a, b) = (register(&s, "a@example.com").await, register(&s, "b@example.com").await);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(client().get(s.url("/quota")).bearer_auth(&a).send().await.unwrap());
    }
    let limited = statuses.iter().position(|r| r.status() == 429).expect("a burst past the limit gets 429");
    assert!(limited >= 3, "the burst (4) passes first: {limited}");
    let r = statuses.remove(limited);
    assert!(r.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "RATE_LIMIT_EXCEEDED");
    // Another account, from the same address, is not slowed by the first one.
    assert_eq!(client().get(s.url("/quota")).bearer_auth(&b).send().await.unwrap().status(), 200);
}
