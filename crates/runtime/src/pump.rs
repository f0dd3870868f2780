//! One run's event loop: raw output in, batched capped chunks out; stop, timeout and escalation.

use crate::host::Raw;
use crate::output::{Chunk, OutputBuffer, Stream};
use rustix::process::Signal;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio::time::{Instant, sleep_until};

/// What a client hears about a run.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    Output(Chunk),
    Done(Outcome),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub duration_ms: u64,
    pub timed_out: bool,
    pub truncated: bool,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && self.signal.is_none()
    }
}

/// How a pump acts on what it runs.
pub trait Control: Send + Sync + 'static {
    /// Ask politely (terminate the worker, SIGTERM the process).
    fn stop(&self);
    /// The run ignored `stop`: signal harder.
    fn escalate(&self, sig: Signal);
    /// Output went over the cap: stop sending it.
    fn mute(&self);
}

#[derive(Clone, Copy)]
pub struct PumpOptions {
    pub cap: usize,
    pub batch: Duration,
    pub timeout: Option<Duration>,
}

/// After `stop`, wait this long before SIGTERM to the group, and `KILL_AFTER` more before SIGKILL.
const TERM_AFTER: Duration = Duration::from_millis(800);
const KILL_AFTER: Duration = Duration::from_millis(700);

fn far() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365)
}

pub async fn pump(
    mut raw: mpsc::Receiver<Raw>,
    out: mpsc::Sender<RunEvent>,
    ctl: Arc<dyn Control>,
    stop: Arc<Notify>,
    opts: PumpOptions,
) -> Outcome {
    let started = Instant::now();
    let mut buf = OutputBuffer::new(opts.cap);
    let mut last_flush: Option<Instant> = None;
    let mut flush_at: Option<Instant> = None;
    let deadline = opts.timeout.map(|t| started + t);
    let mut stop_at: Option<Instant> = None;
    let mut escalations = 0u8;
    let mut timed_out = false;
    let mut cap_announced = false;
    loop {
        let escalate_at =
            stop_at.map(|t| t + if escalations == 0 { TERM_AFTER } else { TERM_AFTER + KILL_AFTER });
        tokio::select! {
            ev = raw.recv() => match ev {
                Some(Raw::Out(stream, bytes)) => {
                    if buf.push(stream, &bytes) {
                        ctl.mute();
                    }
                    let now = Instant::now();
                    match last_flush {
                        Some(t) if now < t + opts.batch => {
                            flush_at.get_or_insert(t + opts.batch);
                        }
                        _ => {
                            flush(&mut buf, &out, false, &mut cap_announced, opts.cap).await;
                            last_flush = Some(now);
                            flush_at = None;
                        }
                    }
                }
                Some(Raw::Exit { code, signal, stopped }) => {
                    return finish(&mut buf, &out, started, (code, signal, stopped), timed_out, &mut cap_announced, opts.cap).await;
                }
                None => {
                    let end = (None, Some("SIGKILL".to_string()), false);
                    return finish(&mut buf, &out, started, end, timed_out, &mut cap_announced, opts.cap).await;
                }
            },
            _ = sleep_until(flush_at.unwrap_or_else(far)), if flush_at.is_some() => {
                flush(&mut buf, &out, false, &mut cap_announced, opts.cap).await;
                last_flush = Some(Instant::now());
                flush_at = None;
            }
            _ = stop.notified(), if stop_at.is_none() => {
                ctl.stop();
                stop_at = Some(Instant::now());
            }
            _ = sleep_until(deadline.unwrap_or_else(far)), if deadline.is_some() && stop_at.is_none() => {
                timed_out = true;
                ctl.stop();
                stop_at = Some(Instant::now());
            }
            _ = sleep_until(escalate_at.unwrap_or_else(far)), if escalate_at.is_some() && escalations < 2 => {
                escalations += 1;
                ctl.escalate(if escalations == 1 { Signal::TERM } else { Signal::KILL });
            }
        }
    }
}

async fn flush(
    buf: &mut OutputBuffer,
    out: &mpsc::Sender<RunEvent>,
    last: bool,
    cap_announced: &mut bool,
    cap: usize,
) {
    for chunk in buf.drain(last) {
        let _ = out.send(RunEvent::Output(chunk)).await;
    }
    if buf.truncated() && !*cap_announced {
        *cap_announced = true;
        let text = format!(
            "\n[quire] Output truncated: this run printed more than {} MiB; the rest is discarded (the run goes on).\n",
            cap / (1024 * 1024)
        );
        let _ = out.send(RunEvent::Output(Chunk { stream: Stream::Stderr, text })).await;
    }
}

async fn finish(
    buf: &mut OutputBuffer,
    out: &mpsc::Sender<RunEvent>,
    started: Instant,
    (code, signal, stopped): (Option<i32>, Option<String>, bool),
    timed_out: bool,
    cap_announced: &mut bool,
    cap: usize,
) -> Outcome {
    flush(buf, out, true, cap_announced, cap).await;
    let duration_ms = started.elapsed().as_millis() as u64;
    let (exit_code, signal) =
        if stopped && signal.is_none() { (None, Some("SIGTERM".into())) } else { (code, signal) };
    if timed_out {
        let text =
            format!("\n[quire] Timed out after {:.1} s; the run was stopped.\n", duration_ms as f64 / 1000.0);
        let _ = out.send(RunEvent::Output(Chunk { stream: Stream::Stderr, text })).await;
    }
    let outcome = Outcome { exit_code, signal, duration_ms, timed_out, truncated: buf.truncated() };
    let _ = out.send(RunEvent::Done(outcome.clone())).await;
    outcome
}
