//! Hand-written equivalents of marked 14.1.2's block regexes (GFM, default options).
//!
//! Each matcher takes the remaining source and returns how many bytes its regex would match.
//! They follow the regexes' backtracking behaviour, not CommonMark's prose.

use crate::js::{byte, count, dot_end, indent3, is_ws, line_end, newlines_or_end, skip_sp_tab, trim};

/// `newline`: `^(?:[ \t]*(?:\n|$))+`.
pub fn space(s: &str) -> usize {
    let mut i = 0;
    loop {
        let j = skip_sp_tab(s, i);
        match byte(s, j) {
            Some(b'\n') => i = j + 1,
            None => return j,
            _ => return i,
        }
    }
}

/// Start of the content after an indented-code indent (`(?: {4}| {0,3}\t)`), if any.
fn code_indent(s: &str, i: usize) -> Option<usize> {
    if count(s, i, b' ', 4) == 4 {
        return Some(i + 4);
    }
    let j = indent3(s, i);
    (byte(s, j) == Some(b'\t')).then_some(j + 1)
}

/// Indented code block; returns (length, text).
pub fn code(s: &str) -> Option<(usize, String)> {
    let mut i = 0;
    while let Some(c) = code_indent(s, i) {
        if matches!(byte(s, c), None | Some(b'\n')) {
            break;
        }
        i = line_end(s, c);
        if i >= s.len() {
            break;
        }
        i += 1;
        // Blank lines are swallowed greedily; the regex keeps them even if no code follows.
        loop {
            let j = skip_sp_tab(s, i);
            match byte(s, j) {
                Some(b'\n') => i = j + 1,
                None => {
                    i = j;
                    break;
                }
                _ => break,
            }
        }
    }
    if i == 0 {
        return None;
    }
    let raw = s.get(..i)?;
    let text: Vec<&str> = raw.split('\n').map(strip_code_indent).collect();
    Some((i, text.join("\n").trim_end_matches('\n').to_string()))
}

/// `^(?: {1,4}| {0,3}\t)` removed from one line.
fn strip_code_indent(line: &str) -> &str {
    let sp = count(line, 0, b' ', 4);
    if sp > 0 {
        return line.get(sp..).unwrap_or("");
    }
    line.strip_prefix('\t').unwrap_or(line)
}

/// The opening of a fence at `i`: (fence char, run length, index after the run).
fn fence_open(s: &str, i: usize) -> Option<(u8, usize, usize)> {
    let j = indent3(s, i);
    let c = byte(s, j).filter(|c| *c == b'`' || *c == b'~')?;
    let n = count(s, j, c, usize::MAX);
    (n >= 3).then_some((c, n, j + n))
}

/// A closing fence line at `k` for an opening run of `n` times `c`; returns its end.
fn fence_close(s: &str, k: usize, c: u8, n: usize) -> Option<usize> {
    let j = indent3(s, k);
    if count(s, j, c, n) < n {
        return None;
    }
    let mut e = j + n;
    while matches!(byte(s, e), Some(b'`' | b'~')) {
        e += 1;
    }
    e += count(s, e, b' ', usize::MAX);
    matches!(byte(s, e), None | Some(b'\n')).then_some(e)
}

/// Fenced code block; returns (length, text).
pub fn fences(s: &str) -> Option<(usize, String)> {
    let (c, n, after) = fence_open(s, 0)?;
    let eol = line_end(s, after);
    if c == b'`' && s.get(after..eol)?.contains('`') {
        return None;
    }
    let p = if eol < s.len() { eol + 1 } else { eol };
    let (end, content) = if let Some(e) = fence_close(s, p, c, n) {
        (e, "")
    } else if p >= s.len() {
        (s.len(), "")
    } else {
        let mut q = p;
        loop {
            // q walks over each '\n' from p; content is s[p..q].
            if byte(s, q) == Some(b'\n') {
                if let Some(e) = fence_close(s, q + 1, c, n) {
                    break (e, s.get(p..q)?);
                }
                if q + 1 >= s.len() {
                    break (s.len(), s.get(p..q)?);
                }
                q = line_end(s, q + 1);
            } else if q >= s.len() {
                break (s.len(), s.get(p..)?);
            } else {
                q = line_end(s, q);
            }
        }
    };
    Some((end, indent_compensation(s.get(..end)?, content)))
}

