//! Paired evaluation of a prompt change: the base version (its text as it is at the base
//! revision, read from git) and the head version run on the same cases, pair by pair, with
//! the pairs in an order shuffled by a seed so that drift in the server's load falls on both
//! sides alike. The statistics are the paired ones: McNemar's exact test on the pairs whose
//! outcome differs, and the Wilcoxon signed-rank test on the latencies of the pairs.
//!
//! A request already answered in the logs (same `request_sha` and `sample`) is reused instead
//! of sent again, so evaluating an unchanged base costs no model call.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

#[cfg(feature = "git")]
use super::parse_cases;
use super::{Case, CasesError, Outcome, Reusable};
#[cfg(feature = "git")]
use crate::git::{GitError, Repo};
use crate::project::{LookupError, Project};
#[cfg(feature = "git")]
use crate::project::{PromptSource, load_registry};
use crate::prompt::PromptVersion;
use crate::runlog::{Event, RunFilter, scan, scan_lines_where};
use crate::stats::{self, Wilcoxon};
use crate::version::Version;

/// What to evaluate.
#[derive(Debug, Clone, Default)]
pub struct PairedQuery {
    /// Only these prompts (default: every prompt changed between base and head).
    pub prompts: Vec<String>,
    /// Base revision (default: the merge base with the default branch).
    pub base: Option<String>,
    /// Head revision (default: the working tree).
    pub head: Option<String>,
    /// Compare these two versions of the head (base side first) instead of base and head.
    pub versions: Option<(Version, Version)>,
    /// A cases file instead of each prompt's `cases.jsonl` at the head, with how to name it.
    pub cases: Option<(PathBuf, PathBuf)>,
}

/// One side of a pair: a version's text as it is at a revision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    /// The version.
    pub version: Version,
    /// Where its text comes from (`main (merge base a1b2c3d)`, `working tree`).
    pub at: String,
    /// Blob id of that text.
    pub prompt_sha: String,
    /// The parsed version, with that text.
    #[serde(skip)]
    pub prompt: PromptVersion,
}

/// A side as a summary and the batch event name it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SideInfo {
    /// The version.
    pub version: Version,
    /// Where its text came from.
    pub at: String,
    /// Blob id of that text.
    pub prompt_sha: String,
    /// The model asked (set once the batch runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

impl Side {
    /// The side without its parsed text.
    pub fn info(&self) -> SideInfo {
        SideInfo {
            version: self.version.clone(),
            at: self.at.clone(),
            prompt_sha: self.prompt_sha.clone(),
            model: None,
        }
    }
}

/// One prompt to evaluate: two sides and the cases both run.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The prompt.
    pub prompt: String,
    /// The version a reviewer compares with.
    pub base: Side,
    /// The version under review.
    pub head: Side,
    /// Where the cases come from.
    pub cases_file: PathBuf,
    /// Blob id of the cases file.
    pub cases_sha: String,
    /// The cases.
    #[serde(skip)]
    pub cases: Vec<Case>,
}

