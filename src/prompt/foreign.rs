//! Version files in other tools' formats, read in place: Microsoft Prompty (`.prompty`),
//! Google Dotprompt (`.prompt`) and GitHub Models (`.prompt.yml`).
//!
//! Each is mapped onto the attributes of ptrack's own format (model, provider, temperature,
//! token limit, top-k, top-p, variables with defaults, an output schema), with the same
//! `path:line: field` diagnostics. Prompty bodies are Jinja already; a Dotprompt body's
//! Handlebars (variables, `#if`, `#unless`, `#each`, `role`) is translated to Jinja, and any
//! other helper is an error naming it; GitHub Models messages become chat messages.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Parser, PromptMeta, PromptVersion, SourceFormat, Variable, blob_sha, show};
use crate::chat::{MessageTemplate, Role};
use crate::version::Version;

/// Which foreign format a file is in, by its name (`None` for ptrack's own `.md`, `.toml`).
pub fn format_of(path: &std::path::Path) -> Option<SourceFormat> {
    let name = path.file_name()?.to_str()?;
    if name.ends_with(".prompt.yml") || name.ends_with(".prompt.yaml") {
        Some(SourceFormat::GithubModels)
    } else if name.ends_with(".prompty") {
        Some(SourceFormat::Prompty)
    } else if name.ends_with(".prompt") {
        Some(SourceFormat::Dotprompt)
    } else {
        None
    }
}

/// The 1-based file line of the nested key `path` (`["model", "parameters", "temperature"]`)
/// in YAML `matter`, which starts on file line `first`: each key is looked for after its
/// parent's line, more indented than it.
fn key_line(matter: &str, first: usize, path: &[&str]) -> Option<usize> {
    let lines: Vec<&str> = matter.lines().collect();
    let mut from = 0;
    let mut indent: Option<usize> = None;
    let mut found = None;
    for key in path {
        let mut hit = None;
        for (i, line) in lines.iter().enumerate().skip(from) {
            let body = line.trim_start().trim_start_matches("- ");
            let ind = line.len() - line.trim_start().len();
            if let Some(parent) = indent
                && ind <= parent
                && !line.trim().is_empty()
                && i > from
            {
                break;
            }
            let is_key = [
                format!("{key}:"),
                format!("\"{key}\":"),
                format!("'{key}':"),
            ]
            .iter()
            .any(|k| body.starts_with(k.as_str()));
            if is_key {
                hit = Some((i, ind));
                break;
            }
        }
        let (i, ind) = hit?;
        from = i + 1;
        indent = Some(ind);
        found = Some(i + first);
    }
    found
}

/// The value at `path` in a JSON object.
fn at<'v>(root: &'v BTreeMap<String, Value>, path: &[&str]) -> Option<&'v Value> {
    let (first, rest) = path.split_first()?;
    let mut v = root.get(*first)?;
    for k in rest {
        v = v.get(*k)?;
    }
    (!v.is_null()).then_some(v)
}

/// A `provider/model` name split into ptrack's provider (when it is one) and model.
fn split_model(model: &str) -> (Option<super::Provider>, String) {
    match model.split_once('/') {
        Some(("ollama", m)) => (Some(super::Provider::Ollama), m.to_string()),
        Some(("openai", m)) => (Some(super::Provider::Openai), m.to_string()),
        _ => (None, model.to_string()),
    }
}

