//! `ptrack record`: append runs, from flags or as JSON lines on stdin.

use std::io::BufRead;
use std::path::PathBuf;

use serde_json::Value;

use super::Ctx;
use super::error::{CliError, CliResult};
use ptrack::record::{BatchResult, IdTaken, Recorder, RejectedRun, RunDraft, json_object};
use ptrack::{Project, Registry, Version};

/// Append one run of a prompt version (or many, as JSON lines on stdin)
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  ptrack record coaching_system --time-ms 840 --tokens 212 --output \"Try one step\" --quality 8
  ptrack record coaching_system --version 1.0 --time-ms 30000 --failure --error \"timeout after 30s\"
  ptrack record task_classification --time-ms 310 --output-file out.json --input task=\"Fix login\"
  echo '{\"execution_time_ms\":912,\"success\":true}' | ptrack record coaching_system --stdin

Prints the id of each run recorded.")]
pub struct RecordArgs {
    /// Prompt name (with --stdin: the default for lines without `prompt`)
    #[arg(required_unless_present = "stdin", add = clap_complete::engine::ArgValueCompleter::new(super::completions::prompt_names))]
    pub name: Option<String>,
    /// Version that ran (default: the latest)
    #[arg(long, short = 'v', value_parser = super::parse_version)]
    pub version: Option<Version>,
    /// Version by label from labels.toml (also NAME:LABEL), instead of --version
    #[arg(long, conflicts_with = "version")]
    pub label: Option<String>,
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
    /// The experiment (experiments.toml) whose variant ran; the version must be a variant
    #[arg(long, value_name = "NAME", requires = "unit")]
    pub experiment: Option<String>,
    /// The unit (user, session) the experiment assigned, as `ptrack resolve --unit` got it
    #[arg(long, value_name = "ID", requires = "experiment")]
    pub unit: Option<String>,
    /// Read run objects from stdin, one JSON object per line
    #[arg(long, conflicts_with_all = ["time_ms", "output", "output_file", "tokens", "quality", "feedback", "error", "success", "failure", "inputs", "experiment", "unit"])]
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
    let (name, version) = match &args.name {
        Some(n) => {
            let (n, v) = super::named_version(
                &project,
                &registry,
                n,
                args.version.as_ref(),
                args.label.as_deref(),
            )?;
            (Some(n), v)
        }
        None if args.label.is_some() => {
            return Err(CliError::new("--label needs a prompt name"));
        }
        None => (None, args.version.clone()),
    };
    if args.stdin {
        return record_stdin(ctx, &project, &registry, name.as_deref(), version.as_ref());
    }
    let name = name.unwrap_or_default();
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
    let version = registry.resolve(&name, version.as_ref())?;
    // What was served: the label asked for, and the experiment's variant and unit.
    let mut extra = serde_json::Map::new();
    let label = super::asked_label(args.name.as_deref(), args.label.as_deref());
    if let Some(l) = label {
        extra.insert("label".into(), Value::String(l));
    }
    if let (Some(exp), Some(unit)) = (&args.experiment, &args.unit) {
        extra.insert("experiment".into(), Value::String(exp.clone()));
        extra.insert("unit".into(), Value::String(unit.clone()));
        extra.insert("prompt".into(), Value::String(name.clone()));
        extra.insert("version".into(), Value::String(version.version.to_string()));
        ptrack::experiment::tag_run(&project.experiments(), &mut extra, Some(&name))
            .map_err(|m| CliError::new(format!("--experiment: {m}")))?;
        extra.remove("prompt");
        extra.remove("version");
    }
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
    let draft = RunDraft {
        output,
        execution_time_ms: args.time_ms,
        token_count: args.tokens,
        success: Some(!args.failure && args.error.is_none()),
        error: args.error.clone(),
        quality_score: args.quality,
        feedback: args.feedback.clone(),
        input: args
            .inputs
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
        extra,
        ..RunDraft::default()
    };
    let record = project.record(version, draft, ctx.now)?;
    if ctx.ui.json {
        return ctx.ui.json(&project.recorded(&record));
    }
    ctx.ui.line(&record.id)
}

fn record_stdin(
    ctx: &mut Ctx,
    project: &Project,
    registry: &Registry,
    default_prompt: Option<&str>,
    default_version: Option<&Version>,
) -> CliResult {
    let stdin = std::io::stdin();
    if std::io::IsTerminal::is_terminal(&stdin) {
        ctx.ui.status(
            "reading run objects from stdin, one JSON object per line; end with Ctrl-D (Ctrl-Z on Windows)",
        );
    }
    let mut recorder = Recorder::new(project);
    let mut batch = BatchResult::default();
    let experiments = project.experiments();
    // The stdin line of each run added, to name it when a later line repeats its id.
    let mut run_lines: Vec<usize> = Vec::new();
    let mut repeated_ids = 0;
    let mut input = std::io::BufReader::with_capacity(1 << 16, stdin.lock());
    let mut bytes = Vec::new();
    let mut n = 0;
    loop {
        bytes.clear();
        let read = input
            .read_until(b'\n', &mut bytes)
            .map_err(|e| CliError::new(format!("cannot read stdin: {e}")))?;
        if read == 0 {
            break;
        }
        n += 1;
        let ui = &mut ctx.ui;
        let mut reject = |msg: String| ui.status(&format!("stdin:{n}: {msg}; line rejected"));
        let Ok(text) = std::str::from_utf8(&bytes) else {
            reject("not valid UTF-8".to_string());
            batch.rejected += 1;
            continue;
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let result = json_object(text).and_then(|obj| {
            recorder
                .add_tagged(
                    registry,
                    &experiments,
                    obj,
                    default_prompt,
                    default_version,
                    ctx.now,
                )
                .map_err(|e| match e {
                    // Where the hint names a flag, say it in words a stdin line can act on.
                    RejectedRun::Lookup(l) => CliError::from(l).one_line(),
                    RejectedRun::Invalid(m) if m == "missing `prompt`" => {
                        "missing `prompt` (or pass NAME)".to_string()
                    }
                    RejectedRun::Invalid(m) => m,
                    RejectedRun::DuplicateId {
                        id,
                        by: IdTaken::Batch { index },
                    } => {
                        repeated_ids += 1;
                        match run_lines.get(index) {
                            Some(first) => format!("id \"{id}\" was already given on line {first}"),
                            None => format!("id \"{id}\" was already given on an earlier line"),
                        }
                    }
                    e @ RejectedRun::DuplicateId { .. } => {
                        repeated_ids += 1;
                        e.to_string()
                    }
                })
        });
        match result {
            Ok(id) => {
                run_lines.push(n);
                batch.recorded.push(id);
            }
            Err(msg) => {
                reject(msg);
                batch.rejected += 1;
            }
        }
    }
    // Readers keep the first run of an id: a batch that repeats one records nothing, so it
    // can be fixed and sent again as a whole.
    if repeated_ids > 0 {
        batch.recorded.clear();
    } else {
        recorder.write()?;
    }
    if ctx.ui.json {
        ctx.ui.json(&batch)?;
    } else {
        for id in &batch.recorded {
            ctx.ui.line(id)?;
        }
    }
    if repeated_ids > 0 {
        ctx.ui.status(&format!(
            "recorded nothing: {repeated_ids} line(s) repeat a run id ({} line(s) rejected in all)",
            batch.rejected
        ));
    } else {
        ctx.ui.status(&format!(
            "recorded {} run(s), rejected {} line(s)",
            batch.recorded.len(),
            batch.rejected
        ));
    }
    if batch.rejected > 0 {
        return Err(CliError::problems(""));
    }
    Ok(())
}
