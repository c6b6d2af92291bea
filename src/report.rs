//! The pull request report: what changed in the prompts between a base and a head, whether
//! it got better or worse (with the significance tests of `compare`), warnings, and gates.
//!
//! [`build`] turns two registries (base and head) and the runs into a [`Report`]; the
//! renderers write it as Markdown (what CI posts on a pull request) or plain text. Output is
//! deterministic: prompts and versions in sorted order, no clock read except the given `now`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::config::Gates;
use crate::diagnostic::Diagnostic;
use crate::diff::{VersionDiff, diff_versions};
use crate::eval::paired::PairedSummary;
use crate::format::{TimeUnit, ms, p_value, pct, quality, signed, times};
use crate::metrics::{
    Bucket, Comparison, ComparisonView, Metrics, TrendRow, compare, group_runs, trends,
};
use crate::project::{Prompt, Registry};
use crate::prompt::PromptVersion;
use crate::runlog::RunFacts;
use crate::stats::ProportionMethod;
use crate::version::Version;

/// What a report is made from.
pub struct ReportInput<'a> {
    /// How the base is named, e.g. "main (merge base a1b2c3d)"; None for a report of the
    /// current state only.
    pub base_label: Option<String>,
    /// The prompts at the base.
    pub base: Option<&'a Registry>,
    /// How the head is named, e.g. "working tree".
    pub head_label: String,
    /// The prompts at the head.
    pub head: &'a Registry,
    /// Every run (from the working tree's logs).
    pub runs: &'a [RunFacts],
    /// Gates to apply.
    pub gates: &'a Gates,
    /// "Now", for the trend window.
    pub now: DateTime<Utc>,
    /// Recorded eval batches (oldest first); each changed version shows the latest whose
    /// base and head texts are the ones being reported.
    pub evals: &'a [PairedSummary],
    /// The settings whose `[prices]` price the runs.
    pub config: &'a crate::config::Config,
    /// The labels at the base (None without a base).
    pub base_labels: Option<&'a crate::labels::Labels>,
    /// The labels at the head.
    pub head_labels: &'a crate::labels::Labels,
}

/// A running experiment that a pull request touches.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ExperimentNote {
    /// The experiment.
    pub name: String,
    /// Its prompt.
    pub prompt: String,
    /// The label it splits.
    pub label: String,
    /// Why it is listed: `prompt changed`, `label moved`, `experiment changed`, `new`.
    pub touched: String,
    /// What its analysis says now.
    pub decision: Option<crate::experiment::Decision>,
    /// The analysis in words.
    pub verdict: String,
}

/// A label that names another version at the head than at the base (`production: 1.1 → 1.2`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LabelMoveView {
    /// Prompt name.
    pub prompt: String,
    /// The label.
    pub label: String,
    /// The version it named at the base; none when the label is new.
    pub from: Option<Version>,
    /// The version it names at the head; none when the label was removed.
    pub to: Option<Version>,
    /// The runs of `from`.
    pub from_metrics: Option<Metrics>,
    /// The runs of `to`.
    pub to_metrics: Option<Metrics>,
    /// The latest paired eval of `from` (base side) against `to` (head side), when there is one.
    pub eval: Option<PairedSummary>,
}

/// How a prompt changed between base and head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// The prompt is new.
    Added,
    /// Versions were added, edited or removed.
    Modified,
    /// The prompt is gone.
    Removed,
    /// Nothing changed.
    Unchanged,
    /// No base to compare with (a report of the current state).
    Current,
}

/// One row of the summary table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SummaryRow {
    /// Prompt name.
    pub prompt: String,
    /// Latest version at the head.
    pub latest: Option<Version>,
    /// Runs of the latest version.
    pub runs: usize,
    /// Success rate of the latest version.
    pub success_rate: Option<f64>,
    /// p95 time of the latest version, ms.
    pub p95_ms: Option<f64>,
    /// Mean quality of the latest version.
    pub quality_mean: Option<f64>,
    /// Rated runs of the latest version.
    pub quality_n: usize,
    /// How it changed.
    pub change: Change,
    /// The change in words, e.g. "1.2 added".
    pub change_text: String,
}

/// The section of one changed prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PromptSection {
    /// Prompt name.
    pub prompt: String,
    /// How it changed.
    pub change: Change,
    /// Versions new at the head.
    pub added: Vec<Version>,
    /// Versions whose file differs between base and head.
    pub modified: Vec<Version>,
    /// Versions gone at the head.
    pub removed: Vec<Version>,
    /// Parameter and text changes.
    pub diffs: Vec<VersionDiff>,
    /// Each added or modified version against its predecessor.
    pub comparisons: Vec<ComparisonView>,
    /// Weekly trend of the prompt's runs, last 8 weeks, weeks with runs only.
    pub trend: Vec<TrendRow>,
    /// The same weeks per version: one row per week and version with runs, by week, then version.
    pub trend_by_version: Vec<TrendRow>,
    /// For each changed version, the latest paired eval of exactly these texts.
    pub evals: Vec<PairedSummary>,
}

/// What a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// A version file with runs was edited instead of getting a new version.
    InPlaceEdit,
    /// A version has no goal.
    MissingGoal,
    /// A prompt file is invalid.
    InvalidFile,
}

/// A warning for the reviewer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Warning {
    /// What kind.
    pub kind: WarningKind,
    /// The prompt, when known.
    pub prompt: Option<String>,
    /// The version, when known.
    pub version: Option<String>,
    /// For an in-place edit: the runs recorded against the old text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// The outcome of one gate on one version.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GateResult {
    /// The gate's key in `[report]`.
    pub gate: String,
    /// Prompt.
    pub prompt: String,
    /// Version.
    pub version: Option<String>,
    /// Whether it held. A gate that was not checked holds unless `require_checked` is set.
    pub passed: bool,
    /// Whether it could not be checked (too few runs, no data): "not checked", never a pass.
    pub skipped: bool,
    /// The figures, e.g. "success 84.0% < 90.0%".
    pub detail: String,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Report {
    /// The base, when there is one.
    pub base: Option<String>,
    /// The head.
    pub head: String,
    /// Every prompt at the head (and removed ones).
    pub summary: Vec<SummaryRow>,
    /// Changed prompts (every prompt when there is no base).
    pub sections: Vec<PromptSection>,
    /// Labels that moved between base and head.
    pub label_moves: Vec<LabelMoveView>,
    /// Running experiments the pull request touches (their prompt, label or definition).
    pub experiments: Vec<ExperimentNote>,
    /// Warnings.
    pub warnings: Vec<Warning>,
    /// Gate outcomes.
    pub gates: Vec<GateResult>,
    /// Whether every gate held.
    pub passed: bool,
}

