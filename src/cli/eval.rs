//! `ptrack eval`: the paired evidence for a prompt change, base against head on the same cases.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::error::{CliError, CliResult};
use super::output::{self, Align, Style, Table};
use super::{Ctx, EvalGateArgs, ServerArgs};
use ptrack::Version;
use ptrack::eval::paired::{
    BatchError, BatchOptions, EvalModel, FlipDirection, PairedQuery, PairedSummary, PlanError,
    SideFigures, SideTarget, run_batch,
};
use ptrack::eval::{Failure, Judges};
use ptrack::labels::VersionSpec;
use ptrack::provider::{Endpoint, request_url};

/// Run the base and head versions of changed prompts on the same cases, pair by pair
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Without --versions, every prompt version changed between the base (default: the merge base with
the default branch, as in `report`) and the head (default: the working tree) runs against what a
reviewer compares it with: an added version against the latest version at the base, a version
edited in place against its own file at the base (its text read from git). Both sides run the
cases of prompts/NAME/cases.jsonl at the head, each case × repeat as a pair sent back to back, in
an order shuffled by --seed. Every execution is recorded as a run with `eval`, `side`, `case`,
`sample` and `request_sha`; a request already answered in the logs is reused, not sent again,
unless --fresh.

Statistics: McNemar's exact test on the pairs whose pass/fail differs, the Wilcoxon signed-rank
test on the pairs' times. Exit codes: 0 evaluated, 1 an eval gate failed (min_pass_rate,
max_new_failures, max_pass_rate_drop_pts from [report] in ptrack.toml or the flags), 2 error (no
cases, a server that cannot be reached: a failed attempt, never counted as a failed run).

Examples:
  ptrack eval --base origin/main                        every changed prompt
  ptrack eval coaching_system --versions 1.0,1.1 --repeat 3
  ptrack eval coaching_system --provider openai --base-url http://127.0.0.1:8080/v1 --json")]
pub struct EvalArgs {
    /// Prompts to evaluate (default: every prompt changed between base and head)
    pub names: Vec<String>,
    /// Base revision (default: the merge base with the default branch)
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// Head revision (default: the working tree)
    #[arg(long, value_name = "REV")]
    pub head: Option<String>,
    /// Compare two versions (or labels) of the head instead, A (base side) then B
    #[arg(long, value_name = "A,B", value_parser = parse_pair, requires = "names", conflicts_with_all = ["base"])]
    pub versions: Option<(VersionSpec, VersionSpec)>,
    /// Eval cases, one JSON object per line (default: prompts/NAME/cases.jsonl at the head)
    #[arg(long, value_name = "FILE")]
    pub cases: Option<PathBuf>,
    /// Run each case N times on each side
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,
    /// Pairs in flight at once
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Seed of the order of the pairs (default: from the clock; recorded with the batch)
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Send every request, even when the logs hold an answer to it
    #[arg(long)]
    pub fresh: bool,
    /// Record nothing (runs nor batch)
    #[arg(long)]
    pub no_record: bool,
    #[command(flatten)]
    pub gates: EvalGateArgs,
}

fn parse_pair(s: &str) -> Result<(VersionSpec, VersionSpec), String> {
    let (a, b) = s
        .split_once(',')
        .ok_or_else(|| format!("expected two versions as A,B, got {s:?}"))?;
    let v = |x: &str| x.trim().parse::<VersionSpec>().map_err(|e| e.to_string());
    Ok((v(a)?, v(b)?))
}

/// `--versions A,B` as numbers: labels are looked up in labels.toml (`latest` included).
fn resolve_pair(
    project: &ptrack::Project,
    names: &[String],
    pair: Option<&(VersionSpec, VersionSpec)>,
) -> CliResult<Option<(Version, Version)>> {
    let Some((a, b)) = pair else {
        return Ok(None);
    };
    let Some(name) = names.first() else {
        return Ok(None);
    };
    let registry = project.load_prompts();
    let one = |spec: &VersionSpec| -> CliResult<Version> {
        match project.resolve_spec(&registry, name, Some(spec))? {
            Some(v) => Ok(v),
            None => Ok(registry.resolve(name, None)?.version.clone()),
        }
    };
    Ok(Some((one(a)?, one(b)?)))
}

pub fn run(ctx: &mut Ctx, args: EvalArgs) -> CliResult {
    let summaries = evaluate(ctx, &args)?;
    let project = ctx.project()?;
    // The eval gates of [report], or the flags: exit 1 when one fails.
    let gates = project.config().report.overridden_by(&args.gates.gates());
    gates.validate().map_err(CliError::new)?;
    let failed: Vec<String> = summaries
        .iter()
        .flat_map(|s| ptrack::report::eval_gate_results(&gates, s))
        .filter(|g| !g.passed)
        .map(|g| {
            ctx.ui.warn(&format!(
                "gate {} failed for {} {}: {}",
                g.gate,
                g.prompt,
                g.version.as_deref().unwrap_or(""),
                g.detail
            ));
            format!(
                "{} ({} {})",
                g.gate,
                g.prompt,
                g.version.as_deref().unwrap_or("")
            )
        })
        .collect();
    if !failed.is_empty() {
        return Err(CliError::problems(format!(
            "gate failed: {}",
            failed.join(", ")
        )));
    }
    Ok(())
}

