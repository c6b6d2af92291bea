//! Writing a new version file: from the template (compiled in, or the project's own in
//! `templates/`), or as a copy of an existing version with some front matter keys changed, kept
//! as written otherwise (YAML by lines, TOML through `toml_edit`). What would be written is
//! parsed first with the same validator as every reader; nothing invalid is written, and an
//! existing version is never overwritten. [`Project::ask_new_version`] is the dialog that asks
//! for the attributes, over any reader and writer.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::project::{LookupError, Project, check_name};
use crate::prompt::{Provider, parse_prompt_file};
use crate::templates;
use crate::version::Version;

/// The file format of a new prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Markdown with YAML front matter.
    Md,
    /// A `.toml` file.
    Toml,
}

impl FileFormat {
    /// The file extension.
    pub fn ext(self) -> &'static str {
        match self {
            FileFormat::Md => "md",
            FileFormat::Toml => "toml",
        }
    }

    fn of(path: &Path) -> FileFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => FileFormat::Toml,
            _ => FileFormat::Md,
        }
    }
}

impl std::str::FromStr for FileFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "md" => Ok(FileFormat::Md),
            "toml" => Ok(FileFormat::Toml),
            other => Err(format!("unknown format `{other}` (md, toml)")),
        }
    }
}

/// What the new version holds; keys left None come from the template or the copied version.
#[derive(Debug, Clone, Default)]
pub struct NewVersion {
    /// The prompt's name.
    pub name: String,
    /// The version (default: 1.0 for a new prompt, else the next free minor version).
    pub version: Option<Version>,
    /// Copy this version instead of the template.
    pub from: Option<Version>,
    /// File format of a new prompt (default: `[defaults] format`, else md).
    pub format: Option<FileFormat>,
    /// What the prompt is for.
    pub goal: Option<String>,
    /// The model.
    pub model: Option<String>,
    /// The provider API.
    pub provider: Option<Provider>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Token limit.
    pub token_limit: Option<u64>,
    /// Top-k.
    pub top_k: Option<u64>,
    /// Top-p.
    pub top_p: Option<f64>,
    /// Tags (replacing the copied version's).
    pub tags: Option<Vec<String>>,
    /// The prompt text, replacing the template's or the copied version's (`.md` files only).
    pub text: Option<String>,
    /// More front matter keys with string values, set on a copy (`proposed_from`, …).
    pub front: Vec<(String, String)>,
}

/// The version that was written.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Created {
    /// The prompt.
    pub name: String,
    /// The new version.
    pub version: String,
    /// The file, relative to the project root.
    pub path: PathBuf,
    /// The version it was copied from.
    pub from: Option<String>,
    /// The prompt's latest version before this one, when it had one.
    #[serde(skip)]
    pub latest_before: Option<Version>,
}

