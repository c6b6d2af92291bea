//! The incremental cache of the fast reader: what was read of each run log, kept in
//! `.ptrack/cache/` (git-ignored) so that a later query reads only the bytes appended since.
//!
//! A cached file is reused when its size, modification time, inode and the hashes of its first
//! and last 4 KB are unchanged; it is read on from where it stopped when it only grew (same
//! inode, the old end was a line end, and the hash of all the bytes read before is unchanged,
//! so an edit in the middle followed by an append is noticed); any other change (rewritten,
//! truncated, checked out at another commit) reads it again. Every cache file carries a
//! checksum: an entry that is missing, corrupt, unreadable or from another ptrack version is
//! ignored and rebuilt, so deleting `.ptrack/` is always safe.
//!
//! The cache lives in the project's own `.ptrack/cache`: when `.ptrack` or `.ptrack/cache` is
//! a symbolic link the cache is not used at all (it deletes stale entries, and must never
//! delete or write anywhere else), and entries that are links are never read.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    Built, FastPerformance, FastState, Group, LogSummary, Partial, Rated, add_appended, build,
    figures,
};
use crate::diagnostic::Diagnostic;
use crate::runlog::scan::{LogFile, RunFilter, fan_out, logs};

// Bump the number whenever what an entry holds changes: an older entry is then read again.
const MAGIC: &str = concat!("ptrack-cache-8 ", env!("CARGO_PKG_VERSION"), "\n");
const EDGE: u64 = 4096;

/// What a cached query did, file by file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Files reused as they were.
    pub reused: usize,
    /// Files read on from where the cache stopped.
    pub appended: usize,
    /// Files read from the start.
    pub read: usize,
    /// Bytes read from run logs.
    pub bytes_read: u64,
    /// Whether the figures came from the snapshot of the last query plus the appended runs,
    /// without reading the other logs' cache entries.
    pub from_snapshot: bool,
}

impl std::ops::AddAssign for CacheStats {
    fn add_assign(&mut self, o: CacheStats) {
        self.reused += o.reused;
        self.appended += o.appended;
        self.read += o.read;
        self.bytes_read += o.bytes_read;
        self.from_snapshot |= o.from_snapshot;
    }
}

/// How a file looked when it was cached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct FileState {
    rel: String,
    len: u64,
    mtime_ns: i128,
    inode: u64,
    head: u64,
    tail: u64,
    /// Hash of all `len` bytes (see [`hash_prefix`]).
    prefix: u64,
    /// Lines read, and whether the file ended with a line end.
    lines: usize,
    complete: bool,
}

#[derive(Serialize, Deserialize)]
struct Header {
    state: FileState,
    fallbacks: usize,
    #[serde(default)]
    evals: usize,
    diagnostics: Vec<Diagnostic>,
    ratings: Vec<CachedRating>,
    groups: Vec<GroupHeader>,
}

/// Run id hash, time and tiebreak, score, feedback (see `Rated`), and when that feedback was
/// given.
type CachedRating = (
    u64,
    (DateTime<Utc>, u64),
    f64,
    Option<bool>,
    Option<(DateTime<Utc>, u64)>,
);

#[derive(Serialize, Deserialize)]
struct GroupHeader {
    prompt: String,
    version: String,
    runs: usize,
    fractional: Vec<(usize, f64)>,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    tokens_sum: u64,
    tokens_n: u64,
    length_sum: u64,
    spend: crate::runlog::aggregate::TokenSpend,
    spend_days: Vec<(i32, crate::runlog::aggregate::TokenSpend)>,
    concurrency: Vec<u64>,
    blobs: Vec<(String, super::BlobTotals)>,
}

fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = FastState::with_seed(0xcac4e).build_hasher();
    h.write(b);
    h.finish()
}

/// Hash of the bytes `[from, to)` of `file`.
fn hash_range(file: &mut std::fs::File, from: u64, to: u64) -> std::io::Result<u64> {
    let mut buf = vec![0u8; (to - from) as usize];
    file.seek(SeekFrom::Start(from))?;
    file.read_exact(&mut buf)?;
    Ok(hash_bytes(&buf))
}

/// Hash of the first `len` bytes of `file`, read in blocks of 1 MiB (the blocks are part of
/// the hash: the same bytes always give the same value).
fn hash_prefix(file: &mut std::fs::File, len: u64) -> std::io::Result<u64> {
    const BLOCK: u64 = 1 << 20;
    let mut h = FastState::with_seed(0x009e_3f1b).build_hasher();
    let mut buf = vec![0u8; BLOCK.min(len) as usize];
    file.seek(SeekFrom::Start(0))?;
    let mut at = 0;
    while at < len {
        let n = BLOCK.min(len - at) as usize;
        file.read_exact(&mut buf[..n])?;
        h.write_u64(hash_bytes(&buf[..n]));
        at += n as u64;
    }
    h.write_u64(len);
    Ok(h.finish())
}

/// Size, modification time and inode of the regular file `path` (a link is an error).
fn stat(path: &Path) -> std::io::Result<(u64, i128, u64)> {
    let m = std::fs::symlink_metadata(path)?;
    if !m.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mtime = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i128);
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Ok((m.len(), mtime, inode))
}

fn entry_path(cache_dir: &Path, rel: &str) -> PathBuf {
    cache_dir.join(format!("runs-{:016x}.bin", hash_bytes(rel.as_bytes())))
}

