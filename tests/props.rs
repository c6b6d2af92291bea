//! Property tests: the statistics and run metrics against a plain reference implementation
//! written here (the textbook formulas, sorted data, no shortcuts), and version ordering.
//!
//! The reference is deliberately naive: a two-pass variance, a full sort for every quantile
//! (numpy's default, Hyndman-Fan type 7), counts by filtering. The library's versions use
//! compensated sums, selection instead of sorting and one pass over the runs; they must agree.

use std::cmp::Ordering;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use ptrack::Version;
use ptrack::deps::{DateTime, Utc};
use ptrack::runlog::{Metrics, MetricsBuilder, RunFacts};
use ptrack::stats;
use ptrack::version::same_version;

// ---------------------------------------------------------------------------------------------
// The reference
// ---------------------------------------------------------------------------------------------

fn ref_mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Sample variance (n - 1), two passes.
fn ref_variance(xs: &[f64]) -> Option<f64> {
    let m = ref_mean(xs)?;
    (xs.len() >= 2)
        .then(|| xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() - 1) as f64)
}

fn sorted(xs: &[f64]) -> Vec<f64> {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

/// numpy.quantile(xs, q), method='linear': position (n - 1) q, linear between the neighbours.
fn ref_quantile(xs: &[f64], q: f64) -> Option<f64> {
    let s = sorted(xs);
    let last = s.len().checked_sub(1)?;
    let h = last as f64 * q;
    let lo = (h.floor() as usize).min(last);
    let hi = (lo + 1).min(last);
    Some(s[lo] + (h - lo as f64) * (s[hi] - s[lo]))
}

fn ref_median(xs: &[f64]) -> Option<f64> {
    let s = sorted(xs);
    let n = s.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(s[n / 2]),
        _ => Some((s[n / 2 - 1] + s[n / 2]) / 2.0),
    }
}

/// Equal up to rounding: relative to the data's scale, since a sum of values of size `scale`
/// can be off by a few ulps of `scale` whatever the result.
fn close(a: f64, b: f64, scale: f64) -> bool {
    (a - b).abs() <= 1e-9 * scale.abs().max(1.0)
}

fn scale(xs: &[f64]) -> f64 {
    xs.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

/// Execution times as ptrack sees them: ≥ 0, with ties and wide ranges.
fn times() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        prop_oneof![
            0.0..1.0e4,
            (0u32..50).prop_map(f64::from),
            0.0..1.0e12,
            Just(0.0),
        ],
        0..80,
    )
}

fn values() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-1.0e6..1.0e6, 0..80)
}

