//! The notebook service's events, rendered as Srcbook events and sent to the notebook's subscribers.

use super::hub::{Audience, Hub};
use super::messages::{CellErrorItem, CellUpdated, CellWithResult, Output, RunResult, ServerEvent};
use quire_runtime::{Outcome, Stream};
use quire_service::{Done, Event, Publish};
use srcmd::Cell;
use std::sync::Arc;

pub struct ToSubscribers(pub Arc<Hub>);

impl Publish for ToSubscribers {
    fn publish(&self, notebook_id: &str, event: Event) {
        self.0.broadcast(notebook_id, &render(event), Audience::All);
    }
}

/// Edits no WebSocket client sent (MCP tools, the co-editing document), to the subscribers.
pub struct AnnounceToHub(pub Arc<Hub>);

impl quire_service::Announce for AnnounceToHub {
    fn edited(&self, notebook_id: &str, done: &Done) {
        announce(&self.0, notebook_id, done.clone(), None);
    }

    fn refused(&self, notebook_id: &str, refused: quire_service::Refused) {
        let Some(cell) = refused.current else { return };
        let err = crate::error::ApiError::from(refused.error);
        let id = cell.id().to_string();
        self.0.broadcast(notebook_id, &cell_error(id, err.message, err.attribute), Audience::All);
        self.0.broadcast(notebook_id, &cell_updated(cell, None), Audience::All);
    }
}

/// An applied edit, to the notebook's subscribers: all of them, or all but `sender` when what
/// it sent is what was stored (the WebSocket's own edits; MCP's have no sender).
pub fn announce(hub: &Hub, id: &str, done: Done, sender: Option<super::hub::ConnId>) {
    match done {
        Done::Created { index, cell } => {
            hub.broadcast(id, &ServerEvent::CellCreated { index, cell }, Audience::All)
        }
        Done::Updated { cell, changed } => {
            let to = match sender {
                Some(peer) if !changed => Audience::AllExcept(peer),
                _ => Audience::All,
            };
            hub.broadcast(id, &cell_updated(cell, None), to)
        }
        Done::Deleted { cell_id } => hub.broadcast(id, &ServerEvent::CellDeleted { cell_id }, Audience::All),
        Done::Moved { cell_id, index } => {
            hub.broadcast(id, &ServerEvent::CellMoved { cell_id, index }, Audience::All)
        }
        Done::Tsconfig { source } => {
            hub.broadcast(id, &ServerEvent::TsconfigUpdated { source }, Audience::All)
        }
    }
}

/// `cell:updated` for a cell, with a run's result beside it and on it when a run ended.
pub fn cell_updated(cell: Cell, outcome: Option<&Outcome>) -> ServerEvent {
    let result = outcome.map(|o| RunResult {
        exit_code: o.exit_code,
        signal: o.signal.clone(),
        duration_ms: o.duration_ms,
    });
    ServerEvent::CellUpdated(Box::new(CellUpdated {
        result: result.clone(),
        timed_out: outcome.is_some_and(|o| o.timed_out),
        cell: CellWithResult { cell, result },
    }))
}

pub fn cell_error(cell_id: String, message: String, attribute: Option<&'static str>) -> ServerEvent {
    ServerEvent::CellError { cell_id, errors: vec![CellErrorItem { message, attribute }] }
}

fn render(event: Event) -> ServerEvent {
    match event {
        Event::Status { cell, outcome } => cell_updated(cell, outcome.as_ref()),
        Event::Output { cell_id, stream, text } => {
            let stream = if stream == Stream::Stdout { "stdout" } else { "stderr" };
            ServerEvent::CellOutput { cell_id, output: Output { stream, data: text } }
        }
        Event::Dependencies { missing } => ServerEvent::DepsValidate { packages: missing },
        Event::Formatted { cell_id, cell } => ServerEvent::CellFormatted { cell_id, cell },
        Event::CellError { cell_id, message, attribute } => cell_error(cell_id, message, attribute),
        Event::Restored { cell } => cell_updated(cell, None),
    }
}
