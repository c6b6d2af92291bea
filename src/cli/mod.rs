//! The `ptrack` command line: argument parsing, one module per command, output and errors.
//!
//! This is the only place that touches the terminal, the environment and the process exit code.

// Every output goes through `Ui` and `output::eprint_line` (output.rs), which escape the control
// characters a project's files and logs may hold. These macros take the std ones' names so that
// a direct print does not build; defined before the modules, they are the ones those see.
#[allow(unused_macros)]
macro_rules! print {
    ($($t:tt)*) => {
        compile_error!(
            "`print!` bypasses the escaping of terminal output: use `ctx.ui.line`/`ctx.ui.write` (stdout) or `output::eprint_line` (stderr)"
        )
    };
}
#[allow(unused_macros)]
macro_rules! println {
    ($($t:tt)*) => {
        compile_error!(
            "`println!` bypasses the escaping of terminal output: use `ctx.ui.line`/`ctx.ui.write` (stdout) or `output::eprint_line` (stderr)"
        )
    };
}
#[allow(unused_macros)]
macro_rules! eprint {
    ($($t:tt)*) => {
        compile_error!(
            "`eprint!` bypasses the escaping of terminal output: use `ctx.ui.line`/`ctx.ui.write` (stdout) or `output::eprint_line` (stderr)"
        )
    };
}
#[allow(unused_macros)]
macro_rules! eprintln {
    ($($t:tt)*) => {
        compile_error!(
            "`eprintln!` bypasses the escaping of terminal output: use `ctx.ui.line`/`ctx.ui.write` (stdout) or `output::eprint_line` (stderr)"
        )
    };
}

mod alerts;
mod bisect;
mod check;
mod compare;
mod completions;
mod create;
mod diff;
mod error;
mod eval;
mod experiment;
mod export;
mod history;
mod import;
mod init;
mod label;
mod list;
mod output;
mod performance;
mod rate;
mod record;
mod render;
mod report;
mod resolve;
mod run;
mod schema;
mod serve;
mod show;
mod suggest;
mod trends;
mod trust;

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

use ptrack::{Diagnostic, Project, Version};

use error::{CliError, CliResult};
use output::{ColorChoice, Style, Ui};

const AFTER_HELP: &str = "\
Examples:
  ptrack list                                 every prompt with its latest version and run stats
  ptrack show coaching_system --version 1.0   one version: attributes, text, last output
  ptrack create summarize --goal \"Summarize a text\" --model llama3.1:8b
  ptrack check                                validate every prompt file and run log
  ptrack record coaching_system --time-ms 840 --output \"…\" --quality 8
  ptrack performance coaching_system --days 30
  ptrack compare coaching_system 1.0 1.1
  ptrack export --format csv --output runs.csv
  ptrack history coaching_system
  ptrack diff coaching_system 1.0 1.1
  ptrack report --base origin/main --min-success-rate 0.9
  ptrack render coaching_system --var user_message=\"Hi\" --format ollama
  ptrack run coaching_system --var user_message=\"Hi\"
  ptrack eval --base origin/main                 base vs head on the same cases, paired
  ptrack bisect coaching_system --good 2d1ec60
  ptrack suggest coaching_system                 ranked suggestions from the runs and evals
  ptrack trust                                   after review: let ptrack.toml choose where keys go
  ptrack serve                                   the JSON API and /metrics on 127.0.0.1:7878
  ptrack import legacy data                      migrate the older tool's prompts and runs

Exit codes: 0 ok, 1 problems found (check errors, a failed report gate), 2 usage or runtime error.";

/// The help heading of the flags every command takes, so each command's own flags stand apart.
const GLOBAL: &str = "Global options";

