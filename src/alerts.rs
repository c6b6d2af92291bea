//! Alert rules: conditions on a prompt's recent runs, evaluated once over the logs.
//!
//! Rules live in `ptrack.toml`, one `[[alerts]]` table each:
//!
//! ```toml
//! [[alerts]]
//! name = "coaching_failing"        # optional; default PROMPT_METRIC
//! prompt = "coaching_system"
//! label = "production"             # optional: the version a label names (or `version = "1.1"`)
//! when = "success_rate < 0.9"      # METRIC OP NUMBER; OP is <, <=, > or >=
//! window = "1h"                    # the runs of the last 1h (s, m, h, d), or `last = 200` runs
//! min_runs = 30                    # fewer runs in the window: not enough data, never firing
//!
//! [notify]
//! webhook = "https://hooks.example.com/ptrack"   # for the server; checked, not used here
//! ```
//!
//! Without `version` or `label` a rule looks at every version of the prompt together: the
//! traffic the prompt serves, whichever versions serve it. A `label` is resolved in
//! `labels.toml` when the rule is evaluated, so a rule on `production` follows the label.
//! The webhook sits in `[notify]` because `[alerts]` (a table) and `[[alerts]]` (the rules) cannot
//! both exist in one TOML file.
//!
//! Metrics, computed as `performance` computes them ([`Metrics`]): `success_rate` (a fraction),
//! `p95_ms` (95th percentile of the execution time), `quality` (mean score over the rated runs;
//! `min_runs` counts the rated runs) and `cost_per_run` (at `[prices]`; a window with a run that
//! cannot be priced has no value).
//!
//! # Prometheus series
//!
//! [`Project::prometheus_rules`](crate::project::Project::prometheus_rules) writes the same rules as a Prometheus alerting-rules file over the series
//! `ptrack serve` exposes at `/metrics`:
//!
//! | series | type | labels | meaning |
//! |---|---|---|---|
//! | `ptrack_runs_total` | counter | prompt, version | runs logged |
//! | `ptrack_run_failures_total` | counter | prompt, version | runs with `success: false` |
//! | `ptrack_run_duration_ms_bucket` | histogram | prompt, version, le | execution time; buckets [`DURATION_BUCKETS_MS`] (with `_sum`, `_count`) |
//! | `ptrack_quality_mean` | gauge | prompt, version | mean quality over every rated run |
//! | `ptrack_cost_per_run` | gauge | prompt, version | mean cost per run at `[prices]` |
//! | `ptrack_alert_firing` | gauge | rule, prompt | 1 firing, 0 ok; absent with not enough data |
//! | `ptrack_alert_value` | gauge | rule, prompt | the observed value of the rule's metric |
//!
//! `success_rate` and `p95_ms` rules over a time `window` become PromQL over the counters and
//! the histogram (p95 from the buckets is an estimate, interpolated within a bucket). Rules that
//! PromQL cannot express over those series (a count of runs, `last = N`; quality and cost, which
//! ratings and prices change after the fact) follow ptrack's own evaluation through
//! `ptrack_alert_firing`.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::labels::VersionSpec;
use crate::project::{LookupError, Project};
use crate::runlog::{Metrics, RunFacts, RunFilter};
use crate::version::Version;

/// The upper bounds, in milliseconds, of the `ptrack_run_duration_ms_bucket` histogram (and
/// `+Inf`).
pub const DURATION_BUCKETS_MS: &[f64] = &[
    50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0, 60000.0, 120000.0,
];

/// How long a Prometheus alert's expression must hold before it fires (`for:`).
pub const PROMETHEUS_FOR: &str = "5m";

/// One `[[alerts]]` table as written in `ptrack.toml` (checked by [`AlertRule::from_config`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct AlertRuleConfig {
    /// The rule's name (default `PROMPT_METRIC`).
    pub name: Option<String>,
    /// The prompt it watches.
    pub prompt: Option<String>,
    /// Only the runs of this version.
    pub version: Option<String>,
    /// Only the runs of the version this label names in `labels.toml`.
    pub label: Option<String>,
    /// The condition, `METRIC OP NUMBER`.
    pub when: Option<String>,
    /// A time window, `30m`, `1h`, `7d`.
    pub window: Option<String>,
    /// A window of the latest N runs.
    pub last: Option<usize>,
    /// Fewer runs than this in the window is not enough data (default 1).
    pub min_runs: Option<usize>,
}

