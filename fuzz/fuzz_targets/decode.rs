//! Fuzz `decode`/`decode_cells` on arbitrary UTF-8; when a document decodes, its re-encoding must be
//! a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use srcmd::{Form, decode, decode_cells, encode, normalize_markdown};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = decode_cells(text);
    let _ = normalize_markdown(text);
    if let Ok(n) = decode(text) {
        for form in [Form::Inline, Form::External] {
            let once = encode(&n, form);
            if let Ok(again) = decode(&once) {
                assert_eq!(encode(&again, form), once);
            }
        }
    }
});
