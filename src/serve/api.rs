//! The JSON API: one route per command model, answering with the bytes its `--json` prints.
//!
//! The routes are a table ([`table`]): the router is built from it and so is the OpenAPI
//! document, so neither can name a route the other lacks. Query parameters are checked by
//! name: an unknown one is a 400 naming it, so a typo never silently widens a query.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{MethodFilter, MethodRouter, on};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{ApiError, AppState, json_response, read_body};
use crate::alerts::AlertsError;
use crate::project::{LookupError, NamedVersionError, Project};
use crate::query::{
    CompareQuery, PerformanceQuery, RunsError, RunsQuery, TrendsQuery, Window, parse_when,
};
use crate::record::{BatchResult, IdTaken, RateError, Recorder, RejectedRun};
use crate::render::RenderFormat;
use crate::version::Version;

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
    /// The `--json` model it answers with: a name of
    /// [`command_schemas`](crate::schema::command_schemas), or `runs-page`, `run`, `metrics`,
    /// `openapi`.
    pub model: &'static str,
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

const VERSION: Param = Param {
    name: "version",
    description: "Only this version (default: every version, or the latest where one is shown)",
    kind: "string",
};
const LABEL: Param = Param {
    name: "label",
    description: "The version a label of labels.toml names (also NAME:LABEL in the path)",
    kind: "string",
};
const DAYS: Param = Param {
    name: "days",
    description: "Only runs from the last N days",
    kind: "integer",
};
const SINCE: Param = Param {
    name: "since",
    description: "Only runs at or after this date or RFC 3339 time",
    kind: "string",
};
const UNTIL: Param = Param {
    name: "until",
    description: "Only runs before this date or RFC 3339 time",
    kind: "string",
};
const FORMAT: Param = Param {
    name: "format",
    description: "text (default; the `render --json` model), ollama or openai (the request body)",
    kind: "string",
};
const VAR: Param = Param {
    name: "var.NAME",
    description: "Variable NAME's value (GET; a POST takes a JSON object of variables)",
    kind: "string",
};

