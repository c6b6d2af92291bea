//! Recording runs: a [`RunDraft`] (what the caller knows about one execution) becomes a
//! complete [`RunRecord`] with id, time, version, blob, commit, model, params and output length
//! filled in, checked with the rules readers apply, and appended to its log.
//!
//! `record`, `run`, a server and the Python package all record through here, so a run written
//! by any of them reads back the same.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::project::Project;
use crate::prompt::PromptVersion;
use crate::runlog::{
    FIELDS, RatingEvent, RunRecord, WriteError, append_lines, check_score, log_path, log_rel,
    new_id,
};

/// What a caller knows about one execution; [`RunDraft::complete`] fills in the rest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunDraft {
    /// The run's id (default: a new UUIDv7 from its time).
    pub id: Option<String>,
    /// When it ran (default: now).
    pub ts: Option<DateTime<Utc>>,
    /// Blob id of the text that ran (default: the version file's).
    pub prompt_sha: Option<String>,
    /// The commit that ran (default: HEAD when the file is committed there unchanged).
    pub commit: Option<String>,
    /// The model that answered (default: the version's, else the project default).
    pub model: Option<String>,
    /// Sampling parameters used (default: the version's).
    pub params: Option<Map<String, Value>>,
    /// Input variables.
    pub input: Map<String, Value>,
    /// The model's output.
    pub output: String,
    /// Wall time in milliseconds (required).
    pub execution_time_ms: Option<f64>,
    /// Tokens used.
    pub token_count: Option<u64>,
    /// Output length in characters (default: counted from `output`).
    pub output_length: Option<u64>,
    /// Whether it succeeded (default: true unless `error` is set).
    pub success: Option<bool>,
    /// What went wrong.
    pub error: Option<String>,
    /// Quality score, 1 to 10.
    pub quality_score: Option<f64>,
    /// Feedback on the output.
    pub feedback: Option<String>,
    /// Fields ptrack does not know, kept in the order given.
    pub extra: Map<String, Value>,
}

/// Why a run was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A field is missing or has a value readers would reject.
    #[error("{message}")]
    Invalid {
        /// The field.
        field: Option<&'static str>,
        /// What is wrong.
        message: String,
    },
    /// The log could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> RecordError {
    RecordError::Invalid {
        field: Some(field),
        message: message.into(),
    }
}

