//! A top-level block lexer that reproduces marked 14.1.2's `Lexer.lex` token boundaries.
//!
//! Only what grouping needs is kept: each token's type, raw text, and for headings and code
//! the depth and text. Inline content is not lexed (see `inline.rs` for the one check needed).

use crate::js::floor_boundary;
use crate::{def, html, list, rules};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Space,
    Code,
    Heading,
    Hr,
    Blockquote,
    List,
    Html,
    Def,
    Table,
    Paragraph,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Space => "space",
            Kind::Code => "code",
            Kind::Heading => "heading",
            Kind::Hr => "hr",
            Kind::Blockquote => "blockquote",
            Kind::List => "list",
            Kind::Html => "html",
            Kind::Def => "def",
            Kind::Table => "table",
            Kind::Paragraph => "paragraph",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    pub raw: String,
    /// Heading depth (0 otherwise).
    pub depth: u8,
    /// Heading text, code text, paragraph text.
    pub text: String,
}

impl Token {
    fn new(kind: Kind, raw: &str) -> Token {
        Token { kind, raw: raw.to_string(), depth: 0, text: String::new() }
    }
}

/// Nesting limit for blockquotes: deeper content is treated as one paragraph (keeps the stack small).
const MAX_DEPTH: usize = 24;

/// Lex a document. `keep_defs`: emit link reference definitions as `Def` tokens (Quire keeps them);
/// with `false` they are dropped exactly as marked does.
pub fn lex(src: &str, keep_defs: bool) -> Vec<Token> {
    let src = normalize_newlines(src);
    let mut tokens = Vec::new();
    block_tokens(&src, &mut tokens, keep_defs, 0);
    tokens
}

/// marked's preprocessing: `\r\n` and `\r` become `\n`.
pub fn normalize_newlines(s: &str) -> String {
    if !s.contains('\r') {
        return s.to_string();
    }
    s.replace("\r\n", "\n").replace('\r', "\n")
}

fn block_tokens(src: &str, tokens: &mut Vec<Token>, keep_defs: bool, depth: usize) {
    let mut pos = 0;
    while pos < src.len() {
        let s = src.get(pos..).unwrap_or("");
        let (tok, len) = next_token(s, tokens, keep_defs, depth);
        // Progress is guaranteed: every branch consumes at least one byte.
        let len = floor_boundary(s, len.max(1)).max(s.chars().next().map_or(1, char::len_utf8));
        if let Some(t) = tok {
            tokens.push(t);
        }
        pos += len;
    }
}

fn last_is_paragraph(tokens: &[Token]) -> bool {
    tokens.last().is_some_and(|t| t.kind == Kind::Paragraph)
}

/// One step of `blockTokens`: returns a token to push (if any) and the bytes consumed.
fn next_token(s: &str, tokens: &mut [Token], keep_defs: bool, depth: usize) -> (Option<Token>, usize) {
    let n = rules::space(s);
    if n > 0 {
        // A lone newline terminates the previous token instead of becoming a token.
        if n == 1
            && let Some(last) = tokens.last_mut()
        {
            last.raw.push('\n');
            return (None, 1);
        }
        return (Some(Token::new(Kind::Space, &s[..n])), n);
    }
    if let Some((n, text)) = rules::code(s) {
        // An indented code block cannot interrupt a paragraph.
        if last_is_paragraph(tokens) {
            if let Some(last) = tokens.last_mut() {
                last.raw.push('\n');
                last.raw.push_str(&s[..n]);
                last.text.push('\n');
                last.text.push_str(&text);
            }
            return (None, n);
        }
        let mut t = Token::new(Kind::Code, &s[..n]);
        t.text = text;
        return (Some(t), n);
    }
    if let Some((n, text)) = rules::fences(s) {
        let mut t = Token::new(Kind::Code, &s[..n]);
        t.text = text;
        return (Some(t), n);
    }
    if let Some((n, d, text)) = rules::heading(s) {
        let mut t = Token::new(Kind::Heading, &s[..n]);
        t.depth = d;
        t.text = text;
        return (Some(t), n);
    }
    if let Some(n) = rules::hr(s) {
        return (Some(Token::new(Kind::Hr, &s[..n])), n);
    }
    if let Some(n) = blockquote(s, depth) {
        let n = floor_boundary(s, n);
        return (Some(Token::new(Kind::Blockquote, &s[..n])), n);
    }
    if let Some(n) = list::list(s) {
        return (Some(Token::new(Kind::List, &s[..n])), n);
    }
    if let Some(n) = html::html(s) {
        return (Some(Token::new(Kind::Html, &s[..n])), n);
    }
    if let Some(n) = def::def(s) {
        if last_is_paragraph(tokens) {
            if let Some(last) = tokens.last_mut() {
                last.raw.push('\n');
                last.raw.push_str(&s[..n]);
                last.text.push('\n');
                last.text.push_str(&s[..n]);
            }
            return (None, n);
        }
        return (keep_defs.then(|| Token::new(Kind::Def, &s[..n])), n);
    }
    if let Some(n) = rules::table(s) {
        return (Some(Token::new(Kind::Table, &s[..n])), n);
    }
    if let Some((n, d, text)) = rules::lheading(s) {
        let mut t = Token::new(Kind::Heading, &s[..n]);
        t.depth = d;
        t.text = text;
        return (Some(t), n);
    }
    let n = rules::para_end(s, 0, true).unwrap_or(s.len());
    let mut t = Token::new(Kind::Paragraph, &s[..n]);
    t.text = s[..n].strip_suffix('\n').unwrap_or(&s[..n]).to_string();
    (Some(t), n)
}