fn write_entry(path: &Path, state: &FileState, p: &Partial) -> std::io::Result<()> {
    let header = Header {
        state: state.clone(),
        fallbacks: p.fallbacks,
        evals: p.evals,
        diagnostics: p.diagnostics.clone(),
        ratings: p
            .ratings
            .iter_with_feedback_time()
            .map(|(k, r, at)| (*k, (r.ts, r.tiebreak), r.quality, r.feedback, at))
            .collect(),
        groups: p
            .groups
            .iter()
            .map(|g| GroupHeader {
                prompt: g.prompt.clone(),
                version: g.version.clone(),
                runs: g.times.len(),
                fractional: g.fractional.iter().map(|(i, q)| (*i, *q)).collect(),
                first: g.first,
                last: g.last,
                tokens_sum: g.tokens_sum,
                tokens_n: g.tokens_n,
                length_sum: g.length_sum,
                spend: g.spend.clone(),
                spend_days: g.spend_days.iter().map(|(d, s)| (*d, s.clone())).collect(),
                concurrency: g.concurrency.iter().copied().collect(),
                blobs: g.blobs.clone(),
            })
            .collect(),
    };
    let json = serde_json::to_vec(&header).map_err(std::io::Error::other)?;
    let mut body = Vec::with_capacity(8 + json.len() + p.groups.len() * 64);
    body.extend_from_slice(&(json.len() as u64).to_le_bytes());
    body.extend_from_slice(&json);
    for g in &p.groups {
        for id in &g.ids {
            body.extend_from_slice(&id.to_le_bytes());
        }
        for t in &g.times {
            body.extend_from_slice(&t.to_le_bytes());
        }
        body.extend_from_slice(&g.flags);
        body.extend_from_slice(&g.quality);
        for d in &g.days {
            body.extend_from_slice(&d.to_le_bytes());
        }
        for b in &g.blob {
            body.extend_from_slice(&b.to_le_bytes());
        }
    }
    let mut file = Vec::with_capacity(MAGIC.len() + 8 + body.len());
    file.extend_from_slice(MAGIC.as_bytes());
    file.extend_from_slice(&hash_bytes(&body).to_le_bytes());
    file.extend_from_slice(&body);
    replace_file(path, &file)
}

/// Write `data` to `path` through a new temporary file beside it and a rename, so a reader
/// sees the old file or the new one; never through a link planted at either name.
fn replace_file(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    {
        let mut w = opts.open(&tmp)?;
        w.write_all(data)?;
    }
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// The whole cache file at `path` (never through a link).
fn read_whole(path: &Path) -> Option<Vec<u8>> {
    let mut f = crate::safe_fs::open_no_link(path).ok()?;
    let len = f.metadata().ok()?.len();
    let mut bytes = Vec::with_capacity(usize::try_from(len).ok()?.saturating_add(1));
    f.read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// The part of a cache file's bytes after its magic line and checksum, when the checksum holds.
fn checked_body(bytes: &[u8]) -> Option<&[u8]> {
    let rest = bytes.strip_prefix(MAGIC.as_bytes())?;
    let sum = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?);
    let body = rest.get(8..)?;
    (hash_bytes(body) == sum).then_some(body)
}

/// The bytes of the cache file `path` after its magic line, when their checksum holds.
fn read_checked(path: &Path) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    crate::safe_fs::open_no_link(path)
        .ok()?
        .read_to_end(&mut bytes)
        .ok()?;
    let rest = bytes.strip_prefix(MAGIC.as_bytes())?;
    let sum = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?);
    let body = rest.get(8..)?;
    (hash_bytes(body) == sum).then(|| body.to_vec())
}

fn read_entry(path: &Path, rel: &str) -> Option<(FileState, Partial)> {
    let rest = read_checked(path)?;
    let rest = rest.as_slice();
    let len = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?) as usize;
    let header: Header = serde_json::from_slice(rest.get(8..8 + len)?).ok()?;
    if header.state.rel != rel {
        return None;
    }
    let mut data = rest.get(8 + len..)?;
    let mut take = |n: usize| -> Option<&[u8]> {
        let (a, b) = (data.get(..n)?, data.get(n..)?);
        data = b;
        Some(a)
    };
    let mut p = Partial {
        fallbacks: header.fallbacks,
        evals: header.evals,
        diagnostics: header.diagnostics,
        ..Partial::default()
    };
    for (k, (ts, tiebreak), quality, feedback, feedback_at) in header.ratings {
        p.ratings.restore(
            k,
            Rated {
                ts,
                tiebreak,
                quality,
                feedback,
            },
            feedback_at,
        );
    }
    for gh in header.groups {
        let n = gh.runs;
        let ids = take(n.checked_mul(8)?)?
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect();
        let times = take(n.checked_mul(8)?)?
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect();
        let flags = take(n)?.to_vec();
        let quality = take(n)?.to_vec();
        let days = take(n.checked_mul(4)?)?
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect();
        let blob: Vec<u32> = take(n.checked_mul(4)?)?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect();
        // An index past the table is a corrupt entry.
        if blob
            .iter()
            .any(|&b| b != super::NO_BLOB && b as usize >= gh.blobs.len())
        {
            return None;
        }
        let i = p.groups.len();
        p.index
            .entry(gh.prompt.clone())
            .or_default()
            .push((gh.version.clone(), i));
        p.groups.push(Group {
            prompt: gh.prompt,
            version: gh.version,
            ids,
            times,
            flags,
            quality,
            fractional: gh.fractional.into_iter().collect::<HashMap<_, _>>(),
            first: gh.first,
            last: gh.last,
            tokens_sum: gh.tokens_sum,
            tokens_n: gh.tokens_n,
            length_sum: gh.length_sum,
            spend: gh.spend,
            days,
            spend_days: gh.spend_days.into_iter().collect(),
            concurrency: gh.concurrency.into_iter().collect(),
            blobs: gh.blobs,
            blob,
        });
    }
    data.is_empty().then_some((header.state, p))
}