// ---------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mean_matches_the_reference(xs in prop_oneof![values(), times()]) {
        match (stats::mean(&xs), ref_mean(&xs)) {
            (Some(a), Some(b)) => prop_assert!(close(a, b, scale(&xs)), "{a} vs {b}"),
            (a, b) => prop_assert_eq!(a, b),
        }
    }

    #[test]
    fn std_and_variance_match_the_reference(xs in values()) {
        match (stats::sample_std(&xs), ref_variance(&xs)) {
            (Some(sd), Some(var)) => {
                let s2 = scale(&xs) * scale(&xs);
                prop_assert!(close(sd * sd, var, s2), "variance {} vs {var}", sd * sd);
                prop_assert!(close(sd, var.sqrt(), scale(&xs)), "std {sd} vs {}", var.sqrt());
            }
            (a, b) => prop_assert_eq!(a.is_some(), b.is_some(), "{:?} vs {:?}", a, b),
        }
    }

    /// Constant data has no spread, up to rounding: n·x / n need not give x back exactly,
    /// and then every deviation is one unit in the last place of x.
    #[test]
    fn constant_data_has_no_spread(x in -1.0e6..1.0e6f64, n in 2usize..40) {
        let xs = vec![x; n];
        let ulp = f64::EPSILON * x.abs();
        let m = stats::mean(&xs).expect("finite data");
        prop_assert!((m - x).abs() <= ulp, "mean {m} of {n} × {x}");
        let sd = stats::sample_std(&xs).expect("two values or more");
        prop_assert!(sd <= 2.0 * ulp, "std {sd} of {n} × {x}");
    }

    #[test]
    fn quantiles_match_the_reference(xs in prop_oneof![values(), times()], q in 0.0..=1.0f64) {
        let want = ref_quantile(&xs, q);
        let s = sorted(&xs);
        let got = stats::quantile_sorted(&s, q);
        match (got, want) {
            (Some(a), Some(b)) => prop_assert!(close(a, b, scale(&xs)), "q={q}: {a} vs {b}"),
            (a, b) => prop_assert_eq!(a, b),
        }
        // Selection on unsorted data, and several at once, give exactly the sorted answer.
        let mut shuffled = xs.clone();
        prop_assert_eq!(stats::quantile(&mut shuffled, q), got);
        let qs = [q, 0.5, 0.95, 0.99];
        for k in 1..=qs.len() {
            let mut data = xs.clone();
            let many = stats::quantiles(&mut data, &qs[..k]);
            let one: Option<Vec<f64>> = qs[..k].iter().map(|&q| stats::quantile_sorted(&s, q)).collect();
            prop_assert_eq!(many, one, "{} quantiles at once", k);
        }
    }

    #[test]
    fn the_median_is_the_middle(xs in prop_oneof![values(), times()]) {
        let got = stats::quantile_sorted(&sorted(&xs), 0.5);
        match (got, ref_median(&xs)) {
            (Some(a), Some(b)) => prop_assert!(close(a, b, scale(&xs)), "{a} vs {b}"),
            (a, b) => prop_assert_eq!(a, b),
        }
    }

    #[test]
    fn quantiles_are_monotone_and_bounded(xs in prop::collection::vec(-1.0e6..1.0e6, 1..60),
                                          q1 in 0.0..=1.0f64, q2 in 0.0..=1.0f64) {
        let s = sorted(&xs);
        let (lo, hi) = if q1 <= q2 { (q1, q2) } else { (q2, q1) };
        let a = stats::quantile_sorted(&s, lo).expect("non-empty finite data");
        let b = stats::quantile_sorted(&s, hi).expect("non-empty finite data");
        prop_assert!(a <= b, "q{lo} = {a} > q{hi} = {b}");
        prop_assert!(s[0] <= a && b <= s[s.len() - 1]);
        prop_assert_eq!(stats::quantile_sorted(&s, 0.0), Some(s[0]));
        prop_assert_eq!(stats::quantile_sorted(&s, 1.0), Some(s[s.len() - 1]));
    }
}

// ---------------------------------------------------------------------------------------------
// Run metrics
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Run {
    time: f64,
    tokens: Option<u64>,
    length: u64,
    success: bool,
    quality: Option<f64>,
    feedback: bool,
    secs: i64,
}

fn runs() -> impl Strategy<Value = Vec<Run>> {
    let run = (
        prop_oneof![0.0..5.0e3, (0u32..20).prop_map(f64::from)],
        prop::option::of(0u64..100_000),
        0u64..10_000,
        any::<bool>(),
        prop::option::of((1u32..=10).prop_map(f64::from)),
        any::<bool>(),
        1_700_000_000i64..1_800_000_000,
    )
        .prop_map(
            |(time, tokens, length, success, quality, feedback, secs)| Run {
                time,
                tokens,
                length,
                success,
                quality,
                feedback,
                secs,
            },
        );
    prop::collection::vec(run, 0..60)
}

fn ts(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("a time in range")
}

fn facts(runs: &[Run]) -> Vec<RunFacts> {
    runs.iter()
        .enumerate()
        .map(|(i, r)| RunFacts {
            id: format!("r{i}"),
            ts: ts(r.secs),
            prompt: "p".to_string(),
            version: "1.0".to_string(),
            prompt_sha: None,
            execution_time_ms: r.time,
            token_count: r.tokens,
            model: None,
            prompt_tokens: None,
            completion_tokens: None,
            concurrency: None,
            output_length: r.length,
            success: r.success,
            quality_score: r.quality,
            has_feedback: r.feedback,
        })
        .collect()
}

