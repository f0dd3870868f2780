//! The one inline question grouping asks: is a paragraph exactly one link (as marked's inline lexer
//! would see it)? Covers inline links, reference links to known definitions and `<scheme:…>` autolinks.

use std::collections::HashSet;

use crate::js::is_ws;

/// Filenames are short; longer paragraphs are never treated as a link (bounds the work).
const MAX_LINK_LEN: usize = 4096;

/// marked's reference label key: whitespace runs collapsed, lowercased.
pub fn label_key(label: &str) -> String {
    let mut out = String::new();
    let mut in_ws = false;
    for c in label.chars() {
        if is_ws(c) {
            if !in_ws {
                out.push(' ');
            }
            in_ws = true;
        } else {
            out.push(c);
            in_ws = false;
        }
    }
    out.to_lowercase()
}

/// Label units of `_inlineLabel`; returns the unit boundaries (byte offsets in `s`).
fn label_boundaries(s: &str, start: usize) -> Vec<usize> {
    let b = s.as_bytes();
    let mut out = vec![start];
    let mut k = start;
    loop {
        let next = match b.get(k) {
            None | Some(b']') => break,
            Some(b'[') => {
                let mut j = k + 1;
                loop {
                    match b.get(j) {
                        Some(b'\\') if b.get(j + 1).is_some() => j += 2,
                        Some(b']') => break Some(j + 1),
                        Some(b'[') | Some(b'\\') | None => break None,
                        _ => j += 1,
                    }
                }
            }
            Some(b'\\') => s
                .get(k + 1..)
                .and_then(|r| r.chars().next())
                .filter(|c| *c != '\n')
                .map(|c| k + 1 + c.len_utf8()),
            Some(b'`') => s.get(k + 1..).and_then(|r| r.find('`')).map(|off| k + off + 2),
            Some(_) => s.get(k..).and_then(|r| r.chars().next()).map(|c| k + c.len_utf8()),
        };
        match next {
            Some(n) => {
                k = n;
                out.push(k);
            }
            None => break,
        }
    }
    out
}

fn skip_ws(s: &str, mut k: usize) -> usize {
    while let Some(c) = s.get(k..).and_then(|r| r.chars().next()).filter(|c| is_ws(*c)) {
        k += c.len_utf8();
    }
    k
}

/// End of a link title at `k` (`"…"`, `'…'` or `(…)`), greedy.
fn title_end(s: &str, k: usize) -> Option<usize> {
    let b = s.as_bytes();
    let (open, close) = match b.get(k)? {
        b'"' => (b'"', b'"'),
        b'\'' => (b'\'', b'\''),
        b'(' => (b'(', b')'),
        _ => return None,
    };
    let _ = open;
    let mut j = k + 1;
    while let Some(&c) = b.get(j) {
        if c == b'\\' {
            j += if b.get(j + 1) == Some(&close) { 2 } else { 1 };
            continue;
        }
        if c == close {
            return Some(j + 1);
        }
        j += 1;
    }
    None
}

/// `\s*\)` after the href/title; returns the end.
fn close_paren(s: &str, k: usize) -> Option<usize> {
    let k = skip_ws(s, k);
    (s.as_bytes().get(k) == Some(&b')')).then_some(k + 1)
}

/// Inline link `[label](href "title")` at the start of `s`; returns (match end, label, href).
fn inline_link(s: &str) -> Option<(usize, &str, &str)> {
    for lb in label_boundaries(s, 1) {
        if !s.get(lb..).is_some_and(|r| r.starts_with("](")) {
            continue;
        }
        let h = skip_ws(s, lb + 2);
        let mut hrefs = Vec::new();
        if s.as_bytes().get(h) == Some(&b'<')
            && let Some(off) = s.get(h + 1..).and_then(|r| r.find(['>', '<', '\n']))
            && s.as_bytes().get(h + 1 + off) == Some(&b'>')
            && off > 0
        {
            hrefs.push(h + off + 2);
        }
        let rest = s.get(h..)?;
        let max = rest.find(|c: char| is_ws(c) || (c as u32) < 0x20).unwrap_or(rest.len());
        let mut e = h + max;
        loop {
            hrefs.push(e);
            if e == h {
                break;
            }
            e = crate::js::floor_boundary(s, e - 1);
        }
        for he in hrefs {
            let t = skip_ws(s, he);
            if t > he
                && let Some(end) = title_end(s, t).and_then(|te| close_paren(s, te))
            {
                return Some((end, s.get(1..lb)?, s.get(h..he)?));
            }
            if let Some(end) = close_paren(s, he) {
                return Some((end, s.get(1..lb)?, s.get(h..he)?));
            }
        }
    }
    None
}

/// marked's `findClosingBracket(str, '()')`.
fn has_closing_paren(s: &str) -> bool {
    let mut level = 0i64;
    let mut it = s.bytes();
    while let Some(c) = it.next() {
        match c {
            b'\\' => {
                it.next();
            }
            b'(' => level += 1,
            b')' => {
                level -= 1;
                if level < 0 {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

fn unescape_label(label: &str) -> String {
    label.replace("\\[", "[").replace("\\]", "]")
}

/// If the paragraph `text` is exactly one link token, its link text.
pub fn single_link(text: &str, labels: &HashSet<String>) -> Option<String> {
    if text.len() > MAX_LINK_LEN {
        return None;
    }
    if let Some(inner) = text.strip_prefix('<').and_then(|r| r.strip_suffix('>')) {
        return autolink(inner).then(|| inner.to_string());
    }
    if !text.starts_with('[') {
        return None;
    }
    if let Some((end, label, href)) = inline_link(text) {
        let url = crate::js::trim(href);
        let rejected = url.starts_with('<') && {
            let body = url.strip_suffix('>');
            body.is_none_or(|b| (b.len() - b.trim_end_matches('\\').len()) % 2 == 1)
        };
        if !rejected {
            let cut = !url.starts_with('<') && has_closing_paren(href);
            return (!cut && end == text.len()).then(|| unescape_label(label));
        }
    }
    // Reference links `[text][ref]`, `[ref][]`, `[ref]` to a known definition.
    let bounds = label_boundaries(text, 1);
    for lb in bounds {
        let Some(after) = text.get(lb..).and_then(|r| r.strip_prefix("][")) else { continue };
        if let Some(close) = after.find(']') {
            let reference = after.get(..close)?;
            if !reference.is_empty() && !reference.contains('[') && lb + 2 + close + 1 == text.len() {
                let label = text.get(1..lb)?;
                return labels.contains(&label_key(reference)).then(|| unescape_label(label));
            }
        }
    }
    let body = text.strip_suffix("[]").unwrap_or(text);
    let reference = body.strip_prefix('[')?.strip_suffix(']')?;
    if reference.contains(['[', ']']) || crate::js::trim(reference).is_empty() {
        return None;
    }
    labels.contains(&label_key(reference)).then(|| unescape_label(reference))
}

/// `scheme:[^\s\x00-\x1f<>]*` with a 2–32 character scheme.
fn autolink(inner: &str) -> bool {
    let Some(colon) = inner.find(':') else { return false };
    let scheme = &inner[..colon];
    let ok_scheme = (2..=32).contains(&scheme.len())
        && scheme.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b));
    ok_scheme && !inner[colon + 1..].chars().any(|c| is_ws(c) || (c as u32) < 0x20 || c == '<' || c == '>')
}
