//! The accept loop, in place of `axum::serve`: it adds what a server facing untrusted clients needs
//! and axum's loop lacks — a header-read timeout that also closes idle keep-alive connections
//! (slowloris), caps on open connections per client IP and in total (a clear 503 beyond, instead of
//! running out of file descriptors), TLS handshakes that count against the same caps and have their
//! own deadline, and `TCP_NODELAY` on every socket.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    /// Time a client has to send a request's headers; also how long an idle keep-alive connection
    /// stays open.
    pub header_timeout: Duration,
    pub max_connections: usize,
    pub max_per_ip: usize,
}

const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// File descriptors kept back from the connection cap for databases, notebooks and Node hosts.
const FD_RESERVE: u64 = 256;
/// Over-the-cap connections answered with a 503 at once; beyond this they are just closed.
const MAX_REFUSALS: usize = 64;

/// The total cap actually used: the configured one, lowered to what the process's fd limit allows.
pub fn effective_max_connections(configured: usize) -> usize {
    match rustix::process::getrlimit(rustix::process::Resource::Nofile).current {
        Some(fds) => configured.min(fds.saturating_sub(FD_RESERVE).max(16) as usize),
        None => configured,
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// One open connection, counted until dropped.
struct Slot {
    counts: Arc<Mutex<Counts>>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = quire_stdx::lock(&self.counts);
        c.total -= 1;
        if let Some(n) = c.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&self.ip);
            }
        }
    }
}

/// Why a connection was refused.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    Total,
    PerIp,
}

fn admit(counts: &Arc<Mutex<Counts>>, ip: IpAddr, limits: &ConnLimits) -> Result<Slot, Refusal> {
    let mut c = quire_stdx::lock(counts);
    if c.total >= limits.max_connections {
        return Err(Refusal::Total);
    }
    let n = c.per_ip.entry(ip).or_default();
    if *n >= limits.max_per_ip {
        return Err(Refusal::PerIp);
    }
    *n += 1;
    c.total += 1;
    Ok(Slot { counts: counts.clone(), ip })
}

/// Serve `app` until `shutdown` resolves, then let open connections finish (the caller bounds that
/// wait). Upgraded connections (WebSockets) leave hyper and are closed by the hub.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let counts = Arc::new(Mutex::new(Counts::default()));
    let refusing = Arc::new(AtomicUsize::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    tokio::pin!(shutdown);
    loop {
        let (sock, addr) = tokio::select! {
            _ = &mut shutdown => break,
            a = listener.accept() => match a {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of fds and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Small WebSocket frames must not wait for a delayed ACK (~40 ms).
        if let Err(e) = sock.set_nodelay(true) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY");
        }
        let slot = match admit(&counts, addr.ip(), &limits) {
            Ok(slot) => slot,
            Err(why) => {
                metrics::counter!("http_connections_refused_total").increment(1);
                tracing::warn!(ip = %addr.ip(), ?why, "connection refused: too many open connections");
                // Refusals in flight are capped too, so a flood cannot hold fds through them.
                if tls.is_none() && refusing.fetch_add(1, Ordering::AcqRel) < MAX_REFUSALS {
                    let refusing = refusing.clone();
                    tokio::spawn(async move {
                        refuse(sock, why).await;
                        refusing.fetch_sub(1, Ordering::AcqRel);
                    });
                } else {
                    refusing.fetch_sub(1, Ordering::AcqRel);
                }
                continue;
            }
        };
        let (app, tls, mut stop) = (app.clone(), tls.clone(), stop_rx.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let Some(acceptor) = tls else { return serve_conn(sock, addr, app, limits, stop).await };
            let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(sock));
            tokio::select! {
                done = handshake => match done {
                    Ok(Ok(stream)) => serve_conn(stream, addr, app, limits, stop).await,
                    Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                },
                // Shutting down: an unfinished handshake has no request to finish.
                _ = stop.changed() => {}
            }
        });
    }
    drop((listener, stop_rx));
    let _ = stop_tx.send(true);
    // Every connection task holds a receiver: this returns once they have all finished.
    stop_tx.closed().await;
}

async fn serve_conn<I>(
    io: I,
    addr: SocketAddr,
    app: Router,
    limits: ConnLimits,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(addr));
        app.clone().oneshot(req.map(axum::body::Body::new))
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).max_buf_size(256 << 10);
    let conn = builder.serve_connection(TokioIo::new(io), service).with_upgrades();
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%addr, error = %e, "connection ended with an error");
                }
                return;
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Answer a connection over the cap with a 503 the client can read, then close it.
async fn refuse(mut sock: TcpStream, why: Refusal) {
    let message = match why {
        Refusal::Total => "The server has too many open connections; retry shortly",
        Refusal::PerIp => "Too many open connections from this address; close some and retry",
    };
    let body =
        serde_json::json!({"error": message, "code": crate::error::Code::TooManyConnections.as_str(), "message": message}).to_string();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    // Read what the client sent first: closing a socket with unread bytes resets it, and the client
    // would see the reset instead of the answer.
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(500), sock.read(&mut buf)).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        sock.write_all(head.as_bytes()).await?;
        sock.write_all(body.as_bytes()).await?;
        sock.shutdown().await
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_ip_and_in_total() {
        let counts = Arc::new(Mutex::new(Counts::default()));
        let limits = ConnLimits { header_timeout: Duration::from_secs(1), max_connections: 3, max_per_ip: 2 };
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let s1 = admit(&counts, a, &limits).unwrap();
        let _s2 = admit(&counts, a, &limits).unwrap();
        assert_eq!(admit(&counts, a, &limits).err(), Some(Refusal::PerIp));
        let _s3 = admit(&counts, b, &limits).unwrap();
        assert_eq!(admit(&counts, b, &limits).err(), Some(Refusal::Total));
        drop(s1);
        assert!(admit(&counts, a, &limits).is_ok(), "a closed connection frees its slot");
    }

    #[test]
    fn the_fd_limit_lowers_the_cap() {
        if rustix::process::getrlimit(rustix::process::Resource::Nofile).current.is_some() {
            assert!(effective_max_connections(usize::MAX) < usize::MAX);
        }
        assert_eq!(effective_max_connections(10), 10);
    }
}
