//! What each client event does: parse, call the notebook service, tell the right peers.

use super::hub::Peer;
use super::messages::{
    self, ClientEvent, EditEvent, FALLBACK_TOPIC, FrameError, Incoming, McpDecision, ServerEvent, Subscribe,
};
use super::publish::{cell_error, cell_updated};
use crate::error::{ApiError, Code};
use crate::state::AppState;
use quire_service::{Done, Edit, Refused};
use std::collections::HashSet;

/// Capabilities one connection may announce, and their longest name.
const MAX_CAPABILITIES: usize = 32;
const MAX_CAPABILITY_LEN: usize = 64;
/// How long a notebook nobody has open keeps its warm host.
const IDLE_HOST: std::time::Duration = std::time::Duration::from_secs(60);

pub struct Conn {
    state: AppState,
    peer: Peer,
    topics: HashSet<String>,
    jobs: super::ai::Jobs,
}

fn index_of(x: f64) -> Result<usize, ApiError> {
    if x.is_finite() && x >= 0.0 && x.fract() == 0.0 {
        Ok(x.min(usize::MAX as f64) as usize)
    } else {
        Err(invalid("index must be a non-negative integer".into()))
    }
}

fn invalid(message: String) -> ApiError {
    ApiError::new(Code::InvalidPayload, message)
}

/// The last subscriber may have left: release the host if nobody comes back within `IDLE_HOST`.
fn release_later(s: &AppState, nb: &str) {
    if s.hub.subscriber_count(nb) > 0 {
        return;
    }
    let (s, nb) = (s.clone(), nb.to_string());
    tokio::spawn(async move {
        tokio::time::sleep(IDLE_HOST).await;
        if s.hub.subscriber_count(&nb) == 0 {
            s.notebooks.release(&nb).await;
        }
    });
}

impl Conn {
    pub fn new(state: AppState, peer: Peer) -> Self {
        Conn { state, peer, topics: HashSet::new(), jobs: Default::default() }
    }

    /// Leave every topic (connection closed).
    pub fn close(&mut self) {
        self.jobs.abort_all();
        for t in std::mem::take(&mut self.topics) {
            self.leave(&t);
        }
    }

    fn leave(&mut self, notebook_id: &str) {
        self.state.hub.unsubscribe(notebook_id, self.peer.id);
        self.topics.remove(notebook_id);
        self.state.notebooks.language_detach(notebook_id, self.peer.id);
        release_later(&self.state, notebook_id);
    }

    fn send_error(&self, e: FrameError) {
        let topic = e.topic.clone().unwrap_or_else(|| FALLBACK_TOPIC.to_string());
        self.peer.deliver(&topic, &ServerEvent::Error(e.payload()));
    }

    pub fn reject_binary(&self) {
        self.send_error(FrameError {
            topic: None,
            code: Code::InvalidFrame,
            message: "Binary frames are not supported; send JSON text".into(),
            event: None,
            request_id: None,
        });
    }

    pub async fn handle_text(&mut self, text: &str) {
        match messages::parse(text) {
            Ok((f, event)) => self.dispatch(f, event).await,
            Err(e) => {
                tracing::debug!(conn = self.peer.id, code = e.code.as_str(), "bad websocket frame");
                self.send_error(*e);
            }
        }
    }

    fn error_for(f: &Incoming, code: Code, message: String) -> FrameError {
        FrameError {
            topic: Some(f.topic.clone()),
            code,
            message,
            event: Some(f.name.clone()),
            request_id: f.request_id.clone(),
        }
    }

    /// A well-formed request that was refused: an `error` event for clients that asked for them,
    /// a log line in every case.
    fn refuse(&self, f: &Incoming, err: &ApiError) {
        tracing::info!(conn = self.peer.id, event = %f.name, code = err.code.as_str(), message = %err.message, "request refused");
        // A server-side failure's detail stays in the log.
        let e = Self::error_for(f, err.code, err.public_message().to_string());
        self.peer.deliver(&f.topic, &ServerEvent::Refused(e.payload()));
    }

