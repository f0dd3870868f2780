//! Runs, installs, formatting and dependency checks. Runs belong to the notebook, not to whoever
//! asked: their output and status changes are published to every subscriber, and they go on when
//! the asking connection closes.

use crate::{Event, NotebookService, Result, ServiceError};
use quire_notebook::{CellUpdate, lock};
use quire_runtime::{INSTALL_KEY, Outcome, RunError, RunEvent, RunRequest, Stream};
use srcmd::{Cell, CellStatus};
use tokio::sync::mpsc;
use tracing::Instrument;

const WITHHELD: &str = "[quire] This notebook changed outside Quire (or came from elsewhere) since it was \
approved: its secrets are withheld from this run. Approve it (POST /api/sessions/:id/approve, or link a secret \
again) to use them.\n";

/// Output a waiting caller keeps of one stream, at most this many bytes.
const KEEP_CAP: usize = 64 * 1024;

/// How a run the caller waited for ended, with its output (each stream cut at 64 KiB).
#[derive(Debug, Clone, Default)]
pub struct Finished {
    pub outcome: Outcome,
    pub stdout: String,
    pub stderr: String,
    /// Output beyond the cap was dropped here (the subscribers saw it all).
    pub cut: bool,
}

impl Finished {
    fn keep(&mut self, stream: Stream, text: &str) {
        let to = if stream == Stream::Stdout { &mut self.stdout } else { &mut self.stderr };
        let room = KEEP_CAP.saturating_sub(to.len());
        if text.len() <= room {
            to.push_str(text);
        } else {
            let mut end = room;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            to.push_str(&text[..end]);
            self.cut = true;
        }
    }
}

impl NotebookService {
    fn output(&self, nb: &str, cell_id: &str, stream: Stream, text: &str) {
        let event = Event::Output { cell_id: cell_id.to_string(), stream, text: text.to_string() };
        self.publish.publish(nb, event);
    }

    /// Set a cell's status and tell everyone; `outcome` when a run ended.
    fn set_status(&self, nb: &str, cell_id: &str, status: CellStatus, outcome: Option<&Outcome>) {
        let Ok(h) = self.store.get(nb) else { return };
        let Ok(cell) = lock(&h).set_status(cell_id, status) else { return };
        self.publish.publish(nb, Event::Status { cell, outcome: outcome.cloned() });
    }

    /// Everything a run needs, read under the notebook lock, and whether secrets were withheld
    /// (the notebook's stamp does not match its content).
    fn run_request(&self, nb: &str, cell_id: &str) -> Result<(RunRequest, bool)> {
        let h = self.store.get(nb)?;
        let open = lock(&h);
        let filename = match open.cell(cell_id)? {
            Cell::Code(c) => c.filename.clone(),
            _ => return Err(ServiceError::NotACodeCell("Only code cells can run")),
        };
        let mut secrets = self.db.notebook_secrets(nb)?;
        let withheld =
            !secrets.is_empty() && !self.db.stamp_matches(nb, &open.content_digest()).unwrap_or(false);
        if withheld {
            secrets.clear();
        }
        let req = RunRequest {
            notebook_id: nb.to_string(),
            dir: open.dir.clone(),
            cell_id: cell_id.to_string(),
            filename,
            cells: open.code_sources(),
            secrets,
        };
        Ok((req, withheld))
    }

    /// Start a run: status `running` at once, then output, then `idle` with the outcome. Refused
    /// (nothing changes) when the cell is already running.
    async fn start(&self, nb: &str, cell_id: &str) -> Result<mpsc::Receiver<RunEvent>> {
        let (req, withheld) = self.run_request(nb, cell_id)?;
        if self.runner.is_running(nb, cell_id) {
            return Err(RunError::AlreadyRunning(req.filename).into());
        }
        self.set_status(nb, cell_id, CellStatus::Running, None);
        if withheld {
            self.output(nb, cell_id, Stream::Stderr, WITHHELD);
        }
        match self.runner.exec(req).await {
            Ok(rx) => Ok(rx),
            // Another start won the race: nothing of this one was shown.
            Err(e @ RunError::AlreadyRunning(_)) => Err(e.into()),
            Err(e) => {
                self.output(nb, cell_id, Stream::Stderr, &format!("{e}\n"));
                self.set_status(nb, cell_id, CellStatus::Idle, Some(&Outcome::default()));
                Err(e.into())
            }
        }
    }

