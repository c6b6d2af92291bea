//! `ptrack performance`: metrics per version and over all versions.

use super::error::CliResult;
use super::output::{self, Align, Style, Table};
use super::{Ctx, Window, report_run_diagnostics};
use ptrack::Version;
use ptrack::format::TimeUnit;
use ptrack::metrics::Metrics;
use ptrack::query::PerformanceQuery;

/// Metrics per version: runs, success rate, time percentiles, tokens, quality
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Percentiles interpolate linearly between closest ranks (numpy's default); quality is the mean over
rated runs, with their count.

Examples:
  ptrack performance coaching_system
  ptrack performance coaching_system --days 7 --version 1.1
  ptrack performance --since 2026-11-01 --json      every prompt

Without --days/--since/--until/--version the logs are read through a cache in .ptrack/cache
(git-ignored; safe to delete), so a repeated query reads only what was appended since.")]
pub struct PerformanceArgs {
    /// Prompt name (default: every prompt)
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(super::completions::prompt_names))]
    pub name: Option<String>,
    /// Only this version
    #[arg(long, short = 'v', value_parser = super::parse_version)]
    pub version: Option<Version>,
    /// Only the version this label names from labels.toml (also NAME:LABEL), instead of --version
    #[arg(long, conflicts_with = "version")]
    pub label: Option<String>,
    #[command(flatten)]
    pub window: Window,
    /// Read every log in full instead of through the cache in .ptrack/cache
    #[arg(long)]
    pub no_cache: bool,
}

pub fn run(ctx: &mut Ctx, args: PerformanceArgs) -> CliResult {
    let project = ctx.project()?;
    let (since, until) = args.window.resolve(ctx.now);
    let (name, version) = match &args.name {
        Some(n) if n.contains(':') || args.label.is_some() => {
            let registry = project.load_prompts();
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
            return Err(super::error::CliError::new("--label needs a prompt name"));
        }
        n => (n.clone(), args.version.clone()),
    };
    let model = project.performance(&PerformanceQuery {
        prompt: name,
        version,
        since,
        until,
        use_cache: !args.no_cache,
    })?;
    report_run_diagnostics(ctx, &model.diagnostics);
    if ctx.ui.json {
        return ctx.ui.json(&model);
    }
    if model.prompts.is_empty() {
        ctx.ui
            .status("no runs match; record some with `ptrack record` or widen --days/--since");
        return Ok(());
    }
    for (i, p) in model.prompts.iter().enumerate() {
        if i > 0 {
            ctx.ui.line("")?;
        }
        ctx.ui
            .line(&ctx.ui.paint(&ctx.ui.fit(&p.prompt), Style::Bold))?;
        let priced = p.all.cost_per_run.is_some()
            || p.versions.iter().any(|v| v.metrics.cost_per_run.is_some());
        let mut columns = vec![
            ("VERSION", Align::Left),
            ("RUNS", Align::Right),
            ("SUCCESS", Align::Right),
            ("MEAN", Align::Right),
            ("P50", Align::Right),
            ("P95", Align::Right),
            ("P99", Align::Right),
            ("MIN", Align::Right),
            ("MAX", Align::Right),
            ("TOKENS", Align::Right),
            ("TOTAL TOK", Align::Right),
            ("OUT LEN", Align::Right),
            ("QUALITY", Align::Right),
            ("FEEDBACK", Align::Right),
            ("FIRST RUN", Align::Left),
            ("LAST RUN", Align::Left),
        ];
        if priced {
            columns.push(("COST/RUN", Align::Right));
        }
        // On a narrow terminal the columns go in this order: spans, totals, then the tails.
        let mut t = Table::new(&columns).droppable(&[
            "FIRST RUN",
            "TOTAL TOK",
            "OUT LEN",
            "FEEDBACK",
            "LAST RUN",
            "P99",
            "MIN",
            "COST/RUN",
            "MAX",
            "MEAN",
            "TOKENS",
        ]);
        let cells = |label: &str, m: &Metrics| {
            let mut r = row(label, m);
            if priced {
                r.push(
                    m.cost_per_run
                        .map_or_else(output::dash, |c| format!("{c:.6}")),
                );
            }
            r
        };
        for v in &p.versions {
            t.row(cells(v.version.as_str(), &v.metrics));
        }
        if p.versions.len() > 1 {
            t.row(cells("all", &p.all));
        }
        ctx.ui.table(&t)?;
    }
    Ok(())
}

fn row(label: &str, m: &Metrics) -> Vec<String> {
    let unit = TimeUnit::fit(
        m.time_ms
            .iter()
            .flat_map(|t| [t.mean, t.p50, t.p95, t.p99, t.min, t.max])
            .map(Some),
    );
    let t = |f: fn(&ptrack::metrics::TimeSummary) -> f64| unit.time(m.time_ms.as_ref().map(f));
    vec![
        label.to_string(),
        m.runs.to_string(),
        output::pct(m.success_rate),
        t(|t| t.mean),
        t(|t| t.p50),
        t(|t| t.p95),
        t(|t| t.p99),
        t(|t| t.min),
        t(|t| t.max),
        output::num(m.tokens_mean, 1),
        if m.tokens_mean.is_some() {
            m.tokens_total.to_string()
        } else {
            output::dash()
        },
        output::num(m.output_length_mean, 0),
        output::quality(m.quality_mean, m.quality_n),
        m.feedback_count.to_string(),
        output::time(m.first_run),
        output::time(m.last_run),
    ]
}
