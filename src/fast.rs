//! The fast run-log reader behind `performance`: same figures as the simple reader
//! ([`crate::metrics::RunSet`]), in a fraction of the time and memory.
//!
//! It scans each line for the few fields an aggregation needs and skips the rest (long `output`
//! and `input` strings) with `memchr`, without building them; it keeps per run only the time
//! (for exact percentiles), a 64-bit hash of the id (for duplicates and ratings) and a byte of
//! flags; it splits the files between two threads. Anything unusual on a line (escapes in the
//! fields it reads, tabs, a timestamp with an offset, a wrong type…) sends that line through the
//! simple parser, so every figure and every diagnostic equals the simple path's. When two runs
//! share an id (e.g. after a `merge=union` merge) the caller falls back to the simple path,
//! which keeps the first of them.
//!
//! [`performance_cached`] keeps what it read of each log under `.ptrack/cache/`, so a later
//! query reads only the bytes appended since; see [`cache`].

pub mod cache;

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::diagnostic::Diagnostic;
use crate::metrics::{Metrics, MetricsBuilder, PromptMetrics, VersionMetrics};
use crate::prompt::is_valid_name;
use crate::runs::{Event, RunFilter, log_files, parse_line};
use crate::version::Version;

/// Per-run flag bits.
const SUCCESS: u8 = 1;
const FEEDBACK: u8 = 2;

/// Quality of one run: 0 none, 1..=10 a whole score, `FRACTIONAL` a score in the side table.
const FRACTIONAL: u8 = 255;

/// One prompt version's runs, in log order.
#[derive(Debug, Default)]
struct Group {
    prompt: String,
    version: String,
    ids: Vec<u64>,
    times: Vec<f64>,
    flags: Vec<u8>,
    quality: Vec<u8>,
    /// Scores that are not whole numbers, by run index.
    fractional: HashMap<usize, f64>,
    /// Earliest and latest run time, nanoseconds.
    first: Option<i64>,
    last: Option<i64>,
    tokens_sum: u64,
    tokens_n: u64,
    length_sum: u64,
}

/// The latest rating of a run.
#[derive(Debug, Clone, Copy)]
struct Rated {
    ts: i64,
    quality: f64,
    feedback: bool,
}

/// What one thread gathered from its files.
#[derive(Debug, Default)]
struct Partial {
    /// Group index by prompt, then version (looked up without allocating).
    index: HashMap<String, Vec<(String, usize)>, FastState>,
    groups: Vec<Group>,
    ratings: HashMap<u64, Rated, FastState>,
    diagnostics: Vec<Diagnostic>,
    /// Lines the simple parser handled.
    fallbacks: usize,
}

/// Fast hashing with a fixed seed for the maps of the hot loop.
type FastState = foldhash::fast::FixedState;

/// A 64-bit hash of a run id (fixed seed: the same id always hashes the same).
fn id_hash(id: &[u8]) -> u64 {
    let mut h = FastState::with_seed(0x5eed).build_hasher();
    h.write(id);
    h.finish()
}

/// The fields of one line the aggregation needs, borrowed from the line.
#[derive(Debug, Default)]
struct Fields<'a> {
    kind: Option<&'a [u8]>,
    id: Option<&'a [u8]>,
    ts: Option<&'a [u8]>,
    prompt: Option<&'a [u8]>,
    version: Option<&'a [u8]>,
    run_id: Option<&'a [u8]>,
    time: Option<f64>,
    tokens: Option<u64>,
    length: Option<u64>,
    prompt_sha: Option<&'a [u8]>,
    /// The output string's body (start, end) in the line and its number of escape sequences.
    output: Option<(usize, usize, u64)>,
    success: Option<bool>,
    quality: Option<f64>,
    feedback: Option<bool>,
}

/// A line the fast scanner does not handle itself; the simple parser decides.
struct Fallback;

