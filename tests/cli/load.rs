//! A load of runs posted to `ptrack serve` by concurrent clients, each on one kept-alive
//! connection, and the check that every run is in the logs exactly once. Shared by the test
//! (`serve::concurrent_posts_lose_nothing`) and the benchmark (`cargo bench --bench serve`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// What a load posted.
pub struct Load {
    /// The ids the server answered with, every client's.
    pub ids: Vec<String>,
    /// Requests made.
    pub posts: usize,
    /// From the first post to the last answer.
    pub elapsed: Duration,
}

/// One run object of client `client`, number `i`.
fn run(client: usize, i: usize) -> String {
    format!(
        r#"{{"prompt":"p","ts":"2026-11-2{d}T10:{m:02}:{s:02}Z","execution_time_ms":{ms},"success":{ok},"output":"client {client} run {i}","input":{{"n":{i}}}}}"#,
        d = 1 + i % 3,
        m = i % 60,
        s = client % 60,
        ms = 50 + i % 2000,
        ok = !i.is_multiple_of(11),
    )
}

/// Post `total` runs of prompt `p` from `clients` clients at once: mostly arrays of `batch`
/// runs, and every fifth post a single run object.
pub fn post_runs(addr: SocketAddr, total: usize, clients: usize, batch: usize) -> Load {
    let started = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let share = total / clients + usize::from(c < total % clients);
            std::thread::spawn(move || client(addr, c, share, batch))
        })
        .collect();
    let mut ids = Vec::with_capacity(total);
    let mut posts = 0;
    for h in handles {
        let (i, p) = h.join().expect("a client thread panicked");
        ids.extend(i);
        posts += p;
    }
    Load {
        ids,
        posts,
        elapsed: started.elapsed(),
    }
}

fn client(addr: SocketAddr, c: usize, share: usize, batch: usize) -> (Vec<String>, usize) {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let (mut ids, mut posts, mut sent) = (Vec::with_capacity(share), 0, 0);
    while sent < share {
        let single = posts % 5 == 4;
        let n = if single { 1 } else { batch.min(share - sent) };
        let body = if single {
            run(c, sent)
        } else {
            let runs: Vec<String> = (sent..sent + n).map(|i| run(c, i)).collect();
            format!("[{}]", runs.join(","))
        };
        let head = format!(
            "POST /api/runs HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        writer.write_all(head.as_bytes()).expect("write");
        writer.write_all(body.as_bytes()).expect("write");
        let (status, answer) = read_answer(&mut reader);
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&answer));
        let v: serde_json::Value = serde_json::from_slice(&answer).expect("JSON");
        if single {
            ids.push(v["id"].as_str().expect("id").to_string());
        } else {
            let got = v["recorded"].as_array().expect("recorded");
            assert_eq!(got.len(), n);
            ids.extend(got.iter().map(|i| i.as_str().expect("id").to_string()));
        }
        sent += n;
        posts += 1;
    }
    (ids, posts)
}

/// One answer on a kept-alive connection: its status and body (by Content-Length).
fn read_answer(r: &mut BufReader<TcpStream>) -> (u16, Vec<u8>) {
    let mut status = 0;
    let mut length = 0;
    let mut first = true;
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).expect("read");
        assert!(n > 0, "the server closed the connection");
        if first {
            status = line
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            first = false;
        } else if line == "\r\n" {
            break;
        } else if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().expect("length");
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).expect("body");
    (status, body)
}

/// Every run id in the logs under `runs`, with how many lines have it; panics on a line that
/// is not whole JSON (a torn or interleaved append).
pub fn logged_ids(runs: &Path) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    let mut stack = vec![runs.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jsonl") {
                let text = std::fs::read_to_string(&p).expect("log");
                assert!(
                    text.is_empty() || text.ends_with('\n'),
                    "{} ends mid-line",
                    p.display()
                );
                for line in text.lines() {
                    let v: serde_json::Value = serde_json::from_str(line)
                        .unwrap_or_else(|e| panic!("{}: a torn line ({e}): {line}", p.display()));
                    let id = v["id"].as_str().expect("id").to_string();
                    *out.entry(id).or_insert(0) += 1;
                }
            }
        }
    }
    out
}

/// Check that every id of `load` is logged exactly once, and nothing else is.
pub fn check_exactly_once(load: &Load, runs: &Path) {
    let logged = logged_ids(runs);
    let twice: Vec<_> = logged.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(twice.is_empty(), "runs logged more than once: {twice:?}");
    assert_eq!(logged.len(), load.ids.len(), "runs logged vs answered");
    for id in &load.ids {
        assert!(
            logged.contains_key(id),
            "run {id} was answered but is not logged"
        );
    }
}