/// Build the report.
pub fn build(input: &ReportInput<'_>) -> Report {
    let by_version = group_runs(input.runs);
    let empty_runs = BTreeMap::new();
    let empty_prompt = |name: &str| Prompt {
        name: name.to_string(),
        versions: Vec::new(),
        invalid: Vec::new(),
    };
    let names: BTreeSet<&String> = input
        .head
        .prompts
        .keys()
        .chain(input.base.iter().flat_map(|b| b.prompts.keys()))
        .collect();
    let mut summary = Vec::new();
    let mut sections = Vec::new();
    let mut warnings = input
        .base
        .map(|b| in_place_edits(b, input.head, input.runs))
        .unwrap_or_default();
    let mut gates = Vec::new();
    let min_runs = input.gates.min_runs.unwrap_or(1);
    // With nothing changed since the base, the sections show the current state instead.
    let nothing_changed = input.base.is_some_and(|b| {
        names.iter().all(|n| match (b.get(n), input.head.get(n)) {
            (Some(x), Some(y)) => {
                x.versions.len() == y.versions.len()
                    && x.invalid.len() == y.invalid.len()
                    && x.invalid.iter().zip(&y.invalid).all(|(a, b)| a == b)
                    && x.versions
                        .iter()
                        .zip(&y.versions)
                        .all(|(a, b)| a.version == b.version && a.blob_sha == b.blob_sha)
            }
            _ => false,
        })
    });
    for name in names {
        let head = input
            .head
            .get(name)
            .cloned()
            .unwrap_or_else(|| empty_prompt(name));
        let base = input
            .base
            .map(|b| b.get(name).cloned().unwrap_or_else(|| empty_prompt(name)));
        let runs = by_version.get(name.as_str()).unwrap_or(&empty_runs);
        let metrics_of = |v: &Version| Metrics::compute(runs.get(v).into_iter().flatten().copied());
        let (mut added, mut modified, mut removed) = (Vec::new(), Vec::new(), Vec::new());
        if let Some(base) = &base {
            for v in &head.versions {
                match base.version(&v.version) {
                    None => added.push(v.version.clone()),
                    Some(b) if b.blob_sha != v.blob_sha => modified.push(v.version.clone()),
                    Some(_) => {}
                }
            }
            for v in &head.invalid {
                if base.version(&v.version).is_none() && base.invalid_version(&v.version).is_none()
                {
                    added.push(v.version.clone());
                }
            }
            added.sort();
            for b in &base.versions {
                // A version whose file now has errors is still there: the note below says so.
                if head.version(&b.version).is_none() && head.invalid_version(&b.version).is_none()
                {
                    removed.push(b.version.clone());
                }
            }
        }
        let change = match &base {
            None => Change::Current,
            Some(b)
                if b.versions.is_empty()
                    && b.invalid.is_empty()
                    && !(head.versions.is_empty() && head.invalid.is_empty()) =>
            {
                Change::Added
            }
            Some(_) if head.versions.is_empty() && head.invalid.is_empty() => Change::Removed,
            Some(_) if added.is_empty() && modified.is_empty() && removed.is_empty() => {
                Change::Unchanged
            }
            Some(_) => Change::Modified,
        };
        let latest = head.latest();
        // "Latest" is the highest version file, even when that file has errors.
        let latest_version = head.all_versions().last().cloned();
        let lm = latest_version.as_ref().map(metrics_of);
        let change_text = match change {
            Change::Current => "—".to_string(),
            Change::Unchanged => "unchanged".to_string(),
            Change::Added if head.versions.len() == 1 => "new prompt".to_string(),
            _ => {
                let mut parts = Vec::new();
                for (label, list) in [
                    ("added", &added),
                    ("edited", &modified),
                    ("removed", &removed),
                ] {
                    if !list.is_empty() {
                        let vs: Vec<String> = list.iter().map(ToString::to_string).collect();
                        parts.push(format!("{} {label}", vs.join(", ")));
                    }
                }
                parts.join("; ")
            }
        };
        // An invalid file is not in the registry, so it would otherwise read as "unchanged".
        let invalid: Vec<String> = input
            .head
            .diagnostics
            .iter()
            .filter(|d| d.is_error() && prompt_of(d).as_deref() == Some(name.as_str()))
            .filter_map(|d| d.path.file_name().map(|f| f.to_string_lossy().into_owned()))
            .collect();
        let change_text = if invalid.is_empty() {
            change_text
        } else {
            let note = format!("invalid: {}", invalid.join(", "));
            if matches!(change, Change::Unchanged | Change::Current) {
                note
            } else {
                format!("{change_text}; {note}")
            }
        };
        summary.push(SummaryRow {
            prompt: name.clone(),
            latest: latest_version.clone(),
            runs: lm.as_ref().map_or(0, |m| m.runs),
            success_rate: lm.as_ref().and_then(|m| m.success_rate),
            p95_ms: lm.as_ref().and_then(|m| m.time_ms.map(|t| t.p95)),
            quality_mean: lm.as_ref().and_then(|m| m.quality_mean),
            quality_n: lm.as_ref().map_or(0, |m| m.quality_n),
            change,
            change_text,
        });
        if change == Change::Unchanged && !nothing_changed {
            continue;
        }
        let change = if nothing_changed {
            Change::Current
        } else {
            change
        };
        // The versions this section is about: changed ones, or the latest for a current-state report.
        let focus: Vec<&PromptVersion> = match change {
            Change::Current => latest.into_iter().collect(),
            _ => head
                .versions
                .iter()
                .filter(|v| added.contains(&v.version) || modified.contains(&v.version))
                .collect(),
        };
        let mut diffs = Vec::new();
        let mut comparisons = Vec::new();
        let mut evals: Vec<PairedSummary> = Vec::new();
        for v in &focus {
            // The text a reviewer compares with: the same version at the base when it was
            // edited in place, else the latest version at the base.
            let counterpart = base
                .as_ref()
                .and_then(|b| b.version(&v.version).or_else(move || b.latest()));
            if let Some(old) = counterpart
                && let Some(e) = input.evals.iter().rev().find(|e| {
                    e.prompt == *name
                        && e.base.prompt_sha == old.blob_sha
                        && e.head.prompt_sha == v.blob_sha
                })
            {
                let mut e = e.clone();
                e.outcomes.clear();
                gates.extend(eval_gates(input.gates, name, v.version.as_str(), &e));
                evals.push(e);
            }
            let label = |p: &PromptVersion, side: &str| format!("{} {}{side}", p.name, p.version);
            let predecessor = head.versions.iter().rev().find(|p| p.version < v.version);
            if modified.contains(&v.version) {
                if let Some(old) = base.as_ref().and_then(|b| b.version(&v.version)) {
                    diffs.push(diff_versions(old, &label(old, " (base)"), v, &label(v, "")));
                }
            } else if let Some(p) = predecessor
                && (change != Change::Current || input.base.is_none())
            {
                diffs.push(diff_versions(p, &label(p, ""), v, &label(v, "")));
            } else if change != Change::Current {
                let blank = PromptVersion {
                    text: String::new(),
                    meta: Default::default(),
                    messages: Vec::new(),
                    ..(*v).clone()
                };
                diffs.push(diff_versions(&blank, "(none)", v, &label(v, "")));
            }
            let mut time_p = None;
            if let Some(p) = predecessor {
                let a = runs.get(&p.version).map(Vec::as_slice).unwrap_or(&[]);
                let b = runs.get(&v.version).map(Vec::as_slice).unwrap_or(&[]);
                let c = compare(name, (&p.version, a), (&v.version, b)).priced(input.config);
                time_p = c.time_test.as_ref().map(|t| t.p_value);
                if let Some(max) = input.gates.max_cost_increase_pct {
                    gates.push(cost_gate(max, name, v, &c));
                }
                comparisons.push(ComparisonView::from(c));
            }
            if v.meta.goal.is_none() {
                warnings.push(Warning {
                    kind: WarningKind::MissingGoal,
                    prompt: Some(name.clone()),
                    version: Some(v.version.to_string()),
                    runs: None,
                    message: format!(
                        "{} has no `goal`: say in one sentence what the prompt is for",
                        v.path.display()
                    ),
                });
            }
            gates.extend(check_gates(
                input.gates,
                min_runs,
                name,
                v,
                predecessor,
                &metrics_of,
                time_p,
            ));
        }
        let all: Vec<&RunFacts> = runs.values().flatten().copied().collect();
        let to = input.now.date_naive();
        let weekly = trends(
            &all,
            Bucket::Week,
            to - Duration::days(7 * 7),
            to,
            input.config,
        );
        let trend: Vec<TrendRow> = weekly.overall.into_iter().filter(|r| r.runs > 0).collect();
        let trend_by_version = weekly.by_version;
        // A current-state section with no diff, no comparison and no chart would be a bare heading.
        if change == Change::Current
            && diffs.is_empty()
            && comparisons.is_empty()
            && trend.len() < 2
        {
            continue;
        }
        sections.push(PromptSection {
            prompt: name.clone(),
            change,
            added,
            modified,
            removed,
            diffs,
            comparisons,
            trend,
            trend_by_version,
            evals,
        });
    }
    for d in input.head.diagnostics.iter().filter(|d| d.is_error()) {
        warnings.push(invalid_file(d));
        gates.push(GateResult {
            gate: "valid_files".to_string(),
            prompt: prompt_of(d).unwrap_or_default(),
            version: None,
            passed: false,
            skipped: false,
            detail: d.to_string(),
        });
    }
    if input.gates.forbid_in_place_edits == Some(true) {
        for w in warnings
            .iter()
            .filter(|w| w.kind == WarningKind::InPlaceEdit)
        {
            gates.push(GateResult {
                gate: "forbid_in_place_edits".to_string(),
                prompt: w.prompt.clone().unwrap_or_default(),
                version: w.version.clone(),
                passed: false,
                skipped: false,
                detail: format!(
                    "version {} was edited in place after it had runs",
                    w.version.as_deref().unwrap_or("?")
                ),
            });
        }
    }
    let label_moves = label_moves(input, &by_version);
    if let Some(need) = input.gates.label_moves_need_runs {
        for m in &label_moves {
            let Some(to) = &m.to else { continue };
            let runs = m.to_metrics.as_ref().map_or(0, |x| x.runs);
            gates.push(GateResult {
                gate: "label_moves_need_runs".to_string(),
                prompt: m.prompt.clone(),
                version: Some(to.to_string()),
                passed: runs >= need,
                skipped: false,
                detail: format!(
                    "{} → {to}: {runs} run(s) of {to}{}",
                    m.label,
                    if runs >= need {
                        format!(" ≥ {need}")
                    } else {
                        format!(" < {need}; record runs (or `ptrack eval`) before moving the label")
                    }
                ),
            });
        }
    }
    if input.gates.require_checked == Some(true) {
        for g in gates.iter_mut().filter(|g| g.skipped) {
            g.passed = false;
            g.detail = format!("{} (require_checked = true)", g.detail);
        }
    }
    let passed = gates.iter().all(|g| g.passed);
    Report {
        base: input.base_label.clone(),
        head: input.head_label.clone(),
        summary,
        sections,
        label_moves,
        experiments: Vec::new(),
        warnings,
        gates,
        passed,
    }
}

