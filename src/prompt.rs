//! Prompt version files: parsing and validation.
//!
//! A version is `prompts/<name>/<version>.md` (YAML front matter between `---` lines or TOML
//! between `+++` lines, then the prompt text) or `prompts/<name>/<version>.toml` (the same
//! keys, with the text in `prompt = """…"""`). Parsing collects every problem it finds as a
//! [`Diagnostic`] naming the file, line and field, instead of stopping at the first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use serde_json::Value;

use crate::diagnostic::{Diagnostic, line_of_offset};
use crate::version::Version;

/// The front matter keys ptrack knows, in the order they are documented.
pub const KNOWN_KEYS: &[&str] = &[
    "goal",
    "model",
    "provider",
    "temperature",
    "token_limit",
    "max_tokens",
    "top_k",
    "top_p",
    "created_at",
    "tags",
    "variables",
    "description",
    "name",
    "version",
    "output_schema",
    "output_format",
    "response_format",
    "stop",
    "seed",
    "authors",
    "proposed_from",
    "proposed_eval",
];

/// Keys of other formats' attributes that a version carries (shown, compared, kept by
/// `import`) without ptrack using them.
const CARRIED_KEYS: &[&str] = &[
    "output_schema",
    "output_format",
    "response_format",
    "stop",
    "seed",
    "authors",
    "proposed_from",
    "proposed_eval",
];

/// How a version file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SourceFormat {
    /// `.md` with YAML front matter between `---` lines.
    MarkdownYaml,
    /// `.md` with TOML front matter between `+++` lines.
    MarkdownToml,
    /// A `.toml` file with the text in `prompt`.
    Toml,
    /// A Microsoft Prompty file (`.prompty`), read in place.
    Prompty,
    /// A Google Dotprompt file (`.prompt`), read in place.
    Dotprompt,
    /// A GitHub Models prompt file (`.prompt.yml`), read in place.
    GithubModels,
}

/// The file name endings of version files, each with its format: ptrack's own, then the
/// formats read in place.
pub const VERSION_FILE_ENDINGS: &[&str] = &[
    ".md",
    ".toml",
    ".prompty",
    ".prompt",
    ".prompt.yml",
    ".prompt.yaml",
];

/// The version part of a version file's name (`1.2` of `1.2.md` or `1.2.prompt.yml`), or
/// `None` when the name has none of the [`VERSION_FILE_ENDINGS`].
///
/// ```
/// assert_eq!(ptrack::prompt::version_stem("1.2.prompt.yml"), Some("1.2"));
/// assert_eq!(ptrack::prompt::version_stem("1.0.prompty"), Some("1.0"));
/// assert_eq!(ptrack::prompt::version_stem("cases.jsonl"), None);
/// ```
pub fn version_stem(file_name: &str) -> Option<&str> {
    // Longest ending first: `1.0.prompt.yml` is not `1.0.prompt` + `.yml`.
    [
        ".prompt.yaml",
        ".prompt.yml",
        ".prompty",
        ".prompt",
        ".toml",
        ".md",
    ]
    .iter()
    .find_map(|e| file_name.strip_suffix(e))
}

mod foreign;
pub use foreign::{format_of as foreign_format_of, to_ptrack_text};

impl SourceFormat {
    /// Whether the file is in another tool's format (read in place, never written).
    pub fn is_foreign(self) -> bool {
        matches!(
            self,
            SourceFormat::Prompty | SourceFormat::Dotprompt | SourceFormat::GithubModels
        )
    }
}

/// The model server API a prompt is meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Ollama's `/api/generate`.
    Ollama,
    /// An OpenAI-compatible `/v1/chat/completions`.
    Openai,
}

impl std::str::FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProvider(s.to_string()))
    }
}

/// A provider name ptrack does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider `{0}` (known: ollama, openai)")]
pub struct UnknownProvider(pub String);

impl Provider {
    /// Every provider, in the order help texts list them.
    pub const ALL: [Provider; 2] = [Provider::Ollama, Provider::Openai];

    /// The name used in files and flags.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Ollama => "ollama",
            Provider::Openai => "openai",
        }
    }
}

/// An input variable the prompt text uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Variable {
    /// What the variable holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The value used when none is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// Sampling parameters of a version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Params {
    /// Sampling temperature, 0 to 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Maximum number of tokens to generate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_limit: Option<u64>,
    /// Top-k sampling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u64>,
    /// Nucleus sampling, 0 < p ≤ 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
}

/// The attributes of a version, from its front matter.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PromptMeta {
    /// What the prompt is for, in one sentence.
    pub goal: Option<String>,
    /// The model it is meant for, e.g. `llama3.1:8b`.
    pub model: Option<String>,
    /// The provider API.
    pub provider: Option<Provider>,
    /// Sampling parameters.
    pub params: Params,
    /// When the version was written.
    pub created_at: Option<DateTime<FixedOffset>>,
    /// Free-form labels.
    pub tags: Vec<String>,
    /// Input variables, by name.
    pub variables: BTreeMap<String, Variable>,
    /// Longer free text about the version.
    pub description: Option<String>,
    /// Keys ptrack does not know, kept as they were written.
    pub extra: BTreeMap<String, Value>,
}

/// One version of a prompt: its file, attributes and text.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PromptVersion {
    /// The prompt's name (its folder under `prompts/`).
    pub name: String,
    /// The version (the file's stem).
    pub version: Version,
    /// The file, relative to the project root.
    pub path: PathBuf,
    /// How the file is written.
    pub format: SourceFormat,
    /// Attributes from the front matter.
    pub meta: PromptMeta,
    /// The prompt text.
    pub text: String,
    /// 1-based line where the text starts in the file.
    pub text_line: usize,
    /// The text's messages, when it is a chat prompt (its first non-blank line is a role line
    /// such as `system:`; see [`crate::chat`]); empty for a plain prompt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<crate::chat::MessageTemplate>,
    /// Eval cases the file itself holds (a GitHub Models file's `testData` and string
    /// `evaluators`), each an object of the `cases.jsonl` shape; used when the prompt has no
    /// `cases.jsonl`.
    #[serde(skip)]
    pub embedded_cases: Vec<Value>,
    /// Git blob id of the file's bytes (what `git hash-object` prints).
    pub blob_sha: String,
}

