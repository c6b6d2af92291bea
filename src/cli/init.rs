//! `ptrack init`: scaffold a project.

use std::path::PathBuf;

use super::Ctx;
use super::error::{CliError, CliResult};
use ptrack::templates;

/// Create ptrack.toml, prompts/, runs/, templates/ and .gitattributes (never overwrites)
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  ptrack init\n  ptrack init my-prompts")]
pub struct InitArgs {
    /// Folder to set up (default: the current folder)
    #[arg(value_name = "DIR")]
    pub path: Option<PathBuf>,
}

pub fn run(ctx: &mut Ctx, args: InitArgs) -> CliResult {
    let root = match &args.path {
        Some(d) => ctx.start_dir.join(d),
        None => ctx.start_dir.clone(),
    };
    let report = templates::init(&root)
        .map_err(|(p, e)| CliError::new(format!("cannot create {}: {e}", p.display())))?;
    if ctx.ui.json {
        return ctx.ui.json(&report);
    }
    ctx.ui.status(&format!(
        "setting up a ptrack project in {}",
        root.display()
    ));
    for c in &report.created {
        ctx.ui.line(&format!("created {c}"))?;
    }
    for k in &report.kept {
        ctx.ui.line(&format!("kept    {k} (already there)"))?;
    }
    if report.union_merge_missing {
        ctx.ui.warn("your .gitattributes lacks `runs/**/*.jsonl merge=union`; add it so branches that append runs merge cleanly");
    }
    ctx.ui
        .status("next: `ptrack create NAME --goal … --model …` writes your first prompt version");
    Ok(())
}
