//! `ptrack run`: send a version to a model server, measure it, check expectations, record runs.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use super::error::{CliError, CliResult};
use super::output::{self, Align, Style, Table};
use super::record::{complete, target};
use super::render::VarArgs;
use super::{Ctx, find_prompt, find_version};
use ptrack::provider::{Endpoint, request_url};
use ptrack::render::{ollama_body, openai_body, render};
use ptrack::runlog::{append_line, json_number};
use ptrack::{Project, PromptVersion, Provider, stats};

/// Run a prompt version against a model server and record each execution
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Providers and defaults come from ptrack.toml ([providers.ollama] base_url, [providers.openai]
base_url and api_key_env); an API key is read from the environment only. Eval cases (--cases, or
prompts/NAME/cases.jsonl when it exists) hold one case per line:
  {\"name\": \"short\", \"vars\": {…}, \"expect\": [{\"contains\": \"…\"}, {\"not_contains\": \"…\"},
   {\"regex\": \"…\"}, {\"json\": true}, {\"max_ms\": 2000}]}
A run succeeds when the request succeeded and every expectation held. Exit code 1 when any run
failed; Ctrl-C stops cleanly and keeps the runs already recorded.

Examples:
  ptrack run coaching_system --var user_message=\"I keep putting off my thesis\"
  ptrack run task_classification --version 1.0 --repeat 5 --concurrency 2
  ptrack run coaching_system --provider openai --base-url http://127.0.0.1:8080/v1 --model smollm2
  ptrack run coaching_system --version 1.1 && ptrack compare coaching_system 1.0 1.1")]
pub struct RunArgs {
    /// Prompt name
    pub name: String,
    /// Version (default: the latest)
    #[arg(long, short = 'v')]
    pub version: Option<String>,
    #[command(flatten)]
    pub vars: VarArgs,
    /// Eval cases, one JSON object per line (default: prompts/NAME/cases.jsonl if it exists)
    #[arg(long, value_name = "FILE")]
    pub cases: Option<PathBuf>,
    /// Run each case N times
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub repeat: u32,
    /// Requests in flight at once
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
    /// Provider API (default: the version's `provider`, else ptrack.toml, else ollama)
    #[arg(long, value_parser = ["ollama", "openai"])]
    pub provider: Option<String>,
    /// Server base URL (default from ptrack.toml, else the provider's usual address)
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Model (default: the version's `model`)
    #[arg(long)]
    pub model: Option<String>,
    /// Seconds to wait for an answer [default: 120, or timeout_secs in ptrack.toml]
    #[arg(long, value_name = "S")]
    pub timeout: Option<f64>,
    /// Do not record the runs
    #[arg(long)]
    pub no_record: bool,
}

/// One eval case.
#[derive(Debug, Clone)]
struct Case {
    name: String,
    vars: Map<String, Value>,
    expect: Vec<Expect>,
}

#[derive(Debug, Clone)]
enum Expect {
    Contains(String),
    NotContains(String),
    Regex(regex::Regex),
    Json,
    MaxMs(f64),
}

impl Expect {
    fn describe(&self) -> String {
        match self {
            Expect::Contains(s) => format!("contains {s:?}"),
            Expect::NotContains(s) => format!("not_contains {s:?}"),
            Expect::Regex(r) => format!("regex {:?}", r.as_str()),
            Expect::Json => "json".to_string(),
            Expect::MaxMs(ms) => format!("max_ms {ms}"),
        }
    }

    fn holds(&self, output: &str, ms: f64) -> bool {
        match self {
            Expect::Contains(s) => output.contains(s.as_str()),
            Expect::NotContains(s) => !output.contains(s.as_str()),
            // Model answers often end with a newline; `$` should still match at the end.
            Expect::Regex(r) => r.is_match(output.trim_end_matches(['\n', '\r'])),
            Expect::Json => serde_json::from_str::<Value>(output.trim()).is_ok(),
            Expect::MaxMs(max) => ms <= *max,
        }
    }
}

fn parse_expect(v: &Value) -> Result<Expect, String> {
    let obj = v
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or("each expectation is an object with one key, e.g. {\"contains\": \"…\"}")?;
    let (k, val) = obj.iter().next().ok_or("empty expectation")?;
    let text = || {
        val.as_str()
            .map(str::to_string)
            .ok_or(format!("`{k}` needs a string"))
    };
    match k.as_str() {
        "contains" => Ok(Expect::Contains(text()?)),
        "not_contains" => Ok(Expect::NotContains(text()?)),
        "regex" => regex::Regex::new(&text()?)
            .map(Expect::Regex)
            .map_err(|e| format!("invalid regex: {e}")),
        "json" if val == &Value::Bool(true) => Ok(Expect::Json),
        "json" => Err("`json` takes true".to_string()),
        "max_ms" => val
            .as_f64()
            .filter(|x| *x >= 0.0)
            .map(Expect::MaxMs)
            .ok_or("`max_ms` needs a number ≥ 0".to_string()),
        other => Err(format!(
            "unknown expectation `{other}` (contains, not_contains, regex, json, max_ms)"
        )),
    }
}

fn load_cases(path: &Path, shown: &Path, base_vars: &Map<String, Value>) -> CliResult<Vec<Case>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::new(format!("cannot read {}: {e}", shown.display())))?;
    let mut cases = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = |msg: String| CliError::new(format!("{}:{}: {msg}", shown.display(), i + 1));
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line).map_err(|e| {
            at(format!(
                "invalid JSON: {}",
                e.to_string().split(" at line ").next().unwrap_or_default()
            ))
        })?;
        let obj = v
            .as_object()
            .ok_or_else(|| at("a case is a JSON object".into()))?;
        for k in obj.keys() {
            if !matches!(k.as_str(), "name" | "vars" | "expect") {
                return Err(at(format!("unknown key `{k}` (name, vars, expect)")));
            }
        }
        let mut vars = base_vars.clone();
        match obj.get("vars") {
            Some(Value::Object(m)) => vars.extend(m.clone()),
            None => {}
            Some(_) => return Err(at("`vars` must be an object".into())),
        }
        let expect = match obj.get("expect") {
            Some(Value::Array(items)) => items
                .iter()
                .map(parse_expect)
                .collect::<Result<Vec<_>, _>>()
                .map_err(at)?,
            None => Vec::new(),
            Some(_) => return Err(at("`expect` must be a list".into())),
        };
        let name = obj
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| format!("#{}", cases.len() + 1), str::to_string);
        cases.push(Case { name, vars, expect });
    }
    if cases.is_empty() {
        return Err(CliError::new(format!("{} holds no cases", shown.display())));
    }
    Ok(cases)
}

