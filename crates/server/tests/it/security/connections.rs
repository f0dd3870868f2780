//! Slowloris and connection floods: a header-read timeout that also closes idle keep-alive
//! connections, and caps on open connections per client IP and in total with a clear 503.

use crate::common::TestServer;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Read until the server closes the connection (or `limit` passes); what it sent.
async fn read_to_close(sock: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut out = Vec::new();
    let r = tokio::time::timeout(limit, sock.read_to_end(&mut out)).await;
    r.ok().map(|_| String::from_utf8_lossy(&out).into_owned())
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_dropped() {
    let s = TestServer::start_configured(|c| {
        c.language.enabled = false;
        c.header_timeout = Duration::from_millis(300);
    })
    .await;
    let mut slow = TcpStream::connect(s.addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").await.unwrap();
    let started = Instant::now();
    let closed = read_to_close(&mut slow, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "a half-sent request must not hold its connection open");
    assert!(started.elapsed() >= Duration::from_millis(250), "closed only after the timeout");

    // An idle keep-alive connection is closed after the same time; a live request still works.
    let mut idle = TcpStream::connect(s.addr).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let text = read_to_close(&mut idle, Duration::from_secs(5)).await.expect("idle connection closed");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    s.stop().await;
}

#[tokio::test]
async fn connections_past_the_cap_get_a_clear_503_and_slots_come_back() {
    let s = TestServer::start_configured(|c| {
        c.language.enabled = false;
        c.max_connections_per_ip = 4;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut c = TcpStream::connect(s.addr).await.unwrap();
        // A finished request proves the connection is accepted and counted before the next.
        c.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 12];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"HTTP/1.1 200");
        held.push(c);
    }
    let mut extra = TcpStream::connect(s.addr).await.unwrap();
    extra.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let text = read_to_close(&mut extra, Duration::from_secs(5)).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("too_many_connections") && text.to_ascii_lowercase().contains("retry-after: 1"));
    // Closing one frees its slot.
    drop(held.pop());
    let mut ok = false;
    for _ in 0..100 {
        let r = reqwest::get(s.url("/health")).await.unwrap();
        if r.status() == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "a freed slot is usable again");
    s.stop().await;
}
