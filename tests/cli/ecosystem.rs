//! The tools people already use: shell completion (in a real bash), the man page, GitHub
//! annotations from `check`, and `--version`.

use crate::common::TestEnv;

/// Complete `words` (the last one is the word being completed) in a real bash that sourced
/// `ptrack completions bash`, in the project folder; returns the candidates, sorted.
fn complete(env: &TestEnv, words: &[&str]) -> Vec<String> {
    let bin = assert_cmd::cargo::cargo_bin("ptrack");
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "source <('{bin}' completions bash) || exit 3\n\
         COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_TYPE=9\n\
         _clap_complete_ptrack ptrack {cur} {prev}\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        bin = bin.display(),
        words = quoted.join(" "),
        cword = words.len() - 1,
        cur = quoted[words.len() - 1],
        prev = quoted[words.len().saturating_sub(2)],
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(env.root())
        .env("HOME", env.root())
        .env("PTRACK_CONFIG_DIR", env.config.path())
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "bash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    got.sort();
    got
}

#[test]
fn bash_completes_commands_flags_prompt_names_and_labels() {
    let env = TestEnv::init();
    env.prompt("coach", "1.0", "goal: g\n", "hi\n");
    env.prompt("classify", "1.0", "goal: g\n", "hi\n");
    env.write("labels.toml", "[coach]\nproduction = \"1.0\"\n");
    assert_eq!(complete(&env, &["ptrack", "sh"]), ["show"]);
    let got = complete(&env, &["ptrack", "exp"]);
    assert_eq!(got, ["experiment", "export"]);
    assert_eq!(complete(&env, &["ptrack", "show", "--ve"]), ["--version"]);
    let names = complete(&env, &["ptrack", "show", "c"]);
    assert_eq!(names, ["classify", "coach"]);
    assert_eq!(
        complete(&env, &["ptrack", "render", "coach:"]),
        ["coach:latest", "coach:production"]
    );
    assert_eq!(
        complete(&env, &["ptrack", "check", "--format", "gi"]),
        ["github"]
    );
}

