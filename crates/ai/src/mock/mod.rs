//! A scripted LLM provider for tests (cargo feature `mock`): an HTTP/1.1 server on `127.0.0.1:0`
//! that speaks the four wire formats with streaming, splits its event streams wherever a test asks
//! (inside a UTF-8 character, between CR and LF), sends keep-alive comments and `ping` events,
//! answers scripted errors, hangs or cuts a stream mid-way, and records every request so tests can
//! assert headers and the prompt.
//!
//! ```ignore
//! let mock = MockLlm::start(MockOptions::default()).await;
//! mock.push(Reply::text(["Hel", "lo"]));           // the next request gets this
//! let endpoint = Endpoint::custom(&mock.base(), None);
//! // ... send a request to `endpoint` ...
//! assert_eq!(mock.last_request().json()["model"], "m");
//! ```
//!
//! Routing: the format comes from the path (`…/chat/completions`, `…/responses`, `…/messages`,
//! `…:streamGenerateContent`); `GET …/models` lists `MockOptions::models` in the shape of the auth
//! header sent (`x-api-key`: Anthropic, `x-goog-api-key`: Gemini, else OpenAI). A path outside
//! `MockOptions::prefix` gets a plain `404 page not found`, as Ollama answers a base without `/v1`.
//! Scripted replies are used in order by the requests under the prefix; with none left, a chat
//! request streams [`DEFAULT_ANSWER`] and a model list is the configured one.

mod http;
mod script;

pub use http::RecordedRequest;
pub use script::{MockFinish, Reply, Shape, Split, StreamScript};

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::net::{TcpListener, TcpStream};

use crate::provider::WireFormat;

/// The chunks a chat request streams when no reply is scripted.
pub const DEFAULT_ANSWER: [&str; 3] = ["Hello", " from the", " mock."];

#[derive(Debug, Clone)]
pub struct MockOptions {
    /// The path the API lives under (`"/v1"` plays Ollama; `""` answers everywhere).
    pub prefix: String,
    /// When set, a request without this key (in its format's header) gets a 401.
    pub api_key: Option<String>,
    pub models: Vec<String>,
}

impl Default for MockOptions {
    fn default() -> MockOptions {
        MockOptions {
            prefix: String::new(),
            api_key: None,
            models: vec!["mock-large".into(), "mock-small".into()],
        }
    }
}

struct Shared {
    options: MockOptions,
    replies: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<RecordedRequest>>,
    closed_by_client: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The running mock; dropping it stops the server.
pub struct MockLlm {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockLlm {
    pub async fn start(options: MockOptions) -> MockLlm {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            options,
            replies: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
            closed_by_client: AtomicUsize::new(0),
        });
        let serving = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let _ = socket.set_nodelay(true);
                tokio::spawn(serve(socket, serving.clone()));
            }
        });
        MockLlm { addr, shared, task }
    }

    /// `http://127.0.0.1:<port>`, without the prefix: what a user types for a local server.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL with the prefix: where the API really is.
    pub fn base(&self) -> String {
        format!("{}{}", self.url(), self.shared.options.prefix)
    }

    /// Script the answer to the next request (replies are used in the order pushed).
    pub fn push(&self, reply: impl Into<Reply>) {
        lock(&self.shared.replies).push_back(reply.into());
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    pub fn last_request(&self) -> RecordedRequest {
        lock(&self.shared.requests).last().cloned().expect("the mock has received no request")
    }

    /// Connections the client closed before the mock was done with them (a hang given up on, a
    /// stream dropped while it was still being written).
    pub fn closed_by_client(&self) -> usize {
        self.shared.closed_by_client.load(Ordering::SeqCst)
    }
}

enum Route {
    Chat(WireFormat),
    Models,
    NotFound,
}

