//! Number formatting shared by the terminal output and the report: percentages, times,
//! signed deltas with a real minus sign, and p-values as people read them.

use chrono::{DateTime, Utc};

/// A dash for a missing value.
pub fn dash() -> String {
    "-".to_string()
}

/// A rate as `93.8%`.
pub fn pct(rate: Option<f64>) -> String {
    rate.map_or_else(dash, |r| format!("{:.1}%", r * 100.0))
}

/// A time as `840 ms` or `12.3 s`.
pub fn ms(v: Option<f64>) -> String {
    v.map_or_else(dash, |v| {
        if v >= 10_000.0 {
            format!("{:.1} s", v / 1000.0)
        } else {
            format!("{v:.0} ms")
        }
    })
}

/// A number with `decimals` places.
pub fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(dash, |v| format!("{v:.decimals$}"))
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

/// Signed delta with a unit, using a real minus sign.
pub fn signed(v: f64, decimals: usize, unit: &str) -> String {
    let s = format!("{:.decimals$}", v.abs());
    let sign = if v < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "−"
    } else if v > 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "+"
    } else {
        "±"
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
    }
}
