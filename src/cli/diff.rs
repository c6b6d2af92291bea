//! `ptrack diff`: what changed between two versions, or two revisions of one version.

use super::Ctx;
use super::error::{CliError, CliResult};
use super::output::Style;
use ptrack::diff::{DiffModel, VersionDiff, diff_versions};
use ptrack::git::{GitError, Repo};
use ptrack::labels::VersionSpec;
use ptrack::{PromptVersion, Registry, Version};

/// Show what changed between two versions (parameters and text)
#[derive(Debug, clap::Args)]
#[command(after_help = "\
A side is VERSION or VERSION@REV (the file as it was at any revision git understands); a label
from labels.toml (LABEL, LABEL@REV: where the label pointed then) works wherever a version does.

Examples:
  ptrack diff coaching_system                    the latest version against the one before it
                                                 (with one version: against its last commit)
  ptrack diff coaching_system 1.0 1.1
  ptrack diff coaching_system 1.1@HEAD~2         version 1.1 at HEAD~2 against the working tree
  ptrack diff coaching_system@main               the latest version at main against now
  ptrack diff coaching_system 1.0 1.1 --format markdown
  ptrack diff coaching_system:production         the production label against the latest version
  ptrack diff coaching_system:production@main    production at main against production now")]
pub struct DiffArgs {
    /// Prompt name, optionally NAME@REV
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(super::completions::prompt_names))]
    pub name: String,
    /// Old side: VERSION or VERSION@REV
    pub a: Option<String>,
    /// New side: VERSION or VERSION@REV (default: the latest, or A in the working tree)
    pub b: Option<String>,
    /// Output format (--json is the same as --format json)
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Parameter changes and a unified diff, colored on a terminal
    Text,
    /// As embedded in `ptrack report`
    Markdown,
    /// The diff model as JSON
    Json,
}

/// One side: a version, at a revision or in the working tree.
struct Side {
    version: Option<String>,
    rev: Option<String>,
}

fn split(s: &str) -> Side {
    match s.split_once('@') {
        Some((v, rev)) => Side {
            version: (!v.is_empty()).then(|| v.to_string()),
            rev: Some(rev.to_string()),
        },
        None => Side {
            version: Some(s.to_string()),
            rev: None,
        },
    }
}

struct Loader {
    repo: Result<Repo, GitError>,
    worktree: Registry,
    labels: ptrack::labels::Labels,
}

impl Loader {
    fn registry(&self, rev: Option<&str>) -> CliResult<(Registry, String)> {
        match rev {
            None => Ok((self.worktree.clone(), String::new())),
            Some(rev) => {
                let repo = self.repo.as_ref().map_err(|e| {
                    CliError::new(format!("@{rev} needs a git repository, and {e}"))
                })?;
                let (reg, _) = repo.registry_at(rev)?;
                Ok((reg, format!("@{rev}")))
            }
        }
    }

    fn load(
        &self,
        name: &str,
        side: &Side,
        fallback_latest_before: Option<&PromptVersion>,
    ) -> CliResult<(PromptVersion, String)> {
        let (reg, suffix) = self.registry(side.rev.as_deref())?;
        let prompt = reg.find(name).map_err(|e| {
            let e = CliError::from(e);
            match &side.rev {
                Some(rev) => CliError::new(format!("{} at {rev}", e.message)),
                None => e,
            }
        })?;
        let v = match (&side.version, fallback_latest_before) {
            (Some(v), _) => match v.parse::<VersionSpec>() {
                Ok(VersionSpec::Label(l)) if l != ptrack::labels::LATEST => {
                    let labels = match &side.rev {
                        None => self.labels.clone(),
                        Some(rev) => self
                            .repo
                            .as_ref()
                            .map_err(|e| {
                                CliError::new(format!("@{rev} needs a git repository, and {e}"))
                            })?
                            .labels_at(rev)?,
                    };
                    let version = labels.resolve_in(prompt, &l).map_err(|e| {
                        let e = CliError::from(e);
                        match &side.rev {
                            Some(rev) => CliError::new(format!("{} at {rev}", e.message)),
                            None => e,
                        }
                    })?;
                    prompt.resolve(Some(&version))?
                }
                Ok(VersionSpec::Label(_)) => prompt.resolve(None)?,
                Ok(VersionSpec::Version(v)) => prompt.resolve(Some(&v))?,
                Err(_) => prompt.resolve(Some(&v.parse::<Version>()?))?,
            },
            (None, Some(newer)) => prompt
                .versions
                .iter()
                .rev()
                .find(|p| p.version < newer.version)
                .ok_or_else(|| {
                    CliError::new(format!(
                        "prompt `{name}` has only one version ({}); nothing to diff against",
                        newer.version
                    ))
                })?,
            (None, None) => prompt.resolve(None)?,
        };
        Ok((v.clone(), format!("{name} {}{suffix}", v.version)))
    }
}

