//! `ptrack import`: bring prompts and runs from another tool into ptrack's own files.

use std::path::PathBuf;

use super::Ctx;
use super::error::{CliError, CliResult};
use super::output::{self, Style};
use ptrack::SourceFormat;
use ptrack::import::foreign::import_file;
use ptrack::import::legacy::{LegacyImport, VersionStatus, import_legacy};

/// Import prompts and runs from another tool's files
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  ptrack import legacy --dry-run           the plan for ./data, nothing written
  ptrack import legacy ../old-app/data
  ptrack import prompty basic.prompty      write prompts/basic/1.0.md from a Prompty file")]
pub struct ImportArgs {
    #[command(subcommand)]
    pub command: ImportCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ImportCommand {
    Legacy(LegacyArgs),
    Prompty(FileArgs),
    Dotprompt(FileArgs),
    Github(FileArgs),
}

/// Convert files of another format (Prompty .prompty, Dotprompt .prompt, GitHub Models
/// .prompt.yml) to ptrack's own prompts/NAME/VERSION.md
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The prompt name comes from the file name (qa.prompty: qa), or from its folder when the file is
named by a version (prompts/qa/1.0.prompty: qa 1.0); the version is the file's, else the one after
the prompt's latest, else 1.0. An existing version is never overwritten. A GitHub Models file's
testData and string evaluators become prompts/NAME/cases.jsonl.

Examples:
  ptrack import prompty basic.prompty
  ptrack import dotprompt prompts/trip.prompt --name trip --version 2.0
  ptrack import github .github/prompts/summarize.prompt.yml")]
pub struct FileArgs {
    /// The files to convert
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The prompt name (with one file)
    #[arg(long)]
    pub name: Option<String>,
    /// The version to write (with one file)
    #[arg(long, short = 'v', value_parser = super::parse_version)]
    pub version: Option<ptrack::Version>,
}

/// Import the older tool's data folder: one version file per registry entry, one run per execution
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Reads prompt_registry.json (prompt definitions) and prompt_performance.json (execution logs);
prompt_metrics.json is a cache and is ignored. Placeholders such as {task_context} become
{{ task_context }}. Run ids are derived from each execution, so a second import adds nothing.
Entries that cannot be imported are listed with the reason; the rest are imported.

Examples:
  ptrack import legacy --dry-run
  ptrack import legacy ../old-app/data")]
pub struct LegacyArgs {
    /// The older tool's data folder
    #[arg(default_value = "data")]
    pub data_dir: PathBuf,
    /// Show what would be written, and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(ctx: &mut Ctx, args: ImportArgs) -> CliResult {
    match args.command {
        ImportCommand::Legacy(a) => legacy(ctx, a),
        ImportCommand::Prompty(a) => files(ctx, a, SourceFormat::Prompty),
        ImportCommand::Dotprompt(a) => files(ctx, a, SourceFormat::Dotprompt),
        ImportCommand::Github(a) => files(ctx, a, SourceFormat::GithubModels),
    }
}

fn files(ctx: &mut Ctx, args: FileArgs, format: SourceFormat) -> CliResult {
    if args.files.len() > 1 && (args.name.is_some() || args.version.is_some()) {
        return Err(CliError::new(
            "--name and --version apply to one file; import the files one at a time",
        ));
    }
    let project = ctx.project()?;
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for f in &args.files {
        match import_file(
            &project,
            &ctx.start_dir.join(f),
            f,
            format,
            args.name.as_deref(),
            args.version.as_ref(),
        ) {
            Ok(i) => done.push(i),
            Err(e) => failed.push(e.to_string()),
        }
    }
    if ctx.ui.json {
        ctx.ui.json(&done)?;
    } else {
        for i in &done {
            ctx.ui.line(&format!(
                "{} {} ({} {}, from {})",
                ctx.ui.paint("wrote", Style::Green),
                i.path.display(),
                i.prompt,
                i.version,
                i.source.display()
            ))?;
            if let Some(c) = &i.cases {
                ctx.ui.line(&format!(
                    "{} {} (its testData)",
                    ctx.ui.paint("wrote", Style::Green),
                    c.display()
                ))?;
            }
        }
    }
    for i in &done {
        for w in &i.warnings {
            ctx.ui.warn(w);
        }
    }
    match failed.len() {
        0 => Ok(()),
        _ => Err(CliError::new(failed.join("\n"))),
    }
}

fn legacy(ctx: &mut Ctx, args: LegacyArgs) -> CliResult {
    let project = ctx.project()?;
    let dir = ctx.start_dir.join(&args.data_dir);
    let report = import_legacy(&project, &dir, &args.data_dir, args.dry_run, ctx.now)
        .map_err(|e| CliError::new(e.to_string()))?;
    if ctx.ui.json {
        return ctx.ui.json(&report);
    }
    print_legacy(ctx, &report)
}

fn print_legacy(ctx: &mut Ctx, r: &LegacyImport) -> CliResult {
    let would = if r.dry_run { "would write" } else { "wrote" };
    for v in &r.versions {
        let (what, style) = match v.status {
            VersionStatus::Written | VersionStatus::Planned => (would, Style::Green),
            VersionStatus::Unchanged => ("unchanged", Style::Dim),
            VersionStatus::Kept => ("kept (edited since)", Style::Yellow),
        };
        ctx.ui.line(&format!(
            "{} {} ({})",
            ctx.ui.paint(what, style),
            v.path.display(),
            v.source
        ))?;
        for c in &v.conversions {
            ctx.ui.line(&format!("  converted {c}"))?;
        }
        for n in &v.notes {
            ctx.ui.line(&format!("  note: {n}"))?;
        }
    }
    let append = if r.dry_run {
        "would append"
    } else {
        "appended"
    };
    for l in &r.logs {
        ctx.ui.line(&format!(
            "{} {} run(s) to {}",
            ctx.ui.paint(append, Style::Green),
            l.runs,
            l.path.display()
        ))?;
    }
    for s in &r.skipped {
        ctx.ui.line(&format!(
            "{} {}: {}",
            ctx.ui.paint("skipped", Style::Red),
            s.source,
            s.reason
        ))?;
    }
    for i in &r.ignored {
        ctx.ui.line(&format!("ignored {i}"))?;
    }
    for n in &r.notes {
        ctx.ui.line(&format!("note: {n}"))?;
    }
    let new_versions = r
        .versions
        .iter()
        .filter(|v| matches!(v.status, VersionStatus::Written | VersionStatus::Planned))
        .count();
    let summary = format!(
        "{}{} version file(s), {} run(s){}; {} run(s) already imported; {} entr{} skipped",
        if r.dry_run {
            "dry run: would import "
        } else {
            "imported "
        },
        new_versions,
        r.runs_added,
        if r.dry_run { " (nothing written)" } else { "" },
        r.runs_already,
        r.skipped.len(),
        if r.skipped.len() == 1 { "y" } else { "ies" },
    );
    output::eprint_line(ctx.ui.stderr_color, &summary);
    Ok(())
}
