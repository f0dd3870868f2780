//! Cell ids outlive a restart: an edit a client re-sends after the server came back (the offline
//! edit the UI kept) lands in the cell it was made in, never `cell_not_found`.

use crate::common::TestServer;
use serde_json::json;

#[tokio::test]
async fn an_edit_sent_after_a_restart_lands_in_the_cell_the_client_knows() {
    let s = TestServer::start().await;
    let id = s.create("Stable", "javascript").await;
    let topic = format!("session:{id}");
    let mut ws = s.ws().await;
    ws.subscribe(&id, &["errors", "cells"]).await;
    let code = json!({"id": "client-code-1", "type": "code", "source": "1", "language": "javascript", "filename": "a.js"});
    ws.send(&topic, "cell:create", json!({"index": 2, "cell": code})).await;
    ws.recv_event("cell:created").await;
    let md = json!({"id": "client-md-1", "type": "markdown", "text": "Notes"});
    ws.send(&topic, "cell:create", json!({"index": 2, "cell": md})).await;
    ws.recv_event("cell:created").await;
    let before: Vec<String> = s.session(&id).await["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().into())
        .collect();
    drop(ws);
    let (dir, tmp) = s.stop().await;

    let mut config = quire_server::Config::new(dir, crate::common::TOKEN.into());
    config.language.enabled = false;
    let s = TestServer::start_with(config).await;
    let after: Vec<String> = s.session(&id).await["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().into())
        .collect();
    assert_eq!(after, before, "every cell keeps its id, the title and package.json included");
    let mut ws = s.ws().await;
    ws.subscribe(&id, &["errors", "cells"]).await;
    // A second tab sees each edit applied (the sender gets no echo of its own code edit).
    let mut other = s.ws().await;
    other.subscribe(&id, &["errors", "cells"]).await;
    ws.send(&topic, "cell:update", json!({"cellId": "client-code-1", "updates": {"source": "2"}})).await;
    assert_eq!(other.recv_event("cell:updated").await["cell"]["source"], "2");
    ws.send(&topic, "cell:update", json!({"cellId": "client-md-1", "updates": {"text": "Notes, offline"}}))
        .await;
    assert_eq!(other.recv_event("cell:updated").await["cell"]["text"], "Notes, offline");
    let title = after[0].clone();
    ws.send(&topic, "cell:update", json!({"cellId": title, "updates": {"text": "Renamed"}})).await;
    assert_eq!(other.recv_event("cell:updated").await["cell"]["text"], "Renamed");
    s.stop().await;
    drop(tmp);
}
