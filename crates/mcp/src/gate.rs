//! The approval gate: the only maker of `Approved`, which `McpManager::call_tool` requires.
//!
//! `Approved` has private fields, no public constructor, and is neither `Clone` nor `Default`, so
//! outside this module no code can make one, copy one or reuse one:
//!
//! ```compile_fail
//! let forged = quire_mcp::Approved { server: "s".into(), tool: "t".into(), arguments: serde_json::Value::Null, by: "me".into() };
//! ```
//!
//! ```compile_fail
//! fn twice(m: &quire_mcp::McpManager, a: quire_mcp::Approved) {
//!     let _ = m.call_tool(a);
//!     let _ = m.call_tool(a); // used up by the first call
//! }
//! ```
//!
//! ```compile_fail
//! fn copy(a: &quire_mcp::Approved) -> quire_mcp::Approved {
//!     a.clone()
//! }
//! ```

use crate::error::McpError;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// A tool call someone approved. Made only by `Gate::request`; consumed by `McpManager::call_tool`.
#[derive(Debug)]
pub struct Approved {
    server: String,
    tool: String,
    arguments: Value,
    by: String,
}

impl Approved {
    pub fn server(&self) -> &str {
        &self.server
    }
    pub fn tool(&self) -> &str {
        &self.tool
    }
    pub fn arguments(&self) -> &Value {
        &self.arguments
    }
    /// `"rule"` for an allow rule, else who answered.
    pub fn by(&self) -> &str {
        &self.by
    }
    pub(crate) fn into_parts(self) -> (String, String, Value) {
        (self.server, self.tool, self.arguments)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ApprovalRequest {
    pub notebook_id: Option<String>,
    /// The AI job asking, so the UI can show the approval on the job's tool-call card.
    pub job_id: Option<String>,
    pub server: String,
    pub tool: String,
    pub arguments: Value,
    /// Where the call comes from: `"ai"`, `"rest"`, …
    pub source: String,
    pub requested_by: String,
}

/// "Always allow this tool of this server".
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub struct AllowRule {
    pub server: String,
    pub tool: String,
}

/// Where allow rules live (the server keeps them in settings).
pub trait RuleStore: Send + Sync {
    fn rules(&self) -> Vec<AllowRule>;
    fn add(&self, rule: AllowRule);
    fn remove(&self, rule: &AllowRule);
}

/// Who can answer: the clients of a notebook (the server's WebSocket hub).
pub trait Audience: Send + Sync {
    fn has_clients(&self, notebook_id: Option<&str>) -> bool;
    fn notify(&self, event: GateEvent);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Decision {
    Allow,
    Deny,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    Allowed,
    Denied,
    Timeout,
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingApproval {
    pub id: String,
    pub notebook_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    pub server: String,
    pub tool: String,
    pub arguments: Value,
    pub source: String,
    pub requested_by: String,
    /// Milliseconds since the epoch.
    #[serde(rename = "expiresAt")]
    pub expires_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum GateEvent {
    Pending(PendingApproval),
    #[serde(rename_all = "camelCase")]
    Resolved {
        id: String,
        notebook_id: Option<String>,
        outcome: Outcome,
        #[serde(skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DenyReason {
    /// Nobody is there to ask.
    NoClient,
    Denied,
    Timeout,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("the call of {tool:?} on MCP server {server:?} was not approved ({})", self.code())]
pub struct Denied {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub server: String,
    pub tool: String,
    pub reason: DenyReason,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

impl Denied {
    pub fn code(&self) -> &'static str {
        match self.reason {
            DenyReason::NoClient => "mcp_approval_no_client",
            DenyReason::Denied => "mcp_approval_denied",
            DenyReason::Timeout => "mcp_approval_timeout",
        }
    }
}

struct Answer {
    decision: Decision,
    by: String,
}

struct Waiting {
    info: PendingApproval,
    tx: oneshot::Sender<Answer>,
}

struct Inner {
    audience: Arc<dyn Audience>,
    rules: Arc<dyn RuleStore>,
    timeout: Duration,
    pending: Mutex<HashMap<String, Waiting>>,
}

#[derive(Clone)]
pub struct Gate {
    inner: Arc<Inner>,
}

/// Default time a request waits for an answer.
pub const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(300);

impl Gate {
    pub fn new(audience: Arc<dyn Audience>, rules: Arc<dyn RuleStore>, timeout: Duration) -> Gate {
        Gate { inner: Arc::new(Inner { audience, rules, timeout, pending: Mutex::new(HashMap::new()) }) }
    }

    fn approved(req: ApprovalRequest, by: String) -> Approved {
        Approved { server: req.server, tool: req.tool, arguments: req.arguments, by }
    }

    /// Approve at once by rule; else ask the notebook's clients and wait for an answer or the
    /// timeout. Dropping the future withdraws the request (`Resolved { outcome: cancelled }`).
    pub async fn request(&self, req: ApprovalRequest) -> Result<Approved, Denied> {
        let rule = AllowRule { server: req.server.clone(), tool: req.tool.clone() };
        if self.inner.rules.rules().contains(&rule) {
            return Ok(Self::approved(req, "rule".into()));
        }
        let deny = |req: &ApprovalRequest, id: Option<String>, reason, by| Denied {
            id,
            server: req.server.clone(),
            tool: req.tool.clone(),
            reason,
            by,
        };
        if !self.inner.audience.has_clients(req.notebook_id.as_deref()) {
            return Err(deny(&req, None, DenyReason::NoClient, None));
        }
        let id = quire_stdx::random::uuid_v4();
        let info = PendingApproval {
            id: id.clone(),
            notebook_id: req.notebook_id.clone(),
            job_id: req.job_id.clone(),
            server: req.server.clone(),
            tool: req.tool.clone(),
            arguments: req.arguments.clone(),
            source: req.source.clone(),
            requested_by: req.requested_by.clone(),
            expires_at_ms: quire_stdx::now_ms() + self.inner.timeout.as_millis() as i64,
        };
        let (tx, rx) = oneshot::channel();
        quire_stdx::lock(&self.inner.pending).insert(id.clone(), Waiting { info: info.clone(), tx });
        let mut guard =
            Withdraw { gate: self, id: id.clone(), notebook_id: req.notebook_id.clone(), armed: true };
        self.inner.audience.notify(GateEvent::Pending(info));
        let answer = tokio::time::timeout(self.inner.timeout, rx).await;
        guard.armed = false;
        match answer {
            Ok(Ok(Answer { decision: Decision::Allow, by })) => Ok(Self::approved(req, by)),
            Ok(Ok(Answer { decision: Decision::Deny, by })) => {
                Err(deny(&req, Some(id), DenyReason::Denied, Some(by)))
            }
            // Timed out (or the gate went away): withdraw it ourselves.
            _ => {
                if quire_stdx::lock(&self.inner.pending).remove(&id).is_some() {
                    self.resolved(&id, req.notebook_id.clone(), Outcome::Timeout, None);
                }
                Err(deny(&req, Some(id), DenyReason::Timeout, None))
            }
        }
    }

    /// Answer a pending request; `always` with `Allow` also stores an allow rule.
    pub fn answer(&self, id: &str, decision: Decision, always: bool, by: String) -> Result<(), McpError> {
        let waiting = quire_stdx::lock(&self.inner.pending).remove(id);
        let Some(w) = waiting else { return Err(McpError::UnknownApproval(id.to_owned())) };
        if always && decision == Decision::Allow {
            self.inner.rules.add(AllowRule { server: w.info.server.clone(), tool: w.info.tool.clone() });
        }
        let outcome = match decision {
            Decision::Allow => Outcome::Allowed,
            Decision::Deny => Outcome::Denied,
        };
        self.resolved(id, w.info.notebook_id.clone(), outcome, Some(by.clone()));
        // The requester may have gone in between; then its guard already reported nothing more.
        let _ = w.tx.send(Answer { decision, by });
        Ok(())
    }

    /// The requests waiting for an answer (for a client that connects late).
    pub fn pending(&self) -> Vec<PendingApproval> {
        let mut v: Vec<_> = quire_stdx::lock(&self.inner.pending).values().map(|w| w.info.clone()).collect();
        v.sort_by(|a, b| a.expires_at_ms.cmp(&b.expires_at_ms).then_with(|| a.id.cmp(&b.id)));
        v
    }

    fn resolved(&self, id: &str, notebook_id: Option<String>, outcome: Outcome, by: Option<String>) {
        self.inner.audience.notify(GateEvent::Resolved { id: id.to_owned(), notebook_id, outcome, by });
    }
}

/// Withdraws a pending request whose waiting future was dropped.
struct Withdraw<'a> {
    gate: &'a Gate,
    id: String,
    notebook_id: Option<String>,
    armed: bool,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        if self.armed && quire_stdx::lock(&self.gate.inner.pending).remove(&self.id).is_some() {
            self.gate.resolved(&self.id, self.notebook_id.take(), Outcome::Cancelled, None);
        }
    }
}
