//! Benchmark of recording a batch: the library's [`Recorder`] and `ptrack record --stdin`,
//! both on the same deterministic JSON lines (each with its own `id`, the costly case: every id
//! is checked against the batch and the prompt's logs). Prints lines/s; asserts nothing about
//! speed.
//!
//!     cargo bench --bench record                          # 100,000 lines
//!     cargo bench --bench record -- --lines 5000          # quick smoke run (CI)

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use ptrack::Project;
use ptrack::record::{Recorder, json_object};

/// `n` run objects as `record --stdin` reads them, spread over two months and two versions.
fn batch(n: usize, tag: &str) -> String {
    let mut text = String::with_capacity(n * 220);
    for i in 0..n {
        let day = 1 + i % 28;
        let month = 10 + i % 2;
        text.push_str(&format!(
            "{{\"id\":\"{tag}-{i:08}\",\"ts\":\"2026-{month}-{day:02}T10:{:02}:{:02}.{:03}Z\",\"version\":\"1.{}\",\"execution_time_ms\":{}.5,\"token_count\":{},\"output\":\"answer {i}: é ✓ the next step\",\"success\":{},\"input\":{{\"user_message\":\"hello {i}\"}}}}\n",
            i % 60,
            (i / 60) % 60,
            i % 1000,
            i % 2,
            100 + i % 900,
            60 + i % 200,
            i % 13 != 0,
        ));
    }
    text
}

fn logged_lines(runs: &Path) -> usize {
    ptrack::runlog::log_files(runs)
        .iter()
        .map(|f| std::fs::read(f).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count()))
        .sum()
}

fn project(dir: &Path) -> std::io::Result<()> {
    for v in ["1.0", "1.1"] {
        let p = dir.join(format!("prompts/p/{v}.md"));
        std::fs::create_dir_all(p.parent().unwrap_or(dir))?;
        std::fs::write(
            p,
            "---\ngoal: Answer.\nmodel: llama3.1:8b\ntemperature: 0.2\n---\nAnswer {{ user_message }}.\n",
        )?;
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut lines = 100_000usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--lines" {
            lines = args.next().and_then(|n| n.parse().ok()).unwrap_or(lines);
        }
    }
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")?.to_utc();

    // The library: parse each line, complete it, write every log once.
    let mut best = f64::INFINITY;
    for round in 0..3 {
        let dir = tempfile::tempdir()?;
        project(dir.path())?;
        let text = batch(lines, &format!("lib{round}"));
        let t = Instant::now();
        let project = Project::open(dir.path())?;
        let registry = project.load_prompts();
        let mut recorder = Recorder::new(&project);
        for line in text.lines() {
            let obj = json_object(line)?;
            recorder.add_json(&registry, obj, Some("p"), None, now)?;
        }
        recorder.write()?;
        best = best.min(t.elapsed().as_secs_f64());
        assert_eq!(logged_lines(&dir.path().join("runs")), lines);
    }
    println!(
        "record, library Recorder, {lines} lines, best of 3: {best:.3} s, {:.0} lines/s",
        lines as f64 / best
    );

    // The command: the same lines piped to `ptrack record --stdin`.
    let mut best = f64::INFINITY;
    for round in 0..3 {
        let dir = tempfile::tempdir()?;
        project(dir.path())?;
        let text = batch(lines, &format!("cli{round}"));
        let t = Instant::now();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ptrack"))
            .args(["record", "--stdin", "p"])
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(text.as_bytes())?;
        }
        let status = child.wait()?;
        best = best.min(t.elapsed().as_secs_f64());
        assert!(status.success(), "ptrack record --stdin failed: {status}");
        assert_eq!(logged_lines(&dir.path().join("runs")), lines);
    }
    println!(
        "record, ptrack record --stdin, {lines} lines, best of 3: {best:.3} s, {:.0} lines/s",
        lines as f64 / best
    );
    Ok(())
}
