//! The host's I/O: its socket's frames, each run's output FIFO, and output written straight to the
//! host's stdout/stderr.

use crate::frame::{self, Decoder};
use crate::host::{Control, Exit, Raw, RunEntry, RunSink, Runs, pid};
use crate::output::Stream;
use quire_stdx::lock;
use rustix::process::Signal;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::process::Child;
use tokio::sync::oneshot;

pub(crate) type Pipe = Box<dyn tokio::io::AsyncRead + Unpin + Send>;

/// Output written straight to the host's stdout/stderr (a child process a cell started with inherited
/// stdio): it belongs to whatever is running, so every active run shows it.
pub(crate) async fn stray(mut pipe: Pipe, stream: Stream, runs: Runs) {
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
    /// A spawned process that died of a signal (`SIGTERM`…).
    #[serde(default)]
    signal: Option<String>,
    #[serde(default)]
    stopped: bool,
    #[serde(default)]
    error: Option<String>,
}

/// Forward one run's pipe to its sink; at exit, drain what is left, then report the exit.
pub(crate) async fn run_output(
    rx: pipe::Receiver,
    path: PathBuf,
    mut exit: oneshot::Receiver<Exit>,
    sink: RunSink,
) {
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

pub(crate) async fn read_frames(
    mut reader: tokio::net::unix::OwnedReadHalf,
    mut child: Child,
    runs: Runs,
    dead: Arc<AtomicBool>,
    control: Option<Control>,
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
                        let exit = Exit {
                            code: body.code,
                            signal: body.signal,
                            stopped: body.stopped,
                            error: body.error,
                        };
                        let _ = entry.exit.send(exit);
                    }
                }
                _ => {}
            }
        }
    }
    dead.store(true, Ordering::Release);
    match control {
        // The supervisor kills the whole tree (detached and setsid processes too) and exits.
        Some(c) => drop(lock(&c).take()),
        None => {
            if let Some(p) = child.id() {
                let _ = rustix::process::kill_process_group(pid(p as i32), Signal::KILL);
            }
        }
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
