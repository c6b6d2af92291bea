//! ptrack: track LLM prompts kept in git.
//!
//! Each prompt version is a file, `prompts/<name>/<version>.md` (front matter plus the
//! prompt text) or `.toml`; each execution of a prompt is one JSON line under `runs/`.
//! This library reads and validates those files, appends and aggregates runs, and is what
//! the `ptrack` command-line tool is built on. It never prints and never exits: it takes
//! paths and values and returns data.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! # std::fs::create_dir_all(dir.path().join("prompts/summarize")).unwrap();
//! # std::fs::write(dir.path().join("prompts/summarize/1.0.md"),
//! #     "---\ngoal: Summarize a text.\nmodel: llama3.1:8b\n---\nSummarize: {{ text }}\n").unwrap();
//! # std::fs::write(dir.path().join("prompts/summarize/1.1.md"),
//! #     "---\ngoal: Summarize a text in 3 bullets.\nmodel: llama3.1:8b\ntop_p: 0.9\n---\nThree bullets: {{ text }}\n").unwrap();
//! let project = ptrack::Project::discover(dir.path())?;
//! let registry = project.load_prompts();
//! for prompt in registry.prompts.values() {
//!     let latest = prompt.latest().expect("a listed prompt has a valid version");
//!     println!("{} {} {:?}", prompt.name, latest.version, latest.meta.goal);
//! }
//! let latest = registry.get("summarize").and_then(|p| p.latest()).unwrap();
//! assert_eq!(latest.version.as_str(), "1.1");
//! assert_eq!(latest.meta.params.top_p, Some(0.9));
//! # Ok::<(), ptrack::ProjectError>(())
//! ```

#![warn(missing_docs)]

pub mod alerts;
pub mod chart;
pub mod chat;
pub mod config;
pub mod create;
pub mod diagnostic;
pub mod diff;
pub mod eval;
pub mod experiment;
pub mod format;
#[cfg(feature = "git")]
pub mod git;
pub mod import;
pub mod json;
pub mod labels;
pub mod markdown;
pub mod metrics;
pub mod project;
pub mod prompt;
pub mod provider;
pub mod query;
pub mod record;
pub mod render;
pub mod report;
pub mod runlog;
pub mod safe_fs;
#[cfg(feature = "schema")]
pub mod schema;
#[cfg(feature = "serve")]
pub mod serve;
pub mod stats;
pub mod suggest;
pub mod templates;
pub mod trust;
pub mod version;

pub use config::{Config, ConfigError};
pub use diagnostic::{Diagnostic, Severity};
pub use project::{LookupError, Project, ProjectError, Prompt, Registry};
pub use prompt::{
    Params, PromptMeta, PromptVersion, Provider, SourceFormat, Variable, blob_sha, is_valid_name,
};
pub use version::{Version, VersionError};

/// Types from dependencies that appear in ptrack's public API, so a user of the crate need
/// not depend on them directly.
pub mod deps {
    pub use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
    #[cfg(feature = "git")]
    pub use git2::Oid;
    pub use serde_json::{Map, Value};
}
pub use deps::{DateTime, Utc};
