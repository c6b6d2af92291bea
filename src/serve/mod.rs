//! `ptrack serve` (feature `serve`): the project over HTTP, read live.
//!
//! Every request opens the project afresh, so a new version file, new runs or a `git checkout`
//! show on the next request. The JSON API ([`api`]) answers with the same models, and the same
//! bytes, as the commands' `--json`; `/metrics` ([`metrics`]) renders the same aggregates as
//! Prometheus text; `/api/openapi.json` ([`openapi`]) documents every route. Library calls
//! block, so they run on tokio's blocking pool.
//!
//! [`router`] joins the route modules: each gives a `Router<AppState>`, so a module of pages is
//! one more `.merge(…)`. Around all of them: the token check ([`ServeConfig::token`]) and the
//! security headers of every response. Slow clients are cut off by a time limit on reading the
//! headers (hyper's) and the body ([`read_body`]).

pub mod api;
pub mod metrics;
pub mod notify;
pub mod openapi;
pub mod pages;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::project::{Project, ProjectError};

/// The Content-Security-Policy of every response: scripts, styles and images only from the
/// server itself, never inline, no plugins, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The largest request body accepted by default, in bytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The project's root folder.
    pub root: PathBuf,
    /// The token requests must bring as `Authorization: Bearer …` (writes always, reads with
    /// `token_for_reads`). Required when `addr` is not a loopback address.
    pub token: Option<String>,
    /// Require the token for reads as well.
    pub token_for_reads: bool,
    /// The largest request body, in bytes; a larger one gets 413.
    pub max_body_bytes: usize,
    /// How long a client may take to send a request's headers (the connection is closed past
    /// it) and its body (408 past it).
    pub request_timeout: Duration,
    /// How often the alert rules are evaluated (they are after every post as well).
    pub alert_interval: Duration,
    /// A fixed "now" (for reproducible tests); None: the clock.
    pub now: Option<DateTime<Utc>>,
}

impl ServeConfig {
    /// A configuration for the project at `root` with the defaults.
    pub fn new(root: PathBuf) -> ServeConfig {
        ServeConfig {
            root,
            token: None,
            token_for_reads: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_timeout: Duration::from_secs(30),
            alert_interval: Duration::from_secs(30),
            now: None,
        }
    }

    /// Whether the server may listen on `addr` with this configuration: off the loopback
    /// interface anyone who can reach the port could write runs, so a token is required.
    pub fn check_addr(&self, addr: SocketAddr) -> Result<(), ServeError> {
        if !addr.ip().is_loopback() && self.token.as_deref().is_none_or(str::is_empty) {
            return Err(ServeError::NoToken { addr });
        }
        Ok(())
    }
}

/// Why the server cannot start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A non-loopback address without a token.
    #[error(
        "{addr} is not a loopback address, and no token is set: anyone who can reach it could write runs"
    )]
    NoToken {
        /// The address.
        addr: SocketAddr,
    },
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The project cannot be opened.
    #[error(transparent)]
    Project(#[from] ProjectError),
}

/// What every handler shares: the configuration, the lock that orders writes, and the alert
/// evaluator's trigger.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: ServeConfig,
    /// Held while a request's runs are checked and appended: ids checked against the logs
    /// stay unique until the lines are written.
    writes: tokio::sync::Mutex<()>,
    /// Wakes the alert evaluator after runs are posted.
    evaluate: tokio::sync::Notify,
}

impl AppState {
    /// The state of a server with `config`.
    pub fn new(config: ServeConfig) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                config,
                writes: tokio::sync::Mutex::new(()),
                evaluate: tokio::sync::Notify::new(),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ServeConfig {
        &self.inner.config
    }

    /// "Now": the pinned time, else the clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.config.now.unwrap_or_else(Utc::now)
    }

    /// Run `f` with the project as its files are now, on the blocking pool.
    pub async fn with_project<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Project) -> Result<T, ApiError> + Send + 'static,
    {
        let root = self.inner.config.root.clone();
        tokio::task::spawn_blocking(move || {
            let project = Project::open(&root).map_err(|e| ApiError::internal(e.to_string()))?;
            f(&project)
        })
        .await
        .map_err(|e| ApiError::internal(format!("the request's work stopped: {e}")))?
    }

    /// [`AppState::with_project`] holding the write lock, then waking the alert evaluator.
    pub async fn write_project<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Project) -> Result<T, ApiError> + Send + 'static,
    {
        let result = {
            let _guard = self.inner.writes.lock().await;
            self.with_project(f).await
        };
        if result.is_ok() {
            self.inner.evaluate.notify_one();
        }
        result
    }

    /// Resolves when runs were posted since the last call.
    pub(crate) async fn posted(&self) {
        self.inner.evaluate.notified().await
    }
}

