//! Topic registry: which connections subscribed to which notebook, and bounded fan-out to them.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::{Notify, mpsc};

pub type ConnId = u64;

/// Outgoing side of one connection. A full queue means a reader too slow to keep up: it is closed,
/// never allowed to grow memory without bound.
#[derive(Clone)]
pub struct Peer {
    pub id: ConnId,
    pub tx: mpsc::Sender<String>,
    pub caps: Arc<RwLock<HashSet<String>>>,
    pub kill: Arc<Notify>,
}

impl Peer {
    pub fn has_cap(&self, cap: &str) -> bool {
        self.caps.read().unwrap_or_else(|p| p.into_inner()).contains(cap)
    }

    /// Queue a frame; on overflow the connection is told to close.
    pub fn send(&self, frame: String) -> bool {
        match self.tx.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(conn = self.id, "websocket send queue full; closing slow connection");
                self.kill.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// Who gets a broadcast.
pub enum Audience<'a> {
    All,
    AllExcept(ConnId),
    /// Only connections that announced this capability in `subscribe` (new event names).
    WithCap(&'a str),
}

#[derive(Default)]
pub struct Hub {
    /// Set at shutdown: connections are closed with 1001 (going away) instead of kept.
    pub going_away: std::sync::atomic::AtomicBool,
    next: AtomicU64,
    topics: RwLock<HashMap<String, HashMap<ConnId, Peer>>>,
}

pub fn frame(topic: &str, event: &str, payload: &serde_json::Value) -> String {
    serde_json::json!([topic, event, payload]).to_string()
}

impl Hub {
    pub fn next_conn_id(&self) -> ConnId {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn subscribe(&self, notebook_id: &str, peer: Peer) {
        let mut t = self.topics.write().unwrap_or_else(|p| p.into_inner());
        t.entry(notebook_id.to_string()).or_default().insert(peer.id, peer);
    }

    pub fn unsubscribe(&self, notebook_id: &str, conn: ConnId) {
        let mut t = self.topics.write().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = t.get_mut(notebook_id) {
            m.remove(&conn);
            if m.is_empty() {
                t.remove(notebook_id);
            }
        }
    }

    /// Server shutdown: tell every connection to close (they hear 1001 "going away").
    pub fn close_all(&self) {
        self.going_away.store(true, Ordering::Release);
        let t = self.topics.read().unwrap_or_else(|p| p.into_inner());
        for peer in t.values().flat_map(|m| m.values()) {
            peer.kill.notify_one();
        }
    }

    /// Drop a notebook's subscribers (the notebook was deleted).
    pub fn forget_topic(&self, notebook_id: &str) {
        self.topics.write().unwrap_or_else(|p| p.into_inner()).remove(notebook_id);
    }

    pub fn subscriber_count(&self, notebook_id: &str) -> usize {
        self.topics.read().unwrap_or_else(|p| p.into_inner()).get(notebook_id).map_or(0, |m| m.len())
    }

    pub fn broadcast(&self, notebook_id: &str, event: &str, payload: &serde_json::Value, to: Audience<'_>) {
        let peers: Vec<Peer> = {
            let t = self.topics.read().unwrap_or_else(|p| p.into_inner());
            let Some(m) = t.get(notebook_id) else { return };
            m.values()
                .filter(|p| match to {
                    Audience::All => true,
                    Audience::AllExcept(id) => p.id != id,
                    Audience::WithCap(cap) => p.has_cap(cap),
                })
                .cloned()
                .collect()
        };
        if peers.is_empty() {
            return;
        }
        let text = frame(&format!("session:{notebook_id}"), event, payload);
        for p in peers {
            p.send(text.clone());
        }
    }
}
