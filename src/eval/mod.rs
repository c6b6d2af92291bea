//! Running a version against a model server: eval cases and their expectations, where requests
//! go (the endpoint from `ptrack.toml`, the version and the caller's overrides), and a pool of
//! workers that sends each case and records each execution, reporting progress through a
//! callback (the CLI draws a bar; a server streams events). [`paired`] runs two versions on
//! the same cases, pair by pair, for a pull request's evidence.

#[cfg(all(feature = "git", feature = "providers"))]
pub mod bisect;
pub mod paired;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::prompt::{PromptVersion, Provider};
use crate::provider::Endpoint;
use crate::stats;
use crate::trust::{KeyRefusal, KeyUse, Trust, UrlFrom, VarFrom};

/// One eval case: a name, the variables, and what the output must satisfy.
#[derive(Debug, Clone)]
pub struct Case {
    /// The case's name (`#1`, `#2`… when the file gives none).
    pub name: String,
    /// Variables, over the caller's.
    pub vars: Map<String, Value>,
    /// Expectations, all of which must hold.
    pub expect: Vec<Expect>,
    /// The answer a reviewer expects (for `similar`, and for judges).
    pub expected: Option<String>,
}

/// What an output must satisfy.
#[derive(Debug, Clone)]
pub enum Expect {
    /// Contains this text.
    Contains(String),
    /// Contains this text, ignoring case.
    IContains(String),
    /// Does not contain this text.
    NotContains(String),
    /// Is exactly this text (surrounding whitespace ignored).
    Equals(String),
    /// Starts with this text (leading whitespace ignored).
    StartsWith(String),
    /// Matches this regular expression (a final newline is ignored).
    Regex(regex::Regex),
    /// Is valid JSON.
    Json,
    /// Is JSON that validates against a JSON Schema (shown as where it came from).
    JsonSchema(std::sync::Arc<jsonschema::Validator>, String),
    /// Is at least this similar to the case's `expected` (normalized edit similarity, 0 to 1).
    Similar(f64),
    /// Took at most this many milliseconds.
    MaxMs(f64),
    /// Generated at most this many tokens.
    MaxTokens(u64),
    /// A judge prompt scores the output at least `min` (1 to 10); see [`Judges`].
    Judge {
        /// The judge prompt's name.
        prompt: String,
        /// Its version (default: the latest).
        version: Option<crate::version::Version>,
        /// The lowest passing score.
        min: f64,
    },
}

/// What an expectation is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// The output.
    pub output: &'a str,
    /// Wall time, ms.
    pub ms: f64,
    /// Tokens generated, when the server said.
    pub completion_tokens: Option<u64>,
    /// The case's `expected` text.
    pub expected: Option<&'a str>,
}

impl Expect {
    /// The expectation as a case file writes it, e.g. `contains "step"`.
    pub fn describe(&self) -> String {
        match self {
            Expect::Contains(s) => format!("contains {s:?}"),
            Expect::IContains(s) => format!("icontains {s:?}"),
            Expect::NotContains(s) => format!("not_contains {s:?}"),
            Expect::Equals(s) => format!("equals {s:?}"),
            Expect::StartsWith(s) => format!("starts_with {s:?}"),
            Expect::Regex(r) => format!("regex {:?}", r.as_str()),
            Expect::Json => "json".to_string(),
            Expect::JsonSchema(_, from) => format!("json_schema {from}"),
            Expect::Similar(t) => format!("similar {t}"),
            Expect::MaxMs(ms) => format!("max_ms {ms}"),
            Expect::MaxTokens(n) => format!("max_tokens {n}"),
            Expect::Judge { prompt, min, .. } => format!("judge {prompt} ≥ {min}"),
        }
    }

    /// Whether `output`, produced in `ms` milliseconds, satisfies it.
    pub fn holds(&self, output: &str, ms: f64) -> bool {
        self.check(&Answer {
            output,
            ms,
            completion_tokens: None,
            expected: None,
        })
        .is_ok()
    }

    /// Check `answer`; the error says what failed, with the detail (the failing JSON path, the
    /// similarity reached) after the expectation itself.
    pub fn check(&self, a: &Answer<'_>) -> Result<(), String> {
        let ok = |holds: bool| if holds { Ok(()) } else { Err(self.describe()) };
        match self {
            Expect::Contains(s) => ok(a.output.contains(s.as_str())),
            Expect::IContains(s) => ok(a.output.to_lowercase().contains(&s.to_lowercase())),
            Expect::NotContains(s) => ok(!a.output.contains(s.as_str())),
            Expect::Equals(s) => ok(a.output.trim() == s.trim()),
            Expect::StartsWith(s) => ok(a.output.trim_start().starts_with(s.as_str())),
            // Model answers often end with a newline; `$` should still match at the end.
            Expect::Regex(r) => ok(r.is_match(a.output.trim_end_matches(['\n', '\r']))),
            Expect::Json => ok(serde_json::from_str::<Value>(a.output.trim()).is_ok()),
            Expect::JsonSchema(v, _) => {
                let json: Value = serde_json::from_str(a.output.trim())
                    .map_err(|_| format!("{}: not JSON", self.describe()))?;
                match v.iter_errors(&json).next() {
                    None => Ok(()),
                    Some(e) => {
                        let path = e.instance_path().to_string();
                        let at = if path.is_empty() {
                            "/".to_string()
                        } else {
                            path
                        };
                        Err(format!("{}: at {at}: {e}", self.describe()))
                    }
                }
            }
            Expect::Similar(t) => {
                let expected = a.expected.unwrap_or_default();
                let sim = strsim::normalized_levenshtein(a.output.trim(), expected.trim());
                if sim >= *t {
                    Ok(())
                } else {
                    Err(format!("{} (got {sim:.2})", self.describe()))
                }
            }
            Expect::MaxMs(max) => ok(a.ms <= *max),
            Expect::MaxTokens(max) => match a.completion_tokens {
                Some(n) if n > *max => Err(format!("{} (got {n})", self.describe())),
                _ => Ok(()),
            },
            // Judged by a model call, in `Execution::execute_request`.
            Expect::Judge { .. } => Ok(()),
        }
    }

