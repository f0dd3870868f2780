//! The hook through which the co-editing layer (`quire-collab`) hears of every change committed to
//! a notebook, whoever made it: a stock client's whole-cell update, an MCP tool, formatting, an
//! install re-reading package.json. It is called under the notebook's lock, so changes arrive in
//! the order they were committed.

use quire_notebook::OpenNotebook;
use srcmd::Cell;

pub trait Coedit: Send + Sync + 'static {
    /// Whether `notebook_id` has a live document (only then is `before` worth copying).
    fn watching(&self, notebook_id: &str) -> bool;
    /// A change was committed: `before` is the cell list before it, `after` the notebook now.
    fn committed(&self, notebook_id: &str, before: &[Cell], after: &OpenNotebook);
}