impl PromptVersion {
    /// Whether the text is a chat prompt of role messages.
    pub fn is_chat(&self) -> bool {
        !self.messages.is_empty()
    }
}

/// The result of parsing one file: the version when it is usable, and every problem found.
#[derive(Debug, Clone)]
pub struct ParseOutcome {
    /// The parsed version; `None` when the file has errors.
    pub version: Option<PromptVersion>,
    /// Errors and warnings, ordered by line.
    pub diagnostics: Vec<Diagnostic>,
}

/// Whether `name` is a valid prompt name: lower-case letters, digits, `_` and `-`,
/// starting with a letter or digit (so it can never escape `prompts/`).
///
/// ```
/// assert!(ptrack::is_valid_name("coaching_system"));
/// assert!(!ptrack::is_valid_name("../etc"));
/// assert!(!ptrack::is_valid_name("Coaching"));
/// ```
pub fn is_valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_lowercase() || b.is_ascii_digit() => {}
        _ => return false,
    }
    name.len() <= 100
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Git blob id of `bytes`, as `git hash-object` computes it: the SHA-1 of
/// `blob <length>\0` followed by the bytes.
pub fn blob_sha(bytes: &[u8]) -> String {
    use sha1::Digest;
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The closest known key to an unknown one, for "did you mean" hints.
pub(crate) fn suggest<'a>(unknown: &str, candidates: &[&'a str]) -> Option<&'a str> {
    // The edit distance costs length × length; no known key is near a long one.
    if unknown.len() > 64 {
        return None;
    }
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(unknown, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Parse one version file. `path` is used in diagnostics (relative to the project root),
/// `name` and `version` come from the path.
pub fn parse_prompt_file(path: &Path, name: &str, version: &Version, bytes: &[u8]) -> ParseOutcome {
    let mut p = Parser {
        path,
        diags: Vec::new(),
    };
    let result = match foreign::format_of(path) {
        Some(format) => p.parse_foreign(format, name, version, bytes),
        None => p.parse(name, version, bytes),
    };
    p.diags.sort_by_key(|d| d.line);
    ParseOutcome {
        version: result.filter(|_| !p.diags.iter().any(Diagnostic::is_error)),
        diagnostics: p.diags,
    }
}

/// The front matter of a version file as a JSON object, as ptrack reads it before checking
/// the keys (for `.toml` files the whole table; TOML dates become RFC 3339 text). This is what
/// the front matter JSON Schema (`ptrack schema front-matter`) describes. `None` when the
/// file is not UTF-8 or its front matter does not parse; the diagnostics say why.
pub fn front_matter_value(
    path: &Path,
    bytes: &[u8],
) -> (Option<serde_json::Map<String, Value>>, Vec<Diagnostic>) {
    let mut p = Parser {
        path,
        diags: Vec::new(),
    };
    let map = (|| {
        let text = std::str::from_utf8(bytes).ok()?;
        let sections = p.sections(text)?;
        p.parse_matter(&sections)
    })();
    (map.map(|m| m.into_iter().collect()), p.diags)
}

struct Parser<'a> {
    path: &'a Path,
    diags: Vec<Diagnostic>,
}

/// Front matter split from a file.
struct Sections<'t> {
    format: SourceFormat,
    /// The front matter text (for `.toml`, the whole file).
    matter: &'t str,
    /// 1-based line of the front matter's first line.
    matter_line: usize,
    /// The body (empty for `.toml`; the text is in `prompt`).
    body: &'t str,
    body_line: usize,
}