/// Every label whose version differs between the base's and the head's `labels.toml`.
fn label_moves(
    input: &ReportInput<'_>,
    by_version: &BTreeMap<String, BTreeMap<Version, Vec<&RunFacts>>>,
) -> Vec<LabelMoveView> {
    let Some(base) = input.base_labels else {
        return Vec::new();
    };
    let mut keys: BTreeSet<(&str, &str)> = BTreeSet::new();
    for labels in [base, input.head_labels] {
        for (prompt, ls) in labels.all() {
            for label in ls.keys() {
                keys.insert((prompt, label.as_str()));
            }
        }
    }
    let metrics = |prompt: &str, v: &Option<Version>| {
        let v = v.as_ref()?;
        let runs = by_version.get(prompt).and_then(|m| m.get(v));
        Some(Metrics::compute(runs.into_iter().flatten().copied()))
    };
    keys.into_iter()
        .filter_map(|(prompt, label)| {
            let from = base.get(prompt, label).map(|l| l.version.clone());
            let to = input
                .head_labels
                .get(prompt, label)
                .map(|l| l.version.clone());
            let same = match (&from, &to) {
                (Some(a), Some(b)) => a == b,
                (None, None) => true,
                _ => false,
            };
            if same {
                return None;
            }
            let eval = match (&from, &to) {
                (Some(a), Some(b)) => input
                    .evals
                    .iter()
                    .rev()
                    .find(|e| e.prompt == prompt && e.base.version == *a && e.head.version == *b)
                    .cloned(),
                _ => None,
            };
            Some(LabelMoveView {
                prompt: prompt.to_string(),
                label: label.to_string(),
                from_metrics: metrics(prompt, &from),
                to_metrics: metrics(prompt, &to),
                from,
                to,
                eval,
            })
        })
        .collect()
}

/// Version files that differ between `base` and `head` although runs were recorded against
/// their text at the base: their runs no longer describe them.
pub fn in_place_edits(base: &Registry, head: &Registry, runs: &[RunFacts]) -> Vec<Warning> {
    // Runs by (prompt, version, blob): a copy of 1.0 saved as 1.1 has 1.0's bytes but not its runs.
    let mut counts: BTreeMap<(&str, &str, &str), usize> = BTreeMap::new();
    for r in runs {
        if let Some(sha) = &r.prompt_sha {
            *counts
                .entry((r.prompt.as_str(), r.version.as_str(), sha.as_str()))
                .or_default() += 1;
        }
    }
    let mut out = Vec::new();
    for (name, prompt) in &head.prompts {
        for v in &prompt.versions {
            let Some(old) = base.get(name).and_then(|b| b.version(&v.version)) else {
                continue;
            };
            let had_runs = counts
                .iter()
                .filter(|((p, ver, sha), _)| {
                    *p == name.as_str()
                        && *sha == old.blob_sha.as_str()
                        && ver.parse::<Version>().is_ok_and(|x| x == v.version)
                })
                .map(|(_, n)| n)
                .sum::<usize>();
            if old.blob_sha != v.blob_sha && had_runs > 0 {
                out.push(Warning {
                    kind: WarningKind::InPlaceEdit,
                    prompt: Some(name.clone()),
                    version: Some(v.version.to_string()),
                    runs: Some(had_runs),
                    message: format!(
                        "{} was edited in place, but {had_runs} run(s) were recorded against its old text; those runs no longer describe it. Create a new version instead (`ptrack create {name} --from {}`)",
                        v.path.display(),
                        v.version
                    ),
                });
            }
        }
    }
    out
}

