//! A real server on 127.0.0.1:0 in a temp data dir, an HTTP client and WebSocket clients for it.

use futures_util::{SinkExt, StreamExt};
use quire_server::Config;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const TOKEN: &str = "test-token-0123456789abcdef";

pub struct TestServer {
    /// The cell runner when it is the fake one (no Node process).
    pub fake: Option<Arc<quire_server::FakeRunner>>,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pub http: reqwest::Client,
}

/// The test defaults: a temp dir, no language service (only tsserver.rs starts tsservers and
/// installs TypeScript), no disk threshold (test machines can be short of disk).
fn test_config() -> (Config, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = Config::new(tmp.path().to_path_buf(), TOKEN.into());
    config.language.enabled = false;
    config.disk_low_bytes = 0;
    (config, tmp)
}

impl TestServer {
    /// A server whose cells run on the fake runner: no Node process starts.
    pub async fn start() -> Self {
        let (config, tmp) = test_config();
        let mut s = Self::start_with(config).await;
        s._tmp = Some(tmp);
        s
    }

    /// A server that runs cells on real Node hosts.
    pub async fn start_node() -> Self {
        let (config, tmp) = test_config();
        let mut s = Self::start_with_node(config).await;
        s._tmp = Some(tmp);
        s
    }

    /// A server in a temp dir with `configure` applied to the default config (fake runner).
    pub async fn start_configured(configure: impl FnOnce(&mut Config)) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let mut config = Config::new(tmp.path().to_path_buf(), TOKEN.into());
        configure(&mut config);
        let mut s = Self::start_with(config).await;
        s._tmp = Some(tmp);
        s
    }

    pub async fn start_with(config: Config) -> Self {
        let fake = Arc::new(quire_server::FakeRunner::default());
        Self::launch(config, Some(fake)).await
    }

    pub async fn start_with_node(config: Config) -> Self {
        Self::launch(config, None).await
    }

    /// `start_with_node`, keeping `tmp` (the config's data dir) alive as long as the server.
    pub async fn start_with_node_in(config: Config, tmp: tempfile::TempDir) -> Self {
        let mut s = Self::launch(config, None).await;
        s._tmp = Some(tmp);
        s
    }

    /// Node processes started by this server (host, workers, tsserver), found by their working
    /// directory inside its data dir.
    pub fn node_processes(&self) -> usize {
        let Ok(procs) = std::fs::read_dir("/proc") else { return 0 };
        procs
            .flatten()
            .filter(|p| p.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
            .filter(|p| std::fs::read_link(p.path().join("cwd")).is_ok_and(|c| c.starts_with(&self.data_dir)))
            .filter(|p| std::fs::read_to_string(p.path().join("comm")).is_ok_and(|c| c.trim() == "node"))
            .count()
    }

    /// The test used no Node: the fake runner, and no Node process of this server's exists.
    pub fn assert_no_node(&self) {
        assert!(self.fake.is_some(), "this server runs cells on Node");
        assert_eq!(self.node_processes(), 0, "a Node process was started");
    }

    async fn launch(config: Config, fake: Option<Arc<quire_server::FakeRunner>>) -> Self {
        quire_server::install_crypto_provider();
        let data_dir = config.data_dir.root().to_path_buf();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let runner = fake.clone().map(|f| f as Arc<dyn quire_server::Runner>);
        let task = tokio::spawn(quire_server::serve_with_runner(config, runner, listener, async move {
            let _ = rx.await;
        }));
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let s = TestServer { fake, addr, data_dir, _tmp: None, stop: Some(tx), task: Some(task), http };
        s.wait_ready().await;
        s
    }

    async fn wait_ready(&self) {
        for _ in 0..500 {
            if let Ok(r) = reqwest::get(self.url("/ready")).await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("server never became ready");
    }

    /// Stop and keep the data dir (returned so a new server can start on it).
    pub async fn stop(mut self) -> (PathBuf, Option<tempfile::TempDir>) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
        (self.data_dir.clone(), self._tmp.take())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.http.post(self.url(path)).json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Create a notebook and return its session id.
    pub async fn create(&self, name: &str, language: &str) -> String {
        let (st, v) = self.post("/api/srcbooks", json!({"name": name, "language": language})).await;
        assert_eq!(st, 200, "{v}");
        let path = v["result"]["path"].as_str().unwrap().to_string();
        let (st, v) = self.post("/api/sessions", json!({"path": path})).await;
        assert_eq!(st, 200, "{v}");
        v["result"]["id"].as_str().unwrap().to_string()
    }

    pub async fn session(&self, id: &str) -> Value {
        let (st, v) = self.get(&format!("/api/sessions/{id}")).await;
        assert_eq!(st, 200, "{v}");
        v["result"].clone()
    }

    pub fn notebook_dir(&self, id: &str) -> PathBuf {
        self.data_dir.join("notebooks").join(id)
    }

    pub async fn ws(&self) -> Ws {
        let mut req = format!("ws://{}/websocket", self.addr).into_client_request().unwrap();
        req.headers_mut().insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
        let (stream, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        Ws { stream }
    }
}

pub struct Ws {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    pub async fn send(&mut self, topic: &str, event: &str, payload: Value) {
        self.send_raw(&json!([topic, event, payload]).to_string()).await;
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.stream.send(Message::Text(text.into())).await.unwrap();
    }

    /// Next text frame as `(topic, event, payload)`; fails after 5 s.
    pub async fn recv(&mut self) -> (String, String, Value) {
        self.recv_within(Duration::from_secs(5)).await
    }

    /// Next text frame, waiting at most `limit` (npm installs can be quiet for a long time).
    pub async fn recv_within(&mut self, limit: Duration) -> (String, String, Value) {
        loop {
            let msg = tokio::time::timeout(limit, self.stream.next())
                .await
                .expect("timed out waiting for a frame")
                .expect("socket closed")
                .expect("socket error");
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                return (v[0].as_str().unwrap().into(), v[1].as_str().unwrap().into(), v[2].clone());
            }
        }
    }

    /// Next text frame, however long it takes (callers bound the wait).
    pub async fn recv_any(&mut self) -> (String, String, Value) {
        loop {
            let msg = self.stream.next().await.expect("socket closed").expect("socket error");
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                return (v[0].as_str().unwrap().into(), v[1].as_str().unwrap().into(), v[2].clone());
            }
        }
    }

    /// Receive until `event` arrives (skipping others).
    pub async fn recv_event(&mut self, event: &str) -> Value {
        loop {
            let (_, e, p) = self.recv().await;
            if e == event {
                return p;
            }
        }
    }

    /// Assert nothing arrives within a short window.
    pub async fn expect_silence(&mut self) {
        let r = tokio::time::timeout(Duration::from_millis(150), self.stream.next()).await;
        assert!(r.is_err(), "unexpected frame: {r:?}");
    }

    pub async fn subscribe(&mut self, id: &str, caps: &[&str]) {
        let topic = format!("session:{id}");
        self.send(&topic, "subscribe", json!({"id": "sub-1", "capabilities": caps})).await;
        let (t, e, p) = self.recv().await;
        assert_eq!((t.as_str(), e.as_str()), (topic.as_str(), "subscribed"), "{p}");
        assert_eq!(p["id"], "sub-1");
    }
}

/// The shared conformance documents, used in place.
pub fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/srcmd")
}

/// All files below `dir`, relative, sorted (to prove nothing was written somewhere).
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        if let Ok(rd) = std::fs::read_dir(d) {
            for e in rd.flatten() {
                let p = e.path();
                out.push(p.strip_prefix(root).unwrap().display().to_string());
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    walk(root, &p, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
