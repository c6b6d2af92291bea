//! Run logs: one JSON object per line in `runs/<prompt>/<YYYY-MM>.jsonl` (format version 1).
//!
//! Writing appends whole lines under an advisory lock, so concurrent writers never lose or
//! interleave bytes; a torn last line left by a crash is skipped by readers (with a
//! warning) and the next append starts on a fresh line. Ratings given after the fact are
//! appended as separate `{"type":"rating"}` events, never by rewriting old lines. Reading
//! is streaming and keeps only the fields an aggregation needs, never the output texts.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::diagnostic::Diagnostic;
use crate::prompt::{Params, is_valid_name};
use crate::version::Version;

/// The run log format version this library reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The documented fields of a run record, in the order they are written.
pub const FIELDS: &[&str] = &[
    "id",
    "ts",
    "prompt",
    "version",
    "prompt_sha",
    "commit",
    "model",
    "params",
    "input",
    "output",
    "execution_time_ms",
    "token_count",
    "output_length",
    "success",
    "error",
    "quality_score",
    "feedback",
];

/// The diagnostic for a line that could not be read: a warning for a torn line (no line end,
/// or JSON that stops short), else an error; the line is skipped either way.
pub(crate) fn line_diagnostic(
    shown: &Path,
    line_no: usize,
    complete: bool,
    e: LineError,
) -> Diagnostic {
    // A line cut off in the middle of its JSON is a torn write also when later appends followed
    // it (each append starts on a fresh line); it never was a run, and nothing can repair it.
    if !complete || e.truncated {
        let which = if complete { "line" } else { "last line" };
        return Diagnostic::warning(
            shown,
            Some(line_no),
            format!("incomplete {which} (torn write?), skipped: {}", e.message),
        )
        .with_field(e.field.unwrap_or("line"));
    }
    let mut d = Diagnostic::error(shown, Some(line_no), format!("{}, line skipped", e.message));
    d.field = e.field.map(str::to_string);
    d
}

/// The diagnostic for a line that is not UTF-8.
pub(crate) fn utf8_diagnostic(shown: &Path, line_no: usize, e: std::str::Utf8Error) -> Diagnostic {
    Diagnostic::error(
        shown,
        Some(line_no),
        format!(
            "line is not valid UTF-8 (byte {}), skipped",
            e.valid_up_to()
        ),
    )
}

/// One execution of a prompt version, as written to a run log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// Unique, time-ordered id (UUIDv7).
    pub id: String,
    /// When the run happened (UTC, written with milliseconds).
    #[serde(serialize_with = "ser_ts")]
    pub ts: DateTime<Utc>,
    /// The prompt's name.
    pub prompt: String,
    /// The version that ran.
    pub version: String,
    /// Git blob id of the version file's bytes when it ran.
    pub prompt_sha: Option<String>,
    /// HEAD when the version file was committed and unchanged, else null.
    pub commit: Option<String>,
    /// The model that answered.
    pub model: Option<String>,
    /// Sampling parameters used.
    pub params: Params,
    /// The input variables.
    pub input: Map<String, Value>,
    /// The model's output.
    pub output: String,
    /// Wall time of the execution in milliseconds.
    pub execution_time_ms: f64,
    /// Tokens used, when known.
    pub token_count: Option<u64>,
    /// Length of `output` in characters.
    pub output_length: u64,
    /// Whether the execution succeeded.
    pub success: bool,
    /// The error, when it failed.
    pub error: Option<String>,
    /// Quality score, 1 to 10.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_score")]
    pub quality_score: Option<f64>,
    /// Free-text feedback on the output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
    /// Fields this version of ptrack does not know (kept as given), including `tags` and `meta`.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A rating attached to a run after the fact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatingEvent {
    /// Always `rating`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The event's own id.
    pub id: String,
    /// When the rating was given.
    #[serde(serialize_with = "ser_ts")]
    pub ts: DateTime<Utc>,
    /// The run it rates.
    pub run_id: String,
    /// The prompt of that run (so the event lands beside its runs).
    pub prompt: String,
    /// Quality score, 1 to 10.
    #[serde(serialize_with = "ser_score_required")]
    pub quality_score: f64,
    /// Free-text feedback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
}