type Scan<T> = Result<T, Fallback>;

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn ws(&mut self) {
        while self.b.get(self.i) == Some(&b' ') {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Scan<()> {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(Fallback)
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    /// A string without escapes, as raw bytes (escapes: fallback).
    fn plain_string(&mut self) -> Scan<&'a [u8]> {
        self.eat(b'"')?;
        let rest = &self.b[self.i..];
        let end = memchr::memchr2(b'"', b'\\', rest).ok_or(Fallback)?;
        if rest[end] != b'"' {
            return Err(Fallback);
        }
        self.i += end + 1;
        Ok(&rest[..end])
    }

    /// Skip a string, validating its escapes; returns the number of escape sequences in it
    /// (its length in characters is the UTF-8 lead bytes of its body minus the escapes' extra bytes).
    fn skip_string(&mut self) -> Scan<u64> {
        self.eat(b'"')?;
        let mut escapes = 0u64;
        loop {
            let rest = &self.b[self.i..];
            let stop = memchr::memchr2(b'"', b'\\', rest).ok_or(Fallback)?;
            self.i += stop;
            if self.b[self.i] == b'"' {
                self.i += 1;
                return Ok(escapes);
            }
            // An escape: one character (a surrogate pair is one too).
            let e = *self.b.get(self.i + 1).ok_or(Fallback)?;
            match e {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 2,
                b'u' => {
                    let cp = self.hex4(self.i + 2)?;
                    self.i += 6;
                    if (0xD800..0xDC00).contains(&cp) {
                        if self.b.get(self.i) != Some(&b'\\')
                            || self.b.get(self.i + 1) != Some(&b'u')
                        {
                            return Err(Fallback);
                        }
                        let low = self.hex4(self.i + 2)?;
                        if !(0xDC00..0xE000).contains(&low) {
                            return Err(Fallback);
                        }
                        self.i += 6;
                    } else if (0xDC00..0xE000).contains(&cp) {
                        return Err(Fallback);
                    }
                }
                _ => return Err(Fallback),
            }
            escapes += 1;
        }
    }

    fn hex4(&self, at: usize) -> Scan<u32> {
        let h = self.b.get(at..at + 4).ok_or(Fallback)?;
        let s = std::str::from_utf8(h).map_err(|_| Fallback)?;
        if !h.iter().all(u8::is_ascii_hexdigit) {
            return Err(Fallback);
        }
        u32::from_str_radix(s, 16).map_err(|_| Fallback)
    }

    /// A JSON number token, validated against the JSON grammar.
    fn number(&mut self) -> Scan<&'a str> {
        self.ws();
        let start = self.i;
        let b = self.b;
        let digits = |i: &mut usize| {
            let s = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > s
        };
        let mut i = self.i;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        if b.get(i) == Some(&b'0') {
            i += 1;
        } else if !digits(&mut i) {
            return Err(Fallback);
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                return Err(Fallback);
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digits(&mut i) {
                return Err(Fallback);
            }
        }
        self.i = i;
        std::str::from_utf8(&b[start..i]).map_err(|_| Fallback)
    }

    fn literal(&mut self, word: &[u8]) -> Scan<()> {
        self.ws();
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(Fallback)
        }
    }

    /// Skip any value.
    fn skip_value(&mut self, depth: u32) -> Scan<()> {
        if depth > 64 {
            return Err(Fallback);
        }
        match self.peek().ok_or(Fallback)? {
            b'"' => self.skip_string().map(|_| ()),
            b'{' => self.skip_container(b'}', true, depth),
            b'[' => self.skip_container(b']', false, depth),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number().map(|_| ()),
        }
    }

    /// Skip an object (`keyed`) or an array whose opening bracket is next.
    fn skip_container(&mut self, close: u8, keyed: bool, depth: u32) -> Scan<()> {
        self.i += 1;
        if self.peek() == Some(close) {
            self.i += 1;
            return Ok(());
        }
        loop {
            if keyed {
                self.skip_string()?;
                self.eat(b':')?;
            }
            self.skip_value(depth + 1)?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Fallback),
            }
        }
    }

    fn string_or_null(&mut self) -> Scan<Option<&'a [u8]>> {
        if self.is_null() {
            Ok(None)
        } else {
            self.plain_string().map(Some)
        }
    }

    fn is_null(&mut self) -> bool {
        self.ws();
        if self.b[self.i..].starts_with(b"null") {
            self.i += 4;
            true
        } else {
            false
        }
    }
}

