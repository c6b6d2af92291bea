//! `ptrack schema`: the JSON Schemas of a version's front matter, a run log line and
//! ptrack.toml, for editors and other tools.

use super::Ctx;
use super::error::{CliError, CliResult};
use ptrack::templates::SCHEMA_DIR;

/// Print the JSON Schema of the front matter, a run line or ptrack.toml
#[derive(Debug, clap::Args)]
#[command(after_help = "\
`ptrack init` writes all three to .ptrack/schemas/, and new version files and ptrack.toml point
at them (`# yaml-language-server: $schema=…`, `#:schema …`), so editors complete and check keys.
`--write` refreshes those files after an upgrade of ptrack.

Examples:
  ptrack schema front-matter
  ptrack schema run
  ptrack schema config
  ptrack schema --write")]
pub struct SchemaArgs {
    /// Which schema
    #[arg(value_parser = ["front-matter", "run", "config"], required_unless_present = "write")]
    pub kind: Option<String>,
    /// Write all three to .ptrack/schemas/ in the project (replacing older ones)
    #[arg(long, conflicts_with = "kind")]
    pub write: bool,
}

pub fn run(ctx: &mut Ctx, args: SchemaArgs) -> CliResult {
    let schemas = ptrack::schema::file_schemas();
    if args.write {
        let project = ctx.project()?;
        let root = project.root().to_path_buf();
        let mut written = Vec::new();
        for (name, schema) in &schemas {
            let rel = format!("{SCHEMA_DIR}/{name}.schema.json");
            ptrack::safe_fs::replace_inside(
                &root,
                std::path::Path::new(&rel),
                ptrack::schema::to_file_text(schema).as_bytes(),
            )
            .map_err(|e| CliError::new(format!("cannot write {rel}: {e}")))?;
            written.push(rel);
        }
        if ctx.ui.json {
            return ctx.ui.json(&written);
        }
        for w in &written {
            ctx.ui.line(&format!("wrote {w}"))?;
        }
        return Ok(());
    }
    let kind = args.kind.unwrap_or_default();
    let Some((_, schema)) = schemas.iter().find(|(n, _)| *n == kind) else {
        return Err(CliError::new(format!("unknown schema `{kind}`")));
    };
    ctx.ui.write_exact(&ptrack::schema::to_file_text(schema))
}
