//! Edits: applied in one hold of the notebook's lock together with everything that must agree with
//! them — the stamp (content approved before stays approved) and the language service's view.

use crate::{NotebookService, Result, ServiceError};
use quire_notebook::{CellUpdate, OpenNotebook, lock};
use srcmd::Cell;

pub enum Edit {
    Create {
        index: usize,
        cell: Cell,
    },
    /// Text for title and markdown cells, source for code and package.json (either is accepted).
    Update {
        cell_id: String,
        text: Option<String>,
        source: Option<String>,
    },
    Rename {
        cell_id: String,
        filename: String,
    },
    Delete {
        cell_id: String,
    },
    Move {
        cell_id: String,
        index: usize,
    },
    Tsconfig {
        source: String,
    },
}

#[derive(Clone, Debug)]
pub enum Done {
    Created {
        index: usize,
        cell: Cell,
    },
    /// `changed`: the stored cell differs from what was sent (normalised markdown), so the sender
    /// needs it too.
    Updated {
        cell: Cell,
        changed: bool,
    },
    Deleted {
        cell_id: String,
    },
    Moved {
        cell_id: String,
        index: usize,
    },
    Tsconfig {
        source: String,
    },
}

/// A refused edit, with the server's copy of the cell for an update or rename (Srcbook's rollback).
pub struct Refused {
    pub error: ServiceError,
    pub current: Option<Cell>,
}

impl Edit {
    fn rolls_back(&self) -> Option<&str> {
        match self {
            Edit::Update { cell_id, .. } | Edit::Rename { cell_id, .. } => Some(cell_id),
            _ => None,
        }
    }

    fn apply(self, nb: &mut OpenNotebook) -> Result<Done> {
        Ok(match self {
            Edit::Create { index, cell } => {
                let (index, cell) = nb.create_cell(index, cell)?;
                Done::Created { index, cell }
            }
            Edit::Update { cell_id, text, source } => {
                let wants_text = matches!(nb.cell(&cell_id)?, Cell::Title(_) | Cell::Markdown(_));
                let (sent, update) = match (wants_text, text, source) {
                    (true, Some(t), _) => (t.clone(), CellUpdate::Text(t)),
                    (false, _, Some(s)) => (s.clone(), CellUpdate::Source(s)),
                    (true, None, Some(s)) => (s.clone(), CellUpdate::Source(s)),
                    (false, Some(t), None) => (t.clone(), CellUpdate::Text(t)),
                    (_, None, None) => {
                        return Err(ServiceError::Invalid("updates must contain text or source".into()));
                    }
                };
                let cell = nb.update_cell(&cell_id, update)?;
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
            Edit::Rename { cell_id, filename } => {
                Done::Updated { cell: nb.rename_cell(&cell_id, &filename)?, changed: false }
            }
            Edit::Delete { cell_id } => {
                nb.delete_cell(&cell_id)?;
                Done::Deleted { cell_id }
            }
            Edit::Move { cell_id, index } => {
                let index = nb.move_cell(&cell_id, index)?;
                Done::Moved { cell_id, index }
            }
            Edit::Tsconfig { source } => {
                nb.update_tsconfig(&source)?;
                Done::Tsconfig { source }
            }
        })
    }
}

impl NotebookService {
    /// Apply an edit durably. One lock hold: digest, apply, digest, stamp, language-service view.
    pub async fn edit(&self, notebook_id: &str, edit: Edit) -> std::result::Result<Done, Box<Refused>> {
        let (svc, id) = (self.clone(), notebook_id.to_string());
        let refused = |error| Box::new(Refused { error, current: None });
        let job = tokio::task::spawn_blocking(move || {
            let h = svc.store.get(&id).map_err(|e| refused(e.into()))?;
            let mut nb = lock(&h);
            let rollback = edit.rolls_back().map(str::to_string);
            match svc.commit(&id, &mut nb, |nb| edit.apply(nb)) {
                Ok(done) => Ok(done),
                Err(error) => {
                    let current = rollback.and_then(|c| nb.cell(&c).ok().cloned());
                    Err(Box::new(Refused { error, current }))
                }
            }
        });
        job.await.unwrap_or_else(|e| Err(refused(ServiceError::Internal(format!("edit task failed: {e}")))))
    }

    /// Run `change` on a locked notebook; on success keep a valid stamp valid and queue the new
    /// cells for the language service, both before the lock is let go (so they follow edit order).
    pub(crate) fn commit<T>(
        &self,
        id: &str,
        nb: &mut OpenNotebook,
        change: impl FnOnce(&mut OpenNotebook) -> Result<T>,
    ) -> Result<T> {
        let coedit = self.coedit().filter(|c| c.watching(id));
        let before = coedit.map(|_| nb.nb.cells.clone());
        let out = self.commit_quietly(id, nb, change)?;
        if let (Some(c), Some(before)) = (coedit, before) {
            c.committed(id, &before, nb);
        }
        Ok(out)
    }

    /// `commit` without telling the co-editing layer: for changes that come from its document.
    fn commit_quietly<T>(
        &self,
        id: &str,
        nb: &mut OpenNotebook,
        change: impl FnOnce(&mut OpenNotebook) -> Result<T>,
    ) -> Result<T> {
        let was_valid = self.db.stamp_matches(id, &nb.content_digest()).unwrap_or(false);
        let out = change(nb)?;
        if was_valid {
            self.stamp_locked(id, nb);
        }
        self.language_changed(id, nb);
        Ok(out)
    }

    /// Edits that come from the co-editing document (already merged there), applied in order in one
    /// hold of the lock; each answers on its own (a refused one does not stop the rest). `check`
    /// runs under the same lock first and may return the edits to make from the notebook as it is.
    pub async fn edit_from_doc(
        &self,
        notebook_id: &str,
        plan: impl FnOnce(&OpenNotebook) -> Vec<Edit> + Send + 'static,
    ) -> Result<Vec<std::result::Result<Done, Refused>>> {
        let (svc, id) = (self.clone(), notebook_id.to_string());
        let job = tokio::task::spawn_blocking(move || {
            let h = svc.store.get(&id)?;
            let mut nb = lock(&h);
            let edits = plan(&nb);
            let mut out = Vec::with_capacity(edits.len());
            for edit in edits {
                let rollback = edit.rolls_back().map(str::to_string);
                out.push(match svc.commit_quietly(&id, &mut nb, |nb| edit.apply(nb)) {
                    Ok(done) => Ok(done),
                    Err(error) => {
                        let current = rollback.and_then(|c| nb.cell(&c).ok().cloned());
                        Err(Refused { error, current })
                    }
                });
            }
            Ok(out)
        });
        job.await.map_err(|e| ServiceError::Internal(format!("edit task failed: {e}")))?
    }

    pub(crate) fn stamp_locked(&self, id: &str, nb: &OpenNotebook) {
        if let Err(e) = self.db.stamp(id, &nb.content_digest()) {
            tracing::error!(notebook = id, error = %e, "could not stamp the notebook");
        }
    }

    /// Approve the notebook's current content (create, import, linking a secret, `approve`).
    pub fn approve(&self, notebook_id: &str) -> Result<()> {
        let h = self.store.get(notebook_id)?;
        let nb = lock(&h);
        self.stamp_locked(notebook_id, &nb);
        Ok(())
    }
}
