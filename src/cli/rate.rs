//! `ptrack rate`: attach a quality rating to an earlier run, as an appended event.

use super::Ctx;
use super::error::{CliError, CliResult};
use ptrack::record::RateError;

/// Rate an earlier run (appends a rating event; the latest rating wins)
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  ptrack rate 01a19831-00cc-7bdf-aaeb-93d0bcae8081 --quality 9 --feedback \"clear next step\"
  ptrack rate 01a19831 --quality 4         a unique prefix of the id is enough; keeps the feedback
  ptrack rate 01a19831 --quality 4 --feedback \"\"   clears the feedback")]
pub struct RateArgs {
    /// The run's id (or a unique prefix of it)
    pub run_id: String,
    /// Quality score, 1 to 10
    #[arg(long, value_name = "Q")]
    pub quality: f64,
    /// Free-text feedback (without it, the earlier feedback stays; `--feedback ""` clears it)
    #[arg(long)]
    pub feedback: Option<String>,
}

pub fn run(ctx: &mut Ctx, args: RateArgs) -> CliResult {
    let project = ctx.project()?;
    let event = project
        .rate(&args.run_id, args.quality, args.feedback, ctx.now)
        .map_err(|e| {
            let hint = match &e {
                RateError::NoRun(_) => Some("`ptrack export --json` lists run ids"),
                RateError::Ambiguous { .. } => {
                    Some("give more of the id; each run above is shown with the shortest prefix that names it")
                }
                _ => None,
            };
            let err = CliError::from_source(e);
            match hint {
                Some(h) => err.with_hint(h),
                None => err,
            }
        })?;
    if ctx.ui.json {
        return ctx.ui.json(&event);
    }
    ctx.ui.line(&format!(
        "rated {} {}/10",
        project.short_ids(&[&event.run_id]).remove(0),
        ptrack::runlog::json_number(event.quality_score)
    ))
}
