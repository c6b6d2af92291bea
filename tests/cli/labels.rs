//! End-to-end tests of labels: `ptrack label`, NAME:LABEL and --label in the commands that take
//! a version, bad labels, and label moves in `report`.

use crate::common::{Run, TestEnv, assert_schema};

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "{}", r.snapshot());
}

fn fails(r: &Run, code: i32, needle: &str) {
    assert_eq!(r.code, code, "{}", r.snapshot());
    assert!(
        r.stderr.contains(needle),
        "missing {needle:?}: {}",
        r.snapshot()
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.snapshot());
}

/// Prompt `p` with versions 1.0, 1.1 and 1.2 (texts "text 1.0" …), committed on main.
fn project() -> TestEnv {
    let env = TestEnv::init();
    for v in ["1.0", "1.1", "1.2"] {
        env.prompt("p", v, "goal: g\n", &format!("text {v}\n"));
    }
    env.git(&["add", "-A"]);
    env.git(&["commit", "-qm", "prompts"]);
    env
}

#[test]
fn label_sets_lists_and_removes_editing_labels_toml_in_place() {
    let env = project();
    env.write(
        "labels.toml",
        "# Who serves what. Reviewed in pull requests.\n[p]\nstaging = \"1.2\" # next up\n",
    );
    let r = env.run(&["label", "p", "production", "1.1"]);
    ok(&r);
    assert_eq!(
        r.stdout,
        "p production: (none) → 1.1\nlabels.toml changed; commit it to move the label for everyone\n"
    );
    let r = env.run(&["label", "p", "staging", "1.0", "--json"]);
    ok(&r);
    let v = r.json();
    assert_schema("label-move", &v);
    assert_eq!(
        v,
        serde_json::json!({"prompt": "p", "label": "staging", "from": "1.2", "to": "1.0"})
    );
    assert_eq!(
        env.read("labels.toml"),
        "# Who serves what. Reviewed in pull requests.\n[p]\nstaging = \"1.0\" # next up\nproduction = \"1.1\"\n"
    );
    let r = env.run(&["label", "p"]);
    ok(&r);
    assert_eq!(
        r.stdout,
        "LABEL       VERSION\nlatest      1.2\nproduction  1.1\nstaging     1.0\n"
    );
    let v = env.run(&["label", "p", "--json"]).json();
    assert_schema("label", &v);
    assert_eq!(
        v["labels"][0],
        serde_json::json!({"label": "latest", "version": "1.2", "line": null})
    );
    assert_eq!(
        v["labels"][1],
        serde_json::json!({"label": "production", "version": "1.1", "line": 4})
    );
    ok(&env.run(&["label", "p", "staging", "--remove"]));
    assert_eq!(
        env.read("labels.toml"),
        "# Who serves what. Reviewed in pull requests.\n[p]\nproduction = \"1.1\"\n"
    );
}

#[test]
fn bad_labels_are_errors_and_nothing_is_written() {
    let env = project();
    fails(
        &env.run(&["label", "p", "1.5", "1.0"]),
        2,
        "may not be named like a version",
    );
    fails(
        &env.run(&["label", "p", "latest", "1.0"]),
        2,
        "`latest` is always the highest version",
    );
    fails(
        &env.run(&["label", "p", "Prod", "1.0"]),
        2,
        "invalid label name `Prod`",
    );
    fails(
        &env.run(&["label", "p", "production", "9.9"]),
        2,
        "prompt `p` has no version 9.9",
    );
    fails(
        &env.run(&["label", "nope", "production", "1.0"]),
        2,
        "no prompt named `nope`",
    );
    fails(
        &env.run(&["label", "p", "production", "--remove"]),
        2,
        "has no label `production`",
    );
    assert!(!env.path("labels.toml").exists());
    // A broken labels.toml is never overwritten.
    env.write("labels.toml", "[p\nproduction = \"1.0\"\n");
    fails(
        &env.run(&["label", "p", "production", "1.1"]),
        2,
        "labels.toml:1:",
    );
    assert_eq!(env.read("labels.toml"), "[p\nproduction = \"1.0\"\n");
}

