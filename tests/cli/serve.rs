//! `ptrack serve`: the real binary on 127.0.0.1, spoken to over real HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::TestEnv;

/// A `ptrack serve` process on a free port; killed when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// Start `ptrack serve --addr 127.0.0.1:0 ARGS…` in `env` and wait for its address.
    pub fn start(env: &TestEnv, args: &[&str]) -> Server {
        Server::start_with(env, args, &[])
    }

    /// [`Server::start`] with environment variables.
    pub fn start_with(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> Server {
        let mut all = vec!["--addr", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Server::start_args(env, &all, vars)
    }

    /// `ptrack serve ARGS…` (which name the address) in `env`, with environment variables.
    pub fn start_args(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> Server {
        let mut cmd = env.std_cmd();
        cmd.arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("ptrack serve starts");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut first = String::new();
            let _ = BufReader::new(stdout).read_line(&mut first);
            let _ = tx.send(first);
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) if !l.is_empty() => l,
            other => {
                let _ = child.kill();
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("ptrack serve printed no address ({other:?}); stderr:\n{err}");
            }
        };
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap_or_else(|e| panic!("not an address in {line:?}: {e}"));
        Server { child, addr }
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], b"")
    }

    pub fn post(&self, path: &str, body: &str) -> Reply {
        self.request(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
    }

    /// One request on a new connection; the whole answer.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        request(self.addr, method, path, headers, body)
    }

    /// Stop it as Ctrl-C would (SIGINT), and wait for it; its exit status and stderr.
    pub fn interrupt(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "ptrack serve did not stop on SIGINT"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (status.code(), err)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The `error` of a JSON error answer.
    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error in {}", self.text()))
            .to_string()
    }
}

/// One HTTP/1.1 request on a new connection (`Connection: close`), read to the end.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).expect("write head");
    // The server may answer (413) before reading all of a large body, and close.
    let _ = s.write_all(body);
    read_reply(&mut s)
}

/// Read an answer to the end of the connection.
pub fn read_reply(s: &mut TcpStream) -> Reply {
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete answer: {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = unchunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn unchunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&rest[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or_else(|e| panic!("bad chunk size {size_text:?}: {e}"));
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&rest[start..start + size]);
        rest = &rest[start + size + 2..];
    }
    out
}

/// A project with one prompt, `p` 1.0 and 1.1, and no runs.
fn project() -> TestEnv {
    let env = TestEnv::init();
    env.prompt("p", "1.0", "goal: Greet.\nmodel: m\n", "Hi {{ who }}\n");
    env.prompt(
        "p",
        "1.1",
        "goal: Greet warmly.\nmodel: m\nvariables:\n  who:\n    default: you\n",
        "Hello {{ who }}!\n",
    );
    env
}

#[test]
fn prompts_are_the_bytes_of_list_json_and_read_live() {
    let env = project();
    let server = Server::start(&env, &[]);
    let r = server.get("/api/prompts");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.text(), env.run(&["list", "--json"]).stdout);
    // A new prompt shows on the next request.
    env.prompt("q", "1.0", "goal: Ask.\nmodel: m\n", "Why?\n");
    let r = server.get("/api/prompts");
    assert_eq!(r.text(), env.run(&["list", "--json"]).stdout);
    let names: Vec<String> = r
        .json()
        .as_array()
        .expect("array")
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_string())
        .collect();
    assert_eq!(names, ["p", "q"]);
    // Every answer carries the security headers; an unknown route is a JSON 404.
    let r = server.get("/nowhere");
    assert_eq!(r.status, 404);
    assert_eq!(r.error(), "no route for GET /nowhere");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    let r = server.post("/api/prompts", "{}");
    assert_eq!(r.status, 405);
    assert_eq!(r.error(), "/api/prompts does not take POST");
    assert!(
        r.header("content-security-policy")
            .is_some_and(|c| c.contains("script-src 'self'")),
        "{:?}",
        r.headers
    );
}