/// Why an evaluation could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Git could not answer.
    #[cfg(feature = "git")]
    #[error(transparent)]
    Git(#[from] GitError),
    /// A prompt or version does not exist.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// A version to evaluate has no cases.
    #[error("{prompt} has no eval cases: {} does not exist", path.display())]
    NoCases {
        /// The prompt.
        prompt: String,
        /// Where they were looked for.
        path: PathBuf,
    },
    /// The cases file is invalid.
    #[error(transparent)]
    Cases(#[from] CasesError),
    /// Nothing changed between base and head.
    #[error("no prompt version changed between {base} and {head}")]
    NothingChanged {
        /// The base.
        base: String,
        /// The head.
        head: String,
    },
    /// The repository has no default branch to take the base from.
    #[error("no default branch found (origin/HEAD, main, master) to compare with")]
    NoBase,
}

#[cfg(feature = "git")]
impl Project {
    /// The pairs to evaluate: for every prompt changed between base and head (or the named
    /// ones), each added version against the latest version at base, and each version edited
    /// in place against its own file at base; or `versions` of one prompt at the head.
    pub fn plan_eval(&self, query: &PairedQuery) -> Result<Vec<Plan>, PlanError> {
        let repo = Repo::open(self.root());
        let head_source: Box<dyn PromptSource + '_>;
        let head_label;
        let (head_reg, repo_ref) = match (&query.head, &repo) {
            (Some(rev), _) => {
                let repo = repo.as_ref().map_err(clone_err)?;
                let oid = repo.resolve(rev)?;
                head_source = Box::new(repo.source_at(oid)?);
                head_label = format!("{rev} ({})", repo.short(oid));
                (load_registry(head_source.as_ref()), Some(repo))
            }
            (None, r) => {
                head_source = Box::new(self.prompt_source());
                head_label = "working tree".to_string();
                (self.load_prompts(), r.as_ref().ok())
            }
        };
        let mut pairs: Vec<(String, Side, Side)> = Vec::new();
        let side = |v: &PromptVersion, at: &str| Side {
            version: v.version.clone(),
            at: at.to_string(),
            prompt_sha: v.blob_sha.clone(),
            prompt: v.clone(),
        };
        if let Some((a, b)) = &query.versions {
            for name in &query.prompts {
                let p = head_reg.find(name)?;
                pairs.push((
                    name.clone(),
                    side(p.resolve(Some(a))?, &head_label),
                    side(p.resolve(Some(b))?, &head_label),
                ));
            }
        } else {
            let repo = repo_ref.ok_or_else(|| match &repo {
                Err(e) => PlanError::Git(clone_err(e)),
                Ok(_) => PlanError::NoBase,
            })?;
            let (base_reg, base_label) = match &query.base {
                Some(rev) => {
                    let (reg, short) = repo.registry_at(rev)?;
                    (reg, format!("{rev} ({short})"))
                }
                None => {
                    let found = match &query.head {
                        Some(rev) => repo.default_base_of(repo.resolve(rev)?)?,
                        None => repo.default_base()?,
                    };
                    let (branch, oid) = found.ok_or(PlanError::NoBase)?;
                    let source = repo.source_at(oid)?;
                    (
                        load_registry(&source),
                        format!("{branch} (merge base {})", repo.short(oid)),
                    )
                }
            };
            for (name, prompt) in &head_reg.prompts {
                if !query.prompts.is_empty() && !query.prompts.contains(name) {
                    continue;
                }
                let before = base_reg.get(name);
                for v in &prompt.versions {
                    let counterpart = match before.and_then(|b| b.version(&v.version)) {
                        Some(old) if old.blob_sha == v.blob_sha => continue,
                        Some(old) => Some(old),
                        None => before.and_then(|b| b.latest()),
                    };
                    if let Some(old) = counterpart {
                        pairs.push((name.clone(), side(old, &base_label), side(v, &head_label)));
                    }
                }
            }
            for name in &query.prompts {
                head_reg.find(name)?;
            }
            if pairs.is_empty() {
                return Err(PlanError::NothingChanged {
                    base: base_label,
                    head: head_label,
                });
            }
        }
        let mut plans = Vec::new();
        for (prompt, base, head) in pairs {
            let (text, shown) = match &query.cases {
                Some((path, shown)) => (
                    std::fs::read(path).map_err(|e| CasesError::Read {
                        path: shown.display().to_string(),
                        reason: e.to_string(),
                    })?,
                    shown.clone(),
                ),
                None => {
                    let rel = Path::new("prompts").join(&prompt).join("cases.jsonl");
                    match head_source.read(&rel) {
                        Ok(t) => (t, rel),
                        // A head version that holds its own test data (GitHub Models
                        // `testData`) is evaluated on it, as `run` does.
                        Err(_) if !head.prompt.embedded_cases.is_empty() => (
                            head.prompt
                                .embedded_cases
                                .iter()
                                .map(|c| format!("{c}\n"))
                                .collect::<String>()
                                .into_bytes(),
                            PathBuf::from(format!("{} testData", head.prompt.path.display())),
                        ),
                        Err(_) => return Err(PlanError::NoCases { prompt, path: rel }),
                    }
                }
            };
            let cases_sha = crate::prompt::blob_sha(&text);
            let dir = match &query.cases {
                Some((path, _)) => path.parent().map(Path::to_path_buf),
                None => Some(self.prompts_dir().join(&prompt)),
            };
            let cases = parse_cases(
                &String::from_utf8_lossy(&text),
                &shown.display().to_string(),
                &Map::new(),
                dir.as_deref(),
            )?;
            plans.push(Plan {
                prompt,
                base,
                head,
                cases_file: shown,
                cases_sha,
                cases,
            });
        }
        Ok(plans)
    }
}

impl Project {
    /// Every recorded answer by request, for reuse: (`request_sha`, `sample`) → the first run
    /// recorded with them.
    pub fn recorded_requests(&self) -> HashMap<(String, u32), Reusable> {
        let mut out = HashMap::new();
        scan(
            &self.runs_dir(),
            Path::new("runs"),
            &RunFilter::default(),
            |_, _, line, ev| {
                if !matches!(ev, Event::Run(_)) || !line.contains("\"request_sha\"") {
                    return;
                }
                let Ok(Value::Object(o)) = serde_json::from_str::<Value>(line) else {
                    return;
                };
                let (Some(sha), Some(sample)) = (
                    o.get("request_sha").and_then(Value::as_str),
                    o.get("sample").and_then(Value::as_u64),
                ) else {
                    return;
                };
                // Only answers are reused: an expectation failure is judged again from the
                // output, while a request that failed (a timeout, a 5xx) is sent again.
                let expectation = o
                    .get("expect_failed")
                    .is_some_and(|e| e.as_array().is_some_and(|a| !a.is_empty()));
                if o.get("error").is_some_and(|e| !e.is_null()) && !expectation {
                    return;
                }
                let error = None;
                out.entry((sha.to_string(), sample as u32))
                    .or_insert_with(|| Reusable {
                        run_id: o["id"].as_str().unwrap_or_default().to_string(),
                        output: o
                            .get("output")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        execution_time_ms: o
                            .get("execution_time_ms")
                            .and_then(Value::as_f64)
                            .unwrap_or(0.0),
                        token_count: o.get("token_count").and_then(Value::as_u64),
                        completion_tokens: o.get("completion_tokens").and_then(Value::as_u64),
                        prompt_tokens: o.get("prompt_tokens").and_then(Value::as_u64),
                        error,
                    });
            },
        );
        out
    }
}

/// An eval event as read back.
#[derive(Debug, serde::Deserialize)]
struct EventLine {
    id: String,
    ts: DateTime<Utc>,
    prompt: String,
    base: SideInfo,
    head: SideInfo,
    cases: usize,
    repeat: u32,
    seed: u64,
    #[serde(default)]
    results: Vec<PairRecord>,
}

/// A run of a batch as read back: what a reused answer needs.
struct RunLine {
    eval: Option<String>,
    quality: Option<f64>,
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    ms: f64,
    tokens: Option<u64>,
    output: String,
    error: Option<String>,
}

impl Project {
    /// Every recorded eval batch, read back whole (reused answers from the runs they name),
    /// oldest first.
    pub fn eval_batches(&self) -> Vec<PairedSummary> {
        // The cache knows which logs hold eval records: without one, there is nothing to read.
        let columns = self.run_columns(&RunFilter::default());
        if !columns.logs.iter().any(|s| s.evals) {
            return Vec::new();
        }
        let mut events: Vec<EventLine> = Vec::new();
        let mut runs: HashMap<String, RunLine> = HashMap::new();
        // Only eval records and the runs of batches matter: lines holding neither word are
        // skipped unparsed (a `\u` escape could spell one, so such lines are read).
        let words = [
            memchr::memmem::Finder::new(b"\"eval\""),
            memchr::memmem::Finder::new(b"\"request_sha\""),
            memchr::memmem::Finder::new(b"\\u"),
        ];
        let lines = scan_lines_where(
            &self.runs_dir(),
            Path::new("runs"),
            &RunFilter::default(),
            crate::runlog::default_threads(),
            |raw| words.iter().any(|w| w.find(raw).is_some()),
        );
        for (line, ev) in &lines {
            let line = line.as_str();
            match ev {
                Event::Eval(_) => {
                    if let Ok(e) = serde_json::from_str::<EventLine>(line) {
                        events.push(e);
                    }
                }
                Event::Run(r) if line.contains("\"request_sha\"") => {
                    let Ok(Value::Object(o)) = serde_json::from_str::<Value>(line) else {
                        continue;
                    };
                    runs.entry(r.id.clone()).or_insert(RunLine {
                        eval: o.get("eval").and_then(Value::as_str).map(str::to_string),
                        quality: r.quality_score,
                        prompt_tokens: o.get("prompt_tokens").and_then(Value::as_u64),
                        completion_tokens: o.get("completion_tokens").and_then(Value::as_u64),
                        ms: r.execution_time_ms,
                        tokens: r.token_count,
                        output: o
                            .get("output")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        error: o.get("error").and_then(Value::as_str).map(str::to_string),
                    });
                }
                _ => {}
            }
        }
        events.sort_by_key(|e| e.ts);
        events
            .into_iter()
            .map(|e| {
                let outcome = |p: &PairRecord, side: &SideResult| {
                    let run = runs.get(&side.run);
                    let expectation = !side.failed.is_empty()
                        && run.is_none_or(|r| {
                            r.error
                                .as_deref()
                                .is_none_or(|x| x.starts_with("expectation failed"))
                        });
                    Outcome {
                        case: p.case.clone(),
                        run_id: Some(side.run.clone()),
                        success: side.pass,
                        execution_time_ms: run.map_or(0.0, |r| r.ms),
                        token_count: run.and_then(|r| r.tokens),
                        error: (!side.pass).then(|| {
                            if expectation {
                                format!("expectation failed: {}", side.failed.join(", "))
                            } else {
                                run.and_then(|r| r.error.clone()).unwrap_or_default()
                            }
                        }),
                        failure: None,
                        expect_failed: if expectation {
                            side.failed.clone()
                        } else {
                            Vec::new()
                        },
                        output: run.map(|r| r.output.clone()).unwrap_or_default(),
                        reused: run.is_some_and(|r| r.eval.as_deref() != Some(&e.id)),
                        quality_score: side.quality.or_else(|| run.and_then(|r| r.quality)),
                        prompt_tokens: run.and_then(|r| r.prompt_tokens),
                        completion_tokens: run.and_then(|r| r.completion_tokens),
                    }
                };
                let outcomes = e
                    .results
                    .iter()
                    .map(|p| PairOutcome {
                        case: p.case.clone(),
                        sample: p.sample,
                        first: SideName::Base,
                        base: outcome(p, &p.base),
                        head: outcome(p, &p.head),
                    })
                    .collect();
                PairedSummary::new(
                    &e.prompt,
                    e.base,
                    e.head,
                    e.cases,
                    (&e.id, e.ts),
                    e.repeat,
                    e.seed,
                    outcomes,
                )
                .with_costs(self.config())
            })
            .collect()
    }
}

#[cfg(feature = "git")]
fn clone_err(e: &GitError) -> GitError {
    match e {
        GitError::NotARepository { path } => GitError::NotARepository { path: path.clone() },
        other => GitError::Git(git2::Error::from_str(&other.to_string())),
    }
}

/// One case × sample, run on both sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PairOutcome {
    /// The case.
    pub case: String,
    /// The repeat index, from 0.
    pub sample: u32,
    /// Which side was sent first.
    pub first: SideName,
    /// The base side's execution.
    pub base: Outcome,
    /// The head side's execution.
    pub head: Outcome,
}

