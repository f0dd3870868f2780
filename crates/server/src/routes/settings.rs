//! `GET/POST /api/settings` (known keys only; keys never returned in clear) and secrets CRUD
//! (values never returned in clear; renames keep notebook links).

use crate::error::{ApiError, ApiResult, Code};
use crate::extract::JsonBody;
use crate::routes::notebooks::blocking;
use crate::state::AppState;
use crate::wire;
use axum::Json;
use axum::extract::{Path, State};
use quire_notebook::{Secret, check_secret_name};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// What a set key or secret looks like on the wire: non-empty (the stock client enables AI on a truthy key).
pub const MASK: &str = "********";

/// The AI keys are the settings the database seals at rest.
const KEY_SETTINGS: &[&str] = quire_notebook::SENSITIVE_SETTINGS;
const TEXT_SETTINGS: &[&str] = &["aiProvider", "aiModel", "aiBaseUrl", "subscriptionEmail"];
const AI_PROVIDERS: &[&str] = &["openai", "anthropic", "Xai", "Gemini", "openrouter", "custom"];

fn config(s: &AppState) -> ApiResult<Value> {
    let stored = s.db.settings()?;
    let mut out = Map::new();
    out.insert("baseDir".into(), json!(s.store.root()));
    out.insert(
        "defaultLanguage".into(),
        stored.get("defaultLanguage").cloned().unwrap_or(json!("typescript")),
    );
    for k in KEY_SETTINGS {
        let set = stored.get(*k).and_then(Value::as_str).is_some_and(|v| !v.is_empty());
        out.insert((*k).into(), if set { json!(MASK) } else { Value::Null });
    }
    out.insert("enabledAnalytics".into(), stored.get("enabledAnalytics").cloned().unwrap_or(json!(false)));
    let check_js = quire_service::CHECK_JS_SETTING;
    out.insert(check_js.into(), stored.get(check_js).cloned().unwrap_or(json!(false)));
    out.insert("installId".into(), stored.get("installId").cloned().unwrap_or(Value::Null));
    out.insert("aiProvider".into(), stored.get("aiProvider").cloned().unwrap_or(json!("openai")));
    for k in &TEXT_SETTINGS[1..] {
        out.insert((*k).into(), stored.get(*k).cloned().unwrap_or(Value::Null));
    }
    let format = quire_assist::WIRE_FORMAT_SETTING;
    out.insert(format.into(), stored.get(format).cloned().unwrap_or(json!("chat_completions")));
    let resolved = quire_assist::RESOLVED_SETTING;
    out.insert(resolved.into(), stored.get(resolved).cloned().unwrap_or(Value::Null));
    Ok(Value::Object(out))
}

pub async fn get(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(wire::ok(blocking(move || config(&s)).await?))
}

fn invalid(key: &str, why: &str) -> ApiError {
    ApiError::new(Code::InvalidSetting, format!("Setting '{key}': {why}"))
}

/// Validate a partial config into a patch: unknown and read-only keys are refused, types checked.
fn patch_from(body: Map<String, Value>) -> ApiResult<BTreeMap<String, Value>> {
    let mut patch = BTreeMap::new();
    for (k, v) in body {
        let k = k.as_str();
        let ok = match k {
            "defaultLanguage" => matches!(v.as_str(), Some("javascript" | "typescript")),
            "enabledAnalytics" => v.is_boolean(),
            quire_service::CHECK_JS_SETTING => v.is_boolean(),
            "aiProvider" => v.as_str().is_some_and(|p| AI_PROVIDERS.contains(&p)),
            quire_assist::WIRE_FORMAT_SETTING => {
                v.as_str().is_some_and(|f| quire_assist::WIRE_FORMATS.contains(&f))
            }
            _ if KEY_SETTINGS.contains(&k) => {
                // The stock client may post back the mask it was shown: that means "unchanged".
                if v.as_str() == Some(MASK) {
                    continue;
                }
                v.is_null() || v.is_string()
            }
            _ if TEXT_SETTINGS.contains(&k) => v.is_null() || v.is_string(),
            "baseDir" | "installId" | quire_assist::RESOLVED_SETTING => {
                return Err(invalid(k, "is read-only"));
            }
            _ => return Err(ApiError::new(Code::UnknownSetting, format!("Unknown setting '{k}'"))),
        };
        if !ok {
            return Err(invalid(k, "has an invalid value"));
        }
        let v = if v.as_str() == Some("") { Value::Null } else { v };
        patch.insert(k.to_string(), v);
    }
    Ok(patch)
}

