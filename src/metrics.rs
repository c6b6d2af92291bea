//! Comparing versions and following them over time: significance tests between two groups of
//! runs, and trends by day or week. The figures of one group come from the run-log layer's
//! one accumulator ([`Metrics`]).

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;

use crate::runlog::RunFacts;
pub use crate::runlog::aggregate::{
    Metrics, MetricsBuilder, PromptMetrics, TimeSummary, VersionMetrics, group_runs, performance,
};
use crate::stats::{self, ProportionTest, TTest};
use crate::version::Version;

/// The significance level used for verdicts.
pub const ALPHA: f64 = 0.05;

/// Version `b` against version `a`, with significance tests.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Comparison {
    /// The baseline.
    pub a: VersionMetrics,
    /// The candidate.
    pub b: VersionMetrics,
    /// b − a success rate, in percentage points.
    pub success_delta_pts: Option<f64>,
    /// Test of the success rates (Fisher's exact when counts are small, else a z-test).
    pub success_test: Option<ProportionTest>,
    /// b − a median time, ms.
    pub p50_delta_ms: Option<f64>,
    /// b − a mean time, ms.
    pub mean_time_delta_ms: Option<f64>,
    /// b − a 95th percentile time, ms.
    pub p95_delta_ms: Option<f64>,
    /// Welch's t-test of execution times (b vs a).
    pub time_test: Option<TTest>,
    /// b − a mean quality.
    pub quality_delta: Option<f64>,
    /// Welch's t-test of quality scores over rated runs (b vs a).
    pub quality_test: Option<TTest>,
    /// b − a cost per run, when both are priced (see [`Comparison::priced`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_per_run_delta: Option<f64>,
    /// Set when the two sides' runs were recorded at different `concurrency` (`run
    /// --concurrency`): their times then include different queue waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency_differs: Option<ConcurrencyDiffers>,
}

/// The request concurrencies recorded in each side's runs (runs without one count as 1).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ConcurrencyDiffers {
    /// Distinct concurrencies of the baseline's runs, ascending.
    pub a: Vec<u64>,
    /// Distinct concurrencies of the candidate's runs, ascending.
    pub b: Vec<u64>,
}

impl ConcurrencyDiffers {
    /// "1.1 ran at concurrency 2, 1.0 at 1: times include different queue waits".
    pub fn describe(&self, a: &str, b: &str) -> String {
        let list = |v: &[u64]| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" and ")
        };
        format!(
            "{b} ran at concurrency {}, {a} at {}: times include different queue waits",
            list(&self.b),
            list(&self.a)
        )
    }
}

/// The distinct concurrencies of `runs` (unrecorded = 1), ascending.
fn concurrencies(runs: &[&RunFacts]) -> Vec<u64> {
    let set: std::collections::BTreeSet<u64> =
        runs.iter().map(|r| r.concurrency.unwrap_or(1)).collect();
    set.into_iter().collect()
}

impl Comparison {
    /// The comparison with both sides priced at `config`'s `[prices]`.
    pub fn priced(mut self, config: &crate::config::Config) -> Comparison {
        self.a.metrics.price(config);
        self.b.metrics.price(config);
        self.cost_per_run_delta = self
            .a
            .metrics
            .cost_per_run
            .zip(self.b.metrics.cost_per_run)
            .map(|(a, b)| b - a);
        self
    }
}

impl Comparison {
    /// One line a reviewer can read: `1.1 vs 1.0: success +6.2 pts (p=0.010); p50 −180 ms, mean −150 ms (p<0.001); …`.
    pub fn verdict(&self) -> String {
        let c = self;
        let (ma, mb) = (&c.a.metrics, &c.b.metrics);
        let mut parts = Vec::new();
        let sig = |p: f64| {
            if p < ALPHA {
                crate::format::p_value(p)
            } else {
                format!("{}, not significant", crate::format::p_value(p))
            }
        };
        match (c.success_delta_pts, &c.success_test) {
            (Some(d), Some(t)) => parts.push(format!(
                "success {} ({})",
                crate::format::signed(d, 1, " pts"),
                sig(t.p_value)
            )),
            (Some(d), None) => {
                parts.push(format!("success {}", crate::format::signed(d, 1, " pts")))
            }
            _ => {}
        }
        if let Some(d) = c.p50_delta_ms {
            // Welch's test compares mean times, so the mean change stands beside its p-value.
            let mean = c.mean_time_delta_ms.unwrap_or(0.0);
            let unit = crate::format::TimeUnit::fit([Some(d), Some(mean)]);
            match &c.time_test {
                Some(t) => parts.push(format!(
                    "p50 {}, mean {} ({})",
                    unit.delta(d),
                    unit.delta(mean),
                    sig(t.p_value)
                )),
                None => parts.push(format!(
                    "p50 {} ({})",
                    unit.delta(d),
                    untestable(ma.runs, mb.runs)
                )),
            }
        }
        match (c.quality_delta, &c.quality_test) {
            (Some(d), Some(t)) => parts.push(format!(
                "quality {} (n={} vs {}, {})",
                crate::format::signed(d, 1, ""),
                mb.quality_n,
                ma.quality_n,
                sig(t.p_value)
            )),
            (Some(d), None) => parts.push(format!(
                "quality {} (n={} vs {}, {})",
                crate::format::signed(d, 1, ""),
                mb.quality_n,
                ma.quality_n,
                untestable(ma.quality_n, mb.quality_n)
            )),
            _ => {}
        }
        if let Some(cd) = &c.concurrency_differs
            && c.p50_delta_ms.is_some()
        {
            parts.push(format!(
                "note: {}",
                cd.describe(c.a.version.as_str(), c.b.version.as_str())
            ));
        }
        if parts.is_empty() {
            parts.push(format!(
                "not enough runs to compare ({} vs {})",
                mb.runs, ma.runs
            ));
        }
        format!("{} vs {}: {}", c.b.version, c.a.version, parts.join("; "))
    }
}

