//! Markdown cell rules: what can be stored, and the form the decoder reads back.

use crate::js::{is_ws, trim};
use crate::lexer::{Kind, lex, normalize_newlines};

/// Err(message) if the markdown text cannot be stored as a cell and read back.
pub fn check_markdown(text: &str) -> Result<(), String> {
    if let Some(e) = splits_cells(text) {
        return Err(e);
    }
    // The text must end where it ends: an unclosed fence or HTML block would swallow the cells after it.
    let body = normalize_markdown(text);
    let probe = format!("{body}\n\n###### probe.mjs\n");
    let ok = lex(&probe, true).iter().any(|t| t.kind == Kind::Heading && t.depth == 6);
    if !body.is_empty() && !ok {
        return Err("Markdown cells cannot end inside an unclosed code block or HTML block".into());
    }
    Ok(())
}

/// Why this text would not read back as one markdown cell (an h1 or h6 heading, a cell break).
pub(crate) fn splits_cells(text: &str) -> Option<String> {
    let norm = normalize_newlines(text);
    let mut pos = 0;
    for t in lex(&norm, true) {
        if t.kind == Kind::Heading && (t.depth == 1 || t.depth == 6) {
            let line = norm.get(..pos).map_or(0, |p| p.matches('\n').count()) + 1;
            let first = t.raw.lines().next().unwrap_or("").trim_end_matches(is_ws);
            return Some(format!(
                "Markdown cells cannot contain an h1 or h6 heading (line {line}: '{first}')"
            ));
        }
        if crate::decode::is_cell_break(&t) {
            return Some(format!("Markdown cells cannot contain the line '{}'", crate::decode::CELL_BREAK));
        }
        pos += t.raw.len();
    }
    None
}

/// The form the decoder reads this markdown back as (CRLF → LF, `\n{3,}` → `\n\n` outside code,
/// trimmed; link reference definitions are kept). Empty if whitespace-only.
pub fn normalize_markdown(text: &str) -> String {
    let tokens = lex(text, true);
    if tokens.iter().all(|t| t.kind == Kind::Space) {
        return String::new();
    }
    settle(crate::decode::serialize_markdown(&tokens))
}

/// Serialize until nothing changes. One pass can change what the text means: trimming the indent of a
/// leading indented code block turns it into a paragraph or HTML block, whose blank lines then
/// collapse. Each pass only removes characters, so this ends.
pub(crate) fn settle(mut text: String) -> String {
    loop {
        let next = crate::decode::serialize_markdown(&lex(&text, true));
        if next == text {
            return text;
        }
        text = next;
    }
}

/// What decode gives back for `# {text}`: one line, closing `#` run dropped, trimmed. Idempotent:
/// the result encodes and decodes to itself (`# #` gives `#`, which would then read back as empty).
pub fn normalize_title(text: &str) -> String {
    let mut current: String = text
        .chars()
        .map(|c| if matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}') { ' ' } else { c })
        .collect();
    loop {
        let line = format!("# {current}");
        let next = match crate::rules::heading(&line) {
            Some((_, _, t)) => trim(&t).to_string(),
            None => trim(&current).to_string(),
        };
        // Each step keeps or shortens the text, so this ends.
        if next == current {
            return next;
        }
        current = next;
    }
}
