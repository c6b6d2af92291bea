//! End-to-end tests of `import`: the older tool's data folder, in the shapes it wrote.

use serde_json::{Value, json};

use crate::common::{Run, TestEnv, assert_schema};

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "{}", r.snapshot());
}

/// The runs in every log of the project, parsed, sorted by time.
fn runs(env: &TestEnv) -> Vec<Value> {
    let mut out = Vec::new();
    let dir = env.path("runs");
    if !dir.exists() {
        return out;
    }
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.expect("walk");
        if entry.path().extension().is_some_and(|e| e == "jsonl") {
            let text = std::fs::read_to_string(entry.path()).expect("read");
            for line in text.lines() {
                out.push(serde_json::from_str(line).expect("a JSON line"));
            }
        }
    }
    out.sort_by(|a: &Value, b: &Value| a["ts"].as_str().cmp(&b["ts"].as_str()));
    out
}

/// A registry as a list, with the field-name variations of the older tool.
const REGISTRY_LIST: &str = r#"[
  {"name": "coaching_system", "version": "1.0", "goal": "Coach the user one step at a time.",
   "model": "llama3.1:8b", "temperature": 0.7, "token_limit": 400, "top_k": 40, "top_p": 0.9,
   "prompt_text": "You are a coach. Context: {task_context}\nThe user said: {user_message}\nAnswer in JSON like {{\"step\": \"...\"}}.",
   "last_output": "Try one small step.", "created_at": "2024-03-01T09:00:00"},
  {"name": "coaching_system", "version": "1.1", "goal": "Coach, shorter.", "model": "llama3.1:8b",
   "max_tokens": 200, "prompt": "Coach briefly. {user_message}", "created_at": "2024-03-05T09:00:00Z"},
  {"name": "task classification", "version": 2, "goal": "Classify a task.", "model": "qwen2.5:7b",
   "temperature": 0.0, "prompt_text": "Classify: {task}"},
  {"name": "broken", "version": "1.0", "goal": "No text here."},
  {"name": "hot", "version": "1.0", "temperature": 7, "prompt_text": "x"},
  "not an entry"
]"#;

const PERFORMANCE_LIST: &str = r#"[
  {"prompt_name": "coaching_system", "prompt_version": "1.0", "output": "Start with 5 minutes.",
   "execution_time_ms": 840, "token_count": 212, "output_length": 21, "success": true,
   "quality_score": 8, "user_feedback": "helpful", "input_data": {"user_message": "I procrastinate"},
   "timestamp": "2024-03-02T10:00:00"},
  {"prompt_name": "coaching_system", "prompt_version": "1.1", "output": "",
   "execution_time_ms": 30000, "success": false, "error": "timeout",
   "quality": 2, "feedback": "too slow", "input": {"user_message": "hi"},
   "created_at": "2024-03-06T10:00:00Z"},
  {"prompt_name": "task classification", "prompt_version": "2.0", "output": "bug",
   "execution_time_ms": 120.5, "success": true, "timestamp": 1709800000},
  {"prompt_name": "coaching_system", "prompt_version": "1.0", "output": "no time",
   "execution_time_ms": 10},
  {"prompt_name": "ghost", "prompt_version": "1.0", "execution_time_ms": 5,
   "timestamp": "2024-03-02T10:00:00Z"}
]"#;

fn legacy_project() -> TestEnv {
    let env = TestEnv::init();
    env.write("data/prompt_registry.json", REGISTRY_LIST);
    env.write("data/prompt_performance.json", PERFORMANCE_LIST);
    env.write("data/prompt_metrics.json", "{\"cache\": true}");
    env
}

