//! Turning a run's raw output bytes into client frames: in order, never splitting a UTF-8 character,
//! batched so a flood becomes a few frames per second, and capped per run.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub stream: Stream,
    pub text: String,
}

/// Ordered pending output with a byte cap.
pub struct OutputBuffer {
    segments: Vec<(Stream, Vec<u8>)>,
    /// Bytes accepted so far (the cap counts these).
    accepted: usize,
    cap: usize,
    truncated: bool,
}

impl OutputBuffer {
    pub fn new(cap: usize) -> Self {
        OutputBuffer { segments: Vec::new(), accepted: 0, cap, truncated: false }
    }

    pub fn truncated(&self) -> bool {
        self.truncated
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Add bytes; returns true the first time the cap is hit (the caller tells the client once).
    pub fn push(&mut self, stream: Stream, bytes: &[u8]) -> bool {
        if self.truncated {
            return false;
        }
        let room = self.cap - self.accepted;
        let take = bytes.len().min(room);
        self.accepted += take;
        match self.segments.last_mut() {
            Some((s, buf)) if *s == stream => buf.extend_from_slice(&bytes[..take]),
            _ if take > 0 => self.segments.push((stream, bytes[..take].to_vec())),
            _ => {}
        }
        if take < bytes.len() {
            self.truncated = true;
            return true;
        }
        false
    }

    /// Everything that can be sent now. Unless `last`, an incomplete character at the end of a stream
    /// waits for its remaining bytes; invalid bytes become U+FFFD.
    pub fn drain(&mut self, last: bool) -> Vec<Chunk> {
        let mut out = Vec::new();
        let n = self.segments.len();
        let mut keep = Vec::new();
        for (i, (stream, mut bytes)) in self.segments.drain(..).enumerate() {
            // Only the final segment of the buffer can still grow; earlier ones are complete.
            let hold = if last || i + 1 < n { 0 } else { incomplete_tail(&bytes) };
            let rest = bytes.split_off(bytes.len() - hold);
            if !bytes.is_empty() {
                out.push(Chunk { stream, text: String::from_utf8_lossy(&bytes).into_owned() });
            }
            if !rest.is_empty() {
                keep.push((stream, rest));
            }
        }
        self.segments = keep;
        out
    }
}

/// Length of a trailing partial UTF-8 sequence (0..=3) that more bytes could complete.
fn incomplete_tail(b: &[u8]) -> usize {
    for back in 1..=b.len().min(3) {
        let byte = b[b.len() - back];
        if byte & 0xC0 == 0x80 {
            continue; // continuation byte: keep looking for the lead
        }
        let need = match byte {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => return 0,
        };
        return if need > back { back } else { 0 };
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(chunks: &[Chunk]) -> String {
        chunks.iter().map(|c| c.text.as_str()).collect()
    }

    #[test]
    fn never_splits_a_character() {
        let s = "aé€😀z".as_bytes();
        for cut in 0..s.len() {
            let mut b = OutputBuffer::new(1 << 20);
            b.push(Stream::Stdout, &s[..cut]);
            let first = b.drain(false);
            b.push(Stream::Stdout, &s[cut..]);
            let second = b.drain(false);
            assert!(!text(&first).contains('\u{FFFD}') && !text(&second).contains('\u{FFFD}'), "cut {cut}");
            assert_eq!(text(&first) + &text(&second), "aé€😀z");
        }
    }

    #[test]
    fn keeps_stream_order_and_merges_neighbours() {
        let mut b = OutputBuffer::new(100);
        b.push(Stream::Stdout, b"a");
        b.push(Stream::Stdout, b"b");
        b.push(Stream::Stderr, b"c");
        b.push(Stream::Stdout, b"d");
        let got = b.drain(false);
        assert_eq!(
            got.iter().map(|c| (c.stream, c.text.as_str())).collect::<Vec<_>>(),
            [(Stream::Stdout, "ab"), (Stream::Stderr, "c"), (Stream::Stdout, "d")]
        );
    }

    #[test]
    fn cap_truncates_once() {
        let mut b = OutputBuffer::new(5);
        assert!(!b.push(Stream::Stdout, b"abc"));
        assert!(b.push(Stream::Stdout, b"defg"));
        assert!(!b.push(Stream::Stdout, b"more"));
        assert_eq!(text(&b.drain(true)), "abcde");
        assert!(b.truncated());
    }

    #[test]
    fn invalid_bytes_are_replaced_at_the_end() {
        let mut b = OutputBuffer::new(100);
        b.push(Stream::Stdout, &[b'x', 0xF0, 0x9F]);
        assert_eq!(text(&b.drain(false)), "x");
        assert_eq!(text(&b.drain(true)), "\u{FFFD}");
    }
}