/// Run the batches `args` asks for and print them; the gates are left to the caller.
pub fn evaluate(ctx: &mut Ctx, args: &EvalArgs) -> CliResult<Vec<PairedSummary>> {
    let (summaries, interrupted) = run_batches(ctx, args)?;
    if ctx.ui.json {
        ctx.ui.json(&EvalModel { evals: &summaries })?;
    } else {
        for (i, s) in summaries.iter().enumerate() {
            if i > 0 {
                ctx.ui.line("")?;
            }
            print_summary(ctx, s)?;
        }
    }
    if interrupted {
        return Err(CliError::interrupted(
            "interrupted: the pairs done are kept",
        ));
    }
    Ok(summaries)
}

/// Run the batches `args` asks for without printing them: the summaries, and whether Ctrl-C
/// stopped the run (the pairs done are recorded).
pub fn run_batches(ctx: &mut Ctx, args: &EvalArgs) -> CliResult<(Vec<PairedSummary>, bool)> {
    let project = ctx.project()?;
    let plans = project
        .plan_eval(&PairedQuery {
            prompts: args.names.clone(),
            base: args.base.clone(),
            head: args.head.clone(),
            versions: resolve_pair(&project, &args.names, args.versions.as_ref())?,
            cases: args
                .cases
                .as_ref()
                .map(|f| (ctx.start_dir.join(f), f.clone())),
        })
        .map_err(plan_error)?;
    let seed = args
        .seed
        .unwrap_or_else(|| ctx.now.timestamp_nanos_opt().unwrap_or(0).unsigned_abs());
    let recorded = if args.fresh {
        Default::default()
    } else {
        project.recorded_requests()
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        });
    }
    let overrides = args.server.overrides();
    let env = |var: &str| std::env::var(var).ok();
    let trust = super::trust::load(&project)?;
    let registry = project.load_prompts();
    let mut summaries = Vec::new();
    for plan in &plans {
        let judges = Judges::resolve(&project, &registry, &plan.cases, &overrides, &env, &trust)?;
        let mut targets = Vec::new();
        for side in [&plan.base, &plan.head] {
            let endpoint =
                Endpoint::resolve(project.config(), &side.prompt, &overrides, &env, &trust)?;
            let model = args
                .server
                .model
                .clone()
                .or_else(|| side.prompt.meta.model.clone())
                .or_else(|| project.config().defaults.model.clone())
                .ok_or_else(|| {
                    CliError::new(format!("{} names no model", side.prompt.path.display()))
                        .with_hint("pass --model or set [defaults] model in ptrack.toml")
                })?;
            targets.push((endpoint, model));
        }
        let pairs = plan.cases.len() * args.repeat as usize;
        ctx.ui.status(&format!(
            "evaluating {} {} ({}) against {} ({}): {} case(s) × {} = {pairs} pair(s) on {} ({}, {})",
            plan.prompt,
            plan.head.version,
            plan.head.at,
            plan.base.version,
            plan.base.at,
            plan.cases.len(),
            args.repeat,
            targets[1].1,
            targets[1].0.provider.as_str(),
            request_url(&targets[1].0, plan.head.prompt.is_chat()),
        ));
        let bar = if std::io::stderr().is_terminal() && !ctx.ui.json && pairs > 1 {
            let b = indicatif::ProgressBar::new(pairs as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} {pos}/{len} pairs [{bar:30}] {elapsed} {msg}",
            ) {
                b.set_style(style.progress_chars("=> "));
            }
            b
        } else {
            indicatif::ProgressBar::hidden()
        };
        let mut flips = 0usize;
        let result = run_batch(
            &project,
            plan,
            [
                SideTarget {
                    endpoint: &targets[0].0,
                    model: &targets[0].1,
                },
                SideTarget {
                    endpoint: &targets[1].0,
                    model: &targets[1].1,
                },
            ],
            &BatchOptions {
                repeat: args.repeat,
                seed,
                concurrency: args.concurrency as usize,
                fresh: args.fresh,
                record: !args.no_record,
                stop: &stop,
                now: ctx.now,
                pinned_now: std::env::var("PTRACK_NOW").ok().map(|_| ctx.now),
                judges: Some(&judges),
            },
            &recorded,
            |p| {
                bar.inc(1);
                if p.base.success != p.head.success {
                    flips += 1;
                    bar.set_message(format!("{flips} flipped"));
                }
            },
        );
        bar.finish_and_clear();
        summaries.push(result.map_err(batch_error)?);
        if stop.load(Ordering::SeqCst) {
            break;
        }
    }
    let interrupted = stop.load(Ordering::SeqCst);
    Ok((summaries, interrupted))
}

