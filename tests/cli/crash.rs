//! Crash safety of the run log: `record --stdin` killed with SIGKILL in the middle of a batch,
//! round after round, leaves logs in which every complete line is a valid run counted once,
//! every fragment a kill left is named by `check` (file:line, as a warning), and the cache,
//! read between the rounds, agrees with a full read at the end.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ptrack::runlog::{Event, parse_line};
use serde_json::{Value, json};

use crate::common::{NOW, TestEnv};

/// Rounds at most, and the time they may take together (the test stops at whichever comes
/// first, after at least `MIN_ROUNDS`).
const MAX_ROUNDS: usize = 40;
const MIN_ROUNDS: usize = 8;
const BUDGET: Duration = Duration::from_secs(7);
/// Runs per batch, spread over 2 prompts × 3 months = 6 logs, so a batch is 6 locked writes.
const RUNS: usize = 1200;

fn batch(round: usize) -> String {
    // About 1 KB per run, with escapes, so a write of one log takes many pages. ASCII only:
    // a cut inside a multi-byte character is another matter (not UTF-8 before it is not JSON).
    let filler = "lorem \"ipsum\" dolor\tsit amet, ".repeat(30);
    (0..RUNS)
        .map(|i| {
            let prompt = if i % 2 == 0 { "p" } else { "q" };
            let month = 9 + i % 3;
            let line = json!({
                "prompt": prompt,
                "ts": format!("2026-{month:02}-{:02}T10:00:00.000Z", 1 + i % 28),
                "execution_time_ms": (round * RUNS + i) % 997,
                "success": i % 5 != 0,
                "output": format!("round {round} run {i}: {filler}"),
            });
            format!("{line}\n")
        })
        .collect()
}

/// Every log under runs/ and its size.
fn logs(root: &Path) -> BTreeMap<PathBuf, u64> {
    walk(&root.join("runs"))
        .into_iter()
        .map(|p| {
            let len = std::fs::metadata(&p).map_or(0, |m| m.len());
            (p, len)
        })
        .collect()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "jsonl") {
            out.push(p);
        }
    }
    out
}

fn total(sizes: &BTreeMap<PathBuf, u64>) -> u64 {
    sizes.values().sum()
}

/// How a round ends the writer.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// Never: the batch runs to its end.
    Never,
    /// After a random delay up to a bit more than a whole batch takes.
    AfterDelay(Duration),
    /// As soon as the logs start to grow: in the middle of a write.
    WhenWriting,
}

/// One round: start a writer, feed it a batch, kill it (SIGKILL) as `kill` says. Returns
/// whether it was still running when killed.
fn round(env: &TestEnv, n: usize, kill: Kill) -> bool {
    let before = total(&logs(env.root()));
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("ptrack"))
        .args(["record", "--stdin"])
        .current_dir(env.root())
        .env("PTRACK_NOW", NOW)
        .env("HOME", env.root())
        .env("PTRACK_CONFIG_DIR", env.config.path())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ptrack");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = batch(n);
    // The pipe breaks when the writer dies first: that is the point, not an error.
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    match kill {
        Kill::Never => {
            child.wait().expect("wait for the writer");
        }
        Kill::AfterDelay(d) => std::thread::sleep(d),
        Kill::WhenWriting => {
            let start = Instant::now();
            while total(&logs(env.root())) == before
                && start.elapsed() < Duration::from_secs(5)
                && child.try_wait().expect("try_wait").is_none()
            {
                std::hint::spin_loop();
            }
        }
    }
    let running = child.try_wait().expect("try_wait").is_none();
    // SIGKILL on Unix: no destructor, no flush, no unlock but the kernel's.
    let _ = child.kill();
    child.wait().expect("wait for the killed writer");
    feeder.join().expect("feeder thread");
    running
}

fn perf(env: &TestEnv, extra: &[&str]) -> Value {
    let mut args = vec!["performance", "--json"];
    args.extend_from_slice(extra);
    let r = env.run(&args);
    assert!(
        r.code == 0 || r.code == 1,
        "performance {extra:?}: {}",
        r.snapshot()
    );
    r.json()
}

