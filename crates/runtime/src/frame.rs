//! The host socket's framing: `u32 length | u8 kind | u32 run id | payload`, big-endian.
//! Binary rather than JSON lines so output bytes pass through untouched (no base64, no escaping).

pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const EXIT: u8 = 3;
pub const RUN: u8 = 10;
pub const STOP: u8 = 11;
pub const MUTE: u8 = 12;
pub const SPAWN: u8 = 13;

/// A frame larger than this is a protocol error (the host never sends one; Node chunks are ≤ 64 KiB).
pub const MAX_FRAME: usize = 64 * 1024 * 1024;

pub fn encode(kind: u8, id: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + payload.len());
    out.extend_from_slice(&(5 + payload.len() as u32).to_be_bytes());
    out.push(kind);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    pub kind: u8,
    pub id: u32,
    pub payload: Vec<u8>,
}

/// Incremental decoder over a byte stream.
#[derive(Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn next_frame(&mut self) -> Result<Option<Frame>, String> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if !(5..=MAX_FRAME).contains(&len) {
            return Err(format!("bad frame length {len}"));
        }
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        let kind = self.buf[4];
        let id = u32::from_be_bytes([self.buf[5], self.buf[6], self.buf[7], self.buf[8]]);
        let payload = self.buf[9..4 + len].to_vec();
        self.buf.drain(..4 + len);
        Ok(Some(Frame { kind, id, payload }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_split_anywhere() {
        let mut bytes = encode(STDOUT, 7, b"hello");
        bytes.extend(encode(EXIT, 9, b"{}"));
        for cut in 0..bytes.len() {
            let mut d = Decoder::default();
            let mut got = Vec::new();
            for part in [&bytes[..cut], &bytes[cut..]] {
                d.push(part);
                while let Some(f) = d.next_frame().unwrap() {
                    got.push(f);
                }
            }
            assert_eq!(got.len(), 2, "cut at {cut}");
            assert_eq!(got[0], Frame { kind: STDOUT, id: 7, payload: b"hello".to_vec() });
            assert_eq!(got[1].id, 9);
        }
    }

    #[test]
    fn rejects_bad_length() {
        let mut d = Decoder::default();
        d.push(&[0, 0, 0, 1, 0]);
        assert!(d.next_frame().is_err());
    }
}
