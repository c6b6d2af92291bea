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
use crate::runlog::aggregate::LatestRatings;
use crate::runlog::parse::fast::{Scanned, scan_line};
use crate::runlog::parse::{line_diagnostic, utf8_diagnostic};
use crate::runlog::scan::{for_each_line, logs, unreadable};
use crate::runlog::{Event, Rating, RunFilter, parse_event, parse_line, scan_lines_where};
use crate::version::Version;

use super::export::export_row;

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

/// A run on its way into a page, with its line, ordered by its key alone (ids are unique in
/// a page). The line is parsed only if it stays in the page (most runs that enter the heap
/// while the logs are read leave it again).
struct Entry(Key, String);

/// A run's id, time, prompt, version and success, borrowed from its line.
type RunKey<'a> = (&'a [u8], DateTime<Utc>, &'a str, &'a str, bool);

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

/// A line's event, for lines the fast scanner leaves to the parser.
fn parse_raw(raw: &[u8]) -> Result<Event, RawLineError> {
    let text = std::str::from_utf8(raw).map_err(RawLineError::Utf8)?;
    parse_line(text).map_err(RawLineError::Line)
}

/// Why a line is not an event.
enum RawLineError {
    Utf8(std::str::Utf8Error),
    Line(crate::runlog::LineError),
}

impl RawLineError {
    fn diagnostic(self, shown: &std::path::Path, line_no: usize, complete: bool) -> Diagnostic {
        match self {
            RawLineError::Utf8(e) => utf8_diagnostic(shown, line_no, complete, e),
            RawLineError::Line(e) => line_diagnostic(shown, line_no, complete, e),
        }
    }
}

/// The runs of a page, picked while the logs are read.
struct Picker<'q> {
    query: &'q RunsQuery,
    filter: &'q RunFilter,
    before: Option<(DateTime<Utc>, &'q str)>,
    needle: Option<String>,
    needle_finder: Option<memchr::memmem::Finder<'static>>,
    eval_finder: Option<memchr::memmem::Finder<'static>>,
    /// The `limit + 1` newest runs before the cursor (one more tells whether a page follows).
    newest: BinaryHeap<Reverse<Entry>>,
    /// The ids seen, when an id may repeat (the first copy is the run).
    seen: Option<HashSet<Box<[u8]>, foldhash::fast::FixedState>>,
    lower: Vec<u8>,
}