pub async fn update(
    State(s): State<AppState>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> ApiResult<Json<Value>> {
    let patch = patch_from(body)?;
    let result = blocking(move || {
        s.db.update_settings(&patch)?;
        config(&s)
    })
    .await?;
    Ok(wire::ok(vec![result]))
}

fn secret_json(sec: &Secret) -> Value {
    json!({"id": sec.id, "name": sec.name, "value": MASK, "associatedWithSessionIds": sec.notebook_ids})
}

/// Rewrite env.d.ts of every notebook linked to any of these secrets (names may have changed).
fn refresh_env_types(s: &AppState, notebook_ids: &[String]) -> ApiResult<()> {
    Ok(s.notebooks.refresh_env_types(notebook_ids)?)
}

pub async fn list_secrets(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    let list = blocking(move || Ok(s.db.secrets()?)).await?;
    Ok(wire::ok(list.iter().map(secret_json).collect::<Vec<_>>()))
}

#[derive(Deserialize)]
pub struct SecretBody {
    name: String,
    value: String,
}

pub async fn upsert_secret(
    State(s): State<AppState>,
    JsonBody(b): JsonBody<SecretBody>,
) -> ApiResult<Json<Value>> {
    check_secret_name(&b.name)?;
    let sec = blocking(move || Ok(s.db.upsert_secret(&b.name, &b.value)?)).await?;
    Ok(wire::ok(json!({"id": sec.id, "name": sec.name, "value": MASK})))
}

pub async fn rename_secret(
    State(s): State<AppState>,
    Path(old): Path<String>,
    JsonBody(b): JsonBody<SecretBody>,
) -> ApiResult<Json<Value>> {
    check_secret_name(&old)?;
    check_secret_name(&b.name)?;
    let sec = blocking(move || {
        let sec = s.db.rename_secret(&old, &b.name, &b.value)?;
        refresh_env_types(&s, &sec.notebook_ids)?;
        Ok(sec)
    })
    .await?;
    Ok(wire::ok(json!({"id": sec.id, "name": sec.name, "value": MASK})))
}

pub async fn delete_secret(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    check_secret_name(&name)?;
    blocking(move || {
        let linked = s.db.secrets()?.into_iter().find(|x| x.name == name).map(|x| x.notebook_ids);
        let Some(linked) = linked else {
            return Err(quire_notebook::NotebookError::SecretNotFound(name).into());
        };
        s.db.delete_secret(&name)?;
        refresh_env_types(&s, &linked)
    })
    .await?;
    Ok(Json(json!({"error": false})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_rules() {
        let m = |v: Value| v.as_object().unwrap().clone();
        assert!(patch_from(m(json!({"aiModel": "x", "openaiKey": "sk"}))).is_ok());
        assert_eq!(patch_from(m(json!({"bogus": 1}))).unwrap_err().code.as_str(), "unknown_setting");
        assert_eq!(patch_from(m(json!({"baseDir": "/"}))).unwrap_err().code.as_str(), "invalid_setting");
        assert_eq!(
            patch_from(m(json!({"defaultLanguage": "python"}))).unwrap_err().code.as_str(),
            "invalid_setting"
        );
        assert!(patch_from(m(json!({"openaiKey": MASK}))).unwrap().is_empty());
    }
}