impl Parser<'_> {
    fn error(&mut self, line: Option<usize>, field: Option<&str>, msg: String) {
        let mut d = Diagnostic::error(self.path, line, msg);
        d.field = field.map(str::to_string);
        self.diags.push(d);
    }

    fn warn(&mut self, line: Option<usize>, field: Option<&str>, msg: String) {
        let mut d = Diagnostic::warning(self.path, line, msg);
        d.field = field.map(str::to_string);
        self.diags.push(d);
    }

    fn parse(&mut self, name: &str, version: &Version, bytes: &[u8]) -> Option<PromptVersion> {
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let line = bytes[..e.valid_up_to()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1;
                self.error(
                    Some(line),
                    None,
                    format!(
                        "file is not valid UTF-8 (bad byte at offset {}); save it as UTF-8",
                        e.valid_up_to()
                    ),
                );
                return None;
            }
        };
        let sections = self.sections(text)?;
        let table = self.parse_matter(&sections)?;
        let lines = KeyLines::new(sections.matter, sections.format);
        let key_line = |key: &str| lines.get(key).map(|l| l + sections.matter_line - 1);
        let mut meta = PromptMeta::default();
        let mut prompt_text: Option<(String, usize)> = None;
        let mut seen_token_key: Option<&str> = None;
        for (key, value) in &table {
            let line = key_line(key);
            let k = key.as_str();
            match k {
                "goal" => meta.goal = self.string(k, value, line),
                "model" => meta.model = self.string(k, value, line),
                "description" => meta.description = self.string(k, value, line),
                "provider" => match value.as_str() {
                    Some("ollama") => meta.provider = Some(Provider::Ollama),
                    Some("openai") => meta.provider = Some(Provider::Openai),
                    _ => self.error(
                        line,
                        Some(k),
                        format!("provider must be `ollama` or `openai`, got {}", show(value)),
                    ),
                },
                "temperature" => {
                    meta.params.temperature =
                        self.number_in(k, value, line, 0.0, 2.0, true, "between 0 and 2")
                }
                "top_p" => {
                    meta.params.top_p = self.number_in(
                        k,
                        value,
                        line,
                        0.0,
                        1.0,
                        false,
                        "greater than 0 and at most 1",
                    )
                }
                "token_limit" | "max_tokens" => {
                    if let Some(other) = seen_token_key {
                        self.error(
                            line,
                            Some(k),
                            format!("both `{other}` and `{k}` are set; `max_tokens` is an alias of `token_limit`, keep one"),
                        );
                    }
                    seen_token_key = Some(k);
                    meta.params.token_limit = self.positive_int(k, value, line);
                }
                "top_k" => meta.params.top_k = self.positive_int(k, value, line),
                "created_at" => meta.created_at = self.timestamp(k, value, line),
                "tags" => meta.tags = self.tags(value, line),
                "variables" => meta.variables = self.variables(value, line),
                "name" => {
                    if value.as_str() != Some(name) {
                        self.error(
                            line,
                            Some(k),
                            format!(
                                "name {} does not match the folder name `{name}`",
                                show(value)
                            ),
                        );
                    }
                }
                "version" => {
                    let stated = match value {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        other => show(other),
                    };
                    if stated != version.as_str() {
                        self.error(
                            line,
                            Some(k),
                            format!(
                                "version `{stated}` does not match the file name `{version}`{}",
                                // 1.10 written unquoted reads as the number 1.1: quoting fixes
                                // that, but not a different number.
                                if value.as_f64().is_some_and(|n| {
                                    version.as_str().parse::<f64>().is_ok_and(|f| f == n)
                                }) {
                                    " (quote it: version numbers are text)"
                                } else {
                                    ""
                                }
                            ),
                        );
                    }
                }
                k if CARRIED_KEYS.contains(&k) => {
                    meta.extra.insert(key.clone(), value.clone());
                }
                "prompt" if sections.format == SourceFormat::Toml => match value {
                    Value::String(s) => prompt_text = Some((s.clone(), line.unwrap_or(1))),
                    other => self.error(
                        line,
                        Some(k),
                        format!("prompt must be a string, got {}", show(other)),
                    ),
                },
                _ => {
                    let mut known: Vec<&str> = KNOWN_KEYS.to_vec();
                    if sections.format == SourceFormat::Toml {
                        known.push("prompt");
                    }
                    let hint = match suggest(k, &known) {
                        Some(s) => format!(", did you mean `{s}`?"),
                        None if k == "prompt" => {
                            ": in a .md file the prompt text is the body after the front matter"
                                .to_string()
                        }
                        None => " (kept, but ptrack does not use it)".to_string(),
                    };
                    self.warn(line, Some(k), format!("unknown key `{k}`{hint}"));
                    meta.extra.insert(key.clone(), value.clone());
                }
            }
        }
        let (text, text_line) = match sections.format {
            SourceFormat::Toml => match prompt_text {
                Some(t) => t,
                None => {
                    if !table.contains_key("prompt") {
                        self.error(
                            None,
                            Some("prompt"),
                            "missing `prompt`: a .toml version holds its text in prompt = \"\"\"…\"\"\"".to_string(),
                        );
                    }
                    return None;
                }
            },
            _ => (sections.body.to_string(), sections.body_line),
        };
        let mut messages = Vec::new();
        if text.trim().is_empty() {
            self.error(
                Some(text_line),
                Some("prompt"),
                "the prompt text is empty".to_string(),
            );
        } else {
            let (split, diags) = crate::chat::split(self.path, &text, text_line);
            messages = split.unwrap_or_default();
            self.diags.extend(diags);
        }
        Some(PromptVersion {
            name: name.to_string(),
            version: version.clone(),
            path: self.path.to_path_buf(),
            format: sections.format,
            meta,
            text,
            text_line,
            messages,
            embedded_cases: Vec::new(),
            blob_sha: blob_sha(bytes),
        })
    }

    /// The front matter and body of a file's text (a leading BOM skipped): a `.toml` version
    /// is all front matter.
    fn sections<'t>(&mut self, text: &'t str) -> Option<Sections<'t>> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if self.path.extension().is_some_and(|e| e == "toml") {
            return Some(Sections {
                format: SourceFormat::Toml,
                matter: text,
                matter_line: 1,
                body: "",
                body_line: 1,
            });
        }
        self.split_front_matter(text)
    }

    fn split_front_matter<'t>(&mut self, text: &'t str) -> Option<Sections<'t>> {
        let first_end = text.find('\n').map_or(text.len(), |i| i + 1);
        let first = text[..first_end].trim_end();
        let (format, fence) = match first {
            "---" => (SourceFormat::MarkdownYaml, "---"),
            "+++" => (SourceFormat::MarkdownToml, "+++"),
            _ => {
                self.warn(
                    Some(1),
                    None,
                    "no front matter: start the file with `---` lines holding goal, model and parameters".to_string(),
                );
                return Some(Sections {
                    format: SourceFormat::MarkdownYaml,
                    matter: "",
                    matter_line: 1,
                    body: text,
                    body_line: 1,
                });
            }
        };
        let mut offset = first_end;
        let mut line_no = 2;
        while offset < text.len() {
            let end = text[offset..]
                .find('\n')
                .map_or(text.len(), |i| offset + i + 1);
            let line = text[offset..end].trim_end();
            if line == fence || (fence == "---" && line == "...") {
                return Some(Sections {
                    format,
                    matter: &text[first_end..offset],
                    matter_line: 2,
                    body: &text[end..],
                    body_line: line_no + 1,
                });
            }
            offset = end;
            line_no += 1;
        }
        self.error(
            Some(1),
            None,
            format!("front matter opened with `{fence}` on line 1 is never closed: add a `{fence}` line after it"),
        );
        None
    }

    fn parse_matter(&mut self, s: &Sections<'_>) -> Option<BTreeMap<String, Value>> {
        match s.format {
            SourceFormat::MarkdownYaml
            | SourceFormat::Prompty
            | SourceFormat::Dotprompt
            | SourceFormat::GithubModels => {
                if s.matter.trim().is_empty() {
                    return Some(BTreeMap::new());
                }
                // The YAML parser takes time quadratic in the nesting depth of `[`/`{` (100,000
                // levels took over a minute), so deep nesting is refused before it parses.
                if let Some(line) = flow_too_deep(s.matter, MAX_NESTING) {
                    self.error(
                        Some(line + s.matter_line - 1),
                        None,
                        format!("invalid YAML front matter: `[` and `{{` nest more than {MAX_NESTING} levels deep"),
                    );
                    return None;
                }
                // The scan above can be misled about where quotes are; the parser's work is at
                // most brackets × bytes, so bounding that product caps it whatever the quotes.
                let openers = s
                    .matter
                    .bytes()
                    .filter(|b| matches!(b, b'[' | b'{'))
                    .count();
                let allowed = max_openers(s.matter.len());
                if openers > allowed {
                    self.error(
                        Some(s.matter_line),
                        None,
                        format!("invalid YAML front matter: {openers} `[` and `{{` in {} bytes are more than ptrack parses (at most {allowed} in a front matter this long)", s.matter.len()),
                    );
                    return None;
                }
                let yaml: serde_yaml::Value = match serde_yaml::from_str(s.matter) {
                    Ok(v) => v,
                    Err(e) => {
                        let msg = strip_location(&e.to_string());
                        // serde_yaml places a duplicate key at its mapping's start: point at
                        // the key's second occurrence instead.
                        // The parser's own line count takes a lone `\r` for a line break; count
                        // `\n` only, as every other line number ptrack prints does.
                        let line = duplicate_key_line(s.matter, &msg)
                            .or_else(|| {
                                e.location().map(|l| {
                                    let byte = s
                                        .matter
                                        .char_indices()
                                        .nth(l.index())
                                        .map_or(s.matter.len(), |(b, _)| b);
                                    s.matter[..byte].matches('\n').count() + 1
                                })
                            })
                            .map(|l| l + s.matter_line - 1);
                        self.error(line, None, format!("invalid YAML front matter: {msg}"));
                        return None;
                    }
                };
                match yaml {
                    serde_yaml::Value::Null => Some(BTreeMap::new()),
                    serde_yaml::Value::Mapping(map) => {
                        let mut out = BTreeMap::new();
                        let mut lines: Option<KeyLines<'_>> = None;
                        for (k, v) in map {
                            let Some(key) = k.as_str().map(str::to_string) else {
                                self.error(
                                    Some(s.matter_line),
                                    None,
                                    "front matter keys must be text".to_string(),
                                );
                                continue;
                            };
                            match serde_json::to_value(&v) {
                                Ok(j) => {
                                    out.insert(key, j);
                                }
                                Err(e) => {
                                    let line = lines
                                        .get_or_insert_with(|| KeyLines::new(s.matter, s.format))
                                        .get(&key)
                                        .map(|l| l + s.matter_line - 1);
                                    self.error(
                                        line,
                                        Some(&key),
                                        format!("unsupported YAML value for `{key}`: {e}"),
                                    );
                                }
                            }
                        }
                        Some(out)
                    }
                    _ => {
                        self.error(
                            Some(s.matter_line),
                            None,
                            "front matter must be a mapping of `key: value` lines".to_string(),
                        );
                        None
                    }
                }
            }
            SourceFormat::MarkdownToml | SourceFormat::Toml => {
                match s.matter.parse::<toml::Table>() {
                    Ok(t) => Some(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect()),
                    Err(e) => {
                        let line = e
                            .span()
                            .map(|sp| line_of_offset(s.matter, sp.start) + s.matter_line - 1);
                        let what = if s.format == SourceFormat::Toml {
                            "TOML"
                        } else {
                            "TOML front matter"
                        };
                        self.error(line, None, format!("invalid {what}: {}", e.message()));
                        None
                    }
                }
            }
        }
    }

    fn string(&mut self, key: &str, v: &Value, line: Option<usize>) -> Option<String> {
        match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
            Value::String(_) => {
                self.error(line, Some(key), format!("{key} is empty"));
                None
            }
            other => {
                self.error(
                    line,
                    Some(key),
                    format!("{key} must be text, got {}", show(other)),
                );
                None
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn number_in(
        &mut self,
        key: &str,
        v: &Value,
        line: Option<usize>,
        lo: f64,
        hi: f64,
        lo_inclusive: bool,
        range: &str,
    ) -> Option<f64> {
        let Some(x) = v.as_f64() else {
            self.error(
                line,
                Some(key),
                format!("{key} must be a number {range}, got {}", show(v)),
            );
            return None;
        };
        let ok = x.is_finite() && (if lo_inclusive { x >= lo } else { x > lo }) && x <= hi;
        if !ok {
            self.error(line, Some(key), format!("{key} must be {range}, got {x}"));
            return None;
        }
        Some(x)
    }

    fn positive_int(&mut self, key: &str, v: &Value, line: Option<usize>) -> Option<u64> {
        match v.as_u64() {
            Some(n) if n > 0 => Some(n),
            _ => {
                self.error(
                    line,
                    Some(key),
                    format!("{key} must be a positive integer, got {}", show(v)),
                );
                None
            }
        }
    }

    fn timestamp(
        &mut self,
        key: &str,
        v: &Value,
        line: Option<usize>,
    ) -> Option<DateTime<FixedOffset>> {
        let parsed = v
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok());
        if parsed.is_none() {
            self.error(
                line,
                Some(key),
                format!(
                    "{key} must be an RFC 3339 time such as 2026-11-02T09:30:00Z, got {}",
                    show(v)
                ),
            );
        }
        parsed
    }

    fn tags(&mut self, v: &Value, line: Option<usize>) -> Vec<String> {
        let items = match v {
            Value::Array(items) => items,
            other => {
                self.error(
                    line,
                    Some("tags"),
                    format!("tags must be a list of text, got {}", show(other)),
                );
                return Vec::new();
            }
        };
        let mut tags = Vec::new();
        for item in items {
            match item.as_str() {
                Some(s) => tags.push(s.to_string()),
                None => self.error(
                    line,
                    Some("tags"),
                    format!("each tag must be text, got {}", show(item)),
                ),
            }
        }
        tags
    }

    fn variables(&mut self, v: &Value, line: Option<usize>) -> BTreeMap<String, Variable> {
        let mut out = BTreeMap::new();
        let mut add = |p: &mut Self, name: &str, spec: &Value| {
            if !is_identifier(name) {
                p.error(
                    line,
                    Some("variables"),
                    format!("variable name `{name}` must be ASCII letters, digits and `_`, not starting with a digit"),
                );
                return;
            }
            let var = match spec {
                Value::Null => Variable::default(),
                // `user_name: there` could mean a default or a description: say how to write each.
                Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                    let shown = match spec {
                        Value::String(t) => t.clone(),
                        other => other.to_string(),
                    };
                    p.error(
                        line,
                        Some("variables"),
                        format!(
                            "variable `{name}` is given a bare value; write `{name}: {{default: {shown}}}` for a default or `{name}: {{description: {shown}}}` for a description"
                        ),
                    );
                    return;
                }
                Value::Object(m) => {
                    let mut var = Variable::default();
                    for (k, val) in m {
                        match k.as_str() {
                            "description" => var.description = val.as_str().map(str::to_string),
                            "default" => {
                                var.default = match val {
                                    Value::String(s) => Some(s.clone()),
                                    Value::Null => None,
                                    other => Some(other.to_string()),
                                }
                            }
                            "name" => {}
                            other => {
                                let hint = suggest(other, &["description", "default"])
                                    .map(|s| format!(", did you mean `{s}`?"))
                                    .unwrap_or_default();
                                p.warn(
                                    line,
                                    Some("variables"),
                                    format!("unknown key `{other}` in variable `{name}`{hint}"),
                                );
                            }
                        }
                    }
                    var
                }
                other => {
                    p.error(
                        line,
                        Some("variables"),
                        format!("variable `{name}` must have a description text or a table of description and default, got {}", show(other)),
                    );
                    return;
                }
            };
            out.insert(name.to_string(), var);
        };
        match v {
            Value::Object(m) => {
                for (name, spec) in m {
                    add(self, name, spec);
                }
            }
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::String(name) => add(self, name, &Value::Null),
                        Value::Object(m) => match m.get("name").and_then(Value::as_str) {
                            Some(name) => add(self, name, item),
                            None => self.error(
                                line,
                                Some("variables"),
                                "each variable in a list needs a `name`".to_string(),
                            ),
                        },
                        other => self.error(
                            line,
                            Some("variables"),
                            format!("variables must be names or tables, got {}", show(other)),
                        ),
                    }
                }
            }
            other => self.error(
                line,
                Some("variables"),
                format!(
                    "variables must be a table of name → {{description, default}}, got {}",
                    show(other)
                ),
            ),
        }
        out
    }
}