/// What one execution gave.
#[derive(Debug, Clone, Serialize)]
struct Outcome {
    case: String,
    run_id: Option<String>,
    success: bool,
    execution_time_ms: f64,
    token_count: Option<u64>,
    error: Option<String>,
    expect_failed: Vec<String>,
    output: String,
}

#[derive(Serialize)]
struct Summary {
    prompt: String,
    version: String,
    model: String,
    provider: Provider,
    runs: usize,
    passed: usize,
    pass_rate: Option<f64>,
    p50_ms: Option<f64>,
    p95_ms: Option<f64>,
    interrupted: bool,
    outcomes: Vec<Outcome>,
}

/// Everything a worker needs, shared read-only between threads.
struct Job {
    project: Project,
    version: PromptVersion,
    endpoint: Endpoint,
    model: String,
    record: bool,
    pinned_now: Option<chrono::DateTime<chrono::Utc>>,
    /// The run's `commit`, the same for every execution of this version.
    commit: Value,
}

impl Job {
    fn execute(&self, case: &Case, prompt_text: &str) -> Outcome {
        let body = match self.endpoint.provider {
            Provider::Ollama => ollama_body(&self.version, &self.model, prompt_text),
            Provider::Openai => openai_body(&self.version, &self.model, prompt_text),
        };
        let started = self.pinned_now.unwrap_or_else(chrono::Utc::now);
        let (result, elapsed) = ptrack::provider::complete(&self.endpoint, &body);
        let ms = (elapsed.as_secs_f64() * 1000.0 * 10.0).round() / 10.0;
        let (output, tokens, prompt_tokens, completion_tokens, mut error) = match &result {
            Ok(c) => (
                c.output.clone(),
                c.total_tokens(),
                c.prompt_tokens,
                c.completion_tokens,
                None,
            ),
            Err(e) => (String::new(), None, None, None, Some(e.to_string())),
        };
        let expect_failed: Vec<String> = if result.is_ok() {
            case.expect
                .iter()
                .filter(|x| !x.holds(&output, ms))
                .map(Expect::describe)
                .collect()
        } else {
            Vec::new()
        };
        if error.is_none() && !expect_failed.is_empty() {
            error = Some(format!("expectation failed: {}", expect_failed.join(", ")));
        }
        let success = error.is_none();
        let mut obj = Map::new();
        obj.insert(
            "ts".into(),
            Value::String(ptrack::runlog::format_ts(&started)),
        );
        obj.insert("model".into(), Value::String(self.model.clone()));
        obj.insert("input".into(), Value::Object(case.vars.clone()));
        obj.insert("output".into(), Value::String(output.clone()));
        obj.insert("execution_time_ms".into(), json_number(ms));
        obj.insert(
            "token_count".into(),
            tokens.map_or(Value::Null, Value::from),
        );
        obj.insert("success".into(), Value::Bool(success));
        obj.insert(
            "error".into(),
            error.clone().map_or(Value::Null, Value::String),
        );
        obj.insert(
            "provider".into(),
            Value::String(self.endpoint.provider.as_str().to_string()),
        );
        obj.insert("case".into(), Value::String(case.name.clone()));
        if let Some(t) = prompt_tokens {
            obj.insert("prompt_tokens".into(), Value::from(t));
        }
        if let Some(t) = completion_tokens {
            obj.insert("completion_tokens".into(), Value::from(t));
        }
        if !case.expect.is_empty() {
            obj.insert("expect_failed".into(), Value::from(expect_failed.clone()));
        }
        let mut run_id = None;
        let mut record_error = None;
        if self.record {
            match complete(
                started,
                &self.project,
                &self.version,
                obj,
                Some(&self.commit),
            ) {
                Ok(rec) => {
                    run_id = rec.get("id").and_then(Value::as_str).map(str::to_string);
                    if let Err(e) = append_line(&target(&self.project, &rec), &rec) {
                        record_error = Some(e.to_string());
                    }
                }
                Err(e) => record_error = Some(e),
            }
        }
        if let Some(e) = record_error {
            run_id = None;
            error = Some(format!(
                "{} (and the run could not be recorded: {e})",
                error.unwrap_or_else(|| "ok".into())
            ));
        }
        Outcome {
            case: case.name.clone(),
            run_id,
            success,
            execution_time_ms: ms,
            token_count: tokens,
            error,
            expect_failed,
            output,
        }
    }
}

