//! Aggregating runs: the one accumulator ([`MetricsBuilder`], merged with `+=`), the figures it
//! gives ([`Metrics`]), and [`RunSet`], the runs of a project with ratings and repeated ids
//! resolved.
//!
//! Definitions (written once, here): success rate = successes / runs; means = the exactly
//! rounded sum ([`stats::ExactSum`]) over the count; percentiles by linear
//! interpolation between closest ranks (numpy's default, type 7); quality mean over rated
//! runs only, with their count beside it; the latest rating of a run replaces the score it
//! was logged with, and the latest rating that gives feedback its feedback; a run id seen twice (e.g. after a `merge=union` merge) counts once, the
//! first copy in log order.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::scan::{RunFilter, scan_events};
use super::schema::{Event, Rating, RunFacts};
use crate::diagnostic::Diagnostic;
use crate::stats;
use crate::version::Version;

/// Runs read from a project's logs, with ratings applied and duplicates removed.
#[derive(Debug, Clone, Default)]
pub struct RunSet {
    /// The runs, in log order.
    pub runs: Vec<RunFacts>,
    /// Problems found while reading.
    pub diagnostics: Vec<Diagnostic>,
    /// How many lines repeated an id already seen (counted once).
    pub duplicates: usize,
    /// Ratings whose run was not found (by run id).
    pub orphan_ratings: Vec<String>,
}

impl RunSet {
    /// Read every run under `runs_dir` that passes `filter`.
    pub fn load(runs_dir: &Path, display_root: &Path, filter: &RunFilter) -> RunSet {
        let (events, diagnostics) =
            scan_events(runs_dir, display_root, filter, super::default_threads());
        // Ids by hash, pointing at the run that has it; equal hashes compare the ids themselves.
        let mut runs: Vec<RunFacts> = Vec::new();
        let mut seen: HashMap<u64, usize, foldhash::fast::FixedState> = HashMap::default();
        // Ids whose hash another id already had (vanishingly rare), compared in full.
        let mut collided: HashSet<String> = HashSet::new();
        let hash = |id: &str| {
            use std::hash::BuildHasher;
            foldhash::fast::FixedState::with_seed(7).hash_one(id)
        };
        let mut duplicates = 0;
        let mut ratings: LatestRatings<String, Rating> = LatestRatings::default();
        for ev in events {
            match ev {
                Event::Run(r) => match seen.entry(hash(&r.id)) {
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(runs.len());
                        runs.push(r);
                    }
                    std::collections::hash_map::Entry::Occupied(e) => {
                        if runs[*e.get()].id == r.id || collided.contains(&r.id) {
                            duplicates += 1;
                        } else {
                            collided.insert(r.id.clone());
                            runs.push(r);
                        }
                    }
                },
                Event::Rating(rating) => ratings.offer(rating.run_id.clone(), rating),
                Event::Eval(_) => {}
            }
        }
        for run in &mut runs {
            if let Some(rating) = ratings.remove(&run.id) {
                run.quality_score = Some(rating.quality_score);
                // A rating without feedback keeps the run's own; an empty one clears it.
                if let Some(f) = &rating.feedback {
                    run.has_feedback = !f.trim().is_empty();
                }
            }
        }
        // Ratings for runs outside the filter are not orphans; only report them unfiltered.
        let unfiltered = filter.prompt.is_none()
            && filter.version.is_none()
            && filter.since.is_none()
            && filter.until.is_none();
        let mut orphan_ratings: Vec<String> = if unfiltered {
            ratings.into_keys().collect()
        } else {
            Vec::new()
        };
        orphan_ratings.sort();
        RunSet {
            runs,
            diagnostics,
            duplicates,
            orphan_ratings,
        }
    }
}

/// A rating as the resolution rule sees it: when it was given, and whether it says anything
/// about feedback.
pub trait Timed {
    /// The time the rule orders by, with what breaks ties between equal times.
    type Time: Ord + Copy + std::fmt::Debug;
    /// When it was given.
    fn time(&self) -> Self::Time;
    /// Whether this rating gives feedback (an empty text too, which clears it); a rating
    /// without feedback keeps the feedback given before it.
    fn gives_feedback(&self) -> bool;
    /// Take the feedback of `other` in place of this rating's own.
    fn take_feedback(&mut self, other: &Self);
}

