//! One tsserver child: spawn, JSON-line requests on stdin, framed messages from stdout, clean shutdown.
//!
//! No process outlives its owner: the child has `kill_on_drop`, its own process group (a terminal's
//! Ctrl-C is handled by the server, which stops it), and tsserver exits by itself when its stdin closes
//! — which the kernel does when this server dies, however it dies.

use crate::framing::Decoder;
use crate::{Error, cache};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

/// What the stdout reader passes on, in stream order.
pub enum Msg {
    /// A response arrived (its waiter, if any, already has it): everything sent before it was processed.
    Ack(u64),
    Event(Value),
    /// stdout closed or became unreadable.
    Exited(String),
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// tsserver confined like a notebook's cells: it reads the notebook (maybe running the notebook's own
/// TypeScript, which a cell could have rewritten), the TypeScript cache and the system, writes only a
/// temp dir of its own.
pub struct Sandboxed<'a> {
    pub launcher: &'a quire_sandbox::Launcher,
    pub read: Vec<std::path::PathBuf>,
}

/// The supervisor's control FIFO and the temp dir holding it; dropping them stops the whole tree.
struct Confinement {
    _control: std::fs::File,
    _dir: tempfile::TempDir,
}

pub struct TsProcess {
    pub pid: u32,
    child: tokio::process::Child,
    _confinement: Option<Confinement>,
    stdin: Option<mpsc::UnboundedSender<Vec<u8>>>,
    seq: AtomicU64,
    pending: Pending,
}

/// How long a stopping tsserver gets to exit after its stdin closes before it is killed.
const GRACE: Duration = Duration::from_secs(2);

impl TsProcess {
    pub fn spawn(
        node: &Path,
        tsserver: &Path,
        cwd: &Path,
        msgs: mpsc::UnboundedSender<Msg>,
        sandbox: Option<Sandboxed<'_>>,
    ) -> Result<Self, Error> {
        let mut args = vec![tsserver.to_string_lossy().into_owned()];
        args.extend(
            [
                "--disableAutomaticTypingAcquisition",
                "--noGetErrOnBackgroundUpdate",
                "--useInferredProjectPerProjectRoot",
                "--locale",
                "en",
            ]
            .map(String::from),
        );
        let (mut cmd, confinement) = match sandbox {
            None => {
                let mut cmd = tokio::process::Command::new(node);
                cmd.args(&args).env_clear().envs(cache::child_env());
                (cmd, None)
            }
            Some(s) => confined(node, args, cwd, s)?,
        };
        cmd.current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        cmd.process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::Unavailable(format!("could not start {}: {e}", node.display())))?;
        let pid = child.id().unwrap_or(0);
        let (Some(mut stdin), Some(mut stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(Error::Unavailable("tsserver pipes missing".into()));
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        tokio::spawn(async move {
            while let Some(bytes) = rx.recv().await {
                if stdin.write_all(&bytes).await.is_err() || stdin.flush().await.is_err() {
                    break;
                }
            }
            // Dropping stdin closes the pipe: tsserver exits on EOF.
        });
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(pid, "tsserver stderr: {line}");
            }
        });
        let pending: Pending = Arc::default();
        let waiters = pending.clone();
        tokio::spawn(async move {
            let mut dec = Decoder::default();
            let mut buf = vec![0u8; 64 * 1024];
            let reason = loop {
                match stdout.read(&mut buf).await {
                    Ok(0) => break "tsserver exited".to_string(),
                    Ok(n) => dec.push(&buf[..n]),
                    Err(e) => break format!("reading tsserver output failed: {e}"),
                }
                if let Err(reason) = drain(&mut dec, &waiters, &msgs) {
                    break reason;
                }
            };
            let _ = msgs.send(Msg::Exited(reason));
        });
        Ok(TsProcess {
            pid,
            child,
            _confinement: confinement,
            stdin: Some(tx),
            seq: AtomicU64::new(0),
            pending,
        })
    }

    fn write(&self, command: &str, arguments: Value, waiter: Option<oneshot::Sender<Value>>) -> u64 {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(w) = waiter {
            // Registered before the write, so a fast response always finds its waiter.
            quire_stdx::lock(&self.pending).insert(seq, w);
        }
        let req = json!({"seq": seq, "type": "request", "command": command, "arguments": arguments});
        let mut bytes = req.to_string().into_bytes();
        bytes.push(b'\n');
        if let Some(tx) = &self.stdin {
            let _ = tx.send(bytes);
        }
        seq
    }

    /// Send a request whose response only matters as an ordering mark (`Msg::Ack(seq)`).
    pub fn send(&self, command: &str, arguments: Value) -> u64 {
        self.write(command, arguments, None)
    }

    /// Send a request and get its response (`None` if the process goes away first).
    pub fn request(&self, command: &str, arguments: Value) -> oneshot::Receiver<Value> {
        let (tx, rx) = oneshot::channel();
        self.write(command, arguments, Some(tx));
        rx
    }

    /// Close stdin (tsserver exits on EOF), then kill it if it has not exited within the grace period.
    /// Returns once the process is reaped.
    pub async fn shutdown(mut self) {
        self.stdin = None;
        if tokio::time::timeout(GRACE, self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
        tracing::debug!(pid = self.pid, "tsserver stopped");
    }
}

