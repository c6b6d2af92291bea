//! `ptrack record`: append runs, from flags or as JSON lines on stdin.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::error::{CliError, CliResult};
use super::{Ctx, find_prompt, find_version};
use ptrack::runlog::{self, Event, format_ts, json_number, log_path, new_id, parse_line};
use ptrack::{Project, PromptVersion, Registry};

/// Append one run of a prompt version (or many, as JSON lines on stdin)
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  ptrack record coaching_system --time-ms 840 --tokens 212 --output \"Try one step\" --quality 8
  ptrack record coaching_system --version 1.0 --time-ms 30000 --failure --error \"timeout after 30s\"
  ptrack record task_classification --time-ms 310 --output-file out.json --input task=\"Fix login\"
  my-app | ptrack record --stdin      one JSON object per line (prompt, execution_time_ms, success, …)

Prints the id of each run recorded.")]
pub struct RecordArgs {
    /// Prompt name (with --stdin: the default for lines without `prompt`)
    #[arg(required_unless_present = "stdin")]
    pub name: Option<String>,
    /// Version that ran (default: the latest)
    #[arg(long, short = 'v')]
    pub version: Option<String>,
    /// Wall time of the execution in milliseconds
    #[arg(long, value_name = "MS", required_unless_present = "stdin")]
    pub time_ms: Option<f64>,
    /// Tokens used
    #[arg(long, value_name = "N")]
    pub tokens: Option<u64>,
    /// The model's output
    #[arg(long, conflicts_with = "output_file")]
    pub output: Option<String>,
    /// Read the model's output from a file
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// The run succeeded (the default unless --error is given)
    #[arg(long, conflicts_with = "failure")]
    pub success: bool,
    /// The run failed
    #[arg(long)]
    pub failure: bool,
    /// What went wrong (implies --failure)
    #[arg(long, value_name = "MSG", conflicts_with = "success")]
    pub error: Option<String>,
    /// Quality score, 1 to 10
    #[arg(long, value_name = "Q")]
    pub quality: Option<f64>,
    /// Free-text feedback on the output
    #[arg(long)]
    pub feedback: Option<String>,
    /// An input variable, key=value (repeatable)
    #[arg(long = "input", value_name = "KEY=VALUE", value_parser = parse_kv)]
    pub inputs: Vec<(String, String)>,
    /// Read run objects from stdin, one JSON object per line
    #[arg(long, conflicts_with_all = ["time_ms", "output", "output_file", "tokens", "quality", "feedback", "error", "success", "failure", "inputs"])]
    pub stdin: bool,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

pub fn run(ctx: &mut Ctx, args: RecordArgs) -> CliResult {
    let project = ctx.project()?;
    let registry = project.load_prompts();
    if args.stdin {
        return record_stdin(
            ctx,
            &project,
            &registry,
            args.name.as_deref(),
            args.version.as_deref(),
        );
    }
    let name = args.name.clone().unwrap_or_default();
    if let Some(q) = args.quality
        && !(1.0..=10.0).contains(&q)
    {
        return Err(CliError::new(format!(
            "--quality must be a number from 1 to 10, got {q}"
        )));
    }
    if let Some(t) = args.time_ms
        && !(t.is_finite() && t >= 0.0)
    {
        return Err(CliError::new(format!(
            "--time-ms must be a number ≥ 0, got {t}"
        )));
    }
    let prompt = find_prompt(&registry, &name)?;
    let version = find_version(prompt, args.version.as_deref())?;
    let output = match (&args.output, &args.output_file) {
        (Some(o), _) => o.clone(),
        (None, Some(f)) => {
            let bytes = std::fs::read(ctx.start_dir.join(f))
                .map_err(|e| CliError::new(format!("cannot read {}: {e}", f.display())))?;
            String::from_utf8(bytes)
                .map_err(|_| CliError::new(format!("{} is not valid UTF-8", f.display())))?
        }
        (None, None) => String::new(),
    };
    let mut obj = Map::new();
    obj.insert("output".into(), Value::String(output));
    if let Some(ms) = args.time_ms {
        obj.insert("execution_time_ms".into(), json_number(ms));
    }
    if let Some(t) = args.tokens {
        obj.insert("token_count".into(), Value::from(t));
    }
    obj.insert(
        "success".into(),
        Value::Bool(!args.failure && args.error.is_none()),
    );
    obj.insert(
        "error".into(),
        args.error.clone().map_or(Value::Null, Value::String),
    );
    if let Some(q) = args.quality {
        obj.insert("quality_score".into(), json_number(q));
    }
    if let Some(f) = &args.feedback {
        obj.insert("feedback".into(), Value::String(f.clone()));
    }
    let input: Map<String, Value> = args
        .inputs
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    obj.insert("input".into(), Value::Object(input));
    let record = complete(ctx.now, &project, version, obj, None)
        .map_err(|e| CliError::new(e).with_hint("nothing was recorded"))?;
    let id = record["id"].as_str().unwrap_or_default().to_string();
    let path = target(&project, &record);
    runlog::append_line(&path, &record)?;
    if ctx.ui.json {
        return ctx
            .ui
            .json(&serde_json::json!({ "id": id, "path": rel(&project, &path) }));
    }
    ctx.ui.line(&id)
}

fn rel(project: &Project, path: &Path) -> PathBuf {
    path.strip_prefix(project.root())
        .unwrap_or(path)
        .to_path_buf()
}

pub fn target(project: &Project, record: &Map<String, Value>) -> PathBuf {
    let prompt = record["prompt"].as_str().unwrap_or_default();
    let ts = record["ts"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_default();
    log_path(&project.runs_dir(), prompt, &ts)
}

/// Fill what the caller left out (id, time, blob, commit, model, params, output length),
/// order the fields, and validate the result with the same rules readers apply.
/// HEAD when the version file is committed there unchanged (what a run's `commit` holds).
pub fn commit_of(project: &Project, version: &PromptVersion) -> Option<String> {
    ptrack::git::head_commit_if_unchanged(project.root(), &version.path, &version.blob_sha)
}

pub fn complete(
    now: chrono::DateTime<chrono::Utc>,
    project: &Project,
    version: &PromptVersion,
    mut obj: Map<String, Value>,
    known_commit: Option<&Value>,
) -> Result<Map<String, Value>, String> {
    let meta = &version.meta;
    let error_given = obj.get("error").is_some_and(|e| !e.is_null());
    let ts = obj
        .get("ts")
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or(now, |t| t.with_timezone(&chrono::Utc));
    // Callers that complete many runs of one version look the commit up once and pass it in.
    let commit = obj.get("commit").is_none_or(Value::is_null).then(|| {
        known_commit
            .cloned()
            .unwrap_or_else(|| commit_of(project, version).map_or(Value::Null, Value::String))
    });
    let mut fill = |k: &str, v: Value| {
        if obj.get(k).is_none_or(Value::is_null) {
            obj.insert(k.to_string(), v);
        }
    };
    fill("id", Value::String(new_id(&ts)));
    fill("ts", Value::String(format_ts(&now)));
    fill("prompt", Value::String(version.name.clone()));
    fill("version", Value::String(version.version.to_string()));
    fill("prompt_sha", Value::String(version.blob_sha.clone()));
    if let Some(commit) = commit {
        fill("commit", commit);
    }
    let model = meta
        .model
        .clone()
        .or_else(|| project.config().defaults.model.clone());
    fill("model", model.map_or(Value::Null, Value::String));
    fill(
        "params",
        serde_json::to_value(&meta.params).unwrap_or(Value::Null),
    );
    fill("input", Value::Object(Map::new()));
    fill("output", Value::String(String::new()));
    fill("token_count", Value::Null);
    fill("success", Value::Bool(!error_given));
    fill("error", Value::Null);
    if obj.get("output_length").is_none_or(Value::is_null)
        && let Some(out) = obj.get("output").and_then(Value::as_str)
    {
        let n = out.chars().count();
        obj.insert("output_length".into(), Value::from(n));
    }
    if let Some(ts) = obj.get("ts").and_then(Value::as_str) {
        // Normalize to the documented form: UTC with milliseconds.
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(ts) {
            let t = t.with_timezone(&chrono::Utc);
            obj.insert("ts".into(), Value::String(format_ts(&t)));
        }
    }
    let mut ordered = Map::new();
    // The documented fields in their order; anything else follows, as given.
    for k in ptrack::runlog::FIELDS {
        if let Some(v) = obj.shift_remove(*k) {
            ordered.insert((*k).to_string(), v);
        }
    }
    ordered.extend(obj);
    if ordered.get("success") == Some(&Value::Bool(true))
        && ordered.get("error").is_some_and(|e| !e.is_null())
    {
        return Err(
            "success is true but error is set; a run that failed has success false".to_string(),
        );
    }
    let line = serde_json::to_string(&ordered).map_err(|e| e.to_string())?;
    match parse_line(&line) {
        Ok(Event::Run(_)) => Ok(ordered),
        Ok(Event::Rating(_)) => {
            Err("a run line cannot be a rating (`type` must be `run` or absent)".to_string())
        }
        Err(e) => Err(e.message),
    }
}

fn record_stdin(
    ctx: &mut Ctx,
    project: &Project,
    registry: &Registry,
    default_prompt: Option<&str>,
    default_version: Option<&str>,
) -> CliResult {
    let stdin = std::io::stdin();
    let mut by_file: BTreeMap<PathBuf, Vec<Map<String, Value>>> = BTreeMap::new();
    let mut ids = Vec::new();
    let mut rejected = 0usize;
    // One git lookup per version file, however many lines run it.
    let mut commits: std::collections::HashMap<String, Value> = std::collections::HashMap::new();
    for (i, line) in stdin.lock().split(b'\n').enumerate() {
        let n = i + 1;
        let bytes = line.map_err(|e| CliError::new(format!("cannot read stdin: {e}")))?;
        let reject = |msg: String| eprintln!("stdin:{n}: {msg}; line rejected");
        let Ok(text) = std::str::from_utf8(&bytes) else {
            reject("not valid UTF-8".to_string());
            rejected += 1;
            continue;
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let obj = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                reject("expected a JSON object".to_string());
                rejected += 1;
                continue;
            }
            Err(e) => {
                let msg = e.to_string();
                let msg = msg.split(" at line ").next().unwrap_or(&msg);
                reject(format!("invalid JSON: {msg}"));
                rejected += 1;
                continue;
            }
        };
        let result = (|| {
            let name = match obj.get("prompt") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => return Err(format!("prompt must be a name, got {other}")),
                None => default_prompt
                    .map(str::to_string)
                    .ok_or("missing `prompt` (or pass NAME)")?,
            };
            let prompt = find_prompt(registry, &name).map_err(|e| match e.hint {
                Some(h) => format!("{} ({h})", e.message),
                None => e.message,
            })?;
            let version = match obj.get("version") {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Null) | None => default_version.map(str::to_string),
                Some(other) => {
                    return Err(format!("version must be text such as \"1.0\", got {other}"));
                }
            };
            let version = find_version(prompt, version.as_deref()).map_err(|e| e.message)?;
            let commit = commits
                .entry(version.blob_sha.clone())
                .or_insert_with(|| commit_of(project, version).map_or(Value::Null, Value::String));
            complete(ctx.now, project, version, obj.clone(), Some(commit))
        })();
        match result {
            Ok(record) if ids.contains(&record["id"].as_str().unwrap_or_default().to_string()) => {
                reject(format!(
                    "id {} was already given on an earlier line",
                    record["id"]
                ));
                rejected += 1;
            }
            Ok(record) => {
                ids.push(record["id"].as_str().unwrap_or_default().to_string());
                by_file
                    .entry(target(project, &record))
                    .or_default()
                    .push(record);
            }
            Err(msg) => {
                reject(msg);
                rejected += 1;
            }
        }
    }
    for (path, records) in &by_file {
        runlog::append_lines(path, records)?;
    }
    if ctx.ui.json {
        ctx.ui
            .json(&serde_json::json!({ "recorded": ids, "rejected": rejected }))?;
    } else {
        for id in &ids {
            ctx.ui.line(id)?;
        }
    }
    ctx.ui.status(&format!(
        "recorded {} run(s), rejected {rejected} line(s)",
        ids.len()
    ));
    if rejected > 0 {
        return Err(CliError::problems(""));
    }
    Ok(())
}
