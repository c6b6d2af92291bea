//! `ptrack.toml`: optional project settings and defaults.
//!
//! Every section is optional; a missing file means all defaults. An unknown key is a warning
//! (with the closest known key as a suggestion) that `check` reports; it never stops a command,
//! and it is never silently dropped: `check` names it. A known key with a value of the wrong
//! type is an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::diagnostic::{Diagnostic, line_of_offset};
use crate::prompt::Provider;

/// The parsed `ptrack.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct Config {
    /// Defaults for new versions (`create`) and for versions that leave a key out.
    pub defaults: Defaults,
    /// Gates for `ptrack report`.
    pub report: Gates,
    /// Model servers, by provider name (`ollama`, `openai`).
    pub providers: BTreeMap<String, ProviderSettings>,
    /// Prices per million tokens, by model name or glob (`"llama3.1:*"`).
    pub prices: BTreeMap<String, Price>,
    /// Limits on what ptrack reads from a project.
    pub limits: Limits,
    /// Alert rules, the `[[alerts]]` tables (checked by [`crate::alerts::rules_of`]).
    pub alerts: Vec<crate::alerts::AlertRuleConfig>,
    /// Where alert notifications go.
    pub notify: crate::alerts::Notify,
}

/// The `[limits]` section: bounds on untrusted input, so a cloned project cannot make a
/// command read without end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct Limits {
    /// The largest prompt file ptrack reads, in bytes (default 1 MiB); a larger one is an
    /// error naming the file.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub max_prompt_bytes: Option<u64>,
}

impl Limits {
    /// The prompt file size limit in bytes.
    pub fn prompt_bytes(&self) -> u64 {
        self.max_prompt_bytes
            .unwrap_or(crate::safe_fs::DEFAULT_FILE_LIMIT)
    }
}

/// What a model costs, in any currency (USD by convention), per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct Price {
    /// Per million prompt (input) tokens.
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0)))]
    pub input_per_mtok: f64,
    /// Per million completion (output) tokens.
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0)))]
    pub output_per_mtok: f64,
}

impl Price {
    /// The cost of one request.
    pub fn cost(&self, prompt_tokens: u64, completion_tokens: u64) -> f64 {
        (prompt_tokens as f64 * self.input_per_mtok
            + completion_tokens as f64 * self.output_per_mtok)
            / 1e6
    }
}

impl Config {
    /// The price of `model`: its exact key, else the first glob key (`*`, `?`) that matches.
    pub fn price_of(&self, model: &str) -> Option<&Price> {
        self.prices.get(model).or_else(|| {
            self.prices
                .iter()
                .find(|(k, _)| (k.contains('*') || k.contains('?')) && wildcard(k, model))
                .map(|(_, p)| p)
        })
    }
}

/// Whether `text` matches `pattern`, where `*` is any run of characters and `?` one character
/// (a model name is not a path, so path globbing crates do not fit).
fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The `[defaults]` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct Defaults {
    /// Model for new versions and for versions that name none.
    pub model: Option<String>,
    /// Provider for new versions and for versions that name none.
    pub provider: Option<Provider>,
    /// File format `create` writes: `md` or `toml`.
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["md", "toml"])))]
    pub format: Option<String>,
    /// Temperature for new versions.
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0, max = 2.0)))]
    pub temperature: Option<f64>,
    /// Token limit for new versions.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub token_limit: Option<u64>,
    /// Top-k for new versions.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub top_k: Option<u64>,
    /// Top-p for new versions.
    #[cfg_attr(feature = "schema", schemars(extend("exclusiveMinimum" = 0, "maximum" = 1)))]
    pub top_p: Option<f64>,
}

impl Defaults {
    /// Check the values as a version's front matter is checked; the error names the key.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if let Some(f) = &self.format
            && f != "md"
            && f != "toml"
        {
            return Err((
                "format",
                format!("format must be `md` or `toml`, got {f:?}"),
            ));
        }
        if let Some(t) = self.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return Err((
                "temperature",
                format!("temperature must be between 0 and 2, got {t}"),
            ));
        }
        if let Some(p) = self.top_p
            && !(p > 0.0 && p <= 1.0)
        {
            return Err((
                "top_p",
                format!("top_p must be greater than 0 and at most 1, got {p}"),
            ));
        }
        for (key, n) in [("token_limit", self.token_limit), ("top_k", self.top_k)] {
            if n == Some(0) {
                return Err((key, format!("{key} must be a positive integer, got 0")));
            }
        }
        Ok(())
    }
}

