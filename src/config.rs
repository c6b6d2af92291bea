//! `ptrack.toml`: optional project settings and defaults.
//!
//! Every section is optional; a missing file means all defaults. Unknown keys are
//! reported as warnings by `check`, never silently dropped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::diagnostic::line_of_offset;
use crate::prompt::Provider;

/// The parsed `ptrack.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Defaults for new versions (`create`) and for versions that leave a key out.
    pub defaults: Defaults,
    /// Gates for `ptrack report`.
    pub report: BTreeMap<String, toml::Value>,
    /// Model servers, by provider name.
    pub providers: BTreeMap<String, toml::Value>,
}

/// The `[defaults]` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Defaults {
    /// Model for new versions and for versions that name none.
    pub model: Option<String>,
    /// Provider for new versions and for versions that name none.
    pub provider: Option<Provider>,
    /// File format `create` writes: `md` or `toml`.
    pub format: Option<String>,
    /// Temperature for new versions.
    pub temperature: Option<f64>,
    /// Token limit for new versions.
    pub token_limit: Option<u64>,
    /// Top-k for new versions.
    pub top_k: Option<u64>,
    /// Top-p for new versions.
    pub top_p: Option<f64>,
}

/// Why `ptrack.toml` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a value has the wrong type.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Read `path`; a missing file gives the defaults.
    pub fn load(path: &Path, display_path: &Path) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: display_path.to_path_buf(),
                    source,
                });
            }
        };
        Config::parse(&text, display_path)
    }

    /// Parse the text of a `ptrack.toml`.
    pub fn parse(text: &str, display_path: &Path) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: display_path.to_path_buf(),
            line: e.span().map(|s| line_of_offset(text, s.start)),
            message: e.message().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_defaults_and_keeps_other_sections() {
        let c = Config::parse(
            "[defaults]\nmodel = \"llama3.1:8b\"\nprovider = \"ollama\"\n\n[report]\nmin_success_rate = 0.9\n",
            Path::new("ptrack.toml"),
        )
        .expect("valid config");
        assert_eq!(c.defaults.model.as_deref(), Some("llama3.1:8b"));
        assert_eq!(c.defaults.provider, Some(Provider::Ollama));
        assert!(c.report.contains_key("min_success_rate"));
    }

    #[test]
    fn wrong_key_names_file_and_line() {
        let err = Config::parse("[defaults]\nmodle = \"x\"\n", Path::new("ptrack.toml"))
            .expect_err("unknown key");
        let msg = err.to_string();
        assert!(
            msg.starts_with("ptrack.toml:2: unknown field `modle`"),
            "{msg}"
        );
    }
}
