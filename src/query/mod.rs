//! The read-only command models: each is a `Serialize` struct built by one method of
//! [`Project`](crate::Project) from a typed query. The CLI renders them as tables, `--json` or
//! Markdown; a server or the Python package renders the same structs, so every figure is
//! computed once, here.
//!
//! | method | model |
//! |---|---|
//! | [`Project::list`](crate::Project::list) | [`Listing`] |
//! | [`Project::show`](crate::Project::show) | [`ShowModel`] |
//! | [`Project::performance`](crate::Project::performance) | [`Performance`] |
//! | [`Project::compare`](crate::Project::compare) | [`CompareModel`] |
//! | [`Project::trends`](crate::Project::trends) | [`TrendsModel`] |
//! | [`Project::check`](crate::Project::check) | [`CheckReport`] |
//! | [`Project::export`](crate::Project::export) | rows written to a writer |
//! | `Project::export_parquet` (feature `parquet`) | `ParquetExport` (files in a folder) |
//! | [`Project::runs_page`](crate::Project::runs_page) | [`RunsPage`] |
//! | `Project::history` (feature `git`) | `History` |

pub mod check;
pub mod compare;
pub mod export;
#[cfg(feature = "git")]
pub mod history;
pub mod list;
pub mod performance;
#[cfg(feature = "git")]
pub mod report;
pub mod runs;
pub mod show;
#[cfg(test)]
pub(crate) mod testing;
pub mod trends;

use chrono::{DateTime, Duration, NaiveDate, Utc};

pub use check::{CheckError, CheckQuery, CheckReport};
pub use compare::{CompareModel, CompareQuery, VersionRow};
#[cfg(feature = "parquet")]
pub use export::parquet::{ParquetExport, ParquetFile, ParquetOptions, PartitionKey};
pub use export::{ExportError, ExportFormat, ExportQuery, ExportSummary};
#[cfg(feature = "git")]
pub use history::{History, HistoryError, HistoryQuery, HistoryRow};
pub use list::{ListRow, Listing};
pub use performance::{Performance, PerformanceQuery};
#[cfg(feature = "git")]
pub use report::{ReportError, ReportOutcome, ReportQuery};
pub use runs::{RunsError, RunsPage, RunsQuery};
pub use show::{LastOutput, ShowModel};
pub use trends::{TrendsModel, TrendsQuery};

/// A time window as people give it: the last N days, and/or from a time, and/or until one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// Only the last N days before `now`.
    pub days: Option<u32>,
    /// Only runs at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only runs before this time.
    pub until: Option<DateTime<Utc>>,
}

impl Window {
    /// The window's start and end relative to `now` (the later of `days` and `since` wins).
    pub fn resolve(&self, now: DateTime<Utc>) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let days_since = self.days.map(|d| now - Duration::days(i64::from(d)));
        let since = match (days_since, self.since) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        (since, self.until)
    }
}

/// A time as people give one: a date (`2026-11-01`, its midnight UTC) or an RFC 3339 time.
pub fn parse_when(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            format!(
                "expected a date like 2026-11-01 or a time like 2026-11-01T09:00:00Z, got {s:?}"
            )
        })
}
