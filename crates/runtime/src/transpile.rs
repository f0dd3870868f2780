//! TypeScript (and JavaScript, for its source map) → JavaScript in-process with oxc, with an inline source map so stack traces point at the
//! cell's own `.ts` file, line and column. Results are cached by content hash.

use oxc::allocator::Allocator;
use oxc::codegen::{Codegen, CodegenOptions};
use oxc::diagnostics::OxcDiagnostic;
use oxc::parser::Parser;
use oxc::semantic::SemanticBuilder;
use oxc::span::SourceType;
use oxc::transformer::{RewriteExtensionsMode, TransformOptions, Transformer};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A problem with a position in the original source (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

pub type Transpiled = Result<Arc<str>, Arc<[Problem]>>;

fn options() -> TransformOptions {
    // Node 20 runs ES2023 natively, so only TypeScript syntax is lowered. Decorators use TypeScript's
    // `experimentalDecorators` form: oxc cannot lower standard decorators and Node 20 cannot run them.
    let mut o = TransformOptions::from_target("node20").unwrap_or_default();
    o.typescript.rewrite_import_extensions = Some(RewriteExtensionsMode::Rewrite);
    o.typescript.allow_namespaces = true;
    o.decorator.legacy = true;
    o
}

fn problems(source: &str, diags: &[OxcDiagnostic]) -> Arc<[Problem]> {
    diags
        .iter()
        .map(|d| {
            let offset = d.labels.first().map(|l| l.offset() as usize).unwrap_or(0).min(source.len());
            let (line, column) = line_col(source, offset);
            Problem { message: d.message.to_string(), line, column }
        })
        .collect()
}

/// 1-based line and column (in UTF-16 units, as editors and V8 count) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].encode_utf16().count() + 1;
    (line, column)
}

/// Transpile one TypeScript file. `path` is the original file (it names the source in the map and
/// decides `.ts`/`.tsx`/`.mts`/`.cts` parsing).
pub fn transpile(source: &str, path: &Path) -> Transpiled {
    // Notebook packages are `"type": "module"`: everything but `.cjs`/`.cts` is an ES module.
    let name = path.to_string_lossy();
    let commonjs = name.ends_with(".cjs") || name.ends_with(".cts");
    let source_type = SourceType::from_path(path).unwrap_or_else(|_| SourceType::ts()).with_module(!commonjs);
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, source, source_type).parse();
    if parsed.panicked || parsed.diagnostics.iter().any(|d| d.severity == oxc::diagnostics::Severity::Error) {
        return Err(problems(source, &parsed.diagnostics));
    }
    let mut program = parsed.program;
    let semantic = SemanticBuilder::new().with_excess_capacity(2.0).with_enum_eval(true).build(&program);
    if !semantic.diagnostics.is_empty() {
        return Err(problems(source, &semantic.diagnostics));
    }
    let scoping = semantic.semantic.into_scoping();
    let done = Transformer::new(&allocator, path, &options()).build_with_scoping(scoping, &mut program);
    if !done.diagnostics.is_empty() {
        return Err(problems(source, &done.diagnostics));
    }
    let codegen = CodegenOptions { source_map_path: Some(path.to_path_buf()), ..CodegenOptions::default() };
    let out = Codegen::new().with_options(codegen).build(&program);
    let mut code = out.code;
    if let Some(mut map) = out.map {
        // An absolute file URL: Node resolves `sources` against the generated file's URL.
        map.set_sources([file_url(path)]);
        code.push_str("//# sourceMappingURL=");
        code.push_str(&map.to_data_url());
        code.push('\n');
    }
    Ok(code.into())
}

/// `file://` URL of an absolute path, percent-encoding what a URL cannot hold.
pub fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// Transpile results keyed by a hash of path and source; bounded, cleared when full.
#[derive(Default)]
pub struct Cache {
    map: Mutex<HashMap<blake3::Hash, Transpiled>>,
    analyses: Mutex<HashMap<blake3::Hash, crate::imports::Analysis>>,
}

const CACHE_ENTRIES: usize = 4096;

fn key(name: &[u8], source: &str) -> blake3::Hash {
    let mut h = blake3::Hasher::new();
    h.update(name);
    h.update(&[0]);
    h.update(source.as_bytes());
    h.finalize()
}

/// Look `key` up in `map`, or compute, remember (clearing a full map) and return it.
fn memo<V: Clone>(map: &Mutex<HashMap<blake3::Hash, V>>, key: blake3::Hash, f: impl FnOnce() -> V) -> V {
    if let Some(hit) = quire_stdx::lock(map).get(&key) {
        return hit.clone();
    }
    let out = f();
    let mut map = quire_stdx::lock(map);
    if map.len() >= CACHE_ENTRIES {
        map.clear();
    }
    map.insert(key, out.clone());
    out
}

impl Cache {
    /// `f(source, filename)`, remembered by content.
    pub fn analysis(
        &self,
        source: &str,
        filename: &str,
        f: impl FnOnce(&str, &str) -> crate::imports::Analysis,
    ) -> crate::imports::Analysis {
        memo(&self.analyses, key(filename.as_bytes(), source), || f(source, filename))
    }

    pub fn get(&self, source: &str, path: &Path) -> Transpiled {
        memo(&self.map, key(path.as_os_str().as_encoded_bytes(), source), || transpile(source, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(src: &str) -> String {
        transpile(src, Path::new("/nb/src/cell.ts")).expect("transpiles").to_string()
    }

    #[test]
    fn strips_types_and_lowers_typescript_only_syntax() {
        let out = js(
            "enum E { A, B }\nnamespace N { export const x = 1 }\nclass P { constructor(private a: number) {} }\n\
             import type { T } from './t.ts';\nimport { u } from './u.ts';\nconst v = {a: 1} satisfies object;\n\
             console.log(E.B, N.x, new P(1), u, v as unknown as T);",
        );
        assert!(out.contains("E[E[\"B\"] = 1]") || out.contains("E[\"B\"]"), "{out}");
        assert!(!out.contains("satisfies") && !out.contains("import type"), "{out}");
        assert!(out.contains("from \"./u.js\""), "{out}");
        assert!(out.contains("this.a = a"), "{out}");
        assert!(out.contains("sourceMappingURL=data:application/json"), "{out}");
    }

    #[test]
    fn legacy_decorators_are_lowered() {
        let out = js("function d(t: any) { return t }\n@d class C {}\nconsole.log(C)");
        assert!(!out.contains("@d"), "{out}");
    }

    #[test]
    fn syntax_error_has_a_position() {
        let err = transpile("const a = 1;\nconst = ;\n", Path::new("/nb/src/x.ts")).unwrap_err();
        assert_eq!(err[0].line, 2, "{err:?}");
    }

    #[test]
    fn line_col_counts_utf16() {
        assert_eq!(line_col("a\n😀b", 6), (2, 3));
        assert_eq!(line_col("abc", 99), (1, 4));
    }

    #[test]
    fn file_urls_escape() {
        assert_eq!(file_url(Path::new("/a b/c#.ts")), "file:///a%20b/c%23.ts");
    }
}