/// A side's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum SideName {
    /// The version compared with.
    Base,
    /// The version under review.
    Head,
}

impl SideName {
    /// `base` or `head`.
    pub fn as_str(self) -> &'static str {
        match self {
            SideName::Base => "base",
            SideName::Head => "head",
        }
    }
}

/// The work of one batch: every (case, sample) in the seeded order, and which side goes first.
pub fn schedule(cases: usize, repeat: u32, seed: u64) -> Vec<(usize, u32, SideName)> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut work: Vec<(usize, u32, SideName)> = (0..repeat)
        .flat_map(|s| (0..cases).map(move |c| (c, s, SideName::Base)))
        .collect();
    rng.shuffle(&mut work);
    for w in &mut work {
        if rng.bool() {
            w.2 = SideName::Head;
        }
    }
    work
}

/// A pair whose outcome differs between the sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Flip {
    /// The case.
    pub case: String,
    /// The repeat index.
    pub sample: u32,
    /// `regression` (passed on base, fails on head) or `fix`.
    pub direction: FlipDirection,
    /// What failed on the base side.
    pub base_failed: Vec<String>,
    /// What failed on the head side.
    pub head_failed: Vec<String>,
    /// The base side's output.
    pub base_output: String,
    /// The head side's output.
    pub head_output: String,
}

