//! The server under load runs in its own process (this binary re-executed as `serve-load <dir>`), so
//! its RSS is its own and the load driver's CPU use shows up as a separate process. Also: the latency
//! summary shared by the load scenarios.

use anyhow::{Context, bail};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The child: a release server on 127.0.0.1:0 configured for load testing; prints `listening <addr>`
/// and stops when its stdin closes (so it never outlives the driver).
pub async fn serve_child(dir: &Path) -> anyhow::Result<()> {
    quire_server::install_crypto_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    let mut config = quire_server::Config::new(dir.into(), super::TOKEN.into());
    // One client IP sends everything here; the per-IP limit would turn the test into a 429 test.
    config.rate_limit_rps = 0;
    config.max_connections_per_ip = 1 << 16;
    config.max_connections = 1 << 16;
    // One tsserver per subscribed notebook is a language-service benchmark of its own (`tsls`).
    config.language.enabled = false;
    // The server token acts as admin (no quota), but keep the per-user limits out of the way too.
    config.files.quota_bytes = u64::MAX / 2;
    config.files.max_uploads_per_day = u64::MAX / 2;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        let _ = tx.send(());
    });
    quire_server::serve(config, listener, async move {
        let _ = rx.await;
    })
    .await
}

pub struct Spawned {
    pub child: Child,
    pub base: String,
    pub http: reqwest::Client,
    pub _dir: tempfile::TempDir,
}

impl Spawned {
    pub async fn start() -> anyhow::Result<Spawned> {
        quire_server::install_crypto_provider();
        let dir = tempfile::tempdir()?;
        let mut child = Command::new(std::env::current_exe()?)
            .arg("serve-load")
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("spawn the server process")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
        let addr = line.trim().strip_prefix("listening ").context("server did not report its address")?;
        let base = format!("http://{addr}");
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("authorization", format!("Bearer {}", super::TOKEN).parse()?);
        let http = reqwest::Client::builder()
            .default_headers(h)
            .pool_max_idle_per_host(usize::MAX)
            .tcp_nodelay(true)
            .build()?;
        for _ in 0..1000 {
            if http.get(format!("{base}/ready")).send().await.is_ok_and(|r| r.status() == 200) {
                return Ok(Spawned { child, base, http, _dir: dir });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        bail!("server never became ready")
    }

    /// `VmRSS` and `VmHWM` (peak) of the server process, KiB.
    pub fn rss_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// User + system CPU seconds the server process used so far.
    pub fn cpu_secs(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the `(comm)`: state is field 3, utime 14, stime 15 (1-based), in clock ticks
        // (100 per second on Linux).
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        (ticks(11) + ticks(12)) as f64 / 100.0
    }

    pub fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// The soft limit on open files: each WebSocket and HTTP connection is one fd on each side.
pub fn check_fd_limit(needed: u64) -> anyhow::Result<()> {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3)?.parse::<u64>().ok());
    match soft {
        Some(n) if n < needed => {
            bail!(
                "open-file limit is {n}, this run needs about {needed}: raise it first (ulimit -n {needed})"
            )
        }
        _ => Ok(()),
    }
}

/// The 1-minute load average: on a shared 2-core machine it says how much else was running.
pub fn loadavg() -> String {
    let l = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    l.split_whitespace().next().unwrap_or("?").to_string()
}

/// Latencies in microseconds.
#[derive(Default)]
pub struct Samples(pub Vec<u32>);

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d.as_micros().min(u32::MAX as u128) as u32);
    }

    pub fn print(&mut self, name: &str, secs: f64) {
        if self.0.is_empty() {
            println!("  {name:<34} n=0");
            return;
        }
        self.0.sort_unstable();
        let pct = |p: f64| {
            let i = ((self.0.len() as f64 - 1.0) * p).round() as usize;
            self.0[i] as f64 / 1000.0
        };
        println!(
            "  {name:<34} n={:<7} {:>7.0}/s  p50={:>7.2} p95={:>7.2} p99={:>7.2} max={:>8.2} ms",
            self.0.len(),
            self.0.len() as f64 / secs,
            pct(0.5),
            pct(0.95),
            pct(0.99),
            pct(1.0)
        );
    }

    pub fn p(&self, p: f64) -> f64 {
        // Callers print first (which sorts).
        let i = ((self.0.len().max(1) as f64 - 1.0) * p).round() as usize;
        self.0.get(i).map_or(0.0, |v| *v as f64 / 1000.0)
    }
}

/// `--name value` options after the mode.
pub fn opt<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> anyhow::Result<T> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => {
            args.get(i + 1).and_then(|v| v.parse().ok()).with_context(|| format!("{name} needs a number"))
        }
    }
}
