//! The dashboard: HTML pages over the same library calls as the API and the commands.
//!
//! Pages are rendered on the server with minijinja, whose `.html` templates escape every value
//! (a run whose output is `<script>` shows as text); charts are SVG drawn by [`crate::chart`].
//! Nothing is fetched from elsewhere and no script runs: the stylesheet is the one asset, and
//! the Content-Security-Policy of every response forbids inline script and style.
//!
//! The one form, rating a run, posts to `/runs/{id}/rate`. It is refused when the browser says
//! it comes from another site (`Sec-Fetch-Site`, `Origin`), so a page elsewhere cannot rate
//! runs through a browser that can reach the server; when the server has a token, the form asks
//! for it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{ApiError, AppState, read_body};
use crate::chart::{PALETTE, Series, svg_lines, svg_sparkline};
use crate::metrics::{Bucket, TrendRow};
use crate::project::Project;
use crate::query::{
    CompareQuery, HistoryQuery, PerformanceQuery, RunsQuery, TrendsQuery, parse_when,
};
use crate::{Version, is_valid_name};
use minijinja::Value as V;

/// The ranges the trends picker offers, in days.
const RANGES: [u32; 3] = [7, 30, 90];
/// Runs per page of the runs table.
const RUNS_PER_PAGE: usize = 50;
/// Eval batches shown on a prompt's page.
const EVALS_SHOWN: usize = 5;
/// Commits shown on a prompt's page.
const HISTORY_SHOWN: usize = 20;

/// The routes of the pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(prompts_page))
        .route("/prompts/{name}", get(prompt_page))
        .route("/prompts/{name}/diff", get(diff_page))
        .route("/runs", get(runs_page))
        .route("/runs/{id}", get(run_page))
        .route("/runs/{id}/rate", post(rate_form))
        .route("/assets/style.css", get(stylesheet))
}

/// Whether `path` is the rating form's, which checks its own token (a browser form cannot send
/// an `Authorization` header).
pub fn is_form_path(path: &str) -> bool {
    path.strip_prefix("/runs/")
        .and_then(|r| r.strip_suffix("/rate"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

fn templates() -> &'static minijinja::Environment<'static> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        for (name, text) in [
            ("base.html", include_str!("html/base.html")),
            ("prompts.html", include_str!("html/prompts.html")),
            ("prompt.html", include_str!("html/prompt.html")),
            ("diff.html", include_str!("html/diff.html")),
            ("runs.html", include_str!("html/runs.html")),
            ("run.html", include_str!("html/run.html")),
            ("error.html", include_str!("html/error.html")),
        ] {
            // The templates are part of the binary; a test renders every one.
            if let Err(e) = env.add_template(name, text) {
                panic!("template {name} does not parse: {e}");
            }
        }
        env
    })
}

/// What every page shows around its own part.
#[derive(Serialize)]
struct Frame {
    root: String,
    version: &'static str,
    firing: Vec<String>,
}

fn frame(project: &Project, now: DateTime<Utc>) -> Frame {
    let firing = match project.evaluate_alerts(now) {
        Ok(report) => report
            .rules
            .iter()
            .filter(|r| r.state == crate::alerts::AlertState::Firing)
            .map(|r| {
                format!(
                    "{} ({}: {} over {}, now {})",
                    r.name,
                    r.prompt,
                    r.condition,
                    r.window_text,
                    r.value.map_or("–".to_string(), |v| format!("{v:.3}"))
                )
            })
            .collect(),
        Err(e) => vec![format!("the alert rules cannot be evaluated: {e}")],
    };
    Frame {
        root: project.root().display().to_string(),
        version: env!("CARGO_PKG_VERSION"),
        firing,
    }
}

/// A page: `template` with `frame` and `page` merged.
fn render(template: &str, frame: Frame, page: impl Serialize) -> Result<Response, ApiError> {
    let t = templates()
        .get_template(template)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let ctx = minijinja::context! { ..minijinja::Value::from(minijinja::value::Serde(&frame)), ..minijinja::Value::from(minijinja::value::Serde(&page)) };
    let html = t
        .render(ctx)
        .map_err(|e| ApiError::internal(format!("cannot render {template}: {e}")))?;
    Ok(html_response(StatusCode::OK, html))
}

