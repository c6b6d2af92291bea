//! Benchmark of the dashboard's pages at scale: a project of N runs (default 1,000,000) over
//! the last 90 days in `runs/<prompt>/<YYYY-MM>.jsonl`, served by `ptrack serve` on 127.0.0.1;
//! each page is fetched once cold (the first request builds the metrics cache) and then five
//! times warm, and the times are printed. Asserts nothing about speed.
//!
//!     cargo bench --bench pages                       # 1,000,000 runs
//!     cargo bench --bench pages -- --runs 2000        # quick smoke run (CI)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PROMPTS: usize = 4;

/// The git blob id of `bytes` (what `git hash-object` prints).
fn blob_id(bytes: &[u8]) -> String {
    use sha1::Digest;
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes the project; returns the bytes of run logs and the id of the run in the middle.
fn generate(dir: &std::path::Path, runs: usize) -> std::io::Result<(u64, String)> {
    // Each version's blob id, which its runs record as `prompt_sha` (as `ptrack run` does).
    let mut blobs = vec![[String::new(), String::new()]; PROMPTS];
    for (p, ids) in blobs.iter_mut().enumerate() {
        for (v, id) in ids.iter_mut().enumerate() {
            let path = dir.join(format!("prompts/prompt_{p}/1.{v}.md"));
            std::fs::create_dir_all(path.parent().unwrap_or(dir))?;
            let text = format!(
                "---\ngoal: Answer, take {v}.\nmodel: llama3.1:8b\n---\nAnswer {{{{ q }}}} ({v}).\n"
            );
            std::fs::write(&path, &text)?;
            *id = blob_id(text.as_bytes());
        }
    }
    // The prompts in git, so the prompt page shows a history with each commit's runs.
    let git = |args: &[&str]| {
        Command::new("git")
            .args([
                "-c",
                "user.name=bench",
                "-c",
                "user.email=bench@example.com",
            ])
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !(git(&["init", "-q"]) && git(&["add", "prompts"]) && git(&["commit", "-qm", "prompts"])) {
        println!("pages: git is not available; the history section stays empty");
    }
    let now = chrono::Utc::now().timestamp_millis();
    let span = 90 * 86_400_000i64;
    let mut files: std::collections::BTreeMap<
        std::path::PathBuf,
        std::io::BufWriter<std::fs::File>,
    > = Default::default();
    let mut bytes = 0u64;
    let mut middle = String::new();
    let mut x = 42u64;
    for i in 0..runs {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let p = (x % PROMPTS as u64) as usize;
        let v = ((x >> 8) % 2) as usize;
        let ts =
            chrono::DateTime::from_timestamp_millis(now - span + i as i64 * span / runs as i64)
                .unwrap_or_default();
        let line = format!(
            "{{\"id\":\"{i:08x}-0000-7000-8000-{:012x}\",\"ts\":\"{}\",\"prompt\":\"prompt_{p}\",\"version\":\"1.{v}\",\"prompt_sha\":\"{}\",\"model\":\"llama3.1:8b\",\"input\":{{\"q\":\"question {i}\"}},\"output\":\"an answer of some length to question number {i}, with a next step\",\"execution_time_ms\":{:.1},\"token_count\":{},\"success\":{}}}\n",
            x & 0xffff_ffff_ffff,
            ptrack::runlog::format_ts(&ts),
            blobs[p][v],
            200.0 + (x >> 20) as f64 % 1500.0,
            60 + (x >> 30) % 200,
            !(x >> 40).is_multiple_of(14),
        );
        bytes += line.len() as u64;
        if i == runs / 2 {
            middle = line[7..43].to_string();
        }
        let path = ptrack::runlog::log_path(&dir.join("runs"), &format!("prompt_{p}"), &ts);
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
    Ok((bytes, middle))
}

/// GET `path`; the status and the time to the last byte.
fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, Duration)> {
    let t = Instant::now();
    let mut s = TcpStream::connect(addr)?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let status = String::from_utf8_lossy(&raw[..raw.len().min(12)])
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, t.elapsed()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut runs = 1_000_000usize;
    let mut keep: Option<std::path::PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).unwrap_or(runs),
            // Generate the project into DIR and keep it (to time commands on it).
            "--keep" => keep = args.next().map(Into::into),
            _ => {}
        }
    }
    let temp = tempfile::tempdir()?;
    let dir = match &keep {
        Some(k) => {
            std::fs::create_dir_all(k)?;
            tempfile::TempDir::new_in(k)?.keep()
        }
        None => temp.path().to_path_buf(),
    };
    let dir = &dir;
    let t = Instant::now();
    let (bytes, middle) = generate(dir, runs)?;
    if keep.is_some() {
        println!("pages: the project is in {}", dir.display());
    }
    println!(
        "pages: {runs} runs ({:.0} MB) generated in {:.1} s",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_ptrack"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        BufReader::new(out).read_line(&mut line)?;
    }
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on http://")
        .ok_or_else(|| format!("unexpected first line {line:?}"))?
        .parse()?;
    let run_page = format!("/runs/{middle}");
    let pages = [
        "/",
        "/prompts/prompt_0",
        "/prompts/prompt_0?days=7",
        "/prompts/prompt_0/diff",
        "/runs",
        "/runs?prompt=prompt_1&success=false",
        "/runs?text=number+4242",
        run_page.as_str(),
        "/api/prompts",
        "/api/runs?limit=100",
    ];
    for page in pages {
        let (status, cold) = get(addr, page)?;
        let mut warm: Vec<f64> = (0..5)
            .map(|_| get(addr, page).map(|(_, d)| d.as_secs_f64() * 1e3))
            .collect::<Result<_, _>>()?;
        warm.sort_by(f64::total_cmp);
        println!(
            "pages: GET {page:<40} {status}  first {:>8.1} ms  then median {:>8.1} ms (min {:.1}, max {:.1})",
            cold.as_secs_f64() * 1e3,
            warm[2],
            warm[0],
            warm[4]
        );
    }
    let _ = child.kill();
    let _ = child.wait();
    Ok(())
}
