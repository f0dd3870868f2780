//! The notebook service: what a transport (the WebSocket, HTTP routes, later MCP) may ask of a
//! notebook, as async calls that own their blocking work. It sits above `notebook`, `runtime` and
//! `tsls` and below `server`, so domain policy — stamps, withheld secrets, run-all, install and
//! reload, format and save — lives here and not in the transport. It knows no HTTP and no wire
//! format: edits answer their caller, everything else is published as an `Event`.

#![forbid(unsafe_code)]

mod announce;
mod coedit;
mod edit;
mod error;
mod events;
mod language;
mod run;
mod runner;
mod scratch;
mod secrets;

pub use announce::{Announce, Quiet};
pub use coedit::Coedit;
pub use edit::{Done, Edit, Refused};
pub use error::{Result, ServiceError};
pub use events::{Event, Nobody, Publish};
pub use language::CHECK_JS_SETTING;
pub use run::Finished;
pub use runner::{FakeRunner, NodeRunner, Runner};
pub use scratch::ScratchRun;

use quire_notebook::{Database, NotebookStore};
use std::sync::{Arc, OnceLock};

#[derive(Clone)]
pub struct NotebookService(Arc<Shared>);

struct Shared {
    parts: Parts,
    /// Set once by the co-editing layer, which is built from the service itself.
    coedit: OnceLock<Arc<dyn Coedit>>,
}

/// What the service is built from (the binary, or a test, chooses each).
pub struct Parts {
    pub store: Arc<NotebookStore>,
    pub db: Arc<dyn Database>,
    pub runner: Arc<dyn Runner>,
    pub tsls: Arc<quire_tsls::Manager>,
    pub publish: Arc<dyn Publish>,
    /// Start tsservers for subscribers (off: `--no-language-service`).
    pub language_enabled: bool,
}

impl std::ops::Deref for NotebookService {
    type Target = Parts;
    fn deref(&self) -> &Parts {
        &self.0.parts
    }
}

impl NotebookService {
    pub fn new(parts: Parts) -> Self {
        NotebookService(Arc::new(Shared { parts, coedit: OnceLock::new() }))
    }

    /// Install the co-editing layer (once; a second call is ignored and returns false).
    pub fn set_coedit(&self, coedit: Arc<dyn Coedit>) -> bool {
        self.0.coedit.set(coedit).is_ok()
    }

    pub(crate) fn coedit(&self) -> Option<&Arc<dyn Coedit>> {
        self.0.coedit.get()
    }
}
