//! One Node host process per notebook, spoken to over a private Unix socket (see `js/host.mjs`).
//! The host and everything it starts share one process group, so stopping or killing it leaves nothing.

use crate::frame::{self, Decoder};
use crate::output::Stream;
use rustix::process::{Pid, Signal};
use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::net::unix::pipe;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

/// What a run hears from its host.
#[derive(Debug)]
pub enum Raw {
    Out(Stream, Vec<u8>),
    Exit { code: Option<i32>, signal: Option<String>, stopped: bool },
}

pub type RunSink = mpsc::Sender<Raw>;

/// A run as the socket reader sees it: where stray output goes, and how to tell its output task the
/// run ended (that task drains the run's pipe first, so the exit comes after the last byte).
struct RunEntry {
    sink: RunSink,
    exit: oneshot::Sender<Exit>,
}

#[derive(Debug)]
struct Exit {
    code: Option<i32>,
    signal: Option<String>,
    stopped: bool,
    error: Option<String>,
}

type Runs = Arc<Mutex<HashMap<u32, RunEntry>>>;

pub struct HostSpec<'a> {
    pub node: &'a Path,
    pub host_script: &'a Path,
    pub worker_script: &'a Path,
    pub cwd: &'a Path,
    pub env: &'a [(String, String)],
    pub pool: usize,
    pub memory_mb: u64,
}

pub struct Host {
    pgid: i32,
    commands: mpsc::UnboundedSender<Vec<u8>>,
    runs: Runs,
    dead: Arc<AtomicBool>,
    _sock_dir: tempfile::TempDir,
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("could not start Node ({0}); is `node` installed and on PATH?")]
    Spawn(std::io::Error),
    #[error("the Node host did not come up: {0}")]
    Handshake(String),
}

const HANDSHAKE: Duration = Duration::from_secs(20);

impl Host {
    pub async fn start(spec: HostSpec<'_>) -> Result<Host, HostError> {
        // A fresh 0700 directory: nobody else can connect to the socket before the host does.
        let sock_dir = tempfile::Builder::new().prefix("quire-host-").tempdir().map_err(HostError::Spawn)?;
        let sock_path = sock_dir.path().join("s");
        let listener = UnixListener::bind(&sock_path).map_err(HostError::Spawn)?;
        let cfg = serde_json::json!({"pool": spec.pool, "memoryMb": spec.memory_mb}).to_string();
        let mut child = Command::new(spec.node)
            .arg("--enable-source-maps")
            .arg(spec.host_script)
            .arg(&sock_path)
            .arg(spec.worker_script)
            .arg(cfg)
            .current_dir(spec.cwd)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(HostError::Spawn)?;
        let pgid = child.id().map(|p| p as i32).ok_or_else(|| HostError::Handshake("no pid".into()))?;
        let accepted = tokio::select! {
            r = tokio::time::timeout(HANDSHAKE, listener.accept()) => r,
            status = child.wait() => {
                return Err(HostError::Handshake(format!("node exited at start ({status:?})")));
            }
        };
        let stream = match accepted {
            Ok(Ok((s, _))) => s,
            Ok(Err(e)) => return Err(HostError::Handshake(e.to_string())),
            Err(_) => {
                let _ = rustix::process::kill_process_group(pid(pgid), Signal::KILL);
                return Err(HostError::Handshake("timed out".into()));
            }
        };
        drop(listener);
        let _ = std::fs::remove_file(&sock_path);

        let runs: Runs = Arc::default();
        let dead = Arc::new(AtomicBool::new(false));
        let (reader, mut writer) = stream.into_split();
        let (commands, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        tokio::spawn(async move {
            while let Some(bytes) = rx.recv().await {
                if writer.write_all(&bytes).await.is_err() {
                    break;
                }
            }
        });
        for (pipe, stream) in [
            (child.stdout.take().map(|s| Box::new(s) as Pipe), Stream::Stdout),
            (child.stderr.take().map(|s| Box::new(s) as Pipe), Stream::Stderr),
        ] {
            if let Some(pipe) = pipe {
                tokio::spawn(stray(pipe, stream, runs.clone()));
            }
        }
        tokio::spawn(read_frames(reader, child, runs.clone(), dead.clone()));
        Ok(Host { pgid, commands, runs, dead, _sock_dir: sock_dir })
    }

    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    pub fn pgid(&self) -> i32 {
        self.pgid
    }

    /// Start a run: its events go to `sink` until (and including) its `Exit`.
    pub fn run(
        &self,
        id: u32,
        url: &str,
        env: &[(String, String)],
        recyclable: bool,
        sink: RunSink,
    ) -> std::io::Result<()> {
        if self.is_dead() {
            return Err(std::io::Error::other("the node host stopped"));
        }
        let fifo = self._sock_dir.path().join(format!("r{id}"));
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from_raw_mode(0o600))?;
        // Read-write so the pipe never reports EOF before the worker has opened it.
        let rx = pipe::OpenOptions::new().read_write(true).open_receiver(&fifo)?;
        let (exit_tx, exit_rx) = oneshot::channel();
        lock(&self.runs).insert(id, RunEntry { sink: sink.clone(), exit: exit_tx });
        tokio::spawn(run_output(rx, fifo.clone(), exit_rx, sink));
        let env: serde_json::Map<String, serde_json::Value> =
            env.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
        let body =
            serde_json::json!({"url": url, "env": env, "fifo": fifo, "recyclable": recyclable}).to_string();
        self.commands
            .send(frame::encode(frame::RUN, id, body.as_bytes()))
            .map_err(|_| std::io::Error::other("the node host stopped"))
    }

