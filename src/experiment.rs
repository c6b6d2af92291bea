//! A/B experiments kept in git: `experiments.toml` splits the traffic of a prompt's label
//! between versions by integer weights; assignment is deterministic and sticky.
//!
//! ```toml
//! [brief_answers]
//! prompt = "coaching_system"
//! label = "production"
//! variants = { "1.1" = 90, "1.2" = 10 }
//! metric = "success_rate"      # or quality, p95_ms, cost
//! start = "2026-11-01"
//! end = "2026-12-01"           # optional
//! min_effect = 0.05            # the smallest difference worth detecting
//! ```
//!
//! # Assignment
//!
//! A unit (a user id, a session id) falls in bucket
//! `u64::from_be_bytes(SHA-256("<experiment>\n<unit>")[0..8]) % 10000`. The variants, in
//! version order, cover consecutive ranges of the 10,000 buckets in proportion to their
//! weights: with `1.1 = 90, 1.2 = 10`, buckets 0–8999 get 1.1 and 9000–9999 get 1.2. The same
//! unit always gets the same variant, in any process or language, and changing the weights to
//! 80/20 moves only buckets 8000–8999. See [`bucket`] and [`Experiment::assign`].

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sha2::Digest;

use crate::diagnostic::{Diagnostic, line_of_offset};
use crate::version::Version;

/// The file that holds the experiments, relative to the project root.
pub const EXPERIMENTS_FILE: &str = "experiments.toml";

/// Buckets a unit can fall in.
pub const BUCKETS: u64 = 10_000;

/// The bucket of `unit` in `experiment`: the first 8 bytes of SHA-256 of
/// `"<experiment>\n<unit>"`, big-endian, modulo [`BUCKETS`].
///
/// ```
/// assert_eq!(ptrack::experiment::bucket("brief_answers", "user-1"), 2251);
/// ```
pub fn bucket(experiment: &str, unit: &str) -> u64 {
    let mut h = sha2::Sha256::new();
    h.update(experiment.as_bytes());
    h.update(b"\n");
    h.update(unit.as_bytes());
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_be_bytes(first) % BUCKETS
}

/// The hex SHA-256 of a unit id (the first 16 hex digits), stored instead of the id when the
/// experiment sets `hash_units = true`.
pub fn unit_hash(unit: &str) -> String {
    let d = sha2::Sha256::digest(unit.as_bytes());
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// What an experiment is decided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// The share of successful runs (higher is better).
    SuccessRate,
    /// The mean quality score of rated runs (higher is better).
    Quality,
    /// The 95th percentile of the execution time (lower is better).
    P95Ms,
    /// The mean cost of a run from `[prices]` (lower is better).
    Cost,
}

impl Metric {
    fn parse(s: &str) -> Option<Metric> {
        Some(match s {
            "success_rate" => Metric::SuccessRate,
            "quality" => Metric::Quality,
            "p95_ms" => Metric::P95Ms,
            "cost" => Metric::Cost,
            _ => return None,
        })
    }

    /// The name used in `experiments.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::SuccessRate => "success_rate",
            Metric::Quality => "quality",
            Metric::P95Ms => "p95_ms",
            Metric::Cost => "cost",
        }
    }

    /// Whether a higher value is better.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::SuccessRate | Metric::Quality)
    }
}

/// One variant: a version and its weight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Variant {
    /// The version served.
    pub version: Version,
    /// Its integer weight.
    pub weight: u32,
}

/// One experiment of `experiments.toml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Experiment {
    /// Its name (the table's name).
    pub name: String,
    /// The prompt.
    pub prompt: String,
    /// The label whose traffic is split.
    pub label: String,
    /// The variants in version order.
    pub variants: Vec<Variant>,
    /// The primary metric.
    pub metric: Metric,
    /// When it starts.
    pub start: DateTime<Utc>,
    /// When it ends (none: open).
    pub end: Option<DateTime<Utc>>,
    /// The smallest difference of the primary metric worth detecting, in its unit (a
    /// fraction for `success_rate`, score points for `quality`, ms for `p95_ms`, money for
    /// `cost`).
    pub min_effect: f64,
    /// Whether runs store a hash of the unit id instead of the id.
    pub hash_units: bool,
    /// Its table's line in `experiments.toml`.
    pub line: usize,
}

impl Experiment {
    /// The variant `unit` gets, and its bucket.
    pub fn assign(&self, unit: &str) -> (&Variant, u64) {
        let b = bucket(&self.name, unit);
        let total: u64 = self.variants.iter().map(|v| u64::from(v.weight)).sum();
        let mut upto = 0u64;
        for v in &self.variants {
            upto += u64::from(v.weight);
            // Bucket b belongs to the first variant whose share ends above it.
            if b * total < upto * BUCKETS {
                return (v, b);
            }
        }
        // Unreachable with a positive total; the last variant keeps the code total.
        (&self.variants[self.variants.len() - 1], b)
    }

    /// Whether it is running at `now`.
    pub fn is_running(&self, now: DateTime<Utc>) -> bool {
        self.start <= now && self.end.is_none_or(|e| now < e)
    }

    /// The variant serving `version`, if any.
    pub fn variant(&self, version: &Version) -> Option<&Variant> {
        self.variants.iter().find(|v| v.version == *version)
    }

    /// Each variant's expected share of units.
    pub fn shares(&self) -> Vec<f64> {
        let total: f64 = self.variants.iter().map(|v| f64::from(v.weight)).sum();
        self.variants
            .iter()
            .map(|v| f64::from(v.weight) / total)
            .collect()
    }
}