/// The supervisor command for a confined tsserver.
fn confined(
    node: &Path,
    args: Vec<String>,
    cwd: &Path,
    s: Sandboxed<'_>,
) -> Result<(tokio::process::Command, Option<Confinement>), Error> {
    let fail = |what: &str, e: std::io::Error| Error::Unavailable(format!("could not {what}: {e}"));
    let dir = tempfile::Builder::new()
        .prefix(&format!("quire-tsserver-{}-", std::process::id()))
        .tempdir()
        .map_err(|e| fail("make the sandbox dir", e))?;
    let (ctl, tmp) = (dir.path().join("ctl"), dir.path().join("tmp"));
    std::fs::create_dir(&tmp).map_err(|e| fail("make the temp dir", e))?;
    rustix::fs::mkfifoat(rustix::fs::CWD, &ctl, rustix::fs::Mode::from_raw_mode(0o600))
        .map_err(|e| fail("make the control FIFO", e.into()))?;
    // Read-write: opening never blocks, and the supervisor sees EOF only when this end closes.
    let control = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&ctl)
        .map_err(|e| fail("open the FIFO", e))?;
    let env: Vec<(String, String)> = cache::child_env()
        .filter(|(k, _)| k != "TMPDIR")
        .chain([("TMPDIR".to_string(), tmp.to_string_lossy().into_owned())])
        .collect();
    let mut read = s.read;
    read.extend(quire_sandbox::install_dirs(node, &env));
    let paths = quire_sandbox::Paths::for_notebook(&read, &[tmp], None);
    let spec = quire_sandbox::Spec {
        program: node.to_path_buf(),
        args,
        cwd: cwd.to_path_buf(),
        env,
        read: paths.read,
        write: paths.write,
        control: ctl,
        stdin: true,
    };
    let spec = serde_json::to_string(&spec).map_err(|e| Error::Unavailable(e.to_string()))?;
    let mut cmd = tokio::process::Command::new(&s.launcher.program);
    cmd.args(&s.launcher.args).arg(spec).env_clear();
    Ok((cmd, Some(Confinement { _control: control, _dir: dir })))
}

/// Hand every complete frame on: responses to their waiters (then an `Ack`), events to the service.
fn drain(dec: &mut Decoder, waiters: &Pending, msgs: &mpsc::UnboundedSender<Msg>) -> Result<(), String> {
    while let Some(body) = dec.next_frame().map_err(|e| e.to_string())? {
        let Ok(v) = serde_json::from_slice::<Value>(&body) else {
            tracing::warn!("unreadable tsserver message skipped");
            continue;
        };
        match v["type"].as_str() {
            Some("response") => {
                let seq = v["request_seq"].as_u64().unwrap_or(0);
                if let Some(w) = quire_stdx::lock(waiters).remove(&seq) {
                    let _ = w.send(v);
                }
                let _ = msgs.send(Msg::Ack(seq));
            }
            Some("event") => {
                let _ = msgs.send(Msg::Event(v));
            }
            _ => {}
        }
    }
    Ok(())
}