impl RunDraft {
    /// A draft from a JSON object (a line of `record --stdin`, an HTTP body): the documented
    /// fields are checked for their types, `prompt` and `version` are left to the caller
    /// (they choose the version), and every other field is kept as given.
    pub fn from_json(obj: Map<String, Value>) -> Result<RunDraft, RecordError> {
        let mut d = RunDraft::default();
        let text = |k: &'static str, v: Value| -> Result<Option<String>, RecordError> {
            match v {
                Value::Null => Ok(None),
                Value::String(s) => Ok(Some(s)),
                other => Err(invalid(k, format!("{k} must be text, got {other}"))),
            }
        };
        let count = |k: &'static str, v: Value| -> Result<Option<u64>, RecordError> {
            match v {
                Value::Null => Ok(None),
                v => v
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| invalid(k, format!("{k} must be an integer ≥ 0, got {v}"))),
            }
        };
        let object =
            |k: &'static str, v: Value| -> Result<Option<Map<String, Value>>, RecordError> {
                match v {
                    Value::Null => Ok(None),
                    Value::Object(m) => Ok(Some(m)),
                    other => Err(invalid(k, format!("{k} must be an object, got {other}"))),
                }
            };
        for (k, v) in obj {
            match k.as_str() {
                "prompt" | "version" => {}
                "type" => match &v {
                    Value::Null => {}
                    Value::String(t) if t == "run" => {}
                    _ => {
                        return Err(invalid(
                            "type",
                            "a run line cannot be a rating (`type` must be `run` or absent)",
                        ));
                    }
                },
                "id" => match text("id", v)? {
                    Some(id) if id.is_empty() => return Err(invalid("id", "missing `id`")),
                    id => d.id = id,
                },
                "ts" => {
                    d.ts = match text("ts", v)? {
                        None => None,
                        Some(t) => Some(
                            DateTime::parse_from_rfc3339(&t)
                                .map_err(|_| {
                                    invalid(
                                        "ts",
                                        format!("ts must be an RFC 3339 time such as 2026-11-02T10:15:30.123Z, got {t:?}"),
                                    )
                                })?
                                .with_timezone(&Utc),
                        ),
                    }
                }
                "prompt_sha" => d.prompt_sha = text("prompt_sha", v)?,
                "commit" => d.commit = text("commit", v)?,
                "model" => d.model = text("model", v)?,
                "params" => d.params = object("params", v)?,
                "input" => d.input = object("input", v)?.unwrap_or_default(),
                "output" => d.output = text("output", v)?.unwrap_or_default(),
                "execution_time_ms" => {
                    d.execution_time_ms = match v {
                        Value::Null => None,
                        v => Some(v.as_f64().ok_or_else(|| {
                            invalid(
                                "execution_time_ms",
                                format!("execution_time_ms must be a number ≥ 0, got {v}"),
                            )
                        })?),
                    }
                }
                "token_count" => d.token_count = count("token_count", v)?,
                "output_length" => d.output_length = count("output_length", v)?,
                "success" => {
                    d.success = match v {
                        Value::Null => None,
                        Value::Bool(b) => Some(b),
                        other => {
                            return Err(invalid(
                                "success",
                                format!("success must be true or false, got {other}"),
                            ));
                        }
                    }
                }
                "error" => d.error = text("error", v)?,
                "quality_score" => {
                    d.quality_score = match &v {
                        Value::Null => None,
                        v => Some(check_score(v).map_err(|e| invalid("quality_score", e.message))?),
                    }
                }
                "feedback" => d.feedback = text("feedback", v)?,
                _ => {
                    d.extra.insert(k, v);
                }
            }
        }
        Ok(d)
    }

    /// The complete record of this run of `version`: what the draft leaves out is filled in
    /// (`default_model` when the version names no model, `commit` when the draft has none),
    /// and the result is checked as readers check a line.
    pub fn complete(
        self,
        version: &PromptVersion,
        default_model: Option<&str>,
        commit: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<RunRecord, RecordError> {
        let ts = self.ts.unwrap_or(now);
        let execution_time_ms = self
            .execution_time_ms
            .ok_or_else(|| invalid("execution_time_ms", "missing `execution_time_ms`"))?;
        if !(execution_time_ms.is_finite() && execution_time_ms >= 0.0) {
            return Err(invalid(
                "execution_time_ms",
                format!("execution_time_ms must be a number ≥ 0, got {execution_time_ms}"),
            ));
        }
        if let Some(q) = self.quality_score {
            check_score(&crate::runlog::json_number(q))
                .map_err(|e| invalid("quality_score", e.message))?;
        }
        let success = self.success.unwrap_or(self.error.is_none());
        if success && self.error.is_some() {
            return Err(invalid(
                "success",
                "success is true but error is set; a run that failed has success false",
            ));
        }
        let params = match self.params {
            Some(p) => p,
            None => match serde_json::to_value(&version.meta.params) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            },
        };
        // Unknown fields keep their order, but never shadow a documented one.
        let extra: Map<String, Value> = self
            .extra
            .into_iter()
            .filter(|(k, _)| !FIELDS.contains(&k.as_str()))
            .collect();
        Ok(RunRecord {
            id: self.id.unwrap_or_else(|| new_id(&ts)),
            ts,
            prompt: version.name.clone(),
            version: version.version.to_string(),
            prompt_sha: Some(self.prompt_sha.unwrap_or_else(|| version.blob_sha.clone())),
            commit: self.commit.or(commit),
            model: self
                .model
                .or_else(|| version.meta.model.clone())
                .or_else(|| default_model.map(str::to_string)),
            params,
            input: self.input,
            output_length: self
                .output_length
                .unwrap_or_else(|| self.output.chars().count() as u64),
            output: self.output,
            execution_time_ms,
            token_count: self.token_count,
            success,
            error: self.error,
            quality_score: self.quality_score,
            feedback: self.feedback,
            extra,
        })
    }
}

