//! The compact aggregation behind `performance` and `list`: the same figures as aggregating
//! [`RunSet`](super::RunSet)'s runs, in a fraction of the time and memory.
//!
//! Per run it keeps only the time (for exact percentiles), a 64-bit hash of the id (for
//! duplicates and ratings) and a byte of flags. Lines come from the fast scanner, or the full
//! parser when the scanner hands a line back. When two runs share an id (e.g. after a
//! `merge=union` merge) [`performance`] returns None and [`performance_or_simple`] uses the
//! simple path, which keeps the first of them.

pub mod cache;
mod times;

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::aggregate::{
    LatestRatings, Metrics, MetricsBuilder, PromptMetrics, SortedBase, Timed, TokenSpend,
    VersionMetrics, earliest, latest,
};
use super::parse::fast::{Marks, Scan, Scanned, scan_line, scan_marked_line};
use super::parse::{BOM, line_diagnostic, parse_line, utf8_diagnostic};
use super::scan::{RunFilter, fan_out, logs, unreadable};
use super::schema::Event;
use crate::diagnostic::Diagnostic;
use crate::version::Version;

/// Per-run flag bits; the bits above them hold the run's [quality code](Group::quality_code).
const SUCCESS: u8 = 1;
const FEEDBACK: u8 = 2;
const QUALITY_SHIFT: u32 = 2;

/// Quality of one run: 0 none, 1..=10 a whole score, `FRACTIONAL` a score in the side table.
const FRACTIONAL: u8 = 63;

/// One prompt version's runs, in log order.
#[derive(Debug, Default)]
struct Group {
    prompt: String,
    version: String,
    /// Id hashes in run order (kept empty by a lean [`Partial`], which keeps `lean_ids`).
    ids: Vec<u64>,
    /// Id hashes in run order, in blocks: what a lean [`Partial`] keeps.
    lean_ids: IdBlocks,
    /// Times in run order (kept empty by a lean [`Partial`], which keeps `sorted_times`).
    times: Vec<f64>,
    /// Times for the aggregates alone, a few bytes each: what a lean [`Partial`] keeps.
    sorted_times: times::Times,
    /// Each run's flag bits and quality code.
    flags: Vec<u8>,
    /// Scores that are not whole numbers, by run index.
    fractional: HashMap<usize, f64>,
    /// Earliest and latest run time.
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    tokens_sum: u64,
    tokens_n: u64,
    length_sum: u64,
    spend: TokenSpend,
    /// The UTC day of each run (days from the common era), for trends.
    days: Vec<i32>,
    /// Token spend by UTC day, for the cost of trend buckets.
    spend_days: std::collections::BTreeMap<i32, TokenSpend>,
    /// The distinct concurrencies runs were recorded at (1 when not recorded).
    concurrency: std::collections::BTreeSet<u64>,
    /// The prompt blobs runs name (`prompt_sha`), with the totals of their runs.
    blobs: Vec<(String, BlobTotals)>,
    /// Each run's index in `blobs`; [`NO_BLOB`] when it names none.
    blob: Vec<u32>,
}

/// Id hashes in blocks of [`ID_BLOCK`] that never move once written: a growing column copies
/// nothing and frees nothing, so memory holds each hash once, not twice while it grows.
#[derive(Debug, Default)]
struct IdBlocks {
    /// Every block but the last is full.
    blocks: Vec<Vec<u64>>,
}

/// Hashes in one [`IdBlocks`] block (64 KB).
const ID_BLOCK: usize = 8192;

impl IdBlocks {
    fn push(&mut self, id: u64) {
        match self.blocks.last_mut() {
            Some(b) if b.len() < ID_BLOCK => b.push(id),
            _ => {
                let mut b = Vec::with_capacity(ID_BLOCK);
                b.push(id);
                self.blocks.push(b);
            }
        }
    }

    fn get(&self, i: usize) -> u64 {
        self.blocks[i / ID_BLOCK][i % ID_BLOCK]
    }

    fn append(&mut self, other: IdBlocks) {
        for b in other.blocks {
            for id in b {
                self.push(id);
            }
        }
    }

    /// The blocks, each sorted.
    fn into_blocks(self) -> Vec<Vec<u64>> {
        self.blocks
    }
}

/// A run that names no prompt blob.
const NO_BLOB: u32 = u32::MAX;

/// The totals of one blob's runs in a group: what [`MetricsBuilder`] sums.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct BlobTotals {
    tokens_sum: u64,
    tokens_n: u64,
    length_sum: u64,
    spend: TokenSpend,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
}

impl BlobTotals {
    fn add(&mut self, o: &BlobTotals) {
        self.tokens_sum = self.tokens_sum.saturating_add(o.tokens_sum);
        self.tokens_n += o.tokens_n;
        self.length_sum = self.length_sum.saturating_add(o.length_sum);
        self.spend += &o.spend;
        self.first = earliest(self.first, o.first);
        self.last = latest(self.last, o.last);
    }
}

impl Group {
    /// How many runs it holds.
    fn len(&self) -> usize {
        self.flags.len()
    }

    /// Run `i`'s id hash.
    fn id(&self, i: usize) -> u64 {
        if self.ids.is_empty() {
            self.lean_ids.get(i)
        } else {
            self.ids[i]
        }
    }

    /// Run `i`'s quality: 0 none, 1..=10 a whole score, [`FRACTIONAL`] a score in
    /// `fractional`.
    fn quality_code(&self, i: usize) -> u8 {
        self.flags[i] >> QUALITY_SHIFT
    }

    /// The index of `sha` in `blobs`, added when new.
    fn blob_index(&mut self, sha: &str) -> u32 {
        match self.blobs.iter().position(|(b, _)| b == sha) {
            Some(i) => i as u32,
            None => {
                self.blobs.push((sha.to_string(), BlobTotals::default()));
                (self.blobs.len() - 1) as u32
            }
        }
    }
}

/// The latest rating of a run.
#[derive(Debug, Clone, Copy)]
struct Rated {
    ts: DateTime<Utc>,
    tiebreak: u64,
    quality: f64,
    /// Whether it gives feedback text: None when it gives no feedback, Some(false) when the
    /// feedback is blank (which clears the feedback given before).
    feedback: Option<bool>,
}

impl Timed for Rated {
    type Time = (DateTime<Utc>, u64);
    fn time(&self) -> (DateTime<Utc>, u64) {
        (self.ts, self.tiebreak)
    }
    fn gives_feedback(&self) -> bool {
        self.feedback.is_some()
    }
    fn take_feedback(&mut self, other: &Self) {
        self.feedback = other.feedback;
    }
}

/// What one thread gathered from its files.
#[derive(Debug, Default)]
struct Partial {
    /// Group index by prompt, then version (looked up without allocating).
    index: HashMap<String, Vec<(String, usize)>, FastState>,
    groups: Vec<Group>,
    ratings: LatestRatings<u64, Rated, FastState>,
    diagnostics: Vec<Diagnostic>,
    /// Lines the simple parser handled.
    fallbacks: usize,
    /// Eval records (`{"type":"eval"}`) read.
    evals: usize,
    /// Keep only what `performance` needs: no run's day or prompt blob (8 bytes a run less),
    /// which trends and the cache's entries need.
    lean: bool,
}

/// What one log holds, in brief: enough to tell which logs a query can skip.
#[derive(Debug, Clone)]
pub struct LogSummary {
    /// The log.
    pub log: super::scan::LogFile,
    /// Its earliest and latest run (None without runs).
    pub span: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Whether it holds ratings.
    pub ratings: bool,
    /// Whether it holds eval records.
    pub evals: bool,
}

impl Partial {
    /// The summary of this one log's data.
    fn summary(&self, log: &super::scan::LogFile) -> LogSummary {
        let first = self.groups.iter().filter_map(|g| g.first).min();
        let last = self.groups.iter().filter_map(|g| g.last).max();
        LogSummary {
            log: log.clone(),
            span: first.zip(last),
            ratings: !self.ratings.is_empty(),
            evals: self.evals > 0,
        }
    }
}

/// Fast hashing with a fixed seed for the maps of the hot loop.
type FastState = foldhash::fast::FixedState;

/// A 64-bit hash of a run id (fixed seed: the same id always hashes the same).
fn id_hash(id: &[u8]) -> u64 {
    let mut h = FastState::with_seed(0x5eed).build_hasher();
    h.write(id);
    h.finish()
}

impl Partial {
    fn group(&mut self, prompt: &str, version: &str) -> &mut Group {
        let found = self
            .index
            .get(prompt)
            .and_then(|vs| vs.iter().find(|(v, _)| v == version).map(|(_, i)| *i));
        let i = match found {
            Some(i) => i,
            None => {
                let i = self.groups.len();
                self.index
                    .entry(prompt.to_string())
                    .or_default()
                    .push((version.to_string(), i));
                self.groups.push(Group {
                    prompt: prompt.to_string(),
                    version: version.to_string(),
                    ..Group::default()
                });
                i
            }
        };
        &mut self.groups[i]
    }

