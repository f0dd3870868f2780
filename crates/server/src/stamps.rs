//! Keeping notebook stamps current (see `quire_notebook`'s `stamp.rs`): content changed through Quire
//! keeps a valid stamp valid; nothing here ever stamps content that was not approved before, except
//! the explicit approvals (create, link a secret, `POST /api/sessions/:id/approve`).

use crate::state::AppState;
use quire_notebook::{Handle, lock};

/// Run `change` on the notebook; if its stamp was valid before, stamp the new content.
pub fn keep<T>(s: &AppState, id: &str, h: &Handle, change: impl FnOnce() -> T) -> T {
    let was_valid = s.db.stamp_matches(id, &lock(h).content_digest()).unwrap_or(false);
    let out = change();
    if was_valid {
        approve(s, id, h);
    }
    out
}

/// Stamp the notebook's current content.
pub fn approve(s: &AppState, id: &str, h: &Handle) {
    let digest = lock(h).content_digest();
    if let Err(e) = s.db.stamp(id, &digest) {
        tracing::error!(notebook = id, error = %e, "could not stamp the notebook");
    }
}