/// Blockquote rule `^( {0,3}> ?(paragraph|[^\n]*)(?:\n|$))+` (paragraph without the table rule).
fn blockquote_cap(s: &str) -> Option<usize> {
    use crate::js::{byte, indent3, line_end};
    let mut i = 0;
    while i < s.len() {
        let j = indent3(s, i);
        if byte(s, j) != Some(b'>') {
            break;
        }
        let mut k = j + 1;
        if byte(s, k) == Some(b' ') {
            k += 1;
        }
        let e = rules::para_end(s, k, false).unwrap_or_else(|| line_end(s, k));
        i = if e < s.len() { e + 1 } else { e };
    }
    (i > 0).then_some(i)
}

/// marked's `blockquote` tokenizer; returns the length it consumes.
fn blockquote(s: &str, depth: usize) -> Option<usize> {
    let cap = blockquote_cap(s)?;
    let cap = s.get(..cap)?.trim_end_matches('\n');
    if depth >= MAX_DEPTH {
        return Some(cap.len());
    }
    let mut lines: Vec<String> = cap.split('\n').map(str::to_string).collect();
    let mut raw_len = 0usize;
    let mut started = false;
    let mut tokens: Vec<Token> = Vec::new();
    while !lines.is_empty() {
        let mut in_bq = false;
        let mut i = 0;
        while let Some(l) = lines.get(i) {
            if is_quote_line(l) {
                in_bq = true;
            } else if in_bq {
                break;
            }
            i += 1;
        }
        let current: Vec<String> = lines.drain(..i).collect();
        let current_raw = current.join("\n");
        let current_text = strip_quote(&current_raw);
        raw_len = if started { raw_len + 1 + current_raw.len() } else { current_raw.len() };
        started = true;
        block_tokens(&current_text, &mut tokens, false, depth + 1);
        if lines.is_empty() {
            break;
        }
        let Some(last) = tokens.last_mut() else { continue };
        match last.kind {
            Kind::Code => break,
            Kind::Blockquote => {
                let new_text = format!("{}\n{}", last.raw, lines.join("\n"));
                let new_len = blockquote(&new_text, depth + 1).unwrap_or(last.raw.len());
                raw_len = raw_len.saturating_sub(last.raw.len()) + new_len;
                break;
            }
            Kind::List => {
                let new_text = format!("{}\n{}", last.raw, lines.join("\n"));
                let new_len = list::list(&new_text).unwrap_or(last.raw.len());
                raw_len = raw_len.saturating_sub(last.raw.len()) + new_len;
                last.raw = new_text.get(..new_len).unwrap_or("").to_string();
                lines = new_text.get(new_len..).unwrap_or("").split('\n').map(str::to_string).collect();
            }
            _ => {}
        }
    }
    Some(raw_len)
}

fn is_quote_line(l: &str) -> bool {
    crate::js::byte(l, crate::js::indent3(l, 0)) == Some(b'>')
}

/// Setext underlines get a 4-space indent (so they stay text), then `^ {0,3}>[ \t]?` is removed.
fn strip_quote(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for (n, line) in raw.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let j = crate::js::indent3(line, 0);
        let line = if n > 0 && is_underline(line.get(j..).unwrap_or("")) {
            out.push_str("    ");
            line.get(j..).unwrap_or("")
        } else {
            line
        };
        let k = crate::js::indent3(line, 0);
        if line.as_bytes().get(k) == Some(&b'>') {
            let mut e = k + 1;
            if matches!(line.as_bytes().get(e), Some(b' ' | b'\t')) {
                e += 1;
            }
            out.push_str(line.get(e..).unwrap_or(""));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// `(?:=+|-+) *` filling the rest of a line.
fn is_underline(l: &str) -> bool {
    let Some(c) = l.bytes().next().filter(|c| *c == b'=' || *c == b'-') else {
        return false;
    };
    let t = l.trim_start_matches(c as char);
    t.bytes().all(|b| b == b' ')
}