    #[allow(clippy::too_many_arguments)]
    fn add_run(
        &mut self,
        id: &[u8],
        ts: DateTime<Utc>,
        prompt: &str,
        version: &str,
        time: f64,
        tokens: Option<u64>,
        length: u64,
        success: bool,
        quality: Option<f64>,
        feedback: bool,
        spend: (Option<&str>, Option<u64>, Option<u64>),
        concurrency: Option<u64>,
        sha: Option<&str>,
    ) {
        let lean = self.lean;
        let g = self.group(prompt, version);
        g.spend.push(spend.0, spend.1, spend.2);
        g.concurrency.insert(concurrency.unwrap_or(1));
        let index = g.len();
        if lean {
            g.lean_ids.push(id_hash(id));
            g.sorted_times.push(time);
        } else {
            g.ids.push(id_hash(id));
            g.times.push(time);
        }
        g.first = earliest(g.first, Some(ts));
        g.last = latest(g.last, Some(ts));
        let code = match quality {
            None => 0,
            Some(q) if q.fract() == 0.0 && (1.0..=10.0).contains(&q) => q as u8,
            Some(q) => {
                g.fractional.insert(index, q);
                FRACTIONAL
            }
        };
        g.flags.push(
            if success { SUCCESS } else { 0 }
                | if feedback { FEEDBACK } else { 0 }
                | code << QUALITY_SHIFT,
        );
        if let Some(t) = tokens {
            g.tokens_sum = g.tokens_sum.saturating_add(t);
            g.tokens_n += 1;
        }
        g.length_sum = g.length_sum.saturating_add(length);
        if lean {
            return;
        }
        match sha {
            Some(sha) => {
                let b = g.blob_index(sha);
                g.blob.push(b);
                let t = &mut g.blobs[b as usize].1;
                if let Some(n) = tokens {
                    t.tokens_sum = t.tokens_sum.saturating_add(n);
                    t.tokens_n += 1;
                }
                t.length_sum = t.length_sum.saturating_add(length);
                t.spend.push(spend.0, spend.1, spend.2);
                t.first = earliest(t.first, Some(ts));
                t.last = latest(t.last, Some(ts));
            }
            None => g.blob.push(NO_BLOB),
        }
        let day = chrono::Datelike::num_days_from_ce(&ts.date_naive());
        g.days.push(day);
        g.spend_days
            .entry(day)
            .or_default()
            .push(spend.0, spend.1, spend.2);
    }

    fn add_rating(
        &mut self,
        run_id: &[u8],
        (ts, tiebreak): (DateTime<Utc>, u64),
        quality: f64,
        feedback: Option<bool>,
    ) {
        let key = id_hash(run_id);
        self.ratings.offer(
            key,
            Rated {
                ts,
                tiebreak,
                quality,
                feedback,
            },
        );
    }

    /// Handle one line the way the simple reader would.
    #[allow(clippy::too_many_arguments)]
    fn line(
        &mut self,
        text: &[u8],
        plain: Option<(&Marks, usize)>,
        complete: bool,
        line_no: usize,
        shown: &Path,
        filter: &RunFilter,
    ) {
        let fast = (|| -> Scan<()> {
            let scanned = if plain.is_some() {
                scan_marked_line(text, plain)?
            } else {
                scan_line(text)?
            };
            match scanned {
                Scanned::Rating {
                    run_id,
                    ts,
                    tiebreak,
                    quality,
                    feedback,
                } => self.add_rating(run_id, (ts, tiebreak), quality, feedback),
                Scanned::Run(r) => {
                    let passes = filter.prompt.as_ref().is_none_or(|p| p == r.prompt)
                        && filter.version_matches(r.version)
                        && filter.since.is_none_or(|s| r.ts >= s)
                        && filter.until.is_none_or(|u| r.ts < u);
                    if passes {
                        self.add_run(
                            r.id,
                            r.ts,
                            r.prompt,
                            r.version,
                            r.time,
                            r.tokens,
                            r.length,
                            r.success,
                            r.quality,
                            r.feedback,
                            (r.model, r.prompt_tokens, r.completion_tokens),
                            r.concurrency,
                            r.prompt_sha.and_then(|b| std::str::from_utf8(b).ok()),
                        );
                    }
                }
            }
            Ok(())
        })();
        if fast.is_ok() {
            return;
        }
        self.fallbacks += 1;
        // The simple parser: same validation, same diagnostics.
        let text = match std::str::from_utf8(text) {
            Ok(t) => t,
            Err(e) => {
                self.diagnostics
                    .push(utf8_diagnostic(shown, line_no, complete, e));
                return;
            }
        };
        match parse_line(text) {
            Ok(Event::Run(r)) => {
                if filter.matches(&r) {
                    self.add_run(
                        r.id.as_bytes(),
                        r.ts,
                        &r.prompt,
                        &r.version,
                        r.execution_time_ms,
                        r.token_count,
                        r.output_length,
                        r.success,
                        r.quality_score,
                        r.has_feedback,
                        (r.model.as_deref(), r.prompt_tokens, r.completion_tokens),
                        r.concurrency,
                        r.prompt_sha.as_deref(),
                    );
                }
            }
            Ok(Event::Rating(r)) => self.add_rating(
                r.run_id.as_bytes(),
                (r.ts, r.tiebreak),
                r.quality_score,
                r.feedback.map(|f| !f.trim().is_empty()),
            ),
            Ok(Event::Eval(_)) => self.evals += 1,
            Err(e) => {
                let d = line_diagnostic(shown, line_no, complete, e);
                self.diagnostics.push(d);
            }
        }
    }

    /// Read one file in large blocks, line by line.
    fn file(&mut self, path: &Path, shown: &Path, filter: &RunFilter, buf: &mut Vec<u8>) {
        self.file_from(path, shown, filter, buf, 0, 0);
    }

    /// Read `path` from byte `offset` (a line start), numbering lines after `first_line`.
    /// Returns the number of lines and whether the file ended with a line end, or None when
    /// it could not be read.
    fn file_from(
        &mut self,
        path: &Path,
        shown: &Path,
        filter: &RunFilter,
        buf: &mut Vec<u8>,
        offset: u64,
        first_line: usize,
    ) -> Option<(usize, bool)> {
        use std::io::Seek;
        let mut file = match crate::safe_fs::open_no_link(path)
            .and_then(|mut f| f.seek(std::io::SeekFrom::Start(offset)).map(|_| f))
        {
            Ok(f) => f,
            Err(e) => {
                self.diagnostics.push(unreadable(shown, &e));
                return None;
            }
        };
        // One buffer per thread, zeroed once: lines are parsed in place and the unfinished
        // tail moves to the front before the next read.
        const BLOCK: usize = 128 << 10;
        if buf.len() < 2 * BLOCK {
            buf.resize(2 * BLOCK, 0);
        }
        let mut filled = 0usize;
        let mut marks = Marks::new();
        let mut line_no = first_line;
        let mut last_byte: Option<u8> = None;
        loop {
            if buf.len() - filled < BLOCK {
                // A line longer than the buffer: grow it.
                let grow = buf.len();
                buf.resize(grow * 2, 0);
            }
            let n = match file.read(&mut buf[filled..]) {
                Ok(n) => n,
                Err(e) => {
                    self.diagnostics.push(unreadable(shown, &e));
                    return None;
                }
            };
            let eof = n == 0;
            filled += n;
            if n > 0 {
                last_byte = Some(buf[filled - 1]);
            }
            let mut consumed = 0;
            // The complete lines read, checked and marked at once: their lines need no check
            // of their own, and their strings end at a bit search.
            let plain =
                memchr::memrchr(b'\n', &buf[..filled]).is_some_and(|end| marks.mark(&buf[..end]));
            while let Some(nl) = memchr::memchr(b'\n', &buf[consumed..filled]) {
                line_no += 1;
                let mut start = consumed;
                let raw = &buf[consumed..consumed + nl];
                consumed += nl + 1;
                let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                let raw = if offset == 0 && line_no == 1 {
                    match raw.strip_prefix(BOM) {
                        Some(rest) => {
                            start += BOM.len();
                            rest
                        }
                        None => raw,
                    }
                } else {
                    raw
                };
                if !raw.iter().all(u8::is_ascii_whitespace) {
                    let marked = plain.then_some((&marks, start));
                    self.line(raw, marked, true, line_no, shown, filter);
                }
            }
            if eof {
                if consumed < filled {
                    line_no += 1;
                    let raw = &buf[consumed..filled];
                    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                    let raw = if offset == 0 && line_no == 1 {
                        raw.strip_prefix(BOM).unwrap_or(raw)
                    } else {
                        raw
                    };
                    if !raw.iter().all(u8::is_ascii_whitespace) {
                        self.line(raw, None, false, line_no, shown, filter);
                    }
                }
                return Some((line_no, last_byte.is_none_or(|b| b == b'\n')));
            }
            buf.copy_within(consumed..filled, 0);
            filled -= consumed;
        }
    }
}

impl std::ops::AddAssign for Partial {
    /// Append `other` (from later files) to `self`.
    fn add_assign(&mut self, other: Partial) {
        for g in other.groups {
            let target = self.group(&g.prompt, &g.version);
            if target.len() == 0 && target.blobs.is_empty() && target.spend_days.is_empty() {
                // Nothing here yet: take the other's columns as they are.
                *target = g;
                continue;
            }
            let offset = target.len();
            let n = g.len();
            target.ids.reserve_exact(n);
            target.times.reserve_exact(g.times.len());
            target.flags.reserve_exact(n);
            target.days.reserve_exact(g.days.len());
            target.blob.reserve_exact(g.blob.len());
            target.ids.extend(g.ids);
            target.lean_ids.append(g.lean_ids);
            target.times.extend(g.times);
            target.sorted_times.append(g.sorted_times);
            target.first = earliest(target.first, g.first);
            target.last = latest(target.last, g.last);
            target.flags.extend(g.flags);
            target
                .fractional
                .extend(g.fractional.into_iter().map(|(i, q)| (i + offset, q)));
            target.tokens_sum = target.tokens_sum.saturating_add(g.tokens_sum);
            target.tokens_n += g.tokens_n;
            target.length_sum = target.length_sum.saturating_add(g.length_sum);
            target.spend += &g.spend;
            target.days.extend(g.days);
            for (day, spend) in &g.spend_days {
                *target.spend_days.entry(*day).or_default() += spend;
            }
            target.concurrency.extend(g.concurrency);
            // The other's blob indices, in this group's table.
            let remap: Vec<u32> = g
                .blobs
                .iter()
                .map(|(sha, totals)| {
                    let i = target.blob_index(sha);
                    target.blobs[i as usize].1.add(totals);
                    i
                })
                .collect();
            target.blob.extend(
                g.blob
                    .iter()
                    .map(|&b| remap.get(b as usize).copied().unwrap_or(NO_BLOB)),
            );
        }
        self.ratings += other.ratings;
        self.diagnostics.extend(other.diagnostics);
        self.fallbacks += other.fallbacks;
        self.evals += other.evals;
    }
}

