//! Token helpers with no server dependencies: random hex ids and constant-time comparison.

/// Constant-time comparison, so response timing leaks nothing about the token.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub use quire_stdx::random::hex as random_hex;