    /// Parse one expectation object, e.g. `{"contains": "step"}`; a `json_schema` naming a file
    /// reads it from `dir` (the cases file's folder).
    pub fn parse(v: &Value, dir: Option<&Path>) -> Result<Expect, String> {
        if let Some(j) = v.as_object().and_then(|o| o.get("judge").map(|j| (o, j))) {
            return parse_judge(j.0, j.1);
        }
        let obj = v
            .as_object()
            .filter(|o| o.len() == 1)
            .ok_or("each expectation is an object with one key, e.g. {\"contains\": \"…\"}")?;
        let (k, val) = obj.iter().next().ok_or("empty expectation")?;
        let text = || {
            val.as_str()
                .map(str::to_string)
                .ok_or(format!("`{k}` needs a string"))
        };
        match k.as_str() {
            "contains" => Ok(Expect::Contains(text()?)),
            "icontains" => Ok(Expect::IContains(text()?)),
            "not_contains" => Ok(Expect::NotContains(text()?)),
            "equals" => Ok(Expect::Equals(text()?)),
            "starts_with" => Ok(Expect::StartsWith(text()?)),
            "regex" => regex::Regex::new(&text()?)
                .map(Expect::Regex)
                .map_err(|e| format!("invalid regex: {e}")),
            "json" if val == &Value::Bool(true) => Ok(Expect::Json),
            "json" => Err("`json` takes true".to_string()),
            "json_schema" => {
                let (schema, from) = match val {
                    Value::Object(_) => (val.clone(), "(inline)".to_string()),
                    Value::String(f) => {
                        let path = dir.map_or_else(|| Path::new(f).to_path_buf(), |d| d.join(f));
                        let text = std::fs::read_to_string(&path)
                            .map_err(|e| format!("cannot read the schema {f}: {e}"))?;
                        let schema = serde_json::from_str(&text)
                            .map_err(|e| format!("the schema {f} is not JSON: {e}"))?;
                        (schema, f.clone())
                    }
                    _ => return Err("`json_schema` takes a schema object or a file name".into()),
                };
                let v = jsonschema::validator_for(&schema)
                    .map_err(|e| format!("invalid JSON Schema {from}: {e}"))?;
                Ok(Expect::JsonSchema(std::sync::Arc::new(v), from))
            }
            "similar" => val
                .as_f64()
                .filter(|x| (0.0..=1.0).contains(x))
                .map(Expect::Similar)
                .ok_or("`similar` needs a number from 0 to 1".to_string()),
            "max_ms" => val
                .as_f64()
                .filter(|x| *x >= 0.0)
                .map(Expect::MaxMs)
                .ok_or("`max_ms` needs a number ≥ 0".to_string()),
            "max_tokens" => val
                .as_u64()
                .map(Expect::MaxTokens)
                .ok_or("`max_tokens` needs an integer ≥ 0".to_string()),
            other => Err(format!(
                "unknown expectation `{other}` (contains, icontains, not_contains, equals, starts_with, regex, json, json_schema, similar, max_ms, max_tokens)"
            )),
        }
    }
}

/// `{"judge": "grader", "min": 7}` or `{"judge": {"prompt": "grader", "version": "1.0", "min": 7}}`.
fn parse_judge(obj: &Map<String, Value>, j: &Value) -> Result<Expect, String> {
    let (spec, outer) = match j {
        Value::String(_) => (obj, true),
        Value::Object(inner) => (inner, false),
        _ => return Err("`judge` takes a prompt name or {\"prompt\": …, \"min\": …}".into()),
    };
    for k in spec.keys() {
        let known = if outer {
            matches!(k.as_str(), "judge" | "min")
        } else {
            matches!(k.as_str(), "prompt" | "version" | "min")
        };
        if !known {
            return Err(format!(
                "unknown key `{k}` in a judge expectation (prompt, version, min)"
            ));
        }
    }
    if !outer && obj.len() != 1 {
        return Err("each expectation is an object with one key".into());
    }
    let prompt = if outer {
        j.as_str()
    } else {
        spec.get("prompt").and_then(Value::as_str)
    }
    .filter(|p| crate::prompt::is_valid_name(p))
    .ok_or("a judge names a prompt, e.g. {\"judge\": \"grader\", \"min\": 7}")?
    .to_string();
    let version = match spec.get("version") {
        None => None,
        Some(Value::String(v)) => Some(v.parse().map_err(|e: crate::VersionError| e.to_string())?),
        Some(_) => return Err("a judge's `version` is text such as \"1.0\"".into()),
    };
    let min = spec
        .get("min")
        .and_then(Value::as_f64)
        .filter(|m| (1.0..=10.0).contains(m))
        .ok_or("a judge needs `min`, the lowest passing score from 1 to 10")?;
    Ok(Expect::Judge {
        prompt,
        version,
        min,
    })
}

/// A judge's verdict read from its reply: JSON `{"score": 1-10, "reason": "…"}`, else the
/// first number from 1 to 10 in the text; None when the reply holds neither.
pub fn parse_judge_reply(text: &str) -> Option<(f64, Option<String>)> {
    let t = text.trim();
    // The JSON may come inside a ```json fence or after a sentence: take the outermost braces.
    if let (Some(a), Some(b)) = (t.find('{'), t.rfind('}'))
        && a < b
        && let Ok(Value::Object(o)) = serde_json::from_str::<Value>(&t[a..=b])
        && let Some(score) = o.get("score").and_then(Value::as_f64)
        && (1.0..=10.0).contains(&score)
    {
        let reason = o.get("reason").and_then(Value::as_str).map(str::to_string);
        return Some((score, reason));
    }
    let re = regex::Regex::new(r"(?:^|[^0-9.])(10|[1-9])(?:\.[0-9]+)?(?:[^0-9]|$)").ok()?;
    let caps = re.captures(t)?;
    let m = caps.get(0)?.as_str();
    let num: String = m
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    num.trim_end_matches('.')
        .parse::<f64>()
        .ok()
        .filter(|x| (1.0..=10.0).contains(x))
        .map(|x| (x, None))
}

/// The judge prompts a set of cases uses, each with where its requests go.
#[derive(Debug, Default)]
pub struct Judges {
    targets: Vec<JudgeTarget>,
}

/// One judge prompt, ready to call.
#[derive(Debug)]
pub struct JudgeTarget {
    /// The name as the expectation gives it.
    pub name: String,
    /// The version the expectation asked for (None: the latest).
    pub asked: Option<crate::version::Version>,
    /// The judge's version.
    pub version: PromptVersion,
    /// Where its requests go.
    pub endpoint: Endpoint,
    /// Its model.
    pub model: String,
    /// Its runs' `commit`.
    pub commit: Option<String>,
}

/// Why a judge could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    /// The judge prompt or version does not exist.
    #[error("judge: {0}")]
    Lookup(#[from] crate::project::LookupError),
    /// Its endpoint is invalid.
    #[error("judge: {0}")]
    Endpoint(#[from] EndpointError),
    /// It names no model.
    #[error("judge {0} names no model")]
    NoModel(String),
}

impl Judges {
    /// The judges `cases` use, resolved in `registry` with `overrides` (the judged prompt's
    /// provider and server); the judge's own model, else the project default.
    pub fn resolve(
        project: &crate::project::Project,
        registry: &crate::project::Registry,
        cases: &[Case],
        overrides: &EndpointOverrides,
        env: &dyn Fn(&str) -> Option<String>,
        trust: &Trust,
    ) -> Result<Judges, JudgeError> {
        let mut targets: Vec<JudgeTarget> = Vec::new();
        for e in cases.iter().flat_map(|c| &c.expect) {
            let Expect::Judge {
                prompt, version, ..
            } = e
            else {
                continue;
            };
            if targets
                .iter()
                .any(|t| t.name == *prompt && t.asked == *version)
            {
                continue;
            }
            let v = registry.resolve(prompt, version.as_ref())?.clone();
            let endpoint = Endpoint::resolve(project.config(), &v, overrides, env, trust)?;
            let model = v
                .meta
                .model
                .clone()
                .or_else(|| project.config().defaults.model.clone())
                .ok_or_else(|| JudgeError::NoModel(prompt.clone()))?;
            targets.push(JudgeTarget {
                name: prompt.clone(),
                asked: version.clone(),
                commit: project.commit_of(&v),
                version: v,
                endpoint,
                model,
            });
        }
        Ok(Judges { targets })
    }

    /// The judge `name` (at version `asked`, or its latest).
    pub fn get(&self, name: &str, asked: &Option<crate::version::Version>) -> Option<&JudgeTarget> {
        self.targets
            .iter()
            .find(|t| t.name == name && t.asked == *asked)
    }
}

/// One bad line of a cases file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseProblem {
    /// 1-based line.
    pub line: usize,
    /// The key of the case the problem is in (`expect`, `vars`…), when it is about one.
    pub field: Option<String>,
    /// What is wrong, naming the field.
    pub message: String,
}

