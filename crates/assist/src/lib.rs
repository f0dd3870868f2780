//! AI in the notebook, above the notebook service and the provider crate: a cell edited by asking,
//! cells and whole notebooks generated from a sentence, and the fix loop that type-checks and runs
//! each proposal on a scratch copy before the user sees it. Nothing here writes to a notebook: every
//! answer goes back to the caller, which shows it for the user to accept. No HTTP and no wire format;
//! prompts and answers are never logged.
#![forbid(unsafe_code)]

pub mod answer;
pub mod config;
mod fix;
pub mod prompts;
pub mod tools;

pub use config::{AiTarget, RESOLVED_SETTING, WIRE_FORMAT_SETTING, WIRE_FORMATS, default_model};
pub use fix::DEFAULT_STEPS;
pub use tools::{CallContext, MAX_TOOL_ROUNDS, ToolOutcome, ToolStatus, Toolbox};

use quire_ai::{AiClient, AiError, ChatMessage, ChatRequest, Delta, Reliable, Usage};
use quire_notebook::lock;
use quire_service::{NotebookService, ServiceError};
use srcmd::{Cell, Language};
use std::sync::Arc;
use std::time::Duration;

/// What a job is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Edit,
    Fix,
    Cells,
    Notebook,
}

/// One fix attempt, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepReport {
    pub step: u32,
    pub max_steps: u32,
    pub code: String,
    pub diagnostics: Vec<String>,
    pub output: String,
    pub exit_code: Option<i32>,
    pub ok: bool,
}

/// Told to the caller while a job runs, in this order: `Started`, then `Delta`s (and a `Step` after
/// each fix attempt).
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    Started {
        kind: Kind,
        system: String,
        user: String,
        provider: String,
        model: String,
    },
    Delta {
        step: u32,
        text: String,
    },
    Step(StepReport),
    /// The model asked for a tool; the call now waits for approval, then runs.
    ToolCall {
        step: u32,
        call_id: String,
        tool: String,
        arguments: serde_json::Value,
    },
    /// A tool call ended.
    ToolResult {
        call_id: String,
        status: ToolStatus,
        result: serde_json::Value,
        duration: Duration,
    },
}

/// A job's result. `output`: the proposed code (edit, fix) or `.src.md` text (notebook).
#[derive(Debug, Clone, Default)]
pub struct Finished {
    pub output: Option<String>,
    pub cells: Option<Vec<Cell>>,
    pub steps: u32,
    pub ok: bool,
    pub usage: Usage,
    pub first_token: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum AssistError {
    #[error(transparent)]
    Ai(#[from] AiError),
    #[error("{0}")]
    NotConfigured(String),
    #[error("the model's answer could not be used: {0}")]
    AnswerInvalid(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("{0}")]
    Internal(String),
}

impl AssistError {
    /// A stable code; the service's errors keep theirs (the server maps them).
    pub fn code(&self) -> &'static str {
        match self {
            AssistError::Ai(e) => e.code(),
            AssistError::NotConfigured(_) => "ai_not_configured",
            AssistError::AnswerInvalid(_) => "ai_answer_invalid",
            AssistError::Service(_) => "service",
            AssistError::Internal(_) => "internal",
        }
    }
}

impl From<quire_notebook::NotebookError> for AssistError {
    fn from(e: quire_notebook::NotebookError) -> Self {
        AssistError::Service(e.into())
    }
}

pub type Sink<'a> = &'a (dyn Fn(Progress) + Send + Sync);

/// The assistant of one server: the provider client and the notebook service.
#[derive(Clone)]
pub struct Assistant {
    ai: Reliable,
    svc: NotebookService,
    tools: Option<Arc<dyn Toolbox>>,
    /// The job this copy answers (told to the toolbox with each call, so approvals name it).
    job_id: Option<String>,
    /// How long a fix attempt's scratch run may take.
    pub run_timeout: Duration,
}

/// What a streamed answer came to.
pub(crate) struct Streamed {
    pub text: String,
    pub usage: Usage,
    pub first_token: Option<Duration>,
}

fn add(total: &mut Usage, more: Usage) {
    let sum = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    };
    total.input_tokens = sum(total.input_tokens, more.input_tokens);
    total.output_tokens = sum(total.output_tokens, more.output_tokens);
}

impl Assistant {
    pub fn new(ai: Reliable, svc: NotebookService) -> Assistant {
        Assistant { ai, svc, tools: None, job_id: None, run_timeout: Duration::from_secs(10) }
    }

