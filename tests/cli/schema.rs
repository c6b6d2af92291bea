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

fn file_validator(kind: &str) -> jsonschema::Validator {
    let (_, schema) = ptrack::schema::file_schemas()
        .into_iter()
        .find(|(n, _)| *n == kind)
        .expect("schema");
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema.as_value())
        .expect("valid schema")
}

#[test]
fn schema_prints_each_file_schema_and_rejects_an_unknown_one() {
    let env = TestEnv::new();
    for (name, schema) in ptrack::schema::file_schemas() {
        let r = env.run(&["schema", name]);
        assert_eq!(r.code, 0, "{}", r.snapshot());
        assert_eq!(r.stdout, ptrack::schema::to_file_text(&schema), "{name}");
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
        assert!(jsonschema::validator_for(&v).is_ok(), "{name}");
    }
    let r = env.run(&["schema", "prompt"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(r.stderr.contains("front-matter"), "{}", r.snapshot());
}

#[test]
fn init_writes_the_schemas_and_new_versions_point_at_them() {
    let env = TestEnv::new();
    let r = env.run(&["init"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    for (name, schema) in ptrack::schema::file_schemas() {
        let text =
            std::fs::read_to_string(env.path(&format!(".ptrack/schemas/{name}.schema.json")))
                .expect("schema written");
        assert_eq!(text, ptrack::schema::to_file_text(&schema));
    }
    // The cache stays out of git, the schemas go in.
    assert_eq!(
        std::fs::read_to_string(env.path(".ptrack/.gitignore")).expect("gitignore"),
        "/cache/\n"
    );
    let toml = std::fs::read_to_string(env.path("ptrack.toml")).expect("ptrack.toml");
    assert!(
        toml.starts_with("#:schema ./.ptrack/schemas/config.schema.json\n"),
        "{toml}"
    );
    let config: toml::Table = toml.parse().expect("toml");
    assert!(file_validator("config").is_valid(&serde_json::to_value(config).expect("json")));

    for (format, hint) in [
        (
            "md",
            "# yaml-language-server: $schema=../../.ptrack/schemas/front-matter.schema.json\n",
        ),
        (
            "toml",
            "#:schema ../../.ptrack/schemas/front-matter.schema.json\n",
        ),
    ] {
        let name = format!("p{format}");
        let r = env.run(&[
            "create",
            &name,
            "--goal",
            "Sum up",
            "--model",
            "m1",
            "--format",
            format,
            "--temperature",
            "0.3",
        ]);
        assert_eq!(r.code, 0, "{}", r.snapshot());
        let rel = format!("prompts/{name}/1.0.{format}");
        let text = std::fs::read_to_string(env.path(&rel)).expect("created");
        assert!(text.contains(hint), "{text}");
        // The hint's path resolves from the file to the schema.
        let target = env
            .path(&rel)
            .parent()
            .expect("folder")
            .join(hint.trim_end().rsplit(['=', ' ']).next().expect("path"));
        assert!(target.is_file(), "{}", target.display());
        let (matter, diags) = ptrack::prompt::front_matter_value(Path::new(&rel), text.as_bytes());
        let matter = serde_json::Value::Object(matter.unwrap_or_else(|| panic!("{diags:?}")));
        let errors: Vec<String> = file_validator("front-matter")
            .iter_errors(&matter)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
    }
    let r = env.run(&["check"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
}

#[test]
fn schema_write_refreshes_the_project_schemas() {
    let env = TestEnv::init();
    std::fs::create_dir_all(env.path(".ptrack/schemas")).expect("mkdir");
    std::fs::write(env.path(".ptrack/schemas/run.schema.json"), "{}\n").expect("old");
    let r = env.run(&["schema", "--write"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    for (name, schema) in ptrack::schema::file_schemas() {
        let text =
            std::fs::read_to_string(env.path(&format!(".ptrack/schemas/{name}.schema.json")))
                .expect("written");
        assert_eq!(text, ptrack::schema::to_file_text(&schema));
    }
    // A linked schema folder is refused, and nothing is written through it.
    let outside = tempfile::tempdir().expect("tmp");
    std::fs::remove_dir_all(env.path(".ptrack/schemas")).expect("rm");
    std::os::unix::fs::symlink(outside.path(), env.path(".ptrack/schemas")).expect("link");
    let r = env.run(&["schema", "--write"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert_eq!(std::fs::read_dir(outside.path()).expect("dir").count(), 0);
}

#[test]
fn a_version_without_a_schema_folder_gets_no_hint() {
    let env = TestEnv::new();
    std::fs::write(env.path("ptrack.toml"), "").expect("config");
    let r = env.run(&["create", "p", "--goal", "g", "--model", "m"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let text = std::fs::read_to_string(env.path("prompts/p/1.0.md")).expect("created");
    assert!(text.starts_with("---\ngoal:"), "{text}");
}

#[test]
fn the_repository_schemas_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ptrack/schemas");
    for (name, schema) in ptrack::schema::file_schemas() {
        let path = dir.join(format!("{name}.schema.json"));
        assert_eq!(
            std::fs::read_to_string(&path).ok().as_deref(),
            Some(ptrack::schema::to_file_text(&schema).as_str()),
            "{} is stale: run `ptrack schema --write`",
            path.display()
        );
    }
}

#[test]
fn a_default_the_schema_rejects_is_an_error_naming_its_line() {
    // `[defaults] format = "json"` used to fall back to .md silently.
    let env = TestEnv::new();
    std::fs::create_dir_all(env.path("prompts")).expect("mkdir");
    for (text, want) in [
        (
            "[defaults]\nmodel = \"m\"\nformat = \"json\"\n",
            "error: ptrack.toml:3: [defaults] format must be `md` or `toml`, got \"json\"\n",
        ),
        (
            "[defaults]\ntemperature = 2.5\n",
            "error: ptrack.toml:2: [defaults] temperature must be between 0 and 2, got 2.5\n",
        ),
    ] {
        std::fs::write(env.path("ptrack.toml"), text).expect("config");
        for args in [
            &["check"][..],
            &["create", "p", "--goal", "g", "--model", "m"],
        ] {
            let r = env.run(args);
            assert_eq!(r.code, 2, "{}", r.snapshot());
            assert_eq!(r.stderr, want, "{}", r.snapshot());
        }
        assert!(!env.path("prompts/p").exists());
    }
}