/// At most this many bad lines are listed in a [`CasesError::Invalid`]; `check` lists all.
pub const MAX_LISTED_PROBLEMS: usize = 20;

/// Why a cases file could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CasesError {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file, as the user named it.
        path: String,
        /// Why.
        reason: String,
    },
    /// Lines are not valid cases.
    #[error("{}", invalid_message(path, problems, *more))]
    Invalid {
        /// The file.
        path: String,
        /// The bad lines, in file order, at most [`MAX_LISTED_PROBLEMS`].
        problems: Vec<CaseProblem>,
        /// How many more problems were left out.
        more: usize,
    },
    /// The file holds no case.
    #[error("{path} holds no cases")]
    Empty {
        /// The file.
        path: String,
    },
}

/// One problem as `path:line: message`; several as a count, then one per line.
fn invalid_message(path: &str, problems: &[CaseProblem], more: usize) -> String {
    match problems {
        [p] if more == 0 => format!("{path}:{}: {}", p.line, p.message),
        _ => {
            let mut s = format!("{path}: {} problem(s)", problems.len() + more);
            for p in problems {
                s.push_str(&format!("\n  {path}:{}: {}", p.line, p.message));
            }
            if more > 0 {
                s.push_str(&format!(
                    "\n  … and {more} more (`ptrack check` lists them all)"
                ));
            }
            s
        }
    }
}

/// Read a cases file (one JSON object per line: `name`, `vars`, `expect`); each case's
/// variables are laid over `base_vars`. `shown` is how errors name the file.
pub fn load_cases(
    path: &Path,
    shown: &Path,
    base_vars: &Map<String, Value>,
) -> Result<Vec<Case>, CasesError> {
    let shown_s = shown.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| CasesError::Read {
        path: shown_s.clone(),
        reason: e.to_string(),
    })?;
    parse_cases(&text, &shown_s, base_vars, path.parent())
}

/// Parse the text of a cases file; an error lists every bad line (up to
/// [`MAX_LISTED_PROBLEMS`]), not only the first.
pub fn parse_cases(
    text: &str,
    shown: &str,
    base_vars: &Map<String, Value>,
    dir: Option<&Path>,
) -> Result<Vec<Case>, CasesError> {
    let (cases, mut problems) = parse_lines(text, base_vars, dir);
    if !problems.is_empty() {
        let more = problems.len().saturating_sub(MAX_LISTED_PROBLEMS);
        problems.truncate(MAX_LISTED_PROBLEMS);
        return Err(CasesError::Invalid {
            path: shown.to_string(),
            problems,
            more,
        });
    }
    if cases.is_empty() {
        return Err(CasesError::Empty {
            path: shown.to_string(),
        });
    }
    Ok(cases)
}

/// Every problem in the text of a cases file, for `check`: bad lines, and a file with no case.
pub fn case_problems(text: &str, dir: Option<&Path>) -> (Vec<Case>, Vec<CaseProblem>) {
    parse_lines(text, &Map::new(), dir)
}

/// The valid cases and every bad line.
fn parse_lines(
    text: &str,
    base_vars: &Map<String, Value>,
    dir: Option<&Path>,
) -> (Vec<Case>, Vec<CaseProblem>) {
    let mut cases: Vec<Case> = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let before = problems.len();
        let mut bad = |field: Option<&str>, message: String| {
            problems.push(CaseProblem {
                line: i + 1,
                field: field.map(str::to_string),
                message,
            });
        };
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                bad(
                    None,
                    format!(
                        "invalid JSON: {}",
                        e.to_string().split(" at line ").next().unwrap_or_default()
                    ),
                );
                continue;
            }
        };
        let Some(obj) = v.as_object() else {
            bad(None, "a case is a JSON object".into());
            continue;
        };
        for k in obj.keys() {
            if !matches!(k.as_str(), "name" | "vars" | "expect" | "expected") {
                bad(
                    Some(k),
                    format!("unknown key `{k}` (name, vars, expect, expected)"),
                );
            }
        }
        let mut vars = base_vars.clone();
        match obj.get("vars") {
            Some(Value::Object(m)) => vars.extend(m.clone()),
            None => {}
            Some(_) => bad(Some("vars"), "`vars` must be an object".into()),
        }
        let mut expect = Vec::new();
        match obj.get("expect") {
            Some(Value::Array(items)) => {
                for (j, e) in items.iter().enumerate() {
                    match Expect::parse(e, dir) {
                        Ok(e) => expect.push(e),
                        Err(m) => bad(Some("expect"), format!("`expect` item {}: {m}", j + 1)),
                    }
                }
            }
            None => {}
            Some(_) => bad(Some("expect"), "`expect` must be a list".into()),
        }
        let expected = match obj.get("expected") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                bad(Some("expected"), "`expected` must be text".into());
                None
            }
        };
        if matches!(obj.get("expected"), None | Some(Value::Null))
            && expect.iter().any(|e| matches!(e, Expect::Similar(_)))
        {
            bad(
                Some("expect"),
                "`similar` compares with the case's `expected`, which it lacks".into(),
            );
        }
        let name = match obj.get("name") {
            None => format!("#{}", cases.len() + 1),
            Some(Value::String(n)) => n.clone(),
            Some(_) => {
                bad(Some("name"), "`name` must be text".into());
                continue;
            }
        };
        if cases.iter().any(|c| c.name == name) {
            bad(
                Some("name"),
                format!("case name `{name}` is given twice; pairs and per-case figures go by name"),
            );
        }
        if problems.len() == before {
            cases.push(Case {
                name,
                vars,
                expect,
                expected,
            });
        }
    }
    (cases, problems)
}

/// What the caller overrides of where requests go.
#[derive(Debug, Clone, Default)]
pub struct EndpointOverrides {
    /// The provider API (default: the version's, else `[defaults] provider`, else Ollama).
    pub provider: Option<Provider>,
    /// The server's base URL.
    pub base_url: Option<String>,
    /// Seconds to wait for an answer.
    pub timeout_secs: Option<f64>,
}

/// Why no endpoint could be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EndpointError {
    /// The timeout is not a positive number of seconds.
    #[error("{source_name} must be a number of seconds > 0, got {secs}")]
    Timeout {
        /// Where the value came from (`--timeout`, `timeout_secs in ptrack.toml`).
        source_name: &'static str,
        /// The value.
        secs: f64,
    },
    /// The base URL is not an `http://` or `https://` URL with a host.
    #[error("{source_name} must be an http:// or https:// URL, got `{url}`{}", suggestion.as_ref().map_or(String::new(), |s| format!(" (did you mean `{s}`?)")))]
    BaseUrl {
        /// Where the value came from (`--base-url`, `base_url in ptrack.toml`).
        source_name: &'static str,
        /// The value.
        url: String,
        /// The URL with `http://` in front, when that would make it valid.
        suggestion: Option<String>,
    },
    /// The API key may not go where the settings send it; nothing was sent.
    #[error(transparent)]
    Key(#[from] KeyRefusal),
}