/// The `[notify]` section: where the server sends alert notifications.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct Notify {
    /// An http(s) URL that receives a JSON POST when a rule starts or stops firing.
    pub webhook: Option<String>,
}

/// The metric a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertMetric {
    /// Successful runs / runs, a fraction.
    SuccessRate,
    /// 95th percentile of the execution time, in milliseconds.
    P95Ms,
    /// Mean quality over the rated runs.
    Quality,
    /// Mean cost per run at `[prices]`.
    CostPerRun,
}

impl AlertMetric {
    /// Every metric, as written in `when`.
    pub const ALL: [AlertMetric; 4] = [
        AlertMetric::SuccessRate,
        AlertMetric::P95Ms,
        AlertMetric::Quality,
        AlertMetric::CostPerRun,
    ];

    /// The name as written in `when`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertMetric::SuccessRate => "success_rate",
            AlertMetric::P95Ms => "p95_ms",
            AlertMetric::Quality => "quality",
            AlertMetric::CostPerRun => "cost_per_run",
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Op {
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
}

impl Op {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// Whether `value OP threshold` holds.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Lt => value < threshold,
            Op::Le => value <= threshold,
            Op::Gt => value > threshold,
            Op::Ge => value >= threshold,
        }
    }
}

/// `METRIC OP NUMBER`: when a rule fires.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Condition {
    /// The metric.
    pub metric: AlertMetric,
    /// The comparison.
    pub op: Op,
    /// The number the metric is compared with.
    pub threshold: f64,
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.metric.as_str(),
            self.op.as_str(),
            self.threshold
        )
    }
}

impl std::str::FromStr for Condition {
    type Err = String;

    /// Parse `METRIC OP NUMBER` (spaces optional), checking the number's range for the metric.
    fn from_str(s: &str) -> Result<Condition, String> {
        let s = s.trim();
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        let (name, rest) = s.split_at(end);
        let names = || {
            AlertMetric::ALL
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if name.is_empty() {
            return Err(format!(
                "expected `METRIC OP NUMBER` such as `success_rate < 0.9`, got {s:?}"
            ));
        }
        let metric = AlertMetric::ALL
            .into_iter()
            .find(|m| m.as_str() == name)
            .ok_or_else(|| format!("unknown metric `{name}`; known: {}", names()))?;
        let rest = rest.trim_start();
        let (op, number) = if let Some(r) = rest.strip_prefix("<=") {
            (Op::Le, r)
        } else if let Some(r) = rest.strip_prefix(">=") {
            (Op::Ge, r)
        } else if let Some(r) = rest.strip_prefix('<') {
            (Op::Lt, r)
        } else if let Some(r) = rest.strip_prefix('>') {
            (Op::Gt, r)
        } else {
            return Err(format!(
                "expected <, <=, > or >= after `{name}`, got {:?}",
                rest
            ));
        };
        let number = number.trim();
        let threshold: f64 = number
            .parse()
            .ok()
            .filter(|t: &f64| t.is_finite())
            .ok_or_else(|| format!("expected a number after `{}`, got {number:?}", op.as_str()))?;
        match metric {
            AlertMetric::SuccessRate if !(0.0..=1.0).contains(&threshold) => Err(format!(
                "success_rate is a fraction from 0 to 1 (0.9 = 90%), got {threshold}"
            )),
            AlertMetric::Quality if !(1.0..=10.0).contains(&threshold) => {
                Err(format!("quality is a score from 1 to 10, got {threshold}"))
            }
            AlertMetric::P95Ms | AlertMetric::CostPerRun if threshold < 0.0 => Err(format!(
                "{} must be compared with a number ≥ 0, got {threshold}",
                metric.as_str()
            )),
            _ => Ok(Condition {
                metric,
                op,
                threshold,
            }),
        }
    }
}

/// Which runs a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertWindow {
    /// The runs of the last `seconds` before now.
    Duration {
        /// The window's length in seconds.
        seconds: u64,
    },
    /// The latest `runs` runs.
    Last {
        /// How many runs.
        runs: usize,
    },
}

