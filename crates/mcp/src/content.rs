//! What servers send back, in Quire's own wire shapes (camelCase), decoupled from rmcp's model types:
//! they are read through their JSON form, so new rmcp fields never break us.

use serde::Serialize;
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResult {
    pub content: Vec<ToolContent>,
    /// MCP's own field names on the wire (`structuredContent`, `mimeType`, `resource_link`).
    #[serde(rename = "structuredContent", skip_serializing_if = "Option::is_none")]
    pub structured: Option<Value>,
    pub is_error: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ToolContent {
    Text {
        text: String,
    },
    /// `data` is base64, as sent.
    Image {
        #[serde(rename = "mimeType")]
        mime: String,
        data: String,
    },
    Audio {
        #[serde(rename = "mimeType")]
        mime: String,
        data: String,
    },
    #[serde(rename_all = "camelCase")]
    Resource {
        uri: String,
        #[serde(rename = "mimeType", skip_serializing_if = "Option::is_none")]
        mime: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// base64
        #[serde(skip_serializing_if = "Option::is_none")]
        blob: Option<String>,
    },
    #[serde(rename = "resource_link", rename_all = "camelCase")]
    ResourceLink {
        uri: String,
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(rename = "mimeType", skip_serializing_if = "Option::is_none")]
        mime: Option<String>,
    },
    /// A content type this client does not know yet, kept as sent.
    Other {
        value: Value,
    },
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

impl ToolContent {
    pub(crate) fn from_json(v: Value) -> ToolContent {
        let text = |k| s(&v, k).unwrap_or_default();
        match v.get("type").and_then(Value::as_str) {
            Some("text") => ToolContent::Text { text: text("text") },
            Some("image") => ToolContent::Image { mime: text("mimeType"), data: text("data") },
            Some("audio") => ToolContent::Audio { mime: text("mimeType"), data: text("data") },
            Some("resource") => {
                let r = v.get("resource").cloned().unwrap_or_default();
                ToolContent::Resource {
                    uri: s(&r, "uri").unwrap_or_default(),
                    mime: s(&r, "mimeType"),
                    text: s(&r, "text"),
                    blob: s(&r, "blob"),
                }
            }
            Some("resource_link") => ToolContent::ResourceLink {
                uri: text("uri"),
                name: text("name"),
                title: s(&v, "title"),
                description: s(&v, "description"),
                mime: s(&v, "mimeType"),
            },
            _ => ToolContent::Other { value: v },
        }
    }
}

impl ToolResult {
    pub(crate) fn from_rmcp(r: rmcp::model::CallToolResult) -> ToolResult {
        let content = r
            .content
            .into_iter()
            .map(|c| ToolContent::from_json(serde_json::to_value(c).unwrap_or_default()))
            .collect();
        ToolResult { content, structured: r.structured_content, is_error: r.is_error.unwrap_or(false) }
    }

    /// The text parts joined by newlines (what a model is fed when it takes text only).
    pub fn text(&self) -> String {
        let parts: Vec<&str> = self
            .content
            .iter()
            .filter_map(|c| match c {
                ToolContent::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        parts.join("\n")
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolInfo {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub input_schema: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Value>,
}

impl ToolInfo {
    pub(crate) fn from_rmcp(t: &rmcp::model::Tool) -> ToolInfo {
        let v = serde_json::to_value(t).unwrap_or_default();
        ToolInfo {
            name: s(&v, "name").unwrap_or_default(),
            title: s(&v, "title"),
            description: s(&v, "description"),
            input_schema: v
                .get("inputSchema")
                .cloned()
                .unwrap_or_else(|| serde_json::json!({"type": "object"})),
            output_schema: v.get("outputSchema").cloned(),
            annotations: v.get("annotations").cloned(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceInfo {
    pub uri: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
}

impl ResourceInfo {
    pub(crate) fn from_rmcp(r: &rmcp::model::Resource) -> ResourceInfo {
        let v = serde_json::to_value(r).unwrap_or_default();
        ResourceInfo {
            uri: s(&v, "uri").unwrap_or_default(),
            name: s(&v, "name").unwrap_or_default(),
            description: s(&v, "description"),
            mime: s(&v, "mimeType"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptInfo {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `[{name, description?, required?}]` as sent.
    pub arguments: Value,
}

impl PromptInfo {
    pub(crate) fn from_rmcp(p: &rmcp::model::Prompt) -> PromptInfo {
        let v = serde_json::to_value(p).unwrap_or_default();
        PromptInfo {
            name: s(&v, "name").unwrap_or_default(),
            description: s(&v, "description"),
            arguments: v.get("arguments").cloned().unwrap_or(Value::Array(Vec::new())),
        }
    }
}

/// Who answered the handshake.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub protocol_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    pub capabilities: Value,
}
