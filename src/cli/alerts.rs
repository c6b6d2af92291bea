//! `ptrack alerts`: evaluate the alert rules of ptrack.toml once, for cron or CI, or print
//! them as Prometheus alerting rules.

use super::error::{CliError, CliResult};
use super::output::{Align, Table, dash};
use super::{Ctx, report_run_diagnostics};
use ptrack::alerts::{AlertMetric, AlertState, AlertStatus, AlertsError};

/// Evaluate the alert rules of ptrack.toml over the run logs; exit 1 when one fires
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Rules are [[alerts]] tables in ptrack.toml:

  [[alerts]]
  name = \"coaching_failing\"       # optional; default PROMPT_METRIC
  prompt = \"coaching_system\"
  label = \"production\"            # optional: only that label's version (or version = \"1.1\")
  when = \"success_rate < 0.9\"     # success_rate, p95_ms, quality, cost_per_run; < <= > >=
  window = \"1h\"                   # the last 1h (s, m, h, d), or last = 200 (runs)
  min_runs = 30                   # fewer runs in the window: not enough data, never firing

Without version or label a rule reads every version of the prompt together. A window ends now
(PTRACK_NOW when set). `ptrack serve` evaluates them as runs arrive, and notifies
`[notify] webhook = \"https://…\"` when a rule starts or stops firing.

--prometheus-rules prints the rules as a Prometheus alerting-rules file over the series
`ptrack serve` exposes at /metrics (see the README, \"Alerts\").

Exit codes: 0 no rule fires, 1 a rule fires, 2 usage or runtime error.

Examples:
  ptrack alerts
  ptrack alerts --json
  ptrack alerts --prometheus-rules     a rules file for Prometheus (promtool check rules)")]
pub struct AlertsArgs {
    /// Print the rules as a Prometheus alerting-rules file instead of evaluating them
    #[arg(long)]
    pub prometheus_rules: bool,
}

pub fn run(ctx: &mut Ctx, args: AlertsArgs) -> CliResult {
    let project = ctx.project()?;
    if args.prometheus_rules {
        if ctx.ui.json {
            return Err(CliError::new("--prometheus-rules prints YAML; drop --json"));
        }
        let rules = project.prometheus_rules().map_err(CliError::from_source)?;
        return ctx.ui.write(&rules.to_yaml());
    }
    let report = project.evaluate_alerts(ctx.now).map_err(alerts_error)?;
    report_run_diagnostics(ctx, &report.diagnostics);
    if ctx.ui.json {
        ctx.ui.json(&report)?;
    } else if report.rules.is_empty() {
        ctx.ui.line(
            "no alert rules; add [[alerts]] tables to ptrack.toml (see `ptrack alerts --help`)",
        )?;
    } else {
        let mut t = Table::new(&[
            ("RULE", Align::Left),
            ("PROMPT", Align::Left),
            ("CONDITION", Align::Left),
            ("WINDOW", Align::Left),
            ("RUNS", Align::Right),
            ("VALUE", Align::Right),
            ("STATE", Align::Left),
        ])
        // The state is what matters: on a narrow terminal the details go first.
        .droppable(&["WINDOW", "RUNS", "PROMPT"])
        .shrinkable("RULE", 8);
        for s in &report.rules {
            // Table cells are escaped as added, so the state is words, not colors.
            let state = match s.state {
                AlertState::Firing => "FIRING",
                AlertState::Ok => "ok",
                AlertState::NotEnoughData => "not enough data",
            };
            t.row(vec![
                s.name.clone(),
                target(s),
                s.condition.clone(),
                s.window_text.clone(),
                s.runs.to_string(),
                s.value.map_or_else(dash, |v| format_value(s.metric, v)),
                state.to_string(),
            ]);
        }
        ctx.ui.table(&t)?;
    }
    if report.firing > 0 {
        return Err(CliError::problems(""));
    }
    Ok(())
}

/// A library error, with the hints a lookup error gets everywhere (the closest prompt name,
/// the labels there are).
fn alerts_error(e: AlertsError) -> CliError {
    match e {
        AlertsError::Lookup { rule, source } => {
            let mut err = CliError::from(*source);
            err.message = format!("alert `{rule}` in ptrack.toml: {}", err.message);
            err
        }
        other => CliError::from_source(other),
    }
}

/// The runs a rule reads: `p`, `p 1.1`, or `p:production (1.1)`.
fn target(s: &AlertStatus) -> String {
    match (&s.label, &s.version) {
        (Some(l), Some(v)) => format!("{}:{l} ({v})", s.prompt),
        (_, Some(v)) => format!("{} {v}", s.prompt),
        (_, None) => s.prompt.clone(),
    }
}

/// A value in the units its condition uses.
fn format_value(metric: AlertMetric, v: f64) -> String {
    match metric {
        AlertMetric::SuccessRate => format!("{v:.3}"),
        AlertMetric::P95Ms => format!("{v:.0}"),
        AlertMetric::Quality => format!("{v:.2}"),
        AlertMetric::CostPerRun => format!("{v:.6}"),
    }
}
