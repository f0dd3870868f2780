//! The tools' names, descriptions and JSON schemas (input and output), written out by hand so the
//! wire contract is visible in one place (docs/protocol.md lists the same).

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde_json::{Value, json};
use std::sync::Arc;

fn obj(v: Value) -> Arc<JsonObject> {
    match v {
        Value::Object(m) => Arc::new(m),
        _ => Arc::new(JsonObject::new()),
    }
}

fn input(props: Value, required: &[&str]) -> Arc<JsonObject> {
    obj(json!({"type": "object", "properties": props, "required": required}))
}

fn output(props: Value, required: &[&str]) -> Arc<JsonObject> {
    result_or_error(json!({"type": "object", "properties": props, "required": required}))
}

/// A tool's result schema, or the error shape every tool may answer with (`isError: true`,
/// `{code, message}`): clients validate error results against the output schema too.
fn result_or_error(mut schema: Value) -> Arc<JsonObject> {
    let required = schema.as_object_mut().and_then(|o| o.remove("required")).unwrap_or(json!([]));
    if let Some(props) = schema["properties"].as_object_mut() {
        props.insert("code".into(), json!({"type": "string", "description": "error code (isError results)"}));
        props.insert("message".into(), json!({"type": "string"}));
    }
    schema["anyOf"] = json!([{"required": required}, {"required": ["code", "message"]}]);
    obj(schema)
}

fn cell_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string", "enum": ["title", "markdown", "package.json", "code", "placeholder"]},
            "source": {"type": "string"},
            "filename": {"type": "string"},
            "status": {"type": "string"}
        },
        "required": ["id", "type", "source"]
    })
}

fn run_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "cellId": {"type": "string"},
            "stdout": {"type": "string"},
            "stderr": {"type": "string"},
            "exitCode": {"type": ["integer", "null"]},
            "signal": {"type": ["string", "null"]},
            "durationMs": {"type": "integer"},
            "timedOut": {"type": "boolean"},
            "truncated": {"type": "boolean", "description": "output beyond 64 KiB per stream was cut"}
        },
        "required": ["cellId", "stdout", "stderr", "exitCode", "durationMs", "timedOut"]
    })
}

fn notebook_summary() -> Value {
    json!({
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "language": {"type": "string", "enum": ["typescript", "javascript"]}
        },
        "required": ["id", "title", "language"]
    })
}

fn tool(
    name: &'static str,
    description: &'static str,
    input: Arc<JsonObject>,
    output: Arc<JsonObject>,
) -> Tool {
    Tool::new(name, description, input).with_raw_output_schema(output)
}

fn read_only(t: Tool) -> Tool {
    t.annotate(ToolAnnotations::new().read_only(true))
}