fn endpoint(project: &Project, v: &PromptVersion, args: &RunArgs) -> CliResult<Endpoint> {
    let cfg = project.config();
    let provider = match args.provider.as_deref() {
        Some("openai") => Provider::Openai,
        Some(_) => Provider::Ollama,
        None => v
            .meta
            .provider
            .or(cfg.defaults.provider)
            .unwrap_or(Provider::Ollama),
    };
    let settings = cfg
        .providers
        .get(provider.as_str())
        .cloned()
        .unwrap_or_default();
    let base_url = args
        .base_url
        .clone()
        .or(settings.base_url)
        .unwrap_or_else(|| {
            match provider {
                Provider::Ollama => "http://localhost:11434",
                Provider::Openai => "https://api.openai.com/v1",
            }
            .to_string()
        });
    let api_key = match provider {
        Provider::Openai => {
            let var = settings
                .api_key_env
                .unwrap_or_else(|| "OPENAI_API_KEY".to_string());
            std::env::var(&var).ok().filter(|k| !k.is_empty())
        }
        Provider::Ollama => None,
    };
    let secs = args.timeout.or(settings.timeout_secs).unwrap_or(120.0);
    if !(secs.is_finite() && secs > 0.0) {
        let source = if args.timeout.is_some() {
            "--timeout"
        } else {
            "timeout_secs in ptrack.toml"
        };
        return Err(CliError::new(format!(
            "{source} must be a number of seconds > 0, got {secs}"
        )));
    }
    Ok(Endpoint {
        provider,
        base_url,
        api_key,
        timeout: Duration::from_secs_f64(secs),
    })
}

