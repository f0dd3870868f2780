//! Sign-in abuse: login floods must not exhaust memory, the throttle must refuse the right password
//! too once the budget is spent, refresh tokens rotate and are revoked on reuse and logout, the
//! session cookie is `Secure` over TLS, and the link exchange never redirects off the origin.

use crate::common::{TOKEN, TestServer};
use crate::files::start;
use serde_json::{Value, json};

const PASSWORD: &str = "TestPassword123!";

async fn login(s: &TestServer, email: &str, password: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(s.url("/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_flood_of_failed_logins_hashes_a_few_passwords_at_a_time() {
    // The budget is lifted, so every request really checks a password (the worst case for memory).
    let (s, _tmp) = start(true, |c| {
        c.auth_failures_per_minute = 100_000;
        c.rate_limit_rps = 0;
    })
    .await;
    crate::files::register(&s, "known@example.com").await;
    // One client for all requests: the test's own clients must not be what it measures.
    let client = reqwest::Client::new();
    let before = peak_rss_kib();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..120 {
        let (url, client) = (s.url("/auth/login"), client.clone());
        // Known and unknown emails alike.
        let email =
            if i % 2 == 0 { "known@example.com".to_string() } else { format!("nobody{i}@example.com") };
        tasks.spawn(async move {
            let body = json!({"email": email, "password": "wrong-password"});
            client.post(url).json(&body).send().await.unwrap().status().as_u16()
        });
    }
    while let Some(status) = tasks.join_next().await {
        let st = status.unwrap();
        assert!(st == 401 || st == 429, "{st}");
    }
    let grown_mib = (peak_rss_kib().saturating_sub(before)) / 1024;
    eprintln!("peak RSS grew by {grown_mib} MiB during 120 concurrent failed logins");
    // 120 Argon2id hashes at once would need ~2.3 GiB (each thread that hashes keeps one 19 MiB work
    // buffer). Measured here: ~25 MiB, idle or with the CPUs busy (the two password threads' buffers,
    // one made before `before`; the rest is connections).
    assert!(grown_mib < 200, "peak RSS grew by {grown_mib} MiB");
    s.stop().await;
}

#[tokio::test]
async fn past_the_budget_even_the_right_password_gets_429_and_no_hash() {
    let (s, _tmp) = start(true, |c| c.auth_failures_per_minute = 5).await;
    crate::files::register(&s, "victim@example.com").await;
    for _ in 0..5 {
        assert_eq!(login(&s, "victim@example.com", "guess-guess").await.0, 401);
    }
    let (st, v) = login(&s, "victim@example.com", PASSWORD).await;
    assert_eq!(st, 429, "the right password past the budget: {v}");
    assert_eq!(v["code"], "RATE_LIMIT_ERROR");
    // Concurrent guesses cannot slip past the budget either.
    let (s2, _tmp2) = start(true, |c| c.auth_failures_per_minute = 5).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..30 {
        let url = s2.url("/auth/login");
        tasks.spawn(async move {
            let body = json!({"email": "a@example.com", "password": "guess-guess"});
            reqwest::Client::new().post(url).json(&body).send().await.unwrap().status().as_u16()
        });
    }
    let mut refused = 0;
    while let Some(st) = tasks.join_next().await {
        refused += u32::from(st.unwrap() == 429);
    }
    assert_eq!(refused, 25, "exactly the budget was tried");
    // Good passwords do not use up the budget.
    let (s3, _tmp3) = start(true, |c| c.auth_failures_per_minute = 2).await;
    crate::files::register(&s3, "ok@example.com").await;
    for _ in 0..6 {
        assert_eq!(login(&s3, "ok@example.com", PASSWORD).await.0, 200);
    }
    s.stop().await;
    s2.stop().await;
    s3.stop().await;
}

fn token_rows(dir: &std::path::Path) -> i64 {
    let c = rusqlite::Connection::open(dir.join("files/files.db")).unwrap();
    c.query_row("SELECT COUNT(*) FROM tokens", [], |r| r.get(0)).unwrap()
}

#[tokio::test]
async fn refresh_tokens_rotate_are_revoked_on_reuse_and_on_logout() {
    let (s, tmp) = start(true, |_| {}).await;
    crate::files::register(&s, "r@example.com").await;
    let (_, v) = login(&s, "r@example.com", PASSWORD).await;
    let first = v["refreshToken"].as_str().unwrap().to_string();
    let refresh = |rt: String| {
        let url = s.url("/auth/refresh");
        async move {
            let r = reqwest::Client::new().post(url).json(&json!({"refreshToken": rt})).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let me = |access: String| {
        let url = s.url("/auth/me");
        async move { reqwest::Client::new().get(url).bearer_auth(access).send().await.unwrap().status().as_u16() }
    };
    let mut current = first.clone();
    let mut access = String::new();
    for _ in 0..5 {
        let (st, v) = refresh(current.clone()).await;
        assert_eq!(st, 200, "{v}");
        assert_ne!(v["refreshToken"], current, "rotated on use");
        current = v["refreshToken"].as_str().unwrap().to_string();
        access = v["accessToken"].as_str().unwrap().to_string();
    }
    assert_eq!(me(access.clone()).await, 200);
    // Reuse of a spent token: someone copied it. The whole login ends.
    let (st, _) = refresh(first).await;
    assert_eq!(st, 401);
    assert_eq!(me(access).await, 401, "the family's access token is revoked");
    assert_eq!(refresh(current).await.0, 401, "and its newest refresh token");
    // Logout revokes the refresh token too.
    let (_, v) = login(&s, "r@example.com", PASSWORD).await;
    let (a, r) = (v["accessToken"].as_str().unwrap(), v["refreshToken"].as_str().unwrap());
    let out = reqwest::Client::new().post(s.url("/auth/logout")).bearer_auth(a).send().await.unwrap();
    assert_eq!(out.status(), 200);
    assert_eq!(refresh(r.to_string()).await.0, 401);
    // A long-lived client refreshing all day keeps a bounded number of rows.
    let (_, v) = login(&s, "r@example.com", PASSWORD).await;
    let rows_after_login = token_rows(tmp.path());
    let mut current = v["refreshToken"].as_str().unwrap().to_string();
    for _ in 0..30 {
        current = refresh(current).await.1["refreshToken"].as_str().unwrap().to_string();
    }
    // The replaced access token and the last 8 spent refresh tokens (to recognise reuse) stay.
    assert!(
        token_rows(tmp.path()) <= rows_after_login + 9,
        "refreshing does not grow the table without bound"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_link_exchange_redirects_only_to_this_origin() {
    let s = TestServer::start().await;
    let anon = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (path, want) in [("//evil.com/", "/evil.com/"), ("///evil.com/x", "/evil.com/x"), ("/ok", "/ok")] {
        let r = anon.get(s.url(&format!("{path}?token={TOKEN}"))).send().await.unwrap();
        assert_eq!(r.status(), 302, "{path}");
        assert_eq!(r.headers()["location"], want, "{path}");
    }
    s.stop().await;
}