fn prompt_of(d: &Diagnostic) -> Option<String> {
    let mut comps = d.path.strip_prefix("prompts").ok()?.components();
    comps
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
}

fn invalid_file(d: &Diagnostic) -> Warning {
    Warning {
        kind: WarningKind::InvalidFile,
        prompt: prompt_of(d),
        version: None,
        runs: None,
        message: d.to_string(),
    }
}

fn check_gates(
    gates: &Gates,
    min_runs: usize,
    name: &str,
    v: &PromptVersion,
    predecessor: Option<&PromptVersion>,
    metrics_of: &dyn Fn(&Version) -> Metrics,
    time_p: Option<f64>,
) -> Vec<GateResult> {
    // Whether the time change against the predecessor is significant (Welch's t-test).
    let time_significant = time_p.is_some_and(|p| p < crate::metrics::ALPHA);
    let m = metrics_of(&v.version);
    let mut out = Vec::new();
    let mut push = |gate: &str, passed: bool, skipped: bool, detail: String| {
        out.push(GateResult {
            gate: gate.to_string(),
            prompt: name.to_string(),
            version: Some(v.version.to_string()),
            passed,
            skipped,
            detail,
        });
    };
    let too_few = m.runs < min_runs;
    let skip_note = format!(
        "not checked: {} run(s), gates need at least {min_runs}",
        m.runs
    );
    if let Some(min) = gates.min_success_rate {
        match m.success_rate {
            Some(r) if !too_few => push(
                "min_success_rate",
                r >= min,
                false,
                format!(
                    "success {} {} {}",
                    pct(Some(r)),
                    if r >= min { "≥" } else { "<" },
                    pct(Some(min))
                ),
            ),
            _ => push("min_success_rate", true, true, skip_note.clone()),
        }
    }
    if let Some(min) = gates.min_quality {
        match m.quality_mean {
            Some(q) if !too_few => push(
                "min_quality",
                q >= min,
                false,
                format!(
                    "quality {q:.2} (n={}) {} {min}",
                    m.quality_n,
                    if q >= min { "≥" } else { "<" }
                ),
            ),
            Some(_) => push("min_quality", true, true, skip_note.clone()),
            None => push(
                "min_quality",
                true,
                true,
                "not checked: no rated runs".to_string(),
            ),
        }
    }
    if let Some(max) = gates.max_p95_regression_pct {
        let prev = predecessor.map(|p| metrics_of(&p.version));
        let prev_p95 = prev
            .as_ref()
            .filter(|pm| pm.runs >= min_runs)
            .and_then(|pm| pm.time_ms.map(|t| t.p95));
        match (m.time_ms.map(|t| t.p95), prev_p95) {
            (Some(now), Some(before)) if !too_few && before > 0.0 => {
                let change = (now / before - 1.0) * 100.0;
                let holds =
                    change <= max || (gates.significant_only == Some(true) && !time_significant);
                let [before, now] = times([Some(before), Some(now)]);
                push(
                    "max_p95_regression_pct",
                    holds,
                    false,
                    format!(
                        "p95 {before} → {now} ({}) {} {}",
                        signed(change, 1, "%"),
                        if change <= max { "within" } else { "exceeds" },
                        signed(max, 1, "%")
                    ),
                );
            }
            _ => push(
                "max_p95_regression_pct",
                true,
                true,
                if too_few {
                    skip_note.clone()
                } else {
                    "not checked: no previous version with runs to compare".to_string()
                },
            ),
        }
    }
    out
}

/// The cost gate: the cost per run may grow at most `max` percent against the predecessor.
fn cost_gate(max: f64, name: &str, v: &PromptVersion, c: &Comparison) -> GateResult {
    let (a, b) = (c.a.metrics.cost_per_run, c.b.metrics.cost_per_run);
    let (passed, skipped, detail) = match (a, b) {
        (Some(a), Some(b)) if a > 0.0 => {
            let change = (b / a - 1.0) * 100.0;
            (
                change <= max,
                false,
                format!(
                    "cost per run {a:.6} → {b:.6} ({}) {} {}",
                    signed(change, 1, "%"),
                    if change <= max { "within" } else { "exceeds" },
                    signed(max, 1, "%")
                ),
            )
        }
        _ => (
            true,
            true,
            "not checked: runs without a price (see [prices]) or without prompt/completion tokens"
                .to_string(),
        ),
    };
    GateResult {
        gate: "max_cost_increase_pct".to_string(),
        prompt: name.to_string(),
        version: Some(v.version.to_string()),
        passed,
        skipped,
        detail,
    }
}

/// The eval gates of one changed version against its latest paired eval.
/// The eval gates (`min_pass_rate`, `max_new_failures`, `max_pass_rate_drop_pts`, with
/// `significant_only`) of a paired eval's head version.
pub fn eval_gate_results(gates: &Gates, e: &PairedSummary) -> Vec<GateResult> {
    eval_gates(gates, &e.prompt, e.head.version.as_str(), e)
}

fn eval_gates(gates: &Gates, name: &str, version: &str, e: &PairedSummary) -> Vec<GateResult> {
    let mut out = Vec::new();
    let mut push = |gate: &str, passed: bool, detail: String| {
        out.push(GateResult {
            gate: gate.to_string(),
            prompt: name.to_string(),
            version: Some(version.to_string()),
            passed,
            skipped: false,
            detail,
        });
    };
    let significant = e.mcnemar.p_value.is_some_and(|p| p < crate::metrics::ALPHA);
    let only_significant = gates.significant_only == Some(true);
    if let (Some(min), Some(rate)) = (gates.min_pass_rate, e.head_figures.pass_rate) {
        push(
            "min_pass_rate",
            rate >= min,
            format!(
                "eval pass rate {} {} {}",
                pct(Some(rate)),
                if rate >= min { "≥" } else { "<" },
                pct(Some(min))
            ),
        );
    }
    if let Some(max) = gates.max_new_failures {
        let n = e.mcnemar.base_only;
        push(
            "max_new_failures",
            n <= max,
            format!(
                "{n} pair(s) passed on {} and fail on {} ({} allowed)",
                e.base.version, e.head.version, max
            ),
        );
    }
    if let (Some(max), Some(d)) = (gates.max_pass_rate_drop_pts, e.pass_rate_delta_pts) {
        let drop = -d;
        let crossed = drop > max;
        let passed = !crossed || (only_significant && !significant);
        let why = match (crossed, only_significant, significant) {
            (true, true, false) => " (not significant, so it holds)",
            _ => "",
        };
        push(
            "max_pass_rate_drop_pts",
            passed,
            format!(
                "pass rate {} → {} ({}) {} {} pts{why}",
                pct(e.base_figures.pass_rate),
                pct(e.head_figures.pass_rate),
                signed(d, 1, " pts"),
                if crossed { "drops more than" } else { "within" },
                max
            ),
        );
    }
    out
}