/// Check that `url` is an `http://` or `https://` URL with a host; nothing is sent before.
fn check_base_url(url: &str, source_name: &'static str) -> Result<(), EndpointError> {
    let has_host = |rest: &str| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !host.starts_with(':') && !host.contains(char::is_whitespace)
    };
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"));
    match rest {
        Some(rest) if has_host(rest) => Ok(()),
        _ => Err(EndpointError::BaseUrl {
            source_name,
            url: url.to_string(),
            suggestion: (!lower.contains("://") && has_host(&lower))
                .then(|| format!("http://{url}")),
        }),
    }
}

impl Endpoint {
    /// Where requests for `version` go: the overrides, then `[providers.NAME]` in `config`,
    /// then the user's own `config.toml` (in `trust`), then the provider's usual address. The
    /// API key is read through `env` (the library reads no environment itself) from the
    /// variable `api_key_env` names, `OPENAI_API_KEY` by default, and kept only when `trust`
    /// lets it go to that address (see [`crate::trust`]); otherwise nothing is sent and the
    /// error says why.
    pub fn resolve(
        config: &Config,
        version: &PromptVersion,
        overrides: &EndpointOverrides,
        env: &dyn Fn(&str) -> Option<String>,
        trust: &Trust,
    ) -> Result<Endpoint, EndpointError> {
        let provider = overrides
            .provider
            .or(version.meta.provider)
            .or(config.defaults.provider)
            .unwrap_or(Provider::Ollama);
        let name = provider.as_str();
        let settings = config.providers.get(name).cloned().unwrap_or_default();
        let user = trust.user.providers.get(name).cloned().unwrap_or_default();
        let (base_url, url_from) = if let Some(url) = &overrides.base_url {
            check_base_url(url, "--base-url")?;
            (url.clone(), UrlFrom::CommandLine)
        } else if let Some(url) = settings.base_url {
            check_base_url(&url, "base_url in ptrack.toml")?;
            (url, UrlFrom::Project(trust.line_of(name, "base_url")))
        } else if let Some(url) = user.base_url {
            check_base_url(&url, "base_url in your config.toml")?;
            (url, UrlFrom::User)
        } else {
            let url = match provider {
                Provider::Ollama => "http://localhost:11434",
                Provider::Openai => crate::trust::OPENAI_DEFAULT_URL,
            };
            (url.to_string(), UrlFrom::Default)
        };
        let api_key = match provider {
            Provider::Openai => {
                let (var, var_from) = if let Some(v) = settings.api_key_env {
                    (v, VarFrom::Project(trust.line_of(name, "api_key_env")))
                } else if let Some(v) = user.api_key_env {
                    (v, VarFrom::User)
                } else {
                    ("OPENAI_API_KEY".to_string(), VarFrom::Default)
                };
                let key = env(&var).filter(|k| !k.is_empty());
                if key.is_some() {
                    trust.check(&KeyUse {
                        provider,
                        url: base_url.clone(),
                        url_from,
                        var,
                        var_from,
                    })?;
                }
                key
            }
            Provider::Ollama => None,
        };
        let secs = overrides
            .timeout_secs
            .or(settings.timeout_secs)
            .or(user.timeout_secs)
            .unwrap_or(120.0);
        if !(secs.is_finite() && secs > 0.0) {
            return Err(EndpointError::Timeout {
                source_name: if overrides.timeout_secs.is_some() {
                    "--timeout"
                } else if settings.timeout_secs.is_some() {
                    "timeout_secs in ptrack.toml"
                } else {
                    "timeout_secs in your config.toml"
                },
                secs,
            });
        }
        Ok(Endpoint {
            provider,
            base_url,
            api_key,
            timeout: Duration::from_secs_f64(secs),
        })
    }
}

/// Why an execution failed, by kind, so a front end can choose its advice without reading
/// error texts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Failure {
    /// Nothing answered at the address.
    Connect,
    /// No answer within the timeout.
    Timeout,
    /// The server answered with an error status.
    Http {
        /// The status code.
        status: u16,
    },
    /// The answer was not what the API documents.
    Malformed,
    /// The answer came, but an expectation did not hold.
    Expectation,
}

impl From<&crate::provider::ProviderError> for Failure {
    fn from(e: &crate::provider::ProviderError) -> Self {
        use crate::provider::ProviderError;
        match e {
            ProviderError::Connect { .. } => Failure::Connect,
            ProviderError::Timeout(_) => Failure::Timeout,
            ProviderError::Http { status, .. } => Failure::Http { status: *status },
            ProviderError::Malformed { .. } => Failure::Malformed,
        }
    }
}

/// What one execution gave.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Outcome {
    /// The case.
    pub case: String,
    /// The recorded run's id (None when not recorded).
    pub run_id: Option<String>,
    /// Whether the request succeeded and every expectation held.
    pub success: bool,
    /// Wall time in milliseconds.
    pub execution_time_ms: f64,
    /// Tokens, when the server reported them.
    pub token_count: Option<u64>,
    /// What went wrong.
    pub error: Option<String>,
    /// What kind of failure it was.
    pub failure: Option<Failure>,
    /// The expectations that did not hold.
    pub expect_failed: Vec<String>,
    /// The model's output.
    pub output: String,
    /// The answer is a recorded one to the same request, not sent again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reused: bool,
    /// The judge's score, when a judge expectation scored the output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality_score: Option<f64>,
    /// Prompt tokens, when the server said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u64>,
    /// Completion tokens, when the server said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<u64>,
}

impl Outcome {
    /// What this execution cost at `price`, when its token split is known.
    pub fn cost(&self, price: Option<&crate::config::Price>) -> Option<f64> {
        Some(price?.cost(self.prompt_tokens?, self.completion_tokens?))
    }
}

/// The total and mean cost of some executions at `price`: None unless every one is priced.
pub fn costs<'a>(
    outcomes: impl Iterator<Item = &'a Outcome>,
    price: Option<&crate::config::Price>,
) -> (Option<f64>, Option<f64>) {
    let mut total = 0.0;
    let mut n = 0usize;
    for o in outcomes {
        match o.cost(price) {
            Some(c) => total += c,
            None => return (None, None),
        }
        n += 1;
    }
    if n == 0 {
        (None, None)
    } else {
        (Some(total), Some(total / n as f64))
    }
}

/// One case's figures over its repeats.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CaseSummary {
    /// The case.
    pub case: String,
    /// Executions.
    pub runs: usize,
    /// Executions that passed.
    pub passed: usize,
    /// passed / runs.
    pub pass_rate: Option<f64>,
    /// Median time, ms.
    pub p50_ms: Option<f64>,
    /// 95th percentile time, ms.
    pub p95_ms: Option<f64>,
    /// Each distinct reason a run failed (the failed expectations, or the error).
    pub failures: Vec<String>,
}

