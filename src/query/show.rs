//! `show`: one version's attributes, text, run figures and the output of its latest run.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::project::{LookupError, Project};
use crate::prompt::PromptVersion;
use crate::runlog::{Event, Metrics, RunFilter, scan};
use crate::version::Version;

/// The output of the latest run of a version.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LastOutput {
    /// The run's id.
    pub run_id: String,
    /// When it ran.
    pub ts: DateTime<Utc>,
    /// Whether it succeeded.
    pub success: bool,
    /// What the model answered.
    pub output: String,
    /// What went wrong, when it failed.
    pub error: Option<String>,
}

/// The `show --json` model.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ShowModel {
    /// The version with its attributes and text.
    #[serde(flatten)]
    pub version: PromptVersion,
    /// Every valid version of the prompt.
    pub versions: Vec<String>,
    /// The figures of this version's runs (`metrics` in JSON, as in every other command).
    #[serde(rename = "metrics")]
    pub runs: Metrics,
    /// The output of its latest run.
    pub last_output: Option<LastOutput>,
    /// The model from `ptrack.toml` that applies when the version names none.
    #[serde(skip)]
    pub default_model: Option<String>,
    /// What was wrong in the run logs read (bad lines, logs that are links or not files).
    #[serde(skip)]
    pub diagnostics: Vec<crate::diagnostic::Diagnostic>,
}

impl Project {
    /// Version `version` of `name` (the latest when None), with its runs' figures.
    pub fn show(&self, name: &str, version: Option<&Version>) -> Result<ShowModel, LookupError> {
        let registry = self.load_prompts();
        let prompt = registry.find(name)?;
        let v = prompt.resolve(version)?;
        let filter = RunFilter {
            prompt: Some(prompt.name.clone()),
            version: Some(v.version.to_string()),
            ..RunFilter::default()
        };
        let runs = self.runs(&filter);
        Ok(ShowModel {
            version: v.clone(),
            versions: prompt
                .versions
                .iter()
                .map(|v| v.version.to_string())
                .collect(),
            runs: Metrics::compute(&runs.runs),
            last_output: self.last_output(&filter),
            default_model: self.config().defaults.model.clone(),
            diagnostics: runs.diagnostics,
        })
    }

    /// The output of the latest run (by time) that passes `filter`.
    pub fn last_output(&self, filter: &RunFilter) -> Option<LastOutput> {
        let mut best: Option<(DateTime<Utc>, String)> = None;
        scan(
            &self.runs_dir(),
            std::path::Path::new("runs"),
            filter,
            |_, _, line, ev| {
                if let Event::Run(r) = ev
                    && best.as_ref().is_none_or(|(ts, _)| r.ts >= *ts)
                {
                    best = Some((r.ts, line.to_string()));
                }
            },
        );
        let (ts, line) = best?;
        let v: serde_json::Value = serde_json::from_str(&line).ok()?;
        Some(LastOutput {
            run_id: v["id"].as_str().unwrap_or_default().to_string(),
            ts,
            success: v["success"].as_bool().unwrap_or(false),
            output: v["output"].as_str().unwrap_or_default().to_string(),
            error: v["error"].as_str().map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::query::testing::{project_with_runs, run_line};

    #[test]
    fn the_latest_run_by_time_gives_the_last_output() {
        let lines = [
            run_line(
                "late",
                "p",
                "1.1",
                "2026-11-05T10:00:00Z",
                100.0,
                true,
                None,
            ),
            run_line(
                "early",
                "p",
                "1.1",
                "2026-11-01T10:00:00Z",
                300.0,
                false,
                None,
            ),
            run_line(
                "other",
                "p",
                "1.0",
                "2026-11-09T10:00:00Z",
                300.0,
                false,
                None,
            ),
        ];
        let (_dir, project) = project_with_runs(&["p"], &lines);
        let m = project.show("p", None).expect("show");
        assert_eq!(m.version.version.as_str(), "1.1");
        assert_eq!(m.versions, ["1.0", "1.1"]);
        assert_eq!(m.runs.runs, 2);
        let last = m.last_output.expect("has runs");
        assert_eq!((last.run_id.as_str(), last.success), ("late", true));
    }
}
