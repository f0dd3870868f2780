//! `Actor`: who is calling a file route, as an extractor. The server token (any form `auth::guard`
//! accepted) is the admin; otherwise a FileDB access token (`Bearer`) or API key (`X-API-Key`) names a
//! user, whose own request limit applies. No credentials: 401.

use super::common::blocking;
use crate::auth::Credentials;
use crate::error::{ApiError, Code};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use serde_json::json;

/// The caller of a file route (`Actor(who): Actor` in a handler; `Result<Actor, ApiError>` when
/// credentials are optional).
#[derive(Debug, Clone)]
pub struct Actor(pub quire_filestore::Actor);

pub fn admin_actor() -> quire_filestore::Actor {
    quire_filestore::Actor { user_id: quire_filestore::users::ADMIN_ID.into(), admin: true }
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, ApiError> {
        check_headers(&parts.headers)?;
        let Ok(creds) = Credentials::from_request_parts(parts, s).await;
        resolve(s, creds).await.map(Actor)
    }
}

/// FileDB's header rule: `X-User-Id` and `X-API-Key` are `[A-Za-z0-9_-]+` when present.
fn check_headers(headers: &HeaderMap) -> Result<(), ApiError> {
    for name in ["x-user-id", "x-api-key"] {
        if let Some(v) = headers.get(name) {
            let ok = !v.is_empty()
                && v.as_bytes().iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-');
            if !ok {
                let why = format!("{name} must match ^[A-Za-z0-9_-]+$");
                return Err(ApiError::invalid("Validation failed")
                    .with_context(json!({"field": name, "message": why})));
            }
        }
    }
    Ok(())
}

async fn resolve(s: &AppState, creds: Credentials) -> Result<quire_filestore::Actor, ApiError> {
    if creds.server_token {
        return Ok(admin_actor());
    }
    let Credentials { bearer, api_key, .. } = creds;
    let st = s.clone();
    let user = blocking(move || {
        if let Some(t) = bearer
            && let Some(u) = st.users.by_access_token(&t)?
        {
            return Ok(Some(u));
        }
        match api_key {
            Some(k) => st.users.by_api_key(&k),
            None => Ok(None),
        }
    })
    .await?;
    let Some(u) = user else {
        return Err(ApiError::new(
            Code::Unauthorized,
            "Authentication required: Authorization: Bearer <access token or server token>, or X-API-Key",
        ));
    };
    if let Some(limit) = &s.user_limit
        && let Err(wait) = limit.check(u.id.clone(), std::time::Instant::now())
    {
        let secs = crate::ratelimit::retry_secs(wait);
        let message = format!("Too many requests for this account; retry in {secs} s");
        return Err(ApiError::too_many(Code::UserRateLimited, message, wait));
    }
    Ok(quire_filestore::Actor { admin: u.role == "admin", user_id: u.id })
}
