//! End-to-end tests of text that would act on a terminal: ESC, OSC 52 (clipboard), OSC 8
//! (links), BEL, `\r` and C1 controls in prompt texts, goals, tags, run logs and commit subjects
//! are shown escaped in every human output, and kept exactly in `--json`.

use crate::common::{Run, TestEnv};

/// OSC 52: put "evil" on the clipboard.
const CLIPBOARD: &str = "\x1b]52;c;ZXZpbA==\x07";
/// OSC 8: a link whose text hides where it goes.
const LINK: &str = "\x1b]8;;https://evil.test\x1b\\click\x1b]8;;\x1b\\";

/// The first byte or character in `text` that acts on a terminal, if any (a `\r\n` does not).
fn raw_control(text: &str) -> Option<char> {
    let text = text.replace("\r\n", "\n");
    text.chars().find(|&c| {
        matches!(c, '\0'..='\x08' | '\x0b'..='\x1f' | '\x7f'..='\u{9f}')
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}')
            || matches!(c, '\u{2066}'..='\u{2069}')
    })
}

/// `text` without the style sequences ptrack writes itself with `--color always`.
fn unstyled(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("\x1b[") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let n = after
            .find(|c: char| !c.is_ascii_digit() && c != ';')
            .unwrap_or(after.len());
        if after[n..].starts_with('m') {
            rest = &after[n + 1..];
        } else {
            out.push_str(&rest[i..i + 2]);
            rest = after;
        }
    }
    out + rest
}

fn assert_escaped(what: &str, r: &Run, code: i32) {
    assert_eq!(r.code, code, "{what}: {}", r.snapshot());
    assert!(!r.stderr.contains("panicked"), "{what}: {}", r.snapshot());
    let styled = what.contains("--color");
    for (stream, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        let text = &if styled { unstyled(text) } else { text.clone() };
        if let Some(c) = raw_control(text) {
            panic!("{what}: a raw {c:?} on {stream}:\n{text:?}");
        }
    }
}

/// A project whose prompt, goal, tags, run log and commit subject all carry control sequences.
fn hostile() -> TestEnv {
    let env = TestEnv::init();
    env.prompt(
        "evil",
        "1.0",
        "goal: \"Greet \\e]52;c;ZXZpbA==\\a the user\\rHonest goal\"\nmodel: m\ntags: [\"t\\e[2J\", \"\\u009b31m\"]\n",
        &format!("Hello {LINK}\nfake\roverwritten\n{CLIPBOARD}\n"),
    );
    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "-m", &format!("add evil {CLIPBOARD}\rfine")]);
    env.prompt(
        "evil",
        "1.1",
        "goal: \"g \\u2067reversed\\u2069 \\u202eevil\"\nmodel: m\n",
        &format!("Hello {LINK}\nfake\rREPLACED\n{CLIPBOARD}\n"),
    );
    // As an application would log it: JSON escapes of the same sequences.
    let ok = r#"{"id":"01a1556c-0000-7000-8000-000000000001","ts":"2026-11-23T10:00:00Z","prompt":"evil","version":"1.0","model":"m\u001b]52;c;ZXZpbA==\u0007","execution_time_ms":120,"output":"out \u001b]52;c;ZXZpbA==\u0007 fake\rreal \u009b2J","success":true,"quality_score":3,"feedback":"\u001b]8;;https://evil.test\u001b\\click\u001b]8;;\u001b\\"}"#;
    let failed = r#"{"id":"01a1556c-0000-7000-8000-000000000002","ts":"2026-11-23T09:00:00Z","prompt":"evil","version":"1.0","model":"m","execution_time_ms":80,"output":"","success":false,"error":"boom \u001b[2J\r\u0007"}"#;
    let bad = r#"{"id":"01a1556c-0000-7000-8000-000000000003","ts":"2026-11-23T12:00:00Z","prompt":"evil","version":"1.0","execution_time_ms":"\u001b]52;c;ZXZpbA==\u0007","success":true}"#;
    env.write(
        "runs/evil/2026-11.jsonl",
        format!("{ok}\n{failed}\n{bad}\n"),
    );
    env
}

