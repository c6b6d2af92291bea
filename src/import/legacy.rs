//! `import legacy`: the older tool's `data/` folder made into ptrack files.
//!
//! `prompt_registry.json` holds prompt definitions (a list, a map by name, or a map by name
//! then version); each becomes `prompts/<name>/<version>.md` with its `str.format`
//! placeholders converted to Jinja. `prompt_performance.json` holds execution logs; each
//! becomes a run with its original time and an id derived from its content, so importing
//! twice adds nothing. `prompt_metrics.json` is a cache and is ignored. Entries that cannot be
//! imported are listed with the reason, and the rest are imported.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::project::Project;
use crate::prompt::{PromptVersion, is_valid_name, parse_prompt_file};
use crate::record::RunDraft;
use crate::runlog::RunRecord;
use crate::version::Version;

use super::placeholders;

/// The registry file, in the data folder.
pub const REGISTRY: &str = "prompt_registry.json";
/// The execution log file.
pub const PERFORMANCE: &str = "prompt_performance.json";
/// The metrics cache (ignored).
pub const METRICS: &str = "prompt_metrics.json";

/// Why nothing was imported.
#[derive(Debug, thiserror::Error)]
pub enum LegacyError {
    /// The data folder has no registry.
    #[error("{0}: no {REGISTRY} here (is this the older tool's data folder?)")]
    NoRegistry(PathBuf),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file, as shown.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file is not JSON.
    #[error("{path}:{line}: invalid JSON: {message}")]
    Json {
        /// The file, as shown.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A version file or log could not be written.
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file, relative to the project root.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// What happened to one version file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    /// Written now.
    Written,
    /// Would be written (`--dry-run`).
    Planned,
    /// The file exists with this content already.
    Unchanged,
    /// The file exists with other content (edited since, or written by hand); it is kept,
    /// and runs of the version are imported against it.
    Kept,
}

/// One registry entry made into a version file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ImportedVersion {
    /// The prompt.
    pub prompt: String,
    /// The version.
    pub version: String,
    /// The file, relative to the project root.
    pub path: PathBuf,
    /// Where it came from, e.g. `prompt_registry.json entry 2`.
    pub source: String,
    /// What happened to the file.
    pub status: VersionStatus,
    /// Each change made to the text: `{task_context} → {{ task_context }}`.
    pub conversions: Vec<String>,
    /// Other things worth knowing: a renamed prompt, fields not kept.
    pub notes: Vec<String>,
}

/// An entry that was not imported.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Skipped {
    /// Which entry, e.g. `prompt_performance.json entry 4`.
    pub source: String,
    /// Why.
    pub reason: String,
}

/// Runs appended to one log.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LogAppend {
    /// The log, relative to the project root.
    pub path: PathBuf,
    /// How many runs (were or would be) appended.
    pub runs: usize,
}

/// What `import legacy` did, or would do with `--dry-run` (the `import legacy --json` model).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LegacyImport {
    /// The data folder, as given.
    pub data_dir: PathBuf,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// One per registry entry imported.
    pub versions: Vec<ImportedVersion>,
    /// Runs appended, by log.
    pub logs: Vec<LogAppend>,
    /// Runs appended in all.
    pub runs_added: usize,
    /// Executions already imported (their id is in the logs).
    pub runs_already: usize,
    /// Entries not imported, with the reason.
    pub skipped: Vec<Skipped>,
    /// Files of the data folder not read, and why.
    pub ignored: Vec<String>,
    /// Notes about the whole import (e.g. times without a zone read as UTC).
    pub notes: Vec<String>,
}

/// The first value among `keys` in `m` that is not null.
fn pick<'a>(m: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().filter_map(|k| m.get(*k)).find(|v| !v.is_null())
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

const TEXT_KEYS: &[&str] = &["prompt_text", "prompt", "text", "template", "content"];
const NAME_KEYS: &[&str] = &["name", "prompt_name"];
const VERSION_KEYS: &[&str] = &["version", "prompt_version"];

