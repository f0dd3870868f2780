//! Bundled example notebooks: embedded in the binary, written to `DATA_DIR/examples/` at start,
//! listed by `GET /api/examples`, imported by path under a fixed id.

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

pub struct Example {
    pub id: &'static str,
    pub file: &'static str,
    pub description: &'static str,
    pub tags: &'static [&'static str],
    pub text: &'static str,
}

pub const EXAMPLES: &[Example] = &[
    Example {
        id: "can717klkha2bjvn8m8cgvv675",
        file: "getting-started.src.md",
        description: "Cells, markdown and imports between cells.",
        tags: &["beginner", "javascript"],
        text: include_str!("../../assets/examples/getting-started.src.md"),
    },
    Example {
        id: "eq75vj4k5i7l62doaft6jfbrdd",
        file: "typescript-basics.src.md",
        description: "Types, unions and exhaustive switches.",
        tags: &["beginner", "typescript"],
        text: include_str!("../../assets/examples/typescript-basics.src.md"),
    },
    Example {
        id: "e1v0v0kmu5skv1k0cmesj21na1",
        file: "async-and-json.src.md",
        description: "Top-level await and JSON.",
        tags: &["javascript", "async"],
        text: include_str!("../../assets/examples/async-and-json.src.md"),
    },
];

/// Write the bundled examples (only when changed) and return the canonical directory.
pub fn install(data_dir: &quire_stdx::DataDir) -> std::io::Result<PathBuf> {
    let dir = data_dir.examples();
    std::fs::create_dir_all(&dir)?;
    for e in EXAMPLES {
        let p = dir.join(e.file);
        if std::fs::read(&p).ok().as_deref() != Some(e.text.as_bytes()) {
            quire_stdx::fs::write_atomic(&p, e.text.as_bytes())?;
        }
    }
    dir.canonicalize()
}

/// The fixed notebook id of a bundled example file, if `file` is one.
pub fn fixed_id_for(s: &AppState, file: &Path) -> Option<&'static str> {
    EXAMPLES.iter().find(|e| s.examples_dir.join(e.file) == file).map(|e| e.id)
}

pub async fn list(State(s): State<AppState>) -> Json<Value> {
    let result: Vec<Value> = EXAMPLES
        .iter()
        .filter_map(|e| {
            let nb = srcmd::decode(e.text).ok()?;
            let title = match nb.cells.first() {
                Some(srcmd::Cell::Title(t)) => t.text.clone(),
                _ => String::new(),
            };
            Some(json!({
                "id": e.id,
                "path": s.examples_dir.join(e.file),
                "title": title,
                "language": nb.language,
                "description": e.description,
                "tags": e.tags,
                "dirname": s.store.root().join(e.id),
            }))
        })
        .collect();
    Json(json!({ "result": result }))
}
