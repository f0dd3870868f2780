//! Random bytes and the id shapes built from them. Each shape is a wire or on-disk format somewhere:
//! keep the byte counts at the call sites as they are.

use crate::hex;

/// `N` bytes from the OS random source.
pub fn try_bytes<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b)
        .map_err(|e| std::io::Error::other(format!("the OS random source failed: {e}")))?;
    Ok(b)
}

/// `N` random bytes; panics when the OS has no random source (nothing secure can go on without it).
pub fn bytes<const N: usize>() -> [u8; N] {
    try_bytes().expect("the OS random source is unavailable")
}

/// `len` random bytes as `2 * len` lowercase hex digits (tokens, session ids, request ids).
pub fn hex(len: usize) -> String {
    let mut b = vec![0u8; len];
    getrandom::fill(&mut b).expect("the OS random source is unavailable");
    hex::encode(&b)
}

/// A suffix for a temp file's name (16 hex digits). Uniqueness is a convenience, not a guarantee:
/// temp files are opened `create_new`, so without randomness the name is all zeros and still safe.
pub fn temp_suffix() -> String {
    hex::encode(&try_bytes::<8>().unwrap_or_default())
}

/// A random UUIDv4 in its hyphenated lowercase form.
pub fn uuid_v4() -> String {
    let mut b = bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(&b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(hex(16).len(), 32);
        assert_ne!(hex(16), hex(16));
        assert_eq!(temp_suffix().len(), 16);
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
    }
}
