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
//! Beside the entries, a snapshot (`figures.snapshot`) keeps every version's figures with its
//! times sorted, and a delta (`figures.delta`) the runs appended since: a query after an
//! append reads the new bytes and a few checked blocks of the snapshot, not every entry.
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
    Built, FEEDBACK, FRACTIONAL, FastPerformance, FastState, Group, LogSummary, Partial,
    QUALITY_SHIFT, Rated, SUCCESS, add_appended, build, figures,
};
use crate::diagnostic::Diagnostic;
use crate::runlog::scan::{LogFile, RunFilter, fan_out, logs};

// Bump the number whenever what an entry holds changes: an older entry is then read again.
const MAGIC: &str = concat!("ptrack-cache-9 ", env!("CARGO_PKG_VERSION"), "\n");
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
    /// In the snapshot's delta: the state of every log it has read to, and the snapshot it
    /// adds to.
    #[serde(default)]
    files: Vec<FileState>,
    #[serde(default)]
    base: u64,
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
    hash_prefixes(file, len, len).map(|(h, _)| h)
}

/// [`hash_prefix`] of the first `a` and of the first `b` bytes (`a <= b`), reading them once.
fn hash_prefixes(file: &mut std::fs::File, a: u64, b: u64) -> std::io::Result<(u64, u64)> {
    const BLOCK: u64 = 1 << 20;
    let mut ha = FastState::with_seed(0x009e_3f1b).build_hasher();
    let mut hb = FastState::with_seed(0x009e_3f1b).build_hasher();
    let mut buf = vec![0u8; BLOCK.min(b) as usize];
    file.seek(SeekFrom::Start(0))?;
    let mut at = 0;
    while at < b {
        let n = BLOCK.min(b - at);
        file.read_exact(&mut buf[..n as usize])?;
        if at < a {
            ha.write_u64(hash_bytes(&buf[..(a - at).min(n) as usize]));
        }
        hb.write_u64(hash_bytes(&buf[..n as usize]));
        at += n;
    }
    ha.write_u64(a);
    hb.write_u64(b);
    Ok((ha.finish(), hb.finish()))
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
    replace_file(path, &entry_bytes(state, &[], 0, p)?)
}