pub fn run(ctx: &mut Ctx, args: DiffArgs) -> CliResult {
    let project = ctx.project()?;
    let (name, name_rev) = match args.name.split_once('@') {
        Some((n, rev)) => (n.to_string(), Some(rev.to_string())),
        None => (args.name.clone(), None),
    };
    // NAME:LABEL (or NAME:VERSION) names the old side; the new side is the same label now
    // (with @REV), else the latest version.
    let (name, name_label) = match name.split_once(':') {
        Some((n, l)) => (n.to_string(), Some(l.to_string())),
        None => (name, None),
    };
    ptrack::project::check_name(&name)?;
    if let Some(l) = &name_label {
        if args.a.is_some() {
            return Err(CliError::new(format!(
                "`{name}:{l}` already names the old side; drop it or the versions"
            )));
        }
        l.parse::<VersionSpec>()
            .map_err(|e| CliError::new(e.to_string()))?;
    }
    let loader = Loader {
        repo: Repo::open(project.root()),
        worktree: project.load_prompts(),
        labels: project.labels(),
    };
    if let Some(l) = name_label {
        let old = Side {
            version: Some(l.clone()),
            rev: name_rev.clone(),
        };
        let new = Side {
            version: name_rev.is_some().then_some(l),
            rev: None,
        };
        let (old, from) = loader.load(&name, &old, None)?;
        let (new, to) = loader.load(&name, &new, None)?;
        return print_diff(ctx, args.format, name, &old, &from, &new, &to);
    }
    // NAME@REV sets the revision of the old side when it names none.
    let with_rev = |side: Side| match (&side.rev, &name_rev) {
        (None, Some(rev)) => Side {
            rev: Some(rev.clone()),
            ..side
        },
        _ => side,
    };
    let ((old, from), (new, to)) = match (&args.a, &args.b, name_rev.clone()) {
        (Some(a), Some(b), _) => (
            loader.load(&name, &with_rev(split(a)), None)?,
            loader.load(&name, &split(b), None)?,
        ),
        (Some(a), None, _) => {
            let a = with_rev(split(a));
            let b = match &a.rev {
                // VERSION@REV alone: that version now.
                Some(_) => Side {
                    version: a.version.clone(),
                    rev: None,
                },
                None => Side {
                    version: None,
                    rev: None,
                },
            };
            (loader.load(&name, &a, None)?, loader.load(&name, &b, None)?)
        }
        (None, _, Some(rev)) => {
            let old = loader.load(
                &name,
                &Side {
                    version: None,
                    rev: Some(rev),
                },
                None,
            )?;
            (
                old,
                loader.load(
                    &name,
                    &Side {
                        version: None,
                        rev: None,
                    },
                    None,
                )?,
            )
        }
        (None, _, None) => {
            let new = loader.load(
                &name,
                &Side {
                    version: None,
                    rev: None,
                },
                None,
            )?;
            let before = Side {
                version: None,
                rev: None,
            };
            let old = match loader.load(&name, &before, Some(&new.0)) {
                Ok(old) => old,
                // One version only: in git, show how it changed since the last commit.
                Err(e) if loader.repo.as_ref().is_ok_and(|r| r.head().is_some()) => {
                    let at_head = Side {
                        version: Some(new.0.version.to_string()),
                        rev: Some("HEAD".to_string()),
                    };
                    loader.load(&name, &at_head, None).map_err(|_| e)?
                }
                Err(e) => return Err(e),
            };
            (old, new)
        }
    };
    print_diff(ctx, args.format, name, &old, &from, &new, &to)
}

fn print_diff(
    ctx: &mut Ctx,
    format: Format,
    name: String,
    old: &PromptVersion,
    from: &str,
    new: &PromptVersion,
    to: &str,
) -> CliResult {
    let diff = diff_versions(old, from, new, to);
    let format = if ctx.ui.json { Format::Json } else { format };
    match format {
        Format::Json => ctx.ui.json(&DiffModel { prompt: name, diff }),
        Format::Markdown => ctx
            .ui
            .write_text(&ptrack::markdown::version_diff(&diff, false)),
        Format::Text => render_text(ctx, &diff, &old.text, &new.text),
    }
}

fn render_text(ctx: &mut Ctx, d: &VersionDiff, old: &str, new: &str) -> CliResult {
    ctx.ui
        .line(&ctx.ui.paint(&format!("{} → {}", d.from, d.to), Style::Bold))?;
    if d.params.is_empty() {
        ctx.ui.line("parameters: unchanged")?;
    } else {
        ctx.ui.line("parameters:")?;
        for p in &d.params {
            ctx.ui.line(&format!("  {}", p.describe()))?;
        }
    }
    if d.unified.is_empty() {
        return ctx.ui.line("text: unchanged");
    }
    ctx.ui.line(&format!(
        "text: +{} −{} lines",
        d.lines_added, d.lines_removed
    ))?;
    for m in &d.messages {
        ctx.ui.line(&format!("  {}", m.describe()))?;
    }
    if !ctx.ui.color {
        return ctx.ui.write(&d.unified);
    }
    // On a terminal: hunks with the changed words emphasized.
    let text = ptrack::diff::line_diff(old, new);
    ctx.ui
        .line(&ctx.ui.paint(&format!("--- {}", d.from), Style::Bold))?;
    ctx.ui
        .line(&ctx.ui.paint(&format!("+++ {}", d.to), Style::Bold))?;
    for group in text.grouped_ops(3) {
        let header = similar::udiff::UnifiedHunkHeader::new(&group).to_string();
        ctx.ui.line(&ctx.ui.paint(&header, Style::Cyan))?;
        for op in group {
            for change in text.iter_inline_changes(&op) {
                let (sign, style) = match change.tag() {
                    similar::ChangeTag::Delete => ("-", Style::Red),
                    similar::ChangeTag::Insert => ("+", Style::Green),
                    similar::ChangeTag::Equal => (" ", Style::Dim),
                };
                let mut line = ctx.ui.paint(sign, style);
                for (emphasized, value) in change.iter_strings_lossy() {
                    let v = value.trim_end_matches('\n');
                    line.push_str(&if emphasized {
                        ctx.ui.emphasize(v, style)
                    } else {
                        ctx.ui.paint(v, style)
                    });
                }
                ctx.ui.line(&line)?;
            }
        }
    }
    Ok(())
}
