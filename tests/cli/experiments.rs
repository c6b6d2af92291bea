//! End-to-end tests of experiments: sticky assignment across processes, runs that carry their
//! variant, and the analysis with a planted sample-ratio mismatch.

use crate::common::{Run, TestEnv, assert_schema};

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "{}", r.snapshot());
}

const EXPERIMENT: &str = "[brief]\nprompt = \"p\"\nlabel = \"production\"\nvariants = { \"1.1\" = 90, \"1.2\" = 10 }\nmetric = \"success_rate\"\nstart = \"2026-11-01\"\nmin_effect = 0.1\n";

/// Prompt `p` 1.1 and 1.2, production at 1.1, and the 90/10 experiment `brief`.
fn project(experiment: &str) -> TestEnv {
    let env = TestEnv::init();
    for v in ["1.1", "1.2"] {
        env.prompt("p", v, "goal: g\n", &format!("text {v}\n"));
    }
    env.write("labels.toml", "[p]\nproduction = \"1.1\"\n");
    env.write("experiments.toml", experiment);
    env
}

/// The variant the library assigns `unit` (what every process must agree with).
fn variant_of(unit: &str) -> &'static str {
    let b = ptrack::experiment::bucket("brief", unit);
    if b * 100 < 90 * ptrack::experiment::BUCKETS {
        "1.1"
    } else {
        "1.2"
    }
}

#[test]
fn a_unit_gets_the_same_variant_in_a_thousand_fresh_processes() {
    let env = project(EXPERIMENT);
    // A unit in the 10% (bucket ≥ 9000), so "always the control" cannot pass by accident.
    let unit = (0..)
        .map(|i| format!("user-{i}"))
        .find(|u| variant_of(u) == "1.2")
        .expect("a unit of 1.2");
    let first = env.run(&["resolve", "p:production", "--unit", &unit, "--json"]);
    ok(&first);
    let v = first.json();
    assert_schema("resolve", &v);
    assert_eq!(v["version"], "1.2");
    assert_eq!(v["variant"], "1.2");
    assert_eq!(v["experiment"], "brief");
    assert_eq!(v["bucket"], ptrack::experiment::bucket("brief", &unit));
    for _ in 0..1000 {
        let r = env.run(&["resolve", "p:production", "--unit", &unit]);
        assert_eq!(r.stdout, "1.2\n", "{}", r.snapshot());
    }
}

#[test]
fn resolve_serves_the_label_outside_an_experiment_and_warns_without_a_unit() {
    let env = project(EXPERIMENT);
    let r = env.run(&["resolve", "p:production"]);
    ok(&r);
    assert_eq!(r.stdout, "1.1\n");
    assert!(
        r.stderr
            .contains("experiment `brief` is running on p:production; pass --unit"),
        "{}",
        r.snapshot()
    );
    assert_eq!(env.run(&["resolve", "p"]).stdout, "1.2\n");
    // Before its start the experiment assigns nothing.
    env.write(
        "experiments.toml",
        EXPERIMENT.replace("2026-11-01", "2027-01-01"),
    );
    let v = env
        .run(&["resolve", "p:production", "--unit", "user-1", "--json"])
        .json();
    assert_eq!(v["version"], "1.1");
    assert_eq!(v["experiment"], serde_json::Value::Null);
}