/// The 1-based line, within `matter`, of the first `key:` at the indentation of an earlier one,
/// when `msg` is serde_yaml's "duplicate entry with key \"key\"".
fn duplicate_key_line(matter: &str, msg: &str) -> Option<usize> {
    let rest = msg.split("duplicate entry with key \"").nth(1)?;
    let key = rest.split('"').next()?;
    let mut seen_at = Vec::new();
    for (i, line) in matter.lines().enumerate() {
        let body = line.trim_start();
        let indent = line.len() - body.len();
        let is_key = body
            .strip_prefix(key)
            .is_some_and(|r| r.trim_start().starts_with(':'));
        if is_key {
            if seen_at.contains(&indent) {
                return Some(i + 1);
            }
            seen_at.push(indent);
        }
    }
    None
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A short rendering of a value for error messages: `"hot"`, `7`, `a list`.
fn show(v: &Value) -> String {
    match v {
        Value::Null => "nothing".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a table".to_string(),
    }
}

/// serde_yaml appends " at line X column Y"; the diagnostic carries the line already.
fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn toml_to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

/// 1-based line (within `matter`) of top-level `key`, if it is written at the start of a line.
pub(crate) fn find_key_line(matter: &str, key: &str, format: SourceFormat) -> Option<usize> {
    let sep = if format == SourceFormat::MarkdownYaml {
        ':'
    } else {
        '='
    };
    matter
        .lines()
        .position(|line| {
            let rest = line
                .strip_prefix(key)
                .or_else(|| line.strip_prefix(&format!("\"{key}\"")))
                .or_else(|| line.strip_prefix(&format!("'{key}'")));
            rest.is_some_and(|r| r.trim_start().starts_with(sep))
        })
        .map(|i| i + 1)
}

/// How deep `[` and `{` may nest in a front matter; no real front matter comes near it.
pub const MAX_NESTING: usize = 64;

/// The bound on `[`/`{` count × front matter bytes: the YAML parser's work grows with their
/// product, and this much takes about 0.1 s.
const BRACKET_WORK: usize = 20_000_000;

/// How many `[` and `{` (quoted text included) a YAML front matter of `len` bytes may hold:
/// 10,000 in 2 KB, 20 in 1 MB, never fewer than [`MAX_NESTING`].
pub fn max_openers(len: usize) -> usize {
    (BRACKET_WORK / len.max(1)).max(MAX_NESTING)
}

/// The 1-based line where YAML flow collections (`[…]`, `{…}`) nest deeper than `limit`.
///
/// A cheap scan ahead of the parser: brackets in quoted scalars and comments do not count,
/// and outside a collection a bracket counts only where a value can start (after `:`, `-`,
/// `?` or at the start of a line), so `goal: use [x` is plain text.
fn flow_too_deep(matter: &str, limit: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut line = 1;
    let mut quote: Option<char> = None;
    // The last character, and the last one that is not a blank; '\n' at a line's start.
    let mut prev = '\n';
    let mut prev_solid = '\n';
    let mut chars = matter.chars();
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
        }
        match quote {
            Some('"') => {
                if c == '\\' {
                    if chars.next() == Some('\n') {
                        line += 1;
                    }
                } else if c == '"' {
                    quote = None;
                    prev_solid = c;
                }
                prev = c;
                continue;
            }
            // In single quotes `''` is a quote: closing and reopening at once is the same.
            Some(_) => {
                if c == '\'' {
                    quote = None;
                    prev_solid = c;
                }
                prev = c;
                continue;
            }
            None => {}
        }
        let value_start = depth > 0 || matches!(prev_solid, '\n' | ':' | '-' | '?');
        match c {
            '#' if matches!(prev, ' ' | '\t' | '\n') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
                prev = '\n';
                prev_solid = '\n';
                continue;
            }
            '"' | '\'' if value_start || prev_solid == ',' => quote = Some(c),
            '[' | '{' if value_start => {
                depth += 1;
                if depth > limit {
                    return Some(line);
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        prev = c;
        if c == '\n' {
            prev_solid = '\n';
        } else if !matches!(c, ' ' | '\t') {
            prev_solid = c;
        }
    }
    None
}

/// The line of every top-level key of a front matter, found in one pass, so looking up each
/// of N keys is not N scans of the text (20,000 unknown keys took 50 s that way).
struct KeyLines<'t> {
    first: std::collections::HashMap<&'t str, usize>,
}

