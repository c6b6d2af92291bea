//! `trends`: a prompt's runs by day or week over the last N days.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::diagnostic::Diagnostic;
use crate::metrics::{Bucket, Trends, trends};
use crate::project::{LookupError, Project};
use crate::runlog::RunFilter;
use crate::version::Version;

/// What to follow over time.
#[derive(Debug, Clone)]
pub struct TrendsQuery {
    /// The prompt.
    pub prompt: String,
    /// Only this version.
    pub version: Option<Version>,
    /// Days back from `now`, today included.
    pub days: u32,
    /// Day or week buckets.
    pub bucket: Bucket,
    /// The last day is the day of this time.
    pub now: DateTime<Utc>,
}

/// The `trends --json` model.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TrendsModel {
    /// The prompt.
    pub prompt: String,
    /// First day of the window.
    pub from: NaiveDate,
    /// Last day of the window.
    pub to: NaiveDate,
    /// The buckets.
    #[serde(flatten)]
    pub trends: Trends,
    /// Problems in the run logs.
    #[serde(skip)]
    pub diagnostics: Vec<Diagnostic>,
}

impl TrendsModel {
    /// Whether more than one version has runs in the window.
    pub fn has_several_versions(&self) -> bool {
        let mut versions = self.trends.by_version.iter().map(|r| &r.version);
        let first = versions.next();
        versions.any(|v| Some(v) != first)
    }
}

impl Project {
    /// The trends of a prompt's runs.
    pub fn trends(&self, query: &TrendsQuery) -> Result<TrendsModel, LookupError> {
        let registry = self.load_prompts();
        let prompt = registry.find(&query.prompt)?;
        let to = query.now.date_naive();
        let from = to - chrono::Duration::days(i64::from(query.days.saturating_sub(1)));
        let filter = RunFilter {
            prompt: Some(prompt.name.clone()),
            version: query.version.as_ref().map(ToString::to_string),
            since: from.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
            until: None,
        };
        let config = self.config();
        // The compact columns (through the cache) give the same figures; the simple reader
        // decides when ids repeat.
        let columns = self.run_columns(&filter);
        let fast = columns.trends(
            &prompt.name,
            filter.version.as_deref(),
            query.bucket,
            (from, to),
            config,
        );
        let (trends, diagnostics) = match fast {
            Some(t) => (t, columns.diagnostics),
            None => {
                let runs = self.runs(&filter);
                let refs: Vec<_> = runs.runs.iter().collect();
                (
                    trends(&refs, query.bucket, from, to, config),
                    runs.diagnostics,
                )
            }
        };
        Ok(TrendsModel {
            prompt: prompt.name.clone(),
            from,
            to,
            trends,
            diagnostics,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::testing::{project_with_runs, run_line};

    #[test]
    fn days_count_back_from_now_and_versions_split() {
        let lines = [
            run_line("a", "p", "1.0", "2026-11-20T10:00:00Z", 100.0, true, None),
            run_line("b", "p", "1.1", "2026-11-23T10:00:00Z", 200.0, false, None),
            run_line(
                "old",
                "p",
                "1.1",
                "2026-11-01T10:00:00Z",
                200.0,
                false,
                None,
            ),
        ];
        let (_dir, project) = project_with_runs(&["p"], &lines);
        let now = DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .expect("now")
            .with_timezone(&Utc);
        let m = project
            .trends(&TrendsQuery {
                prompt: "p".into(),
                version: None,
                days: 7,
                bucket: Bucket::Day,
                now,
            })
            .expect("trends");
        assert_eq!(
            (m.from.to_string(), m.to.to_string()),
            ("2026-11-18".into(), "2026-11-24".into())
        );
        assert_eq!(m.trends.overall.len(), 7);
        assert_eq!(m.trends.overall.iter().map(|r| r.runs).sum::<usize>(), 2);
        assert!(m.has_several_versions());
    }
}
