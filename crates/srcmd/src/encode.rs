//! Encoding (§3) with Quire's fixes: cells in their order, fences longer than any backtick line in
//! the source, empty markdown cells skipped.

use crate::decode::CELL_BREAK;
use crate::js::{trim, trim_end};
use crate::{Cell, Language, Notebook};

/// Which form of the document to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// Full sources in fences, tsconfig in the metadata (export, import, AI prompts).
    Inline,
    /// Links to files on disk, `language` only in the metadata (the on-disk `README.md`).
    External,
}

pub fn encode(nb: &Notebook, form: Form) -> String {
    let mut blocks: Vec<String> = vec![metadata(nb, form)];
    let title = nb.cells.iter().find_map(|c| match c {
        Cell::Title(t) => Some(t.text.as_str()),
        _ => None,
    });
    blocks.push(format!("# {}", title.unwrap_or("")));
    let mut after_markdown = false;
    for cell in &nb.cells {
        let is_markdown = matches!(cell, Cell::Markdown(m) if !trim(&m.text).is_empty());
        match cell {
            Cell::Title(_) => {}
            Cell::Markdown(m) => {
                let text = trim(&m.text);
                // An empty block would be dropped by the next decode; don't write it.
                if text.is_empty() {
                    continue;
                }
                // Two markdown blocks in a row would decode as one cell.
                if after_markdown {
                    blocks.push(CELL_BREAK.to_string());
                }
                blocks.push(text.to_string());
            }
            Cell::PackageJson(p) => blocks.push(file_block("package.json", "json", &p.source, form)),
            Cell::Code(c) => blocks.push(file_block(&c.filename, c.language.as_str(), &c.source, form)),
            Cell::Placeholder(p) => blocks.push(p.text.clone()),
        }
        after_markdown = is_markdown;
    }
    let mut out = trim_end(&blocks.join("\n\n")).to_string();
    out.push('\n');
    out
}

fn metadata(nb: &Notebook, form: Form) -> String {
    let mut map = serde_json::Map::new();
    map.insert("language".into(), nb.language.as_str().into());
    if form == Form::Inline
        && nb.language == Language::Typescript
        && let Some(v) =
            nb.tsconfig.as_deref().and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
    {
        map.insert("tsconfig.json".into(), v);
    }
    let json = serde_json::to_string(&serde_json::Value::Object(map)).unwrap_or_default();
    // Escaped line separators keep the comment on one line (the decoder's `.+` stops at them).
    let json = json.replace('\u{2028}', "\\u2028").replace('\u{2029}', "\\u2029");
    format!("<!-- srcbook:{json} -->")
}

fn file_block(filename: &str, info: &str, source: &str, form: Form) -> String {
    match form {
        Form::External => {
            let href = if filename == "package.json" {
                "./package.json".to_string()
            } else {
                format!("./src/{filename}")
            };
            format!("###### {filename}\n\n[{filename}]({href})")
        }
        Form::Inline => {
            let fence = "`".repeat(fence_len(source));
            format!("###### {filename}\n\n{fence}{info}\n{source}\n{fence}")
        }
    }
}

/// max(3, longest backtick run at a line start (after up to 3 spaces) + 1).
pub(crate) fn fence_len(source: &str) -> usize {
    let longest = source
        .split('\n')
        .map(|l| {
            let l = l
                .strip_prefix("   ")
                .or_else(|| l.strip_prefix("  "))
                .or_else(|| l.strip_prefix(' '))
                .unwrap_or(l);
            l.bytes().take_while(|b| *b == b'`').count()
        })
        .max()
        .unwrap_or(0);
    if longest >= 3 { longest + 1 } else { 3 }
}
