//! Text positions as tsserver counts them (1-based lines, 1-based offsets in UTF-16 code units) and the
//! one-range change that turns an old cell text into a new one.

use serde_json::{Value, json};

/// 1-based `(line, offset)` of byte index `at` in `text` (must be a char boundary).
pub fn position(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let offset = before[line_start..].encode_utf16().count() + 1;
    (line, offset)
}

/// Byte index of 1-based `(line, offset)`, clamped to the text (a position past the end of a line
/// lands on its end).
pub fn byte_index(text: &str, line: usize, offset: usize) -> usize {
    let mut start = 0;
    for _ in 1..line.max(1) {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let mut units = 0;
    for (i, c) in text[start..end].char_indices() {
        if units + 1 >= offset {
            return start + i;
        }
        units += c.len_utf16();
    }
    end
}

/// The single replaced range between `old` and `new` as a tsserver `CodeEdit`
/// (`{start, end, newText}`), or `None` when the texts are equal.
pub fn change(old: &str, new: &str) -> Option<Value> {
    if old == new {
        return None;
    }
    let mut prefix = old.bytes().zip(new.bytes()).take_while(|(a, b)| a == b).count();
    while !old.is_char_boundary(prefix) || !new.is_char_boundary(prefix) {
        prefix -= 1;
    }
    let max_suffix = old.len().min(new.len()) - prefix;
    let mut suffix =
        old.bytes().rev().zip(new.bytes().rev()).take(max_suffix).take_while(|(a, b)| a == b).count();
    while !old.is_char_boundary(old.len() - suffix) || !new.is_char_boundary(new.len() - suffix) {
        suffix -= 1;
    }
    let (sl, so) = position(old, prefix);
    let (el, eo) = position(old, old.len() - suffix);
    Some(json!({
        "start": {"line": sl, "offset": so},
        "end": {"line": el, "offset": eo},
        "newText": &new[prefix..new.len() - suffix],
    }))
}

/// The identifier being typed just left of byte index `at` (completion details are fetched for
/// entries matching it).
pub fn word_before(text: &str, at: usize) -> &str {
    let before = &text[..at];
    let start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_' || *c == '$')
        .last()
        .map_or(at, |(i, _)| i);
    &text[start..at]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Apply a change the way tsserver does, to check `change` against it.
    fn apply(old: &str, c: &Value) -> String {
        let at = |p: &Value| {
            byte_index(old, p["line"].as_u64().unwrap() as usize, p["offset"].as_u64().unwrap() as usize)
        };
        let (s, e) = (at(&c["start"]), at(&c["end"]));
        format!("{}{}{}", &old[..s], c["newText"].as_str().unwrap(), &old[e..])
    }

    #[test]
    fn changes_round_trip() {
        let cases = [
            ("", "a"),
            ("abc", ""),
            ("let x = 1;\nlet y = 2;\n", "let x = 1;\nlet yy = 2;\n"),
            ("a\nb\nc", "a\nc"),
            ("aaa", "aa"),
            ("é😀x\nz", "é😀yx\nz"),
            ("😀", "😁"),
            ("x\r\ny", "x\r\nyz"),
        ];
        for (old, new) in cases {
            let c = change(old, new).unwrap();
            assert_eq!(apply(old, &c), new, "{old:?} -> {new:?}: {c}");
        }
        assert!(change("same", "same").is_none());
    }

    #[test]
    fn utf16_offsets() {
        assert_eq!(position("😀a", "😀".len()), (1, 3));
        assert_eq!(position("x\nab", 4), (2, 3));
        assert_eq!(byte_index("x\n😀a", 2, 3), 2 + "😀".len());
        assert_eq!(byte_index("x\nab", 2, 99), 4);
        assert_eq!(byte_index("x", 9, 1), 1);
    }

    #[test]
    fn words() {
        assert_eq!(word_before("foo.ba", 6), "ba");
        assert_eq!(word_before("foo.", 4), "");
        assert_eq!(word_before("$x_1", 4), "$x_1");
    }
}