    /// Forward a run's events as output (kept in `keep` too when a caller waits); returns the outcome.
    async fn stream(
        &self,
        nb: &str,
        cell_id: &str,
        mut rx: mpsc::Receiver<RunEvent>,
        mut keep: Option<&mut Finished>,
    ) -> Outcome {
        while let Some(ev) = rx.recv().await {
            match ev {
                RunEvent::Output(c) => {
                    if let Some(k) = keep.as_deref_mut() {
                        k.keep(c.stream, &c.text);
                    }
                    self.output(nb, cell_id, c.stream, &c.text)
                }
                RunEvent::Done(o) => return o,
            }
        }
        Outcome { signal: Some("SIGKILL".into()), ..Outcome::default() }
    }

    async fn finish(
        &self,
        nb: &str,
        cell_id: &str,
        rx: mpsc::Receiver<RunEvent>,
        keep: Option<&mut Finished>,
    ) -> Outcome {
        let outcome = self.stream(nb, cell_id, rx, keep).await;
        self.set_status(nb, cell_id, CellStatus::Idle, Some(&outcome));
        let result = match (&outcome.exit_code, &outcome.signal) {
            _ if outcome.timed_out => "timeout",
            (Some(0), None) => "ok",
            (_, Some(_)) => "stopped",
            _ => "error",
        };
        metrics::counter!("cell_runs_total", "result" => result).increment(1);
        metrics::histogram!("cell_run_duration_seconds").record(outcome.duration_ms as f64 / 1000.0);
        outcome
    }

    /// Run one cell. Returns once it started; the run, then Srcbook's dependency nudge, go on.
    pub async fn run(&self, nb: &str, cell_id: &str) -> Result<()> {
        let rx = self.start(nb, cell_id).await?;
        let span = tracing::info_span!("cell_run", notebook = %nb, cell = %cell_id);
        let (svc, nb, cell_id) = (self.clone(), nb.to_string(), cell_id.to_string());
        let run = async move {
            let nudge = svc.clone();
            let nb2 = nb.clone();
            tokio::spawn(async move { nudge.nudge_dependencies(&nb2).await }.in_current_span());
            svc.finish(&nb, &cell_id, rx, None).await;
        };
        tokio::spawn(run.instrument(span));
        Ok(())
    }

    /// Run one cell and wait for it to end (MCP's `run_cell`): published to subscribers like any
    /// run, and its output kept for the caller. The run goes on if the caller goes away.
    pub async fn run_wait(&self, nb: &str, cell_id: &str) -> Result<Finished> {
        let rx = self.start(nb, cell_id).await?;
        let span = tracing::info_span!("cell_run", notebook = %nb, cell = %cell_id);
        let (svc, nb, cell_id) = (self.clone(), nb.to_string(), cell_id.to_string());
        let run = async move {
            let mut done = Finished::default();
            done.outcome = svc.finish(&nb, &cell_id, rx, Some(&mut done)).await;
            let nudge = svc.clone();
            tokio::spawn(async move { nudge.nudge_dependencies(&nb).await }.in_current_span());
            done
        };
        tokio::spawn(run.instrument(span))
            .await
            .map_err(|e| ServiceError::Internal(format!("run task failed: {e}")))
    }

