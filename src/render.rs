//! Rendering a prompt version with its variables (Jinja syntax, via `minijinja`), and the
//! request bodies the model servers expect.
//!
//! A variable the text uses that was neither given nor has a default is an error naming it.
//! `check` gets template warnings from here too: declared variables the text never uses,
//! used variables that are not declared, and `{name}` placeholders of the older Python tool.

use std::collections::BTreeSet;
use std::path::Path;

use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value, json};

use crate::chat::{Message, Role};
use crate::prompt::PromptVersion;

/// Why a version could not be rendered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    /// Variables the text uses were not given and have no default.
    #[error("missing variable{} {}", if .0.len() == 1 { "" } else { "s" }, list(.0))]
    Missing(Vec<String>),
    /// Rendering went over a limit: the template does too much work or writes too much.
    #[error("{path}: rendering stopped: {what}")]
    Limit {
        /// The version file.
        path: String,
        /// Which limit, with its value.
        what: String,
    },
    /// The text is not a valid template.
    #[error("{path}:{line}: template error: {message}")]
    Syntax {
        /// The version file.
        path: String,
        /// 1-based line in the file.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

fn list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The work one render may do, in minijinja fuel (about one unit per instruction and per 64
/// bytes of data made). A prompt with loops over a few thousand items uses well under 1%.
pub const RENDER_FUEL: u64 = 10_000_000;

/// The largest rendered text, in bytes (16 MiB): far above any model's context window.
pub const MAX_RENDERED_BYTES: usize = 16 << 20;

/// A writer that refuses to grow past `limit` bytes.
struct Bounded {
    buf: Vec<u8>,
    limit: usize,
    over: bool,
}

impl std::io::Write for Bounded {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > self.limit {
            self.over = true;
            return Err(std::io::Error::other("rendered text too large"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(RENDER_FUEL));
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    env
}

fn syntax_error(v: &PromptVersion, first_line: usize, e: &minijinja::Error) -> RenderError {
    RenderError::Syntax {
        path: v.path.display().to_string(),
        line: first_line + e.line().unwrap_or(1) - 1,
        message: e.detail().unwrap_or(&e.kind().to_string()).to_string(),
    }
}

/// The templates of a version with the file line each starts on: the whole text of a plain
/// prompt, one per message of a chat prompt.
fn templates(v: &PromptVersion) -> Vec<(&str, usize)> {
    if v.messages.is_empty() {
        vec![(v.text.as_str(), v.text_line)]
    } else {
        v.messages
            .iter()
            .map(|m| (m.text.as_str(), m.line))
            .collect()
    }
}

/// The variables the text uses (top-level names), sorted.
pub fn used_variables(v: &PromptVersion) -> Result<BTreeSet<String>, RenderError> {
    let env = environment();
    let mut out = BTreeSet::new();
    for (text, line) in templates(v) {
        let t = env
            .template_from_str(text)
            .map_err(|e| syntax_error(v, line, &e))?;
        out.extend(t.undeclared_variables(false));
    }
    Ok(out)
}

/// A rendered version: one text, or the messages of a chat prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderedPrompt {
    /// A plain prompt's text.
    Text(String),
    /// A chat prompt's messages, in order.
    Messages(Vec<Message>),
}

impl RenderedPrompt {
    /// The messages a chat API is sent: a plain text is one user message.
    pub fn messages(&self) -> Vec<Message> {
        match self {
            RenderedPrompt::Text(t) => vec![Message {
                role: Role::User,
                content: t.clone(),
            }],
            RenderedPrompt::Messages(m) => m.clone(),
        }
    }

    /// The prompt as one text: a chat prompt written with its role lines.
    pub fn text(&self) -> String {
        match self {
            RenderedPrompt::Text(t) => t.clone(),
            RenderedPrompt::Messages(m) => crate::chat::to_text(m),
        }
    }
}

/// Render `v` with `vars`; declared defaults fill what is not given. A chat prompt comes back
/// as its text with role lines (see [`render_prompt`] for the messages).
///
/// ```
/// # use std::path::Path;
/// let text = "---\nvariables:\n  name:\n    default: there\n---\nHello {{ name }}!\n";
/// let v = ptrack::prompt::parse_prompt_file(Path::new("prompts/greet/1.0.md"), "greet",
///     &"1.0".parse().unwrap(), text.as_bytes()).version.unwrap();
/// assert_eq!(ptrack::render::render(&v, &Default::default()).unwrap(), "Hello there!\n");
/// ```
pub fn render(v: &PromptVersion, vars: &Map<String, Value>) -> Result<String, RenderError> {
    render_prompt(v, vars).map(|p| p.text())
}

/// Render `v` with `vars` into its text or, for a chat prompt, its messages (each message
/// rendered on its own, so a value can never start a new message).
pub fn render_prompt(
    v: &PromptVersion,
    vars: &Map<String, Value>,
) -> Result<RenderedPrompt, RenderError> {
    let mut ctx = vars.clone();
    for (name, var) in &v.meta.variables {
        if let (false, Some(d)) = (ctx.contains_key(name), &var.default) {
            ctx.insert(name.clone(), Value::String(d.clone()));
        }
    }
    if v.messages.is_empty() {
        return render_one(v, &v.text, v.text_line, &ctx).map(RenderedPrompt::Text);
    }
    let mut out = Vec::new();
    let mut total = 0usize;
    for m in &v.messages {
        let content = render_one(v, &m.text, m.line, &ctx)?;
        total += content.len();
        if total > MAX_RENDERED_BYTES {
            return Err(RenderError::Limit {
                path: v.path.display().to_string(),
                what: format!(
                    "the rendered text would be larger than {} MiB ({MAX_RENDERED_BYTES} bytes)",
                    MAX_RENDERED_BYTES >> 20
                ),
            });
        }
        out.push(Message {
            role: m.role,
            content,
        });
    }
    Ok(RenderedPrompt::Messages(out))
}

/// Render one template `text` of `v`, which starts on file line `first_line`, with `ctx`.
fn render_one(
    v: &PromptVersion,
    text: &str,
    first_line: usize,
    ctx: &Map<String, Value>,
) -> Result<String, RenderError> {
    let env = environment();
    let t = env
        .template_from_str(text)
        .map_err(|e| syntax_error(v, first_line, &e))?;
    let mut out = Bounded {
        buf: Vec::new(),
        limit: MAX_RENDERED_BYTES,
        over: false,
    };
    let result = t
        .render_captured_to(
            minijinja::Value::from(minijinja::value::Serde(ctx)),
            &mut out,
        )
        .map(|_| ());
    let limit = |what: String| RenderError::Limit {
        path: v.path.display().to_string(),
        what,
    };
    if out.over {
        return Err(limit(format!(
            "the rendered text would be larger than {} MiB ({MAX_RENDERED_BYTES} bytes)",
            MAX_RENDERED_BYTES >> 20
        )));
    }
    match result {
        // minijinja writes only UTF-8 text.
        Ok(()) => Ok(String::from_utf8_lossy(&out.buf).into_owned()),
        Err(e) if e.kind() == minijinja::ErrorKind::OutOfFuel => Err(limit(format!(
            "the template did more than {RENDER_FUEL} steps of work (a loop that runs too long?)"
        ))),
        // A variable only tested with `is defined` (or inside an `if` that was false) may be
        // absent; one the output needed is named, with every other absent one the text uses.
        Err(e) if e.kind() == minijinja::ErrorKind::UndefinedError => {
            let missing: Vec<String> = used_variables(v)?
                .into_iter()
                .filter(|n| !ctx.contains_key(n))
                .collect();
            if missing.is_empty() {
                Err(syntax_error(v, first_line, &e))
            } else {
                Err(RenderError::Missing(missing))
            }
        }
        Err(e) => Err(syntax_error(v, first_line, &e)),
    }
}

/// The messages as request bodies carry them: `[{"role": …, "content": …}]`.
fn messages_json(prompt: &RenderedPrompt) -> Value {
    Value::Array(
        prompt
            .messages()
            .into_iter()
            .map(|m| json!({ "role": m.role.as_str(), "content": m.content }))
            .collect(),
    )
}

/// The JSON body for Ollama (non-streaming): `/api/generate` with `prompt` for a plain text,
/// `/api/chat` with `messages` for a chat prompt ([`crate::provider::request_url`] picks the
/// path from the body).
pub fn ollama_body(v: &PromptVersion, model: &str, prompt: &RenderedPrompt) -> Value {
    let p = &v.meta.params;
    let mut options = Map::new();
    let mut put = |k: &str, val: Option<Value>| {
        if let Some(val) = val {
            options.insert(k.to_string(), val);
        }
    };
    put("temperature", p.temperature.map(Value::from));
    put("top_k", p.top_k.map(Value::from));
    put("top_p", p.top_p.map(Value::from));
    put("num_predict", p.token_limit.map(Value::from));
    match prompt {
        RenderedPrompt::Text(text) => {
            json!({ "model": model, "prompt": text, "stream": false, "options": options })
        }
        RenderedPrompt::Messages(_) => {
            json!({ "model": model, "messages": messages_json(prompt), "stream": false, "options": options })
        }
    }
}

/// The JSON body for an OpenAI-compatible `/v1/chat/completions` (top_k has no equivalent).
pub fn openai_body(v: &PromptVersion, model: &str, prompt: &RenderedPrompt) -> Value {
    let p = &v.meta.params;
    let mut body = json!({ "model": model, "messages": messages_json(prompt) });
    if let Some(obj) = body.as_object_mut() {
        if let Some(t) = p.temperature {
            obj.insert("temperature".into(), Value::from(t));
        }
        if let Some(t) = p.top_p {
            obj.insert("top_p".into(), Value::from(t));
        }
        if let Some(t) = p.token_limit {
            obj.insert("max_tokens".into(), Value::from(t));
        }
    }
    body
}

/// Variables from a JSON, YAML or TOML file (by its extension): an object of name → value.
/// `shown` is how errors name the file.
pub fn read_vars_file(path: &Path, shown: &Path) -> Result<Map<String, Value>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", shown.display()))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    let value: Value = match ext {
        "json" => serde_json::from_str(&text)
            .map_err(|e| format!("{}:{}: invalid JSON: {e}", shown.display(), e.line())),
        "yaml" | "yml" => serde_yaml::from_str(&text).map_err(|e| {
            let line = e
                .location()
                .map(|l| format!(":{}", l.line()))
                .unwrap_or_default();
            format!("{}{line}: invalid YAML: {e}", shown.display())
        }),
        "toml" => toml::from_str::<toml::Table>(&text)
            .map_err(|e| format!("{}: invalid TOML: {}", shown.display(), e.message()))
            .and_then(|t| serde_json::to_value(t).map_err(|e| e.to_string())),
        _ => Err(format!(
            "{}: use a .json, .yaml or .toml file",
            shown.display()
        )),
    }?;
    match value {
        Value::Object(m) => Ok(m),
        _ => Err(format!(
            "{}: expected an object of variable name → value",
            shown.display()
        )),
    }
}

/// A rendered version (the `render --json` model).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Rendered {
    /// The prompt.
    pub prompt: String,
    /// The version.
    pub version: crate::version::Version,
    /// The text with its variables filled in (a chat prompt's with its role lines).
    pub text: String,
    /// A chat prompt's messages with their variables filled in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Message>>,
}

