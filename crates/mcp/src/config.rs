//! `mcp.json`: the `{"mcpServers": {name: {command, args?, env?, cwd?} | {url, headers?}}}` shape Claude
//! Desktop and Cursor use, plus Quire's optional `timeoutMs` and `disabled` per server. Parsing walks
//! the JSON by hand so every error names its path (`mcpServers.github.command`).

use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The parsed file, secrets opened (in memory only).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct McpConfig {
    pub servers: BTreeMap<String, ServerSpec>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ServerSpec {
    Stdio(StdioSpec),
    Http(HttpSpec),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct StdioSpec {
    pub command: String,
    pub args: Vec<String>,
    /// Added to the scrubbed environment; values are secrets (sealed on disk).
    pub env: BTreeMap<String, String>,
    pub cwd: Option<PathBuf>,
    pub options: ServerOptions,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct HttpSpec {
    pub url: String,
    /// Sent on every request; values are secrets (sealed on disk).
    pub headers: BTreeMap<String, String>,
    pub options: ServerOptions,
}

/// Quire's own per-server fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerOptions {
    /// Per-call timeout (`timeoutMs`); the manager's default when absent.
    pub timeout_ms: Option<u64>,
    pub disabled: bool,
}

impl ServerSpec {
    pub fn options(&self) -> &ServerOptions {
        match self {
            ServerSpec::Stdio(s) => &s.options,
            ServerSpec::Http(h) => &h.options,
        }
    }
}

/// One problem in the file, with the JSON path it is at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigError {
    pub path: String,
    pub code: &'static str,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// What the UI may see of a server: never a secret value, only the names.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerView {
    pub name: String,
    pub transport: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub env_names: Vec<String>,
    pub header_names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    pub disabled: bool,
}

impl McpConfig {
    /// The servers as the UI shows them (secret values left out).
    pub fn view(&self) -> Vec<ServerView> {
        self.servers.iter().map(|(name, spec)| view_of(name, spec)).collect()
    }
}

fn view_of(name: &str, spec: &ServerSpec) -> ServerView {
    let o = spec.options();
    let mut v = ServerView {
        name: name.to_owned(),
        transport: "stdio",
        command: None,
        args: Vec::new(),
        cwd: None,
        url: None,
        env_names: Vec::new(),
        header_names: Vec::new(),
        timeout_ms: o.timeout_ms,
        disabled: o.disabled,
    };
    match spec {
        ServerSpec::Stdio(s) => {
            v.command = Some(s.command.clone());
            v.args = s.args.clone();
            v.cwd = s.cwd.as_ref().map(|p| p.display().to_string());
            v.env_names = s.env.keys().cloned().collect();
        }
        ServerSpec::Http(h) => {
            v.transport = "http";
            v.url = Some(h.url.clone());
            v.header_names = h.headers.keys().cloned().collect();
        }
    }
    v
}

const STDIO_KEYS: &[&str] = &["command", "args", "env", "cwd"];
const HTTP_KEYS: &[&str] = &["url", "headers"];
const COMMON_KEYS: &[&str] = &["type", "timeoutMs", "disabled"];
/// Headers the Streamable HTTP transport owns.
const RESERVED_HEADERS: &[&str] =
    &["accept", "mcp-session-id", "mcp-protocol-version", "last-event-id", "content-type"];
/// Upper bound for `timeoutMs`: an hour.
const MAX_TIMEOUT_MS: u64 = 3_600_000;

/// Parse `mcp.json` text. Secret values are taken as they are (see `ConfigFile` for sealing).
pub fn parse(text: &str) -> Result<McpConfig, Vec<ConfigError>> {
    let root: Value = serde_json::from_str(text)
        .map_err(|e| vec![err("", "invalid_json", format!("not valid JSON: {e}"))])?;
    parse_value(&root)
}

/// Parse an already-decoded document (other top-level keys are ignored, as Claude Desktop's file has them).
pub fn parse_value(root: &Value) -> Result<McpConfig, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut config = McpConfig::default();
    let Some(root) = root.as_object() else {
        return Err(vec![err("", "not_object", "the file must be a JSON object".into())]);
    };
    match root.get("mcpServers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(servers)) => {
            for (name, v) in servers {
                let path = format!("mcpServers.{name}");
                if let Err(m) = check_name(name) {
                    errors.push(err(&path, "invalid_name", m));
                    continue;
                }
                if let Some(spec) = parse_server(&path, v, &mut errors) {
                    config.servers.insert(name.clone(), spec);
                }
            }
        }
        Some(_) => errors.push(err("mcpServers", "invalid_type", "must be an object of servers".into())),
    }
    if errors.is_empty() { Ok(config) } else { Err(errors) }
}

