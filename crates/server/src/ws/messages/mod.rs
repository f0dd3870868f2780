//! The WebSocket wire, in one place: frames are `[topic, event, payload]` with `session:<id>` topics.
//! Every client event is a `ClientEvent` with a typed payload, every server event a `ServerEvent`;
//! no other module names an event. Each way a frame can be bad maps to a stable error code.

use crate::error::Code;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use srcmd::Cell;

mod ai;
mod server;
pub use ai::*;
pub use server::*;

/// Topic used for errors about frames whose topic could not be read.
pub const FALLBACK_TOPIC: &str = "quire";

/// Capabilities a client announces in `subscribe`.
pub mod caps {
    /// `error` events for refused requests.
    pub const ERRORS: &str = "errors";
    /// `cell:created`, `cell:deleted`, `cell:moved`.
    pub const CELLS: &str = "cells";
    /// Quire's language-service additions (new events, cell ids and errors on replies).
    pub const TSSERVER: &str = "tsserver";
    /// Streamed AI answers (`ai:started`, `ai:delta`, `ai:step`, `ai:done`, `ai:failed`).
    pub const AI: &str = "ai";
    /// MCP tool-call approvals: `mcp:approval`, `mcp:approval:resolved`, and `mcp:approve` answered.
    pub const MCP: &str = "mcp";
}

/// Where one parsed client frame came from: enough to answer it (its event is parsed beside it).
pub struct Incoming {
    pub topic: String,
    pub notebook_id: String,
    /// The event's name as sent (for logs and `error.event`).
    pub name: String,
    pub request_id: Option<Value>,
}

/// An `error` event that answers a frame: `{code, message, event?, requestId?}`, on the frame's
/// topic when it had one.
#[derive(Debug)]
pub struct FrameError {
    pub topic: Option<String>,
    pub code: Code,
    pub message: String,
    pub event: Option<String>,
    pub request_id: Option<Value>,
}

impl FrameError {
    pub fn payload(self) -> ErrorPayload {
        ErrorPayload {
            code: self.code.as_str(),
            message: self.message,
            event: self.event,
            request_id: self.request_id,
        }
    }
}