/// What `render` gives: the text, or the request body of a provider's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderFormat {
    /// The rendered text ([`Rendered`]).
    Text,
    /// The JSON body for Ollama's /api/generate.
    Ollama,
    /// The JSON body for an OpenAI-compatible /v1/chat/completions.
    Openai,
}

/// A rendered version in one [`RenderFormat`] (the `render --json` model).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum RenderOutput {
    /// The text with its variables filled in.
    Text(Rendered),
    /// A provider's request body.
    Request(Value),
}

impl crate::project::Project {
    /// Version `v` rendered with `vars` in `format`; a request body names the version's model,
    /// else the project's default model.
    pub fn render_output(
        &self,
        v: &PromptVersion,
        vars: &Map<String, Value>,
        format: RenderFormat,
    ) -> Result<RenderOutput, RenderError> {
        let prompt = render_prompt(v, vars)?;
        let model = || {
            v.meta
                .model
                .clone()
                .or_else(|| self.config().defaults.model.clone())
                .unwrap_or_default()
        };
        Ok(match format {
            RenderFormat::Text => RenderOutput::Text(Rendered {
                prompt: v.name.clone(),
                version: v.version.clone(),
                text: prompt.text(),
                messages: match &prompt {
                    RenderedPrompt::Text(_) => None,
                    RenderedPrompt::Messages(m) => Some(m.clone()),
                },
            }),
            RenderFormat::Ollama => RenderOutput::Request(ollama_body(v, &model(), &prompt)),
            RenderFormat::Openai => RenderOutput::Request(openai_body(v, &model(), &prompt)),
        })
    }
}

