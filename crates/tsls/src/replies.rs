//! tsserver bodies → Quire's reply payloads (Srcbook shapes, plus cell ids where a file is a cell).

use serde_json::{Value, json};

/// Srcbook's diagnostic shape: `{code, category, text, start, end}`; code 1000 when tsserver has none.
pub fn diagnostics(list: &Value) -> Vec<Value> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            json!({
                "code": d.get("code").cloned().unwrap_or(json!(1000)),
                "category": d["category"],
                "text": d["text"],
                "start": d["start"],
                "end": d["end"],
            })
        })
        .collect()
}

/// The first definition, with `cellId` and `filename` when it lies in a cell (`file` stays absolute).
pub fn definition(body: &Value, cell_of: impl Fn(&str) -> Option<(String, String)>) -> Value {
    let Some(first) = body.as_array().and_then(|a| a.first()) else { return Value::Null };
    let mut out = first.clone();
    if let Some((id, filename)) = first["file"].as_str().and_then(&cell_of) {
        out["cellId"] = json!(id);
        out["filename"] = json!(filename);
    }
    out
}

/// Rename edits grouped by cell: `{canRename, message?, displayName?, edits: [{cellId, filename,
/// edits: [{start, end, newText}]}]}`. Locations outside the notebook's cells (libraries) cannot be
/// edited, so a rename touching one is refused.
pub fn rename(body: &Value, new_name: &str, cell_of: impl Fn(&str) -> Option<(String, String)>) -> Value {
    let info = &body["info"];
    if info["canRename"] != true {
        let message = info["localizedErrorMessage"].as_str().unwrap_or("This symbol cannot be renamed");
        return json!({"canRename": false, "message": message, "edits": []});
    }
    let mut edits = Vec::new();
    for group in body["locs"].as_array().into_iter().flatten() {
        let file = group["file"].as_str().unwrap_or("");
        let Some((id, filename)) = cell_of(file) else {
            let message = format!("The symbol is also defined outside the notebook ({file})");
            return json!({"canRename": false, "message": message, "edits": []});
        };
        let spans: Vec<Value> = group["locs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| {
                let text = format!(
                    "{}{new_name}{}",
                    l["prefixText"].as_str().unwrap_or(""),
                    l["suffixText"].as_str().unwrap_or("")
                );
                json!({"start": l["start"], "end": l["end"], "newText": text})
            })
            .collect();
        edits.push(json!({"cellId": id, "filename": filename, "edits": spans}));
    }
    json!({"canRename": true, "displayName": info["displayName"], "edits": edits})
}

/// How many completion entries get details (signature, documentation, auto-import source) inline.
pub const DETAILED: usize = 20;

/// Entries worth detailing: those matching the word being typed, best-sorted first.
pub fn detail_candidates(body: &Value, prefix: &str) -> Vec<Value> {
    let prefix = prefix.to_lowercase();
    let mut entries: Vec<&Value> = body["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] != "keyword")
        .filter(|e| e["name"].as_str().is_some_and(|n| n.to_lowercase().starts_with(&prefix)))
        .collect();
    entries.sort_by(|a, b| {
        (a["sortText"].as_str(), a["name"].as_str()).cmp(&(b["sortText"].as_str(), b["name"].as_str()))
    });
    entries
        .into_iter()
        .take(DETAILED)
        .map(|e| {
            let mut id = json!({"name": e["name"]});
            if let Some(s) = e.get("source") {
                id["source"] = s.clone();
            }
            if let Some(d) = e.get("data") {
                id["data"] = d.clone();
            }
            id
        })
        .collect()
}

fn parts_text(parts: &Value) -> String {
    match parts {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    }
}

/// Attach `details: {signature, documentation, source?}` to the entries tsserver detailed. `source` is
/// the module an auto-import would import from; an entry is matched by name and by having a source.
pub fn with_details(mut body: Value, details: &Value) -> Value {
    let Some(entries) = body["entries"].as_array_mut() else { return body };
    for d in details.as_array().into_iter().flatten() {
        let source = [&d["sourceDisplay"], &d["source"]].into_iter().map(parts_text).find(|s| !s.is_empty());
        let mut info = json!({"signature": parts_text(&d["displayParts"]), "documentation": parts_text(&d["documentation"])});
        if let Some(s) = &source {
            info["source"] = json!(s);
        }
        if let Some(e) = entries.iter_mut().find(|e| {
            e["name"] == d["name"]
                && e.get("details").is_none()
                && e.get("source").is_some() == source.is_some()
        }) {
            e["details"] = info;
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_code_defaults_to_1000() {
        let d = diagnostics(&json!([{"text": "x", "category": "error", "start": {}, "end": {}}]));
        assert_eq!(d[0]["code"], 1000);
    }

    #[test]
    fn rename_groups_by_cell_and_refuses_outside_files() {
        let body = json!({"info": {"canRename": true, "displayName": "x"}, "locs": [
            {"file": "/nb/src/a.ts", "locs": [{"start": {"line": 1, "offset": 14}, "end": {"line": 1, "offset": 15}}]},
            {"file": "/nb/src/b.ts", "locs": [{"start": {"line": 1, "offset": 10}, "end": {"line": 1, "offset": 11}, "prefixText": "x as "}]},
        ]});
        let cells = |f: &str| f.strip_prefix("/nb/src/").map(|n| (n.replace(".ts", ""), n.to_string()));
        let r = rename(&body, "y", cells);
        assert_eq!(r["canRename"], true);
        assert_eq!(r["edits"][0]["cellId"], "a");
        assert_eq!(r["edits"][1]["edits"][0]["newText"], "x as y");
        let r = rename(&body, "y", |_| None);
        assert_eq!(r["canRename"], false);
    }

    #[test]
    fn details_attach_to_matching_entries() {
        let body = json!({"entries": [
            {"name": "readFile", "kind": "function", "sortText": "11"},
            {"name": "rename", "kind": "function", "sortText": "11"},
            {"name": "return", "kind": "keyword", "sortText": "15"},
            {"name": "x", "kind": "const", "sortText": "11"},
        ]});
        let names: Vec<Value> =
            detail_candidates(&body, "re").into_iter().map(|e| e["name"].clone()).collect();
        assert_eq!(names, [json!("readFile"), json!("rename")]);
        let details = json!([{"name": "rename", "displayParts": [{"text": "function "}, {"text": "rename"}],
            "documentation": [{"text": "Renames."}]}]);
        let out = with_details(body, &details);
        assert_eq!(out["entries"][1]["details"]["signature"], "function rename");
        assert_eq!(out["entries"][1]["details"]["documentation"], "Renames.");
        assert!(out["entries"][0].get("details").is_none());
    }
}