    pub fn stop(&self, id: u32) {
        let _ = self.commands.send(frame::encode(frame::STOP, id, &[]));
    }

    /// Stop forwarding a run's output (it went over its cap); the run itself continues.
    pub fn mute(&self, id: u32) {
        let _ = self.commands.send(frame::encode(frame::MUTE, id, &[]));
    }

    pub fn signal(&self, sig: Signal) {
        let _ = rustix::process::kill_process_group(pid(self.pgid), sig);
    }

    pub fn active_runs(&self) -> usize {
        lock(&self.runs).len()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.signal(Signal::KILL);
    }
}

fn pid(raw: i32) -> Pid {
    Pid::from_raw(raw).unwrap_or(Pid::INIT)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

type Pipe = Box<dyn tokio::io::AsyncRead + Unpin + Send>;

/// Output written straight to the host's stdout/stderr (a child process a cell started with inherited
/// stdio): it belongs to whatever is running, so every active run shows it.
async fn stray(mut pipe: Pipe, stream: Stream, runs: Runs) {
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let sinks: Vec<RunSink> = lock(&runs).values().map(|r| r.sink.clone()).collect();
        if sinks.is_empty() {
            tracing::debug!(output = %String::from_utf8_lossy(&buf[..n]), "node host output");
        }
        for s in sinks {
            let _ = s.send(Raw::Out(stream, buf[..n].to_vec())).await;
        }
    }
}

#[derive(serde::Deserialize, Default)]
struct ExitBody {
    code: Option<i32>,
    #[serde(default)]
    stopped: bool,
    #[serde(default)]
    error: Option<String>,
}