/// Which way a pair flipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum FlipDirection {
    /// Passed on base, fails on head.
    Regression,
    /// Failed on base, passes on head.
    Fix,
}

/// One side's figures over the batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SideFigures {
    /// Executions.
    pub runs: usize,
    /// Executions that passed.
    pub passed: usize,
    /// passed / runs.
    pub pass_rate: Option<f64>,
    /// Median time, ms.
    pub p50_ms: Option<f64>,
    /// 95th percentile time, ms.
    pub p95_ms: Option<f64>,
    /// Mean tokens per run, over runs that report them.
    pub tokens_mean: Option<f64>,
    /// Share of cases that passed every repeat (pass^k).
    pub pass_all_k: Option<f64>,
    /// Share of cases that passed at least one repeat (pass@k).
    pub pass_any_k: Option<f64>,
    /// Answers reused from earlier runs instead of sent.
    pub reused: usize,
    /// Mean judge score over scored runs.
    pub quality_mean: Option<f64>,
    /// Runs a judge scored.
    pub quality_n: usize,
    /// What the side's runs cost together at `[prices]` (None unless every run is priced).
    pub cost_total: Option<f64>,
    /// The mean cost per run.
    pub cost_per_run: Option<f64>,
}

/// McNemar's exact test on the discordant pairs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct McNemar {
    /// Pairs that passed on base only (regressions).
    pub base_only: usize,
    /// Pairs that passed on head only (fixes).
    pub head_only: usize,
    /// Two-sided p-value (None without discordant pairs).
    pub p_value: Option<f64>,
}

/// The `eval --json` model: the evidence for each prompt evaluated.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EvalModel<'a> {
    /// One summary per prompt, in the order they ran.
    pub evals: &'a [PairedSummary],
}

/// The evidence for one prompt: both sides' figures, the paired tests, and the flips.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PairedSummary {
    /// The prompt.
    pub prompt: String,
    /// The batch id (the eval event's id; every run the batch sent carries it as `eval`).
    pub eval: String,
    /// When the batch ran.
    pub ts: DateTime<Utc>,
    /// The version compared with.
    pub base: SideInfo,
    /// The version under review.
    pub head: SideInfo,
    /// Cases.
    pub cases: usize,
    /// Repeats of each case.
    pub repeat: u32,
    /// Pairs (cases × repeats that ran on both sides).
    pub pairs: usize,
    /// The seed of the order.
    pub seed: u64,
    /// Base side figures.
    pub base_figures: SideFigures,
    /// Head side figures.
    pub head_figures: SideFigures,
    /// Head − base pass rate, in percentage points.
    pub pass_rate_delta_pts: Option<f64>,
    /// McNemar's exact test of pass/fail on the pairs.
    pub mcnemar: McNemar,
    /// Median over pairs of head − base time, ms.
    pub latency_delta_p50_ms: Option<f64>,
    /// Wilcoxon signed-rank test of the pairs' times (head vs base).
    pub latency_test: Option<Wilcoxon>,
    /// Head − base mean judge score, over pairs scored on both sides.
    pub quality_delta: Option<f64>,
    /// Wilcoxon signed-rank test of the pairs' judge scores (head vs base).
    pub quality_test: Option<Wilcoxon>,
    /// The pairs that flipped: regressions first, then fixes.
    pub flips: Vec<Flip>,
    /// Every pair, in schedule order (empty where a report shows the summary only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<PairOutcome>,
    /// One line for a reviewer.
    pub verdict: String,
}

