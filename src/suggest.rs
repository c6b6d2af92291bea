//! `suggest`: concrete, ranked improvement suggestions for one prompt version, drawn from its
//! runs, its eval batches, its file and the project's labels, with no model call.
//!
//! Each rule is small and has its thresholds here as constants (the README lists them): answers
//! cut at the token limit, JSON expectations that fail, failures concentrated in a few cases,
//! latency that tracks output length, judge reasons that repeat, `check`'s template warnings,
//! and a newer version that beat production in a paired eval but is not labelled `production`.
//! Every finding carries its figures and a few example run ids, so a reviewer can look.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::diagnostic::Diagnostic;
use crate::project::{LookupError, Project, check_name};
use crate::prompt::PromptVersion;
use crate::query::export::{export_row, latest_ratings};
use crate::runlog::{Event, RunFilter, scan};
use crate::stats;
use crate::version::Version;

/// Runs a run-based rule needs before it says anything.
pub const MIN_RUNS: usize = 10;
/// Share of the runs that record a finish reason ending at the token limit (`length`) from
/// which `truncated` fires.
pub const TRUNCATED_SHARE: f64 = 0.10;
/// Share of the runs with expectations whose `json`/`json_schema` expectation failed from
/// which `json_failures` fires (with at least [`MIN_JSON_FAILURES`] such runs).
pub const JSON_FAILURE_SHARE: f64 = 0.20;
/// Fewest failing runs for `json_failures`.
pub const MIN_JSON_FAILURES: usize = 3;
/// Temperature from which a JSON failure rule advises lowering it.
pub const HIGH_TEMPERATURE: f64 = 0.7;
/// Fewest failed runs, and cases, for `concentrated_failures`.
pub const MIN_FAILURES: usize = 5;
/// Fewest cases with runs for `concentrated_failures`.
pub const MIN_CASES: usize = 3;
/// Share of the failures the named cases hold together.
pub const CONCENTRATED_SHARE: f64 = 0.80;
/// Most of the cases (as a share of those that ran) the failures may sit in to count as
/// concentrated.
pub const CONCENTRATED_CASES: f64 = 1.0 / 3.0;
/// Answered runs `latency_tracks_length` needs.
pub const MIN_LATENCY_RUNS: usize = 20;
/// Pearson correlation of time and output length from which latency tracks length.
pub const LATENCY_CORRELATION: f64 = 0.8;
/// How much longer than the median answer the slowest runs' answers are (mean length of the
/// runs at or above the p95 time over the median length).
pub const SLOW_LENGTH_RATIO: f64 = 1.5;
/// Word-set similarity (Jaccard) from which two judge reasons are the same reason.
pub const REASON_SIMILARITY: f64 = 0.5;
/// Fewest runs a group of judge reasons needs to be reported.
pub const MIN_REASON_RUNS: usize = 3;
/// Most groups of judge reasons reported.
pub const MAX_REASON_GROUPS: usize = 3;
/// Significance level of the paired test behind `unlabelled_better`.
pub const ALPHA: f64 = 0.05;
/// Example run ids per finding.
pub const EXAMPLES: usize = 3;

/// What to suggest improvements for.
#[derive(Debug, Clone)]
pub struct SuggestQuery {
    /// The prompt.
    pub prompt: String,
    /// The version (default: the latest).
    pub version: Option<Version>,
}

/// Which rule a finding comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A newer version beat the production one in a paired eval, and is not labelled.
    UnlabelledBetter,
    /// Answers end at the token limit.
    Truncated,
    /// `json`/`json_schema` expectations fail often.
    JsonFailures,
    /// Failures sit in a few cases.
    ConcentratedFailures,
    /// Slow runs are the ones with long answers.
    LatencyTracksLength,
    /// Judges give the same reason again and again.
    RepeatedJudgeReason,
    /// `check` warns about the version's template.
    Template,
}

impl Rule {
    /// The rule's name, as `--json` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::UnlabelledBetter => "unlabelled_better",
            Rule::Truncated => "truncated",
            Rule::JsonFailures => "json_failures",
            Rule::ConcentratedFailures => "concentrated_failures",
            Rule::LatencyTracksLength => "latency_tracks_length",
            Rule::RepeatedJudgeReason => "repeated_judge_reason",
            Rule::Template => "template",
        }
    }

    /// Where the rule sits in the ranking before the share of runs: evidence for a label
    /// first, then what the runs show, then the file's own warnings.
    fn tier(self) -> u8 {
        match self {
            Rule::UnlabelledBetter => 0,
            Rule::Template => 2,
            _ => 1,
        }
    }
}

/// One suggestion, with what it rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Finding {
    /// The rule.
    pub rule: Rule,
    /// What the data shows, with its figures.
    pub finding: String,
    /// What to try.
    pub suggestion: String,
    /// Share of the version's runs the finding concerns (None for file and label findings).
    pub share: Option<f64>,
    /// The figures behind it, by name.
    pub figures: BTreeMap<String, f64>,
    /// The cases it names, when it is about cases.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cases: Vec<String>,
    /// A few runs that show it (full ids).
    pub examples: Vec<String>,
}

/// The `suggest --json` model.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SuggestModel {
    /// The prompt.
    pub prompt: String,
    /// The version.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub version: Version,
    /// Its file, relative to the project root.
    pub file: PathBuf,
    /// Runs of the version read.
    pub runs: usize,
    /// The findings, ranked: label evidence, then by share of runs, then file warnings.
    pub findings: Vec<Finding>,
    /// Problems in the run logs (bad lines are skipped).
    #[serde(skip)]
    pub diagnostics: Vec<Diagnostic>,
}

/// One round of `suggest --rewrite`: the version written and its eval against the best so far.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RewriteRound {
    /// The round, from 1.
    pub round: u32,
    /// The version the optimizer rewrote.
    pub from_version: String,
    /// The proposed version that was written.
    pub candidate: crate::create::Created,
    /// Its paired eval: base is `from_version`, head the candidate.
    pub eval: crate::eval::paired::PairedSummary,
    /// Whether the candidate passed significantly more pairs (see [`is_better`]).
    pub better: bool,
}

