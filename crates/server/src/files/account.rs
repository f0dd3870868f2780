//! `/auth/*`: FileDB's register/login/refresh/me/logout over a real user store, plus API keys
//! (`/auth/api-keys`: create, list, revoke, rotate). Sign-up is closed unless `--signup open`; the
//! server token (admin) can always create users.

use super::actor::Actor;
use super::common::{FileResult, blocking, permissions, sanitize};
use crate::auth::Credentials;
use crate::error::{ApiError, Code};
use crate::routes::table::{Access, Route, route};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use quire_filestore::users::User;
use serde_json::{Value, json};

fn body_json(body: &axum::body::Bytes) -> FileResult<Value> {
    serde_json::from_slice(body).map_err(|_| ApiError::invalid("The body must be a JSON object"))
}

fn field<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn auth_reply(message: &str, u: &User, access: &str, refresh: &str) -> Value {
    json!({
        "message": message,
        "user": {"userId": u.id, "email": u.email, "role": u.role, "permissions": permissions(&u.role)},
        "accessToken": access,
        "refreshToken": refresh,
        "expiresIn": "24h",
        "tokenType": "Bearer",
    })
}

async fn register(
    State(s): State<AppState>,
    caller: Result<Actor, ApiError>,
    body: axum::body::Bytes,
) -> FileResult<Response> {
    let v = body_json(&body)?;
    let (Some(email), Some(password)) = (field(&v, "email"), field(&v, "password")) else {
        return Err(ApiError::invalid("email and password are required"));
    };
    let role = field(&v, "role").unwrap_or("user").to_string();
    let caller_admin = caller.is_ok_and(|Actor(a)| a.admin);
    if !s.config.signup_open && !caller_admin {
        return Err(ApiError::new(Code::SignupClosed, "Sign-up is closed on this server"));
    }
    if role == "admin" && !caller_admin {
        return Err(ApiError::new(Code::Forbidden, "Only an admin can create admins"));
    }
    let (email, password) = (sanitize(email), password.to_string());
    let st = s.clone();
    let (u, access, refresh) = s
        .passwords
        .run(move || {
            let u = st.users.register(&email, &password, &role)?;
            let (a, r) = st.users.issue(&u)?;
            Ok((u, a, r))
        })
        .await?;
    Ok((StatusCode::CREATED, Json(auth_reply("User registered successfully", &u, &access, &refresh)))
        .into_response())
}

async fn login(State(s): State<AppState>, body: axum::body::Bytes) -> FileResult<Json<Value>> {
    let v = body_json(&body)?;
    let (Some(email), Some(password)) = (field(&v, "email"), field(&v, "password")) else {
        return Err(ApiError::invalid("email and password are required"));
    };
    // Stored emails went through the same sanitising at registration.
    let (email, password) = (sanitize(email), password.to_string());
    let st = s.clone();
    let (u, access, refresh) = s
        .passwords
        .run(move || {
            let u = st.users.login(&email, &password)?;
            let (a, r) = st.users.issue(&u)?;
            Ok((u, a, r))
        })
        .await?;
    Ok(Json(auth_reply("Login successful", &u, &access, &refresh)))
}

async fn refresh(State(s): State<AppState>, body: axum::body::Bytes) -> FileResult<Json<Value>> {
    let v = body_json(&body)?;
    let Some(rt) = field(&v, "refreshToken").map(str::to_string) else {
        return Err(ApiError::invalid("refreshToken is required"));
    };
    let st = s.clone();
    let (_, access, refresh) = blocking(move || st.users.refresh(&rt)).await?;
    // The refresh token rotates: the one just used is spent (presenting it again revokes the login).
    Ok(Json(
        json!({"accessToken": access, "refreshToken": refresh, "tokenType": "Bearer", "expiresIn": "24h"}),
    ))
}