/// The result of running a version (the `run --json` model).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Summary {
    /// The prompt.
    pub prompt: String,
    /// The version.
    pub version: String,
    /// The model asked.
    pub model: String,
    /// The provider API.
    pub provider: Provider,
    /// Executions.
    pub runs: usize,
    /// Executions that passed.
    pub passed: usize,
    /// passed / runs.
    pub pass_rate: Option<f64>,
    /// Median time, ms.
    pub p50_ms: Option<f64>,
    /// 95th percentile time, ms.
    pub p95_ms: Option<f64>,
    /// Stopped before every execution ran.
    pub interrupted: bool,
    /// What every execution cost together, at `[prices]` (None when a run has no token split
    /// or the model no price).
    pub cost_total: Option<f64>,
    /// The mean cost per execution.
    pub cost_per_run: Option<f64>,
    /// Per case, in the order of the cases.
    pub cases: Vec<CaseSummary>,
    /// Every execution, in the order they were scheduled.
    pub outcomes: Vec<Outcome>,
}

impl Summary {
    /// The summary of `outcomes` (in schedule order).
    pub fn new(
        version: &PromptVersion,
        model: &str,
        provider: Provider,
        outcomes: Vec<Outcome>,
        interrupted: bool,
        price: Option<&crate::config::Price>,
    ) -> Summary {
        let (cost_total, cost_per_run) = costs(outcomes.iter(), price);
        let (passed, p50_ms, p95_ms) = figures(outcomes.iter());
        let mut names: Vec<&str> = Vec::new();
        for o in &outcomes {
            if !names.contains(&o.case.as_str()) {
                names.push(&o.case);
            }
        }
        let cases = names
            .iter()
            .map(|name| {
                let os: Vec<&Outcome> = outcomes.iter().filter(|o| o.case == *name).collect();
                let (passed, p50_ms, p95_ms) = figures(os.iter().copied());
                let mut failures: Vec<String> = Vec::new();
                for o in os.iter().filter(|o| !o.success) {
                    let r = if o.expect_failed.is_empty() {
                        o.error.clone().unwrap_or_default()
                    } else {
                        o.expect_failed.join(", ")
                    };
                    if !failures.contains(&r) {
                        failures.push(r);
                    }
                }
                CaseSummary {
                    case: name.to_string(),
                    runs: os.len(),
                    passed,
                    pass_rate: (!os.is_empty()).then(|| passed as f64 / os.len() as f64),
                    p50_ms,
                    p95_ms,
                    failures,
                }
            })
            .collect();
        Summary {
            prompt: version.name.clone(),
            version: version.version.to_string(),
            model: model.to_string(),
            provider,
            runs: outcomes.len(),
            passed,
            pass_rate: (!outcomes.is_empty()).then(|| passed as f64 / outcomes.len() as f64),
            p50_ms,
            p95_ms,
            interrupted,
            cost_total,
            cost_per_run,
            cases,
            outcomes,
        }
    }
}

/// Passed count, p50 and p95 of some outcomes.
fn figures<'a>(outcomes: impl Iterator<Item = &'a Outcome>) -> (usize, Option<f64>, Option<f64>) {
    let mut passed = 0;
    let mut times = Vec::new();
    for o in outcomes {
        passed += usize::from(o.success);
        times.push(o.execution_time_ms);
    }
    let q = stats::quantiles(&mut times, &[0.5, 0.95]);
    (passed, q.as_ref().map(|q| q[0]), q.as_ref().map(|q| q[1]))
}

/// A recorded answer to the same request, used instead of sending it again.
#[derive(Debug, Clone, PartialEq)]
pub struct Reusable {
    /// The recorded run's id.
    pub run_id: String,
    /// Its output.
    pub output: String,
    /// Its wall time, as measured then.
    pub execution_time_ms: f64,
    /// Its tokens.
    pub token_count: Option<u64>,
    /// Tokens it generated, when the server said.
    pub completion_tokens: Option<u64>,
    /// Tokens of its prompt, when the server said.
    pub prompt_tokens: Option<u64>,
    /// The request's error, when it failed (a timeout, an HTTP error).
    pub error: Option<String>,
}