    /// Run every code cell in order, stopping at the first that fails. Returns at once.
    pub fn run_all(&self, nb: &str) -> Result<()> {
        let ids = self.code_cell_ids(nb)?;
        let (svc, nb) = (self.clone(), nb.to_string());
        tokio::spawn(async move { svc.run_cells(&nb, ids, false).await });
        Ok(())
    }

    /// `run_all`, waiting for the runs: each cell that ran with how it ended, in order.
    pub async fn run_all_wait(&self, nb: &str) -> Result<Vec<(String, Finished)>> {
        let ids = self.code_cell_ids(nb)?;
        let (svc, nb) = (self.clone(), nb.to_string());
        tokio::spawn(async move { svc.run_cells(&nb, ids, true).await })
            .await
            .map_err(|e| ServiceError::Internal(format!("run task failed: {e}")))
    }

    async fn run_cells(&self, nb: &str, ids: Vec<String>, keep: bool) -> Vec<(String, Finished)> {
        let mut ran = Vec::new();
        for id in ids {
            let rx = match self.start(nb, &id).await {
                Ok(rx) => rx,
                Err(e) => {
                    tracing::info!(notebook = %nb, cell = %id, error = %e, "run all stopped");
                    break;
                }
            };
            let mut done = Finished::default();
            done.outcome = self.finish(nb, &id, rx, keep.then_some(&mut done)).await;
            let ok = done.outcome.success();
            if keep {
                ran.push((id, done));
            }
            if !ok {
                break;
            }
        }
        ran
    }

    fn code_cell_ids(&self, nb: &str) -> Result<Vec<String>> {
        let h = self.store.get(nb)?;
        let ids: Vec<String> = lock(&h)
            .nb
            .cells
            .iter()
            .filter_map(|c| match c {
                Cell::Code(c) => Some(c.id.clone()),
                _ => None,
            })
            .collect();
        Ok(ids)
    }

    pub fn stop(&self, nb: &str, cell_id: &str) -> Result<()> {
        if self.runner.stop(nb, cell_id) { Ok(()) } else { Err(ServiceError::NotRunning) }
    }

    /// Srcbook's nudge after a run: tell subscribers when package.json is out of sync or imports
    /// are missing.
    async fn nudge_dependencies(&self, nb: &str) {
        for missing in self.validate(nb).await.unwrap_or_default() {
            self.publish.publish(nb, Event::Dependencies { missing });
        }
    }

    /// `deps:validate`: `None` for "out of sync", `Some(packages)` for undeclared imports; `None`
    /// overall when the notebook has no package.json.
    pub async fn validate(&self, nb: &str) -> Option<Vec<Option<Vec<String>>>> {
        let h = self.store.get(nb).ok()?;
        let (dir, pkg, cells) = {
            let open = lock(&h);
            (open.dir.clone(), open.package_json()?.source.clone(), open.code_sources())
        };
        let v =
            tokio::task::spawn_blocking(move || quire_runtime::validate(&dir, &pkg, &cells)).await.ok()?;
        let mut out = Vec::new();
        if v.out_of_sync {
            out.push(None);
        }
        if !v.missing.is_empty() {
            out.push(Some(v.missing));
        }
        Some(out)
    }

    /// `npm install` (of `packages`, or of package.json): its output is the package.json cell's
    /// output; afterwards package.json is read again and the language service reloads.
    pub async fn install(&self, nb: &str, packages: Vec<String>) -> Result<()> {
        self.install_start(nb, packages, false).await.map(drop)
    }

    /// `install`, waiting for npm to end (MCP): its output is kept for the caller.
    pub async fn install_wait(&self, nb: &str, packages: Vec<String>) -> Result<Finished> {
        let job = self.install_start(nb, packages, true).await?;
        job.await.map_err(|e| ServiceError::Internal(format!("install task failed: {e}")))
    }

