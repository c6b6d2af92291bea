//! Where an API key may go: a cloned project's `ptrack.toml` is untrusted input.
//!
//! `[providers.NAME] base_url` and `api_key_env` in a project's `ptrack.toml` decide which
//! server a request goes to and which environment variable holds its key. In someone else's
//! repository, that could send your key (or any secret the environment holds) to their server.
//! So a key from the environment goes only to a URL the user trusts: the provider's own host,
//! this machine (loopback), a URL the user gave (`--base-url`, their own `config.toml`), or any
//! URL of a project whose `ptrack.toml` they approved (`ptrack trust`, recorded outside the
//! repository with the SHA-256 of the file, so an edited file is no longer approved). Without
//! approval only variables named `*_API_KEY` are read, and plain `http://` to another machine
//! never carries a key.
//!
//! The library reads no environment: the caller finds the user's folder ([`config_dir`]) and
//! builds a [`Trust`] that [`crate::provider::Endpoint`] resolution consults.

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::ProviderSettings;
use crate::diagnostic::line_of_offset;
use crate::prompt::Provider;

/// The OpenAI API's own address, where its key may always go.
pub const OPENAI_DEFAULT_URL: &str = "https://api.openai.com/v1";

/// The largest `config.toml` or `trusted.toml` read.
const FILE_LIMIT: u64 = 1 << 20;

/// The user's folder for ptrack settings: `$PTRACK_CONFIG_DIR`, else `$XDG_CONFIG_HOME/ptrack`,
/// else `$HOME/.config/ptrack`. Empty values are unset; a relative `XDG_CONFIG_HOME` is ignored,
/// as the XDG spec says.
pub fn config_dir(
    ptrack_config_dir: Option<&Path>,
    xdg_config_home: Option<&Path>,
    home: Option<&Path>,
) -> Option<PathBuf> {
    fn set(p: Option<&Path>) -> Option<&Path> {
        p.filter(|p| !p.as_os_str().is_empty())
    }
    if let Some(d) = set(ptrack_config_dir) {
        return Some(d.to_path_buf());
    }
    if let Some(x) = set(xdg_config_home).filter(|p| p.is_absolute()) {
        return Some(x.join("ptrack"));
    }
    set(home).map(|h| h.join(".config").join("ptrack"))
}

/// Why a user settings file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The file exists but could not be read, or could not be written.
    #[error("cannot {verb} {}: {source}", path.display())]
    Io {
        /// `read` or `write`.
        verb: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file is not what ptrack writes there.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A project root that TOML cannot hold as text.
    #[error("{} is not valid UTF-8; ptrack cannot record it", path.display())]
    NotUtf8 {
        /// The path.
        path: PathBuf,
    },
}

/// Read a small TOML file; a missing file is `None`.
fn read_toml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, TrustError> {
    let what = "ptrack's user settings";
    let bytes = match crate::safe_fs::read_limited(path, FILE_LIMIT, what) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(TrustError::Io {
                verb: "read",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let invalid = |line, message| TrustError::Invalid {
        path: path.to_path_buf(),
        line,
        message,
    };
    let text = String::from_utf8(bytes).map_err(|_| invalid(None, "not UTF-8 text".into()))?;
    toml::from_str(&text).map(Some).map_err(|e| {
        invalid(
            e.span().map(|s| line_of_offset(&text, s.start)),
            e.message().to_string(),
        )
    })
}

/// The user's own `config.toml`: provider settings the user wrote, so trusted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserConfig {
    /// `[providers.NAME]`: used where the project's `ptrack.toml` sets nothing, and each
    /// `base_url` is trusted to receive keys.
    pub providers: BTreeMap<String, ProviderSettings>,
}

impl UserConfig {
    /// Read `path`; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<UserConfig, TrustError> {
        Ok(read_toml(path)?.unwrap_or_default())
    }
}

/// One approved project in `trusted.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TrustedProject {
    /// The project's root folder, canonical (links resolved).
    pub root: String,
    /// SHA-256 (hex) of its `ptrack.toml` as it was approved.
    pub ptrack_toml_sha256: String,
    /// When it was approved.
    pub trusted_at: DateTime<Utc>,
}

/// `trusted.toml` in the user's folder: the projects whose `ptrack.toml` was approved.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrustStore {
    /// One `[[project]]` table each, sorted by root.
    #[serde(default, rename = "project")]
    pub projects: Vec<TrustedProject>,
}

