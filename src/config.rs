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
    pub report: Gates,
    /// Model servers, by provider name (`ollama`, `openai`).
    pub providers: BTreeMap<String, ProviderSettings>,
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

/// A `[providers.NAME]` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderSettings {
    /// Base URL of the server's API.
    pub base_url: Option<String>,
    /// The environment variable holding the API key (the key itself never goes in a file).
    pub api_key_env: Option<String>,
    /// Request timeout in seconds.
    pub timeout_secs: Option<f64>,
}

/// The `[report]` section: gates that make `ptrack report` exit 1 when crossed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Gates {
    /// Metric gates apply only to versions with at least this many runs (default 1).
    pub min_runs: Option<usize>,
    /// Lowest success rate a changed version may have, as a fraction (0.9 = 90%).
    pub min_success_rate: Option<f64>,
    /// Largest increase of p95 time against the previous version, in percent.
    pub max_p95_regression_pct: Option<f64>,
    /// Lowest mean quality (over rated runs) a changed version may have.
    pub min_quality: Option<f64>,
    /// Fail when a version file that already has runs was edited in place.
    pub forbid_in_place_edits: Option<bool>,
}

impl Gates {
    /// Check the values' ranges; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(r) = self.min_success_rate
            && !(0.0..=1.0).contains(&r)
        {
            return Err(format!(
                "min_success_rate must be a fraction from 0 to 1 (0.9 = 90%), got {r}"
            ));
        }
        if let Some(q) = self.min_quality
            && !(1.0..=10.0).contains(&q)
        {
            return Err(format!("min_quality must be from 1 to 10, got {q}"));
        }
        if let Some(p) = self.max_p95_regression_pct
            && !(p >= 0.0 && p.is_finite())
        {
            return Err(format!(
                "max_p95_regression_pct must be a percentage ≥ 0, got {p}"
            ));
        }
        Ok(())
    }
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
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: display_path.to_path_buf(),
            line: e.span().map(|s| line_of_offset(text, s.start)),
            message: e.message().to_string(),
        })?;
        config
            .report
            .validate()
            .map_err(|message| ConfigError::Invalid {
                path: display_path.to_path_buf(),
                line: crate::prompt::find_key_line(text, "[report]", crate::SourceFormat::Toml),
                message: format!("[report] {message}"),
            })?;
        Ok(config)
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
        assert_eq!(c.report.min_success_rate, Some(0.9));
    }

    #[test]
    fn gate_out_of_range_is_an_error() {
        let err = Config::parse(
            "[report]\nmin_success_rate = 90\n",
            Path::new("ptrack.toml"),
        )
        .expect_err("range");
        assert!(
            err.to_string()
                .contains("min_success_rate must be a fraction"),
            "{err}"
        );
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