/// marked's `indentCodeCompensation`: only for backtick fences with a leading indent.
fn indent_compensation(raw: &str, text: &str) -> String {
    let ind = raw.chars().take_while(|c| is_ws(*c)).count();
    if ind == 0 || !raw.trim_start_matches(is_ws).starts_with("```") {
        return text.to_string();
    }
    let lines: Vec<&str> = text
        .split('\n')
        .map(|line| {
            let lead = line.chars().take_while(|c| is_ws(*c)).count();
            if lead > 0 && lead >= ind {
                let cut: usize = line.chars().take(ind).map(char::len_utf8).sum();
                line.get(cut..).unwrap_or("")
            } else {
                line
            }
        })
        .collect();
    lines.join("\n")
}

/// ATX heading; returns (length, depth, text).
pub fn heading(s: &str) -> Option<(usize, u8, String)> {
    let j = indent3(s, 0);
    let n = count(s, j, b'#', 7);
    if n == 0 || n > 6 {
        return None;
    }
    let t = j + n;
    if let Some(c) = s.get(t..).and_then(|r| r.chars().next())
        && !is_ws(c)
    {
        return None;
    }
    let e = dot_end(s, t);
    let end = newlines_or_end(s, e)?;
    let mut text = trim(s.get(t..e)?).to_string();
    if text.ends_with('#') {
        let trimmed = text.trim_end_matches('#');
        if trimmed.is_empty() || trimmed.ends_with(' ') {
            text = trim(trimmed).to_string();
        }
    }
    Some((end, n as u8, text))
}

/// `hr` regex at `i` with `(?:\n+|$)`; returns the end including newlines.
pub fn hr_at(s: &str, i: usize) -> Option<usize> {
    let j = indent3(s, i);
    let c = byte(s, j).filter(|c| matches!(c, b'-' | b'_' | b'*'))?;
    let mut k = j;
    let mut n = 0;
    while byte(s, k) == Some(c) {
        n += 1;
        k = skip_sp_tab(s, k + 1);
    }
    if n < 3 {
        return None;
    }
    newlines_or_end(s, k)
}

/// Thematic break; the token's raw drops the trailing newlines.
pub fn hr(s: &str) -> Option<usize> {
    let end = hr_at(s, 0)?;
    Some(s.get(..end)?.trim_end_matches('\n').len())
}

/// ` {0,3}#{1,6}(?:\s|$)` at `i`.
fn heading_start(s: &str, i: usize) -> bool {
    let j = indent3(s, i);
    let n = count(s, j, b'#', 7);
    if n == 0 || n > 6 {
        return false;
    }
    s.get(j + n..).is_some_and(|r| r.chars().next().is_none_or(is_ws))
}

fn blockquote_start(s: &str, i: usize) -> bool {
    byte(s, indent3(s, i)) == Some(b'>')
}

/// Paragraph-interrupting fence: the fence line must end with `\n`.
fn fence_interrupt(s: &str, i: usize) -> bool {
    let Some((c, _, after)) = fence_open(s, i) else {
        return false;
    };
    let eol = line_end(s, after);
    eol < s.len() && !(c == b'`' && s.get(after..eol).is_some_and(|r| r.contains('`')))
}

/// ` {0,3}(?:[*+-]|1[.)]) `.
fn list_interrupt(s: &str, i: usize) -> bool {
    let j = indent3(s, i);
    match byte(s, j) {
        Some(b'*' | b'+' | b'-') => byte(s, j + 1) == Some(b' '),
        Some(b'1') => matches!(byte(s, j + 1), Some(b'.' | b')')) && byte(s, j + 2) == Some(b' '),
        _ => false,
    }
}