/// Why no version was written.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The name is invalid, or `from` names a version that does not exist.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// `from` was given for a prompt that does not exist.
    #[error("--from needs an existing prompt, and there is no prompt named `{0}`")]
    NoPromptToCopy(String),
    /// The prompt's folder has only invalid files, so the next version number is unclear.
    #[error("prompts/{0}/ has invalid version files, so the next version is unclear")]
    NextVersionUnclear(String),
    /// A copy keeps its source's format.
    #[error("--format {format} differs from {}; --from copies the file as it is", path.display())]
    FormatDiffers {
        /// The format asked for.
        format: &'static str,
        /// The source file.
        path: PathBuf,
    },
    /// The version exists already.
    #[error("{} already exists; ptrack never overwrites a version", path.display())]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
    /// What would be written does not pass the validator.
    #[error("the new version would be invalid: {}", .0.join("; "))]
    Invalid(Vec<String>),
    /// A template could not be read or rendered.
    #[error("cannot {action} templates/{name}: {message}")]
    Template {
        /// `read` or `render`.
        action: &'static str,
        /// The template's file name.
        name: &'static str,
        /// Why.
        message: String,
    },
    /// The dialog's input ended before every answer was given.
    #[error("no answer for {0}; nothing was written")]
    NoAnswer(&'static str),
    /// The dialog could not read an answer or write a question.
    #[error("cannot ask: {0}")]
    Dialog(#[source] std::io::Error),
    /// A file or folder could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl Project {
    /// Write a new version file; `now` is its `created_at`.
    pub fn create(&self, new: &NewVersion, now: DateTime<Utc>) -> Result<Created, CreateError> {
        check_name(&new.name)?;
        let name = new.name.as_str();
        let registry = self.load_prompts();
        let existing = registry.get(name);
        let source = match (&new.from, existing) {
            (Some(from), Some(p)) => Some(p.resolve(Some(from))?),
            (Some(_), None) => return Err(CreateError::NoPromptToCopy(name.to_string())),
            (None, _) => None,
        };
        let version: Version = match &new.version {
            Some(v) => v.clone(),
            // After the highest version file, valid or not.
            None => match existing.and_then(|p| p.all_versions().last().cloned()) {
                Some(latest) => latest.next_minor(),
                None if registry.has_invalid_files(name) => {
                    return Err(CreateError::NextVersionUnclear(name.to_string()));
                }
                None => Version::first(),
            },
        };
        let format = match (&source, new.format) {
            (Some(s), Some(f)) if f != FileFormat::of(&s.path) => {
                return Err(CreateError::FormatDiffers {
                    format: f.ext(),
                    path: s.path.clone(),
                });
            }
            (Some(s), _) => FileFormat::of(&s.path),
            (None, Some(f)) => f,
            (None, None) => self
                .config()
                .defaults
                .format
                .as_deref()
                .and_then(|f| f.parse().ok())
                .unwrap_or(FileFormat::Md),
        };
        for f in [FileFormat::Md, FileFormat::Toml] {
            if self.version_path(name, &version, f.ext()).exists() {
                return Err(CreateError::Exists {
                    path: PathBuf::from("prompts")
                        .join(name)
                        .join(format!("{version}.{}", f.ext())),
                });
            }
        }
        let created_at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let text = match source {
            Some(src) => self.copy_text(src, format, new, &created_at)?,
            None => render_template(self.root(), format, new, &created_at)?,
        };
        let rel = PathBuf::from("prompts")
            .join(name)
            .join(format!("{version}.{}", format.ext()));
        let text = match &new.text {
            Some(body) => replace_text(&rel, name, &version, format, &text, body)?,
            None => text,
        };
        let outcome = parse_prompt_file(&rel, name, &version, text.as_bytes());
        let errors: Vec<String> = outcome
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.message.clone())
            .collect();
        if !errors.is_empty() {
            return Err(CreateError::Invalid(errors));
        }
        let io = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| CreateError::Io {
                action,
                path,
                source,
            }
        };
        // The folders are checked one by one: a `prompts/<name>` link out of the project is
        // refused, and the file is never written through a link.
        let mut f =
            crate::safe_fs::create_new_inside(self.root(), &rel).map_err(|source| match source
                .kind()
            {
                std::io::ErrorKind::AlreadyExists => CreateError::Exists { path: rel.clone() },
                _ => io("create", &rel)(source),
            })?;
        f.write_all(text.as_bytes()).map_err(io("write", &rel))?;
        Ok(Created {
            name: name.to_string(),
            version: version.to_string(),
            path: rel,
            from: new.from.as_ref().map(ToString::to_string),
            latest_before: existing.and_then(|p| p.latest()).map(|v| v.version.clone()),
        })
    }

    fn copy_text(
        &self,
        src: &crate::prompt::PromptVersion,
        format: FileFormat,
        new: &NewVersion,
        created_at: &str,
    ) -> Result<String, CreateError> {
        // A version in another tool's format is copied as ptrack's own.
        let mut text = if src.format.is_foreign() {
            crate::prompt::to_ptrack_text(src)
        } else {
            let bytes = crate::safe_fs::read_inside(
                self.root(),
                &src.path,
                self.config().limits.prompt_bytes(),
                crate::project::PROMPT_LIMIT_WHAT,
            )
            .map_err(|source| CreateError::Io {
                action: "read",
                path: src.path.clone(),
                source,
            })?;
            String::from_utf8_lossy(&bytes).into_owned()
        };
        let yaml = format == FileFormat::Md && text.starts_with("---");
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
        set("goal", q(&new.goal));
        set("model", q(&new.model));
        set("provider", new.provider.map(|p| quote(p.as_str(), yaml)));
        set("temperature", new.temperature.map(|x| x.to_string()));
        set("token_limit", new.token_limit.map(|x| x.to_string()));
        set("top_k", new.top_k.map(|x| x.to_string()));
        set("top_p", new.top_p.map(|x| x.to_string()));
        set("tags", new.tags.as_deref().map(|t| tags_literal(t, yaml)));
        for (key, value) in &new.front {
            set(key, Some(quote(value, yaml)));
        }
        set(
            "created_at",
            Some(if yaml {
                created_at.to_string()
            } else {
                quote(created_at, false)
            }),
        );
        match failed {
            Some(e) => Err(CreateError::Invalid(vec![e])),
            None => Ok(text),
        }
    }
}