/// An entry's bytes: `p` read from a log as `state` says (a delta: from the logs in `files`,
/// adding to the snapshot `base`).
fn entry_bytes(
    state: &FileState,
    files: &[FileState],
    base: u64,
    p: &Partial,
) -> std::io::Result<Vec<u8>> {
    let header = Header {
        files: files.to_vec(),
        base,
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
        // Flags, then quality codes (255 for a score in the side table).
        body.extend(g.flags.iter().map(|f| f & (SUCCESS | FEEDBACK)));
        body.extend(g.flags.iter().map(|f| match f >> QUALITY_SHIFT {
            FRACTIONAL => 255,
            q => q,
        }));
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
    Ok(file)
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
    read_entry_with(path, rel).map(|(state, _, _, p)| (state, p))
}

/// An entry's state, logs (a delta's), snapshot (a delta's) and data.
fn read_entry_with(path: &Path, rel: &str) -> Option<(FileState, Vec<FileState>, u64, Partial)> {
    let rest = read_checked(path)?;
    let rest = rest.as_slice();
    let len = usize::try_from(u64::from_le_bytes(rest.get(..8)?.try_into().ok()?)).ok()?;
    let header: Header = serde_json::from_slice(rest.get(8..8usize.checked_add(len)?)?).ok()?;
    if header.state.rel != rel {
        return None;
    }
    let (files, base) = (header.files, header.base);
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
        let flags = take(n)?;
        let quality = take(n)?;
        // A flag or a quality code no run has is a corrupt entry.
        let flags = flags
            .iter()
            .zip(quality)
            .map(|(&f, &q)| {
                let q = match q {
                    0..=10 => q,
                    255 => FRACTIONAL,
                    _ => return None,
                };
                (f & !(SUCCESS | FEEDBACK) == 0).then_some(f | q << QUALITY_SHIFT)
            })
            .collect::<Option<Vec<u8>>>()?;
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
            lean_ids: Default::default(),
            times,
            sorted_times: Default::default(),
            flags,
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
    data.is_empty().then_some((header.state, files, base, p))
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

/// The snapshot file: every version's figures but for its times, which it keeps sorted (and
/// each prompt's times over all its versions), with the sorted id hashes, as of the logs'
/// states in it. Its data is read a few 4 KiB blocks at a time, each checked against its own
/// hash when it is first read, so a query after an append reads a few hundred blocks, not
/// the whole file.
const SNAPSHOT: &str = "figures.snapshot";

/// The runs appended to the logs since the snapshot was written, as one entry (see
/// [`entry_bytes`]) naming the snapshot it adds to and the states of the logs it read to.
const DELTA: &str = "figures.delta";

/// Bytes per checked block of the snapshot's data.
const BLOCK: usize = 4096;

#[derive(Serialize, Deserialize)]
struct SnapshotHeader {
    prompt: Option<String>,
    files: Vec<FileState>,
    fallbacks: usize,
    diagnostics: Vec<Diagnostic>,
    ids: usize,
    rated: usize,
    groups: Vec<SnapshotGroup>,
    prompts: Vec<SnapshotTimes>,
    /// Bytes of data after the header. The header's JSON is followed by the hash of each
    /// [`BLOCK`] of the data, then the first word of each block (the id hashes come first, so
    /// these find the one block an id can be in).
    data_len: u64,
    blocks: usize,
}

/// A run of sorted times in the data: how many, their exact sum and histogram counts.
#[derive(Serialize, Deserialize)]
struct SnapshotTimes {
    name: String,
    runs: usize,
    /// The smallest and largest, when there are any.
    ends: Option<(f64, f64)>,
    sum: crate::stats::ExactSum,
    counts: Vec<u64>,
}

/// A version's builder; its times are in the data.
#[derive(Serialize, Deserialize)]
struct SnapshotGroup {
    prompt: String,
    version: String,
    times: SnapshotTimes,
    quality_sum: crate::stats::ExactSum,
    quality_n: usize,
    tokens_sum: u64,
    tokens_n: u64,
    length_sum: u64,
    successes: usize,
    feedback: usize,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    spend: crate::runlog::aggregate::TokenSpend,
}

/// The snapshot's data, read a block at a time and checked against the block's hash.
#[derive(Debug)]
struct Blocks {
    file: std::sync::Mutex<std::fs::File>,
    /// Where the data starts in the file, and its length.
    start: u64,
    len: u64,
    hashes: Vec<u64>,
    /// The first word of each block.
    fences: Vec<u64>,
    /// Each block once read and checked (None when it could not be read or did not match).
    read: Vec<std::sync::OnceLock<Option<Box<[u8]>>>>,
    /// Set when a block could not be read or did not match its hash.
    failed: std::sync::atomic::AtomicBool,
}

impl Blocks {
    fn fail(&self) -> u64 {
        self.failed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        0
    }

    fn failed(&self) -> bool {
        self.failed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Block `b`, read and checked when first asked for.
    fn block(&self, b: usize) -> Option<&[u8]> {
        let load = || -> Option<Box<[u8]>> {
            let from = (b * BLOCK) as u64;
            let n = usize::try_from(self.len.checked_sub(from)?)
                .ok()?
                .min(BLOCK);
            let mut bytes = vec![0u8; n];
            let mut f = self.file.lock().ok()?;
            f.seek(SeekFrom::Start(self.start + from)).ok()?;
            f.read_exact(&mut bytes).ok()?;
            (hash_bytes(&bytes) == *self.hashes.get(b)?).then(|| bytes.into_boxed_slice())
        };
        self.read.get(b)?.get_or_init(load).as_deref()
    }

    /// The 8-byte word `i` of the data.
    fn word(&self, i: usize) -> u64 {
        let at = i * 8;
        match self.block(at / BLOCK) {
            Some(bytes) => bytes
                .get(at % BLOCK..at % BLOCK + 8)
                .and_then(|w| w.try_into().ok())
                .map_or_else(|| self.fail(), u64::from_le_bytes),
            None => self.fail(),
        }
    }
}

/// `len` words of the snapshot's data from word `start`.
#[derive(Debug)]
struct Column {
    blocks: std::sync::Arc<Blocks>,
    start: usize,
    len: usize,
}

impl crate::runlog::aggregate::SortedValues for Column {
    fn len(&self) -> usize {
        self.len
    }
    fn at(&self, i: usize) -> f64 {
        if i >= self.len {
            return f64::from_bits(self.blocks.fail());
        }
        f64::from_bits(self.blocks.word(self.start + i))
    }
}

impl super::SortedWords for Column {
    fn len(&self) -> usize {
        self.len
    }
    /// A column that starts a block finds the one block `x` can be in from the blocks' first
    /// words, and reads only that block.
    fn contains(&self, x: u64) -> bool {
        const PER_BLOCK: usize = BLOCK / 8;
        // Whether `x` is among the words `range` of this column.
        let search = |range: std::ops::Range<usize>| {
            let (mut lo, mut hi) = (range.start, range.end);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                match super::SortedWords::at(self, mid).cmp(&x) {
                    std::cmp::Ordering::Less => lo = mid + 1,
                    std::cmp::Ordering::Greater => hi = mid,
                    std::cmp::Ordering::Equal => return true,
                }
            }
            false
        };
        if !self.start.is_multiple_of(PER_BLOCK) || self.len == 0 {
            return search(0..self.len);
        }
        let first = self.start / PER_BLOCK;
        let Some(fences) = self
            .blocks
            .fences
            .get(first..first + self.len.div_ceil(PER_BLOCK))
        else {
            return self.blocks.fail() != 0;
        };
        // The last block whose first word is at most `x`.
        match fences.partition_point(|&f| f <= x).checked_sub(1) {
            Some(b) => search(b * PER_BLOCK..((b + 1) * PER_BLOCK).min(self.len)),
            None => false,
        }
    }
    fn at(&self, i: usize) -> u64 {
        if i >= self.len {
            return self.blocks.fail();
        }
        self.blocks.word(self.start + i)
    }
}

/// An open snapshot: its header, its data, and its id (the hash of its header).
struct Snapshot {
    header: SnapshotHeader,
    blocks: std::sync::Arc<Blocks>,
    id: u64,
}

/// The times and histogram counts a run of sorted times is written with.
fn times_entry(name: &str, times: &[f64]) -> SnapshotTimes {
    SnapshotTimes {
        name: name.to_string(),
        runs: times.len(),
        ends: times.first().copied().zip(times.last().copied()),
        sum: crate::stats::ExactSum::of(times),
        counts: crate::runlog::aggregate::DurationHistogram::of(times).counts,
    }
}

/// Write `built` (made from `files` as they are now; every time in memory, none in a
/// [`SortedBase`]) as the snapshot, and remove the delta.
fn write_snapshot(
    cache_dir: &Path,
    prompt: Option<&str>,
    files: Vec<FileState>,
    built: &Built,
) -> std::io::Result<()> {
    let _ = std::fs::remove_file(cache_dir.join(DELTA));
    if built.ids.base.is_some() || built.rated.base.is_some() || !built.all_base.is_empty() {
        return Err(std::io::Error::other(
            "a snapshot is written from runs in memory",
        ));
    }
    let mut data: Vec<u8> = Vec::new();
    let mut words = |xs: &mut dyn Iterator<Item = u64>| {
        for x in xs {
            data.extend_from_slice(&x.to_le_bytes());
        }
    };
    words(&mut built.ids.own.iter().copied());
    words(&mut built.rated.own.iter().copied());
    let mut groups = Vec::new();
    let mut prompts = Vec::new();
    for (name, versions) in &built.by_prompt {
        for (_, text, b) in versions {
            if b.base.is_some() {
                return Err(std::io::Error::other(
                    "a snapshot is written from runs in memory",
                ));
            }
            words(&mut b.times.iter().map(|t| t.to_bits()));
            groups.push(SnapshotGroup {
                prompt: name.clone(),
                version: text.clone(),
                times: times_entry(text, &b.times),
                quality_sum: b.quality_sum.clone(),
                quality_n: b.quality_n,
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
        let all = super::merge_many(
            versions
                .iter()
                .map(|(_, _, b)| b.times.as_slice())
                .collect(),
        );
        words(&mut all.iter().map(|t| t.to_bits()));
        prompts.push(times_entry(name, &all));
    }
    let header = SnapshotHeader {
        prompt: prompt.map(str::to_string),
        files,
        fallbacks: built.fallbacks,
        diagnostics: built.diagnostics.clone(),
        ids: built.ids.own.len(),
        rated: built.rated.own.len(),
        groups,
        prompts,
        data_len: data.len() as u64,
        blocks: data.len().div_ceil(BLOCK),
    };
    let json = serde_json::to_vec(&header).map_err(std::io::Error::other)?;
    let mut head = json;
    for block in data.chunks(BLOCK) {
        head.extend_from_slice(&hash_bytes(block).to_le_bytes());
    }
    for block in data.chunks(BLOCK) {
        let mut first = [0u8; 8];
        first[..block.len().min(8)].copy_from_slice(&block[..block.len().min(8)]);
        head.extend_from_slice(&first);
    }
    let mut file = Vec::with_capacity(MAGIC.len() + 24 + head.len() + data.len());
    file.extend_from_slice(MAGIC.as_bytes());
    file.extend_from_slice(&hash_bytes(&head).to_le_bytes());
    file.extend_from_slice(&(head.len() as u64 - 16 * header.blocks as u64).to_le_bytes());
    file.extend_from_slice(&head);
    file.extend_from_slice(&data);
    replace_file(&cache_dir.join(SNAPSHOT), &file)
}

impl Snapshot {
    /// The snapshot in `cache_dir` when its header is intact and it was made for `prompt`
    /// (its data is checked as it is read).
    fn open(cache_dir: &Path, prompt: Option<&str>) -> Option<Snapshot> {
        let mut f = crate::safe_fs::open_no_link(&cache_dir.join(SNAPSHOT)).ok()?;
        let file_len = f.metadata().ok()?.len();
        let mut head = vec![0u8; MAGIC.len() + 16];
        f.read_exact(&mut head).ok()?;
        let rest = head.strip_prefix(MAGIC.as_bytes())?;
        let sum = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?);
        let json_len = u64::from_le_bytes(rest.get(8..16)?.try_into().ok()?);
        let json_len = usize::try_from(json_len).ok()?;
        if json_len as u64 > file_len {
            return None;
        }
        // The JSON, then as much of the block table as a first read brings.
        let mut rest = vec![0u8; json_len];
        f.read_exact(&mut rest).ok()?;
        let header: SnapshotHeader = serde_json::from_slice(&rest).ok()?;
        let table = header.blocks.checked_mul(16)?;
        let start = (head.len() as u64)
            .checked_add(json_len as u64)?
            .checked_add(table as u64)?;
        if start > file_len {
            return None;
        }
        rest.resize(json_len + table, 0);
        f.read_exact(&mut rest[json_len..]).ok()?;
        if hash_bytes(&rest) != sum {
            return None;
        }
        let word = |c: &[u8]| u64::from_le_bytes(c.try_into().unwrap_or_default());
        let (hashes, fences) = rest[json_len..].split_at(header.blocks * 8);
        let hashes: Vec<u64> = hashes.chunks_exact(8).map(word).collect();
        let fences: Vec<u64> = fences.chunks_exact(8).map(word).collect();
        // A cache file may come from anywhere (a clone, a crafted file): every count is checked.
        let words = [header.ids, header.rated]
            .into_iter()
            .chain(header.groups.iter().map(|g| g.times.runs))
            .chain(header.prompts.iter().map(|p| p.runs))
            .try_fold(0usize, usize::checked_add)?;
        let buckets = crate::alerts::DURATION_BUCKETS_MS.len() + 1;
        let sound = |t: &SnapshotTimes| {
            t.counts.len() == buckets
                && t.counts.iter().try_fold(0u64, |a, &c| a.checked_add(c)) == Some(t.runs as u64)
                && t.ends.is_some() == (t.runs > 0)
        };
        let groups_sound = header.groups.iter().all(|g| {
            sound(&g.times)
                && g.quality_n <= g.times.runs
                && g.successes <= g.times.runs
                && g.feedback <= g.times.runs
                && g.tokens_n <= g.times.runs as u64
        });
        // Each prompt's runs are its versions' (which follow in the same order).
        let mut runs_by_prompt: HashMap<&str, usize> = HashMap::new();
        for g in &header.groups {
            let n = runs_by_prompt.entry(g.prompt.as_str()).or_default();
            *n = n.saturating_add(g.times.runs);
        }
        let prompts_sound = header.prompts.len() == runs_by_prompt.len()
            && header
                .prompts
                .iter()
                .all(|p| sound(p) && runs_by_prompt.get(p.name.as_str()) == Some(&p.runs));
        if !groups_sound
            || !prompts_sound
            || header.prompt.as_deref() != prompt
            || start.checked_add(header.data_len)? != file_len
            || (words as u64).checked_mul(8)? != header.data_len
            || header.blocks != usize::try_from(header.data_len).ok()?.div_ceil(BLOCK)
        {
            return None;
        }
        let blocks = std::sync::Arc::new(Blocks {
            file: std::sync::Mutex::new(f),
            start,
            len: header.data_len,
            read: (0..header.blocks)
                .map(|_| std::sync::OnceLock::new())
                .collect(),
            hashes,
            fences,
            failed: Default::default(),
        });
        Some(Snapshot {
            header,
            blocks,
            id: sum,
        })
    }

    /// The builders, their times left in the snapshot.
    fn built(&mut self) -> Option<Built> {
        let h = &mut self.header;
        let mut at = 0;
        let mut column = |len: usize| {
            let c = Column {
                blocks: self.blocks.clone(),
                start: at,
                len,
            };
            at += len;
            std::sync::Arc::new(c)
        };
        let mut built = Built {
            ids: super::Ids {
                base: Some(column(h.ids)),
                own: Vec::new(),
            },
            rated: super::Ids {
                base: Some(column(h.rated)),
                own: Vec::new(),
            },
            diagnostics: std::mem::take(&mut h.diagnostics),
            fallbacks: h.fallbacks,
            ..Built::default()
        };
        let base = |t: SnapshotTimes, values: std::sync::Arc<Column>| super::SortedBase {
            values,
            sum: t.sum,
            counts: t.counts,
            ends: t.ends,
        };
        let mut groups = std::mem::take(&mut h.groups).into_iter().peekable();
        for p in std::mem::take(&mut h.prompts) {
            let mut versions = Vec::new();
            while let Some(g) = groups.next_if(|g| g.prompt == p.name) {
                let version = g.version.parse().ok()?;
                let values = column(g.times.runs);
                let b = crate::runlog::aggregate::MetricsBuilder {
                    times: Vec::new(),
                    quality_sum: g.quality_sum,
                    quality_n: g.quality_n,
                    tokens_sum: g.tokens_sum,
                    tokens_n: g.tokens_n,
                    length_sum: g.length_sum,
                    successes: g.successes,
                    feedback: g.feedback,
                    first: g.first,
                    last: g.last,
                    spend: g.spend,
                    base: Some(base(g.times, values)),
                };
                versions.push((version, g.version, b));
            }
            let values = column(p.runs);
            let name = p.name.clone();
            built.all_base.insert(name.clone(), base(p, values));
            built.by_prompt.insert(name, versions);
        }
        groups.next().is_none().then_some(built)
    }
}

/// `built` with every time and id read from the snapshot into memory (every block checked).
fn materialize(mut built: Built, blocks: &Blocks) -> Option<Built> {
    let column_of = |v: &std::sync::Arc<dyn crate::runlog::aggregate::SortedValues>| {
        (0..v.len()).map(|i| v.at(i)).collect::<Vec<f64>>()
    };
    for versions in built.by_prompt.values_mut() {
        for (_, _, b) in versions.iter_mut() {
            if let Some(base) = b.base.take() {
                b.times = super::merge_sorted(&column_of(&base.values), &b.times);
            }
        }
    }
    built.all_base.clear();
    for ids in [&mut built.ids, &mut built.rated] {
        if let Some(base) = ids.base.take() {
            let old: Vec<u64> = (0..base.len()).map(|i| base.at(i)).collect();
            ids.own = super::merge_sorted_ids(&old, &ids.own);
        }
    }
    (!blocks.failed()).then_some(built)
}

/// The figures when every log is as the snapshot (and its delta) saw it or only grew: the
/// snapshot's figures with every appended run added, reading only the bytes appended since
/// the last query and a few blocks of the snapshot. None when anything else changed, the
/// appended lines hold what cannot simply be added (see [`add_appended`]), or a block of the
/// snapshot is damaged; the caller then reads through the per-log entries and writes a new
/// snapshot. When the appended runs come to an eighth of the snapshot's, a new snapshot
/// holds them all.
fn from_snapshot(
    cache_dir: &Path,
    prompt: Option<&str>,
    files: &[LogFile],
    buf: &mut Vec<u8>,
) -> Option<(FastPerformance, CacheStats)> {
    let mut snap = Snapshot::open(cache_dir, prompt)?;
    let delta_path = cache_dir.join(DELTA);
    let (old_states, mut delta) = match read_entry_with(&delta_path, DELTA) {
        Some((_, files, base, p)) if base == snap.id => (files, p),
        _ => (snap.header.files.clone(), Partial::default()),
    };
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
            && hash_range(&mut f, old.len - EDGE, old.len).ok()? == old.tail;
        if !grew {
            return None;
        }
        let (old_prefix, prefix) = hash_prefixes(&mut f, old.len, len).ok()?;
        if old_prefix != old.prefix {
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
            prefix,
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
    let changed = stats.appended > 0;
    if changed {
        delta += new;
    }
    let delta_runs: usize = delta.groups.iter().map(|g| g.times.len()).sum();
    let base_runs = snap.header.ids;
    let delta_entry = if changed {
        let state = FileState {
            rel: DELTA.to_string(),
            len: 0,
            mtime_ns: 0,
            inode: 0,
            head: 0,
            tail: 0,
            prefix: 0,
            lines: 0,
            complete: true,
        };
        entry_bytes(&state, &states, snap.id, &delta).ok()
    } else {
        None
    };
    let mut built = snap.built()?;
    add_appended(&mut built, delta, prompt)?;
    if delta_runs > (base_runs / 8).max(DELTA_MIN) {
        let built = materialize(built, &snap.blocks)?;
        if write_snapshot(cache_dir, prompt, states.clone(), &built).is_err() {
            let _ = std::fs::remove_file(cache_dir.join(SNAPSHOT));
        }
        let result = figures(built);
        write_index(cache_dir, prompt, states, &result);
        return Some((result, stats));
    }
    let result = figures(built);
    if snap.blocks.failed() {
        return None;
    }
    if let Some(bytes) = delta_entry {
        let _ = std::fs::remove_file(cache_dir.join("index.json"));
        if replace_file(&delta_path, &bytes).is_err() {
            let _ = std::fs::remove_file(&delta_path);
            let _ = std::fs::remove_file(cache_dir.join(SNAPSHOT));
        }
    }
    write_index(cache_dir, prompt, states, &result);
    Some((result, stats))
}

/// The fewest appended runs that make a new snapshot (else an eighth of the snapshot's).
#[cfg(not(test))]
const DELTA_MIN: usize = 65_536;
#[cfg(test)]
const DELTA_MIN: usize = 50;

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
    let _ = std::fs::remove_file(cache_dir.join(DELTA));
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
            assert_eq!(
                fast.histograms,
                crate::runlog::aggregate::histograms(&simple.runs)
            );
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
    fn appended_runs_wait_in_the_delta_until_there_are_enough_for_a_new_snapshot() {
        let e = env();
        e.query();
        let (snapshot, delta) = (e.cache().join(SNAPSHOT), e.cache().join(DELTA));
        let first = std::fs::read(&snapshot).expect("snapshot");
        // A few runs: kept in the delta, the snapshot as it was.
        for round in 0..3 {
            e.append(
                "a/2026-11.jsonl",
                &lines(700 + round * 5..705 + round * 5, "a"),
            );
            let stats = e.query();
            assert!(stats.from_snapshot, "{stats:?}");
            assert!(delta.exists(), "round {round}");
            assert_eq!(std::fs::read(&snapshot).expect("snapshot"), first);
        }
        // More than an eighth of the snapshot's 600 runs (and than DELTA_MIN, 50 in tests): a
        // new snapshot holds them all.
        e.append("b/2026-11.jsonl", &lines(800..900, "b"));
        assert!(e.query().from_snapshot);
        assert!(!delta.exists());
        assert_ne!(std::fs::read(&snapshot).expect("snapshot"), first);
        // A delta made for another snapshot is not used: the logs are read on from the
        // snapshot's own states.
        e.append("a/2026-11.jsonl", &lines(900..905, "a"));
        assert!(e.query().from_snapshot);
        assert!(delta.exists());
        let stale = std::fs::read(&delta).expect("delta");
        e.append("a/2026-11.jsonl", &lines(905..1000, "a"));
        e.query();
        std::fs::write(&delta, &stale).expect("write");
        e.append("a/2026-11.jsonl", &lines(1000..1003, "a"));
        let stats = e.query();
        assert!(stats.from_snapshot, "{stats:?}");
        assert_eq!(stats.bytes_read, lines(1000..1003, "a").len() as u64);
    }

    #[test]
    fn an_appended_run_with_an_id_from_any_block_of_the_snapshot_is_found() {
        let e = env();
        // 3,000 more runs: their id hashes fill several blocks.
        let big = lines(1000..4000, "c");
        e.write("c/2026-11.jsonl", &big);
        e.query();
        for id in [0, 299, 300, 1000, 1777, 2500, 3999] {
            let dup = line(id, if id < 300 { "a" } else { "c" }, 3.0);
            e.append("c/2026-11.jsonl", &dup);
            let got = performance_cached(&e.runs(), Path::new("runs"), e.dir.path(), None, 2)
                .expect("the cache folder");
            assert!(got.is_none(), "r{id} is counted once, by the simple reader");
            // Back to the logs as they were; the next query makes the snapshot again.
            e.write("c/2026-11.jsonl", &big);
            e.query();
            e.append("c/2026-11.jsonl", &lines(5000 + id..5001 + id, "c"));
            assert!(e.query().from_snapshot, "r{id}");
            e.write("c/2026-11.jsonl", &big);
            e.query();
        }
    }

    /// Rewrite the snapshot's header with `edit`, with a checksum that holds, as someone
    /// crafting the file could.
    fn craft_snapshot(path: &Path, edit: impl Fn(&mut serde_json::Value)) {
        let bytes = std::fs::read(path).expect("snapshot");
        let rest = &bytes[MAGIC.len()..];
        let json_len = u64::from_le_bytes(rest[8..16].try_into().expect("len")) as usize;
        let mut header: serde_json::Value =
            serde_json::from_slice(&rest[16..16 + json_len]).expect("header");
        let blocks = header["blocks"].as_u64().expect("blocks") as usize;
        let table = &rest[16 + json_len..16 + json_len + 16 * blocks];
        let data = &rest[16 + json_len + 16 * blocks..];
        edit(&mut header);
        let mut head = serde_json::to_vec(&header).expect("json");
        let new_len = head.len() as u64;
        head.extend_from_slice(table);
        let mut out = MAGIC.as_bytes().to_vec();
        out.extend_from_slice(&hash_bytes(&head).to_le_bytes());
        out.extend_from_slice(&new_len.to_le_bytes());
        out.extend_from_slice(&head);
        out.extend_from_slice(data);
        std::fs::write(path, out).expect("write");
    }

    #[test]
    fn a_crafted_snapshot_with_impossible_counts_is_not_used() {
        let e = env();
        let snapshot = e.cache().join(SNAPSHOT);
        let edits: &[fn(&mut serde_json::Value)] = &[
            |h| h["ids"] = serde_json::json!(u64::MAX),
            |h| h["ids"] = serde_json::json!(u64::MAX / 2 + 7),
            |h| h["blocks"] = serde_json::json!(u64::MAX / 8),
            |h| h["data_len"] = serde_json::json!(u64::MAX),
            |h| h["groups"][0]["times"]["runs"] = serde_json::json!(u64::MAX),
            |h| {
                h["groups"][0]["times"]["runs"] = serde_json::json!(u64::MAX);
                h["groups"][1]["times"]["runs"] = serde_json::json!(u64::MAX);
            },
            |h| h["groups"][0]["successes"] = serde_json::json!(u64::MAX),
            |h| h["groups"][0]["times"]["counts"] = serde_json::json!([]),
            |h| h["prompts"] = serde_json::json!([]),
        ];
        for (i, edit) in edits.iter().enumerate() {
            e.query();
            craft_snapshot(&snapshot, edit);
            e.append("a/2026-11.jsonl", &lines(3000 + i * 2..3002 + i * 2, "a"));
            // The figures are checked against the simple reader's.
            e.query();
        }
    }

    #[test]
    fn both_prefix_hashes_from_one_read_equal_each_hashed_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        let bytes: Vec<u8> = (0..(5u32 << 19)).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &bytes).expect("write");
        let mut f = std::fs::File::open(&path).expect("open");
        let len = bytes.len() as u64;
        for (a, b) in [
            (0, 10),
            (4096, len),
            (1 << 20, len),
            ((1 << 20) + 1, len - 1),
            (len, len),
        ] {
            let alone = (
                hash_prefix(&mut f, a).expect("a"),
                hash_prefix(&mut f, b).expect("b"),
            );
            assert_eq!(hash_prefixes(&mut f, a, b).expect("both"), alone, "{a} {b}");
        }
    }

    #[test]
    fn a_flipped_byte_anywhere_in_the_snapshot_never_changes_the_figures() {
        let e = env();
        e.query();
        let snapshot = e.cache().join(SNAPSHOT);
        let len = std::fs::metadata(&snapshot).expect("snapshot").len() as usize;
        let mut next = 2000;
        for i in 0..24 {
            // Every query checks its figures against the simple reader's.
            let at = (len - 1) * i / 23;
            let mut bytes = std::fs::read(&snapshot).expect("snapshot");
            if at >= bytes.len() {
                continue;
            }
            bytes[at] ^= 0x10;
            std::fs::write(&snapshot, &bytes).expect("write");
            e.append("a/2026-11.jsonl", &lines(next..next + 3, "a"));
            next += 3;
            e.query();
        }
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
