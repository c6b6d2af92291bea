//! End-to-end tests of `ptrack alerts`: rules that fire, hold and lack data, time windows
//! against run counts, bad rules, exit codes, the JSON model and the Prometheus rules file.

use serde_json::{Value, json};

use crate::common::{Run, TestEnv, assert_schema};

/// One run line of prompt `p`.
fn run_line(n: usize, ts: &str, version: &str, success: bool, ms: u64) -> String {
    json!({
        "id": format!("01a1556c-0000-7000-8000-{n:012}"),
        "ts": ts,
        "prompt": "p",
        "version": version,
        "execution_time_ms": ms,
        "success": success,
        "output": "o",
    })
    .to_string()
}

/// Prompt `p` 1.0 (production) and 1.1, with runs around the pinned now (2026-11-24T12:00Z):
/// - 1.1: 10 runs in the last hour, 11:05 … 11:50, taking 100, 200, … 1000 ms; 3 fail
///   (success rate 0.7);
/// - 1.0: 20 successful runs two days ago, 50 ms each;
/// - 1.1: one failed run after now (2026-11-25), which no window may count.
fn project(rules: &str) -> TestEnv {
    let env = TestEnv::init();
    env.prompt("p", "1.0", "goal: g\n", "text 1.0\n");
    env.prompt("p", "1.1", "goal: g\n", "text 1.1\n");
    env.write("labels.toml", "[p]\nproduction = \"1.0\"\n");
    // Not in time order: `last` takes the latest runs by time, not the last lines.
    let mut lines = Vec::new();
    for i in 0..10 {
        lines.push(run_line(
            100 + i,
            &format!("2026-11-24T11:{:02}:00Z", 5 + i * 5),
            "1.1",
            i >= 3,
            100 * (i as u64 + 1),
        ));
    }
    lines.push(run_line(999, "2026-11-25T00:00:00Z", "1.1", false, 10));
    for i in 0..20 {
        lines.push(run_line(
            i,
            &format!("2026-11-22T10:{i:02}:00Z"),
            "1.0",
            true,
            50,
        ));
    }
    env.write("runs/p/2026-11.jsonl", lines.join("\n") + "\n");
    env.write("ptrack.toml", rules);
    env
}

const RULES: &str = r#"
[[alerts]]
name = "failing_now"
prompt = "p"
when = "success_rate < 0.9"
window = "1h"
min_runs = 5

[[alerts]]
name = "production_healthy"
prompt = "p"
label = "production"
when = "success_rate < 0.9"
window = "7d"

[[alerts]]
name = "slow_but_few"
prompt = "p"
version = "1.1"
when = "p95_ms > 10"
window = "1h"
min_runs = 30

[[alerts]]
name = "last_twenty"
prompt = "p"
when = "success_rate < 0.9"
last = 20

[[alerts]]
name = "three_days"
prompt = "p"
when = "success_rate < 0.9"
window = "3d"
"#;

