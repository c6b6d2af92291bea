//! The run-log layer: everything about `runs/`, in one direction.
//!
//! ```text
//! schema     what a line holds (RunRecord, RatingEvent, RunFacts, Event)
//!   ↑
//! parse      one line → Event, with the field and reason when it is bad (fast path inside)
//!   ↑
//! scan       which files, which runs (RunFilter), and the one fan-out over threads
//!   ↑
//! aggregate  one accumulator (MetricsBuilder, merged with +=), Metrics, RunSet
//!   ↑          (ratings and repeated ids resolved here, once)
//! compact    the small-memory aggregation behind `performance` and `list`
//!   ↑
//! cache      what was read of each log, kept in .ptrack/cache
//! ```
//!
//! `write` appends records; it depends on nothing above `schema`. Callers outside this layer
//! use [`crate::Project::runs`] and [`crate::Project::performance`], which choose the reader.

pub mod aggregate;
pub mod compact;
pub mod parse;
pub mod scan;
pub mod schema;
pub mod write;

pub use aggregate::{
    Metrics, MetricsBuilder, PromptMetrics, RunSet, TimeSummary, VersionMetrics, group_runs,
    performance,
};
pub use compact::cache;
pub use parse::{LineError, check_score, parse_event, parse_line};
pub use scan::{
    RunFilter, default_threads, log_files, scan, scan_bytes, scan_events, scan_lines_where,
    scan_reader,
};
pub use schema::{
    EvalRef, Event, FIELDS, FORMAT_VERSION, Rating, RatingEvent, RunFacts, RunRecord, format_ts,
    json_number, new_id, rating_tiebreak,
};
pub use write::{WriteError, append_line, append_lines, log_path, log_rel};