async fn me(State(s): State<AppState>, Actor(who): Actor) -> FileResult<Json<Value>> {
    if who.admin && who.user_id == quire_filestore::users::ADMIN_ID {
        return Ok(Json(
            json!({"user": {"userId": who.user_id, "email": null, "role": "admin", "permissions": permissions("admin")}}),
        ));
    }
    let st = s.clone();
    let id = who.user_id.clone();
    let u = blocking(move || st.users.user(&id)).await?;
    let u = u.ok_or_else(|| ApiError::new(Code::Unauthorized, "Unknown user"))?;
    Ok(Json(
        json!({"user": {"userId": u.id, "email": u.email, "role": u.role, "permissions": permissions(&u.role)}}),
    ))
}

async fn logout(State(s): State<AppState>, creds: Credentials) -> FileResult<Json<Value>> {
    if let Some(t) = creds.bearer {
        let st = s.clone();
        blocking(move || st.users.revoke_token(&t)).await?;
    }
    Ok(Json(json!({"message": "Logout successful"})))
}

/// API keys belong to real users; the server token has no user row to own one.
fn key_owner(Actor(who): Actor) -> FileResult<String> {
    if who.user_id == quire_filestore::users::ADMIN_ID {
        return Err(ApiError::new(Code::Forbidden, "Log in as a user to manage API keys"));
    }
    Ok(who.user_id)
}

async fn create_key(
    State(s): State<AppState>,
    caller: Actor,
    body: axum::body::Bytes,
) -> FileResult<Response> {
    let user = key_owner(caller)?;
    let name = if body.is_empty() { None } else { field(&body_json(&body)?, "name").map(str::to_string) };
    let name = name.unwrap_or_else(|| "default".into());
    let st = s.clone();
    let n = name.clone();
    let (id, key) = blocking(move || st.users.create_api_key(&user, &n)).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id, "name": name, "apiKey": key}))).into_response())
}

async fn list_keys(State(s): State<AppState>, caller: Actor) -> FileResult<Json<Value>> {
    let user = key_owner(caller)?;
    let st = s.clone();
    let keys = blocking(move || st.users.api_keys(&user)).await?;
    let keys: Vec<Value> = keys
        .iter()
        .map(|k| json!({"id": k.id, "name": k.name, "created_at": super::common::iso8601(k.created_at), "revoked": k.revoked}))
        .collect();
    Ok(Json(json!({"keys": keys})))
}

async fn revoke_key(
    State(s): State<AppState>,
    caller: Actor,
    Path(id): Path<String>,
) -> FileResult<Json<Value>> {
    let user = key_owner(caller)?;
    let st = s.clone();
    let kid = id.clone();
    if !blocking(move || st.users.revoke_api_key(&user, &kid)).await? {
        return Err(ApiError::new(Code::NotFound, "API key not found"));
    }
    Ok(Json(json!({"id": id, "revoked": true})))
}

async fn rotate_key(
    State(s): State<AppState>,
    caller: Actor,
    Path(id): Path<String>,
) -> FileResult<Json<Value>> {
    let user = key_owner(caller)?;
    let st = s.clone();
    let (new_id, key) = blocking(move || st.users.rotate_api_key(&user, &id)).await?;
    Ok(Json(json!({"id": new_id, "apiKey": key})))
}

pub fn routes() -> Vec<Route> {
    use Access::{FileCredentials as C, Public};
    use Method as M;
    vec![
        // Optional credentials: the server token (or an admin) may add users when sign-up is closed.
        route(Public, M::POST, "/auth/register", register),
        route(Public, M::POST, "/auth/login", login),
        route(Public, M::POST, "/auth/refresh", refresh),
        route(C, M::GET, "/auth/me", me),
        route(Public, M::POST, "/auth/logout", logout),
        route(C, M::POST, "/auth/api-keys", create_key),
        route(C, M::GET, "/auth/api-keys", list_keys),
        route(C, M::DELETE, "/auth/api-keys/{id}", revoke_key),
        route(C, M::POST, "/auth/api-keys/{id}/rotate", rotate_key),
    ]
}
