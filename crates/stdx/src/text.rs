//! Cutting text to a byte budget without splitting a character.

/// The start of `text`, at most `max` bytes, on a character boundary.
pub fn head(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The end of `text`, at most `max` bytes, on a character boundary (errors are at the end of an output).
pub fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_fall_between_characters() {
        let s = "aé€😀";
        assert_eq!(head(s, 2), "a");
        assert_eq!(head(s, 3), "aé");
        assert_eq!(head(s, 100), s);
        assert_eq!(tail(s, 5), "😀");
        assert_eq!(tail(s, 7), "€😀");
        assert_eq!(tail(s, 0), "");
        assert_eq!(head(s, 0), "");
    }
}
