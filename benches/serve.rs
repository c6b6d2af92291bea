//! Benchmark of `ptrack serve` ingestion: runs posted by concurrent clients over HTTP on
//! 127.0.0.1 (arrays of runs, and every fifth post a single run), then the check that every run
//! is in the logs exactly once. Prints posts/s and runs/s; asserts nothing about speed.
//!
//!     cargo bench --bench serve                                   # 50,000 runs, 16 clients
//!     cargo bench --bench serve -- --runs 2000 --clients 4        # quick smoke run (CI)

#[path = "../tests/cli/load.rs"]
mod load;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut runs, mut clients, mut batch) = (50_000usize, 16usize, 50usize);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |d: usize| args.next().and_then(|n| n.parse().ok()).unwrap_or(d);
        match a.as_str() {
            "--runs" => runs = value(runs),
            "--clients" => clients = value(clients),
            "--batch" => batch = value(batch),
            _ => {}
        }
    }
    let dir = tempfile::tempdir()?;
    let prompt = dir.path().join("prompts/p/1.0.md");
    std::fs::create_dir_all(prompt.parent().unwrap_or(dir.path()))?;
    std::fs::write(
        &prompt,
        "---\ngoal: Answer.\nmodel: llama3.1:8b\n---\nAnswer {{ n }}.\n",
    )?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ptrack"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        BufReader::new(out).read_line(&mut line)?;
    }
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .ok_or_else(|| format!("unexpected first line {line:?}"))?
        .parse()?;
    let load = load::post_runs(addr, runs, clients, batch);
    let checked = Instant::now();
    load::check_exactly_once(&load, &dir.path().join("runs"));
    let secs = load.elapsed.as_secs_f64();
    println!(
        "serve: {} runs in {} posts (arrays of {batch}, every fifth a single run) from {clients} clients in {secs:.2} s: {:.0} posts/s, {:.0} runs/s; every run logged exactly once (checked in {:.2} s)",
        load.ids.len(),
        load.posts,
        load.posts as f64 / secs,
        load.ids.len() as f64 / secs,
        checked.elapsed().as_secs_f64()
    );
    let _ = child.kill();
    let _ = child.wait();
    Ok(())
}
