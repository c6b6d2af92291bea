//! `ptrack check`: validate every prompt file and run log line.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::Ctx;
use super::error::{CliError, CliResult};
use super::output::Style;
use ptrack::runlog::RunSet;
use ptrack::runlog::{RunFilter, log_files};
use ptrack::{Diagnostic, Severity, Version};

/// Validate every prompt file and run log line; exit 1 if any error
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prints every problem as `path:line: message`. Exit codes: 0 no errors (warnings allowed), 1 errors found.

Examples:
  ptrack check
  ptrack check --base origin/main      also reject versions edited in place after they had runs
  ptrack check --json | jq '.diagnostics[] | select(.severity == \"error\")'")]
pub struct CheckArgs {
    /// Also fail when a version file that has runs was edited in place since REV
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
}

#[derive(Serialize)]
struct CheckReport {
    prompt_files: usize,
    run_logs: usize,
    runs: usize,
    errors: usize,
    warnings: usize,
    diagnostics: Vec<Diagnostic>,
}

pub fn run(ctx: &mut Ctx, args: CheckArgs) -> CliResult {
    let project = ctx.project()?;
    let registry = project.load_prompts();
    let mut diags = registry.diagnostics.clone();
    for v in registry.prompts.values().flat_map(|p| &p.versions) {
        match ptrack::render::template_warnings(v) {
            Ok(ws) => diags.extend(ws.into_iter().map(|(line, msg)| {
                Diagnostic::warning(&v.path, Some(line), msg).with_field("variables")
            })),
            Err(ptrack::render::RenderError::Syntax { line, message, .. }) => {
                diags.push(
                    Diagnostic::error(&v.path, Some(line), format!("template error: {message}"))
                        .with_field("prompt"),
                );
            }
            Err(e) => diags.push(Diagnostic::error(&v.path, None, e.to_string())),
        }
    }
    diags.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    let runs = RunSet::load(
        &project.runs_dir(),
        Path::new("runs"),
        &RunFilter::default(),
    );
    diags.extend(runs.diagnostics.iter().cloned());
    // Runs that point at prompts or versions that do not exist (any more).
    let mut unknown: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in &runs.runs {
        let known = registry.get(&r.prompt).is_some_and(|p| {
            r.version
                .parse::<Version>()
                .is_ok_and(|v| p.version(&v).is_some())
        });
        let has_bad_file = registry
            .diagnostics
            .iter()
            .any(|d| d.is_error() && d.path.starts_with(format!("prompts/{}", r.prompt)));
        if !known && !has_bad_file {
            *unknown
                .entry((r.prompt.clone(), r.version.clone()))
                .or_default() += 1;
        }
    }
    for ((prompt, version), n) in unknown {
        diags.push(Diagnostic::warning(
            Path::new("runs").join(&prompt),
            None,
            format!("{n} run(s) of {prompt} {version}, which has no version file in prompts/"),
        ));
    }
    if let Some(rev) = &args.base {
        let repo = ptrack::git::Repo::open(project.root())
            .ok()
            .ok_or_else(|| {
                CliError::new(format!(
                    "--base needs a git repository, and {} is not in one",
                    project.root().display()
                ))
            })?;
        let (base, _) = super::report::registry_at(&repo, rev)?;
        for w in ptrack::report::in_place_edits(&base, &registry, &runs.runs) {
            let path = registry
                .get(w.prompt.as_deref().unwrap_or_default())
                .and_then(|p| {
                    p.versions
                        .iter()
                        .find(|v| Some(v.version.to_string()) == w.version)
                })
                .map(|v| v.path.clone())
                .unwrap_or_default();
            let prompt = w.prompt.as_deref().unwrap_or_default();
            let version = w.version.as_deref().unwrap_or_default();
            let message = format!(
                "version {version} was edited in place since {rev}, but {} run(s) were recorded against its old text; create a new version instead: ptrack create {prompt} --from {version}",
                w.runs.unwrap_or(0)
            );
            diags.push(Diagnostic::error(path, None, message).with_field("prompt"));
        }
    }
    for id in &runs.orphan_ratings {
        diags.push(Diagnostic::warning(
            "runs",
            None,
            format!("a rating refers to run {id}, which no log holds"),
        ));
    }
    let prompt_files = registry
        .prompts
        .values()
        .map(|p| p.versions.len())
        .sum::<usize>()
        + registry
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| &d.path)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
    let report = CheckReport {
        prompt_files,
        run_logs: log_files(&project.runs_dir()).len(),
        runs: runs.runs.len(),
        errors: diags.iter().filter(|d| d.is_error()).count(),
        warnings: diags.iter().filter(|d| !d.is_error()).count(),
        diagnostics: diags,
    };
    if ctx.ui.json {
        ctx.ui.json(&report)?;
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