/// A `[providers.NAME]` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct Gates {
    /// Metric gates apply only to versions with at least this many runs (default 1).
    pub min_runs: Option<usize>,
    /// Lowest success rate a changed version may have, as a fraction (0.9 = 90%).
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0, max = 1.0)))]
    pub min_success_rate: Option<f64>,
    /// Largest increase of p95 time against the previous version, in percent.
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0)))]
    pub max_p95_regression_pct: Option<f64>,
    /// Lowest mean quality (over rated runs) a changed version may have.
    #[cfg_attr(feature = "schema", schemars(range(min = 1.0, max = 10.0)))]
    pub min_quality: Option<f64>,
    /// Fail when a version file that already has runs was edited in place.
    pub forbid_in_place_edits: Option<bool>,
    /// Lowest pass rate of a changed version in its latest eval, as a fraction.
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0, max = 1.0)))]
    pub min_pass_rate: Option<f64>,
    /// Most pairs that passed on the base and fail on the head in the latest eval.
    pub max_new_failures: Option<usize>,
    /// Largest drop of the eval pass rate from base to head, in percentage points.
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0)))]
    pub max_pass_rate_drop_pts: Option<f64>,
    /// A comparison gate (p95 regression, pass rate drop) fails only when the change is
    /// significant at p < 0.05.
    pub significant_only: Option<bool>,
    /// Largest increase of the cost per run against the previous version, in percent.
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0)))]
    pub max_cost_increase_pct: Option<f64>,
    /// A gate that could not be checked (too few runs, no rated runs, no eval) fails instead
    /// of being reported as "not checked" (default false).
    pub require_checked: Option<bool>,
    /// A label (labels.toml) may move to a version only when that version has at least this
    /// many runs: evidence before `production` changes.
    pub label_moves_need_runs: Option<usize>,
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
        if let Some(r) = self.min_pass_rate
            && !(0.0..=1.0).contains(&r)
        {
            return Err(format!(
                "min_pass_rate must be a fraction from 0 to 1 (0.9 = 90%), got {r}"
            ));
        }
        if let Some(p) = self.max_pass_rate_drop_pts
            && !(p >= 0.0 && p.is_finite())
        {
            return Err(format!(
                "max_pass_rate_drop_pts must be a number of points ≥ 0, got {p}"
            ));
        }
        if let Some(p) = self.max_cost_increase_pct
            && !(p >= 0.0 && p.is_finite())
        {
            return Err(format!(
                "max_cost_increase_pct must be a percentage ≥ 0, got {p}"
            ));
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

/// The keys each part of `ptrack.toml` knows.
const TOP: &[&str] = &[
    "defaults",
    "report",
    "providers",
    "prices",
    "limits",
    "alerts",
    "notify",
];
const DEFAULTS: &[&str] = &[
    "model",
    "provider",
    "format",
    "temperature",
    "token_limit",
    "top_k",
    "top_p",
];
const REPORT: &[&str] = &[
    "min_runs",
    "min_success_rate",
    "max_p95_regression_pct",
    "min_quality",
    "forbid_in_place_edits",
    "min_pass_rate",
    "max_new_failures",
    "max_pass_rate_drop_pts",
    "significant_only",
    "max_cost_increase_pct",
    "require_checked",
    "label_moves_need_runs",
];
const PROVIDER: &[&str] = &["base_url", "api_key_env", "timeout_secs"];
const LIMITS: &[&str] = &["max_prompt_bytes"];
const ALERT: &[&str] = &[
    "name", "prompt", "version", "label", "when", "window", "last", "min_runs",
];
const NOTIFY: &[&str] = &["webhook"];

impl Config {
    /// Read `path`; a missing file gives the defaults. The diagnostics are warnings about
    /// unknown keys.
    pub fn load(
        path: &Path,
        display_path: &Path,
    ) -> Result<(Config, Vec<Diagnostic>), ConfigError> {
        let read =
            crate::safe_fs::read_limited(path, crate::safe_fs::DEFAULT_FILE_LIMIT, "ptrack.toml")
                .and_then(|bytes| {
                    String::from_utf8(bytes).map_err(|e| {
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!(
                                "not valid UTF-8 (bad byte at offset {}); save it as UTF-8",
                                e.utf8_error().valid_up_to()
                            ),
                        )
                    })
                });
        let text = match read {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((Config::default(), Vec::new()));
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: display_path.to_path_buf(),
                    source,
                });
            }
        };
        let config = Config::parse(&text, display_path)?;
        Ok((config, unknown_keys(&text, display_path)))
    }

    /// Parse the text of a `ptrack.toml`.
    pub fn parse(text: &str, display_path: &Path) -> Result<Config, ConfigError> {
        check_alerts_shape(text, display_path)?;
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: display_path.to_path_buf(),
            line: e.span().map(|s| line_of_offset(text, s.start)),
            message: e.message().to_string(),
        })?;
        for (model, p) in &config.prices {
            if !(p.input_per_mtok >= 0.0
                && p.output_per_mtok >= 0.0
                && p.input_per_mtok.is_finite()
                && p.output_per_mtok.is_finite())
            {
                return Err(ConfigError::Invalid {
                    path: display_path.to_path_buf(),
                    line: crate::prompt::find_key_line(
                        text,
                        &format!("\"{model}\""),
                        crate::prompt::SourceFormat::Toml,
                    )
                    .or_else(|| {
                        crate::prompt::find_key_line(text, model, crate::prompt::SourceFormat::Toml)
                    }),
                    message: format!(
                        "[prices] {model}: prices per million tokens must be numbers ≥ 0"
                    ),
                });
            }
        }
        if config.limits.max_prompt_bytes == Some(0) {
            return Err(ConfigError::Invalid {
                path: display_path.to_path_buf(),
                line: crate::prompt::find_key_line(
                    text,
                    "max_prompt_bytes",
                    crate::prompt::SourceFormat::Toml,
                ),
                message: "[limits] max_prompt_bytes must be a number of bytes > 0".to_string(),
            });
        }
        config
            .defaults
            .validate()
            .map_err(|(key, message)| ConfigError::Invalid {
                path: display_path.to_path_buf(),
                line: toml_line(text, &["defaults", key]),
                message: format!("[defaults] {message}"),
            })?;
        config
            .report
            .validate()
            .map_err(|message| ConfigError::Invalid {
                path: display_path.to_path_buf(),
                line: crate::prompt::find_key_line(
                    text,
                    "[report]",
                    crate::prompt::SourceFormat::Toml,
                ),
                message: format!("[report] {message}"),
            })?;
        crate::alerts::rules_of(&config.alerts).map_err(|e| ConfigError::Invalid {
            path: display_path.to_path_buf(),
            line: alert_line(text, e.index, e.field),
            message: e.to_string(),
        })?;
        if let Some(url) = &config.notify.webhook {
            crate::alerts::check_webhook(url).map_err(|message| ConfigError::Invalid {
                path: display_path.to_path_buf(),
                line: toml_line(text, &["notify", "webhook"]),
                message: format!("[notify] {message}"),
            })?;
        }
        Ok(config)
    }
}

