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
    compare_sides(prompt, (a.0, Side::of(a.1)), (b.0, Side::of(b.1)))
}

/// One side of a comparison: its metrics and the per-run values the tests need.
#[derive(Debug, Clone)]
pub struct Side {
    /// The side's metrics (unpriced).
    pub metrics: Metrics,
    /// Execution times, in run order.
    pub times: Vec<f64>,
    /// Quality scores of the rated runs, in run order.
    pub quality: Vec<f64>,
    /// The distinct concurrencies (unrecorded = 1), ascending.
    pub concurrencies: Vec<u64>,
}

impl Side {
    /// The side made of `runs`.
    pub fn of(runs: &[&RunFacts]) -> Side {
        Side {
            metrics: Metrics::compute(runs.iter().copied()),
            times: runs.iter().map(|r| r.execution_time_ms).collect(),
            quality: runs.iter().filter_map(|r| r.quality_score).collect(),
            concurrencies: concurrencies(runs),
        }
    }
}

/// Version `b` against version `a`, from their sides.
pub fn compare_sides(prompt: &str, a: (&Version, Side), b: (&Version, Side)) -> Comparison {
    let (sa, sb) = (a.1, b.1);
    let (ma, mb) = (sa.metrics, sb.metrics);
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
        time_test: stats::welch_t_test(&sb.times, &sa.times),
        quality_delta: diff(ma.quality_mean, mb.quality_mean),
        quality_test: stats::welch_t_test(&sb.quality, &sa.quality),
        cost_per_run_delta: None,
        concurrency_differs: {
            let (ca, cb) = (sa.concurrencies, sb.concurrencies);
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
    /// The mean cost per run at `[prices]`; absent when a run of the bucket cannot be priced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_per_run: Option<f64>,
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

/// Bucket `runs` from day `from` to day `to`, pricing each bucket at `config`'s `[prices]`.
/// A bucket of all versions holds their runs version by version (in version order, then
/// log order), as `performance`'s figures for all versions do; runs dated after `to` get
/// buckets of their own.
pub fn trends(
    runs: &[&RunFacts],
    bucket: Bucket,
    from: NaiveDate,
    to: NaiveDate,
    config: &crate::config::Config,
) -> Trends {
    let mut sorted: Vec<&RunFacts> = runs.to_vec();
    sorted.sort_by_cached_key(|r| version_order(&r.version));
    let mut overall: BTreeMap<NaiveDate, TrendCell> = empty_buckets(bucket, from, to);
    let mut by_version: BTreeMap<(NaiveDate, Version), TrendCell> = BTreeMap::new();
    for r in &sorted {
        let b = bucket.start_of(r.ts.date_naive());
        let quality = r.quality_score;
        let spend = (r.model.as_deref(), r.prompt_tokens, r.completion_tokens);
        overall
            .entry(b)
            .or_default()
            .push(r.execution_time_ms, r.success, quality, spend);
        if let Ok(v) = r.version.parse::<Version>() {
            by_version.entry((b, v)).or_default().push(
                r.execution_time_ms,
                r.success,
                quality,
                spend,
            );
        }
    }
    trends_of_cells(bucket, overall, by_version, config)
}

/// How versions order in a bucket of all versions: by number, then the texts that are not
/// versions, by text.
pub(crate) fn version_order(text: &str) -> (Option<Version>, bool, String) {
    match text.parse::<Version>() {
        Ok(v) => (Some(v), false, String::new()),
        Err(_) => (None, true, text.to_string()),
    }
}

/// Every bucket from `from` to `to`, empty.
pub(crate) fn empty_buckets(
    bucket: Bucket,
    from: NaiveDate,
    to: NaiveDate,
) -> BTreeMap<NaiveDate, TrendCell> {
    let mut out = BTreeMap::new();
    let mut start = bucket.start_of(from);
    while start <= to {
        out.insert(start, TrendCell::default());
        start += bucket.step();
    }
    out
}

/// The runs of one trend bucket, as its row needs them.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrendCell {
    pub(crate) times: Vec<f64>,
    pub(crate) quality: Vec<f64>,
    pub(crate) successes: usize,
    pub(crate) spend: crate::runlog::aggregate::TokenSpend,
}

impl TrendCell {
    fn push(
        &mut self,
        time: f64,
        success: bool,
        quality: Option<f64>,
        spend: (Option<&str>, Option<u64>, Option<u64>),
    ) {
        self.times.push(time);
        self.successes += usize::from(success);
        if let Some(q) = quality {
            self.quality.push(q);
        }
        self.spend.push(spend.0, spend.1, spend.2);
    }

    fn row(
        mut self,
        start: NaiveDate,
        version: Option<Version>,
        config: &crate::config::Config,
    ) -> TrendRow {
        let n = self.times.len();
        let q = stats::quantiles(&mut self.times, &[0.5, 0.95]);
        let cost = if n > 0 { self.spend.cost(config) } else { None };
        TrendRow {
            start,
            version,
            runs: n,
            success_rate: (n > 0).then(|| self.successes as f64 / n as f64),
            p50_ms: q.as_ref().map(|q| q[0]),
            p95_ms: q.as_ref().map(|q| q[1]),
            quality_mean: stats::mean(&self.quality),
            quality_n: self.quality.len(),
            cost_per_run: cost.map(|c| c / n as f64),
        }
    }
}

/// The trends of buckets filled already.
pub(crate) fn trends_of_cells(
    bucket: Bucket,
    overall: BTreeMap<NaiveDate, TrendCell>,
    by_version: BTreeMap<(NaiveDate, Version), TrendCell>,
    config: &crate::config::Config,
) -> Trends {
    Trends {
        bucket,
        overall: overall
            .into_iter()
            .map(|(s, c)| c.row(s, None, config))
            .collect(),
        by_version: by_version
            .into_iter()
            .map(|((s, v), c)| c.row(s, Some(v), config))
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
        let t = trends(
            &refs,
            Bucket::Week,
            from,
            to,
            &crate::config::Config::default(),
        );
        // 2026-11-01 is a Sunday: weeks start Oct 26, Nov 2, Nov 9.
        let starts: Vec<String> = t.overall.iter().map(|r| r.start.to_string()).collect();
        assert_eq!(starts, ["2026-10-26", "2026-11-02", "2026-11-09"]);
        let counts: Vec<usize> = t.overall.iter().map(|r| r.runs).collect();
        assert_eq!(counts, [0, 2, 1]);
        assert_eq!(t.overall[1].success_rate, Some(0.5));
        assert_eq!(t.by_version.len(), 3);
    }
}
