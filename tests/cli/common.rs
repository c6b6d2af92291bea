//! The test environment: a temp project with git, a pinned clock, and helpers to run ptrack.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// A pinned "now" so times, `--days` windows and `created_at` are reproducible.
pub const NOW: &str = "2026-11-24T12:00:00Z";

/// A temporary project folder (with `git init`), isolated from the user's config.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    /// The user's settings folder (`PTRACK_CONFIG_DIR`), outside the project.
    pub config: tempfile::TempDir,
}

/// The result of one ptrack run.
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Run {
    /// stdout, stderr and exit code together, for snapshots.
    pub fn snapshot(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// Every line of stdout is at most `columns` display columns wide.
    pub fn assert_fits(&self, columns: usize) {
        for line in self.stdout.lines() {
            let width = unicode_width::UnicodeWidthStr::width(line);
            assert!(
                width <= columns,
                "a line of {width} columns, over {columns}:\n{line}\n\n{}",
                self.snapshot()
            );
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

impl TestEnv {
    /// An empty folder with a git repository.
    pub fn new() -> TestEnv {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = tempfile::tempdir().expect("tempdir");
        let env = TestEnv { dir, config };
        env.git(&["init", "-q", "-b", "main"]);
        env
    }

    /// A project made by `ptrack init`.
    pub fn init() -> TestEnv {
        let env = TestEnv::new();
        let r = env.run(&["init"]);
        assert_eq!(r.code, 0, "{}", r.snapshot());
        env
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// The ptrack command, in the project folder, with a pinned clock and no color.
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// [`TestEnv::cmd`] as a `std::process::Command`, for a process that runs beside the test
    /// (`ptrack serve`).
    pub fn std_cmd(&self) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_ptrack"));
        c.current_dir(self.root())
            .env("PTRACK_NOW", NOW)
            .env("HOME", self.root())
            .env("PTRACK_CONFIG_DIR", self.config.path())
            .env_remove("XDG_CONFIG_HOME")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env_remove("NO_COLOR")
            .env_remove("COLUMNS")
            .env_remove("GITHUB_STEP_SUMMARY");
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, "")
    }

    /// Run ptrack as on a terminal `columns` wide (`COLUMNS` set).
    pub fn run_in_columns(&self, columns: usize, args: &[&str]) -> Run {
        self.run_command(self.cmd().env("COLUMNS", columns.to_string()), args, "")
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        self.run_command(&mut self.cmd(), args, stdin)
    }

    pub fn run_command(&self, cmd: &mut Command, args: &[&str], stdin: &str) -> Run {
        let out: Output = cmd
            .args(args)
            .write_stdin(stdin)
            .output()
            .expect("ran ptrack");
        Run {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code().unwrap_or(-1),
        }
    }

    /// Run git in the project with a fixed author and date.
    pub fn git(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(self.root())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Ada Tester")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com")
            .env("GIT_COMMITTER_NAME", "Ada Tester")
            .env("GIT_COMMITTER_EMAIL", "ada@example.com")
            .env("GIT_AUTHOR_DATE", "2026-11-20T10:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-11-20T10:00:00Z")
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Write a prompt version with YAML front matter.
    pub fn prompt(&self, name: &str, version: &str, front: &str, body: &str) {
        self.write(
            &format!("prompts/{name}/{version}.md"),
            format!("---\n{front}---\n{body}"),
        );
    }
}

/// Check a command's `--json` output against its committed schema (docs/json/<command>.schema.json).
pub fn assert_schema(command: &str, value: &serde_json::Value) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("docs/json/{command}.schema.json"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("{}: not a valid schema: {e}", path.display()));
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "`{command} --json` does not match {}:\n{}\n\n{value:#}",
        path.display(),
        errors.join("\n")
    );
}