/// The file name of the store in the user's folder.
pub const STORE_FILE: &str = "trusted.toml";
/// The file name of the user's settings in the user's folder.
pub const USER_CONFIG_FILE: &str = "config.toml";

impl TrustStore {
    /// Read `path`; a missing file is an empty store.
    pub fn load(path: &Path) -> Result<TrustStore, TrustError> {
        Ok(read_toml(path)?.unwrap_or_default())
    }

    /// Write the store to `path` (through a temporary file, so a failed write keeps the old one).
    pub fn save(&self, path: &Path) -> Result<(), TrustError> {
        let io_err = |source| TrustError::Io {
            verb: "write",
            path: path.to_path_buf(),
            source,
        };
        let mut text = String::from(
            "# Projects whose ptrack.toml may choose where API keys go, written by `ptrack trust`.\n\
             # A project's entry holds only while its ptrack.toml has this SHA-256.\n\n",
        );
        // Strings, a date and an array of tables: serializing cannot fail.
        text.push_str(&toml::to_string(self).unwrap_or_default());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io_err)?;
        }
        let tmp = path.with_extension(format!("toml.tmp{}", std::process::id()));
        std::fs::write(&tmp, text).map_err(io_err)?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io_err(e)
        })
    }

    /// The entry of the project at `root`.
    pub fn get(&self, root: &str) -> Option<&TrustedProject> {
        self.projects.iter().find(|p| p.root == root)
    }

    /// Record `root` with the hash of its `ptrack.toml`, replacing an older entry.
    pub fn approve(&mut self, root: &str, sha256: &str, now: DateTime<Utc>) {
        self.revoke(root);
        self.projects.push(TrustedProject {
            root: root.to_string(),
            ptrack_toml_sha256: sha256.to_string(),
            trusted_at: now,
        });
        self.projects.sort_by(|a, b| a.root.cmp(&b.root));
    }

    /// Forget `root`; whether it was recorded.
    pub fn revoke(&mut self, root: &str) -> bool {
        let before = self.projects.len();
        self.projects.retain(|p| p.root != root);
        self.projects.len() != before
    }
}

/// SHA-256 of `bytes`, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a project's `ptrack.toml` was approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProjectTrust {
    /// The project has no `ptrack.toml`: it chooses no server and no variable.
    NoConfig,
    /// Never approved.
    Untrusted,
    /// Approved, but the file changed since (its hash differs).
    Changed,
    /// Approved as it is now.
    Trusted,
}

/// A project's `ptrack.toml` as far as trust goes.
#[derive(Debug, Clone)]
pub struct ProjectConfig {
    /// The canonical root folder, as the store records it.
    pub root: String,
    /// The file's text (`None`: no `ptrack.toml`), to name the line of a setting.
    pub text: Option<String>,
    /// Its SHA-256.
    pub sha256: Option<String>,
}

impl ProjectConfig {
    /// Read the `ptrack.toml` of the project at `root`.
    pub fn read(root: &Path) -> Result<ProjectConfig, TrustError> {
        let canonical = std::fs::canonicalize(root).map_err(|source| TrustError::Io {
            verb: "read",
            path: root.to_path_buf(),
            source,
        })?;
        let root_text = canonical
            .to_str()
            .ok_or_else(|| TrustError::NotUtf8 {
                path: canonical.clone(),
            })?
            .to_string();
        let path = canonical.join("ptrack.toml");
        let bytes = match crate::safe_fs::read_inside(
            &canonical,
            Path::new("ptrack.toml"),
            crate::safe_fs::DEFAULT_FILE_LIMIT,
            "ptrack.toml",
        ) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(TrustError::Io {
                    verb: "read",
                    path,
                    source,
                });
            }
        };
        Ok(ProjectConfig {
            root: root_text,
            sha256: bytes.as_deref().map(sha256_hex),
            text: bytes.map(|b| String::from_utf8_lossy(&b).into_owned()),
        })
    }

    /// Whether `store` approves this file as it is.
    pub fn status(&self, store: &TrustStore) -> ProjectTrust {
        let Some(sha) = &self.sha256 else {
            return ProjectTrust::NoConfig;
        };
        match store.get(&self.root) {
            None => ProjectTrust::Untrusted,
            Some(p) if p.ptrack_toml_sha256 == *sha => ProjectTrust::Trusted,
            Some(_) => ProjectTrust::Changed,
        }
    }
}

