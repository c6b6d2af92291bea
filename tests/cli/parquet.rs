//! `export --format parquet`: the layout, the column types, the errors, and the README's
//! DuckDB SQL over the files giving the figures of `ptrack performance --json`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::common::{TestEnv, assert_schema};

/// A project with varied runs: three prompts, versions `1.0`, `1.1`, `1.10` and `2.0`, runs in
/// three months, failures, unrated runs, runs without token counts, ratings given later,
/// unicode and long outputs, blank feedback, fields ptrack does not know, and one bad line.
fn varied_project() -> TestEnv {
    let env = TestEnv::init();
    let prompts = ["alpha", "beta-2", "c_3"];
    let versions = ["1.0", "1.1", "1.10", "2.0"];
    for p in prompts {
        for v in versions {
            env.prompt(p, v, "goal: Say hi.\nmodel: m\n", "Hi {{ who }}\n");
        }
    }
    // A small linear congruential generator: the same runs every time.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let mut logs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut ratings = Vec::new();
    let mut i = 0;
    for p in prompts {
        for (vi, v) in versions.iter().enumerate() {
            // A version with one run, and one with two, test the quantiles' edges.
            let runs = match (p, vi) {
                ("c_3", 0) => 1,
                ("c_3", 1) => 2,
                _ => 20 + next(40),
            };
            for _ in 0..runs {
                i += 1;
                let month = ["2026-09", "2026-10", "2026-11"][next(3) as usize];
                let day = 1 + next(28);
                let ts = format!(
                    "{month}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
                    next(24),
                    next(60),
                    next(60),
                    next(1000)
                );
                let success = next(10) < 8;
                let ms =
                    (next(2_000_000) as f64) / 1000.0 + if next(20) == 0 { 30_000.0 } else { 0.0 };
                let output = match next(6) {
                    0 => "Grüße, 世界! ✓ — «ok» 🚀".to_string(),
                    1 => "long ".repeat(3000),
                    2 => String::new(),
                    _ => format!("answer {i}\nwith a second line, a \"quote\" and a, comma"),
                };
                let mut run = json!({
                    "id": format!("run-{i:05}"), "ts": ts, "prompt": p, "version": v,
                    "model": if next(3) == 0 { Value::Null } else { json!("m") },
                    "params": {"temperature": 0.5}, "input": {"who": "Zoë"},
                    "output": output, "execution_time_ms": ms, "success": success,
                    "error": if success { Value::Null } else { json!("timeout") },
                });
                if next(4) != 0 {
                    run["token_count"] = json!(next(900));
                    run["prompt_tokens"] = json!(next(500));
                    run["completion_tokens"] = json!(next(400));
                }
                if next(2) == 0 {
                    run["quality_score"] = json!(1 + next(10));
                }
                match next(5) {
                    0 => run["feedback"] = json!("clear"),
                    1 => run["feedback"] = json!("  \n"),
                    2 => run["tags"] = json!(["a", "b"]),
                    _ => {}
                }
                if next(8) == 0 {
                    ratings.push((p, format!("run-{i:05}"), 1 + next(10), next(3)));
                }
                logs.entry(format!("runs/{p}/{month}.jsonl"))
                    .or_default()
                    .push(run.to_string());
            }
        }
    }
    for (n, (p, id, q, fb)) in ratings.into_iter().enumerate() {
        let mut r = json!({"type": "rating", "id": format!("rating-{n}"), "ts": "2026-11-23T10:00:00Z",
            "run_id": id, "prompt": p, "quality_score": q});
        match fb {
            0 => r["feedback"] = json!(""),
            1 => r["feedback"] = json!("later ✓"),
            _ => {}
        }
        logs.entry(format!("runs/{p}/2026-11.jsonl"))
            .or_default()
            .push(r.to_string());
    }
    // One bad line: skipped with a warning by every export format.
    logs.entry("runs/alpha/2026-10.jsonl".into())
        .or_default()
        .push("{\"id\":\"broken\",\"ts\":\"2026-10-01T00:00:00Z\",\"prompt\":\"alpha\"".into());
    for (path, lines) in logs {
        env.write(&path, lines.join("\n") + "\n");
    }
    env
}