#[test]
fn import_legacy_writes_versions_and_runs_and_a_second_import_adds_nothing() {
    let env = legacy_project();
    let r = env.run(&["import", "legacy"]);
    ok(&r);
    insta::assert_snapshot!(r.snapshot());

    // The converted version reads back, renders, and passes check without template warnings.
    let text = env.read("prompts/coaching_system/1.0.md");
    assert!(
        text.contains("You are a coach. Context: {{ task_context }}\nThe user said: {{ user_message }}\nAnswer in JSON like {\"step\": \"...\"}."),
        "{text}"
    );
    let r = env.run(&[
        "render",
        "coaching_system",
        "--version",
        "1.0",
        "--var",
        "task_context=thesis",
        "--var",
        "user_message=help",
    ]);
    ok(&r);
    assert_eq!(
        r.stdout,
        "You are a coach. Context: thesis\nThe user said: help\nAnswer in JSON like {\"step\": \"...\"}.\n"
    );
    let r = env.run(&["show", "coaching_system", "--version", "1.0", "--json"]);
    ok(&r);
    let v = r.json();
    assert_eq!(
        v["meta"]["params"],
        json!({"temperature": 0.7, "token_limit": 400, "top_k": 40, "top_p": 0.9})
    );
    assert!(
        v["meta"]["created_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("2024-03-01T09:00:00")),
        "{v:#}"
    );
    let r = env.run(&["show", "task_classification", "--json"]);
    ok(&r);
    assert_eq!(r.json()["version"], "2.0");

    let logged = runs(&env);
    assert_eq!(logged.len(), 3, "{logged:#?}");
    assert_eq!(
        (
            &logged[0]["ts"],
            &logged[0]["quality_score"],
            &logged[0]["feedback"],
            &logged[0]["input"],
            &logged[0]["commit"],
        ),
        (
            &json!("2024-03-02T10:00:00.000Z"),
            &json!(8),
            &json!("helpful"),
            &json!({"user_message": "I procrastinate"}),
            &Value::Null
        )
    );
    assert_eq!(
        (
            &logged[1]["success"],
            &logged[1]["error"],
            &logged[1]["quality_score"],
            &logged[1]["version"]
        ),
        (&json!(false), &json!("timeout"), &json!(2), &json!("1.1"))
    );
    assert_eq!(logged[2]["ts"], "2024-03-07T08:26:40.000Z");
    for run in &logged {
        let id = run["id"].as_str().expect("id");
        assert_eq!(
            uuid::Uuid::parse_str(id).expect("uuid").get_version_num(),
            7
        );
    }
    let check = env.run(&["check"]);
    assert!(!check.stdout.contains("runs/"), "{}", check.snapshot());

    // Again: nothing new, nothing rewritten.
    let before = std::fs::read_to_string(env.path("prompts/coaching_system/1.0.md")).expect("read");
    let r = env.run(&["import", "legacy", "--json"]);
    ok(&r);
    let j = r.json();
    assert_schema("import-legacy", &j);
    assert_eq!(
        (&j["runs_added"], &j["runs_already"]),
        (&json!(0), &json!(3))
    );
    assert!(
        j["versions"]
            .as_array()
            .expect("versions")
            .iter()
            .all(|v| v["status"] == "unchanged"),
        "{j:#}"
    );
    assert_eq!(runs(&env).len(), 3);
    assert_eq!(env.read("prompts/coaching_system/1.0.md"), before);

    // An imported file edited since is kept, and its runs still import against it.
    env.write(
        "prompts/coaching_system/1.1.md",
        "---\ngoal: edited\n---\nCoach. {{ user_message }}\n",
    );
    let r = env.run(&["import", "legacy"]);
    ok(&r);
    assert!(
        r.stdout
            .contains("kept (edited since) prompts/coaching_system/1.1.md"),
        "{}",
        r.stdout
    );
    assert_eq!(
        env.read("prompts/coaching_system/1.1.md"),
        "---\ngoal: edited\n---\nCoach. {{ user_message }}\n"
    );
}

#[test]
fn import_legacy_dry_run_writes_nothing() {
    let env = legacy_project();
    let r = env.run(&["import", "legacy", "--dry-run"]);
    ok(&r);
    assert!(
        r.stdout
            .contains("would write prompts/coaching_system/1.0.md"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("would append 2 run(s) to runs/coaching_system/2024-03.jsonl"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr
            .contains("dry run: would import 3 version file(s), 3 run(s) (nothing written)"),
        "{}",
        r.stderr
    );
    assert!(!env.path("prompts/coaching_system").exists());
    assert!(runs(&env).is_empty());
    let j = env.run(&["import", "legacy", "--dry-run", "--json"]).json();
    assert_schema("import-legacy", &j);
    assert_eq!((&j["dry_run"], &j["runs_added"]), (&json!(true), &json!(3)));
}

#[test]
fn import_legacy_reads_a_registry_keyed_by_name_or_by_name_then_version() {
    let env = TestEnv::init();
    env.write(
        "old/prompt_registry.json",
        r#"{
          "summarize": {"version": "v1", "goal": "Summarize.", "model": "m", "template": "Sum up {text}"},
          "greet": {
            "1.0": {"goal": "Greet.", "prompt": "Hi {name}"},
            "1.1": {"goal": "Greet warmly.", "prompt": "Hello {name}!", "max_tokens": 50}
          }
        }"#,
    );
    env.write(
        "old/prompt_performance.json",
        r#"{"greet": [{"version": "1.1", "output": "Hello Ada!", "execution_time_ms": 5,
                       "timestamp": "2024-05-01 08:00:00", "input_data": "{\"name\": \"Ada\"}"}]}"#,
    );
    let r = env.run(&["import", "legacy", "old", "--json"]);
    ok(&r);
    let j = r.json();
    let paths: Vec<&str> = j["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v["path"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        paths,
        [
            "prompts/summarize/1.0.md",
            "prompts/greet/1.0.md",
            "prompts/greet/1.1.md"
        ]
    );
    assert_eq!(j["runs_added"], 1);
    assert_eq!(
        env.read("prompts/greet/1.1.md").lines().last(),
        Some("Hello {{ name }}!")
    );
    let logged = runs(&env);
    assert_eq!(
        (
            &logged[0]["prompt"],
            &logged[0]["version"],
            &logged[0]["input"]
        ),
        (&json!("greet"), &json!("1.1"), &json!({"name": "Ada"}))
    );
}

#[test]
fn import_legacy_without_a_registry_or_with_bad_json_exits_2_and_writes_nothing() {
    let env = TestEnv::init();
    let r = env.run(&["import", "legacy"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(
        r.stderr.contains("data: no prompt_registry.json here"),
        "{}",
        r.stderr
    );
    env.write(
        "data/prompt_registry.json",
        "[{\"name\": \"a\",\n \"prompt\": \"x\"",
    );
    let r = env.run(&["import", "legacy"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(
        r.stderr
            .contains("data/prompt_registry.json:2: invalid JSON"),
        "{}",
        r.stderr
    );
    assert!(!env.path("prompts/a").exists());
}
