//! Srcbook `.src.md` codec: `decode`/`encode` in the inline and external forms.
//!
//! Invariants: never panics on any input, does no I/O (except `decode_dir`), and
//! `encode(decode(encode(n))) == encode(n)` for every notebook Quire accepts.

mod cell;

pub use cell::*;
