//! `ptrack resolve`: which version to serve for a label, and for a unit in an experiment.

use super::Ctx;
use super::error::{CliError, CliResult};

/// Print the version to serve: a label's version, or a unit's variant in a running experiment
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Without a label the prompt's latest version is served. When an experiment (experiments.toml) is
running on the label, --unit assigns the unit (a user id, a session id) a variant: the same unit
always gets the same variant, in every process and on every machine. The bucket is
SHA-256(\"EXPERIMENT\\nUNIT\"), first 8 bytes big-endian, modulo 10000; the variants, in version
order, share the 10000 buckets by weight.

Prints the version; --json also prints the label, experiment, variant, bucket and the unit as
runs store it (hashed when the experiment sets hash_units).

Examples:
  ptrack resolve coaching_system:production
  ptrack resolve coaching_system:production --unit user-42 --json")]
pub struct ResolveArgs {
    /// NAME or NAME:LABEL
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(super::completions::prompt_names))]
    pub name: String,
    /// The unit to assign in a running experiment
    #[arg(long, value_name = "ID")]
    pub unit: Option<String>,
}

pub fn run(ctx: &mut Ctx, args: ResolveArgs) -> CliResult {
    let project = ctx.project()?;
    let (name, label) = match args.name.split_once(':') {
        Some((n, l)) => (n, Some(l)),
        None => (args.name.as_str(), None),
    };
    if let Some(l) = label {
        match ptrack::labels::check_label_name(l) {
            Ok(()) | Err(ptrack::labels::LabelNameError::Latest) => {}
            Err(e) => return Err(CliError::new(e.to_string())),
        }
    }
    if args.unit.as_deref() == Some("") {
        return Err(CliError::new("--unit must not be empty"));
    }
    let r = project.resolve_for(name, label, args.unit.as_deref(), ctx.now)?;
    super::warn_broken_experiments(ctx, &project);
    if r.experiment.is_some() && args.unit.is_none() {
        ctx.ui.warn(&format!(
            "experiment `{}` is running on {}:{}; pass --unit to be assigned a variant (serving the label's version)",
            r.experiment.as_deref().unwrap_or_default(),
            r.prompt,
            r.label
        ));
    }
    if ctx.ui.json {
        return ctx.ui.json(&r);
    }
    ctx.ui.line(r.version.as_str())
}