/// The `suggest --rewrite --json` model: every round and the best candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RewriteModel {
    /// The prompt.
    pub prompt: String,
    /// The version the first round rewrote.
    pub from_version: String,
    /// The rounds, in order.
    pub rounds: Vec<RewriteRound>,
    /// The best version after the last round: a candidate replaces the best one only when
    /// [`is_better`]; `from_version` when none did.
    pub best_version: String,
}

/// Whether a candidate (the head of `eval`) beats the version it was rewritten from: more pairs
/// pass on the head only than on the base only, and McNemar's exact test gives p < [`ALPHA`].
pub fn is_better(eval: &crate::eval::paired::PairedSummary) -> bool {
    eval.mcnemar.head_only > eval.mcnemar.base_only
        && eval.mcnemar.p_value.is_some_and(|p| p < ALPHA)
}

/// Why suggestions cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum SuggestError {
    /// The prompt or version does not exist.
    #[error(transparent)]
    Lookup(#[from] LookupError),
}

/// The name of the optimizer prompt: a project's own `prompts/ptrack_optimizer/` wins over the
/// bundled one.
pub const OPTIMIZER: &str = "ptrack_optimizer";

/// The bundled optimizer prompt (version 1.0); copy it to `prompts/ptrack_optimizer/1.0.md` to
/// change it.
pub const BUNDLED_OPTIMIZER: &str = r#"---
goal: Rewrite a prompt so that its failing eval cases pass, keeping what already works.
temperature: 0.2
token_limit: 1024
variables:
  prompt: {description: The prompt text to improve}
  goal: {description: What the prompt is for}
  params: {description: Its sampling parameters as JSON}
  variables: {description: The variables the text may use}
  failures: {description: Failing runs, each with case, input, output and failed expectations}
  reasons: {description: What judges said about low-scored answers}
  findings: {description: Suggestions drawn from the runs}
---
You improve prompts for a language model. Here is a prompt{% if goal %} whose goal is: {{ goal }}{% endif %}.

<<<CURRENT
{{ prompt }}
CURRENT>>>

Its sampling parameters: {{ params }}
{% if variables %}It may use these template variables, written as {{ "{{ name }}" }}: {{ variables | join(", ") }}.
{% endif %}{% if failures %}
These runs failed:
{% for f in failures %}- case {{ f.case }} with input {{ f.input }}: the answer was
  {{ f.output }}
  and these expectations failed: {{ f.failed | join("; ") }}
{% endfor %}{% endif %}{% if reasons %}
Judges said about low-scored answers:
{% for r in reasons %}- {{ r }}
{% endfor %}{% endif %}{% if findings %}
What the runs show:
{% for f in findings %}- {{ f }}
{% endfor %}{% endif %}
Write an improved prompt that fixes these failures and keeps every template variable the
current one uses. Reply with the complete new prompt text only, between a line <<<PROMPT and
a line PROMPT>>>, and nothing else.
"#;

/// Most failing runs sent to the optimizer (one per case).
pub const MAX_REWRITE_FAILURES: usize = 5;

/// Why an optimizer's answer is not a usable prompt.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RewriteError {
    /// No `<<<PROMPT` … `PROMPT>>>` block.
    #[error("the answer holds no prompt between a line <<<PROMPT and a line PROMPT>>>")]
    NoBlock,
    /// The block is empty.
    #[error("the prompt between <<<PROMPT and PROMPT>>> is empty")]
    Empty,
    /// The same text as the version's.
    #[error("the proposed prompt is the version's text unchanged")]
    Unchanged,
    /// Not a template that parses.
    #[error("the proposed prompt is not a valid template: {0}")]
    Template(String),
    /// Uses variables the version does not declare.
    #[error("the proposed prompt uses {0}, which the version does not declare")]
    Undeclared(String),
    /// Drops variables the version's text uses.
    #[error("the proposed prompt drops {0}, which the version's text uses")]
    Dropped(String),
}

/// The optimizer prompt: the latest valid version of the project's `ptrack_optimizer`, else
/// the bundled one.
pub fn optimizer(registry: &crate::project::Registry) -> Result<PromptVersion, LookupError> {
    if let Some(p) = registry.get(OPTIMIZER) {
        return p.resolve(None).cloned();
    }
    let path = Path::new("<bundled>").join(OPTIMIZER).join("1.0.md");
    let outcome = crate::prompt::parse_prompt_file(
        &path,
        OPTIMIZER,
        &Version::first(),
        BUNDLED_OPTIMIZER.as_bytes(),
    );
    // The bundled text is fixed and a unit test parses it.
    Ok(outcome
        .version
        .expect("the bundled optimizer prompt parses"))
}