/// Read one log through the cache; returns its data and its state (None when not cached).
fn through_cache(
    log: &LogFile,
    cache_dir: &Path,
    buf: &mut Vec<u8>,
    stats: &mut CacheStats,
) -> (Partial, Option<FileState>) {
    let (path, rel, shown) = (log.path.as_path(), log.rel.as_str(), log.shown.as_path());
    let none = RunFilter::default();
    let Ok((len, mtime_ns, inode)) = stat(path) else {
        let mut p = Partial::default();
        p.file(path, shown, &none, buf);
        return (p, None);
    };
    let entry = entry_path(cache_dir, rel);
    let cached = read_entry(&entry, rel);
    let file = std::cell::RefCell::new(crate::safe_fs::open_no_link(path).ok());
    let hash = |from: u64, to: u64| {
        let mut f = file.borrow_mut();
        f.as_mut().and_then(|f| hash_range(f, from, to).ok())
    };
    let prefix = |len: u64| {
        let mut f = file.borrow_mut();
        f.as_mut().and_then(|f| hash_prefix(f, len).ok())
    };
    let head_now = hash(0, len.min(EDGE));
    let (mut p, from, first_line) = match cached {
        Some((old, p))
            if old.len == len
                && old.mtime_ns == mtime_ns
                && old.inode == inode
                && Some(old.head) == head_now
                && Some(old.tail) == hash(len.saturating_sub(EDGE), len) =>
        {
            stats.reused += 1;
            return (p, Some(old));
        }
        Some((old, p))
            if len > old.len
                && old.inode == inode
                && old.complete
                && old.len >= EDGE
                && Some(old.head) == head_now
                && Some(old.tail) == hash(old.len - EDGE, old.len)
                && Some(old.prefix) == prefix(old.len) =>
        {
            stats.appended += 1;
            (p, old.len, old.lines)
        }
        _ => {
            stats.read += 1;
            (Partial::default(), 0, 0)
        }
    };
    stats.bytes_read += len - from;
    let end = p.file_from(path, shown, &none, buf, from, first_line);
    if let (Some((lines, complete)), Some(head), Some(tail), Some(prefix)) = (
        end,
        head_now,
        hash(len.saturating_sub(EDGE), len),
        prefix(len),
    ) {
        let state = FileState {
            rel: rel.to_string(),
            len,
            mtime_ns,
            inode,
            head,
            tail,
            prefix,
            lines,
            complete,
        };
        // A file that changed while it was read is not cached; the next query reads it again.
        if stat(path).is_ok_and(|now| now == (len, mtime_ns, inode))
            && write_entry(&entry, &state, &p).is_ok()
        {
            return (p, Some(state));
        }
    }
    (p, None)
}

/// Read `files` through the cache in `cache_dir` on up to `threads` threads: their merged
/// data, what the cache did, and each file's state (None for a file that was not cached).
pub(super) fn gather(
    files: &[LogFile],
    cache_dir: &Path,
    threads: usize,
) -> (Partial, CacheStats, Vec<Option<FileState>>, Vec<LogSummary>) {
    type Part = (Partial, CacheStats, Vec<Option<FileState>>, Vec<LogSummary>);
    let parts: Vec<Part> = fan_out(files, threads, |share| {
        let mut all = Partial::default();
        let mut stats = CacheStats::default();
        let mut buf = Vec::new();
        let mut states = Vec::new();
        let mut summaries = Vec::new();
        for log in share {
            let (p, state) = through_cache(log, cache_dir, &mut buf, &mut stats);
            summaries.push(p.summary(log));
            all += p;
            states.push(state);
        }
        (all, stats, states, summaries)
    });
    let mut all = Partial::default();
    let mut stats = CacheStats::default();
    let mut states: Vec<Option<FileState>> = Vec::new();
    let mut summaries = Vec::new();
    for (p, s, st, sm) in parts {
        all += p;
        states.extend(st);
        stats += s;
        summaries.extend(sm);
    }
    (all, stats, states, summaries)
}

/// The last result, with the state of every log it was computed from.
#[derive(Serialize, Deserialize)]
struct Index {
    prompt: Option<String>,
    files: Vec<FileState>,
    result: FastPerformance,
}

impl FileState {
    /// Whether `path` still looks exactly as it did (lines and line end are implied by that).
    fn unchanged(&self, path: &Path) -> bool {
        let Ok((len, mtime_ns, inode)) = stat(path) else {
            return false;
        };
        if (len, mtime_ns, inode) != (self.len, self.mtime_ns, self.inode) {
            return false;
        }
        let Ok(mut f) = crate::safe_fs::open_no_link(path) else {
            return false;
        };
        hash_range(&mut f, 0, len.min(EDGE)).ok() == Some(self.head)
            && hash_range(&mut f, len.saturating_sub(EDGE), len).ok() == Some(self.tail)
    }
}

/// The cached result when no log changed since it was computed.
fn unchanged_result(
    cache_dir: &Path,
    prompt: Option<&str>,
    files: &[LogFile],
) -> Option<FastPerformance> {
    let bytes = read_checked(&cache_dir.join("index.json"))?;
    let index: Index = serde_json::from_slice(&bytes).ok()?;
    let same = index.prompt.as_deref() == prompt
        && index.files.len() == files.len()
        && index
            .files
            .iter()
            .zip(files)
            .all(|(state, log)| state.rel == log.rel && state.unchanged(&log.path));
    same.then_some(index.result)
}