/// Scan one line (no line end, valid UTF-8, no control characters) into its fields.
fn scan_fields(line: &[u8]) -> Scan<Fields<'_>> {
    let mut c = Cursor { b: line, i: 0 };
    let mut f = Fields::default();
    let mut seen = 0u32;
    c.eat(b'{')?;
    if c.peek() == Some(b'}') {
        return Err(Fallback);
    }
    loop {
        let key = c.plain_string()?;
        c.eat(b':')?;
        let bit = match key {
            b"type" => 0,
            b"id" => 1,
            b"ts" => 2,
            b"prompt" => 3,
            b"version" => 4,
            b"run_id" => 5,
            b"execution_time_ms" => 6,
            b"token_count" => 7,
            b"output_length" => 8,
            b"output" => 9,
            b"success" => 10,
            b"quality_score" => 11,
            b"feedback" => 12,
            b"prompt_sha" => 13,
            _ => 99,
        };
        if bit < 99 {
            // A repeated field is an error for the simple parser; let it say so.
            if seen & (1 << bit) != 0 {
                return Err(Fallback);
            }
            seen |= 1 << bit;
        }
        match bit {
            0 => f.kind = c.string_or_null()?,
            1 => f.id = c.string_or_null()?,
            2 => f.ts = c.string_or_null()?,
            3 => f.prompt = c.string_or_null()?,
            4 => f.version = c.string_or_null()?,
            5 => f.run_id = c.string_or_null()?,
            13 => f.prompt_sha = c.string_or_null()?,
            6 | 11 => {
                if !c.is_null() {
                    let n: f64 = c.number()?.parse().map_err(|_| Fallback)?;
                    if !n.is_finite() {
                        return Err(Fallback);
                    }
                    if bit == 6 {
                        f.time = Some(n)
                    } else {
                        f.quality = Some(n)
                    }
                }
            }
            7 | 8 => {
                if !c.is_null() {
                    let t = c.number()?;
                    // Only plain non-negative integers; anything else is the simple parser's call.
                    if !t.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(Fallback);
                    }
                    let n: u64 = t.parse().map_err(|_| Fallback)?;
                    if bit == 7 {
                        f.tokens = Some(n)
                    } else {
                        f.length = Some(n)
                    }
                }
            }
            9 => {
                if !c.is_null() {
                    if c.peek() != Some(b'"') {
                        return Err(Fallback);
                    }
                    let start = c.i + 1;
                    let escapes = c.skip_string()?;
                    f.output = Some((start, c.i - 1, escapes));
                }
            }
            10 => match c.peek() {
                Some(b't') => {
                    c.literal(b"true")?;
                    f.success = Some(true);
                }
                Some(b'f') => {
                    c.literal(b"false")?;
                    f.success = Some(false);
                }
                _ => return Err(Fallback),
            },
            12 => {
                if c.is_null() {
                    f.feedback = None;
                } else {
                    c.ws();
                    let start = c.i;
                    c.skip_string()?;
                    let quoted = &line[start..c.i];
                    let raw = &quoted[1..quoted.len() - 1];
                    // Feedback counts when it is more than whitespace; escapes are decoded first.
                    let blank = if raw.contains(&b'\\') {
                        serde_json::from_slice::<String>(quoted)
                            .map_err(|_| Fallback)?
                            .trim()
                            .is_empty()
                    } else {
                        std::str::from_utf8(raw)
                            .map_err(|_| Fallback)?
                            .trim()
                            .is_empty()
                    };
                    f.feedback = Some(!blank);
                }
            }
            _ => c.skip_value(0)?,
        }
        match c.peek() {
            Some(b',') => c.i += 1,
            Some(b'}') => {
                c.i += 1;
                break;
            }
            _ => return Err(Fallback),
        }
    }
    c.ws();
    if c.i != line.len() {
        return Err(Fallback);
    }
    Ok(f)
}