/// Whether an object is one registry entry (rather than a map of versions).
fn is_entry(m: &Map<String, Value>) -> bool {
    TEXT_KEYS
        .iter()
        .chain(VERSION_KEYS)
        .chain(&["goal", "model", "temperature"])
        .any(|k| m.get(*k).is_some_and(|v| !v.is_object()))
}

/// A prompt name as ptrack spells it: lower case, blanks and dots as `_`.
pub(crate) fn normalize_name(raw: &str) -> String {
    raw.trim()
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_whitespace() || c == '.' {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// A version as ptrack spells it: `v1.2` → `1.2`, `3` → `3.0`.
fn normalize_version(raw: &str) -> String {
    let t = raw.trim();
    let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        format!("{t}.0")
    } else {
        t.to_string()
    }
}

/// Registry entries with the name and version their position gives (map keys).
type Located = (String, Map<String, Value>, Option<String>, Option<String>);

/// The entries of the registry, however it is shaped, with skips for what is not an entry.
fn registry_entries(root: Value) -> Vec<Result<Located, Skipped>> {
    let mut out = Vec::new();
    let root = match root {
        Value::Object(mut m) if m.len() == 1 && m.contains_key("prompts") => {
            m.remove("prompts").unwrap_or(Value::Null)
        }
        other => other,
    };
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("{REGISTRY} entry {n}")
    };
    match root {
        Value::Array(items) => {
            for item in items {
                let label = next();
                match item {
                    Value::Object(m) => out.push(Ok((label, m, None, None))),
                    other => out.push(Err(Skipped {
                        source: label,
                        reason: format!("not an object but {}", kind(&other)),
                    })),
                }
            }
        }
        Value::Object(by_name) => {
            for (name, v) in by_name {
                match v {
                    Value::Object(m) if is_entry(&m) => {
                        out.push(Ok((format!("{REGISTRY} \"{name}\""), m, Some(name), None)))
                    }
                    Value::Object(by_version) => {
                        for (version, e) in by_version {
                            let label = format!("{REGISTRY} \"{name}\" \"{version}\"");
                            match e {
                                Value::Object(m) => {
                                    out.push(Ok((label, m, Some(name.clone()), Some(version))))
                                }
                                other => out.push(Err(Skipped {
                                    source: label,
                                    reason: format!("not an object but {}", kind(&other)),
                                })),
                            }
                        }
                    }
                    Value::Array(items) => {
                        for (i, e) in items.into_iter().enumerate() {
                            let label = format!("{REGISTRY} \"{name}\" entry {}", i + 1);
                            match e {
                                Value::Object(m) => {
                                    out.push(Ok((label, m, Some(name.clone()), None)))
                                }
                                other => out.push(Err(Skipped {
                                    source: label,
                                    reason: format!("not an object but {}", kind(&other)),
                                })),
                            }
                        }
                    }
                    other => out.push(Err(Skipped {
                        source: format!("{REGISTRY} \"{name}\""),
                        reason: format!("not an object but {}", kind(&other)),
                    })),
                }
            }
        }
        other => out.push(Err(Skipped {
            source: REGISTRY.to_string(),
            reason: format!(
                "expected a list of prompts or an object keyed by name, got {}",
                kind(&other)
            ),
        })),
    }
    out
}

/// The executions of the performance log: a list, `{"executions": […]}`, or a map by prompt name.
fn performance_entries(root: Value) -> Vec<Result<Located, Skipped>> {
    let mut out = Vec::new();
    let root = match root {
        Value::Object(mut m)
            if m.len() == 1 && m.keys().any(|k| k == "executions" || k == "logs") =>
        {
            m.remove("executions")
                .or_else(|| m.remove("logs"))
                .unwrap_or(Value::Null)
        }
        other => other,
    };
    let mut push = |label: String, v: Value, name: Option<String>| match v {
        Value::Object(m) => out.push(Ok((label, m, name, None))),
        other => out.push(Err(Skipped {
            source: label,
            reason: format!("not an object but {}", kind(&other)),
        })),
    };
    match root {
        Value::Array(items) => {
            for (i, v) in items.into_iter().enumerate() {
                push(format!("{PERFORMANCE} entry {}", i + 1), v, None);
            }
        }
        Value::Object(by_name) => {
            for (name, v) in by_name {
                match v {
                    Value::Array(items) => {
                        for (i, v) in items.into_iter().enumerate() {
                            push(
                                format!("{PERFORMANCE} \"{name}\" entry {}", i + 1),
                                v,
                                Some(name.clone()),
                            );
                        }
                    }
                    other => push(format!("{PERFORMANCE} \"{name}\""), other, Some(name)),
                }
            }
        }
        Value::Null => {}
        other => push_err(
            &mut out,
            PERFORMANCE.to_string(),
            format!("expected a list of executions, got {}", kind(&other)),
        ),
    }
    out
}

