//! Secure by default: Host allow-list (DNS rebinding), Origin allow-list on state-changing requests and
//! the WebSocket upgrade, token auth (header, `?token=`, or the session cookie it is exchanged for).

use crate::error::{ApiError, Code};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub const COOKIE: &str = "quire_session";
/// Browser sessions kept at once; the oldest is signed out beyond this.
const MAX_COOKIE_SESSIONS: usize = 1024;

pub use crate::token::{ct_eq, random_hex};

/// Host name without port, lowercased; brackets of an IPv6 literal removed.
fn host_name(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("").to_string();
    }
    host.rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map(|(h, _)| h.to_string())
        .unwrap_or(host)
}

fn is_loopback_name(name: &str) -> bool {
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    name.parse::<std::net::IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
}

fn host_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = host_name(host);
    is_loopback_name(&name) || state.config.allowed_hosts.iter().any(|a| host_name(a) == name)
}

/// Same-origin (scheme://Host) or configured. A missing Origin (scripts, SDKs) passes; `null` does not.
fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    if is_configured_origin(state, origin) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|rest| !host.is_empty() && rest.eq_ignore_ascii_case(host))
}

fn configured_origin(state: &AppState, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let s = origin.to_str().ok()?;
    is_configured_origin(state, s).then(|| origin.clone())
}

/// Listed with `--allow-origin` (or `*`).
fn is_configured_origin(state: &AppState, origin: &str) -> bool {
    state.config.allowed_origins.iter().any(|o| o == "*" || o.trim_end_matches('/') == origin)
}

fn query_token(uri: &Uri) -> Option<String> {
    uri.query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == "token").then(|| percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned())
    })
}

fn header_token(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token")).then_some(token.trim())
}

fn cookie_session(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

fn token_ok(state: &AppState, candidate: &str) -> bool {
    ct_eq(candidate.as_bytes(), state.config.token.as_bytes())
}

fn cookie_ok(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(c) = cookie_session(headers) else { return false };
    let idle = state.config.session_idle.as_millis() as u64;
    // Sessions live in the database (hashed), so `quire admin logout-all` signs browsers out at once.
    state.db.session_check(c, &state.config.token, quire_stdx::now_ms() as u64, idle).unwrap_or(false)
}

fn needs_auth(path: &str) -> bool {
    // `/api/files/...` are FileDB aliases: they check FileDB credentials themselves (files::actor).
    let api = (path == "/api" || path.starts_with("/api/")) && !path.starts_with("/api/files/");
    api || path == "/websocket" || path == "/websocket/" || is_mcp(path)
}

/// MCP's event stream is a GET a browser page could open: Origin is checked on every method there.
fn is_mcp(path: &str) -> bool {
    path == "/mcp" || path == "/mcp/"
}

/// The credentials a request presented, parsed once by `guard` and kept as a request extension
/// (the file routes' `files::Actor` extractor reads it; nothing parses them again).
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    /// The server token is valid (header, `?token=` or session cookie): admin everywhere.
    pub server_token: bool,
    /// A valid server token came as `?token=` (the browser link exchanged for a cookie).
    pub via_query: bool,
    /// `Authorization: Bearer|token <value>` or `?token=` was presented, valid or not.
    pub token_presented: bool,
    pub query_presented: bool,
    /// A `Bearer` value: on the file routes, a FileDB access token when it is not the server token.
    pub bearer: Option<String>,
    /// `X-API-Key` (a FileDB API key).
    pub api_key: Option<String>,
}

impl Credentials {
    pub fn parse(state: &AppState, headers: &HeaderMap, uri: &Uri) -> Self {
        let header = header_token(headers);
        let query = query_token(uri);
        let via_query = query.as_deref().is_some_and(|t| token_ok(state, t));
        // The cookie costs a database read: only when neither token is good.
        let server_token =
            header.is_some_and(|t| token_ok(state, t)) || via_query || cookie_ok(state, headers);
        Credentials {
            server_token,
            via_query,
            token_presented: header.is_some(),
            query_presented: query.is_some(),
            bearer: bearer(headers).map(str::to_string),
            api_key: headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_string),
        }
    }
}

/// The parsed credentials, from the request extension `guard` left (or parsed now without one).
impl axum::extract::FromRequestParts<AppState> for Credentials {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(match parts.extensions.get::<Credentials>() {
            Some(c) => c.clone(),
            None => Credentials::parse(state, &parts.headers, &parts.uri),
        })
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, t) = v.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(t.trim())
}

fn is_ws_upgrade(req: &Request) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// URL without the `token` query parameter (the redirect target after the cookie exchange). Always a
/// path on this origin: `//evil.com/` or `/\evil.com` would be read by browsers as another host.
fn without_token(uri: &Uri) -> String {
    let path = format!("/{}", uri.path().trim_start_matches(['/', '\\']));
    let rest: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("token=") && *kv != "token")
        .collect();
    if rest.is_empty() { path } else { format!("{path}?{}", rest.join("&")) }
}

pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    if !host_allowed(&state, headers) {
        return ApiError::new(
            Code::ForbiddenHost,
            "The Host header is not an allowed host (use --allow-host to add one)",
        )
        .into_response();
    }
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site" && configured_origin(&state, headers).is_none());
    if (!safe || is_ws_upgrade(&req) || is_mcp(req.uri().path()))
        && (!origin_allowed(&state, headers) || cross_site)
    {
        return ApiError::new(
            Code::ForbiddenOrigin,
            "Requests from this Origin are not allowed (use --allow-origin to add one)",
        )
        .into_response();
    }
    let cors = configured_origin(&state, headers);
    if req.method() == Method::OPTIONS && cors.is_some() {
        return with_cors(StatusCode::NO_CONTENT.into_response(), cors, true);
    }

    let path = req.uri().path();
    let creds = Credentials::parse(&state, headers, req.uri());
    let (authed, by_query) = (creds.server_token, creds.via_query);

    // A wrong token counts against the client's failure budget; past it the answer is 429, so guessing
    // is throttled. A right token is never refused (a neighbour on 127.0.0.1 cannot lock the user out).
    // On file routes a Bearer may be a FileDB access token: those routes throttle their own failures.
    let presented =
        (creds.token_presented && !crate::files::common::is_file_route(path)) || creds.query_presented;
    if let Some(ip) = crate::log::client_ip(&req)
        && presented
        && !authed
        && let Err(retry) = state.auth_failure_limit.check(ip, std::time::Instant::now())
    {
        tracing::warn!(%ip, "too many failed token attempts");
        return ApiError::rate_limited(retry).into_response();
    }
    if needs_auth(path) && !authed {
        return ApiError::new(
            Code::Unauthorized,
            "A valid token is required: Authorization: Bearer <token>, or open the link quire serve printed",
        )
        .into_response();
    }
    // Browser link exchange: a page opened with ?token= gets a session cookie and a clean URL.
    if by_query && !needs_auth(path) && req.method() == Method::GET {
        let session = random_hex(32);
        let now = quire_stdx::now_ms() as u64;
        if let Err(e) = state.db.session_create(&session, &state.config.token, now, MAX_COOKIE_SESSIONS) {
            return ApiError::from(e).into_response();
        }
        let secure = if state.config.tls.is_some() { "; Secure" } else { "" };
        let cookie = format!("{COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/{secure}");
        // The browser has followed the launch link: the redirect page holding the token is done with.
        let _ = std::fs::remove_file(state.config.data_dir.open_page());
        let mut resp = (StatusCode::FOUND, [(header::LOCATION, without_token(req.uri()))]).into_response();
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
        return resp;
    }
    let mut req = req;
    req.extensions_mut().insert(creds);
    let resp = next.run(req).await;
    with_cors(resp, cors, false)
}

fn with_cors(mut resp: Response, origin: Option<HeaderValue>, preflight: bool) -> Response {
    let Some(origin) = origin else { return resp };
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    // Browser file clients (tus, downloads) need to read these.
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "location, upload-offset, upload-length, upload-expires, tus-resumable, tus-version, x-file-id, \
             content-range, content-disposition, x-file-size, x-file-extension, x-upload-date",
        ),
    );
    if preflight {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(
                "authorization, content-type, x-request-id, x-api-key, idempotency-key, btl-days, range, \
                 tus-resumable, upload-length, upload-offset, upload-metadata, upload-checksum",
            ),
        );
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert_eq!(host_name("LocalHost:2150"), "localhost");
        assert_eq!(host_name("[::1]:80"), "::1");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
        assert!(is_loopback_name("127.5.0.1"));
        assert!(is_loopback_name("::1"));
        assert!(is_loopback_name("app.localhost"));
        assert!(!is_loopback_name("evil.com"));
        assert!(!is_loopback_name("localhost.evil.com"));
    }

    #[test]
    fn token_stripping() {
        let u: Uri = "/srcbooks/x?token=abc&a=1".parse().unwrap();
        assert_eq!(without_token(&u), "/srcbooks/x?a=1");
        let u: Uri = "/?token=abc".parse().unwrap();
        assert_eq!(without_token(&u), "/");
        let u: Uri = "//evil.com/?token=abc".parse().unwrap();
        assert_eq!(without_token(&u), "/evil.com/", "never another host");
        let u: Uri = "/%5Cevil.com?token=abc".parse().unwrap();
        assert_eq!(without_token(&u), "/%5Cevil.com");
    }

    #[test]
    fn constant_time_eq() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
