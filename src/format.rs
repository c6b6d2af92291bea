//! Number formatting shared by the terminal output and the report: percentages, times,
//! signed deltas with a real minus sign, and p-values as people read them.
//!
//! One rule for all human output: a negative number is written with the minus sign U+2212
//! (`−`), never `-`, which stays the dash of a missing value; a delta always carries its sign
//! (`+`, `−`, or `±` when it rounds to zero). Durations shown together (a value and its delta, the
//! times of one table row) share one unit, chosen by the largest of them: see [`TimeUnit`].
//!
//! Text from a project (prompt texts, goals, tags, run outputs, commit subjects) reaches a
//! terminal only through [`escape_controls`], so a control sequence in it cannot set the
//! clipboard, make links, move the cursor or rewrite what was printed before.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

/// A dash for a missing value.
pub fn dash() -> String {
    "-".to_string()
}

/// A rate as `93.8%`.
pub fn pct(rate: Option<f64>) -> String {
    rate.map_or_else(dash, |r| format!("{:.1}%", r * 100.0))
}

/// The minus sign of human output.
pub const MINUS: char = '\u{2212}';

/// The unit of durations shown together, so that a value and its delta read alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// Whole milliseconds: `840 ms`.
    Ms,
    /// Seconds with one decimal: `12.3 s`.
    S,
}

impl TimeUnit {
    /// Seconds once the largest magnitude among `values` (in milliseconds) reaches 10 s.
    pub fn fit(values: impl IntoIterator<Item = Option<f64>>) -> TimeUnit {
        let largest = values
            .into_iter()
            .flatten()
            .map(f64::abs)
            .fold(0.0, f64::max);
        // 9999.5 ms would print as `10000 ms`.
        if largest >= 9_999.5 {
            TimeUnit::S
        } else {
            TimeUnit::Ms
        }
    }

    /// A duration in this unit: `840 ms`, `12.3 s`; a dash when missing.
    pub fn time(self, v: Option<f64>) -> String {
        v.map_or_else(dash, |v| match self {
            TimeUnit::Ms => num(Some(v), 0) + " ms",
            TimeUnit::S => num(Some(v / 1000.0), 1) + " s",
        })
    }

    /// A duration change in this unit, always signed: `−180 ms`, `+1.2 s`.
    pub fn delta(self, d: f64) -> String {
        match self {
            TimeUnit::Ms => signed(d, 0, " ms"),
            TimeUnit::S => signed(d / 1000.0, 1, " s"),
        }
    }
}

/// A time as `840 ms` or `12.3 s`, by its own magnitude.
pub fn ms(v: Option<f64>) -> String {
    TimeUnit::fit([v]).time(v)
}

/// Durations shown together, in the one unit that fits the largest: `["905 ms", "1956 ms"]`.
pub fn times<const N: usize>(values: [Option<f64>; N]) -> [String; N] {
    let unit = TimeUnit::fit(values);
    values.map(|v| unit.time(v))
}

/// A time change as `−180 ms` or `+12.3 s`, by its own magnitude.
pub fn signed_ms(d: f64) -> String {
    TimeUnit::fit([Some(d)]).delta(d)
}

/// A number with `decimals` places, negative ones with [`MINUS`] (and no `−0.0`).
pub fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(dash, |v| {
        let s = format!("{:.decimals$}", v.abs());
        if v < 0.0 && s.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
            format!("{MINUS}{s}")
        } else {
            s
        }
    })
}

/// A time as `2026-11-23 17:37` (UTC).
pub fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(dash, |t| t.format("%Y-%m-%d %H:%M").to_string())
}

/// Quality as `7.4 (n=12)`.
pub fn quality(mean: Option<f64>, n: usize) -> String {
    match mean {
        Some(m) => format!("{m:.1} (n={n})"),
        None => dash(),
    }
}

/// Signed delta with a unit: `+6.2 pts`, `−180 ms`, `±0.0` when it rounds to zero.
pub fn signed(v: f64, decimals: usize, unit: &str) -> String {
    let s = format!("{:.decimals$}", v.abs());
    let nonzero = s.bytes().any(|b| b.is_ascii_digit() && b != b'0');
    let sign = if v < 0.0 && nonzero {
        MINUS
    } else if v > 0.0 && nonzero {
        '+'
    } else {
        '±'
    };
    format!("{sign}{s}{unit}")
}

/// A p-value as people read it: `p=0.012`, `p<0.001`.
pub fn p_value(p: f64) -> String {
    if p < 0.001 {
        "p<0.001".to_string()
    } else {
        format!("p={p:.3}")
    }
}

/// `text` safe to show on a terminal: every character that could act on it, rather than be
/// seen, is written as an escape, the way Rust writes it (`\r`, `\t`, `\u{1b}`).
///
/// That is the C0 controls but `\n` and `\t` (a `\r` is kept only right before `\n`, where it
/// cannot rewrite a line), DEL, the C1 controls (U+0080 to U+009F, U+009B being a second CSI),
/// the line and paragraph separators U+2028 and U+2029, and the bidirectional overrides and
/// isolates U+202A to U+202E and U+2066 to U+2069 (text that reads other than it is).
/// A backslash is left as it is: an escape is something to notice, not to decode.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    escape_controls_except(text, false, &[])
}

/// [`escape_controls`] for a table cell, where a `\t` would break the columns: it is escaped too.
pub fn escape_controls_in_cell(text: &str) -> Cow<'_, str> {
    escape_controls_except(text, true, &[])
}

