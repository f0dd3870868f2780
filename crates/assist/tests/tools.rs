//! The AI's tool loop against the scripted provider: a call the model asks for goes to the toolbox
//! (the server's approval gate lives there), its output is fed back on the next turn, and the answer
//! is the last round's. A denial reaches the model as an error output; a model that never stops
//! asking is cut off after `MAX_TOOL_ROUNDS` by a last request without tools.

use quire_ai::mock::{MockLlm, MockOptions, Reply, StreamScript};
use quire_ai::{AiClient, Policy, Reliable, Timeouts, ToolCall, ToolSpec};
use quire_assist::tools::BoxFuture;
use quire_assist::{Assistant, CallContext, MAX_TOOL_ROUNDS, Progress, ToolOutcome, ToolStatus, Toolbox};
use quire_notebook::db::prelude::*;
use quire_notebook::{MemoryDatabase, NotebookStore, lock};
use quire_service::{Event, FakeRunner, NotebookService, Parts, Publish};
use serde_json::json;
use srcmd::{Cell, CellStatus, CodeCell, Language};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Quiet;
impl Publish for Quiet {
    fn publish(&self, _: &str, _: Event) {}
}

/// Answers every call with `status`, recording what was asked and for whom.
struct FakeTools {
    status: ToolStatus,
    calls: Mutex<Vec<(CallContext, ToolCall)>>,
}

impl Toolbox for FakeTools {
    fn tools<'a>(&'a self, _: &'a CallContext) -> BoxFuture<'a, Vec<ToolSpec>> {
        Box::pin(async {
            vec![ToolSpec {
                name: "everything__get-sum".into(),
                description: "Adds".into(),
                input_schema: json!({"type": "object"}),
            }]
        })
    }
    fn call<'a>(&'a self, cx: &'a CallContext, call: &'a ToolCall) -> BoxFuture<'a, ToolOutcome> {
        self.calls.lock().unwrap().push((cx.clone(), call.clone()));
        let status = self.status;
        Box::pin(async move {
            let for_model = match status {
                ToolStatus::Done => "The sum of 2 and 3 is 5.".to_string(),
                _ => "The user did not approve this call.".to_string(),
            };
            ToolOutcome { status, for_model, detail: json!({}), duration: Duration::from_millis(3) }
        })
    }
}

struct Fixture {
    ai: Assistant,
    tools: Arc<FakeTools>,
    mock: MockLlm,
    nb: String,
    _tmp: tempfile::TempDir,
}

async fn fixture(status: ToolStatus) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(NotebookStore::open(&tmp.path().join("notebooks")).unwrap());
    let db = Arc::new(MemoryDatabase::new());
    let mock = MockLlm::start(MockOptions::default()).await;
    let settings: BTreeMap<String, serde_json::Value> = [
        ("aiProvider".to_string(), json!("custom")),
        ("aiBaseUrl".to_string(), json!(mock.base())),
        ("aiModel".to_string(), json!("mock-large")),
    ]
    .into();
    db.update_settings(&settings).unwrap();
    let tsls = quire_tsls::Manager::new(tmp.path().join("cache"), Duration::from_secs(1), "node".into());
    let svc = NotebookService::new(Parts {
        store: store.clone(),
        db,
        runner: Arc::new(FakeRunner::default()),
        tsls: Arc::new(tsls),
        publish: Arc::new(Quiet),
        language_enabled: false,
    });
    let nb = {
        let h = store.create("Tools", Language::Javascript).unwrap();
        let mut open = lock(&h);
        open.nb.cells.push(Cell::Code(CodeCell {
            id: "c1".into(),
            source: "console.log(1)".into(),
            language: Language::Javascript,
            filename: "a.js".into(),
            status: CellStatus::Idle,
        }));
        open.id.clone()
    };
    let tools = Arc::new(FakeTools { status, calls: Mutex::new(Vec::new()) });
    let reliable = Reliable::new(AiClient::new(Timeouts::default()).unwrap(), Policy::default());
    let ai = Assistant::new(reliable, svc).with_tools(tools.clone());
    // The custom base is probed once (`GET /models`) and kept: done here, before replies are scripted.
    ai.target().await.unwrap();
    Fixture { ai, tools, mock, nb, _tmp: tmp }
}