/// `coach 1.1`, or `coach` for a gate about the whole prompt.
/// One Markdown bullet per gate (name, subject, detail), then a blank line.
fn gate_list<'a>(o: &mut String, gates: impl Iterator<Item = &'a GateResult>) {
    for g in gates {
        let _ = writeln!(
            o,
            "- `{}` on {}: {}",
            g.gate,
            gate_subject(g),
            md_escape(&g.detail)
        );
    }
    let _ = writeln!(o);
}

fn gate_subject(g: &GateResult) -> String {
    match &g.version {
        Some(v) => format!("{} {v}", g.prompt),
        None => g.prompt.clone(),
    }
}

use crate::markdown::cell as md_escape;

/// An emoji and a space for changed prompts; nothing for the others.
fn change_icon(c: Change) -> &'static str {
    match c {
        Change::Added => "🆕 ",
        Change::Modified => "✏️ ",
        Change::Removed => "🗑️ ",
        Change::Unchanged | Change::Current => "",
    }
}

/// The report as GitHub-flavoured Markdown.
pub fn render_markdown(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "## ptrack report\n");
    let changed = r
        .summary
        .iter()
        .filter(|s| !matches!(s.change, Change::Unchanged | Change::Current))
        .count();
    match &r.base {
        Some(base) if changed == 0 => {
            let _ = writeln!(
                o,
                "No prompt changed between **{base}** and **{}**; below, each prompt's latest version against the one before it.\n",
                r.head
            );
        }
        Some(base) => {
            let _ = writeln!(
                o,
                "Comparing **{}** with **{}**: {} prompt(s), {changed} changed.\n",
                r.head,
                base,
                r.summary.len()
            );
        }
        None => {
            let _ = writeln!(
                o,
                "Current state of **{}**: {} prompt(s) (no base to compare with).\n",
                r.head,
                r.summary.len()
            );
        }
    }
    let _ = writeln!(
        o,
        "| prompt | latest | runs of latest | success | p95 | quality | change |"
    );
    let _ = writeln!(o, "|---|---|--:|--:|--:|--:|---|");
    for s in &r.summary {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {}{} |",
            s.prompt,
            s.latest
                .as_ref()
                .map_or("—".to_string(), ToString::to_string),
            s.runs,
            pct(s.success_rate),
            ms(s.p95_ms),
            quality(s.quality_mean, s.quality_n),
            change_icon(s.change),
            md_escape(&s.change_text)
        );
    }
    let _ = writeln!(o);
    if !r.label_moves.is_empty() {
        let _ = writeln!(o, "### 🏷️ Label moves\n");
        let _ = writeln!(
            o,
            "| prompt | label | from | to | runs | success | p95 | quality |"
        );
        let _ = writeln!(o, "|---|---|---|---|--:|--:|--:|--:|");
        for m in &r.label_moves {
            let v = |x: &Option<Version>| x.as_ref().map_or("—".to_string(), ToString::to_string);
            let both = |f: &dyn Fn(&Metrics) -> String| {
                let one = |m: &Option<Metrics>| m.as_ref().map_or("—".to_string(), f);
                format!("{} → {}", one(&m.from_metrics), one(&m.to_metrics))
            };
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                m.prompt,
                m.label,
                v(&m.from),
                v(&m.to),
                both(&|x| x.runs.to_string()),
                both(&|x| pct(x.success_rate)),
                both(&|x| ms(x.time_ms.as_ref().map(|t| t.p95))),
                both(&|x| quality(x.quality_mean, x.quality_n)),
            );
        }
        let _ = writeln!(o);
        for m in r.label_moves.iter().filter(|m| m.eval.is_some()) {
            if let Some(e) = &m.eval {
                let _ = writeln!(
                    o,
                    "- {} {}: eval {} → {}: {}",
                    m.prompt,
                    m.label,
                    e.base.version,
                    e.head.version,
                    md_escape(&e.verdict)
                );
            }
        }
        if r.label_moves.iter().any(|m| m.eval.is_some()) {
            let _ = writeln!(o);
        }
    }
    if !r.experiments.is_empty() {
        let _ = writeln!(o, "### 🧪 Running experiments\n");
        for x in &r.experiments {
            let _ = writeln!(
                o,
                "- **{}** on {}:{} ({}): {}",
                md_escape(&x.name),
                x.prompt,
                x.label,
                x.touched,
                md_escape(&x.verdict)
            );
        }
        let _ = writeln!(o);
    }
    let failed: Vec<&GateResult> = r.gates.iter().filter(|g| !g.passed).collect();
    let checked = r.gates.iter().filter(|g| !g.skipped).count();
    let unchecked = r.gates.len() - checked;
    if !r.gates.is_empty() {
        if failed.is_empty() && unchecked == 0 {
            let _ = writeln!(o, "**Gates:** ✅ all {checked} passed.\n");
        } else if failed.is_empty() {
            // A gate that could not be checked is not a pass: say so, never a green tick alone.
            let _ = writeln!(
                o,
                "**Gates:** ⚠️ {checked} passed, {unchecked} not checked (set `require_checked = true` under `[report]` to fail on these):\n"
            );
            gate_list(&mut o, r.gates.iter().filter(|g| g.skipped));
        } else {
            let _ = writeln!(o, "**Gates:** ❌ {} failed:\n", failed.len());
            gate_list(&mut o, failed.iter().copied());
        }
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(o, "### ⚠️ Warnings\n");
        for w in &r.warnings {
            let _ = writeln!(o, "- {}", md_escape(&w.message));
        }
        let _ = writeln!(o);
    }
    for s in &r.sections {
        let _ = writeln!(o, "### {}{}\n", change_icon(s.change), s.prompt);
        if s.change != Change::Current {
            let list = |vs: &[Version]| {
                if vs.is_empty() {
                    "—".to_string()
                } else {
                    vs.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            };
            let _ = writeln!(
                o,
                "Versions added: {} · edited in place: {} · removed: {}\n",
                list(&s.added),
                list(&s.modified),
                list(&s.removed)
            );
        }
        for e in &s.evals {
            render_eval_md(&mut o, e);
        }
        for d in &s.diffs {
            o.push_str(&crate::markdown::version_diff(d, true));
        }
        for c in &s.comparisons {
            render_comparison_md(&mut o, c);
        }
        if s.trend.len() >= 2 {
            o.push_str(&trend_chart_md(&s.prompt, &s.trend_by_version));
        }
    }
    if !r.gates.is_empty() {
        let _ = writeln!(o, "<details><summary>Gate details</summary>\n");
        let _ = writeln!(
            o,
            "| gate | prompt | version | result | detail |\n|---|---|---|---|---|"
        );
        for g in &r.gates {
            let result = if g.skipped && g.passed {
                "⚠️ not checked"
            } else if g.skipped {
                "❌ not checked"
            } else if g.passed {
                "✅ pass"
            } else {
                "❌ fail"
            };
            let _ = writeln!(
                o,
                "| `{}` | {} | {} | {result} | {} |",
                g.gate,
                g.prompt,
                g.version.as_deref().unwrap_or("—"),
                md_escape(&g.detail)
            );
        }
        let _ = writeln!(o, "\n</details>\n");
    }
    let _ = writeln!(
        o,
        "<sub>Generated by ptrack. Significant means p < 0.05 (Welch's t-test for time and quality; Fisher's exact or two-proportion z-test for success).</sub>"
    );
    o
}

