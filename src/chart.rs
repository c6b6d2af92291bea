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

/// A plain SVG line chart: p50 and p95 time on the left axis, success rate on the right.
pub fn svg_chart(prompt: &str, rows: &[TrendRow]) -> String {
    let (w, h, pad) = (720.0, 320.0, 50.0);
    let n = rows.len().max(2) as f64;
    let x = |i: usize| pad + (w - 2.0 * pad) * i as f64 / (n - 1.0);
    let max_ms = rows.iter().filter_map(|r| r.p95_ms).fold(1.0_f64, f64::max);
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
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{pad}" y="24" font-size="15" font-weight="bold">{title}</text>
<line x1="{pad}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/>
<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{b}" stroke="#999"/>
<text x="{pad}" y="{lb}">{first}</text><text x="{r}" y="{lb}" text-anchor="end">{last}</text>
<text x="{lx}" y="{pad}" text-anchor="end">{max_ms:.0} ms</text><text x="{lx}" y="{b}" text-anchor="end">0</text>
<text x="{rx}" y="{pad}">100%</text><text x="{rx}" y="{b}">0%</text>
<path d="{p95}" fill="none" stroke="#d62728" stroke-width="2"/>
<path d="{p50}" fill="none" stroke="#1f77b4" stroke-width="2"/>
<path d="{succ}" fill="none" stroke="#2ca02c" stroke-width="2" stroke-dasharray="5,3"/>
<text x="{r}" y="24" text-anchor="end"><tspan fill="#1f77b4">p50</tspan> · <tspan fill="#d62728">p95</tspan> · <tspan fill="#2ca02c">success rate</tspan></text>
</svg>
"##,
        title = esc(&format!("{prompt}: trends")),
        b = h - pad,
        r = w - pad,
        lb = h - pad + 18.0,
        lx = pad - 6.0,
        rx = w - pad + 6.0,
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
}