fn asks_for_sum() -> Reply {
    Reply::Stream(StreamScript::new(["Adding first."]).tool_call(
        "call_1",
        "everything__get-sum",
        json!({"a": 2, "b": 3}),
    ))
}

fn chats(mock: &MockLlm) -> Vec<serde_json::Value> {
    mock.requests()
        .iter()
        .filter(|r| r.path_only().ends_with("/chat/completions"))
        .map(|r| r.json())
        .collect()
}

fn tool_message(body: &serde_json::Value) -> serde_json::Value {
    body["messages"].as_array().unwrap().iter().find(|m| m["role"] == "tool").cloned().expect("a tool output")
}

#[tokio::test]
async fn a_call_is_run_by_the_toolbox_its_output_fed_back_and_the_answer_is_the_last_rounds() {
    let f = fixture(ToolStatus::Done).await;
    f.mock.push(asks_for_sum());
    f.mock.push(Reply::text(["```js\nconsole.log(5);\n```"]));
    let seen = Mutex::new(Vec::new());
    let sink = |p: Progress| seen.lock().unwrap().push(p);
    let done = f.ai.for_job("job-7").edit(&f.nb, "c1", "print the sum", &sink).await.unwrap();
    assert_eq!(done.output.as_deref(), Some("console.log(5);\n"));

    let calls = f.tools.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, CallContext { notebook: Some(f.nb.clone()), job_id: Some("job-7".into()) });
    assert_eq!(calls[0].1.arguments, json!({"a": 2, "b": 3}));

    let requests = chats(&f.mock);
    assert_eq!(requests.len(), 2);
    let second = &requests[1];
    assert_eq!(second.pointer("/tools/0/function/name"), Some(&json!("everything__get-sum")));
    let tool = tool_message(second);
    assert_eq!(tool["content"], "The sum of 2 and 3 is 5.");
    assert_eq!(tool["tool_call_id"], "call_1");

    let kinds: Vec<&str> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|p| match p {
            Progress::Started { .. } => "started",
            Progress::Delta { .. } => "delta",
            Progress::ToolCall { .. } => "call",
            Progress::ToolResult { status: ToolStatus::Done, .. } => "result",
            _ => "other",
        })
        .collect();
    let first_call = kinds.iter().position(|k| *k == "call").expect("a call is told");
    assert_eq!(kinds[first_call + 1], "result", "{kinds:?}");
}

#[tokio::test]
async fn a_denied_call_is_told_to_the_model_as_an_error() {
    let f = fixture(ToolStatus::Denied).await;
    f.mock.push(asks_for_sum());
    f.mock.push(Reply::text(["```js\nconsole.log('no tool');\n```"]));
    let done = f.ai.edit(&f.nb, "c1", "print the sum", &|_| {}).await.unwrap();
    assert_eq!(done.output.as_deref(), Some("console.log('no tool');\n"));
    let tool = tool_message(&chats(&f.mock)[1]);
    assert_eq!(tool["content"], "The user did not approve this call.");
}

#[tokio::test]
async fn a_model_that_keeps_asking_gets_a_last_request_without_tools() {
    let f = fixture(ToolStatus::Done).await;
    for _ in 0..MAX_TOOL_ROUNDS {
        f.mock.push(asks_for_sum());
    }
    f.mock.push(Reply::text(["```js\nconsole.log('done');\n```"]));
    let done = f.ai.edit(&f.nb, "c1", "loop", &|_| {}).await.unwrap();
    assert_eq!(done.output.as_deref(), Some("console.log('done');\n"));
    let requests = chats(&f.mock);
    assert_eq!(requests.len() as u32, MAX_TOOL_ROUNDS + 1);
    assert!(requests[0].get("tools").is_some());
    assert!(requests.last().unwrap().get("tools").is_none(), "the last request offers no tools");
    assert_eq!(f.tools.calls.lock().unwrap().len() as u32, MAX_TOOL_ROUNDS);
}
