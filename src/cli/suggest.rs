//! `ptrack suggest`: ranked improvement suggestions for a version, from its runs and evals.

use super::error::{CliError, CliResult};
use super::output::Style;
use super::{Ctx, report_run_diagnostics};
use ptrack::Version;
use ptrack::suggest::{SuggestError, SuggestModel, SuggestQuery};

/// Suggest improvements to a version, from its runs, eval results, file and labels
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each finding names its figures and a few example run ids (pass one to `ptrack export` or
search the logs). The rules and their thresholds: answers cut at the token limit (finish reason
`length` in at least 10% of at least 10 runs that record one); json/json_schema expectations
failing in at least 20% of the runs with expectations; failures concentrated in at most a third
of the cases; latency that tracks output length (r ≥ 0.8 over at least 20 runs, the slowest
answers 1.5× the median length); judge reasons that repeat (at least 3 runs); `check`'s template
warnings; a newer version that beat production in a paired eval (McNemar p < 0.05) but is not
labelled production.

Examples:
  ptrack suggest coaching_system
  ptrack suggest coaching_system --version 1.0 --json
  ptrack suggest coaching_system:production")]
pub struct SuggestArgs {
    /// Prompt name (NAME:LABEL for a labelled version)
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(super::completions::prompt_names))]
    pub name: String,
    /// The version (default: the latest)
    #[arg(long, short = 'v', value_parser = super::parse_version)]
    pub version: Option<Version>,
    /// The version this label names from labels.toml, instead of --version
    #[arg(long, conflicts_with = "version")]
    pub label: Option<String>,
}

pub fn run(ctx: &mut Ctx, args: SuggestArgs) -> CliResult {
    let project = ctx.project()?;
    let registry = project.load_prompts();
    let (name, version) = super::named_version(
        &project,
        &registry,
        &args.name,
        args.version.as_ref(),
        args.label.as_deref(),
    )?;
    let model = project
        .suggest(&SuggestQuery {
            prompt: name,
            version,
        })
        .map_err(|e| match e {
            SuggestError::Lookup(l) => CliError::from(l),
        })?;
    report_run_diagnostics(ctx, &model.diagnostics);
    if ctx.ui.json {
        return ctx.ui.json(&model);
    }
    render(ctx, &model)
}

/// The findings as text, one numbered block each.
fn render(ctx: &mut Ctx, model: &SuggestModel) -> CliResult {
    let head = format!(
        "{} {} ({}): {} run(s), {} finding(s)",
        model.prompt,
        model.version,
        model.file.display(),
        model.runs,
        model.findings.len()
    );
    let head = ctx.ui.emphasize(&head, Style::Bold);
    ctx.ui.line(&head)?;
    for (i, f) in model.findings.iter().enumerate() {
        let rule = ctx.ui.paint(f.rule.as_str(), Style::Cyan);
        ctx.ui.line(&format!("{}. [{rule}] {}", i + 1, f.finding))?;
        ctx.ui.line(&format!("   → {}", f.suggestion))?;
        if !f.examples.is_empty() {
            ctx.ui
                .line(&format!("   runs: {}", f.examples.join(", ")))?;
        }
    }
    if model.findings.is_empty() {
        ctx.ui.status(
            "nothing to suggest: no rule fired (run the version on its cases with `ptrack run` or `ptrack eval` for more data)",
        );
    }
    Ok(())
}
