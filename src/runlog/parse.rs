//! Parsing one line of a run log into an [`Event`], with the field and reason when it is bad.
//!
//! [`parse_line`] is the one parser and the authority on what a valid line is. Ordinary lines
//! go through a private fast path first (the `fast` module), which reads only the fields aggregations
//! need and hands anything unusual back to the full parser, so both give the same events.

pub(crate) mod fast;

use std::borrow::Cow;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::schema::{Event, Rating, RunFacts};
use crate::diagnostic::Diagnostic;
use crate::prompt::is_valid_name;
use crate::version::Version;

/// Parse one line (valid UTF-8, no line end): the fast path for ordinary lines, else the full parser.
pub fn parse_event(text: &str) -> Result<Event, LineError> {
    fast::fast_event(text.as_bytes())
        .map(Ok)
        .unwrap_or_else(|| parse_line(text))
}

/// The diagnostic for a line that could not be read: a warning for an incomplete line (no
/// line end, or JSON that stops short), else an error; the line is skipped either way.
pub(crate) fn line_diagnostic(
    shown: &Path,
    line_no: usize,
    complete: bool,
    e: LineError,
) -> Diagnostic {
    // A line cut off in the middle of its JSON stays incomplete when later appends followed
    // it (each append starts on a fresh line); it never was a run, and nothing can repair it.
    if !complete || e.truncated {
        return incomplete(shown, line_no, complete, &e.message)
            .with_field(e.field.unwrap_or("line"));
    }
    let mut d = Diagnostic::error(shown, Some(line_no), format!("{}, line skipped", e.message));
    d.field = e.field.map(str::to_string);
    d
}

/// The warning for an incomplete line: at the end of a file (no line end) it may still be
/// being written by another process; elsewhere an earlier write stopped short.
fn incomplete(shown: &Path, line_no: usize, complete: bool, why: &str) -> Diagnostic {
    let what = if complete {
        "incomplete line, skipped"
    } else {
        "incomplete last line (it may still be being written), skipped"
    };
    Diagnostic::warning(shown, Some(line_no), format!("{what}: {why}"))
}

/// The diagnostic for a line that is not UTF-8: a warning when the bytes stop inside a
/// character at the line's end (the line is incomplete), else an error.
pub(crate) fn utf8_diagnostic(
    shown: &Path,
    line_no: usize,
    complete: bool,
    e: std::str::Utf8Error,
) -> Diagnostic {
    if e.error_len().is_none() {
        let why = format!(
            "the line stops inside a UTF-8 character (byte {})",
            e.valid_up_to()
        );
        return incomplete(shown, line_no, complete, &why).with_field("line");
    }
    Diagnostic::error(
        shown,
        Some(line_no),
        format!(
            "line is not valid UTF-8 (byte {}), skipped",
            e.valid_up_to()
        ),
    )
}

/// A UTF-8 byte order mark, which a run log may start with (editors on Windows write one).
pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

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
    #[serde(default)]
    model: Option<Value>,
    #[serde(default)]
    prompt_tokens: Option<Value>,
    #[serde(default)]
    completion_tokens: Option<Value>,
    #[serde(default)]
    concurrency: Option<Value>,
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
        Some("eval") => {
            let id =
                l.id.filter(|s| !s.is_empty())
                    .ok_or_else(|| LineError::field("id", "an eval batch needs `id`"))?;
            let prompt = l.prompt.filter(|p| is_valid_name(p)).ok_or_else(|| {
                LineError::field("prompt", "an eval batch needs a valid `prompt`")
            })?;
            return Ok(Event::Eval(super::schema::EvalRef {
                id: id.into_owned(),
                ts,
                prompt: prompt.into_owned(),
            }));
        }
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
                tiebreak: super::schema::rating_tiebreak(
                    l.id.as_deref().map(str::as_bytes),
                    line.as_bytes(),
                ),
            }));
        }
        Some(other) => {
            return Err(LineError::field(
                "type",
                format!("unknown record type `{other}` (expected `run`, `rating` or `eval`)"),
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
    // Cost inputs: read when they are what they should be, never a reason to reject a run.
    let model = l.model.as_ref().and_then(Value::as_str).map(str::to_string);
    let prompt_tokens = l.prompt_tokens.as_ref().and_then(Value::as_u64);
    let completion_tokens = l.completion_tokens.as_ref().and_then(Value::as_u64);
    let concurrency = l.concurrency.as_ref().and_then(Value::as_u64);
    Ok(Event::Run(RunFacts {
        concurrency,
        model,
        prompt_tokens,
        completion_tokens,
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

/// For the differential fuzz target: how the fast scanner disagrees with [`parse_line`] on
/// `text`, or None when they agree. A line the scanner accepts must parse to the same event
/// (so no diagnostic); a line it hands back is the full parser's alone.
#[doc(hidden)]
pub fn fast_scanner_disagreement(text: &[u8]) -> Option<String> {
    let scanned = fast::scan_line(text).ok()?;
    let full = std::str::from_utf8(text)
        .map_err(|e| e.to_string())
        .and_then(|t| parse_line(t).map_err(|e| e.message));
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match (scanned, full) {
        (fast::Scanned::Run(_), Ok(full @ Event::Run(_))) => {
            let fast = fast::fast_event(text);
            (fast.as_ref() != Some(&full)).then(|| format!("run: fast {fast:?}, full {full:?}"))
        }
        (
            fast::Scanned::Rating {
                run_id,
                ts,
                tiebreak,
                quality,
                feedback,
            },
            Ok(Event::Rating(r)),
        ) => {
            let full_feedback = r.feedback.as_ref().map(|f| !f.trim().is_empty());
            (s(run_id) != r.run_id
                || ts != r.ts
                || tiebreak != r.tiebreak
                || quality != r.quality_score
                || feedback != full_feedback)
                .then(|| {
                    format!(
                        "rating: fast ({:?}, {ts}, {quality}, {feedback:?}), full {r:?}",
                        s(run_id)
                    )
                })
        }
        (fast::Scanned::Run(r), full) => Some(format!(
            "fast scanner read a run ({:?}), full parser: {full:?}",
            s(r.id)
        )),
        (fast::Scanned::Rating { run_id, .. }, full) => Some(format!(
            "fast scanner read a rating of {:?}, full parser: {full:?}",
            s(run_id)
        )),
    }
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
}
