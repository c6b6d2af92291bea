//! Benchmark of the run-log reader and `performance` aggregation.
//!
//! Generates a deterministic log in the split layout (`runs/<prompt>/<YYYY-MM>.jsonl`), then
//! reads and aggregates it the way `ptrack performance` does, and prints runs/s and MB/s.
//! A benchmark, not a test: it prints figures and asserts nothing about speed.
//!
//!     cargo bench --bench aggregate                       # 1,000,000 runs
//!     cargo bench --bench aggregate -- --runs 5000        # quick smoke run (CI)

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use ptrack::runlog::RunFilter;
use ptrack::runlog::{RunSet, performance};

/// A small deterministic generator (SplitMix64), so every run of the bench reads the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn generate(dir: &Path, runs: usize, prompts: usize, versions: usize) -> std::io::Result<u64> {
    let mut rng = Rng(42);
    let start_ms: i64 = 1_756_684_800_000; // 2025-09-01T00:00:00Z
    let span_ms: i64 = 90 * 86_400_000;
    let words = [
        "the",
        "next",
        "step",
        "é",
        "✓",
        "\\\"quoted\\\"",
        "line\\nbreak",
        "plan",
        "résumé",
        "goal",
    ];
    let mut files: std::collections::BTreeMap<
        std::path::PathBuf,
        std::io::BufWriter<std::fs::File>,
    > = Default::default();
    let mut bytes = 0u64;
    for i in 0..runs {
        let p = (rng.next() % prompts as u64) as usize;
        let v = (rng.next() % versions as u64) as usize;
        let ts_ms = start_ms + (i as i64 * span_ms / runs as i64);
        let ts = chrono::DateTime::from_timestamp_millis(ts_ms).unwrap_or_default();
        let mut output = String::new();
        for _ in 0..(40 + rng.next() % 40) {
            output.push_str(words[(rng.next() % words.len() as u64) as usize]);
            output.push(' ');
        }
        let time = 200.0 + (-rng.unit().max(1e-12).ln()) * 900.0;
        let success = rng.unit() > 0.07;
        let quality = if rng.unit() < 0.4 {
            format!(",\"quality_score\":{}", 1 + rng.next() % 10)
        } else {
            String::new()
        };
        let line = format!(
            "{{\"id\":\"{i:08x}-0000-7000-8000-{:012x}\",\"ts\":\"{}\",\"prompt\":\"prompt_{p:03}\",\"version\":\"1.{v}\",\"prompt_sha\":\"{:040x}\",\"commit\":null,\"model\":\"llama3.1:8b\",\"params\":{{\"temperature\":0.7,\"token_limit\":512}},\"input\":{{\"user_message\":\"hello there\"}},\"output\":\"{output}\",\"execution_time_ms\":{time:.1},\"token_count\":{},\"success\":{success},\"error\":{}{quality}}}\n",
            rng.next() & 0xffff_ffff_ffff,
            ptrack::runlog::format_ts(&ts),
            (p * 31 + v) as u128,
            60 + rng.next() % 200,
            if success {
                "null".to_string()
            } else {
                "\"timeout after 30s\"".to_string()
            },
        );
        bytes += line.len() as u64;
        let path = ptrack::runlog::log_path(dir, &format!("prompt_{p:03}"), &ts);
        if !files.contains_key(&path) {
            std::fs::create_dir_all(path.parent().unwrap_or(dir))?;
            files.insert(
                path.clone(),
                std::io::BufWriter::new(std::fs::File::create(&path)?),
            );
        }
        if let Some(w) = files.get_mut(&path) {
            w.write_all(line.as_bytes())?;
        }
    }
    for (_, mut w) in files {
        w.flush()?;
    }
    Ok(bytes)
}

fn main() -> std::io::Result<()> {
    let mut runs = 1_000_000usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--runs" {
            runs = args.next().and_then(|n| n.parse().ok()).unwrap_or(runs);
        }
    }
    let dir = tempfile::tempdir()?;
    let runs_dir = dir.path().join("runs");
    let t = Instant::now();
    let bytes = generate(&runs_dir, runs, 50, 5)?;
    println!(
        "generated {runs} runs, {:.1} MB, in {:.2} s",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let mut best = (f64::INFINITY, f64::INFINITY);
    for _ in 0..3 {
        let t = Instant::now();
        let set = RunSet::load(&runs_dir, Path::new("runs"), &RunFilter::default());
        let simple = performance(&set.runs);
        best.0 = best.0.min(t.elapsed().as_secs_f64());
        assert_eq!(set.runs.len(), runs, "every generated run is read");
        let t = Instant::now();
        let fast = ptrack::runlog::compact::performance(
            &runs_dir,
            Path::new("runs"),
            &RunFilter::default(),
            threads,
        );
        best.1 = best.1.min(t.elapsed().as_secs_f64());
        assert_eq!(
            fast.map(|f| f.prompts),
            Some(simple),
            "both readers give the same figures"
        );
    }
    for (label, secs) in [
        ("simple reader (RunSet)", best.0),
        (&*format!("fast reader, {threads} threads"), best.1),
    ] {
        println!(
            "performance, {label}, best of 3: {:.3} s, {:.0} runs/s, {:.1} MB/s",
            secs,
            runs as f64 / secs,
            bytes as f64 / 1e6 / secs
        );
    }
    Ok(())
}
