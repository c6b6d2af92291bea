//! End-to-end tests of the run commands: record, rate, performance, compare, trends, export.
//!
//! Figures are checked against `tests/reference/metrics_reference.py` (numpy, scipy) on fixed
//! data sets; human output is snapshotted; JSON output is deserialized and compared by value.

use std::collections::{BTreeSet, HashSet};
use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Map, Value, json};

use crate::common::{NOW, Run, TestEnv, assert_schema};

/// The documented fields of a run line, in the order `record` writes them.
const FIELDS: &[&str] = &[
    "id",
    "ts",
    "prompt",
    "version",
    "prompt_sha",
    "commit",
    "model",
    "params",
    "input",
    "output",
    "execution_time_ms",
    "token_count",
    "output_length",
    "success",
    "error",
    "quality_score",
    "feedback",
];

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "{}", r.snapshot());
}

/// A project with the given prompts and versions (plain front matter, model `m`).
fn project(prompts: &[(&str, &[&str])]) -> TestEnv {
    let env = TestEnv::init();
    for (name, versions) in prompts {
        for v in *versions {
            env.prompt(name, v, "goal: g\nmodel: m\n", &format!("{name} {v}\n"));
        }
    }
    env
}

/// Every line of a log file, parsed (panics on a line that is not JSON).
fn log_lines(env: &TestEnv, rel: &str) -> Vec<Map<String, Value>> {
    env.read(rel)
        .lines()
        .map(|l| match serde_json::from_str(l) {
            Ok(Value::Object(m)) => m,
            other => panic!("{rel}: not a JSON object: {l:?} ({other:?})"),
        })
        .collect()
}

fn keys(m: &Map<String, Value>) -> Vec<&str> {
    m.keys().map(String::as_str).collect()
}

/// A run line as an application would log it.
fn run_line(id: &str, ts: &str, prompt: &str, version: &str, ms: f64, success: bool) -> Value {
    json!({
        "id": id, "ts": ts, "prompt": prompt, "version": version,
        "execution_time_ms": ms, "output": format!("output of {id}"), "success": success,
        "error": if success { Value::Null } else { json!("failed") },
    })
}

fn jsonl(values: &[Value]) -> String {
    values.iter().map(|v| format!("{v}\n")).collect()
}

/// Run ptrack with "now" pinned to another time.
fn run_at(env: &TestEnv, now: &str, args: &[&str]) -> Run {
    let out = env
        .cmd()
        .env("PTRACK_NOW", now)
        .args(args)
        .output()
        .expect("ran ptrack");
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

fn num(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what}: expected a number, got {v}"))
}

/// `actual` equals the reference value to 1e-6 (relative for values above 1).
fn close(actual: &Value, expected: f64, what: &str) {
    let a = num(actual, what);
    assert!(
        (a - expected).abs() <= 1e-6 * expected.abs().max(1.0),
        "{what}: ptrack gave {a}, reference {expected}"
    );
}

/// `performance --json` metrics of one prompt version (`"all"` for every version).
fn perf_metrics<'a>(perf: &'a Value, prompt: &str, version: &str) -> &'a Value {
    let p = perf["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .find(|p| p["prompt"] == prompt)
        .unwrap_or_else(|| panic!("no prompt {prompt} in {perf:#}"));
    if version == "all" {
        return &p["all"];
    }
    &p["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .find(|v| v["version"] == version)
        .unwrap_or_else(|| panic!("no version {version} of {prompt}"))["metrics"]
}

/// Total runs in a `performance --json` output.
fn perf_runs(perf: &Value) -> u64 {
    perf["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .map(|p| p["all"]["runs"].as_u64().expect("runs"))
        .sum()
}

/// Cells of an aligned table: columns are separated by two or more spaces.
fn table(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .filter(|r| !r.is_empty())
        .collect()
}

/// The cell of `row` under `column` (by header position).
fn cell<'a>(rows: &'a [Vec<String>], row: usize, column: &str) -> &'a str {
    let i = rows[0]
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("no column {column} in {:?}", rows[0]));
    &rows[row][i]
}

/// How the human tables write milliseconds, percentages and quality (src/cli/output.rs).
fn fmt_ms(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1} s", v / 1000.0)
    } else {
        format!("{v:.0} ms")
    }
}

fn fmt_pct(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// A tiny RFC 4180 parser: records end in CRLF; quoted fields may hold `,`, CR, LF and `""`.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    // 0: start of field, 1: in an unquoted field, 2: in quotes, 3: after the closing quote.
    let mut state = 0;
    while let Some(c) = chars.next() {
        match (state, c) {
            (2, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (2, '"') => state = 3,
            (2, c) => field.push(c),
            (0, '"') => state = 2,
            (_, ',') => {
                record.push(std::mem::take(&mut field));
                state = 0;
            }
            (_, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF outside quotes");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                state = 0;
            }
            (_, '\n') => panic!("bare LF outside quotes (records must end in CRLF)"),
            (3, c) => panic!("{c:?} after a closing quote"),
            (_, '"') => panic!("quote inside an unquoted field"),
            (_, c) => {
                field.push(c);
                state = 1;
            }
        }
    }
    assert_ne!(state, 2, "unterminated quoted field");
    assert!(
        field.is_empty() && record.is_empty(),
        "the last record must end in CRLF"
    );
    records
}

// ---------------------------------------------------------------------------
// record
// ---------------------------------------------------------------------------

#[test]
fn record_prints_a_uuid_v7_and_writes_every_field_in_order() {
    let env = TestEnv::init();
    env.prompt(
        "p",
        "1.0",
        "goal: g\nmodel: m\ntemperature: 0.5\n",
        "text\n",
    );
    let r = env.run(&[
        "record",
        "p",
        "--time-ms",
        "840.5",
        "--tokens",
        "212",
        "--output",
        "Try one small step…",
        "--quality",
        "8",
        "--feedback",
        "clear next step",
    ]);
    ok(&r);
    let id = r.stdout.trim();
    let uuid = uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("{id:?}: {e}"));
    assert_eq!(uuid.get_version_num(), 7, "{id}");
    assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122);

    // The pinned clock puts the run in November 2026's log, and nowhere else.
    let text = env.read("runs/p/2026-11.jsonl");
    assert_eq!(text.matches('\n').count(), 1);
    assert!(text.ends_with('\n'));
    let lines = log_lines(&env, "runs/p/2026-11.jsonl");
    let line = &lines[0];
    assert_eq!(keys(line), FIELDS);
    assert_eq!(line["id"], id);
    assert_eq!(line["ts"], "2026-11-24T12:00:00.000Z");
    assert_eq!(line["prompt"], "p");
    assert_eq!(line["version"], "1.0");
    assert_eq!(line["model"], "m");
    assert_eq!(line["params"], json!({"temperature": 0.5}));
    assert_eq!(line["input"], json!({}));
    assert_eq!(line["output"], "Try one small step…");
    assert_eq!(line["execution_time_ms"], 840.5);
    assert_eq!(line["token_count"], 212);
    assert_eq!(line["output_length"], 19, "characters, not bytes");
    assert_eq!(line["success"], true);
    assert_eq!(line["error"], Value::Null);
    assert_eq!(line["quality_score"], 8);
    assert_eq!(line["feedback"], "clear next step");
    let files: Vec<_> = walk(&env.path("runs"));
    assert_eq!(files, ["p/2026-11.jsonl"]);
}

/// Log files under `dir`, relative, sorted.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jsonl") {
                let rel = p.strip_prefix(dir).expect("prefix");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn record_prompt_sha_is_the_blob_and_commit_is_head_only_while_unchanged() {
    let env = project(&[("p", &["1.0"])]);
    let sha = env
        .git(&["hash-object", "prompts/p/1.0.md"])
        .trim()
        .to_string();
    let last = |env: &TestEnv| {
        log_lines(env, "runs/p/2026-11.jsonl")
            .pop()
            .expect("a line")
    };

    ok(&env.run(&["record", "p", "--time-ms", "1"]));
    let line = last(&env);
    assert_eq!(line["prompt_sha"], sha.as_str());
    assert_eq!(line["commit"], Value::Null, "not committed yet");

    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "-m", "add p"]);
    let head = env.git(&["rev-parse", "HEAD"]).trim().to_string();
    ok(&env.run(&["record", "p", "--time-ms", "2"]));
    let line = last(&env);
    assert_eq!(line["prompt_sha"], sha.as_str());
    assert_eq!(line["commit"], head.as_str());

    env.prompt("p", "1.0", "goal: g\nmodel: m\n", "edited in place\n");
    let edited = env
        .git(&["hash-object", "prompts/p/1.0.md"])
        .trim()
        .to_string();
    assert_ne!(edited, sha);
    ok(&env.run(&["record", "p", "--time-ms", "3"]));
    let line = last(&env);
    assert_eq!(line["prompt_sha"], edited.as_str());
    assert_eq!(line["commit"], Value::Null, "the file differs from HEAD");
}

