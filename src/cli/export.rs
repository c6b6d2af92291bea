//! `ptrack export`: every run, with its latest rating applied, as JSON, JSON Lines or CSV.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::error::{CliError, CliResult};
use super::{Ctx, Window, check_name, report_run_diagnostics};
use ptrack::runlog::{Event, Rating, RunFilter, scan};

/// The CSV columns: the run fields in their documented order, then `extra` (every field
/// ptrack does not know, as a JSON object). Nested objects are JSON text in their cell.
fn csv_header() -> Vec<&'static str> {
    let mut h = ptrack::runlog::FIELDS.to_vec();
    h.push("extra");
    h
}

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
    let project = ctx.project()?;
    if let Some(p) = &args.prompt {
        check_name(p)?;
        if project.load_prompts().get(p).is_none() && !project.runs_dir().join(p).is_dir() {
            return Err(CliError::new(format!(
                "no prompt named `{p}` and no runs under runs/{p}/"
            )));
        }
    }
    let format = args.format.unwrap_or(if ctx.ui.json {
        Format::Json
    } else {
        Format::Jsonl
    });
    let filter = args.window.filter(ctx.now, args.prompt.as_deref(), None);
    let runs_dir = project.runs_dir();
    // Pass 1: the latest rating of each run (small: one entry per rated run).
    let mut ratings: HashMap<String, Rating> = HashMap::new();
    let diags = scan(&runs_dir, Path::new("runs"), &filter, |_, _, _, ev| {
        if let Event::Rating(r) = ev
            && ratings.get(&r.run_id).is_none_or(|old| r.ts >= old.ts)
        {
            ratings.insert(r.run_id.clone(), r);
        }
    });
    report_run_diagnostics(ctx, &diags);
    match &args.output {
        Some(path) => {
            let full = ctx.start_dir.join(path);
            let file = std::fs::File::create(&full)
                .map_err(|e| CliError::new(format!("cannot create {}: {e}", path.display())))?;
            let mut w = std::io::BufWriter::new(file);
            let n = write_runs(&mut w, format, &runs_dir, &filter, &ratings)?;
            w.flush()?;
            ctx.ui
                .status(&format!("exported {n} run(s) to {}", path.display()));
            Ok(())
        }
        None => {
            let n = write_runs(ctx.ui.out(), format, &runs_dir, &filter, &ratings);
            n.map(|_| ())
        }
    }
}

/// Pass 2: stream every run (each id once) with its rating applied.
fn write_runs(
    out: &mut impl Write,
    format: Format,
    runs_dir: &Path,
    filter: &RunFilter,
    ratings: &HashMap<String, Rating>,
) -> CliResult<usize> {
    let mut seen = HashSet::new();
    let mut count = 0usize;
    let mut result: CliResult = Ok(());
    if format == Format::Csv {
        write_csv_record(out, csv_header().into_iter().map(str::to_string))?;
    }
    if format == Format::Json {
        out.write_all(b"[")?;
    }
    // Diagnostics were reported by pass 1.
    let _ = scan(runs_dir, Path::new("runs"), filter, |_, _, line, ev| {
        if result.is_err() {
            return;
        }
        let Event::Run(run) = ev else { return };
        if !seen.insert(run.id.clone()) {
            return;
        }
        let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(line) else {
            return;
        };
        if let Some(r) = ratings.get(&run.id) {
            obj.insert(
                "quality_score".into(),
                ptrack::runlog::json_number(r.quality_score),
            );
            if let Some(f) = &r.feedback {
                obj.insert("feedback".into(), Value::String(f.clone()));
            }
        }
        if obj.get("output_length").is_none_or(Value::is_null) {
            obj.insert("output_length".into(), Value::from(run.output_length));
        }
        result = (|| -> CliResult {
            match format {
                Format::Jsonl => {
                    serde_json::to_writer(&mut *out, &obj)?;
                    out.write_all(b"\n")?;
                }
                Format::Json => {
                    out.write_all(if count == 0 { b"\n  " } else { b",\n  " })?;
                    serde_json::to_writer(&mut *out, &obj)?;
                }
                Format::Csv => write_csv_record(out, csv_row(obj))?,
            }
            Ok(())
        })();
        count += 1;
    });
    result?;
    if format == Format::Json {
        out.write_all(if count == 0 { b"]\n" } else { b"\n]\n" })?;
    }
    Ok(count)
}

/// One RFC 4180 record: fields with `,`, `"`, CR or LF are quoted (quotes doubled); CRLF ends it.
fn write_csv_record(out: &mut impl Write, fields: impl IntoIterator<Item = String>) -> CliResult {
    let mut line = String::new();
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        if f.contains([',', '"', '\r', '\n']) {
            line.push('"');
            line.push_str(&f.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(&f);
        }
    }
    line.push_str("\r\n");
    out.write_all(line.as_bytes())?;
    Ok(())
}

fn csv_row(mut obj: Map<String, Value>) -> Vec<String> {
    let mut row: Vec<String> = ptrack::runlog::FIELDS
        .iter()
        .map(|k| match obj.remove(*k) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
        })
        .collect();
    row.push(if obj.is_empty() {
        String::new()
    } else {
        Value::Object(obj).to_string()
    });
    row
}
