//! `ptrack render`: a version with its variables filled in, as text or a request body.

use std::path::Path;

use serde_json::{Map, Value};

use super::Ctx;
use super::error::{CliError, CliResult};
use ptrack::Version;
use ptrack::render::{RenderFormat, RenderOutput};

/// Render a prompt version with its variables (text, or the request body for a model server)
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Templates use Jinja syntax: {{ name }}, {% if … %}, {% for … %}. Variables come from --vars-file,
then --var (which wins), then each variable's `default`.

Examples:
  ptrack render coaching_system --var user_message=\"I keep procrastinating\"
  ptrack render coaching_system --vars-file vars.yaml --format ollama \\
    | curl -s http://localhost:11434/api/generate -d @-
  ptrack render task_classification --var task=\"Fix the login bug\" --format openai")]
pub struct RenderArgs {
    /// Prompt name, or NAME:LABEL
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(super::completions::prompt_names))]
    pub name: String,
    /// Version (default: the latest)
    #[arg(long, short = 'v', value_parser = super::parse_version)]
    pub version: Option<Version>,
    /// Version by label from labels.toml (also NAME:LABEL), instead of --version
    #[arg(long, conflicts_with = "version")]
    pub label: Option<String>,
    #[command(flatten)]
    pub vars: VarArgs,
    /// What to print
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// Variable flags shared by `render` and `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct VarArgs {
    /// A variable, KEY=VALUE (repeatable)
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_var)]
    pub var: Vec<(String, String)>,
    /// Variables from a JSON, YAML or TOML file (an object of name → value)
    #[arg(long, value_name = "FILE")]
    pub vars_file: Option<std::path::PathBuf>,
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The rendered prompt text
    Text,
    /// The JSON body for Ollama (/api/generate, or /api/chat for a chat prompt)
    Ollama,
    /// The JSON body for /v1/chat/completions
    Openai,
}

impl VarArgs {
    /// The variables: the file's, then the flags'.
    /// Whether any variable was given on the command line.
    pub fn given(&self) -> bool {
        !self.var.is_empty() || self.vars_file.is_some()
    }

    pub fn load(&self, base: &Path) -> CliResult<Map<String, Value>> {
        let mut vars = match &self.vars_file {
            Some(f) => ptrack::render::read_vars_file(&base.join(f), f).map_err(CliError::new)?,
            None => Map::new(),
        };
        for (k, v) in &self.var {
            vars.insert(k.clone(), Value::String(v.clone()));
        }
        Ok(vars)
    }
}

pub fn run(ctx: &mut Ctx, args: RenderArgs) -> CliResult {
    let project = ctx.project()?;
    let registry = project.load_prompts();
    let (name, version) = super::named_version(
        &project,
        &registry,
        &args.name,
        args.version.as_ref(),
        args.label.as_deref(),
    )?;
    let v = registry.resolve(&name, version.as_ref())?;
    let vars = args.vars.load(&ctx.start_dir)?;
    let format = match args.format {
        Format::Text => RenderFormat::Text,
        Format::Ollama => RenderFormat::Ollama,
        Format::Openai => RenderFormat::Openai,
    };
    match project.render_output(v, &vars, format)? {
        RenderOutput::Text(r) if !ctx.ui.json => ctx.ui.write_text(&r.text),
        out => ctx.ui.json(&out),
    }
}
