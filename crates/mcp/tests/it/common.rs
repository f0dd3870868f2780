//! Shared helpers: npm packages installed once per target dir (race-safe: into a temp dir, then
//! renamed into place), and configs for the servers under test.

use quire_mcp::{HttpSpec, ManagerOptions, McpConfig, McpManager, ServerSpec, StdioSpec};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const EVERYTHING: &str = "@modelcontextprotocol/server-everything@2026.8.31";
pub const MEMORY: &str = "@modelcontextprotocol/server-memory@2026.8.31";

/// Install `spec` (name@version) once per target dir and return its package directory.
pub fn npm_package(spec: &str) -> PathBuf {
    let (name, _) = spec.rsplit_once('@').unwrap();
    quire_testkit::npm_install(Path::new(env!("CARGO_TARGET_TMPDIR")), spec).join("node_modules").join(name)
}

pub fn node_server(pkg: &Path, args: &[&str], env: &[(&str, &str)]) -> ServerSpec {
    let mut a = vec![pkg.join("dist/index.js").display().to_string()];
    a.extend(args.iter().map(|s| s.to_string()));
    ServerSpec::Stdio(StdioSpec {
        command: "node".into(),
        args: a,
        env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Default::default()
    })
}

pub fn tiny(mode: &str, file: &Path, timeout_ms: Option<u64>) -> ServerSpec {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/tiny-server.mjs");
    let mut spec = StdioSpec {
        command: "node".into(),
        args: vec![script.display().to_string(), mode.into(), file.display().to_string()],
        ..Default::default()
    };
    spec.options.timeout_ms = timeout_ms;
    ServerSpec::Stdio(spec)
}

pub fn http(url: &str) -> ServerSpec {
    ServerSpec::Http(HttpSpec { url: url.into(), headers: BTreeMap::new(), options: Default::default() })
}

pub fn manager(servers: Vec<(&str, ServerSpec)>) -> McpManager {
    let config = McpConfig { servers: servers.into_iter().map(|(n, s)| (n.to_string(), s)).collect() };
    McpManager::new(config, ManagerOptions::default())
}

/// Whether a pid is gone (or a zombie waiting to be reaped: dead all the same).
pub fn pid_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

use quire_mcp::{AllowRule, ApprovalRequest, Approved, Audience, Gate, GateEvent, RuleStore};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Default)]
pub struct Rules(pub Mutex<Vec<AllowRule>>);

impl RuleStore for Rules {
    fn rules(&self) -> Vec<AllowRule> {
        self.0.lock().unwrap().clone()
    }
    fn add(&self, rule: AllowRule) {
        let mut v = self.0.lock().unwrap();
        if !v.contains(&rule) {
            v.push(rule);
        }
    }
    fn remove(&self, rule: &AllowRule) {
        self.0.lock().unwrap().retain(|r| r != rule);
    }
}

/// The notebook's clients: present or not; every event is forwarded to the test.
pub struct Clients {
    pub present: AtomicBool,
    pub events: tokio::sync::mpsc::UnboundedSender<GateEvent>,
}

impl Audience for Clients {
    fn has_clients(&self, _notebook: Option<&str>) -> bool {
        self.present.load(Ordering::SeqCst)
    }
    fn notify(&self, event: GateEvent) {
        let _ = self.events.send(event);
    }
}

pub fn request(server: &str, tool: &str, arguments: serde_json::Value) -> ApprovalRequest {
    ApprovalRequest {
        notebook_id: Some("nb1".into()),
        job_id: None,
        server: server.into(),
        tool: tool.into(),
        arguments,
        source: "rest".into(),
        requested_by: "test".into(),
    }
}

/// An approval by an allow rule (the gate's own tests cover the other paths).
pub async fn approved(server: &str, tool: &str, arguments: serde_json::Value) -> Approved {
    let rules = Rules::default();
    rules.add(AllowRule { server: server.into(), tool: tool.into() });
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let clients = Clients { present: AtomicBool::new(false), events: tx };
    let gate = Gate::new(
        std::sync::Arc::new(clients),
        std::sync::Arc::new(rules),
        std::time::Duration::from_secs(1),
    );
    gate.request(request(server, tool, arguments)).await.expect("a rule approves")
}