/// One attribute the dialog asks for.
#[derive(Clone, Copy)]
enum Ask {
    Goal,
    Model,
    Temperature,
    TokenLimit,
    TopK,
    TopP,
    Tags,
}

impl Ask {
    const ALL: [Ask; 7] = [
        Ask::Goal,
        Ask::Model,
        Ask::Temperature,
        Ask::TokenLimit,
        Ask::TopK,
        Ask::TopP,
        Ask::Tags,
    ];

    /// The front matter key, which names the attribute in questions and errors.
    fn key(self) -> &'static str {
        match self {
            Ask::Goal => "goal",
            Ask::Model => "model",
            Ask::Temperature => "temperature",
            Ask::TokenLimit => "token_limit",
            Ask::TopK => "top_k",
            Ask::TopP => "top_p",
            Ask::Tags => "tags",
        }
    }

    /// What a question says after the key.
    fn hint(self) -> &'static str {
        match self {
            Ask::Goal => " (one sentence)",
            Ask::Model => " (e.g. llama3.1:8b)",
            Ask::Temperature => " (0 to 2)",
            Ask::TokenLimit => " (maximum tokens to generate)",
            Ask::TopK => "",
            Ask::TopP => " (0 < p <= 1)",
            Ask::Tags => " (comma-separated)",
        }
    }

    /// The value `new` was given, as a YAML literal.
    fn given_literal(self, new: &NewVersion) -> Option<String> {
        match self {
            Ask::Goal => new.goal.as_deref().map(|g| quote(g, true)),
            Ask::Model => new.model.as_deref().map(|m| quote(m, true)),
            Ask::Temperature => new.temperature.map(|x| x.to_string()),
            Ask::TokenLimit => new.token_limit.map(|x| x.to_string()),
            Ask::TopK => new.top_k.map(|x| x.to_string()),
            Ask::TopP => new.top_p.map(|x| x.to_string()),
            Ask::Tags => new.tags.as_deref().map(|t| tags_literal(t, true)),
        }
    }

    /// The value `meta` has, as the question shows it; None when it has none.
    fn shown(self, meta: &crate::prompt::PromptMeta) -> Option<String> {
        let p = &meta.params;
        match self {
            Ask::Goal => meta.goal.clone(),
            Ask::Model => meta.model.clone(),
            Ask::Temperature => p.temperature.map(|x| x.to_string()),
            Ask::TokenLimit => p.token_limit.map(|x| x.to_string()),
            Ask::TopK => p.top_k.map(|x| x.to_string()),
            Ask::TopP => p.top_p.map(|x| x.to_string()),
            Ask::Tags => (!meta.tags.is_empty()).then(|| meta.tags.join(", ")),
        }
    }

    /// Check `answer` with the validator every reader uses, and store it in `new`.
    fn set(self, new: &mut NewVersion, answer: &str) -> Result<(), String> {
        let key = self.key();
        let number = |what: &str| format!("{key} must be {what}, got {answer}");
        let literal = match self {
            Ask::Goal | Ask::Model => quote(answer, true),
            Ask::Temperature | Ask::TopP => answer
                .parse::<f64>()
                .map_err(|_| number("a number"))?
                .to_string(),
            Ask::TokenLimit | Ask::TopK => answer
                .parse::<u64>()
                .map_err(|_| number("a positive integer"))?
                .to_string(),
            Ask::Tags => tags_literal(&split_tags(answer), true),
        };
        check_value(key, &literal)?;
        // The literal passed the validator, so it parses as the key's type.
        match self {
            Ask::Goal => new.goal = Some(answer.to_string()),
            Ask::Model => new.model = Some(answer.to_string()),
            Ask::Temperature => new.temperature = literal.parse().ok(),
            Ask::TokenLimit => new.token_limit = literal.parse().ok(),
            Ask::TopK => new.top_k = literal.parse().ok(),
            Ask::TopP => new.top_p = literal.parse().ok(),
            Ask::Tags => new.tags = Some(split_tags(answer)),
        }
        Ok(())
    }
}