/// The snapshot file: every version's builder as of the logs' states in it, times sorted.
const SNAPSHOT: &str = "figures.snapshot";

#[derive(Serialize, Deserialize)]
struct SnapshotHeader {
    prompt: Option<String>,
    files: Vec<FileState>,
    fallbacks: usize,
    diagnostics: Vec<Diagnostic>,
    ids: usize,
    rated: usize,
    groups: Vec<SnapshotGroup>,
}

/// A version's builder but for its times and quality scores, which follow the header.
#[derive(Serialize, Deserialize)]
struct SnapshotGroup {
    prompt: String,
    version: String,
    runs: usize,
    scores: usize,
    tokens_sum: u64,
    tokens_n: u64,
    length_sum: u64,
    successes: usize,
    feedback: usize,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    spend: crate::runlog::aggregate::TokenSpend,
}

/// Write `built` (made from `files` as they are now) as the snapshot.
fn write_snapshot(
    cache_dir: &Path,
    prompt: Option<&str>,
    files: Vec<FileState>,
    built: &Built,
) -> std::io::Result<()> {
    let mut groups = Vec::new();
    for (name, versions) in &built.by_prompt {
        for (_, text, b) in versions {
            groups.push(SnapshotGroup {
                prompt: name.clone(),
                version: text.clone(),
                runs: b.times.len(),
                scores: b.quality.len(),
                tokens_sum: b.tokens_sum,
                tokens_n: b.tokens_n,
                length_sum: b.length_sum,
                successes: b.successes,
                feedback: b.feedback,
                first: b.first,
                last: b.last,
                spend: b.spend.clone(),
            });
        }
    }
    let header = SnapshotHeader {
        prompt: prompt.map(str::to_string),
        files,
        fallbacks: built.fallbacks,
        diagnostics: built.diagnostics.clone(),
        ids: built.ids.len(),
        rated: built.rated.len(),
        groups,
    };
    let json = serde_json::to_vec(&header).map_err(std::io::Error::other)?;
    let runs: usize = header.groups.iter().map(|g| g.runs + g.scores).sum();
    // One buffer: the magic line, room for the checksum, then the body.
    let start = MAGIC.len() + 8;
    let mut file = Vec::with_capacity(
        start + 8 + json.len() + 8 * (built.ids.len() + built.rated.len() + runs),
    );
    file.extend_from_slice(MAGIC.as_bytes());
    file.extend_from_slice(&[0; 8]);
    file.extend_from_slice(&(json.len() as u64).to_le_bytes());
    file.extend_from_slice(&json);
    for id in built.ids.iter().chain(&built.rated) {
        file.extend_from_slice(&id.to_le_bytes());
    }
    for versions in built.by_prompt.values() {
        for (_, _, b) in versions {
            for t in b.times.iter().chain(&b.quality) {
                file.extend_from_slice(&t.to_le_bytes());
            }
        }
    }
    let sum = hash_bytes(&file[start..]);
    file[MAGIC.len()..start].copy_from_slice(&sum.to_le_bytes());
    replace_file(&cache_dir.join(SNAPSHOT), &file)
}

/// The snapshot's logs and builders, when it is intact and was made for `prompt`.
fn read_snapshot(cache_dir: &Path, prompt: Option<&str>) -> Option<(Vec<FileState>, Built)> {
    let bytes = read_whole(&cache_dir.join(SNAPSHOT))?;
    let rest = checked_body(&bytes)?;
    let len = usize::try_from(u64::from_le_bytes(rest.get(..8)?.try_into().ok()?)).ok()?;
    let header: SnapshotHeader =
        serde_json::from_slice(rest.get(8..8usize.checked_add(len)?)?).ok()?;
    if header.prompt.as_deref() != prompt {
        return None;
    }
    let mut data = rest.get(8 + len..)?;
    let mut words = |n: usize| -> Option<&[u8]> {
        let bytes = data.get(..n.checked_mul(8)?)?;
        data = &data[bytes.len()..];
        Some(bytes)
    };
    let u64s = |b: &[u8]| -> Vec<u64> {
        b.chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect()
    };
    let f64s = |b: &[u8]| -> Vec<f64> {
        b.chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect()
    };
    let mut built = Built {
        ids: u64s(words(header.ids)?),
        rated: u64s(words(header.rated)?),
        diagnostics: header.diagnostics,
        fallbacks: header.fallbacks,
        ..Built::default()
    };
    for g in header.groups {
        let times = f64s(words(g.runs)?);
        let quality = f64s(words(g.scores)?);
        let version = g.version.parse().ok()?;
        let b = crate::runlog::aggregate::MetricsBuilder {
            times,
            quality,
            tokens_sum: g.tokens_sum,
            tokens_n: g.tokens_n,
            length_sum: g.length_sum,
            successes: g.successes,
            feedback: g.feedback,
            first: g.first,
            last: g.last,
            spend: g.spend,
        };
        built
            .by_prompt
            .entry(g.prompt)
            .or_default()
            .push((version, g.version, b));
    }
    data.is_empty().then_some((header.files, built))
}

