//! `ptrack create`: write a new version file from the template, or from an existing version.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use serde::Serialize;

use super::error::{CliError, CliResult};
use super::output::Style;
use super::{Ctx, check_name, find_version};
use ptrack::prompt::parse_prompt_file;
use ptrack::{Provider, Version, templates};

/// Write a new prompt version from the template (or copy one with --from)
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  ptrack create summarize --goal \"Summarize a text in three bullets\" --model llama3.1:8b --temperature 0.3
  ptrack create summarize --from 1.0                  copy 1.0 to the next minor version (1.1)
  ptrack create summarize --from 1.1 --version 2.0 --temperature 0.2
  ptrack create                                       ask for everything (on a terminal)")]
pub struct CreateArgs {
    /// Prompt name (lower-case letters, digits, `_`, `-`)
    pub name: Option<String>,
    /// Version to create (default: 1.0 for a new prompt, else the next minor version)
    #[arg(long, short = 'v')]
    pub version: Option<String>,
    /// What the prompt is for, in one sentence
    #[arg(long)]
    pub goal: Option<String>,
    /// Model, e.g. llama3.1:8b
    #[arg(long)]
    pub model: Option<String>,
    /// Provider API
    #[arg(long, value_parser = ["ollama", "openai"])]
    pub provider: Option<String>,
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
    #[arg(long, value_name = "VERSION")]
    pub from: Option<String>,
    /// File format for a new prompt
    #[arg(long, value_parser = ["md", "toml"])]
    pub format: Option<String>,
}

#[derive(Serialize)]
struct Created {
    name: String,
    version: String,
    path: PathBuf,
    from: Option<String>,
}

pub fn run(ctx: &mut Ctx, mut args: CreateArgs) -> CliResult {
    let project = ctx.project()?;
    let registry = project.load_prompts();
    let interactive = std::io::stdin().is_terminal() && !ctx.ui.json;
    let defaults = &project.config().defaults;
    if args.model.is_none() && args.from.is_none() {
        args.model = defaults.model.clone();
    }
    if args.provider.is_none() && args.from.is_none() {
        args.provider = defaults.provider.map(|p| p.as_str().to_string());
    }
    // Ask for what is missing, or name every missing flag at once.
    let mut missing = Vec::new();
    if args.name.is_none() {
        missing.push("NAME");
    }
    if args.from.is_none() {
        if args.goal.is_none() {
            missing.push("--goal");
        }
        if args.model.is_none() {
            missing.push("--model");
        }
    }
    if !missing.is_empty() {
        if !interactive {
            return Err(
                CliError::new(format!("missing {}", missing.join(", "))).with_hint(
                    "stdin is not a terminal, so ptrack cannot ask; pass them as arguments, e.g. \
                 ptrack create summarize --goal \"Summarize a text\" --model llama3.1:8b",
                ),
            );
        }
        for m in missing {
            let answer = ask(match m {
                "NAME" => "prompt name",
                "--goal" => "goal (one sentence)",
                _ => "model (e.g. llama3.1:8b)",
            })?;
            match m {
                "NAME" => args.name = Some(answer),
                "--goal" => args.goal = Some(answer),
                _ => args.model = Some(answer),
            }
        }
    }
    let name = args.name.clone().unwrap_or_default();
    check_name(&name)?;
    let existing = registry.get(&name);
    let bad_files = registry
        .diagnostics
        .iter()
        .any(|d| d.is_error() && d.path.starts_with(format!("prompts/{name}")));
    let source = match (&args.from, existing) {
        (Some(from), Some(p)) => Some(find_version(p, Some(from))?),
        (Some(_), None) => {
            return Err(CliError::new(format!(
                "--from needs an existing prompt, and there is no prompt named `{name}`"
            )));
        }
        (None, _) => None,
    };
    let version: Version = match &args.version {
        Some(v) => v.parse()?,
        None => match existing.and_then(|p| p.latest()) {
            Some(latest) => {
                let mut next = latest.version.next_minor();
                while existing.is_some_and(|p| p.version(&next).is_some()) {
                    next = next.next_minor();
                }
                next
            }
            None if bad_files => {
                return Err(CliError::new(format!(
                    "prompts/{name}/ has invalid version files, so the next version is unclear"
                ))
                .with_hint("fix them (see `ptrack check`) or pass --version"));
            }
            None => "1.0".parse()?,
        },
    };
    let ext = match (&source, &args.format) {
        (Some(s), Some(f)) if f.as_str() != ext_of(&s.path) => {
            return Err(CliError::new(format!(
                "--format {f} differs from {}; --from copies the file as it is",
                s.path.display()
            )));
        }
        (Some(s), _) => ext_of(&s.path).to_string(),
        (None, Some(f)) => f.clone(),
        (None, None) => defaults.format.clone().unwrap_or_else(|| "md".to_string()),
    };
    for e in ["md", "toml"] {
        let p = project.version_path(&name, &version, e);
        if p.exists() {
            return Err(CliError::new(format!(
                "prompts/{name}/{version}.{e} already exists; ptrack never overwrites a version"
            ))
            .with_hint("pick another --version, or edit the file and commit it"));
        }
    }
    let created_at = ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let text = match source {
        Some(src) => {
            let bytes = std::fs::read(project.root().join(&src.path))
                .map_err(|e| CliError::new(format!("cannot read {}: {e}", src.path.display())))?;
            let mut text = String::from_utf8_lossy(&bytes).into_owned();
            let yaml = ext == "md" && text.starts_with("---");
            let mut failed = None;
            let mut set = |key: &str, value: Option<String>| {
                if let Some(v) = value {
                    match set_key(&text, yaml, key, &v) {
                        Ok(t) => text = t,
                        Err(e) => failed = Some(e),
                    }
                }
            };
            let q = |s: &Option<String>| s.as_ref().map(|s| quote(s, yaml));
            set("goal", q(&args.goal));
            set("model", q(&args.model));
            set("provider", q(&args.provider));
            set("temperature", args.temperature.map(|x| x.to_string()));
            set("token_limit", args.token_limit.map(|x| x.to_string()));
            set("top_k", args.top_k.map(|x| x.to_string()));
            set("top_p", args.top_p.map(|x| x.to_string()));
            set(
                "created_at",
                Some(if yaml {
                    created_at.clone()
                } else {
                    quote(&created_at, false)
                }),
            );
            text
        }
        None => render_template(&project.templates_dir(), &ext, &args, &created_at)?,
    };
    // The one validator: parse what would be written; write nothing if it has errors.
    let rel = PathBuf::from("prompts")
        .join(&name)
        .join(format!("{version}.{ext}"));
    let outcome = parse_prompt_file(&rel, &name, &version, text.as_bytes());
    let errors: Vec<String> = outcome
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.clone())
        .collect();
    if !errors.is_empty() {
        return Err(CliError::new(format!(
            "the new version would be invalid: {}",
            errors.join("; ")
        ))
        .with_hint("nothing was written"));
    }
    let path = project.root().join(&rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::new(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| CliError::new(format!("cannot create {}: {e}", rel.display())))?;
    f.write_all(text.as_bytes())
        .map_err(|e| CliError::new(format!("cannot write {}: {e}", rel.display())))?;
    let created = Created {
        name,
        version: version.to_string(),
        path: rel,
        from: args.from.clone(),
    };
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
    if let (None, Some(latest)) = (&created.from, existing.and_then(|p| p.latest())) {
        let note = format!(
            "note: {} starts from the template, not from {}; `ptrack create {} --from {}` copies the latest version",
            created.version, latest.version, created.name, latest.version
        );
        ctx.ui.status(&note);
    }
    ctx.ui
        .status("next: edit the text, then `git add` and commit it");
    Ok(())
}