/// The id of a request: sha256 of its provider, URL path, model and exact body, so two
/// requests with the same id would be answered from the same input.
pub fn request_sha(endpoint: &Endpoint, model: &str, body: &Value) -> String {
    use sha2::Digest;
    let url = crate::provider::body_url(endpoint, body);
    let path = url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("/");
    let mut h = sha2::Sha256::new();
    for part in [endpoint.provider.as_str(), path, model, &body.to_string()] {
        h.update(part.as_bytes());
        h.update(b"\n");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl Failure {
    /// Whether the request never reached a model (nothing answered, or the wrong API or model
    /// path): a failed attempt, not a failed execution.
    ///
    /// Attempts: nothing answered (connection refused, DNS, TLS), and the HTTP statuses that
    /// say the request never reached the model: 401/403 (key), 404/405 (wrong URL or API, or a
    /// model the server does not have), 407 (proxy), 429 (rate limit), 502/503/504 (a gateway or
    /// a server that is not ready). Everything else (a timeout, another 4xx or 5xx, a malformed
    /// answer, an expectation that did not hold) is a failed execution of the prompt.
    pub fn is_attempt(&self) -> bool {
        matches!(
            self,
            Failure::Connect
                | Failure::Http {
                    status: 401 | 403 | 404 | 405 | 407 | 429 | 502 | 503 | 504
                }
        )
    }
}

/// One version, model and endpoint to execute cases against; shared read-only by the workers.
pub struct Execution<'a> {
    /// The project runs are recorded in.
    pub project: &'a crate::project::Project,
    /// The version that runs.
    pub version: &'a PromptVersion,
    /// Where requests go.
    pub endpoint: &'a Endpoint,
    /// The model asked.
    pub model: &'a str,
    /// Whether to record each execution.
    pub record: bool,
    /// The runs' `commit` (the same for every execution of this version).
    pub commit: Option<String>,
    /// A fixed time for every run (reproducible tests); None: the time each request starts.
    pub pinned_now: Option<chrono::DateTime<chrono::Utc>>,
    /// The judge prompts the cases use.
    pub judges: Option<&'a Judges>,
    /// Recorded answers to reuse for judge requests, by (`request_sha`, `sample`).
    pub judge_reuse: Option<&'a std::collections::HashMap<(String, u32), Reusable>>,
}

impl Execution<'_> {
    /// The request body for `prompt` and its [`request_sha`].
    pub fn request(&self, prompt: &crate::render::RenderedPrompt) -> (Value, String) {
        let body = match self.endpoint.provider {
            Provider::Ollama => crate::render::ollama_body(self.version, self.model, prompt),
            Provider::Openai => crate::render::openai_body(self.version, self.model, prompt),
        };
        let sha = request_sha(self.endpoint, self.model, &body);
        (body, sha)
    }

    /// Send `prompt` (case `case` rendered), check the expectations, record the run with
    /// `extra` fields added. A failed attempt ([`Failure::is_attempt`]) is not recorded.
    #[cfg(feature = "providers")]
    pub fn execute(
        &self,
        case: &Case,
        prompt: &crate::render::RenderedPrompt,
        extra: Map<String, Value>,
    ) -> Outcome {
        let (body, _) = self.request(prompt);
        self.execute_request(case, &body, extra, None, false)
    }

    /// Send `body` for `case` (or take `reuse`, the recorded answer to the same request),
    /// check the expectations, and record the run with `extra` fields added; a failed attempt
    /// (see [`Failure::is_attempt`]) is recorded only when `record_attempts`.
    #[cfg(feature = "providers")]
    pub fn execute_request(
        &self,
        case: &Case,
        body: &Value,
        mut extra: Map<String, Value>,
        reuse: Option<&Reusable>,
        record_attempts: bool,
    ) -> Outcome {
        let started = self.pinned_now.unwrap_or_else(chrono::Utc::now);
        let mut finish_reason: Option<String> = None;
        let (output, ms, tokens, prompt_tokens, completion_tokens, mut error, mut failure) =
            match reuse {
                Some(r) => (
                    r.output.clone(),
                    r.execution_time_ms,
                    r.token_count,
                    None,
                    None,
                    r.error.clone(),
                    None,
                ),
                None => {
                    let (result, elapsed) = crate::provider::complete(self.endpoint, body);
                    let ms = (elapsed.as_secs_f64() * 1000.0 * 10.0).round() / 10.0;
                    if let Ok(c) = &result {
                        finish_reason.clone_from(&c.finish_reason);
                    }
                    match &result {
                        Ok(c) => (
                            c.output.clone(),
                            ms,
                            c.total_tokens(),
                            c.prompt_tokens,
                            c.completion_tokens,
                            None,
                            None,
                        ),
                        Err(e) => (
                            String::new(),
                            ms,
                            None,
                            None,
                            None,
                            Some(e.to_string()),
                            Some(Failure::from(e)),
                        ),
                    }
                }
            };
        let answered = error.is_none();
        let answer = Answer {
            output: &output,
            ms,
            completion_tokens: completion_tokens.or(reuse.and_then(|r| r.completion_tokens)),
            expected: case.expected.as_deref(),
        };
        let expect_failed: Vec<String> = if answered {
            case.expect
                .iter()
                .filter_map(|x| x.check(&answer).err())
                .collect()
        } else {
            Vec::new()
        };
        let mut expect_failed = expect_failed;
        let mut quality: Option<(f64, String)> = None;
        if answered {
            let sample = extra.get("sample").and_then(Value::as_u64).unwrap_or(0) as u32;
            for e in &case.expect {
                let Expect::Judge {
                    prompt,
                    version,
                    min,
                } = e
                else {
                    continue;
                };
                match self.judge(prompt, version, case, &output, sample) {
                    Ok((score, reason, source)) => {
                        if quality.is_none() {
                            quality = Some((score, source));
                        }
                        if score < *min {
                            let why = reason.map_or(String::new(), |r| format!(": {r}"));
                            expect_failed.push(format!("{} (got {score}{why})", e.describe()));
                        }
                    }
                    Err(why) => expect_failed.push(format!("{}: {why}", e.describe())),
                }
            }
        }
        if answered && !expect_failed.is_empty() {
            error = Some(format!("expectation failed: {}", expect_failed.join(", ")));
            failure = Some(Failure::Expectation);
        }
        let success = error.is_none();
        let mut run_id = reuse.map(|r| r.run_id.clone());
        let attempt = failure.as_ref().is_some_and(Failure::is_attempt);
        if self.record && reuse.is_none() && (record_attempts || !attempt) {
            extra.insert(
                "provider".into(),
                Value::String(self.endpoint.provider.as_str().to_string()),
            );
            extra.insert("case".into(), Value::String(case.name.clone()));
            if let Some(t) = prompt_tokens {
                extra.insert("prompt_tokens".into(), Value::from(t));
            }
            if let Some(t) = completion_tokens {
                extra.insert("completion_tokens".into(), Value::from(t));
            }
            if let Some(r) = &finish_reason {
                extra.insert("finish_reason".into(), Value::String(r.clone()));
            }
            if !case.expect.is_empty() {
                extra.insert("expect_failed".into(), Value::from(expect_failed.clone()));
            }
            if let Some((_, source)) = &quality {
                extra.insert("quality_source".into(), Value::String(source.clone()));
            }
            let draft = crate::record::RunDraft {
                quality_score: quality.as_ref().map(|(q, _)| *q),
                ts: Some(started),
                model: Some(self.model.to_string()),
                input: case.vars.clone(),
                output: output.clone(),
                execution_time_ms: Some(ms),
                token_count: tokens,
                success: Some(success),
                error: error.clone(),
                extra,
                ..crate::record::RunDraft::default()
            };
            let written = draft
                .complete(
                    self.version,
                    self.project.config().defaults.model.as_deref(),
                    self.commit.clone(),
                    started,
                )
                .and_then(|rec| {
                    crate::runlog::append_line(
                        self.project.root(),
                        &self.project.log_rel_of(&rec),
                        &rec,
                    )?;
                    Ok(rec.id)
                });
            match written {
                Ok(id) => run_id = Some(id),
                Err(e) => {
                    error = Some(format!(
                        "{} (and the run could not be recorded: {e})",
                        error.unwrap_or_else(|| "ok".into())
                    ));
                }
            }
        }
        Outcome {
            case: case.name.clone(),
            run_id,
            success,
            execution_time_ms: ms,
            token_count: tokens,
            error,
            failure,
            expect_failed,
            output,
            reused: reuse.is_some(),
            quality_score: quality.map(|(q, _)| q),
            prompt_tokens: prompt_tokens.or(reuse.and_then(|r| r.prompt_tokens)),
            completion_tokens: completion_tokens.or(reuse.and_then(|r| r.completion_tokens)),
        }
    }

    /// Ask judge `name` to score `output` of `case`: its score, its reason, and the run's
    /// `quality_source` (`judge:NAME@VERSION`), or why there is no score.
    #[cfg(feature = "providers")]
    fn judge(
        &self,
        name: &str,
        asked: &Option<crate::version::Version>,
        case: &Case,
        output: &str,
        sample: u32,
    ) -> Result<(f64, Option<String>, String), String> {
        let t = self
            .judges
            .and_then(|j| j.get(name, asked))
            .ok_or_else(|| format!("judge {name} is not prepared"))?;
        let mut vars = Map::new();
        vars.insert("input".into(), Value::Object(case.vars.clone()));
        vars.insert("output".into(), Value::String(output.to_string()));
        vars.insert(
            "expected".into(),
            case.expected.clone().map_or(Value::Null, Value::String),
        );
        let text = crate::render::render_prompt(&t.version, &vars).map_err(|e| e.to_string())?;
        let exec = Execution {
            project: self.project,
            version: &t.version,
            endpoint: &t.endpoint,
            model: &t.model,
            record: self.record,
            commit: t.commit.clone(),
            pinned_now: self.pinned_now,
            judges: None,
            judge_reuse: None,
        };
        let (body, sha) = exec.request(&text);
        let reuse = self.judge_reuse.and_then(|m| m.get(&(sha.clone(), sample)));
        let mut extra = Map::new();
        extra.insert(
            "judged_prompt".into(),
            Value::String(self.version.name.clone()),
        );
        extra.insert("judged_case".into(), Value::String(case.name.clone()));
        extra.insert("sample".into(), Value::from(sample));
        extra.insert("request_sha".into(), Value::String(sha));
        let judge_case = Case {
            name: format!("judge of {}", case.name),
            vars,
            expect: Vec::new(),
            expected: None,
        };
        let o = exec.execute_request(&judge_case, &body, extra, reuse, false);
        if let Some(e) = o.error {
            return Err(format!("the judge's request failed: {e}"));
        }
        let source = format!("judge:{name}@{}", t.version.version);
        match parse_judge_reply(&o.output) {
            Some((score, reason)) => Ok((score, reason, source)),
            None => {
                let shown: String = o.output.chars().take(200).collect();
                Err(format!("no score in the judge's reply {shown:?}"))
            }
        }
    }
}

