//! Runs a page at a time, newest first, as `export` gives each run: what a server lists.
//!
//! A page holds at most `limit` runs and, when more follow, an opaque cursor for the next page:
//! the time and id of the page's last run, so a page stays right while runs are appended (a new
//! run is newer than every cursor; it shows on the first page, never twice). Memory holds one
//! page, however many runs the logs have.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::diagnostic::Diagnostic;
use crate::project::{LookupError, Project, check_name};
use crate::runlog::{Event, RunFilter, scan};
use crate::version::Version;

use super::export::{export_row, latest_ratings};

/// The most runs one page holds.
pub const MAX_PAGE: usize = 1000;

/// Which runs to list.
#[derive(Debug, Clone)]
pub struct RunsQuery {
    /// Only this prompt.
    pub prompt: Option<String>,
    /// Only this version.
    pub version: Option<Version>,
    /// Only runs at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only runs before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only runs that succeeded (true) or failed (false).
    pub success: Option<bool>,
    /// Only runs whose output contains this text (ignoring case).
    pub text: Option<String>,
    /// Runs per page (1 to [`MAX_PAGE`]).
    pub limit: usize,
    /// Where the page starts: the `next_cursor` of the page before.
    pub cursor: Option<String>,
    /// Only the runs of this eval batch (its id, the runs' `eval` field).
    pub eval: Option<String>,
}

impl Default for RunsQuery {
    fn default() -> Self {
        RunsQuery {
            prompt: None,
            version: None,
            since: None,
            until: None,
            success: None,
            text: None,
            limit: 100,
            cursor: None,
            eval: None,
        }
    }
}

/// One page of runs, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RunsPage {
    /// The runs, each as `export` gives it (latest rating applied), newest first.
    #[cfg_attr(feature = "schema", schemars(with = "Vec<crate::runlog::RunRecord>"))]
    pub runs: Vec<Map<String, Value>>,
    /// The cursor of the next page; None on the last.
    pub next_cursor: Option<String>,
    /// Problems in the run logs (bad lines are skipped).
    #[serde(skip)]
    pub diagnostics: Vec<Diagnostic>,
}

/// Why runs cannot be listed.
#[derive(Debug, thiserror::Error)]
pub enum RunsError {
    /// The prompt name is invalid or unknown.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// The cursor is not one a page gave.
    #[error("cursor {0:?} is not the next_cursor of a page")]
    Cursor(String),
    /// The limit is out of range.
    #[error("limit must be from 1 to {MAX_PAGE}, got {0}")]
    Limit(usize),
}

/// Where a page stops: the time and id of its last run, in order of (time, id).
type Key = (DateTime<Utc>, String);

/// A run on its way into a page, ordered by its key alone (ids are unique in a page).
struct Entry(Key, Row);

/// A page's run: parsed already (a filter needed its fields), or its line, parsed only if it
/// stays in the page (most runs that enter the heap while the logs are read leave it again).
enum Row {
    Parsed(Map<String, Value>),
    Line(String, crate::runlog::RunFacts),
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

fn encode_cursor(key: &Key) -> String {
    let text = format!(
        "{}|{}",
        key.0.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        key.1
    );
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(cursor: &str) -> Option<Key> {
    if !cursor.len().is_multiple_of(2) || !cursor.is_ascii() {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&cursor[i..i + 2], 16).ok())
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    let (ts, id) = text.split_once('|')?;
    let ts = DateTime::parse_from_rfc3339(ts).ok()?.with_timezone(&Utc);
    Some((ts, id.to_string()))
}

impl Project {
    /// One page of the runs `query` selects, newest first (by time, then id).
    pub fn runs_page(&self, query: &RunsQuery) -> Result<RunsPage, RunsError> {
        if !(1..=MAX_PAGE).contains(&query.limit) {
            return Err(RunsError::Limit(query.limit));
        }
        let before = match &query.cursor {
            Some(c) => Some(decode_cursor(c).ok_or_else(|| RunsError::Cursor(c.clone()))?),
            None => None,
        };
        if let Some(p) = &query.prompt {
            check_name(p)?;
            if !self.runs_dir().join(p).is_dir() {
                self.load_prompts().find(p)?;
            }
        }
        let filter = RunFilter {
            prompt: query.prompt.clone(),
            version: query.version.as_ref().map(ToString::to_string),
            since: query.since,
            until: query.until,
        };
        let runs_dir = self.runs_dir();
        let display = std::path::Path::new("runs");
        let (ratings, diagnostics) = latest_ratings(&runs_dir, display, &filter);
        let needle = query.text.as_ref().map(|t| t.to_lowercase());
        // The `limit + 1` newest runs before the cursor (one more tells whether a page follows).
        let mut newest: BinaryHeap<Reverse<Entry>> = BinaryHeap::new();
        let mut seen = HashSet::new();
        let _ = scan(&runs_dir, display, &filter, |_, _, line, ev| {
            let Event::Run(run) = ev else { return };
            // The first copy of an id is the run, as every reader counts it.
            if !seen.insert(run.id.clone()) {
                return;
            }
            if query.success.is_some_and(|s| s != run.success) {
                return;
            }
            let key = (run.ts, run.id.clone());
            if before.as_ref().is_some_and(|b| key >= *b) {
                return;
            }
            if newest.len() > query.limit
                && newest.peek().is_some_and(|Reverse(Entry(k, _))| key <= *k)
            {
                return;
            }
            let row = if needle.is_some() || query.eval.is_some() {
                let Some(obj) = export_row(line, &run, &ratings) else {
                    return;
                };
                if let Some(e) = &query.eval
                    && obj.get("eval").and_then(Value::as_str) != Some(e.as_str())
                {
                    return;
                }
                if let Some(n) = &needle {
                    let output = obj.get("output").and_then(Value::as_str).unwrap_or("");
                    if !output.to_lowercase().contains(n.as_str()) {
                        return;
                    }
                }
                Row::Parsed(obj)
            } else {
                Row::Line(line.to_string(), run)
            };
            newest.push(Reverse(Entry(key, row)));
            if newest.len() > query.limit + 1 {
                newest.pop();
            }
        });
        let mut page: Vec<(Key, Map<String, Value>)> = newest
            .into_iter()
            .filter_map(|Reverse(Entry(k, row))| match row {
                Row::Parsed(obj) => Some((k, obj)),
                Row::Line(line, run) => export_row(&line, &run, &ratings).map(|obj| (k, obj)),
            })
            .collect();
        page.sort_by(|a, b| b.0.cmp(&a.0));
        let more = page.len() > query.limit;
        page.truncate(query.limit);
        let next_cursor = if more {
            page.last().map(|(k, _)| encode_cursor(k))
        } else {
            None
        };
        Ok(RunsPage {
            runs: page.into_iter().map(|(_, obj)| obj).collect(),
            next_cursor,
            diagnostics,
        })
    }