fn route(path: &str, method: &str, prefix: &str) -> Route {
    let Some(rest) = path.split('?').next().and_then(|p| p.strip_prefix(prefix)) else {
        return Route::NotFound;
    };
    match () {
        _ if method == "GET" && (rest == "/models" || rest.starts_with("/models?")) => Route::Models,
        _ if method == "POST" && rest.ends_with("/chat/completions") => {
            Route::Chat(WireFormat::ChatCompletions)
        }
        _ if method == "POST" && rest.ends_with("/responses") => Route::Chat(WireFormat::Responses),
        _ if method == "POST" && rest.ends_with("/messages") => Route::Chat(WireFormat::AnthropicMessages),
        _ if method == "POST" && rest.contains(":streamGenerateContent") => Route::Chat(WireFormat::Gemini),
        _ => Route::NotFound,
    }
}

/// The format whose auth header the request carries, and the key in it.
fn auth(request: &RecordedRequest) -> (Option<WireFormat>, Option<String>) {
    if let Some(key) = request.header("x-api-key") {
        return (Some(WireFormat::AnthropicMessages), Some(key.to_string()));
    }
    if let Some(key) = request.header("x-goog-api-key") {
        return (Some(WireFormat::Gemini), Some(key.to_string()));
    }
    let bearer = request.header("authorization").and_then(|v| v.strip_prefix("Bearer ")).map(str::to_string);
    (None, bearer)
}

async fn serve(mut socket: TcpStream, shared: Arc<Shared>) {
    let Some(request) = http::read_request(&mut socket).await else { return };
    lock(&shared.requests).push(request.clone());
    let options = &shared.options;
    let (auth_format, key) = auth(&request);
    let route = route(&request.path, &request.method, &options.prefix);
    let format = match route {
        Route::Chat(format) => Some(format),
        _ => auth_format,
    };
    if matches!(route, Route::NotFound) {
        let _ = http::write_whole(&mut socket, 404, &[], "text/plain", "404 page not found").await;
        return;
    }
    if options.api_key.is_some() && key != options.api_key {
        let body = script::error_body(format, 401, "Incorrect API key provided");
        let _ = http::write_whole(&mut socket, 401, &[], "application/json", &body).await;
        return;
    }
    let scripted = lock(&shared.replies).pop_front();
    let result = match (scripted, &route) {
        (None, Route::Models) => {
            let body = script::model_list(format, &options.models);
            http::write_whole(&mut socket, 200, &[], "application/json", &body).await
        }
        (None, Route::Chat(f)) => stream(&mut socket, *f, &StreamScript::new(DEFAULT_ANSWER)).await,
        (Some(Reply::Stream(s)), Route::Chat(f)) => stream(&mut socket, *f, &s).await,
        (Some(Reply::Stream(_)), _) => {
            let body = script::model_list(format, &options.models);
            http::write_whole(&mut socket, 200, &[], "application/json", &body).await
        }
        (Some(Reply::Error { status, message, retry_after }), _) => {
            let headers: Vec<(String, String)> =
                retry_after.into_iter().map(|v| ("retry-after".into(), v)).collect();
            let body = script::error_body(format, status, &message);
            http::write_whole(&mut socket, status, &headers, "application/json", &body).await
        }
        (Some(Reply::Raw { status, headers, content_type, body }), _) => {
            http::write_whole(&mut socket, status, &headers, &content_type, &body).await
        }
        (Some(Reply::RawSse { body, shape }), _) => {
            let pieces = script::pieces(body.as_bytes(), &shape.split);
            http::write_stream(&mut socket, &pieces, shape.gap, shape.cut_after).await
        }
        (Some(Reply::Hang), _) => {
            http::wait_for_close(&mut socket).await;
            Err(std::io::ErrorKind::ConnectionAborted.into())
        }
        (None, Route::NotFound) => unreachable!("answered above"),
    };
    if result.is_err() {
        shared.closed_by_client.fetch_add(1, Ordering::SeqCst);
    }
}

async fn stream(socket: &mut TcpStream, format: WireFormat, s: &StreamScript) -> std::io::Result<()> {
    let body = script::sse_body(&script::events(format, s), &s.shape);
    let pieces = script::pieces(body.as_bytes(), &s.shape.split);
    http::write_stream(socket, &pieces, s.shape.gap, s.shape.cut_after).await
}