/// Run `work` (each item → one result, e.g. an [`Outcome`]) on `concurrency` threads until every item ran or `stop`
/// is set; `done` is called on the calling thread with each outcome as it arrives. Returns
/// the outcomes in schedule order.
pub fn run_pool<T, R, F, P>(
    work: &[T],
    concurrency: usize,
    stop: &AtomicBool,
    execute: F,
    mut done: P,
) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
    P: FnMut(&R),
{
    let next = AtomicUsize::new(0);
    let mut outcomes: Vec<(usize, R)> = Vec::new();
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, R)>();
        for _ in 0..concurrency.clamp(1, work.len().max(1)) {
            let tx = tx.clone();
            let (next, execute) = (&next, &execute);
            s.spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = work.get(i) else { break };
                    if tx.send((i, execute(item))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, o) in rx {
            done(&o);
            outcomes.push((i, o));
        }
    });
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, o)| o).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(case: &str, ms: f64, success: bool, failed: &[&str]) -> Outcome {
        Outcome {
            case: case.into(),
            run_id: None,
            success,
            execution_time_ms: ms,
            token_count: None,
            error: (!success).then(|| "expectation failed".to_string()),
            failure: (!success).then_some(Failure::Expectation),
            expect_failed: failed.iter().map(|s| s.to_string()).collect(),
            output: String::new(),
            reused: false,
            quality_score: None,
            prompt_tokens: Some(100),
            completion_tokens: Some(10),
        }
    }

    #[test]
    fn per_case_figures_match_numpy() {
        let v = crate::prompt::test_version("p", "1.0", "---\ngoal: g\n---\nhi\n");
        let outs = vec![
            outcome("a", 100.0, true, &[]),
            outcome("b", 50.0, false, &["json"]),
            outcome("a", 300.0, false, &["contains \"x\""]),
            outcome("a", 200.0, true, &[]),
            outcome("b", 70.0, false, &["json"]),
        ];
        let price = crate::config::Price {
            input_per_mtok: 1.0,
            output_per_mtok: 10.0,
        };
        let s = Summary::new(&v, "m", Provider::Ollama, outs, false, Some(&price));
        // 5 runs × (100 × 1.0 + 10 × 10.0) / 1e6
        assert!((s.cost_total.expect("priced") - 0.001).abs() < 1e-15);
        assert!((s.cost_per_run.expect("priced") - 0.0002).abs() < 1e-15);
        assert_eq!((s.runs, s.passed), (5, 2));
        // numpy 2.4.6: np.percentile([100, 50, 300, 200, 70], [50, 95]) -> [100., 280.]
        assert_eq!((s.p50_ms, s.p95_ms), (Some(100.0), Some(280.0)));
        let a = &s.cases[0];
        // np.percentile([100, 300, 200], [50, 95]) -> [200., 290.]
        assert_eq!((a.case.as_str(), a.runs, a.passed), ("a", 3, 2));
        assert_eq!((a.p50_ms, a.p95_ms), (Some(200.0), Some(290.0)));
        assert_eq!(a.failures, ["contains \"x\""]);
        let b = &s.cases[1];
        assert_eq!((b.pass_rate, b.failures.len()), (Some(0.0), 1));
    }

    #[test]
    fn cases_name_their_line_and_key() {
        let base = Map::new();
        let err = parse_cases("{\"name\":\"a\"}\n{\"nme\":1}\n", "c.jsonl", &base, None)
            .expect_err("bad key");
        assert_eq!(
            err.to_string(),
            "c.jsonl:2: unknown key `nme` (name, vars, expect, expected)"
        );
        let err = parse_cases("{\"expect\":[{\"regex\":\"(\"}]}\n", "c.jsonl", &base, None)
            .expect_err("bad regex");
        assert!(
            err.to_string()
                .starts_with("c.jsonl:1: `expect` item 1: invalid regex"),
            "{err}"
        );
        let err = parse_cases(
            "{\"name\":\"a\"}\n{\"name\":\"a\"}\n",
            "c.jsonl",
            &base,
            None,
        )
        .expect_err("duplicate names");
        assert!(
            err.to_string()
                .starts_with("c.jsonl:2: case name `a` is given twice"),
            "{err}"
        );
        let cases =
            parse_cases("{\"vars\":{\"x\":\"1\"}}\n\n{}\n", "c.jsonl", &base, None).expect("valid");
        assert_eq!(
            cases.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["#1", "#2"]
        );
    }

    #[test]
    fn every_bad_line_is_listed_up_to_a_cap() {
        let base = Map::new();
        let text = "{\"expect\":[{\"contain\":\"x\"}]}\n{\"name\":\"ok\"}\n{\"expect\":[{\"regex\":\"(\"}]}\n{torn\n";
        let err = parse_cases(text, "c.jsonl", &base, None).expect_err("three bad lines");
        let CasesError::Invalid { problems, more, .. } = &err else {
            panic!("{err:?}");
        };
        let lines: Vec<(usize, Option<&str>)> = problems
            .iter()
            .map(|p| (p.line, p.field.as_deref()))
            .collect();
        assert_eq!(
            lines,
            [(1, Some("expect")), (3, Some("expect")), (4, None)],
            "{err}"
        );
        assert_eq!(*more, 0);
        let shown = err.to_string();
        assert!(shown.starts_with("c.jsonl: 3 problem(s)\n"), "{shown}");
        assert!(
            shown.contains("c.jsonl:1: `expect` item 1: unknown expectation `contain`"),
            "{shown}"
        );
        assert!(shown.contains("c.jsonl:4: invalid JSON"), "{shown}");
        let many = "{torn\n".repeat(MAX_LISTED_PROBLEMS + 5);
        let err = parse_cases(&many, "c.jsonl", &base, None).expect_err("many bad lines");
        let CasesError::Invalid { problems, more, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!((problems.len(), *more), (MAX_LISTED_PROBLEMS, 5));
        assert!(
            err.to_string()
                .ends_with("… and 5 more (`ptrack check` lists them all)")
        );
    }

    #[test]
    fn the_pool_keeps_schedule_order_and_stops() {
        let work: Vec<usize> = (0..20).collect();
        let stop = AtomicBool::new(false);
        let mut seen = 0;
        let outs = run_pool(
            &work,
            4,
            &stop,
            |i| outcome(&i.to_string(), *i as f64, true, &[]),
            |_| seen += 1,
        );
        assert_eq!(seen, 20);
        let order: Vec<String> = outs.iter().map(|o| o.case.clone()).collect();
        assert_eq!(order, (0..20).map(|i| i.to_string()).collect::<Vec<_>>());
        stop.store(true, Ordering::SeqCst);
        assert!(
            run_pool(
                &work,
                2,
                &stop,
                |i| outcome(&i.to_string(), 1.0, true, &[]),
                |_| {}
            )
            .is_empty()
        );
    }

    #[test]
    fn endpoints_take_overrides_then_config_and_read_the_key_through_env() {
        let text = "[providers.openai]\nbase_url = \"https://h/v1\"\napi_key_env = \"MY_KEY\"\ntimeout_secs = 5\n";
        let config = Config::parse(text, Path::new("ptrack.toml")).expect("config");
        let v =
            crate::prompt::test_version("p", "1.0", "---\ngoal: g\nprovider: openai\n---\nhi\n");
        let env = |k: &str| (k == "MY_KEY").then(|| "sk-1".to_string());
        let trusted = Trust {
            project: crate::trust::ProjectTrust::Trusted,
            ..Trust::default()
        };
        let none = EndpointOverrides::default();
        let e = Endpoint::resolve(&config, &v, &none, &env, &trusted).expect("endpoint");
        assert_eq!(
            (e.base_url.as_str(), e.api_key.as_deref()),
            ("https://h/v1", Some("sk-1"))
        );
        assert_eq!(e.timeout, Duration::from_secs(5));
        let o = EndpointOverrides {
            provider: Some(Provider::Ollama),
            timeout_secs: Some(0.0),
            ..EndpointOverrides::default()
        };
        let err = Endpoint::resolve(&config, &v, &o, &env, &trusted).expect_err("timeout 0");
        assert_eq!(
            err.to_string(),
            "--timeout must be a number of seconds > 0, got 0"
        );
    }

    #[test]
    fn an_untrusted_project_cannot_send_a_key_to_its_own_server() {
        let text = "[providers.openai]\nbase_url = \"https://evil.example/v1\"\n";
        let config = Config::parse(text, Path::new("ptrack.toml")).expect("config");
        let v =
            crate::prompt::test_version("p", "1.0", "---\ngoal: g\nprovider: openai\n---\nhi\n");
        let untrusted = Trust {
            config_text: Some(text.to_string()),
            ..Trust::default()
        };
        let none = EndpointOverrides::default();
        let key = |k: &str| (k == "OPENAI_API_KEY").then(|| "sk-1".to_string());
        let err = Endpoint::resolve(&config, &v, &none, &key, &untrusted).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "refusing to send the API key in OPENAI_API_KEY to https://evil.example/v1 (base_url at ptrack.toml:2): this project's ptrack.toml is not trusted"
        );
        // No key in the environment: nothing secret to leak, the request may go.
        let e = Endpoint::resolve(&config, &v, &none, &|_: &str| None, &untrusted).expect("no key");
        assert_eq!(e.api_key, None);
        // --base-url is the user's choice; the user's config.toml fills what the project leaves.
        let mine = EndpointOverrides {
            base_url: Some("https://mine.example/v1".into()),
            ..EndpointOverrides::default()
        };
        let e = Endpoint::resolve(&config, &v, &mine, &key, &untrusted).expect("--base-url");
        assert_eq!(e.api_key.as_deref(), Some("sk-1"));
        let mut user = untrusted.clone();
        user.user.providers.insert(
            "openai".into(),
            crate::config::ProviderSettings {
                api_key_env: Some("CORP_TOKEN".into()),
                base_url: Some("https://evil.example".into()),
                ..Default::default()
            },
        );
        let corp = |k: &str| (k == "CORP_TOKEN").then(|| "ct".to_string());
        let e = Endpoint::resolve(&config, &v, &none, &corp, &user).expect("user-listed host");
        assert_eq!(
            (e.base_url.as_str(), e.api_key.as_deref()),
            ("https://evil.example/v1", Some("ct"))
        );
    }

    #[test]
    fn every_expectation_checks_and_says_why() {
        let parse = |v: Value| Expect::parse(&v, None).expect("valid");
        let a = |output: &'static str| Answer {
            output,
            ms: 10.0,
            completion_tokens: Some(12),
            expected: Some("The sky is blue."),
        };
        let cases: Vec<(Value, &str, Result<(), String>)> = vec![
            (serde_json::json!({"icontains": "NEXT step"}), "Next Step: walk", Ok(())),
            (serde_json::json!({"equals": "yes"}), "  yes\n", Ok(())),
            (serde_json::json!({"equals": "yes"}), "yes!", Err("equals \"yes\"".into())),
            (serde_json::json!({"starts_with": "Dear"}), "\nDear Ada", Ok(())),
            (serde_json::json!({"max_tokens": 10}), "x", Err("max_tokens 10 (got 12)".into())),
            (serde_json::json!({"max_tokens": 12}), "x", Ok(())),
            // strsim::normalized_levenshtein("The sky is blue", "The sky is blue.") = 1 - 1/16
            (serde_json::json!({"similar": 0.9}), "The sky is blue", Ok(())),
            (serde_json::json!({"similar": 0.9}), "Grass is green.", Err("similar 0.9 (got 0.38)".into())),
            (
                serde_json::json!({"json_schema": {"type": "object", "required": ["category"], "properties": {"category": {"enum": ["bug", "docs"]}}}}),
                "{\"category\": \"bug\"}",
                Ok(()),
            ),
            (
                serde_json::json!({"json_schema": {"type": "object", "properties": {"category": {"enum": ["bug", "docs"]}}}}),
                "{\"category\": \"feature\"}",
                Err("json_schema (inline): at /category: \"feature\" is not one of \"bug\" or \"docs\"".into()),
            ),
            (serde_json::json!({"json_schema": {"type": "object"}}), "not json", Err("json_schema (inline): not JSON".into())),
        ];
        for (e, out, want) in cases {
            assert_eq!(parse(e.clone()).check(&a(out)), want, "{e} on {out:?}");
        }
        assert!(Expect::parse(&serde_json::json!({"similar": 2}), None).is_err());
        assert!(Expect::parse(&serde_json::json!({"json_schema": {"type": 5}}), None).is_err());
        let err = parse_cases(
            "{\"expect\": [{\"similar\": 0.5}]}\n",
            "c.jsonl",
            &Map::new(),
            None,
        )
        .expect_err("similar needs expected");
        assert!(err.to_string().contains("lacks"), "{err}");
    }

    #[test]
    fn judge_replies_and_expectations_parse() {
        for (reply, want) in [
            (
                "{\"score\": 8, \"reason\": \"clear\"}",
                Some((8.0, Some("clear".to_string()))),
            ),
            ("Sure:\n```json\n{\"score\": 6.5}\n```", Some((6.5, None))),
            ("I would give it a 7 out of 10.", Some((7.0, None))),
            ("Score: 10", Some((10.0, None))),
            ("{\"score\": 42}", None),
            ("I cannot rate this.", None),
            ("rated 0 of 100", None),
        ] {
            assert_eq!(parse_judge_reply(reply), want, "{reply}");
        }
        let e = Expect::parse(&serde_json::json!({"judge": "grader", "min": 7}), None)
            .expect("short form");
        assert_eq!(e.describe(), "judge grader ≥ 7");
        let e = Expect::parse(
            &serde_json::json!({"judge": {"prompt": "grader", "version": "1.0", "min": 6}}),
            None,
        )
        .expect("long form");
        assert!(matches!(e, Expect::Judge { version: Some(_), min, .. } if min == 6.0));
        for bad in [
            serde_json::json!({"judge": "grader"}),
            serde_json::json!({"judge": "grader", "min": 11}),
            serde_json::json!({"judge": "Bad Name", "min": 5}),
            serde_json::json!({"judge": "grader", "min": 5, "extra": 1}),
        ] {
            assert!(Expect::parse(&bad, None).is_err(), "{bad}");
        }
    }
}