    /// The run with id `id`, as `export` gives it; None when no run has it.
    pub fn run_by_id(&self, id: &str) -> Option<Map<String, Value>> {
        let filter = RunFilter::default();
        let runs_dir = self.runs_dir();
        let display = std::path::Path::new("runs");
        let mut found: Option<(String, crate::runlog::RunFacts)> = None;
        let _ = scan(&runs_dir, display, &filter, |_, _, line, ev| {
            if let Event::Run(run) = ev
                && found.is_none()
                && run.id == id
            {
                found = Some((line.to_string(), run));
            }
        });
        let (line, run) = found?;
        let prompt_filter = RunFilter {
            prompt: Some(run.prompt.clone()),
            ..RunFilter::default()
        };
        let (ratings, _) = latest_ratings(&runs_dir, display, &prompt_filter);
        export_row(&line, &run, &ratings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::testing::{project_with_runs, run_line};

    fn ids(page: &RunsPage) -> Vec<&str> {
        page.runs
            .iter()
            .map(|r| r["id"].as_str().expect("id"))
            .collect()
    }

    #[test]
    fn pages_go_newest_first_and_cover_every_run_once() {
        let mut lines = Vec::new();
        for (i, day) in [3, 1, 2, 5, 4, 4].iter().enumerate() {
            lines.push(run_line(
                &format!("r{i}"),
                "p",
                "1.0",
                &format!("2026-11-0{day}T10:00:00Z"),
                100.0,
                i % 2 == 0,
                None,
            ));
        }
        // A repeated id counts once, as its first copy.
        lines.push(run_line(
            "r0",
            "p",
            "1.0",
            "2026-11-09T10:00:00Z",
            1.0,
            true,
            None,
        ));
        lines.push(r#"{"type":"rating","id":"x","ts":"2026-11-10T10:00:00Z","run_id":"r1","quality_score":7,"feedback":"ok"}"#.to_string());
        let (_dir, project) = project_with_runs(&["p"], &lines);
        let mut query = RunsQuery {
            limit: 2,
            ..RunsQuery::default()
        };
        let mut all = Vec::new();
        loop {
            let page = project.runs_page(&query).expect("page");
            all.extend(ids(&page).into_iter().map(str::to_string));
            match page.next_cursor {
                Some(c) => query.cursor = Some(c),
                None => break,
            }
        }
        // Same time: the larger id first.
        assert_eq!(all, ["r3", "r5", "r4", "r0", "r2", "r1"]);
        let failed = project
            .runs_page(&RunsQuery {
                success: Some(false),
                ..RunsQuery::default()
            })
            .expect("page");
        assert_eq!(ids(&failed), ["r3", "r5", "r1"]);
        let r1 = project.run_by_id("r1").expect("r1");
        assert_eq!(r1["quality_score"], serde_json::json!(7));
        assert_eq!(r1["feedback"], "ok");
        assert!(project.run_by_id("nope").is_none());
        assert!(matches!(
            project.runs_page(&RunsQuery {
                cursor: Some("zz".into()),
                ..RunsQuery::default()
            }),
            Err(RunsError::Cursor(_))
        ));
        assert!(matches!(
            project.runs_page(&RunsQuery {
                limit: 0,
                ..RunsQuery::default()
            }),
            Err(RunsError::Limit(0))
        ));
    }

    #[test]
    fn cursors_read_back() {
        let key: Key = (
            DateTime::parse_from_rfc3339("2026-11-01T10:00:00.123456789Z")
                .expect("ts")
                .with_timezone(&Utc),
            "id|with|bars".to_string(),
        );
        assert_eq!(decode_cursor(&encode_cursor(&key)), Some(key));
        assert_eq!(decode_cursor("0"), None);
        assert_eq!(decode_cursor("é1"), None);
    }
}
