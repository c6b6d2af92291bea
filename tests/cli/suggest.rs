//! End-to-end tests of `suggest`: findings from hand-written run logs, from an eval against
//! the scripted server, and the rewrite loop.

use serde_json::{Value, json};

use crate::common::{TestEnv, assert_schema};
use crate::exec::{FakeServer, Reply, commit, ollama_answer};

const FRONT: &str = "goal: Greet someone\nmodel: m1\ntemperature: 0.9\ntoken_limit: 400\nvariables:\n  who:\n    description: Who to greet\n";

/// One run line of `p` 1.0: `i` numbers it, `case` names its case, `failed` its failed
/// expectations, `finish` the server's finish reason.
fn line(i: usize, case: &str, failed: &[&str], finish: &str) -> String {
    let mut o = json!({
        "id": format!("run-{i:02}"),
        "ts": format!("2026-11-20T10:{i:02}:00.000Z"),
        "prompt": "p",
        "version": "1.0",
        "params": {"temperature": 0.9, "token_limit": 400},
        "input": {"who": "Ada"},
        "output": "{\"greeting\": \"hi\"}",
        "execution_time_ms": 900 + i,
        "success": failed.is_empty(),
        "case": case,
        "expect_failed": failed,
        "finish_reason": finish,
    });
    if !failed.is_empty() {
        o["error"] = Value::from(format!("expectation failed: {}", failed.join(", ")));
    }
    o.to_string()
}

fn findings(v: &Value) -> Vec<&str> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["rule"].as_str().unwrap_or_default())
        .collect()
}

