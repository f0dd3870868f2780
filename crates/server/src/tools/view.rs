//! Servers as the UI sees them (`GET /api/mcp/servers`): configuration without secret values, and
//! the live state (status, server info, tools). And the merge that lets the UI edit a server whose
//! secret values it never saw.

use quire_mcp::{McpConfig, ServerSpec, ServerState, ServerStatus};
use serde_json::{Value, json};

pub fn servers(config: &McpConfig, states: &[ServerState]) -> Vec<Value> {
    config
        .view()
        .into_iter()
        .map(|v| {
            let state = states.iter().find(|s| s.name == v.name);
            let mut out = json!({
                "name": v.name,
                "transport": v.transport,
                "envKeys": v.env_names,
                "headerKeys": v.header_names,
                "disabled": v.disabled,
                "state": "idle",
                "tools": [],
                "resources": 0,
                "prompts": [],
            });
            for (k, val) in [
                ("command", v.command.map(Value::from)),
                ("cwd", v.cwd.map(Value::from)),
                ("url", v.url.map(Value::from)),
                ("timeoutMs", v.timeout_ms.map(Value::from)),
            ] {
                if let Some(val) = val {
                    out[k] = val;
                }
            }
            if !v.args.is_empty() {
                out["args"] = json!(v.args);
            }
            if let Some(s) = state {
                let (name, error) = match &s.status {
                    ServerStatus::Idle => ("idle", None),
                    ServerStatus::Connecting => ("connecting", None),
                    ServerStatus::Ready => ("ready", None),
                    ServerStatus::Failed { error } => ("failed", Some(error.clone())),
                };
                out["state"] = json!(name);
                if let Some(e) = error {
                    out["error"] = json!(e);
                }
                if let Some(info) = &s.info {
                    out["serverInfo"] = json!({"name": info.name, "version": info.version});
                    out["protocolVersion"] = json!(info.protocol_version);
                }
                out["tools"] = json!(s.tools);
                out["resources"] = json!(s.resources.len());
                out["prompts"] = json!(s.prompts);
                if let Some(ms) = s.retry_in_ms {
                    out["retryInMs"] = json!(ms);
                }
            }
            out
        })
        .collect()
}

/// In the body's `env` / `headers`, a `null` value means "keep what is stored" (the UI never sees the
/// values): fill those in from `old`; a null with nothing stored is dropped.
pub fn keep_unchanged_secrets(body: &mut Value, old: Option<&ServerSpec>) {
    let stored = |key: &str, name: &str| -> Option<String> {
        match (old?, key) {
            (ServerSpec::Stdio(s), "env") => s.env.get(name).cloned(),
            (ServerSpec::Http(h), "headers") => h.headers.get(name).cloned(),
            _ => None,
        }
    };
    for key in ["env", "headers"] {
        let Some(map) = body.get_mut(key).and_then(Value::as_object_mut) else { continue };
        let names: Vec<String> = map.iter().filter(|(_, v)| v.is_null()).map(|(k, _)| k.clone()).collect();
        for name in names {
            match stored(key, &name) {
                Some(v) => map.insert(name, Value::String(v)),
                None => map.remove(&name),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_null_keeps_the_stored_secret_and_a_new_value_replaces_it() {
        let old = quire_mcp::config::parse_server_value(
            "gh",
            &json!({"command": "npx", "env": {"TOKEN": "old-secret", "OTHER": "x"}}),
        )
        .unwrap();
        let mut body = json!({"command": "npx", "env": {"TOKEN": null, "OTHER": "new", "GONE": null}});
        keep_unchanged_secrets(&mut body, Some(&old));
        assert_eq!(body["env"], json!({"TOKEN": "old-secret", "OTHER": "new"}));
    }
}