/// Forward one run's pipe to its sink; at exit, drain what is left, then report the exit.
async fn run_output(rx: pipe::Receiver, path: PathBuf, mut exit: oneshot::Receiver<Exit>, sink: RunSink) {
    let mut dec = Decoder::default();
    let mut buf = vec![0u8; 64 * 1024];
    let end = loop {
        tokio::select! {
            biased;
            r = rx.readable() => {
                if r.is_err() {
                    break exit.await.ok();
                }
                match rx.try_read(&mut buf) {
                    Ok(n) => {
                        dec.push(&buf[..n]);
                        emit(&mut dec, &sink).await;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => break exit.await.ok(),
                }
            }
            e = &mut exit => {
                // Every write finished before the worker exited: what is in the pipe is all there is.
                while let Ok(n) = rx.try_read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    dec.push(&buf[..n]);
                }
                emit(&mut dec, &sink).await;
                break e.ok();
            }
        }
    };
    let _ = std::fs::remove_file(&path);
    let end = end.unwrap_or(Exit { code: None, signal: Some("SIGKILL".into()), stopped: false, error: None });
    if let Some(text) = end.error {
        let _ = sink.send(Raw::Out(Stream::Stderr, text.into_bytes())).await;
    }
    let _ = sink.send(Raw::Exit { code: end.code, signal: end.signal, stopped: end.stopped }).await;
}

async fn emit(dec: &mut Decoder, sink: &RunSink) {
    while let Ok(Some(f)) = dec.next_frame() {
        let stream = if f.kind == frame::STDERR { Stream::Stderr } else { Stream::Stdout };
        let _ = sink.send(Raw::Out(stream, f.payload)).await;
    }
}

async fn read_frames(
    mut reader: tokio::net::unix::OwnedReadHalf,
    mut child: Child,
    runs: Runs,
    dead: Arc<AtomicBool>,
) {
    let mut dec = Decoder::default();
    let mut buf = vec![0u8; 64 * 1024];
    'read: loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        dec.push(&buf[..n]);
        loop {
            let f = match dec.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(error = %e, "node host protocol error; killing it");
                    break 'read;
                }
            };
            match f.kind {
                frame::STDOUT | frame::STDERR => {
                    let stream = if f.kind == frame::STDOUT { Stream::Stdout } else { Stream::Stderr };
                    let sink = lock(&runs).get(&f.id).map(|r| r.sink.clone());
                    if let Some(sink) = sink {
                        // Awaiting is the backpressure: a slow consumer slows the host's socket writes.
                        let _ = sink.send(Raw::Out(stream, f.payload)).await;
                    }
                }
                frame::EXIT => {
                    let body: ExitBody = serde_json::from_slice(&f.payload).unwrap_or_default();
                    if let Some(entry) = lock(&runs).remove(&f.id) {
                        let exit =
                            Exit { code: body.code, signal: None, stopped: body.stopped, error: body.error };
                        let _ = entry.exit.send(exit);
                    }
                }
                _ => {}
            }
        }
    }
    dead.store(true, Ordering::Release);
    if let Some(p) = child.id() {
        let _ = rustix::process::kill_process_group(pid(p as i32), Signal::KILL);
    }
    let status = child.wait().await.ok();
    let signal = status.and_then(|s| s.signal()).map(signal_name);
    let code = status.and_then(|s| s.code());
    tracing::info!(?code, ?signal, "node host ended");
    let orphans: Vec<RunEntry> = lock(&runs).drain().map(|(_, r)| r).collect();
    for r in orphans {
        let signal = signal.clone().or(Some("SIGKILL".into()));
        let _ = r.exit.send(Exit { code, signal, stopped: false, error: None });
    }
}

pub fn signal_name(sig: i32) -> String {
    match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        6 => "SIGABRT",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => return format!("SIG{sig}"),
    }
    .to_string()
}

/// Where the host scripts live on disk: written once per content into the data dir.
pub fn install_scripts(dir: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
    const HOST: &str = include_str!("../js/host.mjs");
    const WORKER: &str = include_str!("../js/worker.cjs");
    let tag = blake3::hash(format!("{HOST}\0{WORKER}").as_bytes()).to_hex();
    let dir = dir.join(&tag[..16]);
    let (host, worker) = (dir.join("host.mjs"), dir.join("worker.cjs"));
    if !host.exists() || !worker.exists() {
        std::fs::create_dir_all(&dir)?;
        for (path, text) in [(&worker, WORKER), (&host, HOST)] {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, path)?;
        }
    }
    Ok((host, worker))
}