/// The result of the fast path.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FastPerformance {
    /// Per prompt and version, as [`super::aggregate::performance`] gives them.
    pub prompts: Vec<PromptMetrics>,
    /// Problems found while reading, as the simple reader reports them.
    pub diagnostics: Vec<Diagnostic>,
    /// Lines the simple parser had to handle (escapes in key fields, offsets, bad lines).
    pub fallback_lines: usize,
    /// The execution times per prompt and version, bucketed for `/metrics`.
    #[serde(default)]
    pub histograms: Vec<super::aggregate::VersionHistogram>,
}

/// Aggregate every run under `runs_dir` passing `filter`, per prompt and version, with up to
/// `threads` threads. None when two runs share an id: the caller then uses the simple path.
pub fn performance(
    runs_dir: &Path,
    display_root: &Path,
    filter: &RunFilter,
    threads: usize,
) -> Option<FastPerformance> {
    let files = logs(runs_dir, display_root, filter);
    let lean = || Partial {
        lean: true,
        ..Partial::default()
    };
    let mut all = lean();
    for mut part in fan_out(&files, threads, |share| {
        let mut p = lean();
        let mut buf = Vec::new();
        for log in share {
            p.file(&log.path, &log.shown, filter, &mut buf);
        }
        p
    }) {
        // Each thread's groups as they are, without copying columns into one group per
        // version: `build` adds up the groups of one version.
        all.groups.append(&mut part.groups);
        part.index.clear();
        all += part;
    }
    finish(all, None)
}

/// Figures from the merged data of every file; `only_prompt` keeps one prompt's groups.
/// None when two runs share an id. The figures are computed while another thread looks
/// for a repeated id (they are thrown away when it finds one).
fn finish(all: Partial, only_prompt: Option<&str>) -> Option<FastPerformance> {
    let (built, id_columns) = build_unchecked(all, only_prompt)?;
    std::thread::scope(|s| {
        let check = s.spawn(|| repeats_in(id_columns));
        let result = figures(built);
        let repeats = check
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (!repeats).then_some(result)
    })
}

/// The builders of every version's figures, before they are computed: what the cache's
/// snapshot keeps, so that runs appended later are added without reading the others again.
#[derive(Debug, Default)]
struct Built {
    /// Per prompt: each version, its text in the logs, and its builder with the times sorted.
    by_prompt: std::collections::BTreeMap<String, Vec<(Version, String, MetricsBuilder)>>,
    /// Per prompt, the sorted times of all its versions kept in the snapshot, when its
    /// versions' builders have [`SortedBase`]s.
    all_base: std::collections::BTreeMap<String, SortedBase>,
    /// The id hashes of every run counted.
    ids: Ids,
    /// The id hashes that have a rating.
    rated: Ids,
    /// Problems found while reading.
    diagnostics: Vec<Diagnostic>,
    /// Lines the simple parser handled.
    fallbacks: usize,
    /// The times of each prompt version (by prompt and version text) that a lean
    /// [`Partial`] kept packed, for [`figures`] to unpack one prompt at a time.
    sorted_times: HashMap<(String, String), times::Times>,
}

/// Ascending 64-bit values read one at a time (from a cache file, checked as they are read).
trait SortedWords: std::fmt::Debug + Send + Sync {
    fn len(&self) -> usize;
    /// The value at `i < len()`; a source that cannot read it returns 0 and remembers that.
    fn at(&self, i: usize) -> u64;
    /// Whether `x` is one of the values.
    fn contains(&self, x: u64) -> bool;
}

/// A sorted set of id hashes: the ones in `own` and, when there is one, in `base`.
#[derive(Debug, Default)]
struct Ids {
    base: Option<std::sync::Arc<dyn SortedWords>>,
    own: Vec<u64>,
}

impl Ids {
    fn contains(&self, id: u64) -> bool {
        if self.own.binary_search(&id).is_ok() {
            return true;
        }
        self.base.as_ref().is_some_and(|b| b.contains(id))
    }
}

/// The builders of `all`'s groups (`only_prompt`'s alone when given). None when two runs share
/// an id or one version has two texts: the simple path decides those.
fn build(all: Partial, only_prompt: Option<&str>) -> Option<Built> {
    let (built, id_columns) = build_unchecked(all, only_prompt)?;
    (!repeats_in(id_columns)).then_some(built)
}

/// [`build`], but a lean [`Partial`]'s ids are not checked for repeats yet: they come back as
/// columns for [`repeats_in`].
fn build_unchecked(mut all: Partial, only_prompt: Option<&str>) -> Option<(Built, Vec<Vec<u64>>)> {
    if let Some(p) = only_prompt {
        all.groups.retain(|g| g.prompt == p);
    }
    let ratings = std::mem::take(&mut all.ratings);
    let mut built = Built {
        rated: Ids {
            base: None,
            own: ratings
                .iter_with_feedback_time()
                .map(|(k, _, _)| *k)
                .collect(),
        },
        diagnostics: std::mem::take(&mut all.diagnostics),
        fallbacks: all.fallbacks,
        ..Built::default()
    };
    built.rated.own.sort_unstable();
    if !all.lean {
        built
            .ids
            .own
            .reserve_exact(all.groups.iter().map(|g| g.ids.len()).sum());
    }
    // A lean Partial's id blocks, each sorted in place: checked for repeats at the end.
    let mut id_columns: Vec<Vec<u64>> = Vec::new();
    for mut g in all.groups {
        let Ok(version) = g.version.parse::<Version>() else {
            continue;
        };
        let mut b = builder_of(&g, &ratings);
        if all.lean {
            id_columns.extend(std::mem::take(&mut g.lean_ids).into_blocks());
            // Unpacked prompt by prompt, when its figures are computed.
            let times = std::mem::take(&mut g.sorted_times);
            match built
                .sorted_times
                .entry((g.prompt.clone(), g.version.clone()))
            {
                std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().append(times),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(times);
                }
            }
        } else {
            b.times = std::mem::take(&mut g.times);
            b.times.sort_unstable_by(f64::total_cmp);
            built.ids.own.extend(g.ids);
        }
        let versions = built.by_prompt.entry(g.prompt).or_default();
        // Two texts of one version (`1.01` and `1.1`): the simple path merges them in run order.
        match versions.iter_mut().find(|(v, _, _)| *v == version) {
            // A lean Partial holds a version's runs in one group per thread.
            Some((_, text, old)) if all.lean && *text == g.version => *old += &b,
            Some(_) => return None,
            None => versions.push((version, g.version, b)),
        }
    }
    // Duplicate ids: the simple path decides which copy counts.
    if all.lean {
        return Some((built, id_columns));
    }
    built.ids.own.sort_unstable();
    if built.ids.own.windows(2).any(|w| w[0] == w[1]) {
        return None;
    }
    Some((built, id_columns))
}

/// Whether a value occurs twice among `columns`, sorted in place first.
fn repeats_in(mut columns: Vec<Vec<u64>>) -> bool {
    for c in &mut columns {
        c.sort_unstable();
    }
    repeats_in_sorted(&columns)
}

/// Whether a value occurs twice among `columns` (each ascending): a k-way merge that
/// compares each value with the one before it.
fn repeats_in_sorted(columns: &[Vec<u64>]) -> bool {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    if columns.iter().any(|c| c.windows(2).any(|w| w[0] == w[1])) {
        return true;
    }
    let mut heads: BinaryHeap<Reverse<(u64, usize, usize)>> = columns
        .iter()
        .enumerate()
        .filter_map(|(c, col)| col.first().map(|&x| Reverse((x, c, 0))))
        .collect();
    let mut last: Option<u64> = None;
    while let Some(mut top) = heads.peek_mut() {
        let Reverse((x, c, i)) = *top;
        if last == Some(x) {
            return true;
        }
        last = Some(x);
        match columns[c].get(i + 1) {
            Some(&next) => *top = Reverse((next, c, i + 1)),
            None => {
                std::collections::binary_heap::PeekMut::pop(top);
            }
        }
    }
    false
}

/// The builder of `g`'s figures but for its times.
fn builder_of(g: &Group, ratings: &LatestRatings<u64, Rated, FastState>) -> MetricsBuilder {
    let mut b = MetricsBuilder {
        tokens_sum: g.tokens_sum,
        tokens_n: g.tokens_n,
        length_sum: g.length_sum,
        spend: g.spend.clone(),
        first: g.first,
        last: g.last,
        ..MetricsBuilder::default()
    };
    for i in 0..g.len() {
        let rating = if ratings.is_empty() {
            None
        } else {
            ratings.get(&g.id(i))
        };
        if let Some(q) = quality_of(g, i, ratings) {
            b.quality_sum.add(q);
            b.quality_n += 1;
        }
        b.successes += usize::from(g.flags[i] & SUCCESS != 0);
        // A rating's feedback replaces the run's own; without one, the run's stands.
        let feedback = rating.and_then(|r| r.feedback);
        b.feedback += usize::from(feedback.unwrap_or(g.flags[i] & FEEDBACK != 0));
    }
    b
}