pub fn all() -> Vec<Tool> {
    let nb = json!({"type": "string", "description": "notebook id"});
    let cell = json!({"type": "string", "description": "cell id"});
    vec![
        read_only(tool(
            "list_notebooks",
            "List notebooks (newest opened first); `query` keeps those whose title contains it (case-insensitive).",
            input(json!({"query": {"type": "string"}}), &[]),
            output(
                json!({"notebooks": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"}, "title": {"type": "string"},
                        "language": {"type": "string"}, "cells": {"type": "integer"}
                    },
                    "required": ["id", "title", "language", "cells"]
                }}}),
                &["notebooks"],
            ),
        )),
        read_only(tool(
            "get_notebook",
            "A notebook's title, language and cells (id, type, filename, source, status).",
            input(json!({"notebookId": nb}), &["notebookId"]),
            output(
                json!({
                    "id": {"type": "string"}, "title": {"type": "string"}, "language": {"type": "string"},
                    "cells": {"type": "array", "items": cell_schema()}
                }),
                &["id", "title", "language", "cells"],
            ),
        )),
        tool(
            "create_notebook",
            "Create a notebook with a title (at most 44 characters) in TypeScript or JavaScript.",
            input(
                json!({
                    "title": {"type": "string"},
                    "language": {"type": "string", "enum": ["typescript", "javascript"], "default": "typescript"}
                }),
                &["title"],
            ),
            result_or_error(notebook_summary()),
        ),
        tool(
            "import_notebook",
            "Import a notebook from `.src.md` text (Srcbook's format).",
            input(json!({"text": {"type": "string", "description": ".src.md document"}}), &["text"]),
            result_or_error(notebook_summary()),
        ),
        tool(
            "add_cell",
            "Insert a code or markdown cell at `index` (1 = right after the title). Code cells get a \
             free filename (cell-N.ts / .js) unless `filename` is given.",
            input(
                json!({
                    "notebookId": nb,
                    "index": {"type": "integer", "minimum": 0},
                    "type": {"type": "string", "enum": ["code", "markdown"]},
                    "source": {"type": "string"},
                    "filename": {"type": "string"}
                }),
                &["notebookId", "type", "source"],
            ),
            output(json!({"index": {"type": "integer"}, "cell": cell_schema()}), &["index", "cell"]),
        ),
        tool(
            "update_cell",
            "Replace a cell's source (markdown text for markdown and title cells).",
            input(
                json!({"notebookId": nb, "cellId": cell, "source": {"type": "string"}}),
                &["notebookId", "cellId", "source"],
            ),
            output(json!({"cell": cell_schema()}), &["cell"]),
        ),
        tool(
            "delete_cell",
            "Delete a code or markdown cell.",
            input(json!({"notebookId": nb, "cellId": cell}), &["notebookId", "cellId"]),
            output(json!({"deleted": {"type": "string"}}), &["deleted"]),
        ),
        tool(
            "move_cell",
            "Move a cell to `index` (clamped to after the title).",
            input(
                json!({"notebookId": nb, "cellId": cell, "index": {"type": "integer", "minimum": 0}}),
                &["notebookId", "cellId", "index"],
            ),
            output(json!({"cellId": {"type": "string"}, "index": {"type": "integer"}}), &["cellId", "index"]),
        ),
        tool(
            "run_cell",
            "Run a code cell on the notebook's warm Node runtime and wait for it to end: stdout, \
             stderr, exit code, duration. Open browser tabs see the run live.",
            input(json!({"notebookId": nb, "cellId": cell}), &["notebookId", "cellId"]),
            result_or_error(run_schema()),
        ),
        tool(
            "run_all",
            "Run every code cell in order, stopping at the first that fails; waits for the runs.",
            input(json!({"notebookId": nb}), &["notebookId"]),
            output(
                json!({
                    "runs": {"type": "array", "items": run_schema()},
                    "complete": {"type": "boolean", "description": "every code cell ran and succeeded"}
                }),
                &["runs", "complete"],
            ),
        ),
        read_only(tool(
            "get_diagnostics",
            "A code cell's TypeScript diagnostics from the language service (tsserver): syntax and \
             semantic errors, warnings and suggestions, 1-based positions.",
            input(json!({"notebookId": nb, "cellId": cell}), &["notebookId", "cellId"]),
            output(
                json!({
                    "cellId": {"type": "string"},
                    "diagnostics": {"type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "line": {"type": "integer"}, "column": {"type": "integer"},
                            "endLine": {"type": "integer"}, "endColumn": {"type": "integer"},
                            "message": {"type": "string"}, "code": {"type": ["integer", "null"]},
                            "category": {"type": "string"}
                        },
                        "required": ["line", "column", "message", "category"]
                    }}
                }),
                &["cellId", "diagnostics"],
            ),
        )),
        tool(
            "install_dependencies",
            "npm install `packages` (added to package.json), or package.json's dependencies when \
             none are given. Waits for npm to finish.",
            input(
                json!({"notebookId": nb, "packages": {"type": "array", "items": {"type": "string"}}}),
                &["notebookId"],
            ),
            output(
                json!({
                    "exitCode": {"type": ["integer", "null"]},
                    "success": {"type": "boolean"},
                    "output": {"type": "string"}
                }),
                &["success", "output"],
            ),
        ),
    ]
}
