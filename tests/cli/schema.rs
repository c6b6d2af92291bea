//! The committed JSON Schemas (docs/json/) match the models the code prints.

use std::path::Path;

use crate::common::{Run, TestEnv, assert_schema};

#[test]
fn committed_schemas_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json");
    let schemas = ptrack::schema::command_schemas();
    let mut stale = Vec::new();
    for (name, schema) in &schemas {
        let path = dir.join(format!("{name}.schema.json"));
        let want = ptrack::schema::to_file_text(schema);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
            stale.push(path.display().to_string());
        }
        // Each schema is itself a valid JSON Schema.
        let value = serde_json::to_value(schema).expect("schema is JSON");
        assert!(
            jsonschema::validator_for(&value).is_ok(),
            "{name}: invalid schema"
        );
    }
    // No schema file is left over from a command that no longer has one.
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("docs/json exists")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    files.sort();
    let mut want: Vec<String> = schemas
        .iter()
        .map(|(name, _)| format!("{name}.schema.json"))
        .collect();
    want.sort();
    assert_eq!(
        files, want,
        "docs/json holds exactly one schema per command"
    );
    assert!(
        stale.is_empty(),
        "out of date with the code (run `cargo run --example json-schemas`):\n{}",
        stale.join("\n")
    );
}

#[test]
fn a_schema_rejects_output_of_another_shape() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json/list.schema.json");
    let text = std::fs::read_to_string(path).expect("list schema");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    // A row's fields are checked through the schema's `$defs`: a number is not a name.
    assert!(!validator.is_valid(&serde_json::json!([{ "name": 1 }])));
    assert!(!validator.is_valid(&serde_json::json!({ "rows": [] })));
    assert!(validator.is_valid(&serde_json::json!([])));
}

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "{}", r.snapshot());
}

#[test]
fn init_record_and_rate_json_match_their_schemas() {
    let env = TestEnv::new();
    let r = env.run(&["init", "--json"]);
    ok(&r);
    assert_schema("init", &r.json());
    env.prompt("p", "1.0", "goal: g\nmodel: m\n", "p 1.0\n");

    let r = env.run(&[
        "record",
        "p",
        "--time-ms",
        "12.5",
        "--quality",
        "8",
        "--json",
    ]);
    ok(&r);
    let recorded = r.json();
    assert_schema("record", &recorded);
    let id = recorded["id"].as_str().expect("the run's id");

    let lines = "{\"prompt\": \"p\", \"execution_time_ms\": 3, \"success\": true}\nnot json\n";
    let r = env.run_with_stdin(&["record", "--stdin", "--json"], lines);
    assert_eq!(r.code, 1, "a rejected line: {}", r.snapshot());
    assert_schema("record-batch", &r.json());

    let r = env.run(&["rate", id, "--quality", "6", "--feedback", "fine", "--json"]);
    ok(&r);
    assert_schema("rate", &r.json());
}
