//! Topic registry: which connections subscribed to which notebook, and bounded fan-out to them.
//! Capabilities decide here, in one place, which events a connection gets.

use super::messages::{ServerEvent, topic};
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
        quire_stdx::read(&self.caps).contains(cap)
    }

    fn wants(&self, event: &ServerEvent) -> bool {
        let needs = event.needs();
        needs.is_empty() || needs.iter().any(|c| self.has_cap(c))
    }

    /// Send `event` on `topic` if this connection takes it.
    pub fn deliver(&self, topic: &str, event: &ServerEvent) {
        if self.wants(event) {
            self.send(event.frame(topic));
        }
    }

    /// Queue a frame; on overflow the connection is told to close.
    fn send(&self, frame: String) -> bool {
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

/// Who gets a broadcast (of those whose capabilities take the event).
pub enum Audience {
    All,
    AllExcept(ConnId),
}

#[derive(Default)]
pub struct Hub {
    /// Set at shutdown: connections are closed with 1001 (going away) instead of kept.
    pub going_away: std::sync::atomic::AtomicBool,
    next: AtomicU64,
    topics: RwLock<HashMap<String, HashMap<ConnId, Peer>>>,
}

impl Hub {
    pub fn next_conn_id(&self) -> ConnId {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn subscribe(&self, notebook_id: &str, peer: Peer) {
        let mut t = quire_stdx::write(&self.topics);
        t.entry(notebook_id.to_string()).or_default().insert(peer.id, peer);
    }

    pub fn unsubscribe(&self, notebook_id: &str, conn: ConnId) {
        let mut t = quire_stdx::write(&self.topics);
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
        let t = quire_stdx::read(&self.topics);
        for peer in t.values().flat_map(|m| m.values()) {
            peer.kill.notify_one();
        }
    }

    /// Drop a notebook's subscribers (the notebook was deleted).
    pub fn forget_topic(&self, notebook_id: &str) {
        quire_stdx::write(&self.topics).remove(notebook_id);
    }

    /// One subscriber of a notebook (replies meant for a single connection).
    pub fn peer(&self, notebook_id: &str, conn: ConnId) -> Option<Peer> {
        quire_stdx::read(&self.topics).get(notebook_id)?.get(&conn).cloned()
    }

    pub fn subscriber_count(&self, notebook_id: &str) -> usize {
        quire_stdx::read(&self.topics).get(notebook_id).map_or(0, |m| m.len())
    }

    /// Is there a connection with `cap` (on `notebook_id`, or anywhere for `None`)?
    pub fn any_with_cap(&self, notebook_id: Option<&str>, cap: &str) -> bool {
        let t = quire_stdx::read(&self.topics);
        match notebook_id {
            Some(nb) => t.get(nb).is_some_and(|m| m.values().any(|p| p.has_cap(cap))),
            None => t.values().flat_map(|m| m.values()).any(|p| p.has_cap(cap)),
        }
    }

    /// Send to every connection once (on the first topic it subscribed to), for events that belong to
    /// no notebook.
    pub fn broadcast_everywhere(&self, event: &ServerEvent) {
        let peers: Vec<(String, Peer)> = {
            let t = quire_stdx::read(&self.topics);
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for (nb, m) in t.iter() {
                for p in m.values().filter(|p| seen.insert(p.id)) {
                    out.push((nb.clone(), p.clone()));
                }
            }
            out
        };
        for (nb, p) in peers {
            p.deliver(&topic(&nb), event);
        }
    }

    pub fn broadcast(&self, notebook_id: &str, event: &ServerEvent, to: Audience) {
        let peers: Vec<Peer> = {
            let t = quire_stdx::read(&self.topics);
            let Some(m) = t.get(notebook_id) else { return };
            m.values()
                .filter(|p| match to {
                    Audience::All => true,
                    Audience::AllExcept(id) => p.id != id,
                })
                .filter(|p| p.wants(event))
                .cloned()
                .collect()
        };
        if peers.is_empty() {
            return;
        }
        // Serialised once for every receiver.
        let text = event.frame(&topic(notebook_id));
        for p in peers {
            p.send(text.clone());
        }
    }
}
