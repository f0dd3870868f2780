//! Cell edits on one open notebook. Each edit is applied to a copy, written durably, then committed
//! in memory, so a failed write leaves both disk and memory as they were.

use crate::error::{NotebookError, Result};
use crate::store::OpenNotebook;
use crate::{fsx, layout};
use srcmd::{Cell, CellStatus, Language, Notebook};

/// The `updates` of a `cell:update`: `{text}` for title/markdown, `{source}` for code/package.json.
#[derive(Clone, Debug)]
pub enum CellUpdate {
    Text(String),
    Source(String),
}

const TITLE_MAX: usize = 44;

fn is_valid_client_cell_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Srcbook's filename checks, in its order, with its messages (all carry `attribute: "filename"`).
fn check_new_filename(nb: &Notebook, dir: &std::path::Path, filename: &str) -> Result<Language> {
    if !srcmd::is_valid_filename(filename) {
        return Err(NotebookError::InvalidFilename(format!("{filename} is not a valid filename")));
    }
    let lang = srcmd::language_of_filename(filename)
        .ok_or_else(|| NotebookError::InvalidFilename(format!("{filename} is not a valid filename")))?;
    if lang != nb.language {
        let exts = match nb.language {
            Language::Javascript => "js,cjs,mjs",
            Language::Typescript => "ts,cts,mts",
        };
        return Err(NotebookError::InvalidFilename(format!(
            "File must have one of the following extensions: {exts}"
        )));
    }
    let in_use = nb.cells.iter().any(|c| matches!(c, Cell::Code(cc) if cc.filename == filename));
    let path = layout::code_path(dir, filename)?;
    if in_use || fsx::is_symlink(&path) || path.exists() {
        return Err(NotebookError::FilenameTaken(format!("A file named '{filename}' already exists")));
    }
    Ok(lang)
}

fn normalized_markdown(text: &str) -> Result<String> {
    srcmd::check_markdown(text).map_err(NotebookError::InvalidMarkdown)?;
    Ok(srcmd::normalize_markdown(text))
}

impl OpenNotebook {
    pub fn position(&self, cell_id: &str) -> Result<usize> {
        self.nb
            .cells
            .iter()
            .position(|c| c.id() == cell_id)
            .ok_or_else(|| NotebookError::CellNotFound(cell_id.to_string()))
    }

    pub fn cell(&self, cell_id: &str) -> Result<&Cell> {
        Ok(&self.nb.cells[self.position(cell_id)?])
    }

    /// Insert a markdown or code cell (client-chosen id) at `index`, clamped to after the title.
    pub fn create_cell(&mut self, index: usize, cell: Cell) -> Result<(usize, Cell)> {
        if !is_valid_client_cell_id(cell.id()) {
            return Err(NotebookError::InvalidCell(format!(
                "'{}' is not a valid cell id",
                cell.id().escape_default()
            )));
        }
        if self.position(cell.id()).is_ok() {
            return Err(NotebookError::InvalidCell(format!("A cell with id '{}' already exists", cell.id())));
        }
        let mut next = self.nb.clone();
        let cell = match cell {
            Cell::Markdown(mut m) => {
                m.text = normalized_markdown(&m.text)?;
                Cell::Markdown(m)
            }
            Cell::Code(mut c) => {
                c.language = check_new_filename(&next, &self.dir, &c.filename)?;
                c.status = CellStatus::Idle;
                fsx::write_atomic(&layout::code_path(&self.dir, &c.filename)?, c.source.as_bytes())?;
                Cell::Code(c)
            }
            _ => {
                return Err(NotebookError::InvalidCell("Only markdown and code cells can be created".into()));
            }
        };
        let index = index.clamp(1, next.cells.len());
        next.cells.insert(index, cell.clone());
        if let Err(e) = layout::write_readme(&self.dir, &next) {
            // The README never linked the new file: remove it so a retry is not told the name is taken.
            if let Cell::Code(c) = &cell {
                let _ = fsx::remove_file_durable(&layout::code_path(&self.dir, &c.filename)?);
            }
            return Err(e);
        }
        self.nb = next;
        Ok((index, cell))
    }