#[test]
fn suggest_names_the_rules_that_fire_with_their_runs() {
    let env = TestEnv::init();
    env.prompt(
        "p",
        "1.0",
        &format!("{FRONT}  tone:\n    description: How\n"),
        "Say hi to {{ who }}, as JSON like {greeting}.\n",
    );
    // 20 runs over 5 cases: case c fails its json expectation every time, d once on a
    // `contains`; 5 runs end at the token limit.
    let mut log = String::new();
    for i in 0..20 {
        let case = ["a", "b", "c", "d", "e"][i % 5];
        let failed: &[&str] = match (case, i) {
            ("c", _) => &["json"],
            ("d", 3) => &["contains \"hi\""],
            _ => &[],
        };
        let finish = if i % 4 == 0 { "length" } else { "stop" };
        log.push_str(&line(i, case, failed, finish));
        log.push('\n');
    }
    env.write("runs/p/2026-11.jsonl", &log);
    commit(&env);

    let r = env.run(&["suggest", "p", "--json"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let v = r.json();
    assert_schema("suggest", &v);
    assert_eq!((&v["version"], &v["runs"]), (&json!("1.0"), &json!(20)));
    assert_eq!(
        findings(&v),
        [
            "truncated",
            "json_failures",
            "concentrated_failures",
            "template",
            "template"
        ],
        "{v:#}"
    );
    let f = &v["findings"];
    // 5 of 20 runs ended with `length` (i = 0, 4, 8, 12, 16).
    assert_eq!(f[0]["figures"]["length"], json!(5.0));
    assert_eq!(f[0]["figures"]["share"], json!(0.25));
    assert_eq!(f[0]["examples"], json!(["run-00", "run-04", "run-08"]));
    assert!(
        f[0]["suggestion"]
            .as_str()
            .is_some_and(|s| s.contains("raise token_limit from 400")),
        "{}",
        f[0]
    );
    assert_eq!(f[2]["cases"], json!(["c"]));
    assert_eq!(f[2]["figures"]["failures"], json!(5.0));
    assert_eq!(f[1]["figures"]["json_failures"], json!(4.0));
    assert!(
        f[1]["suggestion"]
            .as_str()
            .is_some_and(|s| s.starts_with("lower temperature from 0.9")),
        "{}",
        f[1]
    );
    let template: Vec<&str> = f
        .as_array()
        .expect("array")
        .iter()
        .filter(|x| x["rule"] == "template")
        .filter_map(|x| x["finding"].as_str())
        .collect();
    assert!(template.iter().any(|t| t.contains("tone")), "{template:?}");
    assert!(
        template.iter().any(|t| t.contains("{greeting}")),
        "{template:?}"
    );

    let r = env.run(&["suggest", "p"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(
        r.stdout.starts_with("p 1.0 (prompts/p/1.0.md): 20 run(s), 5 finding(s)\n1. [truncated] answers cut at the token limit: finish reason `length` in 25% of runs (5 of 20)\n   → raise token_limit from 400, or ask for shorter answers\n   runs: run-00, run-04, run-08\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("3. [concentrated_failures] 4 of 5 failures are in 1 of 5 cases: c (4 of 4 failed, mostly json)"), "{}", r.stdout);
}

#[test]
fn suggest_is_quiet_on_healthy_runs() {
    let env = TestEnv::init();
    env.prompt("p", "1.0", FRONT, "Say hi to {{ who }}.\n");
    let mut log = String::new();
    for i in 0..20 {
        log.push_str(&line(i, ["a", "b", "c", "d"][i % 4], &[], "stop"));
        log.push('\n');
    }
    // One failure only: not concentrated, not many.
    log.push_str(&line(20, "a", &["json"], "length"));
    log.push('\n');
    env.write("runs/p/2026-11.jsonl", &log);
    let r = env.run(&["suggest", "p", "--json"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let v = r.json();
    assert_schema("suggest", &v);
    assert_eq!(findings(&v), Vec::<&str>::new(), "{v:#}");
    let r = env.run(&["suggest", "p"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(r.stderr.contains("nothing to suggest"), "{}", r.snapshot());
}

#[test]
fn suggest_unknown_prompt_or_version_exits_2() {
    let env = TestEnv::init();
    env.prompt("p", "1.0", FRONT, "Say hi to {{ who }}.\n");
    let r = env.run(&["suggest", "nope"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(r.stderr.contains("nope"), "{}", r.snapshot());
    let r = env.run(&["suggest", "p", "--version", "9.0"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(r.stderr.contains("9.0"), "{}", r.snapshot());
}

/// A project with 1.0 and 1.1 of `p` and six cases that want a next `step`; the server says
/// "step" only when the prompt asks for one, which 1.1 does.
fn step_project() -> (TestEnv, FakeServer) {
    let env = TestEnv::init();
    env.prompt("p", "1.0", FRONT, "Say hi to {{ who }}.\n");
    env.prompt(
        "p",
        "1.1",
        FRONT,
        "Say hi to {{ who }} and give one next step.\n",
    );
    let cases: String = ["ada", "bo", "cy", "di", "ed", "flo"]
        .iter()
        .map(|w| {
            format!("{{\"name\": \"{w}\", \"vars\": {{\"who\": \"{w}\"}}, \"expect\": [{{\"contains\": \"step\"}}]}}\n")
        })
        .collect();
    env.write("prompts/p/cases.jsonl", cases);
    commit(&env);
    let server = FakeServer::start(|req| {
        let text = if req.prompt().contains("next step") {
            "Hi! Next step: stretch."
        } else {
            "Hi!"
        };
        Reply::new(200, ollama_answer(text))
    });
    (env, server)
}

#[test]
fn suggest_points_at_a_better_version_not_yet_in_production() {
    let (env, server) = step_project();
    env.write("labels.toml", "[p]\nproduction = \"1.0\"\n");
    let url = server.url();
    let r = env.run(&[
        "eval",
        "p",
        "--versions",
        "1.0,1.1",
        "--provider",
        "ollama",
        "--base-url",
        &url,
        "--seed",
        "1",
    ]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let r = env.run(&["suggest", "p", "--version", "1.0", "--json"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let v = r.json();
    assert_schema("suggest", &v);
    let f = &v["findings"][0];
    assert_eq!(f["rule"], "unlabelled_better", "{v:#}");
    // 6 fixes, 0 regressions: McNemar's exact p = 2 · 0.5^6 = 0.03125
    // (scipy.stats.binomtest(0, 6, 0.5).pvalue).
    assert_eq!(f["figures"]["p_value"], json!(0.03125));
    assert_eq!(
        (&f["figures"]["fixes"], &f["figures"]["head_pass_rate"]),
        (&json!(6.0), &json!(1.0))
    );
    assert_eq!(f["examples"].as_array().map(Vec::len), Some(3));
    assert!(
        f["suggestion"]
            .as_str()
            .is_some_and(|s| s.contains("ptrack label p production 1.1")),
        "{f}"
    );
    // Once 1.1 is production there is nothing to move.
    env.write("labels.toml", "[p]\nproduction = \"1.1\"\n");
    let r = env.run(&["suggest", "p", "--json"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(
        !findings(&r.json()).contains(&"unlabelled_better"),
        "{}",
        r.stdout
    );
}

#[test]
fn suggest_does_not_move_a_label_on_too_few_pairs() {
    let (env, server) = step_project();
    env.write("labels.toml", "[p]\nproduction = \"1.0\"\n");
    // Four cases only: 4 fixes give p = 0.125, not significant.
    let cases: String = env
        .read("prompts/p/cases.jsonl")
        .lines()
        .take(4)
        .map(|l| format!("{l}\n"))
        .collect();
    env.write("prompts/p/cases.jsonl", cases);
    let url = server.url();
    let r = env.run(&[
        "eval",
        "p",
        "--versions",
        "1.0,1.1",
        "--provider",
        "ollama",
        "--base-url",
        &url,
        "--seed",
        "1",
    ]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let r = env.run(&["suggest", "p", "--version", "1.0", "--json"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(
        !findings(&r.json()).contains(&"unlabelled_better"),
        "{}",
        r.stdout
    );
}