/// Track LLM prompts kept in git: versions, runs, metrics
#[derive(Debug, Parser)]
#[command(name = "ptrack", version = env!("PTRACK_VERSION_LONG"), about, after_help = AFTER_HELP, max_term_width = 120)]
pub struct Cli {
    /// Run as if started in DIR (the project is found from there)
    #[arg(short = 'C', value_name = "DIR", global = true, help_heading = GLOBAL)]
    pub dir: Option<PathBuf>,
    /// When to color output
    #[arg(
        long,
        value_enum,
        default_value = "auto",
        global = true,
        value_name = "WHEN",
        help_heading = GLOBAL
    )]
    pub color: ColorChoice,
    /// Print machine-readable JSON instead of tables
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Init(init::InitArgs),
    List(list::ListArgs),
    Show(show::ShowArgs),
    Create(create::CreateArgs),
    Check(check::CheckArgs),
    Record(record::RecordArgs),
    Rate(rate::RateArgs),
    Performance(performance::PerformanceArgs),
    Compare(compare::CompareArgs),
    Trends(trends::TrendsArgs),
    Export(export::ExportArgs),
    History(history::HistoryArgs),
    Diff(diff::DiffArgs),
    Report(report::ReportArgs),
    Render(render::RenderArgs),
    Run(run::RunArgs),
    Eval(eval::EvalArgs),
    Bisect(bisect::BisectArgs),
    Suggest(suggest::SuggestArgs),
    Trust(trust::TrustArgs),
    Label(label::LabelArgs),
    Resolve(resolve::ResolveArgs),
    Experiment(experiment::ExperimentArgs),
    Import(import::ImportArgs),
    Completions(completions::CompletionsArgs),
    Man(completions::ManArgs),
    Alerts(alerts::AlertsArgs),
    Serve(serve::ServeArgs),
    Schema(schema::SchemaArgs),
}

/// Everything a command needs from the environment, resolved once.
pub struct Ctx {
    pub ui: Ui,
    pub start_dir: PathBuf,
    /// "Now", pinned by `PTRACK_NOW` (RFC 3339) for reproducible tests.
    pub now: DateTime<Utc>,
}

impl Ctx {
    pub fn project(&self) -> CliResult<Project> {
        Ok(Project::discover(&self.start_dir)?)
    }

    /// Print prompt-file errors on stderr (warnings are left to `check`).
    pub fn report_load_errors(&self, errors: &[Diagnostic]) {
        let color = self.ui.stderr_color;
        for d in errors.iter().filter(|d| d.is_error()) {
            output::eprint_line(
                color,
                &format!("{}: {d}", output::paint(color, "error", Style::Red)),
            );
        }
        if errors.iter().any(Diagnostic::is_error) {
            output::eprint_line(
                color,
                "hint: run `ptrack check` for every problem; the versions above cannot be used until they are fixed",
            );
        }
    }
}

pub fn main() -> ExitCode {
    completions::complete_if_asked();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return output::clap_exit(e),
    };
    let ui = Ui::new(cli.color, cli.json);
    let stderr_color = ui.stderr_color;
    let result = (|| {
        let now = match std::env::var("PTRACK_NOW") {
            Ok(s) => DateTime::parse_from_rfc3339(&s)
                .map_err(|e| {
                    CliError::new(format!("PTRACK_NOW={s:?} is not an RFC 3339 time: {e}"))
                })?
                .with_timezone(&Utc),
            Err(_) => Utc::now(),
        };
        let cwd = std::env::current_dir()
            .map_err(|e| CliError::new(format!("cannot read the current directory: {e}")))?;
        let start_dir = match &cli.dir {
            Some(d) if !cwd.join(d).is_dir() && !matches!(cli.command, Command::Init(_)) => {
                return Err(CliError::new(format!("-C {}: no such folder", d.display())));
            }
            Some(d) => cwd.join(d),
            None => cwd,
        };
        let mut ctx = Ctx { ui, start_dir, now };
        let r = match cli.command {
            Command::Init(a) => init::run(&mut ctx, a),
            Command::List(a) => list::run(&mut ctx, a),
            Command::Show(a) => show::run(&mut ctx, a),
            Command::Create(a) => create::run(&mut ctx, a),
            Command::Check(a) => check::run(&mut ctx, a),
            Command::Record(a) => record::run(&mut ctx, a),
            Command::Rate(a) => rate::run(&mut ctx, a),
            Command::Performance(a) => performance::run(&mut ctx, a),
            Command::Compare(a) => compare::run(&mut ctx, a),
            Command::Trends(a) => trends::run(&mut ctx, a),
            Command::Export(a) => export::run(&mut ctx, a),
            Command::History(a) => history::run(&mut ctx, a),
            Command::Diff(a) => diff::run(&mut ctx, a),
            Command::Report(a) => report::run(&mut ctx, a),
            Command::Render(a) => render::run(&mut ctx, a),
            Command::Run(a) => run::run(&mut ctx, a),
            Command::Eval(a) => eval::run(&mut ctx, a),
            Command::Bisect(a) => bisect::run(&mut ctx, a),
            Command::Trust(a) => trust::run(&mut ctx, a),
            Command::Label(a) => label::run(&mut ctx, a),
            Command::Resolve(a) => resolve::run(&mut ctx, a),
            Command::Experiment(a) => experiment::run(&mut ctx, a),
            Command::Import(a) => import::run(&mut ctx, a),
            Command::Completions(a) => {
                let mut buf = Vec::new();
                completions::run(a, &mut buf)?;
                ctx.ui.write_exact(&String::from_utf8_lossy(&buf))
            }
            Command::Man(_) => {
                let mut buf = Vec::new();
                completions::man(&mut buf)?;
                ctx.ui.write_exact(&String::from_utf8_lossy(&buf))
            }
            Command::Alerts(a) => alerts::run(&mut ctx, a),
            Command::Serve(a) => serve::run(&mut ctx, a),
            Command::Schema(a) => schema::run(&mut ctx, a),
            Command::Suggest(a) => suggest::run(&mut ctx, a),
        };
        let flushed = ctx.ui.flush();
        r.and(flushed)
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind == error::Kind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let paint = |label: &str, style: Style| output::paint(stderr_color, label, style);
            if !e.message.is_empty() {
                let line = format!("{}: {}", paint("error", Style::Red), e.message);
                output::eprint_line(stderr_color, &line);
            }
            for c in e.causes() {
                output::eprint_line(stderr_color, &format!("caused by: {c}"));
            }
            for h in &e.hints {
                output::eprint_line(
                    stderr_color,
                    &format!("{}: {h}", paint("hint", Style::Cyan)),
                );
            }
            ExitCode::from(e.code())
        }
    }
}

