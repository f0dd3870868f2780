//! Decoding (§4): lex, pluck the metadata, group tokens, validate, convert to cells.

use std::collections::HashSet;
use std::fmt;

use crate::js::{is_dot, is_ws, trim};
use crate::lexer::{Kind, Token, lex};
use crate::{
    Cell, CellStatus, CodeCell, Language, MarkdownCell, Notebook, PackageJsonCell, TitleCell, inline,
    is_valid_filename, language_of_filename, new_cell_id,
};

/// All problems found in a document, in Srcbook's order, then Quire's own checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub errors: Vec<String>,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.errors.join("; "))
    }
}

impl std::error::Error for DecodeError {}

impl DecodeError {
    pub(crate) fn one(msg: impl Into<String>) -> DecodeError {
        DecodeError { errors: vec![msg.into()] }
    }
}

/// Written between two adjacent markdown cells so they decode as two cells, not one. Srcbook reads it
/// as an invisible HTML comment inside one markdown cell.
pub const CELL_BREAK: &str = "<!-- quire:cell-break -->";

pub(crate) fn is_cell_break(t: &Token) -> bool {
    t.kind == Kind::Html && trim(&t.raw) == CELL_BREAK
}

enum Group {
    /// A `CELL_BREAK` comment: ends the markdown group before it, then vanishes.
    Break,
    Title(Token),
    Filename(Token),
    Code(Token),
    Linked(String),
    Markdown(Vec<Token>),
}

/// Decode a full `.src.md` document (metadata and exactly one h1 required).
pub fn decode(text: &str) -> Result<Notebook, DecodeError> {
    let mut tokens = lex(text, true);
    let Some((idx, json)) = tokens
        .iter()
        .enumerate()
        .find_map(|(i, t)| (t.kind == Kind::Html).then(|| metadata_json(&t.raw).map(|j| (i, j))).flatten())
    else {
        return Err(DecodeError::one("Srcbook does not contain required metadata"));
    };
    let (language, tsconfig) = parse_metadata(&json)
        .map_err(|e| DecodeError::one(format!("Unable to parse srcbook metadata: {e}")))?;
    tokens.remove(idx);
    let groups = group_tokens(tokens);
    let mut errors = validate_full(&groups);
    errors.extend(validate_h6(&groups));
    let cells = convert(groups, &mut errors);
    if errors.is_empty() { Ok(Notebook { language, cells, tsconfig }) } else { Err(DecodeError { errors }) }
}

/// Partial decode (§4.7): no metadata, no title or package.json checks; only the h6 rule.
pub fn decode_cells(text: &str) -> Result<Vec<Cell>, DecodeError> {
    let groups = group_tokens(lex(text, true));
    let mut errors = validate_h6(&groups);
    let cells = convert(groups, &mut errors);
    if errors.is_empty() { Ok(cells) } else { Err(DecodeError { errors }) }
}

/// `^<!--\s*srcbook:(.+)\s*-->$` on the trimmed raw text; returns the captured JSON.
fn metadata_json(raw: &str) -> Option<String> {
    let t = trim(raw);
    let rest = t.strip_prefix("<!--")?.trim_start_matches(is_ws);
    let rest = rest.strip_prefix("srcbook:")?;
    let m = rest.strip_suffix("-->")?;
    // `.+` stops at a line terminator; what follows it must then be `\s*`.
    let cap = match m.char_indices().find(|&(_, c)| !is_dot(c)) {
        Some((p, _)) if m[p..].chars().all(is_ws) => &m[..p],
        Some(_) => return None,
        None => m,
    };
    (!cap.is_empty()).then(|| cap.to_string())
}

fn parse_metadata(json: &str) -> Result<(Language, Option<String>), String> {
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let obj = v.as_object().ok_or("Expected object")?;
    let language = match obj.get("language").and_then(|l| l.as_str()) {
        Some("javascript") => Language::Javascript,
        Some("typescript") => Language::Typescript,
        _ => return Err("language: Invalid enum value. Expected 'javascript' | 'typescript'".into()),
    };
    let tsconfig = match obj.get("tsconfig.json") {
        None => None,
        Some(serde_json::Value::String(s)) if s.is_empty() => Some(String::new()),
        // Falsy values other than "" are not strings and fail the schema.
        Some(serde_json::Value::Null | serde_json::Value::Bool(false)) => {
            return Err("tsconfig.json: Expected string".into());
        }
        Some(serde_json::Value::Number(n)) if n.as_f64() == Some(0.0) => {
            return Err("tsconfig.json: Expected string".into());
        }
        Some(v) => Some(serde_json::to_string_pretty(v).map_err(|e| e.to_string())?),
    };
    Ok((language, tsconfig))
}

fn group_tokens(tokens: Vec<Token>) -> Vec<Group> {
    let labels: HashSet<String> = tokens
        .iter()
        .filter(|t| t.kind == Kind::Def)
        .filter_map(|t| {
            let s = t.raw.trim_start_matches(' ').strip_prefix('[')?;
            Some(inline::label_key(s.get(..s.find("]:")?)?))
        })
        .collect();
    let mut groups: Vec<Group> = Vec::new();
    for token in tokens {
        let after_filename = matches!(groups.last(), Some(Group::Filename(_)));
        match token.kind {
            Kind::Heading if token.depth == 1 => groups.push(Group::Title(token)),
            Kind::Heading if token.depth == 6 => groups.push(Group::Filename(token)),
            Kind::Code if after_filename => groups.push(Group::Code(token)),
            Kind::Paragraph if after_filename => match inline::single_link(&token.text, &labels) {
                Some(text) => groups.push(Group::Linked(text)),
                None => push_markdown(&mut groups, token),
            },
            // marked drops definitions; one right after an h6 cannot be kept without breaking the block.
            Kind::Def if after_filename => {}
            _ if is_cell_break(&token) => groups.push(Group::Break),
            _ => push_markdown(&mut groups, token),
        }
    }
    groups
}

