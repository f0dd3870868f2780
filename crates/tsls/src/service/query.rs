//! Requests about a cell (hover, completions, definitions, signature help, renames): positions
//! translated to tsserver's, the reply awaited, and dropped when the cell changed meanwhile.

use super::*;

impl Service {
    /// Answer a request about a cell. Columns are 0-based as clients send them (tsserver's are 1-based).
    pub async fn query(
        self: &Arc<Self>,
        cell_id: &str,
        line: usize,
        column: usize,
        q: Query,
    ) -> Result<Value, Error> {
        let (command, mut args) = match &q {
            Query::QuickInfo => ("quickinfo", json!({})),
            Query::Completions { .. } => ("completionInfo", json!({})),
            Query::Definition => ("definition", json!({})),
            Query::SignatureHelp => ("signatureHelp", json!({})),
            Query::Rename { .. } => ("rename", json!({"findInStrings": false, "findInComments": false})),
            Query::CompletionDetails { entries } => {
                ("completionEntryDetails", json!({"entryNames": entries}))
            }
        };
        args["line"] = json!(line);
        args["offset"] = json!(column + 1);
        // The client sent its edit right before this request: ask about that text, not the one before.
        self.synced().await;
        let (reply, version, prefix) = {
            let st = self.running().await?;
            let f = st.files.get(cell_id).ok_or_else(|| Error::UnknownCell(cell_id.to_string()))?;
            args["file"] = json!(f.path);
            let at = crate::text::byte_index(&f.source, line, column + 1);
            let prefix = crate::text::word_before(&f.source, at).to_string();
            let rx = st.run.as_ref().expect("started").proc.request(command, args.clone());
            (rx, f.version, prefix)
        };
        let body = self.await_body(cell_id, version, reply).await?;
        match q {
            Query::QuickInfo | Query::SignatureHelp | Query::CompletionDetails { .. } => Ok(body),
            Query::Definition => {
                let st = self.state.lock().await;
                Ok(replies::definition(&body, |file| self.cell_ref(&st, file)))
            }
            Query::Rename { new_name } => {
                let st = self.state.lock().await;
                Ok(replies::rename(&body, &new_name, |file| self.cell_ref(&st, file)))
            }
            Query::Completions { details } => {
                if !details || body.is_null() {
                    return Ok(body);
                }
                let wanted = replies::detail_candidates(&body, &prefix);
                if wanted.is_empty() {
                    return Ok(body);
                }
                let reply = {
                    let st = self.state.lock().await;
                    let Some(run) = &st.run else { return Ok(body) };
                    args["entryNames"] = json!(wanted);
                    run.proc.request("completionEntryDetails", args)
                };
                let details = self.await_body(cell_id, version, reply).await?;
                Ok(replies::with_details(body, &details))
            }
        }
    }

    fn cell_ref(&self, st: &State, file: &str) -> Option<(String, String)> {
        let id = self.cell_for(st, file)?;
        Some((id.clone(), st.files[&id].filename.clone()))
    }

    /// A response body (`Null` when tsserver has none), or `Stale` when the cell changed meanwhile.
    async fn await_body(
        &self,
        cell_id: &str,
        version: u64,
        reply: tokio::sync::oneshot::Receiver<Value>,
    ) -> Result<Value, Error> {
        let resp = tokio::time::timeout(REPLY_TIMEOUT, reply)
            .await
            .map_err(|_| Error::Timeout)?
            .map_err(|_| Error::Stopped)?;
        let st = self.state.lock().await;
        if st.files.get(cell_id).is_none_or(|f| f.version != version) {
            return Err(Error::Stale);
        }
        // "No content available" and similar are answers without a body, not failures.
        Ok(if resp["success"] == true { resp["body"].clone() } else { Value::Null })
    }
}
