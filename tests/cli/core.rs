//! End-to-end tests of the core commands: init, list, show, create, check,
//! and of what they share: project discovery, color, help and robustness on bad files.

use std::process::Stdio;

use serde_json::{Value, json};

use crate::common::{Run, TestEnv, assert_schema};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// `Run::snapshot()` with the temp project path replaced by `[ROOT]`, so snapshots are stable.
fn snap(env: &TestEnv, run: &Run) -> String {
    let mut text = run.snapshot();
    let root = env.root().to_path_buf();
    let canonical = root.canonicalize().unwrap_or_else(|_| root.clone());
    for p in [canonical, root] {
        text = text.replace(&p.display().to_string(), "[ROOT]");
    }
    text
}

/// Run ptrack with `args` from `rel`, a folder inside the project.
fn run_from(env: &TestEnv, rel: &str, args: &[&str]) -> Run {
    let out = env
        .cmd()
        .current_dir(env.path(rel))
        .args(args)
        .write_stdin("")
        .output()
        .expect("ran ptrack");
    to_run(out)
}

fn to_run(out: std::process::Output) -> Run {
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

/// One line of a run log, as `ptrack record` writes it.
fn run_line(
    id: &str,
    ts: &str,
    prompt: &str,
    version: &str,
    success: bool,
    output: &str,
) -> String {
    json!({
        "id": id,
        "ts": ts,
        "prompt": prompt,
        "version": version,
        "execution_time_ms": 120,
        "success": success,
        "output": output,
    })
    .to_string()
}

/// A project after `ptrack init` holding the given files, and the result of `ptrack check`.
fn check_with(files: &[(&str, &[u8])]) -> (TestEnv, Run) {
    let env = TestEnv::init();
    for (rel, bytes) in files {
        env.write(rel, bytes);
    }
    let r = env.run(&["check"]);
    (env, r)
}

/// A valid prompt file, for projects where a run log needs a prompt to belong to.
const VALID_P: (&str, &[u8]) = ("prompts/p/1.0.md", b"---\ngoal: g\nmodel: m\n---\ntext\n");

fn assert_no_panic(r: &Run, what: &str) {
    assert!(
        !r.stderr.contains("panicked"),
        "{what} panicked:\n{}",
        r.snapshot()
    );
    assert!(
        matches!(r.code, 0..=2),
        "{what} exited {} (expected 0, 1 or 2):\n{}",
        r.code,
        r.snapshot()
    );
}

/// A project with `coach` at 1.0, 1.9 and 1.10 (with two runs of 1.10) and `summarize` at 1.0
/// (no model: it falls back to the ptrack.toml default).
fn project_with_versions() -> TestEnv {
    let env = TestEnv::init();
    for v in ["1.0", "1.9", "1.10"] {
        env.prompt(
            "coach",
            v,
            &format!("goal: Coach the user ({v})\nmodel: llama3.1:8b\ntemperature: 0.7\n"),
            &format!("You are a coach, version {v}.\n"),
        );
    }
    env.prompt(
        "summarize",
        "1.0",
        "goal: Summarize a text in three bullets\nvariables:\n  input:\n    description: The text to summarize\n",
        "Summarize {{ input }}.\n",
    );
    env.write(
        "runs/coach/2026-11.jsonl",
        format!(
            "{}\n{}\n",
            run_line(
                "r1",
                "2026-11-20T10:00:00.000Z",
                "coach",
                "1.10",
                true,
                "hi"
            ),
            run_line("r2", "2026-11-21T09:30:00.000Z", "coach", "1.10", false, ""),
        ),
    );
    env
}

// ---------------------------------------------------------------------------------------------
// init
// ---------------------------------------------------------------------------------------------

#[test]
fn init_creates_the_project_layout() {
    let env = TestEnv::new();
    let r = env.run(&["init"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    for dir in ["prompts", "runs", "templates"] {
        assert!(env.path(dir).is_dir(), "{dir}/ missing");
    }
    assert!(env.path("ptrack.toml").is_file());
    assert_eq!(
        env.read("templates/prompt.md"),
        include_str!("../../templates/prompt.md"),
        "templates/prompt.md is the built-in template"
    );
    assert!(
        env.read(".gitattributes")
            .lines()
            .any(|l| l.trim() == "runs/**/*.jsonl merge=union"),
        "{}",
        env.read(".gitattributes")
    );
    // The scaffolded ptrack.toml must be one ptrack itself accepts.
    assert!(env.read("ptrack.toml").parse::<toml::Table>().is_ok());
    assert_eq!(env.run(&["check"]).code, 0);
    insta::assert_snapshot!(snap(&env, &r));
}

#[test]
fn init_twice_overwrites_nothing_and_says_kept() {
    let env = TestEnv::init();
    let custom = "# mine\n[defaults]\nmodel = \"qwen2.5:7b\"\n";
    env.write("ptrack.toml", custom);
    env.write(".gitattributes", "runs/**/*.jsonl merge=union\n# mine\n");
    std::fs::remove_file(env.path("templates/prompt.md")).expect("rm");
    let r = env.run(&["init"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert_eq!(env.read("ptrack.toml"), custom);
    assert_eq!(
        env.read(".gitattributes"),
        "runs/**/*.jsonl merge=union\n# mine\n"
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l == "kept    ptrack.toml (already there)"),
        "{}",
        r.snapshot()
    );
    // A scaffold file that went missing is written again; nothing else is.
    assert!(
        r.stdout.lines().any(|l| l == "created templates/prompt.md"),
        "{}",
        r.snapshot()
    );
    assert_eq!(
        r.stdout
            .lines()
            .filter(|l| l.starts_with("created"))
            .count(),
        1,
        "{}",
        r.snapshot()
    );
}

#[test]
fn init_warns_when_existing_gitattributes_lacks_merge_union() {
    let env = TestEnv::new();
    env.write(".gitattributes", "*.png binary\n");
    let r = env.run(&["init"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert_eq!(
        env.read(".gitattributes"),
        "*.png binary\n",
        "kept as it was"
    );
    assert!(
        r.stderr
            .contains("warning: your .gitattributes lacks `runs/**/*.jsonl merge=union`"),
        "{}",
        r.snapshot()
    );
}

#[test]
fn init_dir_scaffolds_a_new_subfolder() {
    let env = TestEnv::new();
    let r = env.run(&["init", "new-project"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(
        env.path("new-project/ptrack.toml").is_file(),
        "{}",
        r.snapshot()
    );
    assert!(env.path("new-project/prompts").is_dir());
    assert!(
        !env.path("new-project/new-project").exists(),
        "init DIR must not nest DIR inside itself"
    );
    assert!(!env.path("ptrack.toml").exists(), "the cwd is left alone");
}

#[test]
fn init_with_dash_c_scaffolds_that_folder() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.path("elsewhere")).expect("mkdir");
    let r = env.run(&["-C", "elsewhere", "init"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(
        env.path("elsewhere/ptrack.toml").is_file(),
        "{}",
        r.snapshot()
    );
    assert!(!env.path("elsewhere/elsewhere").exists());
}

#[test]
fn init_json_lists_created_then_kept() {
    let env = TestEnv::new();
    let all = json!([
        "prompts/",
        "runs/",
        "templates/",
        "ptrack.toml",
        ".gitattributes",
        "runs/.gitkeep",
        ".ptrack/.gitignore",
        "templates/prompt.md",
        "templates/prompt.toml",
        ".ptrack/schemas/config.schema.json",
        ".ptrack/schemas/front-matter.schema.json",
        ".ptrack/schemas/run.schema.json"
    ]);
    let r = env.run(&["init", "--json"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let j = r.json();
    let root = std::path::PathBuf::from(j["root"].as_str().expect("root is a string"));
    assert_eq!(
        root.canonicalize().expect("root exists"),
        env.root().canonicalize().expect("tempdir")
    );
    assert_eq!(j["created"], all);
    assert_eq!(j["kept"], json!([]));
    assert_eq!(
        j.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["root".into(), "created".into(), "kept".into()])
    );

    let again = env.run(&["init", "--json"]).json();
    assert_eq!(again["created"], json!([]));
    assert_eq!(again["kept"], all);
}

// ---------------------------------------------------------------------------------------------
// Project discovery
// ---------------------------------------------------------------------------------------------

#[test]
fn commands_find_the_project_root_from_a_subfolder() {
    let env = TestEnv::init();
    env.prompt("p", "1.0", "goal: g\nmodel: m\n", "text\n");
    std::fs::create_dir_all(env.path("docs/deep/er")).expect("mkdir");
    let r = run_from(&env, "docs/deep/er", &["list", "--json"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert_eq!(r.json()[0]["name"], "p");
    let r = run_from(&env, "docs/deep/er", &["show", "p", "--json"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert_eq!(
        r.json()["path"],
        "prompts/p/1.0.md",
        "paths stay root-relative"
    );
}

#[test]
fn dash_c_runs_in_another_folder() {
    // The temp root itself is no project; the project lives in proj/.
    let env = TestEnv::new();
    env.write("proj/ptrack.toml", "");
    env.prompt("p", "1.0", "goal: g\nmodel: m\n", "text\n");
    std::fs::rename(env.path("prompts"), env.path("proj/prompts")).expect("mv");
    let r = env.run(&["-C", "proj", "list", "--json"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert_eq!(r.json()[0]["name"], "p");
    // -C also works after the subcommand (it is global).
    let r = env.run(&["show", "p", "-C", "proj", "--json"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert_eq!(r.json()["name"], "p");
    // Without -C, the root is not a project.
    assert_eq!(env.run(&["list"]).code, 2);
}

#[test]
fn dash_c_to_a_missing_folder_is_an_error() {
    let env = TestEnv::init();
    env.prompt("p", "1.0", "goal: g\nmodel: m\n", "text\n");
    let r = env.run(&["-C", "no/such/dir", "list"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(r.stdout.is_empty(), "{}", r.snapshot());
    assert!(r.stderr.contains("no/such/dir"), "{}", r.snapshot());
}

#[test]
fn outside_any_project_exits_2_with_init_hint() {
    let env = TestEnv::new();
    let r = env.run(&["list"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("ptrack init"), "{}", r.snapshot());
    insta::assert_snapshot!(snap(&env, &r));
}

// ---------------------------------------------------------------------------------------------
// list
// ---------------------------------------------------------------------------------------------

#[test]
fn list_table_shows_latest_by_numeric_version_order() {
    let env = project_with_versions();
    let r = env.run(&["list"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let coach = r
        .stdout
        .lines()
        .find(|l| l.starts_with("coach "))
        .expect("coach row");
    assert!(
        coach.split_whitespace().nth(1) == Some("1.10"),
        "latest must be 1.10, not 1.9: {coach}"
    );
    insta::assert_snapshot!(snap(&env, &r));
}

/// A goal of 110 columns: a wide character (two columns) and an accented one (one, two bytes).
const LONG_GOAL: &str = "Draft a reply to a customer who wrote in about a late delivery: 遅延 apologise, \
explain and offer a refund café ok";

#[test]
fn list_fits_80_and_120_columns_and_piped_output_is_whole() {
    let env = project_with_versions();
    env.prompt(
        "reply_to_customer_complaint",
        "1.0",
        &format!("goal: \"{LONG_GOAL}\"\nmodel: llama3.1:8b\n"),
        "Reply.\n",
    );
    for columns in [80, 120] {
        let r = env.run_in_columns(columns, &["list"]);
        assert_eq!(r.code, 0, "{}", r.snapshot());
        r.assert_fits(columns);
        assert!(r.stdout.contains('…'), "the goal is cut: {}", r.stdout);
        insta::assert_snapshot!(format!("list_{columns}_columns"), snap(&env, &r));
    }
    // Not a terminal and no COLUMNS: nothing is cut.
    let r = env.run(&["list"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(r.stdout.contains(LONG_GOAL), "{}", r.stdout);
    assert!(r.stdout.contains("LAST RUN"), "{}", r.stdout);
    // COLUMNS that is not a positive number is ignored.
    let zero = env.run_command(env.cmd().env("COLUMNS", "0"), &["list"], "");
    assert_eq!(zero.stdout, r.stdout);
}

#[test]
fn list_json_has_one_object_per_prompt_with_every_field() {
    let env = project_with_versions();
    let r = env.run(&["list", "--json"]);
    assert_schema("list", &r.json());
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert_eq!(
        r.json(),
        json!([
            {
                "name": "coach",
                "latest": "1.10",
                "latest_invalid": false,
                "versions": 3,
                "model": "llama3.1:8b",
                "goal": "Coach the user (1.10)",
                "runs": 2,
                "success_rate": 0.5,
                "last_run": "2026-11-21T09:30:00Z"
            },
            {
                "name": "summarize",
                "latest": "1.0",
                "latest_invalid": false,
                "versions": 1,
                "model": "llama3.1:8b",
                "goal": "Summarize a text in three bullets",
                "runs": 0,
                "success_rate": null,
                "last_run": null
            }
        ])
    );
}

#[test]
fn list_still_lists_good_prompts_when_one_file_is_bad() {
    let env = project_with_versions();
    env.prompt("broken", "1.0", "goal: g\ntemperature: 7\n", "text\n");
    let r = env.run(&["list"]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert!(r.stdout.contains("\ncoach "), "{}", r.snapshot());
    assert!(r.stdout.contains("\nsummarize "), "{}", r.snapshot());
    // The broken prompt is listed, marked, never hidden.
    assert!(r.stdout.contains("\nbroken "), "{}", r.snapshot());
    assert!(r.stdout.contains("1.0 (invalid)"), "{}", r.snapshot());
    assert!(
        r.stderr
            .contains("error: prompts/broken/1.0.md:3: temperature must be between 0 and 2, got 7"),
        "{}",
        r.snapshot()
    );
    // The same holds for JSON: stdout stays parseable, the problem goes to stderr.
    let r = env.run(&["list", "--json"]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    let names: Vec<Value> = r
        .json()
        .as_array()
        .expect("array")
        .iter()
        .map(|row| row["name"].clone())
        .collect();
    assert_eq!(names, [json!("broken"), json!("coach"), json!("summarize")]);
    assert!(r.stderr.contains("prompts/broken/1.0.md:3:"));
}

#[test]
fn list_in_an_empty_project_says_how_to_start() {
    let env = TestEnv::init();
    let r = env.run(&["list"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(r.stdout.is_empty(), "status goes to stderr, not stdout");
    insta::assert_snapshot!(snap(&env, &r));
    let r = env.run(&["list", "--json"]);
    assert_eq!(r.json(), json!([]));
}

// ---------------------------------------------------------------------------------------------
// show
// ---------------------------------------------------------------------------------------------

#[test]
fn show_defaults_to_the_latest_version() {
    let env = project_with_versions();
    let r = env.run(&["show", "coach"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(
        r.stdout.starts_with("coach 1.10  prompts/coach/1.10.md\n"),
        "{}",
        r.snapshot()
    );
    insta::assert_snapshot!(snap(&env, &r));
}

#[test]
fn show_version_flag_picks_that_version() {
    let env = project_with_versions();
    for args in [
        ["show", "coach", "--version", "1.9"],
        ["show", "coach", "-v", "1.9"],
    ] {
        let r = env.run(&args);
        assert_eq!(r.code, 0, "{}", r.snapshot());
        assert!(
            r.stdout.starts_with("coach 1.9  prompts/coach/1.9.md\n"),
            "{}",
            r.snapshot()
        );
        assert!(r.stdout.contains("You are a coach, version 1.9.\n"));
        assert!(!r.stdout.contains("version 1.10."));
    }
}

#[test]
fn show_unknown_prompt_suggests_a_close_name() {
    let env = project_with_versions();
    let r = env.run(&["show", "coahc"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains("did you mean `coach`?"),
        "{}",
        r.snapshot()
    );
    insta::assert_snapshot!(snap(&env, &r));
}

#[test]
fn show_unknown_version_lists_the_versions() {
    let env = project_with_versions();
    let r = env.run(&["show", "coach", "--version", "2.0"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert_eq!(
        r.stderr,
        "error: prompt `coach` has no version 2.0\nhint: versions: 1.0, 1.9, 1.10\n"
    );
    let r = env.run(&["show", "coach", "--version", "latest"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(
        r.stderr.contains("invalid version `latest`"),
        "{}",
        r.snapshot()
    );
}

#[test]
fn show_rejects_names_that_could_escape_prompts() {
    let env = project_with_versions();
    env.write("secret/1.0.md", "---\ngoal: g\n---\nsecret\n");
    for name in ["../secret", "..", "coach/../../secret", "/etc"] {
        let r = env.run(&["show", name]);
        assert_eq!(r.code, 2, "{name}: {}", r.snapshot());
        assert!(
            r.stderr
                .starts_with(&format!("error: invalid prompt name `{name}`\n")),
            "{name}: {}",
            r.snapshot()
        );
        assert!(!r.stdout.contains("secret"));
    }
}

#[test]
fn show_json_has_meta_text_and_the_git_blob_id() {
    let env = TestEnv::init();
    env.prompt(
        "greet",
        "1.0",
        "goal: Greet the user\nmodel: llama3.1:8b\nprovider: ollama\ntemperature: 0.2\ntoken_limit: 64\ntags: [hello, demo]\n",
        "Say hello to {{ name }}.\n",
    );
    let r = env.run(&["show", "greet", "--json"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let j = r.json();
    assert_schema("show", &j);
    assert_eq!(
        j["meta"],
        json!({
            "goal": "Greet the user",
            "model": "llama3.1:8b",
            "provider": "ollama",
            "params": {"temperature": 0.2, "token_limit": 64},
            "created_at": null,
            "tags": ["hello", "demo"],
            "variables": {},
            "description": null,
            "extra": {}
        })
    );
    assert_eq!(j["name"], "greet");
    assert_eq!(j["version"], "1.0");
    assert_eq!(j["path"], "prompts/greet/1.0.md");
    assert_eq!(j["format"], "markdown_yaml");
    assert_eq!(j["text"], "Say hello to {{ name }}.\n");
    assert_eq!(j["text_line"], 9);
    assert_eq!(j["versions"], json!(["1.0"]));
    assert_eq!(j["metrics"]["runs"], 0);
    assert_eq!(j["last_output"], Value::Null);
    let sha = env.git(&["hash-object", "prompts/greet/1.0.md"]);
    assert_eq!(j["blob_sha"], sha.trim());
}

#[test]
fn show_prints_the_output_of_the_latest_run_of_that_version() {
    let env = TestEnv::init();
    env.prompt("p", "1.0", "goal: g\nmodel: m\n", "text\n");
    env.prompt("p", "1.1", "goal: g\nmodel: m\n", "text 1.1\n");
    // Log order is not time order: the newest run of 1.0 (r2) sits before an older one (r0),
    // and a newer run of 1.1 must not be shown for 1.0.
    env.write(
        "runs/p/2026-11.jsonl",
        [
            run_line("r1", "2026-11-20T10:00:00.000Z", "p", "1.0", true, "hello"),
            run_line(
                "r2",
                "2026-11-22T08:15:00.000Z",
                "p",
                "1.0",
                true,
                "newest hello",
            ),
            run_line("r0", "2026-11-21T10:00:00.000Z", "p", "1.0", false, "older"),
            run_line(
                "r3",
                "2026-11-23T10:00:00.000Z",
                "p",
                "1.1",
                true,
                "from 1.1",
            ),
        ]
        .map(|l| l + "\n")
        .concat(),
    );
    let r = env.run(&["show", "p", "--version", "1.0"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(r.stdout.contains("newest hello\n"), "{}", r.snapshot());
    assert!(!r.stdout.contains("from 1.1"), "{}", r.snapshot());
    insta::assert_snapshot!(snap(&env, &r));

    let j = env.run(&["show", "p", "--version", "1.0", "--json"]).json();
    assert_eq!(
        j["last_output"],
        json!({
            "run_id": "r2",
            "ts": "2026-11-22T08:15:00Z",
            "success": true,
            "output": "newest hello",
            "error": null
        })
    );
    assert_eq!(j["metrics"]["runs"], 3);
    assert_eq!(j["metrics"]["successes"], 2);
}

// ---------------------------------------------------------------------------------------------
// create
// ---------------------------------------------------------------------------------------------

#[test]
fn create_with_every_flag_writes_a_file_show_reads_back() {
    let env = TestEnv::init();
    let r = env.run(&[
        "create",
        "greet",
        "--goal",
        "Greet the user: warmly",
        "--model",
        "qwen2.5:7b",
        "--temperature",
        "0.3",
        "--token-limit",
        "256",
        "--top-k",
        "40",
        "--top-p",
        "0.9",
        "--provider",
        "openai",
    ]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert_eq!(r.stdout, "created prompts/greet/1.0.md\n");
    insta::assert_snapshot!(env.read("prompts/greet/1.0.md"));

    let j = env.run(&["show", "greet", "--json"]).json();
    assert_eq!(
        j["meta"],
        json!({
            "goal": "Greet the user: warmly",
            "model": "qwen2.5:7b",
            "provider": "openai",
            "params": {"temperature": 0.3, "token_limit": 256, "top_k": 40, "top_p": 0.9},
            "created_at": "2026-11-24T12:00:00Z",
            "tags": [],
            "variables": {"input": {"description": "The text the prompt works on"}},
            "description": null,
            "extra": {}
        })
    );
    assert_eq!(env.run(&["check"]).code, 0, "a created file passes check");
}

#[test]
fn create_format_toml_writes_a_toml_file_that_parses() {
    let env = TestEnv::init();
    let r = env.run(&[
        "create",
        "classify",
        "--goal",
        "Classify \"tickets\"",
        "--model",
        "m",
        "--temperature",
        "0",
        "--format",
        "toml",
    ]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(!env.path("prompts/classify/1.0.md").exists());
    let text = env.read("prompts/classify/1.0.toml");
    let table: toml::Table = text.parse().unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(table["goal"].as_str(), Some("Classify \"tickets\""));
    assert_eq!(table["model"].as_str(), Some("m"));
    assert!(
        table["prompt"]
            .as_str()
            .is_some_and(|p| p.contains("{{ input }}"))
    );

    let j = env.run(&["show", "classify", "--json"]).json();
    assert_eq!(j["format"], "toml");
    assert_eq!(j["meta"]["goal"], "Classify \"tickets\"");
    assert_eq!(j["meta"]["params"], json!({"temperature": 0.0}));
    assert_eq!(env.run(&["check"]).code, 0);
}

#[test]
fn create_json_reports_what_was_written() {
    let env = TestEnv::init();
    let r = env.run(&["create", "p", "--goal", "g", "--json"]);
    assert_schema("create", &r.json());
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert_eq!(
        r.json(),
        json!({"name": "p", "version": "1.0", "path": "prompts/p/1.0.md", "from": null})
    );
    let r = env.run(&["create", "p", "--from", "1.0", "--json"]);
    assert_eq!(
        r.json(),
        json!({"name": "p", "version": "1.1", "path": "prompts/p/1.1.md", "from": "1.0"})
    );
}

#[test]
fn create_from_copies_the_text_and_applies_flag_overrides() {
    let env = TestEnv::init();
    let body = "Coach {{ user }}.\n\nBe brief: two sentences at most.\n";
    env.prompt(
        "coach",
        "1.0",
        "goal: Coach the user\nmodel: llama3.1:8b\ntemperature: 0.7\ntop_k: 40\n",
        body,
    );
    let r = env.run(&["create", "coach", "--from", "1.0", "--temperature", "0.2"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert_eq!(r.stdout, "created prompts/coach/1.1.md (copied from 1.0)\n");
    let old = env.run(&["show", "coach", "-v", "1.0", "--json"]).json();
    let new = env.run(&["show", "coach", "-v", "1.1", "--json"]).json();
    assert_eq!(new["text"], body);
    assert_eq!(new["meta"]["params"]["temperature"], 0.2);
    assert_eq!(new["meta"]["params"]["top_k"], 40);
    assert_eq!(new["meta"]["goal"], old["meta"]["goal"]);
    assert_eq!(new["meta"]["model"], old["meta"]["model"]);
    assert_eq!(new["meta"]["created_at"], "2026-11-24T12:00:00Z");
    assert_eq!(
        old["meta"]["params"]["temperature"], 0.7,
        "the source is untouched"
    );
}

#[test]
fn create_from_skips_to_the_next_free_minor_version() {
    let env = TestEnv::init();
    env.prompt("p", "1.0", "goal: g\nmodel: m\n", "one\n");
    env.prompt("p", "1.1", "goal: g\nmodel: m\n", "one point one\n");
    let r = env.run(&["create", "p", "--from", "1.0"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert_eq!(r.stdout, "created prompts/p/1.2.md (copied from 1.0)\n");
    assert_eq!(
        env.run(&["show", "p", "-v", "1.2", "--json"]).json()["text"],
        "one\n"
    );
    // After 1.9 comes 1.10, not 2.0.
    env.prompt("p", "1.9", "goal: g\nmodel: m\n", "nine\n");
    let r = env.run(&["create", "p", "--from", "1.9"]);
    assert_eq!(r.stdout, "created prompts/p/1.10.md (copied from 1.9)\n");
}

#[test]
fn create_never_overwrites_an_existing_version() {
    let env = TestEnv::init();
    env.prompt("p", "1.0", "goal: g\nmodel: m\n", "original\n");
    let before = env.read("prompts/p/1.0.md");
    let r = env.run(&[
        "create",
        "p",
        "--version",
        "1.0",
        "--goal",
        "other",
        "--model",
        "m",
    ]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(
        r.stderr
            .contains("prompts/p/1.0.md already exists; ptrack never overwrites a version"),
        "{}",
        r.snapshot()
    );
    assert_eq!(env.read("prompts/p/1.0.md"), before);
    // Nor a version that exists in the other format.
    let r = env.run(&[
        "create",
        "p",
        "--version",
        "1.0",
        "--goal",
        "g",
        "--format",
        "toml",
    ]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(!env.path("prompts/p/1.0.toml").exists());
}

#[test]
fn create_without_goal_and_model_names_both_when_it_cannot_ask() {
    let env = TestEnv::init();
    env.write("ptrack.toml", ""); // no [defaults] model
    let r = env.run(&["create", "p"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    let first = r.stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains("--goal") && first.contains("--model"),
        "{}",
        r.snapshot()
    );
    assert!(!env.path("prompts/p").exists());
    insta::assert_snapshot!(snap(&env, &r));
}

/// Run ptrack with stdin on a terminal: `script` (util-linux) gives it a pseudo-terminal,
/// fed `input`. What the terminal showed (input echoed, CRLF line ends) and the exit code;
/// None when `script` is not installed.
fn run_on_terminal(env: &TestEnv, args: &str, input: &str) -> Option<(String, i32)> {
    use std::io::Write;
    let installed = std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return None;
    }
    let command = format!("'{}' {args}", env!("CARGO_BIN_EXE_ptrack"));
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(env.root())
        .env("PTRACK_NOW", crate::common::NOW)
        .env("HOME", env.root())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write input");
    let out = child.wait_with_output().expect("script ends");
    Some((
        String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"),
        out.status.code().unwrap_or(-1),
    ))
}

#[test]
fn create_on_a_terminal_asks_each_attribute_re_asks_invalid_ones_and_starts_from_the_latest() {
    let env = TestEnv::init();
    env.write("ptrack.toml", "[defaults]\nmodel = \"qwen2.5:7b\"\n");
    // An invalid name and temperature are asked again at once; Enter keeps the model default.
    let input = "Summ Arize\nsumm\nSummarize a text\n\n7\n0.3\n\n\n\nnews, short\n";
    let Some((screen, code)) = run_on_terminal(&env, "create", input) else {
        return;
    };
    assert_eq!(code, 0, "{screen}");
    // Each question, each error and the result; not their exact interleaving, which depends
    // on when the terminal echoes the typed input on a loaded machine.
    for part in [
        "name (lower-case letters, digits, _ and -): ",
        "error: invalid prompt name `Summ Arize`",
        "model (e.g. llama3.1:8b) [qwen2.5:7b]: ",
        "temperature (0 to 2) [none]: ",
        "error: temperature must be between 0 and 2, got 7",
        "tags (comma-separated) [none]: ",
        "created prompts/summ/1.0.md",
    ] {
        assert!(screen.contains(part), "{part:?} in:\n{screen}");
    }
    let asked = |q: &str| screen.matches(q).count();
    assert_eq!(
        asked("name (lower-case letters"),
        2,
        "the bad name is asked again:\n{screen}"
    );
    assert_eq!(
        asked("temperature (0 to 2)"),
        2,
        "the bad temperature too:\n{screen}"
    );
    let show = env.run(&["show", "summ", "--json"]).json();
    assert_eq!(show["meta"]["goal"], "Summarize a text");
    assert_eq!(show["meta"]["model"], "qwen2.5:7b");
    assert_eq!(show["meta"]["params"]["temperature"], 0.3);
    assert_eq!(show["meta"]["tags"], json!(["news", "short"]));

    // For an existing prompt: the latest version's values are the defaults, its text is copied.
    env.write(
        "prompts/summ/1.0.md",
        env.read("prompts/summ/1.0.md")
            .replace("You are a helpful assistant.", "Summarize well."),
    );
    let Some((screen, code)) = run_on_terminal(&env, "create summ", "\nllama3.1:8b\n\n\n\n\n\n")
    else {
        return;
    };
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("goal (one sentence) [Summarize a text]: ")
            && screen.contains("temperature (0 to 2) [0.3]: ")
            && screen.contains("tags (comma-separated) [news, short]: "),
        "{screen}"
    );
    assert!(
        screen.contains("created prompts/summ/1.1.md (copied from 1.0)"),
        "{screen}"
    );
    let copy = env.read("prompts/summ/1.1.md");
    assert!(copy.contains("Summarize well."), "{copy}");
    assert!(copy.contains("\nmodel: llama3.1:8b\n"), "{copy}");
    assert!(copy.contains("\ntemperature: 0.3\n"), "{copy}");
}

#[test]
fn create_help_says_what_the_dialog_asks() {
    let env = TestEnv::init();
    let r = env.run(&["create", "--help"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let help = r.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains(
            "It asks for the name, goal, model, temperature, token limit, top-k, top-p and tags"
        ) && help.contains("starts from its latest version"),
        "{}",
        r.stdout
    );
}

#[test]
fn create_takes_the_model_from_ptrack_toml_defaults() {
    let env = TestEnv::init();
    env.write("ptrack.toml", "[defaults]\nmodel = \"qwen2.5:7b\"\n");
    let r = env.run(&["create", "p", "--goal", "g"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(
        env.read("prompts/p/1.0.md")
            .contains("\nmodel: qwen2.5:7b\n"),
        "{}",
        env.read("prompts/p/1.0.md")
    );
    assert_eq!(
        env.run(&["show", "p", "--json"]).json()["meta"]["model"],
        "qwen2.5:7b"
    );
}

#[test]
fn create_rejects_an_out_of_range_temperature_and_writes_nothing() {
    let env = TestEnv::init();
    let r = env.run(&[
        "create",
        "hot",
        "--goal",
        "g",
        "--model",
        "m",
        "--temperature",
        "5",
    ]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(
        r.stderr
            .contains("temperature must be between 0 and 2, got 5"),
        "{}",
        r.snapshot()
    );
    assert!(!env.path("prompts/hot").exists(), "no file, no folder");
}

#[test]
fn create_rejects_invalid_prompt_names() {
    let env = TestEnv::init();
    for name in ["Coach", "../escape", "a b", "_x", "a.b"] {
        let r = env.run(&["create", name, "--goal", "g", "--model", "m"]);
        assert_eq!(r.code, 2, "{name}: {}", r.snapshot());
        assert!(
            r.stderr
                .starts_with(&format!("error: invalid prompt name `{name}`\n")),
            "{name}: {}",
            r.snapshot()
        );
    }
    assert!(!env.path("escape").exists());
    let entries = std::fs::read_dir(env.path("prompts"))
        .expect("prompts/")
        .count();
    assert_eq!(entries, 0, "nothing written under prompts/");
}

#[test]
fn create_from_replaces_a_multi_line_goal_entirely() {
    let env = TestEnv::init();
    env.prompt(
        "p",
        "1.0",
        "goal: |\n  line one\n  line two\nmodel: m\n",
        "text\n",
    );
    let r = env.run(&["create", "p", "--from", "1.0", "--goal", "new goal"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let j = env.run(&["show", "p", "-v", "1.1", "--json"]).json();
    assert_eq!(j["meta"]["goal"], "new goal");
}

// ---------------------------------------------------------------------------------------------
// check
// ---------------------------------------------------------------------------------------------

#[test]
fn check_passes_a_clean_project() {
    let env = project_with_versions();
    env.write(
        "prompts/tomlfm/1.0.md",
        "+++\ngoal = \"g\"\ntemperature = 0.5\n+++\ntext\n",
    );
    env.write(
        "prompts/tomlfile/1.0.toml",
        "goal = \"g\"\nmodel = \"m\"\nprompt = \"\"\"\ntext\n\"\"\"\n",
    );
    let r = env.run(&["check"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr,
        "0 error(s), 0 warning(s) in 6 prompt file(s) and 1 run log(s) with 2 run(s)\n"
    );
}

#[test]
fn check_reports_every_problem_as_path_line_message() {
    let (env, r) = check_with(&[
        VALID_P,
        ("prompts/Upper/1.0.md", b"---\ngoal: g\n---\ntext\n"),
        (
            "prompts/bad-yaml/1.0.md",
            b"---\ngoal: g\nmodel: m: x\n---\ntext\n",
        ),
        ("prompts/dup/1.0.md", b"---\ngoal: g\n---\ntext\n"),
        ("prompts/dup/1.0.toml", b"goal = \"g\"\nprompt = \"x\"\n"),
        (
            "prompts/empty-body/1.0.md",
            b"---\ngoal: g\nmodel: m\n---\n\n",
        ),
        (
            "prompts/name-mismatch/1.0.md",
            b"---\nname: other\ngoal: g\n---\ntext\n",
        ),
        (
            "prompts/no-prompt/1.0.toml",
            b"goal = \"g\"\nmodel = \"m\"\n",
        ),
        (
            "prompts/non-utf8/1.0.md",
            b"---\ngoal: g\n---\nbad \xff byte\n",
        ),
        (
            "prompts/range/1.0.md",
            b"---\ngoal: g\ntop_p: 1.5\ntemperature: 7\n---\ntext\n",
        ),
        (
            "prompts/toml-fm/1.0.md",
            b"+++\ngoal = \"g\"\nmodel = \ntemperature = 0.5\n+++\ntext\n",
        ),
        (
            "prompts/typo/1.0.md",
            b"---\ngoal: g\ntemprature: 0.5\n---\ntext\n",
        ),
        ("prompts/unclosed/1.0.md", b"---\ngoal: g\ntext\n"),
        (
            "prompts/wrong-type/1.0.md",
            b"---\ngoal: g\ntemperature: hot\n---\ntext\n",
        ),
        (
            "runs/p/2026-11.jsonl",
            format!(
                "{}\n{{not json\n{}\n{{\"id\":\"torn\",\"ts\":\"2026-11",
                run_line("a", "2026-11-20T10:00:00.000Z", "p", "1.0", true, "x"),
                run_line("b", "2026-11-20T11:00:00.000Z", "p", "1.0", true, "y")
                    .replace("\"success\"", "\"quality_score\":11,\"success\""),
            )
            .as_bytes(),
        ),
    ]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    insta::assert_snapshot!(snap(&env, &r));
}

#[test]
fn check_malformed_yaml_names_the_line() {
    let (_env, r) = check_with(&[(
        "prompts/p/1.0.md",
        b"---\ngoal: g\nmodel: m: x\ntemperature: 0.5\n---\ntext\n",
    )]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert_eq!(
        r.stdout,
        "prompts/p/1.0.md:3: invalid YAML front matter: mapping values are not allowed in this context\n"
    );
}

#[test]
fn check_wrong_type_names_line_and_value() {
    let (_env, r) = check_with(&[(
        "prompts/p/1.0.md",
        b"---\ngoal: g\nmodel: m\ntemperature: hot\n---\ntext\n",
    )]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert_eq!(
        r.stdout,
        "prompts/p/1.0.md:4: temperature must be a number between 0 and 2, got \"hot\"\n"
    );
}

#[test]
fn check_out_of_range_values_are_each_reported() {
    let (_env, r) = check_with(&[(
        "prompts/p/1.0.md",
        b"---\ngoal: g\ntop_p: 1.5\ntemperature: 7\n---\ntext\n",
    )]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert_eq!(
        r.stdout,
        "prompts/p/1.0.md:3: top_p must be greater than 0 and at most 1, got 1.5\n\
         prompts/p/1.0.md:4: temperature must be between 0 and 2, got 7\n"
    );
}

#[test]
fn check_empty_prompt_body_is_an_error() {
    let (_env, r) = check_with(&[("prompts/p/1.0.md", b"---\ngoal: g\nmodel: m\n---\n \n\n")]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert_eq!(r.stdout, "prompts/p/1.0.md:5: the prompt text is empty\n");
}

#[test]
fn check_non_utf8_file_is_an_error_with_its_line() {
    let (env, r) = check_with(&[(
        "prompts/p/1.0.md",
        b"---\ngoal: g\nmodel: m\n---\nbad \xff byte\n",
    )]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert_eq!(
        r.stdout,
        "prompts/p/1.0.md:5: file is not valid UTF-8 (bad byte at offset 29); save it as UTF-8\n"
    );
    for args in [&["list"][..], &["show", "p"], &["list", "--json"]] {
        let r = env.run(args);
        assert_no_panic(&r, &format!("{args:?}"));
    }
}

#[test]
fn check_unclosed_front_matter_points_at_line_1() {
    let (_env, r) = check_with(&[("prompts/p/1.0.md", b"---\ngoal: g\nmodel: m\ntext\n")]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert_eq!(
        r.stdout,
        "prompts/p/1.0.md:1: front matter opened with `---` on line 1 is never closed: add a `---` line after it\n"
    );
}

#[test]
fn check_unknown_key_is_a_warning_with_a_suggestion() {
    let (env, r) = check_with(&[(
        "prompts/p/1.0.md",
        b"---\ngoal: g\nmodel: m\ntemprature: 0.5\n---\ntext\n",
    )]);
    assert_eq!(r.code, 0, "warnings alone pass: {}", r.snapshot());
    assert_eq!(
        r.stdout,
        "prompts/p/1.0.md:4: warning: unknown key `temprature`, did you mean `temperature`?\n"
    );
    assert!(
        r.stderr.starts_with("0 error(s), 1 warning(s)"),
        "{}",
        r.snapshot()
    );
    // The version stays usable.
    assert_eq!(env.run(&["show", "p"]).code, 0);
}

#[test]
fn check_same_version_as_md_and_toml_is_an_error_on_both() {
    let (env, r) = check_with(&[
        ("prompts/p/1.0.md", b"---\ngoal: g\n---\ntext\n"),
        ("prompts/p/1.0.toml", b"goal = \"g\"\nprompt = \"x\"\n"),
    ]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert_eq!(
        r.stdout,
        "prompts/p/1.0.md: version 1.0 is defined twice (prompts/p/1.0.md and prompts/p/1.0.toml); keep one file\n\
         prompts/p/1.0.toml: version 1.0 is defined twice (prompts/p/1.0.md and prompts/p/1.0.toml); keep one file\n"
    );
    let r = env.run(&["show", "p"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(
        r.stderr.contains("version 1.0 of `p` is invalid")
            && r.stderr.contains("`ptrack check` lists every problem"),
        "{}",
        r.snapshot()
    );
}

#[test]
fn check_upper_case_folder_is_an_invalid_name() {
    let (_env, r) = check_with(&[("prompts/Coach/1.0.md", b"---\ngoal: g\n---\ntext\n")]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert_eq!(
        r.stdout,
        "prompts/Coach: invalid prompt name: use lower-case letters, digits, `_` and `-`, starting with a letter or digit\n"
    );
}

#[test]
fn check_toml_front_matter_lines_count_from_the_file_start() {
    let (_env, r) = check_with(&[
        (
            "prompts/a/1.0.md",
            b"+++\ngoal = \"g\"\nmodel = \ntemperature = 0.5\n+++\ntext\n",
        ),
        (
            "prompts/b/1.0.md",
            b"+++\ngoal = \"g\"\nmodel = \"m\"\ntemperature = 7.0\n+++\ntext\n",
        ),
        (
            "prompts/c/1.0.toml",
            b"goal = \"g\"\nmodel = \"m\"\ntop_k = 0\nprompt = \"x\"\n",
        ),
    ]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert_eq!(
        r.stdout,
        "prompts/a/1.0.md:3: invalid TOML front matter: string values must be quoted, expected literal string\n\
         prompts/b/1.0.md:4: temperature must be between 0 and 2, got 7\n\
         prompts/c/1.0.toml:3: top_k must be a positive integer, got 0\n"
    );
}

#[test]
fn check_toml_file_without_prompt_is_an_error() {
    let (_env, r) = check_with(&[("prompts/p/1.0.toml", b"goal = \"g\"\nmodel = \"m\"\n")]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert_eq!(
        r.stdout,
        "prompts/p/1.0.toml: missing `prompt`: a .toml version holds its text in prompt = \"\"\"…\"\"\"\n"
    );
}

#[test]
fn check_name_that_differs_from_the_folder_is_an_error() {
    let (_env, r) = check_with(&[(
        "prompts/p/1.0.md",
        b"---\ngoal: g\nname: other\n---\ntext\n",
    )]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert_eq!(
        r.stdout,
        "prompts/p/1.0.md:3: name \"other\" does not match the folder name `p`\n"
    );
}

#[test]
fn check_invalid_json_run_line_is_an_error_with_file_and_line() {
    let good = run_line("a", "2026-11-20T10:00:00.000Z", "p", "1.0", true, "x");
    let log = format!("{good}\n{{\"id\": \"b\" \"x\"}}\n");
    let (_env, r) = check_with(&[VALID_P, ("runs/p/2026-11.jsonl", log.as_bytes())]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert!(
        r.stdout
            .starts_with("runs/p/2026-11.jsonl:2: invalid JSON: "),
        "{}",
        r.snapshot()
    );
    assert!(r.stdout.ends_with(", line skipped\n"), "{}", r.snapshot());
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.snapshot());
    assert!(
        r.stderr.contains("with 1 run(s)"),
        "the good line counts: {}",
        r.stderr
    );
}

#[test]
fn check_quality_score_out_of_range_names_the_field() {
    let bad = run_line("a", "2026-11-20T10:00:00.000Z", "p", "1.0", true, "x")
        .replace("\"success\"", "\"quality_score\":11,\"success\"");
    let (env, r) = check_with(&[
        VALID_P,
        ("runs/p/2026-11.jsonl", format!("{bad}\n").as_bytes()),
    ]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert_eq!(
        r.stdout,
        "runs/p/2026-11.jsonl:1: quality_score must be a number from 1 to 10, got 11, line skipped\n"
    );
    let j = env.run(&["check", "--json"]).json();
    assert_eq!(j["diagnostics"][0]["field"], "quality_score");
    assert_eq!(j["diagnostics"][0]["line"], 1);
}

#[test]
fn check_a_log_cut_inside_a_character_and_a_bom_are_not_errors() {
    let good = run_line("a", "2026-11-20T10:00:00.000Z", "p", "1.0", true, "x");
    // A crash while writing `é`: the file stops after its first byte.
    let mut log = format!("\u{feff}{good}\n{{\"id\":\"b\",\"output\":\"caf").into_bytes();
    log.push(0xC3);
    let (env, r) = check_with(&[VALID_P, ("runs/p/2026-11.jsonl", &log)]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert_eq!(
        r.stdout,
        "runs/p/2026-11.jsonl:2: warning: incomplete last line (it may still be being written), \
         skipped: the line stops inside a UTF-8 character (byte 23)\n",
        "{}",
        r.snapshot()
    );
    let j = env.run(&["show", "p", "--json"]).json();
    assert_eq!(j["metrics"]["runs"], 1, "{j}");
}

#[test]
fn check_torn_last_line_is_only_a_warning() {
    let good = run_line("a", "2026-11-20T10:00:00.000Z", "p", "1.0", true, "x");
    let log = format!("{good}\n{{\"id\":\"b\",\"ts\":\"2026-11-2");
    let (_env, r) = check_with(&[VALID_P, ("runs/p/2026-11.jsonl", log.as_bytes())]);
    assert_eq!(
        r.code,
        0,
        "a torn last line alone does not fail: {}",
        r.snapshot()
    );
    assert!(
        r.stdout
            .starts_with("runs/p/2026-11.jsonl:2: warning: incomplete last line"),
        "{}",
        r.snapshot()
    );
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.snapshot());
    assert!(
        r.stderr.starts_with("0 error(s), 1 warning(s)"),
        "{}",
        r.stderr
    );
}

#[test]
fn check_json_counts_and_describes_each_diagnostic() {
    let bad_run = run_line("b", "2026-11-20T11:00:00.000Z", "p", "1.0", true, "y")
        .replace("\"success\"", "\"quality_score\":11,\"success\"");
    let log = format!(
        "{}\n{bad_run}\n",
        run_line("a", "2026-11-20T10:00:00.000Z", "p", "1.0", true, "x")
    );
    let (env, r) = check_with(&[
        VALID_P,
        (
            "prompts/hot/1.0.md",
            b"---\ngoal: g\ntemperature: 7\n---\ntext\n",
        ),
        (
            "prompts/typo/1.0.md",
            b"---\ngoal: g\ntemprature: 0.5\n---\ntext\n",
        ),
        ("runs/p/2026-11.jsonl", log.as_bytes()),
    ]);
    assert_eq!(r.code, 1);
    let r = env.run(&["check", "--json"]);
    assert_schema("check", &r.json());
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert_eq!(
        r.json(),
        json!({
            "prompt_files": 3,
            "run_logs": 1,
            "runs": 1,
            "errors": 2,
            "warnings": 1,
            "diagnostics": [
                {
                    "path": "prompts/hot/1.0.md",
                    "line": 3,
                    "severity": "error",
                    "field": "temperature",
                    "message": "temperature must be between 0 and 2, got 7"
                },
                {
                    "path": "prompts/typo/1.0.md",
                    "line": 3,
                    "severity": "warning",
                    "field": "temprature",
                    "message": "unknown key `temprature`, did you mean `temperature`?"
                },
                {
                    "path": "runs/p/2026-11.jsonl",
                    "line": 2,
                    "severity": "error",
                    "field": "quality_score",
                    "message": "quality_score must be a number from 1 to 10, got 11, line skipped"
                }
            ]
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Color and help
// ---------------------------------------------------------------------------------------------

#[test]
fn color_always_paints_the_list_table() {
    let env = project_with_versions();
    let r = env.run(&["list", "--color", "always"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(r.stdout.contains("\x1b[1mNAME\x1b[0m"), "{:?}", r.stdout);
    // Color never changes the text itself.
    let plain = env.run(&["list", "--color", "never"]).stdout;
    let stripped = r.stdout.replace("\x1b[1m", "").replace("\x1b[0m", "");
    assert_eq!(stripped, plain);
}

#[test]
fn color_never_and_no_color_print_no_escapes() {
    let env = project_with_versions();
    env.prompt("broken", "1.0", "temperature: 7\n", "text\n"); // stderr output too
    // Piped output under the default `--color auto` is plain.
    let r = env.run(&["list"]);
    assert!(r.stdout.contains("coach"), "{}", r.snapshot());
    assert!(!r.stdout.contains('\x1b'), "{:?}", r.stdout);
    assert!(!r.stderr.contains('\x1b'), "{:?}", r.stderr);
    let r = env.run(&["list", "--color", "never"]);
    assert!(!r.stdout.contains('\x1b'), "{:?}", r.stdout);
    assert!(!r.stderr.contains('\x1b'), "{:?}", r.stderr);
    let out = env
        .cmd()
        .env("NO_COLOR", "1")
        .args(["list"])
        .write_stdin("")
        .output()
        .expect("ran ptrack");
    let r = to_run(out);
    assert!(r.stdout.contains("coach"), "{}", r.snapshot());
    assert!(!r.stdout.contains('\x1b'), "{:?}", r.stdout);
    assert!(!r.stderr.contains('\x1b'), "{:?}", r.stderr);
}

/// Run `ptrack ARGS` on a pseudo-terminal (via util-linux `script`), so `--color auto` sees a
/// terminal. None when `script` is not available.
fn run_on_tty(env: &TestEnv, args: &str, no_color: Option<&str>) -> Option<String> {
    let bin = env!("CARGO_BIN_EXE_ptrack");
    let mut c = std::process::Command::new("script");
    c.args(["-qec", &format!("'{bin}' {args}"), "/dev/null"])
        .current_dir(env.root())
        .env("PTRACK_NOW", crate::common::NOW)
        .env("HOME", env.root())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    if let Some(v) = no_color {
        c.env("NO_COLOR", v);
    }
    let out = c.output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn no_color_turns_off_auto_color_on_a_terminal() {
    let env = project_with_versions();
    let Some(colored) = run_on_tty(&env, "list", None) else {
        eprintln!("skipped: util-linux `script` is not available to provide a terminal");
        return;
    };
    assert!(
        colored.contains("\x1b[1mNAME"),
        "auto colors on a terminal: {colored:?}"
    );
    let plain = run_on_tty(&env, "list", Some("1")).expect("script ran before");
    assert!(plain.contains("coach"), "{plain:?}");
    assert!(!plain.contains('\x1b'), "NO_COLOR=1: {plain:?}");
    let empty = run_on_tty(&env, "list", Some("")).expect("script ran before");
    assert!(
        empty.contains("\x1b[1mNAME"),
        "an empty NO_COLOR does not count: {empty:?}"
    );
}

#[test]
fn help_mentions_examples() {
    let env = TestEnv::new();
    for args in [&["--help"][..], &["list", "--help"], &["help", "list"]] {
        let r = env.run(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.snapshot());
        assert!(r.stdout.contains("Examples:"), "{args:?}: {}", r.stdout);
    }
    assert!(env.run(&["--help"]).stdout.contains("ptrack check"));
    assert!(
        env.run(&["list", "--help"])
            .stdout
            .contains("ptrack list --json")
    );
}

// ---------------------------------------------------------------------------------------------
// Robustness
// ---------------------------------------------------------------------------------------------

#[test]
fn malformed_files_never_panic() {
    let env = TestEnv::init();
    let files: &[(&str, &[u8])] = &[
        ("prompts/a/1.0.md", b""),
        ("prompts/b/1.0.md", b"---"),
        ("prompts/c/1.0.md", b"---\n---\n"),
        ("prompts/d/1.0.md", b"---\n? [a, b]\n: 1\n---\ntext\n"),
        ("prompts/e/1.0.md", b"---\n- a\n- b\n---\ntext\n"),
        ("prompts/f/1.0.md", b"\xef\xbb\xbf---\ngoal: g\n---\ntext\n"),
        ("prompts/g/99999999999999999999999.0.md", b"---\ngoal: g\n---\ntext\n"),
        (
            "prompts/h/1.0.md",
            b"---\ngoal: g\ntemperature: .nan\ntop_p: .inf\ntoken_limit: 18446744073709551616\n---\ntext\n",
        ),
        ("prompts/i/1.0.md", b"+++\n+++\n"),
        ("prompts/j/1.0.toml", b"\xff\xfe"),
        (
            "prompts/k/1.0.md",
            b"---\ngoal: !!binary aGVsbG8=\ncreated_at: 2026-13-45\ntags: [1, [2]]\nvariables: {1x: a, ok: 3}\n---\ntext\n",
        ),
        ("prompts/l/1.0.md", b"---\r\ngoal: g\r\n---\r\ntext\r\n"),
        ("prompts/m/1.0.md", b"---\ngoal: \xc3\n---\n\xe2\x82\n"),
        ("prompts/n/1.0.toml", b"prompt = 3\n[[x]]\n"),
        ("prompts/o/1.0.md", b"---\nvariables: [{}, 3, {name: 4}]\n---\nt\n"),
        ("runs/a/2026-11.jsonl", b"\xff\xfe\n[]\n1\nnull\n{\"type\":\"rating\"}\n{\"id\":"),
        ("runs/p/x.jsonl", b"\n\n\r\n{\"id\":\"z\",\"ts\":\"9999-99-99\"}\n"),
    ];
    for (rel, bytes) in files {
        env.write(rel, bytes);
    }
    std::fs::create_dir_all(env.path("prompts/q/1.0.md")).expect("a folder named like a file");
    for args in [
        &["check"][..],
        &["check", "--json"],
        &["list"],
        &["list", "--json"],
    ] {
        assert_no_panic(&env.run(args), &format!("{args:?}"));
    }
    for name in [
        "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "q",
    ] {
        assert_no_panic(&env.run(&["show", name]), &format!("show {name}"));
        assert_no_panic(
            &env.run(&["create", name, "--from", "1.0"]),
            &format!("create {name} --from 1.0"),
        );
    }
    // The healthy ones still work.
    let r = env.run(&["list", "--json"]);
    assert_eq!(r.code, 1);
    let names: Vec<String> = r
        .json()
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|row| row["name"].as_str().map(str::to_string))
        .collect();
    assert!(
        names.iter().any(|n| n == "f") && names.iter().any(|n| n == "l"),
        "{names:?}"
    );
}

#[test]
fn unknown_ptrack_toml_keys_are_warnings_that_check_names() {
    let env = TestEnv::init();
    env.write(
        "ptrack.toml",
        "[defaults]\nmodle = \"llama3.1:8b\"\n\n[report]\nmin_sucess_rate = 0.9\n",
    );
    env.prompt("p", "1.0", "goal: g\nmodel: m\n", "hi\n");
    // Every command still works…
    let r = env.run(&["list", "--json"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    // …and check names each unknown key, its line and the key meant, exiting 0 (warnings only).
    let r = env.run(&["check"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(
        r.stdout.contains(
            "ptrack.toml:2: warning: unknown key `modle` in [defaults], did you mean `model`?"
        ),
        "{}",
        r.snapshot()
    );
    assert!(
        r.stdout.contains("ptrack.toml:5: warning: unknown key `min_sucess_rate` in [report], did you mean `min_success_rate`?"),
        "{}",
        r.snapshot()
    );
    // A wrong type is still an error, with its line.
    env.write("ptrack.toml", "[defaults]\ntemperature = \"hot\"\n");
    let r = env.run(&["check"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(r.stderr.contains("ptrack.toml:2:"), "{}", r.snapshot());
}

#[test]
fn versions_and_providers_are_checked_before_any_work() {
    let env = TestEnv::init();
    env.prompt("p", "1.0", "goal: g\nmodel: m\n", "hi\n");
    let r = env.run(&["show", "p", "--version", "one"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(
        r.stderr.contains("invalid version `one`"),
        "{}",
        r.snapshot()
    );
    let r = env.run(&["run", "p", "--provider", "anthropic"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(
        r.stderr.contains("invalid value 'anthropic'") && r.stderr.contains("ollama, openai"),
        "{}",
        r.snapshot()
    );
    let r = env.run(&[
        "create",
        "p",
        "--provider",
        "bedrock",
        "--goal",
        "g",
        "--model",
        "m",
    ]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(!env.path("prompts/p/1.1.md").exists());
}

/// A judge in a cases file must name a prompt version that exists: `check` says so, as `run`
/// would fail on it.
#[test]
fn check_names_judges_that_point_nowhere() {
    let (_env, r) = check_with(&[
        ("prompts/p/1.0.md", b"---\ngoal: g\n---\nSay {{ who }}\n"),
        (
            "prompts/p/cases.jsonl",
            b"{\"name\": \"a\", \"vars\": {\"who\": \"x\"}, \"expect\": [{\"judge\": \"nosuch\", \"min\": 5}]}\n\
              {\"name\": \"b\", \"vars\": {\"who\": \"y\"}, \"expect\": [{\"judge\": {\"prompt\": \"p\", \"version\": \"9.9\", \"min\": 5}}]}\n\
              {\"name\": \"c\", \"vars\": {\"who\": \"z\"}, \"expect\": [{\"judge\": \"p\", \"min\": 5}]}\n",
        ),
    ]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert!(
        r.stdout
            .contains("prompts/p/cases.jsonl: case `a`: judge: no prompt named `nosuch`"),
        "{}",
        r.snapshot()
    );
    assert!(
        r.stdout
            .contains("prompts/p/cases.jsonl: case `b`: judge: prompt `p` has no version 9.9"),
        "{}",
        r.snapshot()
    );
    assert!(!r.stdout.contains("case `c`"), "{}", r.snapshot());
}
