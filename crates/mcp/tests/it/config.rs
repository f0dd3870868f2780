//! mcp.json parsing (errors with paths) and secrets sealed at rest.

use quire_mcp::config::parse;
use quire_mcp::{ConfigFile, Sealer, ServerSpec};
use serde_json::json;

fn codes(text: &str) -> Vec<(String, &'static str)> {
    parse(text).unwrap_err().into_iter().map(|e| (e.path, e.code)).collect()
}

#[test]
fn claude_desktop_configs_parse() {
    let c = parse(
        r#"{"globalShortcut": "x", "mcpServers": {
            "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"], "env": {"GITHUB_TOKEN": "t"}},
            "remote": {"type": "streamable-http", "url": "https://example.com/mcp", "headers": {"Authorization": "Bearer k"}, "timeoutMs": 5000},
            "off.1": {"type": "stdio", "command": "x", "disabled": true}
        }}"#,
    )
    .unwrap();
    let ServerSpec::Stdio(g) = &c.servers["github"] else { panic!() };
    assert_eq!(g.args, ["-y", "@modelcontextprotocol/server-github"]);
    assert_eq!(g.env["GITHUB_TOKEN"], "t");
    let ServerSpec::Http(r) = &c.servers["remote"] else { panic!() };
    assert_eq!(r.options.timeout_ms, Some(5000));
    assert!(c.servers["off.1"].options().disabled);
    let view = serde_json::to_value(c.view()).unwrap();
    assert_eq!(view[0]["envNames"], json!(["GITHUB_TOKEN"]));
    assert_eq!(view[2]["headerNames"], json!(["Authorization"]));
    let text = view.to_string();
    assert!(!text.contains("Bearer k") && !text.contains("\"t\""), "the view carries no secret: {text}");
}