pub fn run(ctx: &mut Ctx, args: RunArgs) -> CliResult {
    let project = ctx.project()?;
    let registry = project.load_prompts();
    let prompt = find_prompt(&registry, &args.name)?;
    let version = find_version(prompt, args.version.as_deref())?.clone();
    let vars = args.vars.load(&ctx.start_dir)?;
    let default_cases = project.prompts_dir().join(&prompt.name).join("cases.jsonl");
    let cases = match &args.cases {
        Some(f) => load_cases(&ctx.start_dir.join(f), f, &vars)?,
        None if default_cases.is_file() => {
            let shown = PathBuf::from("prompts")
                .join(&prompt.name)
                .join("cases.jsonl");
            load_cases(&default_cases, &shown, &vars)?
        }
        None => vec![Case {
            name: "#1".to_string(),
            vars,
            expect: Vec::new(),
        }],
    };
    // Render every case first: a missing variable stops before any request is sent.
    let mut rendered = Vec::new();
    for c in &cases {
        let text = render(&version, &c.vars).map_err(|e| {
            let prefix = if cases.len() > 1 {
                format!("case {}: ", c.name)
            } else {
                String::new()
            };
            CliError::new(format!("{prefix}{e}"))
        })?;
        rendered.push(text);
    }
    let model = args
        .model
        .clone()
        .or_else(|| version.meta.model.clone())
        .or_else(|| project.config().defaults.model.clone())
        .ok_or_else(|| {
            CliError::new(format!("{} names no model", version.path.display()))
                .with_hint("pass --model or set [defaults] model in ptrack.toml")
        })?;
    let endpoint = endpoint(&project, &version, &args)?;
    let total = cases.len() * args.repeat as usize;
    let pinned_now = std::env::var("PTRACK_NOW").ok().map(|_| ctx.now);
    let commit = super::record::commit_of(&project, &version).map_or(Value::Null, Value::String);
    let job = Arc::new(Job {
        commit,
        project,
        version: version.clone(),
        endpoint: endpoint.clone(),
        model: model.clone(),
        record: !args.no_record,
        pinned_now,
    });
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        // A second Ctrl-C while stopping ends the process the usual way.
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        });
    }
    let interactive = std::io::stderr().is_terminal() && !ctx.ui.json;
    let bar = if interactive && total > 1 {
        let b = indicatif::ProgressBar::new(total as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} {pos}/{len} runs [{bar:30}] {elapsed} {msg}",
        ) {
            b.set_style(style.progress_chars("=> "));
        }
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    if total > 1 {
        ctx.ui.status(&format!(
            "running {} {} on {} ({}, {}): {} case(s) × {} = {total} run(s)",
            version.name,
            version.version,
            model,
            endpoint.provider.as_str(),
            request_url(&endpoint),
            cases.len(),
            args.repeat
        ));
    }
    let work: Arc<Vec<(Case, String)>> = Arc::new(
        (0..args.repeat)
            .flat_map(|_| cases.iter().cloned().zip(rendered.iter().cloned()))
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
    let workers: Vec<_> = (0..(args.concurrency as usize).min(total))
        .map(|_| {
            let (job, work, next, stop, tx) = (
                Arc::clone(&job),
                Arc::clone(&work),
                Arc::clone(&next),
                Arc::clone(&stop),
                tx.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((case, text)) = work.get(i) else {
                        break;
                    };
                    if tx.send((i, job.execute(case, text))).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let mut outcomes: Vec<(usize, Outcome)> = Vec::new();
    for (i, o) in rx {
        bar.inc(1);
        if !o.success {
            bar.set_message(format!(
                "{} failed",
                outcomes.iter().filter(|(_, o)| !o.success).count() + 1
            ));
        }
        outcomes.push((i, o));
    }
    for w in workers {
        let _ = w.join();
    }
    bar.finish_and_clear();
    outcomes.sort_by_key(|(i, _)| *i);
    let outcomes: Vec<Outcome> = outcomes.into_iter().map(|(_, o)| o).collect();
    let interrupted = stop.load(Ordering::SeqCst);
    let mut times: Vec<f64> = outcomes.iter().map(|o| o.execution_time_ms).collect();
    let q = stats::quantiles(&mut times, &[0.5, 0.95]);
    let passed = outcomes.iter().filter(|o| o.success).count();
    let summary = Summary {
        prompt: version.name.clone(),
        version: version.version.to_string(),
        model,
        provider: endpoint.provider,
        runs: outcomes.len(),
        passed,
        pass_rate: (!outcomes.is_empty()).then(|| passed as f64 / outcomes.len() as f64),
        p50_ms: q.as_ref().map(|q| q[0]),
        p95_ms: q.as_ref().map(|q| q[1]),
        interrupted,
        outcomes,
    };
    if ctx.ui.json {
        ctx.ui.json(&summary)?;
    } else if total == 1 && summary.outcomes.len() == 1 {
        let o = &summary.outcomes[0];
        if o.success {
            ctx.ui.write(&o.output)?;
            if !o.output.ends_with('\n') {
                ctx.ui.line("")?;
            }
        } else if !o.output.is_empty() {
            ctx.ui.write(&o.output)?;
            ctx.ui.line("")?;
        }
        let recorded = o
            .run_id
            .as_deref()
            .map_or("not recorded".to_string(), |id| format!("recorded {id}"));
        let tokens = o
            .token_count
            .map_or(String::new(), |t| format!(" · {t} tokens"));
        ctx.ui.status(&format!(
            "{} · {}{tokens} · {recorded}",
            if o.success { "ok" } else { "failed" },
            output::ms(Some(o.execution_time_ms))
        ));
    } else {
        print_summary(ctx, &summary)?;
    }
    if let Some(o) = summary.outcomes.iter().find(|o| !o.success)
        && let Some(e) = &o.error
    {
        let failed = summary.runs - summary.passed;
        let msg = if summary.runs == 1 {
            e.clone()
        } else {
            format!("{failed} of {} run(s) failed; first: {e}", summary.runs)
        };
        let err = CliError::problems(msg);
        return Err(match classify(e) {
            Some(hint) => err.with_hint(hint),
            None => err,
        });
    }
    if interrupted {
        return Err(CliError {
            code: 130,
            ..CliError::new(format!(
                "interrupted: {} run(s) done and kept",
                summary.runs
            ))
        });
    }
    Ok(())
}

/// A hint for common failures.
fn classify(error: &str) -> Option<String> {
    if error.starts_with("cannot connect") {
        Some("is the model server running? Set its address with --base-url or [providers.NAME] base_url in ptrack.toml".into())
    } else if error.starts_with("HTTP 404") {
        Some(
            "does the server have this model? (Ollama: `ollama pull MODEL`; or pass --model)"
                .into(),
        )
    } else if error.starts_with("timeout") {
        Some("raise --timeout, or lower token_limit".into())
    } else {
        None
    }
}

fn print_summary(ctx: &mut Ctx, s: &Summary) -> CliResult {
    let mut t = Table::new(&[
        ("CASE", Align::Left),
        ("RUNS", Align::Right),
        ("PASSED", Align::Right),
        ("PASS RATE", Align::Right),
        ("P50", Align::Right),
        ("P95", Align::Right),
        ("FAILED EXPECTATIONS / ERRORS", Align::Left),
    ]);
    let mut names: Vec<&str> = Vec::new();
    for o in &s.outcomes {
        if !names.contains(&o.case.as_str()) {
            names.push(&o.case);
        }
    }
    for name in names {
        let os: Vec<&Outcome> = s.outcomes.iter().filter(|o| o.case == name).collect();
        let passed = os.iter().filter(|o| o.success).count();
        let mut times: Vec<f64> = os.iter().map(|o| o.execution_time_ms).collect();
        let q = stats::quantiles(&mut times, &[0.5, 0.95]);
        let mut reasons: Vec<String> = Vec::new();
        for o in os.iter().filter(|o| !o.success) {
            let r = if o.expect_failed.is_empty() {
                o.error.clone().unwrap_or_default()
            } else {
                o.expect_failed.join(", ")
            };
            if !reasons.contains(&r) {
                reasons.push(r);
            }
        }
        t.row(vec![
            name.to_string(),
            os.len().to_string(),
            passed.to_string(),
            output::pct(Some(passed as f64 / os.len() as f64)),
            output::ms(q.as_ref().map(|q| q[0])),
            output::ms(q.as_ref().map(|q| q[1])),
            output::truncate(&reasons.join("; "), 70),
        ]);
    }
    ctx.ui.write(&t.render(ctx.ui.color))?;
    let line = format!(
        "{} {}: {}/{} passed ({}), p50 {}, p95 {}",
        s.prompt,
        s.version,
        s.passed,
        s.runs,
        output::pct(s.pass_rate),
        output::ms(s.p50_ms),
        output::ms(s.p95_ms)
    );
    let style = if s.passed == s.runs {
        Style::Green
    } else {
        Style::Yellow
    };
    ctx.ui.line(&ctx.ui.paint(&line, style))
}
