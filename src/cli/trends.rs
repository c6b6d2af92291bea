//! `ptrack trends`: metrics per day or week, with a chart.

use std::path::PathBuf;

use super::error::{CliError, CliResult};
use super::output::{self, Align, Style, Table};
use super::{Ctx, report_run_diagnostics};
use ptrack::Version;
use ptrack::chart::{sparkline, svg_chart};
use ptrack::format::times;
use ptrack::metrics::{Bucket, TrendRow, Trends};
use ptrack::query::TrendsQuery;

/// Metrics over time, per day or week (and per version)
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  ptrack trends coaching_system
  ptrack trends coaching_system --days 90 --bucket week --svg trend.svg
  ptrack trends coaching_system --version 1.1 --json")]
pub struct TrendsArgs {
    /// Prompt name
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(super::completions::prompt_names))]
    pub name: String,
    /// How many days back to look
    #[arg(long, default_value_t = 30, value_name = "N")]
    pub days: u32,
    /// Bucket width
    #[arg(long, value_enum, default_value = "day")]
    pub bucket: BucketArg,
    /// Only this version
    #[arg(long, short = 'v', value_parser = super::parse_version)]
    pub version: Option<Version>,
    /// Also write a line chart (success rate, p50 and p95 time) as SVG
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BucketArg {
    Day,
    Week,
}

pub fn run(ctx: &mut Ctx, args: TrendsArgs) -> CliResult {
    let project = ctx.project()?;
    let model = project.trends(&TrendsQuery {
        prompt: args.name.clone(),
        version: args.version.clone(),
        days: args.days,
        bucket: match args.bucket {
            BucketArg::Day => Bucket::Day,
            BucketArg::Week => Bucket::Week,
        },
        now: ctx.now,
    })?;
    report_run_diagnostics(ctx, &model.diagnostics);
    if let Some(path) = &args.svg {
        let svg = svg_chart(&model.prompt, &model.trends.overall);
        std::fs::write(ctx.start_dir.join(path), svg)
            .map_err(|e| CliError::new(format!("cannot write {}: {e}", path.display())))?;
        ctx.ui.status(&format!("wrote {}", path.display()));
    }
    if ctx.ui.json {
        return ctx.ui.json(&model);
    }
    let multi = model.has_several_versions();
    let mut t = Table::new(&[
        ("BUCKET", Align::Left),
        ("VERSION", Align::Left),
        ("RUNS", Align::Right),
        ("SUCCESS", Align::Right),
        ("P50", Align::Right),
        ("P95", Align::Right),
        ("QUALITY", Align::Right),
    ])
    .droppable(&["P95"]);
    let cells = |r: &TrendRow, label: String| {
        let [p50, p95] = times([r.p50_ms, r.p95_ms]);
        vec![
            r.start.to_string(),
            label,
            r.runs.to_string(),
            output::pct(r.success_rate),
            p50,
            p95,
            output::quality(r.quality_mean, r.quality_n),
        ]
    };
    // Every bucket of the window, as in the JSON and the chart: one with no runs shows 0.
    for row in &model.trends.overall {
        t.row(cells(
            row,
            if multi {
                "all".into()
            } else {
                single_version(&model.trends, row)
            },
        ));
        if multi {
            for v in model
                .trends
                .by_version
                .iter()
                .filter(|v| v.start == row.start)
            {
                t.row(cells(
                    v,
                    v.version
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                ));
            }
        }
    }
    if t.is_empty() {
        ctx.ui.status(&format!(
            "no runs of {} from {} to {}",
            model.prompt, model.from, model.to
        ));
        return Ok(());
    }
    ctx.ui.table(&t)?;
    if ctx.ui.color {
        let o = &model.trends.overall;
        ctx.ui.line("")?;
        let series: [(&str, Vec<Option<f64>>); 4] = [
            ("runs   ", o.iter().map(|r| Some(r.runs as f64)).collect()),
            ("success", o.iter().map(|r| r.success_rate).collect()),
            ("p50    ", o.iter().map(|r| r.p50_ms).collect()),
            ("quality", o.iter().map(|r| r.quality_mean).collect()),
        ];
        for (label, values) in series {
            let line = format!(
                "{} {}",
                ctx.ui.paint(label, Style::Cyan),
                sparkline(&values)
            );
            ctx.ui.line(&line)?;
        }
    }
    Ok(())
}

fn single_version(t: &Trends, row: &TrendRow) -> String {
    t.by_version
        .iter()
        .find(|v| v.start == row.start)
        .and_then(|v| v.version.as_ref())
        .map_or_else(output::dash, ToString::to_string)
}