/// Every route of the API (and `/metrics`, from [`super::metrics`]).
pub fn table() -> Vec<ApiRoute> {
    let mut routes = vec![
        ApiRoute {
            method: Method::GET,
            path: "/api/prompts",
            summary: "Every prompt with its latest version and run figures (`list --json`)",
            model: "list",
            query: &[],
            body: None,
            handler: |m| on(m, list_prompts),
        },
        ApiRoute {
            method: Method::GET,
            path: "/api/prompts/{name}",
            summary: "One version: attributes, text, run figures, last output (`show --json`)",
            model: "show",
            query: &[VERSION, LABEL],
            body: None,
            handler: |m| on(m, show_prompt),
        },
        ApiRoute {
            method: Method::GET,
            path: "/api/prompts/{name}/performance",
            summary: "Metrics per version (`performance NAME --json`)",
            model: "performance",
            query: &[VERSION, LABEL, DAYS, SINCE, UNTIL],
            body: None,
            handler: |m| on(m, performance),
        },
        ApiRoute {
            method: Method::GET,
            path: "/api/prompts/{name}/trends",
            summary: "Metrics per day or week (`trends --json`)",
            model: "trends",
            query: &[
                VERSION,
                LABEL,
                Param {
                    name: "days",
                    description: "How many days back to look (default 30)",
                    kind: "integer",
                },
                Param {
                    name: "bucket",
                    description: "day (default) or week",
                    kind: "string",
                },
            ],
            body: None,
            handler: |m| on(m, trends),
        },
        ApiRoute {
            method: Method::GET,
            path: "/api/prompts/{name}/compare",
            summary: "Versions side by side; with a and b, b tested against a (`compare --json`)",
            model: "compare",
            query: &[
                Param {
                    name: "a",
                    description: "Baseline version or label (with b)",
                    kind: "string",
                },
                Param {
                    name: "b",
                    description: "Candidate version or label (with a)",
                    kind: "string",
                },
                DAYS,
                SINCE,
                UNTIL,
            ],
            body: None,
            handler: |m| on(m, compare),
        },
        ApiRoute {
            method: Method::GET,
            path: "/api/prompts/{name}/render",
            summary: "The version with its variables filled in, or a request body (`render --json`)",
            model: "render",
            query: &[VERSION, LABEL, FORMAT, VAR],
            body: None,
            handler: |m| on(m, render_get),
        },
        ApiRoute {
            method: Method::POST,
            path: "/api/prompts/{name}/render",
            summary: "As GET, with the variables as a JSON object in the body (`render --json`)",
            model: "render",
            query: &[VERSION, LABEL, FORMAT],
            body: Some("A JSON object of variable name → value"),
            handler: |m| on(m, render_post),
        },
        ApiRoute {
            method: Method::GET,
            path: "/api/runs",
            summary: "Runs newest first, a page at a time, each as `export --json` gives it",
            model: "runs-page",
            query: &[
                Param {
                    name: "prompt",
                    description: "Only this prompt",
                    kind: "string",
                },
                Param {
                    name: "version",
                    description: "Only this version (with prompt)",
                    kind: "string",
                },
                SINCE,
                UNTIL,
                Param {
                    name: "success",
                    description: "Only runs that succeeded (true) or failed (false)",
                    kind: "boolean",
                },
                Param {
                    name: "q",
                    description: "Only runs whose output contains this text, ignoring case",
                    kind: "string",
                },
                Param {
                    name: "limit",
                    description: "Runs per page, 1 to 1000 (default 100)",
                    kind: "integer",
                },
                Param {
                    name: "cursor",
                    description: "The next_cursor of the page before",
                    kind: "string",
                },
                Param {
                    name: "eval",
                    description: "Only the runs of this eval batch (its id)",
                    kind: "string",
                },
            ],
            body: None,
            handler: |m| on(m, list_runs),
        },
        ApiRoute {
            method: Method::POST,
            path: "/api/runs",
            summary: "Record runs, validated as `record --stdin`: all of them, or none and a 400",
            model: "record",
            query: &[],
            body: Some(
                "One run object (answer: the `record --json` model) or an array of them (answer: the `record --stdin --json` model)",
            ),
            handler: |m| on(m, post_runs),
        },
        ApiRoute {
            method: Method::GET,
            path: "/api/runs/{id}",
            summary: "One run, as `export --json` gives it (latest rating applied)",
            model: "run",
            query: &[],
            body: None,
            handler: |m| on(m, get_run),
        },
        ApiRoute {
            method: Method::POST,
            path: "/api/runs/{id}/rating",
            summary: "Rate a run (`rate --json`); the id may be a unique prefix of 4 or more characters",
            model: "rate",
            query: &[],
            body: Some(r#"{"quality": 1 to 10, "feedback": "text" (optional; "" clears it)}"#),
            handler: |m| on(m, post_rating),
        },
        ApiRoute {
            method: Method::GET,
            path: "/api/alerts",
            summary: "The alert rules of ptrack.toml evaluated now (`alerts --json`)",
            model: "alerts",
            query: &[],
            body: None,
            handler: |m| on(m, alerts),
        },
        ApiRoute {
            method: Method::GET,
            path: "/api/openapi.json",
            summary: "This document",
            model: "openapi",
            query: &[],
            body: None,
            handler: |m| on(m, openapi),
        },
    ];
    routes.extend(super::metrics::table());
    routes
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

/// A request's query parameters, each taken by name; [`Params::finish`] rejects the rest.
struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// The query string parsed; a parameter given twice is an error.
    fn parse(raw: Option<String>) -> Result<Params, ApiError> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded_pairs(raw.as_deref().unwrap_or_default())?;
        let mut values = BTreeMap::new();
        for (k, v) in pairs {
            if values.contains_key(&k) {
                return Err(ApiError::bad_request(format!("`{k}` is given twice")).with_field(k));
            }
            values.insert(k, v);
        }
        Ok(Params { values })
    }

    fn text(&mut self, name: &str) -> Option<String> {
        self.values.remove(name)
    }

    fn parsed<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ApiError> {
        match self.values.remove(name) {
            None => Ok(None),
            Some(v) => parse(&v)
                .map(Some)
                .map_err(|e| ApiError::bad_request(format!("{name}: {e}")).with_field(name)),
        }
    }

    fn version(&mut self) -> Result<Option<Version>, ApiError> {
        self.parsed("version", |s| {
            s.parse::<Version>().map_err(|e| e.to_string())
        })
    }

    fn days(&mut self) -> Result<Option<u32>, ApiError> {
        self.parsed("days", |s| {
            s.parse::<u32>()
                .map_err(|_| format!("expected a whole number of days, got {s:?}"))
        })
    }

    fn when(&mut self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.parsed(name, parse_when)
    }

    /// The parameters whose names start with `prefix`, without it.
    fn prefixed(&mut self, prefix: &str) -> Vec<(String, String)> {
        let keys: Vec<String> = self
            .values
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        keys.into_iter()
            .filter_map(|k| {
                let v = self.values.remove(&k)?;
                Some((k[prefix.len()..].to_string(), v))
            })
            .collect()
    }

    /// An error for the first parameter no one took.
    fn finish(self) -> Result<(), ApiError> {
        match self.values.into_keys().next() {
            None => Ok(()),
            Some(k) => {
                Err(ApiError::bad_request(format!("unknown query parameter `{k}`")).with_field(k))
            }
        }
    }
}