fn ext_of(path: &std::path::Path) -> &str {
    path.extension().and_then(|e| e.to_str()).unwrap_or("md")
}

fn ask(label: &str) -> CliResult<String> {
    loop {
        eprint!("{label}: ");
        std::io::stderr().flush()?;
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line)? == 0 {
            return Err(CliError::new(format!("no answer for {label}")));
        }
        let answer = line.trim();
        if !answer.is_empty() {
            return Ok(answer.to_string());
        }
    }
}

/// A string as a YAML or TOML scalar.
fn quote(s: &str, yaml: bool) -> String {
    if yaml {
        serde_yaml::to_string(s)
            .map(|q| q.trim_end().to_string())
            .unwrap_or_else(|_| format!("{s:?}"))
    } else {
        toml::Value::String(s.to_string()).to_string()
    }
}

fn render_template(
    templates_dir: &std::path::Path,
    ext: &str,
    args: &CreateArgs,
    created_at: &str,
) -> CliResult<String> {
    let yaml = ext == "md";
    let t = if yaml {
        templates::PROMPT_MD
    } else {
        templates::PROMPT_TOML
    };
    let source = t
        .load(templates_dir)
        .map_err(|e| CliError::new(format!("cannot read templates/{}: {e}", t.name)))?;
    let q = |s: &Option<String>| s.as_ref().map(|s| quote(s, yaml));
    let provider = args.provider.as_deref().and_then(|p| match p {
        "ollama" => Some(Provider::Ollama),
        "openai" => Some(Provider::Openai),
        _ => None,
    });
    let ctx = minijinja::context! {
        goal => q(&args.goal),
        model => q(&args.model),
        provider => provider.map(|p| quote(p.as_str(), yaml)),
        temperature => args.temperature,
        token_limit => args.token_limit,
        top_k => args.top_k,
        top_p => args.top_p,
        created_at => if yaml { created_at.to_string() } else { quote(created_at, false) },
    };
    let env = minijinja::Environment::new();
    let mut text = env
        .render_str(&source, ctx)
        .map_err(|e| CliError::new(format!("cannot render templates/{}: {e}", t.name)))?;
    // minijinja drops the template's final newline; files end with one.
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// Set top-level `key` in the front matter of a version file, keeping everything else as
/// written. YAML (`---`) is edited by lines, replacing the key's line and its continuation lines;
/// TOML (a `.toml` file or `+++` front matter) through `toml_edit`. `token_limit` also replaces
/// its alias `max_tokens`. `value` is already a YAML or TOML literal.
fn set_key(text: &str, yaml: bool, key: &str, value: &str) -> Result<String, String> {
    if yaml {
        return Ok(set_yaml_key(text, key, value));
    }
    let (head, matter, tail) = match text.strip_prefix("+++") {
        Some(rest) => {
            let rest = rest
                .strip_prefix("\r\n")
                .or_else(|| rest.strip_prefix('\n'))
                .unwrap_or(rest);
            let close = rest.find("\n+++").map_or(rest.len(), |i| i + 1);
            (
                &text[..text.len() - rest.len()],
                &rest[..close],
                &rest[close..],
            )
        }
        None => ("", text, ""),
    };
    let mut doc: toml_edit::DocumentMut = matter
        .parse()
        .map_err(|e| format!("cannot edit TOML: {e}"))?;
    let item: toml_edit::Item = format!("v = {value}")
        .parse::<toml_edit::DocumentMut>()
        .ok()
        .and_then(|d| d.get("v").cloned())
        .ok_or_else(|| format!("invalid TOML value {value}"))?;
    if key == "token_limit" && doc.contains_key("max_tokens") {
        doc.remove("max_tokens");
    }
    doc[key] = item;
    Ok(format!("{head}{doc}{tail}"))
}

fn set_yaml_key(text: &str, key: &str, value: &str) -> String {
    let new_line = format!("{key}: {value}");
    let aliases: &[&str] = if key == "token_limit" {
        &["token_limit", "max_tokens"]
    } else {
        &[key]
    };
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let end = lines
        .iter()
        .skip(1)
        .position(|l| l.trim_end() == "---")
        .map_or(lines.len(), |i| i + 1);
    let is_key = |l: &str| {
        aliases.iter().any(|a| {
            let unquoted = l.strip_prefix(a);
            let quoted = l
                .strip_prefix(&format!("\"{a}\""))
                .or_else(|| l.strip_prefix(&format!("'{a}'")));
            unquoted
                .or(quoted)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
    };
    match (1..end).find(|&i| is_key(&lines[i])) {
        Some(i) => {
            // A value can continue on indented lines (block scalars, nested maps) or `- ` items.
            let mut j = i + 1;
            while j < end
                && (lines[j].starts_with([' ', '\t'])
                    || lines[j].starts_with("- ")
                    || lines[j].trim().is_empty())
            {
                j += 1;
            }
            lines.splice(i..j, [new_line]);
        }
        None => lines.insert(end, new_line),
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_key_is_replaced_with_its_continuation_lines() {
        let md = "---\ngoal: |\n  line one\n  line two\nmax_tokens: 5\ntags:\n- a\n- b\n---\nbody goal: x\n";
        assert_eq!(
            set_key(md, true, "goal", "b").expect("edit"),
            "---\ngoal: b\nmax_tokens: 5\ntags:\n- a\n- b\n---\nbody goal: x\n"
        );
        assert_eq!(
            set_key(md, true, "token_limit", "9").expect("edit"),
            "---\ngoal: |\n  line one\n  line two\ntoken_limit: 9\ntags:\n- a\n- b\n---\nbody goal: x\n"
        );
        assert_eq!(
            set_key(md, true, "tags", "[c]").expect("edit"),
            "---\ngoal: |\n  line one\n  line two\nmax_tokens: 5\ntags: [c]\n---\nbody goal: x\n"
        );
        assert_eq!(
            set_key("---\ngoal: a\n---\nx\n", true, "top_k", "3").expect("edit"),
            "---\ngoal: a\ntop_k: 3\n---\nx\n"
        );
    }

    #[test]
    fn toml_keys_are_edited_in_place() {
        let toml = "# comment\ngoal = \"a\"\nprompt = \"\"\"\ngoal = not a key\n\"\"\"\n\n[variables.input]\ntop_k = 1\n";
        let out = set_key(toml, false, "goal", "\"b\"").expect("edit");
        assert_eq!(
            out,
            "# comment\ngoal = \"b\"\nprompt = \"\"\"\ngoal = not a key\n\"\"\"\n\n[variables.input]\ntop_k = 1\n"
        );
        let out = set_key(toml, false, "top_k", "3").expect("edit");
        let doc: toml::Table = out.parse().expect("still TOML");
        assert_eq!(doc["top_k"].as_integer(), Some(3));
        assert_eq!(doc["variables"]["input"]["top_k"].as_integer(), Some(1));
        let fm = "+++\ngoal = \"a\"\nmax_tokens = 5\n+++\nbody\n";
        assert_eq!(
            set_key(fm, false, "token_limit", "9").expect("edit"),
            "+++\ngoal = \"a\"\ntoken_limit = 9\n+++\nbody\n"
        );
    }
}