/// The optimizer's variables for `version`: its text, goal, parameters and variables, its
/// failing runs (the latest one of each case, at most [`MAX_REWRITE_FAILURES`]), the judges'
/// reasons and the findings.
pub fn rewrite_vars(
    version: &PromptVersion,
    runs: &[RunView],
    findings: &[Finding],
) -> Map<String, Value> {
    let mut failures: Vec<Value> = Vec::new();
    let mut cases: HashSet<&str> = HashSet::new();
    let mut reasons: Vec<String> = Vec::new();
    for r in runs.iter().rev() {
        for f in r.expect_failed.iter().flatten() {
            if let Some(why) = judge_reason(f)
                && !reasons.iter().any(|x| x == why)
                && reasons.len() < 10
            {
                reasons.push(why.to_string());
            }
        }
        let Some(case) = r.case.as_deref() else {
            continue;
        };
        if r.success || failures.len() >= MAX_REWRITE_FAILURES || !cases.insert(case) {
            continue;
        }
        let output: String = r.output.chars().take(2000).collect();
        failures.push(serde_json::json!({
            "case": case,
            "input": Value::Object(r.input.clone()).to_string(),
            "output": output,
            "failed": r.expect_failed.clone().unwrap_or_default(),
        }));
    }
    let p = &version.meta.params;
    let mut params = Map::new();
    if let Some(t) = p.temperature {
        params.insert("temperature".into(), crate::runlog::json_number(t));
    }
    if let Some(t) = p.token_limit {
        params.insert("token_limit".into(), Value::from(t));
    }
    let mut vars = Map::new();
    vars.insert("prompt".into(), Value::String(version.text.clone()));
    vars.insert(
        "goal".into(),
        version.meta.goal.clone().map_or(Value::Null, Value::String),
    );
    vars.insert(
        "params".into(),
        Value::String(Value::Object(params).to_string()),
    );
    vars.insert(
        "variables".into(),
        Value::from(version.meta.variables.keys().cloned().collect::<Vec<_>>()),
    );
    vars.insert("failures".into(), Value::Array(failures));
    vars.insert("reasons".into(), Value::from(reasons));
    vars.insert(
        "findings".into(),
        Value::from(
            findings
                .iter()
                .filter(|f| f.rule != Rule::UnlabelledBetter)
                .map(|f| format!("{} → {}", f.finding, f.suggestion))
                .collect::<Vec<_>>(),
        ),
    );
    vars
}

/// The new prompt text in an optimizer's `answer`, checked against `version`: a template
/// that parses, uses only declared variables and keeps every variable the old text uses.
pub fn parse_rewrite(answer: &str, version: &PromptVersion) -> Result<String, RewriteError> {
    let start = answer.find("<<<PROMPT").ok_or(RewriteError::NoBlock)?;
    let rest = &answer[start + "<<<PROMPT".len()..];
    let end = rest.find("PROMPT>>>").ok_or(RewriteError::NoBlock)?;
    let text = rest[..end].trim_matches(['\n', '\r', ' ']).to_string();
    if text.trim().is_empty() {
        return Err(RewriteError::Empty);
    }
    if text.trim() == version.text.trim() {
        return Err(RewriteError::Unchanged);
    }
    let mut proposed = version.clone();
    proposed.text = format!("{text}\n");
    proposed.messages = Vec::new();
    let used = crate::render::used_variables(&proposed)
        .map_err(|e| RewriteError::Template(e.to_string()))?;
    let names = |v: Vec<&String>| {
        v.iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let undeclared: Vec<&String> = used
        .iter()
        .filter(|n| !version.meta.variables.contains_key(*n))
        .collect();
    if !undeclared.is_empty() {
        return Err(RewriteError::Undeclared(names(undeclared)));
    }
    let before = crate::render::used_variables(version).unwrap_or_default();
    let dropped: Vec<&String> = before.iter().filter(|n| !used.contains(*n)).collect();
    if !dropped.is_empty() {
        return Err(RewriteError::Dropped(names(dropped)));
    }
    Ok(format!("{text}\n"))
}

impl Project {
    /// Write `text` as the next version of `version`'s prompt, a copy of `version` marked
    /// `proposed_from` (and `proposed_eval`, the batch its failures came from); never over
    /// an existing file.
    pub fn write_proposal(
        &self,
        version: &PromptVersion,
        text: &str,
        eval: Option<&str>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::create::Created, crate::create::CreateError> {
        let mut front = vec![("proposed_from".to_string(), version.version.to_string())];
        if let Some(e) = eval {
            front.push(("proposed_eval".to_string(), e.to_string()));
        }
        self.create(
            &crate::create::NewVersion {
                name: version.name.clone(),
                from: Some(version.version.clone()),
                text: Some(text.to_string()),
                front,
                ..crate::create::NewVersion::default()
            },
            now,
        )
    }
}

/// What the rules read of one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunView {
    /// Its id.
    pub id: String,
    /// Whether it succeeded.
    pub success: bool,
    /// Wall time, ms.
    pub ms: f64,
    /// Characters of output.
    pub output_length: u64,
    /// Generated tokens, when the server said.
    pub completion_tokens: Option<u64>,
    /// The sampling temperature it ran with.
    pub temperature: Option<f64>,
    /// The token limit it ran with.
    pub token_limit: Option<u64>,
    /// Why the server stopped generating (`stop`, `length`, …), when recorded.
    pub finish_reason: Option<String>,
    /// The expectations that failed; None when the run had none.
    pub expect_failed: Option<Vec<String>>,
    /// The eval case it ran.
    pub case: Option<String>,
    /// Its input variables.
    pub input: Map<String, Value>,
    /// Its output.
    pub output: String,
    /// The eval batch it belongs to.
    pub eval: Option<String>,
}

impl RunView {
    /// The run as its log line's object gives it.
    pub fn from_object(o: &Map<String, Value>) -> RunView {
        let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
        let params = o.get("params").and_then(Value::as_object);
        RunView {
            id: s("id").unwrap_or_default(),
            success: o.get("success").and_then(Value::as_bool).unwrap_or(false),
            ms: o
                .get("execution_time_ms")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
            output_length: o
                .get("output_length")
                .and_then(Value::as_u64)
                .unwrap_or_else(|| s("output").map_or(0, |t| t.chars().count() as u64)),
            completion_tokens: o.get("completion_tokens").and_then(Value::as_u64),
            temperature: params
                .and_then(|p| p.get("temperature"))
                .and_then(Value::as_f64),
            token_limit: params
                .and_then(|p| p.get("token_limit"))
                .and_then(Value::as_u64),
            finish_reason: s("finish_reason"),
            expect_failed: o.get("expect_failed").and_then(Value::as_array).map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            }),
            case: s("case"),
            input: o
                .get("input")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            output: s("output").unwrap_or_default(),
            eval: s("eval"),
        }
    }
}