impl Project {
    /// HEAD's commit id when `version`'s file is committed there unchanged (what a run's
    /// `commit` holds); None outside git, or when the file is uncommitted or edited.
    pub fn commit_of(&self, version: &PromptVersion) -> Option<String> {
        #[cfg(feature = "git")]
        {
            crate::git::head_commit_if_unchanged(self.root(), &version.path, &version.blob_sha)
        }
        #[cfg(not(feature = "git"))]
        {
            let _ = version;
            None
        }
    }

    /// The log a record goes to: `runs/<prompt>/<YYYY-MM>.jsonl` by its time.
    pub fn log_of(&self, record: &RunRecord) -> PathBuf {
        log_path(&self.runs_dir(), &record.prompt, &record.ts)
    }

    /// The same log relative to the project root, as [`crate::runlog::append_line`] takes it.
    pub fn log_rel_of(&self, record: &RunRecord) -> PathBuf {
        log_rel(&record.prompt, &record.ts)
    }

    /// Where `record` went, relative to the project root.
    pub fn recorded(&self, record: &RunRecord) -> Recorded {
        Recorded {
            id: record.id.clone(),
            path: self.log_rel_of(record),
        }
    }

    /// Complete `draft` as a run of `version` and append it to its log; returns the record.
    pub fn record(
        &self,
        version: &PromptVersion,
        draft: RunDraft,
        now: DateTime<Utc>,
    ) -> Result<RunRecord, RecordError> {
        let commit = if draft.commit.is_none() {
            self.commit_of(version)
        } else {
            None
        };
        let record = draft.complete(
            version,
            self.config().defaults.model.as_deref(),
            commit,
            now,
        )?;
        crate::runlog::append_line(self.root(), &self.log_rel_of(&record), &record)?;
        Ok(record)
    }
}

/// Why a run object was not recorded by [`Project::record_object`].
#[derive(Debug, thiserror::Error)]
pub enum RecordObjectError {
    /// The object was rejected, as `record --stdin` rejects a line.
    #[error(transparent)]
    Rejected(#[from] RejectedRun),
    /// The log could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl Project {
    /// Record one run object exactly as `record --stdin` records a line (its `prompt`, its
    /// `version` or else the latest, experiment fields checked), in one locked append; returns
    /// where it went. The Python package records through here.
    pub fn record_object(
        &self,
        obj: Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<Recorded, RecordObjectError> {
        let registry = self.load_prompts();
        let mut recorder = Recorder::new(self);
        let id = recorder.add_tagged(&registry, &self.experiments(), obj, None, None, now)?;
        // Invariant: the recorder holds the run it just added.
        let recorded = recorder.recorded(&id).expect("the run just added");
        recorder.write()?;
        Ok(recorded)
    }
}

/// Where one recorded run went (the `record --json` model).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Recorded {
    /// The run's id.
    pub id: String,
    /// Its log, relative to the project root.
    pub path: PathBuf,
}

/// What a batch recorded (the `record --stdin --json` model).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BatchResult {
    /// Ids of the runs recorded, in input order.
    pub recorded: Vec<String>,
    /// Lines rejected.
    pub rejected: usize,
}

/// Why one object of a batch was not recorded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RejectedRun {
    /// The prompt or version does not exist.
    #[error(transparent)]
    Lookup(crate::project::LookupError),
    /// The object is not a valid run.
    #[error("{0}")]
    Invalid(String),
    /// Its `id` is already a run's, in the prompt's logs or earlier in the batch: readers would
    /// keep only the first.
    #[error("{}", match by {
        IdTaken::Logged { path, line } => format!("id \"{id}\" is already the id of the run at {}:{line}", path.display()),
        IdTaken::Batch { .. } => format!("id \"{id}\" was already given on an earlier line"),
    })]
    DuplicateId {
        /// The id.
        id: String,
        /// The run that has it.
        by: IdTaken,
    },
}

