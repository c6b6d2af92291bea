//! The JSON API: one route per command model, answering with the bytes its `--json` prints.
//!
//! The routes are a table ([`table`]): the router is built from it and so is the OpenAPI
//! document, so neither can name a route the other lacks.

use axum::Router;
use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::routing::{MethodFilter, MethodRouter, on};

use super::{ApiError, AppState, json_response};

/// A query parameter of a route.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Its name.
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// Its JSON type (`string`, `integer`, `boolean`).
    pub kind: &'static str,
}

/// One route of the API.
#[derive(Clone)]
pub struct ApiRoute {
    /// The method.
    pub method: Method,
    /// The path, with `{name}` for a path parameter.
    pub path: &'static str,
    /// What it answers.
    pub summary: &'static str,
    /// The command it mirrors (its `--json` schema is the answer's), or None.
    pub model: Option<&'static str>,
    /// Query parameters.
    pub query: &'static [Param],
    /// What the request body holds, for routes that take one.
    pub body: Option<&'static str>,
    /// The handler, for the route's method.
    pub handler: fn(MethodFilter) -> MethodRouter<AppState>,
}

impl std::fmt::Debug for ApiRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// Every route of the API.
pub fn table() -> Vec<ApiRoute> {
    vec![ApiRoute {
        method: Method::GET,
        path: "/api/prompts",
        summary: "Every prompt with its latest version and run figures (`list --json`)",
        model: Some("list"),
        query: &[],
        body: None,
        handler: |m| on(m, list_prompts),
    }]
}

/// The router of [`table`].
pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for r in table() {
        router = router.route(r.path, (r.handler)(method_filter(&r.method)));
    }
    router
}

/// The filter of one of the methods the API uses.
pub fn method_filter(m: &Method) -> MethodFilter {
    match *m {
        Method::POST => MethodFilter::POST,
        Method::PUT => MethodFilter::PUT,
        Method::DELETE => MethodFilter::DELETE,
        _ => MethodFilter::GET,
    }
}

async fn list_prompts(State(state): State<AppState>) -> Result<Response, ApiError> {
    let rows = state.with_project(|p| Ok(p.list().rows)).await?;
    Ok(json_response(&rows))
}
