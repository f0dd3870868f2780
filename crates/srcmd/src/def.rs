//! marked's link reference definition rule (`def`), with the regex's backtracking over titles.

use crate::js::{byte, count, indent3, is_dot, is_ws, newlines_or_end};

/// `(?!\s*\])(?:\\.|[^\[\]\\])+` from `k`; returns the index of the closing `]`.
fn label_end(s: &str, k: usize) -> Option<usize> {
    let rest = s.get(k..)?;
    if rest.trim_start_matches(is_ws).starts_with(']') {
        return None;
    }
    let mut it = rest.char_indices();
    while let Some((p, c)) = it.next() {
        match c {
            ']' => return (p > 0).then_some(k + p),
            '[' => return None,
            '\\' => {
                // `\\.`: the escaped char cannot be a line terminator.
                match it.next() {
                    Some((_, e)) if is_dot(e) => {}
                    _ => return None,
                }
            }
            _ => {}
        }
    }
    None
}

/// Candidate ends of a title starting at `t`, in the order the regex tries them.
fn title_ends(s: &str, t: usize) -> Vec<usize> {
    let Some(rest) = s.get(t..) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    match byte(s, t) {
        Some(b'"') => {
            let b = rest.as_bytes();
            let mut k = 1;
            while let Some(&c) = b.get(k) {
                if c == b'"' {
                    out.push(t + k + 1);
                    if b.get(k - 1) != Some(&b'\\') {
                        break;
                    }
                }
                k += 1;
            }
            out.reverse();
        }
        Some(b'\'') => {
            if let Some(off) = rest.get(1..).and_then(|r| r.find('\'')) {
                let content = rest.get(1..1 + off).unwrap_or("");
                if !content.contains("\n\n") {
                    out.push(t + off + 2);
                }
            }
        }
        Some(b'(') => {
            if let Some(off) = rest.get(1..).and_then(|r| r.find([')', '(']))
                && rest.as_bytes().get(1 + off) == Some(&b')')
            {
                out.push(t + off + 2);
            }
        }
        _ => {}
    }
    out
}

/// ` *(?:\n+|$)` at `k`.
fn tail(s: &str, k: usize) -> Option<usize> {
    newlines_or_end(s, k + count(s, k, b' ', usize::MAX))
}

/// `[ \t]*` after a newline.
fn after_nl(s: &str, k: usize) -> usize {
    crate::js::skip_sp_tab(s, k)
}

/// Link reference definition length.
pub fn def(s: &str) -> Option<usize> {
    let i = indent3(s, 0);
    if byte(s, i) != Some(b'[') {
        return None;
    }
    let le = label_end(s, i + 1)?;
    if byte(s, le + 1) != Some(b':') {
        return None;
    }
    let mut k = le + 2;
    k += count(s, k, b' ', usize::MAX);
    if byte(s, k) == Some(b'\n') {
        k = after_nl(s, k + 1);
    }
    // href: `[^<\s][^\s]*` (one candidate) or `<.*?>` (each `>` on the line, shortest first).
    let mut hrefs = Vec::new();
    let first = s.get(k..).and_then(|r| r.chars().next())?;
    if first == '<' {
        for (p, c) in s.get(k + 1..)?.char_indices() {
            if !is_dot(c) {
                break;
            }
            if c == '>' {
                hrefs.push(k + 1 + p + 1);
            }
        }
    } else if !is_ws(first) {
        let rest = s.get(k..)?;
        let e = rest.find(is_ws).unwrap_or(rest.len());
        hrefs.push(k + e);
    }
    for h in hrefs {
        let sp = count(s, h, b' ', usize::MAX);
        let mut starts = Vec::new();
        if sp > 0 {
            if byte(s, h + sp) == Some(b'\n') {
                starts.push(after_nl(s, h + sp + 1));
            }
            starts.push(h + sp);
        } else if byte(s, h) == Some(b'\n') {
            starts.push(after_nl(s, h + 1));
        }
        for t in starts {
            for e in title_ends(s, t) {
                if let Some(end) = tail(s, e) {
                    return Some(end);
                }
            }
        }
        if let Some(end) = tail(s, h) {
            return Some(end);
        }
    }
    None
}