/// `a=1&b=x%20y` as pairs, percent-decoded (`+` is a space).
fn serde_urlencoded_pairs(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    let decode = |s: &str| -> Result<String, ApiError> {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = bytes
                        .get(i + 1..i + 3)
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                        .ok_or_else(|| {
                            ApiError::bad_request(format!("bad percent-escape in {s:?}"))
                        })?;
                    out.push(hex);
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out)
            .map_err(|_| ApiError::bad_request(format!("{s:?} is not UTF-8 once decoded")))
    };
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

/// The one parameter of a route's path, percent-decoded; a JSON 400 when it cannot be
/// (invalid UTF-8), like every other error.
struct Segment(String);

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(s)) => Ok(Segment(s)),
            Err(e) => Err(ApiError::bad_request(e.body_text())),
        }
    }
}

/// The status a lookup error answers with.
fn lookup_error(e: LookupError) -> ApiError {
    let status = match &e {
        LookupError::InvalidName { .. } => StatusCode::BAD_REQUEST,
        LookupError::NoPrompt { .. }
        | LookupError::NoVersion { .. }
        | LookupError::NoLabel { .. }
        | LookupError::NoValidVersion { .. } => StatusCode::NOT_FOUND,
        // The project's own files are wrong: nothing the request can change.
        LookupError::InvalidVersion { .. }
        | LookupError::LabelTarget { .. }
        | LookupError::InvalidLabels { .. } => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let field = match &e {
        LookupError::InvalidName { .. } | LookupError::NoPrompt { .. } => "name",
        LookupError::NoLabel { .. } => "label",
        _ => "version",
    };
    ApiError::new(status, e.to_string()).with_field(field)
}

impl From<LookupError> for ApiError {
    fn from(e: LookupError) -> Self {
        lookup_error(e)
    }
}

impl From<NamedVersionError> for ApiError {
    fn from(e: NamedVersionError) -> Self {
        match e {
            NamedVersionError::Twice { .. } => {
                ApiError::bad_request(format!("{e}; drop ?version and ?label")).with_field("label")
            }
            NamedVersionError::Spec(m) => ApiError::bad_request(m).with_field("name"),
            NamedVersionError::Label(m) => {
                ApiError::bad_request(format!("label: {m}")).with_field("label")
            }
            NamedVersionError::Lookup(l) => lookup_error(l),
        }
    }
}

/// The prompt and version the path's `NAME` (or `NAME:LABEL`) and `?version`/`?label` name.
fn named(
    project: &Project,
    name: &str,
    version: Option<&Version>,
    label: Option<&str>,
) -> Result<(String, Option<Version>), ApiError> {
    let registry = project.load_prompts();
    let (name, version) = project.named_version(&registry, name, version, label)?;
    crate::project::check_name(&name)?;
    Ok((name, version))
}

async fn list_prompts(State(state): State<AppState>, q: RawQuery) -> Result<Response, ApiError> {
    Params::parse(q.0)?.finish()?;
    let rows = state.with_project(|p| Ok(p.list().rows)).await?;
    Ok(json_response(&rows))
}

async fn show_prompt(
    State(state): State<AppState>,
    Segment(name): Segment,
    q: RawQuery,
) -> Result<Response, ApiError> {
    let mut params = Params::parse(q.0)?;
    let version = params.version()?;
    let label = params.text("label");
    params.finish()?;
    let model = state
        .with_project(move |p| {
            let (name, version) = named(p, &name, version.as_ref(), label.as_deref())?;
            Ok(p.show(&name, version.as_ref())?)
        })
        .await?;
    Ok(json_response(&model))
}

async fn performance(
    State(state): State<AppState>,
    Segment(name): Segment,
    q: RawQuery,
) -> Result<Response, ApiError> {
    let mut params = Params::parse(q.0)?;
    let version = params.version()?;
    let label = params.text("label");
    let window = Window {
        days: params.days()?,
        since: params.when("since")?,
        until: params.when("until")?,
    };
    params.finish()?;
    let (since, until) = window.resolve(state.now());
    let model = state
        .with_project(move |p| {
            let (name, version) = named(p, &name, version.as_ref(), label.as_deref())?;
            Ok(p.performance(&PerformanceQuery {
                prompt: Some(name),
                version,
                since,
                until,
                use_cache: true,
            })?)
        })
        .await?;
    Ok(json_response(&model))
}

async fn trends(
    State(state): State<AppState>,
    Segment(name): Segment,
    q: RawQuery,
) -> Result<Response, ApiError> {
    let mut params = Params::parse(q.0)?;
    let version = params.version()?;
    let label = params.text("label");
    let days = params.days()?.unwrap_or(30);
    let bucket = params.parsed("bucket", |s| match s {
        "day" => Ok(crate::metrics::Bucket::Day),
        "week" => Ok(crate::metrics::Bucket::Week),
        other => Err(format!("expected day or week, got {other:?}")),
    })?;
    params.finish()?;
    let now = state.now();
    let model = state
        .with_project(move |p| {
            let (name, version) = named(p, &name, version.as_ref(), label.as_deref())?;
            Ok(p.trends(&TrendsQuery {
                prompt: name,
                version,
                days,
                bucket: bucket.unwrap_or(crate::metrics::Bucket::Day),
                now,
            })?)
        })
        .await?;
    Ok(json_response(&model))
}

async fn compare(
    State(state): State<AppState>,
    Segment(name): Segment,
    q: RawQuery,
) -> Result<Response, ApiError> {
    use crate::labels::VersionSpec;
    let mut params = Params::parse(q.0)?;
    let spec = |s: &str| s.parse::<VersionSpec>().map_err(|e| e.to_string());
    let a = params.parsed("a", spec)?;
    let b = params.parsed("b", spec)?;
    let window = Window {
        days: params.days()?,
        since: params.when("since")?,
        until: params.when("until")?,
    };
    params.finish()?;
    let (since, until) = window.resolve(state.now());
    let model = state
        .with_project(move |p| {
            crate::project::check_name(&name)?;
            let versions = match (a, b) {
                (Some(a), Some(b)) => {
                    let registry = p.load_prompts();
                    Some((
                        p.version_of_spec(&registry, &name, &a)?,
                        p.version_of_spec(&registry, &name, &b)?,
                    ))
                }
                (None, None) => None,
                (_, None) => {
                    return Err(ApiError::bad_request("a needs b, the candidate").with_field("b"));
                }
                (None, _) => {
                    return Err(ApiError::bad_request("b needs a, the baseline").with_field("a"));
                }
            };
            Ok(p.compare(&CompareQuery {
                prompt: name,
                versions,
                since,
                until,
            })?)
        })
        .await?;
    Ok(json_response(&model))
}

/// The rendering `?version`, `?label` and `?format` ask for, with `vars`.
async fn render(
    state: AppState,
    name: String,
    mut params: Params,
    vars: Map<String, Value>,
) -> Result<Response, ApiError> {
    let version = params.version()?;
    let label = params.text("label");
    let format = params.parsed("format", |s| match s {
        "text" => Ok(RenderFormat::Text),
        "ollama" => Ok(RenderFormat::Ollama),
        "openai" => Ok(RenderFormat::Openai),
        other => Err(format!("expected text, ollama or openai, got {other:?}")),
    })?;
    params.finish()?;
    let out = state
        .with_project(move |p| {
            let (name, version) = named(p, &name, version.as_ref(), label.as_deref())?;
            let registry = p.load_prompts();
            let v = registry.resolve(&name, version.as_ref())?;
            p.render_output(v, &vars, format.unwrap_or(RenderFormat::Text))
                .map_err(|e| ApiError::bad_request(e.to_string()).with_field("variables"))
        })
        .await?;
    Ok(json_response(&out))
}

async fn render_get(
    State(state): State<AppState>,
    Segment(name): Segment,
    q: RawQuery,
) -> Result<Response, ApiError> {
    let mut params = Params::parse(q.0)?;
    let vars = params
        .prefixed("var.")
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    render(state, name, params, vars).await
}

async fn render_post(
    State(state): State<AppState>,
    Segment(name): Segment,
    q: RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let params = Params::parse(q.0)?;
    let bytes = read_body(&state, body).await?;
    let vars = if bytes.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                return Err(ApiError::bad_request(
                    "the body must be a JSON object of variable name → value",
                ));
            }
            Err(e) => return Err(ApiError::bad_request(format!("invalid JSON: {e}"))),
        }
    };
    render(state, name, params, vars).await
}

