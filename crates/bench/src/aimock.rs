//! A tiny OpenAI Chat Completions provider in the bench process (HTTP/1.1, chunked SSE), so the bench
//! holds the clock of the first answer byte as well as the client's. Answers are rendered before they
//! are queued: nothing is allocated for them while a request is being served.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An answer's body, one HTTP chunk (flushed on its own) per SSE event.
pub struct Answer(Vec<Vec<u8>>);

impl Answer {
    /// One event per text chunk, then the finish reason, the usage and `[DONE]`.
    pub fn new<S: AsRef<str>>(chunks: impl IntoIterator<Item = S>) -> Answer {
        let event = |v: serde_json::Value| format!("data: {v}\n\n").into_bytes();
        let chunk = |delta: serde_json::Value, finish: serde_json::Value| {
            event(serde_json::json!({"id": "b", "object": "chat.completion.chunk", "model": "m",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}))
        };
        let mut pieces: Vec<Vec<u8>> = chunks
            .into_iter()
            .map(|c| chunk(serde_json::json!({"content": c.as_ref()}), serde_json::Value::Null))
            .collect();
        pieces.push(chunk(serde_json::json!({}), "stop".into()));
        pieces.push(event(serde_json::json!({"id": "b", "object": "chat.completion.chunk", "choices": [],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}})));
        pieces.push(b"data: [DONE]\n\n".to_vec());
        Answer(pieces.into_iter().map(framed).collect())
    }
}

fn framed(piece: Vec<u8>) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", piece.len()).into_bytes();
    out.extend_from_slice(&piece);
    out.extend_from_slice(b"\r\n");
    out
}

/// When one request was served, on the bench's clock.
#[derive(Clone, Copy, Debug)]
pub struct Served {
    /// The whole request was read.
    pub received: Instant,
    /// Just before the first body byte (the first SSE event) was written.
    pub first_byte: Instant,
    /// The closing chunk was written.
    pub last_byte: Instant,
}

#[derive(Default)]
struct Shared {
    answers: Mutex<VecDeque<Answer>>,
    served: Mutex<Vec<Served>>,
    served_one: tokio::sync::Notify,
}

pub struct Mock {
    pub base: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Mock {
    pub async fn start() -> anyhow::Result<Mock> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}/v1", listener.local_addr()?);
        let shared = Arc::new(Shared::default());
        let serving = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let _ = socket.set_nodelay(true);
                tokio::spawn(serve(socket, serving.clone()));
            }
        });
        Ok(Mock { base, shared, task })
    }

    /// The answer to the next chat request (in the order pushed).
    pub fn push(&self, answer: Answer) {
        quire_stdx::lock(&self.shared.answers).push_back(answer);
    }

    /// Requests served so far.
    pub fn count(&self) -> usize {
        quire_stdx::lock(&self.shared.served).len()
    }

    /// Every request served so far (in the order answered), once there are at least `count`: the
    /// record is written after the last byte, which can be after the client already saw the end.
    pub async fn served(&self, count: usize) -> anyhow::Result<Vec<Served>> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let notified = self.shared.served_one.notified();
            let served = quire_stdx::lock(&self.shared.served).clone();
            if served.len() >= count {
                return Ok(served);
            }
            tokio::time::timeout_at(deadline, notified).await?;
        }
    }
}

/// Read the head and a `content-length` body; false when the client sent nothing usable.
async fn read_request(socket: &mut TcpStream) -> std::io::Result<bool> {
    let mut buf = Vec::with_capacity(16 << 10);
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(false);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut have = buf.len() - head_end;
    while have < length {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(false);
        }
        have += n;
    }
    Ok(true)
}

async fn serve(mut socket: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    if !read_request(&mut socket).await? {
        return Ok(());
    }
    let received = Instant::now();
    let answer = quire_stdx::lock(&shared.answers).pop_front().unwrap_or_else(|| Answer::new(["ok"]));
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\
                transfer-encoding: chunked\r\nconnection: close\r\n\r\n";
    socket.write_all(head.as_bytes()).await?;
    let first_byte = Instant::now();
    for piece in &answer.0 {
        socket.write_all(piece).await?;
    }
    socket.write_all(b"0\r\n\r\n").await?;
    let last_byte = Instant::now();
    quire_stdx::lock(&shared.served).push(Served { received, first_byte, last_byte });
    shared.served_one.notify_waiters();
    // Let the client close first (the server reads to the end of the chunked body).
    let mut sink = [0u8; 256];
    while socket.read(&mut sink).await.is_ok_and(|n| n > 0) {}
    Ok(())
}