fn push_err(out: &mut Vec<Result<Located, Skipped>>, source: String, reason: String) {
    out.push(Err(Skipped { source, reason }));
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A time as the older tool wrote it: RFC 3339, ISO 8601 without a zone (read as UTC; sets
/// `naive`), `YYYY-MM-DD HH:MM:SS`, or a Unix time in seconds or milliseconds.
fn parse_time(v: &Value, naive: &mut bool) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => {
            let s = s.trim();
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Some(t.with_timezone(&Utc));
            }
            for f in [
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%dT%H:%M",
                "%Y-%m-%d %H:%M",
            ] {
                if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
                    *naive = true;
                    return Some(Utc.from_utc_datetime(&t));
                }
            }
            if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                *naive = true;
                return d.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t));
            }
            None
        }
        Value::Number(n) => {
            let x = n.as_f64()?;
            if !x.is_finite() || x < 0.0 {
                return None;
            }
            // Seconds until the year 5138; milliseconds after.
            let ms = if x > 1e11 { x } else { x * 1000.0 };
            Utc.timestamp_millis_opt(ms as i64).single()
        }
        _ => None,
    }
}

/// A run id derived from `seed`: a UUIDv7 with the run's time, the rest from a hash.
fn derived_id(ts: &DateTime<Utc>, seed: &str) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(seed.as_bytes());
    let mut rand = [0u8; 10];
    rand.copy_from_slice(&hash[..10]);
    let ms = u64::try_from(ts.timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(ms, &rand)
        .into_uuid()
        .to_string()
}

/// A version file planned from a registry entry.
struct Plan {
    report: ImportedVersion,
    /// The file's bytes, when it is to be written.
    bytes: Option<Vec<u8>>,
    version: PromptVersion,
}

fn read_json(path: &Path, shown: &Path) -> Result<Option<Value>, LegacyError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(LegacyError::Read {
                path: shown.to_path_buf(),
                source,
            });
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if text.trim().is_empty() {
        return Ok(Some(Value::Null));
    }
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| LegacyError::Json {
            path: shown.to_path_buf(),
            line: e.line(),
            message: e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or("")
                .to_string(),
        })
}

