//! `DATA_DIR/mcp.json` on disk: env and header values are stored sealed; a plaintext value a user
//! pasted by hand is sealed on load and the file rewritten atomically. In memory they are opened.

use crate::config::{self, ConfigError, McpConfig, ServerSpec};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Seals secrets at rest (the server implements it with the instance's seal key).
pub trait Sealer: Send + Sync {
    fn seal(&self, plain: &str) -> Result<String, String>;
    fn open(&self, sealed: &str) -> Result<String, String>;
    /// Whether a stored value is sealed (else it is plaintext pasted by hand). Quire's sealed strings
    /// start with `x1.`.
    fn is_sealed(&self, value: &str) -> bool {
        value.starts_with("x1.")
    }
}

/// The file and what was parsed from it. Keeps the file's other top-level keys (a pasted Claude
/// Desktop config has some) so `save` writes them back.
#[derive(Clone, Debug)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub config: McpConfig,
    extra: Map<String, Value>,
    /// The load sealed plaintext values and rewrote the file.
    pub rewrote: bool,
}

impl ConfigFile {
    /// Read, open and validate `path` (missing file: no servers). On any error nothing is returned, so
    /// a bad file never replaces the running configuration.
    pub fn load(path: &Path, sealer: &dyn Sealer) -> Result<ConfigFile, Vec<ConfigError>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "{}".to_owned(),
            Err(e) => return Err(vec![io_err(path, e)]),
        };
        let mut file = Self::from_text(path, &text, sealer)?;
        if file.rewrote {
            file.save(sealer)?;
        }
        Ok(file)
    }

    /// Parse text as if it were the file (the UI's "paste your config"); `rewrote` says whether
    /// plaintext secrets were found (a `save` seals them).
    pub fn from_text(path: &Path, text: &str, sealer: &dyn Sealer) -> Result<ConfigFile, Vec<ConfigError>> {
        let mut root: Value = serde_json::from_str(text).map_err(|e| {
            vec![ConfigError {
                path: String::new(),
                code: "invalid_json",
                message: format!("not valid JSON: {e}"),
            }]
        })?;
        let mut errors = Vec::new();
        let mut plaintext = false;
        open_secrets(&mut root, sealer, &mut errors, &mut plaintext);
        if !errors.is_empty() {
            return Err(errors);
        }
        let config = config::parse_value(&root)?;
        let mut extra = root.as_object().cloned().unwrap_or_default();
        extra.remove("mcpServers");
        Ok(ConfigFile { path: path.to_owned(), config, extra, rewrote: plaintext })
    }

    /// A file at `path` holding `config` (for the UI's add/update/remove, then `save`).
    pub fn new(path: &Path, config: McpConfig) -> ConfigFile {
        ConfigFile { path: path.to_owned(), config, extra: Map::new(), rewrote: false }
    }

    /// The document as stored: secrets sealed.
    pub fn to_json(&self, sealer: &dyn Sealer) -> Result<Value, Vec<ConfigError>> {
        let mut servers = Map::new();
        for (name, spec) in &self.config.servers {
            let v = config::server_json(spec, &mut |plain| sealer.seal(plain))
                .map_err(|m| vec![seal_err(&format!("mcpServers.{name}"), m)])?;
            servers.insert(name.clone(), v);
        }
        let mut root = self.extra.clone();
        root.insert("mcpServers".into(), Value::Object(servers));
        Ok(Value::Object(root))
    }

    /// Write the file atomically and durably (temp, fsync, rename, fsync dir), mode 0600.
    pub fn save(&mut self, sealer: &dyn Sealer) -> Result<(), Vec<ConfigError>> {
        let doc = self.to_json(sealer)?;
        let mut bytes = serde_json::to_vec_pretty(&doc).unwrap_or_default();
        bytes.push(b'\n');
        quire_stdx::fs::write_atomic_private(&self.path, &bytes).map_err(|e| vec![io_err(&self.path, e)])?;
        self.rewrote = false;
        Ok(())
    }

    pub fn upsert(&mut self, name: &str, spec: ServerSpec) -> Result<(), ConfigError> {
        config::check_name(name).map_err(|m| ConfigError {
            path: format!("mcpServers.{name}"),
            code: "invalid_name",
            message: m,
        })?;
        self.config.servers.insert(name.to_owned(), spec);
        Ok(())
    }

    pub fn remove(&mut self, name: &str) -> bool {
        self.config.servers.remove(name).is_some()
    }
}

fn io_err(path: &Path, e: std::io::Error) -> ConfigError {
    ConfigError { path: String::new(), code: "io_error", message: format!("{}: {e}", path.display()) }
}

fn seal_err(path: &str, m: String) -> ConfigError {
    ConfigError { path: path.to_owned(), code: "seal_failed", message: format!("cannot seal a secret: {m}") }
}

/// Open every sealed env/header value in place; note plaintext ones (they get sealed on save).
fn open_secrets(root: &mut Value, sealer: &dyn Sealer, errors: &mut Vec<ConfigError>, plaintext: &mut bool) {
    let Some(servers) = root.get_mut("mcpServers").and_then(Value::as_object_mut) else { return };
    for (name, server) in servers.iter_mut() {
        for key in ["env", "headers"] {
            let Some(map) = server.get_mut(key).and_then(Value::as_object_mut) else { continue };
            for (k, v) in map.iter_mut() {
                let Value::String(s) = v else { continue };
                if sealer.is_sealed(s) {
                    match sealer.open(s) {
                        Ok(plain) => *s = plain,
                        Err(m) => errors.push(ConfigError {
                            path: format!("mcpServers.{name}.{key}.{k}"),
                            code: "unseal_failed",
                            message: format!("cannot open this sealed value (another instance's key?): {m}"),
                        }),
                    }
                } else {
                    *plaintext = true;
                }
            }
        }
    }
}