fn plan_error(e: PlanError) -> CliError {
    match e {
        PlanError::Git(g) => g.into(),
        PlanError::Lookup(l) => l.into(),
        PlanError::Cases(c) => c.into(),
        e @ PlanError::NoCases { .. } => CliError::from_source(e).with_hint(
            "write one case per line, e.g. {\"name\": \"short\", \"vars\": {…}, \"expect\": [{\"contains\": \"…\"}]}, or pass --cases FILE",
        ),
        e @ PlanError::NothingChanged { .. } => CliError::from_source(e)
            .with_hint("pass --base REV, or NAME --versions A,B to compare two versions"),
        e @ PlanError::NoBase => CliError::from_source(e)
            .with_hint("pass --base REV, or NAME --versions A,B to compare two versions"),
    }
}

fn batch_error(e: BatchError) -> CliError {
    let hint = match &e {
        BatchError::Attempt {
            failure: Failure::Connect,
            ..
        } => Some(
            "is the model server running? Set its address with --base-url or [providers.NAME] base_url in ptrack.toml",
        ),
        BatchError::Attempt {
            failure: Failure::Http { status: 404 },
            ..
        } => Some("does the server have this model, at this API? (--model, --provider)"),
        BatchError::Render { .. } => {
            Some("give the case the variable in `vars`, or give it a default under `variables`")
        }
        _ => None,
    };
    let err = CliError::from_source(e);
    match hint {
        Some(h) => err.with_hint(h),
        None => err,
    }
}

pub(super) fn print_summary(ctx: &mut Ctx, s: &PairedSummary) -> CliResult {
    ctx.ui.line(&ctx.ui.paint(
        &format!(
            "{} {} vs {}: {} case(s) × {} = {} pair(s), seed {}",
            s.prompt, s.head.version, s.base.version, s.cases, s.repeat, s.pairs, s.seed
        ),
        Style::Bold,
    ))?;
    let mut t = Table::new(&[
        ("SIDE", Align::Left),
        ("VERSION", Align::Left),
        ("FROM", Align::Left),
        ("RUNS", Align::Right),
        ("PASS RATE", Align::Right),
        ("PASS^K", Align::Right),
        ("PASS@K", Align::Right),
        ("P50", Align::Right),
        ("P95", Align::Right),
        ("TOKENS", Align::Right),
        ("QUALITY", Align::Right),
        ("COST/RUN", Align::Right),
        ("REUSED", Align::Right),
    ])
    .droppable(&["REUSED", "FROM", "TOKENS", "COST/RUN", "PASS@K"]);
    // One time unit for both sides, so base and head read alike.
    let unit = ptrack::format::TimeUnit::fit(
        [&s.base_figures, &s.head_figures]
            .into_iter()
            .flat_map(|f| [f.p50_ms, f.p95_ms]),
    );
    let row = |name: &str, v: &Version, at: &str, f: &SideFigures| {
        vec![
            name.to_string(),
            v.to_string(),
            at.to_string(),
            f.runs.to_string(),
            output::pct(f.pass_rate),
            output::pct(f.pass_all_k),
            output::pct(f.pass_any_k),
            unit.time(f.p50_ms),
            unit.time(f.p95_ms),
            output::num(f.tokens_mean, 1),
            output::quality(f.quality_mean, f.quality_n),
            f.cost_per_run
                .map_or_else(output::dash, |c| format!("{c:.6}")),
            f.reused.to_string(),
        ]
    };
    t.row(row("base", &s.base.version, &s.base.at, &s.base_figures));
    t.row(row("head", &s.head.version, &s.head.at, &s.head_figures));
    ctx.ui.table(&t)?;
    ctx.ui.line(&s.verdict)?;
    for f in &s.flips {
        let (label, style) = match f.direction {
            FlipDirection::Regression => ("regression", Style::Red),
            FlipDirection::Fix => ("fix", Style::Green),
        };
        ctx.ui.line(&format!(
            "{} {} (sample {}): base {} · head {}",
            ctx.ui.paint(label, style),
            f.case,
            f.sample,
            outcome_text(&f.base_failed),
            outcome_text(&f.head_failed),
        ))?;
        ctx.ui.line(&format!(
            "  base: {}",
            output::truncate(&f.base_output, 100)
        ))?;
        ctx.ui.line(&format!(
            "  head: {}",
            output::truncate(&f.head_output, 100)
        ))?;
    }
    Ok(())
}

fn outcome_text(failed: &[String]) -> String {
    if failed.is_empty() {
        "passed".to_string()
    } else {
        format!("failed {}", failed.join(", "))
    }
}