/// The line of `[[alerts]]` table `index` (its key `field`, else its header).
fn alert_line(text: &str, index: usize, field: Option<&str>) -> Option<usize> {
    let doc = text.parse::<toml_edit::Document<String>>().ok()?;
    let table = doc.get("alerts")?.as_array_of_tables()?.get(index)?;
    let span = field
        .and_then(|f| table.key(f))
        .and_then(|k| k.span())
        .or_else(|| table.span())?;
    Some(line_of_offset(text, span.start))
}

/// The line of the key at `path` (`["notify", "webhook"]`).
fn toml_line(text: &str, path: &[&str]) -> Option<usize> {
    let doc = text.parse::<toml_edit::Document<String>>().ok()?;
    let (last, tables) = path.split_last()?;
    let mut table = doc.as_table();
    for t in tables {
        table = table.get(t)?.as_table()?;
    }
    let span = table.key(last)?.span()?;
    Some(line_of_offset(text, span.start))
}

/// `[alerts]` written as a table (the webhook's old place in the design) rather than the
/// `[[alerts]]` rules: say where each goes instead of a serde type error.
fn check_alerts_shape(text: &str, display_path: &Path) -> Result<(), ConfigError> {
    let Ok(doc) = text.parse::<toml_edit::Document<String>>() else {
        return Ok(());
    };
    let Some(item) = doc.get("alerts") else {
        return Ok(());
    };
    if item.is_array_of_tables() {
        return Ok(());
    }
    let line = doc
        .as_table()
        .key("alerts")
        .and_then(|k| k.span())
        .map(|s| line_of_offset(text, s.start));
    Err(ConfigError::Invalid {
        path: display_path.to_path_buf(),
        line,
        message: "alert rules are `[[alerts]]` tables (one per rule); a webhook goes in `[notify] webhook = \"…\"`".to_string(),
    })
}