/// Tags typed as `a, b`: trimmed, empty ones dropped.
fn split_tags(answer: &str) -> Vec<String> {
    answer
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// The validator's error about front matter `key: literal`, if any.
fn check_value(key: &str, literal: &str) -> Result<(), String> {
    let text = format!("---\n{key}: {literal}\n---\ntext\n");
    let outcome = parse_prompt_file(
        Path::new("answer.md"),
        "answer",
        &Version::first(),
        text.as_bytes(),
    );
    match outcome
        .diagnostics
        .into_iter()
        .find(|d| d.is_error() && d.field.as_deref() == Some(key))
    {
        Some(d) => Err(d.message),
        None => Ok(()),
    }
}

/// Ask on `out`, read the answer from `input`: the trimmed line, or None at the end of input.
fn ask_line(
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    question: &str,
) -> Result<Option<String>, CreateError> {
    write!(out, "{question}: ").map_err(CreateError::Dialog)?;
    out.flush().map_err(CreateError::Dialog)?;
    let mut line = String::new();
    if input.read_line(&mut line).map_err(CreateError::Dialog)? == 0 {
        writeln!(out).map_err(CreateError::Dialog)?;
        return Ok(None);
    }
    Ok(Some(line.trim().to_string()))
}

impl Project {
    /// The dialog of an interactive `create`: ask on `out` for each attribute `given` leaves
    /// open (the name, goal, model, temperature, token limit, top-k, top-p and tags), reading
    /// answers line by line from `input`. Each question shows its default, which an empty
    /// answer keeps; an invalid answer is reported and asked again. For an existing prompt the
    /// defaults are the values of its latest version (or of `given.from`), which the new
    /// version copies; for a new prompt they are `[defaults]` of `ptrack.toml`, and a goal and
    /// a model are needed. Returns what to pass to [`Project::create`].
    pub fn ask_new_version(
        &self,
        given: &NewVersion,
        input: &mut dyn BufRead,
        out: &mut dyn Write,
    ) -> Result<NewVersion, CreateError> {
        let mut new = given.clone();
        // A value given as a flag is not asked for; an invalid one stops before any question.
        let invalid: Vec<String> = Ask::ALL
            .iter()
            .filter_map(|a| check_value(a.key(), &a.given_literal(&new)?).err())
            .collect();
        if !invalid.is_empty() {
            return Err(CreateError::Invalid(invalid));
        }
        let say =
            |out: &mut dyn Write, text: &str| writeln!(out, "{text}").map_err(CreateError::Dialog);
        if new.name.is_empty() {
            loop {
                let Some(answer) =
                    ask_line(input, out, "name (lower-case letters, digits, _ and -)")?
                else {
                    return Err(CreateError::NoAnswer("name"));
                };
                if answer.is_empty() {
                    say(out, "error: a name is needed")?;
                    continue;
                }
                match check_name(&answer) {
                    Ok(()) => {
                        new.name = answer;
                        break;
                    }
                    Err(e) => say(out, &format!("error: {e}"))?,
                }
            }
        } else {
            check_name(&new.name)?;
        }
        let registry = self.load_prompts();
        let source = match (&new.from, registry.get(&new.name)) {
            (from, Some(p)) => Some(p.resolve(from.as_ref())?),
            (Some(_), None) => return Err(CreateError::NoPromptToCopy(new.name.clone())),
            (None, None) => None,
        };
        let defaults = match source {
            Some(src) => {
                new.from = Some(src.version.clone());
                say(
                    out,
                    &format!(
                        "starting from {} (its text is copied; Enter keeps the value in brackets)",
                        src.path.display()
                    ),
                )?;
                src.meta.clone()
            }
            None => {
                let config = &self.config().defaults;
                if new.provider.is_none() {
                    new.provider = config.provider;
                }
                say(
                    out,
                    "a new prompt from the template (Enter keeps the value in brackets)",
                )?;
                crate::prompt::PromptMeta {
                    model: config.model.clone(),
                    ..Default::default()
                }
            }
        };
        for ask in Ask::ALL {
            if ask.given_literal(&new).is_some() {
                continue;
            }
            let default = ask.shown(&defaults);
            let required = source.is_none() && matches!(ask, Ask::Goal | Ask::Model);
            let question = match &default {
                Some(d) => format!("{}{} [{d}]", ask.key(), ask.hint()),
                None if required => format!("{}{}", ask.key(), ask.hint()),
                None => format!("{}{} [none]", ask.key(), ask.hint()),
            };
            loop {
                let Some(answer) = ask_line(input, out, &question)? else {
                    return Err(CreateError::NoAnswer(ask.key()));
                };
                let answer = match (answer.is_empty(), &default) {
                    // A copy keeps its values as written; a new file gets the default.
                    (true, Some(_)) if source.is_some() => break,
                    (true, Some(d)) => d.clone(),
                    (true, None) if required => {
                        say(out, &format!("error: a {} is needed", ask.key()))?;
                        continue;
                    }
                    (true, None) => break,
                    (false, Some(d)) if source.is_some() && answer == *d => break,
                    (false, _) => answer,
                };
                match ask.set(&mut new, &answer) {
                    Ok(()) => break,
                    Err(e) => say(out, &format!("error: {e}"))?,
                }
            }
        }
        Ok(new)
    }
}

fn render_template(
    root: &Path,
    format: FileFormat,
    new: &NewVersion,
    created_at: &str,
) -> Result<String, CreateError> {
    let yaml = format == FileFormat::Md;
    let t = if yaml {
        templates::PROMPT_MD
    } else {
        templates::PROMPT_TOML
    };
    let source = t.load(root).map_err(|e| CreateError::Template {
        action: "read",
        name: t.name,
        message: e.to_string(),
    })?;
    let q = |s: &Option<String>| s.as_ref().map(|s| quote(s, yaml));
    let ctx = minijinja::context! {
        goal => q(&new.goal),
        model => q(&new.model),
        provider => new.provider.map(|p| quote(p.as_str(), yaml)),
        temperature => new.temperature,
        token_limit => new.token_limit,
        top_k => new.top_k,
        top_p => new.top_p,
        created_at => if yaml { created_at.to_string() } else { quote(created_at, false) },
        schema => templates::front_matter_schema_hint(root),
    };
    // The template may come from a cloned project: bound its work like a prompt's.
    let mut env = minijinja::Environment::new();
    env.set_fuel(Some(crate::render::RENDER_FUEL));
    let mut text = env
        .render_str(&source, ctx)
        .map_err(|e| CreateError::Template {
            action: "render",
            name: t.name,
            message: e.to_string(),
        })?;
    // minijinja drops the template's final newline; files end with one.
    if !text.ends_with('\n') {
        text.push('\n');
    }
    // Tags are set in the rendered file, so templates written before tags could be asked for
    // get them too.
    if let Some(tags) = &new.tags {
        text = set_key(&text, yaml, "tags", &tags_literal(tags, yaml))
            .map_err(|e| CreateError::Invalid(vec![e]))?;
    }
    Ok(text)
}

/// `file` (a version file's whole text) with its prompt text, after the front matter, replaced
/// by `body`. Only a Markdown file's text can be replaced: a `.toml` file's text is a string
/// in it.
fn replace_text(
    rel: &Path,
    name: &str,
    version: &Version,
    format: FileFormat,
    file: &str,
    body: &str,
) -> Result<String, CreateError> {
    if format == FileFormat::Toml {
        return Err(CreateError::Invalid(vec![
            "a new version's text can be given for a .md file only".to_string(),
        ]));
    }
    // Where the text starts, as every reader finds it; a file that does not parse is left as
    // it is, for the validator to report.
    let Some(parsed) = parse_prompt_file(rel, name, version, file.as_bytes()).version else {
        return Ok(file.to_string());
    };
    let mut out: String = file
        .split_inclusive('\n')
        .take(parsed.text_line.saturating_sub(1))
        .collect();
    out.push_str(body);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

/// Tags as a YAML flow sequence or a TOML array.
fn tags_literal(tags: &[String], yaml: bool) -> String {
    let items: Vec<String> = tags.iter().map(|t| quote(t, yaml)).collect();
    format!("[{}]", items.join(", "))
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

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .expect("now")
            .with_timezone(&Utc)
    }

    /// Run the dialog on `input`; what it wrote, and its result.
    fn dialog(
        project: &Project,
        given: &NewVersion,
        input: &str,
    ) -> (String, Result<NewVersion, CreateError>) {
        let mut out = Vec::new();
        let result = project.ask_new_version(given, &mut input.as_bytes(), &mut out);
        (String::from_utf8(out).expect("utf-8"), result)
    }

    #[test]
    fn the_dialog_asks_for_each_attribute_and_re_asks_an_invalid_answer_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let project = Project::open(dir.path()).expect("open");
        let input =
            "Summ Arize\nsumm\n\nSummarize a text\n\nm1\n7\n0.3\nabc\n\n\n1.5\n0.9\nnews, short\n";
        let (out, result) = dialog(&project, &NewVersion::default(), input);
        let new = result.expect("answered");
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            [
                "name (lower-case letters, digits, _ and -): error: invalid prompt name `Summ Arize`",
                "name (lower-case letters, digits, _ and -): a new prompt from the template (Enter keeps the value in brackets)",
                "goal (one sentence): error: a goal is needed",
                "goal (one sentence): model (e.g. llama3.1:8b): error: a model is needed",
                "model (e.g. llama3.1:8b): temperature (0 to 2) [none]: error: temperature must be between 0 and 2, got 7",
                "temperature (0 to 2) [none]: token_limit (maximum tokens to generate) [none]: error: token_limit must be a positive integer, got abc",
                "token_limit (maximum tokens to generate) [none]: top_k [none]: top_p (0 < p <= 1) [none]: error: top_p must be greater than 0 and at most 1, got 1.5",
                "top_p (0 < p <= 1) [none]: tags (comma-separated) [none]: ",
            ]
        );
        assert_eq!(new.name, "summ");
        assert_eq!(new.from, None);
        assert_eq!(
            (new.goal.as_deref(), new.model.as_deref()),
            (Some("Summarize a text"), Some("m1"))
        );
        assert_eq!(
            (new.temperature, new.token_limit, new.top_k, new.top_p),
            (Some(0.3), None, None, Some(0.9))
        );
        assert_eq!(
            new.tags,
            Some(vec!["news".to_string(), "short".to_string()])
        );
        let created = project.create(&new, now()).expect("created");
        let v = project
            .load_prompts()
            .resolve("summ", None)
            .expect("valid")
            .clone();
        assert_eq!(created.version, "1.0");
        assert_eq!(v.meta.tags, ["news", "short"]);
        assert_eq!(v.meta.params.top_p, Some(0.9));
    }

    #[test]
    fn the_dialog_starts_from_the_latest_version_of_an_existing_prompt() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("ptrack.toml"),
            "[defaults]\nmodel = \"from-config\"\n",
        )
        .expect("config");
        let project = Project::open(dir.path()).expect("open");
        std::fs::create_dir_all(dir.path().join("prompts/sum")).expect("mkdir");
        std::fs::write(
            dir.path().join("prompts/sum/1.0.md"),
            "---\ngoal: old\nmodel: m0\n---\nold text\n",
        )
        .expect("1.0");
        std::fs::write(
            dir.path().join("prompts/sum/1.1.md"),
            "---\ngoal: Sum up\nmodel: m1\ntemperature: 0.7\ntags: [a, b]\n---\nlatest text {{ x }}\n",
        )
        .expect("1.1");
        let given = NewVersion {
            name: "sum".into(),
            top_k: Some(5),
            ..NewVersion::default()
        };
        // Enter keeps goal and model; temperature changes; token_limit and top_p stay unset;
        // the same tags count as kept.
        let (out, result) = dialog(&project, &given, "\n\n0.2\n\n\na, b\n");
        let new = result.expect("answered");
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            [
                "starting from prompts/sum/1.1.md (its text is copied; Enter keeps the value in brackets)",
                "goal (one sentence) [Sum up]: model (e.g. llama3.1:8b) [m1]: temperature (0 to 2) [0.7]: token_limit (maximum tokens to generate) [none]: top_p (0 < p <= 1) [none]: tags (comma-separated) [a, b]: ",
            ],
            "top_k was given, so it is not asked"
        );
        assert_eq!(new.from, Some("1.1".parse().expect("v")));
        assert_eq!(
            (
                new.goal.clone(),
                new.model.clone(),
                new.temperature,
                new.top_k,
                new.tags.clone()
            ),
            (None, None, Some(0.2), Some(5), None),
            "kept values stay as the copy writes them"
        );
        let created = project.create(&new, now()).expect("created");
        assert_eq!(
            (created.version.as_str(), created.from.as_deref()),
            ("1.2", Some("1.1"))
        );
        let text = std::fs::read_to_string(dir.path().join("prompts/sum/1.2.md")).expect("read");
        assert_eq!(
            text,
            "---\ngoal: Sum up\nmodel: m1\ntemperature: 0.2\ntags: [a, b]\ntop_k: 5\ncreated_at: 2026-11-24T12:00:00Z\n---\nlatest text {{ x }}\n"
        );
    }

    #[test]
    fn the_dialog_stops_at_the_end_of_input_and_on_an_invalid_flag() {
        let dir = tempfile::tempdir().expect("tempdir");
        let project = Project::open(dir.path()).expect("open");
        let (_, result) = dialog(&project, &NewVersion::default(), "sum\nSum up\n");
        assert!(
            matches!(result, Err(CreateError::NoAnswer("model"))),
            "{result:?}"
        );
        let given = NewVersion {
            temperature: Some(7.0),
            ..NewVersion::default()
        };
        let (out, result) = dialog(&project, &given, "sum\n");
        assert_eq!(out, "", "nothing is asked");
        assert!(result.is_err_and(|e| {
            e.to_string()
                .contains("temperature must be between 0 and 2")
        }),);
        let given = NewVersion {
            name: "Sum".into(),
            ..NewVersion::default()
        };
        let (out, result) = dialog(&project, &given, "");
        assert_eq!(out, "");
        assert!(matches!(result, Err(CreateError::Lookup(_))), "{result:?}");
    }

    #[test]
    fn a_given_text_replaces_the_template_text_and_a_copy_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let project = Project::open(dir.path()).expect("open");
        let new = NewVersion {
            name: "sum".into(),
            goal: Some("Sum up".into()),
            model: Some("m".into()),
            text: Some("Sum up {{ input }} in one line".into()),
            ..NewVersion::default()
        };
        project.create(&new, now()).expect("first");
        let copy = NewVersion {
            name: "sum".into(),
            from: Some("1.0".parse().expect("v")),
            text: Some("Two lines:\n{{ input }}\n".into()),
            ..NewVersion::default()
        };
        project.create(&copy, now()).expect("copy");
        let registry = project.load_prompts();
        let first = registry
            .resolve("sum", Some(&"1.0".parse().expect("v")))
            .expect("1.0");
        assert_eq!(first.text, "Sum up {{ input }} in one line\n");
        assert_eq!(first.meta.goal.as_deref(), Some("Sum up"));
        let second = registry.resolve("sum", None).expect("1.1");
        assert_eq!(second.text, "Two lines:\n{{ input }}\n");
        assert_eq!(second.meta.model.as_deref(), Some("m"));
        let toml = NewVersion {
            name: "other".into(),
            format: Some(FileFormat::Toml),
            ..new.clone()
        };
        let err = project.create(&toml, now()).expect_err("toml");
        assert_eq!(
            err.to_string(),
            "the new version would be invalid: a new version's text can be given for a .md file only"
        );
    }

    #[test]
    fn versions_number_themselves_and_nothing_invalid_or_existing_is_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let project = Project::open(dir.path()).expect("open");
        let now = DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .expect("now")
            .with_timezone(&Utc);
        let new = NewVersion {
            name: "sum".into(),
            goal: Some("Sum up: it's \"short\"".into()),
            model: Some("m".into()),
            ..NewVersion::default()
        };
        let first = project.create(&new, now).expect("first");
        assert_eq!(
            (first.version.as_str(), first.latest_before.clone()),
            ("1.0", None)
        );
        let second = project.create(&new, now).expect("second");
        assert_eq!(second.version, "1.1");
        let copy = project
            .create(
                &NewVersion {
                    name: "sum".into(),
                    from: Some("1.0".parse().expect("v")),
                    temperature: Some(0.2),
                    ..NewVersion::default()
                },
                now,
            )
            .expect("copy");
        assert_eq!(copy.version, "1.2");
        let v = project
            .load_prompts()
            .resolve("sum", None)
            .expect("valid")
            .clone();
        assert_eq!(v.meta.params.temperature, Some(0.2));
        assert_eq!(v.meta.goal.as_deref(), Some("Sum up: it's \"short\""));
        let err = project
            .create(
                &NewVersion {
                    version: Some("1.0".parse().expect("v")),
                    ..new.clone()
                },
                now,
            )
            .expect_err("exists");
        assert!(matches!(err, CreateError::Exists { .. }), "{err}");
        let err = project
            .create(
                &NewVersion {
                    temperature: Some(7.0),
                    ..new
                },
                now,
            )
            .expect_err("invalid");
        assert!(
            err.to_string()
                .contains("temperature must be between 0 and 2"),
            "{err}"
        );
        assert!(!dir.path().join("prompts/sum/1.3.md").exists());
    }
}
