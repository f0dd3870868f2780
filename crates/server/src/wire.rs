//! Wire shapes of the Srcbook API that differ from the domain types (sessions, envelopes).

use quire_notebook::OpenNotebook;
use serde_json::{Value, json};
use srcmd::Language;

/// `{id, cells, language, openedAt, "tsconfig.json"?}`; the tsconfig (text) only for TypeScript.
pub fn session(nb: &OpenNotebook) -> Value {
    let mut v = json!({
        "id": nb.id,
        "cells": nb.nb.cells,
        "language": nb.nb.language,
        "openedAt": nb.opened_at,
    });
    if nb.nb.language == Language::Typescript
        && let (Some(ts), Some(obj)) = (&nb.nb.tsconfig, v.as_object_mut())
    {
        obj.insert("tsconfig.json".into(), json!(ts));
    }
    v
}

/// Srcbook's success envelope.
pub fn ok(result: impl serde::Serialize) -> axum::Json<Value> {
    axum::Json(json!({"error": false, "result": result}))
}
