//! `ptrack label`: list a prompt's labels, or move one (editing labels.toml in place).

use super::Ctx;
use super::error::{CliError, CliResult};
use super::output::{Align, Style, Table};
use ptrack::Version;
use ptrack::labels::LabelError;

/// List a prompt's labels, or point a label at a version
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Labels name the version an application serves (`production`, `staging`); they live in
labels.toml at the project root, one table per prompt, so moving one is a one-line change to
review in a pull request:

  [coaching_system]
  production = \"1.1\"

`latest` is always the highest version. Wherever a command takes a version it also takes a
label: NAME:LABEL (`ptrack show coaching_system:production`) or --label LABEL.

Examples:
  ptrack label coaching_system                        list its labels
  ptrack label coaching_system production 1.1         point production at 1.1
  ptrack label coaching_system staging --remove
  ptrack show coaching_system:production")]
pub struct LabelArgs {
    /// Prompt name
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(super::completions::prompt_names))]
    pub name: String,
    /// The label to set (or remove)
    pub label: Option<String>,
    /// The version it should name
    #[arg(value_parser = super::parse_version, requires = "label")]
    pub version: Option<Version>,
    /// Remove the label instead
    #[arg(long, requires = "label", conflicts_with = "version")]
    pub remove: bool,
}

fn cli_error(e: LabelError) -> CliError {
    match e {
        LabelError::Lookup(l) => CliError::from(l),
        LabelError::Invalid(_) => CliError::from_source(e)
            .with_hint("fix labels.toml; `ptrack check` lists every problem"),
        other => CliError::from_source(other),
    }
}

pub fn run(ctx: &mut Ctx, args: LabelArgs) -> CliResult {
    let project = ctx.project()?;
    let Some(label) = &args.label else {
        let list = project.list_labels(&args.name).map_err(cli_error)?;
        if ctx.ui.json {
            return ctx.ui.json(&list);
        }
        let mut t = Table::new(&[("LABEL", Align::Left), ("VERSION", Align::Left)]);
        for e in &list.labels {
            t.row(vec![e.label.clone(), e.version.to_string()]);
        }
        ctx.ui.table(&t)?;
        if list.labels.len() <= 1 {
            ctx.ui.line(&format!(
                "no labels yet; set one with `ptrack label {} production VERSION`",
                list.prompt
            ))?;
        }
        return Ok(());
    };
    if !args.remove && args.version.is_none() {
        return Err(CliError::new(format!(
            "which version should `{label}` name? `ptrack label {} {label} VERSION`, or --remove",
            args.name
        )));
    }
    let version = if args.remove {
        None
    } else {
        args.version.as_ref()
    };
    let moved = project
        .move_label(&args.name, label, version)
        .map_err(cli_error)?;
    if ctx.ui.json {
        return ctx.ui.json(&moved);
    }
    let show = |v: &Option<Version>| v.as_ref().map_or("(none)".to_string(), Version::to_string);
    let what = format!(
        "{} {}: {} → {}",
        moved.prompt,
        moved.label,
        show(&moved.from),
        show(&moved.to)
    );
    let note = if moved.from == moved.to {
        " (unchanged)"
    } else {
        ""
    };
    ctx.ui
        .line(&format!("{}{note}", ctx.ui.paint(&what, Style::Bold)))?;
    if moved.from != moved.to {
        ctx.ui
            .line("labels.toml changed; commit it to move the label for everyone")?;
    }
    Ok(())
}