fn ser_ts<S: Serializer>(ts: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_ts(ts))
}

fn ser_score<S: Serializer>(q: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match q {
        Some(q) => ser_score_required(q, s),
        None => s.serialize_none(),
    }
}

fn ser_score_required<S: Serializer>(q: &f64, s: S) -> Result<S::Ok, S::Error> {
    // Whole scores (the common case) are written as integers: `8`, not `8.0`.
    if q.fract() == 0.0 {
        s.serialize_i64(*q as i64)
    } else {
        s.serialize_f64(*q)
    }
}

/// A time as run logs write it: RFC 3339, UTC, milliseconds (`2026-11-02T10:15:30.123Z`).
pub fn format_ts(ts: &DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A new run id: a UUIDv7 whose time part is `ts`, so ids sort like the runs' times.
pub fn new_id(ts: &DateTime<Utc>) -> String {
    let ms = u64::try_from(ts.timestamp_millis()).unwrap_or(0);
    let stamp =
        uuid::Timestamp::from_unix(uuid::NoContext, ms / 1000, ((ms % 1000) * 1_000_000) as u32);
    uuid::Uuid::new_v7(stamp).to_string()
}

/// A number as JSON: whole values as integers (`8`, not `8.0`), as people write them.
pub fn json_number(q: f64) -> Value {
    if q.fract() == 0.0 && q.abs() < 9e15 {
        Value::from(q as i64)
    } else {
        serde_json::Number::from_f64(q).map_or(Value::Null, Value::Number)
    }
}

/// The facts of one run that aggregations need (no output text).
#[derive(Debug, Clone, PartialEq)]
pub struct RunFacts {
    /// Run id.
    pub id: String,
    /// When it ran.
    pub ts: DateTime<Utc>,
    /// Prompt name.
    pub prompt: String,
    /// Version.
    pub version: String,
    /// Blob id of the version file that ran.
    pub prompt_sha: Option<String>,
    /// Wall time in milliseconds.
    pub execution_time_ms: f64,
    /// Tokens, when known.
    pub token_count: Option<u64>,
    /// Output length in characters.
    pub output_length: u64,
    /// Success.
    pub success: bool,
    /// Quality score given with the run (ratings are applied later).
    pub quality_score: Option<f64>,
    /// Whether feedback text was given.
    pub has_feedback: bool,
}

/// A rating event, as read.
#[derive(Debug, Clone, PartialEq)]
pub struct Rating {
    /// The rated run.
    pub run_id: String,
    /// When the rating was given.
    pub ts: DateTime<Utc>,
    /// Quality score, 1 to 10.
    pub quality_score: f64,
    /// Feedback text, if any.
    pub feedback: Option<String>,
}

/// One valid line of a run log.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An execution.
    Run(RunFacts),
    /// A rating of an earlier execution.
    Rating(Rating),
}

/// A line as read, borrowing from the line where it can.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    ts: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    prompt: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    version: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    prompt_sha: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    run_id: Option<Cow<'a, str>>,
    #[serde(default)]
    execution_time_ms: Option<Value>,
    #[serde(default)]
    token_count: Option<Value>,
    #[serde(default)]
    output_length: Option<Value>,
    #[serde(default)]
    output: Option<CharCount>,
    #[serde(default)]
    success: Option<Value>,
    #[serde(default)]
    quality_score: Option<Value>,
    #[serde(borrow, default)]
    feedback: Option<Cow<'a, str>>,
}

/// The number of characters of a JSON string, counted without keeping the string.
struct CharCount(Option<u64>);