    /// A copy for one job: its tool calls carry `job_id`.
    pub fn for_job(&self, job_id: &str) -> Assistant {
        Assistant { job_id: Some(job_id.to_string()), ..self.clone() }
    }

    pub(crate) fn cx(&self, notebook: Option<&str>) -> CallContext {
        CallContext { notebook: notebook.map(str::to_string), job_id: self.job_id.clone() }
    }

    /// Offer the toolbox's tools to the model in every job.
    pub fn with_tools(mut self, tools: Arc<dyn Toolbox>) -> Assistant {
        self.tools = Some(tools);
        self
    }

    fn client(&self) -> &AiClient {
        self.ai.client()
    }

    /// Breakers and usage, for `/health`, `/metrics` and the dashboard.
    pub fn reliability(&self) -> &Reliable {
        &self.ai
    }

    /// The endpoint and model the settings name now.
    pub async fn target(&self) -> Result<AiTarget, AssistError> {
        config::target(self.client(), self.svc.db.as_ref()).await
    }

    /// Settings' "Test": a one-word request to the configured model (no retries: the user wants
    /// to see the first answer).
    pub async fn check(&self) -> Result<quire_ai::Check, AssistError> {
        let t = self.target().await?;
        Ok(self.client().check(&t.endpoint, &t.model).await?)
    }

    /// The provider's models, and the base URL they came from.
    pub async fn models(&self) -> Result<(Vec<quire_ai::ModelInfo>, String), AssistError> {
        let t = self.target().await?;
        let models = self.client().list_models(&t.endpoint).await?;
        Ok((models, t.endpoint.base_url))
    }

    /// Send one request and stream its text to `sink` as `Delta`s of `step`. Tool calls the model asks
    /// for are run through the toolbox and answered, round by round; the text is the last round's.
    pub(crate) async fn stream(
        &self,
        t: &AiTarget,
        request: &ChatRequest,
        step: u32,
        cx: &CallContext,
        sink: Sink<'_>,
    ) -> Result<Streamed, AssistError> {
        let mut request = request.clone();
        if let Some(tb) = &self.tools {
            request.tools = tb.tools(cx).await;
        }
        let mut usage = Usage::default();
        let mut first_token = None;
        for round in 0..=MAX_TOOL_ROUNDS {
            if round == MAX_TOOL_ROUNDS {
                request.tools.clear(); // the last word is the model's
            }
            let mut stream = self.ai.chat(&t.endpoint, &request).await?;
            let (mut text, mut calls) = (String::new(), Vec::new());
            let mut done = false;
            while let Some(delta) = stream.next().await {
                match delta? {
                    Delta::Text(piece) => {
                        text.push_str(&piece);
                        sink(Progress::Delta { step, text: piece });
                    }
                    Delta::ToolCall(call) => calls.push(call),
                    Delta::Done { usage: u, .. } => {
                        add(&mut usage, u);
                        done = true;
                        break;
                    }
                }
            }
            if !done {
                return Err(AiError::StreamCut { reason: "the stream ended without a result".into() }.into());
            }
            // Time to first token as the user sees it: queueing and retries included.
            first_token = first_token.or(stream.first_token());
            let toolbox = self.tools.as_ref().filter(|_| !request.tools.is_empty());
            let Some(tb) = toolbox.filter(|_| !calls.is_empty()) else {
                return Ok(Streamed { text, usage, first_token });
            };
            let mut outputs = Vec::new();
            for call in &calls {
                sink(Progress::ToolCall {
                    step,
                    call_id: call.id.clone(),
                    tool: call.name.clone(),
                    arguments: call.arguments.clone(),
                });
                let outcome = tb.call(cx, call).await;
                outputs.push(tools::output(call, &outcome));
                sink(Progress::ToolResult {
                    call_id: call.id.clone(),
                    status: outcome.status,
                    result: outcome.detail,
                    duration: outcome.duration,
                });
            }
            request.messages.push(ChatMessage::tool_calls(text, calls));
            request.messages.push(ChatMessage::tool_outputs(outputs));
        }
        unreachable!("the last round offers no tools, so it returns")
    }

    fn started(&self, kind: Kind, t: &AiTarget, request: &ChatRequest, sink: Sink<'_>) {
        let user = request.messages.iter().map(|m| m.content.as_str()).collect::<Vec<_>>().join("\n\n");
        sink(Progress::Started {
            kind,
            system: request.system.clone().unwrap_or_default(),
            user,
            provider: t.endpoint.provider.setting().to_string(),
            model: t.model.clone(),
        });
    }