/// A run line's fields, borrowed from the line.
struct ScannedRun<'a> {
    id: &'a [u8],
    ts: i64,
    prompt: &'a str,
    version: &'a str,
    prompt_sha: Option<&'a [u8]>,
    time: f64,
    tokens: Option<u64>,
    length: u64,
    success: bool,
    quality: Option<f64>,
    feedback: bool,
}

/// A line the fast scanner understood, validated exactly as [`parse_line`] validates it.
enum Scanned<'a> {
    Run(ScannedRun<'a>),
    Rating {
        run_id: &'a [u8],
        ts: i64,
        quality: f64,
        feedback: bool,
    },
}

/// Scan and validate one line (without its line end); anything unusual is a [`Fallback`].
fn scan_line(text: &[u8]) -> Scan<Scanned<'_>> {
    // Raw control characters (tabs too) and invalid UTF-8: the simple parser's call.
    if text
        .chunks(64)
        .any(|c| c.iter().fold(0u8, |a, &b| a | u8::from(b < 0x20)) != 0)
    {
        return Err(Fallback);
    }
    simdutf8::basic::from_utf8(text).map_err(|_| Fallback)?;
    let f = scan_fields(text)?;
    let ts = fast_ts(f.ts.ok_or(Fallback)?)?;
    match f.kind {
        None | Some(b"run") => {}
        Some(b"rating") => {
            let run_id = f.run_id.filter(|r| !r.is_empty()).ok_or(Fallback)?;
            let quality = f
                .quality
                .filter(|q| (1.0..=10.0).contains(q))
                .ok_or(Fallback)?;
            return Ok(Scanned::Rating {
                run_id,
                ts,
                quality,
                feedback: f.feedback.unwrap_or(false),
            });
        }
        Some(_) => return Err(Fallback),
    }
    let id = f.id.filter(|i| !i.is_empty()).ok_or(Fallback)?;
    let prompt = std::str::from_utf8(f.prompt.ok_or(Fallback)?).map_err(|_| Fallback)?;
    let version = std::str::from_utf8(f.version.ok_or(Fallback)?).map_err(|_| Fallback)?;
    if !is_valid_name(prompt) || !is_version(version) {
        return Err(Fallback);
    }
    let time = f.time.filter(|t| *t >= 0.0).ok_or(Fallback)?;
    let success = f.success.ok_or(Fallback)?;
    if f.quality.is_some_and(|q| !(1.0..=10.0).contains(&q)) {
        return Err(Fallback);
    }
    let length = match (f.length, f.output) {
        (Some(n), _) => n,
        (None, Some(span)) => output_chars(text, span),
        (None, None) => 0,
    };
    Ok(Scanned::Run(ScannedRun {
        id,
        ts,
        prompt,
        version,
        prompt_sha: f.prompt_sha,
        time,
        tokens: f.tokens,
        length,
        success,
        quality: f.quality,
        feedback: f.feedback.unwrap_or(false),
    }))
}

/// The run on a line, read by the fast scanner; None when the simple parser must decide
/// (ratings too, whose feedback text the scanner does not decode).
pub fn fast_event(text: &[u8]) -> Option<Event> {
    let Ok(Scanned::Run(r)) = scan_line(text) else {
        return None;
    };
    let s = |b: &[u8]| std::str::from_utf8(b).ok().map(str::to_string);
    Some(Event::Run(crate::runs::RunFacts {
        id: s(r.id)?,
        ts: from_nanos(r.ts),
        prompt: r.prompt.to_string(),
        version: r.version.to_string(),
        prompt_sha: match r.prompt_sha {
            Some(b) => Some(s(b)?),
            None => None,
        },
        execution_time_ms: r.time,
        token_count: r.tokens,
        output_length: r.length,
        success: r.success,
        quality_score: r.quality,
        has_feedback: r.feedback,
    }))
}