impl Project {
    /// The findings for `query`'s version (see the module docs for the rules).
    pub fn suggest(&self, query: &SuggestQuery) -> Result<SuggestModel, SuggestError> {
        check_name(&query.prompt)?;
        let registry = self.load_prompts();
        let version = registry
            .resolve(&query.prompt, query.version.as_ref())?
            .clone();
        let (runs, diagnostics) = self.run_views(&query.prompt, &version.version);
        let mut findings = Vec::new();
        findings.extend(self.unlabelled_better(&query.prompt));
        findings.extend(run_findings(&version, &runs));
        findings.extend(template_findings(&version));
        rank(&mut findings);
        Ok(SuggestModel {
            prompt: query.prompt.clone(),
            version: version.version.clone(),
            file: relative(self.root(), &version.path),
            runs: runs.len(),
            findings,
            diagnostics,
        })
    }

    /// Every run of `prompt` `version`, each id once, with its latest rating, in log order.
    pub fn run_views(&self, prompt: &str, version: &Version) -> (Vec<RunView>, Vec<Diagnostic>) {
        let filter = RunFilter {
            prompt: Some(prompt.to_string()),
            version: Some(version.to_string()),
            ..RunFilter::default()
        };
        let runs_dir = self.runs_dir();
        let display = Path::new("runs");
        let (ratings, diagnostics) = latest_ratings(&runs_dir, display, &filter);
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        scan(&runs_dir, display, &filter, |_, _, line, ev| {
            let Event::Run(run) = ev else { return };
            if !seen.insert(run.id.clone()) {
                return;
            }
            if let Some(obj) = export_row(line, &run, &ratings) {
                out.push(RunView::from_object(&obj));
            }
        });
        (out, diagnostics)
    }

    /// `unlabelled_better`: the latest eval batch of each newer version against the
    /// production one, when the newer one passed significantly more pairs.
    fn unlabelled_better(&self, prompt: &str) -> Vec<Finding> {
        let labels = self.labels();
        let Some(production) = labels.get(prompt, "production").map(|l| l.version.clone()) else {
            return Vec::new();
        };
        let mut latest: BTreeMap<Version, crate::eval::paired::PairedSummary> = BTreeMap::new();
        for b in self.eval_batches() {
            if b.prompt == prompt && b.base.version == production && b.head.version > production {
                latest.insert(b.head.version.clone(), b);
            }
        }
        let mut out = Vec::new();
        for (head, b) in latest {
            let m = b.mcnemar;
            let Some(p) = m.p_value else { continue };
            if p >= ALPHA || m.head_only <= m.base_only {
                continue;
            }
            let (bp, hp) = (
                b.base_figures.pass_rate.unwrap_or(0.0),
                b.head_figures.pass_rate.unwrap_or(0.0),
            );
            let mut figures = BTreeMap::new();
            figures.insert("pairs".into(), b.pairs as f64);
            figures.insert("base_pass_rate".into(), bp);
            figures.insert("head_pass_rate".into(), hp);
            figures.insert("fixes".into(), m.head_only as f64);
            figures.insert("regressions".into(), m.base_only as f64);
            figures.insert("p_value".into(), p);
            let examples = b
                .outcomes
                .iter()
                .filter(|o| o.head.success && !o.base.success)
                .filter_map(|o| o.head.run_id.clone())
                .take(EXAMPLES)
                .collect();
            out.push(Finding {
                rule: Rule::UnlabelledBetter,
                finding: format!(
                    "{prompt} {head} passed {} of {} pairs against production {production} in eval {} ({} → {}; {} fixes, {} regressions, McNemar p={})",
                    b.head_figures.passed,
                    b.pairs,
                    short(&b.eval),
                    pct(bp),
                    pct(hp),
                    m.head_only,
                    m.base_only,
                    p_text(p)
                ),
                suggestion: format!(
                    "move the label: `ptrack label {prompt} production {head}` (review the flipped pairs with `ptrack eval {prompt} --versions {production},{head}`)"
                ),
                share: None,
                figures,
                cases: Vec::new(),
                examples,
            });
        }
        out
    }
}

/// The rules that read runs.
pub fn run_findings(version: &PromptVersion, runs: &[RunView]) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(truncated(version, runs));
    out.extend(json_failures(version, runs));
    out.extend(concentrated_failures(runs));
    out.extend(latency_tracks_length(version, runs));
    out.extend(repeated_judge_reasons(runs));
    out
}

/// Label evidence first, then by share of runs (highest first), then file warnings; the
/// rule's name breaks ties, so the order is stable.
fn rank(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        a.rule
            .tier()
            .cmp(&b.rule.tier())
            .then(
                b.share
                    .unwrap_or(0.0)
                    .partial_cmp(&a.share.unwrap_or(0.0))
                    .unwrap_or(std::cmp::Ordering::Equal),
            )
            .then(a.rule.cmp(&b.rule))
    });
}

fn ids<'a>(runs: impl Iterator<Item = &'a RunView>) -> Vec<String> {
    runs.take(EXAMPLES).map(|r| r.id.clone()).collect()
}

/// `truncated`: among runs that record why generation stopped, those cut at the limit.
fn truncated(version: &PromptVersion, runs: &[RunView]) -> Option<Finding> {
    let with: Vec<&RunView> = runs.iter().filter(|r| r.finish_reason.is_some()).collect();
    if with.len() < MIN_RUNS {
        return None;
    }
    let cut: Vec<&RunView> = with
        .iter()
        .copied()
        .filter(|r| r.finish_reason.as_deref() == Some("length"))
        .collect();
    let share = cut.len() as f64 / with.len() as f64;
    if share < TRUNCATED_SHARE {
        return None;
    }
    let limit = version
        .meta
        .params
        .token_limit
        .or_else(|| cut.iter().find_map(|r| r.token_limit));
    let mut figures = BTreeMap::new();
    figures.insert("runs_with_reason".into(), with.len() as f64);
    figures.insert("length".into(), cut.len() as f64);
    figures.insert("share".into(), share);
    if let Some(l) = limit {
        figures.insert("token_limit".into(), l as f64);
    }
    let raise = match limit {
        Some(l) => format!("raise token_limit from {l}"),
        None => "set a higher token_limit (the server's default cut them)".to_string(),
    };
    Some(Finding {
        rule: Rule::Truncated,
        finding: format!(
            "answers cut at the token limit: finish reason `length` in {} of runs ({} of {})",
            pct(share),
            cut.len(),
            with.len()
        ),
        suggestion: format!("{raise}, or ask for shorter answers"),
        share: Some(cut.len() as f64 / runs.len() as f64),
        figures,
        cases: Vec::new(),
        examples: ids(cut.into_iter()),
    })
}

