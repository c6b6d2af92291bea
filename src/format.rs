//! Number formatting shared by the terminal output and the report: percentages, times,
//! signed deltas with a real minus sign, and p-values as people read them.
//!
//! One rule for all human output: a negative number is written with the minus sign U+2212
//! (`−`), never `-`, which stays the dash of a missing value; a delta always carries its sign
//! (`+`, `−`, or `±` when it rounds to zero). Durations shown together (a value and its delta, the
//! times of one table row) share one unit, chosen by the largest of them: see [`TimeUnit`].

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

#[cfg(test)]
mod tests {
    use super::*;

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
