//! `ptrack list`: one row per prompt.

use super::error::{CliError, CliResult};
use super::output::{self, Align, Table};
use super::{Ctx, report_run_diagnostics};

/// List every prompt: latest version, versions, model, goal and run stats
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  ptrack list\n  ptrack list --json | jq '.[].name'")]
pub struct ListArgs {}

pub fn run(ctx: &mut Ctx, _args: ListArgs) -> CliResult {
    let project = ctx.project()?;
    let listing = project.list();
    ctx.report_load_errors(&listing.prompt_errors);
    report_run_diagnostics(ctx, &listing.run_errors);
    let rows = &listing.rows;
    if ctx.ui.json {
        ctx.ui.json(rows)?;
    } else if rows.is_empty() {
        ctx.ui
            .status("no prompts yet: `ptrack create NAME --goal … --model …` writes the first one");
    } else {
        let mut t = Table::new(&[
            ("NAME", Align::Left),
            ("LATEST", Align::Right),
            ("VERSIONS", Align::Right),
            ("MODEL", Align::Left),
            ("ALL RUNS", Align::Right),
            ("SUCCESS", Align::Right),
            ("LAST RUN", Align::Left),
            ("GOAL", Align::Left),
        ])
        .droppable(&["LAST RUN", "VERSIONS", "MODEL", "SUCCESS"])
        .shrinkable("GOAL", 24);
        for r in rows {
            t.row(vec![
                r.name.clone(),
                if r.latest_invalid {
                    format!("{} (invalid)", r.latest)
                } else {
                    r.latest.clone()
                },
                r.versions.to_string(),
                r.model.clone().unwrap_or_else(output::dash),
                r.runs.to_string(),
                output::pct(r.success_rate),
                output::time(r.last_run),
                r.goal.clone().unwrap_or_else(output::dash),
            ]);
        }
        ctx.ui.table(&t)?;
    }
    if !listing.prompt_errors.is_empty() {
        return Err(CliError::problems(""));
    }
    Ok(())
}
