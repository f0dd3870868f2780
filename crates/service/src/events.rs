//! What the service tells a notebook's subscribers while work goes on (runs, installs, formatting).
//! Edits answer their caller instead; the transport decides who else hears of them.

use quire_runtime::{Outcome, Stream};
use srcmd::Cell;

#[derive(Debug, Clone)]
pub enum Event {
    /// A cell's run status changed; `outcome` when a run or install ended.
    Status {
        cell: Cell,
        outcome: Option<Outcome>,
    },
    Output {
        cell_id: String,
        stream: Stream,
        text: String,
    },
    /// Srcbook's dependency nudge: `None` = package.json and node_modules disagree; `Some` = imports
    /// that are not declared.
    Dependencies {
        missing: Option<Vec<String>>,
    },
    Formatted {
        cell_id: String,
        cell: Cell,
    },
    /// A cell-level error (Srcbook's `cell:error`), followed by the server's copy of the cell.
    CellError {
        cell_id: String,
        message: String,
        attribute: Option<&'static str>,
    },
    Restored {
        cell: Cell,
    },
}

/// Where events go (the transport's fan-out).
pub trait Publish: Send + Sync + 'static {
    fn publish(&self, notebook_id: &str, event: Event);
}

/// Drops everything (tools and tests with nobody listening).
pub struct Nobody;

impl Publish for Nobody {
    fn publish(&self, _: &str, _: Event) {}
}
