//! End-to-end tests of `suggest`: findings from hand-written run logs, from an eval against
//! the scripted server, and the rewrite loop.

use serde_json::{Value, json};

use crate::common::{TestEnv, assert_schema};
use crate::exec::{FakeServer, Reply, commit, ollama_answer, real_server};

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

#[test]
fn run_records_the_finish_reason_that_truncated_reads() {
    let env = TestEnv::init();
    env.prompt("p", "1.0", FRONT, "Say hi to {{ who }}.\n");
    let cases: String = (0..10)
        .map(|i| format!("{{\"name\": \"c{i}\", \"vars\": {{\"who\": \"w{i}\"}}}}\n"))
        .collect();
    env.write("prompts/p/cases.jsonl", cases);
    commit(&env);
    // Ollama stops at the limit for w0 and w1 (`done_reason: length`), else at a stop.
    let server = FakeServer::start(|req| {
        let cut = req.prompt().contains("w0") || req.prompt().contains("w1");
        let mut answer: Value = serde_json::from_str(&ollama_answer("Hi")).expect("json");
        answer["done_reason"] = Value::from(if cut { "length" } else { "stop" });
        Reply::new(200, answer.to_string())
    });
    let url = server.url();
    let r = env.run(&["run", "p", "--provider", "ollama", "--base-url", &url]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let log = env.read("runs/p/2026-11.jsonl");
    let reasons: Vec<String> = log
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("json line");
            format!(
                "{}={}",
                v["case"].as_str().unwrap_or("?"),
                v["finish_reason"].as_str().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(reasons.len(), 10);
    assert!(reasons.contains(&"c0=length".to_string()), "{reasons:?}");
    assert!(reasons.contains(&"c5=stop".to_string()), "{reasons:?}");
    let r = env.run(&["suggest", "p", "--json"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let v = r.json();
    assert_eq!(findings(&v), ["truncated"], "{v:#}");
    assert_eq!(v["findings"][0]["figures"]["share"], json!(0.2));
}

/// `p` 1.0 with six cases that want a next `step`, committed, and a server that plays both
/// the optimizer (answering `optimizer` to a rewrite request) and the model (a next step only
/// when the prompt asks for one).
fn rewrite_project(optimizer: &'static str) -> (TestEnv, FakeServer) {
    let (env, server) = {
        let env = TestEnv::init();
        env.prompt("p", "1.0", FRONT, "Say hi to {{ who }}.\n");
        let cases: String = ["ada", "bo", "cy", "di", "ed", "flo"]
            .iter()
            .map(|w| {
                format!("{{\"name\": \"{w}\", \"vars\": {{\"who\": \"{w}\"}}, \"expect\": [{{\"contains\": \"step\"}}]}}\n")
            })
            .collect();
        env.write("prompts/p/cases.jsonl", cases);
        commit(&env);
        let server = FakeServer::start(move |req| {
            let prompt = req.prompt();
            let text = if prompt.contains("<<<CURRENT") {
                optimizer
            } else if prompt.contains("next step") {
                "Hi! Next step: stretch."
            } else {
                "Hi!"
            };
            Reply::new(200, ollama_answer(text))
        });
        (env, server)
    };
    let url = server.url();
    let r = env.run(&["run", "p", "--provider", "ollama", "--base-url", &url]);
    assert_eq!(
        r.code,
        1,
        "every case fails its expectation: {}",
        r.snapshot()
    );
    (env, server)
}

#[test]
fn rewrite_writes_the_next_version_and_shows_the_eval() {
    let (env, server) = rewrite_project(
        "Here it is:\n<<<PROMPT\nSay hi to {{ who }} and give one next step.\nPROMPT>>>\n",
    );
    let url = server.url();
    let r = env.run(&[
        "suggest",
        "p",
        "--rewrite",
        "--provider",
        "ollama",
        "--base-url",
        &url,
        "--seed",
        "1",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    // The optimizer saw the failing cases with their outputs and failed expectations.
    let asked: Vec<String> = server
        .requests()
        .iter()
        .map(|q| q.prompt())
        .filter(|p| p.contains("<<<CURRENT"))
        .collect();
    assert_eq!(asked.len(), 1);
    assert!(asked[0].contains("Say hi to {{ who }}."), "{}", asked[0]);
    assert!(
        asked[0]
            .contains("the answer was\n  Hi!\n  and these expectations failed: contains \"step\""),
        "{}",
        asked[0]
    );
    let file = env.read("prompts/p/1.1.md");
    assert!(file.contains("proposed_from: '1.0'"), "{file}");
    assert!(
        file.ends_with("---\nSay hi to {{ who }} and give one next step.\n"),
        "{file}"
    );
    let doc = r.json();
    assert_eq!(doc["rounds"].as_array().map(Vec::len), Some(1), "{doc}");
    assert_eq!(
        (
            &doc["from_version"],
            &doc["best_version"],
            &doc["rounds"][0]["better"]
        ),
        (&json!("1.0"), &json!("1.1"), &json!(true))
    );
    assert_eq!(
        doc["rounds"][0]["candidate"]["path"],
        json!("prompts/p/1.1.md")
    );
    let e = &doc["rounds"][0]["eval"];
    assert_eq!(
        (&e["base"]["version"], &e["head"]["version"]),
        (&json!("1.0"), &json!("1.1"))
    );
    assert_eq!(
        (
            &e["base_figures"]["pass_rate"],
            &e["head_figures"]["pass_rate"],
            &e["mcnemar"]["head_only"]
        ),
        (&json!(0.0), &json!(1.0), &json!(6))
    );
    assert!(
        r.stderr.contains("wrote prompts/p/1.1.md"),
        "{}",
        r.snapshot()
    );
    // `check` accepts the proposal's front matter without a warning.
    let c = env.run(&["check"]);
    assert_eq!(c.code, 0, "{}", c.snapshot());
    assert!(!c.stdout.contains("proposed"), "{}", c.snapshot());
}

#[test]
fn rewrite_refuses_an_answer_that_is_not_a_prompt() {
    for (answer, why) in [
        ("I would rather not.", "no prompt between"),
        ("<<<PROMPT\nSay hi to {{ name }}.\nPROMPT>>>", "uses `name`"),
        ("<<<PROMPT\nSay hi.\nPROMPT>>>", "drops `who`"),
    ] {
        let (env, server) = rewrite_project(answer);
        let url = server.url();
        let r = env.run(&[
            "suggest",
            "p",
            "--rewrite",
            "--provider",
            "ollama",
            "--base-url",
            &url,
        ]);
        assert_eq!(r.code, 2, "{}", r.snapshot());
        assert!(
            r.stderr
                .contains("the optimizer's answer is not a usable prompt")
                && r.stderr.contains(why),
            "{why}: {}",
            r.snapshot()
        );
        assert!(r.stderr.contains("nothing was written"), "{}", r.snapshot());
        assert!(!env.path("prompts/p/1.1.md").exists(), "{answer}");
    }
}

/// The rewrite loop against the real llama.cpp server: the tiny model either gives a usable
/// prompt (then 1.1 is written and evaluated against 1.0 on the same cases) or it does not
/// (then exit 2 says why and nothing is written); a failed request or anything else fails.
#[test]
fn real_model_suggest_rewrite() {
    let Some(url) = real_server(
        "PTRACK_TEST_OPENAI_URL",
        "real_model_suggest_rewrite",
        "scripts/llm-server.sh start",
    ) else {
        return;
    };
    let env = TestEnv::init();
    let front = "goal: Greet someone\nmodel: smollm2\ntemperature: 0\ntoken_limit: 16\nvariables:\n  who: {}\n";
    env.prompt("p", "1.0", front, "Say hello to {{ who }}.\n");
    env.write(
        "prompts/p/cases.jsonl",
        "{\"name\": \"ada\", \"vars\": {\"who\": \"Ada\"}, \"expect\": [{\"contains\": \"zebra\"}]}\n",
    );
    commit(&env);
    let server = [
        "--provider",
        "openai",
        "--base-url",
        url.as_str(),
        "--timeout",
        "120",
    ];
    let mut run = vec!["run", "p"];
    run.extend(server);
    let r = env.run(&run);
    assert_eq!(r.code, 1, "the case cannot pass: {}", r.snapshot());
    let mut args = vec!["suggest", "p", "--rewrite", "--seed", "1", "--json"];
    args.extend(server);
    let r = env.run(&args);
    match r.code {
        0 => {
            let file = env.read("prompts/p/1.1.md");
            assert!(file.contains("proposed_from: '1.0'"), "{file}");
            assert!(file.contains("{{ who }}"), "{file}");
            let e = &r.json()["rounds"][0]["eval"];
            assert_eq!(
                (&e["base"]["version"], &e["head"]["version"], &e["pairs"]),
                (&json!("1.0"), &json!("1.1"), &json!(1)),
                "{}",
                r.stdout
            );
        }
        2 => {
            assert!(
                r.stderr
                    .contains("the optimizer's answer is not a usable prompt"),
                "{}",
                r.snapshot()
            );
            assert!(!env.path("prompts/p/1.1.md").exists());
        }
        _ => panic!("{}", r.snapshot()),
    }
}

/// An optimizer whose round 1 adds the next step (6 fixes) and round 2 takes it out again
/// (6 regressions), and a model that names a next step when its prompt asks for one.
fn rounds_server() -> FakeServer {
    FakeServer::start(|req| {
        let prompt = req.prompt();
        let text = match prompt.split_once("CURRENT>>>") {
            Some((current, _)) if current.contains("next step") => {
                "<<<PROMPT\nSay hi to {{ who }} politely.\nPROMPT>>>"
            }
            Some(_) => "<<<PROMPT\nSay hi to {{ who }} and give one next step.\nPROMPT>>>",
            None if prompt.contains("next step") => "Hi! Next step: stretch.",
            None => "Hi!",
        };
        Reply::new(200, ollama_answer(text))
    })
}

#[test]
fn rewrite_rounds_keep_the_best_candidate_by_the_paired_test() {
    let (env, _) = rewrite_project("unused");
    // Round 1 adds the next step (6 fixes); round 2 takes it out again (6 regressions).
    let server = rounds_server();
    let url = server.url();
    let r = env.run(&[
        "suggest",
        "p",
        "--rewrite",
        "--rounds",
        "2",
        "--provider",
        "ollama",
        "--base-url",
        &url,
        "--seed",
        "1",
    ]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(
        r.stderr.contains(
            "p 1.1 passed significantly more pairs than 1.0: it is the best candidate so far"
        ),
        "{}",
        r.snapshot()
    );
    assert!(
        r.stderr
            .contains("p 1.2 is not significantly better than 1.1: keeping 1.1"),
        "{}",
        r.snapshot()
    );
    assert!(
        r.stderr.contains("best candidate: p 1.1"),
        "{}",
        r.snapshot()
    );
    assert!(
        env.read("prompts/p/1.2.md")
            .contains("proposed_from: '1.1'")
    );
    assert!(env.read("prompts/p/1.2.md").contains("politely"));
}

/// With `--json`, every round's eval comes in one document, with the best candidate.
#[test]
fn rewrite_rounds_json_is_one_document() {
    let (env, _) = rewrite_project("unused");
    let server = rounds_server();
    let url = server.url();
    let r = env.run(&[
        "suggest",
        "p",
        "--rewrite",
        "--rounds",
        "2",
        "--provider",
        "ollama",
        "--base-url",
        &url,
        "--seed",
        "1",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let doc = r.json();
    let rounds: Vec<_> = doc["rounds"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    (
                        x["round"].clone(),
                        x["from_version"].clone(),
                        x["candidate"]["version"].clone(),
                        x["better"].clone(),
                        x["eval"]["mcnemar"]["head_only"].clone(),
                        x["eval"]["mcnemar"]["base_only"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        rounds,
        vec![
            (
                json!(1),
                json!("1.0"),
                json!("1.1"),
                json!(true),
                json!(6),
                json!(0)
            ),
            (
                json!(2),
                json!("1.1"),
                json!("1.2"),
                json!(false),
                json!(0),
                json!(6)
            ),
        ],
        "{doc}"
    );
    assert_eq!(doc["best_version"], json!("1.1"));
}
