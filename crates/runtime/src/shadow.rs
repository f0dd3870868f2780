//! A TypeScript notebook runs from a "shadow" copy of its `src/` holding transpiled JavaScript: Node 20
//! cannot load `.ts`, and loader hooks would cost ~100 ms per worker. The shadow lives in Quire's cache
//! (the notebook directory stays exactly Srcbook's layout) and links back to the notebook's
//! `node_modules`, so packages resolve as they would from `src/`. Source maps point stack traces at the
//! original `src/<cell>.ts`.

use crate::transpile::{Cache, file_url};
use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

/// The file name a cell gets in the shadow: `.ts`→`.js`, `.mts`→`.mjs`, `.cts`→`.cjs`, `.tsx`→`.js`.
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

fn write_if_changed(path: &Path, text: &str) -> io::Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == text.as_bytes()) {
        return Ok(());
    }
    // Atomic for readers (a concurrent run never imports half a file); durability is not needed for a cache.
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Bring `root` up to date with the notebook's code cells; returns the shadow path of `entry`.
pub fn prepare(
    cache: &Cache,
    root: &Path,
    notebook_dir: &Path,
    cells: &[(String, String)],
    entry: &str,
) -> io::Result<PathBuf> {
    let src = root.join("src");
    std::fs::create_dir_all(&src)?;
    write_if_changed(&root.join("package.json"), "{\"type\":\"module\"}\n")?;
    let link = root.join("node_modules");
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink(notebook_dir.join("node_modules"), &link)?;
    }
    let mut wanted = HashSet::new();
    // TypeScript first, so a `util.ts` wins over a stray `util.js` for the name `util.js`.
    let mut ordered: Vec<&(String, String)> = cells.iter().collect();
    ordered.sort_by_key(|(name, _)| !is_typescript(name));
    for (name, source) in ordered {
        let out = shadow_name(name);
        if !wanted.insert(out.clone()) {
            continue;
        }
        let original = notebook_dir.join("src").join(name);
        let text = if is_typescript(name) {
            match cache.get(source, &original) {
                Ok(js) => js.to_string(),
                Err(problems) => syntax_error_module(&original, &problems),
            }
        } else {
            source.clone()
        };
        write_if_changed(&src.join(&out), &text)?;
    }
    for entry in std::fs::read_dir(&src)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !wanted.contains(&name) && !name.ends_with(".tmp") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(src.join(shadow_name(entry)))
}

/// A module that fails to load the way Node reports a syntax error: at the cell's own line and column,
/// and only when something actually imports it.
fn syntax_error_module(original: &Path, problems: &[crate::transpile::Problem]) -> String {
    let first = problems.first();
    let message = first.map(|p| p.message.as_str()).unwrap_or("invalid TypeScript");
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

    #[test]
    fn prepares_and_prunes() {
        let nb = tempfile::tempdir().unwrap();
        let shadow = tempfile::tempdir().unwrap();
        let cache = Cache::default();
        let cells = vec![
            ("a.ts".to_string(), "export const a: number = 1;".to_string()),
            ("b.ts".to_string(), "import {a} from './a.ts'; console.log(a)".to_string()),
            ("bad.ts".to_string(), "const = ;".to_string()),
        ];
        let entry = prepare(&cache, shadow.path(), nb.path(), &cells, "b.ts").unwrap();
        assert_eq!(entry, shadow.path().join("src/b.js"));
        let b = std::fs::read_to_string(&entry).unwrap();
        assert!(b.contains("./a.js"), "{b}");
        let bad = std::fs::read_to_string(shadow.path().join("src/bad.js")).unwrap();
        assert!(bad.contains("SyntaxError") && bad.contains("bad.ts:1:"), "{bad}");
        prepare(&cache, shadow.path(), nb.path(), &cells[..1], "a.ts").unwrap();
        assert!(!shadow.path().join("src/b.js").exists());
        assert!(std::fs::symlink_metadata(shadow.path().join("node_modules")).is_ok());
    }
}