/// ` +\n`.
fn spaces_line(s: &str, i: usize) -> bool {
    let n = count(s, i, b' ', usize::MAX);
    n > 0 && byte(s, i + n) == Some(b'\n')
}

/// Does a paragraph line starting at `i` get interrupted? (`gfm` adds the table rule.)
fn interrupts(s: &str, i: usize, gfm: bool) -> bool {
    hr_at(s, i).is_some()
        || heading_start(s, i)
        || blockquote_start(s, i)
        || fence_interrupt(s, i)
        || list_interrupt(s, i)
        || crate::html::para_interrupt(s, i)
        || (gfm && table_head(s, i).is_some())
        || spaces_line(s, i)
}

/// `[^\n]+(?:\n(?!interrupt)[^\n]+)*` from `i`; returns the end (before the last `\n`).
pub fn para_end(s: &str, i: usize, gfm: bool) -> Option<usize> {
    let mut e = line_end(s, i);
    if e == i {
        return None;
    }
    while e < s.len() {
        let next = e + 1;
        if matches!(byte(s, next), None | Some(b'\n')) || interrupts(s, next, gfm) {
            break;
        }
        e = line_end(s, next);
    }
    Some(e)
}

/// The delimiter row `(?:\| *)?:?-+:? *(?:\| *:?-+:? *)*(?:\| *)?` filling the line at `i`.
fn delim_row(s: &str, i: usize) -> Option<usize> {
    let mut k = i;
    let cell = |k: usize| -> Option<usize> {
        let mut k = k;
        if byte(s, k) == Some(b':') {
            k += 1;
        }
        let d = count(s, k, b'-', usize::MAX);
        if d == 0 {
            return None;
        }
        k += d;
        if byte(s, k) == Some(b':') {
            k += 1;
        }
        Some(k + count(s, k, b' ', usize::MAX))
    };
    if byte(s, k) == Some(b'|') {
        k += 1;
        k += count(s, k, b' ', usize::MAX);
    }
    k = cell(k)?;
    while byte(s, k) == Some(b'|') {
        let after = k + 1 + count(s, k + 1, b' ', usize::MAX);
        match cell(after) {
            Some(e) => k = e,
            None => {
                k = after;
                break;
            }
        }
    }
    matches!(byte(s, k), None | Some(b'\n')).then_some(k)
}

/// Header line + delimiter row at `i`; returns (header range, delimiter range).
fn table_head(s: &str, i: usize) -> Option<((usize, usize), (usize, usize))> {
    let h = i + count(s, i, b' ', usize::MAX);
    if matches!(byte(s, h), None | Some(b'\n' | b' ')) {
        return None;
    }
    let he = dot_end(s, h);
    if byte(s, he) != Some(b'\n') {
        return None;
    }
    let d = indent3(s, he + 1);
    let de = delim_row(s, d)?;
    Some(((h, he), (d, de)))
}

/// Is the line at `k` excluded from table rows?
fn row_stop(s: &str, k: usize) -> bool {
    let sp = k + count(s, k, b' ', usize::MAX);
    byte(s, sp) == Some(b'\n')
        || hr_at(s, k).is_some()
        || heading_start(s, k)
        || blockquote_start(s, k)
        || code_indent(s, k).is_some_and(|c| !matches!(byte(s, c), None | Some(b'\n')))
        || fence_interrupt(s, k)
        || list_interrupt(s, k)
        || crate::html::para_interrupt(s, k)
}

/// GFM table.
pub fn table(s: &str) -> Option<usize> {
    let ((h, he), (d, de)) = table_head(s, 0)?;
    let delim = s.get(d..de)?;
    if !delim.contains([':', '|']) {
        return None;
    }
    if split_cells(s.get(h..he)?) != align_count(delim) {
        return None;
    }
    if de >= s.len() {
        return Some(s.len());
    }
    let mut k = de + 1;
    while k < s.len() && !row_stop(s, k) {
        let e = dot_end(s, k);
        match byte(s, e) {
            Some(b'\n') => k = e + 1,
            None => k = e,
            _ => break,
        }
    }
    Some(k + count(s, k, b'\n', usize::MAX))
}

