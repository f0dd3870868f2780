//! Fuzz the tus header parsers on arbitrary text: none may panic; accepted `Upload-Metadata` and
//! `Upload-Checksum` values re-encode to headers that parse back to the same thing; accepted numbers
//! print back as the same number.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quire_server::tus_headers::{
    encode_checksum, encode_metadata, parse_checksum, parse_metadata, parse_number, version_supported,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(pairs) = parse_metadata(text) {
        let again = encode_metadata(&pairs);
        assert_eq!(parse_metadata(&again).as_ref(), Ok(&pairs), "metadata {again:?}");
    }
    if let Ok(c) = parse_checksum(text) {
        let again = parse_checksum(&encode_checksum(&c)).expect("re-encoded checksum parses");
        assert_eq!((again.algo, again.digest), (c.algo, c.digest));
    }
    if let Ok(n) = parse_number("Upload-Length", text) {
        assert_eq!(parse_number("Upload-Length", &n.to_string()), Ok(n));
        assert!(text.trim().trim_start_matches('+').trim_start_matches('0').len() <= 20);
    }
    if version_supported(text) {
        assert_eq!(text, "1.0.0");
    }
});
