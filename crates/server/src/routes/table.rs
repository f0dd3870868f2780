//! Routes as data: each is a method, a path, the credentials it needs and its handler. The routers
//! are built from these lists and `route_list` exports the same lists, so the test that every route
//! checks credentials cannot miss a route added later.

use crate::state::AppState;
use axum::Router;
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::routing::{MethodFilter, MethodRouter, on};
use tower_http::timeout::TimeoutLayer;

/// What a route needs from the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health checks, the UI shell, sign-in, tus `OPTIONS`).
    Public,
    /// The server token (`auth::guard`, or the handler for `/metrics`): 401 `unauthorized`.
    Token,
    /// FileDB credentials or the server token (`files::Actor`): 401 `AUTHENTICATION_ERROR`.
    FileCredentials,
}

pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub handler: MethodRouter<AppState>,
    /// Exempt from `REQUEST_TIMEOUT`: the WebSocket and uploads stream for as long as they need.
    pub untimed: bool,
}

/// How long a request may take to produce its response head (a hung handler gets a 503).
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

impl Route {
    pub fn untimed(mut self) -> Self {
        self.untimed = true;
        self
    }
}

/// One method of one path.
pub fn route<H, T>(access: Access, method: Method, path: &'static str, handler: H) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("routes use standard methods");
    Route { method, path, access, handler: on(filter, handler), untimed: false }
}

/// A router holding `routes` (several methods of one path merge into one method router), each timed
/// by tower-http's `TimeoutLayer` unless it is `untimed`.
pub fn build(routes: Vec<Route>) -> Router<AppState> {
    let timeout = TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, REQUEST_TIMEOUT);
    routes.into_iter().fold(Router::new(), |router, r| {
        let handler = if r.untimed { r.handler } else { r.handler.layer(timeout) };
        router.route(r.path, handler)
    })
}

/// A route as the tests see it: full path (with `{param}` placeholders), method, access.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: Method,
    pub path: String,
    pub access: Access,
}

pub fn info(prefix: &str, routes: Vec<Route>) -> impl Iterator<Item = RouteInfo> + use<> {
    let prefix = prefix.to_string();
    routes.into_iter().map(move |r| RouteInfo {
        method: r.method,
        path: format!("{prefix}{}", r.path),
        access: r.access,
    })
}
