//! tsserver's stdout framing: `Content-Length: <bytes>\r\n\r\n<json>`. Lengths are byte counts and a read
//! may hold several frames or part of one, so this parses bytes, never characters.

/// Accumulates stdout bytes and yields complete message bodies.
#[derive(Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

/// A header that cannot be read: the stream is out of sync and the process must be restarted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad tsserver frame header: {0}")]
pub struct FrameError(pub String);

/// Headers longer than this without a blank line mean the stream is not framed at all.
const MAX_HEADER: usize = 4096;

impl Decoder {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete body, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            if self.buf.len() > MAX_HEADER {
                return Err(FrameError("no header terminator".into()));
            }
            return Ok(None);
        };
        let header = std::str::from_utf8(&self.buf[..end]).map_err(|_| FrameError("not UTF-8".into()))?;
        let mut len = None;
        for line in header.split("\r\n") {
            if let Some((name, value)) = line.split_once(':')
                && name.trim().eq_ignore_ascii_case("content-length")
            {
                len = Some(value.trim().parse::<usize>().map_err(|_| FrameError(line.to_string()))?);
            }
        }
        let len = len.ok_or_else(|| FrameError(format!("no Content-Length in {header:?}")))?;
        let start = end + 4;
        if self.buf.len() < start + len {
            return Ok(None);
        }
        let body = self.buf[start..start + len].to_vec();
        self.buf.drain(..start + len);
        Ok(Some(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &str) -> Vec<u8> {
        format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
    }

    #[test]
    fn splits_and_joins_frames_by_bytes() {
        // Multi-byte text: a character count would cut the body short.
        let a = "{\"text\":\"héllo — ✓\"}\n";
        let b = "{\"n\":2}\n";
        let mut all = frame(a);
        all.extend(frame(b));
        for cut in 0..all.len() {
            let mut d = Decoder::default();
            let mut got = Vec::new();
            for part in [&all[..cut], &all[cut..]] {
                d.push(part);
                while let Some(f) = d.next_frame().unwrap() {
                    got.push(String::from_utf8(f).unwrap());
                }
            }
            assert_eq!(got, vec![a.to_string(), b.to_string()], "cut at {cut}");
        }
    }

    #[test]
    fn bad_headers_are_errors() {
        let mut d = Decoder::default();
        d.push(b"Content-Length: x\r\n\r\n{}");
        assert!(d.next_frame().is_err());
        let mut d = Decoder::default();
        d.push(b"Foo: 1\r\n\r\n{}");
        assert!(d.next_frame().is_err());
        let mut d = Decoder::default();
        d.push(&[b'a'; MAX_HEADER + 1]);
        assert!(d.next_frame().is_err());
    }
}
