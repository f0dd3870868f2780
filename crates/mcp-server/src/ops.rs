//! What each tool does: arguments parsed, one notebook-service call, a structured answer.

use crate::QuireMcp;
use crate::error::ToolError;
use quire_notebook::lock;
use quire_service::{Done, Edit, Finished};
use rmcp::model::CallToolResult;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use srcmd::{Cell, CodeCell, Language, MarkdownCell};

type Answer = Result<Value, ToolError>;

fn args<T: DeserializeOwned>(v: Value) -> Result<T, ToolError> {
    serde_json::from_value(v).map_err(|e| ToolError::invalid(format!("Invalid arguments: {e}")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Query {
    query: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NotebookArg {
    notebook_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CellArg {
    notebook_id: String,
    cell_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateArgs {
    title: String,
    language: Option<Language>,
}

#[derive(Deserialize)]
struct ImportArgs {
    text: String,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum NewCellType {
    Code,
    Markdown,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddArgs {
    notebook_id: String,
    index: Option<usize>,
    #[serde(rename = "type")]
    kind: NewCellType,
    source: String,
    filename: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateArgs {
    notebook_id: String,
    cell_id: String,
    source: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MoveArgs {
    notebook_id: String,
    cell_id: String,
    index: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstallArgs {
    notebook_id: String,
    #[serde(default)]
    packages: Vec<String>,
}

/// A cell as tools show it.
pub(crate) fn cell_json(cell: &Cell) -> Value {
    match cell {
        Cell::Title(c) => json!({"id": c.id, "type": "title", "source": c.text}),
        Cell::Markdown(c) => json!({"id": c.id, "type": "markdown", "source": c.text}),
        Cell::PackageJson(c) => json!({
            "id": c.id, "type": "package.json", "source": c.source, "filename": c.filename,
            "status": status(c.status)
        }),
        Cell::Code(c) => json!({
            "id": c.id, "type": "code", "source": c.source, "filename": c.filename,
            "status": status(c.status)
        }),
        Cell::Placeholder(c) => json!({"id": c.id, "type": "placeholder", "source": c.text}),
    }
}

fn status(s: srcmd::CellStatus) -> &'static str {
    match s {
        srcmd::CellStatus::Idle => "idle",
        srcmd::CellStatus::Running => "running",
        srcmd::CellStatus::Failed => "failed",
    }
}

pub(crate) fn title_of(nb: &srcmd::Notebook) -> String {
    nb.cells
        .iter()
        .find_map(|c| match c {
            Cell::Title(t) => Some(t.text.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn run_json(cell_id: &str, f: &Finished) -> Value {
    json!({
        "cellId": cell_id,
        "stdout": f.stdout,
        "stderr": f.stderr,
        "exitCode": f.outcome.exit_code,
        "signal": f.outcome.signal,
        "durationMs": f.outcome.duration_ms,
        "timedOut": f.outcome.timed_out,
        "truncated": f.cut || f.outcome.truncated,
    })
}

/// The first free `cell-N.<ext>` in the notebook.
fn free_filename(nb: &srcmd::Notebook) -> String {
    let ext = if nb.language == Language::Typescript { "ts" } else { "js" };
    let taken: std::collections::HashSet<&str> = nb
        .cells
        .iter()
        .filter_map(|c| match c {
            Cell::Code(c) => Some(c.filename.as_str()),
            _ => None,
        })
        .collect();
    (1..)
        .map(|n| format!("cell-{n}.{ext}"))
        .find(|f| !taken.contains(f.as_str()))
        .unwrap_or_else(|| format!("cell-{}.{ext}", srcmd::new_cell_id()))
}

impl QuireMcp {
    pub(crate) async fn call(&self, name: &str, a: Value) -> CallToolResult {
        let answer = match name {
            "list_notebooks" => self.list_notebooks(a),
            "get_notebook" => self.get_notebook(a),
            "create_notebook" => self.create_notebook(a).await,
            "import_notebook" => self.import_notebook(a).await,
            "add_cell" => self.add_cell(a).await,
            "update_cell" => self.update_cell(a).await,
            "delete_cell" => self.delete_cell(a).await,
            "move_cell" => self.move_cell(a).await,
            "run_cell" => self.run_cell(a).await,
            "run_all" => self.run_all(a).await,
            "get_diagnostics" => self.get_diagnostics(a).await,
            "install_dependencies" => self.install(a).await,
            other => Err(ToolError::new("unknown_tool", format!("No tool named '{other}'"))),
        };
        match answer {
            Ok(v) => CallToolResult::structured(v),
            Err(e) => {
                tracing::info!(tool = name, code = e.code, message = %e.message, "mcp tool refused");
                e.result()
            }
        }
    }

    fn list_notebooks(&self, a: Value) -> Answer {
        let q = args::<Query>(a)?.query.map(|q| q.to_lowercase());
        let mut rows: Vec<(u64, Value)> = self
            .svc
            .store
            .list()
            .iter()
            .filter_map(|h| {
                let nb = lock(h);
                let title = title_of(&nb.nb);
                if q.as_ref().is_some_and(|q| !title.to_lowercase().contains(q.as_str())) {
                    return None;
                }
                let row = json!({
                    "id": nb.id, "title": title, "language": nb.nb.language.as_str(), "cells": nb.nb.cells.len()
                });
                Some((nb.opened_at, row))
            })
            .collect();
        rows.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        Ok(json!({"notebooks": rows.into_iter().map(|(_, r)| r).collect::<Vec<_>>()}))
    }

    fn get_notebook(&self, a: Value) -> Answer {
        let id = args::<NotebookArg>(a)?.notebook_id;
        let h = self.svc.store.get(&id)?;
        let nb = lock(&h);
        Ok(json!({
            "id": nb.id,
            "title": title_of(&nb.nb),
            "language": nb.nb.language.as_str(),
            "cells": nb.nb.cells.iter().map(cell_json).collect::<Vec<_>>(),
        }))
    }

    fn summary(&self, h: &quire_notebook::Handle) -> Value {
        let nb = lock(h);
        json!({"id": nb.id, "title": title_of(&nb.nb), "language": nb.nb.language.as_str()})
    }

    async fn create_notebook(&self, a: Value) -> Answer {
        let a = args::<CreateArgs>(a)?;
        let svc = self.svc.clone();
        let language = a.language.unwrap_or(Language::Typescript);
        let h = blocking(move || Ok(svc.store.create(&a.title, language)?)).await?;
        let id = lock(&h).id.clone();
        // Made here, so trusted like one made in the UI (POST /api/srcbooks does the same).
        self.svc.approve(&id)?;
        Ok(self.summary(&h))
    }

    async fn import_notebook(&self, a: Value) -> Answer {
        let a = args::<ImportArgs>(a)?;
        let svc = self.svc.clone();
        let h = blocking(move || Ok(svc.store.import(&a.text, None)?)).await?;
        Ok(self.summary(&h))
    }

    /// Apply an edit through the service and announce it to the notebook's subscribers.
    async fn edit(&self, nb: &str, edit: Edit) -> Result<Done, ToolError> {
        match self.svc.edit(nb, edit).await {
            Ok(done) => {
                self.announce.edited(nb, &done);
                Ok(done)
            }
            Err(refused) => Err(refused.error.into()),
        }
    }

    async fn add_cell(&self, a: Value) -> Answer {
        let a = args::<AddArgs>(a)?;
        let id = srcmd::new_cell_id();
        let cell = match a.kind {
            NewCellType::Markdown => Cell::Markdown(MarkdownCell { id, text: a.source }),
            NewCellType::Code => {
                let h = self.svc.store.get(&a.notebook_id)?;
                let (filename, language) = {
                    let nb = lock(&h);
                    (a.filename.unwrap_or_else(|| free_filename(&nb.nb)), nb.nb.language)
                };
                // The language is decided from the filename by the store.
                Cell::Code(CodeCell { id, source: a.source, language, filename, status: Default::default() })
            }
        };
        let index = a.index.unwrap_or(usize::MAX);
        match self.edit(&a.notebook_id, Edit::Create { index, cell }).await? {
            Done::Created { index, cell } => Ok(json!({"index": index, "cell": cell_json(&cell)})),
            _ => Err(ToolError::new("internal", "unexpected edit result")),
        }
    }

    async fn update_cell(&self, a: Value) -> Answer {
        let a = args::<UpdateArgs>(a)?;
        let edit = Edit::Update { cell_id: a.cell_id, text: None, source: Some(a.source) };
        match self.edit(&a.notebook_id, edit).await? {
            Done::Updated { cell, .. } => Ok(json!({"cell": cell_json(&cell)})),
            _ => Err(ToolError::new("internal", "unexpected edit result")),
        }
    }

    async fn delete_cell(&self, a: Value) -> Answer {
        let a = args::<CellArg>(a)?;
        self.edit(&a.notebook_id, Edit::Delete { cell_id: a.cell_id.clone() }).await?;
        Ok(json!({"deleted": a.cell_id}))
    }

    async fn move_cell(&self, a: Value) -> Answer {
        let a = args::<MoveArgs>(a)?;
        match self.edit(&a.notebook_id, Edit::Move { cell_id: a.cell_id, index: a.index }).await? {
            Done::Moved { cell_id, index } => Ok(json!({"cellId": cell_id, "index": index})),
            _ => Err(ToolError::new("internal", "unexpected edit result")),
        }
    }

    async fn run_cell(&self, a: Value) -> Answer {
        let a = args::<CellArg>(a)?;
        let done = self.svc.run_wait(&a.notebook_id, &a.cell_id).await?;
        Ok(run_json(&a.cell_id, &done))
    }

    async fn run_all(&self, a: Value) -> Answer {
        let id = args::<NotebookArg>(a)?.notebook_id;
        let code_cells = {
            let h = self.svc.store.get(&id)?;
            lock(&h).nb.cells.iter().filter(|c| matches!(c, Cell::Code(_))).count()
        };
        let runs = self.svc.run_all_wait(&id).await?;
        let complete = runs.len() == code_cells && runs.iter().all(|(_, f)| f.outcome.success());
        let runs: Vec<Value> = runs.iter().map(|(c, f)| run_json(c, f)).collect();
        Ok(json!({"runs": runs, "complete": complete}))
    }

    async fn get_diagnostics(&self, a: Value) -> Answer {
        let a = args::<CellArg>(a)?;
        let (filename, source) = {
            let h = self.svc.store.get(&a.notebook_id)?;
            let nb = lock(&h);
            match nb.cell(&a.cell_id)? {
                Cell::Code(c) => (c.filename.clone(), c.source.clone()),
                _ => return Err(ToolError::new("not_a_code_cell", "Only code cells have diagnostics")),
            }
        };
        if !self.svc.language_enabled {
            return Err(ToolError::new(
                "language_service_disabled",
                "The language service is turned off (--no-language-service)",
            ));
        }
        let ls = self.svc.language_service(&a.notebook_id).ok_or_else(|| {
            ToolError::new("notebook_not_found", format!("Notebook '{}' not found", a.notebook_id))
        })?;
        let list = ls
            .check_scratch(&filename, &source)
            .await
            .map_err(|e| ToolError::new(e.code(), e.to_string()))?;
        let diagnostics: Vec<Value> = list
            .iter()
            .map(|d| {
                json!({
                    "line": d["start"]["line"].as_u64().unwrap_or(1),
                    "column": d["start"]["offset"].as_u64().unwrap_or(1),
                    "endLine": d["end"]["line"].as_u64().unwrap_or(1),
                    "endColumn": d["end"]["offset"].as_u64().unwrap_or(1),
                    "message": d["text"].as_str().unwrap_or(""),
                    "code": d["code"].as_u64(),
                    "category": d["category"].as_str().unwrap_or("error"),
                })
            })
            .collect();
        Ok(json!({"cellId": a.cell_id, "diagnostics": diagnostics}))
    }

    async fn install(&self, a: Value) -> Answer {
        let a = args::<InstallArgs>(a)?;
        let done = self.svc.install_wait(&a.notebook_id, a.packages).await?;
        let output = format!("{}{}", done.stdout, done.stderr);
        Ok(json!({"exitCode": done.outcome.exit_code, "success": done.outcome.success(), "output": output}))
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ToolError> + Send + 'static,
) -> Result<T, ToolError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ToolError::new("internal", format!("task failed: {e}")))?
}
