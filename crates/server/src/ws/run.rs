//! Running cells over the WebSocket: `cell:exec`, `cell:stop`, `cell:exec_all`, `deps:install`,
//! `deps:validate`, `cell:format`. Runs belong to the notebook, not the connection: their output and
//! state changes go to every subscriber, and they go on if the requesting tab closes.

use super::hub::Audience;
use crate::error::ApiError;
use crate::state::AppState;
use quire_notebook::{CellUpdate, lock};
use quire_runtime::{INSTALL_KEY, Outcome, RunEvent, RunRequest, Stream};
use serde_json::{Value, json};
use srcmd::{Cell, CellStatus};
use tokio::sync::mpsc;

fn broadcast(s: &AppState, nb: &str, event: &str, payload: Value) {
    s.hub.broadcast(nb, event, &payload, Audience::All);
}

fn output(s: &AppState, nb: &str, cell_id: &str, stream: Stream, text: &str) {
    let kind = if stream == Stream::Stdout { "stdout" } else { "stderr" };
    broadcast(s, nb, "cell:output", json!({"cellId": cell_id, "output": {"type": kind, "data": text}}));
}

/// Set a cell's status and tell everyone; `outcome` adds the run's result fields.
fn set_status(s: &AppState, nb: &str, cell_id: &str, status: CellStatus, outcome: Option<&Outcome>) {
    let Ok(h) = s.store.get(nb) else { return };
    let Ok(cell) = lock(&h).set_status(cell_id, status) else { return };
    let mut cell = serde_json::to_value(cell).unwrap_or_default();
    let mut payload = json!({});
    if let Some(o) = outcome {
        // Both on the cell (a client that keeps cells keeps them) and beside it.
        for (k, v) in [
            ("exitCode", json!(o.exit_code)),
            ("signal", json!(o.signal)),
            ("durationMs", json!(o.duration_ms)),
        ] {
            cell[k] = v.clone();
            payload[k] = v;
        }
        if o.timed_out {
            payload["timedOut"] = json!(true);
        }
    }
    payload["cell"] = cell;
    broadcast(s, nb, "cell:updated", payload);
}

/// Forward a run's events as `cell:output`; returns the outcome.
async fn stream(s: &AppState, nb: &str, cell_id: &str, mut rx: mpsc::Receiver<RunEvent>) -> Outcome {
    while let Some(ev) = rx.recv().await {
        match ev {
            RunEvent::Output(c) => output(s, nb, cell_id, c.stream, &c.text),
            RunEvent::Done(o) => return o,
        }
    }
    Outcome { signal: Some("SIGKILL".into()), ..Outcome::default() }
}

