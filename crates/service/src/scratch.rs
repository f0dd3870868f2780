//! Trying a proposed version of a code cell without touching it: type-checked by the notebook's
//! language service as a file that never reaches the disk, and run in the sandbox from a run
//! directory of its own, with none of the notebook's secrets (the code is not the user's yet).

use crate::{NotebookService, Result, ServiceError};
use quire_notebook::lock;
use quire_runtime::{RunEvent, RunRequest};
use srcmd::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Output kept of a scratch run (it is shown to the user and fed back to the model).
const OUTPUT_CAP: usize = 16 * 1024;

static SCRATCH_RUNS: AtomicU64 = AtomicU64::new(0);

/// How a scratch run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScratchRun {
    /// stdout and stderr as they came, cut at 16 KiB.
    pub output: String,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
}

impl ScratchRun {
    pub fn passed(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
}

impl NotebookService {
    /// Errors (not warnings or suggestions) the language service reports for `source` as the cell,
    /// as `line:col text (TScode)`. Without a language service, the transpiler's syntax errors.
    pub async fn check_proposal(&self, nb: &str, cell_id: &str, source: &str) -> Result<Vec<String>> {
        let filename = self.code_filename(nb, cell_id)?;
        if self.language_enabled
            && let Some(ls) = self.language_service(nb)
        {
            let list = match ls.check_scratch(&filename, source).await {
                Ok(list) => list,
                Err(e) => {
                    tracing::warn!(notebook = nb, error = %e, "language service check failed; syntax only");
                    return Ok(self.runner.syntax_errors(&filename, source));
                }
            };
            return Ok(list
                .iter()
                .filter(|d| d["category"] == "error")
                .map(|d| {
                    let at = &d["start"];
                    format!(
                        "{}:{} {} (TS{})",
                        at["line"],
                        at["offset"],
                        d["text"].as_str().unwrap_or(""),
                        d["code"]
                    )
                })
                .collect());
        }
        Ok(self.runner.syntax_errors(&filename, source))
    }

    /// Run `source` in place of the cell (the other cells as they are), stopped after `timeout`.
    pub async fn run_proposal(
        &self,
        nb: &str,
        cell_id: &str,
        source: &str,
        timeout: Duration,
    ) -> Result<ScratchRun> {
        let filename = self.code_filename(nb, cell_id)?;
        let key = format!("{cell_id}~try{}", SCRATCH_RUNS.fetch_add(1, Ordering::Relaxed));
        let req = {
            let h = self.store.get(nb)?;
            let open = lock(&h);
            let cells = open
                .code_sources()
                .into_iter()
                .map(|(name, text)| if name == filename { (name, source.to_string()) } else { (name, text) })
                .collect();
            RunRequest {
                notebook_id: nb.to_string(),
                dir: open.dir.clone(),
                cell_id: key.clone(),
                filename,
                cells,
                secrets: Vec::new(),
            }
        };
        let mut rx = self.runner.exec(req).await?;
        let mut output = String::new();
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut timed_out = false;
        loop {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Some(RunEvent::Output(c)) => {
                        if output.len() < OUTPUT_CAP {
                            let room = OUTPUT_CAP - output.len();
                            output.push_str(quire_stdx::text::head(&c.text, room));
                        }
                    }
                    Some(RunEvent::Done(o)) => {
                        return Ok(ScratchRun { output, exit_code: o.exit_code, timed_out: timed_out || o.timed_out });
                    }
                    None => return Ok(ScratchRun { output, exit_code: None, timed_out }),
                },
                _ = &mut deadline, if !timed_out => {
                    timed_out = true;
                    self.runner.stop(nb, &key);
                    output.push_str(&format!("\n[quire] Stopped after {:.0} s.\n", timeout.as_secs_f64()));
                }
            }
        }
    }

    fn code_filename(&self, nb: &str, cell_id: &str) -> Result<String> {
        let h = self.store.get(nb)?;
        let open = lock(&h);
        match open.cell(cell_id)? {
            Cell::Code(c) => Ok(c.filename.clone()),
            _ => Err(ServiceError::NotACodeCell("Only code cells can be fixed")),
        }
    }
}