/// Everything that decides where a key may go, built by the caller.
#[derive(Debug, Clone)]
pub struct Trust {
    /// Whether the project's `ptrack.toml` was approved.
    pub project: ProjectTrust,
    /// The user's own settings.
    pub user: UserConfig,
    /// The text of the project's `ptrack.toml`, to name a setting's line.
    pub config_text: Option<String>,
}

impl Default for Trust {
    /// Nothing approved, no user settings: the strictest.
    fn default() -> Trust {
        Trust {
            project: ProjectTrust::Untrusted,
            user: UserConfig::default(),
            config_text: None,
        }
    }
}

/// Where the base URL came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlFrom {
    /// `--base-url`.
    CommandLine,
    /// `[providers.NAME] base_url` in the project's `ptrack.toml`, at this line when known.
    Project(Option<usize>),
    /// The user's own `config.toml`.
    User,
    /// The provider's usual address.
    Default,
}

impl std::fmt::Display for UrlFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UrlFrom::CommandLine => f.write_str("from --base-url"),
            UrlFrom::Project(Some(l)) => write!(f, "base_url at ptrack.toml:{l}"),
            UrlFrom::Project(None) => f.write_str("base_url in ptrack.toml"),
            UrlFrom::User => f.write_str("base_url in your config.toml"),
            UrlFrom::Default => f.write_str("the provider's default"),
        }
    }
}

/// Where the name of the key's variable came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarFrom {
    /// `api_key_env` in the project's `ptrack.toml`, at this line when known.
    Project(Option<usize>),
    /// The user's own `config.toml`.
    User,
    /// The provider's usual variable (`OPENAI_API_KEY`).
    Default,
}

/// A key about to be sent: which variable holds it and where it would go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    /// The provider API.
    pub provider: Provider,
    /// The base URL requests go to.
    pub url: String,
    /// Where the URL came from.
    pub url_from: UrlFrom,
    /// The environment variable holding the key.
    pub var: String,
    /// Where that name came from.
    pub var_from: VarFrom,
}

/// Why a key was not sent (nothing was sent at all).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRefusal {
    /// Plain `http://` to another machine: anyone on the way could read the key.
    #[error(
        "refusing to send the API key in {var} over plain http to {url} ({from}): anyone on the network could read it"
    )]
    PlainHttp {
        /// The variable.
        var: String,
        /// The URL.
        url: String,
        /// Where the URL came from.
        from: String,
    },
    /// An unapproved project names a variable that is not an `*_API_KEY`.
    #[error("{place} names api_key_env = \"{var}\", and {}; without approval only variables ending in _API_KEY are read", not_trusted(*project))]
    Variable {
        /// The variable.
        var: String,
        /// `ptrack.toml:LINE`.
        place: String,
        /// Why the project is not trusted.
        project: ProjectTrust,
    },
    /// An unapproved project's URL that is not the provider's, nor on this machine.
    #[error("refusing to send the API key in {var} to {url} ({from}): {}", not_trusted(*project))]
    Url {
        /// The variable.
        var: String,
        /// The URL.
        url: String,
        /// Where the URL came from.
        from: String,
        /// Why the project is not trusted.
        project: ProjectTrust,
    },
}

fn not_trusted(p: ProjectTrust) -> &'static str {
    match p {
        ProjectTrust::Changed => "this project's ptrack.toml changed since you trusted it",
        _ => "this project's ptrack.toml is not trusted",
    }
}

/// The scheme, host and port of a URL, parsed strictly: a host with characters a host name
/// or IP address cannot hold gives `None`, so no odd spelling can pass for loopback.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    https: bool,
    host: String,
    port: u16,
}

fn origin(url: &str) -> Option<Origin> {
    let lower = url.to_ascii_lowercase();
    let (https, rest) = if let Some(r) = lower.strip_prefix("https://") {
        (true, r)
    } else {
        (false, lower.strip_prefix("http://")?)
    };
    let hostport = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // A user name (`127.0.0.1@evil.example`), a backslash (`evil.example\@127.0.0.1`, which
    // URL parsers read differently) or an escape: no origin, so never loopback nor a match.
    if hostport.contains(['@', '\\', '%']) {
        return None;
    }
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        if !h
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return None;
        }
        (h.to_string(), after)
    } else {
        let (h, after) = match hostport.find(':') {
            Some(i) => (&hostport[..i], &hostport[i..]),
            None => (hostport, ""),
        };
        if h.is_empty()
            || !h
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
        {
            return None;
        }
        (h.trim_end_matches('.').to_string(), after)
    };
    let port = match port.strip_prefix(':') {
        None if port.is_empty() => {
            if https {
                443
            } else {
                80
            }
        }
        Some(p) => p.parse().ok()?,
        None => return None,
    };
    Some(Origin { https, host, port })
}

