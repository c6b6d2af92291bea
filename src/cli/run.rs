//! `ptrack run`: send a version to a model server, measure it, check expectations, record runs.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::error::{CliError, CliResult};
use super::output::{self, Align, Style, Table};
use super::render::VarArgs;
use super::{Ctx, ServerArgs};
use ptrack::Version;
use ptrack::eval::{Case, Execution, Failure, Judges, Outcome, Summary, load_cases, run_pool};
use ptrack::prompt::Provider;
use ptrack::provider::{Endpoint, request_url};
use ptrack::render::{RenderedPrompt, render_prompt};

/// Run a prompt version against a model server and record each execution
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Providers and defaults come from ptrack.toml ([providers.ollama] base_url, [providers.openai]
base_url and api_key_env); an API key is read from the environment only, and sent only where
you trust (see `ptrack trust --help`).

Eval cases (--cases FILE; without it prompts/NAME/cases.jsonl when it exists and no --var or
--vars-file is given) hold one case per line:
  {\"name\": \"short\", \"vars\": {…}, \"expected\": \"…\", \"expect\": [{\"contains\": \"…\"}, …]}
Expectations: contains, icontains, not_contains, equals, starts_with, regex (text); json (true);
json_schema (a schema, or a schema file beside the cases); similar (0 to 1, to `expected`);
max_ms, max_tokens (numbers).

A run succeeds when the request succeeded and every expectation held; exit code 1 when a run
failed. A request that never reached a model (connection refused, DNS, 401/403/404/429/502/503)
is a failed attempt: not recorded, exit code 2. Ctrl-C stops cleanly, keeps the runs already
recorded and exits with 130.

Examples:
  ptrack run coaching_system --var user_message=\"I keep putting off my thesis\"
  ptrack run coaching_system --version 1.1 --repeat 3          # prompts/coaching_system/cases.jsonl
  ptrack run task_classification --cases examples/task_classification.cases.jsonl --concurrency 2
  ptrack run coaching_system --provider openai --base-url http://127.0.0.1:8080/v1 --model tiny")]
pub struct RunArgs {
    /// Prompt name, or NAME:LABEL
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(super::completions::prompt_names))]
    pub name: String,
    /// Version (default: the latest)
    #[arg(long, short = 'v', value_parser = super::parse_version)]
    pub version: Option<Version>,
    /// Version by label from labels.toml (also NAME:LABEL), instead of --version
    #[arg(long, conflicts_with = "version")]
    pub label: Option<String>,
    #[command(flatten)]
    pub vars: VarArgs,
    /// Eval cases, one JSON object per line (default: prompts/NAME/cases.jsonl when it exists
    /// and no --var or --vars-file is given)
    #[arg(long, value_name = "FILE", conflicts_with = "no_cases")]
    pub cases: Option<PathBuf>,
    /// One ad-hoc run with the given variables, even when prompts/NAME/cases.jsonl exists
    #[arg(long)]
    pub no_cases: bool,
    /// Run each case N times
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub repeat: u32,
    /// Requests in flight at once
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
    /// Serve this unit (user, session) its variant when an experiment runs on the label, and
    /// record the experiment, variant and unit with each run
    #[arg(long, value_name = "ID")]
    pub unit: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Do not record the runs
    #[arg(long)]
    pub no_record: bool,
}