impl<'de> Deserialize<'de> for CharCount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = CharCount;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E>(self, s: &str) -> Result<CharCount, E> {
                Ok(CharCount(Some(s.chars().count() as u64)))
            }
            fn visit_unit<E>(self) -> Result<CharCount, E> {
                Ok(CharCount(None))
            }
            fn visit_none<E>(self) -> Result<CharCount, E> {
                Ok(CharCount(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A problem with one line: the field it is about and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct LineError {
    /// The field, when the problem is about one.
    pub field: Option<&'static str>,
    /// What is wrong.
    pub message: String,
    /// The JSON stops before its end: a torn write, wherever the line is.
    pub truncated: bool,
}

impl LineError {
    fn field(field: &'static str, message: impl Into<String>) -> Self {
        LineError {
            field: Some(field),
            message: message.into(),
            truncated: false,
        }
    }
}

/// Parse and validate one line of a run log.
pub fn parse_line(line: &str) -> Result<Event, LineError> {
    if !line.trim_start().starts_with('{') {
        return Err(LineError {
            field: None,
            message: "expected a JSON object (`{…}`) on each line".to_string(),
            truncated: false,
        });
    }
    let l: Line<'_> = serde_json::from_str(line).map_err(|e| LineError {
        field: None,
        message: format!("invalid JSON: {}", strip_json_location(&e.to_string())),
        truncated: e.is_eof(),
    })?;
    let ts = parse_ts(l.ts.as_deref())?;
    match l.kind.as_deref() {
        None | Some("run") => {}
        Some("rating") => {
            let run_id = l.run_id.filter(|s| !s.is_empty()).ok_or_else(|| {
                LineError::field(
                    "run_id",
                    "a rating needs `run_id`, the id of the run it rates",
                )
            })?;
            let q = l.quality_score.as_ref().ok_or_else(|| {
                LineError::field("quality_score", "a rating needs `quality_score` (1 to 10)")
            })?;
            return Ok(Event::Rating(Rating {
                run_id: run_id.into_owned(),
                ts,
                quality_score: check_score(q)?,
                feedback: l.feedback.map(Cow::into_owned),
            }));
        }
        Some(other) => {
            return Err(LineError::field(
                "type",
                format!("unknown record type `{other}` (expected `run` or `rating`)"),
            ));
        }
    }
    let id =
        l.id.filter(|s| !s.is_empty())
            .ok_or_else(|| LineError::field("id", "missing `id`"))?;
    let prompt = l
        .prompt
        .ok_or_else(|| LineError::field("prompt", "missing `prompt`"))?;
    if !is_valid_name(&prompt) {
        return Err(LineError::field(
            "prompt",
            format!("invalid prompt name `{prompt}`"),
        ));
    }
    let version = l
        .version
        .ok_or_else(|| LineError::field("version", "missing `version`"))?;
    version
        .parse::<Version>()
        .map_err(|e| LineError::field("version", e.to_string()))?;
    let execution_time_ms = match &l.execution_time_ms {
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => x,
            _ => {
                return Err(LineError::field(
                    "execution_time_ms",
                    format!("execution_time_ms must be a number ≥ 0, got {v}"),
                ));
            }
        },
        None => {
            return Err(LineError::field(
                "execution_time_ms",
                "missing `execution_time_ms`",
            ));
        }
    };
    let token_count = opt_count("token_count", l.token_count.as_ref())?;
    let output_length = match opt_count("output_length", l.output_length.as_ref())? {
        Some(n) => n,
        None => l.output.and_then(|c| c.0).unwrap_or(0),
    };
    let success = match &l.success {
        Some(Value::Bool(b)) => *b,
        Some(v) => {
            return Err(LineError::field(
                "success",
                format!("success must be true or false, got {v}"),
            ));
        }
        None => {
            return Err(LineError::field(
                "success",
                "missing `success` (true or false)",
            ));
        }
    };
    let quality_score = match &l.quality_score {
        None | Some(Value::Null) => None,
        Some(q) => Some(check_score(q)?),
    };
    Ok(Event::Run(RunFacts {
        id: id.into_owned(),
        ts,
        prompt: prompt.into_owned(),
        version: version.into_owned(),
        prompt_sha: l.prompt_sha.map(Cow::into_owned),
        execution_time_ms,
        token_count,
        output_length,
        success,
        quality_score,
        has_feedback: l.feedback.is_some_and(|f| !f.trim().is_empty()),
    }))
}