impl Timed for Rating {
    type Time = (DateTime<Utc>, u64);
    fn time(&self) -> (DateTime<Utc>, u64) {
        (self.ts, self.tiebreak)
    }
    fn gives_feedback(&self) -> bool {
        self.feedback.is_some()
    }
    fn take_feedback(&mut self, other: &Self) {
        self.feedback.clone_from(&other.feedback);
    }
}

/// The latest rating of a run, carrying the feedback of the latest rating that gave one.
#[derive(Debug, Clone)]
struct Latest<V: Timed> {
    rating: V,
    /// When the feedback `rating` now carries was given; None when no rating gave feedback.
    feedback_at: Option<V::Time>,
}

/// The latest rating of each run, by the one rule every reader follows: a later rating wins,
/// and of two given at the same time the one with the greater [`Timed::time`] tiebreak (never
/// the order the lines were read in). The
/// same rule picks the feedback among the ratings that give feedback, so a rating without
/// feedback changes the score and keeps the feedback; one with an empty feedback clears it.
/// When no rating gave feedback, the run's own feedback stands.
#[derive(Debug, Clone)]
pub struct LatestRatings<K, V: Timed, S = std::collections::hash_map::RandomState> {
    map: HashMap<K, Latest<V>, S>,
}

impl<K, V: Timed, S: Default> Default for LatestRatings<K, V, S> {
    fn default() -> Self {
        LatestRatings {
            map: HashMap::default(),
        }
    }
}

impl<K: std::hash::Hash + Eq, V: Timed, S: std::hash::BuildHasher> LatestRatings<K, V, S> {
    /// Take `rating` for run `key`: its score when it supersedes the one kept, its feedback
    /// when it gives one and supersedes the feedback kept.
    pub fn offer(&mut self, key: K, rating: V) {
        let feedback_at = rating.gives_feedback().then(|| rating.time());
        self.restore(key, rating, feedback_at);
    }

    /// Take a rating that carries the feedback given at `feedback_at` (as
    /// [`LatestRatings::iter_with_feedback_time`] gave it), e.g. read back from a cache.
    pub fn restore(&mut self, key: K, rating: V, feedback_at: Option<V::Time>) {
        let new = Latest {
            rating,
            feedback_at,
        };
        match self.map.entry(key) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(new);
            }
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let old = e.get_mut();
                let feedback_wins = match (new.feedback_at, old.feedback_at) {
                    (Some(n), Some(o)) => n >= o,
                    (n, _) => n.is_some(),
                };
                let feedback_at = if feedback_wins {
                    new.feedback_at
                } else {
                    old.feedback_at
                };
                if new.rating.time() >= old.rating.time() {
                    let mut rating = new.rating;
                    if !feedback_wins {
                        rating.take_feedback(&old.rating);
                    }
                    old.rating = rating;
                } else if feedback_wins {
                    old.rating.take_feedback(&new.rating);
                }
                old.feedback_at = feedback_at;
            }
        }
    }

    /// The latest rating of run `key`, with the latest feedback given.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key).map(|l| &l.rating)
    }

    /// Take the latest rating of run `key` out.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.map.remove(key).map(|l| l.rating)
    }

    /// Whether no run has a rating.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every run with its latest rating and when the feedback it carries was given, in no
    /// particular order: what [`LatestRatings::restore`] takes back.
    pub fn iter_with_feedback_time(&self) -> impl Iterator<Item = (&K, &V, Option<V::Time>)> {
        self.map.iter().map(|(k, l)| (k, &l.rating, l.feedback_at))
    }

    /// The runs that have a rating, in no particular order.
    pub fn into_keys(self) -> impl Iterator<Item = K> {
        self.map.into_keys()
    }
}

impl<K: std::hash::Hash + Eq, V: Timed, S: std::hash::BuildHasher> std::ops::AddAssign
    for LatestRatings<K, V, S>
{
    /// Offer every rating of `other`, which was read after this one.
    fn add_assign(&mut self, other: Self) {
        for (k, l) in other.map {
            self.restore(k, l.rating, l.feedback_at);
        }
    }
}

/// Execution time figures in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TimeSummary {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Fastest.
    pub min: f64,
    /// Slowest.
    pub max: f64,
}

/// Prompt and completion tokens by model, for pricing a set of runs when it is read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TokenSpend {
    /// (model, prompt tokens, completion tokens, runs) for runs that report both counts.
    pub by_model: Vec<(String, u64, u64, u64)>,
    /// Runs without a model or without the prompt/completion split: they cannot be priced.
    pub unsplit: u64,
}