/// How many separators of one line are tried as the end of a key: `a:b: c` is key `a:b`.
const SEPARATORS_PER_LINE: usize = 4;

impl<'t> KeyLines<'t> {
    /// Index `matter`: a line `key: …` (`key = …` in TOML), with the key bare or quoted, gives
    /// `key` its 1-based line, as [`find_key_line`] finds it.
    fn new(matter: &'t str, format: SourceFormat) -> KeyLines<'t> {
        let sep = if format == SourceFormat::MarkdownYaml {
            ':'
        } else {
            '='
        };
        let mut first = std::collections::HashMap::new();
        for (i, line) in matter.lines().enumerate() {
            let mut add = |key: &'t str| {
                first.entry(key).or_insert(i + 1);
            };
            // Quoted: `"key": …` or `'key': …`.
            for q in ['"', '\''] {
                if let Some(rest) = line.strip_prefix(q)
                    && let Some(end) = rest.find(q)
                    && rest[end + 1..].trim_start().starts_with(sep)
                {
                    add(&rest[..end]);
                }
            }
            // Bare: the text before a separator, blanks after the key allowed.
            for (at, _) in line.match_indices(sep).take(SEPARATORS_PER_LINE) {
                let key = line[..at].trim_end_matches([' ', '\t']);
                add(key);
            }
        }
        KeyLines { first }
    }

