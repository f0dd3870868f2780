//! Every run imports its cells from a directory of its own under Quire's cache, `run/<id>/g<run>/`:
//! - Node 20 cannot load `.ts`, so TypeScript cells are there as JavaScript transpiled by oxc (loader
//!   hooks would cost ~100 ms per worker);
//! - a fresh directory means fresh module URLs, so no module instance of a previous run can be reused,
//!   even by a recycled worker;
//! - its `node_modules` links back to the notebook's, so packages resolve as they would from `src/`.
//!
//! Files are content-addressed objects hard-linked into each run's directory, so preparing a run costs a
//! few links. Inline source maps with absolute `file://` sources make stack traces show
//! `src/<cell>:line:col`. The notebook directory itself stays exactly Srcbook's layout.

use crate::imports::{Analysis, analyze};
use crate::transpile::{Cache, Problem, file_url};
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

/// The file name a cell gets in a run directory: `.ts`→`.js`, `.mts`→`.mjs`, `.cts`→`.cjs`, `.tsx`→`.js`.
pub fn shadow_name(filename: &str) -> String {
    for (ts, js) in [(".mts", ".mjs"), (".cts", ".cjs"), (".tsx", ".js"), (".ts", ".js")] {
        if let Some(stem) = filename.strip_suffix(ts) {
            return format!("{stem}{js}");
        }
    }
    filename.to_string()
}

pub fn is_typescript(filename: &str) -> bool {
    [".ts", ".mts", ".cts", ".tsx"].iter().any(|e| filename.ends_with(e))
}

/// A prepared run: where its entry is, its directory (removed after the run), and whether its whole
/// import graph is package-free and visible to the syntax (so its worker may be recycled).
pub struct Prepared {
    pub entry: PathBuf,
    pub dir: PathBuf,
    pub recyclable: bool,
}