/// One server's JSON (`{command, …}` or `{url, …}`), as the UI's add/update sends it; errors have
/// paths like the file's (`mcpServers.<name>.url`).
pub fn parse_server_value(name: &str, server: &Value) -> Result<ServerSpec, Vec<ConfigError>> {
    let doc = serde_json::json!({ "mcpServers": { name: server } });
    let mut config = parse_value(&doc)?;
    config.servers.remove(name).ok_or_else(|| vec![err("mcpServers", "invalid_name", "no server".into())])
}

/// Server names: 1–64 of `[A-Za-z0-9_.-]` (they appear in tool names the AI sees and in URLs).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok { Ok(()) } else { Err(format!("server name {name:?} must be 1-64 of A-Z a-z 0-9 _ . -")) }
}

fn err(path: &str, code: &'static str, message: String) -> ConfigError {
    ConfigError { path: path.to_owned(), code, message }
}

fn parse_server(path: &str, v: &Value, errors: &mut Vec<ConfigError>) -> Option<ServerSpec> {
    let Some(obj) = v.as_object() else {
        errors.push(err(path, "invalid_type", "a server must be an object".into()));
        return None;
    };
    let before = errors.len();
    let kind = match obj.get("type") {
        None => None,
        Some(Value::String(t)) => match t.as_str() {
            "stdio" => Some(false),
            "http" | "streamable-http" | "streamableHttp" => Some(true),
            "sse" => {
                errors.push(err(
                    &format!("{path}.type"),
                    "unsupported_transport",
                    "the old HTTP+SSE transport is not supported; use Streamable HTTP".into(),
                ));
                None
            }
            other => {
                errors.push(err(
                    &format!("{path}.type"),
                    "invalid_value",
                    format!("unknown type {other:?} (stdio, http or streamable-http)"),
                ));
                None
            }
        },
        Some(_) => {
            errors.push(err(&format!("{path}.type"), "invalid_type", "must be a string".into()));
            None
        }
    };
    let is_http = match (obj.contains_key("command"), obj.contains_key("url")) {
        (true, true) => {
            errors.push(err(
                path,
                "ambiguous_server",
                "give either command (stdio) or url (HTTP), not both".into(),
            ));
            return None;
        }
        (false, false) => {
            errors.push(err(
                path,
                "missing_command_or_url",
                "a server needs command (stdio) or url (HTTP)".into(),
            ));
            return None;
        }
        (_, url) => url,
    };
    if kind.is_some_and(|k| k != is_http) {
        errors.push(err(&format!("{path}.type"), "type_mismatch", "type does not match command/url".into()));
    }
    for key in obj.keys() {
        let own = if is_http { HTTP_KEYS } else { STDIO_KEYS };
        if !own.contains(&key.as_str()) && !COMMON_KEYS.contains(&key.as_str()) {
            errors.push(err(
                &format!("{path}.{key}"),
                "unknown_key",
                format!("unknown key {key:?} for a {} server", if is_http { "HTTP" } else { "stdio" }),
            ));
        }
    }
    let options = parse_options(path, obj, errors);
    let spec = if is_http {
        ServerSpec::Http(HttpSpec {
            url: parse_url(&format!("{path}.url"), &obj["url"], errors),
            headers: parse_map(&format!("{path}.headers"), obj.get("headers"), errors, check_header),
            options,
        })
    } else {
        ServerSpec::Stdio(StdioSpec {
            command: parse_command(&format!("{path}.command"), &obj["command"], errors),
            args: parse_args(&format!("{path}.args"), obj.get("args"), errors),
            env: parse_map(&format!("{path}.env"), obj.get("env"), errors, check_env),
            cwd: parse_cwd(&format!("{path}.cwd"), obj.get("cwd"), errors),
            options,
        })
    };
    (errors.len() == before).then_some(spec)
}

fn parse_options(path: &str, obj: &Map<String, Value>, errors: &mut Vec<ConfigError>) -> ServerOptions {
    let mut o = ServerOptions::default();
    match obj.get("timeoutMs") {
        None | Some(Value::Null) => {}
        Some(v) => match v.as_u64() {
            Some(ms) if (1..=MAX_TIMEOUT_MS).contains(&ms) => o.timeout_ms = Some(ms),
            _ => errors.push(err(
                &format!("{path}.timeoutMs"),
                "invalid_value",
                format!("must be an integer from 1 to {MAX_TIMEOUT_MS}"),
            )),
        },
    }
    match obj.get("disabled") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => o.disabled = *b,
        Some(_) => {
            errors.push(err(&format!("{path}.disabled"), "invalid_type", "must be true or false".into()))
        }
    }
    o
}

fn parse_command(path: &str, v: &Value, errors: &mut Vec<ConfigError>) -> String {
    match v.as_str() {
        Some(s) if !s.trim().is_empty() && !s.contains('\0') => s.to_owned(),
        Some(_) => {
            errors.push(err(path, "empty_command", "command must not be empty".into()));
            String::new()
        }
        None => {
            errors.push(err(path, "invalid_type", "command must be a string".into()));
            String::new()
        }
    }
}