/// A template problem for `check`: (1-based line in the file, message).
pub type TemplateWarning = (usize, String);

/// Template warnings for `check`: unused declared variables, undeclared used variables, and
/// single-brace `{name}` placeholders; a syntax error comes back as `Err`.
pub fn template_warnings(v: &PromptVersion) -> Result<Vec<TemplateWarning>, RenderError> {
    let used = used_variables(v)?;
    let mut out = Vec::new();
    let first_line_using = |name: &str| {
        v.text
            .lines()
            .position(|l| l.contains(name))
            .map_or(v.text_line, |i| v.text_line + i)
    };
    for name in v.meta.variables.keys() {
        if !used.contains(name) {
            out.push((
                v.text_line,
                format!("variable `{name}` is declared but the text never uses it"),
            ));
        }
    }
    for name in &used {
        if !v.meta.variables.contains_key(name) {
            out.push((
                first_line_using(name),
                format!("the text uses `{name}`, which is not declared under `variables` (add it, with a description)"),
            ));
        }
    }
    for (i, line) in v.text.lines().enumerate() {
        for name in single_brace_placeholders(line) {
            out.push((
                v.text_line + i,
                format!("`{{{name}}}` is a placeholder of the old tool and is sent as written; use `{{{{ {name} }}}}`"),
            ));
        }
    }
    Ok(out)
}

