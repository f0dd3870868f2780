//! One Node host process per notebook, spoken to over a private Unix socket (see `js/host.mjs`).
//! Sandboxed (the default in the `quire` binary), the host runs under a supervisor that confines it
//! with Landlock and owns its whole process tree (`sandbox`); the server talks to the supervisor
//! through a control FIFO. Unsandboxed, the host and everything it starts share one process group.

use crate::frame;
use crate::host_io::{read_frames, run_output, stray};
use crate::output::Stream;
use crate::sandbox::{self, Launcher};
use quire_stdx::lock;
use rustix::process::{Pid, Signal};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;
use tokio::net::unix::pipe;
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};

/// What a run hears from its host.
#[derive(Debug)]
pub enum Raw {
    Out(Stream, Vec<u8>),
    Exit { code: Option<i32>, signal: Option<String>, stopped: bool },
}

pub type RunSink = mpsc::Sender<Raw>;

/// A run as the socket reader sees it: where its output goes, and how to tell whoever reports its
/// end that it ended (for a cell run, that task drains the run's pipe first).
pub(crate) struct RunEntry {
    pub sink: RunSink,
    pub exit: oneshot::Sender<Exit>,
}

#[derive(Debug)]
pub(crate) struct Exit {
    pub code: Option<i32>,
    pub signal: Option<String>,
    pub stopped: bool,
    pub error: Option<String>,
}

pub(crate) type Runs = Arc<Mutex<HashMap<u32, RunEntry>>>;

/// The write end of the supervisor's control FIFO; `None` once closed (which stops everything).
pub(crate) type Control = Arc<Mutex<Option<std::fs::File>>>;

/// The sandbox a host runs in: how to start the supervisor, and the notebook's paths.
pub struct SandboxPlan<'a> {
    pub launcher: &'a Launcher,
    pub paths: sandbox::Paths,
}

impl<'a> HostSpec<'a> {
    pub fn sandbox_for(launcher: &'a Launcher, paths: sandbox::Paths) -> SandboxPlan<'a> {
        SandboxPlan { launcher, paths }
    }
}

pub struct HostSpec<'a> {
    pub node: &'a Path,
    pub host_script: &'a Path,
    pub worker_script: &'a Path,
    pub cwd: &'a Path,
    pub env: &'a [(String, String)],
    pub pool: usize,
    pub memory_mb: u64,
    pub sandbox: Option<SandboxPlan<'a>>,
}

pub struct Host {
    pgid: i32,
    commands: mpsc::UnboundedSender<Vec<u8>>,
    runs: Runs,
    dead: Arc<AtomicBool>,
    control: Option<Control>,
    sock_dir: tempfile::TempDir,
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("could not start Node ({0}); is `node` installed and on PATH?")]
    Spawn(std::io::Error),
    #[error("the Node host did not come up: {0}")]
    Handshake(String),
}

const HANDSHAKE: Duration = Duration::from_secs(20);

/// Per-host directories in the system temp dir carry the server's pid, so a later server can tell
/// (and remove) the ones a killed server left behind.
pub const SOCK_DIR_PREFIX: &str = "quire-host-";

