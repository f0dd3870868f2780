//! The language service on the WebSocket: `tsserver:*` requests answered through the notebook
//! service's view of the notebook, and `quire_tsls`' diagnostics sent to the notebook's subscribers.
//!
//! Replies go only to the connection that asked, with its `requestId`; a reply computed for an older
//! version of the cell is dropped. Quire's additions go only to connections with the `tsserver`
//! capability (decided by the hub from the event).

use super::hub::{Audience, Peer};
use super::messages::{
    CellRequest, ErrorPayload, Incoming, ServerEvent, TsAnswer, TsEvent, TsQuery, caps, topic,
};
use crate::error::Code;
use crate::state::{AppState, Config};
use quire_tsls::{Error, Manager, OutEvent, Output, Query, Service};
use serde_json::Value;
use std::sync::Arc;

pub fn manager(config: &Config) -> Manager {
    Manager::new(config.data_dir.cache(), config.language.idle, config.runtime.node.clone())
        .with_sandbox(config.runtime.sandbox.clone())
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
    let event = match out.event {
        OutEvent::Diagnostics { cell_id, diagnostics } => ServerEvent::TsDiagnostics { cell_id, diagnostics },
        OutEvent::Suggestions { cell_id, diagnostics } => ServerEvent::TsSuggestions { cell_id, diagnostics },
        OutEvent::Error { code, message } => ServerEvent::TsError { code, message },
    };
    let id = &out.notebook_id;
    match out.to {
        None => state.hub.broadcast(id, &event, Audience::All),
        Some(conn) => {
            if let Some(peer) = state.hub.peer(id, conn) {
                peer.deliver(&topic(id), &event);
            }
        }
    }
}

/// Where a request came from: enough to answer it after the frame is gone.
#[derive(Clone)]
struct Origin {
    topic: String,
    event: String,
    request_id: Option<Value>,
}

impl Origin {
    fn error(&self, code: &'static str, message: String) -> ErrorPayload {
        ErrorPayload { code, message, event: Some(self.event.clone()), request_id: self.request_id.clone() }
    }

    /// A refused well-formed request: an `error` event for clients that take them.
    fn refuse(&self, peer: &Peer, code: &'static str, message: String) {
        tracing::debug!(conn = peer.id, event = %self.event, code, %message, "tsserver request refused");
        peer.deliver(&self.topic, &ServerEvent::TsRefused(self.error(code, message)));
    }
}

/// A `tsserver:*` event from a client.
pub async fn handle(state: &AppState, peer: &Peer, f: Incoming, event: TsEvent) {
    let origin = Origin { topic: f.topic, event: f.name, request_id: f.request_id };
    if !state.config.language.enabled {
        let message = "The language service is turned off (--no-language-service)".to_string();
        return origin.refuse(peer, Code::LanguageServiceDisabled.as_str(), message);
    }
    if let TsEvent::Request(q, _) = &event
        && q.is_new()
        && !peer.has_cap(caps::TSSERVER)
    {
        let message = format!("'{}' needs the '{}' capability in subscribe", origin.event, caps::TSSERVER);
        return origin.refuse(peer, Code::CapabilityRequired.as_str(), message);
    }
    let Some(svc) = state.notebooks.language_service(&f.notebook_id) else {
        return origin.refuse(
            peer,
            Code::NotebookNotFound.as_str(),
            format!("No notebook '{}'", f.notebook_id),
        );
    };
    match event {
        TsEvent::Start => {
            if let Err(e) = svc.start().await {
                origin.refuse(peer, e.code(), e.to_string());
            }
        }
        TsEvent::Stop => svc.stop().await,
        TsEvent::Request(q, req) => request(svc, peer.clone(), origin, q, req),
    }
}

/// Answer a cell request in the background, so one slow reply does not hold up the connection.
fn request(svc: Arc<Service>, peer: Peer, origin: Origin, q: TsQuery, req: CellRequest) {
    let tsserver_cap = peer.has_cap(caps::TSSERVER);
    let query = match q {
        TsQuery::QuickInfo => Query::QuickInfo,
        TsQuery::Completions => Query::Completions { details: tsserver_cap },
        TsQuery::Definition => Query::Definition,
        TsQuery::SignatureHelp => Query::SignatureHelp,
        TsQuery::Rename => match req.request.new_name {
            Some(n) if !n.trim().is_empty() => Query::Rename { new_name: n },
            _ => {
                return origin.refuse(
                    &peer,
                    Code::InvalidPayload.as_str(),
                    "request.newName is required".into(),
                );
            }
        },
        TsQuery::CompletionDetails => match req.request.entry_names {
            Some(entries) if !entries.is_empty() => Query::CompletionDetails { entries },
            _ => {
                return origin.refuse(
                    &peer,
                    Code::InvalidPayload.as_str(),
                    "request.entryNames is required".into(),
                );
            }
        },
    };
    tokio::spawn(async move {
        let (line, column) = (req.request.location.line as usize, req.request.location.offset as usize);
        match svc.query(&req.cell_id, line, column, query).await {
            Ok(Value::Null) if !tsserver_cap && q.empty_is_silent() => {}
            Ok(response) => {
                let answer = TsAnswer {
                    query: q,
                    response,
                    request_id: origin.request_id.clone(),
                    cell_id: tsserver_cap.then_some(req.cell_id),
                };
                peer.deliver(&origin.topic, &ServerEvent::TsAnswer(answer));
            }
            // The cell changed while tsserver answered: the reply is for older text. Quire's UI is
            // told (it asks again), the stock client just gets nothing.
            Err(Error::Stale) => origin.refuse(
                &peer,
                Code::StaleRequest.as_str(),
                "The cell changed before the answer came; ask again".into(),
            ),
            Err(e) => origin.refuse(&peer, e.code(), e.to_string()),
        }
    });
}