fn rule<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["rules"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no rule {name} in {v:#}"))
}

#[test]
fn rules_fire_hold_or_lack_data_and_a_firing_rule_exits_1() {
    let env = project(RULES);
    let r = env.run(&["alerts"]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    insta::assert_snapshot!(r.snapshot());

    // On a narrow terminal the rule names shorten, and no row wraps.
    let narrow = env.run_in_columns(72, &["alerts"]);
    assert_eq!(narrow.code, 1, "{}", narrow.snapshot());
    narrow.assert_fits(72);
    assert!(narrow.stdout.contains("FIRING"), "{}", narrow.snapshot());

    let r = env.run(&["alerts", "--json"]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    let v = r.json();
    assert_schema("alerts", &v);
    assert_eq!(v["now"], "2026-11-24T12:00:00Z");
    assert_eq!(v["firing"], 2);

    // The 10 runs of the last hour, 7 successful.
    let f = rule(&v, "failing_now");
    assert_eq!(
        (&f["state"], &f["runs"], &f["value"], &f["threshold"]),
        (&json!("firing"), &json!(10), &json!(0.7), &json!(0.9))
    );
    assert_eq!(f["version"], Value::Null);
    assert_eq!(f["window"], json!({"duration": {"seconds": 3600}}));

    // production is 1.0: its 20 runs all succeeded.
    let p = rule(&v, "production_healthy");
    assert_eq!((&p["state"], &p["runs"]), (&json!("ok"), &json!(20)));
    assert_eq!(
        (&p["label"], &p["version"]),
        (&json!("production"), &json!("1.0"))
    );
    assert_eq!(p["value"], 1.0);

    // 10 runs, fewer than min_runs 30: never firing, though p95 is far above 10 ms.
    // numpy.percentile([100, 200, ..., 1000], 95) = 955.0
    let s = rule(&v, "slow_but_few");
    assert_eq!(
        (&s["state"], &s["runs"], &s["value"]),
        (&json!("not_enough_data"), &json!(10), &json!(955.0))
    );
    assert_eq!(
        s["reason"],
        "10 runs in the window, fewer than min_runs = 30"
    );

    // The latest 20 runs (not counting the one after now): 10 of 1.1 (7 ok), 10 of 1.0: 17/20.
    let l = rule(&v, "last_twenty");
    assert_eq!(
        (&l["state"], &l["runs"], &l["value"]),
        (&json!("firing"), &json!(20), &json!(0.85))
    );
    assert_eq!(l["window"], json!({"last": {"runs": 20}}));
    assert_eq!(l["window_text"], "last 20");

    // Three days hold all 30 runs up to now: 27/30 = 0.9 is not below 0.9. Counting the
    // failed run after now would make it 27/31 and fire.
    let t = rule(&v, "three_days");
    assert_eq!(
        (&t["state"], &t["runs"], &t["value"]),
        (&json!("ok"), &json!(30), &json!(0.9))
    );
}

#[test]
fn no_firing_rule_exits_0_and_no_rules_says_how_to_add_one() {
    let env = project(
        "[[alerts]]\nprompt = \"p\"\nlabel = \"production\"\nwhen = \"p95_ms >= 51\"\nwindow = \"7d\"\n",
    );
    let r = env.run(&["alerts"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(r.stdout.contains("p_p95_ms"), "{}", r.snapshot());
    assert!(r.stdout.contains("p:production (1.0)"), "{}", r.snapshot());
    let v = env.run(&["alerts", "--json"]).json();
    assert_schema("alerts", &v);
    assert_eq!(
        (&v["firing"], &rule(&v, "p_p95_ms")["value"]),
        (&json!(0), &json!(50.0))
    );

    // Moving the label moves the rule: 1.1's p95 in the last 7 days is 955 ms.
    env.write("labels.toml", "[p]\nproduction = \"1.1\"\n");
    let r = env.run(&["alerts"]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert!(r.stdout.contains("p:production (1.1)"), "{}", r.snapshot());

    env.write("ptrack.toml", "");
    let r = env.run(&["alerts"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert_eq!(
        r.stdout,
        "no alert rules; add [[alerts]] tables to ptrack.toml (see `ptrack alerts --help`)\n"
    );
    let v = env.run(&["alerts", "--json"]).json();
    assert_schema("alerts", &v);
    assert_eq!(v["rules"], json!([]));
}

#[test]
fn quality_counts_rated_runs_and_cost_needs_prices() {
    let env = project(
        "[[alerts]]\nprompt = \"p\"\nwhen = \"quality < 6\"\nwindow = \"1h\"\nmin_runs = 2\n\n[[alerts]]\nprompt = \"p\"\nwhen = \"cost_per_run > 0.001\"\nwindow = \"1h\"\n",
    );
    let v = env.run(&["alerts", "--json"]).json();
    assert_schema("alerts", &v);
    let q = rule(&v, "p_quality");
    assert_eq!(q["state"], "not_enough_data");
    assert_eq!(
        q["reason"],
        "0 rated runs in the window, fewer than min_runs = 2"
    );
    let c = rule(&v, "p_cost_per_run");
    assert_eq!(
        (&c["state"], &c["value"]),
        (&json!("not_enough_data"), &Value::Null)
    );
    assert!(
        c["reason"].as_str().is_some_and(|r| r.contains("priced")),
        "{c:#}"
    );
    // Two ratings of runs in the last hour: mean (4 + 5) / 2 = 4.5 < 6.
    let ids = [
        "01a1556c-0000-7000-8000-000000000105",
        "01a1556c-0000-7000-8000-000000000106",
    ];
    for (id, q) in ids.iter().zip(["4", "5"]) {
        let r = env.run(&["rate", id, "--quality", q]);
        assert_eq!(r.code, 0, "{}", r.snapshot());
    }
    let r = env.run(&["alerts", "--json"]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    let q = rule(&r.json(), "p_quality").clone();
    assert_eq!((&q["state"], &q["value"]), (&json!("firing"), &json!(4.5)));
}

fn fails(rules: &str) -> Run {
    let env = project(rules);
    let r = env.run(&["alerts"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert_eq!(r.stdout, "", "{}", r.snapshot());
    r
}

#[test]
fn a_bad_rule_is_an_error_naming_its_line() {
    let cases = [
        (
            "[[alerts]]\nprompt = \"p\"\nwhen = \"success_rate < 0.9\"\nwindow = \"1h\"\nlast = 20\n",
            "error: ptrack.toml:5: [[alerts]] #1: give `window` (a time) or `last` (a number of runs), not both\n",
        ),
        (
            "[[alerts]]\nprompt = \"p\"\nwhen = \"success_rate < 0.9\"\nwindow = \"1h\"\n\n[[alerts]]\nprompt = \"p\"\nwhen = \"latency > 3\"\nwindow = \"1h\"\n",
            "error: ptrack.toml:8: [[alerts]] #2: when: unknown metric `latency`; known: success_rate, p95_ms, quality, cost_per_run\n",
        ),
        (
            "[[alerts]]\nprompt = \"p\"\nwhen = \"success_rate < 0.9\"\nwindow = \"1 hour\"\n",
            "error: ptrack.toml:4: [[alerts]] #1: window: expected a duration such as `30m`, `1h` or `7d` (s, m, h, d), got \"1 hour\"\n",
        ),
        (
            "[[alerts]]\nprompt = \"p\"\nwhen = \"success_rate < 90\"\nlast = 5\n",
            "error: ptrack.toml:3: [[alerts]] #1: when: success_rate is a fraction from 0 to 1 (0.9 = 90%), got 90\n",
        ),
        (
            "[[alerts]]\nprompt = \"p\"\nwhen = \"success_rate < 0.9\"\n",
            "error: ptrack.toml:1: [[alerts]] #1: a rule needs `window` (such as \"1h\") or `last` (a number of runs)\n",
        ),
        (
            "[[alerts]]\nprompt = \"p\"\nwhen = \"success_rate < 0.9\"\nlast = 5\nmin_runs = 0\n",
            "error: ptrack.toml:5: [[alerts]] #1: min_runs must be a number of runs > 0\n",
        ),
        (
            "[notify]\nwebhook = \"hooks.example.com/x\"\n",
            "error: ptrack.toml:2: [notify] webhook must be an http:// or https:// URL, got \"hooks.example.com/x\"\n",
        ),
    ];
    for (rules, stderr) in cases {
        assert_eq!(fails(rules).stderr, stderr, "{rules}");
    }
    // A value of the wrong type is TOML's error, with its line.
    let r = fails("[[alerts]]\nprompt = \"p\"\nwhen = \"quality < 5\"\nlast = \"ten\"\n");
    assert!(
        r.stderr.starts_with("error: ptrack.toml:4: "),
        "{}",
        r.snapshot()
    );
    // A misspelt prompt would never fire: an error, with the closest name.
    let r = fails("[[alerts]]\nprompt = \"pp\"\nwhen = \"quality < 5\"\nlast = 5\n");
    assert!(
        r.stderr
            == "error: alert `pp_quality` in ptrack.toml: no prompt named `pp`\nhint: did you mean `p`?\n",
        "{}",
        r.snapshot()
    );
    let env = project("[[alerts]]\nprompt = \"pp\"\nwhen = \"quality < 5\"\nlast = 5\n");
    assert_eq!(env.run(&["alerts", "--prometheus-rules"]).code, 2);
    // A label that labels.toml does not have is an error when the rules are evaluated.
    let r = fails(
        "[[alerts]]\nprompt = \"p\"\nlabel = \"staging\"\nwhen = \"quality < 5\"\nlast = 5\n",
    );
    assert!(
        r.stderr
            .starts_with("error: alert `p_quality` in ptrack.toml: ")
            && r.stderr.contains("hint: labels: latest, production"),
        "{}",
        r.snapshot()
    );
}

#[test]
fn unknown_keys_in_a_rule_are_warnings_that_check_reports() {
    let env = project(
        "[[alerts]]\nprompt = \"p\"\nwhen = \"success_rate < 0.5\"\nwindow = \"1h\"\nmin_run = 3\n",
    );
    let r = env.run(&["alerts"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let r = env.run(&["check"]);
    assert!(
        r.stdout.contains(
            "ptrack.toml:5: warning: unknown key `min_run` in [[alerts]], did you mean `min_runs`?"
        ) || r.stderr.contains(
            "ptrack.toml:5: warning: unknown key `min_run` in [[alerts]], did you mean `min_runs`?"
        ),
        "{}",
        r.snapshot()
    );
}

#[test]
fn a_bad_log_line_is_reported_once_and_not_counted() {
    let env = project(RULES);
    let mut log = env.read("runs/p/2026-11.jsonl");
    log.push_str("{\"id\": \"x\", \"success\": \"maybe\"}\n");
    env.write("runs/p/2026-11.jsonl", log);
    let r = env.run(&["alerts", "--json"]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert_eq!(rule(&r.json(), "three_days")["runs"], 30);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", r.snapshot());
    assert!(
        lines[0].starts_with("error: runs/p/2026-11.jsonl:32: "),
        "{}",
        r.snapshot()
    );
}

#[test]
fn usage_errors_exit_2() {
    let env = project(RULES);
    let r = env.run(&["alerts", "--prometheus-rules", "--json"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert_eq!(
        r.stderr,
        "error: --prometheus-rules prints YAML; drop --json\n"
    );
    let r = env.run(&["alerts", "--firing"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
}

#[test]
fn prometheus_rules_are_a_valid_rules_file_over_the_metrics_series() {
    let env = project(RULES);
    let r = env.run(&["alerts", "--prometheus-rules"]);
    // Printing the rules evaluates nothing: exit 0 even though two rules fire.
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&r.stdout).unwrap_or_else(|e| panic!("not YAML ({e}):\n{}", r.stdout));
    let groups = doc["groups"].as_sequence().expect("groups");
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["name"].as_str(), Some("ptrack"));
    let rules = groups[0]["rules"].as_sequence().expect("rules");
    let alerts: Vec<&str> = rules.iter().filter_map(|r| r["alert"].as_str()).collect();
    assert_eq!(
        alerts,
        [
            "failing_now",
            "production_healthy",
            "slow_but_few",
            "last_twenty",
            "three_days"
        ]
    );
    for r in rules {
        let keys: Vec<&str> = r
            .as_mapping()
            .expect("a rule is a mapping")
            .keys()
            .filter_map(|k| k.as_str())
            .collect();
        assert_eq!(keys, ["alert", "expr", "for", "labels", "annotations"]);
        assert_eq!(r["for"].as_str(), Some("5m"));
        assert_eq!(r["labels"]["prompt"].as_str(), Some("p"));
        assert!(r["annotations"]["summary"].as_str().is_some());
    }
    let expr = |i: usize| rules[i]["expr"].as_str().expect("expr");
    assert_eq!(
        expr(0),
        "(1 - sum(increase(ptrack_run_failures_total{prompt=\"p\"}[1h])) / sum(increase(ptrack_runs_total{prompt=\"p\"}[1h]))) < 0.9 and on() sum(increase(ptrack_runs_total{prompt=\"p\"}[1h])) >= 5"
    );
    // The label is resolved when the file is written.
    assert_eq!(
        expr(1),
        "(1 - sum(increase(ptrack_run_failures_total{prompt=\"p\",version=\"1.0\"}[7d])) / sum(increase(ptrack_runs_total{prompt=\"p\",version=\"1.0\"}[7d]))) < 0.9 and on() sum(increase(ptrack_runs_total{prompt=\"p\",version=\"1.0\"}[7d])) >= 1"
    );
    assert_eq!(rules[1]["labels"]["version"].as_str(), Some("1.0"));
    assert_eq!(
        expr(2),
        "histogram_quantile(0.95, sum by (le) (increase(ptrack_run_duration_ms_bucket{prompt=\"p\",version=\"1.1\"}[1h]))) > 10 and on() sum(increase(ptrack_runs_total{prompt=\"p\",version=\"1.1\"}[1h])) >= 30"
    );
    // A count of runs is no PromQL range: the rule follows ptrack's own evaluation.
    assert_eq!(
        expr(3),
        "ptrack_alert_firing{rule=\"last_twenty\",prompt=\"p\"} == 1"
    );
}

#[test]
fn check_reports_a_rule_whose_prompt_or_label_does_not_exist() {
    let env = project(
        "[[alerts]]\nname = \"typo\"\nprompt = \"pp\"\nwhen = \"success_rate < 0.9\"\nlast = 10\n\n[[alerts]]\nname = \"nolabel\"\nprompt = \"p\"\nlabel = \"canary\"\nwhen = \"success_rate < 0.9\"\nlast = 10\n",
    );
    let r = env.run(&["check"]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert!(
        r.stdout
            .contains("ptrack.toml: alert `typo` in ptrack.toml: no prompt named `pp`"),
        "{}",
        r.snapshot()
    );
    assert!(
        r.stdout
            .contains("alert `nolabel` in ptrack.toml: prompt `p` has no label `canary`"),
        "{}",
        r.snapshot()
    );
}