#[test]
fn human_output_shows_control_characters_escaped() {
    let env = hostile();
    for (args, code) in [
        (&["show", "evil", "--version", "1.0"][..], 0),
        (&["list"], 0),
        (&["history", "evil"], 0),
        (&["diff", "evil", "1.0", "1.1"], 0),
        (&["diff", "evil", "1.0", "1.1", "--color", "always"], 0),
        (&["performance", "evil"], 0),
        (&["check"], 1),
        (&["report", "--format", "text"], 0),
        (&["compare", "evil", "1.0", "1.1"], 0),
    ] {
        let r = env.run(args);
        assert_escaped(&format!("{args:?}"), &r, code);
    }
    let r = env.run(&["show", "evil", "--version", "1.0"]);
    // Shown, not dropped: the reader sees what is there.
    assert!(
        r.stdout
            .contains("Greet \\u{1b}]52;c;ZXZpbA==\\u{7} the user\\rHonest goal"),
        "{}",
        r.snapshot()
    );
    assert!(
        r.stdout.contains("t\\u{1b}[2J, \\u{9b}31m"),
        "{}",
        r.snapshot()
    );
    assert!(
        r.stdout
            .contains("out \\u{1b}]52;c;ZXZpbA==\\u{7} fake\\rreal \\u{9b}2J"),
        "{}",
        r.snapshot()
    );
    let r = env.run(&["list"]);
    assert!(
        r.stdout
            .contains("g \\u{2067}reversed\\u{2069} \\u{202e}evil"),
        "{}",
        r.snapshot()
    );
    let r = env.run(&["history", "evil"]);
    assert!(
        r.stdout
            .contains("add evil \\u{1b}]52;c;ZXZpbA==\\u{7}\\rfine"),
        "{}",
        r.snapshot()
    );
    // A `\r` inside a line stays in its line of the diff.
    let r = env.run(&["diff", "evil", "1.0", "1.1"]);
    assert!(
        r.stdout.contains("-fake\\roverwritten\n+fake\\rREPLACED\n"),
        "{}",
        r.snapshot()
    );
    // Color still comes through, around the escaped text.
    let r = env.run(&["diff", "evil", "1.0", "1.1", "--color", "always"]);
    assert!(r.stdout.contains("\x1b[31m-\x1b[0m"), "{:?}", r.stdout);
}

#[test]
fn diagnostics_on_stderr_are_escaped() {
    let env = hostile();
    // The log's bad line is reported with its value; the name is echoed in the error.
    let r = env.run(&["performance", "evil"]);
    assert_escaped("performance", &r, 0);
    assert!(r.stderr.contains("2026-11.jsonl:3"), "{}", r.snapshot());
    let name = format!("x{CLIPBOARD}");
    let r = env.run(&["show", &name]);
    assert_escaped("show with a hostile name", &r, 2);
    assert!(
        r.stderr.contains("x\\u{1b}]52;c;ZXZpbA==\\u{7}"),
        "{}",
        r.snapshot()
    );
    // clap's usage errors quote the arguments given.
    for args in [
        &["show", "evil", "--version", &format!("1{CLIPBOARD}")][..],
        &["show", "evil", &format!("--x{CLIPBOARD}")],
        &[&format!("sh{CLIPBOARD}")],
    ] {
        let r = env.run(args);
        assert_escaped(&format!("{args:?}"), &r, 2);
        // Shown, not dropped (`--x…=…` is cut at its `=`).
        assert!(r.stderr.contains("\\u{1b}]52;c;ZXZpbA"), "{}", r.snapshot());
    }
    let r = env.run_with_stdin(
        &["record", "--stdin"],
        "{\"prompt\":\"evil\x1b]52;c;ZXZpbA==\x07\"}\n",
    );
    assert!(!r.stderr.contains('\x1b'), "{}", r.snapshot());
}