/// Whether `host` is this machine: `localhost`, 127.0.0.0/8 or ::1.
fn is_loopback(host: &str) -> bool {
    if host == "localhost" {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => a.is_loopback(),
        Ok(IpAddr::V6(a)) => a.is_loopback() || a.to_ipv4_mapped().is_some_and(|m| m.is_loopback()),
        Err(_) => false,
    }
}

/// Whether a URL is on this machine.
pub fn is_loopback_url(url: &str) -> bool {
    origin(url).is_some_and(|o| is_loopback(&o.host))
}

/// The 1-based line of `key` in `[providers.NAME]` of a `ptrack.toml` text.
pub fn provider_key_line(text: &str, provider: &str, key: &str) -> Option<usize> {
    let doc = text.parse::<toml_edit::Document<String>>().ok()?;
    let table = doc.get("providers")?.get(provider)?;
    let span = match table {
        toml_edit::Item::Table(t) => t.key(key)?.span(),
        toml_edit::Item::Value(toml_edit::Value::InlineTable(t)) => t.key(key)?.span(),
        _ => None,
    }?;
    Some(line_of_offset(text, span.start))
}

impl Trust {
    /// Whether the key `key` describes may be sent; nothing is read or sent here.
    pub fn check(&self, key: &KeyUse) -> Result<(), KeyRefusal> {
        let target = origin(&key.url);
        let local = target.as_ref().is_some_and(|o| is_loopback(&o.host));
        let https = target
            .as_ref()
            .map_or(key.url.to_ascii_lowercase().starts_with("https://"), |o| {
                o.https
            });
        if !https && !local {
            return Err(KeyRefusal::PlainHttp {
                var: key.var.clone(),
                url: key.url.clone(),
                from: key.url_from.to_string(),
            });
        }
        let approved = self.project == ProjectTrust::Trusted;
        if let VarFrom::Project(line) = key.var_from
            && !approved
            && !key.var.ends_with("_API_KEY")
        {
            return Err(KeyRefusal::Variable {
                var: key.var.clone(),
                place: line.map_or("ptrack.toml".to_string(), |l| format!("ptrack.toml:{l}")),
                project: self.project,
            });
        }
        let user_chose = matches!(
            key.url_from,
            UrlFrom::CommandLine | UrlFrom::User | UrlFrom::Default
        );
        let provider_host = match key.provider {
            Provider::Openai => origin(OPENAI_DEFAULT_URL),
            Provider::Ollama => None,
        };
        let same = |o: &Option<Origin>| target.is_some() && *o == target;
        let user_listed = self
            .user
            .providers
            .values()
            .filter_map(|s| s.base_url.as_deref())
            .any(|u| same(&origin(u)));
        if user_chose || approved || local || same(&provider_host) || user_listed {
            return Ok(());
        }
        Err(KeyRefusal::Url {
            var: key.var.clone(),
            url: key.url.clone(),
            from: key.url_from.to_string(),
            project: self.project,
        })
    }

    /// The line of `key` in `[providers.NAME]` of the project's `ptrack.toml`, when known.
    pub fn line_of(&self, provider: &str, key: &str) -> Option<usize> {
        self.config_text
            .as_deref()
            .and_then(|t| provider_key_line(t, provider, key))
    }
}

/// What `ptrack trust` reports about one project.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TrustStatus {
    /// The project's root folder, canonical.
    pub root: String,
    /// Whether its `ptrack.toml` is approved as it is now.
    pub status: ProjectTrust,
    /// What this command changed: `trusted`, `revoked`, or nothing (`--show`, or `--revoke`
    /// of a project that was not recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<TrustAction>,
    /// SHA-256 of its `ptrack.toml` now (`null`: there is none).
    pub ptrack_toml_sha256: Option<String>,
    /// When it was approved (also when the file changed since).
    pub trusted_at: Option<DateTime<Utc>>,
    /// The settings approval lets the project choose: `[providers.NAME]` `base_url` and
    /// `api_key_env`, by provider name.
    pub providers: BTreeMap<String, KeySettings>,
    /// The file approvals are kept in.
    pub store: String,
}

