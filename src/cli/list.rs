//! `ptrack list`: one row per prompt.

use serde::Serialize;

use super::error::{CliError, CliResult};
use super::output::{self, Align, Table};
use super::{Ctx, report_run_diagnostics};
use ptrack::metrics::Metrics;
use ptrack::runlog::RunFilter;

/// List every prompt: latest version, versions, model, goal and run stats
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  ptrack list\n  ptrack list --json | jq '.[].name'")]
pub struct ListArgs {}

#[derive(Serialize)]
pub struct ListRow {
    name: String,
    latest: String,
    versions: usize,
    model: Option<String>,
    goal: Option<String>,
    runs: usize,
    success_rate: Option<f64>,
    last_run: Option<chrono::DateTime<chrono::Utc>>,
}

pub fn run(ctx: &mut Ctx, _args: ListArgs) -> CliResult {
    let project = ctx.project()?;
    let registry = project.load_prompts();
    ctx.report_load_errors(&registry);
    let perf = ptrack::runlog::compact::performance_or_simple(
        &project.runs_dir(),
        std::path::Path::new("runs"),
        &RunFilter::default(),
        super::threads(),
    );
    report_run_diagnostics(
        ctx,
        &perf
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .cloned()
            .collect::<Vec<_>>(),
    );
    let by_prompt: std::collections::HashMap<&str, &Metrics> = perf
        .prompts
        .iter()
        .map(|p| (p.prompt.as_str(), &p.all))
        .collect();
    let default_model = project.config().defaults.model.clone();
    let rows: Vec<ListRow> = registry
        .prompts
        .values()
        .filter_map(|p| {
            let latest = p.latest()?;
            let none = Metrics::compute(std::iter::empty());
            let m = by_prompt
                .get(p.name.as_str())
                .copied()
                .cloned()
                .unwrap_or(none);
            Some(ListRow {
                name: p.name.clone(),
                latest: latest.version.to_string(),
                versions: p.versions.len(),
                model: latest.meta.model.clone().or_else(|| default_model.clone()),
                goal: latest.meta.goal.clone(),
                runs: m.runs,
                success_rate: m.success_rate,
                last_run: m.last_run,
            })
        })
        .collect();
    if ctx.ui.json {
        ctx.ui.json(&rows)?;
    } else if rows.is_empty() {
        ctx.ui
            .status("no prompts yet: `ptrack create NAME --goal … --model …` writes the first one");
    } else {
        let mut t = Table::new(&[
            ("NAME", Align::Left),
            ("LATEST", Align::Right),
            ("VERSIONS", Align::Right),
            ("MODEL", Align::Left),
            ("RUNS", Align::Right),
            ("SUCCESS", Align::Right),
            ("LAST RUN", Align::Left),
            ("GOAL", Align::Left),
        ]);
        for r in &rows {
            t.row(vec![
                r.name.clone(),
                r.latest.clone(),
                r.versions.to_string(),
                r.model.clone().unwrap_or_else(output::dash),
                r.runs.to_string(),
                output::pct(r.success_rate),
                output::time(r.last_run),
                r.goal
                    .as_deref()
                    .map_or_else(output::dash, |g| output::truncate(g, 60)),
            ]);
        }
        let text = t.render(ctx.ui.color);
        ctx.ui.write(&text)?;
    }
    if registry.has_errors() {
        return Err(CliError::problems(""));
    }
    Ok(())
}
