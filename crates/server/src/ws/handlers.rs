//! What each client event does: validate, apply to the notebook (durably), then tell the right peers.

use super::hub::{Audience, Peer, frame};
use super::protocol::{self, FALLBACK_TOPIC, Frame, FrameError};
use crate::error::ApiError;
use crate::state::AppState;
use quire_notebook::{CellUpdate, Handle, lock};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use srcmd::Cell;
use std::collections::HashSet;

/// Events a later issue implements (AI).
const NOT_YET: &[&str] = &["ai:generate", "ai:fix_diagnostics"];

/// Capability: the client wants `error` events for refused requests.
pub const CAP_ERRORS: &str = "errors";
/// Capability: the client understands `cell:created`, `cell:deleted`, `cell:moved`.
pub const CAP_CELLS: &str = "cells";

/// Capabilities one connection may announce, and their longest name.
const MAX_CAPABILITIES: usize = 32;
const MAX_CAPABILITY_LEN: usize = 64;

pub struct Conn {
    state: AppState,
    peer: Peer,
    topics: HashSet<String>,
}

#[derive(Deserialize)]
struct Subscribe {
    id: Value,
    #[serde(default)]
    capabilities: Vec<String>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CellRef {
    cell_id: String,
}
#[derive(Deserialize)]
struct Create {
    index: f64,
    cell: Cell,
}
#[derive(Deserialize)]
struct Updates {
    text: Option<String>,
    source: Option<String>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Update {
    cell_id: String,
    updates: Updates,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rename {
    cell_id: String,
    filename: String,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Move {
    cell_id: String,
    index: f64,
}
#[derive(Deserialize)]
struct Install {
    packages: Option<Vec<String>>,
}
#[derive(Deserialize)]
struct Tsconfig {
    source: String,
}

fn index_of(x: f64) -> Result<usize, String> {
    if x.is_finite() && x >= 0.0 && x.fract() == 0.0 {
        Ok(x.min(usize::MAX as f64) as usize)
    } else {
        Err("index must be a non-negative integer".into())
    }
}

impl Conn {
    pub fn new(state: AppState, peer: Peer) -> Self {
        Conn { state, peer, topics: HashSet::new() }
    }

    /// Leave every topic (connection closed).
    pub fn close(&mut self) {
        for t in self.topics.drain() {
            self.state.hub.unsubscribe(&t, self.peer.id);
            super::tsserver::on_leave(&self.state, &t, self.peer.id);
            super::run::release_later(&self.state, &t);
        }
    }

    fn send(&self, topic: &str, event: &str, payload: Value) {
        self.peer.send(frame(topic, event, &payload));
    }

    fn send_error(&self, e: FrameError) {
        let mut payload = json!({"code": e.code, "message": e.message});
        if let Some(rid) = e.request_id {
            payload["requestId"] = rid;
        }
        self.send(e.topic.as_deref().unwrap_or(FALLBACK_TOPIC), "error", payload);
    }

    pub fn reject_binary(&self) {
        self.send_error(FrameError {
            topic: None,
            code: "invalid_frame",
            message: "Binary frames are not supported; send JSON text".into(),
            request_id: None,
        });
    }

    pub async fn handle_text(&mut self, text: &str) {
        match protocol::parse(text) {
            Ok(f) => self.dispatch(f).await,
            Err(e) => {
                tracing::debug!(conn = self.peer.id, code = e.code, "bad websocket frame");
                self.send_error(*e);
            }
        }
    }

    /// A malformed payload is always answered; the stock client never sends one.
    fn payload<T: DeserializeOwned>(&self, f: &Frame) -> Option<T> {
        match serde_json::from_value::<T>(Value::Object(f.payload.clone())) {
            Ok(v) => Some(v),
            Err(e) => {
                self.send_error(FrameError {
                    topic: Some(f.topic.clone()),
                    code: "invalid_payload",
                    message: format!("Invalid payload for '{}': {e}", f.event),
                    request_id: protocol::request_id(&f.payload),
                });
                None
            }
        }
    }

    /// An error every client gets (its request cannot mean anything), even without `errors`.
    fn refuse_always(&self, f: &Frame, code: &'static str, message: String) {
        self.send_error(FrameError {
            topic: Some(f.topic.clone()),
            code,
            message,
            request_id: protocol::request_id(&f.payload),
        });
    }

    /// A well-formed request that was refused: an `error` event for clients that asked for them,
    /// a log line in every case.
    fn refuse(&self, f: &Frame, err: &ApiError) {
        tracing::info!(conn = self.peer.id, event = %f.event, code = err.code, message = %err.message, "request refused");
        if self.peer.has_cap(CAP_ERRORS) {
            self.send_error(FrameError {
                topic: Some(f.topic.clone()),
                code: err.code,
                message: err.message.clone(),
                request_id: protocol::request_id(&f.payload),
            });
        }
    }

    async fn dispatch(&mut self, f: Frame) {
        match f.event.as_str() {
            "subscribe" => self.subscribe(&f),
            // Frames are handled in order, so `pong` tells a client every earlier frame was applied.
            "ping" => self.send(&f.topic, "pong", json!({"requestId": protocol::request_id(&f.payload)})),
            "unsubscribe" => {
                self.state.hub.unsubscribe(&f.notebook_id, self.peer.id);
                self.topics.remove(&f.notebook_id);
                super::tsserver::on_leave(&self.state, &f.notebook_id, self.peer.id);
                super::run::release_later(&self.state, &f.notebook_id);
            }
            "cell:create"
            | "cell:update"
            | "cell:rename"
            | "cell:delete"
            | "cell:move"
            | "tsconfig.json:update" => self.edit(&f).await,
            e if e.starts_with("tsserver:") => super::tsserver::handle(&self.state, &self.peer, &f).await,
            "cell:exec" | "cell:stop" | "cell:exec_all" | "cell:format" | "deps:install"
            | "deps:validate" => self.run_event(&f).await,
            e if NOT_YET.contains(&e) => self.not_yet(&f),
            other => self.send_error(FrameError {
                topic: Some(f.topic.clone()),
                code: "unknown_event",
                message: format!("Unknown event '{other}'"),
                request_id: protocol::request_id(&f.payload),
            }),
        }
    }

    fn subscribe(&mut self, f: &Frame) {
        let Some(sub) = self.payload::<Subscribe>(f) else { return };
        // Capabilities are kept for the connection's life: bound them, or 40 frames of long names
        // held hundreds of MiB.
        let mut caps = self.peer.caps.write().unwrap_or_else(|p| p.into_inner());
        let fresh: Vec<String> = sub.capabilities.into_iter().filter(|c| !caps.contains(c)).collect();
        if fresh.iter().any(|c| c.len() > MAX_CAPABILITY_LEN) || caps.len() + fresh.len() > MAX_CAPABILITIES {
            drop(caps);
            let message = format!(
                "At most {MAX_CAPABILITIES} capabilities of at most {MAX_CAPABILITY_LEN} characters per connection"
            );
            return self.refuse_always(f, "invalid_payload", message);
        }
        caps.extend(fresh);
        drop(caps);
        if let Err(e) = self.state.store.get(&f.notebook_id) {
            return self.refuse(f, &e.into());
        }
        self.state.hub.subscribe(&f.notebook_id, self.peer.clone());
        self.topics.insert(f.notebook_id.clone());
        super::run::warm(&self.state, &f.notebook_id);
        self.send(&f.topic, "subscribed", json!({"id": sub.id}));
        super::tsserver::on_subscribe(&self.state, &f.notebook_id, self.peer.id);
    }

    fn not_yet(&self, f: &Frame) {
        let err = ApiError::not_implemented(&format!("'{}'", f.event));
        self.refuse(f, &err);
    }

    async fn run_event(&mut self, f: &Frame) {
        let (s, nb) = (self.state.clone(), f.notebook_id.clone());
        let result = match f.event.as_str() {
            "cell:exec" => {
                let Some(r) = self.payload::<CellRef>(f) else { return };
                match super::run::start(&s, &nb, &r.cell_id).await {
                    Ok(rx) => {
                        tokio::spawn(async move {
                            super::run::finish(&s, &nb, &r.cell_id, rx).await;
                        });
                        let (s, nb) = (self.state.clone(), f.notebook_id.clone());
                        tokio::spawn(async move { super::run::nudge_deps(&s, &nb).await });
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            "cell:stop" => {
                let Some(r) = self.payload::<CellRef>(f) else { return };
                if s.runtime.stop(&nb, &r.cell_id) {
                    Ok(())
                } else {
                    Err(ApiError::new(
                        axum::http::StatusCode::CONFLICT,
                        "not_running",
                        "That cell is not running",
                    ))
                }
            }
            "cell:exec_all" => {
                if s.store.get(&nb).is_err() {
                    Err(ApiError::not_found("No such notebook"))
                } else {
                    tokio::spawn(super::run::exec_all(s, nb));
                    Ok(())
                }
            }
            "cell:format" => {
                let Some(r) = self.payload::<CellRef>(f) else { return };
                super::run::format(&s, &nb, &r.cell_id).await
            }
            "deps:install" => {
                let Some(d) = self.payload::<Install>(f) else { return };
                super::run::install(&s, &nb, d.packages.unwrap_or_default()).await
            }
            _ => {
                match super::run::validate(&s, &nb).await {
                    Some(replies) => {
                        for r in replies {
                            self.send(&f.topic, "deps:validate:response", r);
                        }
                    }
                    None => tracing::debug!(notebook = %nb, "deps:validate: no package.json"),
                }
                Ok(())
            }
        };
        if let Err(e) = result {
            self.refuse(f, &e);
        }
    }

    async fn edit(&mut self, f: &Frame) {
        let handle = match self.state.store.get(&f.notebook_id) {
            Ok(h) => h,
            Err(e) => return self.refuse(f, &e.into()),
        };
        let parsed = match f.event.as_str() {
            "cell:create" => self.payload::<Create>(f).map(Op::Create),
            "cell:update" => self.payload::<Update>(f).map(Op::Update),
            "cell:rename" => self.payload::<Rename>(f).map(Op::Rename),
            "cell:delete" => self.payload::<CellRef>(f).map(|r| Op::Delete(r.cell_id)),
            "cell:move" => self.payload::<Move>(f).map(Op::Move),
            _ => self.payload::<Tsconfig>(f).map(|t| Op::Tsconfig(t.source)),
        };
        let Some(op) = parsed else { return };
        let cell_id = op.cell_id();
        let h = handle.clone();
        let (s, id) = (self.state.clone(), f.notebook_id.clone());
        let result =
            tokio::task::spawn_blocking(move || crate::stamps::keep(&s, &id, &h, || op.apply(&h))).await;
        let result = match result {
            Ok(r) => r,
            Err(e) => Err(ApiError::internal(format!("edit task failed: {e}"))),
        };
        match result {
            Ok(done) => {
                self.announce(f, done);
                super::tsserver::notebook_changed(&self.state, &f.notebook_id);
            }
            Err(err) => {
                self.refuse(f, &err);
                // Srcbook's rollback for a refused update/rename: cell:error, then the server's copy.
                if let Some(id) =
                    cell_id.filter(|_| matches!(f.event.as_str(), "cell:update" | "cell:rename"))
                    && let Ok(cell) = lock(&handle).cell(&id).cloned()
                {
                    let mut e = json!({"message": err.message});
                    if let Some(a) = err.attribute {
                        e["attribute"] = json!(a);
                    }
                    self.send(&f.topic, "cell:error", json!({"cellId": id, "errors": [e]}));
                    self.send(&f.topic, "cell:updated", json!({"cell": cell}));
                }
            }
        }
    }

    /// Tell the other tabs (and the sender where the stored form differs from what it sent).
    fn announce(&self, f: &Frame, done: Done) {
        let hub = &self.state.hub;
        let id = &f.notebook_id;
        match done {
            Done::Created { index, cell } => hub.broadcast(
                id,
                "cell:created",
                &json!({"index": index, "cell": cell}),
                Audience::WithCap(CAP_CELLS),
            ),
            Done::Updated { cell, changed } => {
                let to = if changed { Audience::All } else { Audience::AllExcept(self.peer.id) };
                hub.broadcast(id, "cell:updated", &json!({"cell": cell}), to)
            }
            Done::Deleted(cell_id) => {
                hub.broadcast(id, "cell:deleted", &json!({"cellId": cell_id}), Audience::WithCap(CAP_CELLS))
            }
            Done::Moved { cell_id, index } => hub.broadcast(
                id,
                "cell:moved",
                &json!({"cellId": cell_id, "index": index}),
                Audience::WithCap(CAP_CELLS),
            ),
            Done::Tsconfig(source) => {
                hub.broadcast(id, "tsconfig.json:updated", &json!({"source": source}), Audience::All)
            }
        }
    }
}

enum Op {
    Create(Create),
    Update(Update),
    Rename(Rename),
    Delete(String),
    Move(Move),
    Tsconfig(String),
}

enum Done {
    Created {
        index: usize,
        cell: Cell,
    },
    /// `changed`: the stored cell differs from what the sender sent (normalised markdown, renamed file).
    Updated {
        cell: Cell,
        changed: bool,
    },
    Deleted(String),
    Moved {
        cell_id: String,
        index: usize,
    },
    Tsconfig(String),
}

fn invalid(message: String) -> ApiError {
    ApiError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload", message)
}

impl Op {
    fn cell_id(&self) -> Option<String> {
        match self {
            Op::Update(u) => Some(u.cell_id.clone()),
            Op::Rename(r) => Some(r.cell_id.clone()),
            _ => None,
        }
    }

    fn apply(self, h: &Handle) -> Result<Done, ApiError> {
        let mut nb = lock(h);
        Ok(match self {
            Op::Create(c) => {
                let (index, cell) = nb.create_cell(index_of(c.index).map_err(invalid)?, c.cell)?;
                Done::Created { index, cell }
            }
            Op::Update(u) => {
                let wants_text = matches!(nb.cell(&u.cell_id)?, Cell::Title(_) | Cell::Markdown(_));
                let (sent, update) = match (wants_text, u.updates.text, u.updates.source) {
                    (true, Some(t), _) => (t.clone(), CellUpdate::Text(t)),
                    (false, _, Some(s)) => (s.clone(), CellUpdate::Source(s)),
                    (true, None, Some(s)) => (s.clone(), CellUpdate::Source(s)),
                    (false, Some(t), None) => (t.clone(), CellUpdate::Text(t)),
                    (_, None, None) => return Err(invalid("updates must contain text or source".into())),
                };
                let cell = nb.update_cell(&u.cell_id, update)?;
                let stored = match &cell {
                    Cell::Title(t) => &t.text,
                    Cell::Markdown(m) => &m.text,
                    Cell::Code(c) => &c.source,
                    Cell::PackageJson(p) => &p.source,
                    Cell::Placeholder(p) => &p.text,
                };
                let changed = *stored != sent;
                Done::Updated { cell, changed }
            }
            Op::Rename(r) => Done::Updated { cell: nb.rename_cell(&r.cell_id, &r.filename)?, changed: false },
            Op::Delete(id) => {
                nb.delete_cell(&id)?;
                Done::Deleted(id)
            }
            Op::Move(m) => {
                let index = nb.move_cell(&m.cell_id, index_of(m.index).map_err(invalid)?)?;
                Done::Moved { cell_id: m.cell_id, index }
            }
            Op::Tsconfig(source) => {
                nb.update_tsconfig(&source)?;
                Done::Tsconfig(source)
            }
        })
    }
}

/// What the server makes of one client text frame without acting on it (fuzzing): the envelope as
/// `protocol::parse` reads it, then the payload as the handler for its event types it. `Ok(event)`, or
/// the error code the connection would be sent.
pub fn parse_client_message(text: &str) -> Result<String, &'static str> {
    fn typed<T: DeserializeOwned>(f: &Frame) -> Result<(), &'static str> {
        serde_json::from_value::<T>(Value::Object(f.payload.clone()))
            .map(|_| ())
            .map_err(|_| "invalid_payload")
    }
    let f = protocol::parse(text).map_err(|e| e.code)?;
    match f.event.as_str() {
        "subscribe" => typed::<Subscribe>(&f)?,
        "cell:create" => {
            let c = serde_json::from_value::<Create>(Value::Object(f.payload.clone()));
            index_of(c.map_err(|_| "invalid_payload")?.index).map_err(|_| "invalid_payload")?;
        }
        "cell:update" => typed::<Update>(&f)?,
        "cell:rename" => typed::<Rename>(&f)?,
        "cell:move" => {
            let m = serde_json::from_value::<Move>(Value::Object(f.payload.clone()));
            index_of(m.map_err(|_| "invalid_payload")?.index).map_err(|_| "invalid_payload")?;
        }
        "cell:delete" | "cell:exec" | "cell:stop" | "cell:format" => typed::<CellRef>(&f)?,
        "deps:install" => typed::<Install>(&f)?,
        "tsconfig.json:update" => typed::<Tsconfig>(&f)?,
        _ => {}
    }
    Ok(f.event)
}
