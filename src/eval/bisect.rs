//! `bisect`: the first commit whose latest version of a prompt is worse than at a good commit,
//! found by binary search over the first-parent commits that changed the prompt, each step a
//! paired eval of the good text against the step's text on the same cases (recorded answers are
//! reused, so the good side is sent once).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::paired::{
    BatchError, BatchOptions, PairedSummary, Plan, PlanError, Side, SideTarget, run_batch,
};
use super::{Case, CasesError, Endpoint, Reusable, parse_cases};
use crate::git::{CommitInfo, Repo};
use crate::project::Project;
use crate::prompt::PromptVersion;
use crate::stats;

/// What a step is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Share of executions that passed every expectation (McNemar's exact test).
    PassRate,
    /// Share of executions whose request succeeded, expectations aside (McNemar's exact test).
    SuccessRate,
    /// Mean judge score (Wilcoxon signed-rank test).
    Quality,
    /// Median time (Wilcoxon signed-rank test).
    P50,
}

/// What to bisect.
#[derive(Debug, Clone)]
pub struct BisectQuery {
    /// The prompt.
    pub prompt: String,
    /// A revision where the prompt was good.
    pub good: String,
    /// A later revision where it is bad.
    pub bad: String,
    /// What "worse" is measured by.
    pub metric: Metric,
    /// Worse means the metric moved the wrong way by more than this (points for rates, score
    /// points for quality, ms for p50); None: by the paired test at p < 0.05.
    pub threshold: Option<f64>,
    /// A cases file instead of `prompts/NAME/cases.jsonl` at the bad revision, and its name.
    pub cases: Option<(PathBuf, PathBuf)>,
}

/// One evaluated commit.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Step {
    /// The commit.
    pub commit: CommitInfo,
    /// The prompt's latest version there.
    pub version: String,
    /// The metric at the good commit and at this one.
    pub good_value: Option<f64>,
    /// The metric here.
    pub value: Option<f64>,
    /// The paired test's p-value, when there is one.
    pub p_value: Option<f64>,
    /// Whether this commit is worse than the good one.
    pub worse: bool,
    /// The eval's verdict line.
    pub verdict: String,
}

/// The `bisect --json` model.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BisectResult {
    /// The prompt.
    pub prompt: String,
    /// The metric.
    pub metric: Metric,
    /// Candidate commits between good and bad that changed the prompt.
    pub candidates: usize,
    /// The first worse commit (None when the bad revision is not worse after all).
    pub first_bad: Option<CommitInfo>,
    /// The first bad commit's change of the prompt's latest version.
    pub diff: Option<crate::diff::VersionDiff>,
    /// Every evaluated commit, in the order evaluated.
    pub steps: Vec<Step>,
}

/// Why bisect stopped.
#[derive(Debug, thiserror::Error)]
pub enum BisectError {
    /// Planning failed (git, lookup, cases).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A step's eval failed.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// No commit between good and bad changed the prompt.
    #[error("no first-parent commit after {good} up to {bad} changed prompts/{prompt}/")]
    NoCandidates {
        /// The prompt.
        prompt: String,
        /// The good revision.
        good: String,
        /// The bad revision.
        bad: String,
    },
    /// A step's model server or model could not be resolved.
    #[error("{0}")]
    Target(String),
}

