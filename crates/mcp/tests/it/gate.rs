//! The approval gate: rules, no client, allow, deny, timeout, cancellation, "always".

use crate::common::*;
use quire_mcp::{AllowRule, Decision, DenyReason, Gate, GateEvent, Outcome, RuleStore};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

fn gate(present: bool, timeout: Duration) -> (Gate, Arc<Rules>, UnboundedReceiver<GateEvent>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let rules = Arc::new(Rules::default());
    let clients = Arc::new(Clients { present: AtomicBool::new(present), events: tx });
    (Gate::new(clients, rules.clone(), timeout), rules, rx)
}

async fn pending_id(rx: &mut UnboundedReceiver<GateEvent>) -> String {
    match rx.recv().await.unwrap() {
        GateEvent::Pending(p) => {
            assert_eq!((p.server.as_str(), p.tool.as_str()), ("s", "t"));
            assert_eq!(p.arguments, json!({"x": 1}));
            assert_eq!(p.notebook_id.as_deref(), Some("nb1"));
            p.id
        }
        other => panic!("expected pending, got {other:?}"),
    }
}

fn resolved(ev: GateEvent) -> (String, Outcome, Option<String>) {
    match ev {
        GateEvent::Resolved { id, outcome, by, .. } => (id, outcome, by),
        other => panic!("expected resolved, got {other:?}"),
    }
}

#[tokio::test]
async fn a_rule_approves_without_asking() {
    let (g, rules, mut rx) = gate(false, Duration::from_secs(60));
    rules.add(AllowRule { server: "s".into(), tool: "t".into() });
    let a = g.request(request("s", "t", json!({"x": 1}))).await.unwrap();
    assert_eq!((a.server(), a.tool(), a.by()), ("s", "t", "rule"));
    assert!(rx.try_recv().is_err(), "no event for a rule");
    let d = g.request(request("s", "other", json!({}))).await.unwrap_err();
    assert_eq!(d.reason, DenyReason::NoClient, "the rule is per tool");
}

#[tokio::test]
async fn without_a_client_it_is_denied() {
    let (g, _, mut rx) = gate(false, Duration::from_secs(60));
    let d = g.request(request("s", "t", json!({"x": 1}))).await.unwrap_err();
    assert_eq!(d.code(), "mcp_approval_no_client");
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn allow_and_deny_answers() {
    let (g, rules, mut rx) = gate(true, Duration::from_secs(60));
    let g2 = g.clone();
    let waiting = tokio::spawn(async move { g2.request(request("s", "t", json!({"x": 1}))).await });
    let id = pending_id(&mut rx).await;
    assert_eq!(g.pending().len(), 1);
    g.answer(&id, Decision::Allow, false, "alice".into()).unwrap();
    let a = waiting.await.unwrap().unwrap();
    assert_eq!(a.by(), "alice");
    assert_eq!(resolved(rx.recv().await.unwrap()), (id.clone(), Outcome::Allowed, Some("alice".into())));
    assert!(g.pending().is_empty());
    assert!(rules.rules().is_empty(), "no rule without always");
    assert_eq!(g.answer(&id, Decision::Allow, false, "x".into()).unwrap_err().code(), "mcp_approval_unknown");

    let g2 = g.clone();
    let waiting = tokio::spawn(async move { g2.request(request("s", "t", json!({"x": 1}))).await });
    let id = pending_id(&mut rx).await;
    g.answer(&id, Decision::Deny, false, "bob".into()).unwrap();
    let d = waiting.await.unwrap().unwrap_err();
    assert_eq!((d.code(), d.by.as_deref()), ("mcp_approval_denied", Some("bob")));
    assert_eq!(resolved(rx.recv().await.unwrap()).1, Outcome::Denied);
}

#[tokio::test]
async fn always_stores_a_rule() {
    let (g, rules, mut rx) = gate(true, Duration::from_secs(60));
    let g2 = g.clone();
    let waiting = tokio::spawn(async move { g2.request(request("s", "t", json!({"x": 1}))).await });
    let id = pending_id(&mut rx).await;
    g.answer(&id, Decision::Allow, true, "alice".into()).unwrap();
    waiting.await.unwrap().unwrap();
    assert_eq!(rules.rules(), [AllowRule { server: "s".into(), tool: "t".into() }]);
    let _ = rx.recv().await;
    let a = g.request(request("s", "t", json!({"x": 2}))).await.unwrap();
    assert_eq!(a.by(), "rule");
}

#[tokio::test]
async fn an_unanswered_request_times_out() {
    let (g, _, mut rx) = gate(true, Duration::from_millis(100));
    let d = g.request(request("s", "t", json!({"x": 1}))).await.unwrap_err();
    assert_eq!(d.code(), "mcp_approval_timeout");
    let id = pending_id(&mut rx).await;
    assert_eq!(resolved(rx.recv().await.unwrap()), (id, Outcome::Timeout, None));
    assert!(g.pending().is_empty());
}

#[tokio::test]
async fn a_dropped_request_is_cancelled() {
    let (g, _, mut rx) = gate(true, Duration::from_secs(60));
    let g2 = g.clone();
    let waiting = tokio::spawn(async move { g2.request(request("s", "t", json!({"x": 1}))).await });
    let id = pending_id(&mut rx).await;
    waiting.abort();
    assert_eq!(resolved(rx.recv().await.unwrap()), (id.clone(), Outcome::Cancelled, None));
    assert!(g.pending().is_empty());
    assert_eq!(
        g.answer(&id, Decision::Allow, false, "late".into()).unwrap_err().code(),
        "mcp_approval_unknown"
    );
}