#[test]
fn every_command_that_takes_a_version_takes_a_label() {
    let env = project();
    ok(&env.run(&["label", "p", "production", "1.1"]));
    let r = env.run(&["show", "p:production"]);
    ok(&r);
    assert!(
        r.stdout.starts_with("p 1.1  prompts/p/1.1.md"),
        "{}",
        r.snapshot()
    );
    assert_eq!(
        env.run(&["show", "p", "--label", "production", "--json"])
            .json()["version"],
        "1.1"
    );
    assert_eq!(env.run(&["render", "p:production"]).stdout, "text 1.1\n");
    assert_eq!(
        env.run(&["render", "p", "--label", "production"]).stdout,
        "text 1.1\n"
    );
    assert_eq!(env.run(&["render", "p:latest"]).stdout, "text 1.2\n");
    // record and performance: the label names the version that ran.
    ok(&env.run(&["record", "p:production", "--time-ms", "10"]));
    ok(&env.run(&["record", "p", "--label", "production", "--time-ms", "20"]));
    ok(&env.run(&["record", "p", "--time-ms", "30"]));
    let v = env.run(&["performance", "p:production", "--json"]).json();
    let versions = v["prompts"][0]["versions"]
        .as_array()
        .expect("versions")
        .clone();
    assert_eq!(versions.len(), 1, "{v}");
    assert_eq!(versions[0]["version"], "1.1");
    assert_eq!(versions[0]["metrics"]["runs"], 2);
    let v = env.run(&["performance", "p:latest", "--json"]).json();
    assert_eq!(v["prompts"][0]["versions"][0]["version"], "1.2");
    // compare and diff take labels as sides.
    let v = env
        .run(&["compare", "p", "production", "latest", "--json"])
        .json();
    let vs: Vec<&str> = v["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|x| x["version"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(vs, ["1.1", "1.2"], "{v}");
    let r = env.run(&["diff", "p:production"]);
    ok(&r);
    assert!(r.stdout.starts_with("p 1.1 → p 1.2\n"), "{}", r.snapshot());
    let r = env.run(&["diff", "p", "production", "1.0"]);
    ok(&r);
    assert!(r.stdout.starts_with("p 1.1 → p 1.0\n"), "{}", r.snapshot());
    // NAME:LABEL@REV: where the label pointed at that revision, against where it points now.
    env.git(&["add", "-A"]);
    env.git(&["commit", "-qm", "production is 1.1"]);
    ok(&env.run(&["label", "p", "production", "1.2"]));
    let r = env.run(&["diff", "p:production@HEAD"]);
    ok(&r);
    assert!(r.stdout.starts_with("p 1.1@"), "{}", r.snapshot());
    assert!(r.stdout.contains(" → p 1.2\n"), "{}", r.snapshot());
    // Mixing the two spellings is refused.
    fails(
        &env.run(&["show", "p:production", "--version", "1.0"]),
        2,
        "already names the version",
    );
}

#[test]
fn a_label_that_points_nowhere_is_an_error_that_check_reports_with_its_line() {
    let env = project();
    env.write(
        "labels.toml",
        "[p]\nproduction = \"1.1\"\ncanary = \"7.0\"\n\n[gone]\nproduction = \"1.0\"\n",
    );
    fails(
        &env.run(&["show", "p:canary"]),
        2,
        "label `canary` of `p` points at version 7.0, which does not exist; see labels.toml:3",
    );
    let r = env.run(&["show", "p:nope"]);
    fails(&r, 2, "prompt `p` has no label `nope`");
    assert!(
        r.stderr
            .contains("hint: labels: latest, canary, production"),
        "{}",
        r.snapshot()
    );
    let r = env.run(&["check"]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert!(
        r.stdout
            .contains("labels.toml:3: [p] canary points at 7.0, which does not exist"),
        "{}",
        r.snapshot()
    );
    assert!(
        r.stdout
            .contains("labels.toml:6: [gone] production = \"1.0\": there is no prompt `gone`"),
        "{}",
        r.snapshot()
    );
    env.write("labels.toml", "[p]\n\"2.0\" = \"1.1\"\n");
    let r = env.run(&["check"]);
    assert!(
        r.stdout
            .contains("labels.toml:2: [p] 2.0: a label may not be named like a version"),
        "{}",
        r.snapshot()
    );
}

#[test]
fn report_shows_a_label_move_and_its_gate_wants_runs_first() {
    let env = project();
    env.write("labels.toml", "[p]\nproduction = \"1.0\"\n");
    env.git(&["add", "-A"]);
    env.git(&["commit", "-qm", "production is 1.0"]);
    env.git(&["checkout", "-q", "-b", "feature"]);
    ok(&env.run(&["label", "p", "production", "1.1"]));
    ok(&env.run(&["record", "p:production", "--time-ms", "10"]));
    ok(&env.run(&["record", "p", "--version", "1.0", "--time-ms", "20"]));
    let v = env.run(&["report", "--json"]).json();
    assert_schema("report", &v);
    let moves = v["label_moves"].as_array().expect("moves");
    assert_eq!(moves.len(), 1, "{v}");
    assert_eq!(moves[0]["label"], "production");
    assert_eq!(moves[0]["from"], "1.0");
    assert_eq!(moves[0]["to"], "1.1");
    assert_eq!(moves[0]["to_metrics"]["runs"], 1);
    assert_eq!(moves[0]["from_metrics"]["runs"], 1);
    let r = env.run(&["report"]);
    assert!(r.stdout.contains("### 🏷️ Label moves"), "{}", r.stdout);
    assert!(
        r.stdout.contains("| p | production | 1.0 | 1.1 | 1 → 1 |"),
        "{}",
        r.stdout
    );
    // The gate: 2 runs needed, 1 recorded.
    let r = env.run(&["report", "--json", "--label-moves-need-runs", "2"]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    let v = r.json();
    let g = v["gates"]
        .as_array()
        .expect("gates")
        .iter()
        .find(|g| g["gate"] == "label_moves_need_runs")
        .expect("gate")
        .clone();
    assert_eq!(g["passed"], false);
    assert_eq!(g["version"], "1.1");
    ok(&env.run(&["record", "p:production", "--time-ms", "11"]));
    let r = env.run(&["report", "--json", "--label-moves-need-runs", "2"]);
    ok(&r);
    // From ptrack.toml too.
    env.write("ptrack.toml", "[report]\nlabel_moves_need_runs = 3\n");
    assert_eq!(env.run(&["report", "--json"]).code, 1);
}