fn push_markdown(groups: &mut Vec<Group>, token: Token) {
    if let Some(Group::Markdown(ts)) = groups.last_mut() {
        ts.push(token);
    } else {
        groups.push(Group::Markdown(vec![token]));
    }
}

fn validate_full(groups: &[Group]) -> Vec<String> {
    let mut errors = Vec::new();
    let first_is_title = matches!(groups.first(), Some(Group::Title(_)));
    let titles = groups.iter().filter(|g| matches!(g, Group::Title(_))).count();
    if !first_is_title || titles != 1 {
        errors.push("Document must contain exactly one h1 heading".to_string());
    }
    let pkgs = groups.iter().filter(|g| matches!(g, Group::Filename(t) if t.text == "package.json")).count();
    if pkgs > 1 {
        errors.push("Document must contain at most one package.json".to_string());
    }
    errors
}

fn validate_h6(groups: &[Group]) -> Vec<String> {
    let mut errors = Vec::new();
    let mut i = 0;
    while let Some(g) = groups.get(i) {
        if let Group::Filename(t) = g {
            if matches!(groups.get(i + 1), Some(Group::Code(_) | Group::Linked(_))) {
                i += 1;
            } else {
                let raw = t.raw.trim_end_matches(is_ws);
                errors.push(format!("h6 is reserved for code cells, but no code block followed '{raw}'"));
            }
        }
        i += 1;
    }
    errors
}

/// Markdown group text: raws joined, `\n{3,}` → `\n\n` outside code, trimmed.
pub(crate) fn serialize_markdown(tokens: &[Token]) -> String {
    let mut out = String::new();
    for t in tokens {
        if t.kind == Kind::Code {
            out.push_str(&t.raw);
        } else {
            collapse_newlines(&t.raw, &mut out);
        }
    }
    trim(&out).to_string()
}

fn collapse_newlines(s: &str, out: &mut String) {
    let mut run = 0;
    for c in s.chars() {
        if c == '\n' {
            run += 1;
            continue;
        }
        out.push_str(if run >= 3 { "\n\n" } else { &"\n\n"[..run.min(2)] });
        run = 0;
        out.push(c);
    }
    out.push_str(if run >= 3 { "\n\n" } else { &"\n\n"[..run.min(2)] });
}

fn convert(groups: Vec<Group>, errors: &mut Vec<String>) -> Vec<Cell> {
    let mut cells = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut it = groups.into_iter().peekable();
    while let Some(g) = it.next() {
        match g {
            Group::Title(t) => {
                // A setext title can span lines; `# {title}` cannot: read it in its one-line form.
                cells
                    .push(Cell::Title(TitleCell { id: new_cell_id(), text: crate::normalize_title(&t.text) }))
            }
            Group::Markdown(ts) => {
                if ts.iter().any(|t| t.kind != Kind::Space) {
                    let text = crate::markdown::settle(serialize_markdown(&ts));
                    // Trimming uses JavaScript's whitespace (`\v`, `\f`, NBSP…), which Markdown does not
                    // skip: a paragraph can become a heading that starts another cell, or an HTML block or
                    // fence that swallows the cells after it once the notebook is written back.
                    let first = ts.iter().find(|t| t.kind != Kind::Space).map_or("", |t| t.raw.as_str());
                    let exotic = first.trim_start_matches([' ', '\t', '\n', '\r']).starts_with(is_ws);
                    let changed = if exotic {
                        crate::markdown::check_markdown(&text).err()
                    } else {
                        crate::markdown::splits_cells(&text)
                    };
                    if let Some(e) = changed {
                        errors.push(format!("A markdown block changes meaning once trimmed: {e}"));
                    }
                    cells.push(Cell::Markdown(MarkdownCell { id: new_cell_id(), text }));
                }
            }
            Group::Filename(h) => {
                let (filename, source) = match it.peek() {
                    Some(Group::Code(c)) => (h.text, c.text.clone()),
                    Some(Group::Linked(text)) => (text.clone(), String::new()),
                    _ => continue,
                };
                it.next();
                if let Some(cell) = file_cell(filename, source, &mut seen, errors) {
                    cells.push(cell);
                }
            }
            Group::Code(_) | Group::Linked(_) | Group::Break => {}
        }
    }
    cells
}

fn file_cell(
    filename: String,
    source: String,
    seen: &mut HashSet<String>,
    errors: &mut Vec<String>,
) -> Option<Cell> {
    if !seen.insert(filename.clone()) {
        if filename != "package.json" {
            errors.push(format!("Duplicate filename '{filename}'"));
        }
        return None;
    }
    if filename == "package.json" {
        return Some(Cell::PackageJson(PackageJsonCell {
            id: new_cell_id(),
            source,
            filename,
            status: CellStatus::Idle,
        }));
    }
    let Some(language) = language_of_filename(&filename) else {
        errors.push(format!(
            "Language is not one of 'javascript' or 'typescript' based on filename '{filename}'"
        ));
        return None;
    };
    if !is_valid_filename(&filename) {
        errors.push(format!("'{filename}' is not a valid filename"));
        return None;
    }
    Some(Cell::Code(CodeCell { id: new_cell_id(), source, language, filename, status: CellStatus::Idle }))
}