impl Host {
    pub async fn start(spec: HostSpec<'_>) -> Result<Host, HostError> {
        // A fresh 0700 directory: nobody else can connect to the socket before the host does.
        let prefix = format!("{SOCK_DIR_PREFIX}{}-", std::process::id());
        let sock_dir = tempfile::Builder::new().prefix(&prefix).tempdir().map_err(HostError::Spawn)?;
        let sock_path = sock_dir.path().join("s");
        let tmp = sock_dir.path().join("tmp");
        std::fs::create_dir(&tmp).map_err(HostError::Spawn)?;
        let listener = UnixListener::bind(&sock_path).map_err(HostError::Spawn)?;
        let cfg = serde_json::json!({"pool": spec.pool, "memoryMb": spec.memory_mb}).to_string();
        let mut args: Vec<String> = vec!["--enable-source-maps".into()];
        for p in [spec.host_script, &sock_path, spec.worker_script] {
            args.push(p.to_string_lossy().into_owned());
        }
        args.push(cfg);
        let mut env = spec.env.to_vec();
        env.push(("TMPDIR".into(), tmp.to_string_lossy().into_owned()));
        let (mut cmd, control) = match spec.sandbox {
            None => {
                let mut cmd = Command::new(spec.node);
                cmd.args(&args).current_dir(spec.cwd).env_clear().envs(env.iter().map(|(k, v)| (k, v)));
                (cmd, None)
            }
            Some(plan) => {
                let ctl = sock_dir.path().join("ctl");
                rustix::fs::mkfifoat(rustix::fs::CWD, &ctl, rustix::fs::Mode::from_raw_mode(0o600))
                    .map_err(|e| HostError::Spawn(e.into()))?;
                // Read-write, so opening never blocks and the supervisor sees EOF only once we close it.
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&ctl)
                    .map_err(HostError::Spawn)?;
                let mut write = plan.paths.write;
                write.push(sock_dir.path().to_path_buf());
                let spec_json = serde_json::to_string(&sandbox::Spec {
                    program: spec.node.to_path_buf(),
                    args,
                    cwd: spec.cwd.to_path_buf(),
                    env,
                    read: plan.paths.read,
                    write,
                    control: ctl,
                    stdin: false,
                })
                .map_err(|e| HostError::Spawn(std::io::Error::other(e)))?;
                let mut cmd = Command::new(&plan.launcher.program);
                cmd.args(&plan.launcher.args).arg(spec_json).current_dir(spec.cwd).env_clear();
                (cmd, Some(Arc::new(Mutex::new(Some(file)))))
            }
        };
        let mut child = cmd
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
            (child.stdout.take().map(|s| Box::new(s) as crate::host_io::Pipe), Stream::Stdout),
            (child.stderr.take().map(|s| Box::new(s) as crate::host_io::Pipe), Stream::Stderr),
        ] {
            if let Some(pipe) = pipe {
                tokio::spawn(stray(pipe, stream, runs.clone()));
            }
        }
        tokio::spawn(read_frames(reader, child, runs.clone(), dead.clone(), control.clone()));
        Ok(Host { pgid, commands, runs, dead, control, sock_dir })
    }

    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    pub fn pgid(&self) -> i32 {
        self.pgid
    }

    pub fn is_sandboxed(&self) -> bool {
        self.control.is_some()
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
        let fifo = self.sock_dir.path().join(format!("r{id}"));
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from_raw_mode(0o600))?;
        // Read-write so the pipe never reports EOF before the worker has opened it.
        let rx = pipe::OpenOptions::new().read_write(true).open_receiver(&fifo)?;
        let (exit_tx, exit_rx) = oneshot::channel();
        lock(&self.runs).insert(id, RunEntry { sink: sink.clone(), exit: exit_tx });
        tokio::spawn(run_output(rx, fifo.clone(), exit_rx, sink));
        let mut env: serde_json::Map<String, serde_json::Value> =
            env.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
        env.insert(sandbox::RUN_ID_ENV.into(), id.to_string().into());
        env.insert("TMPDIR".into(), self.tmp_dir().to_string_lossy().into_owned().into());
        let body =
            serde_json::json!({"url": url, "env": env, "fifo": fifo, "recyclable": recyclable}).to_string();
        self.send(frame::encode(frame::RUN, id, body.as_bytes()))
    }

    /// Start a program inside the host's sandbox (npm, prettier): output, exit and stop work as for a
    /// run. `input` is written to its stdin.
    pub fn spawn_process(
        &self,
        id: u32,
        program: &Path,
        args: &[String],
        input: Option<&str>,
        sink: RunSink,
    ) -> std::io::Result<()> {
        if self.is_dead() {
            return Err(std::io::Error::other("the node host stopped"));
        }
        let (exit_tx, exit_rx) = oneshot::channel::<Exit>();
        lock(&self.runs).insert(id, RunEntry { sink: sink.clone(), exit: exit_tx });
        tokio::spawn(async move {
            let e = exit_rx.await.unwrap_or(Exit {
                code: None,
                signal: Some("SIGKILL".into()),
                stopped: false,
                error: None,
            });
            if let Some(text) = e.error {
                let _ = sink.send(Raw::Out(Stream::Stderr, text.into_bytes())).await;
            }
            let _ = sink.send(Raw::Exit { code: e.code, signal: e.signal, stopped: e.stopped }).await;
        });
        let body = serde_json::json!({
            "cmd": program,
            "args": args,
            "input": input,
            "env": {sandbox::RUN_ID_ENV: id.to_string()},
        });
        self.send(frame::encode(frame::SPAWN, id, body.to_string().as_bytes()))
    }

    fn send(&self, frame: Vec<u8>) -> std::io::Result<()> {
        self.commands.send(frame).map_err(|_| std::io::Error::other("the node host stopped"))
    }

    fn tmp_dir(&self) -> PathBuf {
        self.sock_dir.path().join("tmp")
    }

    /// Stop a run or spawned process; in a sandbox, every process it started goes too (found by its
    /// run id, `setsid` and `detached` ones included).
    pub fn stop(&self, id: u32) {
        let _ = self.commands.send(frame::encode(frame::STOP, id, &[]));
        self.control_line(&format!("{} {id}", sandbox::KILL_RUN));
    }

    /// Stop forwarding a run's output (it went over its cap); the run itself continues.
    pub fn mute(&self, id: u32) {
        let _ = self.commands.send(frame::encode(frame::MUTE, id, &[]));
    }

    /// TERM asks the host to end; KILL ends it and everything it started.
    pub fn signal(&self, sig: Signal) {
        match (&self.control, sig) {
            (None, _) => {
                let _ = rustix::process::kill_process_group(pid(self.pgid), sig);
            }
            (Some(_), Signal::TERM) => self.control_line(sandbox::TERM),
            // Closing the control FIFO makes the supervisor kill the whole tree and exit.
            (Some(c), _) => drop(lock(c).take()),
        }
    }

    fn control_line(&self, line: &str) {
        if let Some(c) = &self.control
            && let Some(f) = lock(c).as_mut()
        {
            let _ = writeln!(f, "{line}");
        }
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

pub(crate) fn pid(raw: i32) -> Pid {
    Pid::from_raw(raw).unwrap_or(Pid::INIT)
}

/// Remove per-host directories that servers which are no longer running left in the temp dir.
pub fn remove_stale_sock_dirs() {
    let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(SOCK_DIR_PREFIX) else { continue };
        // `<pid>-<random>`; directories of older versions had no pid and are stale too.
        let owner = rest.split('-').next().and_then(|p| p.parse::<i32>().ok());
        let alive =
            owner.and_then(Pid::from_raw).is_some_and(|p| rustix::process::test_kill_process(p).is_ok());
        if !alive {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
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
            quire_stdx::fs::write_atomic(path, text.as_bytes())?;
        }
    }
    Ok((host, worker))
}