/// Parse a `--version` value.
pub fn parse_version(s: &str) -> Result<Version, String> {
    s.parse::<Version>().map_err(|e| e.to_string())
}

/// The prompt and version a command names: `NAME`, `NAME:LABEL` (or `NAME:VERSION`), with
/// `--version V` or `--label L`. Labels come from `labels.toml` and are checked there.
pub fn named_version(
    project: &ptrack::Project,
    registry: &ptrack::Registry,
    name: &str,
    version: Option<&Version>,
    label: Option<&str>,
) -> error::CliResult<(String, Option<Version>)> {
    use ptrack::project::NamedVersionError;
    project
        .named_version(registry, name, version, label)
        .map_err(|e| match e {
            NamedVersionError::Twice { .. } => {
                error::CliError::new(format!("{e}; drop --version and --label"))
            }
            NamedVersionError::Label(m) => error::CliError::new(format!("--label: {m}")),
            NamedVersionError::Spec(m) => error::CliError::new(m),
            NamedVersionError::Lookup(l) => l.into(),
        })
}

/// The label a command was asked for (`--label L`, or `NAME:LABEL` but not `NAME:VERSION`),
/// which the runs it records carry.
pub fn asked_label(name: Option<&str>, label: Option<&str>) -> Option<String> {
    ptrack::labels::asked_label(name, label)
}

/// Say so when experiments.toml has errors: an experiment it cannot read assigns no one, so
/// units get the label's version until the file is fixed.
pub fn warn_broken_experiments(ctx: &Ctx, project: &ptrack::Project) {
    for d in &project.experiments().diagnostics {
        ctx.ui.warn(&format!(
            "{d} (experiments with errors assign no variant; the label's version is served)"
        ));
    }
}

/// Where requests go, for the commands that send prompts (`run`, `eval`, `bisect`).
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Provider API (default: the version's `provider`, else ptrack.toml, else ollama)
    #[arg(long, value_enum)]
    pub provider: Option<ProviderArg>,
    /// Server base URL (default from ptrack.toml, else the provider's usual address)
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Model, for every version sent (default: each version's `model`)
    #[arg(long)]
    pub model: Option<String>,
    /// Seconds to wait for an answer [default: 120, or timeout_secs in ptrack.toml]
    #[arg(long, value_name = "S")]
    pub timeout: Option<f64>,
}

impl ServerArgs {
    /// The endpoint overrides these flags give.
    pub fn overrides(&self) -> ptrack::eval::EndpointOverrides {
        ptrack::eval::EndpointOverrides {
            provider: self.provider.map(ptrack::Provider::from),
            base_url: self.base_url.clone(),
            timeout_secs: self.timeout,
        }
    }
}

/// The eval gates, for `eval` and `report` (each defaults to its key in `[report]`).
#[derive(Debug, Clone, clap::Args)]
pub struct EvalGateArgs {
    /// Eval gate: lowest pass rate of a changed version's head side (0.9 = 90%)
    #[arg(long, value_name = "RATE")]
    pub min_pass_rate: Option<f64>,
    /// Eval gate: most pairs that pass on the base and fail on the head
    #[arg(long, value_name = "N")]
    pub max_new_failures: Option<usize>,
    /// Eval gate: largest drop of the pass rate from base to head, in points
    #[arg(long, value_name = "PTS")]
    pub max_pass_rate_drop_pts: Option<f64>,
}

impl EvalGateArgs {
    /// These flags as gates that override `[report]`.
    pub fn gates(&self) -> ptrack::config::Gates {
        ptrack::config::Gates {
            min_pass_rate: self.min_pass_rate,
            max_new_failures: self.max_new_failures,
            max_pass_rate_drop_pts: self.max_pass_rate_drop_pts,
            ..ptrack::config::Gates::default()
        }
    }
}

/// `--provider` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProviderArg {
    /// Ollama's /api/generate
    Ollama,
    /// An OpenAI-compatible /v1/chat/completions
    Openai,
}