/// An error answer: `{"error": "…", "field": …}` with its status.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What is wrong.
    pub message: String,
    /// The field or parameter at fault, when one is.
    pub field: Option<String>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    field: Option<&'a str>,
}

impl ApiError {
    /// An error with `status`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            field: None,
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: nothing there.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 500: the server failed.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// The same error naming the field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: &self.message,
            field: self.field.as_deref(),
        };
        let mut r = json_response(&body);
        *r.status_mut() = self.status;
        r
    }
}

/// `value` as `--json` prints it, with a JSON content type.
pub fn json_response<T: Serialize + ?Sized>(value: &T) -> Response {
    match crate::json::to_pretty_vec(value) {
        Ok(bytes) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            Bytes::from(bytes),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot write the answer as JSON: {e}"),
        )
            .into_response(),
    }
}

/// The whole server: every route module, the token check, the timeout and the headers.
///
/// A module of HTML pages joins with one more `.merge(pages::routes())` here: its handlers take
/// `State<AppState>` and build their pages from the same library calls as [`api`].
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(pages::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} does not take {method}", uri.path()),
    )
}

/// Whether `method` changes the project (and so always needs the token).
fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether `given` equals `expected`, in time that does not depend on where they differ.
fn token_matches(given: &[u8], expected: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    // `ct_eq` on slices of unequal length is false at once; that tells only the length.
    given.ct_eq(expected).into()
}

async fn authorize(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let config = state.config();
    let Some(expected) = config.token.as_deref().filter(|t| !t.is_empty()) else {
        return next.run(req).await;
    };
    if (!is_write(req.method()) && !config.token_for_reads) || pages::is_form_path(req.uri().path())
    {
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
    match given {
        Some(t) if token_matches(t, expected.as_bytes()) => next.run(req).await,
        Some(_) => unauthorized("the token does not match"),
        None => unauthorized("this request needs `Authorization: Bearer <token>`"),
    }
}

fn unauthorized(message: &str) -> Response {
    let mut r = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"ptrack\""),
    );
    r
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// The body of `req`, whole, within the configured size and time: 413 past the size, 408 past
/// the time, before anything is done with it (a client that stops halfway gets nothing
/// written). Only the reading is timed: once a request is read and checked, its work is never
/// cut off halfway, so an answer never says "timed out" for runs that were written.
pub async fn read_body(state: &AppState, body: Body) -> Result<Bytes, ApiError> {
    use http_body_util::BodyExt;
    let max = state.config().max_body_bytes;
    let limit = state.config().request_timeout;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than the limit of {max} bytes (--max-body-bytes)"),
        )
    };
    let read = http_body_util::Limited::new(body, max).collect();
    match tokio::time::timeout(limit, read).await {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body took longer than {} s to arrive (--request-timeout)",
                limit.as_secs_f64()
            ),
        )),
        Ok(Ok(c)) => Ok(c.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(e)) => Err(ApiError::bad_request(format!(
            "cannot read the request body: {e}"
        ))),
    }
}

/// A bound listener: [`serve`] runs the server on it.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, ServeError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

/// Serve `state`'s project on `listener` until `shutdown` resolves, then finish the requests
/// under way (for up to 10 s) and return. The alert evaluator and the webhook sender run beside
/// it.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let app = router(state.clone());
    let background = notify::spawn(state.clone());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let header_timeout = state.config().request_timeout;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    // Out of file descriptors, a connection reset before it was accepted: wait
                    // a moment rather than spin, and go on.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let service = hyper_util::service::TowerToHyperService::new(app.clone());
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Some(header_timeout))
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    // A client that goes away mid-request is no error of the server's.
                    let _ = conn.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    background.abort();
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(token_matches(b"s3cret", b"s3cret"));
        assert!(!token_matches(b"s3cre", b"s3cret"));
        assert!(!token_matches(b"s3cret!", b"s3cret"));
        assert!(!token_matches(b"S3cret", b"s3cret"));
        assert!(!token_matches(b"", b"s3cret"));
    }

    #[test]
    fn off_loopback_a_token_is_required() {
        let mut c = ServeConfig::new(PathBuf::from("."));
        let local: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        let v6: SocketAddr = "[::1]:7878".parse().expect("addr");
        let any: SocketAddr = "0.0.0.0:7878".parse().expect("addr");
        assert!(c.check_addr(local).is_ok());
        assert!(c.check_addr(v6).is_ok());
        assert!(matches!(c.check_addr(any), Err(ServeError::NoToken { .. })));
        c.token = Some(String::new());
        assert!(c.check_addr(any).is_err());
        c.token = Some("t".into());
        assert!(c.check_addr(any).is_ok());
    }
}