async fn list_runs(State(state): State<AppState>, q: RawQuery) -> Result<Response, ApiError> {
    let mut params = Params::parse(q.0)?;
    let prompt = params.text("prompt");
    let version = params.version()?;
    let since = params.when("since")?;
    let until = params.when("until")?;
    let success = params.parsed("success", |s| match s {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("expected true or false, got {other:?}")),
    })?;
    let text = params.text("q").filter(|t| !t.is_empty());
    let limit = params.parsed("limit", |s| {
        s.parse::<usize>()
            .map_err(|_| format!("expected a whole number, got {s:?}"))
    })?;
    let cursor = params.text("cursor");
    let eval = params.text("eval").filter(|e| !e.is_empty());
    params.finish()?;
    let query = RunsQuery {
        eval,
        prompt,
        version,
        since,
        until,
        success,
        text,
        limit: limit.unwrap_or(RunsQuery::default().limit),
        cursor,
    };
    let page = state
        .with_project(move |p| {
            p.runs_page(&query).map_err(|e| match e {
                RunsError::Lookup(l) => {
                    let mut err = lookup_error(l);
                    if err.field.as_deref() == Some("name") {
                        err.field = Some("prompt".into());
                    }
                    err
                }
                RunsError::Cursor(_) => ApiError::bad_request(e.to_string()).with_field("cursor"),
                RunsError::Limit(_) => ApiError::bad_request(e.to_string()).with_field("limit"),
            })
        })
        .await?;
    Ok(json_response(&page))
}

