//! `performance`: metrics per prompt and version, over a time window.
//!
//! [`Project::performance`] is the one entry point: it reads through the cache in
//! `.ptrack/cache` when the query has no version or time filter, else with the compact reader,
//! and falls back to the simple reader when two runs share an id. Callers never choose.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::diagnostic::Diagnostic;
use crate::project::{LookupError, Project, check_name};
use crate::runlog::compact::{FastPerformance, performance_or_simple};
use crate::runlog::{PromptMetrics, RunFilter, cache, default_threads};
use crate::version::Version;

/// Which runs `performance` aggregates.
#[derive(Debug, Clone)]
pub struct PerformanceQuery {
    /// Only this prompt (None: every prompt).
    pub prompt: Option<String>,
    /// Only this version.
    pub version: Option<Version>,
    /// Only runs at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only runs before this time.
    pub until: Option<DateTime<Utc>>,
    /// Read through the cache when the query allows it (no version or time filter).
    pub use_cache: bool,
}

impl Default for PerformanceQuery {
    fn default() -> Self {
        PerformanceQuery {
            prompt: None,
            version: None,
            since: None,
            until: None,
            use_cache: true,
        }
    }
}

impl PerformanceQuery {
    /// The run filter of this query.
    pub fn filter(&self) -> RunFilter {
        RunFilter {
            prompt: self.prompt.clone(),
            version: self.version.as_ref().map(ToString::to_string),
            since: self.since,
            until: self.until,
        }
    }
}

/// Per-prompt, per-version metrics (the `performance --json` model).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Performance {
    /// The window's start, when there is one.
    pub since: Option<DateTime<Utc>>,
    /// The window's end, when there is one.
    pub until: Option<DateTime<Utc>>,
    /// Prompts by name, each with its versions oldest first and an "all versions" row.
    pub prompts: Vec<PromptMetrics>,
    /// Problems in the run logs (bad lines are skipped, never counted).
    #[serde(skip)]
    pub diagnostics: Vec<Diagnostic>,
}

impl Project {
    /// Metrics per prompt and version of the runs `query` selects.
    ///
    /// A named prompt must exist as a folder of versions or of runs (a prompt whose files were
    /// deleted still has its runs to look at).
    pub fn performance(&self, query: &PerformanceQuery) -> Result<Performance, LookupError> {
        if let Some(name) = &query.prompt {
            check_name(name)?;
            if !self.runs_dir().join(name).is_dir() {
                self.load_prompts().find(name)?;
            }
        }
        let filter = query.filter();
        let f = self.aggregate(&filter, query.use_cache);
        let config = self.config();
        let prompts = f
            .prompts
            .into_iter()
            .map(|mut p| {
                p.all.price(config);
                for v in &mut p.versions {
                    v.metrics.price(config);
                }
                p
            })
            .collect();
        Ok(Performance {
            since: filter.since,
            until: filter.until,
            prompts,
            diagnostics: f.diagnostics,
        })
    }

    /// The per-version figures of `filter`'s runs by the fastest reader that gives exact figures.
    pub(crate) fn aggregate(&self, filter: &RunFilter, use_cache: bool) -> FastPerformance {
        let threads = default_threads();
        let cacheable = use_cache
            && filter.version.is_none()
            && filter.since.is_none()
            && filter.until.is_none();
        let display = std::path::Path::new("runs");
        let mut refused = None;
        let cached = if cacheable {
            match cache::performance_cached(
                &self.runs_dir(),
                display,
                self.root(),
                filter.prompt.as_deref(),
                threads,
            ) {
                Ok(c) => c,
                Err(e) => {
                    refused = Some(Diagnostic::warning(
                        std::path::Path::new(cache::CACHE_DIR),
                        None,
                        format!("the cache is not used: {e}"),
                    ));
                    None
                }
            }
        } else {
            None
        };
        let mut f = match cached {
            Some((f, _)) => f,
            None => performance_or_simple(&self.runs_dir(), display, filter, threads),
        };
        f.diagnostics.extend(refused);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::testing::{project_with_runs, run_line};

    #[test]
    fn cached_and_uncached_figures_agree_and_windows_filter() {
        let lines = [
            run_line(
                "a",
                "p",
                "1.0",
                "2026-11-01T10:00:00Z",
                100.0,
                true,
                Some(8.0),
            ),
            run_line("b", "p", "1.0", "2026-11-02T10:00:00Z", 300.0, false, None),
            run_line(
                "c",
                "p",
                "1.1",
                "2026-11-03T10:00:00Z",
                200.0,
                true,
                Some(6.0),
            ),
        ];
        let (_dir, project) = project_with_runs(&["p"], &lines);
        let cached = project
            .performance(&PerformanceQuery::default())
            .expect("known prompt");
        let again = project
            .performance(&PerformanceQuery::default())
            .expect("cache hit");
        let uncached = project
            .performance(&PerformanceQuery {
                use_cache: false,
                ..PerformanceQuery::default()
            })
            .expect("uncached");
        assert_eq!(cached, uncached);
        assert_eq!(again, uncached);
        let p = &uncached.prompts[0];
        assert_eq!(p.all.runs, 3);
        assert_eq!(p.versions.len(), 2);
        // numpy 2.4.6: np.percentile([100, 300], 50) -> 200.0
        let v10 = p.versions[0].metrics.time_ms.expect("runs");
        assert_eq!(v10.p50, 200.0);
        let since = DateTime::parse_from_rfc3339("2026-11-02T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let window = project
            .performance(&PerformanceQuery {
                since: Some(since),
                version: Some("1.0".parse().expect("version")),
                ..PerformanceQuery::default()
            })
            .expect("window");
        assert_eq!(window.prompts[0].all.runs, 1);
        assert_eq!(window.prompts[0].all.successes, 0);
    }

    #[test]
    fn an_unknown_prompt_is_a_lookup_error_with_a_suggestion() {
        let (_dir, project) = project_with_runs(&["coach"], &[]);
        let err = project
            .performance(&PerformanceQuery {
                prompt: Some("coahc".into()),
                ..PerformanceQuery::default()
            })
            .expect_err("unknown");
        assert!(
            matches!(&err, LookupError::NoPrompt { suggestion: Some(s), .. } if s == "coach"),
            "{err:?}"
        );
    }
}
