//! JSON Schemas of the files people write: a version's front matter, a run log line and
//! `ptrack.toml` (`ptrack schema front-matter|run|config`).
//!
//! Editors use them to complete and check keys as they are typed. They describe what the
//! readers accept: a file the schema rejects is one `check` reports as an error. Unknown keys
//! are the exception: ptrack keeps them with a warning, and the schemas allow them so that
//! a schema-aware editor does not mark a file `check` accepts.
//!
//! The front matter and the run line are read by hand-written checks (for their line numbers
//! and hints), so their shapes are declared here as types for the schema alone; `ptrack.toml`
//! is read with serde, and its schema comes from the [`Config`](crate::Config) type itself.

use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};

/// A prompt name: lower-case letters, digits, `_` and `-` ([`crate::is_valid_name`]).
const NAME_PATTERN: &str = "^[a-z0-9][a-z0-9_-]{0,99}$";
/// A version: numbers separated by dots ([`crate::Version`]).
const VERSION_PATTERN: &str = "^[0-9]+(\\.[0-9]+)*$";
/// Text with something other than white space in it.
const NOT_BLANK: &str = "\\S";

/// The front matter of a prompt version: the YAML between the `---` lines of a `.md` file,
/// the TOML between `+++` lines, or the whole of a `.toml` version.
#[derive(JsonSchema)]
#[allow(dead_code)]
#[schemars(transform = optional_fields, transform = one_token_key)]
struct FrontMatter {
    /// What the prompt is for, in a sentence.
    #[schemars(regex(pattern = NOT_BLANK))]
    goal: String,
    /// The model the version is written for (default: `[defaults] model` in ptrack.toml).
    #[schemars(regex(pattern = NOT_BLANK))]
    model: String,
    /// A longer description.
    #[schemars(regex(pattern = NOT_BLANK))]
    description: String,
    /// The API the model is served by.
    provider: crate::Provider,
    /// Sampling temperature, from 0 to 2.
    #[schemars(range(min = 0.0, max = 2.0))]
    temperature: f64,
    /// Nucleus sampling: greater than 0 and at most 1.
    #[schemars(extend("exclusiveMinimum" = 0, "maximum" = 1))]
    top_p: f64,
    /// Top-k sampling, a positive integer.
    #[schemars(range(min = 1))]
    top_k: u64,
    /// The most tokens an answer may have (also written `max_tokens`; keep one).
    #[schemars(range(min = 1))]
    token_limit: u64,
    /// An alias of `token_limit`.
    #[schemars(range(min = 1))]
    max_tokens: u64,
    /// When the version was written, an RFC 3339 time such as 2026-11-02T09:30:00Z.
    #[schemars(extend("format" = "date-time"))]
    created_at: String,
    /// Tags, as a list of text.
    tags: Vec<String>,
    /// The variables the text uses (`{{ name }}`): a table of name → description and default,
    /// or a list of names or `{name, description, default}` tables.
    variables: Variables,
    /// The prompt's name; when given, it must be the folder's name.
    #[schemars(regex(pattern = NAME_PATTERN))]
    name: String,
    /// The version; when given, it must be the file's name (quote it: `"1.10"`).
    version: VersionText,
    /// The prompt text, in a `.toml` version only (in a `.md` file the text is the body).
    #[schemars(regex(pattern = NOT_BLANK))]
    prompt: String,
}

