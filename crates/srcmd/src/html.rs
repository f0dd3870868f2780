//! marked's block `html` rule (the seven CommonMark HTML block kinds) and its paragraph interrupt.

use crate::js::{byte, count, indent3, is_ws, line_end, starts_ci};

const TAGS: &[&str] = &[
    "address",
    "article",
    "aside",
    "base",
    "basefont",
    "blockquote",
    "body",
    "caption",
    "center",
    "col",
    "colgroup",
    "dd",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "frame",
    "frameset",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hr",
    "html",
    "iframe",
    "legend",
    "li",
    "link",
    "main",
    "menu",
    "menuitem",
    "meta",
    "nav",
    "noframes",
    "ol",
    "optgroup",
    "option",
    "p",
    "param",
    "search",
    "section",
    "summary",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "title",
    "tr",
    "track",
    "ul",
];

const RAW_TAGS: &[&str] = &["script", "pre", "style", "textarea"];

/// `</?(tag)(?: +|\n|/?>)` at `i` (the `<`); `ci` for the case-insensitive block regex.
/// Returns the end of the match.
fn type6_tag(s: &str, i: usize, ci: bool) -> Option<usize> {
    if byte(s, i) != Some(b'<') {
        return None;
    }
    let mut k = i + 1;
    if byte(s, k) == Some(b'/') {
        k += 1;
    }
    TAGS.iter().find_map(|t| {
        let ok = if ci { starts_ci(s, k, t) } else { s.get(k..).is_some_and(|r| r.starts_with(t)) };
        let e = k + t.len();
        if !ok {
            return None;
        }
        match byte(s, e) {
            Some(b' ') => Some(e + count(s, e, b' ', usize::MAX)),
            Some(b'\n' | b'>') => Some(e + 1),
            Some(b'/') => (byte(s, e + 1) == Some(b'>')).then_some(e + 2),
            _ => None,
        }
    })
}

/// The html alternative of the GFM paragraph interrupt, at a line start (no indent, case-sensitive).
pub fn para_interrupt(s: &str, i: usize) -> bool {
    if byte(s, i) != Some(b'<') {
        return false;
    }
    type6_tag(s, i, false).is_some()
        || ["script", "pre", "style", "textarea", "!--"]
            .iter()
            .any(|t| s.get(i + 1..).is_some_and(|r| r.starts_with(t)))
}

/// Lazy search for `needle` (ASCII, case-insensitive) from `from`.
fn find_ci(s: &str, from: usize, needle: &str) -> Option<usize> {
    let b = s.as_bytes();
    let n = needle.as_bytes();
    let first = n.first()?.to_ascii_lowercase();
    let mut k = from;
    while k + n.len() <= b.len() {
        if b.get(k).map(u8::to_ascii_lowercase) == Some(first) && starts_ci(s, k, needle) {
            return Some(k);
        }
        k += 1;
    }
    None
}

/// End of `[\s\S]*?(?:(?:\n[ \t]*)+\n|$)` from `p`.
fn to_blank_line(s: &str, p: usize) -> usize {
    let mut q = p;
    while let Some(off) = s.get(q..).and_then(|r| r.find('\n')) {
        let nl = q + off;
        // Maximal run of [ \t\n] after nl; the match ends at its last '\n' if there are two.
        let mut k = nl + 1;
        let mut last_nl = None;
        while let Some(c) = byte(s, k) {
            match c {
                b'\n' => last_nl = Some(k),
                b' ' | b'\t' => {}
                _ => break,
            }
            k += 1;
        }
        if let Some(l) = last_nl {
            return l + 1;
        }
        q = nl + 1;
    }
    s.len()
}

/// `[^\n]*(\n+|$)` / `\n*` helpers.
fn rest_of_line_newlines(s: &str, k: usize) -> usize {
    let e = line_end(s, k);
    e + count(s, e, b'\n', usize::MAX)
}