impl Parser<'_> {
    /// Parse a foreign version file (its format from [`format_of`]).
    pub(super) fn parse_foreign(
        &mut self,
        format: SourceFormat,
        name: &str,
        version: &Version,
        bytes: &[u8],
    ) -> Option<PromptVersion> {
        let Ok(text) = std::str::from_utf8(bytes) else {
            self.error(
                Some(1),
                None,
                "file is not valid UTF-8; save it as UTF-8".to_string(),
            );
            return None;
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let sections = if format == SourceFormat::GithubModels {
            super::Sections {
                format: SourceFormat::MarkdownYaml,
                matter: text,
                matter_line: 1,
                body: "",
                body_line: 1,
            }
        } else {
            let s = self.split_front_matter(text)?;
            if s.format != SourceFormat::MarkdownYaml {
                self.error(
                    Some(1),
                    None,
                    "the front matter of this format is YAML between `---` lines".to_string(),
                );
                return None;
            }
            s
        };
        let table = self.parse_matter(&sections)?;
        let line = |p: &[&str]| key_line(sections.matter, sections.matter_line, p);
        let mut meta = PromptMeta::default();
        let mut cases = Vec::new();
        let (text, text_line, messages) = match format {
            SourceFormat::Prompty => {
                self.prompty(&table, &line, &mut meta);
                (sections.body.to_string(), sections.body_line, None)
            }
            SourceFormat::Dotprompt => {
                self.dotprompt(&table, &line, &mut meta);
                let jinja = self.handlebars(sections.body, sections.body_line)?;
                (jinja, sections.body_line, None)
            }
            _ => {
                let msgs = self.github(&table, &line, &mut meta, sections.matter)?;
                cases = self.github_cases(&table, &line, &mut meta);
                let text = msgs
                    .iter()
                    .map(|m| format!("{}:\n{}\n", m.role, m.text))
                    .collect::<Vec<_>>()
                    .join("\n");
                let first = msgs.first().map_or(1, |m| m.line);
                (text, first, Some(msgs))
            }
        };
        if text.trim().is_empty() {
            self.error(
                Some(text_line),
                Some("prompt"),
                "the prompt text is empty".to_string(),
            );
        }
        let messages = match messages {
            Some(m) => m,
            None => {
                let (split, diags) = crate::chat::split(self.path, &text, text_line);
                self.diags.extend(diags);
                split.unwrap_or_default()
            }
        };
        Some(PromptVersion {
            name: name.to_string(),
            version: version.clone(),
            path: self.path.to_path_buf(),
            format,
            meta,
            text,
            text_line,
            messages,
            embedded_cases: cases,
            blob_sha: blob_sha(bytes),
        })
    }

    /// A GitHub Models file's `testData` as eval cases: each item's keys but `expected` are
    /// the variables (declared when the text does not), and the string `evaluators` are every
    /// case's expectations; an evaluator ptrack cannot run is a warning.
    fn github_cases(
        &mut self,
        table: &BTreeMap<String, Value>,
        line: &dyn Fn(&[&str]) -> Option<usize>,
        meta: &mut PromptMeta,
    ) -> Vec<Value> {
        let mut expect = Vec::new();
        if let Some(Value::Array(evals)) = at(table, &["evaluators"]) {
            for e in evals {
                let name = e.get("name").and_then(Value::as_str).unwrap_or("(unnamed)");
                let check = e.get("string").and_then(Value::as_object);
                let mapped: Option<Vec<Value>> = check.map(|c| {
                    c.iter()
                        .filter_map(|(k, v)| {
                            let s = v.as_str()?;
                            Some(match k.as_str() {
                                "contains" => serde_json::json!({ "contains": s }),
                                "startsWith" => serde_json::json!({ "starts_with": s }),
                                "equals" => serde_json::json!({ "equals": s }),
                                "endsWith" => serde_json::json!({
                                    "regex": format!("{}\\s*\\z", regex::escape(s))
                                }),
                                _ => return None,
                            })
                        })
                        .collect()
                });
                match mapped {
                    Some(m) if !m.is_empty() && m.len() == check.map_or(0, |c| c.len()) => {
                        expect.extend(m)
                    }
                    _ => {
                        let how = e
                            .get("uses")
                            .and_then(Value::as_str)
                            .map_or("a check".to_string(), |u| format!("uses {u}"));
                        self.warn(
                            line(&["evaluators"]),
                            Some("evaluators"),
                            format!("evaluator `{name}` {how}, which ptrack cannot run; it is left out (string checks: contains, startsWith, endsWith, equals)"),
                        );
                    }
                }
            }
        }
        let Some(Value::Array(items)) = at(table, &["testData"]) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let Some(obj) = item.as_object() else {
                self.error(
                    line(&["testData"]),
                    Some("testData"),
                    format!("testData item {} must be a table of variables", i + 1),
                );
                continue;
            };
            let mut vars = serde_json::Map::new();
            for (k, v) in obj {
                if k != "expected" {
                    vars.insert(k.clone(), v.clone());
                    meta.variables.entry(k.clone()).or_default();
                }
            }
            let mut case = serde_json::Map::new();
            case.insert("name".into(), Value::String(format!("testData {}", i + 1)));
            case.insert("vars".into(), Value::Object(vars));
            if let Some(e) = obj.get("expected").and_then(Value::as_str) {
                case.insert("expected".into(), Value::String(e.to_string()));
            }
            case.insert("expect".into(), Value::Array(expect.clone()));
            out.push(Value::Object(case));
        }
        out
    }

    /// Sampling parameters found at `path` (a key per ptrack attribute; the first alias set wins).
    fn foreign_params(
        &mut self,
        table: &BTreeMap<String, Value>,
        line: &dyn Fn(&[&str]) -> Option<usize>,
        meta: &mut PromptMeta,
        base: &[&str],
        keys: &[(&str, &[&str])],
    ) {
        for (attr, aliases) in keys {
            let Some((key, v)) = aliases.iter().find_map(|k| {
                let mut p = base.to_vec();
                p.push(k);
                at(table, &p).map(|v| (p, v))
            }) else {
                continue;
            };
            let field = key.join(".");
            let l = line(&key);
            match *attr {
                "temperature" => {
                    meta.params.temperature =
                        self.number_in(&field, v, l, 0.0, 2.0, true, "between 0 and 2")
                }
                "top_p" => {
                    meta.params.top_p = self.number_in(
                        &field,
                        v,
                        l,
                        0.0,
                        1.0,
                        false,
                        "greater than 0 and at most 1",
                    )
                }
                "token_limit" => meta.params.token_limit = self.positive_int(&field, v, l),
                "top_k" => meta.params.top_k = self.positive_int(&field, v, l),
                _ => {}
            }
        }
    }

    fn text_field(
        &mut self,
        table: &BTreeMap<String, Value>,
        line: &dyn Fn(&[&str]) -> Option<usize>,
        path: &[&str],
    ) -> Option<String> {
        let v = at(table, path)?;
        let field = path.join(".");
        self.string(&field, v, line(path))
    }

    fn prompty(
        &mut self,
        table: &BTreeMap<String, Value>,
        line: &dyn Fn(&[&str]) -> Option<usize>,
        meta: &mut PromptMeta,
    ) {
        meta.goal = self.text_field(table, line, &["description"]);
        if let Some(a) = at(table, &["authors"]) {
            meta.extra.insert("authors".into(), a.clone());
        }
        if let Some(Value::Array(tags)) = at(table, &["tags"]) {
            meta.tags = tags
                .iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect();
        }
        match at(table, &["model"]) {
            // v2 shorthand: `model: gpt-4o`.
            Some(Value::String(id)) => meta.model = Some(id.clone()),
            Some(Value::Object(m)) => {
                // v2: model.id / model.provider / model.options; v1: model.configuration /
                // model.parameters.
                if m.contains_key("id") {
                    meta.model = self.text_field(table, line, &["model", "id"]);
                } else {
                    meta.model = ["azure_deployment", "model", "name"]
                        .iter()
                        .find_map(|k| at(table, &["model", "configuration", k]))
                        .and_then(|v| v.as_str().map(str::to_string));
                }
                let provider = at(table, &["model", "provider"])
                    .or_else(|| at(table, &["model", "configuration", "type"]))
                    .and_then(Value::as_str);
                meta.provider = match provider {
                    Some("ollama") => Some(super::Provider::Ollama),
                    Some(p) if p.contains("openai") || p == "azure" => {
                        Some(super::Provider::Openai)
                    }
                    _ => None,
                };
                let keys: &[(&str, &[&str])] = &[
                    ("temperature", &["temperature"]),
                    (
                        "token_limit",
                        &[
                            "max_tokens",
                            "maxOutputTokens",
                            "maxTokens",
                            "max_output_tokens",
                        ],
                    ),
                    ("top_p", &["top_p", "topP"]),
                    ("top_k", &["top_k", "topK"]),
                ];
                self.foreign_params(table, line, meta, &["model", "parameters"], keys);
                self.foreign_params(table, line, meta, &["model", "options"], keys);
                for (k, path) in [
                    (
                        "response_format",
                        &["model", "parameters", "response_format"][..],
                    ),
                    ("stop", &["model", "parameters", "stop"][..]),
                    ("seed", &["model", "parameters", "seed"][..]),
                    ("stop", &["model", "options", "stopSequences"][..]),
                    ("seed", &["model", "options", "seed"][..]),
                ] {
                    if let Some(v) = at(table, path) {
                        meta.extra.insert(k.into(), v.clone());
                    }
                }
            }
            Some(other) => self.error(
                line(&["model"]),
                Some("model"),
                format!("model must be a model id or a table, got {}", show(other)),
            ),
            None => {}
        }
        // Inputs: v1 a table of name → {type, description, default, sample}; v2 a list of
        // {name, kind, description, default}. `sample` values stand in for missing defaults,
        // as Prompty itself uses them when run without inputs.
        let sample = match at(table, &["sample"]) {
            Some(Value::Object(m)) => m.clone(),
            _ => Default::default(),
        };
        let mut add = |name: &str, spec: Option<&serde_json::Map<String, Value>>| {
            let mut var = Variable::default();
            if let Some(s) = spec {
                var.description = s
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                var.default = s
                    .get("default")
                    .or_else(|| s.get("sample"))
                    .or_else(|| s.get("example"))
                    .and_then(value_text);
            }
            if var.default.is_none() {
                var.default = sample.get(name).and_then(value_text);
            }
            meta.variables.insert(name.to_string(), var);
        };
        match at(table, &["inputs"]) {
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    add(k, v.as_object());
                }
            }
            Some(Value::Array(items)) => {
                for item in items {
                    match item.get("name").and_then(Value::as_str) {
                        Some(n) => add(n, item.as_object()),
                        None => self.error(
                            line(&["inputs"]),
                            Some("inputs"),
                            "each input in a list needs a `name`".to_string(),
                        ),
                    }
                }
            }
            Some(other) => self.error(
                line(&["inputs"]),
                Some("inputs"),
                format!("inputs must be a table or a list, got {}", show(other)),
            ),
            None => {
                for k in sample.keys() {
                    add(k, None);
                }
            }
        }
        if let Some(o) = at(table, &["outputs"]) {
            meta.extra.insert("output_schema".into(), o.clone());
        }
    }

    fn dotprompt(
        &mut self,
        table: &BTreeMap<String, Value>,
        line: &dyn Fn(&[&str]) -> Option<usize>,
        meta: &mut PromptMeta,
    ) {
        meta.goal = self.text_field(table, line, &["description"]);
        if let Some(m) = self.text_field(table, line, &["model"]) {
            let (provider, model) = split_model(&m);
            meta.provider = provider;
            meta.model = Some(model);
        }
        self.foreign_params(
            table,
            line,
            meta,
            &["config"],
            &[
                ("temperature", &["temperature"]),
                ("token_limit", &["maxOutputTokens"]),
                ("top_p", &["topP"]),
                ("top_k", &["topK"]),
            ],
        );
        if let Some(s) = at(table, &["config", "stopSequences"]) {
            meta.extra.insert("stop".into(), s.clone());
        }
        let defaults = match at(table, &["input", "default"]) {
            Some(Value::Object(m)) => m.clone(),
            _ => Default::default(),
        };
        match at(table, &["input", "schema"]) {
            // JSON Schema: `type: object` with `properties`.
            Some(Value::Object(s)) if s.contains_key("type") || s.contains_key("properties") => {
                if let Some(Value::Object(props)) = s.get("properties") {
                    for (k, p) in props {
                        meta.variables.insert(
                            k.clone(),
                            Variable {
                                description: p
                                    .get("description")
                                    .and_then(Value::as_str)
                                    .map(str::to_string),
                                default: p
                                    .get("default")
                                    .or_else(|| defaults.get(k))
                                    .and_then(value_text),
                            },
                        );
                    }
                }
            }
            // Picoschema: `name?(type): type, description`.
            Some(Value::Object(s)) => {
                for (k, v) in s {
                    let name = k.split(['(', '?']).next().unwrap_or(k).trim().to_string();
                    let description = v
                        .as_str()
                        .and_then(|t| t.split_once(','))
                        .map(|(_, d)| d.trim().to_string())
                        .or_else(|| {
                            v.get("description")
                                .and_then(Value::as_str)
                                .map(str::to_string)
                        });
                    meta.variables.insert(
                        name.clone(),
                        Variable {
                            description,
                            default: defaults.get(&name).and_then(value_text),
                        },
                    );
                }
            }
            Some(other) => self.error(
                line(&["input", "schema"]),
                Some("input.schema"),
                format!(
                    "input.schema must be a Picoschema or JSON Schema table, got {}",
                    show(other)
                ),
            ),
            None => {
                for (k, v) in &defaults {
                    meta.variables.insert(
                        k.clone(),
                        Variable {
                            description: None,
                            default: value_text(v),
                        },
                    );
                }
            }
        }
        if let Some(o) = at(table, &["output", "schema"]) {
            meta.extra.insert("output_schema".into(), o.clone());
        }
        if let Some(f) = at(table, &["output", "format"]) {
            meta.extra.insert("output_format".into(), f.clone());
        }
    }

    fn github(
        &mut self,
        table: &BTreeMap<String, Value>,
        line: &dyn Fn(&[&str]) -> Option<usize>,
        meta: &mut PromptMeta,
        matter: &str,
    ) -> Option<Vec<MessageTemplate>> {
        meta.goal = self
            .text_field(table, line, &["description"])
            .or_else(|| at(table, &["name"]).and_then(value_text));
        if let Some(m) = self.text_field(table, line, &["model"]) {
            // GitHub Models ids are `publisher/model` on an OpenAI-compatible API.
            meta.model = Some(m);
            meta.provider = Some(super::Provider::Openai);
        }
        self.foreign_params(
            table,
            line,
            meta,
            &["modelParameters"],
            &[
                ("temperature", &["temperature"]),
                ("token_limit", &["maxTokens", "maxCompletionTokens"]),
                ("top_p", &["topP"]),
            ],
        );
        if let Some(f) = at(table, &["responseFormat"]) {
            meta.extra.insert("output_format".into(), f.clone());
        }
        if let Some(s) = at(table, &["jsonSchema"]) {
            meta.extra.insert("output_schema".into(), s.clone());
        }
        let Some(Value::Array(items)) = at(table, &["messages"]) else {
            self.error(
                line(&["messages"]).or(Some(1)),
                Some("messages"),
                "messages must be a list of {role, content}".to_string(),
            );
            return None;
        };
        // The line of each `content:` in order, for template errors.
        let content_lines: Vec<usize> = matter
            .lines()
            .enumerate()
            .filter(|(_, l)| {
                let t = l.trim_start().trim_start_matches("- ");
                t.starts_with("content:")
            })
            .map(|(i, _)| i + 1)
            .collect();
        let messages_line = line(&["messages"]);
        let mut out = Vec::new();
        for (i, m) in items.iter().enumerate() {
            let l = content_lines.get(i).copied().or(messages_line);
            let role = m.get("role").and_then(Value::as_str);
            let Some(role) = role.and_then(Role::parse) else {
                self.error(
                    l,
                    Some("messages"),
                    format!(
                        "message {} has role {}; the roles are system, user and assistant",
                        i + 1,
                        role.map_or("nothing".to_string(), |r| format!("{r:?}"))
                    ),
                );
                continue;
            };
            let Some(content) = m.get("content").and_then(Value::as_str) else {
                self.error(
                    l,
                    Some("messages"),
                    format!("message {} ({role}) has no `content` text", i + 1),
                );
                continue;
            };
            if content.trim().is_empty() {
                self.error(
                    l,
                    Some("messages"),
                    format!("message {} ({role}) is empty", i + 1),
                );
            }
            // A block scalar (`content: |`) starts on the next line.
            let block = l.is_some_and(|l| {
                matter
                    .lines()
                    .nth(l - 1)
                    .is_some_and(|t| t.trim_end().ends_with('|') || t.trim_end().ends_with('>'))
            });
            out.push(MessageTemplate {
                role,
                text: content.trim_end_matches('\n').to_string(),
                line: l.map_or(1, |l| if block { l + 1 } else { l }),
            });
        }
        Some(out)
    }

    /// A Dotprompt body's Handlebars as Jinja, line for line where the tags allow. Supported:
    /// `{{var}}`, `{{{var}}}`, `{{#if}}`/`{{else}}`/`{{/if}}`, `{{#unless}}`, `{{#each}}` with
    /// `this` and `@index`/`@first`/`@last`, `{{role "…"}}` and comments; any other helper is
    /// an error naming it and its line.
    fn handlebars(&mut self, body: &str, first_line: usize) -> Option<String> {
        let mut out = String::new();
        let mut rest = body;
        let mut line = first_line;
        let mut ok = true;
        // What each open block closes with.
        let mut open: Vec<(&'static str, usize)> = Vec::new();
        // Whether the source has only blanks since its last line break (tags are not blank).
        let mut at_line_start = true;
        while let Some(start) = rest.find("{{") {
            let before = &rest[..start];
            out.push_str(&escape_jinja(before));
            line += before.matches('\n').count();
            let triple = rest[start..].starts_with("{{{");
            let after = &rest[start + if triple { 3 } else { 2 }..];
            let (close, comment) = if after.starts_with("!--") {
                ("--}}", true)
            } else if after.starts_with('!') {
                ("}}", true)
            } else if triple {
                ("}}}", false)
            } else {
                ("}}", false)
            };
            let Some(end) = after.find(close) else {
                self.error(
                    Some(line),
                    Some("template"),
                    "`{{` is never closed with `}}`".to_string(),
                );
                return None;
            };
            let inner = &after[..end];
            let tag_lines = inner.matches('\n').count();
            rest = &after[end + close.len()..];
            if comment {
                let text = inner
                    .strip_prefix("!--")
                    .or_else(|| inner.strip_prefix('!'));
                out.push_str("{#");
                out.push_str(&text.unwrap_or(inner).replace("#}", "# }"));
                out.push_str("#}");
                line += tag_lines;
                at_line_start = false;
                continue;
            }
            let (trim_l, trim_r) = (inner.starts_with('~'), inner.ends_with('~'));
            let expr = inner.trim_matches('~').trim();
            let (l, r) = (if trim_l { "-" } else { "" }, if trim_r { "-" } else { "" });
            let mut words = expr.split_whitespace();
            let head = words.next().unwrap_or("");
            let args: Vec<&str> = words.collect();
            let jinja = match head {
                "#if" if args.len() == 1 => {
                    open.push(("if", line));
                    Some(format!("{{%{l} if {} %}}", path(args[0])))
                }
                "#unless" if args.len() == 1 => {
                    open.push(("if", line));
                    Some(format!("{{%{l} if not {} %}}", path(args[0])))
                }
                "#each" if args.len() == 1 => {
                    open.push(("for", line));
                    Some(format!("{{%{l} for this in {} %}}{r}", path(args[0])))
                        .map(|s| s.replace("%}-", "-%}"))
                }
                "else" if args.is_empty() && open.last().map(|o| o.0) == Some("if") => {
                    Some(format!("{{%{l} else {r}%}}"))
                }
                "/if" | "/unless" if open.last().map(|o| o.0) == Some("if") => {
                    open.pop();
                    Some(format!("{{%{l} endif {r}%}}"))
                }
                "/each" if open.last().map(|o| o.0) == Some("for") => {
                    open.pop();
                    Some(format!("{{%{l} endfor {r}%}}"))
                }
                "role" if args.len() == 1 => {
                    let role = args[0].trim_matches(['"', '\'']);
                    match Role::parse(role) {
                        Some(role) => {
                            // A role line of its own, as chat prompts are split.
                            if !out.is_empty() && !out.ends_with('\n') {
                                out.push('\n');
                            }
                            let nl = if rest.starts_with('\n') { "" } else { "\n" };
                            Some(format!("{role}:{nl}"))
                        }
                        None => {
                            self.error(
                                Some(line),
                                Some("template"),
                                format!(
                                    "{{{{role {}}}}}: the roles are system, user and assistant",
                                    args[0]
                                ),
                            );
                            ok = false;
                            None
                        }
                    }
                }
                h if args.is_empty() && is_path(h) => Some(format!("{{{{{l} {} {r}}}}}", path(h))),
                h => {
                    let helper = match h.trim_start_matches(['#', '/', '>']) {
                        "" => args.first().copied().unwrap_or(""),
                        named => named,
                    };
                    let what = if h.starts_with('>') {
                        format!("partial `{helper}`")
                    } else if h.starts_with('/') {
                        format!("`{h}` closes no open block")
                    } else {
                        format!("helper `{helper}`")
                    };
                    self.error(
                        Some(line),
                        Some("template"),
                        format!("unsupported Handlebars {what}: ptrack renders variables, #if, #unless, #each and role"),
                    );
                    ok = false;
                    None
                }
            };
            if let Some(j) = jinja {
                // A block tag alone on its line takes the line with it, as Handlebars does.
                let block = head.starts_with(['#', '/']) || head == "else";
                let blank = |t: &str| t.chars().all(|c| c == ' ' || c == '\t');
                let alone_before = match before.rfind('\n') {
                    Some(i) => blank(&before[i + 1..]),
                    None => at_line_start && blank(before),
                };
                let after_ws = rest.trim_start_matches([' ', '\t']);
                if block && alone_before && (after_ws.starts_with('\n') || after_ws.is_empty()) {
                    out.truncate(out.trim_end_matches([' ', '\t']).len());
                    out.push_str(&j);
                    rest = after_ws.strip_prefix('\n').unwrap_or(after_ws);
                    line += 1;
                    at_line_start = true;
                } else {
                    out.push_str(&j);
                    at_line_start = false;
                }
            }
            line += tag_lines;
        }
        out.push_str(&escape_jinja(rest));
        if let Some((block, opened)) = open.last() {
            self.error(
                Some(*opened),
                Some("template"),
                format!(
                    "a `{{{{#{}}}}}` block is never closed",
                    if *block == "for" { "each" } else { "if" }
                ),
            );
            ok = false;
        }
        ok.then_some(out)
    }
}