/// Import the data folder `data_dir` (shown as `shown`) into `project`; with `dry_run`,
/// only say what would be done.
pub fn import_legacy(
    project: &Project,
    data_dir: &Path,
    shown: &Path,
    dry_run: bool,
    now: DateTime<Utc>,
) -> Result<LegacyImport, LegacyError> {
    let mut skipped = Vec::new();
    let mut notes = Vec::new();
    let mut ignored = Vec::new();
    let registry_json = read_json(&data_dir.join(REGISTRY), &shown.join(REGISTRY))?
        .ok_or_else(|| LegacyError::NoRegistry(shown.to_path_buf()))?;
    let perf_json = read_json(&data_dir.join(PERFORMANCE), &shown.join(PERFORMANCE))?;
    if perf_json.is_none() {
        ignored.push(format!("{PERFORMANCE}: not found, so no runs to import"));
    }
    if data_dir.join(METRICS).exists() {
        ignored.push(format!(
            "{METRICS}: a cache of figures ptrack computes from the runs"
        ));
    }
    let registry = project.load_prompts();
    let mut naive = false;

    // Versions.
    let mut plans: Vec<Plan> = Vec::new();
    let mut by_key: HashMap<(String, String), usize> = HashMap::new();
    for located in registry_entries(registry_json) {
        let (label, entry, key_name, key_version) = match located {
            Ok(l) => l,
            Err(s) => {
                skipped.push(s);
                continue;
            }
        };
        match plan_version(
            project,
            &registry,
            &label,
            &entry,
            key_name,
            key_version,
            &mut naive,
        ) {
            Ok(plan) => {
                let key = (plan.report.prompt.clone(), plan.version.version.to_string());
                if let Some(&first) = by_key.get(&key) {
                    skipped.push(Skipped {
                        source: label,
                        reason: format!(
                            "{} {} is also {}; the first one is imported",
                            key.0, key.1, plans[first].report.source
                        ),
                    });
                    continue;
                }
                by_key.insert(key, plans.len());
                plans.push(plan);
            }
            Err(reason) => skipped.push(Skipped {
                source: label,
                reason,
            }),
        }
    }

    // Runs.
    let known_ids: HashSet<String> = project.run_ids().into_iter().collect();
    let mut seen_seeds: HashMap<String, usize> = HashMap::new();
    let mut pending: BTreeMap<PathBuf, Vec<RunRecord>> = BTreeMap::new();
    let mut runs_already = 0;
    let entries = perf_json.map(performance_entries).unwrap_or_default();
    for located in entries {
        let (label, entry, key_name, _) = match located {
            Ok(l) => l,
            Err(s) => {
                skipped.push(s);
                continue;
            }
        };
        let raw_name = pick(&entry, &["prompt_name", "prompt", "name"])
            .and_then(text_of)
            .or(key_name);
        let Some(raw_name) = raw_name else {
            skipped.push(Skipped {
                source: label,
                reason: "names no prompt (`prompt_name`)".to_string(),
            });
            continue;
        };
        let name = normalize_name(&raw_name);
        let Some(raw_version) = pick(&entry, &["prompt_version", "version"]).and_then(text_of)
        else {
            skipped.push(Skipped {
                source: label,
                reason: format!("names no version of `{name}` (`prompt_version`)"),
            });
            continue;
        };
        let version_text = normalize_version(&raw_version);
        let version: Option<&PromptVersion> = by_key
            .get(&(name.clone(), version_text.clone()))
            .map(|&i| &plans[i].version)
            .or_else(|| {
                let v: Version = version_text.parse().ok()?;
                registry.resolve(&name, Some(&v)).ok()
            });
        let Some(version) = version else {
            skipped.push(Skipped {
                source: label,
                reason: format!(
                    "{name} {version_text} is neither in {REGISTRY} nor in the project"
                ),
            });
            continue;
        };
        let seed = format!(
            "{name}\0{version_text}\0{}",
            serde_json::to_string(&entry).unwrap_or_default()
        );
        let n = seen_seeds.entry(seed.clone()).or_insert(0);
        *n += 1;
        let seed = format!("{seed}\0{n}");
        match run_record(project, version, &entry, &seed, &mut naive, now) {
            Ok(record) => {
                if known_ids.contains(&record.id) {
                    runs_already += 1;
                } else {
                    pending
                        .entry(project.log_rel_of(&record))
                        .or_default()
                        .push(record);
                }
            }
            Err(reason) => skipped.push(Skipped {
                source: label,
                reason,
            }),
        }
    }
    if naive {
        notes.push("times without a time zone were read as UTC".to_string());
    }

    // Write: version files first (each whole, through a new file and a rename), then runs.
    if !dry_run {
        for plan in &mut plans {
            if let Some(bytes) = &plan.bytes {
                let rel = &plan.report.path;
                let dir = rel.parent().unwrap_or(Path::new("prompts"));
                crate::safe_fs::create_dirs_inside(project.root(), dir, true)
                    .and_then(|_| crate::safe_fs::replace_inside(project.root(), rel, bytes))
                    .map_err(|e| LegacyError::Write {
                        path: rel.clone(),
                        message: e.to_string(),
                    })?;
                plan.report.status = VersionStatus::Written;
            }
        }
        for (rel, records) in &pending {
            crate::runlog::append_lines(project.root(), rel, records).map_err(|e| {
                LegacyError::Write {
                    path: rel.clone(),
                    message: e.to_string(),
                }
            })?;
        }
    }
    let logs: Vec<LogAppend> = pending
        .iter()
        .map(|(path, r)| LogAppend {
            path: path.clone(),
            runs: r.len(),
        })
        .collect();
    Ok(LegacyImport {
        data_dir: shown.to_path_buf(),
        dry_run,
        versions: plans.into_iter().map(|p| p.report).collect(),
        runs_added: logs.iter().map(|l| l.runs).sum(),
        logs,
        runs_already,
        skipped,
        ignored,
        notes,
    })
}

