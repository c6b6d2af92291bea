//! `ptrack report`: the pull request report, with gates for CI.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::{CliError, CliResult};
use super::{Ctx, report_run_diagnostics};
use ptrack::git::{GitError, Repo};
use ptrack::project::load_registry;
use ptrack::report::{ReportInput, build, render_markdown, render_text};
use ptrack::runlog::RunFilter;
use ptrack::runlog::RunSet;
use ptrack::{Project, Registry};

/// Report what changed in the prompts since a base revision, with metrics, tests and gates
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The base defaults to the merge base of HEAD with the default branch (origin/HEAD, else main or
master); the head defaults to the working tree. Gates come from [report] in ptrack.toml and the
flags below. Exit codes: 0 every gate passed, 1 a gate failed (the report names it), 2 error.
When GITHUB_STEP_SUMMARY is set, the Markdown report is appended to it too.

Examples:
  ptrack report                                   Markdown report against the default branch
  ptrack report --base origin/main --output report.md --min-success-rate 0.9
  ptrack report --base v1.2 --head HEAD --format text
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

/// A git error as the user should read it, with the fix for shallow clones.
pub fn git_error(e: GitError) -> CliError {
    match e {
        GitError::UnknownRevision { shallow: true, .. } => CliError::new(e.to_string()).with_hint(
            "fetch the full history: `git fetch --unshallow`, or in GitHub Actions `actions/checkout` with `fetch-depth: 0`",
        ),
        GitError::UnknownRevision { .. } => CliError::new(e.to_string()).with_hint("check the name with `git rev-parse REV`"),
        other => CliError::new(other.to_string()),
    }
}

fn need_repo(project: &Project, flag: &str) -> CliResult<Repo> {
    Repo::open(project.root()).ok().ok_or_else(|| {
        CliError::new(format!(
            "{flag} needs a git repository, and {} is not in one",
            project.root().display()
        ))
    })
}

/// The prompts at `rev`.
pub fn registry_at(repo: &Repo, rev: &str) -> CliResult<(Registry, String)> {
    let oid = repo.resolve(rev).map_err(git_error)?;
    let source = repo.source_at(oid).map_err(git_error)?;
    Ok((load_registry(&source), repo.short(oid)))
}

pub fn run(ctx: &mut Ctx, args: ReportArgs) -> CliResult {
    let project = ctx.project()?;
    let mut gates = project.config().report.clone();
    gates.min_success_rate = args.min_success_rate.or(gates.min_success_rate);
    gates.max_p95_regression_pct = args.max_p95_regression_pct.or(gates.max_p95_regression_pct);
    gates.min_quality = args.min_quality.or(gates.min_quality);
    gates.min_runs = args.min_runs.or(gates.min_runs);
    if args.forbid_in_place_edits {
        gates.forbid_in_place_edits = Some(true);
    }
    gates.validate().map_err(CliError::new)?;
    let repo = Repo::open(project.root()).ok();
    let (head, head_label) = match &args.head {
        Some(rev) => {
            let repo = need_repo(&project, "--head")?;
            let (reg, short) = registry_at(&repo, rev)?;
            (reg, format!("{rev} ({short})"))
        }
        None => (project.load_prompts(), "working tree".to_string()),
    };
    let base = match (&args.base, &repo) {
        (Some(rev), _) => {
            let repo = need_repo(&project, "--base")?;
            let (reg, short) = registry_at(&repo, rev)?;
            Some((reg, format!("{rev} ({short})")))
        }
        (None, Some(repo)) => match match &args.head {
            // A --head revision is compared with its own merge base.
            Some(rev) => repo.resolve(rev).and_then(|oid| repo.default_base_of(oid)),
            None => repo.default_base(),
        }
        .map_err(git_error)?
        {
            Some((branch, oid)) => {
                let source = repo.source_at(oid).map_err(git_error)?;
                Some((
                    load_registry(&source),
                    format!("{branch} (merge base {})", repo.short(oid)),
                ))
            }
            None => {
                if repo.head().is_some() {
                    ctx.ui.warn("no default branch found (origin/HEAD, main, master); reporting the current state. Pass --base REV to compare");
                }
                None
            }
        },
        (None, None) => None,
    };
    let runs = RunSet::load(
        &project.runs_dir(),
        Path::new("runs"),
        &RunFilter::default(),
    );
    report_run_diagnostics(ctx, &runs.diagnostics);
    let report = build(&ReportInput {
        base_label: base.as_ref().map(|(_, l)| l.clone()),
        base: base.as_ref().map(|(r, _)| r),
        head_label,
        head: &head,
        runs: &runs.runs,
        gates: &gates,
        now: ctx.now,
    });
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
        None => ctx.ui.write(&text)?,
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