/// Chart colors, each with the colored square that names it in the legend under a chart
/// (a Mermaid xychart draws no legend). Strong enough to read on white and on a dark page;
/// Mermaid's default first color, `#ECECFF`, is all but invisible on white.
const PALETTE: [(&str, &str); 8] = [
    ("#1f77b4", "🟦"),
    ("#ff7f0e", "🟧"),
    ("#2ca02c", "🟩"),
    ("#d62728", "🟥"),
    ("#9467bd", "🟪"),
    ("#8c564b", "🟫"),
    ("#e6b800", "🟨"),
    ("#333333", "⬛"),
];

/// The Mermaid directive that colors a chart's series, in order, with `colors`, on white in
/// the light theme whatever the page's theme (so the colors and the baseline mask hold).
fn mermaid_init(colors: &[&str]) -> String {
    format!(
        "%%{{init: {{\"theme\": \"default\", \"themeVariables\": {{\"xyChart\": {{\"backgroundColor\": \"{BACKGROUND}\", \"plotColorPalette\": \"{}\"}}}}}}}}%%",
        colors.join(", ")
    )
}

/// The charts' background, also the color of the baseline mask.
const BACKGROUND: &str = "#ffffff";

/// A week-by-version bar chart of p50 time: one bar series per version (its color named in
/// a line under the chart), one category per week and version with runs, so no version
/// shows a value for a week it did not run in (a Mermaid series cannot skip a category, so
/// lines would invent values). Only the latest versions that have a color are drawn.
///
/// Mermaid draws every bar from the bottom of the plot, a few pixels below 0, so a 0 shows as
/// a thin strip of its series' color; a last all-zero series in the background color covers
/// those strips and makes each bar start at 0.
fn trend_chart_md(prompt: &str, rows: &[TrendRow]) -> String {
    let mut versions: Vec<&Version> = rows.iter().filter_map(|t| t.version.as_ref()).collect();
    versions.sort();
    versions.dedup();
    let left_out = versions.len().saturating_sub(PALETTE.len());
    let versions = &versions[left_out..];
    let rows: Vec<&TrendRow> = rows
        .iter()
        .filter(|t| t.version.as_ref().is_some_and(|v| versions.contains(&v)))
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let labels: Vec<String> = rows
        .iter()
        .map(|t| {
            let v = t
                .version
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            format!("\"{} {v}\"", t.start.format("%m-%d"))
        })
        .collect();
    let max = rows.iter().filter_map(|t| t.p50_ms).fold(0.0_f64, f64::max);
    let mut colors: Vec<&str> = PALETTE.iter().take(versions.len()).map(|c| c.0).collect();
    colors.push(BACKGROUND);
    let mut o = format!(
        "```mermaid\n{}\nxychart-beta\n    title \"{prompt}: p50 time per week (ms), by version\"\n    x-axis [{}]\n    y-axis \"p50 (ms)\" 0 --> {:.0}\n",
        mermaid_init(&colors),
        labels.join(", "),
        (max * 1.1).ceil().max(1.0)
    );
    for v in versions {
        let values: Vec<String> = rows
            .iter()
            .map(|t| match (&t.version, t.p50_ms) {
                (Some(tv), Some(ms)) if tv == *v => format!("{ms:.0}"),
                _ => "0".to_string(),
            })
            .collect();
        let _ = writeln!(o, "    bar [{}]", values.join(", "));
    }
    let _ = writeln!(o, "    bar [{}]", vec!["0"; rows.len()].join(", "));
    o.push_str("```\n\n");
    let legend: Vec<String> = versions
        .iter()
        .zip(PALETTE)
        .map(|(v, (hex, square))| format!("{square} {v} (`{hex}`)"))
        .collect();
    let _ = write!(o, "Versions: {}", legend.join(" · "));
    if left_out > 0 {
        let _ = write!(o, " · {left_out} older version(s) not drawn");
    }
    o.push_str("\n\n");
    o
}

fn render_eval_md(o: &mut String, e: &PairedSummary) {
    let _ = writeln!(
        o,
        "#### Eval: {} vs {} ({} case(s) × {} = {} pair(s), seed {})\n",
        e.head.version, e.base.version, e.cases, e.repeat, e.pairs, e.seed
    );
    let _ = writeln!(
        o,
        "| side | version | pass rate | pass^k | pass@k | p50 | p95 | tokens | quality |\n|---|---|--:|--:|--:|--:|--:|--:|--:|"
    );
    let unit = TimeUnit::fit(
        [&e.base_figures, &e.head_figures]
            .into_iter()
            .flat_map(|f| [f.p50_ms, f.p95_ms]),
    );
    for (side, v, f) in [
        ("base", &e.base.version, &e.base_figures),
        ("head", &e.head.version, &e.head_figures),
    ] {
        let _ = writeln!(
            o,
            "| {side} | {v} | {} | {} | {} | {} | {} | {} | {} |",
            pct(f.pass_rate),
            pct(f.pass_all_k),
            pct(f.pass_any_k),
            unit.time(f.p50_ms),
            unit.time(f.p95_ms),
            crate::format::num(f.tokens_mean, 1),
            quality(f.quality_mean, f.quality_n)
        );
    }
    let _ = writeln!(o, "\n{}\n", md_escape(&e.verdict));
    let pass = |f: &crate::eval::paired::SideFigures| f.pass_rate.map_or(0.0, |r| r * 100.0);
    let p50 = |f: &crate::eval::paired::SideFigures| f.p50_ms.unwrap_or(0.0);
    let max_p50 = p50(&e.base_figures).max(p50(&e.head_figures));
    let _ = writeln!(
        o,
        "```mermaid\n{}\nxychart-beta\n    title \"{}: pass rate (%) by side\"\n    x-axis [\"base {}\", \"head {}\"]\n    y-axis \"pass rate (%)\" 0 --> 100\n    bar [{:.1}, {:.1}]\n```\n",
        mermaid_init(&[PALETTE[0].0]),
        e.prompt,
        e.base.version,
        e.head.version,
        pass(&e.base_figures),
        pass(&e.head_figures)
    );
    let _ = writeln!(
        o,
        "```mermaid\n{}\nxychart-beta\n    title \"{}: p50 time (ms) by side\"\n    x-axis [\"base {}\", \"head {}\"]\n    y-axis \"p50 (ms)\" 0 --> {:.0}\n    bar [{:.0}, {:.0}]\n```\n",
        mermaid_init(&[PALETTE[0].0]),
        e.prompt,
        e.base.version,
        e.head.version,
        (max_p50 * 1.1).ceil().max(1.0),
        p50(&e.base_figures),
        p50(&e.head_figures)
    );
    if !e.flips.is_empty() {
        let regressions = e
            .flips
            .iter()
            .filter(|f| f.direction == crate::eval::paired::FlipDirection::Regression)
            .count();
        let _ = writeln!(
            o,
            "<details><summary>{} flipped pair(s): {} regression(s), {} fix(es)</summary>\n",
            e.flips.len(),
            regressions,
            e.flips.len() - regressions
        );
        let _ = writeln!(
            o,
            "| case | sample | flip | base | head |\n|---|--:|---|---|---|"
        );
        let show = |failed: &[String], out: &str| {
            let verdict = if failed.is_empty() {
                "✅".to_string()
            } else {
                format!("❌ {}", failed.join(", "))
            };
            let text: String = out.chars().take(200).collect();
            md_escape(&format!(
                "{verdict}: {}{}",
                text,
                if out.chars().count() > 200 { "…" } else { "" }
            ))
        };
        for f in &e.flips {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                md_escape(&f.case),
                f.sample,
                match f.direction {
                    crate::eval::paired::FlipDirection::Regression => "regression",
                    crate::eval::paired::FlipDirection::Fix => "fix",
                },
                show(&f.base_failed, &f.base_output),
                show(&f.head_failed, &f.head_output)
            );
        }
        let _ = writeln!(o, "\n</details>\n");
    }
}