impl From<ProviderArg> for ptrack::Provider {
    fn from(p: ProviderArg) -> Self {
        match p {
            ProviderArg::Ollama => ptrack::Provider::Ollama,
            ProviderArg::Openai => ptrack::Provider::Openai,
        }
    }
}

/// Parse a `--since`/`--until` value: a date (`2026-11-01`) or an RFC 3339 time.
pub fn parse_when(s: &str) -> Result<DateTime<Utc>, String> {
    ptrack::query::parse_when(s)
}

/// The window flags shared by the metric commands.
#[derive(Debug, Clone, clap::Args)]
pub struct Window {
    /// Only runs from the last N days
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
    /// Only runs at or after this date or time (2026-11-01, RFC 3339)
    #[arg(long, value_name = "DATE", value_parser = parse_when)]
    pub since: Option<DateTime<Utc>>,
    /// Only runs before this date or time
    #[arg(long, value_name = "DATE", value_parser = parse_when)]
    pub until: Option<DateTime<Utc>>,
}

impl Window {
    /// The window's start and end, relative to `now`.
    pub fn resolve(&self, now: DateTime<Utc>) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        ptrack::query::Window {
            days: self.days,
            since: self.since,
            until: self.until,
        }
        .resolve(now)
    }
}

/// Print run-log problems (errors and warnings) on stderr.
pub fn report_run_diagnostics(ctx: &Ctx, diags: &[Diagnostic]) {
    for d in diags {
        let (label, style) = if d.is_error() {
            ("error", Style::Red)
        } else {
            ("warning", Style::Yellow)
        };
        let text = d.to_string().replacen(": warning: ", ": ", 1);
        let color = ctx.ui.stderr_color;
        output::eprint_line(
            color,
            &format!("{}: {text}", output::paint(color, label, style)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use unicode_width::UnicodeWidthStr;

    /// The width help wraps at when stdout is not a terminal and `COLUMNS` is unset.
    const WIDTH: usize = 100;

    /// `ptrack` and each command: name, long help as printed at `WIDTH`, and `after_help` as written.
    fn helps() -> Vec<(String, String, String)> {
        let mut root = Cli::command().term_width(WIDTH);
        root.build();
        let after = |c: &clap::Command| {
            c.get_after_help()
                .map(|s| s.to_string())
                .unwrap_or_default()
        };
        let mut out = vec![(
            "ptrack".to_string(),
            root.clone().render_long_help().to_string(),
            after(&root),
        )];
        for sub in root.get_subcommands().filter(|s| s.get_name() != "help") {
            let help = sub.clone().term_width(WIDTH).render_long_help().to_string();
            out.push((sub.get_name().to_string(), help, after(sub)));
        }
        out
    }

    /// The lines under `Examples:`, up to the first blank line.
    fn examples(text: &str) -> Vec<&str> {
        text.lines()
            .skip_while(|l| l.trim_end() != "Examples:")
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .collect()
    }

    /// The `ptrack` invocations of one example, as shell words: the line is split into words
    /// (quotes and backslashes as a POSIX shell reads them) and pipeline stages, up to a `#`
    /// comment or two spaces, where the description starts.
    fn invocations(line: &str) -> Vec<Vec<String>> {
        let mut stages: Vec<Vec<String>> = vec![Vec::new()];
        let mut word: Option<String> = None;
        let mut quote: Option<char> = None;
        let mut chars = line.trim().chars().peekable();
        while let Some(c) = chars.next() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some('"'), '\\') | (None, '\\') => {
                    if let Some(n) = chars.next() {
                        word.get_or_insert_with(String::new).push(n);
                    }
                }
                (Some(_), c) => word.get_or_insert_with(String::new).push(c),
                (None, '\'' | '"') => {
                    quote = Some(c);
                    word.get_or_insert_with(String::new);
                }
                (None, ' ') => {
                    if let Some(w) = word.take() {
                        stages.last_mut().expect("never empty").push(w);
                    }
                    if chars.peek() == Some(&' ') {
                        break;
                    }
                }
                (None, '#') if word.is_none() => break,
                (None, '|') if word.is_none() => stages.push(Vec::new()),
                (None, c) => word.get_or_insert_with(String::new).push(c),
            }
        }
        assert_eq!(quote, None, "unclosed quote in {line:?}");
        if let Some(w) = word {
            stages.last_mut().expect("never empty").push(w);
        }
        stages
            .into_iter()
            .filter(|s| s.first().is_some_and(|w| w == "ptrack"))
            .collect()
    }

    /// Example lines with shell continuations (`\` at the end) joined to the next line.
    fn joined(lines: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut open = false;
        for l in lines {
            match out.last_mut() {
                Some(last) if open => {
                    last.push(' ');
                    last.push_str(l.trim());
                }
                _ => out.push(l.to_string()),
            }
            let last = out.last_mut().expect("just pushed");
            open = last.ends_with('\\');
            if open {
                last.pop();
            }
        }
        out
    }

    #[test]
    fn examples_fit_and_are_printed_as_written() {
        for (name, help, after) in helps() {
            let printed = examples(&help);
            assert!(!printed.is_empty(), "`{name} --help` has no examples");
            for l in &printed {
                assert!(
                    l.width() <= WIDTH,
                    "`{name} --help`: example wider than {WIDTH} columns: {l:?}"
                );
            }
            // A line clap had to wrap is no longer the line written, and no longer runs.
            assert_eq!(
                printed,
                examples(&after),
                "`{name} --help`: examples wrapped at {WIDTH} columns"
            );
        }
    }

    #[test]
    fn examples_parse() {
        for (name, help, _) in helps() {
            for line in joined(&examples(&help)) {
                let calls = invocations(&line);
                // A line indented further continues the description above it.
                let continues = line.starts_with("   ");
                assert!(
                    continues || !calls.is_empty(),
                    "`{name} --help`: example that runs no ptrack command: {line:?}"
                );
                for words in calls {
                    if let Err(e) = Cli::try_parse_from(&words) {
                        panic!("`{name} --help`: example {words:?} does not parse:\n{e}");
                    }
                }
            }
        }
    }

    #[test]
    fn global_options_stand_apart() {
        for (name, help, _) in helps().into_iter().skip(1) {
            let (own, global) = help
                .split_once("\nGlobal options:\n")
                .unwrap_or_else(|| panic!("`{name} --help` has no global options heading"));
            for flag in ["-C <DIR>", "--color <WHEN>", "--json"] {
                let line = |l: &str| l.trim_start().starts_with(flag);
                assert!(
                    global.lines().any(line),
                    "`{name} --help`: {flag} not global"
                );
                assert!(
                    !own.lines().any(line),
                    "`{name} --help`: {flag} among its own"
                );
            }
        }
    }

    #[test]
    fn after_help_does_not_point_down() {
        // after_help is printed after every flag.
        for (name, _, after) in helps() {
            for words in ["flags below", "options below"] {
                assert!(!after.contains(words), "`{name} --help` says {words:?}");
            }
        }
    }

    #[test]
    fn invocations_split_like_a_shell() {
        let w = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            invocations(r#"  ptrack rate 01a1 --feedback "" --x "a \"b\""   clears it"#),
            vec![w(&[
                "ptrack",
                "rate",
                "01a1",
                "--feedback",
                "",
                "--x",
                "a \"b\""
            ])]
        );
        assert_eq!(
            invocations(r#"  echo '{"a":1}' | ptrack record x --stdin"#),
            vec![w(&["ptrack", "record", "x", "--stdin"])]
        );
        assert_eq!(
            invocations("  ptrack run x --repeat 3          # comment"),
            vec![w(&["ptrack", "run", "x", "--repeat", "3"])]
        );
        assert_eq!(
            joined(&["  ptrack render x \\", "    | curl -d @-"]),
            vec!["  ptrack render x  | curl -d @-".to_string()]
        );
    }
}