impl PairedSummary {
    /// The summary of a batch's pairs.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        prompt: &str,
        base: SideInfo,
        head: SideInfo,
        cases: usize,
        (eval, ts): (&str, DateTime<Utc>),
        repeat: u32,
        seed: u64,
        outcomes: Vec<PairOutcome>,
    ) -> Self {
        let figures = |pick: fn(&PairOutcome) -> &Outcome| {
            let os: Vec<&Outcome> = outcomes.iter().map(pick).collect();
            let passed = os.iter().filter(|o| o.success).count();
            let mut times: Vec<f64> = os.iter().map(|o| o.execution_time_ms).collect();
            let q = stats::quantiles(&mut times, &[0.5, 0.95]);
            let tokens: Vec<f64> = os
                .iter()
                .filter_map(|o| o.token_count)
                .map(|t| t as f64)
                .collect();
            let mut by_case: HashMap<&str, (usize, usize)> = HashMap::new();
            for o in &os {
                let e = by_case.entry(o.case.as_str()).or_default();
                e.0 += 1;
                e.1 += usize::from(o.success);
            }
            let n_cases = by_case.len() as f64;
            let share = |f: fn(&(usize, usize)) -> bool| {
                (n_cases > 0.0).then(|| by_case.values().filter(|c| f(c)).count() as f64 / n_cases)
            };
            SideFigures {
                runs: os.len(),
                passed,
                pass_rate: (!os.is_empty()).then(|| passed as f64 / os.len() as f64),
                p50_ms: q.as_ref().map(|q| q[0]),
                p95_ms: q.as_ref().map(|q| q[1]),
                tokens_mean: stats::mean(&tokens),
                pass_all_k: share(|(n, p)| p == n),
                pass_any_k: share(|(_, p)| *p > 0),
                reused: os.iter().filter(|o| o.reused).count(),
                quality_mean: stats::mean(
                    &os.iter()
                        .filter_map(|o| o.quality_score)
                        .collect::<Vec<_>>(),
                ),
                quality_n: os.iter().filter(|o| o.quality_score.is_some()).count(),
                cost_total: None,
                cost_per_run: None,
            }
        };
        let base_figures = figures(|p| &p.base);
        let head_figures = figures(|p| &p.head);
        let base_only = outcomes
            .iter()
            .filter(|p| p.base.success && !p.head.success)
            .count();
        let head_only = outcomes
            .iter()
            .filter(|p| !p.base.success && p.head.success)
            .count();
        let mcnemar = McNemar {
            base_only,
            head_only,
            p_value: stats::mcnemar_exact(base_only as u64, head_only as u64),
        };
        let head_t: Vec<f64> = outcomes.iter().map(|p| p.head.execution_time_ms).collect();
        let base_t: Vec<f64> = outcomes.iter().map(|p| p.base.execution_time_ms).collect();
        let mut diffs: Vec<f64> = head_t.iter().zip(&base_t).map(|(h, b)| h - b).collect();
        let latency_delta_p50_ms = stats::quantile(&mut diffs, 0.5);
        let latency_test = stats::wilcoxon_signed_rank(&head_t, &base_t);
        let (head_q, base_q): (Vec<f64>, Vec<f64>) = outcomes
            .iter()
            .filter_map(|p| p.head.quality_score.zip(p.base.quality_score))
            .unzip();
        let quality_delta = stats::mean(&head_q)
            .zip(stats::mean(&base_q))
            .map(|(h, b)| h - b);
        let quality_test = stats::wilcoxon_signed_rank(&head_q, &base_q);
        let mut flips: Vec<Flip> = outcomes
            .iter()
            .filter(|p| p.base.success != p.head.success)
            .map(|p| Flip {
                case: p.case.clone(),
                sample: p.sample,
                direction: if p.base.success {
                    FlipDirection::Regression
                } else {
                    FlipDirection::Fix
                },
                base_failed: failed(&p.base),
                head_failed: failed(&p.head),
                base_output: cut(&p.base.output),
                head_output: cut(&p.head.output),
            })
            .collect();
        flips.sort_by(|a, b| {
            (a.direction, &a.case, a.sample).cmp(&(b.direction, &b.case, b.sample))
        });
        let pass_rate_delta_pts = base_figures
            .pass_rate
            .zip(head_figures.pass_rate)
            .map(|(b, h)| (h - b) * 100.0);
        let mut s = PairedSummary {
            prompt: prompt.to_string(),
            eval: eval.to_string(),
            ts,
            base,
            head,
            cases,
            repeat,
            pairs: outcomes.len(),
            seed,
            base_figures,
            head_figures,
            pass_rate_delta_pts,
            mcnemar,
            latency_delta_p50_ms,
            latency_test,
            quality_delta,
            quality_test,
            flips,
            outcomes,
            verdict: String::new(),
        };
        s.verdict = s.make_verdict();
        s
    }

    /// Price both sides' runs with `config`'s `[prices]` for each side's model.
    pub fn with_costs(mut self, config: &crate::config::Config) -> Self {
        let price = |side: &SideInfo| {
            side.model
                .as_deref()
                .and_then(|m| config.price_of(m))
                .copied()
        };
        let (base_price, head_price) = (price(&self.base), price(&self.head));
        let (t, p) = super::costs(self.outcomes.iter().map(|o| &o.base), base_price.as_ref());
        self.base_figures.cost_total = t;
        self.base_figures.cost_per_run = p;
        let (t, p) = super::costs(self.outcomes.iter().map(|o| &o.head), head_price.as_ref());
        self.head_figures.cost_total = t;
        self.head_figures.cost_per_run = p;
        self
    }

    fn make_verdict(&self) -> String {
        use crate::format::{p_value, pct, signed};
        let sig = |p: f64| {
            if p < crate::metrics::ALPHA {
                p_value(p)
            } else {
                format!("{}, not significant", p_value(p))
            }
        };
        let mut parts = vec![format!(
            "pass rate {} → {}",
            pct(self.base_figures.pass_rate),
            pct(self.head_figures.pass_rate)
        )];
        let m = &self.mcnemar;
        parts.push(match m.p_value {
            Some(p) => format!(
                "{} regression(s), {} fix(es) (McNemar {})",
                m.base_only,
                m.head_only,
                sig(p)
            ),
            None => "no pair changed outcome".to_string(),
        });
        if let Some(d) = self.latency_delta_p50_ms {
            parts.push(match &self.latency_test {
                Some(t) => format!(
                    "time {} per pair (Wilcoxon {})",
                    crate::format::signed_ms(d),
                    sig(t.p_value)
                ),
                None => format!("time {} per pair", crate::format::signed_ms(d)),
            });
        }
        if let Some(d) = self.quality_delta {
            parts.push(match &self.quality_test {
                Some(t) => format!("quality {} (Wilcoxon {})", signed(d, 1, ""), sig(t.p_value)),
                None => format!("quality {}", signed(d, 1, "")),
            });
        }
        format!(
            "{} {} vs {}: {}",
            self.prompt,
            self.head.version,
            self.base.version,
            parts.join("; ")
        )
    }
}

