//! Fuzz the parsing of a client WebSocket text frame (envelope, topic, typed payload per event): it
//! must never panic, and a frame it accepts must keep being accepted as the same event once re-serialised.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quire_server::parse_client_message;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(event) = parse_client_message(text) {
        let value: serde_json::Value = serde_json::from_str(text).expect("accepted frames are JSON");
        assert_eq!(parse_client_message(&value.to_string()), Ok(event));
    }
});