async fn get_run(
    State(state): State<AppState>,
    Segment(id): Segment,
) -> Result<Response, ApiError> {
    let run = state
        .with_project(move |p| {
            p.run_by_id(&id)
                .ok_or_else(|| ApiError::not_found(format!("no run with id {id}")).with_field("id"))
        })
        .await?;
    Ok(json_response(&run))
}

/// The runs of a body: one object, or an array of objects.
fn run_objects(bytes: &[u8]) -> Result<(Vec<Map<String, Value>>, bool), ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        let msg = e.to_string();
        ApiError::bad_request(format!("invalid JSON: {msg}"))
    })?;
    match value {
        Value::Object(m) => Ok((vec![m], false)),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                match item {
                    Value::Object(m) => out.push(m),
                    _ => {
                        return Err(ApiError::bad_request(format!(
                            "run {i}: expected a JSON object"
                        )));
                    }
                }
            }
            if out.is_empty() {
                return Err(ApiError::bad_request("the array holds no runs"));
            }
            Ok((out, true))
        }
        _ => Err(ApiError::bad_request(
            "expected a JSON object (one run) or an array of them",
        )),
    }
}

async fn post_runs(State(state): State<AppState>, body: Body) -> Result<Response, ApiError> {
    // The whole body first: a client that stops halfway gets nothing written.
    let bytes = read_body(&state, body).await?;
    let (objects, batch) = run_objects(&bytes)?;
    let now = state.now();
    let (status, response) = state
        .write_project(move |p| {
            let registry = p.load_prompts();
            let experiments = p.experiments();
            let mut recorder = Recorder::new(p);
            let mut ids = Vec::with_capacity(objects.len());
            let at = |i: usize| {
                if batch {
                    format!("run {i}: ")
                } else {
                    String::new()
                }
            };
            for (i, mut obj) in objects.into_iter().enumerate() {
                crate::experiment::tag_run(&experiments, &mut obj, None)
                    .map_err(|m| ApiError::bad_request(format!("{}{m}", at(i))))?;
                let id = recorder
                    .add_json(&registry, obj, None, None, now)
                    .map_err(|e| rejected(e, &at(i)))?;
                ids.push(id);
            }
            let single = ids
                .first()
                .filter(|_| !batch)
                .and_then(|id| recorder.recorded(id));
            recorder
                .write()
                .map_err(|e| ApiError::internal(format!("the runs were not written: {e}")))?;
            Ok((
                StatusCode::CREATED,
                match single {
                    Some(r) => json_response(&r),
                    None => json_response(&BatchResult {
                        recorded: ids,
                        rejected: 0,
                    }),
                },
            ))
        })
        .await?;
    let mut response = response;
    *response.status_mut() = status;
    Ok(response)
}