/// Every experiment of a project, with what was wrong in `experiments.toml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Experiments {
    /// The valid experiments, by name.
    pub list: Vec<Experiment>,
    /// Errors in `experiments.toml`.
    pub diagnostics: Vec<Diagnostic>,
}

const KEYS: &[&str] = &[
    "prompt",
    "label",
    "variants",
    "metric",
    "start",
    "end",
    "min_effect",
    "hash_units",
];

/// A date (`2026-11-01`, midnight UTC) or an RFC 3339 time.
fn parse_time(v: &toml::Value) -> Option<DateTime<Utc>> {
    let s = match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        _ => return None,
    };
    if let Ok(d) = NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    DateTime::parse_from_rfc3339(&s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl Experiments {
    /// Parse the text of `experiments.toml`; `path` is how diagnostics name it.
    pub fn parse(text: &str, path: &Path) -> Experiments {
        let mut out = Experiments::default();
        let raw: BTreeMap<toml::Spanned<String>, toml::Spanned<toml::Value>> =
            match toml::from_str(text) {
                Ok(r) => r,
                Err(e) => {
                    out.diagnostics.push(Diagnostic::error(
                        path,
                        e.span().map(|s| line_of_offset(text, s.start)),
                        format!("invalid experiments file: {}", e.message()),
                    ));
                    return out;
                }
            };
        for (name, table) in raw {
            let line = line_of_offset(text, name.span().start);
            let name = name.into_inner();
            let mut bad = |m: String| {
                out.diagnostics
                    .push(Diagnostic::error(path, Some(line), format!("[{name}] {m}")));
            };
            if !crate::prompt::is_valid_name(&name) {
                bad("is not a valid experiment name (lowercase letters, digits, `_`, `-`)".into());
                continue;
            }
            let toml::Value::Table(t) = table.into_inner() else {
                bad("must be a table".into());
                continue;
            };
            if let Some(k) = t.keys().find(|k| !KEYS.contains(&k.as_str())) {
                bad(format!("unknown key `{k}`; known: {}", KEYS.join(", ")));
                continue;
            }
            let string = |k: &str| t.get(k).and_then(|v| v.as_str()).map(str::to_string);
            let Some(prompt) = string("prompt").filter(|p| crate::prompt::is_valid_name(p)) else {
                bad("needs `prompt`, a prompt name".into());
                continue;
            };
            let Some(label) =
                string("label").filter(|l| crate::labels::check_label_name(l).is_ok())
            else {
                bad(
                    "needs `label`, the label whose traffic is split (such as \"production\")"
                        .into(),
                );
                continue;
            };
            let Some(toml::Value::Table(vs)) = t.get("variants") else {
                bad("needs `variants`, such as { \"1.1\" = 90, \"1.2\" = 10 }".into());
                continue;
            };
            let mut variants = Vec::new();
            let mut variant_error = None;
            for (v, w) in vs {
                let version = match v.parse::<Version>() {
                    Ok(x) => x,
                    Err(e) => {
                        variant_error = Some(format!("variants: {e}"));
                        break;
                    }
                };
                match w.as_integer() {
                    Some(w) if (1..=1_000_000).contains(&w) => variants.push(Variant {
                        version,
                        weight: w as u32,
                    }),
                    _ => {
                        variant_error = Some(format!(
                            "variants: the weight of {v} must be a whole number from 1 to 1000000"
                        ));
                        break;
                    }
                }
            }
            if let Some(e) = variant_error {
                bad(e);
                continue;
            }
            if variants.len() < 2 {
                bad("needs at least two variants".into());
                continue;
            }
            variants.sort_by(|a, b| a.version.cmp(&b.version));
            if variants.windows(2).any(|w| w[0].version == w[1].version) {
                bad("names the same version twice in `variants`".into());
                continue;
            }
            let metric = match t.get("metric") {
                None => Metric::SuccessRate,
                Some(v) => match v.as_str().and_then(Metric::parse) {
                    Some(m) => m,
                    None => {
                        bad("metric must be success_rate, quality, p95_ms or cost".into());
                        continue;
                    }
                },
            };
            let Some(start) = t.get("start").and_then(parse_time) else {
                bad("needs `start`, a date such as \"2026-11-01\" or an RFC 3339 time".into());
                continue;
            };
            let end = match t.get("end") {
                None => None,
                Some(v) => match parse_time(v) {
                    Some(e) if e > start => Some(e),
                    _ => {
                        bad("end must be a date or time after start".into());
                        continue;
                    }
                },
            };
            let min_effect = match t.get("min_effect") {
                None => None,
                Some(v) => match v.as_float().or_else(|| v.as_integer().map(|i| i as f64)) {
                    Some(x) if x > 0.0 && x.is_finite() => Some(x),
                    _ => {
                        bad("min_effect must be a number > 0".into());
                        continue;
                    }
                },
            };
            let Some(min_effect) = min_effect else {
                bad("needs `min_effect`, the smallest difference worth detecting".into());
                continue;
            };
            let hash_units = match t.get("hash_units") {
                None => false,
                Some(toml::Value::Boolean(b)) => *b,
                Some(_) => {
                    bad("hash_units must be true or false".into());
                    continue;
                }
            };
            out.list.push(Experiment {
                name,
                prompt,
                label,
                variants,
                metric,
                start,
                end,
                min_effect,
                hash_units,
                line,
            });
        }
        out.diagnostics.sort_by_key(|d| d.line);
        out
    }

    /// Read `root/experiments.toml` (missing: no experiments), like every other file of a
    /// cloned project: a regular file inside the project, up to 1 MiB.
    pub fn load(root: &Path) -> Experiments {
        let path = Path::new(EXPERIMENTS_FILE);
        match crate::project::read_project_text(root, path, "experiments.toml") {
            Ok(Some(text)) => Experiments::parse(&text, path),
            Ok(None) => Experiments::default(),
            Err(d) => Experiments {
                diagnostics: vec![d],
                ..Experiments::default()
            },
        }
    }

    /// The experiment called `name`.
    pub fn get(&self, name: &str) -> Option<&Experiment> {
        self.list.iter().find(|e| e.name == name)
    }

    /// The experiment running at `now` on `prompt`'s `label`, if any (the first by name).
    pub fn running_on(&self, prompt: &str, label: &str, now: DateTime<Utc>) -> Option<&Experiment> {
        self.list
            .iter()
            .find(|e| e.prompt == prompt && e.label == label && e.is_running(now))
    }

    /// What `check` says: the file's errors, and experiments whose variants or label name
    /// versions that do not exist, or that overlap another on the same label.
    pub fn check(&self, registry: &crate::project::Registry) -> Vec<Diagnostic> {
        let path = Path::new(EXPERIMENTS_FILE);
        let mut out = self.diagnostics.clone();
        for e in &self.list {
            let Some(p) = registry.get(&e.prompt) else {
                out.push(Diagnostic::error(
                    path,
                    Some(e.line),
                    format!("[{}] there is no prompt `{}`", e.name, e.prompt),
                ));
                continue;
            };
            for v in &e.variants {
                if p.version(&v.version).is_none() {
                    out.push(Diagnostic::error(
                        path,
                        Some(e.line),
                        format!(
                            "[{}] variant {} of `{}` does not exist",
                            e.name, v.version, e.prompt
                        ),
                    ));
                }
            }
            for o in &self.list {
                let overlaps = o.name > e.name
                    && o.prompt == e.prompt
                    && o.label == e.label
                    && o.start < e.end.unwrap_or(DateTime::<Utc>::MAX_UTC)
                    && e.start < o.end.unwrap_or(DateTime::<Utc>::MAX_UTC);
                if overlaps {
                    out.push(Diagnostic::error(
                        path,
                        Some(o.line),
                        format!(
                            "[{}] overlaps [{}] on {}:{}; one label can run one experiment at a time",
                            o.name, e.name, e.prompt, e.label
                        ),
                    ));
                }
            }
        }
        out
    }
}

/// Check and complete the experiment fields of a run object before it is recorded: the
/// `experiment` must exist and be on the run's prompt (`prompt`, else `default_prompt`); a
/// `variant` must be one of its versions and agree with `version` (a run without `version`
/// becomes a run of its variant); `unit` must be a string, and is replaced by `unit_hash` when
/// the experiment hashes units; `label` defaults to the experiment's label. Objects without
/// `experiment` are left alone (but a `variant` or `unit` without one is an error).
pub fn tag_run(
    experiments: &Experiments,
    obj: &mut serde_json::Map<String, serde_json::Value>,
    default_prompt: Option<&str>,
) -> Result<(), String> {
    use serde_json::Value;
    let name = match obj.get("experiment") {
        None => {
            for k in ["variant", "unit"] {
                if obj.contains_key(k) {
                    return Err(format!(
                        "`{k}` needs `experiment`, the experiment it belongs to"
                    ));
                }
            }
            return Ok(());
        }
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(format!("experiment must be a name, got {other}")),
    };
    let Some(e) = experiments.get(&name) else {
        let known: Vec<&str> = experiments.list.iter().map(|e| e.name.as_str()).collect();
        return Err(format!(
            "no experiment named `{name}` in experiments.toml{}",
            if known.is_empty() {
                String::new()
            } else {
                format!(" (experiments: {})", known.join(", "))
            }
        ));
    };
    let prompt = match obj.get("prompt") {
        Some(Value::String(p)) => Some(p.as_str()),
        _ => default_prompt,
    };
    if prompt.is_some_and(|p| p != e.prompt) {
        return Err(format!(
            "experiment `{name}` is on prompt `{}`, not `{}`",
            e.prompt,
            prompt.unwrap_or_default()
        ));
    }
    if prompt.is_none() {
        obj.insert("prompt".into(), Value::String(e.prompt.clone()));
    }
    let as_version = |k: &str| -> Result<Option<Version>, String> {
        match obj.get(k) {
            None => Ok(None),
            Some(Value::String(v)) => v.parse().map(Some).map_err(|e| format!("{k}: {e}")),
            Some(other) => Err(format!("{k} must be a version in quotes, got {other}")),
        }
    };
    let variant = as_version("variant")?;
    let version = as_version("version")?;
    let chosen = match (&variant, &version) {
        (Some(a), Some(b)) if a != b => {
            return Err(format!(
                "variant {a} and version {b} disagree; a run of an experiment is a run of its variant"
            ));
        }
        (Some(v), _) | (None, Some(v)) => v.clone(),
        (None, None) => {
            return Err(format!(
                "a run of experiment `{name}` needs `variant` (or `version`): one of {}",
                e.variants
                    .iter()
                    .map(|v| v.version.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    };
    if e.variant(&chosen).is_none() {
        return Err(format!(
            "{chosen} is not a variant of experiment `{name}` (variants: {})",
            e.variants
                .iter()
                .map(|v| v.version.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    obj.insert("variant".into(), Value::String(chosen.to_string()));
    if version.is_none() {
        obj.insert("version".into(), Value::String(chosen.to_string()));
    }
    match obj.get("label") {
        None => {
            obj.insert("label".into(), Value::String(e.label.clone()));
        }
        Some(Value::String(l)) if *l == e.label => {}
        Some(other) => {
            return Err(format!(
                "label {other} is not the label experiment `{name}` splits (`{}`)",
                e.label
            ));
        }
    }
    match obj.get("unit").cloned() {
        None => {}
        Some(Value::String(u)) if !u.is_empty() && e.hash_units => {
            obj.remove("unit");
            obj.insert("unit_hash".into(), Value::String(unit_hash(&u)));
        }
        Some(Value::String(u)) if !u.is_empty() => {}
        Some(other) => return Err(format!("unit must be a non-empty string, got {other}")),
    }
    Ok(())
}

/// Which version to serve (the `resolve --json` model).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Resolved {
    /// The prompt.
    pub prompt: String,
    /// The label asked for (`latest` when none).
    pub label: String,
    /// The version to serve.
    pub version: Version,
    /// The experiment running on the label, if any.
    pub experiment: Option<String>,
    /// The unit's variant (its version), when an experiment assigned one.
    pub variant: Option<Version>,
    /// The unit's bucket (0–9999), when an experiment assigned one.
    pub bucket: Option<u64>,
    /// The unit as runs should store it (its hash when the experiment hashes units).
    pub unit: Option<String>,
}

impl crate::project::Project {
    /// The experiments in `experiments.toml` (read each time).
    pub fn experiments(&self) -> Experiments {
        Experiments::load(self.root())
    }

    /// The version to serve for `name`'s `label` (None: `latest`) to `unit`: the experiment
    /// running on that label at `now` assigns a variant when a unit is given; else the label's
    /// own version.
    pub fn resolve_for(
        &self,
        name: &str,
        label: Option<&str>,
        unit: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Resolved, crate::project::LookupError> {
        let registry = self.load_prompts();
        let label = label.unwrap_or(crate::labels::LATEST);
        let spec = crate::labels::VersionSpec::Label(label.to_string());
        let version = match self.resolve_spec(&registry, name, Some(&spec))? {
            Some(v) => v,
            None => registry.resolve(name, None)?.version.clone(),
        };
        let experiments = self.experiments();
        let running = experiments.running_on(name, label, now);
        let mut out = Resolved {
            prompt: name.to_string(),
            label: label.to_string(),
            version,
            experiment: running.map(|e| e.name.clone()),
            variant: None,
            bucket: None,
            unit: None,
        };
        if let (Some(e), Some(unit)) = (running, unit) {
            let (v, b) = e.assign(unit);
            // A variant must be a valid version: serve it only then.
            let prompt = registry.find(name)?;
            prompt.resolve(Some(&v.version))?;
            out.version = v.version.clone();
            out.variant = Some(v.version.clone());
            out.bucket = Some(b);
            out.unit = Some(if e.hash_units {
                unit_hash(unit)
            } else {
                unit.to_string()
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
// Reference values are written with all 17 digits the reference script printed.
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;

    fn exp(weights: &[(&str, u32)]) -> Experiment {
        Experiment {
            name: "brief_answers".into(),
            prompt: "p".into(),
            label: "production".into(),
            variants: weights
                .iter()
                .map(|(v, w)| Variant {
                    version: v.parse().expect("version"),
                    weight: *w,
                })
                .collect(),
            metric: Metric::SuccessRate,
            start: DateTime::<Utc>::MIN_UTC,
            end: None,
            min_effect: 0.05,
            hash_units: false,
            line: 1,
        }
    }

    /// The published test vector (README, "Labels and experiments"): `bucket` from an
    /// independent SHA-256 (Python's hashlib) of the same bytes:
    /// `int.from_bytes(hashlib.sha256(b"brief_answers\nuser-1").digest()[:8], "big") % 10000`.
    #[test]
    fn buckets_match_the_published_test_vector() {
        let got: Vec<u64> = ["user-1", "user-2", "user-3", "alice@example.com", ""]
            .iter()
            .map(|u| bucket("brief_answers", u))
            .collect();
        assert_eq!(got, VECTOR);
    }

    const VECTOR: [u64; 5] = [2251, 8020, 4452, 1812, 6818];

    #[test]
    fn assignment_follows_the_weights_within_binomial_bounds() {
        let e = exp(&[("1.1", 90), ("1.2", 10)]);
        let n = 100_000;
        let to_12 = (0..n)
            .filter(|i| e.assign(&format!("unit-{i}")).0.version.as_str() == "1.2")
            .count() as f64;
        // Binomial(100000, 0.1): sd = 94.9; 5 sd either side.
        let sd = (n as f64 * 0.1 * 0.9).sqrt();
        assert!((to_12 - 10_000.0).abs() < 5.0 * sd, "{to_12}");
    }

    #[test]
    fn changing_weights_moves_only_the_units_it_must() {
        let before = exp(&[("1.1", 90), ("1.2", 10)]);
        let after = exp(&[("1.1", 80), ("1.2", 20)]);
        let n = 20_000;
        let mut moved = 0;
        for i in 0..n {
            let u = format!("u{i}");
            let (a, b) = (before.assign(&u).0, after.assign(&u).0);
            if a.version != b.version {
                // Only from 1.1 to 1.2, never back.
                assert_eq!((a.version.as_str(), b.version.as_str()), ("1.1", "1.2"));
                moved += 1;
            }
        }
        // 10% of units must move; binomial bounds again.
        let sd = (n as f64 * 0.1 * 0.9).sqrt();
        assert!((moved as f64 - 2000.0).abs() < 5.0 * sd, "{moved}");
    }

    // Reference values: tests/reference/experiment_reference.py (scipy 1.17.1,
    // statsmodels 0.15.0), each naming its call.

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn the_sample_ratio_check_equals_scipy_chisquare() {
        // scipy.stats.chisquare([8840, 1160], f_exp=[0.9, 0.1]*10000)
        let s = sample_ratio(&[8840, 1160], &[0.9, 0.1]).expect("srm");
        assert!(close(s.chi2, 28.444444444444446, 1e-12), "{s:?}");
        assert!(close(s.p_value, 9.6426067302282287e-08, 1e-6), "{s:?}");
        assert!(s.mismatch);
        // scipy.stats.chisquare([510, 290, 200], f_exp=[0.5, 0.3, 0.2]*1000)
        let s = sample_ratio(&[510, 290, 200], &[0.5, 0.3, 0.2]).expect("srm");
        assert!(close(s.chi2, 0.53333333333333333, 1e-12), "{s:?}");
        assert!(close(s.p_value, 0.76592833836464869, 1e-9), "{s:?}");
        assert_eq!(s.df, 2);
        assert!(!s.mismatch);
        let s = sample_ratio(&[9000, 1000], &[0.9, 0.1]).expect("srm");
        assert_eq!((s.chi2, s.p_value), (0.0, 1.0));
        assert!(sample_ratio(&[0, 0], &[0.5, 0.5]).is_none());
    }

    #[test]
    fn sample_sizes_match_statsmodels_normal_ind_power() {
        // NormalIndPower().solve_power(proportion_effectsize(p2, p1), alpha, power=0.8,
        // ratio=1) = 902.341…, 1564.529…, 513.142…: the closed form leaves out the far tail
        // (under 0.01 run), and a sample size is the next whole run.
        assert_eq!(runs_for_rates(0.80, 0.85, 0.05, 0.8), Some(903));
        assert_eq!(runs_for_rates(0.5, 0.55, 0.05, 0.8), Some(1565));
        assert_eq!(runs_for_rates(0.9, 0.95, 0.025, 0.8), Some(514));
        // NormalIndPower().solve_power(0.5/2.0, alpha=0.05, power=0.8, ratio=1) = 251.16…
        assert_eq!(runs_for_means(2.0, 0.5, 0.05, 0.8), Some(252));
        assert_eq!(runs_for_means(120.0, 30.0, 0.05, 0.8), Some(252));
        assert_eq!(runs_for_rates(0.5, 0.5, 0.05, 0.8), None);
    }

    #[test]
    fn intervals_match_statsmodels_and_scipy() {
        // proportion_confint(k, n, alpha=0.05, method='wilson')
        for (k, n, lo, hi) in [
            (42, 50, 0.71485783936964986, 0.91662579321966575),
            (0, 10, 0.0, 0.27753279986288926),
            (990, 1000, 0.9816905311296853, 0.99455924555447073),
        ] {
            let i = wilson(k, n).expect("interval");
            assert!(
                (i.low - lo).abs() < 1e-9 && (i.high - hi).abs() < 1e-9,
                "{k}/{n}: {i:?}"
            );
        }
        // scipy.stats.t.interval(0.95, 6, loc=mean(xs), scale=sem(xs))
        let i = mean_interval(&[7.0, 8.0, 6.0, 9.0, 7.0, 8.0, 5.0]).expect("interval");
        assert!((i.low - 5.8987681280715369).abs() < 1e-9, "{i:?}");
        assert!((i.high - 8.3869461576427486).abs() < 1e-9, "{i:?}");
    }

    #[test]
    fn bad_experiments_are_errors_naming_their_line() {
        let text = "[ok]\nprompt = \"p\"\nlabel = \"production\"\nvariants = { \"1.0\" = 1, \"1.1\" = 1 }\nstart = \"2026-11-01\"\nmin_effect = 0.1\n\n[bad]\nprompt = \"p\"\nlabel = \"production\"\nvariants = { \"1.0\" = 1 }\nstart = \"2026-11-01\"\nmin_effect = 0.1\n\n[typo]\nprompt = \"p\"\nlable = \"x\"\n";
        let e = Experiments::parse(text, Path::new(EXPERIMENTS_FILE));
        assert_eq!(e.list.len(), 1);
        assert_eq!(e.list[0].name, "ok");
        assert_eq!(e.list[0].metric, Metric::SuccessRate);
        let d: Vec<String> = e.diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(
            d[0].starts_with("experiments.toml:8: [bad] needs at least two variants"),
            "{d:?}"
        );
        assert!(
            d[1].starts_with("experiments.toml:15: [typo] unknown key `lable`"),
            "{d:?}"
        );
    }
}

pub use analysis::*;

/// `ptrack experiment`: per-variant figures, the test against the control, the sample-ratio
/// check, the sample size still needed and a verdict.
mod analysis {
    use std::collections::{BTreeSet, HashMap};

    use chrono::{DateTime, Utc};
    use serde::Serialize;
    use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};

    use super::{Experiment, Metric};
    use crate::runlog::{Event, Metrics, RunFacts, RunFilter};
    use crate::version::Version;

    /// Significance level of the test against the control (Bonferroni-divided by the number
    /// of treatments).
    pub const ALPHA: f64 = 0.05;
    /// Power the sample size is planned for.
    pub const POWER: f64 = 0.8;
    /// Below this p-value the observed split of units contradicts the weights.
    pub const SRM_ALPHA: f64 = 0.001;

    /// A 95% confidence interval.
    #[derive(Debug, Clone, Copy, PartialEq, Serialize)]
    #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
    pub struct Interval {
        /// Lower bound.
        pub low: f64,
        /// Upper bound.
        pub high: f64,
    }

    /// The test of one variant against the control.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
    pub struct VersusControl {
        /// Variant minus control, in the primary metric's unit.
        pub difference: f64,
        /// Two-sided p-value.
        pub p_value: f64,
        /// The test: `fisher_exact`, `two_proportion_z` or `welch_t`.
        pub method: String,
        /// Whether p is below the (Bonferroni-corrected) level.
        pub significant: bool,
    }

    /// One variant's figures.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
    pub struct VariantReport {
        /// The version.
        pub version: Version,
        /// Its weight.
        pub weight: u32,
        /// The share of units the weights promise.
        pub expected_share: f64,
        /// Distinct units seen.
        pub units: usize,
        /// Whether this is the control (the version the label names, else the heaviest).
        pub control: bool,
        /// Every figure of its runs.
        pub metrics: Metrics,
        /// The primary metric.
        pub primary: Option<f64>,
        /// Its 95% confidence interval (Wilson for a rate, Student's t for a mean; none for
        /// p95).
        pub primary_ci: Option<Interval>,
        /// Secondary figures with their 95% intervals: the success rate (Wilson) and the
        /// mean quality of rated runs (Student's t), whatever the primary metric.
        pub success_rate_ci: Option<Interval>,
        /// See `success_rate_ci`.
        pub quality_ci: Option<Interval>,
        /// Against the control (none for the control itself).
        pub versus_control: Option<VersusControl>,
    }

    /// The sample-ratio-mismatch check: a chi-square goodness of fit of the units per variant
    /// against the weights.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
    pub struct SampleRatio {
        /// The chi-square statistic.
        pub chi2: f64,
        /// Degrees of freedom (variants − 1).
        pub df: usize,
        /// Its p-value.
        pub p_value: f64,
        /// Whether p < 0.001: assignment or logging is broken, and no figure can be trusted.
        pub mismatch: bool,
    }

    /// What to do.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
    #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
    #[serde(rename_all = "snake_case")]
    pub enum Decision {
        /// Too few runs for the planned sample size.
        KeepRunning,
        /// A variant is significantly better on the primary metric.
        Ship,
        /// No variant is better by the effect worth having (or one is worse).
        Stop,
        /// The sample ratio does not match the weights.
        Broken,
    }

    /// The `experiment NAME --json` model.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
    pub struct ExperimentReport {
        /// The experiment as configured.
        pub experiment: Experiment,
        /// `not_started`, `running` or `ended`.
        pub status: String,
        /// Every variant, in version order.
        pub variants: Vec<VariantReport>,
        /// The sample-ratio check (none without units).
        pub sample_ratio: Option<SampleRatio>,
        /// Runs each variant needs to detect `min_effect` with 80% power at the corrected level.
        pub required_runs: Option<usize>,
        /// How peeking is handled.
        pub method: String,
        /// What to do.
        pub decision: Decision,
        /// The variant to ship, with `ship`.
        pub ship: Option<Version>,
        /// The decision in words.
        pub verdict: String,
    }

    fn z(p: f64) -> f64 {
        Normal::standard().inverse_cdf(p)
    }

    /// Wilson's 95% interval for `k` successes in `n` (statsmodels
    /// `proportion_confint(k, n, alpha=0.05, method="wilson")`).
    pub fn wilson(k: usize, n: usize) -> Option<Interval> {
        if n == 0 {
            return None;
        }
        let (k, n) = (k as f64, n as f64);
        let z = z(0.975);
        let p = k / n;
        let denom = 1.0 + z * z / n;
        let center = (p + z * z / (2.0 * n)) / denom;
        let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
        Some(Interval {
            low: (center - half).max(0.0),
            high: (center + half).min(1.0),
        })
    }

    /// Student's t 95% interval of the mean (scipy `stats.t.interval(0.95, n-1, loc=mean,
    /// scale=stats.sem(xs))`).
    pub fn mean_interval(xs: &[f64]) -> Option<Interval> {
        let n = xs.len();
        if n < 2 {
            return None;
        }
        let mean = crate::stats::mean(xs)?;
        let sd = crate::stats::sample_std(xs)?;
        let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
            .ok()?
            .inverse_cdf(0.975);
        let half = t * sd / (n as f64).sqrt();
        Some(Interval {
            low: mean - half,
            high: mean + half,
        })
    }

    /// Chi-square goodness of fit of `observed` against `shares` (scipy
    /// `stats.chisquare(observed, f_exp=shares * sum(observed))`).
    pub fn sample_ratio(observed: &[usize], shares: &[f64]) -> Option<SampleRatio> {
        let total: usize = observed.iter().sum();
        if total == 0 || observed.len() < 2 || observed.len() != shares.len() {
            return None;
        }
        let chi2: f64 = observed
            .iter()
            .zip(shares)
            .map(|(&o, &s)| {
                let e = s * total as f64;
                (o as f64 - e).powi(2) / e
            })
            .sum();
        let df = observed.len() - 1;
        let p_value = 1.0 - ChiSquared::new(df as f64).ok()?.cdf(chi2);
        Some(SampleRatio {
            chi2,
            df,
            p_value,
            mismatch: p_value < SRM_ALPHA,
        })
    }

    /// Runs per group to detect a change of a rate from `p1` to `p2` with a two-sided test at
    /// `alpha` and power `power`, by Cohen's h (statsmodels
    /// `NormalIndPower().solve_power(proportion_effectsize(p2, p1), alpha=alpha, power=power,
    /// ratio=1)`, whose lower tail adds less than a run).
    pub fn runs_for_rates(p1: f64, p2: f64, alpha: f64, power: f64) -> Option<usize> {
        let h = (2.0 * p2.sqrt().asin() - 2.0 * p1.sqrt().asin()).abs();
        if h <= 0.0 || !h.is_finite() {
            return None;
        }
        let n = 2.0 * ((z(1.0 - alpha / 2.0) + z(power)) / h).powi(2);
        Some(n.ceil() as usize)
    }

    /// Runs per group to detect a change `delta` of a mean with standard deviation `sd`
    /// (the normal approximation: `2 ((z_{1-α/2} + z_{power}) sd / delta)²`).
    pub fn runs_for_means(sd: f64, delta: f64, alpha: f64, power: f64) -> Option<usize> {
        if delta <= 0.0 || sd <= 0.0 || !sd.is_finite() {
            return None;
        }
        let n = 2.0 * ((z(1.0 - alpha / 2.0) + z(power)) * sd / delta).powi(2);
        Some(n.ceil() as usize)
    }

    /// The values of the primary metric, run by run (rates: 1 or 0; quality: rated runs only).
    fn values(
        metric: Metric,
        runs: &[&RunFacts],
        cost: &dyn Fn(&RunFacts) -> Option<f64>,
    ) -> Vec<f64> {
        match metric {
            Metric::SuccessRate => runs
                .iter()
                .map(|r| if r.success { 1.0 } else { 0.0 })
                .collect(),
            Metric::Quality => runs.iter().filter_map(|r| r.quality_score).collect(),
            Metric::P95Ms => runs.iter().map(|r| r.execution_time_ms).collect(),
            Metric::Cost => runs.iter().filter_map(|r| cost(r)).collect(),
        }
    }

    impl crate::project::Project {
        /// The analysis of experiment `name` at `now`.
        pub fn experiment_report(
            &self,
            name: &str,
            now: DateTime<Utc>,
        ) -> Result<ExperimentReport, ExperimentError> {
            let experiments = self.experiments();
            let Some(e) = experiments.get(name).cloned() else {
                if !experiments.diagnostics.is_empty() {
                    return Err(ExperimentError::Invalid(experiments.diagnostics));
                }
                return Err(ExperimentError::NoExperiment {
                    name: name.to_string(),
                    known: experiments.list.iter().map(|e| e.name.clone()).collect(),
                });
            };
            let filter = RunFilter {
                prompt: Some(e.prompt.clone()),
                ..RunFilter::default()
            };
            // Which runs belong to the experiment, and their units: read from the lines.
            let mut tagged: HashMap<String, String> = HashMap::new();
            crate::runlog::scan(
                &self.runs_dir(),
                std::path::Path::new("runs"),
                &filter,
                |_, _, line, ev| {
                    if let Event::Run(r) = ev
                        && line.contains("\"experiment\"")
                        && let Ok(v) = serde_json::from_str::<serde_json::Value>(line)
                        && v["experiment"].as_str() == Some(name)
                    {
                        let unit = v["unit"]
                            .as_str()
                            .or_else(|| v["unit_hash"].as_str())
                            .unwrap_or(r.id.as_str())
                            .to_string();
                        tagged.insert(r.id, unit);
                    }
                },
            );
            let runs = self.runs(&filter);
            let config = self.config();
            let cost = |r: &RunFacts| -> Option<f64> {
                let model = r.model.as_deref()?;
                let price = config.price_of(model)?;
                Some(price.cost(r.prompt_tokens?, r.completion_tokens?))
            };
            let label_version = self
                .labels()
                .get(&e.prompt, &e.label)
                .map(|l| l.version.clone());
            let control_idx = e
                .variants
                .iter()
                .position(|v| Some(&v.version) == label_version.as_ref())
                .unwrap_or_else(|| {
                    // The heaviest variant (the first of equals).
                    let max = e.variants.iter().map(|v| v.weight).max().unwrap_or(0);
                    e.variants.iter().position(|v| v.weight == max).unwrap_or(0)
                });
            let mut per: Vec<Vec<&RunFacts>> = vec![Vec::new(); e.variants.len()];
            let mut units: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); e.variants.len()];
            for r in &runs.runs {
                let Some(unit) = tagged.get(&r.id) else {
                    continue;
                };
                let Ok(v) = r.version.parse::<Version>() else {
                    continue;
                };
                if let Some(i) = e.variants.iter().position(|x| x.version == v) {
                    per[i].push(r);
                    units[i].insert(unit.as_str());
                }
            }
            let shares = e.shares();
            let treatments = e.variants.len().saturating_sub(1).max(1);
            let level = ALPHA / treatments as f64;
            let control_values = values(e.metric, &per[control_idx], &cost);
            let mut reports = Vec::new();
            for (i, v) in e.variants.iter().enumerate() {
                let mut metrics = Metrics::compute(per[i].iter().copied());
                metrics.price(config);
                let vals = values(e.metric, &per[i], &cost);
                let (primary, primary_ci) = match e.metric {
                    Metric::SuccessRate => (
                        metrics.success_rate,
                        wilson(metrics.successes, metrics.runs),
                    ),
                    Metric::Quality | Metric::Cost => {
                        (crate::stats::mean(&vals), mean_interval(&vals))
                    }
                    Metric::P95Ms => (metrics.time_ms.as_ref().map(|t| t.p95), None),
                };
                let versus_control = (i != control_idx)
                    .then(|| {
                        let control_primary =
                            reports_primary(e.metric, &per[control_idx], &control_values)?;
                        let mine = primary?;
                        let (p_value, method) = match e.metric {
                            Metric::SuccessRate => {
                                let c = &per[control_idx];
                                let t = crate::stats::compare_proportions(
                                    metrics.successes as u64,
                                    metrics.runs as u64,
                                    c.iter().filter(|r| r.success).count() as u64,
                                    c.len() as u64,
                                )?;
                                (t.p_value, format!("{:?}", t.method))
                            }
                            _ => {
                                let t = crate::stats::welch_t_test(&vals, &control_values)?;
                                (t.p_value, t.method.to_string())
                            }
                        };
                        Some(VersusControl {
                            difference: mine - control_primary,
                            p_value,
                            method: snake(&method),
                            significant: p_value < level,
                        })
                    })
                    .flatten();
                let success_ci = wilson(metrics.successes, metrics.runs);
                reports.push(VariantReport {
                    version: v.version.clone(),
                    weight: v.weight,
                    expected_share: shares[i],
                    units: units[i].len(),
                    control: i == control_idx,
                    metrics,
                    primary,
                    primary_ci,
                    success_rate_ci: success_ci,
                    quality_ci: mean_interval(
                        &per[i]
                            .iter()
                            .filter_map(|r| r.quality_score)
                            .collect::<Vec<_>>(),
                    ),
                    versus_control,
                });
            }
            let observed: Vec<usize> = units.iter().map(BTreeSet::len).collect();
            let sample_ratio = sample_ratio(&observed, &shares);
            let required_runs = match e.metric {
                Metric::SuccessRate => {
                    let p1 = reports[control_idx].primary.unwrap_or(0.5);
                    let p2 = if p1 + e.min_effect <= 1.0 {
                        p1 + e.min_effect
                    } else {
                        p1 - e.min_effect
                    };
                    runs_for_rates(p1, p2.clamp(0.0, 1.0), level, POWER)
                }
                _ => crate::stats::sample_std(&control_values)
                    .and_then(|sd| runs_for_means(sd, e.min_effect, level, POWER)),
            };
            let status = if now < e.start {
                "not_started"
            } else if e.end.is_some_and(|end| now >= end) {
                "ended"
            } else {
                "running"
            };
            let method = format!(
                "fixed horizon: no verdict before every variant has the planned {} runs, so looking early cannot inflate false positives; each variant is tested against the control at α = {:.3} (0.05 Bonferroni-divided by {treatments})",
                required_runs.map_or("number of".to_string(), |n| n.to_string()),
                level
            );
            let smallest = reports.iter().map(|r| r.metrics.runs).min().unwrap_or(0);
            let better = |r: &VariantReport| {
                r.versus_control.as_ref().is_some_and(|t| {
                    t.significant
                        && (t.difference > 0.0) == e.metric.higher_is_better()
                        && t.difference != 0.0
                })
            };
            let (decision, ship, verdict) = if sample_ratio.as_ref().is_some_and(|s| s.mismatch) {
                let s = sample_ratio.as_ref().map_or(0.0, |s| s.p_value);
                (
                    Decision::Broken,
                    None,
                    format!(
                        "SAMPLE RATIO MISMATCH: the units per variant ({}) do not match the weights (chi-square p = {s:.2e} < 0.001); assignment or logging is broken, so no figure here can be trusted. Fix it and start again.",
                        observed
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(" / ")
                    ),
                )
            } else if required_runs.is_none_or(|n| smallest < n) {
                (
                    Decision::KeepRunning,
                    None,
                    match required_runs {
                        Some(n) => format!(
                            "keep running: the smallest variant has {smallest} of the {n} runs planned to detect {} of {}",
                            e.min_effect,
                            e.metric.as_str()
                        ),
                        None => format!(
                            "keep running: too few runs to plan the sample size yet ({smallest} in the smallest variant)"
                        ),
                    },
                )
            } else if let Some(best) = reports.iter().filter(|r| better(r)).max_by(|a, b| {
                let d = |r: &VariantReport| {
                    r.versus_control
                        .as_ref()
                        .map_or(0.0, |t| t.difference.abs())
                };
                d(a).total_cmp(&d(b))
            }) {
                (
                    Decision::Ship,
                    Some(best.version.clone()),
                    format!(
                        "ship {}: {} is better than the control {} (p {})",
                        best.version,
                        e.metric.as_str(),
                        e.variants[control_idx].version,
                        match best.versus_control.as_ref().map_or(1.0, |t| t.p_value) {
                            p if p < 0.001 => "< 0.001".to_string(),
                            p => format!("= {p:.3}"),
                        }
                    ),
                )
            } else {
                (
                    Decision::Stop,
                    None,
                    format!(
                        "stop: no variant beats the control {} by a significant difference of {} at the planned sample size",
                        e.variants[control_idx].version,
                        e.metric.as_str()
                    ),
                )
            };
            Ok(ExperimentReport {
                experiment: e,
                status: status.to_string(),
                variants: reports,
                sample_ratio,
                required_runs,
                method,
                decision,
                ship,
                verdict,
            })
        }
    }

    fn reports_primary(metric: Metric, runs: &[&RunFacts], values: &[f64]) -> Option<f64> {
        match metric {
            Metric::SuccessRate | Metric::Quality | Metric::Cost => crate::stats::mean(values),
            Metric::P95Ms => Metrics::compute(runs.iter().copied())
                .time_ms
                .map(|t| t.p95),
        }
    }

    fn snake(method: &str) -> String {
        match method {
            "FisherExact" => "fisher_exact".to_string(),
            "TwoProportionZ" | "ZTest" => "two_proportion_z".to_string(),
            other => other.to_string(),
        }
    }

    /// Why an experiment could not be analysed.
    #[derive(Debug, thiserror::Error)]
    pub enum ExperimentError {
        /// No experiment has this name.
        #[error("no experiment named `{name}`")]
        NoExperiment {
            /// The name given.
            name: String,
            /// The experiments there are.
            known: Vec<String>,
        },
        /// `experiments.toml` has errors.
        #[error("experiments.toml has errors:\n{}", .0.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n"))]
        Invalid(Vec<crate::diagnostic::Diagnostic>),
    }
}
