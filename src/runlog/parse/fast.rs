//! The fast path of the line parser: reads the few fields an aggregation needs and skips the
//! rest (long `output` and `input` strings) with `memchr`, without building them.
//!
//! Anything unusual on a line (escapes in the fields it reads, tabs, a timestamp with an
//! offset, a wrong type…) is a [`Fallback`]: the full parser decides, so every event and
//! every diagnostic equals [`super::parse_line`]'s.

use chrono::{DateTime, Utc};

use crate::prompt::is_valid_name;
use crate::runlog::schema::{Event, RunFacts};

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
    model: Option<&'a [u8]>,
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    concurrency: Option<u64>,
}

/// A line the fast scanner does not handle itself; the simple parser decides.
pub(crate) struct Fallback;

pub(crate) type Scan<T> = Result<T, Fallback>;

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
    /// The marks of the block the line is in, and where in it the line starts.
    marks: Option<(&'a Marks, usize)>,
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

    /// The next `"` or `\\` at or after the cursor.
    #[inline]
    fn next_mark(&self) -> Scan<usize> {
        match self.marks {
            Some((m, base)) => m.next(base + self.i, base + self.b.len()).map(|p| p - base),
            None => memchr::memchr2(b'"', b'\\', &self.b[self.i..]).map(|p| p + self.i),
        }
        .ok_or(Fallback)
    }

    /// A string without escapes, as raw bytes (escapes: fallback).
    fn plain_string(&mut self) -> Scan<&'a [u8]> {
        self.eat(b'"')?;
        let end = self.next_mark()?;
        if self.b[end] != b'"' {
            return Err(Fallback);
        }
        let s = &self.b[self.i..end];
        self.i = end + 1;
        Ok(s)
    }

    /// Skip a string, validating its escapes; returns the number of escape sequences in it
    /// (its length in characters is the UTF-8 lead bytes of its body minus the escapes' extra bytes).
    fn skip_string(&mut self) -> Scan<u64> {
        self.eat(b'"')?;
        let mut escapes = 0u64;
        loop {
            self.i = self.next_mark()?;
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
    fn number(&mut self) -> Scan<&'a [u8]> {
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
        Ok(&b[start..i])
    }

    /// A number as `f64`, rounded as `str::parse` rounds it.
    fn float(&mut self) -> Scan<f64> {
        let t = self.number()?;
        if let Some(x) = exact_decimal(t) {
            return Ok(x);
        }
        std::str::from_utf8(t)
            .map_err(|_| Fallback)?
            .parse()
            .map_err(|_| Fallback)
    }

    /// A plain non-negative integer (no sign, fraction or exponent) that fits in `u64`;
    /// anything else is the simple parser's call.
    fn integer(&mut self) -> Scan<u64> {
        let t = self.number()?;
        t.iter().try_fold(0u64, |n, &d| {
            if !d.is_ascii_digit() {
                return Err(Fallback);
            }
            n.checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or(Fallback)
        })
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
fn scan_fields<'a>(line: &'a [u8], marks: Option<(&'a Marks, usize)>) -> Scan<Fields<'a>> {
    let mut c = Cursor {
        b: line,
        i: 0,
        marks,
    };
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
            b"model" => 14,
            b"prompt_tokens" => 15,
            b"completion_tokens" => 16,
            b"concurrency" => 17,
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
            14 => f.model = c.string_or_null()?,
            6 | 11 => {
                if !c.is_null() {
                    let n = c.float()?;
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
            7 | 8 | 15 | 16 | 17 => {
                if !c.is_null() {
                    let n = c.integer()?;
                    match bit {
                        7 => f.tokens = Some(n),
                        8 => f.length = Some(n),
                        15 => f.prompt_tokens = Some(n),
                        16 => f.completion_tokens = Some(n),
                        _ => f.concurrency = Some(n),
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

/// Where the `"` and `\` bytes of a block of text are: bit `i % 64` of word `i / 64` for byte
/// `i`. With it a string's end is a bit search instead of a fresh byte search per string and
/// per escape.
pub(crate) struct Marks {
    words: Vec<u64>,
}

impl Marks {
    pub(crate) fn new() -> Marks {
        Marks { words: Vec::new() }
    }

    /// Mark `text` and say whether it is [`plain_text`], in one pass over its bytes (and one
    /// UTF-8 check).
    pub(crate) fn mark(&mut self, text: &[u8]) -> bool {
        self.words.clear();
        self.words.reserve(text.len().div_ceil(64));
        let chunks = text.chunks_exact(64);
        let tail = chunks.remainder();
        let mut control = false;
        for chunk in chunks {
            let (word, c) = mark64(chunk);
            self.words.push(word);
            control |= c;
        }
        if !tail.is_empty() {
            let mut last = [b' '; 64];
            last[..tail.len()].copy_from_slice(tail);
            let (word, c) = mark64(&last);
            self.words.push(word);
            control |= c;
        }
        !control && simdutf8::basic::from_utf8(text).is_ok()
    }

    /// The first marked byte at or after `from` and before `end`.
    #[inline]
    fn next(&self, from: usize, end: usize) -> Option<usize> {
        let mut w = from / 64;
        let mut bits = *self.words.get(w)? & (!0u64 << (from % 64));
        while bits == 0 {
            w += 1;
            if w * 64 >= end {
                return None;
            }
            bits = *self.words.get(w)?;
        }
        let at = w * 64 + bits.trailing_zeros() as usize;
        (at < end).then_some(at)
    }
}

/// The marks of 64 bytes, and whether they hold a control character other than a line feed.
#[cfg(target_arch = "x86_64")]
fn mark64(chunk: &[u8]) -> (u64, bool) {
    use std::arch::x86_64::*;
    assert!(chunk.len() >= 64);
    // SAFETY: SSE2 is part of every x86_64 target, so its intrinsics are always there; each
    // unaligned 16-byte load at 16 * k (k < 4) is within `chunk`, asserted to hold 64 bytes.
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let below_space = _mm_set1_epi8(0x1f);
        let line_feed = _mm_set1_epi8(b'\n' as i8);
        let mut word = 0u64;
        let mut control = _mm_setzero_si128();
        for k in 0..4 {
            let v = _mm_loadu_si128(chunk.as_ptr().add(16 * k).cast::<__m128i>());
            let m = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
            word |= u64::from(_mm_movemask_epi8(m) as u16) << (16 * k);
            // Unsigned v <= 0x1f, and not a line feed.
            let low = _mm_cmpeq_epi8(_mm_max_epu8(v, below_space), below_space);
            control = _mm_or_si128(control, _mm_andnot_si128(_mm_cmpeq_epi8(v, line_feed), low));
        }
        (word, _mm_movemask_epi8(control) != 0)
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn mark64(chunk: &[u8]) -> (u64, bool) {
    mark64_scalar(chunk)
}

/// [`mark64`] a byte at a time: the reference the vector version is tested against.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn mark64_scalar(chunk: &[u8]) -> (u64, bool) {
    let mut word = 0u64;
    let mut control = false;
    for (i, &b) in chunk[..64].iter().enumerate() {
        word |= u64::from(b == b'"' || b == b'\\') << i;
        control |= b < 0x20 && b != b'\n';
    }
    (word, control)
}

/// A run line's fields, borrowed from the line.
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(crate) struct ScannedRun<'a> {
    pub(crate) id: &'a [u8],
    pub(crate) ts: DateTime<Utc>,
    pub(crate) prompt: &'a str,
    pub(crate) version: &'a str,
    pub(crate) prompt_sha: Option<&'a [u8]>,
    pub(crate) time: f64,
    pub(crate) tokens: Option<u64>,
    pub(crate) length: u64,
    pub(crate) success: bool,
    pub(crate) quality: Option<f64>,
    pub(crate) feedback: bool,
    pub(crate) model: Option<&'a str>,
    pub(crate) prompt_tokens: Option<u64>,
    pub(crate) completion_tokens: Option<u64>,
    pub(crate) concurrency: Option<u64>,
}

/// A line the fast scanner understood, validated exactly as [`parse_line`] validates it.
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(crate) enum Scanned<'a> {
    Run(ScannedRun<'a>),
    Rating {
        run_id: &'a [u8],
        ts: DateTime<Utc>,
        /// See [`crate::runlog::rating_tiebreak`].
        tiebreak: u64,
        quality: f64,
        /// None when the rating gives no feedback (absent or null), else whether it is more
        /// than whitespace.
        feedback: Option<bool>,
    },
}

/// Scan and validate one line (without its line end); anything unusual is a [`Fallback`].
pub(crate) fn scan_line(text: &[u8]) -> Scan<Scanned<'_>> {
    if !plain_text(text) {
        return Err(Fallback);
    }
    scan_plain_line(text)
}

/// Whether `text` is valid UTF-8 without raw control characters (tabs too) but line feeds:
/// what the scanner leaves to the simple parser otherwise. The lines of a block of text that
/// passes pass one by one (a line feed is never part of a longer character).
pub(crate) fn plain_text(text: &[u8]) -> bool {
    text.chunks(64).all(|c| {
        c.iter()
            .fold(0u8, |a, &b| a | u8::from(b < 0x20 && b != b'\n'))
            == 0
    }) && simdutf8::basic::from_utf8(text).is_ok()
}

/// [`scan_line`] of a line known to be [`plain_text`].
pub(crate) fn scan_plain_line(text: &[u8]) -> Scan<Scanned<'_>> {
    scan_marked_line(text, None)
}

/// [`scan_plain_line`] of a line that starts at byte `base` of a block `marks` marked.
pub(crate) fn scan_marked_line<'a>(
    text: &'a [u8],
    marks: Option<(&'a Marks, usize)>,
) -> Scan<Scanned<'a>> {
    let f = scan_fields(text, marks)?;
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
                tiebreak: crate::runlog::schema::rating_tiebreak(f.id, text),
                quality,
                feedback: f.feedback,
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
        model: match f.model {
            Some(m) => Some(std::str::from_utf8(m).map_err(|_| Fallback)?),
            None => None,
        },
        prompt_tokens: f.prompt_tokens,
        completion_tokens: f.completion_tokens,
        concurrency: f.concurrency,
    }))
}

/// The run on a line, read by the fast scanner; None when the simple parser must decide
/// (ratings too, whose feedback text the scanner does not decode).
pub fn fast_event(text: &[u8]) -> Option<Event> {
    let Ok(Scanned::Run(r)) = scan_line(text) else {
        return None;
    };
    let s = |b: &[u8]| std::str::from_utf8(b).ok().map(str::to_string);
    Some(Event::Run(RunFacts {
        id: s(r.id)?,
        ts: r.ts,
        prompt: r.prompt.to_string(),
        version: r.version.to_string(),
        prompt_sha: match r.prompt_sha {
            Some(b) => Some(s(b)?),
            None => None,
        },
        execution_time_ms: r.time,
        token_count: r.tokens,
        model: r.model.map(str::to_string),
        prompt_tokens: r.prompt_tokens,
        completion_tokens: r.completion_tokens,
        concurrency: r.concurrency,
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

/// A number token of at most 15 significant digits and 15 fraction digits, no exponent:
/// its digits as an integer (exact in `f64`, below 2^53) over a power of ten (exact too), so
/// the one division rounds correctly, as `str::parse` does. None for other tokens.
fn exact_decimal(t: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let (negative, t) = match t.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, t),
    };
    let (mut mantissa, mut digits, mut fraction) = (0u64, 0usize, None::<usize>);
    for (at, &c) in t.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(c - b'0');
                digits += 1;
                if digits > 15 {
                    return None;
                }
            }
            b'.' if fraction.is_none() => fraction = Some(t.len() - at - 1),
            _ => return None,
        }
    }
    let x = mantissa as f64 / POW10[fraction.unwrap_or(0)];
    Some(if negative { -x } else { x })
}

/// Whether `v` parses as a [`Version`], without allocating (dotted runs of 1 to 19 digits).
fn is_version(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && v.split('.')
            .all(|p| !p.is_empty() && p.len() <= 19 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (0 to 9 fraction digits) as the time chrono's RFC 3339
/// parser gives; other forms (offsets, lowercase `t`/`z`, a space, leap seconds, more digits):
/// fallback.
fn fast_ts(s: &[u8]) -> Scan<DateTime<Utc>> {
    let num = |r: std::ops::Range<usize>| -> Scan<u32> {
        let part = s.get(r).ok_or(Fallback)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(Fallback);
        }
        Ok(part.iter().fold(0u32, |a, &d| a * 10 + u32::from(d - b'0')))
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
    let mut nanos = 0u32;
    if s.len() > 20 {
        if s[19] != b'.' || s.len() > 30 || s.len() < 22 {
            return Err(Fallback);
        }
        let frac = &s[20..s.len() - 1];
        nanos = num(20..s.len() - 1)? * 10u32.pow(9 - frac.len() as u32);
    }
    // Four digits: 0000 to 9999, all within chrono's range. Second 60 (a leap second) is
    // chrono's to represent.
    let date = chrono::NaiveDate::from_ymd_opt(y as i32, mo, d).ok_or(Fallback)?;
    if sec > 59 {
        return Err(Fallback);
    }
    let time = chrono::NaiveTime::from_hms_nano_opt(h, mi, sec, nanos).ok_or(Fallback)?;
    Ok(date.and_time(time).and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_like_chrono() {
        for s in [
            "2026-11-02T10:15:30Z",
            "2026-11-02T10:15:30.1Z",
            "2026-11-02T10:15:30.123456789Z",
            "1999-12-31T23:59:59.999Z",
            "9999-12-31T23:59:59.999Z",
            "0000-01-01T00:00:00Z",
            "1677-09-21T00:12:43.145224191Z",
            "2262-04-11T23:47:16.854775808Z",
        ] {
            let chrono = DateTime::parse_from_rfc3339(s)
                .expect("valid")
                .with_timezone(&Utc);
            assert_eq!(fast_ts(s.as_bytes()).ok(), Some(chrono), "{s}");
        }
        for s in [
            "2026-11-02 10:15:30Z",
            "2026-11-02T10:15:30+01:00",
            "2026-13-02T10:15:30Z",
            "2026-11-02T10:15:30.Z",
            "2026-11-02T23:15:60Z",
            "2026-11-02t10:15:30z",
        ] {
            assert!(fast_ts(s.as_bytes()).is_err(), "{s}");
        }
    }

    /// Every timestamp shape through the fast scanner and the full parser: the same event, or
    /// the scanner hands the line over (and the full parser's diagnostic is the only one).
    #[test]
    fn the_fast_scanner_agrees_with_the_full_parser_on_every_timestamp() {
        let dates = [
            "0000-01-01",
            "0000-02-29",
            "0001-01-01",
            "1677-09-21",
            "1677-09-20",
            "1900-02-29",
            "1970-01-01",
            "2000-02-29",
            "2026-11-02",
            "2026-02-30",
            "2262-04-11",
            "2262-04-12",
            "9999-12-31",
            "2026-00-10",
            "2026-13-01",
            "2026-11-00",
            "2026-11-32",
            "+2026-11-02",
            "20261-11-02",
            "2026-1-02",
        ];
        let times = [
            "00:00:00", "23:59:59", "23:59:60", "23:15:60", "12:60:00", "24:00:00", "10:15:61",
            "1:15:30", "10:15",
        ];
        let mut fracs: Vec<String> = (0..=10).map(|n| format!(".{}", "9".repeat(n))).collect();
        fracs.extend(["".into(), ".000000001".into(), ".5".into(), ",5".into()]);
        let zones = [
            "Z", "z", "+00:00", "-00:00", "+01:00", "-23:59", "+24:00", "+0100", "", "ZZ",
        ];
        let seps = ["T", "t", " ", "_"];
        let (mut fast, mut total) = (0, 0);
        for date in dates {
            for time in times {
                for frac in &fracs {
                    for zone in zones {
                        for sep in seps {
                            let ts = format!("{date}{sep}{time}{frac}{zone}");
                            total += 1;
                            for line in [
                                format!(
                                    r#"{{"id":"r","ts":"{ts}","prompt":"p","version":"1.0","success":true,"execution_time_ms":1}}"#
                                ),
                                format!(
                                    r#"{{"type":"rating","id":"x","run_id":"r","ts":"{ts}","quality_score":5}}"#
                                ),
                            ] {
                                let full = super::super::parse_line(&line);
                                match scan_line(line.as_bytes()) {
                                    Ok(Scanned::Run(r)) => {
                                        fast += 1;
                                        let Ok(Event::Run(f)) = &full else {
                                            panic!("{line}: fast accepted, full gave {full:?}")
                                        };
                                        assert_eq!(r.ts, f.ts, "{line}");
                                        assert_eq!(
                                            fast_event(line.as_bytes()).as_ref(),
                                            full.as_ref().ok(),
                                            "{line}"
                                        );
                                    }
                                    Ok(Scanned::Rating { ts, .. }) => {
                                        let Ok(Event::Rating(f)) = &full else {
                                            panic!("{line}: fast accepted, full gave {full:?}")
                                        };
                                        assert_eq!(ts, f.ts, "{line}");
                                    }
                                    Err(Fallback) => {}
                                }
                            }
                        }
                    }
                }
            }
        }
        // Common shapes take the fast path.
        assert!(fast > 200, "{fast} of {total}");
    }

    #[test]
    fn vector_marks_equal_byte_marks() {
        let mut rng = fastrand::Rng::with_seed(17);
        let alphabet = b"\"\\\n\t\x00\x1f\x20\x7f\x80\xff{}a";
        for round in 0..20_000 {
            let chunk: Vec<u8> = (0..64)
                .map(|_| {
                    if round % 2 == 0 {
                        rng.u8(..)
                    } else {
                        alphabet[rng.usize(..alphabet.len())]
                    }
                })
                .collect();
            assert_eq!(mark64(&chunk), mark64_scalar(&chunk), "{chunk:?}");
        }
    }

    /// A line scanned with the marks of the block it sits in, at any offset, scans as it does
    /// with a byte search: strings, escapes and backslash runs across 64-byte words included.
    #[test]
    fn marked_lines_scan_as_unmarked_lines() {
        let mut rng = fastrand::Rng::with_seed(5);
        // Valid string pieces, then ones that end a string early or break it.
        let pieces = [
            "\\\\",
            "\\\"",
            "\\n",
            "\\u00e9",
            "\\ud83d\\ude80",
            "é",
            "✓",
            "ab",
            " ",
            ":",
            "\\ud83d",
            "\\x",
            "\"",
        ];
        let piece = |rng: &mut fastrand::Rng| {
            if rng.u32(..100) < 3 {
                pieces[rng.usize(10..pieces.len())]
            } else {
                pieces[rng.usize(..10)]
            }
        };
        let mut checked = 0;
        for _ in 0..4000 {
            let mut out = String::new();
            for _ in 0..rng.usize(0..40) {
                out.push_str(piece(&mut rng));
            }
            let mut feedback = String::new();
            for _ in 0..rng.usize(0..6) {
                feedback.push_str(piece(&mut rng));
            }
            let line = format!(
                r#"{{"id":"r{n}","ts":"2026-11-02T10:15:30Z","prompt":"p","version":"1.0","input":{{"k":[1,"{out}",{{"x":null}}]}},"output":"{out}","execution_time_ms":{t},"success":true,"feedback":"{feedback}","params":{{"top_p":0.9}}}}"#,
                n = rng.u32(..),
                t = rng.u32(..100_000) as f64 / 10.0,
            );
            let want = scan_plain_line(line.as_bytes()).ok();
            for lead in [0, 1, 63, 64, 65, rng.usize(0..200)] {
                let mut block = vec![b'\n'; lead];
                block.extend_from_slice(line.as_bytes());
                block.extend_from_slice(b"\n{\"tail\":\"\\\"\"}\n");
                let mut marks = Marks::new();
                assert!(marks.mark(&block));
                let text = &block[lead..lead + line.len()];
                let got = scan_marked_line(text, Some((&marks, lead))).ok();
                assert_eq!(got, want, "{line} at {lead}");
            }
            checked += usize::from(want.is_some());
        }
        // Both outcomes occur: lines accepted and lines handed to the simple parser.
        assert!(checked > 500 && checked < 3900, "{checked}");
    }

    #[test]
    fn exact_decimals_round_as_str_parse() {
        let mut rng = fastrand::Rng::with_seed(3);
        let mut exact = 0;
        for _ in 0..200_000 {
            let scale = 10u64.pow(rng.u32(0..17));
            let int = rng.u64(..scale);
            let frac_digits = rng.usize(0..18);
            let frac: String = (0..frac_digits)
                .map(|_| char::from(b'0' + rng.u8(0..10)))
                .collect();
            let sign = if rng.bool() { "-" } else { "" };
            let t = if frac.is_empty() {
                format!("{sign}{int}")
            } else {
                format!("{sign}{int}.{frac}")
            };
            let want: f64 = t.parse().expect("a number");
            if let Some(got) = exact_decimal(t.as_bytes()) {
                exact += 1;
                assert_eq!(got.to_bits(), want.to_bits(), "{t}");
            }
            let mut c = Cursor {
                b: t.as_bytes(),
                i: 0,
                marks: None,
            };
            assert_eq!(
                c.float().ok().map(f64::to_bits),
                Some(want.to_bits()),
                "{t}"
            );
        }
        assert!(exact > 50_000, "{exact}");
        let mut c = Cursor {
            b: b"18446744073709551616",
            i: 0,
            marks: None,
        };
        assert!(c.integer().is_err(), "beyond u64");
        let mut c = Cursor {
            b: b"18446744073709551615",
            i: 0,
            marks: None,
        };
        assert_eq!(c.integer().ok(), Some(u64::MAX));
    }
}