/// Whether a failed expectation is a `json` or `json_schema` one.
fn is_json_failure(failed: &str) -> bool {
    failed == "json" || failed.starts_with("json_schema")
}

/// `json_failures`: JSON expectations failing in a large share of the runs with expectations.
fn json_failures(version: &PromptVersion, runs: &[RunView]) -> Option<Finding> {
    let checked: Vec<&RunView> = runs.iter().filter(|r| r.expect_failed.is_some()).collect();
    if checked.len() < MIN_RUNS {
        return None;
    }
    let failing: Vec<&RunView> = checked
        .iter()
        .copied()
        .filter(|r| {
            r.expect_failed
                .as_ref()
                .is_some_and(|f| f.iter().any(|x| is_json_failure(x)))
        })
        .collect();
    let share = failing.len() as f64 / checked.len() as f64;
    if failing.len() < MIN_JSON_FAILURES || share < JSON_FAILURE_SHARE {
        return None;
    }
    let temps: Vec<f64> = failing
        .iter()
        .filter_map(|r| r.temperature.or(version.meta.params.temperature))
        .collect();
    let temperature = stats::mean(&temps);
    let mut figures = BTreeMap::new();
    figures.insert("runs_with_expectations".into(), checked.len() as f64);
    figures.insert("json_failures".into(), failing.len() as f64);
    figures.insert("share".into(), share);
    if let Some(t) = temperature {
        figures.insert("temperature".into(), t);
    }
    let at = temperature.map_or(String::new(), |t| format!(" at temperature {}", num(t)));
    let suggestion = match temperature {
        Some(t) if t >= HIGH_TEMPERATURE => format!(
            "lower temperature from {} (0 to 0.3 suits structured output), or ask for JSON explicitly (show the exact shape, say \"JSON only\")",
            num(t)
        ),
        _ => "ask for JSON explicitly: show the exact shape and say \"reply with JSON only\", or use the server's JSON mode".to_string(),
    };
    Some(Finding {
        rule: Rule::JsonFailures,
        finding: format!(
            "a json/json_schema expectation failed in {} of the runs with expectations ({} of {}){at}",
            pct(share),
            failing.len(),
            checked.len()
        ),
        suggestion,
        share: Some(failing.len() as f64 / runs.len() as f64),
        figures,
        cases: Vec::new(),
        examples: ids(failing.into_iter()),
    })
}

/// `concentrated_failures`: most failures sit in a few of the cases that ran.
fn concentrated_failures(runs: &[RunView]) -> Option<Finding> {
    // Per case: runs, failures, and the failed runs.
    let mut cases: BTreeMap<&str, (usize, Vec<&RunView>)> = BTreeMap::new();
    for r in runs {
        if let Some(c) = &r.case {
            let e = cases.entry(c.as_str()).or_default();
            e.0 += 1;
            if !r.success {
                e.1.push(r);
            }
        }
    }
    let failures: usize = cases.values().map(|(_, f)| f.len()).sum();
    if cases.len() < MIN_CASES || failures < MIN_FAILURES {
        return None;
    }
    let mut ranked: Vec<(&str, usize, &Vec<&RunView>)> =
        cases.iter().map(|(c, (n, f))| (*c, *n, f)).collect();
    ranked.sort_by(|a, b| b.2.len().cmp(&a.2.len()).then(a.0.cmp(b.0)));
    let mut held = 0;
    let mut named = Vec::new();
    for (c, n, f) in &ranked {
        if held as f64 >= CONCENTRATED_SHARE * failures as f64 {
            break;
        }
        held += f.len();
        named.push((*c, *n, *f));
    }
    if named.len() as f64 > CONCENTRATED_CASES * cases.len() as f64 {
        return None;
    }
    let mut figures = BTreeMap::new();
    figures.insert("failures".into(), failures as f64);
    figures.insert("cases".into(), cases.len() as f64);
    figures.insert("named_cases".into(), named.len() as f64);
    figures.insert("share".into(), held as f64 / failures as f64);
    let described: Vec<String> = named
        .iter()
        .map(|(c, n, f)| {
            let why = most_common(f.iter().flat_map(|r| {
                r.expect_failed
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|x| x.split(" (got ").next().unwrap_or_default().to_string())
            }));
            let why = why.map_or(String::new(), |w| format!(", mostly {w}"));
            format!("{c} ({} of {n} failed{why})", f.len())
        })
        .collect();
    Some(Finding {
        rule: Rule::ConcentratedFailures,
        finding: format!(
            "{} of {} failures are in {} of {} cases: {}",
            held,
            failures,
            named.len(),
            cases.len(),
            described.join("; ")
        ),
        suggestion: "look at these cases first: the prompt misses what they ask (or their expectations are wrong); an instruction or example for them may fix most failures".to_string(),
        share: Some(held as f64 / runs.len() as f64),
        figures,
        cases: named.iter().map(|(c, _, _)| c.to_string()).collect(),
        examples: named
            .iter()
            .flat_map(|(_, _, f)| f.iter().take(1))
            .take(EXAMPLES)
            .map(|r| r.id.clone())
            .collect(),
    })
}