/// Characters of a JSON string body without decoding it: UTF-8 lead bytes, where each escape
/// sequence (`\\n`, `\\u00e9`, a surrogate pair) counts as one character.
fn output_chars(line: &[u8], (start, end, escapes): (usize, usize, u64)) -> u64 {
    let body = &line[start..end];
    if escapes == 0 {
        return body.iter().filter(|&&c| c & 0xC0 != 0x80).count() as u64;
    }
    let mut chars = 0u64;
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'\\' {
            let len = match body.get(i + 1) {
                Some(b'u')
                    if body.get(i + 6) == Some(&b'\\')
                        && body.get(i + 2).is_some_and(|c| matches!(c, b'd' | b'D'))
                        && body.get(i + 3).is_some_and(|c| {
                            matches!(c, b'8' | b'9' | b'a' | b'b' | b'A' | b'B')
                        }) =>
                {
                    12
                }
                Some(b'u') => 6,
                _ => 2,
            };
            chars += 1;
            i += len;
        } else {
            chars += u64::from(body[i] & 0xC0 != 0x80);
            i += 1;
        }
    }
    chars
}

/// Whether `v` parses as a [`Version`], without allocating (dotted runs of 1 to 19 digits).
fn is_version(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && v.split('.')
            .all(|p| !p.is_empty() && p.len() <= 19 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` as nanoseconds since the epoch; other forms: fallback.
fn fast_ts(s: &[u8]) -> Scan<i64> {
    let num = |r: std::ops::Range<usize>| -> Scan<i64> {
        let part = s.get(r).ok_or(Fallback)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(Fallback);
        }
        Ok(part.iter().fold(0i64, |a, &d| a * 10 + i64::from(d - b'0')))
    };
    if s.len() < 20
        || s[4] != b'-'
        || s[7] != b'-'
        || s[10] != b'T'
        || s[13] != b':'
        || s[16] != b':'
        || s.last() != Some(&b'Z')
    {
        return Err(Fallback);
    }
    let (y, mo, d, h, mi, sec) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    let mut nanos = 0i64;
    if s.len() > 20 {
        if s[19] != b'.' || s.len() > 30 || s.len() < 22 {
            return Err(Fallback);
        }
        let frac = &s[20..s.len() - 1];
        if !frac.iter().all(u8::is_ascii_digit) {
            return Err(Fallback);
        }
        nanos = frac.iter().fold(0i64, |a, &d| a * 10 + i64::from(d - b'0'))
            * 10i64.pow(9 - frac.len() as u32);
    }
    let date = chrono::NaiveDate::from_ymd_opt(y as i32, mo as u32, d as u32).ok_or(Fallback)?;
    let time = chrono::NaiveTime::from_hms_opt(h as u32, mi as u32, sec as u32).ok_or(Fallback)?;
    let secs = date.and_time(time).and_utc().timestamp();
    Ok(secs * 1_000_000_000 + nanos)
}

fn to_nanos(t: &DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(i64::MIN)
}

fn from_nanos(n: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(n)
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
        ts: i64,
        prompt: &str,
        version: &str,
        time: f64,
        tokens: Option<u64>,
        length: u64,
        success: bool,
        quality: Option<f64>,
        feedback: bool,
    ) {
        let g = self.group(prompt, version);
        let index = g.times.len();
        g.ids.push(id_hash(id));
        g.times.push(time);
        g.first = Some(g.first.map_or(ts, |f| f.min(ts)));
        g.last = Some(g.last.map_or(ts, |l| l.max(ts)));
        g.flags
            .push(if success { SUCCESS } else { 0 } | if feedback { FEEDBACK } else { 0 });
        g.quality.push(match quality {
            None => 0,
            Some(q) if q.fract() == 0.0 => q as u8,
            Some(q) => {
                g.fractional.insert(index, q);
                FRACTIONAL
            }
        });
        if let Some(t) = tokens {
            g.tokens_sum = g.tokens_sum.saturating_add(t);
            g.tokens_n += 1;
        }
        g.length_sum = g.length_sum.saturating_add(length);
    }

    fn add_rating(&mut self, run_id: &[u8], ts: i64, quality: f64, feedback: bool) {
        let key = id_hash(run_id);
        if self.ratings.get(&key).is_none_or(|old| ts >= old.ts) {
            self.ratings.insert(
                key,
                Rated {
                    ts,
                    quality,
                    feedback,
                },
            );
        }
    }

    /// Handle one line the way the simple reader would.
    fn line(
        &mut self,
        text: &[u8],
        complete: bool,
        line_no: usize,
        shown: &Path,
        filter: &RunFilter,
    ) {
        let fast = (|| -> Scan<()> {
            match scan_line(text)? {
                Scanned::Rating {
                    run_id,
                    ts,
                    quality,
                    feedback,
                } => self.add_rating(run_id, ts, quality, feedback),
                Scanned::Run(r) => {
                    let passes = filter.prompt.as_ref().is_none_or(|p| p == r.prompt)
                        && filter.version.as_ref().is_none_or(|v| v == r.version)
                        && filter.since.is_none_or(|s| r.ts >= to_nanos(&s))
                        && filter.until.is_none_or(|u| r.ts < to_nanos(&u));
                    if passes {
                        self.add_run(
                            r.id, r.ts, r.prompt, r.version, r.time, r.tokens, r.length, r.success,
                            r.quality, r.feedback,
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
                    .push(crate::runs::utf8_diagnostic(shown, line_no, e));
                return;
            }
        };
        match parse_line(text) {
            Ok(Event::Run(r)) => {
                if filter.matches(&r) {
                    self.add_run(
                        r.id.as_bytes(),
                        to_nanos(&r.ts),
                        &r.prompt,
                        &r.version,
                        r.execution_time_ms,
                        r.token_count,
                        r.output_length,
                        r.success,
                        r.quality_score,
                        r.has_feedback,
                    );
                }
            }
            Ok(Event::Rating(r)) => self.add_rating(
                r.run_id.as_bytes(),
                to_nanos(&r.ts),
                r.quality_score,
                r.feedback.is_some_and(|f| !f.trim().is_empty()),
            ),
            Err(e) => {
                let d = crate::runs::line_diagnostic(shown, line_no, complete, e);
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
        let mut file = match std::fs::File::open(path)
            .and_then(|mut f| f.seek(std::io::SeekFrom::Start(offset)).map(|_| f))
        {
            Ok(f) => f,
            Err(e) => {
                self.diagnostics.push(Diagnostic::error(
                    shown,
                    None,
                    format!("cannot read run log: {e}"),
                ));
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
                    self.diagnostics.push(Diagnostic::error(
                        shown,
                        None,
                        format!("cannot read run log: {e}"),
                    ));
                    return None;
                }
            };
            let eof = n == 0;
            filled += n;
            if n > 0 {
                last_byte = Some(buf[filled - 1]);
            }
            let mut consumed = 0;
            while let Some(nl) = memchr::memchr(b'\n', &buf[consumed..filled]) {
                line_no += 1;
                let raw = &buf[consumed..consumed + nl];
                consumed += nl + 1;
                let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                if !raw.iter().all(u8::is_ascii_whitespace) {
                    self.line(raw, true, line_no, shown, filter);
                }
            }
            if eof {
                if consumed < filled {
                    line_no += 1;
                    let raw = &buf[consumed..filled];
                    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                    if !raw.iter().all(u8::is_ascii_whitespace) {
                        self.line(raw, false, line_no, shown, filter);
                    }
                }
                return Some((line_no, last_byte.is_none_or(|b| b == b'\n')));
            }
            buf.copy_within(consumed..filled, 0);
            filled -= consumed;
        }
    }

    /// Append `other` (from later files) to `self`.
    fn merge(&mut self, other: Partial) {
        for g in other.groups {
            let target = self.group(&g.prompt, &g.version);
            let offset = target.times.len();
            target.ids.extend(g.ids);
            target.times.extend(g.times);
            target.first = match (target.first, g.first) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            target.last = match (target.last, g.last) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            target.flags.extend(g.flags);
            target.quality.extend(g.quality);
            target
                .fractional
                .extend(g.fractional.into_iter().map(|(i, q)| (i + offset, q)));
            target.tokens_sum = target.tokens_sum.saturating_add(g.tokens_sum);
            target.tokens_n += g.tokens_n;
            target.length_sum = target.length_sum.saturating_add(g.length_sum);
        }
        for (k, r) in other.ratings {
            if self.ratings.get(&k).is_none_or(|old| r.ts >= old.ts) {
                self.ratings.insert(k, r);
            }
        }
        self.diagnostics.extend(other.diagnostics);
        self.fallbacks += other.fallbacks;
    }
}

/// The result of the fast path.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FastPerformance {
    /// Per prompt and version, as [`crate::metrics::performance`] gives them.
    pub prompts: Vec<PromptMetrics>,
    /// Problems found while reading, as the simple reader reports them.
    pub diagnostics: Vec<Diagnostic>,
    /// Lines the simple parser had to handle (escapes in key fields, offsets, bad lines).
    pub fallback_lines: usize,
}

/// Aggregate every run under `runs_dir` passing `filter`, per prompt and version, with up to
/// `threads` threads. None when two runs share an id: the caller then uses the simple path.
pub fn performance(
    runs_dir: &Path,
    display_root: &Path,
    filter: &RunFilter,
    threads: usize,
) -> Option<FastPerformance> {
    let files: Vec<(PathBuf, PathBuf)> = log_files(runs_dir)
        .into_iter()
        .filter_map(|f| {
            let rel = f.strip_prefix(runs_dir).ok()?.to_path_buf();
            may_hold(filter, &rel).then(|| (f.clone(), display_root.join(rel)))
        })
        .collect();
    // Contiguous shares of about equal size keep file order when the parts are appended.
    let sizes: Vec<u64> = files
        .iter()
        .map(|(f, _)| std::fs::metadata(f).map_or(0, |m| m.len()))
        .collect();
    let shares: Vec<&[(PathBuf, PathBuf)]> = crate::runs::split_by_size(&sizes, threads)
        .into_iter()
        .map(|r| &files[r])
        .collect();
    let parts: Vec<Partial> = std::thread::scope(|s| {
        let handles: Vec<_> = shares
            .iter()
            .map(|share| {
                s.spawn(move || {
                    let mut p = Partial::default();
                    let mut buf = Vec::new();
                    for (file, shown) in share.iter() {
                        p.file(file, shown, filter, &mut buf);
                    }
                    p
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut all = Partial::default();
    for p in parts {
        all.merge(p);
    }
    finish(all, None)
}

/// Figures from the merged data of every file; `only_prompt` keeps one prompt's groups.
/// None when two runs share an id.
fn finish(mut all: Partial, only_prompt: Option<&str>) -> Option<FastPerformance> {
    if let Some(p) = only_prompt {
        all.groups.retain(|g| g.prompt == p);
    }
    let ratings = std::mem::take(&mut all.ratings);
    let mut ids: Vec<u64> = Vec::new();
    let mut by_prompt: std::collections::BTreeMap<String, Vec<(Version, MetricsBuilder)>> =
        Default::default();
    for g in all.groups {
        let Ok(version) = g.version.parse::<Version>() else {
            continue;
        };
        let mut b = MetricsBuilder {
            tokens_sum: g.tokens_sum,
            tokens_n: g.tokens_n,
            length_sum: g.length_sum,
            first: g.first.map(from_nanos),
            last: g.last.map(from_nanos),
            ..MetricsBuilder::default()
        };
        for i in 0..g.times.len() {
            let rating = if ratings.is_empty() {
                None
            } else {
                ratings.get(&g.ids[i])
            };
            let quality = match (rating, g.quality[i]) {
                (Some(r), _) => Some(r.quality),
                (None, 0) => None,
                (None, FRACTIONAL) => g.fractional.get(&i).copied(),
                (None, q) => Some(f64::from(q)),
            };
            if let Some(q) = quality {
                b.quality.push(q);
            }
            b.successes += usize::from(g.flags[i] & SUCCESS != 0);
            b.feedback +=
                usize::from(g.flags[i] & FEEDBACK != 0 || rating.is_some_and(|r| r.feedback));
        }
        b.times = g.times;
        ids.extend(g.ids);
        let versions = by_prompt.entry(g.prompt).or_default();
        // Two texts of one version (`1.01` and `1.1`): the simple path merges them in run order.
        if versions.iter().any(|(v, _)| *v == version) {
            return None;
        }
        versions.push((version, b));
    }
    // Duplicate ids: the simple path decides which copy counts.
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return None;
    }
    drop(ids);
    let prompts = by_prompt
        .into_iter()
        .map(|(prompt, mut versions)| {
            versions.sort_by(|a, b| a.0.cmp(&b.0));
            // "All versions" concatenates the versions' runs in version order, as the simple path does.
            let mut all = MetricsBuilder::default();
            for (_, b) in &versions {
                all.times.extend_from_slice(&b.times);
                all.quality.extend_from_slice(&b.quality);
                all.tokens_sum += b.tokens_sum;
                all.tokens_n += b.tokens_n;
                all.length_sum += b.length_sum;
                all.successes += b.successes;
                all.feedback += b.feedback;
                all.first = match (all.first, b.first) {
                    (Some(a), Some(x)) => Some(a.min(x)),
                    (a, x) => a.or(x),
                };
                all.last = match (all.last, b.last) {
                    (Some(a), Some(x)) => Some(a.max(x)),
                    (a, x) => a.or(x),
                };
            }
            let all: Metrics = all.finish();
            let versions = versions
                .into_iter()
                .map(|(version, b)| VersionMetrics {
                    prompt: prompt.clone(),
                    version,
                    metrics: b.finish(),
                })
                .collect();
            PromptMetrics {
                prompt,
                versions,
                all,
            }
        })
        .collect();
    Some(FastPerformance {
        prompts,
        diagnostics: all.diagnostics,
        fallback_lines: all.fallbacks,
    })
}

/// Per-prompt, per-version metrics by the fast reader, or by the simple one when ids repeat.
pub fn performance_or_simple(
    runs_dir: &Path,
    display_root: &Path,
    filter: &RunFilter,
    threads: usize,
) -> FastPerformance {
    performance(runs_dir, display_root, filter, threads).unwrap_or_else(|| {
        let runs = crate::metrics::RunSet::load(runs_dir, display_root, filter);
        FastPerformance {
            prompts: crate::metrics::performance(&runs.runs),
            diagnostics: runs.diagnostics,
            fallback_lines: 0,
        }
    })
}

/// Whether a file at `rel` (relative to `runs/`) can hold runs of the filtered prompt.
fn may_hold(filter: &RunFilter, rel: &Path) -> bool {
    let Some(prompt) = &filter.prompt else {
        return true;
    };
    let mut comps = rel.components();
    match (comps.next(), comps.next()) {
        (Some(first), Some(_)) => {
            let dir = first.as_os_str().to_string_lossy();
            !is_valid_name(&dir) || dir == prompt.as_str()
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::RunSet;

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
            crate::metrics::performance(&slow.runs),
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
                lines.push(format!(
                    "{{\"type\":\"rating\",\"id\":\"rt-{i}\",\"ts\":\"2026-11-2{}T00:00:00.000Z\",\"run_id\":\"run-{}\",\"quality_score\":{},\"feedback\":\"late\"}}",
                    rnd() % 9,
                    (rnd() as usize) % (i + 1),
                    rnd() % 10 + 1
                ));
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

    #[test]
    fn timestamps_parse_like_chrono() {
        for s in [
            "2026-11-02T10:15:30Z",
            "2026-11-02T10:15:30.1Z",
            "2026-11-02T10:15:30.123456789Z",
            "1999-12-31T23:59:59.999Z",
        ] {
            let chrono = DateTime::parse_from_rfc3339(s)
                .expect("valid")
                .with_timezone(&Utc);
            assert_eq!(
                fast_ts(s.as_bytes()).ok(),
                chrono.timestamp_nanos_opt(),
                "{s}"
            );
        }
        for s in [
            "2026-11-02 10:15:30Z",
            "2026-11-02T10:15:30+01:00",
            "2026-13-02T10:15:30Z",
            "2026-11-02T10:15:30.Z",
        ] {
            assert!(fast_ts(s.as_bytes()).is_err(), "{s}");
        }
    }
}