    /// The notebook's cells and language, read under its lock.
    fn notebook(&self, nb: &str) -> Result<(Vec<Cell>, Language), AssistError> {
        let h = self.svc.store.get(nb)?;
        let open = lock(&h);
        Ok((open.nb.cells.clone(), open.nb.language))
    }

    /// Edit a cell by asking: the proposed code (the cell is not changed).
    pub async fn edit(
        &self,
        nb: &str,
        cell_id: &str,
        prompt: &str,
        sink: Sink<'_>,
    ) -> Result<Finished, AssistError> {
        let t = self.target().await?;
        let (cells, language) = self.notebook(nb)?;
        let cell = code_cell(&cells, cell_id)?;
        let mut user = prompts::notebook_context(&cells, language, Some(cell_id));
        let ctx = prompts::CellContext {
            filename: &cell.filename,
            source: &cell.source,
            diagnostics: "",
            output: "",
        };
        user.push_str(&prompts::cell_block(&ctx, language));
        user.push_str(&format!("\nChange the cell {} as asked: {}\n", cell.filename, prompt.trim()));
        let request = ChatRequest::new(&t.model, user).with_system(prompts::edit_system());
        self.started(Kind::Edit, &t, &request, sink);
        let got = self.stream(&t, &request, 1, &self.cx(Some(nb)), sink).await?;
        Ok(Finished {
            output: Some(answer::extract_code(&got.text)),
            steps: 1,
            ok: true,
            usage: got.usage,
            first_token: got.first_token,
            ..Finished::default()
        })
    }

    /// Cells to insert at `index`, decoded (not added to the notebook).
    pub async fn generate_cells(
        &self,
        nb: &str,
        index: usize,
        query: &str,
        sink: Sink<'_>,
    ) -> Result<Finished, AssistError> {
        let t = self.target().await?;
        let (cells, language) = self.notebook(nb)?;
        let mut user = prompts::notebook_context(&cells, language, None);
        let before = cells.get(index.saturating_sub(1).min(cells.len().saturating_sub(1)));
        if let Some(Cell::Code(c)) = before {
            user.push_str(&format!("\nThe new cells go right after {}.\n", c.filename));
        }
        user.push_str(&format!("\nWrite new cells for this request: {}\n", query.trim()));
        let request = ChatRequest::new(&t.model, user).with_system(prompts::cells_system(language));
        self.started(Kind::Cells, &t, &request, sink);
        let got = self.stream(&t, &request, 1, &self.cx(Some(nb)), sink).await?;
        let new = answer::decode_cells(&got.text, language)?;
        Ok(Finished {
            cells: Some(new),
            steps: 1,
            ok: true,
            usage: got.usage,
            first_token: got.first_token,
            ..Finished::default()
        })
    }

    /// A whole notebook from a sentence, as `.src.md` text that decodes (the caller imports it).
    pub async fn generate_notebook(&self, query: &str, sink: Sink<'_>) -> Result<Finished, AssistError> {
        let t = self.target().await?;
        let request =
            ChatRequest::new(&t.model, format!("Write a notebook for this request: {}\n", query.trim()))
                .with_system(prompts::notebook_system());
        self.started(Kind::Notebook, &t, &request, sink);
        let got = self.stream(&t, &request, 1, &self.cx(None), sink).await?;
        Ok(Finished {
            output: Some(answer::notebook_text(&got.text)?),
            steps: 1,
            ok: true,
            usage: got.usage,
            first_token: got.first_token,
            ..Finished::default()
        })
    }

    pub(crate) fn service(&self) -> &NotebookService {
        &self.svc
    }
}

/// The follow-up turns of a conversation (the fix loop's attempts and their feedback).
pub(crate) fn turn(request: &mut ChatRequest, answer: &str, feedback: String) {
    request.messages.push(ChatMessage::assistant(answer));
    request.messages.push(ChatMessage::user(feedback));
}

pub(crate) fn code_cell<'a>(cells: &'a [Cell], cell_id: &str) -> Result<&'a srcmd::CodeCell, AssistError> {
    match cells.iter().find(|c| c.id() == cell_id) {
        Some(Cell::Code(c)) => Ok(c),
        Some(_) => Err(ServiceError::NotACodeCell("Only code cells can be changed by AI").into()),
        None => Err(quire_notebook::NotebookError::CellNotFound(cell_id.to_string()).into()),
    }
}