impl TokenSpend {
    /// Add one run.
    pub fn push(&mut self, model: Option<&str>, prompt: Option<u64>, completion: Option<u64>) {
        match (model, prompt, completion) {
            (Some(m), Some(p), Some(c)) => self.add(m, p, c, 1),
            _ => self.unsplit += 1,
        }
    }

    fn add(&mut self, model: &str, p: u64, c: u64, runs: u64) {
        match self.by_model.iter_mut().find(|(m, ..)| m == model) {
            Some(e) => {
                e.1 = e.1.saturating_add(p);
                e.2 = e.2.saturating_add(c);
                e.3 += runs;
            }
            None => self.by_model.push((model.to_string(), p, c, runs)),
        }
    }

    /// The cost of every run at `config`'s `[prices]`; None when a run cannot be priced.
    pub fn cost(&self, config: &crate::config::Config) -> Option<f64> {
        if self.unsplit > 0 || self.by_model.is_empty() {
            return None;
        }
        // Summed in model order, so the same runs cost the same read in any order.
        let mut models: Vec<&(String, u64, u64, u64)> = self.by_model.iter().collect();
        models.sort_by(|a, b| a.0.cmp(&b.0));
        models
            .into_iter()
            .map(|(m, p, c, _)| config.price_of(m).map(|price| price.cost(*p, *c)))
            .sum()
    }
}

impl std::ops::AddAssign<&TokenSpend> for TokenSpend {
    fn add_assign(&mut self, o: &TokenSpend) {
        for (m, p, c, n) in &o.by_model {
            self.add(m, *p, *c, *n);
        }
        self.unsplit += o.unsplit;
    }
}

/// The metrics of a set of runs.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Metrics {
    /// Number of runs.
    pub runs: usize,
    /// Successful runs.
    pub successes: usize,
    /// successes / runs; None without runs.
    pub success_rate: Option<f64>,
    /// Execution time summary; None without runs.
    pub time_ms: Option<TimeSummary>,
    /// Mean token count over runs that report one.
    pub tokens_mean: Option<f64>,
    /// Total tokens.
    pub tokens_total: u64,
    /// Mean output length in characters.
    pub output_length_mean: Option<f64>,
    /// Mean quality over rated runs.
    pub quality_mean: Option<f64>,
    /// Number of rated runs.
    pub quality_n: usize,
    /// Runs with feedback text.
    pub feedback_count: usize,
    /// Earliest run.
    pub first_run: Option<DateTime<Utc>>,
    /// Latest run.
    pub last_run: Option<DateTime<Utc>>,
    /// Tokens by model, for pricing.
    #[serde(default, skip_serializing_if = "TokenSpend::is_empty")]
    pub spend: TokenSpend,
    /// What the runs cost together at `[prices]` (see [`Metrics::price`]); None unpriced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_total: Option<f64>,
    /// The mean cost per run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_per_run: Option<f64>,
}

impl TokenSpend {
    /// Whether no run was added.
    pub fn is_empty(&self) -> bool {
        self.by_model.is_empty() && self.unsplit == 0
    }
}

impl Metrics {
    /// Fill in the cost at `config`'s `[prices]`.
    pub fn price(&mut self, config: &crate::config::Config) {
        self.cost_total = self.spend.cost(config);
        self.cost_per_run = self
            .cost_total
            .filter(|_| self.runs > 0)
            .map(|c| c / self.runs as f64);
    }

    /// Compute the metrics of `runs`.
    pub fn compute<'a>(runs: impl IntoIterator<Item = &'a RunFacts>) -> Metrics {
        let mut b = MetricsBuilder::default();
        for r in runs {
            b.push(
                r.execution_time_ms,
                r.token_count,
                r.output_length,
                r.success,
                r.quality_score,
                r.has_feedback,
                r.ts,
            );
            b.spend
                .push(r.model.as_deref(), r.prompt_tokens, r.completion_tokens);
        }
        b.finish()
    }
}