/// A version number as written in front matter: text, or a number YAML or TOML read as one.
#[derive(JsonSchema)]
#[allow(dead_code)]
#[schemars(untagged)]
enum VersionText {
    Text(#[schemars(regex(pattern = VERSION_PATTERN))] String),
    Number(f64),
}

/// The `variables` key.
#[derive(JsonSchema)]
#[allow(dead_code)]
#[schemars(untagged)]
enum Variables {
    /// `name: {description: …, default: …}` (or `name:` alone).
    Table(
        #[schemars(extend("propertyNames" = {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}))]
        std::collections::BTreeMap<String, Option<VariableSpec>>,
    ),
    /// `- name` or `- {name: …, description: …, default: …}`.
    List(Vec<ListedVariable>),
}

/// One variable's description and default.
#[derive(JsonSchema)]
#[allow(dead_code)]
#[schemars(transform = optional_fields)]
struct VariableSpec {
    /// What the variable holds.
    description: Option<String>,
    /// Its value when none is given (numbers and booleans are used as their text).
    default: Option<Scalar>,
}

/// A variable in a list.
#[derive(JsonSchema)]
#[allow(dead_code)]
#[schemars(untagged)]
enum ListedVariable {
    Name(#[schemars(regex(pattern = "^[A-Za-z_][A-Za-z0-9_]*$"))] String),
    Spec(NamedVariable),
}

/// A variable in a list, as a table.
#[derive(JsonSchema)]
#[allow(dead_code)]
#[schemars(transform = name_required)]
struct NamedVariable {
    /// The variable's name.
    #[schemars(regex(pattern = "^[A-Za-z_][A-Za-z0-9_]*$"))]
    name: String,
    /// What the variable holds.
    description: Option<String>,
    /// Its value when none is given.
    default: Option<Scalar>,
}

/// A default value: text, a number or a boolean.
#[derive(JsonSchema)]
#[allow(dead_code)]
#[schemars(untagged)]
enum Scalar {
    Text(String),
    Number(f64),
    Bool(bool),
}

/// One line of a run log (`runs/**/*.jsonl`): a run, a rating of a run, or an eval batch.
#[derive(JsonSchema)]
#[allow(dead_code)]
#[schemars(untagged)]
#[allow(clippy::large_enum_variant)] // never built: it exists for its schema
enum RunLine {
    Run(RunLineRun),
    Rating(RatingLine),
    Eval(EvalLine),
}

/// One execution of a prompt version.
#[derive(JsonSchema)]
#[allow(dead_code)]
#[schemars(transform = run_required)]
struct RunLineRun {
    /// `run`, or left out.
    #[schemars(rename = "type", extend("const" = "run"))]
    kind: String,
    /// Unique id (ptrack writes UUIDv7s).
    #[schemars(length(min = 1))]
    id: String,
    /// When it ran, RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    ts: String,
    /// The prompt's name.
    #[schemars(regex(pattern = NAME_PATTERN))]
    prompt: String,
    /// The version that ran.
    #[schemars(regex(pattern = VERSION_PATTERN), length(max = 64))]
    version: String,
    /// Git blob id of the version file when it ran.
    prompt_sha: Option<String>,
    /// The commit that ran, when the file was committed unchanged.
    commit: Option<String>,
    /// The model that answered.
    model: Option<String>,
    /// Sampling parameters used.
    params: Option<Map<String, Value>>,
    /// The input variables.
    input: Option<Map<String, Value>>,
    /// The model's output.
    output: Option<String>,
    /// Wall time in milliseconds.
    #[schemars(range(min = 0.0))]
    execution_time_ms: f64,
    /// Tokens used.
    #[schemars(range(min = 0))]
    token_count: Option<u64>,
    /// Length of the output in characters (default: counted from `output`).
    #[schemars(range(min = 0))]
    output_length: Option<u64>,
    /// Whether it succeeded.
    success: bool,
    /// What went wrong.
    error: Option<String>,
    /// Quality score, 1 to 10.
    #[schemars(range(min = 1.0, max = 10.0))]
    quality_score: Option<f64>,
    /// Feedback on the output.
    feedback: Option<String>,
}

/// A rating given to a run after the fact (`ptrack rate`).
#[derive(JsonSchema)]
#[allow(dead_code)]
struct RatingLine {
    /// Always `rating`.
    #[schemars(rename = "type", extend("const" = "rating"))]
    kind: String,
    /// The rating's own id.
    id: Option<String>,
    /// When it was given, RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    ts: String,
    /// The id of the run it rates.
    #[schemars(length(min = 1))]
    run_id: String,
    /// Quality score, 1 to 10.
    #[schemars(range(min = 1.0, max = 10.0))]
    quality_score: f64,
    /// Feedback on the output.
    feedback: Option<String>,
}

/// The head of an eval batch (`ptrack eval`).
#[derive(JsonSchema)]
#[allow(dead_code)]
struct EvalLine {
    /// Always `eval`.
    #[schemars(rename = "type", extend("const" = "eval"))]
    kind: String,
    /// The batch id.
    #[schemars(length(min = 1))]
    id: String,
    /// When it ran, RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    ts: String,
    /// The prompt evaluated.
    #[schemars(regex(pattern = NAME_PATTERN))]
    prompt: String,
}

/// No key of a front matter is required.
fn optional_fields(schema: &mut Schema) {
    schema.remove("required");
}

/// `token_limit` and `max_tokens` name the same thing: one of them at most.
fn one_token_key(schema: &mut Schema) {
    schema.insert(
        "not".into(),
        json!({"required": ["token_limit", "max_tokens"]}),
    );
}

/// A listed variable table needs its name; the rest may be left out.
fn name_required(schema: &mut Schema) {
    schema.insert("required".into(), json!(["name"]));
}

/// What a run line must have; `type` may be left out.
fn run_required(schema: &mut Schema) {
    schema.insert(
        "required".into(),
        json!([
            "id",
            "ts",
            "prompt",
            "version",
            "execution_time_ms",
            "success"
        ]),
    );
}

/// The schemas of the files people write, by name: `front-matter`, `run` and `config`.
pub fn file_schemas() -> Vec<(&'static str, Schema)> {
    let mut out = vec![
        (
            "front-matter",
            input_schema::<FrontMatter>("ptrack prompt front matter"),
        ),
        ("run", input_schema::<RunLine>("ptrack run log line")),
        ("config", input_schema::<crate::Config>("ptrack.toml")),
    ];
    out.sort_by_key(|(name, _)| *name);
    out
}

/// The schema of `T` as read (fields with defaults are optional).
fn input_schema<T: JsonSchema>(title: &str) -> Schema {
    let mut s = schemars::generate::SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator()
        .into_root_schema_for::<T>();
    s.insert("title".into(), title.into());
    s
}

#[cfg(test)]
mod tests {
    //! Each schema is checked with the `jsonschema` crate (formats validated) against the
    //! reader it describes: files the reader accepts pass, and inputs it rejects fail.
    use super::*;
    use std::path::{Path, PathBuf};

