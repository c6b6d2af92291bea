//! `ptrack export`: every run, with its latest rating applied, as JSON, JSON Lines or CSV.

use std::io::Write;
use std::path::PathBuf;

use super::error::{CliError, CliResult};
use super::{Ctx, Window, report_run_diagnostics};
use ptrack::query::{ExportFormat, ExportQuery};

/// Export runs (latest ratings applied) as json, jsonl or csv
#[derive(Debug, clap::Args)]
#[command(after_help = "\
CSV follows RFC 4180 with the fixed header:
  id,ts,prompt,version,prompt_sha,commit,model,params,input,output,execution_time_ms,token_count,
  output_length,success,error,quality_score,feedback,extra
(params, input and extra are JSON text; extra holds every field ptrack does not know).

Examples:
  ptrack export --format csv --output runs.csv
  ptrack export --prompt coaching_system --days 7 --format jsonl | head")]
pub struct ExportArgs {
    /// Only this prompt
    #[arg(long)]
    pub prompt: Option<String>,
    /// Output format (--json is the same as --format json)
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write to FILE instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub window: Window,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON array
    Json,
    /// One JSON object per line
    Jsonl,
    /// RFC 4180 CSV with a fixed header
    Csv,
}

pub fn run(ctx: &mut Ctx, args: ExportArgs) -> CliResult {
    if let Some(f @ (Format::Csv | Format::Jsonl)) = args.format
        && ctx.ui.json
    {
        let name = if f == Format::Csv { "csv" } else { "jsonl" };
        return Err(
            CliError::new(format!("--json and --format {name} ask for two formats"))
                .with_hint("drop --json, or use --format json"),
        );
    }
    let project = ctx.project()?;
    let format = match args.format.unwrap_or(if ctx.ui.json {
        Format::Json
    } else {
        Format::Jsonl
    }) {
        Format::Json => ExportFormat::Json,
        Format::Jsonl => ExportFormat::Jsonl,
        Format::Csv => ExportFormat::Csv,
    };
    let (since, until) = args.window.resolve(ctx.now);
    let query = ExportQuery {
        prompt: args.prompt.clone(),
        since,
        until,
    };
    match &args.output {
        Some(path) => {
            let full = ctx.start_dir.join(path);
            let file = std::fs::File::create(&full)
                .map_err(|e| CliError::new(format!("cannot create {}: {e}", path.display())))?;
            let mut w = std::io::BufWriter::new(file);
            let summary = project.export(&query, format, &mut w)?;
            w.flush()?;
            report_run_diagnostics(ctx, &summary.diagnostics);
            ctx.ui.status(&format!(
                "exported {} run(s) to {}",
                summary.runs,
                path.display()
            ));
            Ok(())
        }
        None => {
            let mut out = ctx.ui.text_out();
            let summary = project.export(&query, format, &mut out)?;
            out.finish()?;
            report_run_diagnostics(ctx, &summary.diagnostics);
            Ok(())
        }
    }
}
