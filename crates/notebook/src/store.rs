//! All notebooks under `DATA_DIR/notebooks`: loading at start, create, import, delete, lookup by id or path.

use crate::error::{NotebookError, Result};
use crate::{fsx, ids, layout};
use quire_stdx::now_ms;
use srcmd::{Cell, Language, Notebook, TitleCell};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::UNIX_EPOCH;

/// One loaded notebook (Srcbook calls it a session; its id is the directory name).
#[derive(Debug)]
pub struct OpenNotebook {
    pub id: String,
    pub dir: PathBuf,
    pub nb: Notebook,
    /// Epoch milliseconds of the last open; the home page sorts by it.
    pub opened_at: u64,
}

pub type Handle = Arc<Mutex<OpenNotebook>>;

/// A notebook directory that failed to decode at start-up (reported in the log and `/health`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct LoadFailure {
    pub id: String,
    pub errors: Vec<String>,
}

pub struct NotebookStore {
    root: PathBuf,
    map: RwLock<BTreeMap<String, Handle>>,
    failures: RwLock<Vec<LoadFailure>>,
}

pub fn lock(h: &Handle) -> MutexGuard<'_, OpenNotebook> {
    // Edits are written file by file, each atomically, so a poisoned lock still guards valid state.
    quire_stdx::lock(h)
}

impl NotebookStore {
    /// Create the root if needed. Nothing is loaded until `load_all`.
    pub fn open(root: &Path) -> Result<Self> {
        fs::create_dir_all(root)?;
        Ok(NotebookStore {
            root: root.canonicalize()?,
            map: RwLock::new(BTreeMap::new()),
            failures: RwLock::new(Vec::new()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Load every notebook directory; one that fails is recorded, never fatal. Leftovers of
    /// interrupted creates/deletes (dot-directories) are removed.
    pub fn load_all(&self) -> Result<usize> {
        let mut loaded = BTreeMap::new();
        let mut failures = Vec::new();
        for entry in fs::read_dir(&self.root)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.starts_with(".tmp-") || name.starts_with(".trash-") {
                let _ = fs::remove_dir_all(&path);
                continue;
            }
            if !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            if ids::check_notebook_id(&name).is_err() {
                failures.push(LoadFailure { id: name, errors: vec!["not a valid notebook id".into()] });
                continue;
            }
            match layout::load(&path) {
                Ok(nb) => {
                    let opened_at = fs::metadata(path.join(layout::README))
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                        .map(|d| d.as_millis() as u64)
                        .unwrap_or_else(|| now_ms() as u64);
                    let open = OpenNotebook { id: name.clone(), dir: path, nb, opened_at };
                    loaded.insert(name, Arc::new(Mutex::new(open)));
                }
                Err(errors) => {
                    tracing::warn!(notebook = %name, ?errors, "notebook failed to load; skipped");
                    failures.push(LoadFailure { id: name, errors });
                }
            }
        }
        let n = loaded.len();
        *quire_stdx::write(&self.map) = loaded;
        *quire_stdx::write(&self.failures) = failures;
        Ok(n)
    }

    pub fn failures(&self) -> Vec<LoadFailure> {
        quire_stdx::read(&self.failures).clone()
    }

    pub fn list(&self) -> Vec<Handle> {
        quire_stdx::read(&self.map).values().cloned().collect()
    }

    pub fn get(&self, id: &str) -> Result<Handle> {
        ids::check_notebook_id(id)?;
        quire_stdx::read(&self.map)
            .get(id)
            .cloned()
            .ok_or_else(|| NotebookError::NotebookNotFound(id.to_string()))
    }

    /// `POST /sessions {path}` names a notebook by its directory (what create/import returned) or its id.
    pub fn id_for_path(&self, path: &str) -> Result<String> {
        if ids::check_notebook_id(path).is_ok() {
            self.get(path)?;
            return Ok(path.to_string());
        }
        let dir = ids::contain(path, std::slice::from_ref(&self.root))?;
        let id = dir
            .strip_prefix(&self.root)
            .ok()
            .and_then(|rest| rest.to_str())
            .filter(|s| !s.contains('/'))
            .ok_or_else(|| NotebookError::InvalidPath(format!("{path} is not a srcbook directory")))?;
        self.get(id)?;
        Ok(id.to_string())
    }

    /// `POST /srcbooks`: a new notebook with a title and the default package.json (and tsconfig).
    pub fn create(&self, title: &str, language: Language) -> Result<Handle> {
        if title.trim().is_empty() || title.chars().count() > 44 {
            return Err(NotebookError::InvalidTitle(
                "Srcbook is required and cannot be more than 44 characters".into(),
            ));
        }
        let mut nb = Notebook {
            language,
            cells: vec![Cell::Title(TitleCell {
                id: srcmd::new_cell_id(),
                text: srcmd::normalize_title(title),
            })],
            tsconfig: None,
        };
        layout::complete_imported(&mut nb);
        self.insert_new(srcmd::new_cell_id(), nb)
    }

    /// Import inline `.src.md` text as a new notebook (or under a fixed id, for bundled examples).
    pub fn import(&self, text: &str, fixed_id: Option<&str>) -> Result<Handle> {
        let mut nb = srcmd::decode(text).map_err(NotebookError::InvalidSrcmd)?;
        layout::complete_imported(&mut nb);
        layout::check_invariants(&nb)?;
        let id = match fixed_id {
            Some(id) => {
                ids::check_notebook_id(id)?;
                id.to_string()
            }
            None => srcmd::new_cell_id(),
        };
        self.insert_new(id, nb)
    }

    /// Write the notebook into a hidden temp directory, then rename it live: a crash leaves all or nothing.
    fn insert_new(&self, id: String, nb: Notebook) -> Result<Handle> {
        let tmp = self.root.join(format!(".tmp-{id}"));
        let dir = self.root.join(&id);
        if dir.exists() {
            return Err(NotebookError::FilenameTaken(format!("Notebook '{id}' already exists")));
        }
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir(&tmp)?;
        if let Err(e) = layout::write_all(&tmp, &nb) {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        fs::rename(&tmp, &dir)?;
        fsx::sync_dir(&self.root)?;
        let handle =
            Arc::new(Mutex::new(OpenNotebook { id: id.clone(), dir, nb, opened_at: now_ms() as u64 }));
        quire_stdx::write(&self.map).insert(id, handle.clone());
        Ok(handle)
    }

    /// Delete a notebook: rename out of sight first (durable), then remove the tree.
    pub fn delete(&self, id: &str) -> Result<()> {
        let handle = self.get(id)?;
        let guard = lock(&handle);
        let trash = self.root.join(format!(".trash-{id}"));
        let _ = fs::remove_dir_all(&trash);
        fs::rename(&guard.dir, &trash)?;
        fsx::sync_dir(&self.root)?;
        quire_stdx::write(&self.map).remove(id);
        drop(guard);
        // The notebook is gone once the rename is durable; a leftover trash dir is removed at next load.
        if let Err(e) = fs::remove_dir_all(&trash) {
            tracing::warn!(notebook = id, error = %e, "could not remove deleted notebook files");
        }
        Ok(())
    }
}
