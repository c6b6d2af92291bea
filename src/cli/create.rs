//! `ptrack create`: write a new version file from the template, or from an existing version.

use std::io::IsTerminal;

use super::error::{CliError, CliResult};
use super::output::Style;
use super::{Ctx, ProviderArg};
use ptrack::create::{FileFormat, NewVersion};
use ptrack::{Provider, Version};

/// Write a new prompt version from the template (or copy one with --from)
#[derive(Debug, clap::Args)]
#[command(after_help = "\
On a terminal, a missing NAME, --goal or --model starts a dialog. It asks for the name, goal,
model, temperature, token limit, top-k, top-p and tags (all but those given as flags; the
variables are left to the file), each with its default in brackets, which Enter keeps. An
invalid answer is explained and asked again. For an existing prompt the dialog starts from its
latest version (or --from): its values are the defaults and the new file copies its text.

Examples:
  ptrack create summarize --goal \"Summarize a text\" --model llama3.1:8b --temperature 0.3
  ptrack create summarize --from 1.0                  copy 1.0 to the next minor version (1.1)
  ptrack create summarize --from 1.1 --version 2.0 --temperature 0.2
  ptrack create                                       ask for each attribute (on a terminal)")]
pub struct CreateArgs {
    /// Prompt name (lower-case letters, digits, `_`, `-`)
    pub name: Option<String>,
    /// Version to create (default: 1.0 for a new prompt, else the next minor version)
    #[arg(long, short = 'v', value_parser = super::parse_version)]
    pub version: Option<Version>,
    /// What the prompt is for, in one sentence
    #[arg(long)]
    pub goal: Option<String>,
    /// Model, e.g. llama3.1:8b
    #[arg(long)]
    pub model: Option<String>,
    /// Provider API
    #[arg(long, value_enum)]
    pub provider: Option<ProviderArg>,
    /// Sampling temperature (0 to 2)
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Maximum tokens to generate
    #[arg(long, alias = "max-tokens")]
    pub token_limit: Option<u64>,
    /// Top-k sampling
    #[arg(long)]
    pub top_k: Option<u64>,
    /// Nucleus sampling (0 < p ≤ 1)
    #[arg(long)]
    pub top_p: Option<f64>,
    /// Copy this existing version instead of the template
    #[arg(long, value_name = "VERSION", value_parser = super::parse_version)]
    pub from: Option<Version>,
    /// File format for a new prompt
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// Markdown with YAML front matter
    Md,
    /// A .toml file
    Toml,
}

pub fn run(ctx: &mut Ctx, args: CreateArgs) -> CliResult {
    let project = ctx.project()?;
    let interactive = std::io::stdin().is_terminal() && !ctx.ui.json;
    let given = NewVersion {
        name: args.name.clone().unwrap_or_default(),
        version: args.version.clone(),
        from: args.from.clone(),
        format: args.format.map(|f| match f {
            FormatArg::Md => FileFormat::Md,
            FormatArg::Toml => FileFormat::Toml,
        }),
        goal: args.goal.clone(),
        model: args.model.clone(),
        provider: args.provider.map(Provider::from),
        temperature: args.temperature,
        token_limit: args.token_limit,
        top_k: args.top_k,
        top_p: args.top_p,
        tags: None,
        text: None,
        front: Vec::new(),
    };
    let mut filled = given.clone();
    let defaults = &project.config().defaults;
    if filled.from.is_none() {
        filled.model = filled.model.or_else(|| defaults.model.clone());
        filled.provider = filled.provider.or(defaults.provider);
    }
    // Ask for what is missing, or name every missing flag at once.
    let mut missing = Vec::new();
    if args.name.is_none() {
        missing.push("NAME");
    }
    if filled.from.is_none() {
        if filled.goal.is_none() {
            missing.push("--goal");
        }
        if filled.model.is_none() {
            missing.push("--model");
        }
    }
    let new = if missing.is_empty() {
        filled
    } else if interactive {
        // The questions show values from the version copied, escaped like any other output.
        let mut err = super::output::Escaping::new(std::io::stderr().lock());
        let new = project.ask_new_version(&given, &mut std::io::stdin().lock(), &mut err)?;
        err.finish()?;
        new
    } else {
        return Err(
            CliError::new(format!("missing {}", missing.join(", "))).with_hint(
                "stdin is not a terminal, so ptrack cannot ask; pass them as arguments, e.g. \
                 ptrack create summarize --goal \"Summarize a text\" --model llama3.1:8b",
            ),
        );
    };
    let created = project.create(&new, ctx.now)?;
    if ctx.ui.json {
        return ctx.ui.json(&created);
    }
    let what = match &created.from {
        Some(f) => format!(" (copied from {f})"),
        None => String::new(),
    };
    ctx.ui.line(&format!(
        "created {}{what}",
        ctx.ui
            .paint(&created.path.display().to_string(), Style::Bold)
    ))?;
    if let (None, Some(latest)) = (&created.from, &created.latest_before) {
        let note = format!(
            "note: {} starts from the template, not from {latest}; `ptrack create {} --from {latest}` copies the latest version",
            created.version, created.name
        );
        ctx.ui.status(&note);
    }
    ctx.ui
        .status("next: edit the text, then `git add` and commit it");
    Ok(())
}