#[test]
fn json_keeps_control_characters_exactly() {
    let env = hostile();
    let r = env.run(&["show", "evil", "--version", "1.0", "--json"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    // As JSON escapes (C1 ones too), which read back as the characters.
    assert_eq!(raw_control(&r.stdout), None, "{}", r.stdout);
    assert!(r.stdout.contains(r"real \u009b2J"), "{}", r.stdout);
    let v = r.json();
    assert_eq!(
        v["meta"]["goal"],
        "Greet \x1b]52;c;ZXZpbA==\x07 the user\rHonest goal"
    );
    assert_eq!(
        v["text"],
        format!("Hello {LINK}\nfake\roverwritten\n{CLIPBOARD}\n")
    );
    assert_eq!(
        v["last_output"]["output"],
        "out \x1b]52;c;ZXZpbA==\x07 fake\rreal \u{9b}2J"
    );
    let r = env.run(&["history", "evil", "--json"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let v = r.json();
    let subjects: Vec<&str> = v
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["subject"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        subjects,
        [format!("add evil {CLIPBOARD}\rfine")],
        "{}",
        r.stdout
    );
    // Text for programs, piped, is exact too.
    let r = env.run(&["render", "evil", "--version", "1.0"]);
    assert_eq!(
        r.stdout,
        format!("Hello {LINK}\nfake\roverwritten\n{CLIPBOARD}\n")
    );
    let r = env.run(&["export", "--format", "csv"]);
    assert!(r.stdout.contains("fake\rreal \u{9b}2J"), "{}", r.snapshot());
}

/// Run `ptrack args` under a pseudo-terminal (util-linux `script`), with `NO_COLOR` set unless
/// `color`; `None` when there is none.
fn on_a_terminal(env: &TestEnv, args: &str) -> Option<Run> {
    on_a_color_terminal(env, args, false)
}

fn on_a_color_terminal(env: &TestEnv, args: &str, color: bool) -> Option<Run> {
    let bin = assert_cmd::cargo::cargo_bin("ptrack");
    let command = format!("'{}' {args}", bin.display());
    // The environment of `TestEnv::cmd`, for a command it cannot build.
    let mut script = std::process::Command::new("script");
    if color {
        script.env_remove("NO_COLOR");
    } else {
        script.env("NO_COLOR", "1");
    }
    let out = match script
        .args(["-qec", &command, "/dev/null"])
        .current_dir(env.root())
        .env("PTRACK_NOW", crate::common::NOW)
        .env("HOME", env.root())
        .env("PTRACK_CONFIG_DIR", env.config.path())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("COLUMNS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("SKIPPED: no `script` (util-linux) to run ptrack on a terminal: {e}");
            return None;
        }
    };
    // The terminal writes each `\n` as `\r\n`.
    Some(Run {
        stdout: String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    })
}

#[test]
fn exact_text_is_escaped_on_a_terminal() {
    let env = hostile();
    for args in ["render evil --version 1.0", "export --format csv", "report"] {
        let Some(r) = on_a_terminal(&env, args) else {
            return;
        };
        assert_escaped(args, &r, 0);
    }
    let Some(r) = on_a_terminal(&env, "render evil --version 1.0") else {
        return;
    };
    assert!(r.stdout.contains("fake\\roverwritten"), "{:?}", r.stdout);
}

/// A model server that answers every request with `answer` as Ollama would; its base URL.
fn ollama_answering(answer: &str) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let body = serde_json::json!({"model": "m", "created_at": "2026-11-24T12:00:00Z",
        "response": answer, "done": true, "prompt_eval_count": 3, "eval_count": 2})
    .to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut len = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut request = vec![0; len];
            let _ = reader.read_exact(&mut request);
            let _ = write!(
                reader.into_inner(),
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn a_models_output_is_exact_when_piped_and_escaped_on_a_terminal() {
    let env = hostile();
    let answer = format!("Sure {CLIPBOARD}\nfake\rreal\n");
    let url = ollama_answering(&answer);
    let args = [
        "run",
        "evil",
        "--provider",
        "ollama",
        "--base-url",
        &url,
        "--no-record",
    ];
    let r = env.run(&args);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert_eq!(r.stdout, answer, "{}", r.snapshot());
    assert!(raw_control(&r.stderr).is_none(), "{}", r.snapshot());
    let Some(r) = on_a_terminal(&env, &args.join(" ")) else {
        return;
    };
    assert_escaped("run on a terminal", &r, 0);
    assert!(
        r.stdout
            .contains("Sure \\u{1b}]52;c;ZXZpbA==\\u{7}\nfake\\rreal\n"),
        "{:?}",
        r.stdout
    );
}

#[test]
fn a_usage_error_quoting_an_argument_is_escaped_on_a_color_terminal() {
    let env = hostile();
    // The shell takes the bytes between single quotes as they are.
    let Some(r) = on_a_color_terminal(&env, &format!("show evil --version '1{CLIPBOARD}'"), true)
    else {
        return;
    };
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(r.stdout.contains("\x1b[31m"), "colored: {:?}", r.stdout);
    let text = unstyled(&r.stdout);
    assert_eq!(raw_control(&text), None, "{:?}", r.stdout);
    assert!(
        text.contains("1\\u{1b}]52;c;ZXZpbA==\\u{7}"),
        "{:?}",
        r.stdout
    );
}

#[test]
fn a_projects_own_style_sequences_are_escaped_even_with_color() {
    let env = TestEnv::init();
    // The very sequences ptrack colors with, in a prompt and a run's output.
    env.prompt("p", "1.0", "goal: g\n", "\x1b[32mall good\x1b[0m\n");
    env.write(
        "runs/p/2026-11.jsonl",
        "{\"id\":\"01a1556c-0000-7000-8000-000000000009\",\"ts\":\"2026-11-23T10:00:00Z\",\"prompt\":\"p\",\"version\":\"1.0\",\"execution_time_ms\":5,\"output\":\"\\u001b[31mred\\u001b[0m\",\"success\":true}\n",
    );
    let r = env.run(&["show", "p", "--color", "always"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(r.stdout.contains("\x1b[1m"), "colored: {:?}", r.stdout);
    assert!(
        r.stdout.contains("\\u{1b}[32mall good\\u{1b}[0m\n"),
        "{:?}",
        r.stdout
    );
    assert!(
        r.stdout.contains("\\u{1b}[31mred\\u{1b}[0m"),
        "{:?}",
        r.stdout
    );
    // In a diff's colored lines too.
    env.prompt("p", "1.1", "goal: g\n", "\x1b[32mall bad\x1b[0m\n");
    let r = env.run(&["diff", "p", "1.0", "1.1", "--color", "always"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(
        r.stdout.contains("\\u{1b}[32mall \x1b[0m"),
        "{:?}",
        r.stdout
    );
    assert!(!r.stdout.contains("\x1b[32mall"), "{:?}", r.stdout);
}