    fn validator(kind: &str) -> jsonschema::Validator {
        let (_, schema) = file_schemas()
            .into_iter()
            .find(|(n, _)| *n == kind)
            .expect("schema");
        jsonschema::options()
            .should_validate_formats(true)
            .build(schema.as_value())
            .expect("a valid schema")
    }

    fn files_under(dir: &Path, ext: &[&str]) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = walkdir::WalkDir::new(dir)
            .into_iter()
            .filter_map(Result::ok)
            .map(|e| e.into_path())
            .filter(|p| {
                p.extension()
                    .is_some_and(|e| ext.iter().any(|x| e == std::ffi::OsStr::new(x)))
            })
            .collect();
        out.sort();
        out
    }

    fn matter(path: &Path, text: &str) -> Value {
        let (map, diags) = crate::prompt::front_matter_value(path, text.as_bytes());
        Value::Object(map.unwrap_or_else(|| panic!("{}: {diags:?}", path.display())))
    }

    /// Whether the parser reports an error for `text` as `prompts/p/1.0.<ext>`.
    fn parser_rejects(text: &str, ext: &str) -> bool {
        let path = PathBuf::from(format!("prompts/p/1.0.{ext}"));
        let v: crate::Version = "1.0".parse().expect("version");
        crate::prompt::parse_prompt_file(&path, "p", &v, text.as_bytes())
            .diagnostics
            .iter()
            .any(crate::Diagnostic::is_error)
    }

    #[test]
    fn every_bundled_version_file_matches_the_front_matter_schema() {
        let v = validator("front-matter");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let files = files_under(&root.join("prompts"), &["md", "toml"]);
        assert!(files.len() >= 5, "{files:?}");
        for f in files {
            let text = std::fs::read_to_string(&f).expect("read");
            let m = matter(&f, &text);
            let errors: Vec<String> = v.iter_errors(&m).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{}: {errors:?}", f.display());
        }
    }