/// Attributes and ` */?>` of an open tag from `k`, then the line must be blank; returns the end of `>`.
fn open_tag_rest(s: &str, mut k: usize) -> Option<usize> {
    loop {
        let sp = count(s, k, b' ', usize::MAX);
        let mut e = k + sp;
        if byte(s, e) == Some(b'/') {
            e += 1;
        }
        if byte(s, e) == Some(b'>') {
            let t = crate::js::skip_sp_tab(s, e + 1);
            if matches!(byte(s, t), None | Some(b'\n')) {
                return Some(e + 1);
            }
        }
        // Another attribute: ` +[a-zA-Z:_][\w.:-]*` and an optional value.
        if sp == 0 {
            return None;
        }
        k += sp;
        if !byte(s, k).is_some_and(|b| b.is_ascii_alphabetic() || b == b':' || b == b'_') {
            return None;
        }
        k += 1;
        while byte(s, k).is_some_and(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b)) {
            k += 1;
        }
        let v = k + count(s, k, b' ', usize::MAX);
        if byte(s, v) == Some(b'=') {
            let v = v + 1 + count(s, v + 1, b' ', usize::MAX);
            match byte(s, v) {
                Some(q @ (b'"' | b'\'')) => {
                    let close = s.get(v + 1..).and_then(|r| r.find([q as char, '\n']));
                    match close {
                        Some(off) if byte(s, v + 1 + off) == Some(q) => k = v + 2 + off,
                        _ => continue,
                    }
                }
                Some(_) => {
                    let mut e = v;
                    while let Some(c) = s.get(e..).and_then(|r| r.chars().next()) {
                        if is_ws(c) || "\"'=<>`".contains(c) {
                            break;
                        }
                        e += c.len_utf8();
                    }
                    if e > v {
                        k = e;
                    }
                }
                None => {}
            }
        }
    }
}

/// Block html token length.
pub fn html(s: &str) -> Option<usize> {
    let i = indent3(s, 0);
    if byte(s, i) != Some(b'<') {
        return None;
    }
    // (1) script/pre/style/textarea.
    for t in RAW_TAGS {
        if starts_ci(s, i + 1, t) {
            let after = i + 1 + t.len();
            let next = s.get(after..).and_then(|r| r.chars().next());
            if next.is_some_and(|c| is_ws(c) || c == '>') {
                let from = after + next.map_or(0, char::len_utf8);
                let close = format!("</{t}>");
                let mut k = from;
                while let Some(p) = find_ci(s, k, &close) {
                    let e = line_end(s, p + close.len());
                    if e < s.len() {
                        return Some(e + count(s, e, b'\n', usize::MAX));
                    }
                    k = p + 1;
                }
                return Some(s.len());
            }
        }
    }
    // (2) comment.
    if s.get(i..).is_some_and(|r| r.starts_with("<!--")) {
        let b = i + 4;
        let k = if byte(s, b) == Some(b'>') {
            b + 1
        } else if s.get(b..).is_some_and(|r| r.starts_with("->")) {
            b + 2
        } else {
            match s.get(b..).and_then(|r| r.find("-->")) {
                Some(off) => b + off + 3,
                None => s.len(),
            }
        };
        return Some(rest_of_line_newlines(s, k));
    }
    let to = |end: &str, from: usize| match s.get(from..).and_then(|r| r.find(end)) {
        Some(off) => {
            let e = from + off + end.len();
            e + count(s, e, b'\n', usize::MAX)
        }
        None => s.len(),
    };
    // (3) processing instruction, (4) declaration, (5) CDATA.
    if byte(s, i + 1) == Some(b'?') {
        return Some(to("?>", i + 2));
    }
    if byte(s, i + 1) == Some(b'!') && byte(s, i + 2).is_some_and(|b| b.is_ascii_alphabetic()) {
        return Some(to(">", i + 3));
    }
    if starts_ci(s, i, "<![CDATA[") {
        return Some(to("]]>", i + 9));
    }
    // (6) known block tags.
    if let Some(e) = type6_tag(s, i, true) {
        return Some(to_blank_line(s, e));
    }
    // (7) any other complete open or closing tag alone on its line.
    let closing = byte(s, i + 1) == Some(b'/');
    let n = if closing { i + 2 } else { i + 1 };
    if RAW_TAGS.iter().any(|t| starts_ci(s, n, t)) || !byte(s, n).is_some_and(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let mut k = n + 1;
    while byte(s, k).is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        k += 1;
    }
    let gt = if closing {
        let mut e = k;
        while let Some(c) = s.get(e..).and_then(|r| r.chars().next()).filter(|c| is_ws(*c)) {
            e += c.len_utf8();
        }
        // `\s*>` may cross lines; the lookahead then needs a blank rest of line.
        let t = crate::js::skip_sp_tab(s, e + 1);
        (byte(s, e) == Some(b'>') && matches!(byte(s, t), None | Some(b'\n'))).then_some(e + 1)
    } else {
        open_tag_rest(s, k)
    };
    gt.map(|e| to_blank_line(s, e))
}
