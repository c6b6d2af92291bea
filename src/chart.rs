//! Charts of trends drawn without a library: terminal sparklines and a plain SVG line chart,
//! the same for the CLI, a report and a web page.

use crate::metrics::TrendRow;

/// `▁▃▅█` bars scaled between the series' min and max; a gap is a space.
pub fn sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let lo = present.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = present.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(x) if hi > lo => BARS[(((x - lo) / (hi - lo)) * 7.0).round() as usize],
            Some(_) => BARS[3],
        })
        .collect()
}

/// The chart's font size, px.
const FONT_SIZE: f64 = 12.0;

/// A generous estimate of how wide `text` is in a sans-serif font of `size` px: digits and
/// most letters are about 0.55 em wide, so 0.62 em per character leaves room.
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.62
}

/// A plain SVG line chart: p50 and p95 time on the left axis, success rate on the right.
pub fn svg_chart(prompt: &str, rows: &[TrendRow]) -> String {
    let (h, pad) = (320.0, 50.0_f64);
    let max_ms = rows.iter().filter_map(|r| r.p95_ms).fold(1.0_f64, f64::max);
    let ms_label = format!("{max_ms:.0} ms");
    // The left margin holds the time axis label, right-aligned 6 px left of the axis.
    let left = pad.max((6.0 + text_width(&ms_label, FONT_SIZE) + 8.0).ceil());
    let right = pad;
    let w = 720.0_f64.max(left + right + 400.0);
    let n = rows.len().max(2) as f64;
    let x = |i: usize| left + (w - left - right) * i as f64 / (n - 1.0);
    let y_ms = |v: f64| h - pad - (h - 2.0 * pad) * v / max_ms;
    let y_rate = |v: f64| h - pad - (h - 2.0 * pad) * v;
    let path = |f: &dyn Fn(&TrendRow) -> Option<f64>, y: &dyn Fn(f64) -> f64| {
        let mut d = String::new();
        let mut pen_up = true;
        for (i, r) in rows.iter().enumerate() {
            match f(r) {
                Some(v) => {
                    d.push_str(&format!(
                        "{}{:.1},{:.1} ",
                        if pen_up { "M" } else { "L" },
                        x(i),
                        y(v)
                    ));
                    pen_up = false;
                }
                None => pen_up = true,
            }
        }
        d
    };
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let first = rows
        .first()
        .map(|r| r.start.to_string())
        .unwrap_or_default();
    let last = rows.last().map(|r| r.start.to_string()).unwrap_or_default();
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="{FONT_SIZE}">
<rect width="100%" height="100%" fill="white"/>
<text x="{left}" y="24" font-size="15" font-weight="bold">{title}</text>
<line x1="{left}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/>
<line x1="{left}" y1="{pad}" x2="{left}" y2="{b}" stroke="#999"/>
<text x="{left}" y="{lb}">{first}</text><text x="{r}" y="{lb}" text-anchor="end">{last}</text>
<text x="{lx}" y="{pad}" text-anchor="end">{ms_label}</text><text x="{lx}" y="{b}" text-anchor="end">0</text>
<text x="{rx}" y="{pad}">100%</text><text x="{rx}" y="{b}">0%</text>
<path d="{p95}" fill="none" stroke="#d62728" stroke-width="2"/>
<path d="{p50}" fill="none" stroke="#1f77b4" stroke-width="2"/>
<path d="{succ}" fill="none" stroke="#2ca02c" stroke-width="2" stroke-dasharray="5,3"/>
<text x="{r}" y="24" text-anchor="end"><tspan fill="#1f77b4">p50</tspan> · <tspan fill="#d62728">p95</tspan> · <tspan fill="#2ca02c">success rate</tspan></text>
</svg>
"##,
        title = esc(&format!("{prompt}: trends")),
        b = h - pad,
        r = w - right,
        lb = h - pad + 18.0,
        lx = left - 6.0,
        rx = w - right + 6.0,
        p95 = path(&|r| r.p95_ms, &y_ms),
        p50 = path(&|r| r.p50_ms, &y_ms),
        succ = path(&|r| r.success_rate, &y_rate),
    )
}

/// One line of [`svg_lines`]: its name, its color and a value (or a gap) per x position.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The legend's name.
    pub name: String,
    /// An SVG color (`#1f77b4`).
    pub color: &'static str,
    /// One value per x position; None is a gap in the line.
    pub values: Vec<Option<f64>>,
}