impl std::fmt::Display for AlertWindow {
    /// `1h`, `90m`, `last 200`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            AlertWindow::Duration { seconds } => f.write_str(&format_duration(seconds)),
            AlertWindow::Last { runs } => write!(f, "last {runs}"),
        }
    }
}

/// Parse a window length: a whole number and a unit, `s`, `m`, `h` or `d` (`30m`, `1h`, `7d`).
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let bad = || format!("expected a duration such as `30m`, `1h` or `7d` (s, m, h, d), got {s:?}");
    let unit = t.chars().last().ok_or_else(bad)?;
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        _ => return Err(bad()),
    };
    let digits = &t[..t.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    match n.checked_mul(scale) {
        Some(0) => Err(format!("a window must be longer than 0, got {s:?}")),
        // Ten years is more history than any log; beyond it chrono's arithmetic could overflow.
        Some(secs) if secs <= 10 * 366 * 86400 => Ok(secs),
        _ => Err(format!("a window may be at most 3660d, got {s:?}")),
    }
}

/// A number of seconds in the largest unit that divides it (`3600` → `1h`).
pub fn format_duration(seconds: u64) -> String {
    for (unit, scale) in [("d", 86400), ("h", 3600), ("m", 60)] {
        if seconds.is_multiple_of(scale) {
            return format!("{}{unit}", seconds / scale);
        }
    }
    format!("{seconds}s")
}

/// A checked alert rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// Its name, unique in the project.
    pub name: String,
    /// The prompt it watches.
    pub prompt: String,
    /// A version or label to keep to; None: every version.
    pub version: Option<VersionSpec>,
    /// When it fires.
    pub condition: Condition,
    /// The runs it looks at.
    pub window: AlertWindow,
    /// Fewer runs in the window: not enough data.
    pub min_runs: usize,
}

/// What is wrong with one `[[alerts]]` table: its position, the key and the message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("[[alerts]] #{}: {message}", index + 1)]
pub struct AlertRuleError {
    /// 0-based position among the `[[alerts]]` tables.
    pub index: usize,
    /// The key at fault (None: the table as a whole).
    pub field: Option<&'static str>,
    /// What is wrong.
    pub message: String,
}

impl AlertRule {
    /// Check one `[[alerts]]` table.
    pub fn from_config(c: &AlertRuleConfig) -> Result<AlertRule, (Option<&'static str>, String)> {
        let prompt = c.prompt.clone().ok_or((
            None,
            "a rule needs `prompt`, the prompt it watches".to_string(),
        ))?;
        if !crate::prompt::is_valid_name(&prompt) {
            return Err((
                Some("prompt"),
                format!("prompt: `{prompt}` is not a valid prompt name"),
            ));
        }
        let when = c.when.as_deref().ok_or((
            None,
            "a rule needs `when`, such as `when = \"success_rate < 0.9\"`".to_string(),
        ))?;
        let condition: Condition = when
            .parse()
            .map_err(|e| (Some("when"), format!("when: {e}")))?;
        let version = match (&c.version, &c.label) {
            (Some(_), Some(_)) => {
                return Err((
                    Some("label"),
                    "give `version` or `label`, not both".to_string(),
                ));
            }
            (Some(v), None) => Some(VersionSpec::Version(
                v.parse::<Version>()
                    .map_err(|e| (Some("version"), format!("version: {e}")))?,
            )),
            (None, Some(l)) => {
                match crate::labels::check_label_name(l) {
                    Ok(()) | Err(crate::labels::LabelNameError::Latest) => {}
                    Err(e) => return Err((Some("label"), format!("label: {e}"))),
                }
                Some(VersionSpec::Label(l.clone()))
            }
            (None, None) => None,
        };
        let window = match (&c.window, c.last) {
            (Some(_), Some(_)) => {
                return Err((
                    Some("last"),
                    "give `window` (a time) or `last` (a number of runs), not both".to_string(),
                ));
            }
            (Some(w), None) => AlertWindow::Duration {
                seconds: parse_duration(w).map_err(|e| (Some("window"), format!("window: {e}")))?,
            },
            (None, Some(0)) => {
                return Err((
                    Some("last"),
                    "last must be a number of runs > 0".to_string(),
                ));
            }
            (None, Some(n)) => AlertWindow::Last { runs: n },
            (None, None) => {
                return Err((
                    None,
                    "a rule needs `window` (such as \"1h\") or `last` (a number of runs)"
                        .to_string(),
                ));
            }
        };
        let min_runs = match c.min_runs {
            Some(0) => {
                return Err((
                    Some("min_runs"),
                    "min_runs must be a number of runs > 0".to_string(),
                ));
            }
            Some(n) => n,
            None => 1,
        };
        if let AlertWindow::Last { runs } = window
            && min_runs > runs
        {
            return Err((
                Some("min_runs"),
                format!(
                    "min_runs ({min_runs}) is more than the window of last {runs} runs: the rule could never fire"
                ),
            ));
        }
        let name = match &c.name {
            Some(n) => {
                let ok = n.starts_with(|ch: char| ch.is_ascii_alphabetic() || ch == '_')
                    && n.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
                if !ok {
                    return Err((
                        Some("name"),
                        format!(
                            "name: `{n}` must be letters, digits and `_`, starting with a letter (it names the Prometheus alert too)"
                        ),
                    ));
                }
                n.clone()
            }
            None => format!("{}_{}", prompt.replace('-', "_"), condition.metric.as_str()),
        };
        Ok(AlertRule {
            name,
            prompt,
            version,
            condition,
            window,
            min_runs,
        })
    }
}

