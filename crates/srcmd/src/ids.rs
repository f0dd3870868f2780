//! Cell ids and filename rules shared with Srcbook.

use crate::Language;

const BASE32HEX: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// 16 random bytes as lowercase unpadded base32hex (26 characters), like Srcbook's `randomid`.
pub fn new_cell_id() -> String {
    let mut bytes = [0u8; 16];
    if !pooled_random(&mut bytes) {
        // No OS randomness: fall back to time and a counter so ids stay unique in-process.
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let t =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let c = COUNTER.fetch_add(1, Ordering::Relaxed);
        bytes[..8].copy_from_slice(&(t as u64).to_le_bytes());
        bytes[8..].copy_from_slice(&c.to_le_bytes());
    }
    base32hex(&bytes)
}

/// Random bytes from a per-thread pool refilled 1 KiB at a time (one syscall per 64 ids: decoding
/// a large notebook makes thousands of ids).
fn pooled_random(out: &mut [u8; 16]) -> bool {
    use std::cell::RefCell;
    thread_local! {
        static POOL: RefCell<(Vec<u8>, usize)> = const { RefCell::new((Vec::new(), 0)) };
    }
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        let (buf, used) = &mut *p;
        if buf.len() < *used + 16 {
            buf.resize(1024, 0);
            if getrandom::fill(buf).is_err() {
                buf.clear();
                return false;
            }
            *used = 0;
        }
        match buf.get(*used..*used + 16) {
            Some(chunk) => {
                out.copy_from_slice(chunk);
                *used += 16;
                true
            }
            None => false,
        }
    })
}

fn base32hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(26);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32HEX[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32HEX[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// 26 characters of `[0-9a-v]`.
pub fn is_valid_cell_id(s: &str) -> bool {
    s.len() == 26 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b))
}

/// Longest cell filename (bytes): with room for the temp and derived names (`.x.tmp-…`, `.map`)
/// written beside it, which must stay within the file system's 255.
pub const MAX_FILENAME_LEN: usize = 200;

/// `^[a-zA-Z0-9_-]+\.(js|cjs|mjs|ts|cts|mts)$`, at most `MAX_FILENAME_LEN` bytes.
pub fn is_valid_filename(name: &str) -> bool {
    let Some((stem, _)) = name.rsplit_once('.') else {
        return false;
    };
    name.len() <= MAX_FILENAME_LEN
        && !stem.is_empty()
        && stem.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && language_of_filename(name).is_some()
}

/// Language by extension (`.js/.cjs/.mjs` → JavaScript, `.ts/.cts/.mts` → TypeScript).
pub fn language_of_filename(name: &str) -> Option<Language> {
    let (_, ext) = name.rsplit_once('.')?;
    match ext {
        "js" | "cjs" | "mjs" => Some(Language::Javascript),
        "ts" | "cts" | "mts" => Some(Language::Typescript),
        _ => None,
    }
}