#[test]
fn record_defaults_to_the_numerically_latest_version() {
    let env = project(&[("p", &["1.2", "1.9", "1.10"])]);
    ok(&env.run(&["record", "p", "--time-ms", "1"]));
    ok(&env.run(&["record", "p", "--version", "1.9", "--time-ms", "1"]));
    let lines = log_lines(&env, "runs/p/2026-11.jsonl");
    assert_eq!(lines[0]["version"], "1.10");
    assert_eq!(lines[1]["version"], "1.9");
    let sha_110 = env.git(&["hash-object", "prompts/p/1.10.md"]);
    assert_eq!(lines[0]["prompt_sha"], sha_110.trim());

    let r = env.run(&["record", "p", "--version", "3.0", "--time-ms", "1"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(r.stderr.contains("no version 3.0"), "{}", r.stderr);
    assert!(
        r.stderr.contains("versions: 1.2, 1.9, 1.10"),
        "{}",
        r.stderr
    );
    assert_eq!(log_lines(&env, "runs/p/2026-11.jsonl").len(), 2);
}

#[test]
fn record_failure_and_error_flags() {
    let env = project(&[("p", &["1.0"])]);
    for args in [
        &["--time-ms", "1"][..],
        &["--time-ms", "1", "--success"],
        &["--time-ms", "1", "--failure"],
        &[
            "--time-ms",
            "1",
            "--failure",
            "--error",
            "timeout after 30s",
        ],
        &["--time-ms", "1", "--error", "rate limited"],
    ] {
        let mut all = vec!["record", "p"];
        all.extend_from_slice(args);
        ok(&env.run(&all));
    }
    let got: Vec<(Value, Value)> = log_lines(&env, "runs/p/2026-11.jsonl")
        .into_iter()
        .map(|l| (l["success"].clone(), l["error"].clone()))
        .collect();
    assert_eq!(
        got,
        [
            (json!(true), Value::Null),
            (json!(true), Value::Null),
            (json!(false), Value::Null),
            (json!(false), json!("timeout after 30s")),
            (json!(false), json!("rate limited")),
        ]
    );
    // Contradictory flags are a usage error.
    let r = env.run(&["record", "p", "--time-ms", "1", "--success", "--error", "x"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert_eq!(log_lines(&env, "runs/p/2026-11.jsonl").len(), 5);
}

#[test]
fn record_reads_the_output_from_a_file() {
    let env = project(&[("p", &["1.0"])]);
    let output = "{\"label\": \"bug\"}\nsecond line with \"quotes\" and é\n";
    env.write("out.json", output);
    ok(&env.run(&[
        "record",
        "p",
        "--time-ms",
        "310",
        "--output-file",
        "out.json",
    ]));
    let line = &log_lines(&env, "runs/p/2026-11.jsonl")[0];
    assert_eq!(line["output"], output);
    assert_eq!(line["output_length"], output.chars().count());

    let r = env.run(&[
        "record",
        "p",
        "--time-ms",
        "1",
        "--output-file",
        "missing.txt",
    ]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(r.stderr.contains("missing.txt"), "{}", r.stderr);
    assert_eq!(log_lines(&env, "runs/p/2026-11.jsonl").len(), 1);
}

#[test]
fn record_collects_repeated_inputs() {
    let env = project(&[("p", &["1.0"])]);
    ok(&env.run(&[
        "record",
        "p",
        "--time-ms",
        "1",
        "--input",
        "task=Fix login",
        "--input",
        "lang=en",
        "--input",
        "expr=a=b",
        "--input",
        "empty=",
    ]));
    let line = &log_lines(&env, "runs/p/2026-11.jsonl")[0];
    assert_eq!(
        line["input"],
        json!({"task": "Fix login", "lang": "en", "expr": "a=b", "empty": ""})
    );
    for bad in ["novalue", "=v"] {
        let r = env.run(&["record", "p", "--time-ms", "1", "--input", bad]);
        assert_eq!(r.code, 2, "{bad}: {}", r.snapshot());
    }
    assert_eq!(log_lines(&env, "runs/p/2026-11.jsonl").len(), 1);
}

#[test]
fn record_rejects_a_quality_out_of_range_and_writes_nothing() {
    let env = project(&[("p", &["1.0"])]);
    let r = env.run(&["record", "p", "--time-ms", "1", "--quality", "11"]);
    insta::assert_snapshot!("record_quality_11", r.snapshot());
    for q in ["0", "10.5", "-1"] {
        let r = env.run(&["record", "p", "--time-ms", "1", "--quality", q]);
        assert_eq!(r.code, 2, "--quality {q}: {}", r.snapshot());
    }
    assert!(!env.path("runs/p").exists(), "nothing may be written");
    // The bounds themselves are valid.
    ok(&env.run(&["record", "p", "--time-ms", "1", "--quality", "1"]));
    ok(&env.run(&["record", "p", "--time-ms", "1", "--quality", "10"]));
    assert_eq!(log_lines(&env, "runs/p/2026-11.jsonl").len(), 2);
}

#[test]
fn record_rejects_a_quality_that_is_not_a_number() {
    let env = project(&[("p", &["1.0"])]);
    let r = env.run(&["record", "p", "--time-ms", "1", "--quality", "nan"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(!env.path("runs/p").exists(), "nothing may be written");
}

#[test]
fn record_unknown_prompt_is_an_error() {
    let env = project(&[("coach", &["1.0"])]);
    let r = env.run(&["record", "coahc", "--time-ms", "1"]);
    insta::assert_snapshot!("record_unknown_prompt", r.snapshot());
    assert!(walk(&env.path("runs")).is_empty());
}

#[test]
fn record_json_reports_the_id_and_log_path() {
    let env = project(&[("p", &["1.0"])]);
    let r = env.run(&["record", "p", "--time-ms", "1", "--json"]);
    ok(&r);
    let v = r.json();
    assert_schema("record", &v);
    assert_eq!(v["path"], "runs/p/2026-11.jsonl");
    let line = &log_lines(&env, "runs/p/2026-11.jsonl")[0];
    assert_eq!(v["id"], line["id"]);
}

#[test]
fn record_writes_every_documented_field_even_when_not_given() {
    let env = project(&[("p", &["1.0"])]);
    ok(&env.run(&["record", "p", "--time-ms", "1"]));
    ok(&env.run_with_stdin(
        &["record", "--stdin"],
        "{\"prompt\":\"p\",\"execution_time_ms\":2}\n",
    ));
    // quality_score and feedback are optional (RunRecord skips them when absent);
    // every other documented field is always written, null when unknown.
    let expected: Vec<&str> = FIELDS[..FIELDS.len() - 2].to_vec();
    for line in log_lines(&env, "runs/p/2026-11.jsonl") {
        assert_eq!(keys(&line), expected, "{line:?}");
        assert_eq!(line["token_count"], Value::Null);
        assert_eq!(line["output_length"], 0);
    }
}

// ---------------------------------------------------------------------------
// record --stdin
// ---------------------------------------------------------------------------

#[test]
fn stdin_writes_good_lines_and_reports_each_bad_one() {
    let env = project(&[("p", &["1.0"])]);
    let input = [
        r#"{"prompt":"p","execution_time_ms":10,"output":"first"}"#,
        r#"{"prompt":"p","execution_time_ms":"#,
        r#"{"prompt":"p","execution_time_ms":10,"quality_score":11}"#,
        r#"{"prompt":"nope","execution_time_ms":10}"#,
        r#"{"prompt":"p","output":"no time"}"#,
        "",
        r#"{"prompt":"p","version":"1.0","execution_time_ms":30,"success":false,"error":"timeout"}"#,
        r#"[1, 2]"#,
    ]
    .join("\n");
    let r = env.run_with_stdin(&["record", "--stdin"], &input);
    insta::assert_snapshot!(
        "stdin_bad_lines",
        format!("exit: {}\n--- stderr\n{}", r.code, r.stderr)
    );
    assert_eq!(r.code, 1);
    let ids: Vec<&str> = r.stdout.lines().collect();
    let lines = log_lines(&env, "runs/p/2026-11.jsonl");
    assert_eq!(lines.len(), 2);
    assert_eq!(ids, [&lines[0]["id"], &lines[1]["id"]]);
    assert_eq!(lines[0]["output"], "first");
    assert_eq!(lines[1]["success"], false);
    assert_eq!(lines[1]["error"], "timeout");
    for (n, what) in [
        (2, "invalid JSON"),
        (3, "quality_score"),
        (4, "no prompt named `nope`"),
        (5, "missing `execution_time_ms`"),
        (8, "expected a JSON object"),
    ] {
        let prefix = format!("stdin:{n}: ");
        assert!(
            r.stderr
                .lines()
                .any(|l| l.starts_with(&prefix) && l.contains(what)),
            "no `{prefix}… {what}` in:\n{}",
            r.stderr
        );
    }
    assert!(!r.stderr.contains("stdin:1:") && !r.stderr.contains("stdin:7:"));
}

#[test]
fn stdin_keeps_unknown_fields_in_the_log_and_in_export() {
    let env = project(&[("p", &["1.0"])]);
    let input = r#"{"prompt":"p","execution_time_ms":5,"output":"o","meta":{"user":"u1"},"custom":5,"tags":["a","b"]}"#;
    ok(&env.run_with_stdin(&["record", "--stdin"], input));
    let line = &log_lines(&env, "runs/p/2026-11.jsonl")[0];
    assert_eq!(line["meta"], json!({"user": "u1"}));
    assert_eq!(line["custom"], 5);
    assert_eq!(line["tags"], json!(["a", "b"]));
    // Unknown fields follow the documented ones.
    let k = keys(line);
    let tail: BTreeSet<&str> = k[k.len() - 3..].iter().copied().collect();
    assert_eq!(tail, BTreeSet::from(["meta", "custom", "tags"]));

    let r = env.run(&["export", "--format", "jsonl"]);
    ok(&r);
    let exported: Value = serde_json::from_str(r.stdout.trim()).expect("one JSON line");
    assert_eq!(exported["meta"], json!({"user": "u1"}));
    assert_eq!(exported["custom"], 5);
    assert_eq!(exported["tags"], json!(["a", "b"]));
    assert_eq!(exported["id"], line["id"]);
}

#[test]
fn stdin_keeps_unknown_fields_in_the_order_given() {
    let env = project(&[("p", &["1.0"])]);
    let input =
        r#"{"prompt":"p","execution_time_ms":5,"meta":{"user":"u1"},"custom":5,"tags":["a"]}"#;
    ok(&env.run_with_stdin(&["record", "--stdin"], input));
    let line = &log_lines(&env, "runs/p/2026-11.jsonl")[0];
    let k = keys(line);
    // src/cli/record.rs: "the documented order; anything else follows, as given".
    assert_eq!(&k[k.len() - 3..], ["meta", "custom", "tags"]);
}

#[test]
fn stdin_fills_id_and_ts_and_normalizes_times_to_utc_milliseconds() {
    let env = project(&[("p", &["1.0"])]);
    let input = [
        r#"{"prompt":"p","execution_time_ms":1}"#,
        r#"{"id":"given-1","ts":"2026-11-20T09:30:00.5+02:00","prompt":"p","execution_time_ms":2}"#,
        // UTC is still October: the run belongs to October's log.
        r#"{"id":"given-2","ts":"2026-11-01T00:30:00+02:00","prompt":"p","execution_time_ms":3}"#,
        // UTC is already November.
        r#"{"id":"given-3","ts":"2026-10-31T23:30:00-02:00","prompt":"p","execution_time_ms":4}"#,
        r#"{"id":"given-4","ts":"2026-11-21T08:00:00Z","prompt":"p","execution_time_ms":5}"#,
    ]
    .join("\n");
    let r = env.run_with_stdin(&["record", "--stdin"], &input);
    ok(&r);
    let ids: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(ids.len(), 5);
    assert_eq!(
        uuid::Uuid::parse_str(ids[0])
            .expect("generated id is a UUID")
            .get_version_num(),
        7
    );
    assert_eq!(ids[1..], ["given-1", "given-2", "given-3", "given-4"]);

    let nov = log_lines(&env, "runs/p/2026-11.jsonl");
    let ts: Vec<(&Value, &Value)> = nov.iter().map(|l| (&l["id"], &l["ts"])).collect();
    assert_eq!(
        ts,
        [
            (&json!(ids[0]), &json!("2026-11-24T12:00:00.000Z")),
            (&json!("given-1"), &json!("2026-11-20T07:30:00.500Z")),
            (&json!("given-3"), &json!("2026-11-01T01:30:00.000Z")),
            (&json!("given-4"), &json!("2026-11-21T08:00:00.000Z")),
        ]
    );
    let oct = log_lines(&env, "runs/p/2026-10.jsonl");
    assert_eq!(oct.len(), 1);
    assert_eq!(oct[0]["id"], "given-2");
    assert_eq!(oct[0]["ts"], "2026-10-31T22:30:00.000Z");
}

#[test]
fn stdin_rejects_an_id_already_logged_or_repeated_and_then_records_nothing() {
    let env = project(&[("p", &["1.0"])]);
    ok(&env.run_with_stdin(
        &["record", "--stdin"],
        r#"{"id":"old-1","prompt":"p","execution_time_ms":1}"#,
    ));
    let before = std::fs::read_to_string(env.path("runs/p/2026-11.jsonl")).expect("log");
    let input = [
        r#"{"id":"new-1","prompt":"p","execution_time_ms":2}"#,
        r#"{"id":"old-1","prompt":"p","execution_time_ms":3}"#,
        r#"{"id":"new-1","prompt":"p","execution_time_ms":4}"#,
        r#"{"id":"new-2","prompt":"p","execution_time_ms":5}"#,
    ]
    .join("\n");
    let r = env.run_with_stdin(&["record", "--stdin"], &input);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert_eq!(
        r.stderr,
        "stdin:2: id \"old-1\" is already the id of the run at runs/p/2026-11.jsonl:1; line rejected\n\
         stdin:3: id \"new-1\" was already given on line 1; line rejected\n\
         recorded nothing: 2 line(s) repeat a run id (2 line(s) rejected in all)\n",
        "{}",
        r.snapshot()
    );
    assert_eq!(r.stdout, "");
    let after = std::fs::read_to_string(env.path("runs/p/2026-11.jsonl")).expect("log");
    assert_eq!(after, before, "nothing of the batch is written");
    // Without the repeats the batch goes in.
    let r = env.run_with_stdin(
        &["record", "--stdin"],
        &[
            input.lines().next().expect("line"),
            input.lines().nth(3).expect("line"),
        ]
        .join("\n"),
    );
    ok(&r);
    assert_eq!(r.stdout, "new-1\nnew-2\n");
}

#[test]
fn check_names_both_places_of_a_repeated_run_id() {
    let env = project(&[("p", &["1.0"])]);
    let a = run_line("a", "2026-11-20T10:00:00.000Z", "p", "1.0", 100.0, true);
    let b = run_line("b", "2026-11-20T11:00:00.000Z", "p", "1.0", 100.0, true);
    let other_a = run_line("a", "2026-10-02T10:00:00.000Z", "p", "1.0", 900.0, false);
    env.write("runs/p/2026-10.jsonl", jsonl(&[other_a]));
    env.write("runs/p/2026-11.jsonl", jsonl(&[b.clone(), a, b]));
    let r = env.run(&["check"]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert_eq!(
        r.stdout,
        "runs/p/2026-11.jsonl:2: run id a is already the id of the run at runs/p/2026-10.jsonl:1; readers count only that one\n\
         runs/p/2026-11.jsonl:3: warning: run b is logged twice (same line as runs/p/2026-11.jsonl:1); it counts once\n",
        "{}",
        r.snapshot()
    );
    let j = env.run(&["check", "--json"]).json();
    assert_eq!(j["diagnostics"][0]["field"], "id");
    assert_eq!(j["diagnostics"][0]["code"], "repeated-run-id");
}

#[test]
fn stdin_name_and_version_arguments_are_defaults() {
    let env = project(&[("p", &["1.0", "1.1"]), ("q", &["1.0"])]);
    let input = [
        r#"{"execution_time_ms":1}"#,
        r#"{"execution_time_ms":2,"version":"1.1"}"#,
        r#"{"execution_time_ms":3,"prompt":"q"}"#,
    ]
    .join("\n");
    ok(&env.run_with_stdin(&["record", "p", "--version", "1.0", "--stdin"], &input));
    let p = log_lines(&env, "runs/p/2026-11.jsonl");
    let got: Vec<(&Value, &Value)> = p
        .iter()
        .map(|l| (&l["version"], &l["execution_time_ms"]))
        .collect();
    assert_eq!(
        got,
        [(&json!("1.0"), &json!(1)), (&json!("1.1"), &json!(2))]
    );
    // A line naming another prompt gets that prompt's version (1.0 is also q's only one).
    let q = log_lines(&env, "runs/q/2026-11.jsonl");
    assert_eq!(q.len(), 1);
    assert_eq!(q[0]["version"], "1.0");

    // Without NAME, a line without `prompt` is rejected.
    let r = env.run_with_stdin(&["record", "--stdin"], r#"{"execution_time_ms":1}"#);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    assert!(
        r.stderr.contains("stdin:1: missing `prompt`"),
        "{}",
        r.stderr
    );
}

// ---------------------------------------------------------------------------
// rate
// ---------------------------------------------------------------------------

fn two_runs(env: &TestEnv) {
    let input = [
        r#"{"id":"run-alpha-0001","prompt":"p","execution_time_ms":10}"#,
        r#"{"id":"run-beta-0002","prompt":"p","execution_time_ms":20,"quality_score":2}"#,
    ]
    .join("\n");
    ok(&env.run_with_stdin(&["record", "--stdin"], &input));
}

/// Copy this repository's own project (settings, prompts, runs) into `env`.
fn copy_this_project(env: &TestEnv) {
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        if from.is_dir() {
            std::fs::create_dir_all(to).expect("mkdir");
            for entry in std::fs::read_dir(from).expect("read dir") {
                let entry = entry.expect("dir entry");
                copy(&entry.path(), &to.join(entry.file_name()));
            }
        } else {
            std::fs::copy(from, to).expect("copy");
        }
    }
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for part in ["ptrack.toml", "prompts", "runs"] {
        copy(&repo.join(part), &env.path(part));
    }
}

#[test]
fn rate_help_examples_run_on_this_repository() {
    let env = TestEnv::new();
    copy_this_project(&env);
    let help = env.run(&["rate", "--help"]);
    assert_eq!(help.code, 0, "{}", help.snapshot());
    let examples: Vec<&str> = help
        .stdout
        .lines()
        .skip_while(|l| *l != "Examples:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        // The command ends where two spaces start its description.
        .map(|l| l.trim().split("  ").next().unwrap_or_default())
        .collect();
    assert_eq!(examples.len(), 3, "{}", help.stdout);
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_ptrack"))
        .parent()
        .expect("the binary is in a folder");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for example in examples {
        // As a user would paste it: through a shell, with `ptrack` on PATH.
        let out = Command::new("sh")
            .args(["-c", example])
            .current_dir(env.root())
            .env("PATH", &path)
            .env("PTRACK_NOW", NOW)
            .env("HOME", env.root())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .expect("ran sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.starts_with("rated "),
            "{example}\n{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn rate_by_full_id_and_by_prefix_appends_rating_events() {
    let env = project(&[("p", &["1.0"])]);
    two_runs(&env);
    let before = std::fs::read(env.path("runs/p/2026-11.jsonl")).expect("read");

    let r = env.run(&[
        "rate",
        "run-alpha-0001",
        "--quality",
        "7",
        "--feedback",
        "ok",
    ]);
    ok(&r);
    // The run is shown by its shortest unique prefix (never under 4 characters).
    assert_eq!(r.stdout, "rated run-a 7/10\n");
    let r = env.run(&["rate", "run-b", "--quality", "4"]);
    ok(&r);
    assert_eq!(r.stdout, "rated run-b 4/10\n");

    let after = std::fs::read(env.path("runs/p/2026-11.jsonl")).expect("read");
    assert!(
        after.starts_with(&before),
        "old lines must stay byte-identical"
    );
    let added: Vec<Map<String, Value>> = String::from_utf8(after[before.len()..].to_vec())
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("rating line is JSON"))
        .collect();
    assert_eq!(added.len(), 2);
    assert_eq!(
        keys(&added[0]),
        [
            "type",
            "id",
            "ts",
            "run_id",
            "prompt",
            "quality_score",
            "feedback"
        ]
    );
    assert_eq!(added[0]["type"], "rating");
    assert_eq!(added[0]["run_id"], "run-alpha-0001");
    assert_eq!(added[0]["prompt"], "p");
    assert_eq!(added[0]["ts"], "2026-11-24T12:00:00.000Z");
    assert_eq!(added[0]["quality_score"], 7);
    assert_eq!(added[0]["feedback"], "ok");
    assert_eq!(
        added[1]["run_id"], "run-beta-0002",
        "the prefix is resolved"
    );
    assert_eq!(added[1]["quality_score"], 4);
    assert!(!added[1].contains_key("feedback"));
    let event_id = added[0]["id"].as_str().expect("id");
    assert_eq!(
        uuid::Uuid::parse_str(event_id)
            .expect("uuid")
            .get_version_num(),
        7
    );

    // The rating replaces the logged score (2 → 4): mean of 7 and 4.
    let perf = env.run(&["performance", "p", "--json"]);
    ok(&perf);
    let m = perf_metrics(&perf.json(), "p", "1.0").clone();
    assert_eq!(m["quality_mean"], 5.5);
    assert_eq!(m["quality_n"], 2);
    assert_eq!(m["runs"], 2, "ratings are not runs");
    assert_eq!(m["feedback_count"], 1);
}

#[test]
fn rate_the_latest_rating_by_time_wins() {
    let env = project(&[("p", &["1.0"])]);
    two_runs(&env);
    let quality = |env: &TestEnv| {
        let perf = env.run(&["performance", "p", "--json"]);
        ok(&perf);
        let export = env.run(&["export", "--format", "jsonl"]);
        ok(&export);
        let row: Value = export
            .stdout
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("json"))
            .find(|v| v["id"] == "run-alpha-0001")
            .expect("exported");
        (
            num(&perf_metrics(&perf.json(), "p", "1.0")["quality_mean"], "q"),
            num(&row["quality_score"], "export quality"),
            row["feedback"].clone(),
        )
    };
    ok(&run_at(
        &env,
        "2026-11-24T12:00:00Z",
        &["rate", "run-alpha", "--quality", "3", "--feedback", "noon"],
    ));
    // Appended later, but given earlier: the noon rating stays the latest.
    ok(&run_at(
        &env,
        "2026-11-24T11:00:00Z",
        &[
            "rate",
            "run-alpha",
            "--quality",
            "9",
            "--feedback",
            "eleven",
        ],
    ));
    // (3 + 2) / 2 with run-beta's logged score 2.
    assert_eq!(quality(&env), (2.5, 3.0, json!("noon")));
    ok(&run_at(
        &env,
        "2026-11-24T13:00:00Z",
        &[
            "rate",
            "run-alpha",
            "--quality",
            "6",
            "--feedback",
            "re-rated",
        ],
    ));
    assert_eq!(quality(&env), (4.0, 6.0, json!("re-rated")));
}

#[test]
fn rate_without_feedback_keeps_it_and_an_empty_feedback_clears_it() {
    let env = project(&[("p", &["1.0"])]);
    let input = [
        r#"{"id":"run-alpha-0001","prompt":"p","execution_time_ms":10}"#,
        r#"{"id":"run-beta-0002","prompt":"p","execution_time_ms":20,"feedback":"logged"}"#,
    ]
    .join("\n");
    ok(&env.run_with_stdin(&["record", "--stdin"], &input));
    // (score, feedback) of each run in export json and csv, and the feedback counts of
    // performance (the fast reader and its cache) and show (the simple reader).
    let state = |env: &TestEnv| {
        let json = env.run(&["export", "--format", "json"]);
        ok(&json);
        let rows = json.json();
        let from_json: Vec<(Value, Value)> = ["run-alpha-0001", "run-beta-0002"]
            .iter()
            .map(|id| {
                let row = rows
                    .as_array()
                    .and_then(|a| a.iter().find(|r| r["id"] == *id))
                    .unwrap_or_else(|| panic!("{id} exported: {rows}"));
                (row["quality_score"].clone(), row["feedback"].clone())
            })
            .collect();
        let csv = env.run(&["export", "--format", "csv"]);
        ok(&csv);
        let records = parse_csv(&csv.stdout);
        let col = |name: &str| {
            records[0]
                .iter()
                .position(|c| c == name)
                .unwrap_or_else(|| panic!("no column {name}"))
        };
        let from_csv: Vec<(String, String)> = ["run-alpha-0001", "run-beta-0002"]
            .iter()
            .map(|id| {
                let r = records[1..]
                    .iter()
                    .find(|r| r[0] == *id)
                    .unwrap_or_else(|| panic!("{id} in csv"));
                (r[col("quality_score")].clone(), r[col("feedback")].clone())
            })
            .collect();
        let perf = env.run(&["performance", "p", "--json"]);
        ok(&perf);
        let show = env.run(&["show", "p", "--json"]);
        ok(&show);
        (
            from_json,
            from_csv,
            perf_metrics(&perf.json(), "p", "1.0")["feedback_count"].clone(),
            show.json()["metrics"]["feedback_count"].clone(),
        )
    };
    let s = |a: &str, b: &str| (a.to_string(), b.to_string());
    ok(&run_at(
        &env,
        "2026-11-24T12:00:00Z",
        &["rate", "run-alpha", "--quality", "7", "--feedback", "first"],
    ));
    ok(&run_at(
        &env,
        "2026-11-24T13:00:00Z",
        &["rate", "run-alpha", "--quality", "8"],
    ));
    ok(&run_at(
        &env,
        "2026-11-24T13:00:00Z",
        &["rate", "run-beta", "--quality", "5"],
    ));
    assert_eq!(
        state(&env),
        (
            vec![(json!(8), json!("first")), (json!(5), json!("logged"))],
            vec![s("8", "first"), s("5", "logged")],
            json!(2),
            json!(2),
        ),
        "a rating without feedback keeps the earlier rating's and the run's own"
    );
    // Given earlier than the latest rating, but later than the feedback it carries.
    ok(&run_at(
        &env,
        "2026-11-24T12:30:00Z",
        &[
            "rate",
            "run-alpha",
            "--quality",
            "2",
            "--feedback",
            "second",
        ],
    ));
    assert_eq!(state(&env).1, vec![s("8", "second"), s("5", "logged")]);
    ok(&run_at(
        &env,
        "2026-11-24T14:00:00Z",
        &["rate", "run-alpha", "--quality", "9", "--feedback", ""],
    ));
    ok(&run_at(
        &env,
        "2026-11-24T14:00:00Z",
        &["rate", "run-beta", "--quality", "6", "--feedback", ""],
    ));
    assert_eq!(
        state(&env),
        (
            vec![(json!(9), Value::Null), (json!(6), Value::Null)],
            vec![s("9", ""), s("6", "")],
            json!(0),
            json!(0),
        ),
        "an empty feedback clears it"
    );
    ok(&run_at(
        &env,
        "2026-11-24T15:00:00Z",
        &["rate", "run-alpha", "--quality", "4"],
    ));
    assert_eq!(state(&env).1, vec![s("4", ""), s("6", "")], "stays cleared");
}

#[test]
fn rate_rejects_unknown_ids_ambiguous_prefixes_and_bad_scores() {
    let env = project(&[("p", &["1.0"])]);
    two_runs(&env);
    let before = env.read("runs/p/2026-11.jsonl");
    for (args, message) in [
        (
            &["rate", "deadbeef", "--quality", "5"][..],
            "no run with id deadbeef",
        ),
        (&["rate", "run-", "--quality", "5"], "run- matches 2 runs"),
        (
            &["rate", "run-alpha-0001", "--quality", "0"],
            "quality_score",
        ),
        (
            &["rate", "run-alpha-0001", "--quality", "10.5"],
            "quality_score",
        ),
    ] {
        let r = env.run(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.snapshot());
        assert!(r.stderr.contains(message), "{args:?}: {}", r.stderr);
    }
    assert_eq!(env.read("runs/p/2026-11.jsonl"), before, "nothing appended");
}

#[test]
fn rate_accepts_a_short_full_id() {
    let env = project(&[("p", &["1.0"])]);
    ok(&env.run_with_stdin(
        &["record", "--stdin"],
        r#"{"id":"r1","prompt":"p","execution_time_ms":1}"#,
    ));
    let r = env.run(&["rate", "r1", "--quality", "5"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
}

#[test]
fn rate_an_exact_id_wins_over_longer_ids_with_that_prefix() {
    let env = project(&[("p", &["1.0"])]);
    let input = [
        r#"{"id":"abcd","prompt":"p","execution_time_ms":1}"#,
        r#"{"id":"abcde","prompt":"p","execution_time_ms":1}"#,
    ]
    .join("\n");
    ok(&env.run_with_stdin(&["record", "--stdin"], &input));
    let r = env.run(&["rate", "abcd", "--quality", "5"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert_eq!(r.stdout, "rated abcd 5/10\n");
}

// ---------------------------------------------------------------------------
// Log integrity: concurrent writers, torn lines, duplicates
// ---------------------------------------------------------------------------

#[test]
fn concurrent_stdin_writers_never_lose_or_interleave_lines() {
    const WRITERS: usize = 8;
    const RUNS: usize = 500;
    let env = project(&[("p", &["1.0"])]);
    let bin = assert_cmd::cargo::cargo_bin("ptrack");
    // ~2 KB per output, so each writer's batch is far larger than a pipe buffer.
    let filler = "lorem \"ipsum\" dolor\tsit amet, ".repeat(70);
    let children: Vec<_> = (0..WRITERS)
        .map(|w| {
            let mut child = Command::new(&bin)
                .args(["record", "--stdin"])
                .current_dir(env.root())
                .env("PTRACK_NOW", NOW)
                .env("HOME", env.root())
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn ptrack");
            let mut stdin = child.stdin.take().expect("stdin");
            let input: String = (0..RUNS)
                .map(|i| {
                    let out = format!("writer {w} run {i}: {filler}");
                    format!(
                        "{}\n",
                        json!({"prompt": "p", "execution_time_ms": i, "output": out, "meta": {"writer": w}})
                    )
                })
                .collect();
            let feeder = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
            (child, feeder)
        })
        .collect();
    let mut printed = HashSet::new();
    for (child, feeder) in children {
        feeder.join().expect("feeder").expect("write stdin");
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect();
        assert_eq!(ids.len(), RUNS);
        printed.extend(ids);
    }
    let text = env.read("runs/p/2026-11.jsonl");
    let mut ids = HashSet::new();
    for (n, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("line {}: {e}: {:.80}…", n + 1, line));
        assert!(v["output"].as_str().expect("output").len() > 2000);
        ids.insert(v["id"].as_str().expect("id").to_string());
    }
    assert_eq!(text.lines().count(), WRITERS * RUNS);
    assert_eq!(ids.len(), WRITERS * RUNS, "distinct ids");
    assert_eq!(ids, printed, "the log holds exactly the printed ids");
    let perf = env.run(&["performance", "--json"]);
    ok(&perf);
    assert_eq!(perf_runs(&perf.json()), (WRITERS * RUNS) as u64);
}

#[test]
fn a_torn_last_line_is_skipped_with_a_warning_and_the_next_run_starts_a_new_line() {
    let env = project(&[("p", &["1.0"])]);
    let good = jsonl(&[
        run_line("a", "2026-11-20T10:00:00.000Z", "p", "1.0", 100.0, true),
        run_line("b", "2026-11-21T10:00:00.000Z", "p", "1.0", 200.0, true),
        run_line("c", "2026-11-22T10:00:00.000Z", "p", "1.0", 300.0, false),
    ]);
    let torn = r#"{"id":"d","ts":"2026-11-23T10:00:00.000Z","prompt":"p","vers"#;
    env.write("runs/p/2026-11.jsonl", format!("{good}{torn}"));

    let r = env.run(&["performance", "p", "--json"]);
    ok(&r);
    assert_eq!(perf_runs(&r.json()), 3);
    assert!(
        r.stderr
            .contains("warning: runs/p/2026-11.jsonl:4: incomplete last line"),
        "{}",
        r.stderr
    );

    let rec = env.run(&["record", "p", "--time-ms", "50"]);
    ok(&rec);
    let text = env.read("runs/p/2026-11.jsonl");
    let new_line = text
        .strip_prefix(&format!("{good}{torn}\n"))
        .unwrap_or_else(|| panic!("the torn line must stay as it was:\n{text}"));
    let new: Value = serde_json::from_str(new_line.strip_suffix('\n').expect("newline"))
        .expect("the new run is a valid line of its own");
    assert_eq!(new["id"], rec.stdout.trim());

    let r = env.run(&["performance", "p", "--json"]);
    ok(&r);
    assert_eq!(perf_runs(&r.json()), 4);
    // No longer the last line: now an ordinary invalid line, still reported with file:line.
    assert!(r.stderr.contains("runs/p/2026-11.jsonl:4:"), "{}", r.stderr);
}

#[test]
fn a_duplicated_run_line_counts_once() {
    let env = project(&[("p", &["1.0"])]);
    let a = run_line("dup-a", "2026-11-20T10:00:00.000Z", "p", "1.0", 100.0, true);
    let b = run_line(
        "dup-b",
        "2026-11-21T10:00:00.000Z",
        "p",
        "1.0",
        300.0,
        false,
    );
    // As after a merge=union of two branches that both carried run a.
    env.write("runs/p/2026-11.jsonl", jsonl(&[a.clone(), b, a]));

    let perf = env.run(&["performance", "p", "--json"]);
    ok(&perf);
    let m = perf_metrics(&perf.json(), "p", "1.0").clone();
    assert_eq!(m["runs"], 2);
    assert_eq!(m["successes"], 1);
    assert_eq!(m["time_ms"]["mean"], 200.0);

    let export = env.run(&["export", "--format", "jsonl"]);
    ok(&export);
    let ids: Vec<Value> = export
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json")["id"].clone())
        .collect();
    assert_eq!(ids, [json!("dup-a"), json!("dup-b")]);
    let csv = env.run(&["export", "--format", "csv"]);
    ok(&csv);
    assert_eq!(parse_csv(&csv.stdout).len(), 3, "header and two runs");
}

// ---------------------------------------------------------------------------
// Metrics against the outside reference (tests/reference/metrics_reference.py)
// ---------------------------------------------------------------------------

/// (execution_time_ms, success, quality_score, token_count), as in metrics_reference.py.
type Spec = (f64, bool, Option<f64>, Option<u64>);

// Same data as REF_A, REF_B, SMALL_A, SMALL_B in tests/reference/metrics_reference.py.
#[rustfmt::skip]
const REF_A: &[Spec] = &[
    (812.5, true, Some(7.0), Some(210)), (640.0, true, None, Some(180)),
    (1203.25, false, None, None), (955.0, true, Some(8.0), Some(230)),
    (701.75, true, Some(6.0), Some(190)), (1500.0, false, Some(2.0), None),
    (880.0, true, None, Some(205)), (923.5, true, Some(7.0), Some(220)),
    (610.25, true, None, Some(175)), (2890.0, false, None, None),
    (745.0, true, Some(9.0), Some(200)), (1010.0, false, Some(3.0), Some(240)),
    (830.5, true, None, Some(215)), (990.0, true, Some(7.5), Some(225)),
    (1120.75, false, None, None), (700.0, true, Some(6.0), Some(185)),
    (655.5, true, None, Some(180)), (1780.0, false, Some(4.0), None),
    (905.0, true, Some(8.0), Some(212)), (860.25, false, None, Some(208)),
    (1340.0, true, Some(5.0), Some(260)), (770.0, false, None, None),
    (815.0, true, Some(7.0), Some(199)), (1999.5, false, None, None),
    (1025.0, true, Some(6.0), Some(230)),
];
#[rustfmt::skip]
const REF_B: &[Spec] = &[
    (720.0, true, Some(8.0), Some(190)), (590.5, true, None, Some(170)),
    (640.25, true, Some(9.0), Some(182)), (810.0, true, None, Some(201)),
    (555.0, false, None, None), (699.5, true, Some(8.0), Some(188)),
    (1450.0, true, Some(6.0), Some(240)), (610.0, true, None, Some(175)),
    (580.75, true, Some(9.0), Some(171)), (730.0, true, None, Some(195)),
    (665.0, true, Some(7.0), Some(186)), (2210.0, false, Some(3.0), None),
    (600.5, true, None, Some(178)), (690.0, true, Some(8.0), Some(190)),
    (720.25, true, None, Some(192)), (575.0, true, Some(9.0), Some(169)),
    (845.5, true, None, Some(205)), (630.0, true, Some(7.0), Some(180)),
    (710.0, true, None, Some(191)), (598.0, true, Some(8.0), Some(176)),
    (655.25, true, None, Some(183)), (1180.0, false, Some(9.0), None),
    (620.0, true, None, Some(179)), (700.75, true, Some(8.0), Some(190)),
    (560.0, true, None, Some(168)), (640.0, true, Some(7.0), Some(181)),
    (690.5, true, None, Some(189)), (1020.0, false, None, None),
    (605.25, true, Some(9.0), Some(177)), (668.0, true, None, Some(185)),
];
#[rustfmt::skip]
const SMALL_A: &[Spec] = &[
    (300.0, true, Some(6.0), Some(50)), (420.5, false, Some(3.0), None),
    (380.0, true, Some(7.0), Some(55)), (295.25, true, None, Some(48)),
    (510.0, false, None, None), (330.0, true, Some(5.0), Some(52)),
    (610.75, false, Some(4.0), None), (345.0, true, None, Some(51)),
];
#[rustfmt::skip]
const SMALL_B: &[Spec] = &[
    (280.0, true, Some(8.0), Some(47)), (265.5, true, None, Some(46)),
    (301.0, true, Some(9.0), Some(49)), (250.0, true, Some(8.0), Some(45)),
    (890.0, false, None, None), (270.25, true, Some(7.0), Some(46)),
    (288.0, true, None, Some(48)), (259.75, true, Some(9.0), Some(44)),
    (310.0, true, Some(8.0), Some(50)), (275.0, true, None, Some(47)),
];

fn spec_lines(prompt: &str, version: &str, specs: &[Spec]) -> Vec<Value> {
    specs
        .iter()
        .enumerate()
        .map(|(i, &(ms, success, quality, tokens))| {
            let mut v = json!({
                "id": format!("{prompt}-{version}-{i:02}"),
                "ts": format!("2026-11-{:02}T{:02}:{:02}:00.000Z", 1 + i % 20, 8 + i % 10, i),
                "prompt": prompt,
                "version": version,
                "execution_time_ms": ms,
                "token_count": tokens,
                "output": format!("output {i}"),
                "success": success,
                "error": if success { Value::Null } else { json!("failed") },
            });
            if let Some(q) = quality {
                v["quality_score"] = json!(q);
            }
            v
        })
        .collect()
}

/// A project with prompts `ref` (REF_A as 1.0, REF_B as 1.1) and `small` (SMALL_A, SMALL_B).
/// One `ref` 1.1 run is logged with quality 2 and rated 9 (by a rating line that comes
/// before it), and one `ref` 1.0 line is duplicated: the reference counts neither.
fn reference_project() -> TestEnv {
    let env = project(&[("ref", &["1.0", "1.1"]), ("small", &["1.0", "1.1"])]);
    assert_eq!(REF_B[21].2, Some(9.0));
    let mut logged_b = REF_B.to_vec();
    logged_b[21].2 = Some(2.0);
    let a = spec_lines("ref", "1.0", REF_A);
    let mut lines = vec![json!({
        "type": "rating", "id": "rating-1", "ts": "2026-11-23T09:00:00.000Z",
        "run_id": "ref-1.1-21", "prompt": "ref", "quality_score": 9,
    })];
    lines.extend(a.iter().cloned());
    lines.extend(spec_lines("ref", "1.1", &logged_b));
    lines.push(a[0].clone());
    env.write("runs/ref/2026-11.jsonl", jsonl(&lines));
    let mut small = spec_lines("small", "1.0", SMALL_A);
    small.extend(spec_lines("small", "1.1", SMALL_B));
    env.write("runs/small/2026-11.jsonl", jsonl(&small));
    env
}

/// Expected figures of one version, from metrics_reference.py.
struct Expect {
    runs: u64,
    successes: u64,
    success_rate: f64,
    /// numpy.mean(times), numpy.percentile(times, [50, 95, 99]), numpy.min, numpy.max
    time: [f64; 6],
    quality_mean: f64,
    quality_n: u64,
    tokens_mean: f64,
    tokens_total: u64,
}

fn check_metrics(m: &Value, e: &Expect, what: &str) {
    assert_eq!(m["runs"], e.runs, "{what} runs");
    assert_eq!(m["successes"], e.successes, "{what} successes");
    close(
        &m["success_rate"],
        e.success_rate,
        &format!("{what} success_rate"),
    );
    for (k, x) in ["mean", "p50", "p95", "p99", "min", "max"]
        .iter()
        .zip(e.time)
    {
        close(&m["time_ms"][k], x, &format!("{what} time_ms.{k}"));
    }
    close(
        &m["quality_mean"],
        e.quality_mean,
        &format!("{what} quality_mean"),
    );
    assert_eq!(m["quality_n"], e.quality_n, "{what} quality_n");
    close(
        &m["tokens_mean"],
        e.tokens_mean,
        &format!("{what} tokens_mean"),
    );
    assert_eq!(m["tokens_total"], e.tokens_total, "{what} tokens_total");
}

/// Expected `compare NAME 1.0 1.1` figures (b = 1.1 against a = 1.0).
struct ExpectCompare {
    success_delta_pts: f64,
    method: &'static str,
    z: Option<f64>,
    success_p: f64,
    p50_delta_ms: f64,
    mean_time_delta_ms: f64,
    /// scipy.stats.ttest_ind(times_b, times_a, equal_var=False): statistic, df, pvalue
    time_test: [f64; 3],
    quality_delta: f64,
    /// scipy.stats.ttest_ind(quality_b, quality_a, equal_var=False): statistic, df, pvalue
    quality_test: [f64; 3],
}

fn check_comparison(c: &Value, e: &ExpectCompare) {
    assert_eq!(c["a"]["version"], "1.0");
    assert_eq!(c["b"]["version"], "1.1");
    close(
        &c["success_delta_pts"],
        e.success_delta_pts,
        "success_delta_pts",
    );
    assert_eq!(c["success_test"]["method"], e.method);
    match e.z {
        Some(z) => close(&c["success_test"]["statistic"], z, "z"),
        None => assert_eq!(c["success_test"]["statistic"], Value::Null),
    }
    close(&c["success_test"]["p_value"], e.success_p, "success p");
    close(&c["p50_delta_ms"], e.p50_delta_ms, "p50_delta_ms");
    close(
        &c["mean_time_delta_ms"],
        e.mean_time_delta_ms,
        "mean_time_delta_ms",
    );
    for (k, x) in ["statistic", "df", "p_value"].iter().zip(e.time_test) {
        close(&c["time_test"][k], x, &format!("time_test.{k}"));
    }
    close(&c["quality_delta"], e.quality_delta, "quality_delta");
    for (k, x) in ["statistic", "df", "p_value"].iter().zip(e.quality_test) {
        close(&c["quality_test"][k], x, &format!("quality_test.{k}"));
    }
}

#[test]
fn reference_metrics_large_counts_use_the_z_test() {
    let env = reference_project();
    let perf = env.run(&["performance", "ref", "--json"]);
    ok(&perf);
    assert_eq!(perf.stderr, "", "no diagnostics expected");
    let perf = perf.json();
    // Every figure from `python3 tests/reference/metrics_reference.py` (numpy 2.4.6,
    // scipy 1.17.1): numpy.mean(times); numpy.percentile(times, [50, 95, 99]) (linear);
    // numpy.min/max(times); successes / runs; numpy.mean(quality) over rated runs;
    // numpy.mean(tokens), numpy.sum(tokens) over runs that report tokens.
    let ref_a = Expect {
        runs: 25,
        successes: 16,
        success_rate: 0.64,
        time: [
            1066.51,
            905.0,
            1955.5999999999995,
            2676.2799999999984,
            610.25,
            2890.0,
        ],
        quality_mean: 6.107142857142857,
        quality_n: 14,
        tokens_mean: 209.11111111111111,
        tokens_total: 3764,
    };
    let ref_b = Expect {
        runs: 30,
        successes: 26,
        success_rate: 0.8666666666666667,
        time: [
            765.6666666666666,
            666.5,
            1328.4999999999993,
            1989.6000000000006,
            555.0,
            2210.0,
        ],
        quality_mean: 7.666666666666667,
        quality_n: 15,
        tokens_mean: 185.80769230769232,
        tokens_total: 4831,
    };
    let ref_all = Expect {
        runs: 55,
        successes: 42,
        success_rate: 0.7636363636363637,
        time: [
            902.4136363636363,
            720.25,
            1845.8499999999995,
            2522.8000000000006,
            555.0,
            2890.0,
        ],
        quality_mean: 6.913793103448276,
        quality_n: 29,
        tokens_mean: 195.3409090909091,
        tokens_total: 8595,
    };
    check_metrics(perf_metrics(&perf, "ref", "1.0"), &ref_a, "ref 1.0");
    check_metrics(perf_metrics(&perf, "ref", "1.1"), &ref_b, "ref 1.1");
    check_metrics(perf_metrics(&perf, "ref", "all"), &ref_all, "ref all");

    let cmp = env.run(&["compare", "ref", "1.0", "1.1", "--json"]);
    ok(&cmp);
    let cmp = cmp.json();
    let comparisons = cmp["comparisons"].as_array().expect("comparisons");
    assert_eq!(comparisons.len(), 1);
    // Expected success counts: min of expected_freq([[26, 4], [16, 9]]) = 5.909 >= 5 → z-test.
    check_comparison(
        &comparisons[0],
        &ExpectCompare {
            // 100 * (26/30 - 16/25)
            success_delta_pts: 22.666666666666668,
            method: "z_test",
            // (p_b - p_a) / sqrt(p(1-p)(1/n_a + 1/n_b)); its square equals
            // scipy.stats.chi2_contingency([[26, 4], [16, 9]], correction=False).statistic
            z: Some(1.9701682368678273),
            // scipy.stats.chi2_contingency([[26, 4], [16, 9]], correction=False).pvalue
            success_p: 0.0488190925354133,
            // numpy.percentile(b, 50) - numpy.percentile(a, 50)
            p50_delta_ms: -238.5,
            // numpy.mean(b) - numpy.mean(a)
            mean_time_delta_ms: -300.84333333333336,
            // scipy.stats.ttest_ind(times_b, times_a, equal_var=False)
            time_test: [-2.518628192440059, 39.7457235612855, 0.015910308328804648],
            // numpy.mean(quality_b) - numpy.mean(quality_a)
            quality_delta: 1.5595238095238102,
            // scipy.stats.ttest_ind(quality_b, quality_a, equal_var=False)
            quality_test: [2.313368055504768, 24.8143607159203, 0.029280620662037488],
        },
    );
}

#[test]
fn reference_metrics_small_counts_use_fishers_exact_test() {
    let env = reference_project();
    let perf = env.run(&["performance", "small", "--json"]);
    ok(&perf);
    let perf = perf.json();
    // From `python3 tests/reference/metrics_reference.py`, the same calls as above.
    let small_a = Expect {
        runs: 8,
        successes: 5,
        success_rate: 0.625,
        time: [398.9375, 362.5, 575.4875, 603.6975, 295.25, 610.75],
        quality_mean: 5.0,
        quality_n: 5,
        tokens_mean: 51.2,
        tokens_total: 256,
    };
    let small_b = Expect {
        runs: 10,
        successes: 9,
        success_rate: 0.9,
        time: [
            338.95,
            277.5,
            628.9999999999993,
            837.8000000000001,
            250.0,
            890.0,
        ],
        quality_mean: 8.166666666666666,
        quality_n: 6,
        tokens_mean: 46.888888888888886,
        tokens_total: 422,
    };
    let small_all = Expect {
        runs: 18,
        successes: 14,
        success_rate: 0.7777777777777778,
        time: [
            365.6111111111111,
            300.5,
            652.6374999999996,
            842.5274999999995,
            250.0,
            890.0,
        ],
        quality_mean: 6.7272727272727275,
        quality_n: 11,
        tokens_mean: 48.42857142857143,
        tokens_total: 678,
    };
    check_metrics(perf_metrics(&perf, "small", "1.0"), &small_a, "small 1.0");
    check_metrics(perf_metrics(&perf, "small", "1.1"), &small_b, "small 1.1");
    check_metrics(perf_metrics(&perf, "small", "all"), &small_all, "small all");

    let cmp = env.run(&["compare", "small", "1.0", "1.1", "--json"]);
    ok(&cmp);
    let cmp = cmp.json();
    // min of expected_freq([[9, 1], [5, 3]]) = 1.78 < 5 → Fisher's exact test.
    check_comparison(
        &cmp["comparisons"][0],
        &ExpectCompare {
            // 100 * (9/10 - 5/8)
            success_delta_pts: 27.500000000000004,
            method: "fisher_exact",
            z: None,
            // scipy.stats.fisher_exact([[9, 1], [5, 3]], alternative='two-sided').pvalue
            success_p: 0.27450980392156865,
            p50_delta_ms: -85.0,
            mean_time_delta_ms: -59.98750000000001,
            // scipy.stats.ttest_ind(times_b, times_a, equal_var=False)
            time_test: [-0.822296098076448, 14.689347513293226, 0.4240557855890503],
            quality_delta: 3.166666666666666,
            // scipy.stats.ttest_ind(quality_b, quality_a, equal_var=False)
            quality_test: [4.10720816108761, 5.496927213366622, 0.007600760796909526],
        },
    );
}

#[test]
fn reference_compare_human_output() {
    let env = reference_project();
    let r = env.run(&["compare", "ref", "1.0", "1.1"]);
    ok(&r);
    insta::assert_snapshot!("compare_ref_a_b", r.snapshot());
    let r = env.run(&["compare", "small", "1.0", "1.1"]);
    ok(&r);
    insta::assert_snapshot!("compare_small_a_b", r.snapshot());
}

// ---------------------------------------------------------------------------
// performance
// ---------------------------------------------------------------------------

/// Prompt p: five runs from Nov 1 to Nov 24 over 1.0 and 1.1; prompt q: one run.
fn dated_project() -> TestEnv {
    let env = project(&[("p", &["1.0", "1.1"]), ("q", &["1.0"])]);
    env.write(
        "runs/p/2026-11.jsonl",
        jsonl(&[
            run_line("r1", "2026-11-01T10:00:00.000Z", "p", "1.0", 100.0, true),
            run_line("r2", "2026-11-10T10:00:00.000Z", "p", "1.0", 200.0, false),
            run_line("r3", "2026-11-18T10:00:00.000Z", "p", "1.1", 300.0, true),
            run_line("r4", "2026-11-20T10:00:00.000Z", "p", "1.1", 400.0, true),
            run_line("r5", "2026-11-24T09:00:00.000Z", "p", "1.0", 500.0, true),
        ]),
    );
    env.write(
        "runs/q/2026-11.jsonl",
        jsonl(&[run_line(
            "q1",
            "2026-11-24T08:00:00.000Z",
            "q",
            "1.0",
            50.0,
            true,
        )]),
    );
    env
}

#[test]
fn performance_window_and_version_filters_change_the_counts() {
    let env = dated_project();
    let count = |args: &[&str]| {
        let mut all = vec!["performance", "p", "--json"];
        all.extend_from_slice(args);
        let r = env.run(&all);
        ok(&r);
        perf_runs(&r.json())
    };
    assert_eq!(count(&[]), 5);
    // --days 7: at or after 2026-11-17T12:00Z.
    assert_eq!(count(&["--days", "7"]), 3);
    assert_eq!(count(&["--days", "30"]), 5);
    assert_eq!(count(&["--days", "1"]), 1);
    // --until is exclusive: r4 at 2026-11-20T10:00 is after 2026-11-20T00:00.
    assert_eq!(
        count(&["--since", "2026-11-05", "--until", "2026-11-20"]),
        2
    );
    // --since is inclusive.
    assert_eq!(count(&["--since", "2026-11-20T10:00:00Z"]), 2);
    assert_eq!(count(&["--since", "2026-11-20T12:00:00+02:00"]), 2);
    assert_eq!(count(&["--version", "1.1"]), 2);
    assert_eq!(count(&["--version", "1.0", "--days", "7"]), 1);
    // Both --days and --since: the later bound applies.
    assert_eq!(count(&["--days", "30", "--since", "2026-11-19"]), 2);

    let r = env.run(&["performance", "p", "--json", "--days", "7"]);
    let v = r.json();
    assert_eq!(v["since"], "2026-11-17T12:00:00Z");
    assert_eq!(v["until"], Value::Null);

    let r = env.run(&["performance", "p", "--since", "last week"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
}

#[test]
fn performance_without_a_name_covers_every_prompt() {
    let env = dated_project();
    let r = env.run(&["performance", "--json"]);
    ok(&r);
    let v = r.json();
    let prompts: Vec<&Value> = v["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .map(|p| &p["prompt"])
        .collect();
    assert_eq!(prompts, [&json!("p"), &json!("q")]);
    assert_eq!(perf_runs(&v), 6);
    let versions: Vec<&Value> = v["prompts"][0]["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|x| &x["version"])
        .collect();
    assert_eq!(versions, [&json!("1.0"), &json!("1.1")]);

    let r = env.run(&["performance", "nope"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(r.stderr.contains("no prompt named `nope`"), "{}", r.stderr);

    // Nothing in the window: exit 0, a hint on stderr, nothing on stdout.
    let r = env.run(&["performance", "--since", "2026-11-25"]);
    ok(&r);
    assert_eq!(r.stdout, "");
    assert!(r.stderr.contains("no runs match"), "{}", r.stderr);
}

#[test]
fn performance_human_output() {
    let env = reference_project();
    let r = env.run(&["performance"]);
    ok(&r);
    insta::assert_snapshot!("performance_all_prompts", r.snapshot());
}

#[test]
fn performance_fits_80_and_120_columns() {
    let env = reference_project();
    for columns in [80, 120] {
        let r = env.run_in_columns(columns, &["performance"]);
        ok(&r);
        r.assert_fits(columns);
        insta::assert_snapshot!(format!("performance_{columns}_columns"), r.snapshot());
    }
}

#[test]
fn performance_table_shows_the_json_figures() {
    let env = reference_project();
    let human = env.run(&["performance", "ref"]);
    ok(&human);
    let json = env.run(&["performance", "ref", "--json"]);
    ok(&json);
    let json = json.json();
    assert_schema("performance", &json);
    let rows = table(&human.stdout);
    assert_eq!(rows[0], ["ref"]);
    let rows = &rows[1..];
    for (i, version) in [(1, "1.0"), (2, "1.1"), (3, "all")] {
        assert_eq!(rows[i][0], version);
        let m = perf_metrics(&json, "ref", version);
        assert_eq!(cell(rows, i, "RUNS"), m["runs"].to_string());
        assert_eq!(
            cell(rows, i, "SUCCESS"),
            fmt_pct(num(&m["success_rate"], "rate"))
        );
        for (col, key) in [
            ("MEAN", "mean"),
            ("P50", "p50"),
            ("P95", "p95"),
            ("P99", "p99"),
        ] {
            assert_eq!(
                cell(rows, i, col),
                fmt_ms(num(&m["time_ms"][key], key)),
                "{version} {col}"
            );
        }
        assert_eq!(
            cell(rows, i, "QUALITY"),
            format!("{:.1} (n={})", num(&m["quality_mean"], "q"), m["quality_n"])
        );
        assert_eq!(cell(rows, i, "TOTAL TOK"), m["tokens_total"].to_string());
    }
}

// ---------------------------------------------------------------------------
// compare
// ---------------------------------------------------------------------------

/// Prompt c: 1.0 and 1.1 with four runs each, 2.0 without runs.
fn compare_project() -> TestEnv {
    let env = project(&[("c", &["1.0", "1.1", "2.0"])]);
    let mut lines = Vec::new();
    for (i, (ms, ok, q)) in [
        (100.0, true, Some(6)),
        (120.0, true, None),
        (140.0, true, Some(7)),
        (160.0, true, None),
    ]
    .into_iter()
    .enumerate()
    {
        let mut l = run_line(
            &format!("a{i}"),
            "2026-11-20T10:00:00.000Z",
            "c",
            "1.0",
            ms,
            ok,
        );
        if let Some(q) = q {
            l["quality_score"] = json!(q);
        }
        lines.push(l);
    }
    for (i, (ms, ok, q)) in [
        (80.0, true, Some(8)),
        (90.0, false, Some(8)),
        (100.0, true, Some(9)),
        (110.0, true, None),
    ]
    .into_iter()
    .enumerate()
    {
        let mut l = run_line(
            &format!("b{i}"),
            "2026-11-21T10:00:00.000Z",
            "c",
            "1.1",
            ms,
            ok,
        );
        if let Some(q) = q {
            l["quality_score"] = json!(q);
        }
        lines.push(l);
    }
    env.write("runs/c/2026-11.jsonl", jsonl(&lines));
    env
}

#[test]
fn compare_every_version_against_its_predecessor() {
    let env = compare_project();
    let r = env.run(&["compare", "c"]);
    ok(&r);
    insta::assert_snapshot!("compare_default", r.snapshot());

    let r = env.run(&["compare", "c", "--json"]);
    ok(&r);
    let v = r.json();
    let pairs: Vec<(&Value, &Value)> = v["comparisons"]
        .as_array()
        .expect("comparisons")
        .iter()
        .map(|c| (&c["a"]["version"], &c["b"]["version"]))
        .collect();
    assert_eq!(
        pairs,
        [
            (&json!("1.0"), &json!("1.1")),
            (&json!("1.1"), &json!("2.0"))
        ]
    );
    let runs: Vec<&Value> = v["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|x| &x["metrics"]["runs"])
        .collect();
    assert_eq!(runs, [&json!(4), &json!(4), &json!(0)]);
    assert_eq!(v["comparisons"][0]["success_delta_pts"], -25.0);
    assert_eq!(v["comparisons"][0]["p50_delta_ms"], -35.0);
    assert_eq!(
        v["comparisons"][1]["verdict"],
        "2.0 vs 1.1: not enough runs to compare (0 vs 4)"
    );
    // Verdict: `B vs A: success … (p…); p50 …, mean … (p…); quality … (n=… vs …, …)`.
    let verdict = v["comparisons"][0]["verdict"].as_str().expect("verdict");
    assert!(
        verdict.starts_with(
            "1.1 vs 1.0: success −25.0 pts (p=1.000, not significant); p50 −35 ms, mean −35 ms (p="
        ),
        "{verdict}"
    );
    assert!(
        verdict.contains("; quality +1.8 (n=3 vs 2, p="),
        "{verdict}"
    );
}

#[test]
fn compare_a_b_shows_only_those_versions() {
    let env = compare_project();
    let r = env.run(&["compare", "c", "1.0", "1.1", "--json"]);
    ok(&r);
    let v = r.json();
    assert_eq!(v["versions"].as_array().expect("versions").len(), 2);
    assert_eq!(v["comparisons"].as_array().expect("comparisons").len(), 1);
    // B may be older than A: the comparison is still B against A.
    let r = env.run(&["compare", "c", "1.1", "1.0", "--json"]);
    ok(&r);
    let v = r.json();
    assert_eq!(v["comparisons"][0]["a"]["version"], "1.1");
    assert_eq!(v["comparisons"][0]["b"]["version"], "1.0");
    assert_eq!(v["comparisons"][0]["p50_delta_ms"], 35.0);
}

#[test]
fn compare_unknown_version_or_prompt_is_an_error() {
    let env = compare_project();
    let r = env.run(&["compare", "c", "1.0", "3.0"]);
    insta::assert_snapshot!("compare_unknown_version", r.snapshot());
    let r = env.run(&["compare", "nope"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    let r = env.run(&["compare", "c", "1.0"]);
    assert_eq!(r.code, 2, "B is required with A: {}", r.snapshot());
    let r = env.run(&["compare", "c", "1.0", "x.y"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
}

#[test]
fn compare_table_shows_the_json_figures() {
    let env = reference_project();
    let human = env.run(&["compare", "ref"]);
    ok(&human);
    let json = env.run(&["compare", "ref", "--json"]);
    ok(&json);
    let v = json.json();
    assert_schema("compare", &v);
    let rows = table(&human.stdout);
    let c = &v["comparisons"][0];
    assert_eq!(rows[2][0], "1.1");
    assert_eq!(
        cell(&rows, 2, "SUCCESS"),
        fmt_pct(num(&c["b"]["metrics"]["success_rate"], "rate"))
    );
    assert_eq!(
        cell(&rows, 2, "Δ SUCCESS"),
        format!("+{:.1} pts", num(&c["success_delta_pts"], "delta"))
    );
    assert_eq!(
        cell(&rows, 2, "Δ P50"),
        format!("−{:.0} ms", -num(&c["p50_delta_ms"], "delta"))
    );
    assert_eq!(
        cell(&rows, 2, "P95"),
        fmt_ms(num(&c["b"]["metrics"]["time_ms"]["p95"], "p95"))
    );
    assert_eq!(
        cell(&rows, 2, "Δ QUALITY"),
        format!("+{:.1}", num(&c["quality_delta"], "delta"))
    );
    let verdict = c["verdict"].as_str().expect("verdict");
    assert!(human.stdout.contains(verdict), "{}", human.stdout);
}

#[test]
fn compare_fits_80_and_120_columns() {
    let env = reference_project();
    for columns in [80, 120] {
        let r = env.run_in_columns(columns, &["compare", "ref", "1.0", "1.1"]);
        ok(&r);
        r.assert_fits(columns);
        insta::assert_snapshot!(format!("compare_{columns}_columns"), r.snapshot());
    }
}

#[test]
fn compare_writes_a_time_and_its_delta_in_one_unit() {
    // 1.0 takes ~30 s, 1.1 ~1.9 s: the 1.1 row must not read `1894 ms` next to `−28.1 s`.
    let env = project(&[("c", &["1.0", "1.1"])]);
    let mut lines = Vec::new();
    for (i, ms) in [29_000.0, 30_000.0, 31_000.0].into_iter().enumerate() {
        lines.push(run_line(
            &format!("a{i}"),
            "2026-11-20T10:00:00.000Z",
            "c",
            "1.0",
            ms,
            true,
        ));
    }
    for (i, ms) in [1_800.0, 1_894.0, 2_000.0].into_iter().enumerate() {
        lines.push(run_line(
            &format!("b{i}"),
            "2026-11-21T10:00:00.000Z",
            "c",
            "1.1",
            ms,
            true,
        ));
    }
    env.write("runs/c/2026-11.jsonl", jsonl(&lines));
    let r = env.run(&["compare", "c"]);
    ok(&r);
    let rows = table(&r.stdout);
    assert_eq!(cell(&rows, 1, "P50"), "30.0 s", "{}", r.stdout);
    assert_eq!(cell(&rows, 2, "P50"), "1.9 s", "{}", r.stdout);
    assert_eq!(cell(&rows, 2, "Δ P50"), "−28.1 s", "{}", r.stdout);
    assert!(
        r.stdout.contains("p50 −28.1 s, mean −28.1 s ("),
        "the verdict uses the same rule: {}",
        r.stdout
    );
}

// ---------------------------------------------------------------------------
// trends
// ---------------------------------------------------------------------------

/// Prompt t: runs on Nov 10, 12, 18 (two), 20 and 24 (two), over 1.0 and 1.1.
fn trends_project() -> TestEnv {
    let env = project(&[("t", &["1.0", "1.1"])]);
    let mut rated = run_line("t4", "2026-11-20T10:00:00.000Z", "t", "1.1", 200.0, true);
    rated["quality_score"] = json!(8);
    let mut rated2 = run_line("t5", "2026-11-24T09:00:00.000Z", "t", "1.1", 150.0, true);
    rated2["quality_score"] = json!(6);
    env.write(
        "runs/t/2026-11.jsonl",
        jsonl(&[
            run_line("t0", "2026-11-10T10:00:00.000Z", "t", "1.0", 900.0, true),
            run_line("t1", "2026-11-12T10:00:00.000Z", "t", "1.0", 700.0, true),
            run_line("t2", "2026-11-18T10:00:00.000Z", "t", "1.0", 100.0, true),
            run_line("t3", "2026-11-18T11:00:00.000Z", "t", "1.0", 300.0, false),
            rated,
            rated2,
            run_line("t6", "2026-11-24T10:00:00.000Z", "t", "1.0", 250.0, true),
        ]),
    );
    env
}

fn trend_column<'a>(v: &'a Value, rows: &str, key: &str) -> Vec<&'a Value> {
    v[rows]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| &r[key])
        .collect()
}

#[test]
fn trends_day_buckets_include_empty_days() {
    let env = trends_project();
    let r = env.run(&["trends", "t", "--days", "7", "--json"]);
    ok(&r);
    let v = r.json();
    assert_eq!(v["bucket"], "day");
    assert_eq!(v["from"], "2026-11-18");
    assert_eq!(v["to"], "2026-11-24");
    let starts: Vec<String> = (18..=24).map(|d| format!("2026-11-{d}")).collect();
    assert_eq!(
        trend_column(&v, "overall", "start"),
        starts
            .iter()
            .map(|s| json!(s))
            .collect::<Vec<_>>()
            .iter()
            .collect::<Vec<_>>()
    );
    assert_eq!(
        trend_column(&v, "overall", "runs"),
        [2, 0, 1, 0, 0, 0, 2]
            .map(|n| json!(n))
            .iter()
            .collect::<Vec<_>>()
    );
    let day18 = &v["overall"][0];
    assert_eq!(day18["success_rate"], 0.5);
    assert_eq!(day18["p50_ms"], 200.0);
    assert_eq!(v["overall"][1]["success_rate"], Value::Null);
    assert_eq!(v["overall"][6]["quality_mean"], 6.0);
    assert_eq!(v["overall"][6]["quality_n"], 1);
    // Per version: only buckets with runs.
    let by: Vec<(&Value, &Value, &Value)> = v["by_version"]
        .as_array()
        .expect("by_version")
        .iter()
        .map(|r| (&r["start"], &r["version"], &r["runs"]))
        .collect();
    assert_eq!(
        by,
        [
            (&json!("2026-11-18"), &json!("1.0"), &json!(2)),
            (&json!("2026-11-20"), &json!("1.1"), &json!(1)),
            (&json!("2026-11-24"), &json!("1.0"), &json!(1)),
            (&json!("2026-11-24"), &json!("1.1"), &json!(1)),
        ]
    );
    // The default window is 30 days: every run.
    let r = env.run(&["trends", "t", "--json"]);
    ok(&r);
    let v = r.json();
    assert_eq!(v["overall"].as_array().expect("rows").len(), 30);
    let total: u64 = v["overall"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["runs"].as_u64().expect("runs"))
        .sum();
    assert_eq!(total, 7);
}

#[test]
fn trends_week_buckets_start_on_monday() {
    let env = trends_project();
    let r = env.run(&["trends", "t", "--bucket", "week", "--days", "14", "--json"]);
    ok(&r);
    let v = r.json();
    assert_eq!(v["bucket"], "week");
    // 2026-11-24 is a Tuesday; the window starts on Wednesday 2026-11-11.
    assert_eq!(
        trend_column(&v, "overall", "start"),
        [
            json!("2026-11-09"),
            json!("2026-11-16"),
            json!("2026-11-23")
        ]
        .iter()
        .collect::<Vec<_>>()
    );
    assert_eq!(
        trend_column(&v, "overall", "runs"),
        [json!(1), json!(3), json!(2)].iter().collect::<Vec<_>>()
    );
}

#[test]
fn trends_version_filter() {
    let env = trends_project();
    let r = env.run(&["trends", "t", "--days", "7", "--version", "1.1", "--json"]);
    ok(&r);
    let v = r.json();
    assert_eq!(
        trend_column(&v, "overall", "runs"),
        [0, 0, 1, 0, 0, 0, 1]
            .map(|n| json!(n))
            .iter()
            .collect::<Vec<_>>()
    );
    let versions: BTreeSet<String> = trend_column(&v, "by_version", "version")
        .iter()
        .map(|x| x.as_str().expect("version").to_string())
        .collect();
    assert_eq!(versions, BTreeSet::from(["1.1".to_string()]));
    let r = env.run(&["trends", "t", "--version", "one"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
}

#[test]
fn trends_human_output_and_json_agree() {
    let env = trends_project();
    let r = env.run(&["trends", "t", "--days", "7"]);
    ok(&r);
    insta::assert_snapshot!("trends_days_7", r.snapshot());
    let v = env.run(&["trends", "t", "--days", "7", "--json"]).json();
    assert_schema("trends", &v);
    let rows = table(&r.stdout);
    let all: Vec<&Vec<String>> = rows.iter().filter(|r| r[1] == "all").collect();
    // The JSON and the table both have every day of the window, the empty ones with 0 runs.
    let overall = v["overall"].as_array().expect("rows");
    assert_eq!(overall.len(), 7);
    assert_eq!(all.len(), 7);
    assert!(overall.iter().any(|j| j["runs"] == 0));
    for (row, j) in all.iter().zip(overall) {
        assert_eq!(row[0], j["start"].as_str().expect("start"));
        assert_eq!(row[2], j["runs"].to_string());
        let p50 = j["p50_ms"].as_f64().map_or("-".to_string(), fmt_ms);
        assert_eq!(row[4], p50);
    }
}

#[test]
fn trends_fits_80_and_120_columns() {
    let env = trends_project();
    for columns in [80, 120] {
        let r = env.run_in_columns(columns, &["trends", "t", "--days", "7"]);
        ok(&r);
        r.assert_fits(columns);
        insta::assert_snapshot!(format!("trends_{columns}_columns"), r.snapshot());
    }
}

#[test]
fn trends_svg_is_a_well_formed_chart() {
    let env = trends_project();
    let r = env.run(&["trends", "t", "--days", "7", "--svg", "chart.svg"]);
    ok(&r);
    assert!(r.stderr.contains("wrote chart.svg"), "{}", r.stderr);
    let svg = env.read("chart.svg");
    assert!(svg.starts_with("<svg"), "{svg:.80}");
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("<path d=\"M"), "a non-empty line");
    assert!(svg.contains("t: trends"));
    // Tags are balanced: every opened element is closed, in order.
    let mut stack: Vec<String> = Vec::new();
    let mut rest = svg.as_str();
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("unclosed tag") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().expect("tag name");
            stack.push(name.to_string());
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    // --svg with --json writes both.
    let r = env.run(&["trends", "t", "--svg", "two.svg", "--json"]);
    ok(&r);
    assert_eq!(r.json()["prompt"], "t");
    assert!(env.read("two.svg").starts_with("<svg"));
}

#[test]
fn trends_color_always_shows_sparklines() {
    let env = trends_project();
    let r = env.run(&["trends", "t", "--days", "7", "--color", "always"]);
    ok(&r);
    assert!(r.stdout.contains("\x1b["), "colored");
    // Runs per day 2,0,1,0,0,0,2 scaled to ▁…█.
    let runs = r
        .stdout
        .lines()
        .find(|l| l.contains("runs"))
        .expect("runs sparkline");
    assert!(runs.ends_with(" █▁▅▁▁▁█"), "{runs:?}");
    let never = env.run(&["trends", "t", "--days", "7", "--color", "never"]);
    ok(&never);
    assert!(!never.stdout.contains('█') && !never.stdout.contains("\x1b["));
}

// ---------------------------------------------------------------------------
// export
// ---------------------------------------------------------------------------

const TRICKY_OUTPUT: &str = "He said \"hi\", then left\nline 2\r\nline 3, end \"\"";

/// Three runs of p: one with commas, quotes and newlines everywhere, one failed, one rated.
fn export_project() -> TestEnv {
    let env = TestEnv::init();
    env.prompt(
        "p",
        "1.0",
        "goal: g\nmodel: m\ntemperature: 0.5\n",
        "text\n",
    );
    let input = [
        json!({
            "id": "csv-1", "ts": "2026-11-20T10:00:00Z", "prompt": "p",
            "execution_time_ms": 12.5, "token_count": 12, "output": TRICKY_OUTPUT,
            "input": {"task": "a,b", "n": "1"}, "quality_score": 8,
            "feedback": "ok, \"fine\"", "meta": {"user": "u1"}, "custom": 5,
        }),
        json!({
            "id": "csv-2", "ts": "2026-11-21T10:00:00Z", "prompt": "p",
            "execution_time_ms": 30000, "error": "timeout, after 30s",
        }),
        json!({
            "id": "csv-3", "ts": "2026-11-22T10:00:00Z", "prompt": "p",
            "execution_time_ms": 7, "output": "plain", "quality_score": 3,
        }),
    ];
    ok(&env.run_with_stdin(&["record", "--stdin"], &jsonl(&input)));
    ok(&env.run(&["rate", "csv-3", "--quality", "9", "--feedback", "better"]));
    env
}

#[test]
fn export_jsonl_applies_ratings_and_keeps_unknown_fields() {
    let env = export_project();
    let r = env.run(&["export", "--format", "jsonl"]);
    ok(&r);
    assert!(r.stdout.ends_with('\n'));
    let rows: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one object per line"))
        .collect();
    let ids: Vec<&Value> = rows.iter().map(|v| &v["id"]).collect();
    assert_eq!(ids, [&json!("csv-1"), &json!("csv-2"), &json!("csv-3")]);
    assert_eq!(rows[0]["output"], TRICKY_OUTPUT);
    assert_eq!(rows[0]["meta"], json!({"user": "u1"}));
    assert_eq!(rows[0]["custom"], 5);
    assert_eq!(rows[1]["success"], false);
    assert_eq!(num(&rows[2]["quality_score"], "rated"), 9.0);
    assert_eq!(rows[2]["feedback"], "better");
    // The default format is jsonl.
    let default = env.run(&["export"]);
    ok(&default);
    assert_eq!(default.stdout, r.stdout);
}

#[test]
fn export_json_is_one_array_and_empty_is_brackets() {
    let env = export_project();
    let r = env.run(&["export", "--format", "json"]);
    ok(&r);
    let v = r.json();
    assert_schema("export", &v);
    let rows = v.as_array().expect("an array");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2]["id"], "csv-3");
    assert_eq!(num(&rows[2]["quality_score"], "rated"), 9.0);
    // --json is --format json.
    let same = env.run(&["export", "--json"]);
    ok(&same);
    assert_eq!(same.stdout, r.stdout);
    // --json with another format is a usage error, not CSV or JSON Lines in disguise.
    for other in ["csv", "jsonl"] {
        let both = env.run(&["export", "--format", other, "--json"]);
        assert_eq!(both.code, 2, "{}", both.stderr);
        assert_eq!(both.stdout, "");
        assert!(
            both.stderr.contains(&format!(
                "error: --json and --format {other} ask for two formats"
            )),
            "{}",
            both.stderr
        );
    }

    let empty = TestEnv::init();
    let r = empty.run(&["export", "--format", "json"]);
    ok(&r);
    assert_eq!(r.stdout, "[]\n");
    let r = env.run(&["export", "--format", "json", "--since", "2030-01-01"]);
    ok(&r);
    assert_eq!(r.json(), json!([]));
}

#[test]
fn export_csv_follows_rfc_4180() {
    let env = export_project();
    let r = env.run(&["export", "--format", "csv"]);
    ok(&r);
    let header = "id,ts,prompt,version,prompt_sha,commit,model,params,input,output,\
                  execution_time_ms,token_count,output_length,success,error,quality_score,\
                  feedback,extra\r\n";
    assert!(r.stdout.starts_with(header), "{:.200}", r.stdout);
    let records = parse_csv(&r.stdout);
    assert_eq!(records.len(), 4);
    assert!(records.iter().all(|rec| rec.len() == 18), "{records:?}");
    let get = |row: usize, col: &str| -> &str { cell(&records, row, col) };
    let json_cell = |row: usize, col: &str| -> Value {
        serde_json::from_str(get(row, col)).unwrap_or_else(|e| panic!("{col}: {e}"))
    };

    assert_eq!(get(1, "id"), "csv-1");
    assert_eq!(get(1, "ts"), "2026-11-20T10:00:00.000Z");
    assert_eq!(
        get(1, "output"),
        TRICKY_OUTPUT,
        "quotes and newlines survive"
    );
    assert_eq!(get(1, "feedback"), "ok, \"fine\"");
    assert_eq!(json_cell(1, "params"), json!({"temperature": 0.5}));
    assert_eq!(json_cell(1, "input"), json!({"task": "a,b", "n": "1"}));
    assert_eq!(
        json_cell(1, "extra"),
        json!({"meta": {"user": "u1"}, "custom": 5})
    );
    assert_eq!(get(1, "execution_time_ms"), "12.5");
    assert_eq!(get(1, "token_count"), "12");
    assert_eq!(
        get(1, "output_length"),
        TRICKY_OUTPUT.chars().count().to_string()
    );
    assert_eq!(get(1, "success"), "true");
    assert_eq!(get(1, "quality_score"), "8");
    let sha = env.git(&["hash-object", "prompts/p/1.0.md"]);
    assert_eq!(get(1, "prompt_sha"), sha.trim());
    assert_eq!(get(1, "commit"), "", "null is an empty cell");

    assert_eq!(get(2, "success"), "false");
    assert_eq!(get(2, "error"), "timeout, after 30s");
    assert_eq!(get(2, "quality_score"), "");
    assert_eq!(get(2, "token_count"), "");
    assert_eq!(get(2, "extra"), "");

    assert_eq!(
        get(3, "quality_score").parse::<f64>(),
        Ok(9.0),
        "rating applied"
    );
    assert_eq!(get(3, "feedback"), "better");
}

#[test]
fn export_writes_rated_scores_like_logged_ones() {
    let env = export_project();
    let r = env.run(&["export", "--format", "csv"]);
    ok(&r);
    let records = parse_csv(&r.stdout);
    assert_eq!(cell(&records, 1, "quality_score"), "8");
    assert_eq!(cell(&records, 3, "quality_score"), "9");
}

#[test]
fn export_filters_and_output_file() {
    let env = project(&[("a", &["1.0"]), ("b", &["1.0"])]);
    env.write(
        "runs/a/2026-11.jsonl",
        jsonl(&[
            run_line("a-old", "2026-11-10T10:00:00.000Z", "a", "1.0", 1.0, true),
            run_line("a-new", "2026-11-24T10:00:00.000Z", "a", "1.0", 1.0, true),
        ]),
    );
    env.write(
        "runs/b/2026-11.jsonl",
        jsonl(&[run_line(
            "b-new",
            "2026-11-23T10:00:00.000Z",
            "b",
            "1.0",
            1.0,
            true,
        )]),
    );
    let ids = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["export", "--format", "jsonl"];
        all.extend_from_slice(args);
        let r = env.run(&all);
        ok(&r);
        r.stdout
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("json");
                v["id"].as_str().expect("id").to_string()
            })
            .collect()
    };
    assert_eq!(ids(&[]), ["a-old", "a-new", "b-new"]);
    assert_eq!(ids(&["--prompt", "a"]), ["a-old", "a-new"]);
    assert_eq!(ids(&["--days", "3"]), ["a-new", "b-new"]);
    assert_eq!(ids(&["--prompt", "a", "--days", "3"]), ["a-new"]);
    assert_eq!(ids(&["--until", "2026-11-24"]), ["a-old", "b-new"]);

    let r = env.run(&["export", "--format", "csv", "--output", "out.csv"]);
    ok(&r);
    assert_eq!(r.stdout, "", "the data goes to the file");
    assert!(
        r.stderr.contains("exported 3 run(s) to out.csv"),
        "{}",
        r.stderr
    );
    let records = parse_csv(&env.read("out.csv"));
    assert_eq!(records.len(), 4);
    assert_eq!(records[1][0], "a-old");
}

#[test]
fn export_into_a_closed_pipe_ends_quietly() {
    let env = TestEnv::init();
    let mut log = String::with_capacity(20_000 * 160);
    for i in 0..20_000 {
        log.push_str(&format!(
            "{{\"id\":\"r{i:05}\",\"ts\":\"2026-11-10T10:00:00.000Z\",\"prompt\":\"p\",\"version\":\"1.0\",\"execution_time_ms\":{},\"success\":true,\"output\":\"{}\"}}\n",
            i % 700,
            "x".repeat(60)
        ));
    }
    env.write("runs/p/2026-11.jsonl", log);
    let bin = assert_cmd::cargo::cargo_bin("ptrack");
    let out = Command::new("bash")
        .arg("-c")
        .arg("set -o pipefail; \"$PTRACK\" export --format jsonl | head -1")
        .env("PTRACK", &bin)
        .env("PTRACK_NOW", NOW)
        .env("HOME", env.root())
        .current_dir(env.root())
        .output()
        .expect("bash");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pipeline failed: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("error"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1);
    let first: Value = serde_json::from_str(stdout.trim()).expect("a whole JSON line");
    assert_eq!(first["id"], "r00000");
}

#[test]
fn performance_of_a_prompt_whose_files_are_gone_reads_its_runs() {
    let env = TestEnv::init();
    env.write(
        "runs/ghost/2026-11.jsonl",
        "{\"id\":\"g1\",\"ts\":\"2026-11-20T10:00:00.000Z\",\"prompt\":\"ghost\",\"version\":\"1.0\",\"execution_time_ms\":120,\"success\":true}\n",
    );
    let r = env.run(&["performance", "ghost", "--json"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert_eq!(r.json()["prompts"][0]["all"]["runs"], 1);
    // A name with neither files nor runs is still an error.
    assert_eq!(env.run(&["performance", "nobody"]).code, 2);
}

/// Runs recorded within the same minute share their first 8 characters (UUIDv7 starts with the
/// time), so a fixed-length prefix is ambiguous: the ambiguity error lists each match as its
/// shortest unique prefix, `rate` takes those, and `rate` prints the run that way too.
#[test]
fn rate_shows_and_takes_the_shortest_unique_prefix() {
    let env = project(&[("p", &["1.0"])]);
    let ids: Vec<String> = (0..3)
        .map(|_| {
            let r = env.run(&["record", "p", "--time-ms", "5"]);
            assert_eq!(r.code, 0, "{}", r.snapshot());
            r.stdout.trim().to_string()
        })
        .collect();
    let eight = &ids[0][..8];
    assert!(ids.iter().all(|id| id.starts_with(eight)), "{ids:?}");
    let r = env.run(&["rate", eight, "--quality", "5"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(
        r.stderr.contains(&format!("{eight} matches 3 runs: ")),
        "{}",
        r.stderr
    );
    let listed: Vec<String> = r
        .stderr
        .lines()
        .next()
        .and_then(|l| l.split(": ").nth(2))
        .expect("candidates")
        .split(", ")
        .map(str::to_string)
        .collect();
    assert_eq!(listed.len(), 3, "{listed:?}");
    let mut sorted = ids.clone();
    sorted.sort();
    for (short, full) in listed.iter().zip(&sorted) {
        assert!(
            full.starts_with(short.as_str()) && short.len() < full.len(),
            "{short} {full}"
        );
        // Each shown prefix is unique: one shorter is not (or is under the minimum).
        let r = env.run(&["rate", short, "--quality", "7"]);
        assert_eq!(r.code, 0, "{}", r.snapshot());
        assert_eq!(r.stdout, format!("rated {short} 7/10\n"));
    }
}

/// Runs recorded at different `concurrency` (by `run --concurrency`) have times that include
/// different queue waits: `compare` says so in its verdict and JSON.
#[test]
fn compare_says_when_the_versions_ran_at_different_concurrency() {
    let env = project(&[("p", &["1.0", "1.1"])]);
    let mut lines = Vec::new();
    for i in 0..6 {
        let mut a = run_line(
            &format!("a{i}"),
            "2026-11-20T10:00:00Z",
            "p",
            "1.0",
            100.0 + i as f64,
            true,
        );
        a["concurrency"] = json!(1);
        let mut b = run_line(
            &format!("b{i}"),
            "2026-11-20T11:00:00Z",
            "p",
            "1.1",
            200.0 + i as f64,
            true,
        );
        b["concurrency"] = json!(4);
        lines.extend([a, b]);
    }
    env.write("runs/p/2026-11.jsonl", jsonl(&lines));
    let r = env.run(&["compare", "p", "1.0", "1.1"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let note = "1.1 ran at concurrency 4, 1.0 at 1: times include different queue waits";
    assert!(r.stdout.contains(note), "{}", r.stdout);
    let v = env.run(&["compare", "p", "1.0", "1.1", "--json"]).json();
    assert_eq!(
        v["comparisons"][0]["concurrency_differs"],
        json!({"a": [1], "b": [4]})
    );
    // The same concurrency on both sides: no note.
    let same: Vec<Value> = lines
        .into_iter()
        .map(|mut l| {
            l["concurrency"] = json!(1);
            l
        })
        .collect();
    env.write("runs/p/2026-11.jsonl", jsonl(&same));
    let r = env.run(&["compare", "p", "1.0", "1.1"]);
    assert!(!r.stdout.contains("concurrency"), "{}", r.stdout);
}
