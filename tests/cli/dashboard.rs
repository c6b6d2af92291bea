//! The dashboard of `ptrack serve`: its pages over real HTTP, and in a real headless browser.

use crate::common::TestEnv;
use crate::serve::{Reply, Server};

const NOW: &str = "2026-11-24T12:00:00Z";

/// Two prompts; `p` has two versions, runs of both (one output is markup), a rating and a label.
fn project() -> TestEnv {
    let env = TestEnv::init();
    env.prompt(
        "p",
        "1.0",
        "goal: Greet.\nmodel: m\n",
        "Hi {{ who }}\nBye\n",
    );
    env.prompt(
        "p",
        "1.1",
        "goal: Greet <warmly>.\nmodel: m\n",
        "Hello {{ who }}!\nBye\n",
    );
    env.prompt("q", "1.0", "goal: Ask.\nmodel: m\n", "Why?\n");
    let mut lines: Vec<String> = (0..14)
        .map(|i| {
            format!(
                r#"{{"prompt":"p","version":"1.{v}","ts":"2026-11-{d:02}T10:{i:02}:00Z","execution_time_ms":{ms},"success":{ok},"output":"answer {i}"}}"#,
                v = i % 2,
                d = 10 + i % 7,
                ms = 100 + 40 * i,
                ok = i % 5 != 0,
            )
        })
        .collect();
    lines.push(r#"{"prompt":"p","version":"1.1","ts":"2026-11-20T11:00:00Z","execution_time_ms":90,"success":true,"output":"<script>alert(1)</script>","id":"xss-run"}"#.to_string());
    for i in 0..30 {
        lines.push(format!(
            r#"{{"prompt":"q","version":"1.0","ts":"2026-11-2{d}T09:{i:02}:00Z","execution_time_ms":50,"success":true,"output":"q{i}"}}"#,
            d = i % 3,
        ));
    }
    let r = env.run_with_stdin(&["record", "--stdin"], &lines.join("\n"));
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let r = env.run(&["label", "p", "production", "1.0"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    env
}

fn start(env: &TestEnv, args: &[&str]) -> Server {
    Server::start_with(env, args, &[("PTRACK_NOW", NOW)])
}

fn html(r: &Reply) -> String {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    r.text()
}

/// The `d` of the chart line `series` in the chart labelled `chart`.
fn line_of(page: &str, chart: &str, series: &str) -> String {
    let svg = page
        .split(&format!(r#"aria-label="{chart}""#))
        .nth(1)
        .and_then(|r| r.split("</svg>").next())
        .unwrap_or_else(|| panic!("no chart {chart}"));
    svg.split(&format!(r#"data-series="{series}" d=""#))
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no series {series} in {chart}"))
        .to_string()
}

#[test]
fn the_prompt_list_sorts_and_draws_a_sparkline_per_prompt() {
    let env = project();
    let server = start(&env, &[]);
    let page = html(&server.get("/"));
    assert!(page.contains(r#"<a href="/prompts/p">p</a>"#), "{page}");
    assert!(
        page.contains("Greet &lt;warmly&gt;."),
        "goal escaped: {page}"
    );
    // p has runs on 8 days, q on 3: one bar per day with runs.
    let sparks: Vec<usize> = page
        .split(r#"class="spark""#)
        .skip(1)
        .map(|s| {
            s.split("</svg>")
                .next()
                .unwrap_or("")
                .matches("<rect")
                .count()
        })
        .collect();
    assert_eq!(sparks, [8, 3], "{page}");
    let order = |page: &str| -> Vec<usize> {
        ["/prompts/p\"", "/prompts/q\""]
            .iter()
            .map(|l| page.find(l).expect("row"))
            .collect()
    };
    let by_runs = html(&server.get("/?sort=runs&desc=1"));
    let o = order(&by_runs);
    assert!(
        o[1] < o[0],
        "q (30 runs) before p (15) when sorted by runs, descending"
    );
    let by_name = html(&server.get("/?sort=name"));
    let o = order(&by_name);
    assert!(o[0] < o[1]);
    assert!(
        by_name.contains(r#"href="/?sort=name&amp;desc=1">prompt ▲"#),
        "{by_name}"
    );
}

#[test]
fn a_prompt_page_shows_versions_charts_comparisons_and_a_diff() {
    let env = project();
    env.git(&["add", "-A"]);
    env.git(&["commit", "-qm", "prompts and runs"]);
    let server = start(&env, &[]);
    let page = html(&server.get("/prompts/p"));
    // The versions table holds the figures `performance --json` gives.
    let perf = env.run(&["performance", "p", "--json"]).json();
    let v10 = &perf["prompts"][0]["versions"][0]["metrics"];
    assert_eq!(v10["runs"], 7);
    assert!(
        page.contains(
            r#"<tr><td>1.0 <span class="label">production</span></td><td class="num">7</td>"#
        ),
        "{page}"
    );
    let rate = v10["success_rate"].as_f64().expect("rate");
    assert!(page.contains(&format!("{:.1}%", rate * 100.0)), "{page}");
    // Charts: p95 has a point on each of the 8 days with runs, joined where days follow.
    let p95 = line_of(&page, "Time", "p95");
    assert_eq!(p95.matches(['M', 'L']).count(), 8, "{p95}");
    assert!(!line_of(&page, "p95 time by version", "v1.1").is_empty());
    assert!(
        page.contains(r#"<a href="/prompts/p?days=7">7 days</a>"#),
        "{page}"
    );
    let week = html(&server.get("/prompts/p?days=7"));
    assert!(week.contains("<strong>7 days</strong>"));
    assert!(week.contains("(2026-11-18 to 2026-11-24)"), "{week}");
    // The compare verdict, as `compare` words it.
    let compare = env.run(&["compare", "p", "--json"]).json();
    let verdict = compare["comparisons"][0]["verdict"]
        .as_str()
        .expect("verdict");
    let escaped = verdict
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    assert!(
        page.contains(&format!("1.0 → 1.1: {}", escaped.replace('/', "&#x2f;"))),
        "{verdict}\n{page}"
    );
    // The commit that added the prompt.
    assert!(page.contains("prompts and runs"), "{page}");

    let diff = html(&server.get("/prompts/p/diff?a=1.0&b=1.1"));
    assert!(
        diff.contains(r#"<span class="del">-Hi {{ who }}</span>"#),
        "{diff}"
    );
    assert!(
        diff.contains(r#"<span class="add">+Hello {{ who }}!</span>"#),
        "{diff}"
    );
    assert!(diff.contains(r#"<span class="same"> Bye</span>"#), "{diff}");
    assert!(
        diff.contains("<td>goal</td><td>Greet.</td><td>Greet &lt;warmly&gt;.</td>"),
        "{diff}"
    );
    let split = html(&server.get("/prompts/p/diff?a=1.0&b=1.1&view=split"));
    assert!(
        split.contains(r#"<td class="del">Hi {{ who }}</td><td class="add">Hello {{ who }}!</td>"#),
        "{split}"
    );
    // Errors are pages too.
    let r = server.get("/prompts/nope");
    assert_eq!(r.status, 404);
    assert!(
        r.text().contains("no prompt named `nope`") || r.text().contains("nope"),
        "{}",
        r.text()
    );
    let r = server.get("/prompts/p/diff?a=9.9");
    assert_eq!(r.status, 404, "{}", r.text());
}

#[test]
fn the_runs_table_filters_pages_and_escapes_outputs() {
    let env = project();
    let server = start(&env, &[]);
    let page = html(&server.get("/runs?prompt=p"));
    assert_eq!(
        page.matches("<tr><td><a href=\"/runs/").count(),
        15,
        "{page}"
    );
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
        "{page}"
    );
    assert!(!page.contains("<script>"), "{page}");
    let failed = html(&server.get("/runs?prompt=p&success=false"));
    assert_eq!(
        failed.matches("<tr><td><a href=\"/runs/").count(),
        3,
        "{failed}"
    );
    let found = html(&server.get("/runs?q=ANSWER+1"));
    // answer 1, answer 10 … answer 13
    assert_eq!(
        found.matches("<tr><td><a href=\"/runs/").count(),
        5,
        "{found}"
    );
    // Pages of 10: the next link carries the filters and the cursor, and pages do not overlap.
    let first = html(&server.get("/runs?prompt=q&limit=10"));
    let next = first
        .split(r#"id="next" href=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a next link")
        .replace("&amp;", "&");
    assert!(
        next.contains("prompt=q") && next.contains("limit=10"),
        "{next}"
    );
    let second = html(&server.get(&next));
    let ids = |p: &str| -> Vec<String> {
        p.split("<tr><td><a href=\"/runs/")
            .skip(1)
            .map(|r| r.split('"').next().unwrap_or("").to_string())
            .collect()
    };
    let (a, b) = (ids(&first), ids(&second));
    assert_eq!((a.len(), b.len()), (10, 10));
    assert!(a.iter().all(|id| !b.contains(id)));
    let bad = html(&server.get("/runs?since=garbage"));
    assert!(bad.contains(r#"id="error">since:"#), "{bad}");
    // One run's page: its fields, and the output as text.
    let run = html(&server.get("/runs/xss-run"));
    assert!(run.contains(r#"<pre id="output">&lt;script&gt;"#), "{run}");
    assert!(run.contains(r#"id="rate-form""#));
    assert_eq!(server.get("/runs/no-such-run").status, 404);
}

#[test]
fn the_rating_form_rates_as_rate_does_and_refuses_other_sites() {
    let env = project();
    let server = start(&env, &[]);
    let form = |body: &str, headers: &[(&str, &str)]| {
        let mut h = vec![("Content-Type", "application/x-www-form-urlencoded")];
        h.extend_from_slice(headers);
        server.request("POST", "/runs/xss-run/rate", &h, body.as_bytes())
    };
    let r = form(
        "quality=8&feedback=clear+and+short",
        &[("Sec-Fetch-Site", "same-origin")],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/runs/xss-run?rated=8"));
    let shown = env.run(&["export", "--prompt", "p", "--json"]).json();
    let run = shown
        .as_array()
        .expect("runs")
        .iter()
        .find(|r| r["id"] == "xss-run")
        .expect("the run");
    assert_eq!(run["quality_score"], 8.0);
    assert_eq!(run["feedback"], "clear and short");
    let page = html(&server.get("/runs/xss-run?rated=8"));
    assert!(page.contains(r#"id="rated">Rated 8."#), "{page}");
    // A bad score goes back to the form with the message `rate` prints; nothing is written.
    let before = env.read("runs/p/2026-11.jsonl");
    let r = form("quality=11", &[]);
    assert_eq!(r.status, 303);
    let back = r.header("location").expect("location").to_string();
    assert!(back.starts_with("/runs/xss-run?error="), "{back}");
    let page = html(&server.get(&back));
    assert!(
        page.contains("quality_score must be a number from 1 to 10"),
        "{page}"
    );
    // From another site: refused, nothing written.
    for headers in [
        &[("Sec-Fetch-Site", "cross-site")][..],
        &[("Origin", "http://evil.example")][..],
    ] {
        let r = form("quality=1", headers);
        assert_eq!(r.status, 403, "{}", r.text());
    }
    assert_eq!(env.read("runs/p/2026-11.jsonl"), before);

    // With a token, the form needs it.
    let guarded = Server::start_with(&env, &["--token", "s3cret"], &[("PTRACK_NOW", NOW)]);
    let post = |body: &str| {
        guarded.request(
            "POST",
            "/runs/xss-run/rate",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
    };
    assert_eq!(post("quality=2").status, 401);
    assert_eq!(post("quality=2&token=wrong").status, 401);
    assert_eq!(env.read("runs/p/2026-11.jsonl"), before);
    assert!(html(&guarded.get("/runs/xss-run")).contains(r#"name="token""#));
    assert_eq!(post("quality=2&token=s3cret").status, 303);
    assert_ne!(env.read("runs/p/2026-11.jsonl"), before);
}

#[test]
fn pages_carry_the_security_headers_and_the_stylesheet_is_served() {
    let env = project();
    let server = start(&env, &[]);
    for path in [
        "/",
        "/prompts/p",
        "/runs",
        "/assets/style.css",
        "/prompts/nope",
    ] {
        let r = server.get(path);
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("style-src 'self'"),
            "{path}"
        );
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
    }
    let css = server.get("/assets/style.css");
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    // No page loads anything from elsewhere, and none has inline script or style.
    for path in [
        "/",
        "/prompts/p",
        "/runs",
        "/runs/xss-run",
        "/prompts/p/diff",
    ] {
        let page = html(&server.get(path));
        assert!(!page.contains("<script"), "{path}");
        assert!(!page.contains(" style="), "{path}");
        assert!(
            !page.contains("src=\"http") && !page.contains("href=\"http"),
            "{path}"
        );
    }
}

/// node with playwright-core and Chromium: `PTRACK_TEST_NODE_PATH` (a node_modules folder
/// holding playwright-core) and `/usr/bin/chromium` (or `CHROMIUM`). In CI they must be there.
fn browser() -> Option<String> {
    let modules = std::env::var("PTRACK_TEST_NODE_PATH").ok();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let ok = modules
        .as_deref()
        .is_some_and(|m| std::path::Path::new(m).join("playwright-core").is_dir())
        && std::path::Path::new(&chromium).is_file();
    if ok {
        return modules;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "Chromium or playwright-core is missing; in CI the browser test must run"
    );
    eprintln!("SKIPPED: the browser test needs Chromium and playwright-core (see .ci/run)");
    None
}

#[test]
fn in_a_real_browser_the_dashboard_follows_a_prompt_draws_charts_and_rates_a_run() {
    let Some(modules) = browser() else {
        return;
    };
    let env = project();
    let server = start(&env, &[]);
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/dashboard.mjs");
    // An ES module finds its imports beside it, not through NODE_PATH: run a copy from a
    // folder next to the node_modules that holds playwright-core.
    let home = std::path::Path::new(&modules)
        .parent()
        .expect("parent")
        .join("dashboard.mjs");
    std::fs::copy(&script, &home).expect("copy the script");
    let out = std::process::Command::new("node")
        .arg(&home)
        .arg(format!("http://{}", server.addr))
        .arg("p")
        .arg(&shot)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).expect("a JSON line");
    assert_eq!(seen["versions"], 2, "{seen}");
    assert_eq!(seen["sparklines"], 2, "{seen}");
    assert_eq!(seen["quality"], "9", "{seen}");
    // The rating reached the log, for the run the browser opened.
    let id = seen["run"].as_str().expect("run id");
    let runs = env.run(&["export", "--prompt", "p", "--json"]).json();
    let run = runs
        .as_array()
        .expect("runs")
        .iter()
        .find(|r| r["id"] == id)
        .expect("the rated run");
    assert_eq!(run["quality_score"], 9.0);
    assert_eq!(run["feedback"], "rated in the browser");
    let png = std::fs::read(&shot).expect("screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{}",
        png.len()
    );
}