/// A version as ptrack's own `.md` file: YAML front matter with its attributes, then its
/// text (a chat prompt's messages as role lines). What `import` and `create --from` write for
/// a version in another format.
pub fn to_ptrack_text(v: &PromptVersion) -> String {
    use serde_yaml::Value as Y;
    let mut m = serde_yaml::Mapping::new();
    let mut put = |k: &str, val: Y| {
        m.insert(Y::String(k.to_string()), val);
    };
    let meta = &v.meta;
    if let Some(g) = &meta.goal {
        put("goal", Y::String(g.clone()));
    }
    if let Some(x) = &meta.model {
        put("model", Y::String(x.clone()));
    }
    if let Some(p) = meta.provider {
        put("provider", Y::String(p.as_str().to_string()));
    }
    let p = &meta.params;
    if let Some(t) = p.temperature {
        put("temperature", Y::from(t));
    }
    if let Some(t) = p.token_limit {
        put("token_limit", Y::from(t));
    }
    if let Some(t) = p.top_k {
        put("top_k", Y::from(t));
    }
    if let Some(t) = p.top_p {
        put("top_p", Y::from(t));
    }
    if !meta.tags.is_empty() {
        put(
            "tags",
            Y::Sequence(meta.tags.iter().map(|t| Y::String(t.clone())).collect()),
        );
    }
    if !meta.variables.is_empty() {
        let mut vars = serde_yaml::Mapping::new();
        for (name, var) in &meta.variables {
            let mut spec = serde_yaml::Mapping::new();
            if let Some(d) = &var.description {
                spec.insert(Y::String("description".into()), Y::String(d.clone()));
            }
            if let Some(d) = &var.default {
                spec.insert(Y::String("default".into()), Y::String(d.clone()));
            }
            vars.insert(Y::String(name.clone()), Y::Mapping(spec));
        }
        put("variables", Y::Mapping(vars));
    }
    if let Some(d) = &meta.description {
        put("description", Y::String(d.clone()));
    }
    for (k, val) in &meta.extra {
        put(k, serde_yaml::to_value(val).unwrap_or(Y::Null));
    }
    let matter = serde_yaml::to_string(&Y::Mapping(m)).unwrap_or_default();
    let matter = if matter.trim() == "{}" {
        String::new()
    } else {
        matter
    };
    let body = if v.messages.is_empty() {
        v.text.clone()
    } else {
        crate::chat::to_text(
            &v.messages
                .iter()
                .map(|m| crate::chat::Message {
                    role: m.role,
                    content: m.text.clone(),
                })
                .collect::<Vec<_>>(),
        )
    };
    let nl = if body.ends_with('\n') { "" } else { "\n" };
    format!("---\n{matter}---\n{body}{nl}")
}

