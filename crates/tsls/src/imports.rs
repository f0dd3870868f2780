//! Which cells import which: a small scanner for relative module specifiers (`import … from "./x"`,
//! `export … from`, `import("./x")`, `require("./x")`, `import "./x"`). It only has to find sibling
//! cells, so it skips comments and reads string literals after the keywords; it is not a parser.

use std::collections::{BTreeSet, HashMap};

/// The stem a relative specifier names (`./util.js` → `util`), or `None` for packages and paths
/// outside the notebook's flat `src/`.
fn sibling_stem(spec: &str) -> Option<&str> {
    let rest = spec.strip_prefix("./")?;
    if rest.contains('/') || rest.is_empty() {
        return None;
    }
    Some(stem(rest))
}

/// `util.ts` → `util` (the extension is what TypeScript lets an import vary).
pub fn stem(filename: &str) -> &str {
    const EXTS: &[&str] = &[".ts", ".mts", ".cts", ".tsx", ".js", ".mjs", ".cjs", ".jsx"];
    EXTS.iter().find_map(|e| filename.strip_suffix(e)).unwrap_or(filename)
}

/// Stems of the sibling cells `source` imports.
pub fn imported_stems(source: &str) -> BTreeSet<String> {
    let code = strip_comments(source);
    let mut out = BTreeSet::new();
    for kw in ["from", "import", "require"] {
        let mut at = 0;
        while let Some(i) = code[at..].find(kw) {
            let start = at + i;
            at = start + kw.len();
            if code[..start].chars().next_back().is_some_and(is_ident) {
                continue;
            }
            let after = code[at..].trim_start();
            let after = after.strip_prefix('(').map_or(after, str::trim_start);
            if let Some(q) = after.chars().next().filter(|c| *c == '"' || *c == '\'')
                && let Some(end) = after[1..].find(q)
                && let Some(s) = sibling_stem(&after[1..1 + end])
            {
                out.insert(s.to_string());
            }
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// Blank out `//` and `/* */` comments (outside string literals), keeping byte offsets.
fn strip_comments(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == b'\\' {
                // Keep the escape and the escaped character together (it may be multi-byte).
                let len = 1 + src[i + 1..].chars().next().map_or(0, char::len_utf8);
                out.push_str(&src[i..i + len]);
                i += len;
                continue;
            }
            if c == q || c == b'\n' {
                quote = None;
            }
        } else if c == b'"' || c == b'\'' || c == b'`' {
            quote = Some(c);
        } else if c == b'/' && b.get(i + 1) == Some(&b'/') {
            let end = src[i..].find('\n').map_or(b.len(), |n| i + n);
            out.extend(std::iter::repeat_n(' ', end - i));
            i = end;
            continue;
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let end = src[i + 2..].find("*/").map_or(b.len(), |n| i + 2 + n + 2);
            out.extend(src[i..end].chars().map(|ch| if ch == '\n' { '\n' } else { ' ' }));
            i = end;
            continue;
        }
        let ch_len = src[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&src[i..i + ch_len]);
        i += ch_len;
    }
    out
}

/// Cells to re-check after `changed` cells changed (and cells with the filename stems `gone` were deleted
/// or renamed): the changed cells plus every cell importing one of them, directly or through other
/// cells. `cells` maps cell id → (filename, source). A false positive only costs a re-check.
pub fn affected(
    cells: &HashMap<String, (String, String)>,
    changed: &BTreeSet<String>,
    gone: &[String],
) -> BTreeSet<String> {
    let imports: HashMap<&str, BTreeSet<String>> =
        cells.iter().map(|(id, (_, src))| (id.as_str(), imported_stems(src))).collect();
    let mut out: BTreeSet<String> = changed.iter().filter(|id| cells.contains_key(*id)).cloned().collect();
    let mut frontier: Vec<String> =
        out.iter().map(|id| stem(&cells[id].0).to_string()).chain(gone.iter().cloned()).collect();
    while let Some(s) = frontier.pop() {
        for (id, stems) in &imports {
            if stems.contains(&s) && out.insert(id.to_string()) {
                frontier.push(stem(&cells[*id].0).to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sibling_imports() {
        let src = r#"
import { a } from "./a.ts";
import b from './b.js';
export * from "./c";
import "./side.mjs";
const d = await import( "./d.ts");
const e = require("./e.cjs");
import x from "lodash";
import y from "../up.ts";
import z from "./dir/z.ts";
// import { no } from "./commented.ts";
/* import { no2 } from "./blocked.ts"; */
const s = "import q from './instring.ts' \\é";
const fromage = 1;
"#;
        let got: Vec<String> = imported_stems(src).into_iter().collect();
        assert_eq!(got, ["a", "b", "c", "d", "e", "instring", "side"]);
    }

    #[test]
    fn importers_are_transitive() {
        let cells: HashMap<String, (String, String)> = [
            ("A", ("a.ts", "export const x = 1;")),
            ("B", ("b.ts", "import { x } from './a.ts'; export const y = x;")),
            ("C", ("c.ts", "import { y } from './b.js';")),
            ("D", ("d.ts", "const z = 1;")),
            ("E", ("e.ts", "import { gone } from './old.ts';")),
        ]
        .into_iter()
        .map(|(k, (f, s))| (k.to_string(), (f.to_string(), s.to_string())))
        .collect();
        let one = |id: &str| BTreeSet::from([id.to_string()]);
        assert_eq!(affected(&cells, &one("A"), &[]), BTreeSet::from(["A", "B", "C"].map(String::from)));
        assert_eq!(affected(&cells, &one("D"), &[]), one("D"));
        // A deleted or renamed cell is named by its old stem.
        assert_eq!(affected(&cells, &BTreeSet::new(), &["old".into()]), one("E"));
    }
}