/// A warning for every key `ptrack.toml` does not know, with its line and the closest known key.
fn unknown_keys(text: &str, display_path: &Path) -> Vec<Diagnostic> {
    let Ok(doc) = text.parse::<toml_edit::Document<String>>() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut check = |table: &toml_edit::Table, known: &[&str], section: &str| {
        for (key, _) in table.iter() {
            if known.contains(&key) {
                continue;
            }
            let line = table
                .key(key)
                .and_then(|k| k.span())
                .map(|s| line_of_offset(text, s.start));
            let place = if section.is_empty() {
                String::new()
            } else {
                format!(" in [{section}]")
            };
            let hint = match crate::prompt::suggest(key, known) {
                Some(s) => format!(", did you mean `{s}`?"),
                None => format!(" (ignored; known keys: {})", known.join(", ")),
            };
            out.push(
                Diagnostic::warning(
                    display_path,
                    line,
                    format!("unknown key `{key}`{place}{hint}"),
                )
                .with_field(key),
            );
        }
    };
    let root = doc.as_table();
    check(root, TOP, "");
    for (name, known) in [
        ("defaults", DEFAULTS),
        ("report", REPORT),
        ("limits", LIMITS),
    ] {
        if let Some(t) = root.get(name).and_then(toml_edit::Item::as_table) {
            check(t, known, name);
        }
    }
    if let Some(t) = root.get("notify").and_then(toml_edit::Item::as_table) {
        check(t, NOTIFY, "notify");
    }
    if let Some(rules) = root
        .get("alerts")
        .and_then(toml_edit::Item::as_array_of_tables)
    {
        for t in rules.iter() {
            check(t, ALERT, "[alerts]");
        }
    }
    if let Some(providers) = root.get("providers").and_then(toml_edit::Item::as_table) {
        for (name, item) in providers.iter() {
            if let Some(t) = item.as_table() {
                check(t, PROVIDER, &format!("providers.{name}"));
            }
        }
    }
    out
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
    fn unknown_keys_are_warnings_with_a_suggestion_and_their_line() {
        let text = "[defaults]\nmodle = \"x\"\n\n[providers.openai]\nbase_ur = \"u\"\napi_key_env = \"K\"\n\n[extra]\n";
        let c = Config::parse(text, Path::new("ptrack.toml")).expect("still valid");
        assert_eq!(c.defaults.model, None);
        let msgs: Vec<String> = unknown_keys(text, Path::new("ptrack.toml"))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            msgs,
            [
                "ptrack.toml:8: warning: unknown key `extra` (ignored; known keys: defaults, report, providers, prices, limits, alerts, notify)",
                "ptrack.toml:2: warning: unknown key `modle` in [defaults], did you mean `model`?",
                "ptrack.toml:5: warning: unknown key `base_ur` in [providers.openai], did you mean `base_url`?",
            ]
        );
    }

    #[test]
    fn the_prompt_size_limit_is_a_known_key_with_a_default() {
        let c = Config::parse("", Path::new("ptrack.toml")).expect("empty");
        assert_eq!(c.limits.prompt_bytes(), 1 << 20);
        let text = "[limits]\nmax_prompt_bytes = 5000\nmax_prompt_byte = 1\n";
        let c = Config::parse(text, Path::new("ptrack.toml")).expect("valid");
        assert_eq!(c.limits.prompt_bytes(), 5000);
        let msgs: Vec<String> = unknown_keys(text, Path::new("ptrack.toml"))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            msgs,
            [
                "ptrack.toml:3: warning: unknown key `max_prompt_byte` in [limits], did you mean `max_prompt_bytes`?"
            ]
        );
        let err = Config::parse("[limits]\nmax_prompt_bytes = 0\n", Path::new("ptrack.toml"))
            .expect_err("zero");
        assert_eq!(
            err.to_string(),
            "ptrack.toml:2: [limits] max_prompt_bytes must be a number of bytes > 0"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_or_device_as_ptrack_toml_is_an_error_not_a_hang() {
        let d = tempfile::tempdir().expect("tmp");
        let p = d.path().join("ptrack.toml");
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).expect("cstring");
        // SAFETY: `c` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
        let err = Config::load(&p, Path::new("ptrack.toml")).expect_err("fifo");
        assert_eq!(
            err.to_string(),
            "cannot read ptrack.toml: not a regular file (it is a FIFO)"
        );
        let z = d.path().join("zero.toml");
        std::os::unix::fs::symlink("/dev/zero", &z).expect("link");
        let err = Config::load(&z, Path::new("ptrack.toml")).expect_err("device");
        assert!(err.to_string().contains("(it is a device)"), "{err}");
    }

    #[test]
    fn prices_match_exact_names_then_globs() {
        let c = Config::parse(
            "[prices]\n\"gpt-4o-mini\" = { input_per_mtok = 0.15, output_per_mtok = 0.60 }\n\"llama3.1:*\" = { input_per_mtok = 0.0, output_per_mtok = 0.1 }\n",
            Path::new("ptrack.toml"),
        )
        .expect("valid");
        let p = c.price_of("gpt-4o-mini").expect("exact");
        // 1,000 prompt and 500 completion tokens: (1000 * 0.15 + 500 * 0.60) / 1e6
        assert!((p.cost(1000, 500) - 0.00045).abs() < 1e-15);
        assert_eq!(
            c.price_of("llama3.1:8b").map(|p| p.output_per_mtok),
            Some(0.1)
        );
        assert_eq!(c.price_of("llama3.2:1b"), None);
        assert!(wildcard("a*b?d", "axxbcd") && !wildcard("a*b?d", "axxbd"));
        let err = Config::parse(
            "[prices]\nm = { input_per_mtok = -1 }\n",
            Path::new("ptrack.toml"),
        )
        .expect_err("negative");
        assert!(err.to_string().contains("[prices] m"), "{err}");
    }

    #[test]
    fn alert_rules_are_checked_with_the_line_of_the_bad_key() {
        let ok = "[[alerts]]\nprompt = \"p\"\nwhen = \"success_rate < 0.9\"\nwindow = \"1h\"\nwhen_ = 1\n\n[notify]\nwebhook = \"https://hooks.example.com/a\"\nretries = 3\n";
        let c = Config::parse(ok, Path::new("ptrack.toml")).expect("valid");
        assert_eq!(c.alerts.len(), 1);
        let msgs: Vec<String> = unknown_keys(ok, Path::new("ptrack.toml"))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            msgs,
            [
                "ptrack.toml:9: warning: unknown key `retries` in [notify] (ignored; known keys: webhook)",
                "ptrack.toml:5: warning: unknown key `when_` in [[alerts]], did you mean `when`?",
            ]
        );
        let err = |text: &str| {
            Config::parse(text, Path::new("ptrack.toml"))
                .expect_err("invalid")
                .to_string()
        };
        assert_eq!(
            err(
                "[[alerts]]\nprompt = \"p\"\nwhen = \"success_rate < 0.9\"\nwindow = \"1h\"\n\n[[alerts]]\nprompt = \"p\"\nwhen = \"p95 > 3\"\nlast = 10\n"
            ),
            "ptrack.toml:8: [[alerts]] #2: when: unknown metric `p95`; known: success_rate, p95_ms, quality, cost_per_run"
        );
        assert_eq!(
            err("[[alerts]]\nprompt = \"p\"\nwindow = \"1h\"\n"),
            "ptrack.toml:1: [[alerts]] #1: a rule needs `when`, such as `when = \"success_rate < 0.9\"`"
        );
        assert_eq!(
            err("[notify]\nwebhook = \"ftp://x\"\n"),
            "ptrack.toml:2: [notify] webhook must be an http:// or https:// URL, got \"ftp://x\""
        );
        assert_eq!(
            err("[alerts]\nwebhook = \"https://x\"\n"),
            "ptrack.toml:1: alert rules are `[[alerts]]` tables (one per rule); a webhook goes in `[notify] webhook = \"…\"`"
        );
        assert!(
            err("[[alerts]]\nprompt = \"p\"\nwhen = \"quality < 5\"\nlast = \"ten\"\n")
                .starts_with("ptrack.toml:4: "),
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_is_an_error_with_its_line() {
        let err = Config::parse(
            "[defaults]\ntemperature = \"hot\"\n",
            Path::new("ptrack.toml"),
        )
        .expect_err("wrong type");
        assert!(err.to_string().starts_with("ptrack.toml:2: "), "{err}");
    }
}