    /// Apply `{text}` or `{source}`; returns the stored cell (markdown in the form the decoder reads back).
    pub fn update_cell(&mut self, cell_id: &str, update: CellUpdate) -> Result<Cell> {
        let i = self.position(cell_id)?;
        let mut cell = self.nb.cells[i].clone();
        match (&mut cell, update) {
            (Cell::Title(t), CellUpdate::Text(text)) => {
                if text.chars().count() > TITLE_MAX {
                    return Err(NotebookError::InvalidTitle("Title must be 44 characters or fewer".into()));
                }
                let text = srcmd::normalize_title(&text);
                if text.is_empty() {
                    return Err(NotebookError::InvalidTitle("Title cannot be empty".into()));
                }
                t.text = text;
            }
            (Cell::Markdown(m), CellUpdate::Text(text)) => m.text = normalized_markdown(&text)?,
            (Cell::Code(c), CellUpdate::Source(source)) => {
                fsx::write_atomic(&layout::code_path(&self.dir, &c.filename)?, source.as_bytes())?;
                c.source = source;
            }
            (Cell::PackageJson(p), CellUpdate::Source(source)) => {
                fsx::write_atomic(&self.dir.join(layout::PACKAGE_JSON), source.as_bytes())?;
                p.source = source;
            }
            (c, u) => {
                let field = if matches!(u, CellUpdate::Text(_)) { "text" } else { "source" };
                return Err(NotebookError::InvalidCell(format!(
                    "A {} cell cannot be updated with '{field}'",
                    cell_kind(c)
                )));
            }
        }
        let mut next = self.nb.clone();
        next.cells[i] = cell.clone();
        if matches!(cell, Cell::Title(_) | Cell::Markdown(_)) {
            layout::write_readme(&self.dir, &next)?;
        }
        self.nb = next;
        Ok(cell)
    }

    /// Rename a code cell's file: write the new file, then the README, then remove the old file,
    /// so a crash at any point leaves a README whose links all exist.
    pub fn rename_cell(&mut self, cell_id: &str, filename: &str) -> Result<Cell> {
        let i = self.position(cell_id)?;
        let Cell::Code(mut c) = self.nb.cells[i].clone() else {
            return Err(NotebookError::InvalidCell("Only code cells can be renamed".into()));
        };
        if c.filename == filename {
            return Ok(Cell::Code(c));
        }
        check_new_filename(&self.nb, &self.dir, filename)?;
        let old = layout::code_path(&self.dir, &c.filename)?;
        fsx::write_atomic(&layout::code_path(&self.dir, filename)?, c.source.as_bytes())?;
        c.filename = filename.to_string();
        let mut next = self.nb.clone();
        next.cells[i] = Cell::Code(c.clone());
        layout::write_readme(&self.dir, &next)?;
        self.nb = next;
        fsx::remove_file_durable(&old)?;
        Ok(Cell::Code(c))
    }

    /// Delete a markdown or code cell (README first, then the file).
    pub fn delete_cell(&mut self, cell_id: &str) -> Result<()> {
        let i = self.position(cell_id)?;
        let file = match &self.nb.cells[i] {
            Cell::Markdown(_) => None,
            Cell::Code(c) => Some(layout::code_path(&self.dir, &c.filename)?),
            other => {
                return Err(NotebookError::InvalidCell(format!(
                    "A {} cell cannot be deleted",
                    cell_kind(other)
                )));
            }
        };
        let mut next = self.nb.clone();
        next.cells.remove(i);
        layout::write_readme(&self.dir, &next)?;
        self.nb = next;
        if let Some(f) = file {
            fsx::remove_file_durable(&f)?;
        }
        Ok(())
    }

