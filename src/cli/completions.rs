//! `ptrack completions` and `ptrack man`: shell completion (commands, flags, and the project's
//! prompt names and labels) and the manual page, generated from the command definitions.

use std::ffi::OsStr;

use clap::CommandFactory;
use clap_complete::engine::CompletionCandidate;

use super::Cli;
use super::error::{CliError, CliResult};

/// Print the shell code that completes ptrack's commands, flags and prompt names
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The completion asks ptrack itself for candidates, so prompt names (and NAME:LABEL) come from the
project you are in. For the current bash: source <(ptrack completions bash); for every bash, save
the output as ~/.local/share/bash-completion/completions/ptrack (zsh: a file _ptrack in a folder
of $fpath; fish: ~/.config/fish/completions/ptrack.fish).

Examples:
  ptrack completions bash
  ptrack completions zsh
  ptrack completions fish")]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_parser = ["bash", "zsh", "fish", "powershell", "elvish"])]
    pub shell: String,
}

/// Print the manual page (roff), generated from `--help`
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Save it as ~/.local/share/man/man1/ptrack.1 for `man ptrack`.

Examples:
  ptrack man | man -l -")]
pub struct ManArgs {}

/// The environment variable that turns a ptrack call into a completion request.
pub const COMPLETE_VAR: &str = "COMPLETE";

/// Answer a completion request when the shell made one (before anything else runs).
pub fn complete_if_asked() {
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(COMPLETE_VAR)
        .complete();
}

pub fn run(args: CompletionsArgs, out: &mut dyn std::io::Write) -> CliResult {
    let shells = clap_complete::env::Shells::builtins();
    let Some(shell) = shells.completer(&args.shell) else {
        return Err(CliError::new(format!("unknown shell `{}`", args.shell)));
    };
    // The completion calls this very binary back, by its full path.
    let exe = std::env::current_exe()
        .map_err(|e| CliError::new(format!("cannot find the ptrack binary: {e}")))?;
    shell
        .write_registration(
            COMPLETE_VAR,
            "ptrack",
            "ptrack",
            &exe.to_string_lossy(),
            out,
        )
        .map_err(|e| CliError::new(format!("cannot write output: {e}")))
}

pub fn man(out: &mut dyn std::io::Write) -> CliResult {
    clap_mangen::Man::new(Cli::command())
        .render(out)
        .map_err(|e| CliError::new(format!("cannot write output: {e}")))
}

/// Prompt names of the project in the current folder that start with `current`; after a `:`,
/// that prompt's labels (`NAME:LABEL`).
pub fn prompt_names(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(current) = current.to_str() else {
        return Vec::new();
    };
    let Ok(cwd) = std::env::current_dir() else {
        return Vec::new();
    };
    let Ok(project) = ptrack::Project::discover(&cwd) else {
        return Vec::new();
    };
    if let Some((name, label)) = current.split_once(':') {
        let labels = project.labels();
        return std::iter::once(ptrack::labels::LATEST)
            .chain(labels.of(name).map(|(l, _)| l))
            .filter(|l| l.starts_with(label))
            .map(|l| CompletionCandidate::new(format!("{name}:{l}")))
            .collect();
    }
    let Ok(entries) = std::fs::read_dir(project.prompts_dir()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| ptrack::prompt::is_valid_name(n) && n.starts_with(current))
        .collect();
    names.sort();
    names.into_iter().map(CompletionCandidate::new).collect()
}