#[test]
fn man_prints_a_manual_page_and_version_names_the_commit() {
    let env = TestEnv::init();
    let r = env.run(&["man"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(r.stdout.contains(".TH ptrack 1"), "{}", r.stdout);
    assert!(
        r.stdout.contains(".SH SUBCOMMANDS") || r.stdout.contains("ptrack\\-show"),
        "{}",
        r.stdout
    );
    // The page is valid roff for the real man (when it is installed here).
    if std::process::Command::new("man")
        .arg("--version")
        .output()
        .is_ok()
    {
        let page = env.path("ptrack.1");
        std::fs::write(&page, &r.stdout).expect("write");
        let out = std::process::Command::new("man")
            .args(["-l", "-P", "cat"])
            .arg(&page)
            .env("MANWIDTH", "80")
            .output()
            .expect("man runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("Track LLM prompts"));
    } else {
        eprintln!("SKIPPED: `man` is not installed; the page was only checked as text");
    }
    let r = env.run(&["--version"]);
    let v = env!("CARGO_PKG_VERSION");
    assert!(r.stdout.starts_with(&format!("ptrack {v}")), "{}", r.stdout);
    // Built from a git checkout: the commit is named.
    if std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".git")
        .exists()
    {
        assert!(r.stdout.trim_end().ends_with(')'), "{}", r.stdout);
    }
}

#[test]
fn check_format_github_prints_annotations() {
    let env = TestEnv::init();
    env.prompt("p", "1.0", "goal: g\ntemperature: 7\n", "hi\n");
    env.write("runs/p/2026-11.jsonl", "{\"id\":\"torn");
    let r = env.run(&["check", "--format", "github"]);
    assert_eq!(r.code, 1, "{}", r.snapshot());
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(
        lines.iter().any(
            |l| l.starts_with("::error file=prompts/p/1.0.md,line=3,title=ptrack")
                && l.contains("::temperature must be between 0 and 2")
        ),
        "{}",
        r.snapshot()
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("::warning file=runs/p/2026-11.jsonl,line=1,")),
        "{}",
        r.snapshot()
    );
    assert!(
        lines.iter().all(|l| l.starts_with("::")),
        "{}",
        r.snapshot()
    );
}

/// The real `pre-commit` (from PyPI), as a command and its first arguments: in CI it must be
/// there (`.ci/run` installs it).
fn pre_commit() -> Option<Vec<String>> {
    for cmd in [vec!["pre-commit"], vec!["python3", "-m", "pre_commit"]] {
        let found = std::process::Command::new(cmd[0])
            .args(&cmd[1..])
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if found {
            return Some(cmd.iter().map(|s| s.to_string()).collect());
        }
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "pre-commit is not installed; in CI the pre-commit test must run"
    );
    eprintln!("SKIPPED: pre-commit is not installed (pip install pre-commit)");
    None
}

#[test]
fn the_pre_commit_hook_blocks_a_bad_prompt_and_passes_a_good_one() {
    let Some(pre_commit) = pre_commit() else {
        return;
    };
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let head = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(repo)
        .output()
        .expect("git runs");
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    let env = TestEnv::init();
    env.write(
        ".pre-commit-config.yaml",
        format!(
            "repos:\n  - repo: {}\n    rev: {head}\n    hooks:\n      - id: ptrack-check\n",
            repo.display()
        ),
    );
    let bin_dir = assert_cmd::cargo::cargo_bin("ptrack")
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |args: &[&str]| {
        std::process::Command::new(&pre_commit[0])
            .args(&pre_commit[1..])
            .args(args)
            .current_dir(env.root())
            .env("PATH", &path)
            .env("PRE_COMMIT_HOME", env.config.path().join("pre-commit"))
            .env("HOME", env.root())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Ada Tester")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com")
            .env("GIT_COMMITTER_NAME", "Ada Tester")
            .env("GIT_COMMITTER_EMAIL", "ada@example.com")
            .output()
            .expect("pre-commit runs")
    };
    // A bad prompt file: the hook fails and names it.
    env.prompt("p", "1.0", "goal: g\ntemperature: 7\n", "hi\n");
    env.git(&["add", "-A"]);
    let out = run(&["run", "--all-files"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("prompts/p/1.0.md:3: temperature must be between 0 and 2"),
        "{text}"
    );
    // Fixed: it passes.
    env.prompt("p", "1.0", "goal: g\ntemperature: 0.7\n", "hi\n");
    env.git(&["add", "-A"]);
    let out = run(&["run", "--all-files"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("ptrack check") && text.contains("Passed"),
        "{text}"
    );
}

/// Taplo, the TOML toolkit behind the Even Better TOML editor extension (npm `@taplo/cli`):
/// `PTRACK_TEST_TAPLO` or `taplo` on PATH. In CI it must be there (.ci/run installs it).
fn taplo() -> Option<String> {
    let candidates = std::env::var("PTRACK_TEST_TAPLO")
        .ok()
        .into_iter()
        .chain(["taplo".to_string()]);
    for cmd in candidates {
        // `taplo --version` prints its version and exits 1 (0.9.0, from @taplo/cli 0.7.0).
        let ok = std::process::Command::new(&cmd)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"taplo "));
        if ok {
            return Some(cmd);
        }
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "taplo is not installed; in CI the editor schema test must run"
    );
    eprintln!("SKIPPED: taplo is not installed (npm install @taplo/cli)");
    None
}

#[test]
fn an_editor_checks_ptrack_toml_and_toml_versions_through_the_init_schema_hints() {
    let Some(taplo) = taplo() else {
        return;
    };
    let env = TestEnv::init();
    let r = env.run(&[
        "create", "p", "--goal", "g", "--model", "m", "--format", "toml",
    ]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    let lint = |rel: &str| {
        std::process::Command::new(&taplo)
            .args(["lint", rel])
            .current_dir(env.root())
            .env("RUST_LOG", "error")
            .output()
            .expect("taplo runs")
    };
    // What init and create wrote passes.
    for rel in ["ptrack.toml", "prompts/p/1.0.toml"] {
        let out = lint(rel);
        assert!(
            out.status.success(),
            "{rel}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A value out of range is caught by the editor's checker, with its line, as `check` does.
    let config = env
        .read("ptrack.toml")
        .replace("# min_success_rate = 0.9", "min_success_rate = 1.5");
    std::fs::write(env.path("ptrack.toml"), config).expect("write");
    let out = lint("ptrack.toml");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("1.5 is greater than the maximum of 1"),
        "{err}"
    );
    let version = env
        .read("prompts/p/1.0.toml")
        .replace("goal = \"g\"", "goal = \"g\"\ntemperature = 7");
    std::fs::write(env.path("prompts/p/1.0.toml"), version).expect("write");
    let out = lint("prompts/p/1.0.toml");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("7 is greater than the maximum of 2"), "{err}");
    // `check` refuses the same value (a bad ptrack.toml stops every command: exit 2).
    let r = env.run(&["check"]);
    assert_eq!(r.code, 2, "{}", r.snapshot());
    assert!(
        r.stderr
            .contains("min_success_rate must be a fraction from 0 to 1"),
        "{}",
        r.snapshot()
    );
}
