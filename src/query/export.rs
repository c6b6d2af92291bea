//! `export`: every run, each id once, with its latest rating applied, as JSON, JSON Lines or
//! RFC 4180 CSV, written to any writer, or as Parquet files in a folder ([`parquet`], feature
//! `parquet`).

#[cfg(feature = "parquet")]
pub mod parquet;

use std::collections::HashSet;
use std::io::Write;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::diagnostic::Diagnostic;
use crate::project::{LookupError, Project, check_name};
use crate::runlog::aggregate::LatestRatings;
use crate::runlog::{Event, FIELDS, Rating, RunFilter, json_number, scan};

/// How `export` writes runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// RFC 4180 CSV with the fixed header of [`csv_header`].
    Csv,
}

/// Which runs to export.
#[derive(Debug, Clone, Default)]
pub struct ExportQuery {
    /// Only this prompt.
    pub prompt: Option<String>,
    /// Only runs at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only runs before this time.
    pub until: Option<DateTime<Utc>>,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSummary {
    /// Runs written.
    pub runs: usize,
    /// Problems in the run logs (bad lines are not exported).
    pub diagnostics: Vec<Diagnostic>,
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// No such prompt and no runs of it.
    #[error("no prompt named `{0}` and no runs under runs/{0}/")]
    UnknownPrompt(String),
    /// The prompt name is invalid.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// The writer failed (a closed pipe, a full disk).
    #[error("cannot write the export: {0}")]
    Write(#[from] std::io::Error),
    /// A file or folder of the export cannot be made or written.
    #[error("{}: {message}", path.display())]
    Output {
        /// The file or folder.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The export folder holds files and replacing them was not asked for.
    #[error("{}: the folder is not empty", .0.display())]
    NotEmpty(std::path::PathBuf),
    /// The export folder holds something that is not part of an earlier export.
    #[error("{}: `{}` is not part of an earlier Parquet export, so the folder is not replaced", dir.display(), path.display())]
    ForeignFile {
        /// The export folder.
        dir: std::path::PathBuf,
        /// The entry, relative to the folder.
        path: std::path::PathBuf,
    },
    /// A run's value does not fit its column.
    #[error("run {id}: {field}: {message}")]
    Value {
        /// The run's id.
        id: String,
        /// The field.
        field: &'static str,
        /// Why it does not fit.
        message: String,
    },
    /// The Parquet encoder refused (not an I/O error).
    #[error("cannot write Parquet: {0}")]
    Parquet(String),
}

impl From<serde_json::Error> for ExportError {
    fn from(e: serde_json::Error) -> Self {
        ExportError::Write(e.into())
    }
}

impl From<csv::Error> for ExportError {
    fn from(e: csv::Error) -> Self {
        match e.into_kind() {
            csv::ErrorKind::Io(io) => ExportError::Write(io),
            other => ExportError::Write(std::io::Error::other(format!("{other:?}"))),
        }
    }
}

/// The CSV columns: the run fields in their documented order, then `extra` (every field
/// ptrack does not know, as a JSON object). Nested objects are JSON text in their cell.
pub fn csv_header() -> Vec<&'static str> {
    let mut h = FIELDS.to_vec();
    h.push("extra");
    h
}

impl Project {
    /// Write the runs `query` selects to `out` in `format`.
    pub fn export(
        &self,
        query: &ExportQuery,
        format: ExportFormat,
        out: &mut dyn Write,
    ) -> Result<ExportSummary, ExportError> {
        if let Some(p) = &query.prompt {
            check_name(p)?;
            if self.load_prompts().get(p).is_none() && !self.runs_dir().join(p).is_dir() {
                return Err(ExportError::UnknownPrompt(p.clone()));
            }
        }
        // Stream every run (the first copy of each id) with its rating applied.
        let mut sink = Sink::start(format, out)?;
        let diagnostics = export_rows(self, query, |_, obj| sink.row(obj))?;
        let count = sink.finish()?;
        Ok(ExportSummary {
            runs: count,
            diagnostics,
        })
    }
}

/// Call `each` with every run `query` selects (the first copy of each id, in log order) and its
/// export row, the latest rating applied; stops at the first error `each` returns. The logs'
/// problems are returned, as every export format reports them.
pub(crate) fn export_rows(
    project: &Project,
    query: &ExportQuery,
    mut each: impl FnMut(&crate::runlog::RunFacts, Map<String, Value>) -> Result<(), ExportError>,
) -> Result<Vec<Diagnostic>, ExportError> {
    let filter = RunFilter {
        prompt: query.prompt.clone(),
        version: None,
        since: query.since,
        until: query.until,
    };
    let runs_dir = project.runs_dir();
    let display = std::path::Path::new("runs");
    // Pass 1: the ratings; pass 2: the runs.
    let (ratings, diagnostics) = latest_ratings(&runs_dir, display, &filter);
    let mut seen = HashSet::new();
    let mut result: Result<(), ExportError> = Ok(());
    let _ = scan(&runs_dir, display, &filter, |_, _, line, ev| {
        if result.is_err() {
            return;
        }
        let Event::Run(run) = ev else { return };
        if !seen.insert(run.id.clone()) {
            return;
        }
        if let Some(obj) = export_row(line, &run, &ratings) {
            result = each(&run, obj);
        }
    });
    result.map(|()| diagnostics)
}

/// The latest rating of each run in the logs `filter` reads (ratings are never filtered by
/// time: a late rating still applies), and the logs' problems.
pub(crate) fn latest_ratings(
    runs_dir: &std::path::Path,
    display: &std::path::Path,
    filter: &RunFilter,
) -> (LatestRatings<String, Rating>, Vec<Diagnostic>) {
    let mut ratings: LatestRatings<String, Rating> = LatestRatings::default();
    let diagnostics = scan(runs_dir, display, filter, |_, _, _, ev| {
        if let Event::Rating(r) = ev {
            ratings.offer(r.run_id.clone(), r);
        }
    });
    (ratings, diagnostics)
}

/// A run as `export` gives it: its line's fields with its latest rating applied and
/// `output_length` filled in. None when the line is not an object (the reader skipped it).
pub(crate) fn export_row(
    line: &str,
    run: &crate::runlog::RunFacts,
    ratings: &LatestRatings<String, Rating>,
) -> Option<Map<String, Value>> {
    let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(line) else {
        return None;
    };
    if let Some(r) = ratings.get(&run.id) {
        obj.insert("quality_score".into(), json_number(r.quality_score));
        // A rating without feedback keeps the run's; an empty one clears it.
        match r.feedback.as_deref() {
            None => {}
            Some("") => {
                obj.remove("feedback");
            }
            Some(f) => {
                obj.insert("feedback".into(), Value::String(f.to_string()));
            }
        }
    }
    if obj.get("output_length").is_none_or(Value::is_null) {
        obj.insert("output_length".into(), Value::from(run.output_length));
    }
    Some(obj)
}

/// Where exported runs go, in one of the formats.
enum Sink<'w> {
    Csv(Box<csv::Writer<&'w mut dyn Write>>, usize),
    Json(&'w mut dyn Write, usize),
    Jsonl(&'w mut dyn Write, usize),
}

impl<'w> Sink<'w> {
    fn start(format: ExportFormat, out: &'w mut dyn Write) -> Result<Sink<'w>, ExportError> {
        Ok(match format {
            ExportFormat::Csv => {
                let mut w = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::CRLF)
                    .from_writer(out);
                w.write_record(csv_header())?;
                Sink::Csv(Box::new(w), 0)
            }
            ExportFormat::Json => {
                out.write_all(b"[")?;
                Sink::Json(out, 0)
            }
            ExportFormat::Jsonl => Sink::Jsonl(out, 0),
        })
    }

    fn row(&mut self, obj: Map<String, Value>) -> Result<(), ExportError> {
        match self {
            Sink::Csv(w, n) => {
                w.write_record(csv_row(obj))?;
                *n += 1;
            }
            Sink::Json(out, n) => {
                out.write_all(if *n == 0 { b"\n  " } else { b",\n  " })?;
                serde_json::to_writer(&mut **out, &obj)?;
                *n += 1;
            }
            Sink::Jsonl(out, n) => {
                serde_json::to_writer(&mut **out, &obj)?;
                out.write_all(b"\n")?;
                *n += 1;
            }
        }
        Ok(())
    }

    /// Close the output; the number of runs written.
    fn finish(self) -> Result<usize, ExportError> {
        Ok(match self {
            Sink::Csv(mut w, n) => {
                w.flush()?;
                n
            }
            Sink::Json(out, n) => {
                out.write_all(if n == 0 { b"]\n" } else { b"\n]\n" })?;
                n
            }
            Sink::Jsonl(_, n) => n,
        })
    }
}

/// One CSV record: the documented fields (text as is, other values as JSON), then `extra`.
fn csv_row(mut obj: Map<String, Value>) -> Vec<String> {
    let mut row: Vec<String> = FIELDS
        .iter()
        .map(|k| match obj.remove(*k) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
        })
        .collect();
    row.push(if obj.is_empty() {
        String::new()
    } else {
        Value::Object(obj).to_string()
    });
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::testing::{project_with_runs, run_line};

    #[test]
    fn csv_quotes_by_rfc_4180_and_ratings_apply() {
        let mut lines = vec![run_line(
            "a",
            "p",
            "1.0",
            "2026-11-01T10:00:00Z",
            100.0,
            true,
            None,
        )];
        lines.push(
            r#"{"id":"b","ts":"2026-11-01T11:00:00Z","prompt":"p","version":"1.0","execution_time_ms":5,"output":"say \"hi\",\nthen go","success":true,"seed":4}"#
                .to_string(),
        );
        lines.push(r#"{"type":"rating","id":"r","ts":"2026-11-02T10:00:00Z","run_id":"a","quality_score":9}"#.to_string());
        lines.push(run_line(
            "a",
            "p",
            "1.0",
            "2026-11-01T10:00:00Z",
            999.0,
            true,
            None,
        ));
        let (_dir, project) = project_with_runs(&["p"], &lines);
        let mut out = Vec::new();
        let s = project
            .export(&ExportQuery::default(), ExportFormat::Csv, &mut out)
            .expect("export");
        assert_eq!(s.runs, 2, "the repeated id counts once");
        let text = String::from_utf8(out).expect("utf8");
        let records: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(records[0], csv_header().join(","));
        assert!(
            records[1].starts_with("a,2026-11-01T10:00:00Z,p,1.0,"),
            "{}",
            records[1]
        );
        assert!(
            records[1].contains(",out,100.0,10,3,true,,9,"),
            "{}",
            records[1]
        );
        assert!(
            text.contains(",\"say \"\"hi\"\",\nthen go\",5,"),
            "quoted, quotes doubled, newline kept: {text}"
        );
        assert!(text.contains(",\"{\"\"seed\"\":4}\"\r\n"), "{text}");
    }
}
