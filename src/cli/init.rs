//! `ptrack init`: scaffold a project.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Ctx;
use super::error::{CliError, CliResult};
use ptrack::templates;

/// Create ptrack.toml, prompts/, runs/, templates/ and .gitattributes (never overwrites)
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  ptrack init\n  ptrack init my-prompts")]
pub struct InitArgs {
    /// Folder to set up (default: the current folder)
    #[arg(value_name = "DIR")]
    pub path: Option<PathBuf>,
}

#[derive(Serialize)]
struct InitReport {
    root: PathBuf,
    created: Vec<String>,
    kept: Vec<String>,
}

pub fn run(ctx: &mut Ctx, args: InitArgs) -> CliResult {
    let root = match &args.path {
        Some(d) => ctx.start_dir.join(d),
        None => ctx.start_dir.clone(),
    };
    let mut report = InitReport {
        root: root.clone(),
        created: Vec::new(),
        kept: Vec::new(),
    };
    let io =
        |p: &Path, e: std::io::Error| CliError::new(format!("cannot create {}: {e}", p.display()));
    std::fs::create_dir_all(&root).map_err(|e| io(&root, e))?;
    for dir in ["prompts", "runs", "templates"] {
        let p = root.join(dir);
        if p.is_dir() {
            report.kept.push(format!("{dir}/"));
        } else {
            std::fs::create_dir_all(&p).map_err(|e| io(&p, e))?;
            report.created.push(format!("{dir}/"));
        }
    }
    let files: [(&str, &str); 6] = [
        ("ptrack.toml", templates::PTRACK_TOML.text),
        (".gitattributes", templates::GITATTRIBUTES.text),
        ("runs/.gitkeep", ""),
        (".ptrack/.gitignore", "*\n"),
        ("templates/prompt.md", templates::PROMPT_MD.text),
        ("templates/prompt.toml", templates::PROMPT_TOML.text),
    ];
    for (rel, text) in files {
        let p = root.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        // create_new: never overwrite, even if the file appears between check and write.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
        {
            Ok(mut f) => {
                use std::io::Write;
                f.write_all(text.as_bytes()).map_err(|e| io(&p, e))?;
                report.created.push(rel.to_string());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                report.kept.push(rel.to_string())
            }
            Err(e) => return Err(io(&p, e)),
        }
    }
    let attrs = std::fs::read_to_string(root.join(".gitattributes")).unwrap_or_default();
    let union_missing = !attrs
        .lines()
        .any(|l| l.contains("merge=union") && l.contains("runs/"));
    if ctx.ui.json {
        return ctx.ui.json(&report);
    }
    ctx.ui.status(&format!(
        "setting up a ptrack project in {}",
        root.display()
    ));
    for c in &report.created {
        ctx.ui.line(&format!("created {c}"))?;
    }
    for k in &report.kept {
        ctx.ui.line(&format!("kept    {k} (already there)"))?;
    }
    if union_missing {
        ctx.ui.warn("your .gitattributes lacks `runs/**/*.jsonl merge=union`; add it so branches that append runs merge cleanly");
    }
    ctx.ui
        .status("next: `ptrack create NAME --goal … --model …` writes your first prompt version");
    Ok(())
}