fn render_comparison_md(o: &mut String, v: &ComparisonView) {
    let c = &v.comparison;
    let (a, b) = (&c.a.metrics, &c.b.metrics);
    let _ = writeln!(o, "#### Metrics: {} vs {}\n", c.b.version, c.a.version);
    let _ = writeln!(
        o,
        "| metric | {} | {} | change | test |\n|---|--:|--:|--:|---|",
        c.a.version, c.b.version
    );
    let delta = |d: Option<f64>, dec: usize, unit: &str| {
        d.map_or("—".to_string(), |d| signed(d, dec, unit))
    };
    let _ = writeln!(o, "| runs | {} | {} | | |", a.runs, b.runs);
    let success_test = c.success_test.as_ref().map_or("—".to_string(), |t| {
        let name = match t.method {
            ProportionMethod::FisherExact => "Fisher",
            ProportionMethod::ZTest => "z-test",
        };
        format!("{name} {}", p_value(t.p_value))
    });
    let _ = writeln!(
        o,
        "| success | {} | {} | {} | {success_test} |",
        pct(a.success_rate),
        pct(b.success_rate),
        delta(c.success_delta_pts, 1, " pts")
    );
    let welch = |t: &Option<crate::stats::TTest>| {
        t.as_ref().map_or("—".to_string(), |t| {
            format!("Welch {}", p_value(t.p_value))
        })
    };
    // Each row's two values and their change share one unit.
    let time_row = |f: fn(&crate::metrics::TimeSummary) -> f64, d: Option<f64>| {
        let (va, vb) = (a.time_ms.as_ref().map(f), b.time_ms.as_ref().map(f));
        let unit = TimeUnit::fit([va, vb, d]);
        let change = d.map_or("—".to_string(), |d| unit.delta(d));
        (unit.time(va), unit.time(vb), change)
    };
    let (ta, tb, change) = time_row(|t| t.mean, c.mean_time_delta_ms);
    let _ = writeln!(
        o,
        "| mean time | {ta} | {tb} | {change} | {} |",
        welch(&c.time_test)
    );
    // Welch's test is about the means; the median has no test of its own here.
    let (ta, tb, change) = time_row(|t| t.p50, c.p50_delta_ms);
    let _ = writeln!(o, "| p50 time | {ta} | {tb} | {change} | |");
    let (ta, tb, change) = time_row(|t| t.p95, c.p95_delta_ms);
    let _ = writeln!(o, "| p95 time | {ta} | {tb} | {change} | |");
    let _ = writeln!(
        o,
        "| quality | {} | {} | {} | {} |",
        quality(a.quality_mean, a.quality_n),
        quality(b.quality_mean, b.quality_n),
        delta(c.quality_delta, 1, ""),
        welch(&c.quality_test)
    );
    if let (Some(ca), Some(cb)) = (a.cost_per_run, b.cost_per_run) {
        let _ = writeln!(
            o,
            "| cost per run | {ca:.6} | {cb:.6} | {} | |",
            if ca > 0.0 {
                signed((cb / ca - 1.0) * 100.0, 1, "%")
            } else {
                "-".to_string()
            }
        );
    }
    let _ = writeln!(o, "\n> {}\n", v.verdict);
}

