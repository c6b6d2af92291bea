//! `list`: one row per prompt with its latest version and the figures of all its runs.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::diagnostic::Diagnostic;
use crate::project::Project;
use crate::runlog::{Metrics, RunFilter};

/// One prompt in the listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ListRow {
    /// Prompt name.
    pub name: String,
    /// Its latest version: the highest version file, even when that file has errors.
    pub latest: String,
    /// Whether the latest version's file has errors (`prompt_errors` says which); model and
    /// goal then come from the highest valid version, if there is one.
    pub latest_invalid: bool,
    /// How many versions it has (valid or not).
    pub versions: usize,
    /// The latest valid version's model, or the project default.
    pub model: Option<String>,
    /// The latest valid version's goal.
    pub goal: Option<String>,
    /// Runs of every version.
    pub runs: usize,
    /// Success rate over every version's runs.
    pub success_rate: Option<f64>,
    /// The latest run.
    pub last_run: Option<DateTime<Utc>>,
}

/// Every prompt (the `list --json` model is `rows`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listing {
    /// Prompts by name.
    pub rows: Vec<ListRow>,
    /// Errors in prompt files.
    pub prompt_errors: Vec<Diagnostic>,
    /// Errors in run logs (those lines are not counted).
    pub run_errors: Vec<Diagnostic>,
}

impl Project {
    /// Every prompt with at least one version file, with the figures of its runs.
    pub fn list(&self) -> Listing {
        let registry = self.load_prompts();
        let perf = self.aggregate(&RunFilter::default(), true);
        let default_model = self.config().defaults.model.clone();
        let none = Metrics::compute(std::iter::empty());
        let rows = registry
            .prompts
            .values()
            .filter_map(|p| {
                let all = p.all_versions();
                let top = all.last()?;
                let valid = p.latest();
                let m = perf
                    .prompts
                    .iter()
                    .find(|m| m.prompt == p.name)
                    .map_or(&none, |m| &m.all);
                Some(ListRow {
                    name: p.name.clone(),
                    latest: top.to_string(),
                    latest_invalid: p.latest_invalid().is_some(),
                    versions: all.len(),
                    model: valid
                        .and_then(|l| l.meta.model.clone())
                        .or_else(|| default_model.clone()),
                    goal: valid.and_then(|l| l.meta.goal.clone()),
                    runs: m.runs,
                    success_rate: m.success_rate,
                    last_run: m.last_run,
                })
            })
            .collect();
        Listing {
            rows,
            prompt_errors: registry
                .diagnostics
                .into_iter()
                .filter(Diagnostic::is_error)
                .collect(),
            run_errors: perf
                .diagnostics
                .into_iter()
                .filter(Diagnostic::is_error)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::query::testing::{project_with_runs, run_line};

    #[test]
    fn rows_carry_the_latest_version_and_all_runs() {
        let lines = [
            run_line("a", "p", "1.0", "2026-11-01T10:00:00Z", 100.0, true, None),
            run_line("b", "p", "1.1", "2026-11-05T10:00:00Z", 300.0, false, None),
            run_line("c", "p", "1.1", "2026-11-03T10:00:00Z", 200.0, true, None),
        ];
        let (_dir, project) = project_with_runs(&["p", "q"], &lines);
        let l = project.list();
        assert_eq!(l.rows.len(), 2);
        let p = &l.rows[0];
        assert_eq!(
            (p.name.as_str(), p.latest.as_str(), p.versions),
            ("p", "1.1", 2)
        );
        assert_eq!(p.runs, 3);
        assert_eq!(p.success_rate, Some(2.0 / 3.0));
        assert_eq!(
            p.last_run.map(|t| t.to_rfc3339()),
            Some("2026-11-05T10:00:00+00:00".to_string())
        );
        assert_eq!((l.rows[1].runs, l.rows[1].success_rate), (0, None));
    }
}
