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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_and_leaves_gaps() {
        assert_eq!(sparkline(&[Some(0.0), None, Some(5.0), Some(10.0)]), "▁ ▅█");
        assert_eq!(sparkline(&[Some(2.0), Some(2.0)]), "▄▄");
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
}