/// Check every `[[alerts]]` table, and that no two rules share a name.
pub fn rules_of(configs: &[AlertRuleConfig]) -> Result<Vec<AlertRule>, AlertRuleError> {
    let mut out: Vec<AlertRule> = Vec::with_capacity(configs.len());
    for (index, c) in configs.iter().enumerate() {
        let rule = AlertRule::from_config(c).map_err(|(field, message)| AlertRuleError {
            index,
            field,
            message,
        })?;
        if out.iter().any(|r| r.name == rule.name) {
            return Err(AlertRuleError {
                index,
                field: c.name.as_ref().map(|_| "name"),
                message: format!(
                    "two rules are named `{}`; give each a different `name`",
                    rule.name
                ),
            });
        }
        out.push(rule);
    }
    Ok(out)
}

/// Check a webhook URL: `http://` or `https://` and a host.
pub fn check_webhook(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("webhook must be an http:// or https:// URL, got {url:?}"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "webhook must be an http:// or https:// URL with a host, got {url:?}"
        ));
    }
    Ok(())
}

/// The state of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The condition holds over enough runs.
    Firing,
    /// The condition does not hold.
    Ok,
    /// Too few runs (or no value) in the window to judge: never firing.
    NotEnoughData,
}

impl AlertState {
    /// The state as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Firing => "firing",
            AlertState::Ok => "ok",
            AlertState::NotEnoughData => "not_enough_data",
        }
    }
}

/// One rule, evaluated.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AlertStatus {
    /// The rule's name.
    pub name: String,
    /// The prompt.
    pub prompt: String,
    /// The label the rule keeps to, when it names one.
    pub label: Option<String>,
    /// The version whose runs were read (the label's, when a label); None: every version.
    pub version: Option<Version>,
    /// The condition, as `METRIC OP NUMBER`.
    pub condition: String,
    /// The metric.
    pub metric: AlertMetric,
    /// The comparison.
    pub op: Op,
    /// The number the metric is compared with.
    pub threshold: f64,
    /// The window.
    pub window: AlertWindow,
    /// The window as written (`1h`, `last 200`).
    pub window_text: String,
    /// Fewer runs (rated runs for `quality`) in the window: not enough data.
    pub min_runs: usize,
    /// Runs in the window.
    pub runs: usize,
    /// The metric over those runs; None when there is none (no runs, no rated runs, runs that
    /// cannot be priced).
    pub value: Option<f64>,
    /// Firing, ok or not enough data.
    pub state: AlertState,
    /// Why there is not enough data.
    pub reason: Option<String>,
}

/// Every rule of a project, evaluated at one time.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AlertsReport {
    /// When they were evaluated; windows end here.
    pub now: DateTime<Utc>,
    /// The rules, in the order of `ptrack.toml`.
    pub rules: Vec<AlertStatus>,
    /// How many fire.
    pub firing: usize,
    /// Problems in the run logs, each once (bad lines are skipped, never counted).
    #[serde(skip)]
    pub diagnostics: Vec<crate::diagnostic::Diagnostic>,
}

