//! The language service's view of a notebook: its code cells and tsconfig, queued in edit order.

use crate::NotebookService;
use quire_notebook::{OpenNotebook, lock};
use quire_tsls::{ConnId, Service, Snapshot, SourceCell};
use srcmd::{Cell, Language};
use std::sync::Arc;

/// Setting (boolean): type-check JavaScript notebooks too.
pub const CHECK_JS_SETTING: &str = "javascriptTypeCheck";

fn snapshot(nb: &OpenNotebook, check_js: Option<bool>) -> Snapshot {
    let cells = nb
        .nb
        .cells
        .iter()
        .filter_map(|c| match c {
            Cell::Code(c) => {
                Some(SourceCell { id: c.id.clone(), filename: c.filename.clone(), source: c.source.clone() })
            }
            _ => None,
        })
        .collect();
    Snapshot {
        typescript: nb.nb.language == Language::Typescript,
        cells,
        tsconfig: nb.nb.tsconfig.clone(),
        check_js,
    }
}

impl NotebookService {
    fn check_js(&self) -> bool {
        let settings = self.db.settings().ok();
        settings.and_then(|s| s.get(CHECK_JS_SETTING).and_then(|v| v.as_bool())).unwrap_or(false)
    }

    /// The notebook's language service with its current cells queued (`None`: unknown notebook).
    pub fn language_service(&self, notebook_id: &str) -> Option<Arc<Service>> {
        let h = self.store.get(notebook_id).ok()?;
        let check = self.check_js();
        let nb = lock(&h);
        let svc = self.tsls.service(notebook_id, nb.dir.clone());
        svc.sync(snapshot(&nb, Some(check)));
        Some(svc)
    }

    /// A connection opened the notebook: start its tsserver (on the first one) and replay the
    /// current diagnostics to that connection.
    pub fn language_attach(&self, notebook_id: &str, conn: ConnId) {
        if !self.language_enabled {
            return;
        }
        let Some(svc) = self.language_service(notebook_id) else { return };
        self.tsls.attach(&svc, conn);
        tokio::spawn(async move {
            if svc.start().await.is_ok() {
                svc.replay(conn).await;
            }
        });
    }

    pub fn language_detach(&self, notebook_id: &str, conn: ConnId) {
        self.tsls.detach(notebook_id, conn);
    }

    /// Under the notebook's lock, after a change: the running service gets the new cells.
    pub(crate) fn language_changed(&self, notebook_id: &str, nb: &OpenNotebook) {
        if let Some(svc) = self.tsls.get(notebook_id) {
            svc.sync(snapshot(nb, None));
        }
    }

    /// New typings may resolve imports: reload the project and check again.
    pub(crate) async fn dependencies_changed(&self, notebook_id: &str) {
        if let Some(svc) = self.tsls.get(notebook_id) {
            svc.reload().await;
        }
    }
}
