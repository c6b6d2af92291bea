//! End-to-end tests of a hostile project: prompt files that are links out of the project, FIFOs,
//! devices or huge, front matter built to be slow to parse, and templates that never finish.

use crate::common::{Run, TestEnv};

fn assert_exit(r: &Run, code: i32) {
    assert_eq!(r.code, code, "{}", r.snapshot());
    assert!(!r.stderr.contains("panicked"), "{}", r.snapshot());
}

#[cfg(unix)]
fn mkfifo(p: &std::path::Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(p)
        .status()
        .expect("mkfifo runs");
    assert!(ok.success(), "mkfifo {}", p.display());
}

#[cfg(unix)]
#[test]
fn a_prompt_file_linked_out_of_the_project_is_never_shown_rendered_or_run() {
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        outside.path().join("secret.md"),
        "---\ngoal: g\n---\nTOP SECRET\n",
    )
    .expect("write");
    let env = TestEnv::init();
    std::fs::create_dir_all(env.path("prompts/p")).expect("mkdir");
    std::os::unix::fs::symlink(
        outside.path().join("secret.md"),
        env.path("prompts/p/1.0.md"),
    )
    .expect("link");
    for args in [&["show", "p"][..], &["render", "p"], &["run", "p"]] {
        let r = env.run(args);
        assert_exit(&r, 2);
        assert!(
            !r.stdout.contains("TOP SECRET"),
            "{args:?}: {}",
            r.snapshot()
        );
        assert!(
            r.stderr.contains(
                "prompts/p/1.0.md: cannot read file: `prompts/p/1.0.md` is a symbolic link to"
            ),
            "{args:?}: {}",
            r.snapshot()
        );
    }
    let r = env.run(&["check"]);
    assert_exit(&r, 1);
    assert!(
        r.stdout.contains(
            "prompts/p/1.0.md: cannot read file: `prompts/p/1.0.md` is a symbolic link to"
        ) && r.stdout.contains("outside the project"),
        "{}",
        r.snapshot()
    );
    // A link that stays inside the project is fine.
    env.prompt("q", "1.0", "goal: g\n", "inside\n");
    std::fs::create_dir_all(env.path("prompts/r")).expect("mkdir");
    std::os::unix::fs::symlink("../q/1.0.md", env.path("prompts/r/1.0.md")).expect("link");
    let r = env.run(&["render", "r"]);
    assert_exit(&r, 0);
    assert_eq!(r.stdout, "inside\n");
}

#[cfg(unix)]
#[test]
fn create_never_writes_into_a_prompt_folder_linked_out_of_the_project() {
    let outside = tempfile::tempdir().expect("tempdir");
    let env = TestEnv::init();
    std::fs::create_dir_all(env.path("prompts")).expect("mkdir");
    std::os::unix::fs::symlink(outside.path(), env.path("prompts/evil")).expect("link");
    // Without a version, the folder's error stops `create`; with one, the link does.
    let r = env.run(&["create", "evil", "--goal", "g", "--model", "m"]);
    assert_exit(&r, 2);
    let r = env.run(&[
        "create",
        "evil",
        "--version",
        "1.0",
        "--goal",
        "g",
        "--model",
        "m",
    ]);
    assert_exit(&r, 2);
    assert!(
        r.stderr.contains("`prompts/evil` is a symbolic link to"),
        "{}",
        r.snapshot()
    );
    assert_eq!(
        std::fs::read_dir(outside.path()).expect("read").count(),
        0,
        "nothing written outside"
    );
}