/// The run that already has an id.
#[derive(Debug, Clone, PartialEq)]
pub enum IdTaken {
    /// A run in the logs: the file (relative to the project root) and line.
    Logged {
        /// The log.
        path: PathBuf,
        /// Its line, from 1.
        line: usize,
    },
    /// A run of this batch, the `index`th added (from 0) to the [`Recorder`].
    Batch {
        /// Its position in the batch.
        index: usize,
    },
}

/// A JSON object from one line of text, or why the line is not one.
pub fn json_object(text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("expected a JSON object".to_string()),
        Err(e) => {
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg);
            Err(format!("invalid JSON: {msg}"))
        }
    }
}

/// Why a rating was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum RateError {
    /// No run has this id (or a prefix of at least 4 characters of one).
    #[error("no run with id {0}")]
    NoRun(String),
    /// The prefix fits several runs.
    #[error("{id} matches {runs} runs: {}{}", candidates.join(", "), if *runs > candidates.len() { ", …" } else { "" })]
    Ambiguous {
        /// The prefix given.
        id: String,
        /// How many runs it fits.
        runs: usize,
        /// The first few of them, each as its shortest unique prefix.
        candidates: Vec<String>,
    },
    /// The score is out of range.
    #[error("{0}")]
    Invalid(String),
    /// The log could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// The shortest prefix length (at least [`MIN_ID_PREFIX`]) that tells `id` apart from every
