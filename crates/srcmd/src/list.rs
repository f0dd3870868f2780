//! marked's `list` tokenizer, reduced to what decides the token's raw text (items are not lexed).

use crate::js::{byte, count, is_dot, trim, trim_end};
use crate::rules::hr_at;

/// Bullet at `i` after up to `max` spaces: `(?:[*+-]|\d{1,9}[.)])`; returns its end.
fn bullet(s: &str, i: usize, max: usize, want: Option<&str>) -> Option<usize> {
    let j = i + count(s, i, b' ', max);
    match byte(s, j)? {
        c @ (b'*' | b'+' | b'-') => match want {
            Some(w) if w.as_bytes() != [c] => None,
            _ => Some(j + 1),
        },
        b'0'..=b'9' => {
            let mut d = j;
            while byte(s, d).is_some_and(|b| b.is_ascii_digit()) && d - j < 9 {
                d += 1;
            }
            let c = byte(s, d).filter(|c| *c == b'.' || *c == b')')?;
            match want {
                Some(w) if w.as_bytes().last() != Some(&c) || w.len() == 1 => None,
                _ => Some(d + 1),
            }
        }
        _ => None,
    }
}

/// `((?:[\t ][^\n]*)?(?:\n|$))` after a bullet: true if present.
fn item_rest_ok(s: &str, k: usize) -> bool {
    matches!(byte(s, k), None | Some(b'\n' | b' ' | b'\t'))
}

/// Slice after `n` UTF-16 units (JS `slice`); a split surrogate pair leaves a lone half,
/// stood in for by U+FFFD (both are plain non-space characters to the rules that look at it).
fn slice16(s: &str, n: usize) -> String {
    let mut units = 0;
    for (p, c) in s.char_indices() {
        if units >= n {
            let rest = s.get(p..).unwrap_or("");
            return if units > n { format!("\u{FFFD}{rest}") } else { rest.to_string() };
        }
        units += c.len_utf16();
    }
    if units > n { "\u{FFFD}".to_string() } else { String::new() }
}

/// The list's own hr test: `^ {0,n}((?:- *){3,}|(?:_ *){3,}|(?:\* *){3,})(?:\n+|$)` on one line.
fn hr_like(l: &str, j: usize) -> bool {
    let Some(c) = byte(l, j).filter(|c| matches!(c, b'-' | b'_' | b'*')) else {
        return false;
    };
    let mut k = j;
    let mut n = 0;
    while byte(l, k) == Some(c) {
        n += 1;
        k += 1;
        k += count(l, k, b' ', usize::MAX);
    }
    n >= 3 && k >= l.len()
}

fn first_non_space(s: &str) -> Option<usize> {
    s.bytes().position(|b| b != b' ')
}

/// List token length at the start of `src`.
pub fn list(src: &str) -> Option<usize> {
    // `list` rule: `^( {0,3}bull)([ \t][^\n]+?)?(?:\n|$)`.
    let b_end = bullet(src, 0, 3, None)?;
    let first_ok = match byte(src, b_end) {
        None | Some(b'\n') => true,
        Some(b' ' | b'\t') => !matches!(byte(src, b_end + 1), None | Some(b'\n')),
        _ => false,
    };
    if !first_ok {
        return None;
    }
    let bull_full = trim(src.get(..b_end)?);
    let bull = bull_full.to_string();
    let mut rest = src;
    let mut raw = String::new();
    let mut items = 0;
    while !rest.is_empty() {
        let Some(be) = bullet(rest, 0, 3, Some(&bull)) else {
            break;
        };
        if !item_rest_ok(rest, be) || hr_at(rest, 0).is_some() {
            break;
        }
        items += 1;
        let first_end = crate::js::line_end(rest, be);
        let cap1_len = be;
        let cap2_line = rest.get(be..first_end)?;
        let mut item_raw = rest.get(..first_end)?.to_string();
        let consumed_nl = first_end < rest.len();
        if consumed_nl {
            item_raw.push('\n');
        }
        rest = rest.get(if consumed_nl { first_end + 1 } else { first_end }..)?;
        let tabs = cap2_line.bytes().take_while(|b| *b == b'\t').count();
        let mut line = format!("{}{}", " ".repeat(3 * tabs), cap2_line.get(tabs..)?);
        let mut next_line = rest.split('\n').next().unwrap_or("");
        let mut blank_line = trim(&line).is_empty();
        let indent = if blank_line {
            cap1_len + 1
        } else {
            let ind = first_non_space(cap2_line).unwrap_or(0);
            let ind = if ind > 4 { 1 } else { ind };
            ind + cap1_len
        };
        let mut end_early = false;
        if blank_line && next_line.bytes().all(|b| b == b' ' || b == b'\t') {
            item_raw.push_str(next_line);
            item_raw.push('\n');
            rest = rest.get(next_line.len() + 1..).unwrap_or("");
            end_early = true;
        }
        if !end_early {
            let n = indent.saturating_sub(1).min(3);
            let fence_begin = |l: &str| {
                let j = count(l, 0, b' ', n);
                l.get(j..).is_some_and(|r| r.starts_with("```") || r.starts_with("~~~"))
            };
            let heading_begin = |l: &str| byte(l, count(l, 0, b' ', n)) == Some(b'#');
            let html_begin = |l: &str| {
                let j = count(l, 0, b' ', n);
                byte(l, j) == Some(b'<')
                    && byte(l, j + 1).is_some_and(|b| b.is_ascii_alphabetic())
                    && l.get(j + 2..).is_some_and(|r| r.chars().take_while(|c| is_dot(*c)).any(|c| c == '>'))
            };
            let hr_begin = |l: &str| hr_like(l, count(l, 0, b' ', n));
            while !rest.is_empty() {
                let raw_line = rest.split('\n').next().unwrap_or("");
                next_line = raw_line;
                let without_tabs = next_line.replace('\t', "    ");
                let next_bullet = bullet(next_line, 0, n, None).is_some_and(|e| item_rest_ok(next_line, e));
                if fence_begin(next_line)
                    || heading_begin(next_line)
                    || html_begin(next_line)
                    || next_bullet
                    || hr_begin(next_line)
                {
                    break;
                }
                let nb = first_non_space(&without_tabs);
                if nb.is_some_and(|p| p >= indent) || trim(next_line).is_empty() {
                    // dedented continuation
                } else {
                    if blank_line {
                        break;
                    }
                    let lt = line.replace('\t', "    ");
                    if first_non_space(&lt).is_some_and(|p| p >= 4)
                        || fence_begin(&line)
                        || heading_begin(&line)
                        || hr_begin(&line)
                    {
                        break;
                    }
                }
                if !blank_line && trim(next_line).is_empty() {
                    blank_line = true;
                }
                item_raw.push_str(raw_line);
                item_raw.push('\n');
                rest = rest.get(raw_line.len() + 1..).unwrap_or("");
                line = slice16(&without_tabs, indent);
            }
        }
        raw.push_str(&item_raw);
    }
    (items > 0).then(|| trim_end(&raw).len())
}