/// [`escape_controls`] that leaves the sequences in `keep` as they are wherever they start (the
/// style sequences the caller writes itself around text it has escaped; each starts with a
/// control character), and `\t` too unless `tab`.
pub fn escape_controls_except<'a>(text: &'a str, tab: bool, keep: &[&str]) -> Cow<'a, str> {
    let needs = |c: char| c != '\r' && escaped(c, tab);
    // `\r\n` is the common case of a `\r`: look for one that is not.
    let lone_cr = text
        .match_indices('\r')
        .any(|(i, _)| !text[i + 1..].starts_with('\n'));
    if !lone_cr && !text.chars().any(needs) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if escaped(c, true)
            && let Some(k) = keep.iter().find(|k| !k.is_empty() && rest.starts_with(**k))
        {
            out.push_str(k);
            rest = &rest[k.len()..];
            continue;
        }
        let after = &rest[c.len_utf8()..];
        match c {
            '\r' if after.starts_with('\n') => out.push(c),
            '\r' => out.push_str("\\r"),
            '\t' if tab => out.push_str("\\t"),
            c if escaped(c, tab) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
        rest = after;
    }
    Cow::Owned(out)
}

/// Whether `c` is a character [`escape_controls`] escapes (a `\r` always, a `\t` never).
pub fn acts_on_terminal(c: char) -> bool {
    escaped(c, false)
}

/// Whether [`escape_controls`] writes `c` as an escape (`\r` aside).
fn escaped(c: char, tab: bool) -> bool {
    match c {
        '\n' => false,
        '\t' => tab,
        '\0'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_acts_on_a_terminal() {
        let e = |s: &str| escape_controls(s).into_owned();
        assert_eq!(
            e("plain é ✓ text\n\ttabbed\n"),
            "plain é ✓ text\n\ttabbed\n"
        );
        assert!(matches!(escape_controls("ok\r\n"), Cow::Borrowed(_)));
        // OSC 52 (clipboard), ended by BEL; OSC 8 (a link), ended by ST.
        assert_eq!(e("\x1b]52;c;ZXZpbA==\x07"), "\\u{1b}]52;c;ZXZpbA==\\u{7}");
        assert_eq!(
            e("\x1b]8;;https://x.test\x1b\\a\x1b]8;;\x1b\\"),
            "\\u{1b}]8;;https://x.test\\u{1b}\\a\\u{1b}]8;;\\u{1b}\\"
        );
        assert_eq!(e("fake\rreal"), "fake\\rreal");
        assert_eq!(e("line\r\nnext\r"), "line\r\nnext\\r");
        assert_eq!(e("\0\u{8}\u{7f}"), "\\u{0}\\u{8}\\u{7f}");
        // C1: U+009B is CSI on terminals that take 8-bit controls, U+0085 a next-line.
        assert_eq!(e("\u{9b}2J\u{85}"), "\\u{9b}2J\\u{85}");
        assert_eq!(
            e("a\u{2028}b\u{2029}c\u{202e}d\u{2066}e\u{2069}"),
            "a\\u{2028}b\\u{2029}c\\u{202e}d\\u{2066}e\\u{2069}"
        );
        // Escaping twice changes nothing more.
        let once = e("\x1b[2J\r\u{9b}");
        assert_eq!(e(&once), once);
    }

    #[test]
    fn a_cell_escapes_tabs_and_kept_sequences_pass() {
        assert_eq!(escape_controls_in_cell("a\tb"), "a\\tb");
        assert_eq!(escape_controls("a\tb"), "a\tb");
        let keep = ["\x1b[1m", "\x1b[0m"];
        assert_eq!(
            escape_controls_except("\x1b[1mbold\x1b[0m \x1b[8mhidden", false, &keep),
            "\x1b[1mbold\x1b[0m \\u{1b}[8mhidden"
        );
    }

    #[test]
    fn formats_numbers() {
        assert_eq!(signed(-180.4, 0, " ms"), "−180 ms");
        assert_eq!(signed(6.25, 1, " pts"), "+6.2 pts");
        assert_eq!(signed(0.01, 1, ""), "±0.0");
        assert_eq!(p_value(0.0004), "p<0.001");
        assert_eq!(p_value(0.0123), "p=0.012");
        assert_eq!(pct(Some(0.9375)), "93.8%");
        assert_eq!(num(Some(-2.5191), 3), "−2.519");
        assert_eq!(num(Some(-0.0004), 3), "0.000");
        assert_eq!(num(Some(4.107), 3), "4.107");
    }

    #[test]
    fn a_value_and_its_delta_share_the_unit_of_the_larger() {
        assert_eq!(ms(Some(840.0)), "840 ms");
        assert_eq!(ms(Some(12_345.0)), "12.3 s");
        assert_eq!(ms(Some(9_999.6)), "10.0 s");
        let u = TimeUnit::fit([Some(30_000.0), Some(-28_106.0), None]);
        assert_eq!(u.time(Some(30_000.0)), "30.0 s");
        assert_eq!(u.delta(-28_106.0), "−28.1 s");
        assert_eq!(u.time(Some(1_894.0)), "1.9 s");
        let u = TimeUnit::fit([Some(905.0), Some(-238.0)]);
        assert_eq!(u.time(Some(905.0)), "905 ms");
        assert_eq!(u.delta(-238.0), "−238 ms");
        assert_eq!(u.delta(0.2), "±0 ms");
        assert_eq!(TimeUnit::fit([None]).time(None), "-");
        assert_eq!(signed_ms(-12_000.0), "−12.0 s");
        assert_eq!(times([Some(9_000.0), Some(12_000.0)]), ["9.0 s", "12.0 s"]);
    }
}