fn failed(o: &Outcome) -> Vec<String> {
    if o.expect_failed.is_empty() {
        o.error.iter().cloned().collect()
    } else {
        o.expect_failed.clone()
    }
}

/// An output cut for side-by-side reading.
fn cut(s: &str) -> String {
    const MAX: usize = 600;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(MAX).collect();
        t.push('…');
        t
    }
}

/// The batch event written beside the runs: which versions, cases, model and seed.
#[derive(Debug, Clone, Serialize)]
pub struct EvalEvent {
    /// Always `eval`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The batch id.
    pub id: String,
    /// When it ran.
    #[serde(serialize_with = "ser_ts")]
    pub ts: DateTime<Utc>,
    /// The prompt.
    pub prompt: String,
    /// The base side: version, where its text came from, and its blob.
    pub base: SideInfo,
    /// The head side.
    pub head: SideInfo,
    /// The cases file and its blob.
    pub cases_file: PathBuf,
    /// Blob id of the cases file.
    pub cases_sha: String,
    /// The models of the base and head sides.
    pub models: [String; 2],
    /// The seed of the order.
    pub seed: u64,
    /// Cases.
    pub cases: usize,
    /// Repeats.
    pub repeat: u32,
    /// Pairs that ran.
    pub pairs: usize,
    /// Answers reused, base and head.
    pub reused: [usize; 2],
    /// Every pair: its case and sample, and each side's run and verdict (a reused answer names
    /// the run it came from, so the batch reads back whole).
    pub results: Vec<PairRecord>,
}

/// One pair of a recorded batch.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct PairRecord {
    /// The case.
    pub case: String,
    /// The repeat index.
    pub sample: u32,
    /// The base side.
    pub base: SideResult,
    /// The head side.
    pub head: SideResult,
}

/// One side of a recorded pair.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SideResult {
    /// The run that holds the answer.
    pub run: String,
    /// Whether it passed the batch's expectations.
    pub pass: bool,
    /// What failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
    /// The judge's score in this batch, when a judge scored it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<f64>,
}

fn ser_ts<S: serde::Serializer>(ts: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::runlog::format_ts(ts))
}

/// How a batch runs.
#[derive(Clone, Copy)]
pub struct BatchOptions<'a> {
    /// Repeats of each case.
    pub repeat: u32,
    /// The seed of the order.
    pub seed: u64,
    /// Pairs in flight at once.
    pub concurrency: usize,
    /// Send every request, even when a recorded answer to it exists.
    pub fresh: bool,
    /// Record the runs and the batch.
    pub record: bool,
    /// Set to stop after the pairs in flight.
    pub stop: &'a std::sync::atomic::AtomicBool,
    /// The batch's time.
    pub now: DateTime<Utc>,
    /// A fixed time for every run (reproducible tests).
    pub pinned_now: Option<DateTime<Utc>>,
    /// The judge prompts the cases use.
    pub judges: Option<&'a super::Judges>,
}

/// One side's model server and model.
pub struct SideTarget<'a> {
    /// Where its requests go.
    pub endpoint: &'a super::Endpoint,
    /// The model asked.
    pub model: &'a str,
}

/// Why a batch stopped.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// A case could not be rendered for a side.
    #[error("{side} side ({version}), case {case}: {source}")]
    Render {
        /// The side.
        side: &'static str,
        /// Its version.
        version: Version,
        /// The case.
        case: String,
        /// Why.
        #[source]
        source: Box<crate::render::RenderError>,
    },
    /// A request never reached a model; nothing about the versions was learnt.
    #[error("{side} side ({version}), case {case}: {error}")]
    Attempt {
        /// The side.
        side: &'static str,
        /// Its version.
        version: Version,
        /// The case.
        case: String,
        /// What went wrong.
        error: String,
        /// Its kind.
        failure: super::Failure,
    },
    /// The batch event could not be written.
    #[error(transparent)]
    Write(#[from] crate::runlog::WriteError),
}