fn parse_ts(ts: Option<&str>) -> Result<DateTime<Utc>, LineError> {
    let ts = ts.ok_or_else(|| LineError::field("ts", "missing `ts`"))?;
    DateTime::parse_from_rfc3339(ts)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            LineError::field(
                "ts",
                format!("ts must be an RFC 3339 time such as 2026-11-02T10:15:30.123Z, got {ts:?}"),
            )
        })
}

/// Check a quality score: a number from 1 to 10.
pub fn check_score(v: &Value) -> Result<f64, LineError> {
    match v.as_f64() {
        Some(q) if (1.0..=10.0).contains(&q) => Ok(q),
        _ => Err(LineError::field(
            "quality_score",
            format!("quality_score must be a number from 1 to 10, got {v}"),
        )),
    }
}

fn opt_count(field: &'static str, v: Option<&Value>) -> Result<Option<u64>, LineError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            LineError::field(field, format!("{field} must be an integer ≥ 0, got {v}"))
        }),
    }
}

fn strip_json_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Every `*.jsonl` file under `runs_dir`, recursively, in sorted order.
pub fn log_files(runs_dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(runs_dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "jsonl"))
        .map(|e| e.into_path())
        .collect();
    files.sort();
    files
}

/// What to read from the run logs.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only this prompt.
    pub prompt: Option<String>,
    /// Only this version.
    pub version: Option<String>,
    /// Only runs at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only runs before this time.
    pub until: Option<DateTime<Utc>>,
}

impl RunFilter {
    /// Whether `run` passes the filter.
    pub fn matches(&self, run: &RunFacts) -> bool {
        self.prompt.as_ref().is_none_or(|p| *p == run.prompt)
            && self.version.as_ref().is_none_or(|v| *v == run.version)
            && self.since.is_none_or(|s| run.ts >= s)
            && self.until.is_none_or(|u| run.ts < u)
    }

    /// Whether a file at `rel` (relative to `runs/`) can hold runs that pass.
    /// Files follow `runs/<prompt>/…`; anything else may hold any prompt.
    fn may_hold(&self, rel: &Path) -> bool {
        let Some(prompt) = &self.prompt else {
            return true;
        };
        let mut comps = rel.components();
        match (comps.next(), comps.next()) {
            (Some(first), Some(_)) => {
                let dir = first.as_os_str().to_string_lossy();
                // A folder named after another valid prompt holds that prompt's runs only.
                !is_valid_name(&dir) || dir == prompt.as_str()
            }
            _ => true,
        }
    }
}

/// Read every run log under `runs_dir`, calling `visit` with each valid line and its
/// location; every invalid line becomes a diagnostic (torn last lines are warnings).
/// `display_root` is the prefix used for paths in diagnostics.
pub fn scan<F>(
    runs_dir: &Path,
    display_root: &Path,
    filter: &RunFilter,
    mut visit: F,
) -> Vec<Diagnostic>
where
    F: FnMut(&Path, usize, &str, Event),
{
    let mut diags = Vec::new();
    for file in log_files(runs_dir) {
        let rel = file.strip_prefix(runs_dir).unwrap_or(&file);
        if !filter.may_hold(rel) {
            continue;
        }
        let shown = display_root.join(rel);
        let read = File::open(&file).and_then(|f| {
            scan_reader(
                std::io::BufReader::with_capacity(1 << 16, f),
                &shown,
                &mut diags,
                |n, line, ev| {
                    let keep = match &ev {
                        Event::Run(r) => filter.matches(r),
                        Event::Rating(_) => true,
                    };
                    if keep {
                        visit(&shown, n, line, ev);
                    }
                },
            )
        });
        if let Err(e) = read {
            diags.push(Diagnostic::error(
                &shown,
                None,
                format!("cannot read run log: {e}"),
            ));
        }
    }
    diags
}