/// Find the first commit between `query.good` and `query.bad` that made the prompt worse.
/// `target` gives each version's endpoint and model, `judges` prepares the judges the cases
/// use; `done` sees each step.
pub fn bisect<T, J, D>(
    project: &Project,
    query: &BisectQuery,
    target: T,
    judges: J,
    opts: &BatchOptions<'_>,
    recorded: &std::collections::HashMap<(String, u32), Reusable>,
    mut done: D,
) -> Result<BisectResult, BisectError>
where
    T: Fn(&PromptVersion) -> Result<(Endpoint, String), String>,
    J: FnOnce(&[Case]) -> Result<super::Judges, String>,
    D: FnMut(&Step),
{
    let git = |e: crate::git::GitError| BisectError::Plan(PlanError::Git(e));
    let repo = Repo::open(project.root()).map_err(git)?;
    let good_oid = repo.resolve(&query.good).map_err(git)?;
    let bad_oid = repo.resolve(&query.bad).map_err(git)?;
    let rel = Path::new("prompts").join(&query.prompt);
    let candidates = repo
        .first_parent_changes(good_oid, bad_oid, &rel)
        .map_err(git)?;
    if candidates.is_empty() {
        return Err(BisectError::NoCandidates {
            prompt: query.prompt.clone(),
            good: query.good.clone(),
            bad: query.bad.clone(),
        });
    }
    let latest_at = |oid: git2::Oid| -> Result<Option<PromptVersion>, BisectError> {
        let source = repo.source_at(oid).map_err(git)?;
        let reg = crate::project::load_registry(&source);
        Ok(reg.get(&query.prompt).and_then(|p| p.latest()).cloned())
    };
    let good = latest_at(good_oid)?.ok_or_else(|| {
        BisectError::Plan(PlanError::Lookup(
            crate::project::LookupError::NoValidVersion {
                name: query.prompt.clone(),
            },
        ))
    })?;
    // The same cases at every step: the bad revision's, or the file given.
    let (text, shown, dir) = match &query.cases {
        Some((path, shown)) => (
            std::fs::read(path).map_err(|e| {
                BisectError::Plan(PlanError::Cases(CasesError::Read {
                    path: shown.display().to_string(),
                    reason: e.to_string(),
                }))
            })?,
            shown.clone(),
            path.parent().map(Path::to_path_buf),
        ),
        None => {
            let rel = rel.join("cases.jsonl");
            let source = repo.source_at(bad_oid).map_err(git)?;
            let text = crate::project::PromptSource::read(&source, &rel).map_err(|_| {
                BisectError::Plan(PlanError::NoCases {
                    prompt: query.prompt.clone(),
                    path: rel.clone(),
                })
            })?;
            (text, rel, Some(project.prompts_dir().join(&query.prompt)))
        }
    };
    let cases: Vec<Case> = parse_cases(
        &String::from_utf8_lossy(&text),
        &shown.display().to_string(),
        &serde_json::Map::new(),
        dir.as_deref(),
    )
    .map_err(|e| BisectError::Plan(PlanError::Cases(e)))?;
    let cases_sha = crate::prompt::blob_sha(&text);
    let judges = judges(&cases).map_err(BisectError::Target)?;
    let opts = &BatchOptions {
        judges: Some(&judges),
        ..*opts
    };
    let side = |v: &PromptVersion, at: String| Side {
        version: v.version.clone(),
        at,
        prompt_sha: v.blob_sha.clone(),
        prompt: v.clone(),
    };
    let good_side = side(&good, format!("{} ({})", query.good, repo.short(good_oid)));
    let good_target = target(&good).map_err(BisectError::Target)?;
    let mut steps: Vec<Step> = Vec::new();
    // What earlier steps recorded is reused by later ones (the good side is sent once).
    let mut recorded = recorded.clone();
    let mut evaluate = |i: usize| -> Result<bool, BisectError> {
        let c = &candidates[i];
        let Some(v) = latest_at(c.oid)? else {
            // The prompt has no valid version here: as bad as it gets.
            let step = Step {
                commit: c.clone(),
                version: "-".into(),
                good_value: None,
                value: None,
                p_value: None,
                worse: true,
                verdict: format!("{} has no valid version at {}", query.prompt, c.short),
            };
            done(&step);
            steps.push(step);
            return Ok(true);
        };
        let head_target = target(&v).map_err(BisectError::Target)?;
        let plan = Plan {
            prompt: query.prompt.clone(),
            base: good_side.clone(),
            head: side(&v, c.short.clone()),
            cases_file: shown.clone(),
            cases_sha: cases_sha.clone(),
            cases: cases.clone(),
        };
        let summary = run_batch(
            project,
            &plan,
            [
                SideTarget {
                    endpoint: &good_target.0,
                    model: &good_target.1,
                },
                SideTarget {
                    endpoint: &head_target.0,
                    model: &head_target.1,
                },
            ],
            opts,
            &recorded,
            |_| {},
        )?;
        if !opts.fresh && opts.record {
            recorded = project.recorded_requests();
        }
        let (good_value, value, p_value, worse) = judge(&summary, query.metric, query.threshold);
        let step = Step {
            commit: c.clone(),
            version: v.version.to_string(),
            good_value,
            value,
            p_value,
            worse,
            verdict: summary.verdict.clone(),
        };
        done(&step);
        steps.push(step);
        Ok(worse)
    };
    // The bad end first: if it is not worse, there is nothing to find.
    let n = candidates.len();
    if !evaluate(n - 1)? {
        return Ok(BisectResult {
            prompt: query.prompt.clone(),
            metric: query.metric,
            candidates: n,
            first_bad: None,
            diff: None,
            steps,
        });
    }
    // Invariant: everything up to `lo` is good (-1 = the good commit), `hi` is bad.
    let (mut lo, mut hi) = (-1isize, n as isize - 1);
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if evaluate(mid as usize)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let first = candidates[hi as usize].clone();
    let before = if hi == 0 {
        Some(good.clone())
    } else {
        latest_at(candidates[hi as usize - 1].oid)?
    };
    let after = latest_at(first.oid)?;
    let diff = before.zip(after).map(|(a, b)| {
        crate::diff::diff_versions(
            &a,
            &format!("{} {} (before {})", a.name, a.version, first.short),
            &b,
            &format!("{} {} ({})", b.name, b.version, first.short),
        )
    });
    Ok(BisectResult {
        prompt: query.prompt.clone(),
        metric: query.metric,
        candidates: n,
        first_bad: Some(first),
        diff,
        steps,
    })
}