/// The report as plain text for a terminal.
pub fn render_text(r: &Report) -> String {
    let mut o = String::new();
    match &r.base {
        Some(base) => {
            let _ = writeln!(o, "ptrack report: {} vs {}", r.head, base);
        }
        None => {
            let _ = writeln!(o, "ptrack report: current state of {}", r.head);
        }
    }
    let _ = writeln!(o);
    for s in &r.summary {
        let _ = writeln!(
            o,
            "  {:<24} {:>6}  runs {:>5}  success {:>6}  p95 {:>8}  quality {:<11}  {}",
            s.prompt,
            s.latest
                .as_ref()
                .map_or("-".to_string(), ToString::to_string),
            s.runs,
            pct(s.success_rate),
            ms(s.p95_ms),
            quality(s.quality_mean, s.quality_n),
            s.change_text
        );
    }
    if !r.label_moves.is_empty() {
        let _ = writeln!(o, "\nlabel moves:");
        for m in &r.label_moves {
            let v = |x: &Option<Version>| x.as_ref().map_or("-".to_string(), ToString::to_string);
            let runs = |x: &Option<Metrics>| x.as_ref().map_or(0, |m| m.runs);
            let _ = writeln!(
                o,
                "  {} {}: {} → {}  (runs {} → {})",
                m.prompt,
                m.label,
                v(&m.from),
                v(&m.to),
                runs(&m.from_metrics),
                runs(&m.to_metrics)
            );
        }
    }
    if !r.experiments.is_empty() {
        let _ = writeln!(o, "\nrunning experiments:");
        for x in &r.experiments {
            let _ = writeln!(
                o,
                "  {} on {}:{} ({}): {}",
                x.name, x.prompt, x.label, x.touched, x.verdict
            );
        }
    }
    for s in &r.sections {
        let _ = writeln!(o, "\n== {} ==", s.prompt);
        for d in &s.diffs {
            let _ = writeln!(o, "{} → {}", d.from, d.to);
            for p in &d.params {
                let _ = writeln!(o, "  {}", p.describe());
            }
            if !d.unified.is_empty() {
                let _ = writeln!(o, "  text: +{} −{} lines", d.lines_added, d.lines_removed);
            }
            for m in &d.messages {
                let _ = writeln!(o, "    {}", m.describe());
            }
        }
        for e in &s.evals {
            let _ = writeln!(o, "eval: {}", e.verdict);
        }
        for c in &s.comparisons {
            let _ = writeln!(o, "{}", c.verdict);
        }
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(o, "\nwarnings:");
        for w in &r.warnings {
            let _ = writeln!(o, "  {}", w.message);
        }
    }
    let _ = writeln!(o);
    for g in &r.gates {
        let result = if g.skipped && g.passed {
            "not checked"
        } else if g.skipped {
            "FAIL (not checked)"
        } else if g.passed {
            "pass"
        } else {
            "FAIL"
        };
        let _ = writeln!(
            o,
            "gate {result}: {} {}: {}",
            g.gate,
            gate_subject(g),
            g.detail
        );
    }
    let _ = writeln!(
        o,
        "{}",
        if r.gates.is_empty() {
            "no gates configured"
        } else if r.passed {
            "all gates passed"
        } else {
            "gates FAILED"
        }
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(name: &str, v: &str, text: &str) -> PromptVersion {
        crate::prompt::test_version(name, v, text)
    }

    fn registry(versions: Vec<PromptVersion>) -> Registry {
        let mut r = Registry::default();
        for v in versions {
            r.prompts
                .entry(v.name.clone())
                .or_insert_with(|| Prompt {
                    name: v.name.clone(),
                    versions: Vec::new(),
                    invalid: Vec::new(),
                })
                .versions
                .push(v);
        }
        r
    }

    fn run(version: &str, sha: &str, i: usize, ms: f64, success: bool) -> RunFacts {
        RunFacts {
            id: format!("{version}-{i}"),
            ts: DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
                .expect("ts")
                .with_timezone(&Utc),
            prompt: "p".into(),
            version: version.into(),
            prompt_sha: Some(sha.into()),
            execution_time_ms: ms,
            token_count: None,
            model: None,
            prompt_tokens: None,
            completion_tokens: None,
            concurrency: None,
            output_length: 10,
            success,
            quality_score: None,
            has_feedback: false,
        }
    }

    #[test]
    fn the_trend_chart_draws_one_colored_series_per_version_and_names_them() {
        let head = registry(vec![version("p", "1.0", "a"), version("p", "1.1", "b")]);
        let at = |r: RunFacts, day: &str| RunFacts {
            ts: DateTime::parse_from_rfc3339(&format!("2026-11-{day}T10:00:00Z"))
                .expect("ts")
                .with_timezone(&Utc),
            ..r
        };
        // 1.0 alone in the week of 11-02, both in the week of 11-09, 1.1 alone in that of 11-16.
        let runs = vec![
            at(run("1.0", "s", 1, 900.0, true), "03"),
            at(run("1.0", "s", 2, 800.0, true), "10"),
            at(run("1.1", "t", 3, 300.0, true), "11"),
            at(run("1.1", "t", 4, 200.0, true), "17"),
        ];
        let r = build(&ReportInput {
            base_label: None,
            base: None,
            head_label: "HEAD".into(),
            head: &head,
            runs: &runs,
            gates: &Gates::default(),
            now: DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
                .expect("now")
                .with_timezone(&Utc),
            evals: &[],
            config: &crate::config::Config::default(),
            base_labels: None,
            head_labels: &crate::labels::Labels::default(),
        });
        let md = render_markdown(&r);
        let start = md.find("```mermaid\n").expect("a chart") + "```mermaid\n".len();
        let chart = &md[start..start + md[start..].find("```").expect("chart end")];
        let lines: Vec<&str> = chart.lines().map(str::trim).collect();
        assert_eq!(
            lines[0],
            r##"%%{init: {"theme": "default", "themeVariables": {"xyChart": {"backgroundColor": "#ffffff", "plotColorPalette": "#1f77b4, #ff7f0e, #ffffff"}}}}%%"##
        );
        assert_eq!(lines[1], "xychart-beta");
        assert_eq!(
            lines[3],
            r#"x-axis ["11-02 1.0", "11-09 1.0", "11-09 1.1", "11-16 1.1"]"#
        );
        // One series per version, zero where the version has no runs, then the baseline mask.
        let series: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.starts_with("bar "))
            .collect();
        assert_eq!(
            series,
            [
                "bar [900, 800, 0, 0]",
                "bar [0, 0, 300, 200]",
                "bar [0, 0, 0, 0]"
            ]
        );
        assert!(!chart.contains("line ["), "{chart}");
        assert!(
            md.contains("\nVersions: 🟦 1.0 (`#1f77b4`) · 🟧 1.1 (`#ff7f0e`)\n"),
            "{md}"
        );
    }

    #[test]
    fn in_place_edit_with_runs_warns_and_fails_its_gate() {
        let old = version("p", "1.0", "---\ngoal: g\n---\nold text\n");
        let new = version("p", "1.0", "---\ngoal: g\n---\nnew text\n");
        let runs = vec![run("1.0", &old.blob_sha, 0, 100.0, true)];
        let (base, head) = (registry(vec![old]), registry(vec![new]));
        let gates = Gates {
            forbid_in_place_edits: Some(true),
            ..Gates::default()
        };
        let r = build(&ReportInput {
            base_label: Some("main".into()),
            base: Some(&base),
            head_label: "working tree".into(),
            head: &head,
            runs: &runs,
            gates: &gates,
            now: Utc::now(),
            evals: &[],
            config: &crate::config::Config::default(),
            base_labels: None,
            head_labels: &crate::labels::Labels::default(),
        });
        assert_eq!(r.summary[0].change, Change::Modified);
        assert_eq!(
            r.sections[0].modified,
            ["1.0".parse::<Version>().expect("v")]
        );
        assert_eq!(r.warnings[0].kind, WarningKind::InPlaceEdit);
        assert!(!r.passed);
        assert_eq!(r.gates[0].gate, "forbid_in_place_edits");
    }

    #[test]
    fn success_gate_fails_below_threshold_and_skips_with_few_runs() {
        let v1 = version("p", "1.0", "---\ngoal: g\n---\none\n");
        let v2 = version("p", "1.1", "---\ngoal: g\n---\ntwo\n");
        let mut runs: Vec<RunFacts> = (0..10)
            .map(|i| run("1.0", &v1.blob_sha, i, 100.0, true))
            .collect();
        runs.extend((0..10).map(|i| run("1.1", &v2.blob_sha, i, 150.0, i < 7)));
        let base = registry(vec![v1.clone()]);
        let head = registry(vec![v1, v2]);
        let input = |gates: &Gates| {
            build(&ReportInput {
                base_label: Some("main".into()),
                base: Some(&base),
                head_label: "HEAD".into(),
                head: &head,
                runs: &runs,
                gates,
                now: Utc::now(),
                evals: &[],
                config: &crate::config::Config::default(),
                base_labels: None,
                head_labels: &crate::labels::Labels::default(),
            })
        };
        let strict = Gates {
            min_success_rate: Some(0.8),
            max_p95_regression_pct: Some(60.0),
            ..Gates::default()
        };
        let r = input(&strict);
        assert!(!r.passed);
        let outcome: Vec<(&str, bool)> = r
            .gates
            .iter()
            .map(|g| (g.gate.as_str(), g.passed))
            .collect();
        assert_eq!(
            outcome,
            [
                ("min_success_rate", false),
                ("max_p95_regression_pct", true)
            ]
        );
        assert_eq!(r.gates[0].detail, "success 70.0% < 80.0%");
        assert_eq!(r.sections[0].added, ["1.1".parse::<Version>().expect("v")]);
        let lenient = Gates {
            min_runs: Some(20),
            ..strict
        };
        assert!(
            input(&lenient).passed,
            "10 runs < min_runs 20: gates skipped"
        );
        let md = render_markdown(&r);
        assert!(md.contains("❌ 1 failed"), "{md}");
        assert!(md.contains("```diff\n--- p 1.0\n+++ p 1.1\n"), "{md}");
    }
}
