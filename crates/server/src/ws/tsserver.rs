//! The language service on the WebSocket: `tsserver:*` events, subscriber tracking for tsserver lifetimes,
//! cell edits forwarded to `quire_tsls`, and its diagnostics broadcast to the notebook's subscribers.
//!
//! Replies go only to the connection that asked, with its `requestId`; a reply computed for an older
//! version of the cell is dropped. New event names (`tsserver:error`, signature help, rename,
//! completion details) only go to connections that announced the `tsserver` capability.

use super::hub::{Audience, ConnId, Peer, frame};
use super::protocol::{self, Frame};
use crate::state::{AppState, Config};
use quire_notebook::{OpenNotebook, lock};
use quire_tsls::{Error, Manager, OutEvent, Output, Query, Service, Snapshot, SourceCell};
use serde::Deserialize;
use serde_json::{Value, json};
use srcmd::{Cell, Language};
use std::sync::Arc;

/// Capability: the client understands Quire's language-service additions.
pub const CAP_TSSERVER: &str = "tsserver";
/// Setting (boolean): type-check JavaScript notebooks too.
pub const CHECK_JS_SETTING: &str = "javascriptTypeCheck";

pub fn manager(config: &Config) -> Manager {
    Manager::new(config.data_dir.join("cache"), config.tsserver_idle, config.node.clone())
        .with_sandbox(config.sandbox.clone())
}

/// Forward the language service's events to subscribers until the server state is dropped.
pub fn spawn_forwarder(state: &AppState) {
    let Some(mut rx) = state.tsls.take_outputs() else { return };
    let weak = Arc::downgrade(state);
    tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            let Some(state) = weak.upgrade() else { break };
            forward(&state, out);
        }
    });
}

fn forward(state: &AppState, out: Output) {
    let (event, payload, cap) = match out.event {
        OutEvent::Diagnostics { cell_id, diagnostics } => {
            ("tsserver:cell:diagnostics", json!({"cellId": cell_id, "diagnostics": diagnostics}), None)
        }
        OutEvent::Suggestions { cell_id, diagnostics } => {
            ("tsserver:cell:suggestions", json!({"cellId": cell_id, "diagnostics": diagnostics}), None)
        }
        OutEvent::Error { code, message } => {
            ("tsserver:error", json!({"code": code, "message": message}), Some(CAP_TSSERVER))
        }
    };
    let id = &out.notebook_id;
    match (out.to, cap) {
        (None, None) => state.hub.broadcast(id, event, &payload, Audience::All),
        (None, Some(cap)) => state.hub.broadcast(id, event, &payload, Audience::WithCap(cap)),
        (Some(conn), cap) => {
            if let Some(peer) = state.hub.peer(id, conn).filter(|p| cap.is_none_or(|c| p.has_cap(c))) {
                peer.send(frame(&format!("session:{id}"), event, &payload));
            }
        }
    }
}

fn snapshot(nb: &OpenNotebook, check_js: Option<bool>) -> Snapshot {
    let cells = nb
        .nb
        .cells
        .iter()
        .filter_map(|c| match c {
            Cell::Code(c) => {
                Some(SourceCell { id: c.id.clone(), filename: c.filename.clone(), source: c.source.clone() })
            }
            _ => None,
        })
        .collect();
    Snapshot {
        typescript: nb.nb.language == Language::Typescript,
        cells,
        tsconfig: nb.nb.tsconfig.clone(),
        check_js,
    }
}

fn check_js(state: &AppState) -> bool {
    state.db.settings().ok().and_then(|s| s.get(CHECK_JS_SETTING).and_then(Value::as_bool)).unwrap_or(false)
}

/// The notebook's service with its current cells queued, or `None` for an unknown notebook.
fn service(state: &AppState, notebook_id: &str) -> Option<Arc<Service>> {
    let h = state.store.get(notebook_id).ok()?;
    let check = check_js(state);
    let nb = lock(&h);
    let svc = state.tsls.service(notebook_id, nb.dir.clone());
    svc.sync(snapshot(&nb, Some(check)));
    Some(svc)
}

/// A connection subscribed: start the notebook's tsserver (on the first one) and send it the current
/// diagnostics.
pub fn on_subscribe(state: &AppState, notebook_id: &str, conn: ConnId) {
    if !state.config.language_service {
        return;
    }
    let Some(svc) = service(state, notebook_id) else { return };
    state.tsls.attach(&svc, conn);
    tokio::spawn(async move {
        if svc.start().await.is_ok() {
            svc.replay(conn).await;
        }
    });
}

/// A connection unsubscribed or closed.
pub fn on_leave(state: &AppState, notebook_id: &str, conn: ConnId) {
    state.tsls.detach(notebook_id, conn);
}

/// A notebook's cells or tsconfig changed (create, update, rename, delete, move, format, tsconfig).
pub fn notebook_changed(state: &AppState, notebook_id: &str) {
    let (Some(svc), Ok(h)) = (state.tsls.get(notebook_id), state.store.get(notebook_id)) else { return };
    // Queued under the notebook lock, so snapshots reach the service in edit order.
    let nb = lock(&h);
    svc.sync(snapshot(&nb, None));
}

/// `deps:install` finished: new typings may resolve imports, so the project is reloaded and re-checked.
pub async fn dependencies_changed(state: &AppState, notebook_id: &str) {
    if let Some(svc) = state.tsls.get(notebook_id) {
        svc.reload().await;
    }
}

/// The notebook was deleted: its tsserver is stopped and reaped before this returns.
pub async fn notebook_deleted(state: &AppState, notebook_id: &str) {
    state.tsls.remove(notebook_id).await;
}

