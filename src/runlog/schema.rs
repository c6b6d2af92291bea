//! The run log format, version 1: what one line holds and how values are written.
//!
//! A run log is `runs/<prompt>/<YYYY-MM>.jsonl`, one JSON object per line: a run
//! ([`RunRecord`], read back as [`RunFacts`]) or a rating given after the fact
//! ([`RatingEvent`], read back as [`Rating`]). This module is the bottom of the run-log layer:
//! it knows the fields, not the files.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

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

/// One execution of a prompt version, as written to a run log.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// Sampling parameters used (the version's, or what the caller gave, unknown keys kept).
    pub params: Map<String, Value>,
    /// The input variables.
    pub input: Map<String, Value>,
    /// The model's output.
    pub output: String,
    /// Wall time of the execution in milliseconds.
    #[serde(serialize_with = "ser_number")]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RatingEvent {
    /// Always `rating`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "schema", schemars(extend("const" = "rating")))]
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

fn ser_number<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    json_number(*x).serialize(s)
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
    /// The model that answered, when recorded.
    pub model: Option<String>,
    /// Prompt tokens, when the server reported them.
    pub prompt_tokens: Option<u64>,
    /// Completion tokens, when the server reported them.
    pub completion_tokens: Option<u64>,
    /// Requests in flight when it ran (`ptrack run --concurrency`), when recorded.
    pub concurrency: Option<u64>,
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
    /// Orders ratings given at the same `ts`, so the order of lines never decides
    /// ([`rating_tiebreak`]).
    pub tiebreak: u64,
}

/// What orders ratings of one run given at the same time: a hash of the rating's `id`, or of
/// its whole line when it has none. Every reader uses it, so a merge's direction or the order
/// of files never changes which rating counts.
pub fn rating_tiebreak(id: Option<&[u8]>, line: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    let key = match id {
        Some(id) if !id.is_empty() => id,
        _ => line,
    };
    foldhash::fast::FixedState::with_seed(0x7a7e).hash_one(key)
}

/// One valid line of a run log.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An execution.
    Run(RunFacts),
    /// A rating of an earlier execution.
    Rating(Rating),
    /// An eval batch (`{"type":"eval"}`): which versions and cases ran as pairs; its runs
    /// carry its id as `eval`.
    Eval(EvalRef),
}

/// An eval batch as readers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalRef {
    /// The batch id.
    pub id: String,
    /// When it ran.
    pub ts: DateTime<Utc>,
    /// The prompt evaluated.
    pub prompt: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runlog::parse_line;

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
            params: serde_json::json!({"temperature": 0.5})
                .as_object()
                .cloned()
                .unwrap_or_default(),
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
            r#"{"id":"0190","ts":"2026-11-02T10:15:30.100Z","prompt":"coach","version":"1.0","prompt_sha":"abc","commit":null,"model":"llama3.1:8b","params":{"temperature":0.5},"input":{},"output":"hi","execution_time_ms":12,"token_count":3,"output_length":2,"success":true,"error":null,"quality_score":8,"meta":{"user":"u1"}}"#
        );
        assert!(matches!(parse_line(&json), Ok(Event::Run(_))));
    }
}
