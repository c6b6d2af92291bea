//! `ptrack report`: the pull request report, with gates for CI.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::{CliError, CliResult};
use super::{Ctx, report_run_diagnostics};
use ptrack::config::Gates;
use ptrack::query::ReportQuery;
use ptrack::report::{render_markdown, render_text};

/// Report what changed in the prompts since a base revision, with metrics, tests and gates
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The base defaults to the merge base of HEAD with the default branch (origin/HEAD, else main or
master); the head defaults to the working tree. Gates come from [report] in ptrack.toml, and each
gate flag above overrides its key. Exit codes: 0 every gate passed, 1 a gate failed (the report
names it), 2 error. When GITHUB_STEP_SUMMARY is set, the Markdown report is appended to it too.

Examples:
  ptrack report                                   Markdown report against the default branch
  ptrack report --base origin/main --output report.md --min-success-rate 0.9
  ptrack report --base HEAD~3 --head HEAD --format text
  ptrack report --json | jq .passed")]
pub struct ReportArgs {
    /// Base revision (a branch, tag, sha, HEAD~3…)
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// Head revision (default: the working tree)
    #[arg(long, value_name = "REV")]
    pub head: Option<String>,
    /// Output format (--json is the same as --format json)
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: Format,
    /// Write the report to FILE instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Gate: lowest success rate of a changed version, as a fraction (0.9 = 90%)
    #[arg(long, value_name = "RATE")]
    pub min_success_rate: Option<f64>,
    /// Gate: largest p95 time increase against the previous version, in percent
    #[arg(long, value_name = "PCT")]
    pub max_p95_regression_pct: Option<f64>,
    /// Gate: lowest mean quality of a changed version (1 to 10)
    #[arg(long, value_name = "Q")]
    pub min_quality: Option<f64>,
    /// Gate: fail when a version file with runs was edited in place
    #[arg(long)]
    pub forbid_in_place_edits: bool,
    /// Metric gates apply only to versions with at least N runs
    #[arg(long, value_name = "N")]
    pub min_runs: Option<usize>,
    #[command(flatten)]
    pub eval_gates: super::EvalGateArgs,
    /// Comparison gates (p95 regression, pass rate drop) fail only when the change is significant (p < 0.05)
    #[arg(long)]
    pub significant_only: bool,
    /// Gate: largest cost per run increase against the previous version, in percent
    #[arg(long, value_name = "PCT")]
    pub max_cost_increase_pct: Option<f64>,
    /// A gate that could not be checked (too few runs, no data) fails instead of showing as
    /// "not checked"
    #[arg(long)]
    pub require_checked: bool,
    /// Fail when a label moves to a version with fewer runs than this ([report]
    /// label_moves_need_runs)
    #[arg(long, value_name = "N")]
    pub label_moves_need_runs: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// GitHub-flavoured Markdown (what CI posts on a pull request)
    Markdown,
    /// The report model as JSON
    Json,
    /// Plain text for a terminal
    Text,
}

pub fn run(ctx: &mut Ctx, args: ReportArgs) -> CliResult {
    let project = ctx.project()?;
    let outcome = project.report(&ReportQuery {
        base: args.base.clone(),
        head: args.head.clone(),
        gates: Gates {
            min_runs: args.min_runs,
            min_success_rate: args.min_success_rate,
            max_p95_regression_pct: args.max_p95_regression_pct,
            min_quality: args.min_quality,
            forbid_in_place_edits: args.forbid_in_place_edits.then_some(true),
            min_pass_rate: args.eval_gates.min_pass_rate,
            max_new_failures: args.eval_gates.max_new_failures,
            max_pass_rate_drop_pts: args.eval_gates.max_pass_rate_drop_pts,
            significant_only: args.significant_only.then_some(true),
            max_cost_increase_pct: args.max_cost_increase_pct,
            require_checked: args.require_checked.then_some(true),
            label_moves_need_runs: args.label_moves_need_runs,
        },
        now: ctx.now,
    })?;
    if outcome.no_default_branch {
        ctx.ui.warn("no default branch found (origin/HEAD, main, master); reporting the current state. Pass --base REV to compare");
    }
    report_run_diagnostics(ctx, &outcome.diagnostics);
    let report = outcome.report;
    let format = if ctx.ui.json {
        Format::Json
    } else {
        args.format
    };
    let markdown = render_markdown(&report);
    let text = match format {
        Format::Markdown => markdown.clone(),
        Format::Text => render_text(&report),
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
    };
    match &args.output {
        Some(path) => {
            std::fs::write(ctx.start_dir.join(path), &text)
                .map_err(|e| CliError::new(format!("cannot write {}: {e}", path.display())))?;
            ctx.ui.status(&format!("wrote {}", path.display()));
        }
        // Markdown is for CI to post, exact unless on a terminal; text is for people to read.
        None => match format {
            Format::Json => ctx.ui.write_exact(&text)?,
            Format::Markdown => ctx.ui.write_text(&text)?,
            Format::Text => ctx.ui.write(&text)?,
        },
    }
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&summary)
            .map_err(|e| {
                CliError::new(format!(
                    "cannot open GITHUB_STEP_SUMMARY ({}): {e}",
                    Path::new(&summary).display()
                ))
            })?;
        f.write_all(markdown.as_bytes())
            .map_err(|e| CliError::new(format!("cannot write GITHUB_STEP_SUMMARY: {e}")))?;
    }
    if !report.passed {
        let failed: Vec<String> = report
            .gates
            .iter()
            .filter(|g| !g.passed)
            .map(|g| {
                format!(
                    "{} ({} {})",
                    g.gate,
                    g.prompt,
                    g.version.as_deref().unwrap_or("")
                )
                .replace(" )", ")")
            })
            .collect();
        return Err(CliError::problems(format!(
            "gate failed: {}",
            failed.join(", ")
        )));
    }
    Ok(())
}
