//! `ptrack history`: the commits that touched a prompt, with the metrics of their runs.

use super::error::CliResult;
use super::output::{self, Style};
use super::{Ctx, report_run_diagnostics};
use ptrack::Version;
use ptrack::git::ChangeKind;
use ptrack::query::HistoryQuery;
use unicode_width::UnicodeWidthStr;

/// Show the commits that touched a prompt, newest first, with the metrics of each file's runs
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each changed version file is listed with the runs recorded against exactly that text (runs whose
prompt_sha is the file's blob at the commit). Renames are followed.

Examples:
  ptrack history coaching_system
  ptrack history coaching_system --version 1.1 --limit 5
  ptrack history coaching_system --json")]
pub struct HistoryArgs {
    /// Prompt name
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(super::completions::prompt_names))]
    pub name: String,
    /// Only commits that changed this version's file
    #[arg(long, short = 'v', value_parser = super::parse_version)]
    pub version: Option<Version>,
    /// Show at most N commits
    #[arg(long, short = 'n', value_name = "N")]
    pub limit: Option<usize>,
}

pub fn run(ctx: &mut Ctx, args: HistoryArgs) -> CliResult {
    let project = ctx.project()?;
    let history = project.history(&HistoryQuery {
        prompt: args.name.clone(),
        version: args.version.clone(),
        limit: args.limit,
    })?;
    report_run_diagnostics(ctx, &history.diagnostics);
    // The process ends after this command: freeing every row's strings one by one took about a
    // tenth of a long history's time, so the rows are left to the exit.
    let history = std::mem::ManuallyDrop::new(history);
    let model = &history.rows;
    if ctx.ui.json {
        return ctx.ui.json(&model);
    }
    if model.is_empty() {
        let why = if history.no_commits {
            "the repository has no commits yet"
        } else {
            "no commit touched it"
        };
        ctx.ui
            .status(&format!("no history for {}: {why}", args.name));
        return Ok(());
    }
    for e in model {
        let h = &e.entry;
        let merge = match (h.merge, h.shallow) {
            (_, true) => " (shallow clone: parents not fetched, files read as added)",
            (true, false) => " (merge)",
            (false, false) => "",
        };
        let date = h.time.format("%Y-%m-%d").to_string();
        // The subject gets what the hash, date and author leave of the line.
        let subject = match ctx.ui.width {
            Some(w) => {
                let used = h.short.width() + date.width() + h.author.width() + merge.width() + 4;
                output::truncate(&h.subject, w.saturating_sub(used))
            }
            None => h.subject.clone(),
        };
        ctx.ui.line(&format!(
            "{} {date} {}  {subject}{merge}",
            ctx.ui.paint(&h.short, Style::Yellow),
            ctx.ui.paint(&h.author, Style::Dim),
        ))?;
        for (c, m) in h.changes.iter().zip(&e.metrics) {
            let (letter, style) = match c.status {
                ChangeKind::Added => ("A", Style::Green),
                ChangeKind::Modified => ("M", Style::Yellow),
                ChangeKind::Renamed => ("R", Style::Cyan),
                ChangeKind::Deleted => ("D", Style::Red),
            };
            let path = match &c.old_path {
                Some(old) => format!("{} → {}", old.display(), c.path.display()),
                None => c.path.display().to_string(),
            };
            let stats = match m {
                _ if c.status == ChangeKind::Deleted => String::new(),
                Some(m) => format!(
                    "runs {} · success {} · p50 {} · quality {}",
                    m.runs,
                    output::pct(m.success_rate),
                    output::ms(m.time_ms.map(|t| t.p50)),
                    output::quality(m.quality_mean, m.quality_n)
                ),
                None => "no runs of this text".to_string(),
            };
            let letter = ctx.ui.paint(letter, style);
            let one_line = 6 + path.width() + 2 + stats.width();
            match ctx.ui.width {
                // Too wide for one line: the figures go under the path.
                Some(w) if one_line > w => {
                    let path = output::truncate(&path, w.saturating_sub(6));
                    ctx.ui.line(&format!("    {letter} {path}"))?;
                    if !stats.is_empty() {
                        let stats = output::truncate(&stats, w.saturating_sub(6));
                        ctx.ui.line(&format!("      {stats}"))?;
                    }
                }
                _ if stats.is_empty() => ctx.ui.line(&format!("    {letter} {path}"))?,
                _ => ctx.ui.line(&format!("    {letter} {path}  {stats}"))?,
            }
        }
    }
    if history.shallow {
        ctx.ui.status(
            "note: this is a shallow clone, so the history stops early; `git fetch --unshallow` fetches the rest",
        );
    }
    Ok(())
}
