//! Quota and daily-limit bypass through tus: uploads in progress reserve their length, count against
//! the day and their own cap, and the day's limit is checked again when an upload finishes.

use crate::files::{register, start};
use serde_json::Value;

async fn create(s: &crate::common::TestServer, token: &str, length: u64) -> reqwest::Response {
    reqwest::Client::new()
        .post(s.url("/uploads"))
        .bearer_auth(token)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", length.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn uploads_in_progress_count_against_quota_and_caps() {
    let (s, _tmp) = start(true, |c| {
        c.files.quota_bytes = 1 << 20;
        c.files.max_uploads_in_progress = 3;
    })
    .await;
    let u = register(&s, "q@example.com").await;
    assert_eq!(create(&s, &u, 1 << 20).await.status(), 201);
    let r = create(&s, &u, 1 << 20).await;
    assert_eq!(r.status(), 429, "a second reserved megabyte is over the 1 MiB quota");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "QUOTA_EXCEEDED");
    let quota: Value = reqwest::Client::new()
        .get(s.url("/quota"))
        .bearer_auth(&u)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(quota["reserved_bytes"], 1 << 20, "{quota}");
    assert_eq!(quota["used_bytes"], 1 << 20, "{quota}");

    let (s2, _tmp2) = start(true, |c| c.files.max_uploads_in_progress = 3).await;
    let u2 = register(&s2, "c@example.com").await;
    for _ in 0..3 {
        assert_eq!(create(&s2, &u2, 10).await.status(), 201);
    }
    let r = create(&s2, &u2, 10).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "TOO_MANY_UPLOADS");
    s.stop().await;
    s2.stop().await;
}
