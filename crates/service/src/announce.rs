//! Where edits that no WebSocket client sent are announced (MCP tools, the co-editing document):
//! the server renders them for the notebook's subscribers exactly as it does a WebSocket edit.

use crate::{Done, Refused};

pub trait Announce: Send + Sync + 'static {
    fn edited(&self, notebook_id: &str, done: &Done);
    /// An edit was refused; `current` (when set) is the server's copy of the cell.
    fn refused(&self, _notebook_id: &str, _refused: Refused) {}
}

/// Nobody to tell (stdio with the engine in-process, tests).
pub struct Quiet;

impl Announce for Quiet {
    fn edited(&self, _: &str, _: &Done) {}
}