/// Accumulates runs into [`Metrics`]; both the simple reader and the fast one go through it,
/// so they give the same figures bit for bit when they see the same runs in the same order.
#[derive(Debug, Clone, Default)]
pub struct MetricsBuilder {
    /// Execution times in run order.
    pub times: Vec<f64>,
    /// The sum of the quality scores of rated runs.
    pub quality_sum: stats::ExactSum,
    /// Rated runs.
    pub quality_n: usize,
    /// Sum of token counts.
    pub tokens_sum: u64,
    /// Runs with a token count.
    pub tokens_n: u64,
    /// Sum of output lengths.
    pub length_sum: u64,
    /// Successful runs.
    pub successes: usize,
    /// Runs with feedback.
    pub feedback: usize,
    /// Earliest run.
    pub first: Option<DateTime<Utc>>,
    /// Latest run.
    pub last: Option<DateTime<Utc>>,
    /// Tokens by model.
    pub spend: TokenSpend,
    /// More times, kept sorted elsewhere (a cache file), counted with `times`.
    pub base: Option<SortedBase>,
}

/// Sorted execution times kept outside a builder (by the cache), with their sum and histogram
/// so that figures over them and a few more times need only a few of the values.
#[derive(Debug, Clone)]
pub struct SortedBase {
    /// The values, ascending in `f64::total_cmp` order.
    pub values: std::sync::Arc<dyn SortedValues>,
    /// Their exact sum.
    pub sum: stats::ExactSum,
    /// Their [`DurationHistogram`] counts.
    pub counts: Vec<u64>,
    /// The smallest and the largest, when known without reading them.
    pub ends: Option<(f64, f64)>,
}

/// Ascending values that are read one at a time (from a file, checked as they are read).
pub trait SortedValues: std::fmt::Debug + Send + Sync {
    /// How many there are.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The value at `i < len()`. A source that cannot read it returns 0.0 and remembers the
    /// failure, which its owner checks before trusting figures made from it.
    fn at(&self, i: usize) -> f64;
}

impl SortedValues for Vec<f64> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    fn at(&self, i: usize) -> f64 {
        self.get(i).copied().unwrap_or(0.0)
    }
}

impl MetricsBuilder {
    /// Add one run.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        time_ms: f64,
        tokens: Option<u64>,
        length: u64,
        success: bool,
        quality: Option<f64>,
        feedback: bool,
        ts: DateTime<Utc>,
    ) {
        self.times.push(time_ms);
        if let Some(t) = tokens {
            self.tokens_sum = self.tokens_sum.saturating_add(t);
            self.tokens_n += 1;
        }
        self.length_sum = self.length_sum.saturating_add(length);
        if let Some(q) = quality {
            self.quality_sum.add(q);
            self.quality_n += 1;
        }
        self.successes += usize::from(success);
        self.feedback += usize::from(feedback);
        self.first = earliest(self.first, Some(ts));
        self.last = latest(self.last, Some(ts));
    }

    /// Runs counted.
    pub fn runs(&self) -> usize {
        self.times.len() + self.base.as_ref().map_or(0, |b| b.values.len())
    }

    /// The [`DurationHistogram`] of the times (sorting them when they are not).
    pub fn histogram(&mut self) -> DurationHistogram {
        if !self.times.is_sorted_by(|a, b| a.total_cmp(b).is_le()) {
            self.times.sort_unstable_by(f64::total_cmp);
        }
        let mut h = DurationHistogram::of(&self.times);
        if let Some(base) = &self.base {
            for (c, b) in h.counts.iter_mut().zip(&base.counts) {
                *c += b;
            }
            let mut sum = stats::ExactSum::of(&self.times);
            sum.merge(&base.sum);
            h.sum = sum.value().unwrap_or(f64::NAN);
        }
        h
    }

    /// The metrics.
    pub fn finish(mut self) -> Metrics {
        let n = self.runs();
        Metrics {
            runs: n,
            successes: self.successes,
            success_rate: (n > 0).then(|| self.successes as f64 / n as f64),
            time_ms: time_summary(&mut self.times, self.base.as_ref()),
            tokens_mean: (self.tokens_n > 0).then(|| self.tokens_sum as f64 / self.tokens_n as f64),
            tokens_total: self.tokens_sum,
            output_length_mean: (n > 0).then(|| self.length_sum as f64 / n as f64),
            quality_mean: self.quality_sum.mean(self.quality_n),
            quality_n: self.quality_n,
            feedback_count: self.feedback,
            first_run: self.first,
            last_run: self.last,
            spend: self.spend,
            cost_total: None,
            cost_per_run: None,
        }
    }
}

