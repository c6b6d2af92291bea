//! `ptrack check`: validate every prompt file and run log line.

use super::Ctx;
use super::error::{CliError, CliResult};
use super::output::Style;
use ptrack::query::CheckQuery;
use ptrack::query::check::codes;
use ptrack::{Diagnostic, Severity};

/// Validate every prompt file and run log line; exit 1 if any error
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prints every problem as `path:line: message`. Exit codes: 0 no errors (warnings allowed), 1 errors found.

Examples:
  ptrack check
  ptrack check --base origin/main      also reject versions edited in place after they had runs
  ptrack check --format github         annotations on the pull request (GitHub Actions)
  ptrack check --json | jq '.diagnostics[] | select(.severity == \"error\")'")]
pub struct CheckArgs {
    /// Also fail when a version file that has runs was edited in place since REV
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// Output format (--json is the same as --format json)
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `path:line: message`, colored on a terminal
    Text,
    /// GitHub Actions workflow commands: each problem is an annotation on the pull request
    Github,
    /// The check model as JSON
    Json,
}

pub fn run(ctx: &mut Ctx, args: CheckArgs) -> CliResult {
    let project = ctx.project()?;
    let report = project.check(&CheckQuery { base: args.base })?;
    let format = if ctx.ui.json {
        Format::Json
    } else {
        args.format
    };
    if format == Format::Json {
        ctx.ui.json(&report)?;
    } else if format == Format::Github {
        for d in &report.diagnostics {
            ctx.ui.line(&d.github_command())?;
        }
        ctx.ui.status(&format!(
            "{} error(s), {} warning(s)",
            report.errors, report.warnings
        ));
    } else {
        for d in &report.diagnostics {
            let text = d.to_string();
            let line = if ctx.ui.color {
                let (head, rest) = text.split_once(": ").unwrap_or((&text, ""));
                let rest = match d.severity {
                    Severity::Error => ctx.ui.paint(rest, Style::Red),
                    Severity::Warning => {
                        rest.replacen("warning:", &ctx.ui.paint("warning:", Style::Yellow), 1)
                    }
                };
                format!("{}: {rest}", ctx.ui.paint(head, Style::Bold))
            } else {
                text
            };
            ctx.ui.line(&line)?;
            if let Some(hint) = hint(d) {
                ctx.ui
                    .line(&format!("  {}: {hint}", ctx.ui.paint("hint", Style::Cyan)))?;
            }
        }
        ctx.ui.status(&format!(
            "{} error(s), {} warning(s) in {} prompt file(s) and {} run log(s) with {} run(s)",
            report.errors, report.warnings, report.prompt_files, report.run_logs, report.runs
        ));
    }
    if report.errors > 0 {
        return Err(CliError::problems(""));
    }
    Ok(())
}

/// The advice for a diagnostic whose code the CLI knows.
fn hint(d: &Diagnostic) -> Option<String> {
    match d.code.as_deref()? {
        codes::IN_PLACE_EDIT => {
            // prompts/<name>/<version>.<ext>
            let name = d.path.parent()?.file_name()?.to_str()?;
            let version = ptrack::prompt::version_stem(d.path.file_name()?.to_str()?)?;
            Some(format!("ptrack create {name} --from {version}"))
        }
        _ => None,
    }
}
