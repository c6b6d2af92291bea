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
use ptrack::eval::{Case, Execution, Failure, Judges, Summary, load_cases, run_pool};
use ptrack::provider::{Endpoint, request_url};
use ptrack::render::render;

/// Run a prompt version against a model server and record each execution
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Providers and defaults come from ptrack.toml ([providers.ollama] base_url, [providers.openai]
base_url and api_key_env); an API key is read from the environment only. Eval cases (--cases, or
prompts/NAME/cases.jsonl when it exists) hold one case per line:
  {\"name\": \"short\", \"vars\": {…}, \"expected\": \"…\", \"expect\": [{\"contains\": \"…\"}, …]}
Expectations: contains, icontains, not_contains, equals, starts_with, regex (text); json (true);
json_schema (a schema, or a schema file beside the cases); similar (0 to 1, to `expected`);
max_ms, max_tokens (numbers).
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
    #[arg(long, short = 'v', value_parser = super::parse_version)]
    pub version: Option<Version>,
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
    #[command(flatten)]
    pub server: ServerArgs,
    /// Do not record the runs
    #[arg(long)]
    pub no_record: bool,
}

pub fn run(ctx: &mut Ctx, args: RunArgs) -> CliResult {
    let project = ctx.project()?;
    let registry = project.load_prompts();
    let version = registry.resolve(&args.name, args.version.as_ref())?.clone();
    let vars = args.vars.load(&ctx.start_dir)?;
    let default_cases = project
        .prompts_dir()
        .join(&version.name)
        .join("cases.jsonl");
    let cases = match &args.cases {
        Some(f) => load_cases(&ctx.start_dir.join(f), f, &vars)?,
        None if default_cases.is_file() => {
            let shown = PathBuf::from("prompts")
                .join(&version.name)
                .join("cases.jsonl");
            load_cases(&default_cases, &shown, &vars)?
        }
        None => vec![Case {
            name: "#1".to_string(),
            vars,
            expect: Vec::new(),
            expected: None,
        }],
    };
    // Render every case first: a missing variable stops before any request is sent.
    let mut work: Vec<(Case, String)> = Vec::new();
    for c in &cases {
        let text = render(&version, &c.vars).map_err(|e| {
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
    let endpoint = Endpoint::resolve(project.config(), &version, &overrides, &env)?;
    let judges = Judges::resolve(&project, &registry, &cases, &overrides, &env)
        .map_err(CliError::from_source)?;
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
    let schedule: Vec<&(Case, String)> = (0..args.repeat).flat_map(|_| work.iter()).collect();
    let mut failed = 0usize;
    let outcomes = run_pool(
        &schedule,
        args.concurrency as usize,
        &stop,
        |(case, text)| execution.execute(case, text),
        |o| {
            bar.inc(1);
            if !o.success {
                failed += 1;
                bar.set_message(format!("{failed} failed"));
            }
        },
    );
    bar.finish_and_clear();
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
        return Err(match classify(o.failure.as_ref()) {
            Some(hint) => err.with_hint(hint),
            None => err,
        });
    }
    if interrupted {
        return Err(CliError::interrupted(format!(
            "interrupted: {} run(s) done and kept",
            summary.runs
        )));
    }
    Ok(())
}

/// A hint for common failures, by kind.
fn classify(failure: Option<&Failure>) -> Option<&'static str> {
    match failure? {
        Failure::Connect => Some(
            "is the model server running? Set its address with --base-url or [providers.NAME] base_url in ptrack.toml",
        ),
        Failure::Http { status: 404 } => {
            Some("does the server have this model? (Ollama: `ollama pull MODEL`; or pass --model)")
        }
        Failure::Timeout => Some("raise --timeout, or lower token_limit"),
        _ => None,
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
