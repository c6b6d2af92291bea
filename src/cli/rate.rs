//! `ptrack rate`: attach a quality rating to an earlier run, as an appended event.

use std::path::Path;

use super::Ctx;
use super::error::{CliError, CliResult};
use ptrack::runlog::{self, Event, RatingEvent, RunFilter, check_score, log_path, new_id, scan};

/// Rate an earlier run (appends a rating event; the latest rating wins)
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  ptrack rate 019a4c2e-7f31-7c11-9a53-2f4be1d0c6aa --quality 9 --feedback \"clear next step\"
  ptrack rate 019a4c2e --quality 4         a unique prefix of the id is enough")]
pub struct RateArgs {
    /// The run's id (or a unique prefix of it)
    pub run_id: String,
    /// Quality score, 1 to 10
    #[arg(long, value_name = "Q")]
    pub quality: f64,
    /// Free-text feedback
    #[arg(long)]
    pub feedback: Option<String>,
}

pub fn run(ctx: &mut Ctx, args: RateArgs) -> CliResult {
    let project = ctx.project()?;
    let quality = check_score(&ptrack::runlog::json_number(args.quality))
        .map_err(|e| CliError::new(e.message))?;
    let mut matches: Vec<(String, String)> = Vec::new();
    let mut exact: Option<(String, String)> = None;
    scan(
        &project.runs_dir(),
        Path::new("runs"),
        &RunFilter::default(),
        |_, _, _, ev| {
            if let Event::Run(r) = ev {
                if r.id == args.run_id {
                    exact = Some((r.id, r.prompt));
                } else if r.id.starts_with(&args.run_id)
                    && !matches.iter().any(|(id, _)| *id == r.id)
                {
                    matches.push((r.id, r.prompt));
                }
            }
        },
    );
    // An exact id wins; a prefix must be unique and at least 4 characters.
    if let Some(e) = exact {
        matches = vec![e];
    } else if args.run_id.len() < 4 {
        matches.clear();
    }
    let (run_id, prompt) = match matches.len() {
        1 => matches.remove(0),
        0 => {
            return Err(CliError::new(format!("no run with id {}", args.run_id))
                .with_hint("`ptrack export --json` lists run ids"));
        }
        n => {
            return Err(CliError::new(format!("{} matches {n} runs", args.run_id))
                .with_hint("give more of the id"));
        }
    };
    let event = RatingEvent {
        kind: "rating",
        id: new_id(&ctx.now),
        ts: ctx.now,
        run_id: run_id.clone(),
        prompt: prompt.clone(),
        quality_score: quality,
        feedback: args.feedback,
    };
    let path = log_path(&project.runs_dir(), &prompt, &ctx.now);
    runlog::append_line(&path, &event)?;
    if ctx.ui.json {
        return ctx.ui.json(&event);
    }
    ctx.ui.line(&format!(
        "rated {run_id} {}/10",
        ptrack::runlog::json_number(quality)
    ))
}