fn parse_args(path: &str, v: Option<&Value>, errors: &mut Vec<ConfigError>) -> Vec<String> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, a)| match a.as_str() {
                Some(s) if !s.contains('\0') => Some(s.to_owned()),
                _ => {
                    errors.push(err(
                        &format!("{path}[{i}]"),
                        "invalid_type",
                        "an argument must be a string".into(),
                    ));
                    None
                }
            })
            .collect(),
        Some(_) => {
            errors.push(err(path, "invalid_type", "args must be an array of strings".into()));
            Vec::new()
        }
    }
}

fn parse_cwd(path: &str, v: Option<&Value>, errors: &mut Vec<ConfigError>) -> Option<PathBuf> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.starts_with('/') && !s.contains('\0') => Some(PathBuf::from(s)),
        Some(_) => {
            errors.push(err(path, "invalid_value", "cwd must be an absolute path".into()));
            None
        }
    }
}

fn parse_url(path: &str, v: &Value, errors: &mut Vec<ConfigError>) -> String {
    let Some(s) = v.as_str() else {
        errors.push(err(path, "invalid_type", "url must be a string".into()));
        return String::new();
    };
    match reqwest::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => s.to_owned(),
        Ok(u) => {
            errors.push(err(
                path,
                "invalid_url",
                format!("url must be http or https with a host, not {}:", u.scheme()),
            ));
            String::new()
        }
        Err(e) => {
            errors.push(err(path, "invalid_url", format!("not a URL: {e}")));
            String::new()
        }
    }
}

type Check = fn(&str, &str) -> Result<(), (&'static str, String)>;

fn parse_map(
    path: &str,
    v: Option<&Value>,
    errors: &mut Vec<ConfigError>,
    check: Check,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match v {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let p = format!("{path}.{k}");
                match v.as_str() {
                    Some(s) => match check(k, s) {
                        Ok(()) => {
                            out.insert(k.clone(), s.to_owned());
                        }
                        Err((code, m)) => errors.push(err(&p, code, m)),
                    },
                    None => errors.push(err(&p, "invalid_type", "must be a string".into())),
                }
            }
        }
        Some(_) => errors.push(err(path, "invalid_type", "must be an object of strings".into())),
    }
    out
}

fn check_env(name: &str, value: &str) -> Result<(), (&'static str, String)> {
    let ok = !name.is_empty() && !name.contains(['=', '\0']);
    if !ok {
        return Err(("invalid_env_name", format!("{name:?} is not a valid environment variable name")));
    }
    if value.contains('\0') {
        return Err(("invalid_env_value", "the value must not contain NUL".into()));
    }
    Ok(())
}

/// Header names and values as HTTP allows them (checked again at send time by the transport).
pub(crate) fn check_header(name: &str, value: &str) -> Result<(), (&'static str, String)> {
    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(("invalid_header_name", format!("{name:?} is not a valid HTTP header name")));
    }
    if RESERVED_HEADERS.iter().any(|r| name.eq_ignore_ascii_case(r)) {
        return Err(("reserved_header", format!("{name} is set by the MCP transport itself")));
    }
    if reqwest::header::HeaderValue::from_str(value).is_err() {
        return Err(("invalid_header_value", "the value has characters HTTP headers cannot carry".into()));
    }
    Ok(())
}

/// The JSON form of one server, with each secret value passed through `secret` (sealing, for disk).
pub(crate) fn server_json(
    spec: &ServerSpec,
    secret: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<Value, String> {
    let mut m = Map::new();
    let secrets = |map: &BTreeMap<String, String>, secret: &mut dyn FnMut(&str) -> Result<String, String>| {
        map.iter()
            .map(|(k, v)| Ok((k.clone(), Value::String(secret(v)?))))
            .collect::<Result<Map<_, _>, String>>()
    };
    match spec {
        ServerSpec::Stdio(s) => {
            m.insert("command".into(), s.command.clone().into());
            if !s.args.is_empty() {
                m.insert("args".into(), s.args.clone().into());
            }
            if !s.env.is_empty() {
                m.insert("env".into(), Value::Object(secrets(&s.env, secret)?));
            }
            if let Some(cwd) = &s.cwd {
                m.insert("cwd".into(), cwd.display().to_string().into());
            }
        }
        ServerSpec::Http(h) => {
            m.insert("url".into(), h.url.clone().into());
            if !h.headers.is_empty() {
                m.insert("headers".into(), Value::Object(secrets(&h.headers, secret)?));
            }
        }
    }
    let o = spec.options();
    if let Some(ms) = o.timeout_ms {
        m.insert("timeoutMs".into(), ms.into());
    }
    if o.disabled {
        m.insert("disabled".into(), true.into());
    }
    Ok(Value::Object(m))
}
