//! `ptrack trends`: metrics per day or week, with a chart.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::error::{CliError, CliResult};
use super::output::{self, Align, Style, Table};
use super::{Ctx, find_prompt, report_run_diagnostics};
use ptrack::metrics::{Bucket, TrendRow, Trends, trends};
use ptrack::runlog::RunFilter;
use ptrack::runlog::RunSet;

/// Metrics over time, per day or week (and per version)
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  ptrack trends coaching_system
  ptrack trends coaching_system --days 90 --bucket week --svg trend.svg
  ptrack trends coaching_system --version 1.1 --json")]
pub struct TrendsArgs {
    /// Prompt name
    pub name: String,
    /// How many days back to look
    #[arg(long, default_value_t = 30, value_name = "N")]
    pub days: u32,
    /// Bucket width
    #[arg(long, value_enum, default_value = "day")]
    pub bucket: BucketArg,
    /// Only this version
    #[arg(long, short = 'v')]
    pub version: Option<String>,
    /// Also write a line chart (success rate, p50 and p95 time) as SVG
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BucketArg {
    Day,
    Week,
}

#[derive(Serialize)]
struct TrendsModel {
    prompt: String,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    #[serde(flatten)]
    trends: Trends,
}

pub fn run(ctx: &mut Ctx, args: TrendsArgs) -> CliResult {
    let project = ctx.project()?;
    let registry = project.load_prompts();
    let prompt = find_prompt(&registry, &args.name)?;
    if let Some(v) = &args.version {
        v.parse::<ptrack::Version>()?;
    }
    let bucket = match args.bucket {
        BucketArg::Day => Bucket::Day,
        BucketArg::Week => Bucket::Week,
    };
    let to = ctx.now.date_naive();
    let from = to - chrono::Duration::days(i64::from(args.days.saturating_sub(1)));
    let filter = RunFilter {
        prompt: Some(prompt.name.clone()),
        version: args.version.clone(),
        since: from.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
        until: None,
    };
    let runs = RunSet::load(&project.runs_dir(), Path::new("runs"), &filter);
    report_run_diagnostics(ctx, &runs.diagnostics);
    let refs: Vec<_> = runs.runs.iter().collect();
    let model = TrendsModel {
        prompt: prompt.name.clone(),
        from,
        to,
        trends: trends(&refs, bucket, from, to),
    };
    if let Some(path) = &args.svg {
        let svg = svg_chart(&model.prompt, &model.trends.overall);
        std::fs::write(ctx.start_dir.join(path), svg)
            .map_err(|e| CliError::new(format!("cannot write {}: {e}", path.display())))?;
        ctx.ui.status(&format!("wrote {}", path.display()));
    }
    if ctx.ui.json {
        return ctx.ui.json(&model);
    }
    let multi = model
        .trends
        .by_version
        .iter()
        .map(|r| &r.version)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        > 1;
    let mut t = Table::new(&[
        ("BUCKET", Align::Left),
        ("VERSION", Align::Left),
        ("RUNS", Align::Right),
        ("SUCCESS", Align::Right),
        ("P50", Align::Right),
        ("P95", Align::Right),
        ("QUALITY", Align::Right),
    ]);
    let cells = |r: &TrendRow, label: String| {
        vec![
            r.start.to_string(),
            label,
            r.runs.to_string(),
            output::pct(r.success_rate),
            output::ms(r.p50_ms),
            output::ms(r.p95_ms),
            output::quality(r.quality_mean, r.quality_n),
        ]
    };
    // Empty buckets stay in the JSON and the chart; the table lists buckets with runs.
    for row in model.trends.overall.iter().filter(|r| r.runs > 0) {
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
    ctx.ui.write(&t.render(ctx.ui.color))?;
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

/// `▁▃▅█` bars scaled between the series' min and max; a gap is a space.
pub fn sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let lo = present.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = present.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(x) if hi > lo => BARS[(((x - lo) / (hi - lo)) * 7.0).round() as usize],
            Some(_) => BARS[3],
        })
        .collect()
}

/// A plain SVG line chart: p50 and p95 time on the left axis, success rate on the right.
fn svg_chart(prompt: &str, rows: &[TrendRow]) -> String {
    let (w, h, pad) = (720.0, 320.0, 50.0);
    let n = rows.len().max(2) as f64;
    let x = |i: usize| pad + (w - 2.0 * pad) * i as f64 / (n - 1.0);
    let max_ms = rows.iter().filter_map(|r| r.p95_ms).fold(1.0_f64, f64::max);
    let y_ms = |v: f64| h - pad - (h - 2.0 * pad) * v / max_ms;
    let y_rate = |v: f64| h - pad - (h - 2.0 * pad) * v;
    let path = |f: &dyn Fn(&TrendRow) -> Option<f64>, y: &dyn Fn(f64) -> f64| {
        let mut d = String::new();
        let mut pen_up = true;
        for (i, r) in rows.iter().enumerate() {
            match f(r) {
                Some(v) => {
                    d.push_str(&format!(
                        "{}{:.1},{:.1} ",
                        if pen_up { "M" } else { "L" },
                        x(i),
                        y(v)
                    ));
                    pen_up = false;
                }
                None => pen_up = true,
            }
        }
        d
    };
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let first = rows
        .first()
        .map(|r| r.start.to_string())
        .unwrap_or_default();
    let last = rows.last().map(|r| r.start.to_string()).unwrap_or_default();
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{pad}" y="24" font-size="15" font-weight="bold">{title}</text>
<line x1="{pad}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/>
<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{b}" stroke="#999"/>
<text x="{pad}" y="{lb}">{first}</text><text x="{r}" y="{lb}" text-anchor="end">{last}</text>
<text x="{lx}" y="{pad}" text-anchor="end">{max_ms:.0} ms</text><text x="{lx}" y="{b}" text-anchor="end">0</text>
<text x="{rx}" y="{pad}">100%</text><text x="{rx}" y="{b}">0%</text>
<path d="{p95}" fill="none" stroke="#d62728" stroke-width="2"/>
<path d="{p50}" fill="none" stroke="#1f77b4" stroke-width="2"/>
<path d="{succ}" fill="none" stroke="#2ca02c" stroke-width="2" stroke-dasharray="5,3"/>
<text x="{r}" y="24" text-anchor="end"><tspan fill="#1f77b4">p50</tspan> · <tspan fill="#d62728">p95</tspan> · <tspan fill="#2ca02c">success rate</tspan></text>
</svg>
"##,
        title = esc(&format!("{prompt}: trends")),
        b = h - pad,
        r = w - pad,
        lb = h - pad + 18.0,
        lx = pad - 6.0,
        rx = w - pad + 6.0,
        p95 = path(&|r| r.p95_ms, &y_ms),
        p50 = path(&|r| r.p50_ms, &y_ms),
        succ = path(&|r| r.success_rate, &y_rate),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_and_leaves_gaps() {
        assert_eq!(sparkline(&[Some(0.0), None, Some(5.0), Some(10.0)]), "▁ ▅█");
        assert_eq!(sparkline(&[Some(2.0), Some(2.0)]), "▄▄");
    }
}