impl std::ops::AddAssign<&MetricsBuilder> for MetricsBuilder {
    /// Append `other`'s runs after this one's, but for its [`SortedBase`], which stays
    /// behind (a builder holds one; whoever merges builders with bases gives the result its
    /// own).
    fn add_assign(&mut self, other: &MetricsBuilder) {
        self.times.extend_from_slice(&other.times);
        self.quality_sum.merge(&other.quality_sum);
        self.quality_n += other.quality_n;
        self.tokens_sum = self.tokens_sum.saturating_add(other.tokens_sum);
        self.tokens_n += other.tokens_n;
        self.length_sum = self.length_sum.saturating_add(other.length_sum);
        self.successes += other.successes;
        self.feedback += other.feedback;
        self.first = earliest(self.first, other.first);
        self.last = latest(self.last, other.last);
        self.spend += &other.spend;
    }
}

/// The earlier of two optional times (or whichever there is).
pub(crate) fn earliest<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The later of two optional times (or whichever there is).
pub(crate) fn latest<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Mean, extremes and percentiles of `times` (which it sorts) and `base`'s times together.
/// The mean is the exact sum over the count ([`stats::ExactSum`]), so no reader's order
/// changes its bits; percentiles select the wanted ranks from the two sorted sequences.
fn time_summary(times: &mut [f64], base: Option<&SortedBase>) -> Option<TimeSummary> {
    times.sort_unstable_by(f64::total_cmp);
    let mut sum = stats::ExactSum::of(times);
    let empty: Vec<f64> = Vec::new();
    let base_values: &dyn SortedValues = match base {
        Some(b) => {
            sum.merge(&b.sum);
            b.values.as_ref()
        }
        None => &empty,
    };
    let n = times.len() + base_values.len();
    let mean = sum.mean(n)?;
    let at = |k: usize| kth_of_two(times, base_values, k);
    let q = stats::quantiles_by(n, at, &[0.5, 0.95, 0.99])?;
    let (min, max) = match (base.and_then(|b| b.ends), times.first(), times.last()) {
        (Some((lo, hi)), Some(&first), Some(&last)) => (
            if first.total_cmp(&lo).is_lt() {
                first
            } else {
                lo
            },
            if last.total_cmp(&hi).is_gt() {
                last
            } else {
                hi
            },
        ),
        (Some(ends), None, _) => ends,
        _ => (at(0), at(n - 1)),
    };
    Some(TimeSummary {
        mean,
        p50: q[0],
        p95: q[1],
        p99: q[2],
        min,
        max,
    })
}

/// The `k`-th smallest (from 0) of the union of the ascending `a` and `b` (`k` < both
/// lengths together), in `f64::total_cmp` order, reading O(log) values of each.
fn kth_of_two(a: &[f64], b: &dyn SortedValues, k: usize) -> f64 {
    let (na, nb) = (a.len(), b.len());
    // Take `i` values from `a` and `k + 1 - i` from `b`: find the smallest valid `i`.
    let need = k + 1;
    let (mut lo, mut hi) = (need.saturating_sub(nb), need.min(na));
    while lo < hi {
        let i = lo + (hi - lo) / 2;
        let j = need - i;
        // Too few from `a` when a[i] (the next from `a`) is below b[j-1] (the last from `b`).
        if j > 0 && a[i].total_cmp(&b.at(j - 1)).is_lt() {
            lo = i + 1;
        } else {
            hi = i;
        }
    }
    let i = lo;
    let j = need - i;
    match (
        i.checked_sub(1).map(|x| a[x]),
        j.checked_sub(1).map(|y| b.at(y)),
    ) {
        (Some(x), Some(y)) => {
            if x.total_cmp(&y).is_ge() {
                x
            } else {
                y
            }
        }
        (Some(x), None) => x,
        (None, Some(y)) => y,
        (None, None) => f64::NAN,
    }
}

/// How many execution times fall in each bucket of
/// [`DURATION_BUCKETS_MS`](crate::alerts::DURATION_BUCKETS_MS), for the `/metrics` histogram.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct DurationHistogram {
    /// Times at or under each bound, each counted in the first bucket it fits (not
    /// cumulative); one more count at the end for the times over the last bound.
    pub counts: Vec<u64>,
    /// The sum of the times.
    pub sum: f64,
}