    fn get(&self, key: &str) -> Option<usize> {
        self.first.get(key).copied()
    }
}

/// Version `version` of prompt `name` parsed from `text` as `prompts/<name>/<version>.md`,
/// for unit tests of the modules that work on parsed versions.
#[cfg(test)]
pub(crate) fn test_version(name: &str, version: &str, text: &str) -> PromptVersion {
    let path = PathBuf::from(format!("prompts/{name}/{version}.md"));
    let v: Version = version.parse().expect("test version number");
    parse_prompt_file(&path, name, &v, text.as_bytes())
        .version
        .expect("valid test prompt")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(path: &str, content: &str) -> ParseOutcome {
        let p = Path::new(path);
        let version: Version = p
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse().ok())
            .expect("test path has a version stem");
        parse_prompt_file(p, "coach", &version, content.as_bytes())
    }

    fn messages(o: &ParseOutcome) -> Vec<String> {
        o.diagnostics.iter().map(ToString::to_string).collect()
    }

    const YAML: &str = "---\ngoal: Coach the user.\nmodel: llama3.1:8b\nprovider: ollama\ntemperature: 0.7\nmax_tokens: 512\ntop_k: 40\ntop_p: 0.9\ncreated_at: 2026-11-01T09:00:00Z\ntags: [coaching, chat]\nvariables:\n  user_message:\n    description: What the user wrote\n  user_name:\n    default: there\n---\nHello {{ user_name }}.\n{{ user_message }}\n";

    #[test]
    fn a_yaml_error_after_lone_carriage_returns_names_a_line_of_the_file() {
        // The YAML parser counts each lone `\r` as a line: 40 of them once put the error on
        // "line 43" of a 6-line file.
        let text = format!("---\ngoal: g{}\nx: [\n---\ntext\n", "\r".repeat(40));
        let o = parse("prompts/coach/1.0.md", &text);
        let d = o.diagnostics.first().expect("an error");
        let line = d.line.expect("a line");
        assert!(line <= text.lines().count(), "line {line}: {d}");
        assert!(d.to_string().contains("invalid YAML front matter"), "{d}");
    }

    #[test]
    fn parses_yaml_front_matter() {
        let o = parse("prompts/coach/1.0.md", YAML);
        assert_eq!(messages(&o), Vec::<String>::new());
        let v = o.version.expect("valid");
        assert_eq!(v.meta.goal.as_deref(), Some("Coach the user."));
        assert_eq!(v.meta.model.as_deref(), Some("llama3.1:8b"));
        assert_eq!(v.meta.provider, Some(Provider::Ollama));
        assert_eq!(v.meta.params.temperature, Some(0.7));
        assert_eq!(v.meta.params.token_limit, Some(512));
        assert_eq!(v.meta.params.top_k, Some(40));
        assert_eq!(v.meta.params.top_p, Some(0.9));
        assert_eq!(v.meta.tags, ["coaching", "chat"]);
        assert_eq!(
            v.meta.variables["user_name"].default.as_deref(),
            Some("there")
        );
        assert_eq!(
            v.meta.variables["user_message"].description.as_deref(),
            Some("What the user wrote")
        );
        assert_eq!(v.text, "Hello {{ user_name }}.\n{{ user_message }}\n");
        assert_eq!(v.text_line, 17);
        assert_eq!(v.format, SourceFormat::MarkdownYaml);
    }

    #[test]
    fn parses_toml_front_matter_and_toml_files() {
        let md = "+++\ngoal = \"Classify.\"\nmodel = \"llama3.1:8b\"\ntemperature = 0.0\ntoken_limit = 64\ncreated_at = 2026-11-01T09:00:00Z\n+++\nClassify {{ task }}\n";
        let o = parse("prompts/coach/1.0.md", md);
        assert_eq!(messages(&o), Vec::<String>::new());
        let v = o.version.expect("valid");
        assert_eq!(v.format, SourceFormat::MarkdownToml);
        assert_eq!(v.meta.params.token_limit, Some(64));
        assert!(v.meta.created_at.is_some());
        assert_eq!(v.text_line, 8);

        let toml = "goal = \"Classify.\"\nmodel = \"m\"\ntop_p = 1.0\nprompt = \"\"\"\nClassify {{ task }}\n\"\"\"\n";
        let o = parse("prompts/coach/2.0.toml", toml);
        assert_eq!(messages(&o), Vec::<String>::new());
        let v = o.version.expect("valid");
        assert_eq!(v.format, SourceFormat::Toml);
        assert_eq!(v.text, "Classify {{ task }}\n");
        assert_eq!(v.text_line, 4);
    }

    #[test]
    fn out_of_range_values_name_line_and_field() {
        let o = parse(
            "prompts/coach/1.1.md",
            "---\ngoal: g\nmodel: m\ntemperature: 7\ntop_p: 0\ntop_k: -3\ntoken_limit: many\n---\ntext\n",
        );
        assert!(o.version.is_none());
        assert_eq!(
            messages(&o),
            [
                "prompts/coach/1.1.md:4: temperature must be between 0 and 2, got 7",
                "prompts/coach/1.1.md:5: top_p must be greater than 0 and at most 1, got 0",
                "prompts/coach/1.1.md:6: top_k must be a positive integer, got -3",
                "prompts/coach/1.1.md:7: token_limit must be a positive integer, got \"many\"",
            ]
        );
        let fields: Vec<_> = o
            .diagnostics
            .iter()
            .map(|d| d.field.clone().unwrap_or_default())
            .collect();
        assert_eq!(fields, ["temperature", "top_p", "top_k", "token_limit"]);
    }

    #[test]
    fn unknown_key_is_a_warning_with_suggestion_and_is_kept() {
        let o = parse(
            "prompts/coach/1.0.md",
            "---\ngoal: g\ntemprature: 0.5\nowner: ana\n---\ntext\n",
        );
        let v = o.version.clone().expect("warnings do not invalidate");
        assert_eq!(
            messages(&o),
            [
                "prompts/coach/1.0.md:3: warning: unknown key `temprature`, did you mean `temperature`?",
                "prompts/coach/1.0.md:4: warning: unknown key `owner` (kept, but ptrack does not use it)",
            ]
        );
        assert_eq!(v.meta.extra["owner"], Value::String("ana".into()));
    }

    #[test]
    fn malformed_yaml_reports_its_line() {
        let o = parse(
            "prompts/coach/1.0.md",
            "---\ngoal: g\nmodel: [unclosed\n---\ntext\n",
        );
        assert!(o.version.is_none());
        let d = &o.diagnostics[0];
        assert!(d.message.starts_with("invalid YAML front matter"), "{d}");
        assert!(matches!(d.line, Some(3..=4)), "{d}");
    }

    #[test]
    fn a_duplicate_yaml_key_is_reported_at_the_duplicate() {
        let o = parse(
            "prompts/coach/1.0.md",
            "---\ngoal: g\nvariables:\n  model: {}\nmodel: a\ntags: []\nmodel: b\n---\ntext\n",
        );
        let d = &o.diagnostics[0];
        assert!(d.message.contains("duplicate entry with key"), "{d}");
        assert_eq!(d.line, Some(7), "{d}");
    }

    #[test]
    fn a_bare_variable_value_is_an_error_saying_how_to_write_it() {
        let o = parse(
            "prompts/coach/1.0.md",
            "---\nvariables:\n  user_name: there\n---\nHi {{ user_name }}\n",
        );
        assert!(o.version.is_none());
        assert_eq!(
            messages(&o),
            [
                "prompts/coach/1.0.md:2: variable `user_name` is given a bare value; write `user_name: {default: there}` for a default or `user_name: {description: there}` for a description"
            ]
        );
    }

    #[test]
    fn malformed_toml_reports_its_line() {
        let o = parse(
            "prompts/coach/1.0.toml",
            "goal = \"g\"\nmodel = \nprompt = \"x\"\n",
        );
        assert!(o.version.is_none());
        assert_eq!(o.diagnostics[0].line, Some(2), "{}", o.diagnostics[0]);
    }

    #[test]
    fn empty_body_unclosed_matter_and_non_utf8_are_errors() {
        let o = parse("prompts/coach/1.0.md", "---\ngoal: g\n---\n  \n");
        assert_eq!(
            messages(&o),
            ["prompts/coach/1.0.md:4: the prompt text is empty"]
        );
        let o = parse("prompts/coach/1.0.md", "---\ngoal: g\ntext\n");
        assert!(o.version.is_none());
        assert_eq!(o.diagnostics[0].line, Some(1));
        let p = Path::new("prompts/coach/1.0.md");
        let o = parse_prompt_file(
            p,
            "coach",
            &"1.0".parse().expect("v"),
            b"---\ngoal: g\n---\nbad \xff byte\n",
        );
        assert!(o.version.is_none());
        assert_eq!(o.diagnostics[0].line, Some(4));
        assert!(o.diagnostics[0].message.contains("UTF-8"));
    }

    #[test]
    fn stated_name_and_version_must_agree() {
        let o = parse(
            "prompts/coach/1.10.md",
            "---\nname: other\nversion: 1.1\n---\ntext\n",
        );
        assert_eq!(
            messages(&o),
            [
                "prompts/coach/1.10.md:2: name \"other\" does not match the folder name `coach`",
                "prompts/coach/1.10.md:3: version `1.1` does not match the file name `1.10` (quote it: version numbers are text)",
            ]
        );
        let o = parse(
            "prompts/coach/1.10.md",
            "---\nname: coach\nversion: \"1.10\"\n---\ntext\n",
        );
        assert!(o.version.is_some());
        // A different number: quoting would not help.
        let o = parse("prompts/coach/1.0.md", "---\nversion: 2.0\n---\ntext\n");
        assert_eq!(
            messages(&o),
            ["prompts/coach/1.0.md:2: version `2.0` does not match the file name `1.0`"]
        );
    }

    #[test]
    fn token_limit_and_alias_together_is_an_error() {
        let o = parse(
            "prompts/coach/1.0.md",
            "---\ntoken_limit: 5\nmax_tokens: 6\n---\ntext\n",
        );
        assert!(o.version.is_none());
        assert!(
            messages(&o)[0].contains("both `max_tokens` and `token_limit`"),
            "{:?}",
            messages(&o)
        );
    }

    #[test]
    fn key_lines_agree_with_find_key_line() {
        let yaml =
            "goal: g\n\"quoted\": 1\n'single' : 2\na:b: 3\nlate : 4\n  nested: 5\ngoal: again\n";
        let lines = KeyLines::new(yaml, SourceFormat::MarkdownYaml);
        for key in [
            "goal", "quoted", "single", "a", "a:b", "late", "nested", "none",
        ] {
            assert_eq!(
                lines.get(key),
                find_key_line(yaml, key, SourceFormat::MarkdownYaml),
                "{key}"
            );
        }
        let toml = "goal = \"g\"\n\"q k\" = 1\ndotted.key = 2\n";
        let lines = KeyLines::new(toml, SourceFormat::Toml);
        for key in ["goal", "q k", "dotted", "dotted.key"] {
            assert_eq!(
                lines.get(key),
                find_key_line(toml, key, SourceFormat::Toml),
                "{key}"
            );
        }
    }

    #[test]
    fn thousands_of_unknown_keys_each_get_their_own_line() {
        let keys: String = (0..20_000).map(|i| format!("k{i}: {i}\n")).collect();
        let o = parse("prompts/coach/1.0.md", &format!("---\n{keys}---\ntext\n"));
        assert_eq!(o.diagnostics.len(), 20_000);
        for (i, d) in o.diagnostics.iter().enumerate() {
            assert_eq!(d.line, Some(i + 2), "{d}");
            assert_eq!(d.field.as_deref(), Some(format!("k{i}").as_str()));
        }
    }

    #[test]
    fn thousands_of_unsupported_values_each_get_their_own_line() {
        let keys: String = (0..20_000).map(|i| format!("k{i}:\n  ~: a\n")).collect();
        let o = parse("prompts/coach/1.0.md", &format!("---\n{keys}---\ntext\n"));
        assert!(o.version.is_none());
        assert_eq!(o.diagnostics.len(), 20_000);
        for (i, d) in o.diagnostics.iter().enumerate() {
            assert_eq!(d.line, Some(2 * i + 2), "{d}");
            assert!(
                d.message
                    .starts_with(&format!("unsupported YAML value for `k{i}`")),
                "{d}"
            );
        }
    }

    #[test]
    fn deep_flow_nesting_is_an_error_with_its_line() {
        let deep = format!(
            "goal: g\ntags: {}{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let o = parse("prompts/coach/1.0.md", &format!("---\n{deep}---\ntext\n"));
        assert!(o.version.is_none());
        assert_eq!(
            messages(&o),
            [
                "prompts/coach/1.0.md:3: invalid YAML front matter: `[` and `{` nest more than 64 levels deep"
            ]
        );
        // Brackets in quotes, comments and plain text do not nest; 64 real levels are fine.
        let ok = format!(
            "goal: use [x and {{y\ndescription: \"{}\"\nnote: '{}'\n# {}\nv: {}1{}\n",
            "[".repeat(100),
            "{".repeat(100),
            "[".repeat(100),
            "[".repeat(MAX_NESTING),
            "]".repeat(MAX_NESTING)
        );
        let o = parse("prompts/coach/1.0.md", &format!("---\n{ok}---\ntext\n"));
        assert!(
            !messages(&o).iter().any(|m| m.contains("levels deep")),
            "{:?}",
            messages(&o)
        );
        // Closing brackets in quotes do not undo real levels.
        let tricky = format!("tags: {}\n", "[\"]\", ".repeat(100));
        let o = parse("prompts/coach/1.0.md", &format!("---\n{tricky}---\ntext\n"));
        assert!(
            messages(&o)[0].contains("nest more than 64 levels"),
            "{:?}",
            messages(&o)
        );
        // However the brackets are disguised, their number is bounded.
        // (`a- '` is plain text that the scan takes for the start of a quote.)
        let many = format!(
            "note: a- '\ntags: {}{}{}\n",
            "[".repeat(100),
            "a,".repeat(100_000),
            "]".repeat(100)
        );
        let o = parse("prompts/coach/1.0.md", &format!("---\n{many}---\ntext\n"));
        assert_eq!(
            messages(&o),
            [
                "prompts/coach/1.0.md:2: invalid YAML front matter: 100 `[` and `{` in 200218 bytes are more than ptrack parses (at most 99 in a front matter this long)"
            ]
        );
        assert_eq!(max_openers(2_000), 10_000);
        assert_eq!(max_openers(1 << 20), MAX_NESTING);
    }

    #[test]
    fn blob_sha_matches_git_hash_object() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            blob_sha(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }

    #[test]
    fn names_are_safe() {
        for ok in ["a", "coaching_system", "task-2", "9lives"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "..", "../x", "a/b", "A", "_x", "-x", "a b", "a.b", "é"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }
}
