//! AI jobs of one connection: each runs in its own task, answers only the connection that asked,
//! and is aborted (dropping the upstream request at once) on `ai:stop` or when the connection closes.

use super::hub::Peer;
use super::messages::{
    AiCells, AiDone, AiEvent, AiFailed, AiFix, AiGenerate, AiStarted, AiStep, AiToolCall, AiToolResult,
    ErrorPayload, Incoming, PromptSent, ServerEvent, TokenUsage, caps,
};
use crate::error::{ApiError, Code};
use crate::state::AppState;
use quire_assist::{Finished, Progress};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::task::AbortHandle;

/// Jobs one connection may have running at once.
const MAX_JOBS: usize = 4;
const MAX_JOB_ID: usize = 64;

#[derive(Default, Clone)]
pub struct Jobs(Arc<Mutex<HashMap<String, (u64, AbortHandle)>>>);

impl Jobs {
    /// The connection closed: every job stops.
    pub fn abort_all(&self) {
        for (_, (_, h)) in quire_stdx::lock(&self.0).drain() {
            h.abort();
        }
    }

    fn stop(&self, job_id: &str) -> bool {
        match quire_stdx::lock(&self.0).remove(job_id) {
            Some((_, h)) => {
                h.abort();
                true
            }
            None => false,
        }
    }

    fn finished(&self, job_id: &str, token: u64) {
        let mut jobs = quire_stdx::lock(&self.0);
        if jobs.get(job_id).is_some_and(|(t, _)| *t == token) {
            jobs.remove(job_id);
        }
    }
}

/// Who asked, to answer them: the frame's topic, event and request id, and whether they stream.
#[derive(Clone)]
struct Asker {
    peer: Peer,
    topic: String,
    event: String,
    request_id: Option<serde_json::Value>,
    job_id: String,
    streams: bool,
}

impl Asker {
    fn send(&self, event: ServerEvent) {
        self.peer.deliver(&self.topic, &event);
    }

    fn progress(&self, cell_id: Option<&str>, p: Progress) {
        if !self.streams {
            return;
        }
        let job_id = self.job_id.clone();
        self.send(match p {
            Progress::Started { kind, system, user, provider, model } => {
                ServerEvent::AiStarted(Box::new(AiStarted {
                    job_id,
                    kind,
                    cell_id: cell_id.map(str::to_string),
                    prompt: PromptSent { system, user },
                    provider,
                    model,
                }))
            }
            Progress::Delta { step, text } => ServerEvent::AiDelta { job_id, step, text },
            Progress::Step(s) => ServerEvent::AiStep(Box::new(AiStep {
                job_id,
                step: s.step,
                max_steps: s.max_steps,
                code: s.code,
                diagnostics: s.diagnostics,
                output: s.output,
                exit_code: s.exit_code,
                ok: s.ok,
            })),
            Progress::ToolCall { step, call_id, tool, arguments } => {
                ServerEvent::AiToolCall(Box::new(AiToolCall { job_id, step, call_id, tool, arguments }))
            }
            Progress::ToolResult { call_id, status, result, duration } => {
                ServerEvent::AiToolResult(Box::new(AiToolResult {
                    job_id,
                    call_id,
                    status,
                    result,
                    duration_ms: duration.as_millis() as u64,
                }))
            }
        });
    }

    fn fail(&self, err: &ApiError) {
        tracing::info!(event = %self.event, code = err.code.as_str(), "AI request failed");
        let message = err.public_message().to_string();
        if self.streams {
            let retry_after_ms = err.retry_after.map(|s| s * 1000);
            let job_id = self.job_id.clone();
            self.send(ServerEvent::AiFailed(AiFailed {
                job_id,
                code: err.code.as_str(),
                message,
                retry_after_ms,
            }));
        } else {
            let (code, event, request_id) =
                (err.code.as_str(), Some(self.event.clone()), self.request_id.clone());
            self.send(ServerEvent::Refused(ErrorPayload { code, message, event, request_id }));
        }
    }