/// The most frequent item (the first seen among equals).
fn most_common(items: impl Iterator<Item = String>) -> Option<String> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for i in items {
        match counts.iter_mut().find(|(x, _)| *x == i) {
            Some(e) => e.1 += 1,
            None => counts.push((i, 1)),
        }
    }
    let best = counts.iter().map(|(_, n)| *n).max()?;
    counts.into_iter().find(|(_, n)| *n == best).map(|(x, _)| x)
}

/// `latency_tracks_length`: the slow runs are the long answers, so a token limit cuts p95.
fn latency_tracks_length(version: &PromptVersion, runs: &[RunView]) -> Option<Finding> {
    let answered: Vec<&RunView> = runs
        .iter()
        .filter(|r| r.output_length > 0 || r.completion_tokens.is_some())
        .collect();
    if answered.len() < MIN_LATENCY_RUNS {
        return None;
    }
    // Tokens when every run has them, else characters: one unit for the whole set.
    let tokens = answered.iter().all(|r| r.completion_tokens.is_some());
    let unit = if tokens { "tokens" } else { "characters" };
    let len = |r: &RunView| {
        if tokens {
            r.completion_tokens.unwrap_or(0) as f64
        } else {
            r.output_length as f64
        }
    };
    let xs: Vec<f64> = answered.iter().map(|r| len(r)).collect();
    let ts: Vec<f64> = answered.iter().map(|r| r.ms).collect();
    let r = stats::pearson(&ts, &xs)?;
    let mut sorted_t = ts.clone();
    let p95 = stats::quantile(&mut sorted_t, 0.95)?;
    let mut sorted_x = xs.clone();
    let median = stats::quantile(&mut sorted_x, 0.5)?;
    let slow: Vec<&RunView> = answered.iter().copied().filter(|x| x.ms >= p95).collect();
    let slow_len = stats::mean(&slow.iter().map(|x| len(x)).collect::<Vec<_>>())?;
    if r < LATENCY_CORRELATION || median <= 0.0 || slow_len < SLOW_LENGTH_RATIO * median {
        return None;
    }
    let mut figures = BTreeMap::new();
    figures.insert("runs".into(), answered.len() as f64);
    figures.insert("correlation".into(), r);
    figures.insert("p95_ms".into(), p95);
    figures.insert("median_length".into(), median);
    figures.insert("slow_mean_length".into(), slow_len);
    let now = version
        .meta
        .params
        .token_limit
        .map_or(String::new(), |l| format!(" (now {l})"));
    Some(Finding {
        rule: Rule::LatencyTracksLength,
        finding: format!(
            "latency tracks output length: time and length correlate at r={:.2} over {} runs; the runs at or above p95 ({:.0} ms) average {:.0} {unit}, the median answer {:.0}",
            r,
            answered.len(),
            p95,
            slow_len,
            median
        ),
        suggestion: format!("a lower token_limit{now}, or ask for shorter answers, cuts p95 time"),
        share: Some(slow.len() as f64 / runs.len() as f64),
        figures,
        cases: Vec::new(),
        examples: ids(slow.into_iter()),
    })
}

/// The judge's reason in a failed judge expectation (`judge grader ≥ 7 (got 3: too vague)`).
pub fn judge_reason(failed: &str) -> Option<&str> {
    let rest = failed.strip_prefix("judge ")?;
    let (_, got) = rest.split_once(" (got ")?;
    let (_, reason) = got.split_once(": ")?;
    let reason = reason.strip_suffix(')').unwrap_or(reason).trim();
    (!reason.is_empty()).then_some(reason)
}

/// The words of a reason that carry meaning: lowercase, letters and digits, short words out.
fn words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() > 2)
        .map(str::to_lowercase)
        .collect()
}

/// Jaccard similarity of two word sets.
fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

/// `repeated_judge_reason`: the judges' reasons for low scores, grouped by similarity.
fn repeated_judge_reasons(runs: &[RunView]) -> Vec<Finding> {
    // Groups: the first reason's words, its texts with counts, the runs.
    struct Group<'a> {
        words: HashSet<String>,
        texts: Vec<(String, usize)>,
        runs: Vec<&'a RunView>,
    }
    let mut groups: Vec<Group<'_>> = Vec::new();
    let mut judged = 0usize;
    for r in runs {
        let reasons: Vec<&str> = r
            .expect_failed
            .iter()
            .flatten()
            .filter_map(|f| judge_reason(f))
            .collect();
        if !reasons.is_empty() {
            judged += 1;
        }
        for reason in reasons {
            let w = words(reason);
            let g = match groups
                .iter_mut()
                .find(|g| jaccard(&g.words, &w) >= REASON_SIMILARITY)
            {
                Some(g) => g,
                None => {
                    groups.push(Group {
                        words: w,
                        texts: Vec::new(),
                        runs: Vec::new(),
                    });
                    groups.last_mut().expect("just pushed")
                }
            };
            match g.texts.iter_mut().find(|(t, _)| t == reason) {
                Some(t) => t.1 += 1,
                None => g.texts.push((reason.to_string(), 1)),
            }
            if !g.runs.iter().any(|x| x.id == r.id) {
                g.runs.push(r);
            }
        }
    }
    groups.retain(|g| g.runs.len() >= MIN_REASON_RUNS);
    groups.sort_by_key(|g| std::cmp::Reverse(g.runs.len()));
    groups
        .into_iter()
        .take(MAX_REASON_GROUPS)
        .map(|g| {
            let top = g
                .texts
                .iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .map(|(t, _)| t.clone())
                .unwrap_or_default();
            let mut figures = BTreeMap::new();
            figures.insert("runs".into(), g.runs.len() as f64);
            figures.insert("judged_failures".into(), judged as f64);
            figures.insert("variants".into(), g.texts.len() as f64);
            Finding {
                rule: Rule::RepeatedJudgeReason,
                finding: format!(
                    "judges gave the same reason for {} of {} low scores: \"{top}\"{}",
                    g.runs.len(),
                    judged,
                    if g.texts.len() > 1 {
                        format!(" (and {} similar wordings)", g.texts.len() - 1)
                    } else {
                        String::new()
                    }
                ),
                suggestion:
                    "address it in the prompt: add an instruction (or an example) for exactly this"
                        .to_string(),
                share: Some(g.runs.len() as f64 / runs.len() as f64),
                figures,
                cases: Vec::new(),
                examples: ids(g.runs.into_iter()),
            }
        })
        .collect()
}