/// Whether a Handlebars expression is a variable path: `name`, `a.b`, `this`, `@index`.
fn is_path(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@'))
        && !s.starts_with('.')
}

/// A Handlebars path as Jinja: `@index` → `loop.index0`, `this.x` stays, `a.b` stays.
fn path(s: &str) -> String {
    match s {
        "@index" => "loop.index0".to_string(),
        "@first" => "loop.first".to_string(),
        "@last" => "loop.last".to_string(),
        other => other.trim_start_matches("./").to_string(),
    }
}

/// Literal text of a Handlebars body with the Jinja openers `{%` and `{#` escaped.
fn escape_jinja(s: &str) -> String {
    s.replace("{%", "{{ '{%' }}").replace("{#", "{{ '{#' }}")
}

/// A default value as the text a variable holds.
fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn jinja(body: &str) -> (Option<String>, Vec<String>) {
        let mut p = Parser {
            path: Path::new("prompts/p/1.0.prompt"),
            diags: Vec::new(),
        };
        let out = p.handlebars(body, 5);
        (out, p.diags.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn handlebars_subset_becomes_jinja() {
        let (out, d) = jinja(
            "{{role \"system\"}}\nBe brief.\n{{role \"user\"}}\nHi {{name}}{{#if loud}}!{{else}}.{{/if}}\n{{#each items}}- {{@index}} {{this}}\n{{/each}}{{! a comment }}{{{raw}}} {% not jinja %}",
        );
        assert_eq!(d, Vec::<String>::new());
        assert_eq!(
            out.expect("translated"),
            "system:\nBe brief.\nuser:\nHi {{ name }}{% if loud %}!{% else %}.{% endif %}\n{% for this in items %}- {{ loop.index0 }} {{ this }}\n{% endfor %}{# a comment #}{{ raw }} {{ '{%' }} not jinja %}"
        );
    }

    #[test]
    fn unsupported_helpers_are_named_with_their_line() {
        let (out, d) = jinja("Hi\n{{media url=photo}}\n{{#with x}}y{{/with}}\n{{> footer}}\n");
        assert!(out.is_none());
        assert_eq!(
            d,
            [
                "prompts/p/1.0.prompt:6: unsupported Handlebars helper `media`: ptrack renders variables, #if, #unless, #each and role",
                "prompts/p/1.0.prompt:7: unsupported Handlebars helper `with`: ptrack renders variables, #if, #unless, #each and role",
                "prompts/p/1.0.prompt:7: unsupported Handlebars `/with` closes no open block: ptrack renders variables, #if, #unless, #each and role",
                "prompts/p/1.0.prompt:8: unsupported Handlebars partial `footer`: ptrack renders variables, #if, #unless, #each and role",
            ]
        );
        let (out, d) = jinja("{{#if a}}x\n");
        assert!(out.is_none());
        assert_eq!(
            d,
            ["prompts/p/1.0.prompt:5: a `{{#if}}` block is never closed"]
        );
    }

    #[test]
    fn hostile_files_are_diagnostics_never_panics() {
        let v: Version = "1.0".parse().expect("version");
        let bodies = [
            "",
            "---",
            "---\n---\n",
            "---\nmodel: [\n---\nx",
            "---\n---\n{{",
            "---\n---\n{{}}{{{}}}{{~}}{{#each}}{{/each}}{{role}}{{role \"x\"}}{{!--",
            "---\n---\n{{#if a}}{{#each b}}{{/if}}{{/each}}{{else}}",
            "---\ninputs: 7\nmodel: {id: 3, options: {temperature: x}}\nsample: []\n---\nuser:\n",
            "---\ninput: {schema: 5, default: []}\nconfig: 9\n---\n\u{1b}]52;c;x\u{7}",
            "messages: 5",
            "messages:\n  - 7\n  - {role: user}\n  - {role: user, content: [1]}\ntestData: [1, {a: 2}]\nevaluators: [3, {string: 4}, {string: {contains: 5}}]\n",
            "\u{feff}messages: [{role: system, content: \"{{ \"}]",
        ];
        for ext in ["prompty", "prompt", "prompt.yml"] {
            let path = format!("prompts/p/1.0.{ext}");
            for b in bodies {
                let o = super::super::parse_prompt_file(Path::new(&path), "p", &v, b.as_bytes());
                if let Some(version) = &o.version {
                    let _ = crate::render::render_prompt(version, &Default::default());
                }
            }
            let o = super::super::parse_prompt_file(Path::new(&path), "p", &v, b"\xff\xfe");
            assert!(o.version.is_none());
        }
    }

    #[test]
    fn key_lines_follow_nesting() {
        let y = "name: x\nmodel:\n  api: chat\n  parameters:\n    max_tokens: 5\ntemperature: 9\n";
        assert_eq!(
            key_line(y, 2, &["model", "parameters", "max_tokens"]),
            Some(6)
        );
        assert_eq!(key_line(y, 2, &["temperature"]), Some(7));
        assert_eq!(key_line(y, 2, &["model", "temperature"]), None);
    }
}