/// What `ptrack trust` changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TrustAction {
    /// The project's `ptrack.toml` was approved as it is.
    Trusted,
    /// The approval was removed.
    Revoked,
}

/// The two settings of a `[providers.NAME]` section that decide where a key goes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct KeySettings {
    /// Where requests go.
    pub base_url: Option<String>,
    /// Which environment variable holds the key.
    pub api_key_env: Option<String>,
}

impl TrustStatus {
    /// The status of `project` in `store` (kept at `store_path`), with the settings of `config`.
    pub fn new(
        project: &ProjectConfig,
        config: &crate::config::Config,
        store: &TrustStore,
        store_path: &Path,
    ) -> TrustStatus {
        TrustStatus {
            root: project.root.clone(),
            status: project.status(store),
            action: None,
            ptrack_toml_sha256: project.sha256.clone(),
            trusted_at: store.get(&project.root).map(|p| p.trusted_at),
            providers: config
                .providers
                .iter()
                .filter(|(_, s)| s.base_url.is_some() || s.api_key_env.is_some())
                .map(|(n, s)| {
                    (
                        n.clone(),
                        KeySettings {
                            base_url: s.base_url.clone(),
                            api_key_env: s.api_key_env.clone(),
                        },
                    )
                })
                .collect(),
            store: store_path.display().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(url: &str, url_from: UrlFrom, var: &str, var_from: VarFrom) -> KeyUse {
        KeyUse {
            provider: Provider::Openai,
            url: url.to_string(),
            url_from,
            var: var.to_string(),
            var_from,
        }
    }

    fn trust(project: ProjectTrust) -> Trust {
        Trust {
            project,
            ..Trust::default()
        }
    }

    /// Short names for the outcomes of the decision table.
    fn verdict(t: &Trust, k: &KeyUse) -> &'static str {
        match t.check(k) {
            Ok(()) => "send",
            Err(KeyRefusal::PlainHttp { .. }) => "plain http",
            Err(KeyRefusal::Variable { .. }) => "variable",
            Err(KeyRefusal::Url { .. }) => "url",
        }
    }

    #[test]
    fn the_decision_table() {
        use ProjectTrust::*;
        let p = UrlFrom::Project(Some(2));
        let pv = VarFrom::Project(Some(3));
        let d = VarFrom::Default;
        let rows: &[(ProjectTrust, &str, UrlFrom, &str, VarFrom, &str)] = &[
            // The provider's own host, whoever named it.
            (
                Untrusted,
                OPENAI_DEFAULT_URL,
                UrlFrom::Default,
                "OPENAI_API_KEY",
                d.clone(),
                "send",
            ),
            (
                Untrusted,
                "https://API.openai.com/v2",
                p.clone(),
                "OPENAI_API_KEY",
                d.clone(),
                "send",
            ),
            (
                Untrusted,
                "https://api.openai.com.evil.example/v1",
                p.clone(),
                "OPENAI_API_KEY",
                d.clone(),
                "url",
            ),
            (
                Untrusted,
                "https://api.openai.com:8443/v1",
                p.clone(),
                "OPENAI_API_KEY",
                d.clone(),
                "url",
            ),
            // Someone else's server from an unapproved ptrack.toml.
            (
                Untrusted,
                "https://evil.example/v1",
                p.clone(),
                "OPENAI_API_KEY",
                d.clone(),
                "url",
            ),
            (
                Changed,
                "https://evil.example/v1",
                p.clone(),
                "OPENAI_API_KEY",
                d.clone(),
                "url",
            ),
            (
                NoConfig,
                "https://evil.example/v1",
                p.clone(),
                "OPENAI_API_KEY",
                d.clone(),
                "url",
            ),
            (
                Trusted,
                "https://evil.example/v1",
                p.clone(),
                "OPENAI_API_KEY",
                d.clone(),
                "send",
            ),
            // The user's own choice.
            (
                Untrusted,
                "https://evil.example/v1",
                UrlFrom::CommandLine,
                "OPENAI_API_KEY",
                d.clone(),
                "send",
            ),
            (
                Untrusted,
                "https://mine.example/v1",
                UrlFrom::User,
                "OPENAI_API_KEY",
                d.clone(),
                "send",
            ),
            // This machine, however spelled; a user name before `@` does not make it local.
            (
                Untrusted,
                "http://127.0.0.1:8080/v1",
                p.clone(),
                "OPENAI_API_KEY",
                d.clone(),
                "send",
            ),
            (
                Untrusted,
                "http://127.8.9.10/v1",
                p.clone(),
                "OPENAI_API_KEY",
                d.clone(),
                "send",
            ),
            (
                Untrusted,
                "http://LOCALHOST:11434",
                p.clone(),
                "OPENAI_API_KEY",
                d.clone(),
                "send",
            ),
            (
                Untrusted,
                "http://[::1]:8080",
                p.clone(),
                "OPENAI_API_KEY",
                d.clone(),
                "send",
            ),
            (
                Untrusted,
                "https://127.0.0.1@evil.example/v1",
                p.clone(),
                "OPENAI_API_KEY",
                d.clone(),
                "url",
            ),
            (
                Untrusted,
                "https://evil.example\\@127.0.0.1/v1",
                p.clone(),
                "OPENAI_API_KEY",
                d.clone(),
                "url",
            ),
            (
                Untrusted,
                "https://128.0.0.1/v1",
                p.clone(),
                "OPENAI_API_KEY",
                d.clone(),
                "url",
            ),
            (
                Untrusted,
                "https://localhost.evil.example/v1",
                p.clone(),
                "OPENAI_API_KEY",
                d.clone(),
                "url",
            ),
            // Plain http to another machine, even when approved or given on the command line.
            (
                Trusted,
                "http://evil.example/v1",
                p.clone(),
                "OPENAI_API_KEY",
                d.clone(),
                "plain http",
            ),
            (
                Untrusted,
                "http://gpu.lan:8000/v1",
                UrlFrom::CommandLine,
                "OPENAI_API_KEY",
                d.clone(),
                "plain http",
            ),
            (
                Untrusted,
                "http://127.0.0.1@evil.example/v1",
                UrlFrom::CommandLine,
                "OPENAI_API_KEY",
                d.clone(),
                "plain http",
            ),
            // The variable an unapproved project names must be an *_API_KEY.
            (
                Untrusted,
                OPENAI_DEFAULT_URL,
                UrlFrom::Default,
                "AWS_SECRET_ACCESS_KEY",
                pv.clone(),
                "variable",
            ),
            (
                Changed,
                "http://127.0.0.1:1/v1",
                p.clone(),
                "GITHUB_TOKEN",
                pv.clone(),
                "variable",
            ),
            (
                Untrusted,
                OPENAI_DEFAULT_URL,
                UrlFrom::Default,
                "TEAM_API_KEY",
                pv.clone(),
                "send",
            ),
            (
                Trusted,
                OPENAI_DEFAULT_URL,
                UrlFrom::Default,
                "GITHUB_TOKEN",
                pv.clone(),
                "send",
            ),
            (
                Untrusted,
                OPENAI_DEFAULT_URL,
                UrlFrom::Default,
                "GITHUB_TOKEN",
                VarFrom::User,
                "send",
            ),
        ];
        for (project, url, url_from, var, var_from, want) in rows {
            let k = key(url, url_from.clone(), var, var_from.clone());
            assert_eq!(
                verdict(&trust(*project), &k),
                *want,
                "{project:?} {url} ({url_from}) {var} {var_from:?}"
            );
        }
    }

    #[test]
    fn a_url_in_the_user_config_is_trusted_for_any_project() {
        let mut t = trust(ProjectTrust::Untrusted);
        t.user.providers.insert(
            "openai".into(),
            ProviderSettings {
                base_url: Some("https://llm.corp.example/v1".into()),
                ..ProviderSettings::default()
            },
        );
        let p = UrlFrom::Project(None);
        let v = VarFrom::Default;
        let ok = key(
            "https://llm.corp.example/other",
            p.clone(),
            "OPENAI_API_KEY",
            v.clone(),
        );
        assert_eq!(verdict(&t, &ok), "send");
        let other = key("https://llm.corp.example.evil/v1", p, "OPENAI_API_KEY", v);
        assert_eq!(verdict(&t, &other), "url");
    }

    #[test]
    fn refusals_name_the_url_its_place_and_the_reason() {
        let k = key(
            "https://evil.example/v1",
            UrlFrom::Project(Some(4)),
            "OPENAI_API_KEY",
            VarFrom::Default,
        );
        let err = trust(ProjectTrust::Changed).check(&k).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "refusing to send the API key in OPENAI_API_KEY to https://evil.example/v1 (base_url at ptrack.toml:4): this project's ptrack.toml changed since you trusted it"
        );
        let k = key(
            OPENAI_DEFAULT_URL,
            UrlFrom::Default,
            "AWS_SECRET_ACCESS_KEY",
            VarFrom::Project(Some(3)),
        );
        let err = trust(ProjectTrust::Untrusted)
            .check(&k)
            .expect_err("refused");
        assert_eq!(
            err.to_string(),
            "ptrack.toml:3 names api_key_env = \"AWS_SECRET_ACCESS_KEY\", and this project's ptrack.toml is not trusted; without approval only variables ending in _API_KEY are read"
        );
    }

