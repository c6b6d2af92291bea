//! `GET /metrics`: the runs' figures and the alert states in Prometheus' text exposition
//! format 0.0.4, under the series names `ptrack alerts --prometheus-rules` writes its
//! expressions over (the table in [`crate::alerts`]).
//!
//! The figures are those of `performance` over every run in the logs, read through the same
//! cache; the alert states are the rules evaluated as the request comes. The counters count the
//! runs in the files, so a `git checkout` to fewer runs lowers them, which Prometheus reads as a
//! counter reset.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::on;

use super::api::ApiRoute;
use super::{ApiError, AppState};
use crate::alerts::{AlertState, AlertsReport, DURATION_BUCKETS_MS};
use crate::runlog::RunFilter;
use crate::runlog::compact::FastPerformance;

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `/metrics` route.
pub fn table() -> Vec<ApiRoute> {
    vec![ApiRoute {
        method: Method::GET,
        path: "/metrics",
        summary: "Runs, failures, a duration histogram, quality and cost per prompt and version, and the alert states, in Prometheus' text format",
        model: "metrics",
        query: &[],
        body: None,
        handler: |m| on(m, metrics),
    }]
}

async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let now = state.now();
    let text = state
        .with_project(move |p| {
            let mut perf = p.aggregate(&RunFilter::default(), true);
            let config = p.config();
            for prompt in &mut perf.prompts {
                for v in &mut prompt.versions {
                    v.metrics.price(config);
                }
            }
            // Rules that cannot be evaluated (a bad rule, a label gone) leave the run series
            // standing; /api/alerts says what is wrong.
            let alerts = p.evaluate_alerts(now).ok();
            Ok(exposition(&perf, alerts.as_ref()))
        })
        .await?;
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        text,
    )
        .into_response())
}

/// A label value as the text format writes it: `\`, `"` and line feeds escaped.
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A sample value: integers as integers, and Go's spellings of the special floats.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

/// The whole exposition: every family with its HELP and TYPE, then its samples.
pub fn exposition(perf: &FastPerformance, alerts: Option<&AlertsReport>) -> String {
    let mut out = String::new();
    let versions: Vec<_> = perf.prompts.iter().flat_map(|p| &p.versions).collect();
    let labels = |prompt: &str, version: &str| {
        format!(
            "prompt=\"{}\",version=\"{}\"",
            escape_label(prompt),
            escape_label(version)
        )
    };
    let family = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
    };
    family(&mut out, "ptrack_runs_total", "counter", "Runs logged.");
    for v in &versions {
        let l = labels(&v.prompt, v.version.as_str());
        let _ = writeln!(out, "ptrack_runs_total{{{l}}} {}", v.metrics.runs);
    }
    family(
        &mut out,
        "ptrack_run_failures_total",
        "counter",
        "Runs logged with success false.",
    );
    for v in &versions {
        let l = labels(&v.prompt, v.version.as_str());
        let failures = v.metrics.runs - v.metrics.successes;
        let _ = writeln!(out, "ptrack_run_failures_total{{{l}}} {failures}");
    }
    family(
        &mut out,
        "ptrack_run_duration_ms",
        "histogram",
        "Execution time of the runs logged, in milliseconds.",
    );
    for h in &perf.histograms {
        let l = labels(&h.prompt, h.version.as_str());
        let mut cumulative = 0;
        for (i, bound) in DURATION_BUCKETS_MS.iter().enumerate() {
            cumulative += h.histogram.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "ptrack_run_duration_ms_bucket{{{l},le=\"{}\"}} {cumulative}",
                number(*bound)
            );
        }
        let count = h.histogram.count();
        let _ = writeln!(
            out,
            "ptrack_run_duration_ms_bucket{{{l},le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "ptrack_run_duration_ms_sum{{{l}}} {}",
            number(h.histogram.sum)
        );
        let _ = writeln!(out, "ptrack_run_duration_ms_count{{{l}}} {count}");
    }
    family(
        &mut out,
        "ptrack_quality_mean",
        "gauge",
        "Mean quality score over the rated runs.",
    );
    for v in &versions {
        if let Some(q) = v.metrics.quality_mean {
            let l = labels(&v.prompt, v.version.as_str());
            let _ = writeln!(out, "ptrack_quality_mean{{{l}}} {}", number(q));
        }
    }
    family(
        &mut out,
        "ptrack_cost_per_run",
        "gauge",
        "Mean cost per run at the [prices] of ptrack.toml.",
    );
    for v in &versions {
        if let Some(c) = v.metrics.cost_per_run {
            let l = labels(&v.prompt, v.version.as_str());
            let _ = writeln!(out, "ptrack_cost_per_run{{{l}}} {}", number(c));
        }
    }
    let rules = alerts.map(|a| a.rules.as_slice()).unwrap_or_default();
    let rule_labels = |rule: &str, prompt: &str| {
        format!(
            "rule=\"{}\",prompt=\"{}\"",
            escape_label(rule),
            escape_label(prompt)
        )
    };
    family(
        &mut out,
        "ptrack_alert_firing",
        "gauge",
        "1 when the alert rule fires, 0 when it does not; absent with not enough data.",
    );
    for s in rules {
        let v = match s.state {
            AlertState::Firing => 1,
            AlertState::Ok => 0,
            AlertState::NotEnoughData => continue,
        };
        let l = rule_labels(&s.name, &s.prompt);
        let _ = writeln!(out, "ptrack_alert_firing{{{l}}} {v}");
    }
    family(
        &mut out,
        "ptrack_alert_value",
        "gauge",
        "The observed value of the alert rule's metric.",
    );
    for s in rules {
        if let Some(v) = s.value {
            let l = rule_labels(&s.name, &s.prompt);
            let _ = writeln!(out, "ptrack_alert_value{{{l}}} {}", number(v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_backslash_quote_and_newline_only() {
        assert_eq!(escape_label("a\\b\"c\nd\té"), "a\\\\b\\\"c\\nd\té");
    }

    #[test]
    fn numbers_are_written_as_the_format_reads_them() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NAN), "NaN");
    }
}