    #[test]
    fn front_matter_the_parser_rejects_the_schema_rejects() {
        let v = validator("front-matter");
        let md = |m: &str| format!("---\n{m}\n---\nHello {{{{ x }}}}\n");
        let bad = [
            "temperature: 7",
            "temperature: hot",
            "top_p: 0",
            "top_p: 1.5",
            "top_k: 0",
            "top_k: 2.5",
            "token_limit: -3",
            "token_limit: 100\nmax_tokens: 100",
            "max_tokens: 0",
            "provider: anthropic",
            "goal: \"   \"",
            "goal: [a, b]",
            "model: 3",
            "created_at: yesterday",
            "created_at: 2026-13-01T00:00:00Z",
            "tags: solo",
            "tags: [1, 2]",
            "name: Other",
            "version: \"x\"",
            "variables: {9lives: {}}",
            "variables: [{description: no name}]",
            "variables: {x: hello}",
        ];
        for m in bad {
            let text = md(m);
            assert!(parser_rejects(&text, "md"), "the parser accepts {m:?}");
            let value = matter(Path::new("prompts/p/1.0.md"), &text);
            assert!(!v.is_valid(&value), "the schema accepts {m:?}");
        }
        let good = [
            "goal: Sum up\nmodel: llama3.1:8b\ntemperature: 0.2\ntop_p: 1\ntop_k: 40\ntoken_limit: 256",
            "max_tokens: 5\nprovider: openai\ntags: [a]\ncreated_at: 2026-11-02T09:30:00+01:00",
            "variables: {x: {description: The text, default: 3}, y: }",
            "variables: [x, {name: y, default: hi}]",
            "name: p\nversion: \"1.0\"",
            "version: 1.0",
            "colour: blue",
        ];
        for m in good {
            let text = md(m);
            assert!(!parser_rejects(&text, "md"), "the parser rejects {m:?}");
            let value = matter(Path::new("prompts/p/1.0.md"), &text);
            let errors: Vec<String> = v.iter_errors(&value).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{m:?}: {errors:?}");
        }
        // A .toml version: the text is a key, and TOML dates arrive as RFC 3339 text.
        let toml_ok = "goal = \"g\"\ncreated_at = 2026-11-02T09:30:00Z\nprompt = \"Hi {{ x }}\"\n";
        assert!(!parser_rejects(toml_ok, "toml"));
        assert!(v.is_valid(&matter(Path::new("prompts/p/1.0.toml"), toml_ok)));
        let toml_bad = "goal = \"g\"\ncreated_at = 2026-11-02\nprompt = \"Hi\"\n";
        assert!(parser_rejects(toml_bad, "toml"));
        assert!(!v.is_valid(&matter(Path::new("prompts/p/1.0.toml"), toml_bad)));
    }

    #[test]
    fn every_bundled_run_line_matches_the_run_schema() {
        let v = validator("run");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let logs = files_under(&root.join("runs"), &["jsonl"]);
        assert!(!logs.is_empty());
        let mut lines = 0;
        for f in logs {
            for (i, line) in std::fs::read_to_string(&f)
                .expect("read")
                .lines()
                .enumerate()
            {
                if line.trim().is_empty() {
                    continue;
                }
                let value: Value = serde_json::from_str(line).expect("json");
                let errors: Vec<String> = v.iter_errors(&value).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "{}:{}: {errors:?}", f.display(), i + 1);
                lines += 1;
            }
        }
        assert!(lines > 10, "{lines}");
    }