/// Like [`scan`] without the line texts, reading the files on up to `threads` threads; the
/// events come back in the order [`scan`] gives them.
pub fn scan_events(
    runs_dir: &Path,
    display_root: &Path,
    filter: &RunFilter,
    threads: usize,
) -> (Vec<Event>, Vec<Diagnostic>) {
    let files: Vec<PathBuf> = log_files(runs_dir)
        .into_iter()
        .filter(|f| filter.may_hold(f.strip_prefix(runs_dir).unwrap_or(f)))
        .collect();
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .collect();
    let shares = split_by_size(&sizes, threads);
    let parts: Vec<(Vec<Event>, Vec<Diagnostic>)> = std::thread::scope(|s| {
        let handles: Vec<_> = shares
            .iter()
            .map(|range| {
                let files = &files[range.clone()];
                s.spawn(move || {
                    let mut events = Vec::new();
                    let mut diags = Vec::new();
                    for file in files {
                        let rel = file.strip_prefix(runs_dir).unwrap_or(file);
                        let shown = display_root.join(rel);
                        let read = File::open(file).and_then(|f| {
                            scan_reader(
                                std::io::BufReader::with_capacity(1 << 16, f),
                                &shown,
                                &mut diags,
                                |_, _, ev| {
                                    if let Event::Rating(_) = ev {
                                        events.push(ev);
                                    } else if let Event::Run(r) = &ev
                                        && filter.matches(r)
                                    {
                                        events.push(ev);
                                    }
                                },
                            )
                        });
                        if let Err(e) = read {
                            diags.push(Diagnostic::error(
                                &shown,
                                None,
                                format!("cannot read run log: {e}"),
                            ));
                        }
                    }
                    (events, diags)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut events = Vec::new();
    let mut diags = Vec::new();
    for (e, d) in parts {
        events.extend(e);
        diags.extend(d);
    }
    (events, diags)
}

/// Split files (by their sizes, in order) into up to `threads` contiguous ranges of about
/// equal bytes; logs under 1 MB stay on one thread (faster than starting another).
pub(crate) fn split_by_size(sizes: &[u64], threads: usize) -> Vec<std::ops::Range<usize>> {
    let total: u64 = sizes.iter().sum();
    let threads = if total < (1 << 20) {
        1
    } else {
        threads.clamp(1, sizes.len().max(1))
    };
    let mut ranges = Vec::new();
    let (mut start, mut acc) = (0, 0u64);
    for (i, s) in sizes.iter().enumerate() {
        acc += s;
        if ranges.len() + 1 < threads && acc * threads as u64 >= total * (ranges.len() as u64 + 1) {
            ranges.push(start..i + 1);
            start = i + 1;
        }
    }
    ranges.push(start..sizes.len());
    ranges
}

/// Parse the lines of one log file's bytes.
pub fn scan_bytes<F>(bytes: &[u8], shown: &Path, diags: &mut Vec<Diagnostic>, visit: F)
where
    F: FnMut(usize, &str, Event),
{
    // Reading from a slice cannot fail.
    let _ = scan_reader(bytes, shown, diags, visit);
}

/// Parse the lines of one log, streaming: memory holds one line at a time.
pub fn scan_reader<R, F>(
    mut reader: R,
    shown: &Path,
    diags: &mut Vec<Diagnostic>,
    mut visit: F,
) -> std::io::Result<()>
where
    R: std::io::BufRead,
    F: FnMut(usize, &str, Event),
{
    let mut buf = Vec::new();
    let mut line_no = 0;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            return Ok(());
        }
        line_no += 1;
        let complete = buf.last() == Some(&b'\n');
        let raw = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // simdutf8 checks valid lines fast; std says where an invalid one goes wrong.
        let text = match simdutf8::basic::from_utf8(raw).or_else(|_| std::str::from_utf8(raw)) {
            Ok(t) => t,
            Err(e) => {
                diags.push(utf8_diagnostic(shown, line_no, e));
                continue;
            }
        };
        // The fast scanner reads ordinary lines; the full parser handles the rest and explains errors.
        match crate::fast::fast_event(text.as_bytes())
            .map(Ok)
            .unwrap_or_else(|| parse_line(text))
        {
            Ok(ev) => visit(line_no, text, ev),
            Err(e) => diags.push(line_diagnostic(shown, line_no, complete, e)),
        }
    }
}

/// Why a run could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The log file could not be opened, locked or written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The log file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The record could not be serialized.
    #[error("cannot serialize run: {0}")]
    Json(#[from] serde_json::Error),
}

/// The log file a record for `prompt` at `ts` goes to: `runs/<prompt>/<YYYY-MM>.jsonl`.
pub fn log_path(runs_dir: &Path, prompt: &str, ts: &DateTime<Utc>) -> PathBuf {
    runs_dir
        .join(prompt)
        .join(format!("{}.jsonl", ts.format("%Y-%m")))
}

/// Append `value` as one line to `path`, under an exclusive advisory lock, in one write.
/// When the file ends in a torn line (no final newline) the new line starts on a fresh line.
pub fn append_line<T: Serialize>(path: &Path, value: &T) -> Result<(), WriteError> {
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    append_raw(path, &line)
}

/// Append several values, one line each, in one locked write.
pub fn append_lines<T: Serialize>(path: &Path, values: &[T]) -> Result<(), WriteError> {
    let mut buf = Vec::new();
    for v in values {
        serde_json::to_writer(&mut buf, v)?;
        buf.push(b'\n');
    }
    append_raw(path, &buf)
}

fn append_raw(path: &Path, data: &[u8]) -> Result<(), WriteError> {
    let io = |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .map_err(io)?;
    file.lock().map_err(io)?;
    let result = (|| {
        let len = file.metadata()?.len();
        let mut buf = Vec::with_capacity(data.len() + 1);
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                buf.push(b'\n');
            }
        }
        buf.extend_from_slice(data);
        file.write_all(&buf)?;
        file.flush()
    })();
    let unlocked = file.unlock();
    result.map_err(io)?;
    unlocked.map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_run_line() {
        let line = r#"{"id":"r1","ts":"2026-11-02T10:15:30.123Z","prompt":"coach","version":"1.1","prompt_sha":"abc","execution_time_ms":1834.5,"token_count":312,"output":"héllo \"x\"","success":true,"quality_score":8,"feedback":"good","extra":{"a":1}}"#;
        let Event::Run(r) = parse_line(line).expect("valid") else {
            panic!("expected a run")
        };
        assert_eq!(r.id, "r1");
        assert_eq!(r.version, "1.1");
        assert_eq!(r.execution_time_ms, 1834.5);
        assert_eq!(r.token_count, Some(312));
        assert_eq!(r.output_length, 9, "characters, computed from output");
        assert_eq!(r.quality_score, Some(8.0));
        assert!(r.has_feedback);
    }

    #[test]
    fn explicit_output_length_wins_and_exponents_parse() {
        let line = r#"{"success":false,"output_length":3,"output":"abcdef","execution_time_ms":1.5e3,"version":"1.0","prompt":"p","ts":"2026-11-02T10:15:30Z","id":"x"}"#;
        let Event::Run(r) = parse_line(line).expect("valid") else {
            panic!("expected a run")
        };
        assert_eq!(r.output_length, 3);
        assert_eq!(r.execution_time_ms, 1500.0);
        assert!(!r.success);
    }

    #[test]
    fn bad_fields_are_named() {
        let base =
            r#""id":"x","ts":"2026-11-02T10:15:30Z","prompt":"p","version":"1.0","success":true"#;
        let cases = [
            (format!("{{{base}}}"), "execution_time_ms"),
            (format!("{{{base},\"execution_time_ms\":-1}}"), "execution_time_ms"),
            (format!("{{{base},\"execution_time_ms\":1,\"quality_score\":11}}"), "quality_score"),
            (format!("{{{base},\"execution_time_ms\":1,\"token_count\":1.5}}"), "token_count"),
            (r#"{"id":"x","ts":"yesterday","prompt":"p","version":"1.0","success":true,"execution_time_ms":1}"#.to_string(), "ts"),
            (r#"{"id":"x","ts":"2026-11-02T10:15:30Z","prompt":"../p","version":"1.0","success":true,"execution_time_ms":1}"#.to_string(), "prompt"),
            (r#"{"id":"x","ts":"2026-11-02T10:15:30Z","prompt":"p","version":"1.0","success":"yes","execution_time_ms":1}"#.to_string(), "success"),
            (r#"{"type":"rating","id":"x","ts":"2026-11-02T10:15:30Z","quality_score":5}"#.to_string(), "run_id"),
        ];
        for (line, field) in cases {
            let err = parse_line(&line).expect_err(&line);
            assert_eq!(err.field, Some(field), "{line}: {}", err.message);
        }
        assert_eq!(parse_line("{not json").expect_err("bad").field, None);
    }

    #[test]
    fn torn_last_line_is_a_warning_and_crlf_is_accepted() {
        let ok = r#"{"id":"a","ts":"2026-11-02T10:15:30Z","prompt":"p","version":"1.0","success":true,"execution_time_ms":1}"#;
        let data = format!("{ok}\r\n\n{{\"id\":\"b\",\"ts\"");
        let mut diags = Vec::new();
        let mut seen = Vec::new();
        scan_bytes(
            data.as_bytes(),
            Path::new("runs/p/x.jsonl"),
            &mut diags,
            |n, _, ev| seen.push((n, ev)),
        );
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].0, 1);
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].severity, crate::Severity::Warning);
        assert_eq!(diags[0].line, Some(3));
        assert!(
            diags[0].message.starts_with("incomplete last line"),
            "{}",
            diags[0]
        );
    }

    #[test]
    fn a_torn_line_stays_a_warning_after_later_appends() {
        let ok = r#"{"id":"a","ts":"2026-11-02T10:15:30Z","prompt":"p","version":"1.0","success":true,"execution_time_ms":1}"#;
        let data = format!("{{\"id\":\"b\",\"ts\"\n{ok}\n{{\"id\": 1 2}}\n");
        let mut diags = Vec::new();
        let mut seen = 0;
        scan_bytes(
            data.as_bytes(),
            Path::new("runs/p/x.jsonl"),
            &mut diags,
            |_, _, _| seen += 1,
        );
        assert_eq!(seen, 1);
        let kinds: Vec<(Option<usize>, crate::Severity)> =
            diags.iter().map(|d| (d.line, d.severity)).collect();
        assert_eq!(
            kinds,
            [
                (Some(1), crate::Severity::Warning),
                (Some(3), crate::Severity::Error)
            ]
        );
        assert!(
            diags[0]
                .message
                .starts_with("incomplete line (torn write?)"),
            "{}",
            diags[0]
        );
    }

    #[test]
    fn append_starts_a_fresh_line_after_a_torn_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p/2026-11.jsonl");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, "{\"id\":\"torn").expect("write");
        append_line(&path, &serde_json::json!({"a": 1})).expect("append");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, "{\"id\":\"torn\n{\"a\":1}\n");
    }

    #[test]
    fn record_serializes_in_format_order_with_unknown_fields_kept() {
        let mut extra = Map::new();
        extra.insert("meta".into(), serde_json::json!({"user": "u1"}));
        let rec = RunRecord {
            id: "0190".into(),
            ts: DateTime::parse_from_rfc3339("2026-11-02T10:15:30.1Z")
                .expect("ts")
                .with_timezone(&Utc),
            prompt: "coach".into(),
            version: "1.0".into(),
            prompt_sha: Some("abc".into()),
            commit: None,
            model: Some("llama3.1:8b".into()),
            params: Params {
                temperature: Some(0.5),
                ..Params::default()
            },
            input: Map::new(),
            output: "hi".into(),
            execution_time_ms: 12.0,
            token_count: Some(3),
            output_length: 2,
            success: true,
            error: None,
            quality_score: Some(8.0),
            feedback: None,
            extra,
        };
        let json = serde_json::to_string(&rec).expect("serialize");
        assert_eq!(
            json,
            r#"{"id":"0190","ts":"2026-11-02T10:15:30.100Z","prompt":"coach","version":"1.0","prompt_sha":"abc","commit":null,"model":"llama3.1:8b","params":{"temperature":0.5},"input":{},"output":"hi","execution_time_ms":12.0,"token_count":3,"output_length":2,"success":true,"error":null,"quality_score":8,"meta":{"user":"u1"}}"#
        );
        assert!(matches!(parse_line(&json), Ok(Event::Run(_))));
    }
}