/// The figures when every log is as the snapshot saw it or only grew: the snapshot's builders
/// with the appended runs added, reading nothing but the appended bytes. None when anything
/// else changed, or the appended lines hold what cannot simply be added (see
/// [`add_appended`]); the snapshot and index are then rewritten for the new state.
fn from_snapshot(
    cache_dir: &Path,
    prompt: Option<&str>,
    files: &[LogFile],
    buf: &mut Vec<u8>,
) -> Option<(FastPerformance, CacheStats)> {
    let (old_states, mut built) = read_snapshot(cache_dir, prompt)?;
    if old_states.len() != files.len() {
        return None;
    }
    let none = RunFilter::default();
    let mut stats = CacheStats {
        from_snapshot: true,
        ..CacheStats::default()
    };
    let mut states = Vec::with_capacity(files.len());
    let mut new = Partial::default();
    for (old, log) in old_states.into_iter().zip(files) {
        if old.rel != log.rel {
            return None;
        }
        if old.unchanged(&log.path) {
            stats.reused += 1;
            states.push(old);
            continue;
        }
        let (len, mtime_ns, inode) = stat(&log.path).ok()?;
        let mut f = crate::safe_fs::open_no_link(&log.path).ok()?;
        let grew = len > old.len
            && old.inode == inode
            && old.complete
            && old.len >= EDGE
            && hash_range(&mut f, 0, EDGE).ok()? == old.head
            && hash_range(&mut f, old.len - EDGE, old.len).ok()? == old.tail
            && hash_prefix(&mut f, old.len).ok()? == old.prefix;
        if !grew {
            return None;
        }
        stats.appended += 1;
        stats.bytes_read += len - old.len;
        let mut p = Partial::default();
        let (lines, complete) =
            p.file_from(&log.path, &log.shown, &none, buf, old.len, old.lines)?;
        let state = FileState {
            rel: log.rel.clone(),
            len,
            mtime_ns,
            inode,
            head: old.head,
            tail: hash_range(&mut f, len - EDGE, len).ok()?,
            prefix: hash_prefix(&mut f, len).ok()?,
            lines,
            complete,
        };
        // A log that changed while it was read: the slow path reads it again.
        if stat(&log.path).ok()? != (len, mtime_ns, inode) {
            return None;
        }
        new += p;
        states.push(state);
    }
    add_appended(&mut built, new, prompt)?;
    let _ = std::fs::remove_file(cache_dir.join("index.json"));
    if write_snapshot(cache_dir, prompt, states.clone(), &built).is_err() {
        let _ = std::fs::remove_file(cache_dir.join(SNAPSHOT));
    }
    let result = figures(built);
    write_index(cache_dir, prompt, states, &result);
    Some((result, stats))
}

/// Write the index: `result` and the states of the logs it was computed from.
fn write_index(
    cache_dir: &Path,
    prompt: Option<&str>,
    files: Vec<FileState>,
    result: &FastPerformance,
) {
    #[derive(Serialize)]
    struct IndexRef<'a> {
        prompt: Option<&'a str>,
        files: Vec<FileState>,
        result: &'a FastPerformance,
    }
    let index = IndexRef {
        prompt,
        files,
        result,
    };
    if let Ok(json) = serde_json::to_vec(&index) {
        let mut data = Vec::with_capacity(MAGIC.len() + 8 + json.len());
        data.extend_from_slice(MAGIC.as_bytes());
        data.extend_from_slice(&hash_bytes(&json).to_le_bytes());
        data.extend_from_slice(&json);
        let _ = replace_file(&cache_dir.join("index.json"), &data);
    }
}

/// The cache folder of the project at `root`, relative to it.
pub const CACHE_DIR: &str = ".ptrack/cache";

/// Like [`super::performance`] without a time or version filter (`prompt` may name one
/// prompt), through the cache in `root`'s [`CACHE_DIR`]. `Ok(None)` when two runs share an id;
/// an error when the cache folder cannot be used (it is a symbolic link, or not a folder):
/// nothing was read or written then, and the caller reads without the cache.
pub fn performance_cached(
    runs_dir: &Path,
    display_root: &Path,
    root: &Path,
    prompt: Option<&str>,
    threads: usize,
) -> std::io::Result<Option<(FastPerformance, CacheStats)>> {
    let cache_dir = crate::safe_fs::create_dirs_inside(root, Path::new(CACHE_DIR), true)?;
    Ok(cached_in(
        runs_dir,
        display_root,
        &cache_dir,
        prompt,
        threads,
    ))
}

