//! Checking a proposed version of a cell without touching the cell: the text is opened in tsserver
//! as a file beside the cells (so its imports resolve as the cell's would) that never exists on disk,
//! asked for its diagnostics, and closed again. The AI fix loop checks its proposals this way.

use super::*;

static SCRATCH: AtomicU64 = AtomicU64::new(0);

impl Service {
    /// tsserver's syntactic and semantic diagnostics (Srcbook's shape) for `source` as if it were the
    /// code cell `filename`.
    pub async fn check_scratch(self: &Arc<Self>, filename: &str, source: &str) -> Result<Vec<Value>, Error> {
        let n = SCRATCH.fetch_add(1, Ordering::Relaxed);
        let file = File {
            filename: filename.to_string(),
            source: source.to_string(),
            version: 0,
            path: self.dir.join("src").join(format!(".quire-scratch-{n}-{filename}")),
        };
        let (syntactic, semantic) = {
            let st = self.running().await?;
            let run = st.run.as_ref().expect("started");
            run.proc.send("updateOpen", json!({"openFiles": [open_entry(&self.dir, &file)]}));
            let args = json!({"file": file.path});
            (
                run.proc.request("syntacticDiagnosticsSync", args.clone()),
                run.proc.request("semanticDiagnosticsSync", args),
            )
        };
        let mut out = Vec::new();
        for reply in [syntactic, semantic] {
            let resp = tokio::time::timeout(REPLY_TIMEOUT, reply)
                .await
                .map_err(|_| Error::Timeout)?
                .map_err(|_| Error::Stopped)?;
            out.extend(replies::diagnostics(&resp["body"]));
        }
        if let Some(run) = &self.state.lock().await.run {
            run.proc.send("updateOpen", json!({"closedFiles": [file.path]}));
        }
        Ok(out)
    }
}