fn align_count(delim: &str) -> usize {
    // `.replace(/^\||\| *$/g, '')` then split on `|`.
    let d = delim.strip_prefix('|').unwrap_or(delim);
    let d = d.trim_end_matches(' ').strip_suffix('|').unwrap_or(d);
    d.split('|').count()
}

/// Number of cells marked's `splitCells` finds in a header row.
fn split_cells(row: &str) -> usize {
    let mut cells: Vec<String> = vec![String::new()];
    let mut backslashes = 0;
    for c in row.chars() {
        if c == '|' && backslashes % 2 == 0 {
            cells.push(String::new());
        } else if let Some(last) = cells.last_mut() {
            last.push(c);
        }
        backslashes = if c == '\\' { backslashes + 1 } else { 0 };
    }
    // marked turns `|` into ` |` and splits on ` |`, so a cell's trailing space is absorbed.
    let mut n = cells.len();
    if cells.first().is_some_and(|c| trim(c).is_empty()) {
        n -= 1;
    }
    if n > 0 && cells.last().is_some_and(|c| trim(c).is_empty()) && cells.len() > 1 {
        n -= 1;
    }
    n
}

/// Setext heading; returns (length, depth, text).
pub fn lheading(s: &str) -> Option<(usize, u8, String)> {
    if lheading_forbidden(s, 0) {
        return None;
    }
    let mut e = 0;
    loop {
        let le = dot_end(s, e);
        if le == e && e == 0 {
            return None;
        }
        if byte(s, le) != Some(b'\n') {
            return None;
        }
        // Underline `\n {0,3}(=+|-+) *(?:\n+|$)`.
        let u = indent3(s, le + 1);
        if let Some(c) = byte(s, u).filter(|c| *c == b'=' || *c == b'-') {
            let k = u + count(s, u, c, usize::MAX);
            let k = k + count(s, k, b' ', usize::MAX);
            if let Some(end) = newlines_or_end(s, k) {
                let text = s.get(..le)?.to_string();
                return Some((end, if c == b'=' { 1 } else { 2 }, text));
            }
        }
        if lheading_blank(s, le + 1) || lheading_forbidden(s, le + 1) {
            return None;
        }
        e = le + 1;
    }
}

/// `\s*?\n` at `k`: only JS whitespace up to some newline.
fn lheading_blank(s: &str, k: usize) -> bool {
    for c in s.get(k..).unwrap_or("").chars() {
        if c == '\n' {
            return true;
        }
        if !is_ws(c) {
            return false;
        }
    }
    false
}

/// `bull |blockCode|fences|blockquote|heading|html` as used inside `lheading`.
fn lheading_forbidden(s: &str, k: usize) -> bool {
    let bull = match byte(s, k) {
        Some(b'*' | b'+' | b'-') => byte(s, k + 1) == Some(b' '),
        Some(b'0'..=b'9') => {
            let mut d = k;
            while byte(s, d).is_some_and(|b| b.is_ascii_digit()) && d - k < 9 {
                d += 1;
            }
            matches!(byte(s, d), Some(b'.' | b')')) && byte(s, d + 1) == Some(b' ')
        }
        _ => false,
    };
    let j = indent3(s, k);
    bull || code_indent(s, k).is_some()
        || (matches!(byte(s, j), Some(b'`' | b'~')) && count(s, j, byte(s, j).unwrap_or(0), 3) == 3)
        || byte(s, j) == Some(b'>')
        || byte(s, j) == Some(b'#')
        || (byte(s, j) == Some(b'<') && {
            let e = line_end(s, j);
            e < s.len()
                && e > j + 2
                && byte(s, e - 1) == Some(b'>')
                && !s.get(j + 1..e - 1).is_some_and(|r| r.contains('>'))
        })
}