/// `template`: what `check` warns about in the version's text.
fn template_findings(version: &PromptVersion) -> Vec<Finding> {
    let Ok(warnings) = crate::render::template_warnings(version) else {
        return Vec::new();
    };
    warnings
        .into_iter()
        .map(|(line, msg)| {
            let mut figures = BTreeMap::new();
            figures.insert("line".into(), line as f64);
            Finding {
                rule: Rule::Template,
                finding: format!("{}:{line}: {msg}", version.path.display()),
                suggestion: "fix the text or the variables (`ptrack check` lists every warning)"
                    .to_string(),
                share: None,
                figures,
                cases: Vec::new(),
                examples: Vec::new(),
            }
        })
        .collect()
}

fn relative(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn num(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn p_text(p: f64) -> String {
    if p < 0.001 {
        "<0.001".to_string()
    } else {
        format!("{p:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(front: &str, text: &str) -> PromptVersion {
        let src = format!("---\ngoal: g\nmodel: m\n{front}---\n{text}\n");
        let outcome = crate::prompt::parse_prompt_file(
            Path::new("prompts/p/1.0.md"),
            "p",
            &"1.0".parse().expect("version"),
            src.as_bytes(),
        );
        outcome.version.expect("valid version")
    }

    fn run(i: usize) -> RunView {
        RunView {
            id: format!("r{i:03}"),
            success: true,
            ms: 1000.0,
            output_length: 100,
            ..RunView::default()
        }
    }

    fn rules(f: &[Finding]) -> Vec<Rule> {
        f.iter().map(|x| x.rule).collect()
    }

    #[test]
    fn truncated_fires_from_ten_percent_of_runs_cut_at_length() {
        let v = version("token_limit: 400\n", "Hi");
        let mut runs: Vec<RunView> = (0..20)
            .map(|i| RunView {
                finish_reason: Some(if i < 2 { "length" } else { "stop" }.into()),
                ..run(i)
            })
            .collect();
        let f = truncated(&v, &runs).expect("2 of 20 = 10% fires");
        assert_eq!(f.figures["share"], 0.1);
        assert_eq!(f.figures["token_limit"], 400.0);
        assert!(f.suggestion.contains("from 400"), "{}", f.suggestion);
        assert_eq!(f.examples, vec!["r000", "r001"]);
        runs[1].finish_reason = Some("stop".into());
        assert_eq!(truncated(&v, &runs), None, "1 of 20 is under the threshold");
        // Runs without a recorded reason are not counted either way.
        let few: Vec<RunView> = (0..9)
            .map(|i| RunView {
                finish_reason: Some("length".into()),
                ..run(i)
            })
            .chain((9..40).map(run))
            .collect();
        assert_eq!(
            truncated(&v, &few),
            None,
            "9 runs with a reason are too few"
        );
    }

    #[test]
    fn json_failures_advise_lower_temperature_when_high() {
        let v = version("temperature: 0.9\n", "Hi");
        let runs: Vec<RunView> = (0..10)
            .map(|i| RunView {
                success: i >= 3,
                expect_failed: Some(if i < 3 {
                    vec![if i == 0 {
                        "json".to_string()
                    } else {
                        "json_schema (inline): at /a: x".to_string()
                    }]
                } else {
                    Vec::new()
                }),
                ..run(i)
            })
            .collect();
        let f = json_failures(&v, &runs).expect("3 of 10 = 30% fires");
        assert!(
            f.suggestion.starts_with("lower temperature from 0.9"),
            "{}",
            f.suggestion
        );
        assert_eq!(f.figures["json_failures"], 3.0);
        let cool = version("temperature: 0.2\n", "Hi");
        let f = json_failures(&cool, &runs).expect("fires");
        assert!(f.suggestion.starts_with("ask for JSON"), "{}", f.suggestion);
        // Other failed expectations are not JSON failures.
        let other: Vec<RunView> = runs
            .iter()
            .map(|r| RunView {
                expect_failed: r
                    .expect_failed
                    .as_ref()
                    .map(|f| f.iter().map(|_| "contains \"json\"".to_string()).collect()),
                ..r.clone()
            })
            .collect();
        assert_eq!(json_failures(&v, &other), None);
        // 2 failures: under the count threshold.
        assert_eq!(json_failures(&v, &runs[1..]), None);
    }

    fn case_runs(fails: &[(&str, usize, usize)]) -> Vec<RunView> {
        let mut out = Vec::new();
        for (case, n, failed) in fails {
            for k in 0..*n {
                let i = out.len();
                out.push(RunView {
                    case: Some(case.to_string()),
                    success: k >= *failed,
                    expect_failed: Some(if k < *failed {
                        vec!["contains \"step\"".to_string()]
                    } else {
                        Vec::new()
                    }),
                    ..run(i)
                });
            }
        }
        out
    }

    #[test]
    fn concentrated_failures_name_the_cases() {
        let runs = case_runs(&[
            ("a", 5, 0),
            ("b", 5, 5),
            ("c", 5, 0),
            ("d", 5, 1),
            ("e", 5, 0),
            ("f", 5, 0),
        ]);
        let f = concentrated_failures(&runs).expect("5 of 6 failures in 1 of 6 cases");
        assert_eq!(f.cases, vec!["b"]);
        assert!(
            f.finding
                .contains("b (5 of 5 failed, mostly contains \"step\")"),
            "{}",
            f.finding
        );
        assert_eq!(f.figures["failures"], 6.0);
        // Spread over every case: no finding.
        let spread = case_runs(&[("a", 5, 2), ("b", 5, 2), ("c", 5, 2), ("d", 5, 2)]);
        assert_eq!(concentrated_failures(&spread), None);
    }

    #[test]
    fn latency_tracks_length_when_slow_runs_are_long() {
        let v = version("token_limit: 800\n", "Hi");
        let runs: Vec<RunView> = (0..20)
            .map(|i| RunView {
                completion_tokens: Some(if i < 18 { 100 + i as u64 } else { 600 }),
                ms: if i < 18 {
                    1000.0 + 10.0 * i as f64
                } else {
                    6000.0
                },
                ..run(i)
            })
            .collect();
        let f = latency_tracks_length(&v, &runs).expect("fires");
        assert!(f.figures["correlation"] > 0.99);
        assert!(f.suggestion.contains("(now 800)"));
        assert_eq!(
            f.examples,
            vec!["r018", "r019"],
            "the runs at or above p95 (6000 ms)"
        );
        // Slow runs with short answers: time does not track length.
        let noise: Vec<RunView> = runs
            .iter()
            .enumerate()
            .map(|(i, r)| RunView {
                completion_tokens: Some(100 + (i as u64 * 7) % 13),
                ..r.clone()
            })
            .collect();
        assert_eq!(latency_tracks_length(&v, &noise), None);
    }

    #[test]
    fn judge_reasons_are_grouped_by_words() {
        assert_eq!(
            judge_reason("judge grader ≥ 7 (got 3: no concrete next step)"),
            Some("no concrete next step")
        );
        assert_eq!(judge_reason("judge grader ≥ 7: HTTP 500"), None);
        let reasons = [
            "no concrete next step",
            "No concrete next step given.",
            "the answer has no concrete next step",
            "too long",
            "too long",
        ];
        let runs: Vec<RunView> = reasons
            .iter()
            .enumerate()
            .map(|(i, why)| RunView {
                success: false,
                expect_failed: Some(vec![format!("judge grader ≥ 7 (got 3: {why})")]),
                ..run(i)
            })
            .collect();
        let f = repeated_judge_reasons(&runs);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].figures["runs"], 3.0);
        assert_eq!(f[0].figures["variants"], 3.0);
        assert!(
            f[0].finding.contains("3 of 5 low scores"),
            "{}",
            f[0].finding
        );
        assert!(
            repeated_judge_reasons(&runs[..2]).is_empty(),
            "2 runs are too few"
        );
    }

    #[test]
    fn template_warnings_become_findings() {
        let v = version(
            "variables:\n  topic: {description: t}\n  unused: {description: u}\n",
            "About {{ topic }} for {name}",
        );
        let f = template_findings(&v);
        assert!(f.iter().any(|x| x.finding.contains("unused")), "{f:?}");
        assert!(f.iter().any(|x| x.finding.contains("{name}")), "{f:?}");
        let clean = version(
            "variables:\n  topic: {description: t}\n",
            "About {{ topic }}",
        );
        assert!(template_findings(&clean).is_empty());
    }

    #[test]
    fn the_bundled_optimizer_parses_and_renders() {
        let o = optimizer(&crate::project::Registry::default()).expect("bundled");
        assert_eq!(o.version.as_str(), "1.0");
        let v = version("variables:\n  who: {description: w}\n", "Hi {{ who }}");
        let runs = vec![RunView {
            success: false,
            case: Some("ada".into()),
            output: "Hello".into(),
            expect_failed: Some(vec![
                "contains \"step\"".into(),
                "judge g ≥ 7 (got 2: vague)".into(),
            ]),
            ..run(0)
        }];
        let vars = rewrite_vars(&v, &runs, &[]);
        let text = crate::render::render_prompt(&o, &vars).expect("renders");
        let text = format!("{text:?}");
        for part in [
            "Hi {{ who }}",
            "case ada",
            "contains \\\"step\\\"",
            "- vague",
            "<<<PROMPT",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
    }

    #[test]
    fn a_rewrite_must_be_a_usable_prompt() {
        let v = version("variables:\n  who: {description: w}\n", "Hi {{ who }}");
        let ok = parse_rewrite(
            "Sure:\n<<<PROMPT\nGreet {{ who }} with one step.\nPROMPT>>>\n",
            &v,
        );
        assert_eq!(ok, Ok("Greet {{ who }} with one step.\n".to_string()));
        let bad = |answer: &str| parse_rewrite(answer, &v).expect_err(answer);
        assert_eq!(bad("Greet {{ who }}"), RewriteError::NoBlock);
        assert_eq!(bad("<<<PROMPT\n\nPROMPT>>>"), RewriteError::Empty);
        assert_eq!(
            bad("<<<PROMPT\nHi {{ who }}\nPROMPT>>>"),
            RewriteError::Unchanged
        );
        assert!(matches!(
            bad("<<<PROMPT\nHi {{ who \nPROMPT>>>"),
            RewriteError::Template(_)
        ));
        assert_eq!(
            bad("<<<PROMPT\nHi {{ who }} from {{ town }}\nPROMPT>>>"),
            RewriteError::Undeclared("`town`".into())
        );
        assert_eq!(
            bad("<<<PROMPT\nHi there\nPROMPT>>>"),
            RewriteError::Dropped("`who`".into())
        );
    }

    #[test]
    fn ranking_puts_label_evidence_first_and_file_warnings_last() {
        let f = |rule, share| Finding {
            rule,
            finding: String::new(),
            suggestion: String::new(),
            share,
            figures: BTreeMap::new(),
            cases: Vec::new(),
            examples: Vec::new(),
        };
        let mut v = vec![
            f(Rule::Template, None),
            f(Rule::Truncated, Some(0.2)),
            f(Rule::JsonFailures, Some(0.5)),
            f(Rule::UnlabelledBetter, None),
        ];
        rank(&mut v);
        assert_eq!(
            rules(&v),
            vec![
                Rule::UnlabelledBetter,
                Rule::JsonFailures,
                Rule::Truncated,
                Rule::Template
            ]
        );
    }
}