#[cfg(unix)]
#[test]
fn fifos_and_devices_are_errors_not_hangs() {
    let env = TestEnv::init();
    std::fs::create_dir_all(env.path("prompts/p")).expect("mkdir");
    mkfifo(&env.path("prompts/p/1.0.md"));
    std::os::unix::fs::symlink("/dev/zero", env.path("prompts/p/1.1.md")).expect("link");
    let r = env.run(&["check"]);
    assert_exit(&r, 1);
    assert!(
        r.stdout
            .contains("prompts/p/1.0.md: cannot read file: not a regular file (it is a FIFO)"),
        "{}",
        r.snapshot()
    );
    assert!(
        r.stdout.contains(
            "prompts/p/1.1.md: cannot read file: `prompts/p/1.1.md` is a symbolic link to /dev/zero, outside the project"
        ),
        "{}",
        r.snapshot()
    );
    std::fs::remove_file(env.path("ptrack.toml")).expect("rm");
    mkfifo(&env.path("ptrack.toml"));
    let r = env.run(&["list"]);
    assert_exit(&r, 2);
    assert!(
        r.stderr
            .contains("cannot read ptrack.toml: not a regular file (it is a FIFO)"),
        "{}",
        r.snapshot()
    );
}

#[test]
fn a_prompt_file_over_the_configured_limit_is_an_error_naming_it() {
    let env = TestEnv::init();
    env.write("ptrack.toml", "[limits]\nmax_prompt_bytes = 200\n");
    env.prompt("p", "1.0", "goal: g\n", &format!("{}\n", "x".repeat(300)));
    let r = env.run(&["show", "p"]);
    assert_exit(&r, 2);
    assert!(
        r.stderr.contains("prompts/p/1.0.md: cannot read file: the file is larger than 200 bytes (the limit for prompt files, `[limits] max_prompt_bytes` in ptrack.toml)"),
        "{}",
        r.snapshot()
    );
    env.write("ptrack.toml", "[limits]\nmax_prompt_bytes = 2000\n");
    assert_exit(&env.run(&["show", "p"]), 0);
}

#[cfg(unix)]
#[test]
fn non_utf8_prompt_names_are_reported() {
    use std::os::unix::ffi::OsStrExt;
    let env = TestEnv::init();
    let bad = std::ffi::OsStr::from_bytes(b"caf\xe9");
    std::fs::create_dir_all(env.path("prompts").join(bad)).expect("mkdir");
    let r = env.run(&["check"]);
    assert_exit(&r, 1);
    assert!(
        r.stdout
            .contains("prompts/caf\u{fffd}: invalid prompt name: the folder name is not UTF-8"),
        "{}",
        r.snapshot()
    );
}

#[test]
fn deep_front_matter_nesting_is_an_error() {
    let env = TestEnv::init();
    env.prompt(
        "p",
        "1.0",
        &format!("goal: g\ntags: {}\n", "[".repeat(100_000)),
        "text\n",
    );
    let r = env.run(&["check"]);
    assert_exit(&r, 1);
    assert!(
        r.stdout.contains(
            "prompts/p/1.0.md:3: invalid YAML front matter: `[` and `{` nest more than 64 levels deep"
        ),
        "{}",
        r.snapshot()
    );
}

#[test]
fn a_runaway_template_stops_with_the_limit_named() {
    let env = TestEnv::init();
    env.prompt(
        "p",
        "1.0",
        "goal: g\n",
        "{% for i in range(100000) %}{% for j in range(100000) %}.{% endfor %}{% endfor %}\n",
    );
    let r = env.run(&["render", "p"]);
    assert_exit(&r, 2);
    assert!(
        r.stderr.contains(
            "prompts/p/1.0.md: rendering stopped: the template did more than 10000000 steps of work"
        ),
        "{}",
        r.snapshot()
    );
    assert_eq!(r.stdout, "");
}

#[test]
fn a_version_compares_by_number_in_run_filters() {
    let env = TestEnv::init();
    env.prompt("p", "1.00", "goal: g\nmodel: m\n", "text\n");
    assert_exit(
        &env.run(&["record", "p", "--version", "1.0", "--time-ms", "5"]),
        0,
    );
    for v in ["1.0", "1.00", "01.0"] {
        let r = env.run(&["performance", "p", "--version", v, "--json"]);
        assert_exit(&r, 0);
        let runs: u64 = r.json()["prompts"]
            .as_array()
            .expect("prompts")
            .iter()
            .map(|p| p["all"]["runs"].as_u64().expect("runs"))
            .sum();
        assert_eq!(runs, 1, "--version {v}: {}", r.snapshot());
    }
}