    async fn install_start(
        &self,
        nb: &str,
        packages: Vec<String>,
        keep: bool,
    ) -> Result<tokio::task::JoinHandle<Finished>> {
        let h = self.store.get(nb)?;
        let (dir, cell_id) = {
            let open = lock(&h);
            let pkg = open.package_json().ok_or(ServiceError::NoPackageJson)?;
            (open.dir.clone(), pkg.id.clone())
        };
        if self.runner.is_running(nb, INSTALL_KEY) {
            return Err(RunError::AlreadyRunning("package.json".into()).into());
        }
        let rx = self.runner.install(nb, &dir, &packages).await?;
        self.set_status(nb, &cell_id, CellStatus::Running, None);
        let (svc, nb) = (self.clone(), nb.to_string());
        Ok(tokio::spawn(async move {
            let mut done = Finished::default();
            let outcome = svc.stream(&nb, &cell_id, rx, keep.then_some(&mut done)).await;
            if let Ok(h) = svc.store.get(&nb) {
                let mut open = lock(&h);
                if let Err(e) = svc.commit(&nb, &mut open, |o| Ok(o.reload_package_json()?)) {
                    tracing::warn!(notebook = %nb, error = %e, "could not re-read package.json");
                }
            }
            let status = if outcome.success() { CellStatus::Idle } else { CellStatus::Failed };
            svc.set_status(&nb, &cell_id, status, Some(&outcome));
            svc.dependencies_changed(&nb).await;
            done.outcome = outcome;
            done
        }))
    }

    /// Prettier from the notebook's own dependencies; the result is saved like an edit. A failure
    /// is shown on the cell (stderr, `cell:error`, the unchanged cell), not refused.
    pub async fn format(&self, nb: &str, cell_id: &str) -> Result<()> {
        let h = self.store.get(nb)?;
        let (dir, filename, source) = {
            let open = lock(&h);
            match open.cell(cell_id)? {
                Cell::Code(c) => (open.dir.clone(), c.filename.clone(), c.source.clone()),
                _ => return Err(ServiceError::NotACodeCell("Only code cells can be formatted")),
            }
        };
        match self.runner.format(nb, &dir, &filename, &source).await {
            Ok(formatted) => {
                let (svc, nb2, id) = (self.clone(), nb.to_string(), cell_id.to_string());
                let cell = tokio::task::spawn_blocking(move || {
                    let mut open = lock(&h);
                    svc.commit(&nb2, &mut open, |o| Ok(o.update_cell(&id, CellUpdate::Source(formatted))?))
                })
                .await
                .map_err(|e| ServiceError::Internal(e.to_string()))??;
                self.publish.publish(nb, Event::Formatted { cell_id: cell_id.to_string(), cell });
                Ok(())
            }
            Err(stderr) => {
                self.output(nb, cell_id, Stream::Stderr, &stderr);
                let message =
                    "An error occurred while formatting the code. Please check stderr for more details.";
                let event = Event::CellError {
                    cell_id: cell_id.to_string(),
                    message: message.into(),
                    attribute: Some("formatting"),
                };
                self.publish.publish(nb, event);
                if let Ok(cell) = lock(&h).cell(cell_id).cloned() {
                    self.publish.publish(nb, Event::Restored { cell });
                }
                Ok(())
            }
        }
    }

    /// Someone opened the notebook: start its Node host now so the first run is warm.
    pub fn warm(&self, nb: &str) {
        let Ok(h) = self.store.get(nb) else { return };
        let dir = lock(&h).dir.clone();
        let (svc, nb) = (self.clone(), nb.to_string());
        tokio::spawn(async move { svc.runner.warm(&nb, &dir).await });
    }

    /// Nobody has the notebook open any more: its host may go.
    pub async fn release(&self, nb: &str) {
        self.runner.release(nb).await;
    }

    /// The notebook was deleted: its host and its tsserver are stopped and reaped before this returns.
    pub async fn forget(&self, nb: &str) {
        self.runner.forget(nb).await;
        self.tsls.remove(nb).await;
    }
}
