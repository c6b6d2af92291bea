//! `ptrack bisect`: the first commit that made a prompt worse, by paired evals.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::error::{CliError, CliResult};
use super::output::{self, Align, Style, Table};
use super::{Ctx, ServerArgs};
use ptrack::eval::Judges;
use ptrack::eval::bisect::{BisectError, BisectQuery, Metric, bisect};
use ptrack::eval::paired::BatchOptions;
use ptrack::provider::Endpoint;

/// Find the first commit whose latest version of a prompt is worse than at a good commit
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Among the first-parent commits after --good up to --bad that changed prompts/NAME/, binary-search
for the first one whose latest version of NAME is worse than the latest version at --good: each
step is a paired eval (as `ptrack eval` runs it) of the good text against that commit's text on
the same cases (prompts/NAME/cases.jsonl at --bad, or --cases). Worse means the metric moved the
wrong way significantly (p < 0.05, McNemar for rates, Wilcoxon for quality and p50), or by more
than --threshold (points for rates and quality, ms for p50). At most ⌈log2(n)⌉ + 1 commits are
evaluated for n candidates; recorded answers are reused.

Examples:
  ptrack bisect coaching_system --good 2d1ec60
  ptrack bisect coaching_system --good HEAD~8 --metric pass-rate --threshold 20 --repeat 3")]
pub struct BisectArgs {
    /// Prompt name
    pub name: String,
    /// A revision where the prompt was good
    #[arg(long, value_name = "REV")]
    pub good: String,
    /// A later revision where it is bad
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub bad: String,
    /// What worse is measured by
    #[arg(long, value_enum, default_value = "pass-rate")]
    pub metric: MetricArg,
    /// Worse by more than X (points for rates and quality, ms for p50) instead of by the test
    #[arg(long, value_name = "X")]
    pub threshold: Option<f64>,
    /// Eval cases, one JSON object per line (default: prompts/NAME/cases.jsonl at --bad)
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
    /// Seed of the order of the pairs
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Send every request, even when the logs hold an answer to it
    #[arg(long)]
    pub fresh: bool,
}

/// `--metric` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MetricArg {
    /// Share of executions that passed every expectation
    #[value(alias = "pass_rate")]
    PassRate,
    /// Share of executions whose request succeeded
    #[value(alias = "success_rate")]
    SuccessRate,
    /// Mean judge score
    Quality,
    /// Median time
    P50,
}

pub fn run(ctx: &mut Ctx, args: BisectArgs) -> CliResult {
    let project = ctx.project()?;
    ptrack::project::check_name(&args.name)?;
    let overrides = args.server.overrides();
    let env = |var: &str| std::env::var(var).ok();
    let trust = super::trust::load(&project)?;
    let target = |v: &ptrack::PromptVersion| -> Result<(Endpoint, String), String> {
        let e = Endpoint::resolve(project.config(), v, &overrides, &env, &trust)
            .map_err(|e| CliError::from(e).one_line())?;
        let model = args
            .server
            .model
            .clone()
            .or_else(|| v.meta.model.clone())
            .or_else(|| project.config().defaults.model.clone())
            .ok_or_else(|| format!("{} names no model (pass --model)", v.path.display()))?;
        Ok((e, model))
    };
    let recorded = if args.fresh {
        Default::default()
    } else {
        project.recorded_requests()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let registry = project.load_prompts();
    let judges = |cases: &[ptrack::eval::Case]| {
        Judges::resolve(&project, &registry, cases, &overrides, &env, &trust)
            .map_err(|e| CliError::from(e).one_line())
    };
    let query = BisectQuery {
        prompt: args.name.clone(),
        good: args.good.clone(),
        bad: args.bad.clone(),
        metric: match args.metric {
            MetricArg::PassRate => Metric::PassRate,
            MetricArg::SuccessRate => Metric::SuccessRate,
            MetricArg::Quality => Metric::Quality,
            MetricArg::P50 => Metric::P50,
        },
        threshold: args.threshold,
        cases: args
            .cases
            .as_ref()
            .map(|f| (ctx.start_dir.join(f), f.clone())),
    };
    let opts = BatchOptions {
        repeat: args.repeat,
        seed: args.seed,
        concurrency: args.concurrency as usize,
        fresh: args.fresh,
        record: true,
        stop: &stop,
        now: ctx.now,
        pinned_now: std::env::var("PTRACK_NOW").ok().map(|_| ctx.now),
        judges: None,
    };
    let json = ctx.ui.json;
    let color = ctx.ui.stderr_color;
    let result = bisect(&project, &query, target, judges, &opts, &recorded, |s| {
        if !json {
            output::eprint_line(
                color,
                &format!(
                    "{} {} ({}): {}",
                    s.commit.short,
                    if s.worse { "bad " } else { "good" },
                    s.version,
                    s.verdict
                ),
            );
        }
    })
    .map_err(|e| match e {
        BisectError::Plan(p) => CliError::from_source(p),
        BisectError::Batch(b) => CliError::from_source(b),
        other => CliError::from_source(other),
    })?;
    if ctx.ui.json {
        return ctx.ui.json(&result);
    }
    match &result.first_bad {
        Some(c) => {
            ctx.ui.line(&ctx.ui.paint(
                &format!("first bad commit: {} {}", c.short, c.subject),
                Style::Bold,
            ))?;
            ctx.ui.line(&format!(
                "author {} · {}",
                c.author,
                c.time.format("%Y-%m-%d %H:%M")
            ))?;
            if let Some(d) = &result.diff {
                ctx.ui.line(&format!("{} → {}", d.from, d.to))?;
                for p in &d.params {
                    ctx.ui.line(&format!("  {}", p.describe()))?;
                }
                ctx.ui.write(&d.unified)?;
            }
        }
        None => ctx.ui.line(&format!(
            "{} at {} is not worse than at {} by {:?}: nothing to bisect",
            result.prompt, args.bad, args.good, result.metric
        ))?,
    }
    ctx.ui.line("")?;
    let mut t = Table::new(&[
        ("STEP", Align::Right),
        ("COMMIT", Align::Left),
        ("VERSION", Align::Left),
        ("GOOD", Align::Right),
        ("HERE", Align::Right),
        ("P", Align::Right),
        ("VERDICT", Align::Left),
        ("SUBJECT", Align::Left),
    ])
    .shrinkable("SUBJECT", 20);
    let fmt = |values: [Option<f64>; 2]| match query.metric {
        Metric::PassRate | Metric::SuccessRate => values.map(output::pct),
        Metric::Quality => values.map(|v| output::num(v, 1)),
        Metric::P50 => ptrack::format::times(values),
    };
    for (i, s) in result.steps.iter().enumerate() {
        let [good, here] = fmt([s.good_value, s.value]);
        t.row(vec![
            (i + 1).to_string(),
            s.commit.short.clone(),
            s.version.clone(),
            good,
            here,
            s.p_value.map_or_else(output::dash, ptrack::format::p_value),
            if s.worse { "bad" } else { "good" }.to_string(),
            s.commit.subject.clone(),
        ]);
    }
    ctx.ui.table(&t)?;
    ctx.ui.status(&format!(
        "{} candidate commit(s), {} evaluated",
        result.candidates,
        result.steps.len()
    ));
    Ok(())
}
