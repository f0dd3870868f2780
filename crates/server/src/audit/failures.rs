//! Failed authentications in the audit log without a row per attempt (a flood writes one row per
//! client and minute). Held in the shared state; takes only the database.

use quire_notebook::{AuditEntry, Database};

pub fn write(db: &dyn Database, e: AuditEntry) -> Option<i64> {
    tracing::info!(target: "audit", actor = %e.actor, action = %e.action, target = ?e.target, ip = ?e.ip, outcome = %e.outcome, "audit");
    match db.audit(&e) {
        Ok(id) => Some(id),
        Err(err) => {
            tracing::error!(error = %err, "could not write the audit log");
            None
        }
    }
}

/// Failed authentications, one row per `(ip, minute)`: the first failure writes the row at once,
/// the rest of that minute only count, and the count is written when the minute is over.
#[derive(Default)]
pub struct Failures {
    open: std::sync::Mutex<std::collections::HashMap<FailureKey, OpenRow>>,
}

/// `(client ip, minute)`.
type FailureKey = (Option<String>, u64);
/// The row written for the first failure (if the write worked), and how many followed.
type OpenRow = (Option<i64>, u64);

/// Distinct `(ip, minute)` rows kept open at once; past it, failures count on one row per minute.
const MAX_OPEN: usize = 4096;

impl Failures {
    pub fn record(&self, db: &dyn Database, mut e: AuditEntry) {
        let minute = e.at_ms / 60_000;
        let mut open = quire_stdx::lock(&self.open);
        if open.len() >= MAX_OPEN && !open.contains_key(&(e.ip.clone(), minute)) {
            e.ip = Some("(many addresses)".into());
        }
        match open.get_mut(&(e.ip.clone(), minute)) {
            Some((_, more)) => *more += 1,
            None => {
                let key = (e.ip.clone(), minute);
                let id = write(db, e);
                open.insert(key, (id, 0));
            }
        }
    }

    /// Write the counts of minutes that are over (all of them when `all`, at shutdown).
    pub fn flush(&self, db: &dyn Database, all: bool) {
        let now_minute = quire_stdx::now_ms() as u64 / 60_000;
        let done: Vec<(Option<i64>, u64)> = {
            let mut open = quire_stdx::lock(&self.open);
            let keys: Vec<_> = open.keys().filter(|(_, m)| all || *m < now_minute).cloned().collect();
            keys.iter().filter_map(|k| open.remove(k)).collect()
        };
        for (id, more) in done {
            if let (Some(id), true) = (id, more > 0)
                && let Err(err) = db.audit_add_count(id, more)
            {
                tracing::error!(error = %err, "could not count repeated failures in the audit log");
            }
        }
    }
}