fn cached_in(
    runs_dir: &Path,
    display_root: &Path,
    cache_dir: &Path,
    prompt: Option<&str>,
    threads: usize,
) -> Option<(FastPerformance, CacheStats)> {
    let filter = RunFilter {
        prompt: prompt.map(str::to_string),
        ..RunFilter::default()
    };
    // The cache never belongs in git (`create_new`: an existing file or link is left alone).
    if let Some(ignore) = cache_dir.parent().map(|d| d.join(".gitignore")) {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        if let Ok(mut f) = opts.open(ignore) {
            let _ = f.write_all(b"*\n");
        }
    }
    let files = logs(runs_dir, display_root, &filter);
    if let Some(result) = unchanged_result(cache_dir, prompt, &files) {
        let stats = CacheStats {
            reused: files.len(),
            ..CacheStats::default()
        };
        return Some((result, stats));
    }
    let mut buf = Vec::new();
    if let Some(done) = from_snapshot(cache_dir, prompt, &files, &mut buf) {
        return Some(done);
    }
    let _ = std::fs::remove_file(cache_dir.join(SNAPSHOT));
    let (all, stats, states, _) = gather(&files, cache_dir, threads);
    // Entries of logs that are gone.
    if let Ok(entries) = std::fs::read_dir(cache_dir) {
        let live: std::collections::HashSet<PathBuf> = files
            .iter()
            .map(|log| entry_path(cache_dir, &log.rel))
            .collect();
        if prompt.is_none() {
            for e in entries.flatten() {
                let p = e.path();
                // `remove_file` on a link removes the link itself, inside the cache folder.
                if p.extension().is_some_and(|x| x == "bin") && !live.contains(&p) {
                    let _ = std::fs::remove_file(p);
                }
            }
        }
    }
    let _ = std::fs::remove_file(cache_dir.join("index.json"));
    let built = build(all, prompt)?;
    let Some(files) = states.into_iter().collect::<Option<Vec<FileState>>>() else {
        return Some((figures(built), stats));
    };
    let _ = write_snapshot(cache_dir, prompt, files.clone(), &built);
    let result = figures(built);
    write_index(cache_dir, prompt, files, &result);
    Some((result, stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runlog::{RunSet, performance};

    fn line(id: usize, prompt: &str, ms: f64) -> String {
        format!(
            "{{\"id\":\"r{id}\",\"ts\":\"2026-11-{:02}T10:00:00.000Z\",\"prompt\":\"{prompt}\",\"version\":\"1.{}\",\"output\":\"{}\",\"execution_time_ms\":{ms},\"success\":{},\"quality_score\":{}}}\n",
            id % 28 + 1,
            id % 3,
            "é✓ text ".repeat(id % 700),
            !id.is_multiple_of(5),
            id % 10 + 1
        )
    }

    fn lines(range: std::ops::Range<usize>, prompt: &str) -> String {
        range
            .map(|i| line(i, prompt, 100.0 + (i * 37 % 1000) as f64))
            .collect()
    }

    struct Env {
        dir: tempfile::TempDir,
    }

    impl Env {
        fn runs(&self) -> PathBuf {
            self.dir.path().join("runs")
        }

        fn cache(&self) -> PathBuf {
            self.dir.path().join(".ptrack/cache")
        }

        fn write(&self, rel: &str, text: &str) {
            let p = self.runs().join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }

        fn append(&self, rel: &str, text: &str) {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(self.runs().join(rel))
                .expect("open");
            f.write_all(text.as_bytes()).expect("append");
        }

        /// A cached query, checked against the simple reader.
        fn query(&self) -> CacheStats {
            let (fast, stats) =
                performance_cached(&self.runs(), Path::new("runs"), self.dir.path(), None, 2)
                    .expect("the cache folder")
                    .expect("no duplicate ids");
            let simple = RunSet::load(&self.runs(), Path::new("runs"), &RunFilter::default());
            assert_eq!(fast.prompts, performance(&simple.runs));
            let mut a: Vec<String> = fast.diagnostics.iter().map(ToString::to_string).collect();
            let mut b: Vec<String> = simple.diagnostics.iter().map(ToString::to_string).collect();
            a.sort();
            b.sort();
            assert_eq!(a, b);
            stats
        }
    }

    fn env() -> Env {
        let e = Env {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        e.write("a/2026-11.jsonl", &lines(0..300, "a"));
        e.write("b/2026-11.jsonl", &lines(300..600, "b"));
        e
    }

    #[test]
    fn a_second_query_reads_nothing_and_an_append_only_the_new_bytes() {
        let e = env();
        let first = e.query();
        assert_eq!((first.read, first.reused, first.appended), (2, 0, 0));
        let second = e.query();
        assert_eq!((second.read, second.reused, second.bytes_read), (0, 2, 0));
        let more = lines(600..650, "a");
        e.append("a/2026-11.jsonl", &more);
        let third = e.query();
        assert_eq!((third.read, third.reused, third.appended), (0, 1, 1));
        assert_eq!(
            third.bytes_read,
            more.len() as u64,
            "only the appended bytes"
        );
    }

    /// Runs of `prompt` 1.1 with times and scores that are not whole numbers, so that the
    /// order they are summed in would show in the last bits.
    fn fractional(range: std::ops::Range<usize>, prompt: &str, month: u32) -> String {
        range
            .map(|i| {
                format!(
                    "{{\"id\":\"f{i}\",\"ts\":\"2026-{month:02}-{:02}T10:00:00.000Z\",\"prompt\":\"{prompt}\",\"version\":\"1.1\",\"execution_time_ms\":{},\"success\":{},\"quality_score\":{}}}\n",
                    i % 28 + 1,
                    0.1 + (i * 7919 % 1013) as f64 / 3.0,
                    i % 3 != 0,
                    1.0 + (i % 17) as f64 / 7.0
                )
            })
            .collect()
    }

    #[test]
    fn appended_runs_are_added_to_the_snapshot_with_the_simple_readers_figures() {
        let e = env();
        // Version 1.1 of `a` spans two logs; appending to the earlier one puts the new runs
        // in the middle of the version's runs in log order.
        e.write("a/2026-10.jsonl", &fractional(1000..1400, "a", 10));
        e.write("a/2026-12.jsonl", &fractional(2000..2300, "a", 12));
        assert!(!e.query().from_snapshot, "the first query reads every log");
        for (round, range) in [(0, 3000..3050), (1, 3050..3051), (2, 3051..3300)] {
            let more =
                fractional(range, "a", 10) + &lines(5000 + round * 10..5010 + round * 10, "a");
            e.append("a/2026-10.jsonl", &more);
            let stats = e.query();
            assert!(stats.from_snapshot, "round {round}: {stats:?}");
            assert_eq!((stats.read, stats.appended, stats.reused), (0, 1, 3));
            assert_eq!(stats.bytes_read, more.len() as u64);
        }
        // Appends to two logs, one of them a new prompt's version.
        e.append("b/2026-11.jsonl", &lines(6000..6020, "c"));
        e.append("a/2026-12.jsonl", &fractional(7000..7010, "a", 12));
        let stats = e.query();
        assert!(stats.from_snapshot && stats.appended == 2, "{stats:?}");
        // Nothing new: the index answers.
        let stats = e.query();
        assert_eq!((stats.reused, stats.from_snapshot), (4, false));
    }

    #[test]
    fn appended_lines_that_cannot_simply_be_added_read_through_the_cache() {
        let e = env();
        e.query();
        // A rating (of an old run), a bad line, and the second text of a version.
        let rating = "{\"type\":\"rating\",\"run_id\":\"r3\",\"ts\":\"2026-11-20T00:00:00Z\",\"quality_score\":2.5}\n";
        for (what, text) in [("rating", rating), ("bad line", "{\"id\": 1}\n")] {
            e.append("a/2026-11.jsonl", text);
            let stats = e.query();
            assert!(!stats.from_snapshot, "{what}: {stats:?}");
            assert_eq!((stats.read, stats.appended), (0, 1), "{what}");
            // The snapshot was made again: plain runs after it are added to it.
            e.append(
                "a/2026-11.jsonl",
                &lines(800 + what.len()..801 + what.len(), "a"),
            );
            assert!(e.query().from_snapshot, "{what}");
        }
        // A new run whose id was rated before: the rating applies to it.
        e.append("a/2026-11.jsonl", &lines(900..901, "a"));
        e.append("b/2026-11.jsonl", &rating.replace("r3", "r901"));
        e.query();
        e.append(
            "a/2026-11.jsonl",
            &line(902, "a", 5.0).replace("r902", "r901x"),
        );
        assert!(e.query().from_snapshot);
        e.append("a/2026-11.jsonl", &rating.replace("r3", "r903"));
        e.query();
        let stats = {
            e.append("a/2026-11.jsonl", &line(903, "a", 7.5));
            e.query()
        };
        assert!(
            !stats.from_snapshot,
            "a run rated before it was logged: {stats:?}"
        );
        // A second text of version 1.1, and an id seen before: the simple reader decides.
        for text in [
            line(950, "a", 1.0).replace("\"1.2\"", "\"1.02\""),
            line(0, "a", 1.0),
        ] {
            e.append("b/2026-11.jsonl", &text);
            let got = performance_cached(&e.runs(), Path::new("runs"), e.dir.path(), None, 2)
                .expect("the cache folder");
            assert!(got.is_none(), "{text}");
        }
    }

    #[test]
    fn a_corrupt_or_missing_snapshot_is_made_again() {
        let e = env();
        e.query();
        let snapshot = e.cache().join(SNAPSHOT);
        let mut bytes = std::fs::read(&snapshot).expect("snapshot");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&snapshot, &bytes).expect("write");
        e.append("a/2026-11.jsonl", &lines(700..710, "a"));
        let stats = e.query();
        assert!(!stats.from_snapshot && stats.appended == 1, "{stats:?}");
        std::fs::remove_file(&snapshot).expect("rm");
        e.append("a/2026-11.jsonl", &lines(710..720, "a"));
        assert!(!e.query().from_snapshot);
        e.append("a/2026-11.jsonl", &lines(720..730, "a"));
        assert!(e.query().from_snapshot);
    }

    #[test]
    fn every_other_change_reads_the_file_again() {
        let e = env();
        e.query();
        // Rewritten with the same length: the first bytes differ.
        let text = std::fs::read_to_string(e.runs().join("a/2026-11.jsonl")).expect("read");
        e.write("a/2026-11.jsonl", &text.replacen("\"r0\"", "\"x0\"", 1));
        assert_eq!(e.query().read, 1);
        // Truncated.
        let text = std::fs::read_to_string(e.runs().join("b/2026-11.jsonl")).expect("read");
        let half = text.len() / 2;
        let cut = half
            + text.as_bytes()[half..]
                .iter()
                .position(|&b| b == b'\n')
                .expect("line")
            + 1;
        e.write("b/2026-11.jsonl", &text[..cut]);
        assert_eq!(e.query().read, 1);
        // Grown, but not by appending (an earlier line changed too, as a checkout would do).
        let text = std::fs::read_to_string(e.runs().join("b/2026-11.jsonl")).expect("read");
        let pos = text.rfind("\"execution_time_ms\":").expect("field") + 20;
        let mut bytes = text.into_bytes();
        bytes[pos] = if bytes[pos] == b'9' { b'8' } else { b'9' };
        let changed = String::from_utf8(bytes).expect("utf8") + &lines(700..710, "b");
        e.write("b/2026-11.jsonl", &changed);
        assert_eq!(e.query().read, 1);
        // A deleted log disappears from the figures and from the cache.
        std::fs::remove_file(e.runs().join("a/2026-11.jsonl")).expect("rm");
        e.query();
        let entries = std::fs::read_dir(e.cache())
            .expect("cache")
            .flatten()
            .filter(|x| x.path().extension().is_some_and(|x| x == "bin"))
            .count();
        assert_eq!(entries, 1);
    }

    #[test]
    fn a_torn_line_a_corrupt_entry_or_no_cache_at_all_are_safe() {
        let e = env();
        e.append("a/2026-11.jsonl", "{\"id\":\"torn\",\"ts\"");
        e.query();
        // The writer starts a new line after a torn one; the cache must not glue them.
        e.append("a/2026-11.jsonl", &format!("\n{}", lines(900..905, "a")));
        assert_eq!(e.query().read, 1);
        for entry in std::fs::read_dir(e.cache()).expect("cache").flatten() {
            std::fs::write(entry.path(), b"garbage").expect("corrupt");
        }
        assert_eq!(e.query().read, 2);
        std::fs::remove_dir_all(e.dir.path().join(".ptrack")).expect("rm");
        assert_eq!(e.query().read, 2);
    }

    #[test]
    fn an_edit_in_the_middle_then_an_append_reads_the_file_again() {
        let e = env();
        e.query();
        let path = e.runs().join("a/2026-11.jsonl");
        let text = std::fs::read_to_string(&path).expect("read");
        // Same length, far from both ends: only the prefix hash can see it.
        let mut bytes = text.into_bytes();
        let mid = bytes.len() / 2;
        let key = b"\"execution_time_ms\":";
        let at = mid
            + bytes[mid..]
                .windows(key.len())
                .position(|w| w == key)
                .expect("field")
            + key.len();
        bytes[at] = if bytes[at] == b'9' { b'8' } else { b'9' };
        std::fs::write(&path, &bytes).expect("write");
        e.append("a/2026-11.jsonl", &lines(650..660, "a"));
        let stats = e.query();
        assert_eq!((stats.read, stats.appended, stats.reused), (1, 0, 1));
    }

    #[test]
    fn a_cache_file_with_a_flipped_byte_is_discarded_and_rebuilt() {
        let e = env();
        e.query();
        // Change the figures of a log so that the index is not used, then corrupt every entry
        // and the snapshot past its magic line: a stored time or score, not the structure.
        e.append("b/2026-11.jsonl", &lines(700..701, "b"));
        for entry in std::fs::read_dir(e.cache()).expect("cache").flatten() {
            let p = entry.path();
            if p.extension().is_some_and(|x| x == "bin" || x == "snapshot") {
                let mut b = std::fs::read(&p).expect("read");
                let last = b.len() - 3;
                b[last] ^= 0x40;
                std::fs::write(&p, b).expect("corrupt");
            }
        }
        // `query` checks the figures against the simple reader.
        let stats = e.query();
        assert_eq!((stats.read, stats.appended), (2, 0));
        // The index too: a flipped digit in its JSON is noticed, not served.
        let index = e.cache().join("index.json");
        let mut b = std::fs::read(&index).expect("index");
        let digit = b.iter().rposition(u8::is_ascii_digit).expect("a digit");
        b[digit] = if b[digit] == b'1' { b'2' } else { b'1' };
        std::fs::write(&index, b).expect("corrupt");
        let stats = e.query();
        assert_eq!(stats.reused, 2, "the entries are still good");
    }

    #[cfg(unix)]
    #[test]
    fn a_linked_cache_folder_is_not_used_and_nothing_outside_is_touched() {
        use std::os::unix::fs::symlink;
        let e = env();
        let outside = tempfile::tempdir().expect("tmp");
        let victims = ["index.json", "keep.bin", "runs-0000000000000000.bin"];
        for v in victims {
            std::fs::write(outside.path().join(v), "precious").expect("write");
        }
        std::fs::create_dir_all(e.dir.path().join(".ptrack")).expect("mkdir");
        symlink(outside.path(), e.cache()).expect("link");
        let got = performance_cached(&e.runs(), Path::new("runs"), e.dir.path(), None, 1);
        let Err(err) = got else {
            panic!("a linked cache folder was used");
        };
        assert!(err.to_string().contains("symbolic link"), "{err}");
        // `.ptrack` itself a link: refused the same way.
        std::fs::remove_file(e.cache()).expect("rm");
        std::fs::remove_dir(e.dir.path().join(".ptrack")).expect("rm");
        symlink(outside.path(), e.dir.path().join(".ptrack")).expect("link");
        assert!(performance_cached(&e.runs(), Path::new("runs"), e.dir.path(), None, 1).is_err());
        let mut left: Vec<String> = std::fs::read_dir(outside.path())
            .expect("dir")
            .flatten()
            .map(|x| x.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["index.json", "keep.bin", "runs-0000000000000000.bin"]
        );
        for v in victims {
            assert_eq!(
                std::fs::read_to_string(outside.path().join(v)).expect("read"),
                "precious"
            );
        }
    }

    #[test]
    fn times_out_of_the_nanosecond_range_and_leap_seconds_survive_the_cache() {
        let e = env();
        let run = |id: &str, ts: &str| {
            format!(
                "{{\"id\":\"{id}\",\"ts\":\"{ts}\",\"prompt\":\"c\",\"version\":\"1.0\",\"success\":true,\"execution_time_ms\":5}}\n"
            )
        };
        let text = [
            run("late", "9999-12-31T23:59:59.999999999Z"),
            run("early", "0000-01-01T00:00:00Z"),
            run("leap", "2026-11-02T23:15:60.5Z"),
            "{\"type\":\"rating\",\"id\":\"x\",\"run_id\":\"leap\",\"ts\":\"2026-11-02T23:59:60Z\",\"quality_score\":4,\"feedback\":\"f\"}\n".to_string(),
            lines(2000..2100, "c"),
        ]
        .concat();
        e.write("c/2026-11.jsonl", &text);
        assert_eq!(e.query().read, 3);
        assert_eq!(e.query().reused, 3);
        e.append("c/2026-11.jsonl", &lines(2100..2110, "c"));
        assert_eq!(e.query().appended, 1);
        let (fast, _) = performance_cached(&e.runs(), Path::new("runs"), e.dir.path(), None, 1)
            .expect("the cache folder")
            .expect("no duplicate ids");
        let c = fast.prompts.iter().find(|p| p.prompt == "c").expect("c");
        let shown = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339());
        assert_eq!(
            shown(c.all.first_run).as_deref(),
            Some("0000-01-01T00:00:00+00:00")
        );
        assert_eq!(
            shown(c.all.last_run).as_deref(),
            Some("9999-12-31T23:59:59.999999999+00:00")
        );
    }
}
