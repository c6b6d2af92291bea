//! `report`: the pull request report between a base revision and a head (a revision or the
//! working tree), built by [`crate::report::build`] from the prompts at both and every run.

use chrono::{DateTime, Utc};

use crate::config::Gates;
use crate::diagnostic::Diagnostic;
use crate::git::{GitError, Repo};
use crate::project::{Project, load_registry};
use crate::report::{Report, ReportInput, build};
use crate::runlog::RunFilter;

/// What to report on.
#[derive(Debug, Clone)]
pub struct ReportQuery {
    /// Base revision (default: the merge base with the default branch).
    pub base: Option<String>,
    /// Head revision (default: the working tree).
    pub head: Option<String>,
    /// Gates that override `[report]` in `ptrack.toml`, key by key.
    pub gates: Gates,
    /// "Now", for the trend window.
    pub now: DateTime<Utc>,
}

/// A report and what the front end should say about how it was made.
#[derive(Debug, Clone)]
pub struct ReportOutcome {
    /// The report.
    pub report: Report,
    /// The repository has commits but no default branch, so there was no base to compare with.
    pub no_default_branch: bool,
    /// Problems in the run logs.
    pub diagnostics: Vec<Diagnostic>,
}

/// Why no report could be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A revision was given but the project is not in git.
    #[error("{flag} needs a git repository, and {}", source)]
    NeedsRepo {
        /// The option that needs it (`--base`, `--head`).
        flag: &'static str,
        /// Why there is no repository.
        source: GitError,
    },
    /// Git could not answer.
    #[error(transparent)]
    Git(#[from] GitError),
    /// A gate's value is out of range.
    #[error("{0}")]
    Gates(String),
}

impl Gates {
    /// These gates with every value `over` sets replacing this one's.
    pub fn overridden_by(&self, over: &Gates) -> Gates {
        Gates {
            min_runs: over.min_runs.or(self.min_runs),
            min_success_rate: over.min_success_rate.or(self.min_success_rate),
            max_p95_regression_pct: over.max_p95_regression_pct.or(self.max_p95_regression_pct),
            min_quality: over.min_quality.or(self.min_quality),
            forbid_in_place_edits: over.forbid_in_place_edits.or(self.forbid_in_place_edits),
            min_pass_rate: over.min_pass_rate.or(self.min_pass_rate),
            max_new_failures: over.max_new_failures.or(self.max_new_failures),
            max_pass_rate_drop_pts: over.max_pass_rate_drop_pts.or(self.max_pass_rate_drop_pts),
            significant_only: over.significant_only.or(self.significant_only),
            max_cost_increase_pct: over.max_cost_increase_pct.or(self.max_cost_increase_pct),
            require_checked: over.require_checked.or(self.require_checked),
            label_moves_need_runs: over.label_moves_need_runs.or(self.label_moves_need_runs),
        }
    }
}

