//! The `/websocket` endpoint: upgrade (auth and Origin already checked by `auth::guard`), one reader
//! loop and one writer task per connection, a bounded send queue between them.

mod ai;
mod handlers;
pub mod hub;
pub mod messages;
pub mod publish;
pub mod tsserver;

pub use messages::parse_client_message;

use crate::state::AppState;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use hub::Peer;
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use tokio::sync::{Notify, mpsc};
use tracing::Instrument;

/// Frames queued for one connection before it counts as too slow and is closed.
const SEND_QUEUE: usize = 4096;
/// Close code for a reader that cannot keep up (policy violation).
const CLOSE_SLOW: u16 = 1008;
/// Close code at server shutdown.
const CLOSE_GOING_AWAY: u16 = 1001;

pub async fn upgrade(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    let limit = state.config.max_ws_message_bytes;
    let id = state.hub.next_conn_id();
    ws.max_message_size(limit).max_frame_size(limit).on_upgrade(move |socket| {
        run(state, socket, id).instrument(tracing::info_span!("websocket", conn = id))
    })
}

async fn run(state: AppState, socket: WebSocket, id: hub::ConnId) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<String>(SEND_QUEUE);
    let peer = Peer { id, tx, caps: Arc::new(RwLock::new(HashSet::new())), kill: Arc::new(Notify::new()) };
    tracing::debug!(conn = peer.id, "websocket connected");
    metrics::gauge!("ws_connections").increment(1.0);
    state.live.ws_opened();
    let kill = peer.kill.clone();
    let beat = state.config.ws_heartbeat;
    let shared = state.clone();
    let writer = tokio::spawn(async move {
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + beat, beat);
        loop {
            tokio::select! {
                _ = ping.tick() => if sink.send(Message::Ping(Vec::new().into())).await.is_err() { break },
                msg = rx.recv() => match msg {
                    Some(text) => {
                        metrics::counter!("ws_frames_sent_total").increment(1);
                        if sink.send(Message::Text(text.into())).await.is_err() { break }
                    }
                    None => break,
                },
                _ = kill.notified() => {
                    let frame = if shared.hub.going_away.load(std::sync::atomic::Ordering::Acquire) {
                        CloseFrame { code: CLOSE_GOING_AWAY, reason: "server shutting down".into() }
                    } else {
                        CloseFrame { code: CLOSE_SLOW, reason: "send queue overflow".into() }
                    };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    break;
                }
            }
        }
    });
    let mut conn = handlers::Conn::new(state.clone(), peer.clone());
    let mut writer = writer;
    let mut writer_done = false;
    // A peer that answers nothing (not even the pings) for three heartbeats is gone: drop it, and its
    // subscriptions with it.
    let mut deadline = tokio::time::Instant::now() + beat * 3;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {
                tracing::info!(conn = peer.id, "websocket peer unresponsive; dropping it");
                break;
            }
            msg = stream.next() => {
                deadline = tokio::time::Instant::now() + beat * 3;
                match msg {
                    Some(Ok(Message::Text(text))) => {
                        metrics::counter!("ws_frames_received_total").increment(1);
                        conn.handle_text(text.as_str()).await
                    }
                    Some(Ok(Message::Binary(_))) => conn.reject_binary(),
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Ok(_)) => {} // pongs (and pings, answered by the protocol layer)
                    Some(Err(e)) => {
                        tracing::debug!(conn = peer.id, error = %e, "websocket read failed");
                        break;
                    }
                }
            }
            _ = &mut writer => { writer_done = true; break }
        }
    }
    metrics::gauge!("ws_connections").decrement(1.0);
    state.live.ws_closed();
    // Leaving the hub drops the last senders, so the writer drains and ends.
    conn.close();
    drop(conn);
    drop(peer);
    if !writer_done {
        let _ = writer.await;
    }
}
