//! `ptrack compare`: versions side by side, and A vs B with significance tests.

use super::error::CliResult;
use super::output::{self, Align, Table};
use super::{Ctx, Window, report_run_diagnostics};
use ptrack::Version;
use ptrack::format::TimeUnit;
use ptrack::labels::VersionSpec;
use ptrack::metrics::{Comparison, Deltas};
use ptrack::query::CompareQuery;
use ptrack::stats::ProportionMethod;

/// Compare versions side by side; with A B, test whether B differs from A
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Tests: Welch's t-test for execution time and quality; for success rate Fisher's exact test when an
expected cell count is below 5, else a two-proportion z-test. Significant means p < 0.05.

Examples:
  ptrack compare coaching_system               every version, each against the one before
  ptrack compare coaching_system 1.0 1.1       1.1 against 1.0, with p-values
  ptrack compare coaching_system production 1.1  a label (labels.toml) against a version
  ptrack compare coaching_system 1.0 1.1 --days 14 --json")]
pub struct CompareArgs {
    /// Prompt name
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(super::completions::prompt_names))]
    pub name: String,
    /// Baseline version (or label)
    #[arg(requires = "b")]
    pub a: Option<VersionSpec>,
    /// Candidate version (or label)
    pub b: Option<VersionSpec>,
    #[command(flatten)]
    pub window: Window,
}

pub fn run(ctx: &mut Ctx, args: CompareArgs) -> CliResult {
    let project = ctx.project()?;
    let (since, until) = args.window.resolve(ctx.now);
    let model = project.compare(&CompareQuery {
        prompt: args.name.clone(),
        versions: match (&args.a, &args.b) {
            (Some(a), Some(b)) => {
                let registry = project.load_prompts();
                let one = |spec: &VersionSpec| -> CliResult<Version> {
                    Ok(project.version_of_spec(&registry, &args.name, spec)?)
                };
                Some((one(a)?, one(b)?))
            }
            _ => None,
        },
        since,
        until,
    })?;
    report_run_diagnostics(ctx, &model.diagnostics);
    if ctx.ui.json {
        return ctx.ui.json(&model);
    }
    let mut t = Table::new(&[
        ("VERSION", Align::Left),
        ("RUNS", Align::Right),
        ("SUCCESS", Align::Right),
        ("Δ SUCCESS", Align::Right),
        ("P50", Align::Right),
        ("Δ P50", Align::Right),
        ("P95", Align::Right),
        ("QUALITY", Align::Right),
        ("Δ QUALITY", Align::Right),
    ])
    .droppable(&["P95", "RUNS"]);
    for row in &model.versions {
        let (v, m) = (&row.metrics.version, &row.metrics.metrics);
        let (p50, p95) = (m.time_ms.map(|t| t.p50), m.time_ms.map(|t| t.p95));
        let p50_delta = row.delta.as_ref().and_then(|d| d.p50_ms);
        let unit = TimeUnit::fit([p50, p50_delta, p95]);
        let delta = |f: fn(&Deltas) -> Option<f64>, dec: usize, unit: &str| {
            row.delta
                .as_ref()
                .and_then(f)
                .map_or_else(output::dash, |d| output::signed(d, dec, unit))
        };
        t.row(vec![
            v.to_string(),
            m.runs.to_string(),
            output::pct(m.success_rate),
            delta(|d| d.success_pts, 1, " pts"),
            unit.time(p50),
            p50_delta.map_or_else(output::dash, |d| unit.delta(d)),
            unit.time(p95),
            output::quality(m.quality_mean, m.quality_n),
            delta(|d| d.quality, 1, ""),
        ]);
    }
    ctx.ui.table(&t)?;
    if !model.comparisons.is_empty() {
        ctx.ui.line("")?;
    }
    for c in &model.comparisons {
        // A verdict is prose: on a terminal it breaks between its clauses, never inside a figure.
        let text = match ctx.ui.width {
            Some(w) => output::wrap(&c.verdict, w, "; ", "    "),
            None => c.verdict.clone(),
        };
        ctx.ui.line(&text)?;
        if args.a.is_some() {
            detail(ctx, &c.comparison)?;
        }
    }
    Ok(())
}

fn detail(ctx: &mut Ctx, c: &Comparison) -> CliResult {
    let mut t = Table::new(&[
        ("METRIC", Align::Left),
        ("TEST", Align::Left),
        ("STATISTIC", Align::Right),
        ("DF", Align::Right),
        ("P", Align::Right),
    ]);
    if let Some(s) = &c.success_test {
        let name = match s.method {
            ProportionMethod::FisherExact => "Fisher's exact",
            ProportionMethod::ZTest => "two-proportion z",
        };
        t.row(vec![
            "success rate".into(),
            name.into(),
            output::num(s.statistic, 3),
            output::dash(),
            format!("{:.6}", s.p_value),
        ]);
    }
    for (label, test) in [
        ("execution time", &c.time_test),
        ("quality", &c.quality_test),
    ] {
        if let Some(x) = test {
            t.row(vec![
                label.into(),
                "Welch's t".into(),
                output::num(Some(x.statistic), 3),
                output::num(Some(x.df), 1),
                format!("{:.6}", x.p_value),
            ]);
        }
    }
    if !t.is_empty() {
        ctx.ui.line("")?;
        ctx.ui.table(&t)?;
    }
    Ok(())
}