/// The metric at the good side and the step's side, the test's p-value, and whether the step
/// is worse: by more than `threshold`, or (without one) significantly at p < 0.05.
fn judge(
    s: &PairedSummary,
    metric: Metric,
    threshold: Option<f64>,
) -> (Option<f64>, Option<f64>, Option<f64>, bool) {
    let alpha = crate::metrics::ALPHA;
    match metric {
        Metric::PassRate | Metric::SuccessRate => {
            let ok = |o: &super::Outcome| match metric {
                Metric::PassRate => o.success,
                _ => o.success || o.failure == Some(super::Failure::Expectation),
            };
            let (b, h): (Vec<bool>, Vec<bool>) = s
                .outcomes
                .iter()
                .map(|p| (ok(&p.base), ok(&p.head)))
                .unzip();
            let rate = |v: &[bool]| {
                (!v.is_empty()).then(|| v.iter().filter(|x| **x).count() as f64 / v.len() as f64)
            };
            let (good, now) = (rate(&b), rate(&h));
            let base_only = b.iter().zip(&h).filter(|(x, y)| **x && !**y).count() as u64;
            let head_only = b.iter().zip(&h).filter(|(x, y)| !**x && **y).count() as u64;
            let p = stats::mcnemar_exact(base_only, head_only);
            let drop = good.zip(now).map(|(g, n)| (g - n) * 100.0);
            let worse = match threshold {
                Some(t) => drop.is_some_and(|d| d > t),
                None => base_only > head_only && p.is_some_and(|p| p < alpha),
            };
            (good, now, p, worse)
        }
        Metric::Quality => {
            let good = s.base_figures.quality_mean;
            let now = s.head_figures.quality_mean;
            let p = s.quality_test.map(|t| t.p_value);
            let worse = match threshold {
                Some(t) => good.zip(now).is_some_and(|(g, n)| g - n > t),
                None => s.quality_delta.is_some_and(|d| d < 0.0) && p.is_some_and(|p| p < alpha),
            };
            (good, now, p, worse)
        }
        Metric::P50 => {
            let good = s.base_figures.p50_ms;
            let now = s.head_figures.p50_ms;
            let p = s.latency_test.map(|t| t.p_value);
            let worse = match threshold {
                Some(t) => good.zip(now).is_some_and(|(g, n)| n - g > t),
                None => {
                    s.latency_delta_p50_ms.is_some_and(|d| d > 0.0) && p.is_some_and(|p| p < alpha)
                }
            };
            (good, now, p, worse)
        }
    }
}
