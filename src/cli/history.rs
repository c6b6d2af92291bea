//! `ptrack history`: the commits that touched a prompt, with the metrics of their runs.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use super::error::{CliError, CliResult};
use super::output::{self, Style};
use super::report::git_error;
use super::{Ctx, check_name, report_run_diagnostics};
use ptrack::git::{ChangeKind, HistoryEntry, Repo};
use ptrack::metrics::Metrics;
use ptrack::runlog::RunSet;
use ptrack::runlog::{RunFacts, RunFilter};

/// Show the commits that touched a prompt, newest first, with the metrics of each file's runs
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each changed version file is listed with the runs recorded against exactly that text (runs whose
prompt_sha is the file's blob at the commit). Renames are followed.

Examples:
  ptrack history coaching_system
  ptrack history coaching_system --version 1.1 --limit 5
  ptrack history coaching_system --json")]
pub struct HistoryArgs {
    /// Prompt name
    pub name: String,
    /// Only commits that changed this version's file
    #[arg(long, short = 'v')]
    pub version: Option<String>,
    /// Show at most N commits
    #[arg(long, short = 'n', value_name = "N")]
    pub limit: Option<usize>,
}

#[derive(Serialize)]
struct Entry {
    #[serde(flatten)]
    entry: HistoryEntry,
    /// Metrics of the runs of each changed file's new blob, in the order of `changes`.
    metrics: Vec<Option<Metrics>>,
}

pub fn run(ctx: &mut Ctx, args: HistoryArgs) -> CliResult {
    check_name(&args.name)?;
    let project = ctx.project()?;
    let repo = Repo::open(project.root()).ok().ok_or_else(|| {
        CliError::new(format!(
            "{} is not in a git repository; history comes from git",
            project.root().display()
        ))
    })?;
    let version = match &args.version {
        Some(v) => Some(v.parse::<ptrack::Version>()?.to_string()),
        None => None,
    };
    let mut entries = repo.history(&args.name, None).map_err(git_error)?;
    if let Some(v) = &version {
        entries.retain(|e| {
            e.changes
                .iter()
                .any(|c| c.version.as_deref() == Some(v.as_str()))
        });
        for e in &mut entries {
            e.changes
                .retain(|c| c.version.as_deref() == Some(v.as_str()));
        }
    }
    if entries.is_empty() {
        // No history and no such prompt: most likely a typo; say so like other commands do.
        let registry = project.load_prompts();
        if registry.get(&args.name).is_none() {
            super::find_prompt(&registry, &args.name)?;
        }
    }
    if let Some(limit) = args.limit {
        entries.truncate(limit);
    }
    let runs = RunSet::load(
        &project.runs_dir(),
        Path::new("runs"),
        &RunFilter::default(),
    );
    report_run_diagnostics(ctx, &runs.diagnostics);
    let folder = |p: &std::path::Path| -> String {
        p.strip_prefix("prompts")
            .ok()
            .and_then(|p| p.components().next())
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    // The prompt's names over its history (it may have been renamed); runs of the same text
    // under any other prompt are that prompt's runs, not this one's.
    let mut names: std::collections::BTreeSet<String> =
        std::collections::BTreeSet::from([args.name.clone()]);
    for e in &entries {
        for c in &e.changes {
            names.insert(folder(&c.path));
            if let Some(old) = &c.old_path {
                names.insert(folder(old));
            }
        }
    }
    let mut by_sha: HashMap<&str, Vec<&RunFacts>> = HashMap::new();
    for r in runs.runs.iter().filter(|r| names.contains(&r.prompt)) {
        if let Some(sha) = &r.prompt_sha {
            by_sha.entry(sha.as_str()).or_default().push(r);
        }
    }
    let model: Vec<Entry> = entries
        .into_iter()
        .map(|entry| {
            let metrics = entry
                .changes
                .iter()
                .map(|c| {
                    let runs = c.blob.as_deref().and_then(|b| by_sha.get(b))?;
                    Some(Metrics::compute(runs.iter().copied()))
                })
                .collect();
            Entry { entry, metrics }
        })
        .collect();
    if ctx.ui.json {
        return ctx.ui.json(&model);
    }
    if model.is_empty() {
        let why = if repo.head().is_none() {
            "the repository has no commits yet"
        } else {
            "no commit touched it"
        };
        ctx.ui
            .status(&format!("no history for {}: {why}", args.name));
        return Ok(());
    }
    for e in &model {
        let h = &e.entry;
        let merge = if h.merge { " (merge)" } else { "" };
        ctx.ui.line(&format!(
            "{} {} {}  {}{merge}",
            ctx.ui.paint(&h.short, Style::Yellow),
            h.time.format("%Y-%m-%d"),
            ctx.ui.paint(&h.author, Style::Dim),
            h.subject
        ))?;
        for (c, m) in h.changes.iter().zip(&e.metrics) {
            let (letter, style) = match c.status {
                ChangeKind::Added => ("A", Style::Green),
                ChangeKind::Modified => ("M", Style::Yellow),
                ChangeKind::Renamed => ("R", Style::Cyan),
                ChangeKind::Deleted => ("D", Style::Red),
            };
            let path = match &c.old_path {
                Some(old) => format!("{} → {}", old.display(), c.path.display()),
                None => c.path.display().to_string(),
            };
            let stats = match m {
                _ if c.status == ChangeKind::Deleted => String::new(),
                Some(m) => format!(
                    "  runs {} · success {} · p50 {} · quality {}",
                    m.runs,
                    output::pct(m.success_rate),
                    output::ms(m.time_ms.map(|t| t.p50)),
                    output::quality(m.quality_mean, m.quality_n)
                ),
                None => "  no runs of this text".to_string(),
            };
            ctx.ui.line(&format!(
                "    {} {path}{stats}",
                ctx.ui.paint(letter, style)
            ))?;
        }
    }
    Ok(())
}