fn perf_runs(perf: &Value) -> u64 {
    perf["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .map(|p| p["all"]["runs"].as_u64().expect("runs"))
        .sum()
}

#[test]
fn writers_killed_mid_batch_leave_valid_lines_named_fragments_and_a_true_cache() {
    let env = TestEnv::init();
    for name in ["p", "q"] {
        env.prompt(name, "1.0", "goal: g\nmodel: m\n", "text\n");
    }

    // A batch that runs to the end, to learn how long one takes here.
    let start = Instant::now();
    round(&env, 0, Kill::Never);
    let whole = start.elapsed();
    let complete_batch = total(&logs(env.root()));
    assert!(complete_batch > 0, "a whole batch was written");

    let seed = 0x5eed_0011;
    let mut rng = fastrand::Rng::with_seed(seed);
    let began = Instant::now();
    let (mut rounds, mut killed_running) = (0, 0);
    for n in 1..=MAX_ROUNDS {
        if n > MIN_ROUNDS && began.elapsed() > BUDGET {
            break;
        }
        let kill = if n % 2 == 0 {
            Kill::WhenWriting
        } else {
            Kill::AfterDelay(whole.mul_f64(rng.f64() * 1.2))
        };
        killed_running += usize::from(round(&env, n, kill));
        rounds += 1;
        // The cache reads the logs between rounds, so the next round appends after what it saw.
        if n % 3 == 0 {
            perf(&env, &[]);
        }
    }

    // Every line with its line end is a valid run (or a fragment a kill left, when a later
    // append started a new line after it); the last line without one can only be a fragment.
    let mut ids = HashSet::new();
    let mut fragments = Vec::new();
    let mut valid = 0u64;
    for (path, _) in logs(env.root()) {
        let text = std::fs::read_to_string(&path).expect("ASCII logs are UTF-8 wherever cut");
        let rel = path
            .strip_prefix(env.root())
            .expect("inside")
            .display()
            .to_string();
        for (i, line) in text.split_inclusive('\n').enumerate() {
            let body = line.strip_suffix('\n').unwrap_or(line);
            match parse_line(body) {
                Ok(Event::Run(r)) => {
                    assert!(
                        line.ends_with('\n'),
                        "{rel}:{}: a run without a line end",
                        i + 1
                    );
                    assert!(
                        ids.insert(r.id.clone()),
                        "{rel}:{}: id {} twice",
                        i + 1,
                        r.id
                    );
                    valid += 1;
                }
                Ok(other) => panic!("{rel}:{}: not a run: {other:?}", i + 1),
                Err(e) => {
                    assert!(
                        e.truncated || !line.ends_with('\n'),
                        "{rel}:{}: a complete line that is not a cut-off run: {}: {body:.120}",
                        i + 1,
                        e.message
                    );
                    fragments.push(format!("{rel}:{}:", i + 1));
                }
            }
        }
    }
    eprintln!(
        "crash test: {rounds} rounds (seed {seed:#x}, a whole batch {whole:?}), {killed_running} \
         writers killed while running, {valid} runs, {} fragments",
        fragments.len()
    );

    // `check` names each fragment, as a warning, at its file and line.
    let check = env.run(&["check"]);
    for f in &fragments {
        let line = check
            .stdout
            .lines()
            .find(|l| l.starts_with(f.as_str()))
            .unwrap_or_else(|| panic!("check does not name {f}:\n{}", check.snapshot()));
        assert!(
            line.contains("warning: incomplete"),
            "{f} is not a torn-write warning: {line}"
        );
    }
    let named = check
        .stdout
        .lines()
        .filter(|l| l.contains("incomplete"))
        .count();
    assert_eq!(named, fragments.len(), "{}", check.snapshot());

    // Each run once, and the cache (filled between rounds) agrees with reading every log.
    let cached = perf(&env, &[]);
    let uncached = perf(&env, &["--no-cache"]);
    assert_eq!(perf_runs(&uncached), valid);
    assert_eq!(cached, uncached);
    // Read again through the cache just written: still the same.
    assert_eq!(perf(&env, &[]), uncached);
}