/// `{name}` occurrences not part of `{{ … }}` or `{% … %}`.
fn single_brace_placeholders(line: &str) -> Vec<String> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'{' {
            let prev = i.checked_sub(1).map(|j| b[j]);
            if matches!(b.get(i + 1), Some(b'{' | b'%' | b'#')) {
                i += 2;
                continue;
            }
            if prev == Some(b'{') {
                i += 1;
                continue;
            }
            let rest = &line[i + 1..];
            let len = rest
                .bytes()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                .count();
            let starts_ok = rest
                .bytes()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_');
            if starts_ok
                && rest.as_bytes().get(len) == Some(&b'}')
                && rest.as_bytes().get(len + 1) != Some(&b'}')
            {
                out.push(rest[..len].to_string());
                i += len + 2;
                continue;
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(text: &str) -> PromptVersion {
        crate::prompt::test_version("p", "1.0", text)
    }

    fn vars(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect()
    }

    #[test]
    fn renders_with_values_defaults_conditionals_and_loops() {
        let v = version(
            "---\nvariables:\n  name: {default: there}\n  items: {}\n  loud: {}\n---\nHi {{ name }}{% if loud %}!{% endif %}\n{% for i in items %}- {{ i }}\n{% endfor %}",
        );
        let mut given = vars(&[("loud", "yes")]);
        given.insert("items".into(), json!(["a", "b"]));
        assert_eq!(
            render(&v, &given).expect("renders"),
            "Hi there!\n- a\n- b\n"
        );
    }

    #[test]
    fn runaway_loops_and_huge_output_stop_naming_the_limit() {
        let v = version(
            "---\ngoal: g\n---\n{% for i in range(100000) %}{% for j in range(100000) %}.{% endfor %}{% endfor %}\n",
        );
        assert_eq!(
            render(&v, &Map::new()).expect_err("loops").to_string(),
            "prompts/p/1.0.md: rendering stopped: the template did more than 10000000 steps of work (a loop that runs too long?)"
        );
        let v = version("---\ngoal: g\n---\n{{ \"x\" * 100000000 }}\n");
        assert_eq!(
            render(&v, &Map::new()).expect_err("huge").to_string(),
            "prompts/p/1.0.md: rendering stopped: the rendered text would be larger than 16 MiB (16777216 bytes)"
        );
        // A big value given by the user is output like any other, up to the limit.
        let v = version("---\ngoal: g\n---\n{{ doc }}\n");
        let doc = "d".repeat(MAX_RENDERED_BYTES - 1);
        let out = render(&v, &vars(&[("doc", &doc)])).expect("fits");
        assert_eq!(out.len(), MAX_RENDERED_BYTES);
    }

    #[test]
    fn missing_variables_are_named() {
        let v = version("---\ngoal: g\n---\n{{ a }} and {{ b }}\n");
        assert_eq!(
            render(&v, &vars(&[("a", "x")]))
                .expect_err("b missing")
                .to_string(),
            "missing variable `b`"
        );
    }

    #[test]
    fn syntax_errors_name_the_file_line() {
        let v = version("---\ngoal: g\n---\nline one\n{{ broken\n");
        let e = render(&v, &Map::new()).expect_err("syntax");
        assert!(
            e.to_string()
                .starts_with("prompts/p/1.0.md:5: template error"),
            "{e}"
        );
    }

    #[test]
    fn bodies_follow_the_provider_apis() {
        let v = version("---\ntemperature: 0.2\ntop_k: 5\ntop_p: 0.9\ntoken_limit: 64\n---\nx\n");
        assert_eq!(
            ollama_body(&v, "m", &RenderedPrompt::Text("hi".into())),
            json!({"model": "m", "prompt": "hi", "stream": false, "options": {"temperature": 0.2, "top_k": 5, "top_p": 0.9, "num_predict": 64}})
        );
        assert_eq!(
            openai_body(&v, "m", &RenderedPrompt::Text("hi".into())),
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2, "top_p": 0.9, "max_tokens": 64})
        );
    }

    #[test]
    fn check_warnings() {
        let v = version(
            "---\nvariables:\n  unused: {}\n  name: {}\n---\nHi {name} and {{ name }} and {{ other }}\n",
        );
        let w: Vec<String> = template_warnings(&v)
            .expect("valid")
            .into_iter()
            .map(|(l, m)| format!("{l}: {m}"))
            .collect();
        assert_eq!(
            w,
            [
                "6: variable `unused` is declared but the text never uses it",
                "6: the text uses `other`, which is not declared under `variables` (add it, with a description)",
                "6: `{name}` is a placeholder of the old tool and is sent as written; use `{{ name }}`",
            ]
        );
        assert_eq!(
            single_brace_placeholders("{{ a }} {% if b %}{c}{% endif %} {\"json\": 1} {d_2}"),
            ["c", "d_2"]
        );
    }
}