impl DurationHistogram {
    /// The histogram of `times`; the sum adds them in ascending order (sorting a copy when
    /// they are not), so it does not depend on the order runs were read in.
    pub fn of(times: &[f64]) -> DurationHistogram {
        let sorted;
        let times = if times.is_sorted_by(|a, b| a.total_cmp(b).is_le()) {
            times
        } else {
            let mut copy = times.to_vec();
            copy.sort_unstable_by(f64::total_cmp);
            sorted = copy;
            &sorted
        };
        let bounds = crate::alerts::DURATION_BUCKETS_MS;
        let mut counts = vec![0; bounds.len() + 1];
        let mut i = 0;
        for &t in times {
            if t.is_nan() {
                counts[0] += 1;
                continue;
            }
            // Ascending times: the bucket only moves up.
            while i < bounds.len() && bounds[i] < t {
                i += 1;
            }
            counts[i] += 1;
        }
        DurationHistogram {
            counts,
            sum: stats::ExactSum::of(times)
                .value()
                .unwrap_or_else(|| times.iter().sum()),
        }
    }

    /// Times counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// The duration histogram of one version of one prompt.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct VersionHistogram {
    /// Prompt name.
    pub prompt: String,
    /// Version.
    pub version: Version,
    /// Its runs' execution times.
    pub histogram: DurationHistogram,
}

/// The duration histograms of `runs`, per prompt and version (as [`performance`] groups them).
pub fn histograms(runs: &[RunFacts]) -> Vec<VersionHistogram> {
    let mut out = Vec::new();
    for (prompt, versions) in group_runs(runs) {
        for (version, rs) in versions {
            let times: Vec<f64> = rs.iter().map(|r| r.execution_time_ms).collect();
            out.push(VersionHistogram {
                prompt: prompt.clone(),
                version,
                histogram: DurationHistogram::of(&times),
            });
        }
    }
    out
}

/// Metrics of one version of one prompt.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct VersionMetrics {
    /// Prompt name.
    pub prompt: String,
    /// Version.
    pub version: Version,
    /// Its metrics.
    pub metrics: Metrics,
}

/// Metrics of one prompt: per version and over all versions.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PromptMetrics {
    /// Prompt name.
    pub prompt: String,
    /// Per version, oldest first.
    pub versions: Vec<VersionMetrics>,
    /// Over all versions.
    pub all: Metrics,
}

/// Group runs by prompt and version, versions in numeric order.
pub fn group_runs(runs: &[RunFacts]) -> BTreeMap<String, BTreeMap<Version, Vec<&RunFacts>>> {
    let mut groups: BTreeMap<String, BTreeMap<Version, Vec<&RunFacts>>> = BTreeMap::new();
    // Each version text is parsed once, and a group is looked up before anything is allocated.
    let mut parsed: HashMap<&str, Option<Version>> = HashMap::new();
    for r in runs {
        let version = parsed
            .entry(r.version.as_str())
            .or_insert_with(|| r.version.parse().ok());
        // parse_line rejects runs whose version does not parse, so every run has one.
        let Some(v) = version else { continue };
        match groups.get_mut(r.prompt.as_str()).and_then(|m| m.get_mut(v)) {
            Some(list) => list.push(r),
            None => groups
                .entry(r.prompt.clone())
                .or_default()
                .entry(v.clone())
                .or_default()
                .push(r),
        }
    }
    groups
}