/// The version file for one registry entry, or why it cannot be made.
fn plan_version(
    project: &Project,
    registry: &crate::project::Registry,
    label: &str,
    entry: &Map<String, Value>,
    key_name: Option<String>,
    key_version: Option<String>,
    naive: &mut bool,
) -> Result<Plan, String> {
    let mut notes = Vec::new();
    let raw_name = pick(entry, NAME_KEYS)
        .and_then(text_of)
        .or(key_name)
        .ok_or("has no `name`")?;
    let name = normalize_name(&raw_name);
    if !is_valid_name(&name) {
        return Err(format!(
            "name {raw_name:?} cannot be a prompt name (lower-case letters, digits, `_` and `-`)"
        ));
    }
    if name != raw_name {
        notes.push(format!("prompt {raw_name:?} is named `{name}`"));
    }
    let raw_version = pick(entry, VERSION_KEYS).and_then(text_of).or(key_version);
    let version_text = match &raw_version {
        Some(v) => normalize_version(v),
        None => {
            notes.push("no version given: imported as 1.0".to_string());
            "1.0".to_string()
        }
    };
    let version: Version = version_text.parse().map_err(|_| {
        format!(
            "version {:?} is not a dotted number such as 1.2",
            raw_version.clone().unwrap_or_default()
        )
    })?;
    if let Some(raw) = &raw_version
        && *raw != version_text
    {
        notes.push(format!("version {raw:?} is written `{version_text}`"));
    }
    let text = match pick(entry, TEXT_KEYS) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) => return Err("its prompt text is empty".to_string()),
        Some(other) => return Err(format!("its prompt text is {}, not text", kind(other))),
        None => return Err("has no prompt text (`prompt_text`)".to_string()),
    };
    let converted = placeholders::convert(&text);

    let mut matter = serde_yaml::Mapping::new();
    let mut put = |k: &str, v: serde_yaml::Value| {
        matter.insert(serde_yaml::Value::String(k.to_string()), v);
    };
    let yaml = |v: &Value| serde_yaml::to_value(v).unwrap_or(serde_yaml::Value::Null);
    if let Some(g) = pick(entry, &["goal", "description", "purpose"]).and_then(text_of) {
        put("goal", serde_yaml::Value::String(g));
    }
    if let Some(m) = pick(entry, &["model", "model_name"]).and_then(text_of) {
        put("model", serde_yaml::Value::String(m));
    }
    for (key, aliases) in [
        ("temperature", &["temperature"][..]),
        (
            "token_limit",
            &["token_limit", "max_tokens", "max_token_limit"][..],
        ),
        ("top_k", &["top_k"][..]),
        ("top_p", &["top_p"][..]),
    ] {
        if let Some(v) = pick(entry, aliases) {
            // A number written as text ("0.7") is read as the number.
            let v = match v {
                Value::String(s) => s
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .and_then(|x| {
                        if x.fract() == 0.0 && x.abs() < 9e15 {
                            Some(Value::from(x as i64))
                        } else {
                            serde_json::Number::from_f64(x).map(Value::Number)
                        }
                    })
                    .unwrap_or_else(|| v.clone()),
                other => other.clone(),
            };
            put(key, yaml(&v));
        }
    }
    if let Some(t) = pick(entry, &["created_at", "timestamp", "created"]) {
        match parse_time(t, naive) {
            Some(t) => put(
                "created_at",
                serde_yaml::Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            ),
            None => notes.push(format!("created_at {t} is not a time; left out")),
        }
    }
    put(
        "tags",
        serde_yaml::Value::Sequence(vec![serde_yaml::Value::String("imported".into())]),
    );
    if !converted.variables.is_empty() {
        let mut vars = serde_yaml::Mapping::new();
        for v in &converted.variables {
            vars.insert(
                serde_yaml::Value::String(v.clone()),
                serde_yaml::Value::Mapping(serde_yaml::Mapping::new()),
            );
        }
        put("variables", serde_yaml::Value::Mapping(vars));
    }
    let used: HashSet<&str> = TEXT_KEYS
        .iter()
        .chain(NAME_KEYS)
        .chain(VERSION_KEYS)
        .chain(&[
            "goal",
            "description",
            "purpose",
            "model",
            "model_name",
            "temperature",
            "token_limit",
            "max_tokens",
            "max_token_limit",
            "top_k",
            "top_p",
            "created_at",
            "timestamp",
            "created",
        ])
        .copied()
        .collect();
    let dropped: Vec<&str> = entry
        .keys()
        .map(String::as_str)
        .filter(|k| !used.contains(k))
        .collect();
    if !dropped.is_empty() {
        notes.push(format!(
            "not kept: {} (ptrack has no such attribute; the data folder still has it)",
            dropped
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let matter_text = serde_yaml::to_string(&serde_yaml::Value::Mapping(matter))
        .map_err(|e| format!("cannot write its front matter: {e}"))?;
    let mut body = converted.text.clone();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    let content = format!("---\n{matter_text}---\n{body}");
    let rel = PathBuf::from("prompts")
        .join(&name)
        .join(format!("{version}.md"));
    let conversions: Vec<String> = converted
        .conversions
        .iter()
        .map(|c| format!("{} → {}", c.from, c.to))
        .collect();
    let mut report = ImportedVersion {
        prompt: name.clone(),
        version: version.to_string(),
        path: rel.clone(),
        source: label.to_string(),
        status: VersionStatus::Planned,
        conversions,
        notes,
    };
    // A version already in the project is kept as it is: unchanged when it is this import's
    // file, else edited since (or written by hand), and never overwritten.
    if let Ok(existing) = registry.resolve(&name, Some(&version)) {
        report.path = existing.path.clone();
        report.status = if existing.blob_sha == crate::prompt::blob_sha(content.as_bytes()) {
            VersionStatus::Unchanged
        } else {
            VersionStatus::Kept
        };
        return Ok(Plan {
            report,
            bytes: None,
            version: existing.clone(),
        });
    }
    if project.root().join(&rel).exists() {
        return Err(format!(
            "{} exists but is not a valid version; fix it (`ptrack check`) or remove it",
            rel.display()
        ));
    }
    let parsed = parse_prompt_file(&rel, &name, &version, content.as_bytes());
    let Some(v) = parsed.version else {
        let errors: Vec<String> = parsed
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.message.clone())
            .collect();
        return Err(errors.join("; "));
    };
    Ok(Plan {
        report,
        bytes: Some(content.into_bytes()),
        version: v,
    })
}

/// The run of one execution entry, or why it cannot be one.
fn run_record(
    project: &Project,
    version: &PromptVersion,
    entry: &Map<String, Value>,
    seed: &str,
    naive: &mut bool,
    now: DateTime<Utc>,
) -> Result<RunRecord, String> {
    let ts_value = pick(
        entry,
        &["timestamp", "created_at", "ts", "time", "executed_at"],
    )
    .ok_or("has no `timestamp`")?;
    let ts =
        parse_time(ts_value, naive).ok_or_else(|| format!("timestamp {ts_value} is not a time"))?;
    let ms = match pick(entry, &["execution_time_ms", "latency_ms", "duration_ms"]) {
        Some(v) => v
            .as_f64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())),
        None => pick(entry, &["execution_time", "duration"])
            .and_then(Value::as_f64)
            .map(|s| s * 1000.0),
    }
    .ok_or("has no `execution_time_ms` number")?;
    if !(ms.is_finite() && ms >= 0.0) {
        return Err(format!("execution_time_ms must be a number ≥ 0, got {ms}"));
    }
    let mut d = RunDraft {
        id: Some(derived_id(&ts, seed)),
        ts: Some(ts),
        execution_time_ms: Some(ms),
        ..RunDraft::default()
    };
    d.output = match pick(entry, &["output", "response", "result"]) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    d.token_count = pick(entry, &["token_count", "tokens", "total_tokens"]).and_then(Value::as_u64);
    d.output_length = pick(entry, &["output_length"]).and_then(Value::as_u64);
    d.success = match pick(entry, &["success", "succeeded", "ok"]) {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::Number(n)) => Some(n.as_f64() != Some(0.0)),
        Some(Value::String(s)) => Some(matches!(
            s.trim().to_lowercase().as_str(),
            "true" | "yes" | "1" | "ok" | "success"
        )),
        _ => None,
    };
    d.error = pick(entry, &["error", "error_message"]).and_then(text_of);
    if d.success == Some(true) && d.error.is_some() {
        // The older tool kept warnings in `error` for runs that worked.
        d.extra.insert(
            "legacy_error".into(),
            Value::String(d.error.take().unwrap_or_default()),
        );
    }
    if let Some(q) = pick(entry, &["quality_score", "quality", "score", "rating"]) {
        match q.as_f64() {
            Some(x) if (1.0..=10.0).contains(&x) => d.quality_score = Some(x),
            _ => {
                d.extra.insert("legacy_quality_score".into(), q.clone());
            }
        }
    }
    d.feedback = match pick(entry, &["user_feedback", "feedback"]) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(Value::String(_)) | None => None,
        Some(other) => Some(other.to_string()),
    };
    d.input = match pick(entry, &["input_data", "input", "inputs", "variables"]) {
        Some(Value::Object(m)) => m.clone(),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(m)) => m,
            _ => Map::from_iter([("input".to_string(), Value::String(s.clone()))]),
        },
        Some(other) => Map::from_iter([("input".to_string(), other.clone())]),
        None => Map::new(),
    };
    d.model = pick(entry, &["model", "model_name"]).and_then(text_of);
    d.extra
        .insert("imported_from".into(), Value::String("legacy".into()));
    // The older tool ran outside git: no commit.
    d.complete(
        version,
        project.config().defaults.model.as_deref(),
        None,
        now,
    )
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_versions_and_times_are_read_liberally() {
        assert_eq!(normalize_name(" Coaching System "), "coaching_system");
        assert_eq!(normalize_version("v1.2"), "1.2");
        assert_eq!(normalize_version("3"), "3.0");
        let mut naive = false;
        let t = |v: Value, naive: &mut bool| parse_time(&v, naive).map(|t| t.to_rfc3339());
        assert_eq!(
            t(Value::from("2024-03-01T10:00:00+02:00"), &mut naive).as_deref(),
            Some("2024-03-01T08:00:00+00:00")
        );
        assert!(!naive);
        assert_eq!(
            t(Value::from("2024-03-01 10:00:00.250"), &mut naive).as_deref(),
            Some("2024-03-01T10:00:00.250+00:00")
        );
        assert!(naive);
        assert_eq!(
            t(Value::from(1_709_287_200), &mut naive).as_deref(),
            Some("2024-03-01T10:00:00+00:00")
        );
        assert_eq!(
            t(Value::from(1_709_287_200_500u64), &mut naive).as_deref(),
            Some("2024-03-01T10:00:00.500+00:00")
        );
        assert_eq!(t(Value::from("yesterday"), &mut naive), None);
    }

    #[test]
    fn derived_ids_are_valid_v7_and_stable() {
        let ts = Utc
            .timestamp_millis_opt(1_709_287_200_000)
            .single()
            .expect("time");
        let a = derived_id(&ts, "x");
        assert_eq!(a, derived_id(&ts, "x"));
        assert_ne!(a, derived_id(&ts, "y"));
        let u = uuid::Uuid::parse_str(&a).expect("uuid");
        assert_eq!(u.get_version_num(), 7);
        // Its time part is the run's, so ids sort like the runs.
        assert!(a.starts_with("018df974-d500-7"), "{a}");
    }
}