/// Run `plan`'s cases on both sides, pair by pair, reusing recorded answers from `recorded`
/// (see [`Project::recorded_requests`]) unless `fresh`; `done` sees each pair as it finishes.
/// Records every execution (with `eval`, `side`, `sample` and `request_sha`) and the batch event.
#[cfg(feature = "providers")]
pub fn run_batch<P: FnMut(&PairOutcome)>(
    project: &Project,
    plan: &Plan,
    targets: [SideTarget<'_>; 2],
    opts: &BatchOptions<'_>,
    recorded: &HashMap<(String, u32), Reusable>,
    mut done: P,
) -> Result<PairedSummary, BatchError> {
    use std::sync::atomic::Ordering;
    let eval = crate::runlog::new_id(&opts.now);
    let sides = [(&plan.base, SideName::Base), (&plan.head, SideName::Head)];
    let executions: Vec<super::Execution<'_>> = sides
        .iter()
        .zip(&targets)
        .map(|((side, _), t)| super::Execution {
            project,
            version: &side.prompt,
            endpoint: t.endpoint,
            model: t.model,
            record: opts.record,
            commit: project.commit_of(&side.prompt),
            pinned_now: opts.pinned_now,
            judges: opts.judges,
            judge_reuse: (!opts.fresh).then_some(recorded),
        })
        .collect();
    // Render every case on both sides first: a missing variable stops before any request.
    let mut requests: Vec<[(Value, String); 2]> = Vec::new();
    for case in &plan.cases {
        let mut pair = Vec::new();
        for (((side, name), exec), _) in sides.iter().zip(&executions).zip(&targets) {
            let text =
                crate::render::render_prompt(&side.prompt, &case.vars).map_err(|source| {
                    BatchError::Render {
                        side: name.as_str(),
                        version: side.version.clone(),
                        case: case.name.clone(),
                        source: Box::new(source),
                    }
                })?;
            pair.push(exec.request(&text));
        }
        let head = pair.pop().expect("two sides");
        let base = pair.pop().expect("two sides");
        requests.push([base, head]);
    }
    let work = schedule(plan.cases.len(), opts.repeat, opts.seed);
    let attempt_failed = std::sync::atomic::AtomicBool::new(false);
    let stop = || opts.stop.load(Ordering::SeqCst) || attempt_failed.load(Ordering::SeqCst);
    let run_side = |i: usize, case: usize, sample: u32| -> Outcome {
        let (body, sha) = &requests[case][i];
        let reuse = (!opts.fresh)
            .then(|| recorded.get(&(sha.clone(), sample)))
            .flatten();
        let mut extra = run_fields(&eval, sides[i].1, sample, sha);
        extra.insert("concurrency".into(), Value::from(opts.concurrency));
        let o = executions[i].execute_request(&plan.cases[case], body, extra, reuse, false);
        if o.failure.as_ref().is_some_and(super::Failure::is_attempt) {
            attempt_failed.store(true, Ordering::SeqCst);
        }
        o
    };
    let outcomes: Vec<PairOutcome> = super::run_pool(
        &work,
        opts.concurrency,
        opts.stop,
        |&(case, sample, first)| {
            if stop() {
                return None;
            }
            let (base, head) = match first {
                SideName::Base => {
                    let b = run_side(0, case, sample);
                    (b, run_side(1, case, sample))
                }
                SideName::Head => {
                    let h = run_side(1, case, sample);
                    (run_side(0, case, sample), h)
                }
            };
            Some(PairOutcome {
                case: plan.cases[case].name.clone(),
                sample,
                first,
                base,
                head,
            })
        },
        |p| {
            if let Some(p) = p {
                done(p)
            }
        },
    )
    .into_iter()
    .flatten()
    .collect();
    for p in &outcomes {
        for (o, (side, name)) in [&p.base, &p.head].into_iter().zip(&sides) {
            if let Some(f) = o.failure.as_ref().filter(|f| f.is_attempt()) {
                return Err(BatchError::Attempt {
                    side: name.as_str(),
                    version: side.version.clone(),
                    case: p.case.clone(),
                    error: o.error.clone().unwrap_or_default(),
                    failure: f.clone(),
                });
            }
        }
    }
    let ts = opts.pinned_now.unwrap_or(opts.now);
    let info = |side: &Side, t: &SideTarget<'_>| SideInfo {
        model: Some(t.model.to_string()),
        ..side.info()
    };
    let summary = PairedSummary::new(
        &plan.prompt,
        info(&plan.base, &targets[0]),
        info(&plan.head, &targets[1]),
        plan.cases.len(),
        (&eval, ts),
        opts.repeat,
        opts.seed,
        outcomes,
    )
    .with_costs(project.config());
    if opts.record {
        let side = |o: &Outcome| SideResult {
            run: o.run_id.clone().unwrap_or_default(),
            pass: o.success,
            failed: failed(o),
            quality: o.quality_score,
        };
        let event = EvalEvent {
            kind: "eval",
            id: eval.clone(),
            ts,
            prompt: plan.prompt.clone(),
            base: summary.base.clone(),
            head: summary.head.clone(),
            cases_file: plan.cases_file.clone(),
            cases_sha: plan.cases_sha.clone(),
            models: [targets[0].model.to_string(), targets[1].model.to_string()],
            seed: opts.seed,
            cases: plan.cases.len(),
            repeat: opts.repeat,
            pairs: summary.pairs,
            reused: [summary.base_figures.reused, summary.head_figures.reused],
            results: summary
                .outcomes
                .iter()
                .map(|p| PairRecord {
                    case: p.case.clone(),
                    sample: p.sample,
                    base: side(&p.base),
                    head: side(&p.head),
                })
                .collect(),
        };
        let rel = crate::runlog::log_rel(&plan.prompt, &event.ts);
        crate::runlog::append_line(project.root(), &rel, &event)?;
    }
    Ok(summary)
}