fn builder(runs: &[Run]) -> MetricsBuilder {
    let mut b = MetricsBuilder::default();
    for r in runs {
        b.push(
            r.time,
            r.tokens,
            r.length,
            r.success,
            r.quality,
            r.feedback,
            ts(r.secs),
        );
        // As `Metrics::compute` counts it: a run without a model cannot be priced.
        b.spend.push(None, None, None);
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn metrics_match_the_reference(runs in runs()) {
        let m = Metrics::compute(&facts(&runs));
        let n = runs.len();
        let times: Vec<f64> = runs.iter().map(|r| r.time).collect();
        let successes = runs.iter().filter(|r| r.success).count();
        prop_assert_eq!(m.runs, n);
        prop_assert_eq!(m.successes, successes);
        prop_assert_eq!(m.success_rate, (n > 0).then(|| successes as f64 / n as f64));
        match (&m.time_ms, n) {
            (None, 0) => {}
            (Some(t), _) => {
                let sc = scale(&times);
                prop_assert!(close(t.mean, ref_mean(&times).expect("runs"), sc));
                prop_assert!(close(t.p50, ref_median(&times).expect("runs"), sc));
                prop_assert!(close(t.p95, ref_quantile(&times, 0.95).expect("runs"), sc));
                prop_assert!(close(t.p99, ref_quantile(&times, 0.99).expect("runs"), sc));
                prop_assert_eq!(t.min, sorted(&times)[0]);
                prop_assert_eq!(t.max, sorted(&times)[n - 1]);
                prop_assert!(t.min <= t.p50 && t.p50 <= t.p95 && t.p95 <= t.p99 && t.p99 <= t.max);
            }
            (None, _) => return Err(TestCaseError::fail(format!("no time summary for {n} runs"))),
        }
        let tokens: Vec<u64> = runs.iter().filter_map(|r| r.tokens).collect();
        prop_assert_eq!(m.tokens_total, tokens.iter().sum::<u64>());
        prop_assert_eq!(
            m.tokens_mean,
            (!tokens.is_empty()).then(|| tokens.iter().sum::<u64>() as f64 / tokens.len() as f64)
        );
        prop_assert_eq!(
            m.output_length_mean,
            (n > 0).then(|| runs.iter().map(|r| r.length).sum::<u64>() as f64 / n as f64)
        );
        let quality: Vec<f64> = runs.iter().filter_map(|r| r.quality).collect();
        prop_assert_eq!(m.quality_n, quality.len());
        match (m.quality_mean, ref_mean(&quality)) {
            (Some(a), Some(b)) => prop_assert!(close(a, b, 10.0), "{a} vs {b}"),
            (a, b) => prop_assert_eq!(a, b),
        }
        prop_assert_eq!(m.feedback_count, runs.iter().filter(|r| r.feedback).count());
        prop_assert_eq!(m.first_run, runs.iter().map(|r| ts(r.secs)).min());
        prop_assert_eq!(m.last_run, runs.iter().map(|r| ts(r.secs)).max());
    }

    /// Merging two builders (`+=`, as the threads of a scan do) gives the figures of one
    /// builder that saw every run in the same order, bit for bit.
    #[test]
    fn merged_builders_equal_one_builder(a in runs(), b in runs()) {
        let mut merged = builder(&a);
        merged += &builder(&b);
        let all: Vec<Run> = a.iter().chain(&b).cloned().collect();
        prop_assert_eq!(merged.finish(), builder(&all).finish());
        prop_assert_eq!(builder(&all).finish(), Metrics::compute(&facts(&all)));
    }
}

/// Trends: every run lands in the bucket holding its day, buckets follow each other without
/// a gap, and each row's figures are the reference's over the runs of that bucket.
fn trend_runs() -> impl Strategy<Value = Vec<(i64, usize, f64, bool)>> {
    // (seconds into a 40-day window, version index, time, success)
    prop::collection::vec(
        (0i64..40 * 86_400, 0usize..3, 0.0..1.0e4, any::<bool>()),
        0..80,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn trends_match_the_reference(runs in trend_runs(), weekly in any::<bool>()) {
        use ptrack::deps::NaiveDate;
        use ptrack::metrics::{Bucket, trends};
        const VERSIONS: [&str; 3] = ["1.0", "1.1", "2.0"];
        // 2026-10-01T00:00:00Z, a Thursday: its week starts 3 days before.
        let origin = 1_790_812_800i64;
        let from = NaiveDate::from_ymd_opt(2026, 10, 1).expect("date");
        let to = NaiveDate::from_ymd_opt(2026, 11, 9).expect("date");
        let bucket = if weekly { Bucket::Week } else { Bucket::Day };
        let width = if weekly { 7 } else { 1 };
        let first_start = if weekly { -3 } else { 0 }; // the Monday before, in days from origin
        let facts: Vec<RunFacts> = runs
            .iter()
            .enumerate()
            .map(|(i, &(secs, v, time, success))| RunFacts {
                id: format!("r{i}"),
                ts: DateTime::from_timestamp(origin + secs, 0).expect("in range"),
                prompt: "p".to_string(),
                version: VERSIONS[v].to_string(),
                prompt_sha: None,
                execution_time_ms: time,
                token_count: None,
                model: None,
                prompt_tokens: None,
                completion_tokens: None,
                concurrency: None,
                output_length: 0,
                success,
                quality_score: None,
                has_feedback: false,
            })
            .collect();
        let refs: Vec<&RunFacts> = facts.iter().collect();
        let t = trends(&refs, bucket, from, to, &ptrack::Config::default());
        // The reference bucket of a run: whole days from origin, down to the bucket's start.
        let bucket_of = |secs: i64| first_start + (secs / 86_400 - first_start).div_euclid(width) * width;
        let day = |d: i64| {
            DateTime::from_timestamp(origin + d * 86_400, 0)
                .expect("in range")
                .date_naive()
        };
        let starts: Vec<NaiveDate> = t.overall.iter().map(|r| r.start).collect();
        let want: Vec<NaiveDate> = (0..)
            .map(|k| day(first_start + k * width))
            .take_while(|d| *d <= to)
            .collect();
        prop_assert_eq!(starts, want);
        prop_assert_eq!(t.overall.iter().map(|r| r.runs).sum::<usize>(), runs.len());
        prop_assert_eq!(t.by_version.iter().map(|r| r.runs).sum::<usize>(), runs.len());
        for row in t.overall.iter().chain(&t.by_version) {
            let mine: Vec<&(i64, usize, f64, bool)> = runs
                .iter()
                .filter(|(secs, v, ..)| {
                    day(bucket_of(*secs)) == row.start
                        && row.version.as_ref().is_none_or(|rv| rv.as_str() == VERSIONS[*v])
                })
                .collect();
            prop_assert_eq!(row.runs, mine.len(), "{:?}", row);
            let n = mine.len();
            let successes = mine.iter().filter(|r| r.3).count();
            prop_assert_eq!(row.success_rate, (n > 0).then(|| successes as f64 / n as f64));
            let times: Vec<f64> = mine.iter().map(|r| r.2).collect();
            match (row.p50_ms, ref_median(&times)) {
                (Some(a), Some(b)) => prop_assert!(close(a, b, 1.0e4), "{a} vs {b}"),
                (a, b) => prop_assert_eq!(a, b),
            }
            match (row.p95_ms, ref_quantile(&times, 0.95)) {
                (Some(a), Some(b)) => prop_assert!(close(a, b, 1.0e4), "{a} vs {b}"),
                (a, b) => prop_assert_eq!(a, b),
            }
            if row.version.is_some() {
                prop_assert!(n > 0, "a version row without runs: {:?}", row);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------------------------

/// Version texts: 1 to 5 parts of up to 19 digits (always a u64), leading zeros included.
fn version_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => (0u64..12).prop_map(|n| n.to_string()),
            2 => (0u64..12).prop_map(|n| format!("0{n}")),
            1 => "[0-9]{1,19}",
        ],
        1..5,
    )
    .prop_map(|parts| parts.join("."))
}

/// The reference: the numeric parts, compared as sequences.
fn ref_parts(text: &str) -> Vec<u64> {
    text.split('.')
        .map(|p| p.parse().expect("generated digits"))
        .collect()
}

fn hash_of(v: &Version) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn versions_parse_and_display_round_trip(text in version_text()) {
        let v: Version = text.parse().expect("generated versions are valid");
        prop_assert_eq!(v.to_string(), text.clone());
        prop_assert_eq!(v.as_str(), text.as_str());
        prop_assert_eq!(v.parts().to_vec(), ref_parts(&text));
        prop_assert_eq!(v.to_string().parse::<Version>(), Ok(v.clone()));
        let next = v.next_minor();
        prop_assert!(next > v || v.parts().get(1) == Some(&u64::MAX), "{} after {}", next, v);
    }

    #[test]
    fn version_order_is_numeric_total_and_agrees_with_equality(
        a in version_text(), b in version_text(), c in version_text()
    ) {
        let (va, vb, vc): (Version, Version, Version) =
            (a.parse().unwrap(), b.parse().unwrap(), c.parse().unwrap());
        // Numeric, part by part.
        prop_assert_eq!(va.cmp(&vb), ref_parts(&a).cmp(&ref_parts(&b)), "{} vs {}", a, b);
        // Antisymmetric, and consistent with PartialOrd, ==, hashing and same_version.
        prop_assert_eq!(va.cmp(&vb), vb.cmp(&va).reverse());
        prop_assert_eq!(va.partial_cmp(&vb), Some(va.cmp(&vb)));
        prop_assert_eq!(va == vb, va.cmp(&vb) == Ordering::Equal);
        prop_assert_eq!(same_version(&a, &b), va == vb, "same_version({}, {})", a, b);
        if va == vb {
            prop_assert_eq!(hash_of(&va), hash_of(&vb));
        }
        // Transitive.
        if va <= vb && vb <= vc {
            prop_assert!(va <= vc, "{} <= {} <= {} but not {} <= {}", a, b, c, a, c);
        }
        // Sorting any order of the three gives the same sequence of numbers.
        let mut x = vec![va.clone(), vb.clone(), vc.clone()];
        let mut y = vec![vc, va, vb];
        x.sort();
        y.sort();
        let parts = |v: &[Version]| v.iter().map(|v| v.parts().to_vec()).collect::<Vec<_>>();
        prop_assert_eq!(parts(&x), parts(&y));
    }

    #[test]
    fn leading_zeros_name_the_same_version(text in version_text(), zeros in 1usize..3) {
        let padded: String = text
            .split('.')
            .map(|p| format!("{}{p}", "0".repeat(zeros)))
            .collect::<Vec<_>>()
            .join(".");
        prop_assume!(padded.len() <= 64);
        let (v, w): (Version, Version) = (text.parse().unwrap(), padded.parse().unwrap());
        prop_assert_eq!(&v, &w);
        prop_assert!(same_version(&text, &padded));
        prop_assert_eq!(v.cmp(&w), Ordering::Equal);
    }

    #[test]
    fn non_versions_are_rejected_and_only_equal_to_themselves(
        text in "[0-9.a-z+ -]{0,12}", other in version_text()
    ) {
        let valid = !text.is_empty()
            && text.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        prop_assert_eq!(text.parse::<Version>().is_ok(), valid, "{:?}", text);
        if !valid {
            prop_assert!(same_version(&text, &text));
            prop_assert!(!same_version(&text, &other));
            prop_assert!(!same_version(&other, &text));
        }
    }
}