    async fn dispatch(&mut self, f: Incoming, event: ClientEvent) {
        let svc = self.state.notebooks.clone();
        let nb = f.notebook_id.as_str();
        let result: Result<(), ApiError> = match event {
            ClientEvent::Subscribe(sub) => return self.subscribe(&f, sub),
            ClientEvent::Ping => {
                self.peer.deliver(&f.topic, &ServerEvent::Pong { request_id: f.request_id.clone() });
                Ok(())
            }
            ClientEvent::Unsubscribe => {
                self.leave(nb);
                Ok(())
            }
            ClientEvent::Edit(e) => return self.edit(&f, e).await,
            ClientEvent::CellExec(r) => svc.run(nb, &r.cell_id).await.map_err(ApiError::from),
            ClientEvent::CellStop(r) => svc.stop(nb, &r.cell_id).map_err(ApiError::from),
            ClientEvent::CellExecAll => svc.run_all(nb).map_err(|_| ApiError::not_found("No such notebook")),
            ClientEvent::CellFormat(r) => svc.format(nb, &r.cell_id).await.map_err(ApiError::from),
            ClientEvent::DepsInstall(d) => {
                svc.install(nb, d.packages.unwrap_or_default()).await.map_err(ApiError::from)
            }
            ClientEvent::DepsValidate => {
                match svc.validate(nb).await {
                    Some(replies) => {
                        for packages in replies {
                            self.peer.deliver(&f.topic, &ServerEvent::DepsValidate { packages });
                        }
                    }
                    None => tracing::debug!(notebook = %nb, "dependency check skipped: no package.json"),
                }
                Ok(())
            }
            ClientEvent::Ts(t) => return super::tsserver::handle(&self.state, &self.peer, f, t).await,
            ClientEvent::Ai(e) => super::ai::handle(&self.state, &self.peer, &self.jobs, &f, e),
            ClientEvent::McpApprove(a) => {
                let decision = match a.decision {
                    McpDecision::Allow => quire_mcp::Decision::Allow,
                    McpDecision::Deny => quire_mcp::Decision::Deny,
                };
                let by = format!("a browser tab (connection {})", self.peer.id);
                self.state.mcp.gate.answer(&a.id, decision, a.always, by).map_err(ApiError::from)
            }
        };
        if let Err(e) = result {
            self.refuse(&f, &e);
        }
    }

    fn subscribe(&mut self, f: &Incoming, sub: Subscribe) {
        // Capabilities are kept for the connection's life: bound them, or 40 frames of long names
        // held hundreds of MiB.
        let mut caps = quire_stdx::write(&self.peer.caps);
        let fresh: Vec<String> = sub.capabilities.iter().filter(|c| !caps.contains(*c)).cloned().collect();
        if fresh.iter().any(|c| c.len() > MAX_CAPABILITY_LEN) || caps.len() + fresh.len() > MAX_CAPABILITIES {
            drop(caps);
            let message = format!(
                "At most {MAX_CAPABILITIES} capabilities of at most {MAX_CAPABILITY_LEN} characters per connection"
            );
            return self.send_error(Self::error_for(f, Code::InvalidPayload, message));
        }
        caps.extend(fresh);
        drop(caps);
        let nb = f.notebook_id.as_str();
        if let Err(e) = self.state.store.get(nb) {
            return self.refuse(f, &e.into());
        }
        self.state.hub.subscribe(nb, self.peer.clone());
        self.topics.insert(nb.to_string());
        self.state.notebooks.warm(nb);
        self.peer.deliver(&f.topic, &ServerEvent::Subscribed { id: sub.id });
        self.state.notebooks.language_attach(nb, self.peer.id);
    }

    async fn edit(&mut self, f: &Incoming, event: EditEvent) {
        let edit = match to_edit(event) {
            Ok(e) => e,
            Err(e) => return self.refuse(f, &e),
        };
        match self.state.notebooks.edit(&f.notebook_id, edit).await {
            Ok(done) => self.announce(f, done),
            Err(refused) => {
                let Refused { error, current } = *refused;
                let err = ApiError::from(error);
                self.refuse(f, &err);
                // Srcbook's rollback for a refused update/rename: cell:error, then the server's copy.
                if let Some(cell) = current {
                    let id = cell.id().to_string();
                    self.peer.deliver(&f.topic, &cell_error(id, err.message.clone(), err.attribute));
                    self.peer.deliver(&f.topic, &cell_updated(cell, None));
                }
            }
        }
    }

    /// Tell the other tabs (and the sender where the stored form differs from what it sent).
    fn announce(&self, f: &Incoming, done: Done) {
        super::publish::announce(&self.state.hub, &f.notebook_id, done, Some(self.peer.id));
    }
}

/// The service's edit for an edit event.
fn to_edit(event: EditEvent) -> Result<Edit, ApiError> {
    use EditEvent as E;
    Ok(match event {
        E::CellCreate(c) => Edit::Create { index: index_of(c.index)?, cell: c.cell },
        E::CellUpdate(u) => {
            Edit::Update { cell_id: u.cell_id, text: u.updates.text, source: u.updates.source }
        }
        E::CellRename(r) => Edit::Rename { cell_id: r.cell_id, filename: r.filename },
        E::CellDelete(r) => Edit::Delete { cell_id: r.cell_id },
        E::CellMove(m) => Edit::Move { cell_id: m.cell_id, index: index_of(m.index)? },
        E::TsconfigUpdate(t) => Edit::Tsconfig { source: t.source },
    })
}