/// Everything a run needs, read under the notebook lock.
/// The request, and whether secrets were withheld (the notebook's stamp does not match its content).
fn run_request(s: &AppState, nb: &str, cell_id: &str) -> Result<(RunRequest, bool), ApiError> {
    let h = s.store.get(nb)?;
    let open = lock(&h);
    let filename = match open.cell(cell_id)? {
        Cell::Code(c) => c.filename.clone(),
        _ => return Err(ApiError::bad_request("not_a_code_cell", "Only code cells can run")),
    };
    let mut secrets = s.db.notebook_secrets(nb)?;
    let withheld = !secrets.is_empty() && !s.db.stamp_matches(nb, &open.content_digest()).unwrap_or(false);
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

const WITHHELD: &str = "[quire] This notebook changed outside Quire (or came from elsewhere) since it was \
approved: its secrets are withheld from this run. Approve it (POST /api/sessions/:id/approve, or link a secret \
again) to use them.\n";

/// Start a run: status `running` at once, then output, then `idle` with the outcome. Refused (nothing
/// changes) when the cell is already running.
pub async fn start(s: &AppState, nb: &str, cell_id: &str) -> Result<mpsc::Receiver<RunEvent>, ApiError> {
    let (req, withheld) = run_request(s, nb, cell_id)?;
    if s.runtime.is_running(nb, cell_id) {
        return Err(quire_runtime::RunError::AlreadyRunning(req.filename).into());
    }
    set_status(s, nb, cell_id, CellStatus::Running, None);
    if withheld {
        output(s, nb, cell_id, Stream::Stderr, WITHHELD);
    }
    match s.runtime.exec(req).await {
        Ok(rx) => Ok(rx),
        Err(e) => {
            let err = ApiError::from(e);
            if err.code != "already_running" {
                output(s, nb, cell_id, Stream::Stderr, &format!("{}\n", err.message));
                set_status(s, nb, cell_id, CellStatus::Idle, Some(&Outcome::default()));
            }
            Err(err)
        }
    }
}

/// Run to the end and report; used by `cell:exec` (spawned) and `cell:exec_all` (in order).
pub async fn finish(s: &AppState, nb: &str, cell_id: &str, rx: mpsc::Receiver<RunEvent>) -> Outcome {
    let outcome = stream(s, nb, cell_id, rx).await;
    set_status(s, nb, cell_id, CellStatus::Idle, Some(&outcome));
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

/// Srcbook's nudge after a run: tell clients when package.json is out of sync or imports are missing.
pub async fn nudge_deps(s: &AppState, nb: &str) {
    if let Some(replies) = validate(s, nb).await {
        for r in replies {
            broadcast(s, nb, "deps:validate:response", r);
        }
    }
}

/// `deps:validate` replies: `{}` for out of sync, `{packages}` for undeclared imports.
pub async fn validate(s: &AppState, nb: &str) -> Option<Vec<Value>> {
    let h = s.store.get(nb).ok()?;
    let (dir, pkg, cells) = {
        let open = lock(&h);
        (open.dir.clone(), open.package_json()?.source.clone(), open.code_sources())
    };
    let v = tokio::task::spawn_blocking(move || quire_runtime::validate(&dir, &pkg, &cells)).await.ok()?;
    let mut out = Vec::new();
    if v.out_of_sync {
        out.push(json!({}));
    }
    if !v.missing.is_empty() {
        out.push(json!({"packages": v.missing}));
    }
    Some(out)
}

/// Run every code cell in order; stop at the first that fails.
pub async fn exec_all(s: AppState, nb: String) {
    let ids: Vec<String> = match s.store.get(&nb) {
        Ok(h) => lock(&h)
            .nb
            .cells
            .iter()
            .filter_map(|c| match c {
                Cell::Code(c) => Some(c.id.clone()),
                _ => None,
            })
            .collect(),
        Err(_) => return,
    };
    for id in ids {
        let rx = match start(&s, &nb, &id).await {
            Ok(rx) => rx,
            Err(e) => {
                tracing::info!(notebook = %nb, cell = %id, code = e.code, "run all stopped");
                return;
            }
        };
        if !finish(&s, &nb, &id, rx).await.success() {
            return;
        }
    }
}

/// `deps:install`: npm's output streams as the package.json cell's output.
pub async fn install(s: &AppState, nb: &str, packages: Vec<String>) -> Result<(), ApiError> {
    let h = s.store.get(nb)?;
    let (dir, cell_id) = {
        let open = lock(&h);
        let pkg = open
            .package_json()
            .ok_or_else(|| ApiError::bad_request("no_package_json", "This notebook has no package.json"))?;
        (open.dir.clone(), pkg.id.clone())
    };
    if s.runtime.is_running(nb, INSTALL_KEY) {
        return Err(quire_runtime::RunError::AlreadyRunning("package.json".into()).into());
    }
    let rx = s.runtime.install(nb, &dir, &packages).await?;
    set_status(s, nb, &cell_id, CellStatus::Running, None);
    let (s, nb) = (s.clone(), nb.to_string());
    tokio::spawn(async move {
        let outcome = stream(&s, &nb, &cell_id, rx).await;
        if let Ok(h) = s.store.get(&nb)
            && let Err(e) = crate::stamps::keep(&s, &nb, &h, || lock(&h).reload_package_json())
        {
            tracing::warn!(notebook = %nb, error = %e, "could not re-read package.json");
        }
        let status = if outcome.success() { CellStatus::Idle } else { CellStatus::Failed };
        set_status(&s, &nb, &cell_id, status, Some(&outcome));
    });
    Ok(())
}

/// `cell:format`: prettier from the notebook's own dependencies; the result is saved like an edit.
pub async fn format(s: &AppState, nb: &str, cell_id: &str) -> Result<(), ApiError> {
    let h = s.store.get(nb)?;
    let (dir, filename, source) = {
        let open = lock(&h);
        match open.cell(cell_id)? {
            Cell::Code(c) => (open.dir.clone(), c.filename.clone(), c.source.clone()),
            _ => return Err(ApiError::bad_request("not_a_code_cell", "Only code cells can be formatted")),
        }
    };
    match s.runtime.format(nb, &dir, &filename, &source).await {
        Ok(formatted) => {
            let h2 = h.clone();
            let id = cell_id.to_string();
            let (s2, nb2) = (s.clone(), nb.to_string());
            let cell = tokio::task::spawn_blocking(move || {
                crate::stamps::keep(&s2, &nb2, &h2, || {
                    lock(&h2).update_cell(&id, CellUpdate::Source(formatted))
                })
            })
            .await
            .map_err(|e| ApiError::internal(e.to_string()))??;
            broadcast(s, nb, "cell:formatted", json!({"cellId": cell_id, "cell": cell}));
            Ok(())
        }
        Err(stderr) => {
            output(s, nb, cell_id, Stream::Stderr, &stderr);
            let message =
                "An error occurred while formatting the code. Please check stderr for more details.";
            broadcast(
                s,
                nb,
                "cell:error",
                json!({"cellId": cell_id, "errors": [{"message": message, "attribute": "formatting"}]}),
            );
            if let Ok(cell) = lock(&h).cell(cell_id).cloned() {
                broadcast(s, nb, "cell:updated", json!({"cell": cell}));
            }
            Ok(())
        }
    }
}

/// A client opened the notebook: start its Node host now so the first run is warm.
pub fn warm(s: &AppState, nb: &str) {
    let Ok(h) = s.store.get(nb) else { return };
    let dir = lock(&h).dir.clone();
    let (s, nb) = (s.clone(), nb.to_string());
    tokio::spawn(async move { s.runtime.warm(&nb, &dir).await });
}

/// How long a notebook nobody has open keeps its warm host.
const IDLE_HOST: std::time::Duration = std::time::Duration::from_secs(60);

/// The last subscriber may have left: release the host if nobody comes back within `IDLE_HOST`.
pub fn release_later(s: &AppState, nb: &str) {
    if s.hub.subscriber_count(nb) > 0 {
        return;
    }
    let (s, nb) = (s.clone(), nb.to_string());
    tokio::spawn(async move {
        tokio::time::sleep(IDLE_HOST).await;
        if s.hub.subscriber_count(&nb) == 0 {
            s.runtime.release(&nb).await;
        }
    });
}