/// Add the runs of `new` (read from bytes appended to logs `built` was made from) to `built`.
/// None when they cannot simply be added: a problem line, a rating, an id seen before or
/// rated before, or a version's second text; the caller then reads through the cache again.
fn add_appended(built: &mut Built, new: Partial, only_prompt: Option<&str>) -> Option<()> {
    if !new.diagnostics.is_empty() || !new.ratings.is_empty() {
        return None;
    }
    built.fallbacks += new.fallbacks;
    let mut ids: Vec<u64> = Vec::new();
    let empty = LatestRatings::default();
    for g in new.groups {
        if only_prompt.is_some_and(|p| p != g.prompt) {
            continue;
        }
        let Ok(version) = g.version.parse::<Version>() else {
            continue;
        };
        let mut b = builder_of(&g, &empty);
        let mut times = g.times;
        times.sort_unstable_by(f64::total_cmp);
        ids.extend(g.ids);
        let versions = built.by_prompt.entry(g.prompt).or_default();
        match versions.iter_mut().find(|(v, _, _)| *v == version) {
            Some((_, text, _)) if *text != g.version => return None,
            Some((_, _, old)) => {
                merge_into(&mut old.times, &times);
                b.times = Vec::new();
                *old += &b;
            }
            None => {
                b.times = times;
                versions.push((version, g.version, b));
            }
        }
    }
    ids.sort_unstable();
    let seen = |id: &u64| built.ids.contains(*id) || built.rated.contains(*id);
    if ids.windows(2).any(|w| w[0] == w[1]) || ids.iter().any(seen) {
        return None;
    }
    built.ids.own = merge_sorted_ids(&built.ids.own, &ids);
    Some(())
}

/// The merge of two ascending sequences of times (in `f64::total_cmp` order).
fn merge_sorted(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        // Without a branch on the comparison: the next value comes from either side.
        let take_b = b[j].total_cmp(&a[i]).is_lt();
        out.push(if take_b { b[j] } else { a[i] });
        j += usize::from(take_b);
        i += usize::from(!take_b);
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Merge the ascending times `new` into the ascending times `into`, in place from the end
/// (few new values into many: only the old values above the smallest new one move).
fn merge_into(into: &mut Vec<f64>, new: &[f64]) {
    let old = into.len();
    into.extend_from_slice(new);
    let (mut i, mut j, mut k) = (old, new.len(), into.len());
    while j > 0 {
        k -= 1;
        if i > 0 && new[j - 1].total_cmp(&into[i - 1]).is_lt() {
            into[k] = into[i - 1];
            i -= 1;
        } else {
            into[k] = new[j - 1];
            j -= 1;
        }
    }
}

/// The merge of ascending sequences of times, two by two.
fn merge_many(runs: Vec<&[f64]>) -> Vec<f64> {
    let mut level: Vec<Vec<f64>> = match runs.as_slice() {
        [] => return Vec::new(),
        [a] => return a.to_vec(),
        _ => runs
            .chunks(2)
            .map(|pair| match pair {
                [a, b] => merge_sorted(a, b),
                [a] => a.to_vec(),
                _ => Vec::new(),
            })
            .collect(),
    };
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [a, b] => merge_sorted(a, b),
                [a] => a.clone(),
                _ => Vec::new(),
            })
            .collect();
    }
    level.pop().unwrap_or_default()
}