#[test]
fn stops_on_ctrl_c_and_refuses_an_open_address_without_a_token() {
    let env = project();
    let server = Server::start(&env, &[]);
    assert_eq!(server.get("/api/prompts").status, 200);
    let (code, stderr) = server.interrupt();
    assert_eq!(code, Some(0), "{stderr}");
    let r = env.run(&["serve", "--addr", "0.0.0.0:0"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(
        r.stderr
            .contains("0.0.0.0:0 is not a loopback address, and no token is set"),
        "{}",
        r.snapshot()
    );
}

/// A run object for `p` (a JSON line of `record --stdin`).
fn run_json(i: usize, success: bool, ms: u64) -> String {
    format!(
        r#"{{"prompt":"p","version":"1.{v}","ts":"2026-11-2{d}T10:{m:02}:00Z","execution_time_ms":{ms},"success":{success},"output":"answer {i}","input":{{"who":"w{i}"}}}}"#,
        v = i % 2,
        d = 1 + i % 3,
        m = i % 60,
    )
}

/// `project()` with runs of both versions recorded by `record --stdin`, one rated, and a label.
fn project_with_runs() -> TestEnv {
    let env = project();
    let lines: Vec<String> = (0..12)
        .map(|i| run_json(i, i % 4 != 0, 100 + 37 * i as u64))
        .collect();
    let r = env.run_with_stdin(&["record", "--stdin"], &lines.join("\n"));
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let first = r.stdout.lines().next().expect("an id").to_string();
    let r = env.run(&["rate", &first, "--quality", "8", "--feedback", "good"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let r = env.run(&["label", "p", "prod", "1.0"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    env
}

/// Every line of the project's run logs.
fn log_lines(env: &TestEnv) -> Vec<String> {
    let mut out = Vec::new();
    for e in walk(&env.path("runs")) {
        out.extend(
            std::fs::read_to_string(&e)
                .expect("log")
                .lines()
                .map(str::to_string),
        );
    }
    out.sort();
    out
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "jsonl") {
            out.push(p);
        }
    }
    out
}

#[test]
fn every_read_route_answers_the_bytes_of_its_command() {
    let env = project_with_runs();
    let server = Server::start(&env, &[]);
    let cases: [(&str, &[&str]); 12] = [
        ("/api/prompts/p", &["show", "p"]),
        (
            "/api/prompts/p?version=1.0",
            &["show", "p", "--version", "1.0"],
        ),
        ("/api/prompts/p:prod", &["show", "p:prod"]),
        (
            "/api/prompts/p?label=prod",
            &["show", "p", "--label", "prod"],
        ),
        ("/api/prompts/p/performance", &["performance", "p"]),
        (
            "/api/prompts/p/performance?days=3&version=1.1",
            &["performance", "p", "--days", "3", "--version", "1.1"],
        ),
        (
            "/api/prompts/p/performance?since=2026-11-22&until=2026-11-23T12:00:00Z",
            &[
                "performance",
                "p",
                "--since",
                "2026-11-22",
                "--until",
                "2026-11-23T12:00:00Z",
            ],
        ),
        (
            "/api/prompts/p/trends?days=7",
            &["trends", "p", "--days", "7"],
        ),
        (
            "/api/prompts/p/trends?days=14&bucket=week&version=1.0",
            &[
                "trends",
                "p",
                "--days",
                "14",
                "--bucket",
                "week",
                "--version",
                "1.0",
            ],
        ),
        ("/api/prompts/p/compare", &["compare", "p"]),
        (
            "/api/prompts/p/compare?a=prod&b=1.1",
            &["compare", "p", "prod", "1.1"],
        ),
        ("/api/alerts", &["alerts"]),
    ];
    for (path, args) in cases {
        let r = server.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let mut args = args.to_vec();
        args.push("--json");
        let cli = env.run(&args);
        assert_eq!(
            r.text(),
            cli.stdout,
            "{path} differs from `ptrack {}`",
            args.join(" ")
        );
    }
    let renders: [(&str, Option<&str>, &[&str]); 4] = [
        ("/api/prompts/p/render", None, &["render", "p"]),
        (
            "/api/prompts/p/render?version=1.0&var.who=Ada%20L",
            None,
            &["render", "p", "--version", "1.0", "--var", "who=Ada L"],
        ),
        (
            "/api/prompts/p/render?format=ollama",
            Some(r#"{"who": "Ada"}"#),
            &["render", "p", "--var", "who=Ada", "--format", "ollama"],
        ),
        (
            "/api/prompts/p:prod/render?format=openai",
            Some(r#"{"who": "Ada"}"#),
            &["render", "p:prod", "--var", "who=Ada", "--format", "openai"],
        ),
    ];
    for (path, body, args) in renders {
        let r = match body {
            Some(b) => server.post(path, b),
            None => server.get(path),
        };
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let mut args = args.to_vec();
        args.push("--json");
        assert_eq!(r.text(), env.run(&args).stdout, "{path}");
    }
}

#[test]
fn bad_reads_get_the_status_and_the_field_at_fault() {
    let env = project_with_runs();
    let server = Server::start(&env, &[]);
    let cases: [(&str, u16, &str, Option<&str>); 16] = [
        (
            "/api/prompts/%FF",
            400,
            "Invalid URL: Invalid UTF-8 in `name`",
            None,
        ),
        (
            "/api/runs/%FF",
            400,
            "Invalid URL: Invalid UTF-8 in `id`",
            None,
        ),
        (
            "/api/prompts/nope",
            404,
            "no prompt named `nope`",
            Some("name"),
        ),
        (
            "/api/prompts/p?version=9.9",
            404,
            "prompt `p` has no version 9.9",
            Some("version"),
        ),
        (
            "/api/prompts/p:staging",
            404,
            "prompt `p` has no label `staging`",
            Some("label"),
        ),
        (
            "/api/prompts/p:prod?version=1.0",
            400,
            "`p:prod` already names the version; drop ?version and ?label",
            Some("label"),
        ),
        (
            "/api/prompts/..%2F..%2Fetc",
            400,
            "invalid prompt name `../../etc`",
            Some("name"),
        ),
        (
            "/api/prompts/p/performance?days=many",
            400,
            "days: expected a whole number of days, got \"many\"",
            Some("days"),
        ),
        (
            "/api/prompts/p/performance?dayz=3",
            400,
            "unknown query parameter `dayz`",
            Some("dayz"),
        ),
        (
            "/api/prompts/p/trends?bucket=month",
            400,
            "bucket: expected day or week, got \"month\"",
            Some("bucket"),
        ),
        (
            "/api/prompts/p/compare?a=1.0",
            400,
            "a needs b, the candidate",
            Some("b"),
        ),
        (
            "/api/prompts/p/render?format=xml",
            400,
            "format: expected text, ollama or openai, got \"xml\"",
            Some("format"),
        ),
        (
            "/api/runs?since=yesterday",
            400,
            "since: expected a date like 2026-11-01 or a time like 2026-11-01T09:00:00Z, got \"yesterday\"",
            Some("since"),
        ),
        (
            "/api/runs?limit=0",
            400,
            "limit must be from 1 to 1000, got 0",
            Some("limit"),
        ),
        (
            "/api/runs?cursor=xyz",
            400,
            "cursor \"xyz\" is not the next_cursor of a page",
            Some("cursor"),
        ),
        ("/api/runs/0000", 404, "no run with id 0000", Some("id")),
    ];
    for (path, status, error, field) in cases {
        let r = server.get(path);
        assert_eq!(r.status, status, "{path}: {}", r.text());
        assert_eq!(r.error(), error, "{path}");
        assert_eq!(r.json()["field"].as_str(), field, "{path}");
    }
}

#[test]
fn runs_page_newest_first_as_export_gives_them() {
    let env = project_with_runs();
    let server = Server::start(&env, &[]);
    let export = env.run(&["export", "--json"]).json();
    let mut expected: Vec<serde_json::Value> = export.as_array().expect("array").clone();
    expected.sort_by(|a, b| {
        (b["ts"].as_str(), b["id"].as_str()).cmp(&(a["ts"].as_str(), a["id"].as_str()))
    });
    let mut got = Vec::new();
    let mut path = "/api/runs?limit=5".to_string();
    loop {
        let r = server.get(&path);
        assert_eq!(r.status, 200, "{}", r.text());
        let page = r.json();
        got.extend(page["runs"].as_array().expect("runs").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/runs?limit=5&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(got, expected);
    // One run, with its rating applied, as export has it.
    let rated = expected
        .iter()
        .find(|r| r["feedback"] == "good")
        .expect("the rated run");
    let id = rated["id"].as_str().expect("id");
    let r = server.get(&format!("/api/runs/{id}"));
    assert_eq!(r.status, 200);
    assert_eq!(&r.json(), rated);
    // Filters.
    let ids = |path: &str| -> Vec<String> {
        let r = server.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        r.json()["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .map(|r| r["id"].as_str().expect("id").to_string())
            .collect()
    };
    let want = |keep: &dyn Fn(&serde_json::Value) -> bool| -> Vec<String> {
        expected
            .iter()
            .filter(|r| keep(r))
            .map(|r| r["id"].as_str().expect("id").to_string())
            .collect()
    };
    assert_eq!(
        ids("/api/runs?success=false"),
        want(&|r| r["success"] == false)
    );
    assert_eq!(
        ids("/api/runs?prompt=p&version=1.0"),
        want(&|r| r["version"] == "1.0")
    );
    assert_eq!(
        ids("/api/runs?q=ANSWER%201"),
        want(&|r| r["output"]
            .as_str()
            .is_some_and(|o| o.starts_with("answer 1")))
    );
    assert_eq!(
        ids("/api/runs?since=2026-11-22&until=2026-11-23"),
        want(&|r| r["ts"]
            .as_str()
            .is_some_and(|t| t.starts_with("2026-11-22")))
    );
    assert!(ids("/api/runs?since=2026-11-22").len() < expected.len());
}

#[test]
fn posted_runs_are_recorded_as_record_does_or_not_at_all() {
    let env = project();
    let server = Server::start(&env, &[]);
    // One object: the `record --json` model.
    let r = server.post("/api/runs", &run_json(0, true, 120));
    assert_eq!(r.status, 201, "{}", r.text());
    let one = r.json();
    let id = one["id"].as_str().expect("id").to_string();
    assert_eq!(one["path"], "runs/p/2026-11.jsonl");
    crate::common::assert_schema("record", &one);
    // An array: the `record --stdin --json` model, in order.
    let batch = format!("[{}, {}]", run_json(1, false, 80), run_json(2, true, 90));
    let r = server.post("/api/runs", &batch);
    assert_eq!(r.status, 201, "{}", r.text());
    let b = r.json();
    crate::common::assert_schema("record-batch", &b);
    assert_eq!(b["rejected"], 0);
    let mut ids: Vec<String> = b["recorded"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().expect("id").to_string())
        .collect();
    ids.insert(0, id);
    let export = env.run(&["export", "--json"]).json();
    let exported: Vec<&str> = export
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(exported, ids);
    assert_eq!(export[1]["success"], false);
    let before = log_lines(&env);
    // A bad run anywhere in a batch: 400 with the message `record --stdin` prints, nothing written.
    let bad = r#"{"prompt":"p","execution_time_ms":-1}"#;
    let cli = env.run_with_stdin(&["record", "--stdin"], bad);
    let cli_message = cli
        .stderr
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("stdin:1: "))
        .and_then(|l| l.strip_suffix("; line rejected"))
        .unwrap_or_else(|| panic!("{}", cli.snapshot()))
        .to_string();
    let r = server.post("/api/runs", bad);
    assert_eq!(r.status, 400);
    assert_eq!(r.error(), cli_message);
    let r = server.post("/api/runs", &format!("[{}, {bad}]", run_json(3, true, 1)));
    assert_eq!(r.status, 400);
    assert_eq!(r.error(), format!("run 1: {cli_message}"));
    let cases: [(&str, u16, &str); 7] = [
        (
            r#"{"prompt":"p","#,
            400,
            "invalid JSON: EOF while parsing a value at line 1 column 14",
        ),
        (
            "42",
            400,
            "expected a JSON object (one run) or an array of them",
        ),
        ("[]", 400, "the array holds no runs"),
        ("[1]", 400, "run 0: expected a JSON object"),
        (
            r#"{"prompt":"nope","execution_time_ms":1}"#,
            404,
            "no prompt named `nope`",
        ),
        (
            r#"{"prompt":"p","version":"7.0","execution_time_ms":1}"#,
            404,
            "prompt `p` has no version 7.0",
        ),
        (
            r#"[{"id":"dup","prompt":"p","execution_time_ms":1},{"id":"dup","prompt":"p","execution_time_ms":2}]"#,
            400,
            "run 1: id \"dup\" was already given by run 0",
        ),
    ];
    for (body, status, error) in cases {
        let r = server.post("/api/runs", body);
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert_eq!(r.error(), error, "{body}");
    }
    // An id already logged is refused too.
    let taken = format!(
        r#"{{"id":"{}","prompt":"p","execution_time_ms":1}}"#,
        ids[0]
    );
    let r = server.post("/api/runs", &taken);
    assert_eq!(r.status, 400);
    assert!(
        r.error()
            .contains("is already the id of the run at runs/p/2026-11.jsonl:1"),
        "{}",
        r.error()
    );
    assert_eq!(log_lines(&env), before, "a rejected request wrote nothing");
}

#[test]
fn ratings_are_validated_as_rate_does() {
    let env = project_with_runs();
    let server = Server::start(&env, &[]);
    // A run not rated yet: ratings at the same (pinned) time are ordered by their ids.
    let id = env.run(&["export", "--json"]).json()[1]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let r = server.post(
        &format!("/api/runs/{id}/rating"),
        r#"{"quality": 9, "feedback": "crisp"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let event = r.json();
    crate::common::assert_schema("rate", &event);
    assert_eq!(event["run_id"], id.as_str());
    assert_eq!(event["quality_score"], 9);
    let run = server.get(&format!("/api/runs/{id}")).json();
    assert_eq!(
        (run["quality_score"].clone(), run["feedback"].clone()),
        (9.into(), "crisp".into())
    );
    // A prefix of the id works as with `rate`.
    let r = server.post(
        &format!("/api/runs/{}/rating", &id[..id.len() - 2]),
        r#"{"quality": 3}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let before = log_lines(&env);
    let cli = env.run(&["rate", &id, "--quality", "11"]);
    let cli_message = cli
        .stderr
        .trim()
        .strip_prefix("error: ")
        .expect("error")
        .to_string();
    let cases: [(String, &str, u16, String); 6] = [
        (id.clone(), r#"{"quality": 11}"#, 400, cli_message),
        (
            id.clone(),
            r#"{"feedback": "x"}"#,
            400,
            "missing `quality`, a number from 1 to 10".into(),
        ),
        (
            id.clone(),
            r#"{"quality": "8"}"#,
            400,
            "quality must be a number from 1 to 10, got \"8\"".into(),
        ),
        (
            id.clone(),
            r#"{"quality": 8, "stars": 2}"#,
            400,
            "unknown field `stars`; a rating has quality and feedback".into(),
        ),
        (
            id.clone(),
            "{",
            400,
            "invalid JSON: EOF while parsing an object at line 1 column 1".into(),
        ),
        (
            "ffffffff".into(),
            r#"{"quality": 8}"#,
            404,
            "no run with id ffffffff".into(),
        ),
    ];
    for (run, body, status, error) in cases {
        let r = server.post(&format!("/api/runs/{run}/rating"), body);
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert_eq!(r.error(), error, "{body}");
    }
    assert_eq!(log_lines(&env), before);
}

#[test]
fn writes_need_the_token_and_reads_too_when_asked() {
    let env = project();
    let server = Server::start_with(&env, &[], &[("PTRACK_TOKEN", "s3cret")]);
    let run = run_json(0, true, 5);
    let post = |auth: Option<&str>| {
        let h: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        server.request("POST", "/api/runs", &h, run.as_bytes())
    };
    let r = post(None);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.error(),
        "this request needs `Authorization: Bearer <token>`"
    );
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"ptrack\"")
    );
    let r = post(Some("Bearer s3cre"));
    assert_eq!(
        (r.status, r.error().as_str()),
        (401, "the token does not match")
    );
    let r = post(Some("Bearer s3cret!"));
    assert_eq!(r.status, 401);
    let r = post(Some("Basic s3cret"));
    assert_eq!(r.status, 401);
    assert!(log_lines(&env).is_empty());
    let r = post(Some("Bearer s3cret"));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(server.get("/api/prompts").status, 200, "reads are open");
    drop(server);
    let server = Server::start(&env, &["--token", "t0k", "--token-for-reads"]);
    let r = server.get("/api/prompts");
    assert_eq!(r.status, 401);
    let r = server.request("GET", "/metrics", &[("Authorization", "Bearer nope")], b"");
    assert_eq!(r.status, 401);
    let r = server.request(
        "GET",
        "/api/prompts",
        &[("Authorization", "Bearer t0k")],
        b"",
    );
    assert_eq!(r.status, 200);
    let r = env.run(&["serve", "--token-for-reads"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(
        r.stderr.contains("--token-for-reads needs a token"),
        "{}",
        r.snapshot()
    );
    // Off loopback with a token, the server starts.
    let open = Server::start_args(&env, &["--addr", "0.0.0.0:0", "--token", "t"], &[]);
    assert!(
        open.addr.ip().is_unspecified() && open.addr.port() > 0,
        "{}",
        open.addr
    );
}

#[test]
fn a_large_body_gets_413_and_a_slow_or_vanished_client_writes_nothing() {
    let env = project();
    let server = Server::start(
        &env,
        &["--max-body-bytes", "300", "--request-timeout", "1s"],
    );
    let small = run_json(0, true, 5);
    assert!(small.len() < 300);
    let big = format!("[{}]", [small.as_str(); 4].join(","));
    let r = server.post("/api/runs", &big);
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(
        r.error(),
        "the request body is larger than the limit of 300 bytes (--max-body-bytes)"
    );
    // A body sent without a length (chunked) is held to the same limit.
    let mut s = TcpStream::connect(server.addr).expect("connect");
    let chunk = big.as_bytes();
    let head = "POST /api/runs HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
    s.write_all(head.as_bytes()).expect("head");
    let _ = s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes());
    let _ = s.write_all(chunk);
    let _ = s.write_all(b"\r\n0\r\n\r\n");
    let r = read_reply(&mut s);
    assert_eq!(r.status, 413, "{}", r.text());
    // Half a body, then nothing: 408 after the timeout, and nothing written.
    let mut s = TcpStream::connect(server.addr).expect("connect");
    let head = format!(
        "POST /api/runs HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        small.len()
    );
    s.write_all(head.as_bytes()).expect("head");
    s.write_all(&small.as_bytes()[..small.len() / 2])
        .expect("half");
    let r = read_reply(&mut s);
    assert_eq!(r.status, 408, "{}", r.text());
    // Half a body, then the client goes away.
    let mut s = TcpStream::connect(server.addr).expect("connect");
    s.write_all(head.as_bytes()).expect("head");
    s.write_all(&small.as_bytes()[..small.len() - 1])
        .expect("all but one byte");
    drop(s);
    // Headers that never end: the connection is closed.
    let mut s = TcpStream::connect(server.addr).expect("connect");
    s.write_all(b"GET /api/prompts HTTP/1.1\r\nHost: x\r\n")
        .expect("half a head");
    let mut rest = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let started = Instant::now();
    let _ = s.read_to_end(&mut rest);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the server kept a slow client"
    );
    // The server still serves, and nothing of the above was written.
    assert_eq!(server.get("/api/prompts").status, 200);
    assert!(log_lines(&env).is_empty(), "{:?}", log_lines(&env));
}

#[test]
fn the_openapi_document_names_every_route_and_each_answers() {
    let env = project_with_runs();
    let server = Server::start(&env, &[]);
    let r = server.get("/api/openapi.json");
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let id = env.run(&["export", "--json"]).json()[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let mut n = 0;
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for method in ops.as_object().expect("ops").keys() {
            n += 1;
            let concrete = path.replace("{name}", "p").replace("{id}", &id);
            let body = if concrete.ends_with("/rating") {
                r#"{"quality": 5}"#.to_string()
            } else if concrete == "/api/runs" {
                run_json(20, true, 3)
            } else {
                "{}".to_string()
            };
            let r = server.request(&method.to_uppercase(), &concrete, &[], body.as_bytes());
            assert!(
                (200..300).contains(&r.status),
                "{method} {path}: {} {}",
                r.status,
                r.text()
            );
        }
    }
    assert_eq!(n, 14, "the routes of the README");
}

/// One sample of an exposition: name, labels (sorted) and value.
type Sample = (String, Vec<(String, String)>, f64);

/// The samples, and each family's name and type.
type Parsed = (Vec<Sample>, Vec<(String, String)>);

/// Parse a Prometheus text exposition with the real parser of the `prometheus_client` Python
/// package; its samples as `(name, labels, value)`, and the family types by name. In CI
/// (`CI=true`) python and the package must be there (`.ci/run` installs the package).
fn parse_exposition(text: &str) -> Option<Parsed> {
    const SCRIPT: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
samples, types = [], []
for f in text_string_to_metric_families(sys.stdin.read()):
    types.append([f.name, f.type])
    for s in f.samples:
        samples.append([s.name, sorted(s.labels.items()), s.value])
print(json.dumps({"samples": samples, "types": types}))
"#;
    let child = std::process::Command::new("python3")
        .args(["-c", "import prometheus_client.parser"])
        .output();
    if !child.as_ref().is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3 with prometheus_client is missing; in CI the /metrics test must run ({child:?})"
        );
        eprintln!("SKIPPED: /metrics parser check (pip install prometheus-client)");
        return None;
    }
    let mut p = std::process::Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    p.stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = p.wait_with_output().expect("python3 ends");
    assert!(
        out.status.success(),
        "prometheus_client rejects the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let samples = v["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .map(|s| {
            let labels = s[1]
                .as_array()
                .expect("labels")
                .iter()
                .map(|kv| {
                    (
                        kv[0].as_str().expect("k").to_string(),
                        kv[1].as_str().expect("v").to_string(),
                    )
                })
                .collect();
            (
                s[0].as_str().expect("name").to_string(),
                labels,
                s[2].as_f64().expect("value"),
            )
        })
        .collect();
    let types = v["types"]
        .as_array()
        .expect("types")
        .iter()
        .map(|t| {
            (
                t[0].as_str().expect("n").to_string(),
                t[1].as_str().expect("t").to_string(),
            )
        })
        .collect();
    Some((samples, types))
}

#[test]
fn metrics_parse_with_prometheus_client_and_agree_with_performance() {
    let env = project_with_runs();
    env.write(
        "ptrack.toml",
        "[prices]\n\"m\" = { input_per_mtok = 1.0, output_per_mtok = 2.0 }\n\n[[alerts]]\nname = \"p_failing\"\nprompt = \"p\"\nwhen = \"success_rate < 0.9\"\nlast = 5\n\n[[alerts]]\nname = \"p_slow\"\nprompt = \"p\"\nwhen = \"p95_ms > 100000\"\nwindow = \"30d\"\n\n[[alerts]]\nprompt = \"p\"\nwhen = \"quality < 5\"\nwindow = \"1h\"\n",
    );
    // A prompt whose runs can all be priced.
    env.prompt("q", "1.0", "goal: Ask.\nmodel: m\n", "Why?\n");
    let priced = r#"{"prompt":"q","ts":"2026-11-23T11:00:00Z","execution_time_ms":2600,"model":"m","prompt_tokens":1000,"completion_tokens":500}"#;
    let r = env.run_with_stdin(&["record", "--stdin"], priced);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let server = Server::start(&env, &[]);
    let r = server.get("/metrics");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = r.text();
    let Some((samples, types)) = parse_exposition(&text) else {
        return;
    };
    let value = |name: &str, labels: &[(&str, &str)]| -> Option<f64> {
        let mut want: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        want.sort();
        samples
            .iter()
            .find(|(n, l, _)| n == name && *l == want)
            .map(|s| s.2)
    };
    for (family, kind) in [
        ("ptrack_runs", "counter"),
        ("ptrack_run_failures", "counter"),
        ("ptrack_run_duration_ms", "histogram"),
        ("ptrack_quality_mean", "gauge"),
        ("ptrack_cost_per_run", "gauge"),
        ("ptrack_alert_firing", "gauge"),
        ("ptrack_alert_value", "gauge"),
    ] {
        assert!(
            types.contains(&(family.to_string(), kind.to_string())),
            "{family} {kind} missing from {types:?}"
        );
    }
    // The figures are performance's.
    let perf = env.run(&["performance", "--json"]).json();
    let runs = env.run(&["export", "--json"]).json();
    let versions = perf["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .flat_map(|p| p["versions"].as_array().expect("versions"));
    for v in versions {
        let (prompt, version) = (
            v["prompt"].as_str().expect("prompt"),
            v["version"].as_str().expect("version"),
        );
        let m = &v["metrics"];
        let l = [("prompt", prompt), ("version", version)];
        assert_eq!(value("ptrack_runs_total", &l), m["runs"].as_f64());
        let failures =
            m["runs"].as_f64().expect("runs") - m["successes"].as_f64().expect("successes");
        assert_eq!(value("ptrack_run_failures_total", &l), Some(failures));
        assert_eq!(value("ptrack_quality_mean", &l), m["quality_mean"].as_f64());
        assert_eq!(value("ptrack_cost_per_run", &l), m["cost_per_run"].as_f64());
        let times: Vec<f64> = runs
            .as_array()
            .expect("runs")
            .iter()
            .filter(|r| r["prompt"] == prompt && r["version"] == version)
            .map(|r| r["execution_time_ms"].as_f64().expect("time"))
            .collect();
        assert_eq!(
            value("ptrack_run_duration_ms_count", &l),
            Some(times.len() as f64)
        );
        assert_eq!(
            value("ptrack_run_duration_ms_sum", &l),
            Some(times.iter().sum::<f64>())
        );
        for le in ["50", "250", "500", "1000", "2500", "5000", "+Inf"] {
            let bound: f64 = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().expect("le")
            };
            let at_most = times.iter().filter(|t| **t <= bound).count() as f64;
            assert_eq!(
                value(
                    "ptrack_run_duration_ms_bucket",
                    &[("prompt", prompt), ("version", version), ("le", le)]
                ),
                Some(at_most),
                "{prompt} {version} le={le}"
            );
        }
    }
    // (1000 × 1.0 + 500 × 2.0) / 1e6 = 0.002
    assert_eq!(
        value(
            "ptrack_cost_per_run",
            &[("prompt", "q"), ("version", "1.0")]
        ),
        Some(0.002)
    );
    // The alert states are `alerts --json`'s; not enough data has no sample.
    let alerts = env.run(&["alerts", "--json"]).json();
    for rule in alerts["rules"].as_array().expect("rules") {
        let l = [
            ("rule", rule["name"].as_str().expect("name")),
            ("prompt", "p"),
        ];
        let firing = match rule["state"].as_str() {
            Some("firing") => Some(1.0),
            Some("ok") => Some(0.0),
            _ => None,
        };
        assert_eq!(value("ptrack_alert_firing", &l), firing, "{rule}");
        assert_eq!(
            value("ptrack_alert_value", &l),
            rule["value"].as_f64(),
            "{rule}"
        );
    }
    assert_eq!(
        value(
            "ptrack_alert_firing",
            &[("rule", "p_failing"), ("prompt", "p")]
        ),
        Some(1.0)
    );
    // Every series `alerts --prometheus-rules` names is exposed.
    let rules = env.run(&["alerts", "--prometheus-rules"]).stdout;
    let names: std::collections::BTreeSet<&str> = samples.iter().map(|s| s.0.as_str()).collect();
    let mut named = 0;
    for word in rules.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if word.starts_with("ptrack_") && word != "ptrack_rule" {
            named += 1;
            assert!(
                names.contains(word),
                "{word} is in the rules but not in /metrics"
            );
        }
    }
    assert!(named >= 3, "{rules}");
}

/// A webhook receiver on 127.0.0.1: answers 500 to the first `fail_first` requests, then 204,
/// and sends each request's body to the channel.
fn webhook_receiver(
    fail_first: usize,
) -> (
    SocketAddr,
    std::sync::mpsc::Receiver<(u16, serde_json::Value)>,
) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut s) = stream else { continue };
            let mut reader = BufReader::new(s.try_clone().expect("clone"));
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let status = if n < fail_first { 500 } else { 204 };
            let _ = s.write_all(
                format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
            let value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            if tx.send((status, value)).is_err() {
                break;
            }
        }
    });
    (addr, rx)
}

#[test]
fn a_rule_that_starts_or_stops_firing_is_posted_to_the_webhook_with_retries() {
    let env = project();
    let (hook, received) = webhook_receiver(2);
    env.write(
        "ptrack.toml",
        format!(
            "[[alerts]]\nname = \"p_failing\"\nprompt = \"p\"\nwhen = \"success_rate < 0.9\"\nlast = 5\nmin_runs = 5\n\n[notify]\nwebhook = \"http://{hook}/hook\"\n"
        ),
    );
    let server = Server::start(&env, &["--alert-interval", "1h"]);
    let batch = |success: bool, hour: u32| {
        let runs: Vec<String> = (0..5)
            .map(|i| {
                format!(
                    r#"{{"prompt":"p","ts":"2026-11-24T{hour:02}:0{i}:00Z","execution_time_ms":10,"success":{success}}}"#
                )
            })
            .collect();
        format!("[{}]", runs.join(","))
    };
    let r = server.post("/api/runs", &batch(false, 9));
    assert_eq!(r.status, 201, "{}", r.text());
    // Two failed deliveries, then the one that arrives: retried, not lost.
    let next = || {
        received
            .recv_timeout(Duration::from_secs(30))
            .expect("a webhook request within 30 s")
    };
    let (s1, first) = next();
    let (s2, second) = next();
    let (s3, third) = next();
    assert_eq!((s1, s2, s3), (500, 500, 204));
    assert_eq!(first, second);
    assert_eq!(second, third);
    assert_eq!(third["event"], "firing");
    assert_eq!(third["rule"], "p_failing");
    assert_eq!(third["prompt"], "p");
    assert_eq!(third["alert"]["state"], "firing");
    assert_eq!(third["alert"]["value"], 0.0);
    let firing = server.get("/api/alerts").json();
    assert_eq!(firing["firing"], 1);
    // Successful runs later: the rule stops firing.
    let r = server.post("/api/runs", &batch(true, 10));
    assert_eq!(r.status, 201);
    let (status, resolved) = next();
    assert_eq!(status, 204);
    assert_eq!(resolved["event"], "resolved");
    assert_eq!(resolved["alert"]["state"], "ok");
    assert_eq!(resolved["alert"]["value"], 1.0);
}

#[test]
fn concurrent_posts_lose_nothing() {
    let env = project();
    let server = Server::start(&env, &[]);
    // 16 clients at once, arrays and single runs: the bounded version of `cargo bench --bench serve`.
    let load = crate::load::post_runs(server.addr, 4000, 16, 40);
    assert!(load.posts > 100, "{} posts", load.posts);
    crate::load::check_exactly_once(&load, &env.path("runs"));
    eprintln!(
        "{} runs in {} posts in {:.2} s (a debug build; `cargo bench --bench serve` measures)",
        load.ids.len(),
        load.posts,
        load.elapsed.as_secs_f64()
    );
    let listed = server.get("/api/prompts").json();
    assert_eq!(listed[0]["runs"], 4000);
}