/// Why the rules could not be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    /// A rule in `ptrack.toml` is invalid.
    #[error("{}: {source}", path.display())]
    Rule {
        /// ptrack.toml, as shown.
        path: std::path::PathBuf,
        /// What is wrong.
        #[source]
        source: AlertRuleError,
    },
    /// A rule's prompt or label cannot be found.
    #[error("alert `{rule}` in ptrack.toml: {source}")]
    Lookup {
        /// The rule.
        rule: String,
        /// The lookup error (boxed: it is large, and rare).
        #[source]
        source: Box<LookupError>,
    },
}

impl Project {
    /// The project's alert rules, checked.
    pub fn alert_rules(&self) -> Result<Vec<AlertRule>, AlertsError> {
        rules_of(&self.config().alerts).map_err(|source| AlertsError::Rule {
            path: Path::new("ptrack.toml").to_path_buf(),
            source,
        })
    }

    /// The version each rule reads: a label resolved in `labels.toml` now. The prompt must
    /// exist in `prompts/`.
    fn rule_version(
        &self,
        registry: &crate::project::Registry,
        rule: &AlertRule,
    ) -> Result<Option<Version>, AlertsError> {
        let lookup = |source| AlertsError::Lookup {
            rule: rule.name.clone(),
            source: Box::new(source),
        };
        // A misspelt prompt has no runs, so the rule would never fire: say so instead.
        registry.find(&rule.prompt).map_err(lookup)?;
        match &rule.version {
            None => Ok(None),
            Some(spec @ VersionSpec::Label(_)) => {
                match self.resolve_spec(registry, &rule.prompt, Some(spec)) {
                    Ok(Some(v)) => Ok(Some(v)),
                    Ok(None) => registry
                        .resolve(&rule.prompt, None)
                        .map(|v| Some(v.version.clone()))
                        .map_err(lookup),
                    Err(e) => Err(lookup(e)),
                }
            }
            Some(VersionSpec::Version(v)) => Ok(Some(v.clone())),
        }
    }

    /// What `check` says about the alert rules: each rule whose prompt or label does not
    /// exist (it would never fire).
    pub fn alert_diagnostics(
        &self,
        registry: &crate::project::Registry,
    ) -> Vec<crate::diagnostic::Diagnostic> {
        let Ok(rules) = self.alert_rules() else {
            return Vec::new();
        };
        rules
            .iter()
            .filter_map(|r| self.rule_version(registry, r).err())
            .map(|e| {
                crate::diagnostic::Diagnostic::error("ptrack.toml", None, e.to_string())
                    .with_field("alerts")
            })
            .collect()
    }

    /// Evaluate every alert rule over the runs logged up to `now`.
    pub fn evaluate_alerts(&self, now: DateTime<Utc>) -> Result<AlertsReport, AlertsError> {
        let rules = self.alert_rules()?;
        let registry = self.load_prompts();
        let mut out = Vec::with_capacity(rules.len());
        let mut diagnostics = Vec::new();
        let mut loaded: std::collections::BTreeMap<String, crate::runlog::RunSet> =
            std::collections::BTreeMap::new();
        for rule in &rules {
            let version = self.rule_version(&registry, rule)?;
            let filter = RunFilter {
                prompt: Some(rule.prompt.clone()),
                version: version.as_ref().map(|v| v.as_str().to_string()),
                since: match rule.window {
                    AlertWindow::Duration { seconds } => {
                        // parse_duration bounds `seconds` to ten years, so this cannot overflow.
                        now.checked_sub_signed(Duration::seconds(seconds as i64))
                    }
                    AlertWindow::Last { .. } => None,
                },
                until: None,
            };
            // Each prompt's logs are read once, however many rules watch it.
            let set = match loaded.entry(rule.prompt.clone()) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => {
                    let set = self.runs(&RunFilter {
                        prompt: Some(rule.prompt.clone()),
                        ..RunFilter::default()
                    });
                    for d in &set.diagnostics {
                        // A log outside runs/<prompt>/ is read for every prompt: say it once.
                        if !diagnostics.contains(d) {
                            diagnostics.push(d.clone());
                        }
                    }
                    e.insert(set)
                }
            };
            let mut runs: Vec<&RunFacts> = set
                .runs
                .iter()
                .filter(|r| filter.matches(r) && r.ts <= now)
                .collect();
            if let AlertWindow::Last { runs: n } = rule.window {
                runs.sort_by_key(|r| r.ts);
                let skip = runs.len().saturating_sub(n);
                runs.drain(..skip);
            }
            let mut m = Metrics::compute(runs.iter().copied());
            m.price(self.config());
            out.push(status(rule, version, &m));
        }
        let firing = out.iter().filter(|s| s.state == AlertState::Firing).count();
        Ok(AlertsReport {
            now,
            rules: out,
            firing,
            diagnostics,
        })
    }
}