#[test]
fn errors_name_their_paths() {
    let got = codes(
        r#"{"mcpServers": {
            "gh": {"command": ""},
            "bad name": {"command": "x"},
            "web": {"url": "ftp://example.com"},
            "h": {"url": "http://127.0.0.1/mcp", "headers": {"bad header": "v", "X-Ok": "a\nb", "Mcp-Session-Id": "s"}},
            "both": {"command": "x", "url": "http://a"},
            "none": {"args": []},
            "extra": {"command": "x", "colour": "red", "timeoutMs": 0},
            "kind": {"type": "sse", "url": "http://a/sse"},
            "mismatch": {"type": "http", "command": "x"},
            "args": {"command": "x", "args": ["ok", 3], "env": {"A=B": "v"}}
        }}"#,
    );
    let want = [
        ("mcpServers.gh.command", "empty_command"),
        ("mcpServers.bad name", "invalid_name"),
        ("mcpServers.web.url", "invalid_url"),
        ("mcpServers.h.headers.bad header", "invalid_header_name"),
        ("mcpServers.h.headers.X-Ok", "invalid_header_value"),
        ("mcpServers.h.headers.Mcp-Session-Id", "reserved_header"),
        ("mcpServers.both", "ambiguous_server"),
        ("mcpServers.none", "missing_command_or_url"),
        ("mcpServers.extra.colour", "unknown_key"),
        ("mcpServers.extra.timeoutMs", "invalid_value"),
        ("mcpServers.kind.type", "unsupported_transport"),
        ("mcpServers.mismatch.type", "type_mismatch"),
        ("mcpServers.args.args[1]", "invalid_type"),
        ("mcpServers.args.env.A=B", "invalid_env_name"),
    ];
    for (path, code) in want {
        assert!(got.contains(&(path.to_string(), code)), "missing {path} {code} in {got:?}");
    }
    assert_eq!(codes("[1]"), [("".to_string(), "not_object")]);
    assert_eq!(codes("{"), [("".to_string(), "invalid_json")]);
    assert_eq!(codes(r#"{"mcpServers": []}"#), [("mcpServers".to_string(), "invalid_type")]);
    let long = format!(r#"{{"mcpServers": {{"{}": {{"command": "x"}}}}}}"#, "a".repeat(65));
    assert_eq!(codes(&long)[0].1, "invalid_name");
    assert!(parse("{}").unwrap().servers.is_empty());
    let one = quire_mcp::config::parse_server_value("web", &json!({"url": "gopher://x"})).unwrap_err();
    assert_eq!((one[0].path.as_str(), one[0].code), ("mcpServers.web.url", "invalid_url"));
    assert!(quire_mcp::config::parse_server_value("web", &json!({"url": "http://127.0.0.1:9/mcp"})).is_ok());
}

/// Seals by reversing and prefixing: enough to see what is stored where.
struct TestSealer;

impl Sealer for TestSealer {
    fn seal(&self, plain: &str) -> Result<String, String> {
        Ok(format!("x1.{}", plain.chars().rev().collect::<String>()))
    }
    fn open(&self, sealed: &str) -> Result<String, String> {
        let body = sealed.strip_prefix("x1.").ok_or("not sealed")?;
        if body.starts_with('!') {
            return Err("wrong key".into());
        }
        Ok(body.chars().rev().collect())
    }
}

#[test]
fn plaintext_secrets_are_sealed_on_load_and_opened_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcp.json");
    let pasted = json!({"theme": "dark", "mcpServers": {
        "gh": {"command": "npx", "env": {"GITHUB_TOKEN": "ghp_secret"}},
        "web": {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer abc"}}
    }});
    std::fs::write(&path, pasted.to_string()).unwrap();
    let f = ConfigFile::load(&path, &TestSealer).unwrap();
    let ServerSpec::Stdio(gh) = &f.config.servers["gh"] else { panic!() };
    assert_eq!(gh.env["GITHUB_TOKEN"], "ghp_secret", "opened in memory");
    let disk = std::fs::read_to_string(&path).unwrap();
    assert!(!disk.contains("ghp_secret") && !disk.contains("Bearer abc"), "plaintext left on disk: {disk}");
    let v: serde_json::Value = serde_json::from_str(&disk).unwrap();
    assert_eq!(v["mcpServers"]["gh"]["env"]["GITHUB_TOKEN"], "x1.terces_phg");
    assert_eq!(v["theme"], "dark", "other keys are kept");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "no temp file left");

    // Loading the sealed file again: same config, no rewrite.
    let again = ConfigFile::load(&path, &TestSealer).unwrap();
    assert!(!again.rewrote);
    assert_eq!(again.config, f.config);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), disk);
}

#[test]
fn a_value_that_cannot_be_opened_is_an_error_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcp.json");
    let text =
        json!({"mcpServers": {"gh": {"command": "x", "env": {"T": "x1.!broken", "U": "plain"}}}}).to_string();
    std::fs::write(&path, &text).unwrap();
    let errors = ConfigFile::load(&path, &TestSealer).unwrap_err();
    assert_eq!((errors[0].path.as_str(), errors[0].code), ("mcpServers.gh.env.T", "unseal_failed"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "a bad file is left as it is");
}

#[test]
fn a_missing_file_is_an_empty_config_and_save_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcp.json");
    let mut f = ConfigFile::load(&path, &TestSealer).unwrap();
    assert!(f.config.servers.is_empty());
    let spec = quire_mcp::config::parse(
        r#"{"mcpServers": {"a": {"url": "http://127.0.0.1:1/mcp", "headers": {"X-Key": "k1"}}}}"#,
    )
    .unwrap()
    .servers
    .remove("a")
    .unwrap();
    f.upsert("a", spec).unwrap();
    assert_eq!(f.upsert("a b", f.config.servers["a"].clone()).unwrap_err().code, "invalid_name");
    f.save(&TestSealer).unwrap();
    assert!(!std::fs::read_to_string(&path).unwrap().contains("\"k1\""));
    assert_eq!(ConfigFile::load(&path, &TestSealer).unwrap().config, f.config);
    assert!(f.remove("a"));
}
