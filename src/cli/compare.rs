//! `ptrack compare`: versions side by side, and A vs B with significance tests.

use std::path::Path;

use serde::Serialize;

use super::error::{CliError, CliResult};
use super::output::{self, Align, Table};
use super::{Ctx, Window, find_prompt, report_run_diagnostics};
use ptrack::Version;
use ptrack::metrics::{Comparison, VersionMetrics, compare, group_runs};
use ptrack::runlog::RunFacts;
use ptrack::runlog::RunSet;
use ptrack::stats::ProportionMethod;

/// Compare versions side by side; with A B, test whether B differs from A
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Tests: Welch's t-test for execution time and quality; for success rate Fisher's exact test when an
expected cell count is below 5, else a two-proportion z-test. Significant means p < 0.05.

Examples:
  ptrack compare coaching_system               every version, each against the one before
  ptrack compare coaching_system 1.0 1.1       1.1 against 1.0, with p-values
  ptrack compare coaching_system 1.0 1.1 --days 14 --json")]
pub struct CompareArgs {
    /// Prompt name
    pub name: String,
    /// Baseline version
    #[arg(requires = "b")]
    pub a: Option<String>,
    /// Candidate version
    pub b: Option<String>,
    #[command(flatten)]
    pub window: Window,
}

#[derive(Serialize)]
struct CompareModel {
    prompt: String,
    versions: Vec<VersionMetrics>,
    /// Each version against its predecessor, or just B against A.
    comparisons: Vec<ComparisonView>,
}

#[derive(Serialize)]
struct ComparisonView {
    #[serde(flatten)]
    comparison: Comparison,
    verdict: String,
}

pub fn run(ctx: &mut Ctx, args: CompareArgs) -> CliResult {
    let project = ctx.project()?;
    let registry = project.load_prompts();
    let prompt = find_prompt(&registry, &args.name)?;
    let filter = args.window.filter(ctx.now, Some(&prompt.name), None);
    let runs = RunSet::load(&project.runs_dir(), Path::new("runs"), &filter);
    report_run_diagnostics(ctx, &runs.diagnostics);
    let mut groups = group_runs(&runs.runs)
        .remove(&prompt.name)
        .unwrap_or_default();
    // Versions with files but no runs still show, with zero runs.
    for v in &prompt.versions {
        groups.entry(v.version.clone()).or_default();
    }
    let pairs: Vec<(Version, Version)> = match (&args.a, &args.b) {
        (Some(a), Some(b)) => {
            let (a, b): (Version, Version) = (a.parse()?, b.parse()?);
            for v in [&a, &b] {
                if !groups.contains_key(v) {
                    let list: Vec<String> = groups.keys().map(ToString::to_string).collect();
                    return Err(CliError::new(format!(
                        "prompt `{}` has no version {v}",
                        prompt.name
                    ))
                    .with_hint(format!("versions: {}", list.join(", "))));
                }
            }
            groups.retain(|v, _| *v == a || *v == b);
            vec![(a, b)]
        }
        _ => {
            let keys: Vec<Version> = groups.keys().cloned().collect();
            keys.windows(2)
                .map(|w| (w[0].clone(), w[1].clone()))
                .collect()
        }
    };
    let empty: Vec<&RunFacts> = Vec::new();
    let get = |v: &Version| groups.get(v).unwrap_or(&empty).as_slice();
    let comparisons: Vec<ComparisonView> = pairs
        .iter()
        .map(|(a, b)| {
            let c = compare(&prompt.name, (a, get(a)), (b, get(b)));
            ComparisonView {
                verdict: c.verdict(),
                comparison: c,
            }
        })
        .collect();
    let versions: Vec<VersionMetrics> = groups
        .iter()
        .map(|(v, rs)| VersionMetrics {
            prompt: prompt.name.clone(),
            version: v.clone(),
            metrics: ptrack::metrics::Metrics::compute(rs.iter().copied()),
        })
        .collect();
    let model = CompareModel {
        prompt: prompt.name.clone(),
        versions,
        comparisons,
    };
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
    ]);
    let mut prev: Option<&VersionMetrics> = None;
    for v in &model.versions {
        let m = &v.metrics;
        let delta = |f: fn(&ptrack::metrics::Metrics) -> Option<f64>,
                     scale: f64,
                     dec: usize,
                     unit: &str| {
            match (prev.and_then(|p| f(&p.metrics)), f(m)) {
                (Some(a), Some(b)) => output::signed((b - a) * scale, dec, unit),
                _ => output::dash(),
            }
        };
        t.row(vec![
            v.version.to_string(),
            m.runs.to_string(),
            output::pct(m.success_rate),
            delta(|m| m.success_rate, 100.0, 1, " pts"),
            output::ms(m.time_ms.map(|t| t.p50)),
            delta(|m| m.time_ms.map(|t| t.p50), 1.0, 0, " ms"),
            output::ms(m.time_ms.map(|t| t.p95)),
            output::quality(m.quality_mean, m.quality_n),
            delta(|m| m.quality_mean, 1.0, 1, ""),
        ]);
        prev = Some(v);
    }
    ctx.ui.write(&t.render(ctx.ui.color))?;
    if !model.comparisons.is_empty() {
        ctx.ui.line("")?;
    }
    for c in &model.comparisons {
        ctx.ui.line(&c.verdict)?;
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
                format!("{:.3}", x.statistic),
                format!("{:.1}", x.df),
                format!("{:.6}", x.p_value),
            ]);
        }
    }
    if !t.is_empty() {
        ctx.ui.line("")?;
        ctx.ui.write(&t.render(ctx.ui.color))?;
    }
    Ok(())
}
