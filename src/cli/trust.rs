//! `ptrack trust`: approve this project's ptrack.toml to choose where API keys go, and the
//! user-level settings (`config.toml`, `trusted.toml`) every command that sends requests reads.

use std::path::PathBuf;

use super::Ctx;
use super::error::{CliError, CliResult};
use super::output::Style;
use ptrack::trust::{
    ProjectConfig, ProjectTrust, STORE_FILE, Trust, TrustAction, TrustStatus, TrustStore,
    USER_CONFIG_FILE, UserConfig,
};

/// Let this project's ptrack.toml choose where API keys go
#[derive(Debug, clap::Args)]
#[command(after_help = "\
A cloned project's ptrack.toml could send your API key to any server ([providers.NAME] base_url)
or name any environment variable as the key (api_key_env). Until you approve it, ptrack sends a
key only to the provider's own host (https://api.openai.com), to this machine (localhost,
127.0.0.0/8, ::1), to a --base-url you pass, or to a base_url in your own config.toml; and it
reads only variables whose name ends in _API_KEY. Plain http:// to another machine never
carries a key.

`ptrack trust` records the project's folder and the SHA-256 of its ptrack.toml in trusted.toml,
in $PTRACK_CONFIG_DIR, else $XDG_CONFIG_HOME/ptrack, else ~/.config/ptrack. When ptrack.toml
changes, the approval no longer holds: review the change and run `ptrack trust` again.
config.toml there may hold your own [providers.NAME] base_url, api_key_env and timeout_secs:
they apply where the project sets nothing, and their URLs are trusted for every project.

Examples:
  ptrack trust --show          is this project's ptrack.toml trusted, and what does it set?
  ptrack trust                 after reviewing ptrack.toml: let it choose where keys go
  ptrack trust --revoke
  ptrack trust --list --json")]
pub struct TrustArgs {
    /// Remove this project's approval
    #[arg(long, conflicts_with_all = ["show", "list"])]
    pub revoke: bool,
    /// Print whether this project is trusted, changing nothing
    #[arg(long, conflicts_with = "list")]
    pub show: bool,
    /// List every trusted project
    #[arg(long)]
    pub list: bool,
}

/// The user's folder for ptrack settings, from the environment.
fn user_dir() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).map(PathBuf::from);
    ptrack::trust::config_dir(
        var("PTRACK_CONFIG_DIR").as_deref(),
        var("XDG_CONFIG_HOME").as_deref(),
        var("HOME").as_deref(),
    )
}

/// What decides where `project`'s API keys may go, for the commands that send requests.
pub fn load(project: &ptrack::Project) -> CliResult<Trust> {
    let config = ProjectConfig::read(project.root()).map_err(CliError::from)?;
    let (store, user) = match user_dir() {
        Some(dir) => (
            TrustStore::load(&dir.join(STORE_FILE))?,
            UserConfig::load(&dir.join(USER_CONFIG_FILE))?,
        ),
        None => Default::default(),
    };
    Ok(Trust {
        project: config.status(&store),
        user,
        config_text: config.text,
    })
}

pub fn run(ctx: &mut Ctx, args: TrustArgs) -> CliResult {
    let dir = user_dir().ok_or_else(|| {
        CliError::new("no folder for ptrack's user settings")
            .with_hint("set PTRACK_CONFIG_DIR (or HOME) to a folder of your own")
    })?;
    let store_path = dir.join(STORE_FILE);
    let mut store = TrustStore::load(&store_path)?;
    if args.list {
        if ctx.ui.json {
            return ctx.ui.json(&store.projects);
        }
        if store.projects.is_empty() {
            ctx.ui
                .status(&format!("no trusted projects ({})", store_path.display()));
        }
        for p in &store.projects {
            let sha: String = p.ptrack_toml_sha256.chars().take(12).collect();
            ctx.ui.line(&format!(
                "{}  {}  ptrack.toml {sha}",
                p.root,
                p.trusted_at.format("%Y-%m-%d %H:%M")
            ))?;
        }
        return Ok(());
    }
    let project = ctx.project()?;
    let config = ProjectConfig::read(project.root())?;
    let mut action = None;
    if args.revoke {
        if store.revoke(&config.root) {
            store.save(&store_path)?;
            action = Some(TrustAction::Revoked);
        }
    } else if !args.show {
        let Some(sha) = &config.sha256 else {
            return Err(CliError::new(format!(
                "{} has no ptrack.toml: there is nothing to trust",
                config.root
            ))
            .with_hint(
                "without one, keys go only to the provider's own host, this machine, or a --base-url you pass",
            ));
        };
        store.approve(&config.root, sha, ctx.now);
        store.save(&store_path)?;
        action = Some(TrustAction::Trusted);
    }
    let mut status = TrustStatus::new(&config, project.config(), &store, &store_path);
    status.action = action;
    if ctx.ui.json {
        return ctx.ui.json(&status);
    }
    let sha = status
        .ptrack_toml_sha256
        .as_deref()
        .map(|s| format!(" (ptrack.toml sha256 {})", &s[..s.len().min(12)]))
        .unwrap_or_default();
    let head = match (status.action, status.status) {
        (Some(TrustAction::Trusted), _) => format!("trusted {}{sha}", status.root),
        (Some(TrustAction::Revoked), _) => format!("no longer trusted: {}", status.root),
        (None, _) if args.revoke => format!("{} was not trusted", status.root),
        (None, ProjectTrust::Trusted) => format!("{}: trusted{sha}", status.root),
        (None, ProjectTrust::Changed) => format!(
            "{}: not trusted, ptrack.toml changed since you trusted it{sha}",
            status.root
        ),
        (None, ProjectTrust::Untrusted) => format!("{}: not trusted{sha}", status.root),
        (None, ProjectTrust::NoConfig) => {
            format!("{}: no ptrack.toml, nothing to trust", status.root)
        }
    };
    ctx.ui.line(&ctx.ui.paint(&head, Style::Bold))?;
    for (name, s) in &status.providers {
        let mut parts = Vec::new();
        if let Some(u) = &s.base_url {
            parts.push(format!("base_url = {u}"));
        }
        if let Some(v) = &s.api_key_env {
            parts.push(format!("api_key_env = {v}"));
        }
        ctx.ui
            .line(&format!("  [providers.{name}] {}", parts.join(", ")))?;
    }
    match status.status {
        ProjectTrust::Trusted if status.action.is_some() => ctx.ui.status(
            "API keys may now go where this ptrack.toml says; once it changes, review it and run `ptrack trust` again",
        ),
        ProjectTrust::Changed => {
            ctx.ui.status("review ptrack.toml again, then run `ptrack trust` again")
        }
        ProjectTrust::Untrusted if !args.revoke => ctx
            .ui
            .status("after reviewing ptrack.toml, `ptrack trust` lets it choose where API keys go"),
        _ => {}
    }
    Ok(())
}