/// A rule's state over the metrics of its window.
fn status(rule: &AlertRule, version: Option<Version>, m: &Metrics) -> AlertStatus {
    let c = rule.condition;
    let (value, counted, what) = match c.metric {
        AlertMetric::SuccessRate => (m.success_rate, m.runs, "runs"),
        AlertMetric::P95Ms => (m.time_ms.map(|t| t.p95), m.runs, "runs"),
        AlertMetric::Quality => (m.quality_mean, m.quality_n, "rated runs"),
        AlertMetric::CostPerRun => (m.cost_per_run, m.runs, "runs"),
    };
    let (state, reason) = if counted < rule.min_runs {
        (
            AlertState::NotEnoughData,
            Some(format!(
                "{counted} {what} in the window, fewer than min_runs = {}",
                rule.min_runs
            )),
        )
    } else {
        match value {
            None => (
                AlertState::NotEnoughData,
                Some(
                    "a run in the window cannot be priced (no model, no token split, or no [prices] entry)"
                        .to_string(),
                ),
            ),
            Some(v) if c.op.holds(v, c.threshold) => (AlertState::Firing, None),
            Some(_) => (AlertState::Ok, None),
        }
    };
    AlertStatus {
        name: rule.name.clone(),
        prompt: rule.prompt.clone(),
        label: match &rule.version {
            Some(VersionSpec::Label(l)) => Some(l.clone()),
            _ => None,
        },
        version,
        condition: c.to_string(),
        metric: c.metric,
        op: c.op,
        threshold: c.threshold,
        window: rule.window,
        window_text: rule.window.to_string(),
        min_runs: rule.min_runs,
        runs: m.runs,
        value,
        state,
        reason,
    }
}

/// A Prometheus alerting-rules file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrometheusRules {
    /// The rule groups (one, `ptrack`).
    pub groups: Vec<PrometheusGroup>,
}

/// A Prometheus rule group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrometheusGroup {
    /// The group's name.
    pub name: String,
    /// Its alerting rules.
    pub rules: Vec<PrometheusAlert>,
}

/// One Prometheus alerting rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrometheusAlert {
    /// The alert's name (the ptrack rule's name).
    pub alert: String,
    /// The PromQL expression.
    pub expr: String,
    /// How long the expression must hold.
    #[serde(rename = "for")]
    pub for_: String,
    /// Labels attached to the alert.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Annotations attached to the alert.
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// A PromQL string literal.
fn promql_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl PrometheusRules {
    /// The file as YAML.
    pub fn to_yaml(&self) -> String {
        // A tree of strings and maps always serializes.
        serde_yaml::to_string(self).unwrap_or_default()
    }
}

impl Project {
    /// The alert rules as a Prometheus alerting-rules file over the `/metrics` series (module
    /// docs). A label is resolved now: regenerate the file after moving it.
    pub fn prometheus_rules(&self) -> Result<PrometheusRules, AlertsError> {
        let rules = self.alert_rules()?;
        let registry = self.load_prompts();
        let mut out = Vec::with_capacity(rules.len());
        for rule in &rules {
            let version = self.rule_version(&registry, rule)?;
            out.push(prometheus_alert(rule, version.as_ref()));
        }
        Ok(PrometheusRules {
            groups: vec![PrometheusGroup {
                name: "ptrack".to_string(),
                rules: out,
            }],
        })
    }
}