/// A comparison with its one-line verdict: what `compare`, `report` and `eval` show.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ComparisonView {
    /// The comparison.
    #[serde(flatten)]
    pub comparison: Comparison,
    /// The one-line verdict.
    pub verdict: String,
}

impl From<Comparison> for ComparisonView {
    fn from(comparison: Comparison) -> Self {
        ComparisonView {
            verdict: comparison.verdict(),
            comparison,
        }
    }
}

/// How a version's figures moved against the version before it (b − a).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Deltas {
    /// Success rate change in percentage points.
    pub success_pts: Option<f64>,
    /// Median time change, ms.
    pub p50_ms: Option<f64>,
    /// 95th percentile time change, ms.
    pub p95_ms: Option<f64>,
    /// Mean quality change.
    pub quality: Option<f64>,
    /// Cost per run change, when both are priced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_per_run: Option<f64>,
}

impl Deltas {
    /// `b` against `a`; a figure missing on either side has no delta.
    pub fn between(a: &Metrics, b: &Metrics) -> Deltas {
        let d = |x: Option<f64>, y: Option<f64>| Some(y? - x?);
        Deltas {
            success_pts: d(a.success_rate, b.success_rate).map(|x| x * 100.0),
            p50_ms: d(a.time_ms.map(|t| t.p50), b.time_ms.map(|t| t.p50)),
            p95_ms: d(a.time_ms.map(|t| t.p95), b.time_ms.map(|t| t.p95)),
            quality: d(a.quality_mean, b.quality_mean),
            cost_per_run: d(a.cost_per_run, b.cost_per_run),
        }
    }
}

/// Why Welch's test gave no answer: too few values, or no variation at all on either side.
fn untestable(n_a: usize, n_b: usize) -> &'static str {
    if n_a < 2 || n_b < 2 {
        "too few to test"
    } else {
        "no variation to test"
    }
}

/// Compare two groups of runs of one prompt.
pub fn compare(
    prompt: &str,
    a: (&Version, &[&RunFacts]),
    b: (&Version, &[&RunFacts]),
) -> Comparison {
    let ma = Metrics::compute(a.1.iter().copied());
    let mb = Metrics::compute(b.1.iter().copied());
    let times = |rs: &[&RunFacts]| rs.iter().map(|r| r.execution_time_ms).collect::<Vec<f64>>();
    let quality = |rs: &[&RunFacts]| {
        rs.iter()
            .filter_map(|r| r.quality_score)
            .collect::<Vec<f64>>()
    };
    let diff = |x: Option<f64>, y: Option<f64>| Some(y? - x?);
    Comparison {
        success_delta_pts: diff(ma.success_rate, mb.success_rate).map(|d| d * 100.0),
        success_test: stats::compare_proportions(
            mb.successes as u64,
            mb.runs as u64,
            ma.successes as u64,
            ma.runs as u64,
        ),
        p50_delta_ms: diff(ma.time_ms.map(|t| t.p50), mb.time_ms.map(|t| t.p50)),
        mean_time_delta_ms: diff(ma.time_ms.map(|t| t.mean), mb.time_ms.map(|t| t.mean)),
        p95_delta_ms: diff(ma.time_ms.map(|t| t.p95), mb.time_ms.map(|t| t.p95)),
        time_test: stats::welch_t_test(&times(b.1), &times(a.1)),
        quality_delta: diff(ma.quality_mean, mb.quality_mean),
        quality_test: stats::welch_t_test(&quality(b.1), &quality(a.1)),
        cost_per_run_delta: None,
        concurrency_differs: {
            let (ca, cb) = (concurrencies(a.1), concurrencies(b.1));
            (!ca.is_empty() && !cb.is_empty() && ca != cb)
                .then_some(ConcurrencyDiffers { a: ca, b: cb })
        },
        a: VersionMetrics {
            prompt: prompt.to_string(),
            version: a.0.clone(),
            metrics: ma,
        },
        b: VersionMetrics {
            prompt: prompt.to_string(),
            version: b.0.clone(),
            metrics: mb,
        },
    }
}