/// Colors for series, in order (the common ten-color palette).
pub const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// Escape text for SVG and HTML.
pub fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A value for an axis label: `12.3k`, `840`, `0.93`.
fn axis_label(v: f64, unit: &str) -> String {
    let n = if v >= 10_000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if v >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else if v.abs() < 0.1 {
        // Small figures (a cost per run) keep two significant digits.
        let places = (-v.abs().log10()).ceil() as usize + 1;
        format!("{v:.places$}")
    } else {
        format!("{v:.2}")
    };
    if unit.is_empty() {
        n
    } else {
        format!("{n} {unit}")
    }
}

/// A line chart of several series over the same x positions, from 0 (or `min`) to the
/// largest value (or `max`), with the first and last x labels, the axis bounds and a legend.
/// Each line is an SVG `<path>` with a `data-series` attribute naming it; a single value is
/// drawn as a dot, so a series with one run still shows.
pub fn svg_lines(
    title: &str,
    x_first: &str,
    x_last: &str,
    unit: &str,
    bounds: (Option<f64>, Option<f64>),
    series: &[Series],
) -> String {
    let (w, h, top, bottom) = (720.0_f64, 240.0_f64, 40.0_f64, 30.0_f64);
    let lo = bounds.0.unwrap_or(0.0);
    let data_max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    let hi = bounds
        .1
        .unwrap_or(if data_max > lo { data_max } else { lo + 1.0 });
    let hi_label = axis_label(hi, unit);
    let left = (6.0 + text_width(&hi_label, FONT_SIZE) + 8.0)
        .ceil()
        .max(40.0);
    let right = 16.0;
    let n = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
    let x = |i: usize| {
        if n <= 1 {
            left + (w - left - right) / 2.0
        } else {
            left + (w - left - right) * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| {
        let f = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
        h - bottom - (h - top - bottom) * f.clamp(0.0, 1.0)
    };
    let mut body = String::new();
    for s in series {
        let mut d = String::new();
        let mut pen_up = true;
        let mut dots = String::new();
        for (i, v) in s.values.iter().enumerate() {
            match v.filter(|v| v.is_finite()) {
                Some(v) => {
                    d.push_str(&format!(
                        "{}{:.1},{:.1} ",
                        if pen_up { "M" } else { "L" },
                        x(i),
                        y(v)
                    ));
                    let alone = (i == 0 || s.values[i - 1].is_none())
                        && s.values.get(i + 1).is_none_or(Option::is_none);
                    if alone {
                        dots.push_str(&format!(
                            r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
                            x(i),
                            y(v),
                            s.color
                        ));
                    }
                    pen_up = false;
                }
                None => pen_up = true,
            }
        }
        body.push_str(&format!(
            r#"<path data-series="{}" d="{}" fill="none" stroke="{}" stroke-width="2"/>{dots}"#,
            escape_xml(&s.name),
            d.trim_end(),
            s.color
        ));
        body.push('\n');
    }
    let mut legend = String::new();
    for (i, s) in series.iter().enumerate() {
        if i > 0 {
            legend.push_str(" · ");
        }
        legend.push_str(&format!(
            r#"<tspan fill="{}">{}</tspan>"#,
            s.color,
            escape_xml(&s.name)
        ));
    }
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="{FONT_SIZE}" role="img" aria-label="{title}">
<rect width="100%" height="100%" fill="white"/>
<text x="{left}" y="16" font-size="14" font-weight="bold">{title}</text>
<text x="{left}" y="32">{legend}</text>
<line x1="{left}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/>
<line x1="{left}" y1="{top}" x2="{left}" y2="{b}" stroke="#999"/>
<text x="{lx}" y="{top}" text-anchor="end">{hi_label}</text><text x="{lx}" y="{b}" text-anchor="end">{lo_label}</text>
<text x="{left}" y="{lb}">{first}</text><text x="{r}" y="{lb}" text-anchor="end">{last}</text>
{body}</svg>
"##,
        title = escape_xml(title),
        b = h - bottom,
        r = w - right,
        lx = left - 6.0,
        lb = h - bottom + 18.0,
        lo_label = axis_label(lo, unit),
        first = escape_xml(x_first),
        last = escape_xml(x_last),
    )
}

/// A small SVG sparkline (bars, one per value, scaled to the largest; a gap is no bar).
pub fn svg_sparkline(values: &[Option<f64>], label: &str) -> String {
    let (w, h) = (120.0_f64, 24.0_f64);
    let hi = values.iter().flatten().copied().fold(0.0_f64, f64::max);
    let n = values.len().max(1) as f64;
    let bw = w / n;
    let mut bars = String::new();
    for (i, v) in values.iter().enumerate() {
        if let Some(v) = v.filter(|v| *v > 0.0 && hi > 0.0) {
            let bh = (h - 2.0) * v / hi + 1.0;
            bars.push_str(&format!(
                r##"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="#1f77b4"/>"##,
                i as f64 * bw,
                h - bh,
                (bw - 1.0).max(1.0),
                bh
            ));
        }
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="spark" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{}"><title>{}</title>{bars}</svg>"#,
        escape_xml(label),
        escape_xml(label)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_and_leaves_gaps() {
        assert_eq!(sparkline(&[Some(0.0), None, Some(5.0), Some(10.0)]), "▁ ▅█");
        assert_eq!(sparkline(&[Some(2.0), Some(2.0)]), "▄▄");
    }

    #[test]
    fn axis_labels_keep_small_figures_readable() {
        assert_eq!(axis_label(0.00012, ""), "0.00012");
        assert_eq!(axis_label(0.05, ""), "0.050");
        assert_eq!(axis_label(0.5, "ms"), "0.50 ms");
        assert_eq!(axis_label(12_500.0, "ms"), "12.5k ms");
    }

    fn row(day: u32, p50: f64, p95: f64) -> TrendRow {
        TrendRow {
            start: chrono::NaiveDate::from_ymd_opt(2026, 11, day).expect("date"),
            version: None,
            runs: 3,
            success_rate: Some(0.5),
            p50_ms: Some(p50),
            p95_ms: Some(p95),
            quality_mean: None,
            quality_n: 0,
            cost_per_run: None,
        }
    }

    /// The `x` of the `<text>` element holding `label`, and its font size.
    fn text_x(svg: &str, label: &str) -> f64 {
        let at = svg.find(&format!(">{label}</text>")).expect("label");
        let start = svg[..at].rfind("<text ").expect("text element");
        let tag = &svg[start..at];
        assert!(tag.contains(r#"text-anchor="end""#), "{tag}");
        let x = tag.split("x=\"").nth(1).and_then(|r| r.split('"').next());
        x.and_then(|x| x.parse().ok()).expect("x")
    }

    #[test]
    fn the_time_label_fits_left_of_the_axis() {
        for p95 in [80.0, 30020.0, 1_234_567.0] {
            let svg = svg_chart("p", &[row(2, p95 / 2.0, p95), row(9, p95 / 3.0, p95 / 2.0)]);
            let label = format!("{p95:.0} ms");
            // Right-aligned at x, so it starts at x minus its width: 0.6 em per character at
            // 12 px is wider than any digit or letter of it in common sans-serif fonts.
            let width = label.chars().count() as f64 * 12.0 * 0.6;
            let x = text_x(&svg, &label);
            assert!(x - width >= 0.0, "{label} starts at {}", x - width);
        }
    }

    #[test]
    fn lines_draw_each_series_with_gaps_and_lone_points() {
        let svg = svg_lines(
            "runs <&>",
            "2026-11-01",
            "2026-11-03",
            "ms",
            (None, None),
            &[
                Series {
                    name: "p95".into(),
                    color: PALETTE[0],
                    values: vec![Some(100.0), None, Some(300.0)],
                },
                Series {
                    name: "v\"1\"".into(),
                    color: PALETTE[1],
                    values: vec![Some(50.0), Some(150.0), Some(200.0)],
                },
            ],
        );
        assert!(svg.contains("runs &lt;&amp;&gt;"), "{svg}");
        assert!(svg.contains(r#"data-series="v&quot;1&quot;""#), "{svg}");
        // The gap splits p95 into two lone points, each a move and a dot; the top is 300.
        let p95 = svg
            .split(r#"data-series="p95" d=""#)
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("p95 path");
        assert_eq!(p95.matches('M').count(), 2, "{p95}");
        assert_eq!(p95.matches('L').count(), 0, "{p95}");
        assert_eq!(svg.matches("<circle").count(), 2, "{svg}");
        assert!(svg.contains(">300 ms</text>"), "{svg}");
        // The highest value is drawn at the top of the plot, 0 at its bottom.
        assert!(p95.ends_with(",40.0"), "{p95}");
    }

    #[test]
    fn a_sparkline_has_one_bar_per_positive_value() {
        let svg = svg_sparkline(&[Some(1.0), None, Some(0.0), Some(4.0)], "30 days");
        assert_eq!(svg.matches("<rect").count(), 2, "{svg}");
        assert!(
            svg.contains(r#"height="23.00""#),
            "the largest fills the height: {svg}"
        );
    }
}