impl Picker<'_> {
    /// Take the run of line `raw` into the page if it belongs there.
    fn consider(&mut self, (id, ts, prompt, version, success): RunKey<'_>, raw: &[u8]) {
        let (query, filter) = (self.query, self.filter);
        let passes = filter.prompt.as_ref().is_none_or(|p| p == prompt)
            && filter.version_matches(version)
            && filter.since.is_none_or(|s| ts >= s)
            && filter.until.is_none_or(|u| ts < u);
        if !passes {
            return;
        }
        // The first copy of an id is the run, as every reader counts it.
        if let Some(seen) = &mut self.seen {
            if seen.contains(id) {
                return;
            }
            seen.insert(id.into());
        }
        if query.success.is_some_and(|s| s != success) {
            return;
        }
        let Ok(id) = std::str::from_utf8(id) else {
            return;
        };
        if self.before.is_some_and(|b| (ts, id) >= b) {
            return;
        }
        if self.newest.len() > query.limit
            && self
                .newest
                .peek()
                .is_some_and(|Reverse(Entry(k, _))| (ts, id) <= (k.0, k.1.as_str()))
        {
            return;
        }
        if self.needle.is_some() || query.eval.is_some() {
            // A line of plain ASCII without escapes holds its output and eval id as they are:
            // one that does not contain them cannot match, and is not parsed.
            if !raw.iter().any(|&b| b == b'\\' || !b.is_ascii()) {
                if self
                    .eval_finder
                    .as_ref()
                    .is_some_and(|f| f.find(raw).is_none())
                {
                    return;
                }
                if let Some(f) = &self.needle_finder {
                    self.lower.clear();
                    self.lower.extend(raw.iter().map(u8::to_ascii_lowercase));
                    if f.find(&self.lower).is_none() {
                        return;
                    }
                }
            }
            let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(raw) else {
                return;
            };
            if let Some(e) = &query.eval
                && obj.get("eval").and_then(Value::as_str) != Some(e.as_str())
            {
                return;
            }
            if let Some(n) = &self.needle {
                let output = obj.get("output").and_then(Value::as_str).unwrap_or("");
                if !output.to_lowercase().contains(n.as_str()) {
                    return;
                }
            }
        }
        let Ok(line) = String::from_utf8(raw.to_vec()) else {
            return;
        };
        self.newest.push(Reverse(Entry((ts, id.to_string()), line)));
        if self.newest.len() > query.limit + 1 {
            self.newest.pop();
        }
    }
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
        let needle = query.text.as_ref().map(|t| t.to_lowercase());
        let mut pick = Picker {
            query,
            filter: &filter,
            before: before.as_ref().map(|(ts, id)| (*ts, id.as_str())),
            needle_finder: needle
                .as_ref()
                .map(|n| memchr::memmem::Finder::new(n.as_bytes()).into_owned()),
            needle,
            eval_finder: query
                .eval
                .as_ref()
                .map(|e| memchr::memmem::Finder::new(e.as_bytes()).into_owned()),
            newest: BinaryHeap::new(),
            seen: None,
            lower: Vec::new(),
        };
        let mut ratings: LatestRatings<String, Rating> = LatestRatings::default();
        // What each log holds in brief, through the cache: when no id repeats, the logs are
        // read newest first and reading stops once no older log can reach the page; only the
        // logs that hold ratings are read for them.
        let columns = self.run_columns(&filter);
        let diagnostics = if columns.has_repeated_ids() {
            // The first copy of an id is the run: read every log in order, ratings on the way.
            pick.seen = Some(HashSet::default());
            let mut diagnostics = Vec::new();
            for log in logs(&runs_dir, display, &filter) {
                let read = for_each_line(&log, |line_no, complete, raw| {
                    match scan_line(raw) {
                        Ok(Scanned::Run(r)) => {
                            pick.consider((r.id, r.ts, r.prompt, r.version, r.success), raw);
                            return;
                        }
                        Ok(Scanned::Rating { .. }) | Err(_) => {}
                    }
                    // A rating, or a line the fast scanner leaves to the parser.
                    match parse_raw(raw) {
                        Ok(Event::Rating(r)) => ratings.offer(r.run_id.clone(), r),
                        Ok(Event::Run(r)) => pick.consider(
                            (r.id.as_bytes(), r.ts, &r.prompt, &r.version, r.success),
                            raw,
                        ),
                        Ok(Event::Eval(_)) => {}
                        Err(e) => diagnostics.push(e.diagnostic(&log.shown, line_no, complete)),
                    }
                });
                if let Err(e) = read {
                    diagnostics.push(unreadable(&log.shown, &e));
                }
            }
            diagnostics
        } else {
            for summary in columns.logs.iter().filter(|s| s.ratings) {
                let _ = for_each_line(&summary.log, |_, _, raw| {
                    if let Ok(Scanned::Rating { .. }) | Err(_) = scan_line(raw)
                        && let Ok(Event::Rating(r)) = parse_raw(raw)
                    {
                        ratings.offer(r.run_id.clone(), r);
                    }
                });
            }
            let mut order: Vec<_> = columns
                .logs
                .iter()
                .filter_map(|s| s.span.map(|span| (span, &s.log)))
                .collect();
            order.sort_by_key(|(span, _)| Reverse(span.1));
            for ((first, last), log) in order {
                // Every run of this log is at or after the cursor: none can be on the page.
                if pick.before.is_some_and(|(ts, _)| first > ts) {
                    continue;
                }
                // The page is full and every run of this log (and of the logs after it) is
                // older than its oldest run.
                if pick.newest.len() > query.limit
                    && pick
                        .newest
                        .peek()
                        .is_some_and(|Reverse(Entry(k, _))| last < k.0)
                {
                    break;
                }
                let _ = for_each_line(log, |_, _, raw| match scan_line(raw) {
                    Ok(Scanned::Run(r)) => {
                        pick.consider((r.id, r.ts, r.prompt, r.version, r.success), raw)
                    }
                    Ok(Scanned::Rating { .. }) => {}
                    Err(_) => {
                        if let Ok(Event::Run(r)) = parse_raw(raw) {
                            pick.consider(
                                (r.id.as_bytes(), r.ts, &r.prompt, &r.version, r.success),
                                raw,
                            );
                        }
                    }
                });
            }
            columns.diagnostics
        };
        let newest = pick.newest;
        let mut page: Vec<(Key, Map<String, Value>)> = newest
            .into_iter()
            .filter_map(|Reverse(Entry(k, line))| match parse_event(&line) {
                Ok(Event::Run(run)) => export_row(&line, &run, &ratings).map(|obj| (k, obj)),
                _ => None,
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
        let runs_dir = self.runs_dir();
        let display = std::path::Path::new("runs");
        // Only lines that hold the id as it is (or an escape that could spell it) are parsed.
        let finder = memchr::memmem::Finder::new(id.as_bytes());
        let may_name = |raw: &[u8]| finder.find(raw).is_some() || raw.contains(&b'\\');
        let threads = crate::runlog::default_threads();
        let lines = scan_lines_where(&runs_dir, display, &RunFilter::default(), threads, may_name);
        // The first copy of an id is the run; its ratings are read as the list of all runs
        // reads them.
        let mut found = None;
        let mut ratings: LatestRatings<String, Rating> = LatestRatings::default();
        for (line, ev) in lines {
            match ev {
                Event::Run(run) if run.id == id && found.is_none() => found = Some((line, run)),
                Event::Rating(r) if r.run_id == id => ratings.offer(r.run_id.clone(), r),
                _ => {}
            }
        }
        let (line, run) = found?;
        export_row(&line, &run, &ratings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::export::latest_ratings;
    use crate::query::testing::{project_with_runs, run_line};
    use crate::runlog::scan;

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

    /// The runs `query` selects, by the plain reading: every valid line parsed, the first copy
    /// of an id kept, the latest rating applied, filtered, newest first.
    fn reference(project: &Project, query: &RunsQuery) -> Vec<Map<String, Value>> {
        let filter = RunFilter {
            prompt: query.prompt.clone(),
            version: query.version.as_ref().map(ToString::to_string),
            since: query.since,
            until: query.until,
        };
        let runs_dir = project.runs_dir();
        let display = std::path::Path::new("runs");
        let (ratings, _) = latest_ratings(&runs_dir, display, &filter);
        let mut seen = HashSet::new();
        let mut rows: Vec<(Key, Map<String, Value>)> = Vec::new();
        let _ = scan(&runs_dir, display, &filter, |_, _, line, ev| {
            let Event::Run(run) = ev else { return };
            if !seen.insert(run.id.clone()) || query.success.is_some_and(|s| s != run.success) {
                return;
            }
            let Some(obj) = export_row(line, &run, &ratings) else {
                return;
            };
            if let Some(e) = &query.eval
                && obj.get("eval").and_then(Value::as_str) != Some(e.as_str())
            {
                return;
            }
            if let Some(t) = &query.text {
                let output = obj.get("output").and_then(Value::as_str).unwrap_or("");
                if !output.to_lowercase().contains(&t.to_lowercase()) {
                    return;
                }
            }
            rows.push(((run.ts, run.id.clone()), obj));
        });
        rows.sort_by(|a, b| b.0.cmp(&a.0));
        rows.into_iter().map(|(_, o)| o).collect()
    }

    #[test]
    fn pages_equal_the_plain_reading_on_varied_lines() {
        let outputs = [
            "Plain ANSWER text",
            "escaped \\u0041NSWER and a \\\"quote\\\"",
            "new\\nline answer",
            "KELVIN \u{212a}ey and caf\u{e9} Answer",
            "no match here",
            "",
        ];
        for unique in [false, true] {
            pages_equal_the_plain_reading(&outputs, unique);
        }
    }

    fn pages_equal_the_plain_reading(outputs: &[&str], unique: bool) {
        let mut lines = Vec::new();
        for i in 0..240 {
            let output = outputs[i % outputs.len()];
            let eval = match i % 7 {
                0 => r#","eval":"batch-1""#.to_string(),
                1 => r#","eval":"b\u0061tch-1""#.to_string(),
                2 => r#","eval":"batch-2""#.to_string(),
                _ => String::new(),
            };
            lines.push(format!(
                r#"{{"id":"r{:03}","ts":"2026-11-{:02}T{:02}:00:00Z","prompt":"{}","version":"1.{}","execution_time_ms":{},"success":{},"output":"{output}"{eval}}}"#,
                if unique { i } else { i % 200 },
                i % 27 + 1,
                i % 24,
                ["p", "q"][i % 2],
                i % 3,
                i * 13 % 700,
                i % 4 != 0,
            ));
            if i % 11 == 0 {
                lines.push(format!(
                    r#"{{"type":"rating","id":"rt{i}","ts":"2026-11-28T0{}:00:00Z","run_id":"r{:03}","quality_score":{},"feedback":"rated {i}"}}"#,
                    i % 10,
                    (i * 7) % 200,
                    i % 10 + 1
                ));
            }
            if i % 50 == 3 {
                lines.push("{not json".to_string());
            }
        }
        let (dir, project) = project_with_runs(&["p", "q"], &lines);
        // Logs whose times overlap: every other line of p's log in a second log.
        let log = dir.path().join("runs/p/2026-11.jsonl");
        let text = std::fs::read_to_string(&log).expect("log");
        let (mut a, mut b) = (String::new(), String::new());
        for (i, line) in text.lines().enumerate() {
            let half = if i % 2 == 0 { &mut a } else { &mut b };
            half.push_str(line);
            half.push('\n');
        }
        std::fs::write(&log, a).expect("write");
        std::fs::write(dir.path().join("runs/p/2026-12.jsonl"), b).expect("write");
        assert_eq!(
            project
                .run_columns(&RunFilter::default())
                .has_repeated_ids(),
            !unique
        );
        let since = DateTime::parse_from_rfc3339("2026-11-05T00:00:00Z")
            .expect("ts")
            .with_timezone(&Utc);
        let queries = [
            RunsQuery::default(),
            RunsQuery {
                prompt: Some("q".into()),
                success: Some(true),
                ..RunsQuery::default()
            },
            RunsQuery {
                version: Some("1.1".parse().expect("version")),
                since: Some(since),
                ..RunsQuery::default()
            },
            RunsQuery {
                text: Some("answer".into()),
                ..RunsQuery::default()
            },
            RunsQuery {
                text: Some("key".into()),
                ..RunsQuery::default()
            },
            RunsQuery {
                text: Some("CAFÉ".into()),
                ..RunsQuery::default()
            },
            RunsQuery {
                eval: Some("batch-1".into()),
                ..RunsQuery::default()
            },
        ];
        let mut rated = false;
        for base in queries {
            let want = reference(&project, &base);
            assert!(!want.is_empty(), "{base:?} selects some runs");
            rated |= want.iter().any(|r| {
                r.get("feedback")
                    .and_then(Value::as_str)
                    .is_some_and(|f| f.starts_with("rated"))
            });
            for limit in [7, 1000] {
                let mut query = RunsQuery {
                    limit,
                    ..base.clone()
                };
                let mut got = Vec::new();
                loop {
                    let page = project.runs_page(&query).expect("page");
                    got.extend(page.runs);
                    match page.next_cursor {
                        Some(c) => query.cursor = Some(c),
                        None => break,
                    }
                }
                assert_eq!(got, want, "{base:?} limit {limit} unique ids {unique}");
            }
        }
        assert!(rated, "ratings reach the pages");
        // A run's own page: the same row, its rating applied.
        for row in reference(&project, &RunsQuery::default()).iter().step_by(9) {
            let id = row["id"].as_str().expect("id");
            assert_eq!(project.run_by_id(id).as_ref(), Some(row), "{id}");
        }
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