/// DuckDB from Python (`pip install duckdb`); in CI it must be there (`.ci/run` installs it).
fn duckdb() -> bool {
    let found = std::process::Command::new("python3")
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3 with duckdb is missing; in CI the Parquet SQL test must run"
        );
        eprintln!("SKIPPED: the Parquet SQL check needs DuckDB (python3 -m pip install duckdb)");
    }
    found
}

/// Rows of `sql` run by DuckDB, as JSON objects (timestamps as RFC 3339 text).
fn duckdb_rows(sql: &str) -> Vec<Value> {
    let script = r#"
import datetime, json, sys
import duckdb
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
rel = con.sql(sys.stdin.read())
cols = rel.columns
out = []
for row in rel.fetchall():
    obj = {}
    for c, v in zip(cols, row):
        if isinstance(v, datetime.datetime):
            v = v.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        obj[c] = v
    out.append(obj)
print(json.dumps(out))
"#;
    python_json("python3", script, sql)
}

pub(crate) fn python_json(python: &str, script: &str, stdin: &str) -> Vec<Value> {
    use std::io::Write;
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write the SQL");
    let out = child.wait_with_output().expect("python3 ends");
    assert!(
        out.status.success(),
        "the query failed: {}\n{stdin}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// The SQL block of the README that follows the line with `marker`, with its folder `runs-pq`
/// replaced by `dir`.
pub(crate) fn readme_sql(marker: &str, dir: &Path) -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let start = readme
        .find(marker)
        .unwrap_or_else(|| panic!("README.md has no `{marker}`"));
    let rest = &readme[start..];
    let open = rest
        .find("```sql\n")
        .expect("a ```sql block after the marker")
        + 7;
    let close = rest[open..].find("```").expect("the block ends") + open;
    let sql = &rest[open..close];
    assert!(sql.contains("runs-pq"), "{sql}");
    sql.replace("runs-pq", &dir.display().to_string())
}

fn num(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

/// `a` and `b` agree to `rel` relative difference (both absent counts as agreeing).
fn close(a: &Value, b: &Value, rel: f64, what: &str) {
    if a.is_null() || b.is_null() {
        assert!(a.is_null() && b.is_null(), "{what}: {a} vs {b}");
        return;
    }
    let (x, y) = (num(a, what), num(b, what));
    let scale = x.abs().max(y.abs()).max(f64::MIN_POSITIVE);
    assert!(
        (x - y).abs() / scale <= rel,
        "{what}: ptrack {x} vs SQL {y} (relative difference {})",
        (x - y).abs() / scale
    );
}

/// Compare one metrics object of `performance --json` with one SQL row.
///
/// `--json` rounds every float to 14 significant digits (`ptrack::json::round_floats`), so the
/// SQL's figures are rounded the same way first; then the ratio, the extremes and the
/// quantiles must be equal, and the means (ptrack sums with compensation) agree to 1e-9.
pub(crate) fn assert_same_figures(m: &Value, row: &Value, what: &str) {
    let mut row = row.clone();
    ptrack::json::round_floats(&mut row);
    let row = &row;
    let exact = |k: &str, sql_k: &str| {
        assert_eq!(m[k], row[sql_k], "{what}: {k}");
    };
    exact("runs", "runs");
    exact("successes", "successes");
    exact("tokens_total", "tokens_total");
    exact("quality_n", "quality_n");
    exact("feedback_count", "feedback_count");
    // A ratio of two exact counts is one division in every engine.
    assert_eq!(
        num(&m["success_rate"], what),
        num(&row["success_rate"], what),
        "{what}: success_rate"
    );
    let t = &m["time_ms"];
    for (k, sql_k) in [("min", "min_ms"), ("max", "max_ms")] {
        assert_eq!(num(&t[k], what), num(&row[sql_k], what), "{what}: {k}");
    }
    // Quantiles: the same interpolation between the same two values.
    for (k, sql_k) in [("p50", "p50_ms"), ("p95", "p95_ms"), ("p99", "p99_ms")] {
        assert_eq!(num(&t[k], what), num(&row[sql_k], what), "{what}: {k}");
    }
    // Means: ptrack sums with compensation, the engines may not.
    close(
        &t["mean"],
        &row["time_mean_ms"],
        1e-9,
        &format!("{what}: time mean"),
    );
    for k in ["tokens_mean", "output_length_mean", "quality_mean"] {
        close(&m[k], &row[k], 1e-9, &format!("{what}: {k}"));
    }
    for k in ["first_run", "last_run"] {
        let a = chrono::DateTime::parse_from_rfc3339(m[k].as_str().expect("a time"))
            .unwrap_or_else(|e| panic!("{what}: {k}: {e}"));
        let b = chrono::DateTime::parse_from_rfc3339(row[k].as_str().expect("a time"))
            .unwrap_or_else(|e| panic!("{what}: {k}: {e}"));
        assert_eq!(a, b, "{what}: {k}");
    }
}

/// Every version row and every "all versions" row of `performance --json` against the rows
/// of the SQL (version null for all versions); the counts of rows agree too.
pub(crate) fn assert_matches_performance(perf: &Value, rows: &[Value]) {
    let mut by_key: BTreeMap<(String, Option<String>), &Value> = BTreeMap::new();
    for r in rows {
        let p = r["prompt"].as_str().expect("prompt").to_string();
        let v = r["version"].as_str().map(str::to_string);
        assert!(by_key.insert((p, v), r).is_none(), "a row twice: {r}");
    }
    let mut expected = 0;
    for p in perf["prompts"].as_array().expect("prompts") {
        let name = p["prompt"].as_str().expect("name").to_string();
        for v in p["versions"].as_array().expect("versions") {
            let version = v["version"].as_str().expect("version").to_string();
            let what = format!("{name} {version}");
            let row = by_key
                .get(&(name.clone(), Some(version.clone())))
                .unwrap_or_else(|| panic!("no SQL row for {what}"));
            assert_same_figures(&v["metrics"], row, &what);
            expected += 1;
        }
        let row = by_key
            .get(&(name.clone(), None))
            .unwrap_or_else(|| panic!("no SQL row for {name}, all versions"));
        assert_same_figures(&p["all"], row, &format!("{name} all versions"));
        expected += 1;
    }
    assert_eq!(rows.len(), expected, "the SQL has rows ptrack has not");
    assert!(
        expected >= 15,
        "the data set has {expected} rows of figures"
    );
}

#[test]
fn duckdb_reads_the_export_and_the_readme_sql_gives_the_performance_figures() {
    let env = varied_project();
    let r = env.run(&["export", "--format", "parquet", "--output", "pq", "--json"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let summary = r.json();
    assert_schema("export-parquet", &summary);
    assert!(
        r.stderr.contains("runs/alpha/2026-10.jsonl:") && r.stderr.contains("warning"),
        "the bad line is reported: {}",
        r.stderr
    );
    // The same problems as the other formats report.
    let jsonl = env.run(&["export", "--format", "jsonl"]);
    assert_eq!(jsonl.stderr, r.stderr);
    let exported_runs = jsonl.stdout.lines().count();
    assert_eq!(summary["runs"], exported_runs);
    let files = summary["files"].as_array().expect("files");
    assert!(files.len() > 20, "{summary}");
    for f in files {
        let path = f["path"].as_str().expect("path");
        let parts: Vec<&str> = path.split('/').collect();
        assert_eq!(parts.len(), 4, "{path}");
        assert!(
            parts[0].starts_with("prompt=") && parts[1].starts_with("version="),
            "{path}"
        );
        assert!(
            parts[2].starts_with("month=2026-") && parts[3] == "part-0.parquet",
            "{path}"
        );
        assert!(env.path("pq").join(path).is_file(), "{path}");
    }
    let perf = env.run(&["performance", "--json"]);
    assert_eq!(perf.code, 0, "{}", perf.snapshot());
    if !duckdb() {
        return;
    }
    let sql = readme_sql("<!-- sql: duckdb -->", &env.path("pq"));
    let rows = duckdb_rows(&sql);
    assert_matches_performance(&perf.json(), &rows);

    // Every run reads back equal to the JSON export, field by field.
    let back = duckdb_rows(&format!(
        "SELECT * EXCLUDE (month) FROM read_parquet('{}/**/*.parquet', hive_partitioning = true, \
         hive_types_autocast = false) ORDER BY id",
        env.path("pq").display()
    ));
    let mut want: Vec<Value> = jsonl
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    want.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    assert_eq!(back.len(), want.len());
    for (got, want) in back.iter().zip(&want) {
        let id = want["id"].as_str().expect("id");
        for k in ["prompt", "version", "model", "output", "error", "feedback"] {
            assert_eq!(got[k], want[k], "{id}: {k}");
        }
        assert_eq!(got["success"], want["success"], "{id}");
        assert_eq!(
            num(&got["execution_time_ms"], id),
            num(&want["execution_time_ms"], id)
        );
        for k in [
            "token_count",
            "prompt_tokens",
            "completion_tokens",
            "output_length",
        ] {
            assert_eq!(got[k].as_u64(), want[k].as_u64(), "{id}: {k}");
        }
        assert_eq!(
            got["quality_score"].as_f64(),
            want["quality_score"].as_f64(),
            "{id}: quality"
        );
        let params: Value = serde_json::from_str(got["params"].as_str().expect("params text"))
            .expect("params is JSON");
        assert_eq!(params, want["params"], "{id}");
        let ts =
            |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().expect("ts")).expect("ts");
        assert_eq!(ts(&got["ts"]), ts(&want["ts"]), "{id}");
        let extra = want.get("tags").map(|t| json!({"tags": t}).to_string());
        assert_eq!(
            got["extra"].as_str().map(str::to_string),
            extra,
            "{id}: extra"
        );
    }
}

#[test]
fn parquet_columns_have_their_types_and_partitions_follow_the_flag() {
    let env = varied_project();
    let r = env.run(&[
        "export",
        "--format",
        "parquet",
        "-o",
        "pq",
        "--partition",
        "month,prompt",
        "--prompt",
        "beta-2",
        "--since",
        "2026-10-01",
    ]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(r.stderr.contains("exported "), "{}", r.stderr);
    let dirs: Vec<String> = std::fs::read_dir(env.path("pq"))
        .expect("pq")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let mut dirs = dirs;
    dirs.sort();
    assert_eq!(dirs, ["month=2026-10", "month=2026-11"]);
    assert!(
        env.path("pq/month=2026-11/prompt=beta-2/part-0.parquet")
            .is_file()
    );
    // One file, every column inside it.
    let one = env.run(&[
        "export",
        "--format",
        "parquet",
        "-o",
        "one",
        "--partition",
        "none",
    ]);
    assert_eq!(one.code, 0, "{}", one.snapshot());
    let names: Vec<String> = std::fs::read_dir(env.path("one"))
        .expect("one")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["part-0.parquet"], "no temporary file is left");
    if !duckdb() {
        return;
    }
    let types = duckdb_rows(&format!(
        "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('{}'))",
        env.path("one/part-0.parquet").display()
    ));
    let got: Vec<(String, String)> = types
        .iter()
        .map(|t| {
            (
                t["column_name"].as_str().expect("name").to_string(),
                t["column_type"].as_str().expect("type").to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("id", "VARCHAR"),
        ("ts", "TIMESTAMP WITH TIME ZONE"),
        ("prompt", "VARCHAR"),
        ("version", "VARCHAR"),
        ("prompt_sha", "VARCHAR"),
        ("commit", "VARCHAR"),
        ("model", "VARCHAR"),
        ("params", "VARCHAR"),
        ("input", "VARCHAR"),
        ("output", "VARCHAR"),
        ("execution_time_ms", "DOUBLE"),
        ("token_count", "BIGINT"),
        ("prompt_tokens", "BIGINT"),
        ("completion_tokens", "BIGINT"),
        ("output_length", "BIGINT"),
        ("success", "BOOLEAN"),
        ("error", "VARCHAR"),
        ("quality_score", "DOUBLE"),
        ("feedback", "VARCHAR"),
        ("extra", "VARCHAR"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want);
    // Partition values read back equal: versions keep their text (1.10 is not 1.1).
    let versions = duckdb_rows(&format!(
        "SELECT DISTINCT prompt, version FROM read_parquet('{}/**/*.parquet', hive_partitioning = true, \
         hive_types_autocast = false) ORDER BY ALL",
        env.path("pq").display()
    ));
    let default = env.run(&["export", "--format", "parquet", "-o", "all"]);
    assert_eq!(default.code, 0, "{}", default.snapshot());
    let all = duckdb_rows(&format!(
        "SELECT DISTINCT prompt, version FROM read_parquet('{}/**/*.parquet', hive_partitioning = true, \
         hive_types_autocast = false) ORDER BY ALL",
        env.path("all").display()
    ));
    let inside = duckdb_rows(&format!(
        "SELECT DISTINCT prompt, version FROM read_parquet('{}') ORDER BY ALL",
        env.path("one/part-0.parquet").display()
    ));
    assert_eq!(all, inside, "path values equal the values in the file");
    assert!(
        all.contains(&json!({"prompt": "beta-2", "version": "1.10"})),
        "{all:?}"
    );
    assert!(
        all.contains(&json!({"prompt": "c_3", "version": "1.1"})),
        "{all:?}"
    );
    assert!(
        versions.iter().all(|v| v["prompt"] == "beta-2"),
        "{versions:?}"
    );
}

#[test]
fn parquet_errors_name_the_problem_and_leave_the_folder_alone() {
    let env = varied_project();
    let r = env.run(&["export", "--format", "parquet"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(
        r.stderr.contains("--format parquet needs --output DIR"),
        "{}",
        r.stderr
    );

    let r = env.run(&[
        "export",
        "--format",
        "parquet",
        "-o",
        "pq",
        "--partition",
        "prompt,day",
    ]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(
        r.stderr.contains("unknown partition key `day`"),
        "{}",
        r.stderr
    );
    assert!(
        !env.path("pq").exists(),
        "nothing is written on a usage error"
    );

    let r = env.run(&["export", "--format", "csv", "--partition", "month"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(
        r.stderr.contains("--partition is for --format parquet"),
        "{}",
        r.stderr
    );

    env.write("pq/notes.txt", "mine");
    let r = env.run(&["export", "--format", "parquet", "-o", "pq"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(r.stderr.contains("the folder is not empty"), "{}", r.stderr);
    assert!(
        r.stderr.contains("hint:") && r.stderr.contains("--force"),
        "{}",
        r.stderr
    );
    let r = env.run(&["export", "--format", "parquet", "-o", "pq", "--force"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(
        r.stderr
            .contains("`notes.txt` is not part of an earlier Parquet export"),
        "{}",
        r.stderr
    );
    let left: Vec<_> = std::fs::read_dir(env.path("pq")).expect("pq").collect();
    assert_eq!(left.len(), 1, "only notes.txt");

    // --force replaces an earlier export: a narrower one leaves no stale partition behind.
    assert_eq!(
        env.run(&["export", "--format", "parquet", "-o", "out"])
            .code,
        0
    );
    let r = env.run(&[
        "export", "--format", "parquet", "-o", "out", "--force", "--prompt", "c_3", "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let s = r.json();
    assert!(!s["removed"].as_array().expect("removed").is_empty(), "{s}");
    let top: Vec<String> = std::fs::read_dir(env.path("out"))
        .expect("out")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(top, ["prompt=c_3"]);

    // A file in the way of the folder.
    env.write("file.txt", "x");
    let r = env.run(&["export", "--format", "parquet", "-o", "file.txt"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(
        r.stderr.contains("file.txt: exists and is not a folder"),
        "{}",
        r.stderr
    );
}
