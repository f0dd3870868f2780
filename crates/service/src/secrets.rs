//! Secrets as a notebook sees them: links, the approval a link implies, and `env.d.ts`.

use crate::{NotebookService, Result, ServiceError};
use quire_notebook::lock;

impl NotebookService {
    /// Link (`link`) or unlink a secret. Linking a secret to the notebook on screen approves its
    /// content. `env.d.ts` is rewritten with every linked name either way.
    pub async fn link_secret(&self, notebook_id: &str, name: &str, link: bool) -> Result<()> {
        quire_notebook::check_secret_name(name)?;
        self.store.get(notebook_id)?;
        let (svc, id, name) = (self.clone(), notebook_id.to_string(), name.to_string());
        let job = tokio::task::spawn_blocking(move || {
            if link {
                svc.db.link_secret(&name, &id)?;
                svc.approve(&id)?;
            } else {
                svc.db.unlink_secret(&name, &id)?;
            }
            svc.refresh_env_types(&[id])
        });
        job.await.map_err(|e| ServiceError::Internal(e.to_string()))?
    }

    /// Rewrite `env.d.ts` of these notebooks with the names of the secrets linked to each (after a
    /// secret was renamed or deleted). Blocking.
    pub fn refresh_env_types(&self, notebook_ids: &[String]) -> Result<()> {
        for id in notebook_ids {
            let Ok(h) = self.store.get(id) else { continue };
            let names: Vec<String> = self.db.notebook_secrets(id)?.into_iter().map(|(n, _)| n).collect();
            lock(&h).write_env_types(&names)?;
        }
        Ok(())
    }
}