/// A rejected run as a 400 (a 404 for a prompt or version that does not exist), its message
/// what `record --stdin` prints for the line.
fn rejected(e: RejectedRun, at: &str) -> ApiError {
    match e {
        RejectedRun::Lookup(l) => {
            let mut err = lookup_error(l);
            err.message = format!("{at}{}", err.message);
            if err.field.as_deref() == Some("name") {
                err.field = Some("prompt".into());
            }
            err
        }
        RejectedRun::Invalid(m) => ApiError::bad_request(format!("{at}{m}")),
        RejectedRun::DuplicateId {
            id,
            by: IdTaken::Batch { index },
        } => ApiError::bad_request(format!("{at}id \"{id}\" was already given by run {index}"))
            .with_field("id"),
        e @ RejectedRun::DuplicateId { .. } => {
            ApiError::bad_request(format!("{at}{e}")).with_field("id")
        }
    }
}

async fn post_rating(
    State(state): State<AppState>,
    Segment(id): Segment,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(&state, body).await?;
    let mut obj = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => m,
        Ok(_) => {
            return Err(ApiError::bad_request(
                r#"expected a JSON object such as {"quality": 8, "feedback": "clear"}"#,
            ));
        }
        Err(e) => return Err(ApiError::bad_request(format!("invalid JSON: {e}"))),
    };
    let quality = match obj.remove("quality") {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "quality must be a number from 1 to 10, got {other}"
            ))
            .with_field("quality"));
        }
        None => {
            return Err(
                ApiError::bad_request("missing `quality`, a number from 1 to 10")
                    .with_field("quality"),
            );
        }
    };
    let feedback = match obj.remove("feedback") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            return Err(
                ApiError::bad_request(format!("feedback must be text, got {other}"))
                    .with_field("feedback"),
            );
        }
    };
    if let Some(k) = obj.keys().next() {
        return Err(ApiError::bad_request(format!(
            "unknown field `{k}`; a rating has quality and feedback"
        ))
        .with_field(k.clone()));
    }
    let now = state.now();
    let event = state
        .write_project(move |p| {
            p.rate(&id, quality, feedback, now).map_err(|e| match e {
                RateError::NoRun(_) => ApiError::not_found(e.to_string()).with_field("id"),
                RateError::Ambiguous { .. } => {
                    ApiError::bad_request(e.to_string()).with_field("id")
                }
                RateError::Invalid(_) => ApiError::bad_request(e.to_string()).with_field("quality"),
                RateError::Write(_) => ApiError::internal(e.to_string()),
            })
        })
        .await?;
    let mut r = json_response(&event);
    *r.status_mut() = StatusCode::CREATED;
    Ok(r)
}

/// An alerts error as an answer: the rules in ptrack.toml are wrong.
pub(crate) fn alerts_error(e: AlertsError) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
}

async fn alerts(State(state): State<AppState>, q: RawQuery) -> Result<Response, ApiError> {
    Params::parse(q.0)?.finish()?;
    let now = state.now();
    let report = state
        .with_project(move |p| p.evaluate_alerts(now).map_err(alerts_error))
        .await?;
    Ok(json_response(&report))
}

async fn openapi() -> Response {
    json_response(&super::openapi::document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode_and_unknown_parameters_are_named() {
        let mut p = Params::parse(Some("a=x%20y+z&var.who=%C3%A9&b=".into())).expect("parse");
        assert_eq!(p.text("a").as_deref(), Some("x y z"));
        assert_eq!(
            p.prefixed("var."),
            vec![("who".to_string(), "é".to_string())]
        );
        let err = p.finish().expect_err("b is unknown");
        assert_eq!(err.message, "unknown query parameter `b`");
        assert!(Params::parse(Some("a=1&a=2".into())).is_err());
        assert!(Params::parse(Some("a=%zz".into())).is_err());
        assert!(Params::parse(Some("a=%ff".into())).is_err());
    }
}
