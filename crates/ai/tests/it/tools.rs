//! Tool calling in every wire format: the tools offered, the calls streamed back (arguments in pieces)
//! as whole `ToolCall` deltas before `Done { ToolUse }`, and a second turn carrying the calls and their
//! outputs spelled the way each provider reads them.

use quire_ai::mock::{Reply, Split, StreamScript};
use quire_ai::{ChatMessage, ChatRequest, Delta, FinishReason, ToolCall, ToolOutput, ToolSpec, WireFormat};
use serde_json::{Value, json};

use crate::{FORMATS, client, endpoint, mock};

fn sum_tool() -> ToolSpec {
    ToolSpec {
        name: "everything__get-sum".into(),
        description: "Adds two numbers".into(),
        input_schema: json!({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"]}),
    }
}

#[tokio::test]
async fn every_format_streams_calls_whole_after_the_text_then_done_with_tool_use() {
    for format in FORMATS {
        let mock = mock().await;
        // Split every 7 bytes: arguments and events arrive cut anywhere.
        mock.push(Reply::Stream(
            StreamScript::new(["Let me add ", "them."])
                .tool_call("toolu_a", "everything__get-sum", json!({"a": 2, "b": 3}))
                .tool_call("toolu_b", "echo", json!({"message": "hé ✓"}))
                .split(Split::Every(7)),
        ));
        let mut request = ChatRequest::new("mock-large", "What is 2 + 3?");
        request.tools = vec![sum_tool()];
        let mut stream = client().chat(&endpoint(&mock, format, "k"), &request).await.unwrap();
        let mut deltas = Vec::new();
        while let Some(d) = stream.next().await {
            deltas.push(d.unwrap());
        }
        let text: String = deltas
            .iter()
            .filter_map(|d| if let Delta::Text(t) = d { Some(t.as_str()) } else { None })
            .collect();
        assert_eq!(text, "Let me add them.", "{format:?}");
        let calls: Vec<&ToolCall> =
            deltas.iter().filter_map(|d| if let Delta::ToolCall(c) = d { Some(c) } else { None }).collect();
        assert_eq!(calls.len(), 2, "{format:?}: {deltas:?}");
        assert_eq!(
            (calls[0].name.as_str(), &calls[0].arguments),
            ("everything__get-sum", &json!({"a": 2, "b": 3}))
        );
        assert_eq!((calls[1].name.as_str(), &calls[1].arguments), ("echo", &json!({"message": "hé ✓"})));
        // Gemini gives no ids: they are numbered.
        let ids = if format == WireFormat::Gemini { ["call_1", "call_2"] } else { ["toolu_a", "toolu_b"] };
        assert_eq!([calls[0].id.as_str(), calls[1].id.as_str()], ids, "{format:?}");
        assert!(
            matches!(deltas.last(), Some(Delta::Done { finish: FinishReason::ToolUse, .. })),
            "{format:?}: {:?}",
            deltas.last()
        );
        // The tools were offered in the format's own shape.
        let body = mock.last_request().json();
        let offered = match format {
            WireFormat::ChatCompletions => body.pointer("/tools/0/function/name"),
            WireFormat::Responses | WireFormat::AnthropicMessages => body.pointer("/tools/0/name"),
            WireFormat::Gemini => body.pointer("/tools/0/functionDeclarations/0/name"),
        };
        assert_eq!(offered, Some(&json!("everything__get-sum")), "{format:?}: {body}");
        let schema = match format {
            WireFormat::ChatCompletions => body.pointer("/tools/0/function/parameters/required"),
            WireFormat::Responses => body.pointer("/tools/0/parameters/required"),
            WireFormat::AnthropicMessages => body.pointer("/tools/0/input_schema/required"),
            WireFormat::Gemini => {
                body.pointer("/tools/0/functionDeclarations/0/parametersJsonSchema/required")
            }
        };
        assert_eq!(schema, Some(&json!(["a", "b"])), "{format:?}");
    }
}

#[tokio::test]
async fn the_next_turn_carries_the_calls_and_their_outputs_in_each_formats_shape() {
    let call = ToolCall {
        id: "call_9".into(),
        name: "everything__get-sum".into(),
        arguments: json!({"a": 2, "b": 3}),
    };
    let output = ToolOutput {
        call_id: "call_9".into(),
        name: "everything__get-sum".into(),
        content: "The sum of 2 and 3 is 5.".into(),
        is_error: false,
    };
    for format in FORMATS {
        let mock = mock().await;
        mock.push(Reply::text(["It is 5."]));
        let mut request = ChatRequest::new("mock-large", "What is 2 + 3?");
        request.tools = vec![sum_tool()];
        request.messages.push(ChatMessage::tool_calls("", vec![call.clone()]));
        request.messages.push(ChatMessage::tool_outputs(vec![output.clone()]));
        let answer =
            client().chat(&endpoint(&mock, format, "k"), &request).await.unwrap().collect().await.unwrap();
        assert_eq!(answer.text, "It is 5.");
        assert!(answer.tool_calls.is_empty());
        let body = mock.last_request().json();
        let (asked, answered): (Option<&Value>, Option<&Value>) = match format {
            WireFormat::ChatCompletions => (
                body.pointer("/messages/1/tool_calls/0/function/arguments"),
                body.pointer("/messages/2/content"),
            ),
            WireFormat::Responses => (body.pointer("/input/1/arguments"), body.pointer("/input/2/output")),
            WireFormat::AnthropicMessages => {
                (body.pointer("/messages/1/content/0/input"), body.pointer("/messages/2/content/0/content"))
            }
            WireFormat::Gemini => (
                body.pointer("/contents/1/parts/0/functionCall/args"),
                body.pointer("/contents/2/parts/0/functionResponse/response/output"),
            ),
        };
        let args = asked.unwrap_or_else(|| panic!("{format:?}: no call in {body}"));
        // OpenAI's formats carry arguments as JSON text, the others as objects.
        let args: Value =
            args.as_str().map(|t| serde_json::from_str(t).unwrap()).unwrap_or_else(|| args.clone());
        assert_eq!(args, json!({"a": 2, "b": 3}), "{format:?}");
        assert_eq!(answered, Some(&json!("The sum of 2 and 3 is 5.")), "{format:?}: {body}");
        let linked = match format {
            WireFormat::ChatCompletions => body.pointer("/messages/2/tool_call_id"),
            WireFormat::Responses => body.pointer("/input/2/call_id"),
            WireFormat::AnthropicMessages => body.pointer("/messages/2/content/0/tool_use_id"),
            WireFormat::Gemini => body.pointer("/contents/2/parts/0/functionResponse/name"),
        };
        let want = if format == WireFormat::Gemini { "everything__get-sum" } else { "call_9" };
        assert_eq!(linked, Some(&json!(want)), "{format:?}");
    }
}