    fn done(&self, cell_id: Option<String>, f: Finished) {
        if !self.streams {
            // Srcbook's answer carries the code only; generated cells come over HTTP.
            if let (Some(cell_id), Some(output)) = (cell_id, f.output) {
                self.send(ServerEvent::AiGenerated { cell_id, output });
            }
            return;
        }
        let usage = TokenUsage { input_tokens: f.usage.input_tokens, output_tokens: f.usage.output_tokens };
        self.send(ServerEvent::AiDone(Box::new(AiDone {
            job_id: self.job_id.clone(),
            cell_id,
            output: f.output,
            cells: f.cells,
            steps: f.steps,
            ok: f.ok,
            usage,
            first_token_ms: f.first_token.map(|d| d.as_millis() as u64),
        })));
    }
}

fn job_id(given: Option<String>, fallback: &str) -> Result<String, ApiError> {
    let id = given.unwrap_or_else(|| fallback.to_string());
    if id.is_empty() || id.len() > MAX_JOB_ID {
        return Err(ApiError::new(Code::InvalidPayload, format!("jobId must be 1–{MAX_JOB_ID} characters")));
    }
    Ok(id)
}

static NEXT_TOKEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

pub fn handle(
    state: &AppState,
    peer: &Peer,
    jobs: &Jobs,
    f: &Incoming,
    event: AiEvent,
) -> Result<(), ApiError> {
    let streams = peer.has_cap(caps::AI);
    let (id, cell_id) = match &event {
        AiEvent::Stop(r) => {
            if !jobs.stop(&r.job_id) {
                return Err(ApiError::new(Code::NotRunning, format!("No AI job '{}' is running", r.job_id)));
            }
            let job_id = r.job_id.clone();
            let message = "Stopped".to_string();
            let stopped = AiFailed { job_id, code: Code::AiStopped.as_str(), message, retry_after_ms: None };
            peer.deliver(&f.topic, &ServerEvent::AiFailed(stopped));
            return Ok(());
        }
        AiEvent::Generate(g) => {
            (job_id(g.job_id.clone(), &format!("cell:{}", g.cell_id))?, Some(g.cell_id.clone()))
        }
        AiEvent::Fix(x) => {
            (job_id(x.job_id.clone(), &format!("cell:{}", x.cell_id))?, Some(x.cell_id.clone()))
        }
        AiEvent::Cells(c) => (job_id(Some(c.job_id.clone()), "")?, None),
    };
    let asker = Asker {
        peer: peer.clone(),
        topic: f.topic.clone(),
        event: f.name.clone(),
        request_id: f.request_id.clone(),
        job_id: id.clone(),
        streams,
    };
    let mut running = quire_stdx::lock(&jobs.0);
    if running.contains_key(&id) {
        return Err(ApiError::new(Code::AlreadyRunning, format!("AI job '{id}' is already running")));
    }
    if running.len() >= MAX_JOBS {
        return Err(ApiError::new(
            Code::AiBusy,
            format!("At most {MAX_JOBS} AI requests at once per connection"),
        ));
    }
    let token = NEXT_TOKEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (ai, nb, jobs2) = (state.ai.for_job(&id), f.notebook_id.clone(), jobs.clone());
    let task = tokio::spawn(async move {
        let sink = |p: Progress| asker.progress(cell_id.as_deref(), p);
        let result = match event {
            AiEvent::Generate(AiGenerate { cell_id, prompt, .. }) => {
                ai.edit(&nb, &cell_id, &prompt, &sink).await
            }
            AiEvent::Fix(AiFix { cell_id, diagnostics, output, max_steps, .. }) => {
                let steps = max_steps.unwrap_or(quire_assist::DEFAULT_STEPS);
                let (d, o) = (diagnostics.unwrap_or_default(), output.unwrap_or_default());
                ai.fix(&nb, &cell_id, &d, &o, steps, &sink).await
            }
            AiEvent::Cells(AiCells { insert_idx, query, .. }) => {
                let index = if insert_idx.is_finite() && insert_idx >= 0.0 { insert_idx as usize } else { 0 };
                ai.generate_cells(&nb, index, &query, &sink).await
            }
            AiEvent::Stop(_) => return, // answered before the task was started
        };
        match result {
            Ok(done) => asker.done(cell_id.clone(), done),
            Err(e) => asker.fail(&ApiError::from(e)),
        }
        jobs2.finished(&asker.job_id, token);
    });
    running.insert(id, (token, task.abort_handle()));
    Ok(())
}