/// Width of a trend bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    /// One calendar day (UTC).
    Day,
    /// One ISO week, starting Monday (UTC).
    Week,
}

impl Bucket {
    /// The first day of the bucket holding `date`.
    pub fn start_of(self, date: NaiveDate) -> NaiveDate {
        match self {
            Bucket::Day => date,
            Bucket::Week => date - Duration::days(i64::from(date.weekday().num_days_from_monday())),
        }
    }

    fn step(self) -> Duration {
        match self {
            Bucket::Day => Duration::days(1),
            Bucket::Week => Duration::days(7),
        }
    }
}

/// One row of a trend: the runs in one bucket (of one version, or of all).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TrendRow {
    /// First day of the bucket.
    pub start: NaiveDate,
    /// The version, or None for all versions together.
    pub version: Option<Version>,
    /// Number of runs.
    pub runs: usize,
    /// successes / runs.
    pub success_rate: Option<f64>,
    /// Median time, ms.
    pub p50_ms: Option<f64>,
    /// 95th percentile time, ms.
    pub p95_ms: Option<f64>,
    /// Mean quality over rated runs.
    pub quality_mean: Option<f64>,
    /// Rated runs.
    pub quality_n: usize,
}

/// Trends of one prompt's runs from `from` to `to` (inclusive days).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Trends {
    /// Bucket width.
    pub bucket: Bucket,
    /// All versions together, one row per bucket, empty buckets included (the text shows
    /// them too: a bucket with no runs is a fact, not a gap).
    pub overall: Vec<TrendRow>,
    /// Per version, only buckets with runs; by bucket, then version.
    pub by_version: Vec<TrendRow>,
}

/// Bucket `runs` from day `from` to day `to`.
pub fn trends(runs: &[&RunFacts], bucket: Bucket, from: NaiveDate, to: NaiveDate) -> Trends {
    let mut overall: BTreeMap<NaiveDate, Vec<&RunFacts>> = BTreeMap::new();
    let mut start = bucket.start_of(from);
    while start <= to {
        overall.insert(start, Vec::new());
        start += bucket.step();
    }
    let mut by_version: BTreeMap<(NaiveDate, Version), Vec<&RunFacts>> = BTreeMap::new();
    for r in runs {
        let b = bucket.start_of(r.ts.date_naive());
        overall.entry(b).or_default().push(r);
        if let Ok(v) = r.version.parse::<Version>() {
            by_version.entry((b, v)).or_default().push(r);
        }
    }
    let row = |start: NaiveDate, version: Option<Version>, rs: &[&RunFacts]| {
        let m = Metrics::compute(rs.iter().copied());
        TrendRow {
            start,
            version,
            runs: m.runs,
            success_rate: m.success_rate,
            p50_ms: m.time_ms.map(|t| t.p50),
            p95_ms: m.time_ms.map(|t| t.p95),
            quality_mean: m.quality_mean,
            quality_n: m.quality_n,
        }
    };
    Trends {
        bucket,
        overall: overall.iter().map(|(s, rs)| row(*s, None, rs)).collect(),
        by_version: by_version
            .iter()
            .map(|((s, v), rs)| row(*s, Some(v.clone()), rs))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runlog::aggregate::tests::run;

    #[test]
    fn trends_fill_empty_buckets_and_split_versions() {
        let runs = [
            run("a", "1.0", 2, 100.0, true, None),
            run("b", "1.1", 3, 200.0, false, None),
            run("c", "1.1", 12, 300.0, true, None),
        ];
        let refs: Vec<&RunFacts> = runs.iter().collect();
        let from = NaiveDate::from_ymd_opt(2026, 11, 1).expect("date");
        let to = NaiveDate::from_ymd_opt(2026, 11, 14).expect("date");
        let t = trends(&refs, Bucket::Week, from, to);
        // 2026-11-01 is a Sunday: weeks start Oct 26, Nov 2, Nov 9.
        let starts: Vec<String> = t.overall.iter().map(|r| r.start.to_string()).collect();
        assert_eq!(starts, ["2026-10-26", "2026-11-02", "2026-11-09"]);
        let counts: Vec<usize> = t.overall.iter().map(|r| r.runs).collect();
        assert_eq!(counts, [0, 2, 1]);
        assert_eq!(t.overall[1].success_rate, Some(0.5));
        assert_eq!(t.by_version.len(), 3);
    }
}