fn write_object(objects: &Path, text: &str) -> io::Result<PathBuf> {
    let path = objects.join(format!("{}.js", blake3::hash(text.as_bytes()).to_hex()));
    if !path.exists() {
        let tmp = objects.join(format!(".{}.{}.tmp", std::process::id(), rand_suffix()));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(path)
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Lay out run `run_id` of the notebook at `notebook_dir` under `root`.
pub fn prepare(
    cache: &Cache,
    root: &Path,
    notebook_dir: &Path,
    cells: &[(String, String)],
    entry: &str,
    run_id: u32,
) -> io::Result<Prepared> {
    let objects = root.join("obj");
    std::fs::create_dir_all(&objects)?;
    let dir = root.join(format!("g{run_id}"));
    let src = dir.join("src");
    std::fs::create_dir_all(&src)?;
    std::fs::write(dir.join("package.json"), "{\"type\":\"module\"}\n")?;
    std::os::unix::fs::symlink(notebook_dir.join("node_modules"), dir.join("node_modules"))?;
    // TypeScript first, so a `util.ts` wins over a stray `util.js` for the name `util.js`.
    let mut ordered: Vec<&(String, String)> = cells.iter().collect();
    ordered.sort_by_key(|(name, _)| !is_typescript(name));
    let mut taken = HashSet::new();
    for (name, source) in ordered {
        let out = shadow_name(name);
        if !taken.insert(out.clone()) {
            continue;
        }
        let original = notebook_dir.join("src").join(name);
        let text = match cache.get(source, &original) {
            Ok(js) => js.to_string(),
            Err(problems) => syntax_error_module(&original, &problems),
        };
        std::fs::hard_link(write_object(&objects, &text)?, src.join(&out))?;
    }
    let recyclable = graph_is_package_free(cache, cells, entry);
    Ok(Prepared { entry: src.join(shadow_name(entry)), dir, recyclable })
}

/// Follow relative imports from `entry`: true if no module in the graph imports a package, uses
/// `require`, imports by expression, or reaches outside the notebook's cells.
fn graph_is_package_free(cache: &Cache, cells: &[(String, String)], entry: &str) -> bool {
    let by_name: HashMap<&str, &str> = cells.iter().map(|(n, s)| (n.as_str(), s.as_str())).collect();
    let mut seen = HashSet::new();
    let mut stack = vec![entry.to_string()];
    while let Some(name) = stack.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(source) = by_name.get(name.as_str()) else { return false };
        let a: Analysis = cache.analysis(source, &name, analyze);
        if a.opaque || !a.packages.is_empty() {
            return false;
        }
        for spec in &a.relative {
            match resolve_cell(spec, &by_name) {
                Some(target) => stack.push(target),
                None => return false,
            }
        }
    }
    true
}

/// The cell a relative specifier names (`./util.ts`, `./util.js` for `util.ts`, `./util`).
fn resolve_cell(spec: &str, cells: &HashMap<&str, &str>) -> Option<String> {
    let name = spec.strip_prefix("./")?;
    if name.contains('/') {
        return None;
    }
    let candidates = [
        name.to_string(),
        name.strip_suffix(".js").map(|s| format!("{s}.ts")).unwrap_or_default(),
        name.strip_suffix(".js").map(|s| format!("{s}.tsx")).unwrap_or_default(),
        name.strip_suffix(".mjs").map(|s| format!("{s}.mts")).unwrap_or_default(),
        name.strip_suffix(".cjs").map(|s| format!("{s}.cts")).unwrap_or_default(),
    ];
    candidates.into_iter().find(|c| !c.is_empty() && cells.contains_key(c.as_str()))
}

/// A module that fails to load the way Node reports a syntax error: at the cell's own line and column,
/// and only when something actually imports it.
fn syntax_error_module(original: &Path, problems: &[Problem]) -> String {
    let first = problems.first();
    let message = first.map(|p| p.message.as_str()).unwrap_or("invalid syntax");
    let at = first.map(|p| format!("{}:{}:{}", file_url(original), p.line, p.column)).unwrap_or_default();
    let stack = format!("SyntaxError: {message}\n    at {at}");
    format!(
        "const e = new SyntaxError({m});\ne.stack = {s};\nthrow e;\n",
        m = serde_json::to_string(message).unwrap_or_default(),
        s = serde_json::to_string(&stack).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(shadow_name("a.ts"), "a.js");
        assert_eq!(shadow_name("a.mts"), "a.mjs");
        assert_eq!(shadow_name("a.cts"), "a.cjs");
        assert_eq!(shadow_name("a.mjs"), "a.mjs");
    }

    fn cells(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn prepares_a_run_directory() {
        let nb = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let cache = Cache::default();
        let cells = cells(&[
            ("a.ts", "export const a: number = 1;"),
            ("b.ts", "import {a} from './a.ts'; console.log(a)"),
            ("bad.ts", "const = ;"),
            ("p.js", "import x from 'left-pad'; import {b} from './b.js';"),
        ]);
        let run = prepare(&cache, root.path(), nb.path(), &cells, "b.ts", 7).unwrap();
        assert_eq!(run.entry, root.path().join("g7/src/b.js"));
        assert!(run.recyclable);
        let b = std::fs::read_to_string(&run.entry).unwrap();
        assert!(b.contains("./a.js"), "{b}");
        let bad = std::fs::read_to_string(run.dir.join("src/bad.js")).unwrap();
        assert!(bad.contains("SyntaxError") && bad.contains("bad.ts:1:"), "{bad}");
        assert!(std::fs::symlink_metadata(run.dir.join("node_modules")).is_ok());
        assert!(!prepare(&cache, root.path(), nb.path(), &cells, "p.js", 8).unwrap().recyclable);
        // The second run shares the unchanged objects.
        let ino = |p: PathBuf| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
        assert_eq!(ino(root.path().join("g7/src/a.js")), ino(root.path().join("g8/src/a.js")));
    }

    #[test]
    fn relative_specifiers_map_to_cells() {
        let map: HashMap<&str, &str> = [("util.ts", ""), ("x.mjs", "")].into_iter().collect();
        assert_eq!(resolve_cell("./util.js", &map).as_deref(), Some("util.ts"));
        assert_eq!(resolve_cell("./util.ts", &map).as_deref(), Some("util.ts"));
        assert_eq!(resolve_cell("./x.mjs", &map).as_deref(), Some("x.mjs"));
        assert_eq!(resolve_cell("../x.mjs", &map), None);
    }
}
