//! Frame parsing: `[topic, event, payload]` with `session:<id>` topics; every way a frame can be bad
//! maps to a stable error code.

use serde_json::{Map, Value};

pub struct Frame {
    pub topic: String,
    pub notebook_id: String,
    pub event: String,
    pub payload: Map<String, Value>,
}

/// An `error` event: `{code, message, requestId?}`, sent on the frame's topic when it had one.
#[derive(Debug)]
pub struct FrameError {
    pub topic: Option<String>,
    pub code: &'static str,
    pub message: String,
    pub request_id: Option<Value>,
}

/// Topic used for errors about frames whose topic could not be read.
pub const FALLBACK_TOPIC: &str = "quire";

pub fn request_id(payload: &Map<String, Value>) -> Option<Value> {
    payload.get("requestId").filter(|v| v.is_string() || v.is_number()).cloned()
}

pub fn parse(text: &str) -> Result<Frame, Box<FrameError>> {
    let err = |topic: Option<String>, code, message: String, rid| {
        Box::new(FrameError { topic, code, message, request_id: rid })
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|e| err(None, "invalid_json", format!("Frame is not valid JSON: {e}"), None))?;
    let Value::Array(mut items) = value else {
        return Err(err(None, "invalid_frame", "Frame must be a [topic, event, payload] array".into(), None));
    };
    if items.len() != 3 {
        return Err(err(None, "invalid_frame", "Frame must have exactly 3 elements".into(), None));
    }
    let payload = items.pop();
    let event = items.pop();
    let topic = items.pop();
    let Some(Value::String(topic)) = topic else {
        return Err(err(None, "invalid_frame", "Frame topic must be a string".into(), None));
    };
    let Some(Value::Object(payload)) = payload else {
        return Err(err(Some(topic), "invalid_frame", "Frame payload must be an object".into(), None));
    };
    let rid = request_id(&payload);
    let Some(Value::String(event)) = event else {
        return Err(err(Some(topic), "invalid_frame", "Frame event must be a string".into(), rid));
    };
    let Some(notebook_id) = topic.strip_prefix("session:").map(str::to_string) else {
        return Err(err(Some(topic.clone()), "unknown_topic", format!("Unknown topic '{topic}'"), rid));
    };
    if quire_notebook::check_notebook_id(&notebook_id).is_err() {
        return Err(err(Some(topic.clone()), "unknown_topic", format!("Unknown topic '{topic}'"), rid));
    }
    Ok(Frame { topic, notebook_id, event, payload })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        let id = srcmd::new_cell_id();
        let ok = parse(&format!(r#"["session:{id}","subscribe",{{"id":"x"}}]"#)).unwrap();
        assert_eq!(ok.event, "subscribe");
        assert_eq!(ok.notebook_id, id);
        for (bad, code) in [
            ("{", "invalid_json"),
            ("{}", "invalid_frame"),
            ("[1,2,3]", "invalid_frame"),
            (r#"["a","b"]"#, "invalid_frame"),
            (r#"["a","b",[]]"#, "invalid_frame"),
            (r#"["a",1,{}]"#, "invalid_frame"),
            (r#"["chat:x","b",{}]"#, "unknown_topic"),
            (r#"["session:../x","b",{}]"#, "unknown_topic"),
        ] {
            assert_eq!(parse(bad).err().map(|e| e.code), Some(code), "{bad}");
        }
        let e = parse(r#"["chat","x",{"requestId":7}]"#).err().unwrap();
        assert_eq!(e.request_id, Some(serde_json::json!(7)));
    }
}