/// other id in `sorted` (sorted, deduplicated), as git and jj shorten commit ids.
pub fn unique_prefix_len(sorted: &[String], id: &str) -> usize {
    let common = |other: &str| {
        id.bytes()
            .zip(other.bytes())
            .take_while(|(a, b)| a == b)
            .count()
    };
    let i = sorted.partition_point(|x| x.as_str() < id);
    let before = i.checked_sub(1).map_or(0, |j| common(&sorted[j]));
    let after_at = if sorted.get(i).is_some_and(|x| x == id) {
        i + 1
    } else {
        i
    };
    let after = sorted.get(after_at).map_or(0, |x| common(x));
    (before.max(after) + 1).max(MIN_ID_PREFIX).min(id.len())
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The fewest characters of a run id that `rate` accepts as a prefix.
pub const MIN_ID_PREFIX: usize = 4;

impl Project {
    /// Call `f` with every run in the project's logs (ratings and bad lines skipped).
    fn each_run(&self, mut f: impl FnMut(crate::runlog::RunFacts)) {
        crate::runlog::scan(
            &self.runs_dir(),
            std::path::Path::new("runs"),
            &crate::runlog::RunFilter::default(),
            |_, _, _, ev| {
                if let crate::runlog::Event::Run(r) = ev {
                    f(r);
                }
            },
        );
    }

    /// The run ids in `prompt`'s logs, each with the file (relative to the project root) and
    /// line of its first run.
    fn logged_ids(&self, prompt: &str) -> HashMap<String, (PathBuf, usize)> {
        let mut ids = HashMap::new();
        let filter = crate::runlog::RunFilter {
            prompt: Some(prompt.to_string()),
            ..crate::runlog::RunFilter::default()
        };
        crate::runlog::scan(
            &self.runs_dir(),
            std::path::Path::new("runs"),
            &filter,
            |shown, line, _, ev| {
                if let crate::runlog::Event::Run(r) = ev {
                    ids.entry(r.id)
                        .or_insert_with(|| (shown.to_path_buf(), line));
                }
            },
        );
        ids
    }

    /// Every run id in the project's logs, sorted and deduplicated.
    pub fn run_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        self.each_run(|r| ids.push(r.id));
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Each of `ids` as its shortest prefix that is unique among the project's run ids: what
    /// to show a person, and what `rate` accepts.
    pub fn short_ids(&self, ids: &[&str]) -> Vec<String> {
        let all = self.run_ids();
        ids.iter()
            .map(|id| id[..floor_char_boundary(id, unique_prefix_len(&all, id))].to_string())
            .collect()
    }

    /// Rate run `run_id` (its id, or a unique prefix of at least 4 characters) with `quality`
    /// (1 to 10): appends a rating event beside the run's other events; the latest rating wins.
    pub fn rate(
        &self,
        run_id: &str,
        quality: f64,
        feedback: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<RatingEvent, RateError> {
        let quality = check_score(&crate::runlog::json_number(quality))
            .map_err(|e| RateError::Invalid(e.message))?;
        let mut matches: Vec<(String, String)> = Vec::new();
        let mut exact: Option<(String, String)> = None;
        self.each_run(|r| {
            if r.id == run_id {
                exact = Some((r.id, r.prompt));
            } else if r.id.starts_with(run_id) && !matches.iter().any(|(id, _)| *id == r.id) {
                matches.push((r.id, r.prompt));
            }
        });
        // An exact id wins; a prefix must be unique and at least 4 characters.
        if let Some(e) = exact {
            matches = vec![e];
        } else if run_id.len() < MIN_ID_PREFIX {
            matches.clear();
        }
        let (run_id, prompt) = match matches.len() {
            1 => matches.remove(0),
            0 => return Err(RateError::NoRun(run_id.to_string())),
            n => {
                matches.sort();
                let shown: Vec<&str> = matches.iter().take(5).map(|(id, _)| id.as_str()).collect();
                return Err(RateError::Ambiguous {
                    id: run_id.to_string(),
                    runs: n,
                    candidates: self.short_ids(&shown),
                });
            }
        };
        let event = RatingEvent {
            kind: "rating",
            id: new_id(&now),
            ts: now,
            run_id,
            prompt,
            quality_score: quality,
            feedback,
        };
        let rel = log_rel(&event.prompt, &now);
        crate::runlog::append_line(self.root(), &rel, &event)?;
        Ok(event)
    }
}

/// Records many runs: looks each version's commit up once, and writes each log in one locked
/// append (`record --stdin`, batches from a server).
pub struct Recorder<'p> {
    project: &'p Project,
    commits: HashMap<String, Option<String>>,
    pending: BTreeMap<PathBuf, Vec<RunRecord>>,
    /// The ids of `pending` and the order they came in, so a repeated one is found in
    /// constant time.
    ids: HashMap<String, usize>,
    /// The run ids already in each prompt's logs (read when a run of it first brings its own
    /// id), with where the first run of each is logged.
    logged: HashMap<String, HashMap<String, (PathBuf, usize)>>,
}

impl<'p> Recorder<'p> {
    /// A recorder for `project`.
    pub fn new(project: &'p Project) -> Recorder<'p> {
        Recorder {
            project,
            commits: HashMap::new(),
            pending: BTreeMap::new(),
            ids: HashMap::new(),
            logged: HashMap::new(),
        }
    }

    /// Complete `draft` as a run of `version`, to be written by [`Recorder::write`].
    pub fn add(
        &mut self,
        version: &PromptVersion,
        draft: RunDraft,
        now: DateTime<Utc>,
    ) -> Result<&RunRecord, RecordError> {
        if let Some(id) = &draft.id
            && let Some(taken) = self.taken(&version.name, id)
        {
            return Err(invalid("id", taken.to_string()));
        }
        self.add_unchecked(version, draft, now)
    }

    /// [`Recorder::add`] for a draft whose id was checked.
    fn add_unchecked(
        &mut self,
        version: &PromptVersion,
        draft: RunDraft,
        now: DateTime<Utc>,
    ) -> Result<&RunRecord, RecordError> {
        let project = self.project;
        let commit = self
            .commits
            // The commit depends on the file's path as well as its bytes.
            .entry(format!("{}\0{}", version.path.display(), version.blob_sha))
            .or_insert_with(|| project.commit_of(version))
            .clone();
        let record = draft.complete(
            version,
            project.config().defaults.model.as_deref(),
            commit,
            now,
        )?;
        self.ids.insert(record.id.clone(), self.ids.len());
        let list = self.pending.entry(project.log_rel_of(&record)).or_default();
        list.push(record);
        Ok(list.last().expect("just pushed"))
    }

    /// Complete one JSON object (a `record --stdin` line, an HTTP body) as a run: its `prompt`
    /// and `version` (else `default_prompt`, `default_version`; the latest version when neither
    /// names one) choose the version. Returns the new run's id, or why the object was rejected.
    pub fn add_json(
        &mut self,
        registry: &crate::project::Registry,
        obj: Map<String, Value>,
        default_prompt: Option<&str>,
        default_version: Option<&crate::version::Version>,
        now: DateTime<Utc>,
    ) -> Result<String, RejectedRun> {
        let name = match obj.get("prompt") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(RejectedRun::Invalid(format!(
                    "prompt must be a name, got {other}"
                )));
            }
            None => default_prompt
                .map(str::to_string)
                .ok_or_else(|| RejectedRun::Invalid("missing `prompt`".to_string()))?,
        };
        let version = match obj.get("version") {
            Some(Value::String(s)) => Some(
                s.parse::<crate::version::Version>()
                    .map_err(|e| RejectedRun::Invalid(e.to_string()))?,
            ),
            Some(Value::Null) | None => default_version.cloned(),
            Some(other) => {
                return Err(RejectedRun::Invalid(format!(
                    "version must be text such as \"1.0\", got {other}"
                )));
            }
        };
        let version = registry
            .resolve(&name, version.as_ref())
            .map_err(RejectedRun::Lookup)?;
        let draft = RunDraft::from_json(obj).map_err(|e| RejectedRun::Invalid(e.to_string()))?;
        if let Some(id) = &draft.id
            && let Some(taken) = self.taken(&version.name, id)
        {
            return Err(taken);
        }
        let record = self
            .add_unchecked(version, draft, now)
            .map_err(|e| RejectedRun::Invalid(e.to_string()))?;
        Ok(record.id.clone())
    }

    /// One run object as `record --stdin` takes it: [`crate::experiment::tag_run`] checks and
    /// completes its experiment fields, then [`Recorder::add_json`] adds it.
    pub fn add_tagged(
        &mut self,
        registry: &crate::project::Registry,
        experiments: &crate::experiment::Experiments,
        mut obj: Map<String, Value>,
        default_prompt: Option<&str>,
        default_version: Option<&crate::version::Version>,
        now: DateTime<Utc>,
    ) -> Result<String, RejectedRun> {
        crate::experiment::tag_run(experiments, &mut obj, default_prompt)
            .map_err(RejectedRun::Invalid)?;
        self.add_json(registry, obj, default_prompt, default_version, now)
    }

    /// Where the run with this id, waiting to be written, will go (the `record --json` model).
    pub fn recorded(&self, id: &str) -> Option<Recorded> {
        self.pending.iter().find_map(|(path, records)| {
            records.iter().any(|r| r.id == id).then(|| Recorded {
                id: id.to_string(),
                path: path.clone(),
            })
        })
    }

    /// Whether a run with this id is waiting to be written.
    pub fn has_id(&self, id: &str) -> bool {
        self.ids.contains_key(id)
    }

    /// Why a new run of `prompt` cannot have `id`: a run waiting to be written has it, or one
    /// in the prompt's logs does.
    fn taken(&mut self, prompt: &str, id: &str) -> Option<RejectedRun> {
        if let Some(&index) = self.ids.get(id) {
            return Some(RejectedRun::DuplicateId {
                id: id.to_string(),
                by: IdTaken::Batch { index },
            });
        }
        if !self.logged.contains_key(prompt) {
            let ids = self.project.logged_ids(prompt);
            self.logged.insert(prompt.to_string(), ids);
        }
        let (path, line) = self.logged.get(prompt)?.get(id)?;
        Some(RejectedRun::DuplicateId {
            id: id.to_string(),
            by: IdTaken::Logged {
                path: path.clone(),
                line: *line,
            },
        })
    }

    /// Append every completed run, one locked write per log.
    pub fn write(self) -> Result<usize, WriteError> {
        let mut n = 0;
        for (path, records) in &self.pending {
            append_lines(self.project.root(), path, records)?;
            n += records.len();
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_prefix_is_one_past_the_longest_common_prefix_with_a_neighbour() {
        let ids: Vec<String> = ["0123aaaa", "0123aaab", "0123b000", "9fff0000"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(unique_prefix_len(&ids, "0123aaaa"), 8);
        assert_eq!(unique_prefix_len(&ids, "0123aaab"), 8);
        assert_eq!(unique_prefix_len(&ids, "0123b000"), 5);
        // Never shorter than what `rate` accepts, never longer than the id.
        assert_eq!(unique_prefix_len(&ids, "9fff0000"), MIN_ID_PREFIX);
        assert_eq!(unique_prefix_len(&ids, "01"), 2);
        // An id not in the list is told apart from its neighbours too.
        assert_eq!(unique_prefix_len(&ids, "0123ab00"), 6);
    }
    use crate::runlog::{Event, parse_line};

    fn version() -> PromptVersion {
        crate::prompt::test_version(
            "p",
            "1.0",
            "---\ngoal: g\nmodel: m\ntemperature: 0.5\n---\nHi {{ who }}\n",
        )
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn a_draft_is_completed_in_format_order_and_reads_back() {
        let draft = RunDraft::from_json(
            serde_json::json!({"zeta": 1, "execution_time_ms": 840, "output": "héllo", "alpha": [2]})
                .as_object()
                .cloned()
                .expect("object"),
        )
        .expect("valid");
        let rec = draft
            .complete(&version(), None, None, now())
            .expect("complete");
        let line = serde_json::to_string(&rec).expect("json");
        let keys: Vec<String> = serde_json::from_str::<Map<String, Value>>(&line)
            .expect("object")
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            keys,
            [
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
                "zeta",
                "alpha"
            ]
        );
        assert!(
            line.contains(r#""ts":"2026-11-24T12:00:00.000Z""#),
            "{line}"
        );
        assert!(line.contains(r#""execution_time_ms":840,"#), "{line}");
        assert!(line.contains(r#""params":{"temperature":0.5}"#), "{line}");
        assert!(
            line.contains(r#""output_length":5,"#),
            "characters, not bytes: {line}"
        );
        let Ok(Event::Run(r)) = parse_line(&line) else {
            panic!("readers accept it: {line}")
        };
        assert!(r.success);
        assert_eq!(rec.model.as_deref(), Some("m"));
    }

    #[test]
    fn bad_fields_are_named_and_nothing_is_completed() {
        let bad = |v: Value| {
            RunDraft::from_json(v.as_object().cloned().expect("object"))
                .and_then(|d| d.complete(&version(), None, None, now()))
                .expect_err("invalid")
        };
        let field = |e: RecordError| match e {
            RecordError::Invalid { field, .. } => field,
            RecordError::Write(_) => None,
        };
        assert_eq!(
            field(bad(serde_json::json!({"output": "x"}))),
            Some("execution_time_ms")
        );
        assert_eq!(
            field(bad(serde_json::json!({"execution_time_ms": -1}))),
            Some("execution_time_ms")
        );
        assert_eq!(
            field(bad(
                serde_json::json!({"execution_time_ms": 1, "quality_score": 11})
            )),
            Some("quality_score")
        );
        assert_eq!(
            field(bad(
                serde_json::json!({"execution_time_ms": 1, "token_count": 1.5})
            )),
            Some("token_count")
        );
        assert_eq!(
            field(bad(
                serde_json::json!({"execution_time_ms": 1, "ts": "yesterday"})
            )),
            Some("ts")
        );
        assert_eq!(
            field(bad(
                serde_json::json!({"execution_time_ms": 1, "success": true, "error": "x"})
            )),
            Some("success")
        );
        assert_eq!(
            field(bad(
                serde_json::json!({"execution_time_ms": 1, "type": "rating"})
            )),
            Some("type")
        );
    }

    #[test]
    fn a_run_object_is_recorded_as_a_stdin_line_is() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("prompts/p/1.0.md");
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(&file, "---\ngoal: g\nmodel: m\n---\nHi\n").expect("write");
        let project = Project::open(dir.path()).expect("project");
        let obj = |v: Value| v.as_object().cloned().expect("object");
        let got = project
            .record_object(
                obj(serde_json::json!({"prompt": "p", "execution_time_ms": 5, "id": "r1"})),
                now(),
            )
            .expect("recorded");
        assert_eq!(got.id, "r1");
        assert_eq!(got.path, PathBuf::from("runs/p/2026-11.jsonl"));
        let text = std::fs::read_to_string(dir.path().join(&got.path)).expect("log");
        assert_eq!(text.lines().count(), 1);
        let message = |v: Value| match project.record_object(obj(v), now()) {
            Err(e) => e.to_string(),
            Ok(r) => panic!("recorded {r:?}"),
        };
        assert_eq!(
            message(
                serde_json::json!({"prompt": "p", "execution_time_ms": 5, "quality_score": 11})
            ),
            "quality_score must be a number from 1 to 10, got 11"
        );
        assert_eq!(
            message(serde_json::json!({"prompt": "p", "execution_time_ms": 5, "unit": "u"})),
            "`unit` needs `experiment`, the experiment it belongs to"
        );
        assert_eq!(
            message(serde_json::json!({"prompt": "p", "execution_time_ms": 5, "id": "r1"})),
            "id \"r1\" is already the id of the run at runs/p/2026-11.jsonl:1"
        );
        assert_eq!(
            message(serde_json::json!({"prompt": "q", "execution_time_ms": 5})),
            "no prompt named `q`"
        );
        let text = std::fs::read_to_string(dir.path().join(&got.path)).expect("log");
        assert_eq!(text.lines().count(), 1, "nothing rejected was written");
    }

    #[test]
    fn a_recorder_refuses_an_id_of_its_batch_or_of_the_prompts_logs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("prompts/p/1.0.md");
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(&file, "---\ngoal: g\nmodel: m\n---\nHi\n").expect("write");
        let project = Project::open(dir.path()).expect("project");
        let registry = project.load_prompts();
        let draft = |id: &str| RunDraft {
            id: Some(id.to_string()),
            execution_time_ms: Some(1.0),
            ..RunDraft::default()
        };
        let v = registry.resolve("p", None).expect("p");
        let mut first = Recorder::new(&project);
        first.add(v, draft("a"), now()).expect("new id");
        first.add(v, draft("b"), now()).expect("new id");
        let Err(RecordError::Invalid { field, message }) = first.add(v, draft("a"), now()) else {
            panic!("a repeated id is refused")
        };
        assert_eq!(field, Some("id"));
        assert_eq!(message, "id \"a\" was already given on an earlier line");
        assert_eq!(first.write().expect("write"), 2);
        let mut next = Recorder::new(&project);
        let obj = |id: &str| {
            serde_json::json!({"id": id, "execution_time_ms": 1})
                .as_object()
                .cloned()
                .expect("object")
        };
        assert_eq!(
            next.add_json(&registry, obj("b"), Some("p"), None, now()),
            Err(RejectedRun::DuplicateId {
                id: "b".into(),
                by: IdTaken::Logged {
                    path: PathBuf::from("runs/p/2026-11.jsonl"),
                    line: 2
                }
            })
        );
        assert_eq!(
            next.add_json(&registry, obj("c"), Some("p"), None, now()),
            Ok("c".to_string())
        );
        assert_eq!(
            next.add_json(&registry, obj("c"), Some("p"), None, now()),
            Err(RejectedRun::DuplicateId {
                id: "c".into(),
                by: IdTaken::Batch { index: 0 }
            })
        );
    }
}