impl Project {
    /// The pull request report.
    pub fn report(&self, query: &ReportQuery) -> Result<ReportOutcome, ReportError> {
        let gates = self.config().report.overridden_by(&query.gates);
        gates.validate().map_err(ReportError::Gates)?;
        let repo = Repo::open(self.root());
        let need = |flag: &'static str| match &repo {
            Ok(r) => Ok(r),
            Err(e) => Err(ReportError::NeedsRepo {
                flag,
                source: clone_git_error(e),
            }),
        };
        let (head, head_label, head_labels) = match &query.head {
            Some(rev) => {
                let repo = need("--head")?;
                let (reg, short) = repo.registry_at(rev)?;
                (reg, format!("{rev} ({short})"), repo.labels_at(rev)?)
            }
            None => (
                self.load_prompts(),
                "working tree".to_string(),
                self.labels(),
            ),
        };
        let mut no_default_branch = false;
        let mut base_labels = None;
        let mut base_experiments = None;
        let base = match (&query.base, &repo) {
            (Some(rev), _) => {
                let repo = need("--base")?;
                let (reg, short) = repo.registry_at(rev)?;
                base_labels = Some(repo.labels_at(rev)?);
                base_experiments = Some(repo.experiments_at(rev)?);
                Some((reg, format!("{rev} ({short})")))
            }
            (None, Ok(repo)) => {
                // A --head revision is compared with its own merge base.
                let found = match &query.head {
                    Some(rev) => repo
                        .resolve(rev)
                        .and_then(|oid| repo.default_base_of(oid))?,
                    None => repo.default_base()?,
                };
                match found {
                    Some((branch, oid)) => {
                        let source = repo.source_at(oid)?;
                        base_labels = Some(repo.labels_at(&oid.to_string())?);
                        base_experiments = Some(repo.experiments_at(&oid.to_string())?);
                        Some((
                            load_registry(&source),
                            format!("{branch} (merge base {})", repo.short(oid)),
                        ))
                    }
                    None => {
                        no_default_branch = repo.head().is_some();
                        None
                    }
                }
            }
            (None, Err(_)) => None,
        };
        let runs = self.runs(&RunFilter::default());
        let evals = self.eval_batches();
        let head_experiments = match &query.head {
            Some(rev) => need("--head")?.experiments_at(rev)?,
            None => self.experiments(),
        };
        let mut report = build(&ReportInput {
            base_label: base.as_ref().map(|(_, l)| l.clone()),
            base: base.as_ref().map(|(r, _)| r),
            head_label,
            head: &head,
            runs: &runs.runs,
            gates: &gates,
            now: query.now,
            evals: &evals,
            config: self.config(),
            base_labels: base_labels.as_ref(),
            head_labels: &head_labels,
        });
        report.experiments = self.touched_experiments(
            &report,
            &head_experiments,
            base_experiments.as_ref(),
            query.now,
        );
        Ok(ReportOutcome {
            report,
            no_default_branch,
            diagnostics: runs.diagnostics,
        })
    }
}

impl Project {
    /// The experiments running at `now` whose prompt changed, whose label moved, or whose
    /// definition is new or changed since the base.
    fn touched_experiments(
        &self,
        report: &Report,
        head: &crate::experiment::Experiments,
        base: Option<&crate::experiment::Experiments>,
        now: DateTime<Utc>,
    ) -> Vec<crate::report::ExperimentNote> {
        use crate::report::Change;
        let Some(base) = base else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in head.list.iter().filter(|e| e.is_running(now)) {
            let prompt_changed = report.sections.iter().any(|s| {
                s.prompt == e.prompt && !matches!(s.change, Change::Unchanged | Change::Current)
            });
            let label_moved = report
                .label_moves
                .iter()
                .any(|m| m.prompt == e.prompt && m.label == e.label);
            let touched = match base.get(&e.name) {
                None => Some("new"),
                Some(b) if !same_definition(b, e) => Some("experiment changed"),
                Some(_) if label_moved => Some("label moved"),
                Some(_) if prompt_changed => Some("prompt changed"),
                Some(_) => None,
            };
            let Some(touched) = touched else { continue };
            let analysis = self.experiment_report(&e.name, now).ok();
            out.push(crate::report::ExperimentNote {
                name: e.name.clone(),
                prompt: e.prompt.clone(),
                label: e.label.clone(),
                touched: touched.to_string(),
                decision: analysis.as_ref().map(|a| a.decision),
                verdict: analysis.map_or_else(
                    || "no analysis (see `ptrack experiment`)".to_string(),
                    |a| a.verdict,
                ),
            });
        }
        out
    }
}

/// Whether two experiments are defined alike (where the table sits in the file aside).
fn same_definition(a: &crate::experiment::Experiment, b: &crate::experiment::Experiment) -> bool {
    let mut a = a.clone();
    a.line = b.line;
    a == *b
}

/// The same error again (libgit2's errors are not `Clone`; their text is kept).
fn clone_git_error(e: &GitError) -> GitError {
    match e {
        GitError::NotARepository { path } => GitError::NotARepository { path: path.clone() },
        other => GitError::Git(git2::Error::from_str(&other.to_string())),
    }
}
