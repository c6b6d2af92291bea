//! End-to-end tests of a hostile `runs/` and `.ptrack/`: logs and folders that are links out of
//! the project, FIFOs, and a linked cache folder. Nothing may be written or deleted outside the
//! project, and nothing may be skipped without a word.

#![cfg(unix)]

use std::os::unix::fs::symlink;

use crate::common::{Run, TestEnv};

fn assert_exit(r: &Run, code: i32) {
    assert_eq!(r.code, code, "{}", r.snapshot());
    assert!(!r.stderr.contains("panicked"), "{}", r.snapshot());
}

fn project() -> TestEnv {
    let env = TestEnv::init();
    env.prompt("p", "1.0", "goal: g\n", "hello\n");
    env
}

/// A file outside the project that a hostile repository would like ptrack to append to.
fn victim() -> (tempfile::TempDir, std::path::PathBuf) {
    let outside = tempfile::tempdir().expect("tempdir");
    let file = outside.path().join("bashrc");
    std::fs::write(&file, "export PATH=/usr/bin\n").expect("write");
    (outside, file)
}

#[test]
fn record_and_rate_never_append_through_a_log_linked_out_of_the_project() {
    let (_outside, bashrc) = victim();
    let env = project();
    let r = env.run(&["record", "p", "--time-ms", "5"]);
    assert_exit(&r, 0);
    let id = r.stdout.trim().to_string();
    // The current month's log (the pinned clock says 2026-11) becomes a link; the run stays
    // readable in another file, so `rate` finds it.
    std::fs::rename(
        env.path("runs/p/2026-11.jsonl"),
        env.path("runs/p/2026-10.jsonl"),
    )
    .expect("mv");
    symlink(&bashrc, env.path("runs/p/2026-11.jsonl")).expect("link");
    for args in [
        &["record", "p", "--time-ms", "5"][..],
        &["rate", &id, "--quality", "7"],
    ] {
        let r = env.run(args);
        assert_ne!(r.code, 0, "{args:?}: {}", r.snapshot());
        assert!(!r.stderr.contains("panicked"), "{}", r.snapshot());
        assert!(
            r.stderr.contains("runs/p/2026-11.jsonl")
                && r.stderr
                    .contains("is a symbolic link; ptrack does not write through links"),
            "{args:?}: {}",
            r.snapshot()
        );
    }
    assert_eq!(
        std::fs::read_to_string(&bashrc).expect("read"),
        "export PATH=/usr/bin\n"
    );
    let r = env.run_with_stdin(&["record", "--stdin", "p"], "{\"execution_time_ms\":1}\n");
    assert_ne!(r.code, 0, "{}", r.snapshot());
    assert_eq!(
        std::fs::read_to_string(&bashrc).expect("read"),
        "export PATH=/usr/bin\n"
    );
}

#[test]
fn a_prompt_runs_folder_linked_out_of_the_project_is_refused_and_reported() {
    let (outside, bashrc) = victim();
    let env = project();
    std::fs::create_dir_all(env.path("runs")).expect("mkdir");
    symlink(outside.path(), env.path("runs/p")).expect("link");
    let r = env.run(&["record", "p", "--time-ms", "5"]);
    assert_ne!(r.code, 0, "{}", r.snapshot());
    assert!(
        r.stderr.contains("`runs/p` is a symbolic link to")
            && r.stderr.contains("outside the project"),
        "{}",
        r.snapshot()
    );
    assert_eq!(std::fs::read_dir(outside.path()).expect("dir").count(), 1);
    assert_eq!(
        std::fs::read_to_string(&bashrc).expect("read"),
        "export PATH=/usr/bin\n"
    );
    // Readers say so instead of quietly counting 0 runs.
    let r = env.run(&["check"]);
    assert_exit(&r, 1);
    assert!(
        r.stdout
            .contains("runs/p: cannot read run log: it is a symbolic link to"),
        "{}",
        r.snapshot()
    );
    let r = env.run(&["performance", "p"]);
    assert!(
        r.stderr
            .contains("runs/p: cannot read run log: it is a symbolic link to"),
        "{}",
        r.snapshot()
    );
}

#[test]
fn a_linked_log_is_reported_by_every_reader_and_never_read() {
    let (_outside, bashrc) = victim();
    let env = project();
    std::fs::write(
        &bashrc,
        "{\"id\":\"x\",\"ts\":\"2026-11-01T00:00:00Z\",\"prompt\":\"p\",\"version\":\"1.0\"}\n",
    )
    .expect("write");
    std::fs::create_dir_all(env.path("runs/p")).expect("mkdir");
    symlink(&bashrc, env.path("runs/p/2026-10.jsonl")).expect("link");
    let want = "runs/p/2026-10.jsonl: cannot read run log: it is a symbolic link to";
    for args in [
        &["performance", "p"][..],
        &["performance", "p", "--days", "400"],
        &["show", "p"],
        &["export"],
    ] {
        let r = env.run(args);
        assert!(r.stderr.contains(want), "{args:?}: {}", r.snapshot());
        assert!(!r.stdout.contains("\"x\""), "{args:?}: {}", r.snapshot());
    }
    let r = env.run(&["check"]);
    assert_exit(&r, 1);
    assert!(r.stdout.contains(want), "{}", r.snapshot());
}

#[test]
fn a_fifo_log_is_an_error_for_record_and_never_hangs_a_reader() {
    let env = project();
    std::fs::create_dir_all(env.path("runs/p")).expect("mkdir");
    let fifo = env.path("runs/p/2026-11.jsonl");
    let ok = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(ok.success());
    let r = env.run(&["record", "p", "--time-ms", "5"]);
    assert_ne!(r.code, 0, "{}", r.snapshot());
    assert!(
        r.stderr.contains("runs/p/2026-11.jsonl") && r.stderr.contains("FIFO"),
        "{}",
        r.snapshot()
    );
    let r = env.run(&["performance", "p"]);
    assert!(
        r.stderr.contains(
            "runs/p/2026-11.jsonl: cannot read run log: not a regular file (it is a FIFO)"
        ),
        "{}",
        r.snapshot()
    );
    let r = env.run(&["check"]);
    assert_exit(&r, 1);
}

#[test]
fn a_linked_cache_folder_is_not_used_and_nothing_outside_is_deleted_or_written() {
    let outside = tempfile::tempdir().expect("tempdir");
    for f in ["index.json", "runs-1.bin", "notes.txt"] {
        std::fs::write(outside.path().join(f), "precious").expect("write");
    }
    let env = project();
    assert_exit(&env.run(&["record", "p", "--time-ms", "5"]), 0);
    std::fs::create_dir_all(env.path(".ptrack")).expect("mkdir");
    symlink(outside.path(), env.path(".ptrack/cache")).expect("link");
    let r = env.run(&["performance", "p", "--json"]);
    assert_exit(&r, 0);
    assert_eq!(
        r.json()["prompts"][0]["versions"][0]["metrics"]["runs"],
        1,
        "{}",
        r.snapshot()
    );
    assert!(
        r.stderr.contains(
            "warning: .ptrack/cache: the cache is not used: `.ptrack/cache` is a symbolic link"
        ),
        "{}",
        r.snapshot()
    );
    let mut left: Vec<String> = std::fs::read_dir(outside.path())
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["index.json", "notes.txt", "runs-1.bin"]);
    for f in ["index.json", "runs-1.bin", "notes.txt"] {
        assert_eq!(
            std::fs::read_to_string(outside.path().join(f)).expect("read"),
            "precious"
        );
    }
}