#[derive(Deserialize)]
struct Location {
    line: u64,
    offset: u64,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Inner {
    location: Location,
    new_name: Option<String>,
    entry_names: Option<Vec<Value>>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CellRequest {
    cell_id: String,
    request: Inner,
}

/// Where a request came from: enough to answer it after the frame is gone.
#[derive(Clone)]
struct Origin {
    topic: String,
    event: String,
    request_id: Option<Value>,
}

impl Origin {
    fn of(f: &Frame) -> Self {
        Origin {
            topic: f.topic.clone(),
            event: f.event.clone(),
            request_id: protocol::request_id(&f.payload),
        }
    }

    fn error_frame(&self, code: &'static str, message: String) -> String {
        let mut payload = json!({"code": code, "message": message});
        if let Some(rid) = &self.request_id {
            payload["requestId"] = rid.clone();
        }
        frame(&self.topic, "error", &payload)
    }

    /// A refused well-formed request: an `error` event for clients that take them.
    fn refuse(&self, peer: &Peer, code: &'static str, message: String) {
        tracing::debug!(conn = peer.id, event = %self.event, code, %message, "tsserver request refused");
        if peer.has_cap(super::handlers::CAP_ERRORS) || peer.has_cap(CAP_TSSERVER) {
            peer.send(self.error_frame(code, message));
        }
    }
}

/// A `tsserver:*` event from a client.
pub async fn handle(state: &AppState, peer: &Peer, f: &Frame) {
    let base = f.event.strip_suffix(":request").unwrap_or(&f.event);
    let is_new = matches!(
        base,
        "tsserver:cell:signature_help" | "tsserver:cell:rename" | "tsserver:cell:completion_details"
    );
    let known = is_new
        || matches!(
            f.event.as_str(),
            "tsserver:start"
                | "tsserver:stop"
                | "tsserver:cell:quickinfo:request"
                | "tsserver:cell:completions:request"
                | "tsserver:cell:definition_location:request"
        );
    let origin = Origin::of(f);
    if !known {
        // Like every bad frame: always answered.
        peer.send(origin.error_frame("unknown_event", format!("Unknown event '{}'", f.event)));
        return;
    }
    if !state.config.language_service {
        let message = "The language service is turned off (--no-language-service)".to_string();
        return origin.refuse(peer, "language_service_disabled", message);
    }
    if is_new && !peer.has_cap(CAP_TSSERVER) {
        let message = format!("'{}' needs the '{CAP_TSSERVER}' capability in subscribe", f.event);
        return origin.refuse(peer, "capability_required", message);
    }
    let Some(svc) = service(state, &f.notebook_id) else {
        return origin.refuse(peer, "notebook_not_found", format!("No notebook '{}'", f.notebook_id));
    };
    match f.event.as_str() {
        "tsserver:start" => {
            if let Err(e) = svc.start().await {
                origin.refuse(peer, e.code(), e.to_string());
            }
        }
        "tsserver:stop" => svc.stop().await,
        _ => request(svc, peer.clone(), f, origin, base),
    }
}

/// Answer a cell request in the background, so one slow reply does not hold up the connection.
fn request(svc: Arc<Service>, peer: Peer, f: &Frame, origin: Origin, base: &str) {
    let req = match serde_json::from_value::<CellRequest>(Value::Object(f.payload.clone())) {
        Ok(r) if r.request.location.line >= 1 => r,
        // Malformed payloads are always answered, as for every other event.
        Ok(_) => {
            peer.send(origin.error_frame("invalid_payload", "location.line is 1-based".into()));
            return;
        }
        Err(e) => {
            peer.send(
                origin.error_frame("invalid_payload", format!("Invalid payload for '{}': {e}", f.event)),
            );
            return;
        }
    };
    let tsserver_cap = peer.has_cap(CAP_TSSERVER);
    let query = match base {
        "tsserver:cell:quickinfo" => Query::QuickInfo,
        "tsserver:cell:completions" => Query::Completions { details: tsserver_cap },
        "tsserver:cell:definition_location" => Query::Definition,
        "tsserver:cell:signature_help" => Query::SignatureHelp,
        "tsserver:cell:rename" => match req.request.new_name.clone() {
            Some(n) if !n.trim().is_empty() => Query::Rename { new_name: n },
            _ => return origin.refuse(&peer, "invalid_payload", "request.newName is required".into()),
        },
        _ => match req.request.entry_names.clone() {
            Some(entries) if !entries.is_empty() => Query::CompletionDetails { entries },
            _ => return origin.refuse(&peer, "invalid_payload", "request.entryNames is required".into()),
        },
    };
    let reply_event = format!("{base}:response");
    tokio::spawn(async move {
        let (line, column) = (req.request.location.line as usize, req.request.location.offset as usize);
        match svc.query(&req.cell_id, line, column, query).await {
            // The stock client has no use for an empty hover or definition (upstream sends nothing).
            Ok(Value::Null) if !tsserver_cap && base_is_optional(&reply_event) => {}
            Ok(response) => {
                let mut payload = json!({"response": response});
                if let Some(rid) = &origin.request_id {
                    payload["requestId"] = rid.clone();
                }
                if tsserver_cap {
                    payload["cellId"] = json!(req.cell_id);
                }
                peer.send(frame(&origin.topic, &reply_event, &payload));
            }
            // The cell changed while tsserver answered: the reply is for older text. Quire's UI is
            // told (it asks again), the stock client just gets nothing.
            Err(Error::Stale) => origin.refuse(
                &peer,
                "stale_request",
                "The cell changed before the answer came; ask again".into(),
            ),
            Err(e) => origin.refuse(&peer, e.code(), e.to_string()),
        }
    });
}

fn base_is_optional(reply_event: &str) -> bool {
    reply_event != "tsserver:cell:completions:response"
}
