//! Server-sent events decoder (WHATWG "event stream interpretation") that is fed bytes as they
//! arrive: a chunk may end anywhere, inside a line, inside a UTF-8 character or between the CR and
//! LF of a CRLF, and the events come out the same.

/// One dispatched event: `event:` (empty when absent) and the `data:` lines joined with `\n`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

/// An event larger than this is refused, so a server that never sends a blank line cannot grow the
/// buffer without bound.
pub const MAX_EVENT_BYTES: usize = 8 << 20;

#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes of the current, unterminated line. Kept as bytes: a UTF-8 character split across
    /// chunks is only decoded once its line is complete (CR and LF never occur inside one).
    line: Vec<u8>,
    /// The last chunk ended in CR: a LF at the start of the next one belongs to that CR.
    after_cr: bool,
    /// The stream's first bytes are still to come (a leading BOM is dropped).
    started: bool,
    event: String,
    data: String,
    has_data: bool,
    pending_bytes: usize,
}

/// The decoder refused the stream (an event over [`MAX_EVENT_BYTES`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTooLarge;

impl SseDecoder {
    pub fn new() -> SseDecoder {
        SseDecoder::default()
    }

    /// Feed the next chunk; complete events are pushed to `out` in order.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), EventTooLarge> {
        if !self.started && !chunk.is_empty() {
            // A BOM may itself be split; wait until three bytes (or a non-BOM prefix) are here.
            let mut head = std::mem::take(&mut self.line);
            head.extend_from_slice(chunk);
            const BOM: &[u8] = b"\xEF\xBB\xBF";
            if head.len() < BOM.len() && BOM.starts_with(&head) {
                self.line = head;
                return Ok(());
            }
            self.started = true;
            let rest = head.strip_prefix(BOM).unwrap_or(&head).to_vec();
            return self.feed_started(&rest, out);
        }
        if self.after_cr && !chunk.is_empty() {
            self.after_cr = false;
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
            }
        }
        self.feed_started(chunk, out)
    }

    fn feed_started(&mut self, mut chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), EventTooLarge> {
        while let Some(end) = chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.line.extend_from_slice(&chunk[..end]);
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, out)?;
            let was_cr = chunk[end] == b'\r';
            chunk = &chunk[end + 1..];
            if was_cr {
                match chunk.first() {
                    Some(b'\n') => chunk = &chunk[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        self.line.extend_from_slice(chunk);
        if self.line.len() + self.pending_bytes > MAX_EVENT_BYTES {
            return Err(EventTooLarge);
        }
        Ok(())
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<SseEvent>) -> Result<(), EventTooLarge> {
        if line.is_empty() {
            if self.has_data {
                out.push(SseEvent {
                    event: std::mem::take(&mut self.event),
                    data: std::mem::take(&mut self.data),
                });
            }
            self.event.clear();
            self.data.clear();
            self.has_data = false;
            self.pending_bytes = 0;
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(()); // a comment: keep-alives and ": OPENROUTER PROCESSING"
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.find(':') {
            Some(i) => (&text[..i], text[i + 1..].strip_prefix(' ').unwrap_or(&text[i + 1..])),
            None => (&text[..], ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {} // id, retry and unknown fields: nothing a chat stream needs
        }
        self.pending_bytes += line.len();
        if self.pending_bytes > MAX_EVENT_BYTES {
            return Err(EventTooLarge);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_in(pieces: &[&[u8]]) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        for piece in pieces {
            decoder.feed(piece, &mut out).unwrap();
        }
        out
    }

    fn ev(event: &str, data: &str) -> SseEvent {
        SseEvent { event: event.into(), data: data.into() }
    }

    const SAMPLE: &str = "\u{FEFF}: keep-alive\r\n\r\nevent: ping\r\ndata: {\"type\":\"ping\"}\r\n\r\n\
        data: {\"t\":\"h\u{e9}llo \u{1F30D} \u{4E16}\"}\n\n: comment\ndata: line one\ndata:line two\r\rid: 7\nretry: 10\n\
        event: done\ndata\n\ndata: [DONE]\n\nevent: no data\n\ndata: unterminated";

    fn sample_events() -> Vec<SseEvent> {
        vec![
            ev("ping", "{\"type\":\"ping\"}"),
            ev("", "{\"t\":\"h\u{e9}llo \u{1F30D} \u{4E16}\"}"),
            ev("", "line one\nline two"),
            ev("done", ""),
            ev("", "[DONE]"),
        ]
    }

    #[test]
    fn whole_stream_gives_each_event_and_skips_comments() {
        assert_eq!(decode_in(&[SAMPLE.as_bytes()]), sample_events());
    }

    #[test]
    fn a_crlf_split_between_chunks_is_one_line_end() {
        assert_eq!(decode_in(&[b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n"]), vec![ev("", "a"), ev("", "b")]);
    }

    #[test]
    fn every_single_byte_split_gives_the_same_events() {
        let bytes = SAMPLE.as_bytes();
        let pieces: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(decode_in(&pieces), sample_events());
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut decoder = SseDecoder::new();
        let big = vec![b'x'; MAX_EVENT_BYTES + 1];
        assert_eq!(decoder.feed(&big, &mut Vec::new()), Err(EventTooLarge));
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_events(cuts in proptest::collection::vec(0..SAMPLE.len(), 0..40)) {
            let bytes = SAMPLE.as_bytes();
            let mut cuts = cuts;
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut at = 0;
            for cut in cuts {
                pieces.push(&bytes[at..cut]);
                at = cut;
            }
            pieces.push(&bytes[at..]);
            prop_assert_eq!(decode_in(&pieces), sample_events());
        }
    }
}