    /// Move a markdown or code cell to `index` (in the list after removal, clamped to after the title).
    pub fn move_cell(&mut self, cell_id: &str, index: usize) -> Result<usize> {
        let i = self.position(cell_id)?;
        if !matches!(self.nb.cells[i], Cell::Markdown(_) | Cell::Code(_)) {
            return Err(NotebookError::InvalidCell("Only markdown and code cells can be moved".into()));
        }
        let mut next = self.nb.clone();
        let cell = next.cells.remove(i);
        let index = index.clamp(1, next.cells.len());
        next.cells.insert(index, cell);
        if index != i {
            layout::write_readme(&self.dir, &next)?;
        }
        self.nb = next;
        Ok(index)
    }

    /// Replace tsconfig.json. It must be a JSON object; an invalid one keeps the previous config.
    pub fn update_tsconfig(&mut self, source: &str) -> Result<()> {
        match serde_json::from_str::<serde_json::Value>(source) {
            Ok(serde_json::Value::Object(_)) => {}
            Ok(_) => {
                return Err(NotebookError::InvalidTsconfig("tsconfig.json must be a JSON object".into()));
            }
            Err(e) => {
                return Err(NotebookError::InvalidTsconfig(format!("tsconfig.json is not valid JSON: {e}")));
            }
        }
        fsx::write_atomic(&self.dir.join(layout::TSCONFIG), source.as_bytes())?;
        self.nb.tsconfig = Some(source.to_string());
        Ok(())
    }

    /// Rewrite env.d.ts for the given linked secret names.
    pub fn write_env_types(&self, secret_names: &[String]) -> Result<()> {
        layout::write_env_d_ts(&self.dir, secret_names)
    }
}

fn cell_kind(c: &Cell) -> &'static str {
    match c {
        Cell::Title(_) => "title",
        Cell::Markdown(_) => "markdown",
        Cell::PackageJson(_) => "package.json",
        Cell::Code(_) => "code",
        Cell::Placeholder(_) => "placeholder",
    }
}

/// Run state and package.json refresh: in memory only (a status is never written to disk).
impl OpenNotebook {
    /// Set a code or package.json cell's status; returns the cell as clients should now see it.
    pub fn set_status(&mut self, cell_id: &str, status: CellStatus) -> Result<Cell> {
        let i = self.position(cell_id)?;
        match &mut self.nb.cells[i] {
            Cell::Code(c) => c.status = status,
            Cell::PackageJson(p) => p.status = status,
            other => {
                return Err(NotebookError::InvalidCell(format!(
                    "A {} cell has no run status",
                    cell_kind(other)
                )));
            }
        }
        Ok(self.nb.cells[i].clone())
    }

    /// What a stamp approves: every code cell's file name and source, and package.json, in order.
    pub fn content_digest(&self) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        for c in &self.nb.cells {
            let (kind, name, text) = match c {
                Cell::Code(c) => ("code", c.filename.as_str(), c.source.as_str()),
                Cell::PackageJson(p) => ("package.json", "package.json", p.source.as_str()),
                _ => continue,
            };
            for part in [kind, name, text] {
                h.update(&(part.len() as u64).to_le_bytes());
                h.update(part.as_bytes());
            }
        }
        *h.finalize().as_bytes()
    }

    /// Every code cell as `(filename, source)`.
    pub fn code_sources(&self) -> Vec<(String, String)> {
        self.nb
            .cells
            .iter()
            .filter_map(|c| match c {
                Cell::Code(c) => Some((c.filename.clone(), c.source.clone())),
                _ => None,
            })
            .collect()
    }

    /// The package.json cell, if the notebook has one.
    pub fn package_json(&self) -> Option<&srcmd::PackageJsonCell> {
        self.nb.cells.iter().find_map(|c| match c {
            Cell::PackageJson(p) => Some(p),
            _ => None,
        })
    }

    /// Re-read package.json after npm changed it; returns the updated cell.
    pub fn reload_package_json(&mut self) -> Result<Option<Cell>> {
        let source = match std::fs::read_to_string(self.dir.join(layout::PACKAGE_JSON)) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        for cell in &mut self.nb.cells {
            if let Cell::PackageJson(p) = cell {
                p.source = source;
                return Ok(Some(cell.clone()));
            }
        }
        Ok(None)
    }
}