/// The merge of two ascending sequences of id hashes.
fn merge_sorted_ids(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if b[j] < a[i] {
            out.push(b[j]);
            j += 1;
        } else {
            out.push(a[i]);
            i += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// The figures of `built`: per version, and per prompt over all its versions, prompts shared
/// out between threads.
fn figures(built: Built) -> FastPerformance {
    let mut all_base = built.all_base;
    let mut sorted_times = built.sorted_times;
    let tasks: Vec<PromptTask> = built
        .by_prompt
        .into_iter()
        .map(|(prompt, versions)| {
            let versions = versions
                .into_iter()
                .map(|(version, text, b)| {
                    let times = sorted_times.remove(&(prompt.clone(), text));
                    (version, b, times)
                })
                .collect();
            PromptTask {
                base: all_base.remove(&prompt),
                prompt,
                versions,
            }
        })
        .collect();
    let weights: Vec<u64> = tasks.iter().map(PromptTask::weight).collect();
    let shares = super::scan::split_by_size(&weights, super::scan::default_threads());
    let mut tasks = tasks.into_iter();
    let shares: Vec<Vec<PromptTask>> = shares
        .into_iter()
        .map(|r| tasks.by_ref().take(r.len()).collect())
        .collect();
    let parts: Vec<Vec<(PromptMetrics, Vec<super::aggregate::VersionHistogram>)>> =
        std::thread::scope(|s| {
            let handles: Vec<_> = shares
                .into_iter()
                .map(|share| s.spawn(move || share.into_iter().map(prompt_figures).collect()))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
    let mut prompts = Vec::new();
    let mut histograms = Vec::new();
    for (p, h) in parts.into_iter().flatten() {
        prompts.push(p);
        histograms.extend(h);
    }
    histograms.sort_by(|a, b| (&a.prompt, &a.version).cmp(&(&b.prompt, &b.version)));
    FastPerformance {
        prompts,
        diagnostics: built.diagnostics,
        fallback_lines: built.fallbacks,
        histograms,
    }
}

/// One prompt's builders, before its figures are computed.
struct PromptTask {
    prompt: String,
    /// Each version, its builder, and its times when a lean [`Partial`] kept them packed.
    versions: Vec<(Version, MetricsBuilder, Option<times::Times>)>,
    /// The sorted times of all its versions kept in the snapshot.
    base: Option<super::aggregate::SortedBase>,
}

impl PromptTask {
    /// About how much work its figures are: its runs.
    fn weight(&self) -> u64 {
        self.versions
            .iter()
            .map(|(_, b, t)| (b.times.len() + t.as_ref().map_or(0, times::Times::len)) as u64)
            .sum::<u64>()
            + 1
    }
}

/// The figures of one prompt, and the histogram of each of its versions.
fn prompt_figures(task: PromptTask) -> (PromptMetrics, Vec<super::aggregate::VersionHistogram>) {
    let PromptTask {
        prompt,
        versions,
        base,
    } = task;
    let mut histograms = Vec::new();
    let mut versions: Vec<(Version, MetricsBuilder)> = versions
        .into_iter()
        .map(|(version, mut b, times)| {
            if let Some(t) = times {
                b.times = t.into_sorted();
            }
            histograms.push(super::aggregate::VersionHistogram {
                prompt: prompt.clone(),
                version: version.clone(),
                histogram: b.histogram(),
            });
            (version, b)
        })
        .collect();
    versions.sort_by(|a, b| a.0.cmp(&b.0));
    // "All versions" holds every version's runs (the simple path: in version order).
    let mut all = MetricsBuilder {
        base,
        ..MetricsBuilder::default()
    };
    for (_, b) in &mut versions {
        let times = std::mem::take(&mut b.times);
        all += b;
        b.times = times;
    }
    // Each version's times are sorted: merged, they are all sorted.
    all.times = merge_many(versions.iter().map(|(_, b)| b.times.as_slice()).collect());
    let all: Metrics = all.finish();
    let versions = versions
        .into_iter()
        .map(|(version, b)| VersionMetrics {
            prompt: prompt.clone(),
            version,
            metrics: b.finish(),
        })
        .collect();
    (
        PromptMetrics {
            prompt,
            versions,
            all,
        },
        histograms,
    )
}

/// The quality of run `i` of `g`: its latest rating, else the score it was logged with.
fn quality_of(g: &Group, i: usize, ratings: &LatestRatings<u64, Rated, FastState>) -> Option<f64> {
    let rating = if ratings.is_empty() {
        None
    } else {
        ratings.get(&g.id(i))
    };
    match (rating, g.quality_code(i)) {
        (Some(r), _) => Some(r.quality),
        (None, 0) => None,
        (None, FRACTIONAL) => g.fractional.get(&i).copied(),
        (None, q) => Some(f64::from(q)),
    }
}

/// The compact data of the runs in a set of logs, for the queries that need more than
/// [`performance`]'s totals: trends by day and the per-run values of a comparison. Built
/// through the cache when one is given, so a warm query reads no run log.
#[derive(Debug, Default)]
pub struct RunColumns {
    all: Partial,
    /// Problems found while reading, as the simple reader reports them.
    pub diagnostics: Vec<Diagnostic>,
    /// Each log read, in order, in brief.
    pub logs: Vec<LogSummary>,
}

impl RunColumns {
    /// Read every log `filter` may hold (only [`RunFilter::may_hold`] applies here: each
    /// query filters the runs itself), through the cache of the project at `cache_root` when
    /// given and usable.
    pub fn read(
        runs_dir: &Path,
        display_root: &Path,
        cache_root: Option<&Path>,
        filter: &RunFilter,
        threads: usize,
    ) -> RunColumns {
        let files = logs(runs_dir, display_root, filter);
        let cache_dir = cache_root.and_then(|root| {
            crate::safe_fs::create_dirs_inside(root, Path::new(cache::CACHE_DIR), true).ok()
        });
        let (mut all, logs) = match cache_dir {
            Some(dir) => {
                let (all, _, _, logs) = cache::gather(&files, &dir, threads);
                (all, logs)
            }
            None => {
                let none = RunFilter::default();
                let mut all = Partial::default();
                let mut logs = Vec::new();
                for (part, summaries) in fan_out(&files, threads, |share| {
                    let mut all = Partial::default();
                    let mut summaries = Vec::new();
                    let mut buf = Vec::new();
                    for log in share {
                        let mut p = Partial::default();
                        p.file(&log.path, &log.shown, &none, &mut buf);
                        summaries.push(p.summary(log));
                        all += p;
                    }
                    (all, summaries)
                }) {
                    all += part;
                    logs.extend(summaries);
                }
                (all, logs)
            }
        };
        let diagnostics = std::mem::take(&mut all.diagnostics);
        RunColumns {
            all,
            diagnostics,
            logs,
        }
    }

    /// The groups of `prompt` whose version passes `version` (compared by number), in
    /// version order (texts that are not versions last); None when two texts of one version
    /// (`1.01` and `1.1`) both have runs, which only the simple path orders right.
    fn groups_of(&self, prompt: &str, version: Option<&str>) -> Option<Vec<&Group>> {
        let filter = RunFilter {
            version: version.map(str::to_string),
            ..RunFilter::default()
        };
        let mut groups: Vec<&Group> = self
            .all
            .groups
            .iter()
            .filter(|g| g.prompt == prompt && filter.version_matches(&g.version))
            .collect();
        groups.sort_by_cached_key(|g| crate::metrics::version_order(&g.version));
        let parsed: Vec<Version> = groups
            .iter()
            .filter_map(|g| g.version.parse::<Version>().ok())
            .collect();
        if parsed.windows(2).any(|w| w[0] == w[1]) {
            return None;
        }
        Some(groups)
    }

    /// Whether two runs of the logs read share an id hash (the first copy is then the run,
    /// which only a reader in log order can tell).
    pub fn has_repeated_ids(&self) -> bool {
        let all: Vec<&Group> = self.all.groups.iter().collect();
        Self::repeats(&all, |_, _| true)
    }

    /// Whether two of the runs `keep` selects share an id hash (the simple path then decides
    /// which copy counts).
    fn repeats<'a>(groups: &[&'a Group], keep: impl Fn(&'a Group, usize) -> bool) -> bool {
        let mut ids: Vec<u64> = Vec::new();
        for g in groups {
            ids.extend((0..g.ids.len()).filter(|&i| keep(g, i)).map(|i| g.ids[i]));
        }
        ids.sort_unstable();
        ids.windows(2).any(|w| w[0] == w[1])
    }

    /// The trends of `prompt`'s runs on or after day `from` (runs of `version` only, when
    /// given), as [`crate::metrics::trends`] gives them for the runs the simple reader
    /// finds; None when the simple path must decide (repeated ids, two texts of a version).
    pub fn trends(
        &self,
        prompt: &str,
        version: Option<&str>,
        bucket: crate::metrics::Bucket,
        (from, to): (chrono::NaiveDate, chrono::NaiveDate),
        config: &crate::config::Config,
    ) -> Option<crate::metrics::Trends> {
        use crate::metrics::{TrendCell, empty_buckets, trends_of_cells};
        let groups = self.groups_of(prompt, version)?;
        let from_day = chrono::Datelike::num_days_from_ce(&from);
        if Self::repeats(&groups, |g, i| g.days[i] >= from_day) {
            return None;
        }
        let ratings = &self.all.ratings;
        let mut overall = empty_buckets(bucket, from, to);
        let mut by_version: std::collections::BTreeMap<(chrono::NaiveDate, Version), TrendCell> =
            Default::default();
        for g in groups {
            let version = g.version.parse::<Version>().ok();
            // This group's runs by bucket, in log order; then added after the groups before.
            let mut cells: std::collections::BTreeMap<chrono::NaiveDate, TrendCell> =
                Default::default();
            let mut start_of_day: std::collections::HashMap<i32, chrono::NaiveDate> =
                Default::default();
            for i in 0..g.times.len() {
                let day = g.days[i];
                if day < from_day {
                    continue;
                }
                let start = *start_of_day.entry(day).or_insert_with(|| {
                    chrono::NaiveDate::from_num_days_from_ce_opt(day)
                        .map_or(from, |d| bucket.start_of(d))
                });
                let cell = cells.entry(start).or_default();
                cell.times.push(g.times[i]);
                cell.successes += usize::from(g.flags[i] & SUCCESS != 0);
                if let Some(q) = quality_of(g, i, ratings) {
                    cell.quality.push(q);
                }
            }
            // Spend is kept by day: each bucket takes the spend of its days.
            for (day, spend) in g.spend_days.range(from_day..) {
                let start = chrono::NaiveDate::from_num_days_from_ce_opt(*day)
                    .map_or(from, |d| bucket.start_of(d));
                if let Some(cell) = cells.get_mut(&start) {
                    cell.spend += spend;
                }
            }
            for (start, cell) in cells {
                let all = overall.entry(start).or_default();
                all.times.extend_from_slice(&cell.times);
                all.quality.extend_from_slice(&cell.quality);
                all.successes += cell.successes;
                all.spend += &cell.spend;
                if let Some(v) = &version {
                    by_version.insert((start, v.clone()), cell);
                }
            }
        }
        Some(trends_of_cells(bucket, overall, by_version, config))
    }

    /// The metrics (unpriced) of the runs of each blob in `wanted` among the runs of the
    /// prompts `names`, as [`Metrics::compute`] gives them for those runs in log order; None
    /// when the simple path must decide (repeated ids anywhere, or a blob whose runs are in
    /// more than one prompt version, whose log order only the simple path knows).
    pub fn blob_metrics(
        &self,
        names: &std::collections::BTreeSet<String>,
        wanted: &std::collections::HashSet<&str>,
    ) -> Option<HashMap<String, Metrics>> {
        let all: Vec<&Group> = self.all.groups.iter().collect();
        if Self::repeats(&all, |_, _| true) {
            return None;
        }
        let ratings = &self.all.ratings;
        let mut out: HashMap<String, Metrics> = HashMap::new();
        for g in all.iter().filter(|g| names.contains(&g.prompt)) {
            for (index, (sha, totals)) in g.blobs.iter().enumerate() {
                if !wanted.contains(sha.as_str()) {
                    continue;
                }
                if out.contains_key(sha) {
                    return None;
                }
                let mut b = MetricsBuilder {
                    tokens_sum: totals.tokens_sum,
                    tokens_n: totals.tokens_n,
                    length_sum: totals.length_sum,
                    spend: totals.spend.clone(),
                    first: totals.first,
                    last: totals.last,
                    ..MetricsBuilder::default()
                };
                for i in (0..g.times.len()).filter(|&i| g.blob[i] == index as u32) {
                    b.times.push(g.times[i]);
                    if let Some(q) = quality_of(g, i, ratings) {
                        b.quality_sum.add(q);
                        b.quality_n += 1;
                    }
                    b.successes += usize::from(g.flags[i] & SUCCESS != 0);
                    let feedback = ratings.get(&g.ids[i]).and_then(|r| r.feedback);
                    b.feedback += usize::from(feedback.unwrap_or(g.flags[i] & FEEDBACK != 0));
                }
                out.insert(sha.clone(), b.finish());
            }
        }
        Some(out)
    }

    /// Each version of `prompt` with runs, oldest first, as one side of a comparison
    /// (metrics unpriced); None when the simple path must decide (repeated ids, two texts of
    /// a version). Runs whose version is not a version number are left out, as
    /// [`crate::runlog::group_runs`] leaves them.
    pub fn sides(&self, prompt: &str) -> Option<Vec<(Version, crate::metrics::Side)>> {
        let groups: Vec<&Group> = self
            .groups_of(prompt, None)?
            .into_iter()
            .filter(|g| g.version.parse::<Version>().is_ok())
            .collect();
        if Self::repeats(&groups, |_, _| true) {
            return None;
        }
        let ratings = &self.all.ratings;
        let mut out = Vec::new();
        for g in groups {
            let Ok(version) = g.version.parse::<Version>() else {
                continue;
            };
            let mut b = builder_of(g, ratings);
            b.times = g.times.clone();
            let quality = (0..g.times.len())
                .filter_map(|i| quality_of(g, i, ratings))
                .collect();
            out.push((
                version,
                crate::metrics::Side {
                    metrics: b.finish(),
                    times: g.times.clone(),
                    quality,
                    concurrencies: g.concurrency.iter().copied().collect(),
                },
            ));
        }
        Some(out)
    }
}

/// Per-prompt, per-version metrics by the fast reader, or by the simple one when ids repeat.
pub fn performance_or_simple(
    runs_dir: &Path,
    display_root: &Path,
    filter: &RunFilter,
    threads: usize,
) -> FastPerformance {
    performance(runs_dir, display_root, filter, threads).unwrap_or_else(|| {
        let runs = super::RunSet::load(runs_dir, display_root, filter);
        FastPerformance {
            prompts: super::aggregate::performance(&runs.runs),
            diagnostics: runs.diagnostics,
            fallback_lines: 0,
            histograms: super::aggregate::histograms(&runs.runs),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runlog::RunSet;
    use crate::runlog::parse::fast::fast_event;
    use chrono::{DateTime, Utc};

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    fn both(
        dir: &Path,
        filter: &RunFilter,
        threads: usize,
    ) -> (FastPerformance, Vec<PromptMetrics>, Vec<Diagnostic>) {
        let fast = performance(dir, Path::new("runs"), filter, threads).expect("no duplicates");
        let slow = RunSet::load(dir, Path::new("runs"), filter);
        (
            fast,
            crate::runlog::performance(&slow.runs),
            slow.diagnostics,
        )
    }

    /// Lines in every shape a log can hold: escapes, unicode, exponents, any field order,
    /// missing optional fields, unknown nested fields, CRLF, ratings, bad and torn lines.
    fn varied(n: usize) -> Vec<String> {
        let mut lines = Vec::new();
        let mut seed = 7u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed >> 33
        };
        for i in 0..n {
            let r = rnd();
            let prompt = ["coach", "classify", "notes"][(r % 3) as usize];
            let version = ["1.0", "1.1", "1.10", "2.0"][(rnd() % 4) as usize];
            let time = match rnd() % 5 {
                0 => format!("{}", rnd() % 5000),
                1 => format!("{}.{}", rnd() % 5000, rnd() % 1000),
                2 => format!("{}e{}", rnd() % 90 + 1, rnd() % 3),
                3 => format!("{}.5E+1", rnd() % 400),
                _ => format!("{}.25e-1", rnd() % 90000),
            };
            let output = match rnd() % 6 {
                0 => r#"plain text"#.to_string(),
                1 => r#"quote \" and backslash \\ and newline \n tab \t"#.to_string(),
                2 => "unicode é ✓ 漢字 🚀".to_string(),
                3 => r#"escaped \u00e9 and pair \ud83d\ude80 and {\"json\": [1,2]}"#.to_string(),
                4 => String::new(),
                _ => "x".repeat((rnd() % 300) as usize),
            };
            let success = rnd() % 7 != 0;
            let mut fields = vec![
                format!("\"id\":\"run-{i}\""),
                format!(
                    "\"ts\":\"2026-11-{:02}T{:02}:{:02}:{:02}{}Z\"",
                    rnd() % 28 + 1,
                    rnd() % 24,
                    rnd() % 60,
                    rnd() % 60,
                    [".123", "", ".5", ".123456"][(rnd() % 4) as usize]
                ),
                format!("\"prompt\":\"{prompt}\""),
                format!("\"version\":\"{version}\""),
                format!("\"execution_time_ms\":{time}"),
                format!("\"success\":{success}"),
                format!("\"output\":\"{output}\""),
            ];
            match rnd() % 4 {
                0 => fields.push(format!("\"token_count\":{}", rnd() % 900)),
                1 => fields.push("\"token_count\":null".to_string()),
                _ => {}
            }
            if rnd() % 3 == 0 {
                fields.push(format!("\"output_length\":{}", rnd() % 2000));
            }
            match rnd() % 5 {
                0 => fields.push(format!("\"quality_score\":{}", rnd() % 10 + 1)),
                1 => fields.push(format!("\"quality_score\":{}.5", rnd() % 9 + 1)),
                2 => fields.push("\"quality_score\":null".to_string()),
                _ => {}
            }
            match rnd() % 5 {
                0 => fields.push("\"feedback\":\"good\"".to_string()),
                1 => fields.push("\"feedback\":\"   \"".to_string()),
                2 => fields.push("\"feedback\":\"esc\\naped\"".to_string()),
                _ => {}
            }
            if rnd() % 3 == 0 {
                fields.push(r#""meta":{"user":"u1","tags":["a","b"],"nested":{"x":[1,{"y":null}]},"s":"}{]["}"#.to_string());
            }
            if rnd() % 4 == 0 {
                fields.push(format!("\"prompt_sha\":\"{:040x}\"", rnd()));
            }
            // The concurrency of `run`, in the shapes a log may hold.
            match rnd() % 48 {
                0..=7 => fields.push(format!("\"concurrency\":{}", rnd() % 4 + 1)),
                8 => fields.push("\"concurrency\":null".to_string()),
                _ => {}
            }
            // Cost inputs in every shape: a model with and without the token split, odd types.
            match rnd() % 48 {
                0..=11 => fields.push(format!(
                    "\"model\":\"m{}\",\"prompt_tokens\":{},\"completion_tokens\":{}",
                    rnd() % 3,
                    rnd() % 500,
                    rnd() % 200
                )),
                12..=19 => fields.push(format!("\"model\":\"m{}\"", rnd() % 3)),
                20 => fields.push("\"model\":null,\"prompt_tokens\":3".to_string()),
                21 => fields.push("\"model\":7,\"completion_tokens\":1.5".to_string()),
                22 => fields.push(
                    "\"model\":\"m\\u0031\",\"prompt_tokens\":1,\"completion_tokens\":2"
                        .to_string(),
                ),
                _ => {}
            }
            // Any field order.
            let k = (rnd() as usize) % fields.len();
            fields.rotate_left(k);
            if rnd() % 2 == 0 {
                fields.reverse();
            }
            let sep = if rnd() % 4 == 0 { ", " } else { "," };
            let mut line = format!("{{{}}}", fields.join(sep));
            if rnd() % 10 == 0 {
                line = line.replacen('{', "{ ", 1);
            }
            lines.push(line);
            if i % 17 == 0 {
                // With feedback, with an empty one (clears), without one (keeps).
                let feedback = [",\"feedback\":\"late\"", ",\"feedback\":\"\"", ""];
                // Some runs rated at random, the first few many times.
                for run in [(rnd() as usize) % (i + 1), (rnd() as usize) % 8] {
                    lines.push(format!(
                        "{{\"type\":\"rating\",\"id\":\"rt-{i}-{run}\",\"ts\":\"2026-11-2{}T00:00:00.000Z\",\"run_id\":\"run-{run}\",\"quality_score\":{}{}}}",
                        rnd() % 9,
                        rnd() % 10 + 1,
                        feedback[(rnd() % 3) as usize]
                    ));
                }
            }
            match i % 97 {
                3 => lines.push("{not json".to_string()),
                5 => lines.push(format!("{{\"id\":\"bad-{i}\",\"ts\":\"2026-11-02T10:00:00Z\",\"prompt\":\"coach\",\"version\":\"1.0\",\"success\":true,\"execution_time_ms\":5,\"quality_score\":11}}")),
                7 => lines.push(format!("{{\"id\":\"off-{i}\",\"ts\":\"2026-11-02T10:00:00+02:00\",\"prompt\":\"coach\",\"version\":\"1.0\",\"success\":true,\"execution_time_ms\":5}}")),
                9 => lines.push(format!("{{\"id\":\"tab-{i}\",\t\"ts\":\"2026-11-02T10:00:00Z\",\"prompt\":\"coach\",\"version\":\"1.0\",\"success\":true,\"execution_time_ms\":5}}")),
                11 => lines.push(format!("{{\"id\":\"dupkey-{i}\",\"id\":\"x\",\"ts\":\"2026-11-02T10:00:00Z\",\"prompt\":\"coach\",\"version\":\"1.0\",\"success\":true,\"execution_time_ms\":5}}")),
                13 => lines.push(format!("{{\"id\":\"ctl-{i}\",\"ts\":\"2026-11-02T10:00:00Z\",\"prompt\":\"coach\",\"version\":\"1.0\",\"success\":true,\"execution_time_ms\":5,\"output\":\"bad \\q escape\"}}")),
                _ => {}
            }
        }
        lines
    }

    #[test]
    fn merges_give_what_sorting_gives() {
        let mut rng = fastrand::Rng::with_seed(7);
        for (n, m) in [
            (0, 0),
            (0, 3),
            (5, 0),
            (1, 1),
            (100, 7),
            (7, 100),
            (1000, 1000),
        ] {
            let mut a: Vec<f64> = (0..n).map(|_| f64::from(rng.u8(..)) / 4.0).collect();
            let mut b: Vec<f64> = (0..m).map(|_| f64::from(rng.u8(..)) / 4.0).collect();
            a.sort_unstable_by(f64::total_cmp);
            b.sort_unstable_by(f64::total_cmp);
            let mut want = [a.clone(), b.clone()].concat();
            want.sort_unstable_by(f64::total_cmp);
            assert_eq!(merge_sorted(&a, &b), want, "{n}+{m}");
            let mut into = a.clone();
            merge_into(&mut into, &b);
            assert_eq!(into, want, "{n}+{m} in place");
            let thirds = [&a[..n / 3], &a[n / 3..], &b[..]];
            let mut parts: Vec<Vec<f64>> = thirds.iter().map(|p| p.to_vec()).collect();
            parts.push(vec![-0.0, 0.0]);
            let mut want: Vec<f64> = parts.concat();
            want.sort_unstable_by(f64::total_cmp);
            let got = merge_many(parts.iter().map(Vec::as_slice).collect());
            assert_eq!(
                got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn fast_path_equals_the_simple_path_on_varied_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lines = varied(3000);
        let (a, b) = lines.split_at(lines.len() / 2);
        write(dir.path(), "coach/2026-10.jsonl", &(a.join("\n") + "\n"));
        // CRLF line ends and a torn last line.
        write(
            dir.path(),
            "coach/2026-11.jsonl",
            &(b.join("\r\n") + "\r\n{\"id\":\"torn\",\"ts\""),
        );
        write(
            dir.path(),
            "other.jsonl",
            &(a[..50]
                .iter()
                .map(|l| l.replace("\"id\":\"", "\"id\":\"other-"))
                .collect::<Vec<_>>()
                .join("\n")
                + "\n"),
        );
        for threads in [1, 2, 3] {
            let (fast, slow, slow_diags) = both(dir.path(), &RunFilter::default(), threads);
            assert_eq!(fast.prompts, slow, "threads={threads}");
            let mut fd: Vec<String> = fast.diagnostics.iter().map(ToString::to_string).collect();
            let mut sd: Vec<String> = slow_diags.iter().map(ToString::to_string).collect();
            fd.sort();
            sd.sort();
            assert_eq!(fd, sd, "threads={threads}");
            // The data must exercise the fast scanner, not only the fallback.
            let lines_total = lines.len() + 51;
            assert!(
                fast.fallback_lines * 10 < lines_total,
                "{} of {lines_total} lines fell back",
                fast.fallback_lines
            );
        }
        let since = DateTime::parse_from_rfc3339("2026-11-10T00:00:00Z")
            .expect("ts")
            .with_timezone(&Utc);
        let filter = RunFilter {
            prompt: Some("coach".into()),
            version: Some("1.1".into()),
            since: Some(since),
            until: None,
        };
        let (fast, slow, _) = both(dir.path(), &filter, 2);
        assert_eq!(fast.prompts, slow);
        assert!(!slow.is_empty(), "the filter keeps some runs");
    }

    /// Trends and comparison sides from the columns, and from the simple reader's runs.
    fn trends_both(
        dir: &Path,
        cache_root: Option<&Path>,
        prompt: &str,
        version: Option<&str>,
        bucket: crate::metrics::Bucket,
        (from, to): (chrono::NaiveDate, chrono::NaiveDate),
        config: &crate::config::Config,
    ) -> (crate::metrics::Trends, crate::metrics::Trends) {
        let filter = RunFilter {
            prompt: Some(prompt.into()),
            version: version.map(str::to_string),
            since: from.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
            until: None,
        };
        let columns = RunColumns::read(dir, Path::new("runs"), cache_root, &filter, 2);
        let fast = columns
            .trends(prompt, version, bucket, (from, to), config)
            .expect("no repeated ids");
        let slow = RunSet::load(dir, Path::new("runs"), &filter);
        let refs: Vec<&crate::runlog::RunFacts> = slow.runs.iter().collect();
        (
            fast,
            crate::metrics::trends(&refs, bucket, from, to, config),
        )
    }

    fn priced() -> crate::config::Config {
        let mut config = crate::config::Config::default();
        for (m, i, o) in [("m0", 0.15, 0.6), ("m1", 3.0, 15.0), ("m2", 0.07, 0.3)] {
            config.prices.insert(
                m.into(),
                crate::config::Price {
                    input_per_mtok: i,
                    output_per_mtok: o,
                },
            );
        }
        config
    }

    #[test]
    fn trends_and_comparison_sides_from_columns_equal_the_simple_path() {
        use crate::metrics::Bucket;
        let dir = tempfile::tempdir().expect("tempdir");
        let lines = varied(3000);
        let (a, b) = lines.split_at(lines.len() / 2);
        write(dir.path(), "coach/2026-10.jsonl", &(a.join("\n") + "\n"));
        write(
            dir.path(),
            "coach/2026-11.jsonl",
            &(b.join("\r\n") + "\r\n{\"id\":\"torn\",\"ts\""),
        );
        // A log outside any prompt's folder may hold any prompt's runs.
        write(
            dir.path(),
            "other.jsonl",
            &(b[..600]
                .iter()
                .map(|l| l.replace("\"id\":\"", "\"id\":\"other-"))
                .collect::<Vec<_>>()
                .join("\n")
                + "\n"),
        );
        // Runs priced in full, so buckets have a cost: one model or several in a bucket.
        let mut priced_lines = Vec::new();
        for i in 0..400 {
            priced_lines.push(format!(
                "{{\"id\":\"pr-{i}\",\"ts\":\"2026-11-{:02}T{:02}:00:00Z\",\"prompt\":\"priced\",\"version\":\"1.{}\",\"execution_time_ms\":{}.{},\"success\":{},\"model\":\"m{}\",\"prompt_tokens\":{},\"completion_tokens\":{},\"quality_score\":{}}}",
                i % 28 + 1,
                i % 24,
                i % 3,
                100 + i * 7 % 900,
                i % 10,
                i % 5 != 0,
                i * 7 % 3,
                100 + i % 37,
                20 + i % 11,
                i % 10 + 1
            ));
        }
        write(
            dir.path(),
            "priced/2026-11.jsonl",
            &(priced_lines.join("\n") + "\n"),
        );
        let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day");
        let config = priced();
        let cache = tempfile::tempdir().expect("cache");
        for cache_root in [None, Some(cache.path()), Some(cache.path())] {
            for (prompt, version, bucket, from, to) in [
                ("coach", None, Bucket::Day, "2026-11-01", "2026-11-30"),
                ("coach", None, Bucket::Week, "2026-10-01", "2026-11-30"),
                (
                    "coach",
                    Some("1.1"),
                    Bucket::Day,
                    "2026-11-10",
                    "2026-11-20",
                ),
                ("classify", None, Bucket::Day, "2026-11-05", "2026-11-30"),
                ("priced", None, Bucket::Day, "2026-11-01", "2026-11-30"),
                ("priced", None, Bucket::Week, "2026-10-20", "2026-11-30"),
                (
                    "priced",
                    Some("1.2"),
                    Bucket::Day,
                    "2026-11-01",
                    "2026-11-15",
                ),
            ] {
                let (fast, slow) = trends_both(
                    dir.path(),
                    cache_root,
                    prompt,
                    version,
                    bucket,
                    (day(from), day(to)),
                    &config,
                );
                assert_eq!(fast, slow, "{prompt} {version:?} {bucket:?} {from}");
                assert!(slow.overall.iter().any(|r| r.runs > 0), "{prompt} has runs");
                if prompt == "priced" {
                    assert!(
                        slow.overall.iter().any(|r| r.cost_per_run.is_some()),
                        "buckets are priced"
                    );
                }
            }
            for prompt in ["coach", "notes", "priced"] {
                let filter = RunFilter {
                    prompt: Some(prompt.into()),
                    ..RunFilter::default()
                };
                let columns =
                    RunColumns::read(dir.path(), Path::new("runs"), cache_root, &filter, 2);
                let fast = columns.sides(prompt).expect("no repeated ids");
                let slow = RunSet::load(dir.path(), Path::new("runs"), &filter);
                let slow: Vec<(Version, crate::metrics::Side)> =
                    crate::runlog::group_runs(&slow.runs)
                        .remove(prompt)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(v, rs)| (v, crate::metrics::Side::of(&rs)))
                        .collect();
                assert_eq!(fast.len(), slow.len(), "{prompt}");
                assert!(!slow.is_empty());
                for ((fv, f), (sv, s)) in fast.iter().zip(&slow) {
                    assert_eq!(fv, sv);
                    assert_eq!(f.metrics, s.metrics, "{prompt} {fv}");
                    assert_eq!(f.times, s.times, "{prompt} {fv}");
                    assert_eq!(f.quality, s.quality, "{prompt} {fv}");
                    assert_eq!(f.concurrencies, s.concurrencies, "{prompt} {fv}");
                }
            }
        }
    }

    #[test]
    fn blob_metrics_from_columns_equal_the_simple_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut lines = Vec::new();
        for i in 0..900 {
            let version = ["1.0", "1.1", "2.0"][i % 3];
            let sha = match i % 5 {
                4 => String::new(),
                k => format!(r#","prompt_sha":"{version}-{}""#, k % 2),
            };
            let extra = match i % 4 {
                0 => r#","model":"m1","prompt_tokens":120,"completion_tokens":30"#.to_string(),
                1 => format!(
                    r#","token_count":{},"output":"{}""#,
                    i % 90,
                    "x".repeat(i % 13)
                ),
                2 => format!(r#","quality_score":{}.5,"feedback":"f""#, i % 9 + 1),
                _ => String::new(),
            };
            lines.push(format!(
                r#"{{"id":"b-{i}","ts":"2026-11-{:02}T10:00:00Z","prompt":"{}","version":"{version}","execution_time_ms":{}.25,"success":{}{sha}{extra}}}"#,
                i % 28 + 1,
                ["coach", "old_coach"][i % 7 / 6],
                i * 37 % 1000,
                i % 6 != 0,
            ));
            if i % 19 == 0 {
                lines.push(format!(
                    r#"{{"type":"rating","id":"rt-{i}","ts":"2026-11-29T00:00:00Z","run_id":"b-{}","quality_score":{}}}"#,
                    i / 2,
                    i % 10 + 1
                ));
            }
        }
        write(
            dir.path(),
            "coach/2026-11.jsonl",
            &(lines[..500].join("\n") + "\n"),
        );
        write(dir.path(), "misc.jsonl", &(lines[500..].join("\n") + "\n"));
        let names: std::collections::BTreeSet<String> =
            ["coach".to_string(), "old_coach".to_string()].into();
        let shas: Vec<String> = ["1.0", "1.1", "2.0"]
            .iter()
            .flat_map(|v| [format!("{v}-0"), format!("{v}-1")])
            .collect();
        let wanted: std::collections::HashSet<&str> = shas.iter().map(String::as_str).collect();
        let cache = tempfile::tempdir().expect("cache");
        for cache_root in [None, Some(cache.path()), Some(cache.path())] {
            let columns = RunColumns::read(
                dir.path(),
                Path::new("runs"),
                cache_root,
                &RunFilter::default(),
                2,
            );
            let slow = RunSet::load(dir.path(), Path::new("runs"), &RunFilter::default());
            // Runs of one text under two prompt names: only the simple path orders them.
            assert!(columns.blob_metrics(&names, &wanted).is_none());
            let one: std::collections::BTreeSet<String> = ["coach".to_string()].into();
            let fast = columns
                .blob_metrics(&one, &wanted)
                .expect("one group per blob");
            let mut one_sha: HashMap<&str, Vec<&crate::runlog::RunFacts>> = HashMap::new();
            for r in slow.runs.iter().filter(|r| r.prompt == "coach") {
                if let Some(sha) = &r.prompt_sha {
                    one_sha.entry(sha.as_str()).or_default().push(r);
                }
            }
            assert_eq!(fast.len(), 6);
            for (sha, runs) in one_sha {
                let want = crate::runlog::Metrics::compute(runs.iter().copied());
                assert!(want.quality_n > 0 && want.tokens_total > 0 && want.runs > 50);
                assert_eq!(fast.get(sha), Some(&want), "{sha}");
            }
        }
    }

    #[test]
    fn repeated_ids_leave_trends_and_sides_to_the_simple_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let line = r#"{"id":"same","ts":"2026-11-02T10:00:00Z","prompt":"coach","version":"1.0","success":true,"execution_time_ms":5}"#;
        write(
            dir.path(),
            "coach/2026-11.jsonl",
            &format!("{line}\n{line}\n"),
        );
        let filter = RunFilter {
            prompt: Some("coach".into()),
            ..RunFilter::default()
        };
        let columns = RunColumns::read(dir.path(), Path::new("runs"), None, &filter, 1);
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("day");
        let config = crate::config::Config::default();
        assert!(
            columns
                .trends(
                    "coach",
                    None,
                    crate::metrics::Bucket::Day,
                    (day, day),
                    &config
                )
                .is_none()
        );
        assert!(columns.sides("coach").is_none());
        // Two texts of one version: only the simple path orders their runs.
        let other = line
            .replace("\"same\"", "\"other\"")
            .replace("\"1.0\"", "\"1.00\"");
        write(
            dir.path(),
            "coach/2026-11.jsonl",
            &format!("{line}\n{other}\n"),
        );
        let columns = RunColumns::read(dir.path(), Path::new("runs"), None, &filter, 1);
        assert!(columns.sides("coach").is_none());
    }

    #[test]
    fn fast_events_equal_parsed_events() {
        let mut fast = 0;
        for line in varied(3000) {
            if let Some(ev) = fast_event(line.as_bytes()) {
                fast += 1;
                assert_eq!(parse_line(&line).ok(), Some(ev), "{line}");
            }
        }
        assert!(fast > 2500, "only {fast} lines took the fast path");
    }

    #[test]
    fn duplicate_ids_defer_to_the_simple_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let line = r#"{"id":"a","ts":"2026-11-02T10:00:00Z","prompt":"p","version":"1.0","success":true,"execution_time_ms":5}"#;
        write(dir.path(), "p/2026-11.jsonl", &format!("{line}\n{line}\n"));
        assert!(performance(dir.path(), Path::new("runs"), &RunFilter::default(), 2).is_none());
    }

    /// `performance` keeps one group per thread for a version and packs its times: the
    /// figures must not depend on how the files were shared out, and what only the simple
    /// path decides (an id in two files, two texts of a version) must still be seen.
    #[test]
    fn versions_read_by_several_threads_add_up_alike() {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = |id: usize, version: &str, time: &str| {
            format!(
                r#"{{"id":"r{id}","ts":"2026-11-02T10:00:00Z","prompt":"p","version":"{version}","success":{},"execution_time_ms":{time},"quality_score":{}}}"#,
                !id.is_multiple_of(3),
                id % 10 + 1
            )
        };
        // Over 4,096 runs a version in each file: whole blocks are packed.
        let file = |from: usize, version: &str, plain: bool| {
            let mut text = String::new();
            for id in from..from + 5000 {
                let time = if plain && id == from + 17 {
                    // Not a whole number of thousandths: this group keeps plain times.
                    "0.30000000000000004".to_string()
                } else {
                    format!("{}.{}", (id * 7919) % 4000, id % 10)
                };
                text += &run(id, version, &time);
                text.push('\n');
            }
            text
        };
        write(dir.path(), "p/2026-09.jsonl", &file(0, "1.1", false));
        write(dir.path(), "p/2026-10.jsonl", &file(5000, "1.1", true));
        write(dir.path(), "p/2026-11.jsonl", &file(10000, "1.1", false));
        for threads in [1, 2, 3] {
            let (fast, slow, _) = both(dir.path(), &RunFilter::default(), threads);
            assert_eq!(fast.prompts, slow, "threads={threads}");
            assert_eq!(fast.prompts[0].versions[0].metrics.runs, 15000);
        }
        // An id in two files, read by different threads.
        write(dir.path(), "p/2026-12.jsonl", &(run(3, "1.1", "5") + "\n"));
        assert!(performance(dir.path(), Path::new("runs"), &RunFilter::default(), 2).is_none());
        // Two texts of one version, in different files.
        write(
            dir.path(),
            "p/2026-12.jsonl",
            &(run(20000, "1.10", "5") + "\n"),
        );
        let (_, slow, _) = both(dir.path(), &RunFilter::default(), 1);
        assert_eq!(slow[0].versions.len(), 2);
        write(
            dir.path(),
            "p/2026-12.jsonl",
            &(run(20000, "1.01", "5") + "\n"),
        );
        for threads in [1, 2, 3] {
            let fast = performance(
                dir.path(),
                Path::new("runs"),
                &RunFilter::default(),
                threads,
            );
            assert!(fast.is_none(), "threads={threads}");
        }
    }

    #[test]
    fn a_byte_order_mark_and_a_line_cut_inside_a_character_read_alike() {
        let dir = tempfile::tempdir().expect("tempdir");
        let line = |id: &str| {
            format!(
                "{{\"id\":\"{id}\",\"ts\":\"2026-11-02T10:00:00Z\",\"prompt\":\"p\",\"version\":\"1.0\",\"success\":true,\"execution_time_ms\":5,\"output\":\"caf\u{e9}\"}}"
            )
        };
        let torn = line("c");
        let torn = &torn.as_bytes()[..torn.find('\u{e9}').expect("é") + 1];
        let mut bytes = format!("\u{feff}{}\n{}\n", line("a"), line("b")).into_bytes();
        bytes.extend_from_slice(torn);
        let p = dir.path().join("p/2026-11.jsonl");
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, bytes).expect("write");
        let (fast, slow, slow_diags) = both(dir.path(), &RunFilter::default(), 1);
        assert_eq!(fast.prompts, slow);
        assert_eq!(slow[0].all.runs, 2, "the first run counts");
        assert_eq!(fast.diagnostics, slow_diags);
        assert_eq!(slow_diags.len(), 1);
        assert_eq!(slow_diags[0].severity, crate::Severity::Warning);
    }

    #[test]
    fn times_far_from_now_and_leap_seconds_filter_and_show_alike() {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = |id: &str, ts: &str| {
            format!(
                "{{\"id\":\"{id}\",\"ts\":\"{ts}\",\"prompt\":\"p\",\"version\":\"1.0\",\"success\":true,\"execution_time_ms\":5}}\n"
            )
        };
        let text = [
            run("a", "9999-12-31T23:59:59.999Z"),
            run("b", "1500-06-01T00:00:00.5Z"),
            run("c", "2262-04-11T23:47:16.854775808Z"),
            run("d", "2026-11-02T23:15:60.25Z"),
            run("e", "2026-11-02T23:15:59Z"),
        ]
        .concat();
        write(dir.path(), "p/2026-11.jsonl", &text);
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("ts")
                .with_timezone(&Utc)
        };
        for (since, until) in [
            (None, None),
            (Some(at("2026-01-01T00:00:00Z")), None),
            (None, Some(at("2026-11-02T23:15:60.1Z"))),
            (
                Some(at("2026-11-02T23:15:60Z")),
                Some(at("2262-04-11T23:47:16.854775808Z")),
            ),
        ] {
            let filter = RunFilter {
                since,
                until,
                ..RunFilter::default()
            };
            let (fast, slow, _) = both(dir.path(), &filter, 1);
            assert_eq!(fast.prompts, slow, "{since:?}..{until:?}");
            assert!(fast.fallback_lines <= 1, "only the leap second falls back");
        }
        let (fast, _, _) = both(dir.path(), &RunFilter::default(), 1);
        assert_eq!(
            fast.prompts[0].all.last_run,
            Some(at("9999-12-31T23:59:59.999Z"))
        );
    }

    #[test]
    fn ratings_at_the_same_millisecond_count_alike_in_either_line_order() {
        let run = r#"{"id":"a","ts":"2026-11-01T10:00:00Z","prompt":"p","version":"1.0","success":true,"execution_time_ms":5}"#;
        let ratings = [
            r#"{"type":"rating","id":"r1","ts":"2026-11-02T10:00:00.000Z","run_id":"a","quality_score":3,"feedback":"one"}"#,
            r#"{"type":"rating","id":"r2","ts":"2026-11-02T10:00:00.000Z","run_id":"a","quality_score":9,"feedback":"two"}"#,
            // Without an id: its line decides.
            r#"{"type":"rating","ts":"2026-11-02T10:00:00.000Z","run_id":"a","quality_score":6}"#,
            // An escape in the id: the full parser reads this line, the scanner the others.
            r#"{"type":"rating","id":"r3","ts":"2026-11-02T10:00:00Z","run_id":"a","quality_score":1}"#,
        ];
        let mut results = Vec::new();
        let mut order: Vec<usize> = (0..ratings.len()).collect();
        for turn in 0..8 {
            order.rotate_left(1);
            if turn == 4 {
                order.reverse();
            }
            let dir = tempfile::tempdir().expect("tempdir");
            let lines: Vec<&str> = order.iter().map(|&i| ratings[i]).collect();
            // The run in one file and the ratings split over two, or all in one.
            if turn % 2 == 0 {
                write(
                    dir.path(),
                    "p/2026-11.jsonl",
                    &format!("{run}\n{}\n", lines.join("\n")),
                );
            } else {
                write(
                    dir.path(),
                    "p/2026-10.jsonl",
                    &format!("{run}\n{}\n", lines[..2].join("\n")),
                );
                write(
                    dir.path(),
                    "p/2026-11.jsonl",
                    &format!("{}\n", lines[2..].join("\n")),
                );
            }
            let (fast, slow, _) = both(dir.path(), &RunFilter::default(), 1);
            assert_eq!(fast.prompts, slow, "order {order:?}");
            for _ in 0..2 {
                let (cached, _) =
                    cache::performance_cached(dir.path(), Path::new("runs"), dir.path(), None, 1)
                        .expect("the cache folder")
                        .expect("no duplicates");
                assert_eq!(cached.prompts, slow, "order {order:?}");
            }
            let m = &slow[0].all;
            results.push((m.quality_mean, m.feedback_count));
        }
        results.dedup();
        assert_eq!(results.len(), 1, "{results:?}");
    }
}
