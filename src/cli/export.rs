//! `ptrack export`: every run, with its latest rating applied, as JSON, JSON Lines, CSV or
//! Hive-partitioned Parquet files.

use std::io::Write;
use std::path::PathBuf;

use super::error::{CliError, CliResult};
use super::{Ctx, Window, report_run_diagnostics};
use ptrack::query::export::parquet::{PartitionKey, parse_partition};
use ptrack::query::{ExportFormat, ExportQuery, ParquetOptions};

/// Export runs (latest ratings applied) as json, jsonl, csv or parquet
#[derive(Debug, clap::Args)]
#[command(after_help = "\
CSV follows RFC 4180 with the fixed header:
  id,ts,prompt,version,prompt_sha,commit,model,params,input,output,execution_time_ms,token_count,
  output_length,success,error,quality_score,feedback,extra
(params, input and extra are JSON text; extra holds every field ptrack does not know).

Parquet writes a folder (--output DIR, new or empty, or an earlier export with --force):
  DIR/prompt=NAME/version=V/month=YYYY-MM/part-0.parquet
with the CSV columns typed (ts a UTC timestamp, times and scores doubles, counts int64,
success boolean), prompt_tokens and completion_tokens as columns of their own, and the
partition keys left out of the files (readers take them from the paths).

Examples:
  ptrack export --format csv --output runs.csv
  ptrack export --format parquet --output runs-pq
  ptrack export --format parquet --output runs-pq --partition month --force
  ptrack export --prompt coaching_system --days 7 --format jsonl | head")]
pub struct ExportArgs {
    /// Only this prompt
    #[arg(long)]
    pub prompt: Option<String>,
    /// Output format (--json is the same as --format json)
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write to FILE instead of stdout (parquet: the folder to write, required)
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Parquet folder levels, outermost first: prompt, version, month; '' or none for one file
    #[arg(long, value_name = "KEYS", value_parser = parse_partition_arg)]
    pub partition: Option<Partition>,
    /// Parquet: replace an earlier export in the --output folder
    #[arg(long)]
    pub force: bool,
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
    /// Typed Parquet files in Hive-partitioned folders (needs --output DIR)
    Parquet,
}

/// A `--partition` list (a newtype, so clap takes it as one value).
#[derive(Debug, Clone)]
pub struct Partition(Vec<PartitionKey>);

fn parse_partition_arg(text: &str) -> Result<Partition, String> {
    parse_partition(text)
        .map(Partition)
        .map_err(|e| e.to_string())
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
    if args.format != Some(Format::Parquet) {
        for (given, flag) in [
            (args.partition.is_some(), "--partition"),
            (args.force, "--force"),
        ] {
            if given {
                return Err(CliError::new(format!("{flag} is for --format parquet"))
                    .with_hint("add --format parquet, or drop the flag"));
            }
        }
    }
    if args.format == Some(Format::Parquet) {
        return run_parquet(ctx, args);
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
        // Handled above.
        Format::Parquet => return Err(CliError::new("--format parquet writes a folder")),
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

/// `--format parquet`: files under `--output`; a status line, or with `--json` the summary.
fn run_parquet(ctx: &mut Ctx, args: ExportArgs) -> CliResult {
    let Some(dir) = &args.output else {
        return Err(
            CliError::new("--format parquet needs --output DIR").with_hint(
                "Parquet is a folder of files: ptrack export --format parquet --output runs-pq",
            ),
        );
    };
    let project = ctx.project()?;
    let (since, until) = args.window.resolve(ctx.now);
    let query = ExportQuery {
        prompt: args.prompt.clone(),
        since,
        until,
    };
    let options = ParquetOptions {
        partition: args
            .partition
            .clone()
            .map_or_else(PartitionKey::default_keys, |p| p.0),
        replace: args.force,
    };
    let full = ctx.start_dir.join(dir);
    let summary = project.export_parquet(&query, &full, &options)?;
    report_run_diagnostics(ctx, &summary.diagnostics);
    if ctx.ui.json {
        ctx.ui.json(&summary)?;
    } else {
        ctx.ui.status(&format!(
            "exported {} run(s) to {} file(s) under {}",
            summary.runs,
            summary.files.len(),
            dir.display()
        ));
    }
    Ok(())
}