/// Per-prompt, per-version metrics of `runs`, prompts by name.
pub fn performance(runs: &[RunFacts]) -> Vec<PromptMetrics> {
    group_runs(runs)
        .into_iter()
        .map(|(prompt, versions)| {
            let all = Metrics::compute(versions.values().flatten().copied());
            let versions = versions
                .into_iter()
                .map(|(version, rs)| VersionMetrics {
                    prompt: prompt.clone(),
                    version,
                    metrics: Metrics::compute(rs),
                })
                .collect();
            PromptMetrics {
                prompt,
                versions,
                all,
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn figures_over_sorted_base_values_and_new_ones_equal_figures_over_all_of_them() {
        // A small linear congruential generator: the same values every run, with ties.
        let mut state: u64 = 7;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 33) % 2000) as f64 / 8.0 - 5.0
        };
        for (n_base, n_new) in [
            (0, 1),
            (1, 0),
            (1, 1),
            (2, 3),
            (100, 1),
            (1, 100),
            (257, 64),
        ] {
            let base: Vec<f64> = (0..n_base).map(|_| next()).collect();
            let new: Vec<f64> = (0..n_new).map(|_| next()).collect();
            let mut sorted_base = base.clone();
            sorted_base.sort_unstable_by(f64::total_cmp);
            let mut all = [base.as_slice(), new.as_slice()].concat();
            all.sort_unstable_by(f64::total_cmp);
            let mut sorted_new = new.clone();
            sorted_new.sort_unstable_by(f64::total_cmp);
            for (k, want) in all.iter().enumerate() {
                let got = kth_of_two(&sorted_new, &sorted_base, k);
                assert_eq!(got, *want, "{n_base}+{n_new} k={k}");
            }
            let with_base = MetricsBuilder {
                times: new.clone(),
                base: Some(SortedBase {
                    values: std::sync::Arc::new(sorted_base.clone()),
                    sum: stats::ExactSum::of(&sorted_base),
                    counts: DurationHistogram::of(&sorted_base).counts,
                    ends: (n_base % 2 == 1)
                        .then(|| {
                            sorted_base
                                .first()
                                .copied()
                                .zip(sorted_base.last().copied())
                        })
                        .flatten(),
                }),
                ..MetricsBuilder::default()
            };
            let plain = MetricsBuilder {
                times: [base.as_slice(), new.as_slice()].concat(),
                ..MetricsBuilder::default()
            };
            assert_eq!(with_base.clone().histogram(), plain.clone().histogram());
            assert_eq!(with_base.finish(), plain.finish(), "{n_base}+{n_new}");
        }
    }

    #[test]
    fn histogram_buckets_count_each_time_once_with_the_bound_inclusive() {
        // Prometheus' `le`: a time equal to a bound is in that bound's bucket.
        let h = DurationHistogram::of(&[10.0, 50.0, 50.5, 120000.0, 500000.0]);
        assert_eq!(h.counts.len(), crate::alerts::DURATION_BUCKETS_MS.len() + 1);
        assert_eq!(&h.counts[..3], &[2, 1, 0]);
        assert_eq!(h.counts[h.counts.len() - 2], 1);
        assert_eq!(h.counts[h.counts.len() - 1], 1);
        assert_eq!(h.count(), 5);
        assert_eq!(h.sum, 620110.5);
    }

    /// A run of prompt `p` on 2026-11-`day` at noon, for unit tests.
    pub(crate) fn run(
        id: &str,
        version: &str,
        day: u32,
        ms: f64,
        success: bool,
        q: Option<f64>,
    ) -> RunFacts {
        RunFacts {
            id: id.into(),
            ts: DateTime::parse_from_rfc3339(&format!("2026-11-{day:02}T12:00:00Z"))
                .expect("ts")
                .with_timezone(&Utc),
            prompt: "p".into(),
            version: version.into(),
            prompt_sha: None,
            execution_time_ms: ms,
            token_count: Some(10),
            model: None,
            prompt_tokens: None,
            completion_tokens: None,
            concurrency: None,
            output_length: 40,
            success,
            quality_score: q,
            has_feedback: false,
        }
    }

    #[test]
    fn metrics_match_numpy() {
        // numpy 2.4.6: np.percentile([120,340,95,410,220,180,760,300], [50,95,99]) (method='linear')
        //   -> [260.0, 637.5, 735.5]; np.mean(...) -> 303.125
        let times = [120.0, 340.0, 95.0, 410.0, 220.0, 180.0, 760.0, 300.0];
        let runs: Vec<RunFacts> = times
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                run(
                    &i.to_string(),
                    "1.0",
                    1 + i as u32,
                    t,
                    i % 4 != 0,
                    (i % 2 == 0).then_some(i as f64 + 1.0),
                )
            })
            .collect();
        let m = Metrics::compute(&runs);
        let t = m.time_ms.expect("has runs");
        assert_eq!(m.runs, 8);
        assert_eq!(m.successes, 6);
        assert_eq!(m.success_rate, Some(0.75));
        assert!((t.mean - 303.125).abs() < 1e-9);
        assert!((t.p50 - 260.0).abs() < 1e-9);
        assert!((t.p95 - 637.5).abs() < 1e-9);
        assert!((t.p99 - 735.5).abs() < 1e-9);
        assert_eq!((t.min, t.max), (95.0, 760.0));
        // rated runs: i = 0,2,4,6 with scores 1,3,5,7 -> mean 4 over n=4
        assert_eq!(m.quality_mean, Some(4.0));
        assert_eq!(m.quality_n, 4);
        assert_eq!(m.tokens_total, 80);
    }

    fn rating(hour: u32, q: f64, feedback: Option<&str>) -> Rating {
        Rating {
            run_id: "r".into(),
            ts: DateTime::parse_from_rfc3339(&format!("2026-11-24T{hour:02}:00:00Z"))
                .expect("ts")
                .with_timezone(&Utc),
            quality_score: q,
            feedback: feedback.map(str::to_string),
            tiebreak: 0,
        }
    }

    #[test]
    fn a_rating_without_feedback_keeps_the_latest_feedback_in_any_order() {
        let all = [
            rating(10, 1.0, Some("a")),
            rating(11, 2.0, Some("b")),
            rating(12, 3.0, None),
            rating(9, 4.0, None),
        ];
        // Every order of offering, and every split into two sets merged with `+=`.
        let mut orders = vec![vec![0, 1, 2, 3]];
        for _ in 0..23 {
            let mut next = orders[orders.len() - 1].clone();
            // The next permutation in lexicographic order.
            let i = (0..3).rev().find(|&i| next[i] < next[i + 1]).expect("more");
            let j = (i + 1..4)
                .rev()
                .find(|&j| next[j] > next[i])
                .expect("larger");
            next.swap(i, j);
            next[i + 1..].reverse();
            orders.push(next);
        }
        for order in &orders {
            for split in 0..=4 {
                let mut a: LatestRatings<&str, Rating> = LatestRatings::default();
                let mut b: LatestRatings<&str, Rating> = LatestRatings::default();
                for (n, &i) in order.iter().enumerate() {
                    let target = if n < split { &mut a } else { &mut b };
                    target.offer("r", all[i].clone());
                }
                a += b;
                let got = a.get(&"r").expect("rated");
                assert_eq!(
                    (got.quality_score, got.feedback.as_deref()),
                    (3.0, Some("b")),
                    "order {order:?}, split {split}"
                );
            }
        }
        // An empty feedback given later replaces it; a later rating without one keeps it empty.
        let mut r: LatestRatings<&str, Rating> = LatestRatings::default();
        for x in all {
            r.offer("r", x);
        }
        r.offer("r", rating(14, 5.0, None));
        r.offer("r", rating(13, 6.0, Some("")));
        let got = r.get(&"r").expect("rated");
        assert_eq!(
            (got.quality_score, got.feedback.as_deref()),
            (5.0, Some(""))
        );
    }

    #[test]
    fn run_set_applies_rating_feedback_over_the_runs_own() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = [
            r#"{"id":"a","ts":"2026-11-01T10:00:00Z","prompt":"p","version":"1.0","execution_time_ms":1,"success":true,"feedback":"own"}"#,
            r#"{"id":"b","ts":"2026-11-01T10:00:00Z","prompt":"p","version":"1.0","execution_time_ms":1,"success":true}"#,
            r#"{"id":"c","ts":"2026-11-01T10:00:00Z","prompt":"p","version":"1.0","execution_time_ms":1,"success":true,"feedback":"own"}"#,
            r#"{"type":"rating","id":"r1","ts":"2026-11-02T10:00:00Z","run_id":"a","quality_score":5}"#,
            r#"{"type":"rating","id":"r2","ts":"2026-11-02T10:00:00Z","run_id":"b","quality_score":5,"feedback":"rated"}"#,
            r#"{"type":"rating","id":"r3","ts":"2026-11-03T10:00:00Z","run_id":"b","quality_score":6}"#,
            r#"{"type":"rating","id":"r4","ts":"2026-11-02T10:00:00Z","run_id":"c","quality_score":5,"feedback":""}"#,
        ];
        std::fs::create_dir_all(dir.path().join("p")).expect("mkdir");
        std::fs::write(dir.path().join("p/2026-11.jsonl"), log.join("\n") + "\n").expect("write");
        let set = RunSet::load(dir.path(), Path::new("runs"), &RunFilter::default());
        let got: Vec<(&str, Option<f64>, bool)> = set
            .runs
            .iter()
            .map(|r| (r.id.as_str(), r.quality_score, r.has_feedback))
            .collect();
        assert_eq!(
            got,
            [
                ("a", Some(5.0), true),
                ("b", Some(6.0), true),
                ("c", Some(5.0), false)
            ]
        );
    }

    #[test]
    fn empty_metrics_have_no_rates() {
        let m = Metrics::compute(&[]);
        assert_eq!(m.runs, 0);
        assert_eq!(m.success_rate, None);
        assert_eq!(m.time_ms, None);
    }
}