/// Extra run fields that tie an execution to its batch.
pub fn run_fields(
    eval: &str,
    side: SideName,
    sample: u32,
    request_sha: &str,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("eval".into(), Value::String(eval.to_string()));
    m.insert("side".into(), Value::String(side.as_str().to_string()));
    m.insert("sample".into(), Value::from(sample));
    m.insert("request_sha".into(), Value::String(request_sha.to_string()));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(case: &str, ms: f64, success: bool) -> Outcome {
        Outcome {
            case: case.into(),
            run_id: None,
            success,
            execution_time_ms: ms,
            token_count: Some(10),
            error: (!success).then(|| "expectation failed: json".to_string()),
            failure: None,
            expect_failed: if success { vec![] } else { vec!["json".into()] },
            output: format!("{case} {ms}"),
            reused: false,
            quality_score: None,
            prompt_tokens: None,
            completion_tokens: None,
        }
    }

    fn plan() -> Plan {
        let v = crate::prompt::test_version("p", "1.0", "---\ngoal: g\n---\nhi\n");
        let side = |ver: &str| Side {
            version: ver.parse().expect("v"),
            at: "here".into(),
            prompt_sha: "x".into(),
            prompt: v.clone(),
        };
        Plan {
            prompt: "p".into(),
            base: side("1.0"),
            head: side("1.1"),
            cases_file: "c.jsonl".into(),
            cases_sha: "y".into(),
            cases: vec![],
        }
    }

    #[test]
    fn the_schedule_is_a_seeded_permutation_of_every_pair() {
        let a = schedule(5, 3, 42);
        assert_eq!(a, schedule(5, 3, 42), "same seed, same order");
        assert_ne!(a, schedule(5, 3, 43));
        let mut pairs: Vec<(usize, u32)> = a.iter().map(|(c, s, _)| (*c, *s)).collect();
        pairs.sort();
        let all: Vec<(usize, u32)> = (0..5).flat_map(|c| (0..3).map(move |s| (c, s))).collect();
        assert_eq!(pairs, all);
        assert!(a.iter().any(|w| w.2 == SideName::Head) && a.iter().any(|w| w.2 == SideName::Base));
    }

    #[test]
    fn paired_figures_and_tests_match_scipy() {
        // Cases a..d, 2 samples each: a passes on both; b regresses in sample 0; c is fixed in
        // both samples; d fails on both.
        let rows = [
            ("a", 0, (true, 100.0), (true, 120.0)),
            ("a", 1, (true, 110.0), (true, 125.0)),
            ("b", 0, (true, 90.0), (false, 140.0)),
            ("b", 1, (true, 95.0), (true, 100.0)),
            ("c", 0, (false, 300.0), (true, 200.0)),
            ("c", 1, (false, 310.0), (true, 260.0)),
            ("d", 0, (false, 50.0), (false, 55.0)),
            ("d", 1, (false, 60.0), (false, 58.0)),
        ];
        let outcomes: Vec<PairOutcome> = rows
            .iter()
            .map(|(c, s, b, h)| PairOutcome {
                case: c.to_string(),
                sample: *s,
                first: SideName::Base,
                base: outcome(c, b.1, b.0),
                head: outcome(c, h.1, h.0),
            })
            .collect();
        let p = plan();
        let now = DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .expect("now")
            .with_timezone(&Utc);
        let s = PairedSummary::new(
            &p.prompt,
            p.base.info(),
            p.head.info(),
            4,
            ("e1", now),
            2,
            7,
            outcomes,
        );
        assert_eq!((s.base_figures.passed, s.head_figures.passed), (4, 5));
        assert_eq!(s.pass_rate_delta_pts, Some(12.5));
        assert_eq!((s.mcnemar.base_only, s.mcnemar.head_only), (1, 2));
        // scipy 1.17.1: scipy.stats.binomtest(1, 3, 0.5).pvalue -> 1.0
        assert_eq!(s.mcnemar.p_value, Some(1.0));
        // pass^2 (every sample passed): base a, b = 2/4; head a, c = 2/4.
        // pass@2 (some sample passed): base a, b = 2/4; head a, b, c = 3/4.
        assert_eq!(
            (s.base_figures.pass_all_k, s.head_figures.pass_all_k),
            (Some(0.5), Some(0.5))
        );
        assert_eq!(
            (s.base_figures.pass_any_k, s.head_figures.pass_any_k),
            (Some(0.5), Some(0.75))
        );
        // scipy 1.17.1: scipy.stats.wilcoxon([120,125,140,100,200,260,55,58],
        //   [100,110,90,95,300,310,50,60]) -> statistic=15.5, pvalue=0.796875
        let t = s.latency_test.expect("pairs");
        assert_eq!((t.statistic, t.p_value), (15.5, 0.796875));
        // numpy: np.median([20,15,50,5,-100,-50,5,-2]) -> 5.0
        assert_eq!(s.latency_delta_p50_ms, Some(5.0));
        let dirs: Vec<(FlipDirection, &str)> = s
            .flips
            .iter()
            .map(|f| (f.direction, f.case.as_str()))
            .collect();
        assert_eq!(
            dirs,
            [
                (FlipDirection::Regression, "b"),
                (FlipDirection::Fix, "c"),
                (FlipDirection::Fix, "c")
            ]
        );
        assert!(s.verdict.starts_with("p 1.1 vs 1.0: pass rate 50.0% → 62.5%; 1 regression(s), 2 fix(es) (McNemar p=1.000, not significant)"), "{}", s.verdict);
    }

    #[test]
    fn a_failed_request_is_sent_again_not_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("prompts")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("runs/p")).expect("mkdir");
        let line = |id: &str, ts: &str, error: Option<&str>, out: &str| {
            serde_json::json!({"id": id, "ts": ts, "prompt": "p", "version": "1.0",
                "execution_time_ms": 5, "success": error.is_none(), "error": error,
                "output": out, "request_sha": "abc", "sample": 0})
            .to_string()
        };
        let log = [
            line("t", "2026-11-01T10:00:00Z", Some("timeout after 1 s"), ""),
            line("ok", "2026-11-02T10:00:00Z", None, "answer"),
        ]
        .join("\n");
        std::fs::write(dir.path().join("runs/p/2026-11.jsonl"), log + "\n").expect("write");
        let project = Project::open(dir.path()).expect("open");
        let r = project.recorded_requests();
        let got = r.get(&("abc".to_string(), 0)).expect("the answer");
        assert_eq!((got.run_id.as_str(), got.output.as_str()), ("ok", "answer"));
    }
}
