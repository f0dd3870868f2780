//! Shared by the tests that run the real `quire` binary: start a server, kill it if a test fails.
#![allow(dead_code)] // each test file uses its own subset

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `quire serve`, killed (and reaped) when dropped so a failing test leaves nothing behind.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// SIGTERM, then the exit status must be success (graceful shutdown).
    pub fn stop(mut self) {
        Command::new("kill").arg("-TERM").arg(self.0.id().to_string()).status().unwrap();
        let status = self.0.wait().unwrap();
        assert!(status.success(), "graceful shutdown exits 0: {status:?}");
    }
}

/// `quire serve` on a free port with `token` over `data`; returns the server and its `host:port`
/// (read from the printed line, before the server is necessarily ready).
pub fn serve(data: &Path, token: &str, extra: &[&str]) -> (Server, String) {
    let mut cmd = serve_command(data);
    cmd.args(["--token", token]).args(extra);
    spawn(cmd)
}

/// The same with the token in the environment (as the README recommends), not on the command line.
pub fn serve_env_token(data: &Path, token: &str) -> (Server, String) {
    let mut cmd = serve_command(data);
    cmd.env("QUIRE_TOKEN", token);
    spawn(cmd)
}

fn serve_command(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_quire"));
    cmd.args(["serve", "--no-browser", "--port", "0", "--data-dir"])
        .arg(data)
        .env_remove("QUIRE_HOST")
        .env_remove("QUIRE_PORT")
        .env_remove("QUIRE_TOKEN")
        .env_remove("QUIRE_SECRET_KEY");
    cmd
}

fn spawn(mut cmd: Command) -> (Server, String) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.split("http://").nth(1).unwrap_or_else(|| panic!("unexpected: {line}"));
    let addr = addr.split('/').next().unwrap().to_string();
    (Server(child), addr)
}

/// Alive and not a zombie.
pub fn alive(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Until none of `pids` runs (at most 5 s).
pub async fn wait_gone(pids: &[u64]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while pids.iter().any(|p| alive(*p)) {
        let left: Vec<_> = pids.iter().filter(|p| alive(**p)).collect();
        assert!(std::time::Instant::now() < deadline, "still running: {left:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Wait until `/ready` answers 200.
pub async fn wait_ready(addr: &str) {
    quire_server::install_crypto_provider();
    let http = reqwest::Client::new();
    for _ in 0..1000 {
        if http.get(format!("http://{addr}/ready")).send().await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("server never became ready");
}

/// Deterministic incompressible bytes.
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
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

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The payload of the next `event` frame, skipping others. One deadline for the whole wait:
/// heartbeat pings (every 10 s) must not extend it.
pub async fn next_event(ws: &mut Socket, event: &str, limit: std::time::Duration) -> serde_json::Value {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next()).await.expect(event).unwrap().unwrap();
        if let Message::Text(t) = msg {
            let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
            if v[1] == event {
                return v[2].clone();
            }
        }
    }
}