    #[test]
    fn run_lines_the_reader_rejects_the_schema_rejects() {
        let v = validator("run");
        let ok = r#"{"id":"r1","ts":"2026-11-02T10:15:30.123Z","prompt":"p","version":"1.0","execution_time_ms":12.5,"success":true}"#;
        let base: Value = serde_json::from_str(ok).expect("json");
        let with = |k: &str, val: Value| {
            let mut m = base.clone();
            m[k] = val;
            m
        };
        let without = |k: &str| {
            let mut m = base.clone();
            m.as_object_mut().expect("object").remove(k);
            m
        };
        let bad = [
            without("id"),
            without("ts"),
            without("prompt"),
            without("version"),
            without("execution_time_ms"),
            without("success"),
            with("id", json!("")),
            with("ts", json!("yesterday")),
            with("prompt", json!("Bad Name")),
            with("version", json!("v1")),
            with("execution_time_ms", json!(-1)),
            with("execution_time_ms", json!("fast")),
            with("success", json!("yes")),
            with("quality_score", json!(11)),
            with("quality_score", json!(0.5)),
            with("token_count", json!(-2)),
            with("output_length", json!(1.5)),
            with("output", json!(42)),
            with("feedback", json!(["a"])),
            with("type", json!("note")),
            json!({"type": "rating", "ts": "2026-11-02T10:15:30Z", "run_id": "r1"}),
            json!({"type": "rating", "ts": "2026-11-02T10:15:30Z", "run_id": "r1", "quality_score": 12}),
            json!({"type": "rating", "ts": "2026-11-02T10:15:30Z", "quality_score": 5}),
            json!({"type": "eval", "ts": "2026-11-02T10:15:30Z", "prompt": "p"}),
        ];
        for line in bad {
            let text = line.to_string();
            assert!(
                crate::runlog::parse_line(&text).is_err(),
                "the reader accepts {text}"
            );
            assert!(!v.is_valid(&line), "the schema accepts {text}");
        }
        let good = [
            base.clone(),
            with("type", json!("run")),
            with("quality_score", json!(7.5)),
            with("tags", json!(["kept"])),
            with("output", json!(null)),
            json!({"type": "rating", "id": "x", "ts": "2026-11-02T10:15:30Z", "run_id": "r1", "quality_score": 5, "feedback": "ok"}),
            json!({"type": "eval", "id": "b1", "ts": "2026-11-02T10:15:30Z", "prompt": "p", "cases": 3}),
        ];
        for line in good {
            let text = line.to_string();
            assert!(
                crate::runlog::parse_line(&text).is_ok(),
                "the reader rejects {text}"
            );
            let errors: Vec<String> = v.iter_errors(&line).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{text}: {errors:?}");
        }
    }

    fn toml_value(text: &str) -> Value {
        serde_json::to_value(text.parse::<toml::Table>().expect("toml")).expect("json")
    }

    #[test]
    fn bundled_configs_match_and_bad_ones_do_not() {
        let v = validator("config");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for text in [
            std::fs::read_to_string(root.join("ptrack.toml")).expect("read"),
            crate::templates::PTRACK_TOML.text.to_string(),
        ] {
            assert!(crate::Config::parse(&text, Path::new("ptrack.toml")).is_ok());
            let errors: Vec<String> = v
                .iter_errors(&toml_value(&text))
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{errors:?}");
        }
        let bad = [
            "[report]\nmin_success_rate = 1.5\n",
            "[report]\nmin_quality = 0\n",
            "[report]\nmin_runs = -1\n",
            "[report]\nmax_p95_regression_pct = -5\n",
            "[report]\nforbid_in_place_edits = \"yes\"\n",
            "[defaults]\ntemperature = \"hot\"\n",
            "[defaults]\nformat = \"json\"\n",
            "[defaults]\ntemperature = 3\n",
            "[defaults]\ntop_p = 0\n",
            "[defaults]\ntop_k = 0\n",
            "[prices.\"gpt-4o\"]\ninput_per_mtok = -1\n",
            "[limits]\nmax_prompt_bytes = 0\n",
            "[providers.ollama]\ntimeout_secs = \"slow\"\n",
            "[notify]\nwebhook = 5\n",
            "alerts = 3\n",
        ];
        for text in bad {
            assert!(
                crate::Config::parse(text, Path::new("ptrack.toml")).is_err(),
                "the reader accepts {text:?}"
            );
            assert!(
                !v.is_valid(&toml_value(text)),
                "the schema accepts {text:?}"
            );
        }
    }
}