    #[test]
    fn the_user_folder_follows_the_variables_in_order() {
        let p = |s: &str| Some(PathBuf::from(s));
        let d = |a: Option<&str>, x: Option<&str>, h: Option<&str>| {
            config_dir(a.map(Path::new), x.map(Path::new), h.map(Path::new))
        };
        assert_eq!(d(Some("/c"), Some("/x"), Some("/h")), p("/c"));
        assert_eq!(d(Some(""), Some("/x"), Some("/h")), p("/x/ptrack"));
        assert_eq!(d(None, Some("rel"), Some("/h")), p("/h/.config/ptrack"));
        assert_eq!(d(None, None, None), None);
    }

    #[test]
    fn the_store_round_trips_and_an_edited_file_is_no_longer_trusted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let project = dir.path().join("proj");
        std::fs::create_dir(&project).expect("mkdir");
        let store_path = dir.path().join("cfg").join(STORE_FILE);
        let now = DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc);

        let none = ProjectConfig::read(&project).expect("read");
        assert_eq!(none.status(&TrustStore::default()), ProjectTrust::NoConfig);

        std::fs::write(project.join("ptrack.toml"), "[providers.openai]\n").expect("write");
        let cfg = ProjectConfig::read(&project).expect("read");
        // `printf '[providers.openai]\n' | sha256sum`
        assert_eq!(
            cfg.sha256.as_deref(),
            Some("1597c345651d8a635c7db2d2e5c655c2650cdee57a6180adcf87b050e1f9f458")
        );
        let mut store = TrustStore::load(&store_path).expect("missing is empty");
        assert_eq!(cfg.status(&store), ProjectTrust::Untrusted);
        store.approve(&cfg.root, cfg.sha256.as_deref().unwrap_or_default(), now);
        store.save(&store_path).expect("save");
        let store = TrustStore::load(&store_path).expect("load");
        assert_eq!(cfg.status(&store), ProjectTrust::Trusted);
        assert_eq!(store.projects[0].trusted_at, now);

        std::fs::write(
            project.join("ptrack.toml"),
            "[providers.openai]\nbase_url = \"https://x\"\n",
        )
        .expect("edit");
        let edited = ProjectConfig::read(&project).expect("read");
        assert_eq!(edited.status(&store), ProjectTrust::Changed);
        let mut store = store;
        assert!(store.revoke(&edited.root));
        assert!(!store.revoke(&edited.root));
        assert_eq!(edited.status(&store), ProjectTrust::Untrusted);
    }

    #[test]
    fn a_damaged_store_names_its_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(STORE_FILE);
        std::fs::write(&path, "[[project]]\nroot = 3\n").expect("write");
        let err = TrustStore::load(&path).expect_err("invalid");
        assert!(
            err.to_string().starts_with(&format!("{}:", path.display())),
            "{err}"
        );
    }

    #[test]
    fn setting_lines_are_found_in_tables_and_inline_tables() {
        let text = "[defaults]\nmodel = \"m\"\n\n[providers.openai]\nbase_url = \"u\"\napi_key_env = \"K\"\n";
        assert_eq!(provider_key_line(text, "openai", "base_url"), Some(5));
        assert_eq!(provider_key_line(text, "openai", "api_key_env"), Some(6));
        assert_eq!(provider_key_line(text, "ollama", "base_url"), None);
        let inline = "providers = { openai = { base_url = \"u\" } }\n";
        assert_eq!(provider_key_line(inline, "openai", "base_url"), Some(1));
    }
}