#[derive(Deserialize)]
pub struct Subscribe {
    pub id: Value,
    #[serde(default)]
    pub capabilities: Vec<String>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CellRef {
    pub cell_id: String,
}
#[derive(Deserialize)]
pub struct Create {
    pub index: f64,
    pub cell: Cell,
}
#[derive(Deserialize)]
pub struct Updates {
    pub text: Option<String>,
    pub source: Option<String>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Update {
    pub cell_id: String,
    pub updates: Updates,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rename {
    pub cell_id: String,
    pub filename: String,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Move {
    pub cell_id: String,
    pub index: f64,
}
#[derive(Deserialize)]
pub struct Install {
    pub packages: Option<Vec<String>>,
}
#[derive(Deserialize)]
pub struct Tsconfig {
    pub source: String,
}
#[derive(Deserialize)]
pub struct Location {
    pub line: u64,
    pub offset: u64,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TsRequestBody {
    pub location: Location,
    pub new_name: Option<String>,
    pub entry_names: Option<Vec<Value>>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CellRequest {
    pub cell_id: String,
    pub request: TsRequestBody,
}

/// The language-service questions a cell can ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsQuery {
    QuickInfo,
    Completions,
    Definition,
    SignatureHelp,
    Rename,
    CompletionDetails,
}

impl TsQuery {
    /// Quire's additions, for clients with the `tsserver` capability only.
    pub fn is_new(self) -> bool {
        matches!(self, TsQuery::SignatureHelp | TsQuery::Rename | TsQuery::CompletionDetails)
    }
    /// The stock client has no use for an empty answer to these (upstream sends nothing).
    pub fn empty_is_silent(self) -> bool {
        self != TsQuery::Completions
    }
}

pub enum ClientEvent {
    Subscribe(Subscribe),
    Unsubscribe,
    /// Frames are handled in order, so `pong` tells a client every earlier frame was applied.
    Ping,
    /// The edits: they change the notebook's cells or tsconfig.
    Edit(EditEvent),
    CellExec(CellRef),
    CellStop(CellRef),
    CellExecAll,
    CellFormat(CellRef),
    DepsInstall(Install),
    DepsValidate,
    /// `tsserver:*`: the language service.
    Ts(TsEvent),
    /// `ai:*`: AI edits, fixes and generated cells.
    Ai(AiEvent),
    /// `mcp:approve`: the answer to an `mcp:approval`.
    McpApprove(McpApprove),
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct McpApprove {
    pub id: String,
    pub decision: McpDecision,
    #[serde(default)]
    pub always: bool,
}

#[derive(serde::Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum McpDecision {
    Allow,
    Deny,
}

pub enum EditEvent {
    CellCreate(Create),
    CellUpdate(Update),
    CellRename(Rename),
    CellDelete(CellRef),
    CellMove(Move),
    TsconfigUpdate(Tsconfig),
}

pub enum TsEvent {
    Start,
    Stop,
    Request(TsQuery, CellRequest),
}

fn typed<T: DeserializeOwned>(name: &str, payload: Map<String, Value>) -> Result<T, (Code, String)> {
    serde_json::from_value(Value::Object(payload))
        .map_err(|e| (Code::InvalidPayload, format!("Invalid payload for '{name}': {e}")))
}

fn ts_query(base: &str) -> Option<TsQuery> {
    Some(match base {
        "tsserver:cell:quickinfo" => TsQuery::QuickInfo,
        "tsserver:cell:completions" => TsQuery::Completions,
        "tsserver:cell:definition_location" => TsQuery::Definition,
        "tsserver:cell:signature_help" => TsQuery::SignatureHelp,
        "tsserver:cell:rename" => TsQuery::Rename,
        "tsserver:cell:completion_details" => TsQuery::CompletionDetails,
        _ => return None,
    })
}

fn event(name: &str, payload: Map<String, Value>) -> Result<ClientEvent, (Code, String)> {
    use ClientEvent as E;
    Ok(match name {
        "subscribe" => E::Subscribe(typed(name, payload)?),
        "unsubscribe" => E::Unsubscribe,
        "ping" => E::Ping,
        "cell:create" => E::Edit(EditEvent::CellCreate(typed(name, payload)?)),
        "cell:update" => E::Edit(EditEvent::CellUpdate(typed(name, payload)?)),
        "cell:rename" => E::Edit(EditEvent::CellRename(typed(name, payload)?)),
        "cell:delete" => E::Edit(EditEvent::CellDelete(typed(name, payload)?)),
        "cell:move" => E::Edit(EditEvent::CellMove(typed(name, payload)?)),
        "tsconfig.json:update" => E::Edit(EditEvent::TsconfigUpdate(typed(name, payload)?)),
        "cell:exec" => E::CellExec(typed(name, payload)?),
        "cell:stop" => E::CellStop(typed(name, payload)?),
        "cell:exec_all" => E::CellExecAll,
        "cell:format" => E::CellFormat(typed(name, payload)?),
        "deps:install" => E::DepsInstall(typed(name, payload)?),
        "deps:validate" => E::DepsValidate,
        "tsserver:start" => E::Ts(TsEvent::Start),
        "tsserver:stop" => E::Ts(TsEvent::Stop),
        "ai:generate" => E::Ai(AiEvent::Generate(typed(name, payload)?)),
        "ai:fix_diagnostics" => E::Ai(AiEvent::Fix(typed(name, payload)?)),
        "ai:generate_cells" => E::Ai(AiEvent::Cells(typed(name, payload)?)),
        "ai:stop" => E::Ai(AiEvent::Stop(typed(name, payload)?)),
        "mcp:approve" => E::McpApprove(typed(name, payload)?),
        other => {
            // The stock events end in `:request`; Quire's additions may leave it off.
            let query = other
                .strip_suffix(":request")
                .map_or_else(|| ts_query(other).filter(|q| q.is_new()), ts_query);
            let Some(query) = query else {
                return Err((Code::UnknownEvent, format!("Unknown event '{other}'")));
            };
            let req: CellRequest = typed(name, payload)?;
            if req.request.location.line < 1 {
                return Err((Code::InvalidPayload, "location.line is 1-based".into()));
            }
            E::Ts(TsEvent::Request(query, req))
        }
    })
}

pub fn request_id(payload: &Map<String, Value>) -> Option<Value> {
    payload.get("requestId").filter(|v| v.is_string() || v.is_number()).cloned()
}

/// A client text frame: the envelope, the topic, then the payload as its event types it.
pub fn parse(text: &str) -> Result<(Incoming, ClientEvent), Box<FrameError>> {
    let err = |topic: Option<String>, code, message: String, event: Option<&str>, rid| {
        Box::new(FrameError { topic, code, message, event: event.map(str::to_string), request_id: rid })
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|e| err(None, Code::InvalidJson, format!("Frame is not valid JSON: {e}"), None, None))?;
    let Value::Array(mut items) = value else {
        return Err(err(
            None,
            Code::InvalidFrame,
            "Frame must be a [topic, event, payload] array".into(),
            None,
            None,
        ));
    };
    if items.len() != 3 {
        return Err(err(None, Code::InvalidFrame, "Frame must have exactly 3 elements".into(), None, None));
    }
    let payload = items.pop();
    let name = items.pop();
    let topic = items.pop();
    let Some(Value::String(topic)) = topic else {
        return Err(err(None, Code::InvalidFrame, "Frame topic must be a string".into(), None, None));
    };
    let Some(Value::Object(payload)) = payload else {
        return Err(err(
            Some(topic),
            Code::InvalidFrame,
            "Frame payload must be an object".into(),
            None,
            None,
        ));
    };
    let rid = request_id(&payload);
    let Some(Value::String(name)) = name else {
        return Err(err(Some(topic), Code::InvalidFrame, "Frame event must be a string".into(), None, rid));
    };
    let notebook_id = match topic.strip_prefix("session:") {
        Some(id) if quire_notebook::check_notebook_id(id).is_ok() => id.to_string(),
        _ => {
            let message = format!("Unknown topic '{topic}'");
            return Err(err(Some(topic), Code::UnknownTopic, message, Some(&name), rid));
        }
    };
    match event(&name, payload) {
        Ok(event) => Ok((Incoming { topic, notebook_id, name, request_id: rid }, event)),
        Err((code, message)) => Err(err(Some(topic), code, message, Some(&name), rid)),
    }
}

/// What the server makes of one client text frame without acting on it (fuzzing): `Ok(event name)`,
/// or the error code the connection would be sent.
pub fn parse_client_message(text: &str) -> Result<String, &'static str> {
    parse(text).map(|(i, _)| i.name).map_err(|e| e.code.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        let id = srcmd::new_cell_id();
        let ok = parse(&format!(r#"["session:{id}","subscribe",{{"id":"x"}}]"#)).unwrap();
        assert!(matches!(ok.1, ClientEvent::Subscribe(_)));
        assert_eq!(ok.0.notebook_id, id);
        let t = format!("session:{id}");
        for (bad, code) in [
            ("{".to_string(), "invalid_json"),
            ("{}".into(), "invalid_frame"),
            ("[1,2,3]".into(), "invalid_frame"),
            (r#"["a","b"]"#.into(), "invalid_frame"),
            (r#"["a","b",[]]"#.into(), "invalid_frame"),
            (r#"["a",1,{}]"#.into(), "invalid_frame"),
            (r#"["chat:x","b",{}]"#.into(), "unknown_topic"),
            (r#"["session:../x","b",{}]"#.into(), "unknown_topic"),
            (format!(r#"["{t}","nope",{{}}]"#), "unknown_event"),
            (format!(r#"["{t}","tsserver:cell:nope:request",{{}}]"#), "unknown_event"),
            (format!(r#"["{t}","cell:update",{{"cellId":5}}]"#), "invalid_payload"),
            (
                format!(
                    r#"["{t}","tsserver:cell:quickinfo:request",{{"cellId":"c","request":{{"location":{{"line":0,"offset":1}}}}}}]"#
                ),
                "invalid_payload",
            ),
        ] {
            assert_eq!(parse(&bad).err().map(|e| e.code.as_str()), Some(code), "{bad}");
        }
        let e = parse(r#"["chat","x",{"requestId":7}]"#).err().unwrap();
        assert_eq!(e.request_id, Some(serde_json::json!(7)));
        assert_eq!(e.event.as_deref(), Some("x"));
    }

    #[test]
    fn server_events_render_as_before() {
        let pong = ServerEvent::Pong { request_id: None };
        assert_eq!(pong.frame("session:a"), r#"["session:a","pong",{"requestId":null}]"#);
        let moved = ServerEvent::CellMoved { cell_id: "c".into(), index: 2 };
        assert_eq!(moved.frame("t"), r#"["t","cell:moved",{"cellId":"c","index":2}]"#);
        assert_eq!(moved.needs(), &[caps::CELLS]);
        let v = ServerEvent::DepsValidate { packages: None };
        assert_eq!(v.frame("t"), r#"["t","deps:validate:response",{}]"#);
    }
}