/// One rule as a Prometheus alert.
fn prometheus_alert(rule: &AlertRule, version: Option<&Version>) -> PrometheusAlert {
    let c = rule.condition;
    let mut sel = format!("prompt={}", promql_str(&rule.prompt));
    if let Some(v) = version {
        sel.push_str(&format!(",version={}", promql_str(v.as_str())));
    }
    let native = match (c.metric, rule.window) {
        (AlertMetric::SuccessRate, AlertWindow::Duration { seconds }) => Some((
            format!(
                "(1 - sum(increase(ptrack_run_failures_total{{{sel}}}[{w}])) / sum(increase(ptrack_runs_total{{{sel}}}[{w}])))",
                w = format_duration(seconds)
            ),
            seconds,
        )),
        (AlertMetric::P95Ms, AlertWindow::Duration { seconds }) => Some((
            format!(
                "histogram_quantile(0.95, sum by (le) (increase(ptrack_run_duration_ms_bucket{{{sel}}}[{w}])))",
                w = format_duration(seconds)
            ),
            seconds,
        )),
        _ => None,
    };
    let expr = match native {
        Some((value, seconds)) => format!(
            "{value} {} {} and on() sum(increase(ptrack_runs_total{{{sel}}}[{}])) >= {}",
            c.op.as_str(),
            c.threshold,
            format_duration(seconds),
            rule.min_runs
        ),
        None => format!(
            "ptrack_alert_firing{{rule={},prompt={}}} == 1",
            promql_str(&rule.name),
            promql_str(&rule.prompt)
        ),
    };
    let target = match (&rule.version, version) {
        (Some(VersionSpec::Label(l)), Some(v)) => format!("{}:{l} ({v})", rule.prompt),
        (_, Some(v)) => format!("{} {v}", rule.prompt),
        (_, None) => rule.prompt.clone(),
    };
    let mut labels = std::collections::BTreeMap::new();
    labels.insert("prompt".to_string(), rule.prompt.clone());
    labels.insert("ptrack_rule".to_string(), rule.name.clone());
    if let Some(v) = version {
        labels.insert("version".to_string(), v.as_str().to_string());
    }
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert(
        "summary".to_string(),
        format!("{target}: {c} over {}", rule.window),
    );
    annotations.insert(
        "description".to_string(),
        format!(
            "ptrack rule `{}` in ptrack.toml (min_runs = {})",
            rule.name, rule.min_runs
        ),
    );
    PrometheusAlert {
        alert: rule.name.clone(),
        expr,
        for_: PROMETHEUS_FOR.to_string(),
        labels,
        annotations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(s: &str) -> Result<Condition, String> {
        s.parse()
    }

    #[test]
    fn conditions_parse_with_or_without_spaces() {
        assert_eq!(
            cond("success_rate < 0.9"),
            Ok(Condition {
                metric: AlertMetric::SuccessRate,
                op: Op::Lt,
                threshold: 0.9
            })
        );
        assert_eq!(
            cond("p95_ms>=1500"),
            Ok(Condition {
                metric: AlertMetric::P95Ms,
                op: Op::Ge,
                threshold: 1500.0
            })
        );
        assert_eq!(cond("  quality <= 6.5 ").map(|c| c.op), Ok(Op::Le));
        assert_eq!(
            cond("cost_per_run > 0.002").map(|c| (c.metric, c.op)),
            Ok((AlertMetric::CostPerRun, Op::Gt))
        );
        assert_eq!(
            cond("success_rate < 0.9").map(|c| c.to_string()),
            Ok("success_rate < 0.9".to_string())
        );
    }

    #[test]
    fn bad_conditions_say_what_is_wrong() {
        assert_eq!(
            cond("succes_rate < 0.9"),
            Err(
                "unknown metric `succes_rate`; known: success_rate, p95_ms, quality, cost_per_run"
                    .to_string()
            )
        );
        assert_eq!(
            cond("success_rate = 0.9"),
            Err("expected <, <=, > or >= after `success_rate`, got \"= 0.9\"".to_string())
        );
        assert_eq!(
            cond("p95_ms > fast"),
            Err("expected a number after `>`, got \"fast\"".to_string())
        );
        assert_eq!(
            cond("p95_ms > 1 2"),
            Err("expected a number after `>`, got \"1 2\"".to_string())
        );
        assert!(cond("success_rate < 90").is_err_and(|e| e.contains("fraction")));
        assert!(cond("p95_ms > -1").is_err());
        assert!(cond("p95_ms > inf").is_err());
        assert!(cond("quality < 11").is_err());
        assert_eq!(
            cond("quality < 0.5"),
            Err("quality is a score from 1 to 10, got 0.5".to_string())
        );
        assert!(cond("").is_err());
        assert!(cond("< 3").is_err());
    }

    #[test]
    fn durations_parse_in_four_units_and_print_back() {
        assert_eq!(parse_duration("45s"), Ok(45));
        assert_eq!(parse_duration("30m"), Ok(1800));
        assert_eq!(parse_duration("1h"), Ok(3600));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        for bad in [
            "",
            "h",
            "1",
            "1w",
            "-1h",
            "1.5h",
            "1 h",
            "0m",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(format_duration(3600), "1h");
        assert_eq!(format_duration(5400), "90m");
        assert_eq!(format_duration(45), "45s");
        assert_eq!(format_duration(172_800), "2d");
    }

    fn config(window: Option<&str>, last: Option<usize>) -> AlertRuleConfig {
        AlertRuleConfig {
            prompt: Some("coaching-system".to_string()),
            when: Some("success_rate < 0.9".to_string()),
            window: window.map(str::to_string),
            last,
            ..AlertRuleConfig::default()
        }
    }

    #[test]
    fn a_rule_has_a_window_or_a_count_never_both() {
        let r = AlertRule::from_config(&config(Some("1h"), None)).expect("valid");
        assert_eq!(r.window, AlertWindow::Duration { seconds: 3600 });
        assert_eq!(r.name, "coaching_system_success_rate");
        assert_eq!(r.min_runs, 1);
        let r = AlertRule::from_config(&config(None, Some(200))).expect("valid");
        assert_eq!(r.window, AlertWindow::Last { runs: 200 });
        assert_eq!(r.window.to_string(), "last 200");
        assert_eq!(
            AlertRule::from_config(&config(Some("1h"), Some(200))).map(|_| ()),
            Err((
                Some("last"),
                "give `window` (a time) or `last` (a number of runs), not both".to_string()
            ))
        );
        assert!(AlertRule::from_config(&config(None, None)).is_err());
        assert!(AlertRule::from_config(&config(None, Some(0))).is_err());
        let mut c = config(None, Some(10));
        c.min_runs = Some(11);
        assert_eq!(
            AlertRule::from_config(&c).map(|_| ()).map_err(|e| e.0),
            Err(Some("min_runs"))
        );
    }

    #[test]
    fn names_must_be_unique_and_plain() {
        let a = config(Some("1h"), None);
        let err = rules_of(&[a.clone(), a.clone()]).expect_err("same default name");
        assert_eq!(err.index, 1);
        assert!(
            err.message.contains("coaching_system_success_rate"),
            "{err}"
        );
        let mut b = a.clone();
        b.name = Some("bad name".to_string());
        assert_eq!(
            AlertRule::from_config(&b).map_err(|e| e.0),
            Err(Some("name"))
        );
    }

    #[test]
    fn webhooks_must_be_http_urls_with_a_host() {
        assert_eq!(check_webhook("https://hooks.example.com/x"), Ok(()));
        assert_eq!(check_webhook("http://127.0.0.1:9000"), Ok(()));
        for bad in [
            "ftp://x",
            "https://",
            "hooks.example.com",
            "https://a b",
            "https:///x",
        ] {
            assert!(check_webhook(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prometheus_expressions_follow_the_series() {
        let mut c = config(Some("1h"), None);
        c.min_runs = Some(30);
        c.prompt = Some("p".to_string());
        let r = AlertRule::from_config(&c).expect("valid");
        let v: Version = "1.1".parse().expect("version");
        let a = prometheus_alert(&r, Some(&v));
        assert_eq!(
            a.expr,
            "(1 - sum(increase(ptrack_run_failures_total{prompt=\"p\",version=\"1.1\"}[1h])) / sum(increase(ptrack_runs_total{prompt=\"p\",version=\"1.1\"}[1h]))) < 0.9 and on() sum(increase(ptrack_runs_total{prompt=\"p\",version=\"1.1\"}[1h])) >= 30"
        );
        c.when = Some("quality < 6".to_string());
        let r = AlertRule::from_config(&c).expect("valid");
        assert_eq!(
            prometheus_alert(&r, None).expr,
            "ptrack_alert_firing{rule=\"p_quality\",prompt=\"p\"} == 1"
        );
    }
}
