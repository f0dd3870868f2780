//! Tool calling, the same in every wire format: the tools a request offers, the calls a model asks for
//! (emitted whole, once their arguments are complete), and the outputs fed back on the next turn.

use serde_json::Value;

/// A tool the model may ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// `[A-Za-z0-9_-]{1,64}`: the strictest providers' rule (OpenAI, Gemini).
    pub name: String,
    pub description: String,
    /// A JSON Schema object for the arguments.
    pub input_schema: Value,
}

/// A call the model asked for. `arguments` is the parsed JSON object (a model's malformed JSON is kept
/// as `{"_unparsed": "<text>"}` so the caller can tell the model, not crash).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The provider's id for the call (Gemini gives none: `call_<n>` then).
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

/// What a call returned, sent back to the model in the next request.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    pub call_id: String,
    /// The tool's name (Gemini matches outputs to calls by name).
    pub name: String,
    pub content: String,
    pub is_error: bool,
}

/// Calls whose arguments arrive in pieces, keyed by what the format uses (an index, an item id).
#[derive(Debug, Default)]
pub(crate) struct PendingCalls {
    calls: Vec<Pending>,
    done: Vec<ToolCall>,
}

#[derive(Debug)]
struct Pending {
    key: String,
    id: String,
    name: String,
    arguments: String,
}

impl PendingCalls {
    /// A call starts or continues: an empty `id`/`name` keeps what was given before.
    pub fn update(&mut self, key: &str, id: &str, name: &str, arguments: &str) {
        let call = match self.calls.iter_mut().position(|c| c.key == key) {
            Some(i) => &mut self.calls[i],
            None => {
                self.calls.push(Pending {
                    key: key.to_string(),
                    id: String::new(),
                    name: String::new(),
                    arguments: String::new(),
                });
                self.calls.last_mut().expect("just pushed")
            }
        };
        if !id.is_empty() {
            call.id = id.to_string();
        }
        if !name.is_empty() {
            call.name = name.to_string();
        }
        call.arguments.push_str(arguments);
    }

    /// The call under `key` is complete; `arguments`, when given, replace the pieces.
    pub fn finish(&mut self, key: &str, arguments: Option<&str>) {
        if let Some(i) = self.calls.iter().position(|c| c.key == key) {
            let mut call = self.calls.remove(i);
            if let Some(whole) = arguments {
                call.arguments = whole.to_string();
            }
            self.push_done(call.id, call.name, &call.arguments);
        }
    }

    /// A call that came whole (Gemini's `functionCall`, a Responses `output_item.done`).
    pub fn whole(&mut self, id: Option<&str>, name: &str, arguments: Value) {
        let id = id.filter(|i| !i.is_empty()).map(str::to_string);
        let id = id.unwrap_or_else(|| format!("call_{}", self.done.len() + 1));
        if self.done.iter().any(|c| c.id == id) {
            return; // the same call seen twice (added, then done)
        }
        self.done.push(ToolCall { id, name: name.to_string(), arguments });
    }

    /// Every call, the unfinished ones closed (a stream may end without per-call stop events).
    pub fn take(&mut self) -> Vec<ToolCall> {
        for call in std::mem::take(&mut self.calls) {
            self.push_done(call.id, call.name, &call.arguments);
        }
        std::mem::take(&mut self.done)
    }

    pub fn any(&self) -> bool {
        !self.calls.is_empty() || !self.done.is_empty()
    }

    fn push_done(&mut self, id: String, name: String, arguments: &str) {
        let arguments = parse_arguments(arguments);
        self.whole(Some(&id), &name, arguments);
    }
}

/// Arguments as the model wrote them: JSON text, empty meaning `{}`.
pub(crate) fn parse_arguments(text: &str) -> Value {
    if text.trim().is_empty() {
        return Value::Object(Default::default());
    }
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::json!({"_unparsed": text}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pieces_join_by_key_and_unfinished_calls_close_at_the_end() {
        let mut p = PendingCalls::default();
        p.update("0", "call_a", "get-sum", "{\"a\":");
        p.update("1", "call_b", "echo", "");
        p.update("0", "", "", "2,\"b\":3}");
        p.finish("0", None);
        p.update("1", "", "", "not json");
        let calls = p.take();
        assert_eq!(
            calls[0],
            ToolCall { id: "call_a".into(), name: "get-sum".into(), arguments: json!({"a": 2, "b": 3}) }
        );
        assert_eq!(calls[1].arguments, json!({"_unparsed": "not json"}));
        assert!(!p.any());
    }

    #[test]
    fn whole_calls_without_ids_get_numbered_and_repeats_are_dropped() {
        let mut p = PendingCalls::default();
        p.whole(None, "a", json!({}));
        p.whole(Some("x"), "b", json!({}));
        p.whole(Some("x"), "b", json!({}));
        let ids: Vec<_> = p.take().into_iter().map(|c| c.id).collect();
        assert_eq!(ids, ["call_1", "x"]);
    }
}
