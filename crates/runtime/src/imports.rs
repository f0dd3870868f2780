//! Which packages a cell imports, read from its syntax (oxc), for `deps:validate`.

use oxc::allocator::Allocator;
use oxc::parser::Parser;
use oxc::span::SourceType;
use std::path::Path;

/// Node's built-in modules: imported without `node:` they still need no package.
const BUILTINS: &[&str] = &[
    "assert",
    "async_hooks",
    "buffer",
    "child_process",
    "cluster",
    "console",
    "constants",
    "crypto",
    "dgram",
    "diagnostics_channel",
    "dns",
    "domain",
    "events",
    "fs",
    "http",
    "http2",
    "https",
    "inspector",
    "module",
    "net",
    "os",
    "path",
    "perf_hooks",
    "process",
    "punycode",
    "querystring",
    "readline",
    "repl",
    "stream",
    "string_decoder",
    "sys",
    "timers",
    "tls",
    "trace_events",
    "tty",
    "url",
    "util",
    "v8",
    "vm",
    "wasi",
    "worker_threads",
    "zlib",
];

/// The package a bare specifier names (`lodash/fp` → `lodash`, `@a/b/c` → `@a/b`); `None` for relative,
/// absolute, URL and built-in specifiers.
pub fn package_of(spec: &str) -> Option<&str> {
    if spec.is_empty() || spec.starts_with('.') || spec.starts_with('/') || spec.contains(':') {
        return None;
    }
    let mut parts = spec.splitn(3, '/');
    let first = parts.next()?;
    let name = if first.starts_with('@') {
        let second = parts.next()?;
        &spec[..first.len() + 1 + second.len()]
    } else {
        first
    };
    let root = name.split('/').next().unwrap_or(name);
    (!BUILTINS.contains(&root)).then_some(name)
}

/// What a module imports, as far as its syntax tells.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Analysis {
    /// Relative specifiers (`./util.ts`).
    pub relative: Vec<String>,
    /// Packages (bare specifiers that are not Node built-ins).
    pub packages: Vec<String>,
    /// Something loads code in a way the syntax does not show (`import(expr)`, `require`, absolute or
    /// URL specifiers).
    pub opaque: bool,
}

pub fn analyze(source: &str, filename: &str) -> Analysis {
    let (specs, dynamic_unknown) = specifiers(source, filename);
    let mut a = Analysis { opaque: dynamic_unknown || mentions_require(source), ..Analysis::default() };
    for spec in specs {
        if spec.starts_with("./") || spec.starts_with("../") {
            a.relative.push(spec);
        } else if let Some(p) = package_of(&spec) {
            a.packages.push(p.to_string());
        } else if !(spec.starts_with("node:") || BUILTINS.contains(&spec.split('/').next().unwrap_or(""))) {
            a.opaque = true;
        }
    }
    a.packages.sort();
    a.packages.dedup();
    a
}

fn mentions_require(source: &str) -> bool {
    source.match_indices("require").any(|(i, _)| {
        let before = source[..i].chars().next_back();
        let after = source[i + 7..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
        !word(before) && !word(after)
    }) || source.contains("createRequire")
}

/// Packages imported by `source` (static imports, re-exports, and `import("literal")`); type-only
/// imports are skipped. Unparseable code yields what could be read.
pub fn imported_packages(source: &str, filename: &str) -> Vec<String> {
    let mut out: Vec<String> =
        specifiers(source, filename).0.iter().filter_map(|s| package_of(s)).map(str::to_string).collect();
    out.sort();
    out.dedup();
    out
}

/// Every specifier `source` imports by value, and whether some `import()` takes a non-literal.
fn specifiers(source: &str, filename: &str) -> (Vec<String>, bool) {
    let source_type = SourceType::from_path(Path::new(filename)).unwrap_or_else(|_| SourceType::mjs());
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, source, source_type).parse();
    let record = &parsed.module_record;
    let mut specs: Vec<String> = record
        .requested_modules
        .iter()
        .filter(|(_, uses)| uses.iter().any(|u| !u.is_type))
        .map(|(spec, _)| spec.to_string())
        .collect();
    let mut dynamic_unknown = false;
    for d in record.dynamic_imports.iter() {
        let text = d.module_request.source_text(source);
        let quoted = text.len() >= 2
            && (text.starts_with('"') || text.starts_with('\'') || text.starts_with('`'))
            && text.ends_with(&text[..1]);
        if quoted && !text.contains("${") {
            specs.push(text[1..text.len() - 1].to_string());
        } else {
            dynamic_unknown = true;
        }
    }
    (specs, dynamic_unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names() {
        assert_eq!(package_of("lodash/fp"), Some("lodash"));
        assert_eq!(package_of("@scope/pkg/deep"), Some("@scope/pkg"));
        assert_eq!(package_of("./x.ts"), None);
        assert_eq!(package_of("node:fs"), None);
        assert_eq!(package_of("fs/promises"), None);
    }

    #[test]
    fn finds_imports_but_not_types() {
        let src = "import a from 'alpha';\nimport type { T } from 'typed';\nexport * from '@s/beta/x';\n\
                   import './local.ts';\nconst c = await import('gamma');\nimport fs from 'node:fs';";
        assert_eq!(imported_packages(src, "x.ts"), ["@s/beta", "alpha", "gamma"]);
        let a = analyze(src, "x.ts");
        assert_eq!((a.relative, a.opaque), (vec!["./local.ts".to_string()], false));
    }

    #[test]
    fn opaque_loading_is_noticed() {
        assert!(analyze("const m = await import(name)", "a.js").opaque);
        assert!(analyze("const fs = require('fs')", "a.cjs").opaque);
        assert!(analyze("import { createRequire } from 'node:module'", "a.js").opaque);
        assert!(!analyze("const required = 1; console.log(required)", "a.js").opaque);
        assert!(!analyze("import { threadId } from 'node:worker_threads'", "a.js").opaque);
    }
}