pub fn run(ctx: &mut Ctx, args: RunArgs) -> CliResult {
    let project = ctx.project()?;
    let registry = project.load_prompts();
    let (name, version) = super::named_version(
        &project,
        &registry,
        &args.name,
        args.version.as_ref(),
        args.label.as_deref(),
    )?;
    // The label asked for (not a version number), which runs record, and an experiment's
    // variant for --unit.
    let label = super::asked_label(Some(&args.name), args.label.as_deref());
    let mut served = serde_json::Map::new();
    let mut version = version;
    if let Some(l) = &label {
        served.insert("label".into(), serde_json::Value::String(l.clone()));
    }
    if let Some(unit) = &args.unit {
        let r = project.resolve_for(&name, label.as_deref(), Some(unit), ctx.now)?;
        super::warn_broken_experiments(ctx, &project);
        match (&r.experiment, &r.variant, &r.unit) {
            (Some(exp), Some(variant), Some(stored)) => {
                version = Some(variant.clone());
                served.insert("experiment".into(), exp.clone().into());
                served.insert("variant".into(), variant.to_string().into());
                let key = if stored == unit { "unit" } else { "unit_hash" };
                served.insert(key.into(), stored.clone().into());
            }
            _ => ctx.ui.warn(&format!(
                "no experiment is running on {name}:{}; --unit only applies to one",
                r.label
            )),
        }
    }
    let version = registry.resolve(&name, version.as_ref())?.clone();
    let vars = args.vars.load(&ctx.start_dir)?;
    let default_cases = project
        .prompts_dir()
        .join(&version.name)
        .join("cases.jsonl");
    // Variables on the command line without --cases are one ad-hoc run; the prompt's own
    // cases file applies only when no variables were given.
    let ad_hoc = args.no_cases || (args.cases.is_none() && args.vars.given());
    let cases = match &args.cases {
        Some(f) => load_cases(&ctx.start_dir.join(f), f, &vars)?,
        None if !ad_hoc && default_cases.is_file() => {
            let shown = PathBuf::from("prompts")
                .join(&version.name)
                .join("cases.jsonl");
            if !ctx.ui.json {
                ctx.ui.status(&format!(
                    "using the cases in {} (--var runs one ad-hoc case; --no-cases skips the file)",
                    shown.display()
                ));
            }
            load_cases(&default_cases, &shown, &vars)?
        }
        // A file that holds its own test data (GitHub Models `testData`).
        None if !ad_hoc && !version.embedded_cases.is_empty() => {
            let text: String = version
                .embedded_cases
                .iter()
                .map(|c| format!("{c}\n"))
                .collect();
            let shown = format!("{} testData", version.path.display());
            if !ctx.ui.json {
                ctx.ui.status(&format!(
                    "using the testData of {} (--var runs one ad-hoc case; --no-cases skips it)",
                    version.path.display()
                ));
            }
            ptrack::eval::parse_cases(&text, &shown, &vars, None)
                .map_err(|e| CliError::new(e.to_string()))?
        }
        None => vec![Case {
            name: "#1".to_string(),
            vars,
            expect: Vec::new(),
            expected: None,
        }],
    };
    // Render every case first: a missing variable stops before any request is sent.
    let mut work: Vec<(Case, RenderedPrompt)> = Vec::new();
    for c in &cases {
        let text = render_prompt(&version, &c.vars).map_err(|e| {
            let mut err = CliError::from(e);
            if cases.len() > 1 {
                err.message = format!("case {}: {}", c.name, err.message);
            }
            err
        })?;
        work.push((c.clone(), text));
    }
    let model = args
        .server
        .model
        .clone()
        .or_else(|| version.meta.model.clone())
        .or_else(|| project.config().defaults.model.clone())
        .ok_or_else(|| {
            CliError::new(format!("{} names no model", version.path.display()))
                .with_hint("pass --model or set [defaults] model in ptrack.toml")
        })?;
    let overrides = args.server.overrides();
    let env = |var: &str| std::env::var(var).ok();
    let trust = super::trust::load(&project)?;
    let endpoint = Endpoint::resolve(project.config(), &version, &overrides, &env, &trust)?;
    let judges = Judges::resolve(&project, &registry, &cases, &overrides, &env, &trust)?;
    let total = work.len() * args.repeat as usize;
    let execution = Execution {
        project: &project,
        version: &version,
        endpoint: &endpoint,
        model: &model,
        record: !args.no_record,
        commit: project.commit_of(&version),
        pinned_now: std::env::var("PTRACK_NOW").ok().map(|_| ctx.now),
        judges: Some(&judges),
        judge_reuse: None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        // A second Ctrl-C while stopping ends the process the usual way.
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            output::eprint_over_echo(
                "stopping after the requests in flight (Ctrl-C again to quit now)",
            );
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
    let concurrency = (args.concurrency as usize).min(total.max(1));
    if total > 1 {
        ctx.ui.status(&format!(
            "running {} {} on {} ({}, {}): {} case(s) × {} = {total} run(s){}",
            version.name,
            version.version,
            model,
            endpoint.provider.as_str(),
            request_url(&endpoint, version.is_chat()),
            cases.len(),
            args.repeat,
            if concurrency > 1 {
                format!(", {concurrency} at a time")
            } else {
                String::new()
            }
        ));
    }
    let schedule: Vec<&(Case, RenderedPrompt)> =
        (0..args.repeat).flat_map(|_| work.iter()).collect();
    let mut extra = served;
    extra.insert("concurrency".into(), serde_json::Value::from(concurrency));
    // A failed attempt (the request never reached a model) stops the batch: every later
    // request would fail the same way, and none of them is a run of the prompt.
    let attempt_failed = AtomicBool::new(false);
    let execute = |(case, text): &&(Case, RenderedPrompt)| -> Option<Outcome> {
        if attempt_failed.load(Ordering::SeqCst) {
            return None;
        }
        let o = execution.execute(case, text, extra.clone());
        if o.failure.as_ref().is_some_and(Failure::is_attempt) {
            attempt_failed.store(true, Ordering::SeqCst);
        }
        Some(o)
    };
    let mut failed = 0usize;
    let mut on_done = |o: &Option<Outcome>| {
        bar.inc(1);
        if o.as_ref().is_some_and(|o| !o.success) {
            failed += 1;
            bar.set_message(format!("{failed} failed"));
        }
    };
    // With requests in parallel, the first runs alone: its time is the baseline that tells
    // whether the server queued the parallel ones (their time then includes the wait).
    let solo = if concurrency > 1 && schedule.len() > concurrency {
        run_pool(&schedule[..1], 1, &stop, execute, &mut on_done)
    } else {
        Vec::new()
    };
    let rest = if solo.is_empty() {
        &schedule[..]
    } else {
        &schedule[1..]
    };
    let parallel = run_pool(rest, concurrency, &stop, execute, &mut on_done);
    bar.finish_and_clear();
    let solo_ms = solo
        .iter()
        .flatten()
        .find(|o| o.failure.is_none())
        .map(per_token_ms);
    let all: Vec<Outcome> = solo.into_iter().chain(parallel).flatten().collect();
    let (attempts, outcomes): (Vec<Outcome>, Vec<Outcome>) = all
        .into_iter()
        .partition(|o| o.failure.as_ref().is_some_and(Failure::is_attempt));
    let interrupted = stop.load(Ordering::SeqCst);
    let summary = Summary::new(
        &version,
        &model,
        endpoint.provider,
        outcomes,
        interrupted,
        project.config().price_of(&model),
    );
    if ctx.ui.json {
        ctx.ui.json(&summary)?;
    } else if summary.outcomes.is_empty() {
        // Nothing ran: the error below says why.
    } else if total == 1 && summary.outcomes.len() == 1 {
        let o = &summary.outcomes[0];
        if o.success {
            ctx.ui.write_text(&o.output)?;
            if !o.output.ends_with('\n') {
                ctx.ui.line("")?;
            }
        } else if !o.output.is_empty() {
            ctx.ui.write_text(&o.output)?;
            ctx.ui.line("")?;
        }
        // The shortest prefix unique in the project: what `rate` takes.
        let recorded = o
            .run_id
            .as_deref()
            .map_or("not recorded".to_string(), |id| {
                let short = project.short_ids(&[id]).remove(0);
                format!("recorded {short}")
            });
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
    let kept = |n: usize| {
        if n == 0 {
            "no run was recorded".to_string()
        } else if args.no_record {
            format!("{n} run(s) done (not recorded)")
        } else {
            format!("{n} run(s) done and recorded")
        }
    };
    if let Some(a) = attempts.first() {
        let e = a.error.clone().unwrap_or_default();
        let err = CliError::new(format!(
            "the request never reached a model: {e}\n{} (a failed attempt is not a run of the prompt)",
            kept(summary.runs)
        ));
        return Err(match classify(a.failure.as_ref(), &endpoint) {
            Some(hint) => err.with_hint(hint),
            None => err,
        });
    }
    if interrupted {
        return Err(CliError::interrupted(format!(
            "interrupted: {}, {} not started",
            kept(summary.runs),
            total - summary.runs
        )));
    }
    // The solo run is the first outcome; the rest ran in parallel.
    if let (Some(base), Some(p50)) = (
        solo_ms,
        median_per_token_ms(&summary.outcomes[1.min(summary.outcomes.len())..]),
    ) && p50 > 1.5 * base
    {
        ctx.ui.warn(&format!(
            "with --concurrency {concurrency}, each request took {:.1}× as long as the one sent alone: the server probably queued them, so the recorded times include the wait; use --concurrency 1 for latency figures",
            p50 / base
        ));
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
        return Err(match classify(o.failure.as_ref(), &endpoint) {
            Some(hint) => err.with_hint(hint),
            None => err,
        });
    }
    Ok(())
}

/// Milliseconds per completion token when the server said how many, else the whole time.
fn per_token_ms(o: &Outcome) -> f64 {
    match o.completion_tokens.or(o.token_count) {
        Some(t) if t > 0 => o.execution_time_ms / t as f64,
        _ => o.execution_time_ms,
    }
}

/// The median of [`per_token_ms`] over the executions that got an answer.
fn median_per_token_ms(outcomes: &[Outcome]) -> Option<f64> {
    let mut v: Vec<f64> = outcomes
        .iter()
        .filter(|o| o.failure.is_none() || o.failure == Some(Failure::Expectation))
        .map(per_token_ms)
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// A hint for common failures, by kind.
fn classify(failure: Option<&Failure>, endpoint: &Endpoint) -> Option<String> {
    let url = endpoint.base_url.trim_end_matches('/');
    let openai_like = url.ends_with("/v1") || url.contains("/v1/");
    Some(match failure? {
        Failure::Connect => "is the model server running? Set its address with --base-url or [providers.NAME] base_url in ptrack.toml".to_string(),
        Failure::Http { status: 404 } if endpoint.provider == Provider::Ollama && openai_like => format!(
            "{url} looks like an OpenAI-compatible API (it ends in /v1); pass --provider openai"
        ),
        Failure::Http { status: 404 } if endpoint.provider == Provider::Openai && !openai_like => format!(
            "{url} does not look like an OpenAI-compatible API (those usually end in /v1); for an Ollama server pass --provider ollama, else add /v1 to --base-url"
        ),
        Failure::Http { status: 404 } => {
            "does the server have this model? (Ollama: `ollama pull MODEL`; or pass --model)".to_string()
        }
        Failure::Http { status: 401 | 403 } => {
            "the server refused the API key: check the variable api_key_env names (OPENAI_API_KEY by default)".to_string()
        }
        Failure::Http { status: 429 } => "the server is rate-limiting: lower --concurrency, or try again later".to_string(),
        Failure::Timeout => "raise --timeout, or lower token_limit".to_string(),
        _ => return None,
    })
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
    ])
    .shrinkable("FAILED EXPECTATIONS / ERRORS", 28);
    for c in &s.cases {
        let [p50, p95] = ptrack::format::times([c.p50_ms, c.p95_ms]);
        t.row(vec![
            c.case.clone(),
            c.runs.to_string(),
            c.passed.to_string(),
            output::pct(c.pass_rate),
            p50,
            p95,
            c.failures.join("; "),
        ]);
    }
    ctx.ui.table(&t)?;
    let cost = s.cost_total.map_or(String::new(), |c| {
        format!(
            ", cost {c:.6} ({:.6} per run)",
            s.cost_per_run.unwrap_or(0.0)
        )
    });
    let [p50, p95] = ptrack::format::times([s.p50_ms, s.p95_ms]);
    let line = format!(
        "{} {}: {}/{} passed ({}), p50 {p50}, p95 {p95}{cost}",
        s.prompt,
        s.version,
        s.passed,
        s.runs,
        output::pct(s.pass_rate),
    );
    let style = if s.passed == s.runs {
        Style::Green
    } else {
        Style::Yellow
    };
    ctx.ui.line(&ctx.ui.paint(&line, style))
}