fn html_response(status: StatusCode, html: String) -> Response {
    let mut r = (status, html).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// An error as a page (the API's errors are JSON; a browser gets HTML).
fn error_page(e: ApiError) -> Response {
    let html = templates()
        .get_template("error.html")
        .and_then(|t| {
            t.render(minijinja::context! {
                root => "",
                version => env!("CARGO_PKG_VERSION"),
                status => e.status.to_string(),
                message => e.message,
            })
        })
        .unwrap_or_else(|_| "error".to_string());
    html_response(e.status, html)
}

/// Run a page's work on the project; an error becomes an error page.
async fn page<F>(state: &AppState, f: F) -> Response
where
    F: FnOnce(&Project, DateTime<Utc>) -> Result<Response, ApiError> + Send + 'static,
{
    let now = state.now();
    match state.with_project(move |p| f(p, now)).await {
        Ok(r) => r,
        Err(e) => error_page(e),
    }
}

/// The query string as a map; a parameter given twice keeps its last value.
fn query_map(raw: Option<String>) -> BTreeMap<String, String> {
    let raw = raw.unwrap_or_default();
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// `application/x-www-form-urlencoded` decoding (`+` is a space; a bad escape stays as is).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encode a query value.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                out.push(b as char)
            }
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn pct(v: Option<f64>) -> String {
    v.map_or("–".into(), |x| format!("{:.1}%", x * 100.0))
}

fn ms(v: Option<f64>) -> String {
    v.map_or("–".into(), |x| {
        if x >= 10_000.0 {
            format!("{:.1} s", x / 1000.0)
        } else {
            format!("{x:.0} ms")
        }
    })
}

fn num(v: Option<f64>, places: usize) -> String {
    v.map_or("–".into(), |x| format!("{x:.places$}"))
}

fn when(t: Option<DateTime<Utc>>) -> String {
    t.map_or("–".into(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

// ---------------------------------------------------------------------------------------------
// Prompts
// ---------------------------------------------------------------------------------------------

#[derive(Serialize)]
struct Column {
    key: &'static str,
    label: &'static str,
    numeric: bool,
}

const COLUMNS: [Column; 7] = [
    Column {
        key: "name",
        label: "prompt",
        numeric: false,
    },
    Column {
        key: "latest",
        label: "latest",
        numeric: false,
    },
    Column {
        key: "versions",
        label: "versions",
        numeric: true,
    },
    Column {
        key: "model",
        label: "model",
        numeric: false,
    },
    Column {
        key: "runs",
        label: "runs",
        numeric: true,
    },
    Column {
        key: "success",
        label: "success",
        numeric: true,
    },
    Column {
        key: "last_run",
        label: "last run",
        numeric: false,
    },
];

#[derive(Serialize)]
struct PromptRow {
    name: String,
    goal: Option<String>,
    latest: String,
    latest_invalid: bool,
    versions: usize,
    model: String,
    runs: usize,
    success: String,
    last_run: String,
    spark: String,
}

async fn prompts_page(State(state): State<AppState>, q: RawQuery) -> Response {
    let q = query_map(q.0);
    let sort = q
        .get("sort")
        .filter(|s| COLUMNS.iter().any(|c| c.key == s.as_str()))
        .cloned()
        .unwrap_or_else(|| "name".to_string());
    let desc = q.get("desc").is_some_and(|v| v == "1");
    page(&state, move |p, now| {
        let listing = p.list();
        let mut rows = listing.rows;
        rows.sort_by(|a, b| {
            let o = match sort.as_str() {
                "latest" => a
                    .latest
                    .parse::<Version>()
                    .ok()
                    .cmp(&b.latest.parse::<Version>().ok()),
                "versions" => a.versions.cmp(&b.versions),
                "model" => a.model.cmp(&b.model),
                "runs" => a.runs.cmp(&b.runs),
                "success" => a
                    .success_rate
                    .partial_cmp(&b.success_rate)
                    .unwrap_or(std::cmp::Ordering::Equal),
                "last_run" => a.last_run.cmp(&b.last_run),
                _ => std::cmp::Ordering::Equal,
            };
            let o = o.then_with(|| a.name.cmp(&b.name));
            if desc { o.reverse() } else { o }
        });
        let rows: Vec<PromptRow> = rows
            .into_iter()
            .map(|r| {
                let daily = daily_runs(p, &r.name, now);
                let total: f64 = daily.iter().flatten().sum();
                PromptRow {
                    spark: svg_sparkline(&daily, &format!("{total} runs in the last 30 days")),
                    name: r.name,
                    goal: r.goal,
                    latest: r.latest,
                    latest_invalid: r.latest_invalid,
                    versions: r.versions,
                    model: r.model.unwrap_or_default(),
                    runs: r.runs,
                    success: pct(r.success_rate),
                    last_run: when(r.last_run),
                }
            })
            .collect();
        let problems: Vec<String> = listing
            .prompt_errors
            .iter()
            .chain(&listing.run_errors)
            .filter(|d| d.is_error())
            .take(20)
            .map(|d| d.to_string())
            .collect();
        render(
            "prompts.html",
            frame(p, now),
            minijinja::context! { rows => V::from(minijinja::value::Serde(&rows)), columns => V::from(minijinja::value::Serde(COLUMNS)), sort, desc, problems },
        )
    })
    .await
}

/// Runs per day over the last 30 days (None for a day without runs).
fn daily_runs(p: &Project, name: &str, now: DateTime<Utc>) -> Vec<Option<f64>> {
    let query = TrendsQuery {
        prompt: name.to_string(),
        version: None,
        days: 30,
        bucket: Bucket::Day,
        now,
    };
    match p.trends(&query) {
        Ok(t) => t
            .trends
            .overall
            .iter()
            .map(|r| (r.runs > 0).then_some(r.runs as f64))
            .collect(),
        Err(_) => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// One prompt
// ---------------------------------------------------------------------------------------------

#[derive(Serialize)]
struct VersionView {
    version: String,
    labels: Vec<String>,
    runs: usize,
    success: String,
    p50: String,
    p95: String,
    quality: String,
    cost: String,
    last_run: String,
}

#[derive(Serialize)]
struct FlipView {
    case: String,
    sample: u32,
    direction: &'static str,
    class: &'static str,
    failed: String,
}

#[derive(Serialize)]
struct EvalView {
    ts: String,
    base: String,
    head: String,
    pairs: usize,
    base_pass: String,
    head_pass: String,
    verdict: String,
    flips: Vec<FlipView>,
}

#[derive(Serialize)]
struct HistoryView {
    short: String,
    date: String,
    author: String,
    subject: String,
    files: Vec<String>,
}

fn checked_name(name: &str) -> Result<(), ApiError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "`{name}` is not a prompt name (lower-case letters, digits, `_` and `-`)"
        )))
    }
}

async fn prompt_page(
    State(state): State<AppState>,
    Path(name): Path<String>,
    q: RawQuery,
) -> Response {
    let q = query_map(q.0);
    let days = q
        .get("days")
        .and_then(|d| d.parse::<u32>().ok())
        .filter(|d| (1..=3660).contains(d))
        .unwrap_or(30);
    page(&state, move |p, now| {
        checked_name(&name)?;
        let registry = p.load_prompts();
        let prompt = registry.find(&name)?;
        let goal = prompt.latest().and_then(|v| v.meta.goal.clone());
        let all_versions: Vec<String> = prompt
            .all_versions()
            .iter()
            .map(|v| v.to_string())
            .collect();
        let labels = p.labels();
        let perf = p.performance(&PerformanceQuery {
            prompt: Some(name.clone()),
            version: None,
            since: None,
            until: None,
            use_cache: true,
        })?;
        let mut versions: Vec<VersionView> = perf
            .prompts
            .iter()
            .flat_map(|pm| &pm.versions)
            .map(|v| {
                let m = &v.metrics;
                VersionView {
                    version: v.version.to_string(),
                    labels: labels
                        .of(&name)
                        .filter(|(_, l)| l.version == v.version)
                        .map(|(n, _)| n.to_string())
                        .collect(),
                    runs: m.runs,
                    success: pct(m.success_rate),
                    p50: ms(m.time_ms.as_ref().map(|t| t.p50)),
                    p95: ms(m.time_ms.as_ref().map(|t| t.p95)),
                    quality: num(m.quality_mean, 2),
                    cost: m.cost_per_run.map_or("–".into(), |c| format!("{c:.5}")),
                    last_run: when(m.last_run),
                }
            })
            .collect();
        // Versions without runs are versions too.
        for v in &all_versions {
            if !versions.iter().any(|x| &x.version == v) {
                versions.push(VersionView {
                    version: v.clone(),
                    labels: Vec::new(),
                    runs: 0,
                    success: "–".into(),
                    p50: "–".into(),
                    p95: "–".into(),
                    quality: "–".into(),
                    cost: "–".into(),
                    last_run: "–".into(),
                });
            }
        }
        versions.sort_by(|a, b| {
            a.version
                .parse::<Version>()
                .ok()
                .cmp(&b.version.parse::<Version>().ok())
        });
        let trends = p.trends(&TrendsQuery {
            prompt: name.clone(),
            version: None,
            days,
            bucket: Bucket::Day,
            now,
        })?;
        let charts = trend_charts(&trends.trends.overall, &trends.trends.by_version);
        let comparisons: Vec<String> = p
            .compare(&CompareQuery {
                prompt: name.clone(),
                ..CompareQuery::default()
            })
            .map(|c| {
                c.comparisons
                    .iter()
                    .map(|v| {
                        format!(
                            "{} → {}: {}",
                            v.comparison.a.version, v.comparison.b.version, v.verdict
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut batches: Vec<_> = p
            .eval_batches()
            .into_iter()
            .filter(|b| b.prompt == name)
            .collect();
        batches.reverse();
        let evals: Vec<EvalView> = batches
            .into_iter()
            .take(EVALS_SHOWN)
            .map(|b| EvalView {
                ts: b.ts.format("%Y-%m-%d %H:%M").to_string(),
                base: format!("{} ({})", b.base.version, b.base.at),
                head: format!("{} ({})", b.head.version, b.head.at),
                pairs: b.pairs,
                base_pass: pct(b.base_figures.pass_rate),
                head_pass: pct(b.head_figures.pass_rate),
                verdict: b.verdict.clone(),
                flips: b
                    .flips
                    .iter()
                    .map(|f| {
                        let regression =
                            f.direction == crate::eval::paired::FlipDirection::Regression;
                        FlipView {
                            case: f.case.clone(),
                            sample: f.sample,
                            direction: if regression {
                                "passed → fails"
                            } else {
                                "failed → passes"
                            },
                            class: if regression { "bad" } else { "good" },
                            failed: if regression {
                                f.head_failed.join("; ")
                            } else {
                                f.base_failed.join("; ")
                            },
                        }
                    })
                    .collect(),
            })
            .collect();
        let (history, history_note) = history_rows(p, &name);
        let diff_b = all_versions.last().cloned().unwrap_or_default();
        let diff_a = all_versions
            .len()
            .checked_sub(2)
            .and_then(|i| all_versions.get(i))
            .cloned()
            .unwrap_or_else(|| diff_b.clone());
        render(
            "prompt.html",
            frame(p, now),
            minijinja::context! {
                name, goal, versions => V::from(minijinja::value::Serde(&versions)), charts, comparisons,
                evals => V::from(minijinja::value::Serde(&evals)), history => V::from(minijinja::value::Serde(&history)), history_note,
                all_versions, diff_a, diff_b, days, ranges => RANGES,
                from => trends.from.to_string(), to => trends.to.to_string(),
            },
        )
    })
    .await
}

/// The trends charts: time (p50, p95), success rate, runs, quality and cost over all
/// versions, and p95 and success rate per version.
fn trend_charts(overall: &[TrendRow], by_version: &[TrendRow]) -> Vec<String> {
    let first = overall
        .first()
        .map(|r| r.start.to_string())
        .unwrap_or_default();
    let last = overall
        .last()
        .map(|r| r.start.to_string())
        .unwrap_or_default();
    let col = |f: &dyn Fn(&TrendRow) -> Option<f64>| overall.iter().map(f).collect::<Vec<_>>();
    let series = |name: &str, i: usize, values: Vec<Option<f64>>| Series {
        name: name.to_string(),
        color: PALETTE[i % PALETTE.len()],
        values,
    };
    let mut versions: Vec<&Version> = by_version
        .iter()
        .filter_map(|r| r.version.as_ref())
        .collect();
    versions.sort();
    versions.dedup();
    let per_version = |f: &dyn Fn(&TrendRow) -> Option<f64>| -> Vec<Series> {
        versions
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let values = overall
                    .iter()
                    .map(|o| {
                        by_version
                            .iter()
                            .find(|r| r.start == o.start && r.version.as_ref() == Some(*v))
                            .and_then(f)
                    })
                    .collect();
                series(&format!("v{v}"), i, values)
            })
            .collect()
    };
    vec![
        svg_lines(
            "Time",
            &first,
            &last,
            "ms",
            (None, None),
            &[
                series("p50", 0, col(&|r| r.p50_ms)),
                series("p95", 3, col(&|r| r.p95_ms)),
            ],
        ),
        svg_lines(
            "Success rate",
            &first,
            &last,
            "",
            (Some(0.0), Some(1.0)),
            &[series("success rate", 2, col(&|r| r.success_rate))],
        ),
        svg_lines(
            "Runs",
            &first,
            &last,
            "",
            (None, None),
            &[series("runs", 0, col(&|r| Some(r.runs as f64)))],
        ),
        svg_lines(
            "Quality (mean of rated runs)",
            &first,
            &last,
            "",
            (Some(1.0), Some(10.0)),
            &[series("quality", 4, col(&|r| r.quality_mean))],
        ),
        svg_lines(
            "Cost per run (at [prices] in ptrack.toml)",
            &first,
            &last,
            "",
            (None, None),
            &[series("cost per run", 1, col(&|r| r.cost_per_run))],
        ),
        svg_lines(
            "p95 time by version",
            &first,
            &last,
            "ms",
            (None, None),
            &per_version(&|r| r.p95_ms),
        ),
        svg_lines(
            "Success rate by version",
            &first,
            &last,
            "",
            (Some(0.0), Some(1.0)),
            &per_version(&|r| r.success_rate),
        ),
    ]
}

fn history_rows(p: &Project, name: &str) -> (Vec<HistoryView>, String) {
    let query = HistoryQuery {
        prompt: name.to_string(),
        version: None,
        limit: Some(HISTORY_SHOWN),
    };
    match p.history(&query) {
        Ok(h) if h.no_commits => (Vec::new(), "No commit touches this prompt yet.".into()),
        Ok(h) => (
            h.rows
                .iter()
                .map(|r| HistoryView {
                    short: r.entry.short.clone(),
                    date: r.entry.time.format("%Y-%m-%d").to_string(),
                    author: r.entry.author.clone(),
                    subject: r.entry.subject.clone(),
                    files: r
                        .entry
                        .changes
                        .iter()
                        .zip(r.metrics.iter().map(Some).chain(std::iter::repeat(None)))
                        .map(|(c, m)| {
                            let figures = match m.and_then(Option::as_ref) {
                                Some(m) if m.runs > 0 => format!(
                                    ": {} runs, {} success, p95 {}",
                                    m.runs,
                                    pct(m.success_rate),
                                    ms(m.time_ms.as_ref().map(|t| t.p95))
                                ),
                                _ => String::new(),
                            };
                            format!("{:?} {}{figures}", c.status, c.path.display())
                        })
                        .collect(),
                })
                .collect(),
            String::new(),
        ),
        Err(e) => (Vec::new(), format!("No history: {e}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Diff
// ---------------------------------------------------------------------------------------------

#[derive(Serialize)]
struct LineView {
    class: &'static str,
    text: String,
}

#[derive(Serialize)]
struct SplitRow {
    left: String,
    left_class: &'static str,
    right: String,
    right_class: &'static str,
}

#[derive(Serialize)]
struct ParamView {
    key: String,
    old: String,
    new: String,
}

async fn diff_page(
    State(state): State<AppState>,
    Path(name): Path<String>,
    q: RawQuery,
) -> Response {
    let q = query_map(q.0);
    page(&state, move |p, now| {
        checked_name(&name)?;
        let registry = p.load_prompts();
        let prompt = registry.find(&name)?;
        let version = |key: &str| -> Result<Option<Version>, ApiError> {
            match q.get(key).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) => s
                    .parse::<Version>()
                    .map(Some)
                    .map_err(|e| ApiError::bad_request(format!("{key}: {e}"))),
            }
        };
        let all = prompt.all_versions();
        let b = match version("b")? {
            Some(v) => v,
            None => all
                .last()
                .cloned()
                .ok_or_else(|| ApiError::not_found(format!("{name} has no versions")))?,
        };
        let a = match version("a")? {
            Some(v) => v,
            None => all
                .iter()
                .rev()
                .find(|v| **v < b)
                .cloned()
                .unwrap_or_else(|| b.clone()),
        };
        let va = prompt.resolve(Some(&a))?;
        let vb = prompt.resolve(Some(&b))?;
        let d = crate::diff::diff_versions(va, a.as_str(), vb, b.as_str());
        let params: Vec<ParamView> = d
            .params
            .iter()
            .map(|c| ParamView {
                key: c.key.clone(),
                old: crate::diff::show(c.old.as_ref()),
                new: crate::diff::show(c.new.as_ref()),
            })
            .collect();
        let split = q.get("view").is_some_and(|v| v == "split");
        let text_diff = crate::diff::line_diff(&va.text, &vb.text);
        let mut lines = Vec::new();
        let mut rows = Vec::new();
        for op in text_diff.ops() {
            for change in text_diff.iter_changes(op) {
                let text = change.value().trim_end_matches('\n').to_string();
                let (class, sign) = match change.tag() {
                    similar::ChangeTag::Delete => ("del", '-'),
                    similar::ChangeTag::Insert => ("add", '+'),
                    similar::ChangeTag::Equal => ("same", ' '),
                };
                lines.push(LineView {
                    class,
                    text: format!("{sign}{text}"),
                });
                match change.tag() {
                    similar::ChangeTag::Equal => rows.push(SplitRow {
                        left: text.clone(),
                        left_class: "same",
                        right: text,
                        right_class: "same",
                    }),
                    similar::ChangeTag::Delete => rows.push(SplitRow {
                        left: text,
                        left_class: "del",
                        right: String::new(),
                        right_class: "same",
                    }),
                    similar::ChangeTag::Insert => {
                        // Pair an insertion with the deletion just before it, line by line.
                        if let Some(r) = rows
                            .iter_mut()
                            .rev()
                            .take_while(|r| r.left_class == "del")
                            .filter(|r| r.right.is_empty() && r.right_class == "same")
                            .last()
                        {
                            r.right = text;
                            r.right_class = "add";
                        } else {
                            rows.push(SplitRow {
                                left: String::new(),
                                left_class: "same",
                                right: text,
                                right_class: "add",
                            });
                        }
                    }
                }
            }
        }
        render(
            "diff.html",
            frame(p, now),
            minijinja::context! {
                name, a => a.to_string(), b => b.to_string(), params => V::from(minijinja::value::Serde(&params)),
                split, lines => V::from(minijinja::value::Serde(&lines)), rows => V::from(minijinja::value::Serde(&rows)),
                added => d.lines_added, removed => d.lines_removed,
            },
        )
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------------

#[derive(Serialize)]
struct RunRow {
    id: String,
    ts: String,
    prompt: String,
    version: String,
    success: bool,
    ms: String,
    quality: String,
    output: String,
}

fn text_of(run: &Map<String, Value>, key: &str) -> String {
    match run.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

async fn runs_page(State(state): State<AppState>, q: RawQuery) -> Response {
    let q = query_map(q.0);
    page(&state, move |p, now| {
        let get = |k: &str| q.get(k).filter(|v| !v.is_empty()).cloned();
        let prompts: Vec<String> = p.load_prompts().prompts.keys().cloned().collect();
        let filters = minijinja::context! {
            prompt => get("prompt").unwrap_or_default(),
            version => get("version").unwrap_or_default(),
            success => get("success").unwrap_or_default(),
            since => get("since").unwrap_or_default(),
            until => get("until").unwrap_or_default(),
            eval => get("eval").unwrap_or_default(),
            q => get("q").unwrap_or_default(),
        };
        let built = (|| -> Result<RunsQuery, String> {
            Ok(RunsQuery {
                prompt: get("prompt"),
                version: get("version")
                    .map(|v| v.parse::<Version>().map_err(|e| format!("version: {e}")))
                    .transpose()?,
                since: get("since")
                    .map(|s| parse_when(&s).map_err(|e| format!("since: {e}")))
                    .transpose()?,
                until: get("until")
                    .map(|s| parse_when(&s).map_err(|e| format!("until: {e}")))
                    .transpose()?,
                success: match get("success").as_deref() {
                    None => None,
                    Some("true") => Some(true),
                    Some("false") => Some(false),
                    Some(other) => return Err(format!("success: expected true or false, got {other:?}")),
                },
                text: get("q"),
                eval: get("eval"),
                limit: match get("limit") {
                    None => RUNS_PER_PAGE,
                    Some(l) => l
                        .parse::<usize>()
                        .ok()
                        .filter(|l| (1..=500).contains(l))
                        .ok_or_else(|| format!("limit: expected 1 to 500 runs per page, got {l:?}"))?,
                },
                cursor: get("cursor"),
            })
        })();
        let (runs, next, error) = match built.and_then(|query| {
            p.runs_page(&query).map_err(|e| e.to_string())
        }) {
            Ok(page) => {
                let next = page.next_cursor.map(|c| {
                    let mut pairs: Vec<String> = q
                        .iter()
                        .filter(|(k, v)| k.as_str() != "cursor" && !v.is_empty())
                        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                        .collect();
                    pairs.push(format!("cursor={}", encode(&c)));
                    pairs.join("&")
                });
                let rows: Vec<RunRow> = page
                    .runs
                    .iter()
                    .map(|r| RunRow {
                        id: text_of(r, "id"),
                        ts: text_of(r, "ts"),
                        prompt: text_of(r, "prompt"),
                        version: text_of(r, "version"),
                        success: r.get("success") == Some(&Value::Bool(true)),
                        ms: ms(r.get("execution_time_ms").and_then(Value::as_f64)),
                        quality: num(r.get("quality_score").and_then(Value::as_f64), 1),
                        output: text_of(r, "output").chars().take(200).collect(),
                    })
                    .collect();
                (rows, next, None)
            }
            Err(e) => (Vec::new(), None, Some(e)),
        };
        render(
            "runs.html",
            frame(p, now),
            minijinja::context! { prompts, f => filters, runs => V::from(minijinja::value::Serde(&runs)), next, error },
        )
    })
    .await
}

#[derive(Serialize)]
struct Field {
    key: String,
    value: String,
}

async fn run_page(State(state): State<AppState>, Path(id): Path<String>, q: RawQuery) -> Response {
    let q = query_map(q.0);
    let needs_token = state
        .config()
        .token
        .as_deref()
        .is_some_and(|t| !t.is_empty());
    page(&state, move |p, now| {
        let run = p
            .run_by_id(&id)
            .ok_or_else(|| ApiError::not_found(format!("no run with id {id}")))?;
        run_html(p, now, &id, &run, &q, needs_token)
    })
    .await
}

fn run_html(
    p: &Project,
    now: DateTime<Utc>,
    id: &str,
    run: &Map<String, Value>,
    q: &BTreeMap<String, String>,
    needs_token: bool,
) -> Result<Response, ApiError> {
    let pretty = |v: Option<&Value>| {
        v.map(|v| serde_json::to_string_pretty(v).unwrap_or_default())
            .unwrap_or_default()
    };
    let fields: Vec<Field> = run
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "input" | "output" | "id"))
        .map(|(k, v)| Field {
            key: k.clone(),
            value: match v {
                Value::String(s) => s.clone(),
                Value::Null => "–".into(),
                other => serde_json::to_string(other).unwrap_or_default(),
            },
        })
        .collect();
    render(
        "run.html",
        frame(p, now),
        minijinja::context! {
            id, fields => V::from(minijinja::value::Serde(&fields)), input => pretty(run.get("input")), output => text_of(run, "output"),
            rated => q.get("rated").cloned(), error => q.get("error").cloned(),
            quality => q.get("quality").cloned().unwrap_or_default(),
            feedback => q.get("feedback").cloned().unwrap_or_default(),
            needs_token,
        },
    )
}

/// Whether the browser says the form comes from a page of this server: `Sec-Fetch-Site`
/// (sent by current browsers) when present, else `Origin` against `Host`. A client that sends
/// neither (curl) is not a browser tricked by another site.
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some("null"), _) => false,
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.trim_end_matches('/') == host),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

async fn rate_form(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !same_origin(&headers) {
        return error_page(ApiError::new(
            StatusCode::FORBIDDEN,
            "this form was sent from another site; rate runs from the dashboard itself",
        ));
    }
    let bytes = match read_body(&state, body).await {
        Ok(b) => b,
        Err(e) => return error_page(e),
    };
    let form = query_map(Some(String::from_utf8_lossy(&bytes).into_owned()));
    if let Some(expected) = state.config().token.as_deref().filter(|t| !t.is_empty()) {
        let given = form.get("token").map(String::as_bytes).unwrap_or_default();
        if !super::token_matches(given, expected.as_bytes()) {
            return error_page(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "the token does not match; rating needs the server's token",
            ));
        }
    }
    let back = |extra: &str| format!("/runs/{}?{extra}", encode(&id));
    let feedback = form
        .get("feedback")
        .filter(|f| !f.trim().is_empty())
        .cloned();
    let quality = match form.get("quality").map(|q| q.trim().parse::<f64>()) {
        Some(Ok(q)) => q,
        _ => {
            return Redirect::to(&back(&format!(
                "error={}",
                encode("quality must be a number from 1 to 10")
            )))
            .into_response();
        }
    };
    let now = state.now();
    let run_id = id.clone();
    let fb = feedback.clone();
    let result = state
        .write_project(move |p| {
            p.rate(&run_id, quality, fb, now)
                .map_err(|e| ApiError::bad_request(e.to_string()))
        })
        .await;
    match result {
        Ok(_) => {
            Redirect::to(&back(&format!("rated={}", encode(&quality.to_string())))).into_response()
        }
        Err(e) => Redirect::to(&back(&format!(
            "error={}&quality={}&feedback={}",
            encode(&e.message),
            encode(&quality.to_string()),
            encode(&feedback.unwrap_or_default())
        )))
        .into_response(),
    }
}

async fn stylesheet() -> Response {
    let mut r = include_str!("html/style.css").into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for name in [
            "base.html",
            "prompts.html",
            "prompt.html",
            "diff.html",
            "runs.html",
            "run.html",
            "error.html",
        ] {
            assert!(templates().get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn values_are_escaped_in_pages() {
        let html = templates()
            .get_template("error.html")
            .and_then(|t| {
                t.render(minijinja::context! {
                    root => "", version => "0", status => "400",
                    message => "<script>alert(1)</script>",
                })
            })
            .expect("render");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>"), "{html}");
    }

    #[test]
    fn only_the_rating_form_path_checks_its_own_token() {
        assert!(is_form_path("/runs/0193abc/rate"));
        assert!(!is_form_path("/runs//rate"));
        assert!(!is_form_path("/runs/a/b/rate"));
        assert!(!is_form_path("/api/runs/a/rating"));
        assert!(!is_form_path("/runs/a"));
    }

    #[test]
    fn forms_from_other_sites_are_refused() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, HeaderValue::from_static(v));
            }
            m
        };
        assert!(same_origin(&h(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_origin(&h(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_origin(&h(&[("sec-fetch-site", "same-site")])));
        assert!(same_origin(&h(&[
            ("origin", "http://127.0.0.1:7878"),
            ("host", "127.0.0.1:7878")
        ])));
        assert!(!same_origin(&h(&[
            ("origin", "http://evil.example"),
            ("host", "127.0.0.1:7878")
        ])));
        assert!(!same_origin(&h(&[("origin", "null")])));
        assert!(same_origin(&h(&[])));
    }

    #[test]
    fn query_values_round_trip() {
        let q = query_map(Some("q=a+b%26c&prompt=p&x=%ZZ".into()));
        assert_eq!(q["q"], "a b&c");
        assert_eq!(q["prompt"], "p");
        assert_eq!(q["x"], "%ZZ");
        assert_eq!(decode(&encode("ü & ?=")), "ü & ?=");
    }
}
