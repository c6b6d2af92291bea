//! `ptrack experiment`: the experiments of experiments.toml, and the analysis of one.

use super::Ctx;
use super::error::{CliError, CliResult};
use super::output::{Align, Style, Table};
use ptrack::experiment::{Decision, ExperimentError, ExperimentReport, Metric};

/// Analyse an A/B experiment: figures per variant, the test, the sample-ratio check, the verdict
#[derive(Debug, clap::Args)]
#[command(after_help = "\
An experiment in experiments.toml splits a label's traffic between versions by weight:

  [brief_answers]
  prompt = \"coaching_system\"
  label = \"production\"
  variants = { \"1.1\" = 90, \"1.2\" = 10 }
  metric = \"success_rate\"        # or quality, p95_ms, cost
  start = \"2026-11-01\"
  min_effect = 0.05              # the smallest difference worth detecting

Runs belong to it when they carry `experiment` (and `variant`, `unit`): `ptrack record
--experiment NAME --unit ID`, or those fields in `record --stdin` lines.

The control is the version the label names (else the heaviest variant). Rates are tested with
Fisher's exact test or a two-proportion z-test, means with Welch's t-test, each variant against
the control at 0.05 divided by the number of other variants. The sample-ratio check is a
chi-square goodness of fit of the units per variant against the weights: p < 0.001 means
assignment or logging is broken. The test is fixed-horizon: no verdict before every variant has
the runs planned to detect min_effect with 80% power, so looking early does not inflate false
positives.

Examples:
  ptrack experiment                    every experiment and its status
  ptrack experiment brief_answers
  ptrack experiment brief_answers --json")]
pub struct ExperimentArgs {
    /// The experiment (default: list them)
    pub name: Option<String>,
}

pub fn run(ctx: &mut Ctx, args: ExperimentArgs) -> CliResult {
    let project = ctx.project()?;
    let Some(name) = &args.name else {
        let all = project.experiments();
        if !all.diagnostics.is_empty() {
            return Err(
                CliError::from_source(ExperimentError::Invalid(all.diagnostics))
                    .with_hint("fix experiments.toml; `ptrack check` lists every problem"),
            );
        }
        if ctx.ui.json {
            return ctx.ui.json(&all.list);
        }
        if all.list.is_empty() {
            return ctx.ui.line(
                "no experiments; add one to experiments.toml (see `ptrack experiment --help`)",
            );
        }
        let mut t = Table::new(&[
            ("EXPERIMENT", Align::Left),
            ("PROMPT", Align::Left),
            ("VARIANTS", Align::Left),
            ("METRIC", Align::Left),
            ("STATUS", Align::Left),
        ]);
        for e in &all.list {
            t.row(vec![
                e.name.clone(),
                format!("{}:{}", e.prompt, e.label),
                e.variants
                    .iter()
                    .map(|v| format!("{}={}", v.version, v.weight))
                    .collect::<Vec<_>>()
                    .join(" "),
                e.metric.as_str().to_string(),
                if e.is_running(ctx.now) {
                    "running".to_string()
                } else if ctx.now < e.start {
                    "not started".to_string()
                } else {
                    "ended".to_string()
                },
            ]);
        }
        return ctx.ui.table(&t);
    };
    let report = project
        .experiment_report(name, ctx.now)
        .map_err(|e| match &e {
            ExperimentError::NoExperiment { known, .. } if !known.is_empty() => {
                let hint = format!("experiments: {}", known.join(", "));
                CliError::from_source(e).with_hint(hint)
            }
            ExperimentError::NoExperiment { .. } => CliError::from_source(e)
                .with_hint("experiments.toml has no experiments; see `ptrack experiment --help`"),
            ExperimentError::Invalid(_) => CliError::from_source(e)
                .with_hint("fix experiments.toml; `ptrack check` lists every problem"),
        })?;
    if ctx.ui.json {
        ctx.ui.json(&report)?;
    } else {
        render(ctx, &report)?;
    }
    match report.decision {
        Decision::Broken => Err(CliError::problems("")),
        _ => Ok(()),
    }
}

fn primary(metric: Metric, x: Option<f64>) -> String {
    match (metric, x) {
        (_, None) => "-".to_string(),
        (Metric::SuccessRate, Some(v)) => format!("{:.1}%", v * 100.0),
        (Metric::Quality, Some(v)) => format!("{v:.2}"),
        (Metric::P95Ms, Some(v)) => format!("{v:.0} ms"),
        (Metric::Cost, Some(v)) => format!("{v:.4}"),
    }
}

fn render(ctx: &mut Ctx, r: &ExperimentReport) -> CliResult {
    let e = &r.experiment;
    let title = format!(
        "{}: {}:{} · {} · {}",
        e.name,
        e.prompt,
        e.label,
        e.metric.as_str(),
        r.status.replace('_', " ")
    );
    ctx.ui.line(&ctx.ui.paint(&title, Style::Bold))?;
    let mut t = Table::new(&[
        ("VARIANT", Align::Left),
        ("WEIGHT", Align::Right),
        ("UNITS", Align::Right),
        ("RUNS", Align::Right),
        ("PRIMARY", Align::Right),
        ("95% CI", Align::Right),
        ("Δ VS CONTROL", Align::Right),
        ("P", Align::Right),
    ])
    .droppable(&["95% CI", "WEIGHT"]);
    for v in &r.variants {
        let name = if v.control {
            format!("{} (control)", v.version)
        } else {
            v.version.to_string()
        };
        let ci = v.primary_ci.map_or("-".to_string(), |i| {
            format!(
                "{} – {}",
                primary(e.metric, Some(i.low)),
                primary(e.metric, Some(i.high))
            )
        });
        let (delta, p) = match &v.versus_control {
            None => ("-".to_string(), "-".to_string()),
            Some(t) => (
                match e.metric {
                    Metric::SuccessRate => format!("{:+.1} pts", t.difference * 100.0),
                    _ => format!("{:+.3}", t.difference),
                },
                format!(
                    "{}{}",
                    if t.p_value < 0.001 {
                        "<0.001".to_string()
                    } else {
                        format!("{:.3}", t.p_value)
                    },
                    if t.significant { " *" } else { "" }
                ),
            ),
        };
        t.row(vec![
            name,
            v.weight.to_string(),
            v.units.to_string(),
            v.metrics.runs.to_string(),
            primary(e.metric, v.primary),
            ci,
            delta,
            p,
        ]);
    }
    ctx.ui.table(&t)?;
    if let Some(s) = &r.sample_ratio {
        let line = format!(
            "sample ratio: chi-square {:.2} (df {}), p = {:.3}{}",
            s.chi2,
            s.df,
            s.p_value,
            if s.mismatch { " — MISMATCH" } else { "" }
        );
        if s.mismatch {
            ctx.ui.line(&ctx.ui.paint(&line, Style::Red))?;
        } else {
            ctx.ui.line(&line)?;
        }
    }
    if let Some(n) = r.required_runs {
        ctx.ui.line(&format!(
            "planned: {n} runs per variant to detect {} with 80% power",
            e.min_effect
        ))?;
    }
    let style = match r.decision {
        Decision::Ship => Style::Green,
        Decision::Broken => Style::Red,
        _ => Style::Bold,
    };
    ctx.ui.line(&ctx.ui.paint(&r.verdict, style))?;
    ctx.ui.line(&ctx.ui.paint(&r.method, Style::Dim))
}