#[test]
fn runs_carry_their_variant_and_bad_ones_are_rejected() {
    let env = project(&format!("{EXPERIMENT}hash_units = true\n"));
    ok(&env.run(&[
        "record",
        "p:production",
        "--time-ms",
        "5",
        "--experiment",
        "brief",
        "--unit",
        "user-1",
    ]));
    let log = env.read("runs/p/2026-11.jsonl");
    let line: serde_json::Value =
        serde_json::from_str(log.lines().next().expect("a line")).expect("json");
    assert_eq!(line["label"], "production");
    assert_eq!(line["experiment"], "brief");
    assert_eq!(line["variant"], "1.1");
    assert_eq!(line["unit_hash"], ptrack::experiment::unit_hash("user-1"));
    assert!(
        line.get("unit").is_none(),
        "hash_units keeps the id out: {line}"
    );
    let r = env.run_with_stdin(
        &["record", "--stdin", "p"],
        "{\"experiment\":\"brief\",\"unit\":\"u2\",\"variant\":\"1.2\",\"execution_time_ms\":1}\n\
         {\"experiment\":\"brief\",\"unit\":\"u3\",\"variant\":\"1.0\",\"execution_time_ms\":1}\n\
         {\"experiment\":\"nope\",\"unit\":\"u4\",\"variant\":\"1.1\",\"execution_time_ms\":1}\n\
         {\"experiment\":\"brief\",\"unit\":\"u5\",\"variant\":\"1.2\",\"version\":\"1.1\",\"execution_time_ms\":1}\n\
         {\"unit\":\"u6\",\"execution_time_ms\":1}\n",
    );
    assert_eq!(r.code, 1, "{}", r.snapshot());
    for want in [
        "stdin:2: 1.0 is not a variant of experiment `brief` (variants: 1.1, 1.2)",
        "stdin:3: no experiment named `nope` in experiments.toml (experiments: brief)",
        "stdin:4: variant 1.2 and version 1.1 disagree",
        "stdin:5: `unit` needs `experiment`",
    ] {
        assert!(
            r.stderr.contains(want),
            "missing {want:?}: {}",
            r.snapshot()
        );
    }
    let lines: Vec<serde_json::Value> = env
        .read("runs/p/2026-11.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[1]["version"], "1.2",
        "a run without version is a run of its variant"
    );
    let r = env.run(&[
        "record",
        "p",
        "--version",
        "1.2",
        "--time-ms",
        "1",
        "--experiment",
        "nope",
        "--unit",
        "x",
    ]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
}

/// `n` run lines of experiment `brief`: units `u0…`, the variant `assign` gives each, and a
/// success rate per variant.
fn batch(
    n: usize,
    assign: impl Fn(usize, &str) -> &'static str,
    rate: impl Fn(&str) -> f64,
) -> String {
    let mut out = String::new();
    for i in 0..n {
        let unit = format!("u{i}");
        let v = assign(i, &unit);
        // Deterministic successes at the given rate: every k-th run fails.
        let ok = ((i as f64) * rate(v)).floor() != ((i as f64 + 1.0) * rate(v)).floor();
        out.push_str(&format!(
            "{{\"experiment\":\"brief\",\"unit\":\"{unit}\",\"variant\":\"{v}\",\"execution_time_ms\":{},\"success\":{ok}}}\n",
            100 + i % 50
        ));
    }
    out
}

#[test]
fn a_planted_sample_ratio_mismatch_is_said_loudly_and_fails() {
    let env = project(EXPERIMENT);
    // Half the units logged as 1.2 although the weights say 10%.
    let skewed = batch(1000, |i, _| if i % 2 == 0 { "1.2" } else { "1.1" }, |_| 0.8);
    ok(&env.run_with_stdin(&["record", "--stdin", "p"], &skewed));
    let r = env.run(&["experiment", "brief", "--json"]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    let v = r.json();
    assert_schema("experiment", &v);
    assert_eq!(v["decision"], "broken");
    assert_eq!(v["sample_ratio"]["mismatch"], true);
    assert_eq!(v["variants"][0]["units"], 500);
    assert_eq!(v["variants"][1]["units"], 500);
    let r = env.run(&["experiment", "brief"]);
    assert!(
        r.stdout.contains("SAMPLE RATIO MISMATCH"),
        "{}",
        r.snapshot()
    );
}

#[test]
fn an_experiment_keeps_running_until_the_planned_runs_then_ships_the_better_variant() {
    let env = project(EXPERIMENT);
    let rate = |v: &str| if v == "1.2" { 0.95 } else { 0.75 };
    ok(&env.run_with_stdin(
        &["record", "--stdin", "p"],
        &batch(300, |_, u| variant_of(u), rate),
    ));
    let v = env.run(&["experiment", "brief", "--json"]).json();
    assert_eq!(v["decision"], "keep_running", "{v}");
    assert!(
        v["verdict"]
            .as_str()
            .unwrap_or("")
            .starts_with("keep running: the smallest variant has"),
        "{v}"
    );
    // The split follows the weights, so the sample-ratio check holds.
    assert_eq!(v["sample_ratio"]["mismatch"], false);
    let more: String = batch(4000, |_, u| variant_of(u), rate)
        .lines()
        .skip(300)
        .map(|l| format!("{l}\n"))
        .collect();
    ok(&env.run_with_stdin(&["record", "--stdin", "p"], &more));
    let v = env.run(&["experiment", "brief", "--json"]).json();
    assert_eq!(v["decision"], "ship", "{v}");
    assert_eq!(v["ship"], "1.2");
    assert_eq!(v["variants"][0]["control"], true);
    let r = env.run(&["experiment"]);
    assert!(
        r.stdout
            .contains("brief       p:production  1.1=90 1.2=10  success_rate  running"),
        "{}",
        r.snapshot()
    );
}

#[test]
fn check_reports_bad_experiments_with_their_line() {
    let env = project(&format!(
        "{EXPERIMENT}\n[other]\nprompt = \"p\"\nlabel = \"production\"\nvariants = {{ \"1.1\" = 1, \"3.0\" = 1 }}\nstart = \"2026-11-15\"\nmin_effect = 1\n"
    ));
    let r = env.run(&["check"]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert!(
        r.stdout
            .contains("experiments.toml:9: [other] variant 3.0 of `p` does not exist"),
        "{}",
        r.snapshot()
    );
    assert!(
        r.stdout
            .contains("experiments.toml:9: [other] overlaps [brief] on p:production"),
        "{}",
        r.snapshot()
    );
}

#[test]
fn report_lists_the_running_experiments_a_pull_request_touches() {
    let env = project(EXPERIMENT);
    env.git(&["add", "-A"]);
    env.git(&["commit", "-qm", "experiment"]);
    env.git(&["checkout", "-q", "-b", "feature"]);
    // Nothing touched: not listed.
    let v = env.run(&["report", "--json"]).json();
    assert_eq!(v["experiments"], serde_json::json!([]), "{v}");
    // The experiment's weights change in the pull request.
    env.write(
        "experiments.toml",
        EXPERIMENT
            .replace("= 90, ", "= 80, ")
            .replace("= 10 }", "= 20 }"),
    );
    let v = env.run(&["report", "--json"]).json();
    assert_schema("report", &v);
    let list = v["experiments"].as_array().expect("experiments");
    assert_eq!(list.len(), 1, "{v}");
    assert_eq!(list[0]["name"], "brief");
    assert_eq!(list[0]["touched"], "experiment changed");
    assert_eq!(list[0]["decision"], "keep_running");
    let r = env.run(&["report"]);
    assert!(
        r.stdout.contains("### 🧪 Running experiments"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("- **brief** on p:production (experiment changed): keep running"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_broken_experiments_file_is_said_not_silently_ignored() {
    let env = project("[brief\nprompt = \"p\"\n");
    let r = env.run(&["experiment"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(
        r.stderr
            .contains("experiments.toml:1: invalid experiments file"),
        "{}",
        r.snapshot()
    );
    let r = env.run(&["resolve", "p:production", "--unit", "u1"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert_eq!(r.stdout, "1.1\n");
    assert!(
        r.stderr
            .contains("experiments with errors assign no variant; the label's version is served"),
        "{}",
        r.snapshot()
    );
}
