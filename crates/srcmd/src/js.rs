//! Tiny helpers that reproduce JavaScript string semantics (`\s`, `trim`, `.`) used by marked.

/// JavaScript's `\s` / `String.prototype.trim` whitespace set (differs from Rust: has U+FEFF, lacks U+0085).
pub fn is_ws(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}' | '\u{FEFF}'
    )
}

pub fn trim(s: &str) -> &str {
    s.trim_matches(is_ws)
}

pub fn trim_end(s: &str) -> &str {
    s.trim_end_matches(is_ws)
}

/// Whether JavaScript's `.` (without the `s` flag) matches `c`.
pub fn is_dot(c: char) -> bool {
    !matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

/// Byte index of the end of the line starting at `i` (the `\n` or the end).
pub fn line_end(s: &str, i: usize) -> usize {
    match s.get(i..).and_then(|r| r.find('\n')) {
        Some(p) => i + p,
        None => s.len(),
    }
}

/// End of `.*` from `i`: stops at a newline or U+2028/U+2029.
pub fn dot_end(s: &str, i: usize) -> usize {
    let rest = s.get(i..).unwrap_or("");
    match rest.char_indices().find(|&(_, c)| !is_dot(c)) {
        Some((p, _)) => i + p,
        None => s.len(),
    }
}

pub fn byte(s: &str, i: usize) -> Option<u8> {
    s.as_bytes().get(i).copied()
}

/// Count of `b` bytes starting at `i`, at most `max`.
pub fn count(s: &str, i: usize, b: u8, max: usize) -> usize {
    let bytes = s.as_bytes();
    let mut n = 0;
    while n < max && bytes.get(i + n) == Some(&b) {
        n += 1;
    }
    n
}

/// Skip up to three spaces.
pub fn indent3(s: &str, i: usize) -> usize {
    i + count(s, i, b' ', 3)
}

/// Skip spaces and tabs.
pub fn skip_sp_tab(s: &str, mut i: usize) -> usize {
    while matches!(byte(s, i), Some(b' ' | b'\t')) {
        i += 1;
    }
    i
}

/// `(?:\n+|$)` at `i`: end of the match, or None.
pub fn newlines_or_end(s: &str, i: usize) -> Option<usize> {
    if i >= s.len() {
        return Some(s.len());
    }
    if byte(s, i) == Some(b'\n') {
        return Some(i + count(s, i, b'\n', usize::MAX));
    }
    None
}

/// Case-insensitive ASCII prefix test.
pub fn starts_ci(s: &str, i: usize, prefix: &str) -> bool {
    s.as_bytes().get(i..i + prefix.len()).is_some_and(|b| b.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// Largest char boundary `<= i`.
pub fn floor_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
