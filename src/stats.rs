//! Descriptive statistics and two-sample significance tests for ptrack.
//!
//! ptrack compares runs (latencies, success rates) and has to say whether a
//! difference is real. This module provides the few statistics that needs:
//! mean, sample standard deviation, numpy-compatible quantiles, Welch's
//! t-test, Fisher's exact test and the pooled two-proportion z-test.
//! Everything is a pure function that never panics; degenerate input (empty
//! data, NaN/infinite values, too few samples, zero variance) yields `None`
//! instead of a NaN that would silently propagate. Results agree with
//! numpy/scipy/statsmodels; `tests/reference/stats_reference.py` prints the
//! reference values used by the unit tests at the bottom of this file.

use serde::Serialize;
use statrs::function::erf::erfc;
use statrs::function::factorial::ln_factorial;
use statrs::function::gamma::ln_gamma;

/// Arithmetic mean; None for empty.
///
/// Also `None` when any value is NaN or infinite. Uses compensated
/// summation, so it is at least as accurate as numpy's pairwise sum.
pub fn mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() || !all_finite(xs) {
        return None;
    }
    let n = xs.len() as f64;
    let m = compensated_sum(xs.iter().copied()) / n;
    if m.is_finite() {
        return Some(m);
    }
    // The sum overflowed although every value is finite: sum pre-divided
    // values instead (|mean| <= max |x|, so this cannot overflow).
    let m = compensated_sum(xs.iter().map(|x| x / n));
    m.is_finite().then_some(m)
}

/// An exact running sum of `f64` values: the order they are added in (or how partial sums
/// are merged) never changes the result, which is the exactly rounded sum, as Python's
/// `math.fsum` gives it. A cache that adds new values to the sum of old ones therefore gives
/// the bits a reader summing everything at once gives.
///
/// Shewchuk's non-overlapping partials (the algorithm of `math.fsum`), kept for values
/// scaled by 2⁻⁶⁴ (exact for every value above 2⁻⁹⁵⁸), so no finite sum of fewer than 2⁶⁴
/// values overflows; the scale is undone after rounding.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct ExactSum {
    partials: Vec<f64>,
    /// Whether a NaN or infinite value was added.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    nonfinite: bool,
}

const SUM_SCALE: f64 = 1.0 / 18_446_744_073_709_551_616.0; // 2^-64
const SUM_UNSCALE: f64 = 18_446_744_073_709_551_616.0; // 2^64

impl ExactSum {
    /// The sum of `xs`.
    pub fn of(xs: &[f64]) -> ExactSum {
        let mut s = ExactSum::default();
        for &x in xs {
            s.add(x);
        }
        s
    }

    /// Add one value.
    pub fn add(&mut self, x: f64) {
        if !x.is_finite() {
            self.nonfinite = true;
            return;
        }
        self.add_scaled(x * SUM_SCALE);
    }

    fn add_scaled(&mut self, mut x: f64) {
        let mut i = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[i] = lo;
                i += 1;
            }
            x = hi;
        }
        self.partials.truncate(i);
        if x != 0.0 {
            self.partials.push(x);
        }
    }

    /// Add everything `other` holds.
    pub fn merge(&mut self, other: &ExactSum) {
        self.nonfinite |= other.nonfinite;
        for &p in &other.partials {
            self.add_scaled(p);
        }
    }

    /// Whether every value added was finite.
    pub fn is_finite(&self) -> bool {
        !self.nonfinite
    }

    /// The scaled sum, exactly rounded (`math.fsum`'s final step, half-even across partials).
    fn rounded_scaled(&self) -> f64 {
        let p = &self.partials;
        let Some(mut n) = p.len().checked_sub(1) else {
            return 0.0;
        };
        let mut hi = p[n];
        let mut lo = 0.0;
        while n > 0 {
            let x = hi;
            n -= 1;
            let y = p[n];
            hi = x + y;
            let yr = hi - x;
            lo = y - yr;
            if lo != 0.0 {
                break;
            }
        }
        if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            let yr = x - hi;
            if y == yr {
                hi = x;
            }
        }
        hi
    }

    /// The exactly rounded sum (infinite when it is beyond `f64`'s range); None when a value
    /// added was not finite.
    pub fn value(&self) -> Option<f64> {
        self.is_finite()
            .then(|| self.rounded_scaled() * SUM_UNSCALE)
    }

    /// The sum divided by `n`: the exactly rounded sum over `n` (None for `n == 0`, a value
    /// that was not finite). It cannot overflow, as the mean lies within the values.
    pub fn mean(&self, n: usize) -> Option<f64> {
        if n == 0 || !self.is_finite() {
            return None;
        }
        let m = self.rounded_scaled() / n as f64 * SUM_UNSCALE;
        m.is_finite().then_some(m)
    }
}

/// Pearson's correlation coefficient of `x` and `y` (equal lengths); None for fewer than two
/// pairs, unequal lengths, a non-finite value, or a constant side.
///
/// Equals `numpy.corrcoef(x, y)[0, 1]` (and `scipy.stats.pearsonr(x, y).statistic`).
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 || !all_finite(x) || !all_finite(y) {
        return None;
    }
    let (mx, my) = (mean(x)?, mean(y)?);
    let sxy = compensated_sum(x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)));
    let sxx = compensated_sum(x.iter().map(|a| (a - mx) * (a - mx)));
    let syy = compensated_sum(y.iter().map(|b| (b - my) * (b - my)));
    if sxx <= 0.0 || syy <= 0.0 {
        return None;
    }
    let r = (sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0);
    r.is_finite().then_some(r)
}

/// Sample standard deviation (ddof=1); None when n < 2.
///
/// Also `None` when any value is NaN or infinite or the variance overflows.
/// Constant data gives `Some(0.0)` when its mean is exact, else a value within a few ulps of 0 (the mean of 38 copies of -247082.62576867142 is one ulp off). Equals `numpy.std(x, ddof=1)`.
pub fn sample_std(xs: &[f64]) -> Option<f64> {
    mean_and_sample_var(xs).map(|(_, var)| var.sqrt())
}

/// Quantile of already-sorted data by linear interpolation between closest ranks (numpy default, Hyndman-Fan type 7). q in \[0,1\]. None for empty.
///
/// Equals `numpy.quantile(sorted, q, method='linear')` bit for bit (same
/// virtual index `(n-1)q` and the same two-sided lerp as numpy). Also `None`
/// when `q` is outside `[0, 1]` or NaN, or when any value is NaN or
/// infinite. The slice is assumed to be sorted ascending; this is not checked.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if !valid_q(q) || !all_finite(sorted) {
        return None;
    }
    interpolate_sorted(sorted, q)
}

/// Same, on unsorted data, without sorting the whole slice: use select_nth_unstable_by (total_cmp) to find the needed ranks (reorders `xs`).
///
/// Returns exactly what [`quantile_sorted`] returns on the sorted data.
/// `None` for empty data, `q` outside `[0, 1]`, or any NaN/infinite value.
pub fn quantile(xs: &mut [f64], q: f64) -> Option<f64> {
    if xs.is_empty() || !valid_q(q) || !all_finite(xs) {
        return None;
    }
    let (lo, gamma) = rank(xs.len(), q);
    let lo = lo.min(xs.len() - 1); // xs is non-empty, so len() - 1 cannot underflow
    let (_, lower, upper) = xs.select_nth_unstable_by(lo, f64::total_cmp);
    let lower = *lower;
    // The next rank is the smallest element of the upper partition.
    match upper.iter().copied().min_by(f64::total_cmp) {
        Some(next) => Some(lerp(lower, next, gamma)),
        None => Some(lower),
    }
}

/// Several quantiles at once from unsorted data (reorders xs); output in the order of qs. (May sort once when qs.len() > 2; must equal quantile_sorted exactly.)
///
/// `None` when `xs` is empty, any `q` is outside `[0, 1]`, or any value is
/// NaN/infinite. An empty `qs` gives `Some(vec![])` for valid data.
pub fn quantiles(xs: &mut [f64], qs: &[f64]) -> Option<Vec<f64>> {
    if xs.is_empty() || !qs.iter().all(|&q| valid_q(q)) || !all_finite(xs) {
        return None;
    }
    if qs.len() > 2 {
        xs.sort_unstable_by(f64::total_cmp);
        qs.iter().map(|&q| interpolate_sorted(xs, q)).collect()
    } else {
        qs.iter().map(|&q| quantile(xs, q)).collect()
    }
}

/// [`quantiles`] of `n` ascending values read through `at(i)` (only the ones each quantile
/// interpolates between): the same figures as sorting them all. The caller has checked they
/// are finite.
pub fn quantiles_by(n: usize, at: impl Fn(usize) -> f64, qs: &[f64]) -> Option<Vec<f64>> {
    if n == 0 || !qs.iter().all(|&q| valid_q(q)) {
        return None;
    }
    Some(
        qs.iter()
            .map(|&q| {
                let (lo, gamma) = rank(n, q);
                if lo + 1 < n {
                    lerp(at(lo), at(lo + 1), gamma)
                } else {
                    at(n - 1)
                }
            })
            .collect(),
    )
}

/// Result of [`welch_t_test`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TTest {
    /// Always `welch_t`, so every test in a comparison names its method (as `success_test` does).
    pub method: &'static str,
    /// The t statistic, `(mean(a) - mean(b)) / sqrt(var(a)/n_a + var(b)/n_b)`.
    pub statistic: f64,
    /// Welch–Satterthwaite degrees of freedom (not necessarily an integer).
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

/// Welch's unequal-variance two-sided t-test, equal to scipy.stats.ttest_ind(a, b, equal_var=False). None when either side has n<2 or both variances are 0.
///
/// Also `None` for NaN/infinite values or when an intermediate overflows.
/// The p-value comes from the regularized incomplete beta function
/// `I_{df/(df+t²)}(df/2, 1/2)`, evaluated without cancellation so that
/// p-values far below 1e-12 keep full relative precision.
pub fn welch_t_test(a: &[f64], b: &[f64]) -> Option<TTest> {
    let (mean_a, var_a) = mean_and_sample_var(a)?;
    let (mean_b, var_b) = mean_and_sample_var(b)?;
    let (n_a, n_b) = (a.len() as f64, b.len() as f64);
    let (vn_a, vn_b) = (var_a / n_a, var_b / n_b);
    let se2 = vn_a + vn_b;
    if se2 <= 0.0 || !se2.is_finite() {
        return None;
    }
    let statistic = (mean_a - mean_b) / se2.sqrt();
    // Welch–Satterthwaite: se2² / (vn_a²/(n_a-1) + vn_b²/(n_b-1)), written
    // with ratios so that tiny or huge variances cannot under/overflow.
    let (r_a, r_b) = (vn_a / se2, vn_b / se2);
    let df = 1.0 / (r_a * r_a / (n_a - 1.0) + r_b * r_b / (n_b - 1.0));
    if !statistic.is_finite() || !df.is_finite() {
        return None;
    }
    let p_value = students_t_two_sided_p(statistic, df)?;
    Some(TTest {
        method: "welch_t",
        statistic,
        df,
        p_value,
    })
}

/// Which test [`compare_proportions`] used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProportionMethod {
    /// Fisher's exact test (small expected counts); there is no statistic.
    FisherExact,
    /// Pooled two-proportion z-test; the statistic is z.
    ZTest,
}

/// Result of [`compare_proportions`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ProportionTest {
    /// The test that was applied.
    pub method: ProportionMethod,
    /// z for the z-test; `None` for Fisher's exact test.
    pub statistic: Option<f64>,
    /// Two-sided p-value.
    pub p_value: f64,
}

/// Two-sided Fisher's exact test on the 2x2 table [[a_succ, a_n-a_succ],[b_succ, b_n-b_succ]], equal to scipy.stats.fisher_exact(table, alternative='two-sided') p-value (scipy's relative tolerance 1+1e-7 when summing tables at most as likely as the observed one). Use log-gamma/log-factorials (statrs::function::gamma::ln_gamma or a cached ln-factorial) so it works for n up to 1e6 without overflow.
///
/// The p-value is the total probability (hypergeometric, margins fixed) of
/// all tables whose probability is at most `(1 + 1e-7)` times that of the
/// observed table (the tolerance R's `fisher.test` uses; scipy 1.17 uses
/// `1 + 1e-14`, which gives the same result except for exact near-ties).
/// Probabilities are handled as ratios to the most likely table and
/// normalised by their sum, so nothing overflows or loses precision for
/// large counts; only the `O(sqrt(n))` tables that matter are visited.
///
/// `None` when `a_n` or `b_n` is 0, a success count exceeds its total, or
/// `a_n + b_n` exceeds 2^53 (counts would no longer be exact in `f64`).
/// When every trial succeeded or every trial failed the p-value is 1.0.
pub fn fisher_exact(a_succ: u64, a_n: u64, b_succ: u64, b_n: u64) -> Option<f64> {
    if a_n == 0 || b_n == 0 || a_succ > a_n || b_succ > b_n {
        return None;
    }
    let total = a_n.checked_add(b_n)?;
    if total > MAX_EXACT_COUNT {
        return None;
    }
    let succ = a_succ + b_succ; // <= total, cannot overflow
    if succ == 0 || succ == total {
        return Some(1.0);
    }
    Some(Hypergeometric::new(a_n, b_n, succ).two_sided_p(a_succ))
}

/// Pooled two-proportion z-test, two-sided; equals statsmodels proportions_ztest(\[a_succ,b_succ\],\[a_n,b_n\]) and the p-value of scipy.stats.chi2_contingency(table, correction=False). Returns (z, p). None when a_n or b_n is 0 or pooled p is 0 or 1.
///
/// Also `None` when a success count exceeds its total or the totals overflow.
/// The p-value is `erfc(|z|/√2)` (statrs), accurate to about 1e-10 relative.
pub fn two_proportion_z_test(a_succ: u64, a_n: u64, b_succ: u64, b_n: u64) -> Option<(f64, f64)> {
    if a_n == 0 || b_n == 0 || a_succ > a_n || b_succ > b_n {
        return None;
    }
    let total = a_n.checked_add(b_n)?;
    let succ = a_succ + b_succ; // <= total, cannot overflow
    if succ == 0 || succ == total {
        return None;
    }
    // Same operation order as statsmodels.stats.proportion.proportions_ztest.
    let prop_a = a_succ as f64 / a_n as f64;
    let prop_b = b_succ as f64 / b_n as f64;
    let pooled = succ as f64 / total as f64;
    let var = pooled * (1.0 - pooled) * (1.0 / a_n as f64 + 1.0 / b_n as f64);
    if var <= 0.0 || !var.is_finite() {
        return None;
    }
    let z = (prop_a - prop_b) / var.sqrt();
    if !z.is_finite() {
        return None;
    }
    Some((z, erfc(z.abs() / std::f64::consts::SQRT_2)))
}

/// Chooses the test: Fisher's exact when any expected cell count of the 2x2 table is < 5 (the textbook rule), else the z-test. None when a_n or b_n is 0. When pooled proportion is 0 or 1 (all succeed / all fail), p_value = 1.0 with Fisher.
///
/// Expected counts are `row_total * column_total / n`, compared exactly in
/// integer arithmetic. Also `None` when a success count exceeds its total
/// or the counts are too large for [`fisher_exact`].
pub fn compare_proportions(a_succ: u64, a_n: u64, b_succ: u64, b_n: u64) -> Option<ProportionTest> {
    if a_n == 0 || b_n == 0 || a_succ > a_n || b_succ > b_n {
        return None;
    }
    let total = a_n.checked_add(b_n)?;
    let succ = a_succ + b_succ; // <= total, cannot overflow
    let fail = total - succ;
    // Smallest expected count = min(row) * min(column) / total < 5.
    let small_expected =
        u128::from(a_n.min(b_n)) * u128::from(succ.min(fail)) < 5 * u128::from(total);
    if small_expected {
        let p_value = fisher_exact(a_succ, a_n, b_succ, b_n)?;
        return Some(ProportionTest {
            method: ProportionMethod::FisherExact,
            statistic: None,
            p_value,
        });
    }
    let (z, p_value) = two_proportion_z_test(a_succ, a_n, b_succ, b_n)?;
    Some(ProportionTest {
        method: ProportionMethod::ZTest,
        statistic: Some(z),
        p_value,
    })
}

// ---------------------------------------------------------------------------
// Helpers: summation, quantile interpolation
// ---------------------------------------------------------------------------

/// Largest count for which every integer is exactly representable in f64.
const MAX_EXACT_COUNT: u64 = 1 << 53;

fn all_finite(xs: &[f64]) -> bool {
    xs.iter().all(|x| x.is_finite())
}

/// Neumaier (improved Kahan) summation.
fn compensated_sum(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut compensation) = (0.0_f64, 0.0_f64);
    for x in values {
        let t = sum + x;
        if sum.abs() >= x.abs() {
            compensation += (sum - t) + x;
        } else {
            compensation += (x - t) + sum;
        }
        sum = t;
    }
    sum + compensation
}

/// Mean and sample variance (ddof = 1), two-pass; None when n < 2 or not finite.
fn mean_and_sample_var(xs: &[f64]) -> Option<(f64, f64)> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    let sum_sq = compensated_sum(xs.iter().map(|x| (x - m) * (x - m)));
    let var = sum_sq / (xs.len() - 1) as f64;
    var.is_finite().then_some((m, var))
}

fn valid_q(q: f64) -> bool {
    (0.0..=1.0).contains(&q)
}

/// numpy's 'linear' virtual index `(n-1)q`, split into floor and fraction.
fn rank(n: usize, q: f64) -> (usize, f64) {
    let h = n.saturating_sub(1) as f64 * q;
    let lo = h.floor();
    (lo as usize, h - lo)
}

/// numpy's `_lerp`: interpolates from the nearer end for better accuracy.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// Type-7 quantile of sorted, finite data with a valid q; None only if empty.
fn interpolate_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    let (lo, gamma) = rank(sorted.len(), q);
    match sorted.get(lo..) {
        Some([a, b, ..]) => Some(lerp(*a, *b, gamma)),
        _ => sorted.last().copied(),
    }
}

// ---------------------------------------------------------------------------
// Student's t tail via the regularized incomplete beta function
// ---------------------------------------------------------------------------

/// Two-sided p-value `2 * sf(|t|)` of Student's t with `df` degrees of freedom.
fn students_t_two_sided_p(t: f64, df: f64) -> Option<f64> {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return None;
    }
    let t2 = t * t;
    if t2.is_infinite() {
        return Some(0.0);
    }
    if t2 == 0.0 {
        return Some(1.0);
    }
    if df.is_infinite() {
        return Some(erfc(t.abs() / std::f64::consts::SQRT_2));
    }
    // p = I_x(df/2, 1/2) with x = df/(df+t²); 1-x is passed separately so
    // neither tail suffers from cancellation.
    let denom = df + t2;
    let p = regularized_incomplete_beta(0.5 * df, 0.5, df / denom, t2 / denom)?;
    Some(p.clamp(0.0, 1.0))
}

/// `I_x(a, b)` for `a, b > 0`, given both `x` and `y = 1 - x` accurately.
///
/// Whenever `I_x(a, b)` is the smaller tail it is computed directly (no
/// `1 - ...`), so small values keep full relative precision: by the
/// continued fraction (modified Lentz), or for `a >= 15, b <= 1` by the
/// large-`a` asymptotic expansion, where the continued fraction is
/// ill-conditioned (`x` close to 1 with `a(1-x)` moderate: Student's t with
/// many degrees of freedom).
fn regularized_incomplete_beta(a: f64, b: f64, x: f64, y: f64) -> Option<f64> {
    if x <= 0.0 {
        return Some(0.0);
    }
    if y <= 0.0 {
        return Some(1.0);
    }
    if x < (a + 1.0) / (a + b + 2.0) {
        incomplete_beta_small_tail(a, b, x, y)
    } else {
        Some(1.0 - incomplete_beta_small_tail(b, a, y, x)?)
    }
}

/// `I_x(a, b)` for `x < (a+1)/(a+b+2)` (the side where it is the smaller tail).
fn incomplete_beta_small_tail(a: f64, b: f64, x: f64, y: f64) -> Option<f64> {
    if a >= 15.0
        && b <= 1.0
        && y < 0.29
        && let Some(value) = incomplete_beta_large_a(a, b, x, y)
    {
        return Some(value);
    }
    Some(beta_prefactor(a, b, x, y) * beta_continued_fraction(a, b, x)? / a)
}

/// `I_x(a, b)` for `a >= 15`, `b <= 1` by the asymptotic expansion of
/// Didonato & Morris (ACM TOMS 708, routine BGRAT), written in terms of
/// `ln x = ln(1 - y)` so it stays well-conditioned for `x` near 1.
fn incomplete_beta_large_a(a: f64, b: f64, x: f64, y: f64) -> Option<f64> {
    const TERMS: usize = 30;
    let bm1 = b - 1.0;
    let nu = a + 0.5 * bm1;
    let ln_x = if y > 0.375 { x.ln() } else { (-y).ln_1p() };
    let z = -nu * ln_x;
    if z.is_nan() || z <= 0.0 {
        return None;
    }
    // r = e^-z z^b / Γ(b);  u = r Γ(a+b) / (Γ(a) ν^b).
    let ln_r = b * z.ln() - z - ln_gamma(b);
    let u = (ln_r - ln_gamma_ratio_large(a, b) - b * nu.ln()).exp();
    if u == 0.0 {
        return Some(0.0);
    }
    let v = 0.25 / (nu * nu);
    let t2 = 0.25 * ln_x * ln_x;
    let mut j = upper_gamma_over_prefactor(b, z)?;
    let mut sum = j;
    let (mut t, mut cn, mut n2) = (1.0, 1.0, 0.0);
    let mut c = [0.0_f64; TERMS];
    let mut d = [0.0_f64; TERMS];
    for n in 1..=TERMS {
        let bp2n = b + n2;
        j = (bp2n * (bp2n + 1.0) * j + (z + bp2n + 1.0) * t) * v;
        n2 += 2.0;
        t *= t2;
        cn /= n2 * (n2 + 1.0);
        let mut s = 0.0;
        let mut coef = b - n as f64;
        // c[i-1] * d[n-1-i] for i = 1..n-1.
        for (ci, di) in c[..n - 1].iter().zip(d[..n - 1].iter().rev()) {
            s += coef * ci * di;
            coef += b;
        }
        // n <= TERMS, so index n - 1 is in bounds.
        c[n - 1] = cn;
        d[n - 1] = bm1 * cn + s / n as f64;
        let dj = d[n - 1] * j;
        sum += dj;
        if sum.is_nan() || sum <= 0.0 {
            return None;
        }
        if dj.abs() <= 1e-15 * sum {
            break;
        }
    }
    let value = u * sum;
    value.is_finite().then_some(value)
}

/// `Q(b, z) / (e^-z z^b / Γ(b))`, i.e. the regularized upper incomplete
/// gamma function divided by its prefactor.
fn upper_gamma_over_prefactor(b: f64, z: f64) -> Option<f64> {
    const MAX_ITERATIONS: u32 = 10_000;
    const EPS: f64 = 1e-16;
    const TINY: f64 = 1e-300;
    let clamp_tiny = |v: f64| if v.abs() < TINY { TINY } else { v };
    if z > b + 1.0 {
        // Continued fraction (Numerical Recipes `gcf`), modified Lentz.
        let mut bn = z + 1.0 - b;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / bn;
        let mut h = d;
        for i in 1..=MAX_ITERATIONS {
            let i = f64::from(i);
            let an = -i * (i - b);
            bn += 2.0;
            d = 1.0 / clamp_tiny(an * d + bn);
            c = clamp_tiny(bn + an / c);
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < EPS {
                return Some(h);
            }
        }
        None
    } else {
        // Q = 1 - P with the series P = prefactor * sum z^n / (b (b+1)...(b+n));
        // here z <= b + 1 so Q is not small and the subtraction is harmless.
        let prefactor = (b * z.ln() - z - ln_gamma(b)).exp();
        let mut term = 1.0 / b;
        let mut sum = term;
        let mut denom = b;
        for _ in 0..MAX_ITERATIONS {
            denom += 1.0;
            term *= z / denom;
            sum += term;
            if term.abs() < sum.abs() * EPS {
                return Some(1.0 / prefactor - sum);
            }
        }
        None
    }
}

/// `x^a y^b / B(a, b)` evaluated in log space.
fn beta_prefactor(a: f64, b: f64, x: f64, y: f64) -> f64 {
    let ln_x = if x > 0.5 { (-y).ln_1p() } else { x.ln() };
    let ln_y = if y > 0.5 { (-x).ln_1p() } else { y.ln() };
    (a * ln_x + b * ln_y - ln_beta(a, b)).exp()
}

/// `ln B(a, b)`, accurate also when one argument is large and the other small
/// (where `lnΓ(a) + lnΓ(b) - lnΓ(a+b)` would cancel catastrophically).
fn ln_beta(a: f64, b: f64) -> f64 {
    let (small, large) = if a < b { (a, b) } else { (b, a) };
    if large < 10.0 {
        return ln_gamma(small) + ln_gamma(large) - ln_gamma(small + large);
    }
    ln_gamma(small) + ln_gamma_ratio_large(large, small)
}

/// `lnΓ(large) - lnΓ(large + small)` for `large >= 10` and small `small`
/// (used with `small <= 1`), from Stirling's series with the big leading
/// terms cancelled analytically.
fn ln_gamma_ratio_large(large: f64, small: f64) -> f64 {
    let sum = large + small;
    -small * large.ln() - (sum - 0.5) * (small / large).ln_1p() + small + stirling_correction(large)
        - stirling_correction(sum)
}

/// `lnΓ(z) - [(z - 1/2) ln z - z + ln √(2π)]` for `z >= 10` (error < 1e-16).
fn stirling_correction(z: f64) -> f64 {
    let w = 1.0 / (z * z);
    (1.0 / 12.0
        + w * (-1.0 / 360.0
            + w * (1.0 / 1260.0
                + w * (-1.0 / 1680.0 + w * (1.0 / 1188.0 + w * (-691.0 / 360_360.0 + w / 156.0))))))
        / z
}

/// Continued fraction for `I_x(a, b)` (Numerical Recipes `betacf`), which
/// converges quickly for `x < (a+1)/(a+b+2)`; None if it does not converge.
fn beta_continued_fraction(a: f64, b: f64, x: f64) -> Option<f64> {
    // Convergence needs O(sqrt(max(a, b))) iterations near the switch point.
    const MAX_ITERATIONS: u32 = 1_000_000;
    const EPS: f64 = 1e-15;
    const TINY: f64 = 1e-300;
    let clamp_tiny = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / clamp_tiny(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..=MAX_ITERATIONS {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let even = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / clamp_tiny(1.0 + even * d);
        c = clamp_tiny(1.0 + even / c);
        h *= d * c;
        let odd = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / clamp_tiny(1.0 + odd * d);
        c = clamp_tiny(1.0 + odd / c);
        let delta = d * c;
        h *= delta;
        if !h.is_finite() {
            return None;
        }
        if (delta - 1.0).abs() < EPS {
            return Some(h);
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Hypergeometric distribution for Fisher's exact test
// ---------------------------------------------------------------------------

/// Relative tolerance when deciding which tables are "at most as likely".
const FISHER_RELATIVE_TOLERANCE: f64 = 1e-7;

/// Distribution of the top-left cell of a 2x2 table with fixed margins:
/// rows `row_a`, `row_b`, first-column total `col_succ`.
struct Hypergeometric {
    row_a: u64,
    row_b: u64,
    col_succ: u64,
    /// Smallest and largest possible top-left cell.
    lo: u64,
    hi: u64,
    /// A most likely top-left cell.
    mode: u64,
}

impl Hypergeometric {
    /// Requires `col_succ <= row_a + row_b <= 2^53` (checked by the caller).
    fn new(row_a: u64, row_b: u64, col_succ: u64) -> Self {
        let lo = col_succ.saturating_sub(row_b);
        let hi = col_succ.min(row_a);
        // Same mode formula as scipy: floor((n+1)(K+1)/(N+2)), in exact
        // integer arithmetic (all factors <= 2^53 + 2, product < 2^108).
        let numerator = (u128::from(col_succ) + 1) * (u128::from(row_a) + 1);
        let denominator = u128::from(row_a) + u128::from(row_b) + 2;
        let mode = u64::try_from(numerator / denominator).unwrap_or(hi);
        Hypergeometric {
            row_a,
            row_b,
            col_succ,
            lo,
            hi,
            mode: mode.clamp(lo, hi),
        }
    }

    /// `ln P(X = k) - ln P(X = mode)` for `k` in `[lo, hi]` (<= 0 up to rounding).
    fn ln_ratio_to_mode(&self, k: u64) -> f64 {
        let m = self.mode;
        // Cells: [[k, row_a - k], [col_succ - k, row_b - col_succ + k]].
        // k >= lo guarantees row_b + k >= col_succ; row_b + k <= 2^54 fits.
        let bottom_right = |k: u64| self.row_b + k - self.col_succ;
        ln_factorial_diff(m, k)
            + ln_factorial_diff(self.row_a - m, self.row_a - k)
            + ln_factorial_diff(self.col_succ - m, self.col_succ - k)
            + ln_factorial_diff(bottom_right(m), bottom_right(k))
    }

    /// Sum of `P(X = k) / P(X = mode)` walking away from the mode, from
    /// `start` to `end` inclusive (`start <= end` when ascending). Stops once
    /// the rest is provably negligible: the terms are log-concave, so after
    /// a ratio `r < 1` between consecutive terms the remainder is at most
    /// `term * r / (1 - r)`.
    fn tail_sum(&self, start: u64, end: u64, ascending: bool) -> f64 {
        let mut sum = 0.0;
        let mut previous: Option<f64> = None;
        let mut k = start;
        loop {
            let term = self.ln_ratio_to_mode(k).exp();
            sum += term;
            if term == 0.0 {
                break;
            }
            if let Some(prev) = previous {
                let r = term / prev;
                if r < 1.0 && term * r / (1.0 - r) <= 1e-17 * sum {
                    break;
                }
            }
            previous = Some(term);
            if k == end {
                break;
            }
            k = if ascending { k + 1 } else { k - 1 };
        }
        sum
    }

    /// Two-sided p-value for an observed top-left cell `observed` in `[lo, hi]`.
    fn two_sided_p(&self, observed: u64) -> f64 {
        let (lo, hi, mode) = (self.lo, self.hi, self.mode);
        let threshold = self.ln_ratio_to_mode(observed) + FISHER_RELATIVE_TOLERANCE.ln_1p();
        if threshold >= 0.0 {
            // The observed table is (within tolerance) a most likely one.
            return 1.0;
        }
        let ld = |k: u64| self.ln_ratio_to_mode(k);

        // Largest k < mode with ld(k) <= threshold (ld increases up to the mode).
        let left = if mode > lo && ld(lo) <= threshold {
            let (mut l, mut r) = (lo, mode - 1);
            while l < r {
                let mid = l + (r - l).div_ceil(2);
                if ld(mid) <= threshold {
                    l = mid;
                } else {
                    r = mid - 1;
                }
            }
            Some(l)
        } else {
            None
        };
        // Smallest k > mode with ld(k) <= threshold (ld decreases after it).
        let right = if mode < hi && ld(hi) <= threshold {
            let (mut l, mut r) = (mode + 1, hi);
            while l < r {
                let mid = l + (r - l) / 2;
                if ld(mid) <= threshold {
                    r = mid;
                } else {
                    l = mid + 1;
                }
            }
            Some(l)
        } else {
            None
        };

        let mut included = 0.0;
        if let Some(left) = left {
            included += self.tail_sum(left, lo, false);
        }
        if let Some(right) = right {
            included += self.tail_sum(right, hi, true);
        }
        let mut total = 1.0; // the mode itself
        if mode > lo {
            total += self.tail_sum(mode - 1, lo, false);
        }
        if mode < hi {
            total += self.tail_sum(mode + 1, hi, true);
        }
        (included / total).min(1.0)
    }
}

/// `ln(x!)`: exact table up to 170!, log-gamma beyond.
fn ln_fact(x: u64) -> f64 {
    if x <= 170 {
        ln_factorial(x)
    } else {
        ln_gamma(x as f64 + 1.0)
    }
}

/// `ln(x!) - ln(y!)` without the cancellation of subtracting two huge values.
fn ln_factorial_diff(x: u64, y: u64) -> f64 {
    if x == y {
        return 0.0;
    }
    if x.min(y) < 30 {
        // Small argument: the difference is about as large as the bigger
        // term, so direct subtraction loses nothing significant.
        return ln_fact(x) - ln_fact(y);
    }
    // lnΓ(X) - lnΓ(Y), X = x+1, Y = y+1 (both >= 31), from Stirling's series:
    // (X-Y) ln X + (Y - 1/2) ln(1 + (X-Y)/Y) - (X-Y) + corr(X) - corr(Y).
    // Counts are <= 2^53, so the conversions and x - y are exact.
    let (big_x, big_y) = (x as f64 + 1.0, y as f64 + 1.0);
    let d = x as f64 - y as f64;
    d * big_x.ln() + (big_y - 0.5) * (d / big_y).ln_1p() - d + stirling_correction(big_x)
        - stirling_correction(big_y)
}

/// McNemar's exact test of paired pass/fail outcomes: `b` pairs passed on one side only, `c`
/// on the other only; concordant pairs carry no information. Two-sided p-value of
/// `scipy.stats.binomtest(min(b, c), b + c, 0.5)`. None without discordant pairs.
pub fn mcnemar_exact(b: u64, c: u64) -> Option<f64> {
    let n = b.checked_add(c).filter(|n| *n > 0)?;
    let k = b.min(c);
    if 2 * k == n {
        return Some(1.0);
    }
    // P(X <= k) for X ~ Binomial(n, 1/2), summed in log space so large n cannot overflow.
    let ln_half_n = n as f64 * std::f64::consts::LN_2;
    let ln_n = ln_factorial(n);
    let cdf: f64 = (0..=k)
        .map(|i| (ln_n - ln_factorial(i) - ln_factorial(n - i) - ln_half_n).exp())
        .sum();
    Some((2.0 * cdf).min(1.0))
}

/// How [`wilcoxon_signed_rank`] computed its p-value (as scipy's `method="auto"` chooses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum WilcoxonMethod {
    /// The exact null distribution (n ≤ 50, no ties, no zero differences).
    Exact,
    /// All 2^n sign flips (n ≤ 13 with ties or zeros).
    Permutation,
    /// The normal approximation with the tie correction and no continuity correction.
    Asymptotic,
}

/// The Wilcoxon signed-rank test of paired samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Wilcoxon {
    /// min(R+, R−), the sums of the ranks of the positive and negative differences.
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Pairs with a nonzero difference (zero differences are dropped, Wilcoxon's method).
    pub n: usize,
    /// How the p-value was computed.
    pub method: WilcoxonMethod,
}

/// The Wilcoxon signed-rank test of `x` against `y` (pairs `x[i]`, `y[i]`), equal to
/// `scipy.stats.wilcoxon(x, y)` with its defaults (zero_method="wilcox", correction=False,
/// method="auto"). None when the lengths differ, there are no pairs or a value is not finite.
pub fn wilcoxon_signed_rank(x: &[f64], y: &[f64]) -> Option<Wilcoxon> {
    if x.len() != y.len() || x.is_empty() || x.iter().chain(y).any(|v| !v.is_finite()) {
        return None;
    }
    let d: Vec<f64> = x.iter().zip(y).map(|(a, b)| a - b).collect();
    let n_total = d.len();
    let nonzero: Vec<f64> = d.iter().copied().filter(|v| *v != 0.0).collect();
    let n_zero = n_total - nonzero.len();
    let abs: Vec<f64> = nonzero.iter().map(|v| v.abs()).collect();
    let (ranks, tie_sizes) = average_ranks(&abs);
    let has_ties = tie_sizes.iter().any(|&t| t > 1);
    let r_plus: f64 = nonzero
        .iter()
        .zip(&ranks)
        .filter(|(v, _)| **v > 0.0)
        .map(|(_, r)| r)
        .sum();
    let count = nonzero.len() as f64;
    let r_minus = count * (count + 1.0) / 2.0 - r_plus;
    let method = if n_total > 50 {
        WilcoxonMethod::Asymptotic
    } else if !(has_ties || n_zero > 0) {
        WilcoxonMethod::Exact
    } else if n_total <= 13 {
        WilcoxonMethod::Permutation
    } else {
        WilcoxonMethod::Asymptotic
    };
    let p_value = match method {
        WilcoxonMethod::Exact => {
            let pmf = signed_rank_pmf(nonzero.len());
            let cdf = |k: f64| pmf.iter().take(k.max(-1.0) as usize + 1).sum::<f64>();
            let sf = |k: f64| pmf.iter().skip(k.max(0.0) as usize).sum::<f64>();
            (2.0 * sf(r_plus.floor()).min(cdf(r_plus.ceil()))).clamp(0.0, 1.0)
        }
        WilcoxonMethod::Permutation => {
            // Every sign flip of the differences; zeros stay zeros and rank nowhere.
            let n = n_total as u32;
            let mut rank_of = Vec::with_capacity(n_total);
            let mut next = 0;
            for v in &d {
                if *v == 0.0 {
                    rank_of.push(0.0);
                } else {
                    rank_of.push(ranks[next]);
                    next += 1;
                }
            }
            let gamma = (r_plus * f64::EPSILON * 100.0).abs();
            let (mut less, mut greater) = (0u64, 0u64);
            for mask in 0u32..(1 << n) {
                let stat: f64 = d
                    .iter()
                    .zip(&rank_of)
                    .enumerate()
                    .filter(|(i, (v, _))| **v != 0.0 && (**v > 0.0) != (mask >> i & 1 == 1))
                    .map(|(_, (_, r))| r)
                    .sum();
                less += u64::from(stat <= r_plus + gamma);
                greater += u64::from(stat >= r_plus - gamma);
            }
            let total = f64::from(1u32 << n);
            (2.0 * (less as f64 / total).min(greater as f64 / total)).clamp(0.0, 1.0)
        }
        WilcoxonMethod::Asymptotic => {
            let tie = tie_sizes
                .iter()
                .map(|&t| (t * t * t - t) as f64)
                .sum::<f64>();
            let se = ((count * (count + 1.0) * (2.0 * count + 1.0) - tie / 2.0) / 24.0).sqrt();
            if se.is_nan() || se <= 0.0 {
                return None;
            }
            let z = (r_plus - count * (count + 1.0) / 4.0) / se;
            erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0)
        }
    };
    Some(Wilcoxon {
        // + 0.0 turns the -0.0 of an empty sum into the 0.0 scipy reports.
        statistic: r_plus.min(r_minus) + 0.0,
        p_value,
        n: nonzero.len(),
        method,
    })
}

/// Average ranks (1-based) of `xs`, in input order, and the sizes of the groups of equal values.
fn average_ranks(xs: &[f64]) -> (Vec<f64>, Vec<u64>) {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut ranks = vec![0.0; xs.len()];
    let mut ties = Vec::new();
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && xs[order[j + 1]] == xs[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = avg;
        }
        ties.push((j - i + 1) as u64);
        i = j + 1;
    }
    (ranks, ties)
}

/// The null distribution of R+ for `n` pairs without ties: P(R+ = k) for k = 0..=n(n+1)/2.
fn signed_rank_pmf(n: usize) -> Vec<f64> {
    let max = n * (n + 1) / 2;
    // Counts of subsets of {1..n} by their sum; 2^n ≤ 2^50 fits in a u64 exactly.
    let mut counts = vec![0u64; max + 1];
    counts[0] = 1;
    for r in 1..=n {
        for k in (r..=max).rev() {
            counts[k] += counts[k - r];
        }
    }
    let total = 2f64.powi(n as i32);
    counts.iter().map(|&c| c as f64 / total).collect()
}

#[cfg(test)]
// Reference literals are copied verbatim from the script's `.17g` output, which
// has more digits than needed and includes e.g. 1/sqrt(2) as a plain number.
#[allow(clippy::excessive_precision, clippy::approx_constant)]
mod tests {
    //! Reference values were produced by `python3 tests/reference/stats_reference.py`
    //! (numpy 2.4.6, scipy 1.17.1, statsmodels 0.15.0) and are copied verbatim
    //! (`format(x, ".17g")`); each table names the exact call that produced it.
    //! Data sets below mirror the ones defined in that script.

    use super::*;
    use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

    const REL_TOL: f64 = 1e-9;

    #[test]
    fn exact_sums_match_math_fsum_in_any_order() {
        let cancel = [
            1e16,
            1.0,
            -1e16,
            0.1,
            1e-3,
            -0.1,
            3.0e300,
            1.5,
            -3.0e300,
            2.0f64.powi(-60),
        ];
        let huge = huge_a();
        // math.fsum(LAT_A), math.fsum(HUGE_A), math.fsum(CANCEL)
        for (xs, want) in [
            (LAT_A, 549.60000000000002),
            (huge.as_slice(), 1000605.79),
            (&cancel[..], 2.5009999999999999),
        ] {
            let mut reversed = xs.to_vec();
            reversed.reverse();
            let mut halves = ExactSum::of(&xs[xs.len() / 2..]);
            halves.merge(&ExactSum::of(&xs[..xs.len() / 2]));
            for s in [ExactSum::of(xs), ExactSum::of(&reversed), halves] {
                assert_eq!(s.value(), Some(want));
                assert_eq!(s.mean(xs.len()), Some(want / xs.len() as f64));
            }
        }
        // float(sum(Fraction(x) for x in BIGS) / 4): math.fsum overflows, the mean does not.
        let bigs = [1.7e308, 1.7e308, -1.0e308, 5.5];
        assert_eq!(ExactSum::of(&bigs).mean(4), Some(5.9999999999999997e+307));
        assert_eq!(ExactSum::of(&bigs).value(), Some(f64::INFINITY));
        assert_eq!(ExactSum::of(&[1.0, f64::NAN]).mean(2), None);
        assert_eq!(ExactSum::of(&[]).mean(0), None);
        assert_eq!(ExactSum::of(&[]).value(), Some(0.0));
    }

    #[test]
    fn quantiles_by_rank_equal_quantiles_of_the_sorted_values() {
        for xs in [N2, N3, N5, TIES, LAT_A, &big_a()[..]] {
            let mut sorted = xs.to_vec();
            sorted.sort_unstable_by(f64::total_cmp);
            let qs = [0.0, 0.01, 0.25, 0.5, 0.95, 0.99, 1.0];
            let want = quantiles(&mut xs.to_vec(), &qs);
            assert_eq!(quantiles_by(sorted.len(), |i| sorted[i], &qs), want);
        }
        assert_eq!(quantiles_by(0, |_| 0.0, &[0.5]), None);
    }

    #[test]
    fn pearson_matches_the_closed_form() {
        // numpy.corrcoef([1, 2, 3, 4, 5], [2, 4, 5, 4, 5])[0, 1]: deviations (−2, −1, 0, 1, 2)
        // and (−2, 0, 1, 0, 1) give 6 / √(10 · 6) = √0.6 = 0.7745966692414834 exactly.
        let r = pearson(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 4.0, 5.0, 4.0, 5.0]).expect("r");
        assert!((r - 0.6f64.sqrt()).abs() < 1e-15, "{r}");
        let r = pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).expect("r");
        assert!((r + 1.0).abs() < 1e-15, "{r}");
        assert_eq!(
            pearson(&[1.0, 2.0, 3.0], &[4.0, 4.0, 4.0]),
            None,
            "constant side"
        );
        assert_eq!(pearson(&[1.0], &[1.0]), None);
        assert_eq!(pearson(&[1.0, 2.0], &[1.0]), None);
    }

    const N2: &[f64] = &[1.0, 2.0];
    const N3: &[f64] = &[3.0, 1.0, 2.0];
    const N5: &[f64] = &[2.5, 0.5, 4.0, 1.5, 3.0];
    const TIES: &[f64] = &[1.0, 2.0, 2.0, 2.0, 3.0, 3.0, 7.0];
    const LAT_A: &[f64] = &[
        12.1, 11.8, 13.4, 12.9, 12.2, 14.8, 11.9, 12.5, 12.7, 13.1, 12.0, 12.3, 25.6, 12.6, 12.4,
        13.0, 11.7, 12.8, 12.2, 13.3, 12.9, 12.1, 18.2, 12.5, 12.6, 11.9, 12.4, 13.7, 12.3, 12.0,
        12.8, 12.5, 40.3, 12.2, 12.7, 12.4, 13.2, 12.1, 12.6, 12.9,
    ];
    const LAT_B: &[f64] = &[
        12.9, 12.6, 14.1, 13.5, 12.8, 15.9, 12.7, 13.2, 13.3, 13.8, 12.7, 13.0, 21.4, 13.1, 13.0,
        13.9, 12.4, 13.6, 12.9, 14.2, 13.4, 12.8, 19.7, 13.2, 13.3, 12.5, 13.1, 14.6, 13.0, 12.7,
        13.5, 13.3, 33.8, 12.9, 13.4, 13.1, 14.0, 12.8, 13.3, 13.6, 13.2, 12.9,
    ];
    const TIGHT_A: &[f64] = &[10.0, 10.2, 9.9, 10.1, 10.05, 9.95, 10.15, 9.85, 10.0, 10.1];
    const TIGHT_B: &[f64] = &[
        10.9, 11.15, 10.8, 11.0, 10.95, 10.85, 11.1, 10.75, 10.9, 11.05, 10.95, 11.0,
    ];
    const CONST_A: &[f64] = &[5.0, 5.0, 5.0, 5.0];
    const VAR_B: &[f64] = &[4.0, 6.5, 5.5, 7.0, 6.0];

    /// Same generators as the script: exact integer arithmetic, then one division.
    fn big_a() -> Vec<f64> {
        (0..3000_u64)
            .map(|i| ((i * 7919 + 13) % 1009) as f64 / 100.0 + 50.0)
            .collect()
    }
    fn big_b() -> Vec<f64> {
        (0..2500_u64)
            .map(|i| ((i * 104_729 + 7) % 997) as f64 / 100.0 + 50.3)
            .collect()
    }
    fn huge_a() -> Vec<f64> {
        (0..200_000_u64)
            .map(|i| ((i * 7919) % 10007) as f64 / 1000.0)
            .collect()
    }
    fn huge_b() -> Vec<f64> {
        (0..150_000_u64)
            .map(|i| ((i * 6007 + 3) % 10009) as f64 / 1000.0 + 0.01)
            .collect()
    }

    fn dataset(name: &str) -> Vec<f64> {
        match name {
            "N2" => N2.to_vec(),
            "N3" => N3.to_vec(),
            "N5" => N5.to_vec(),
            "TIES" => TIES.to_vec(),
            "LAT_A" => LAT_A.to_vec(),
            "LAT_B" => LAT_B.to_vec(),
            "TIGHT_A" => TIGHT_A.to_vec(),
            "TIGHT_B" => TIGHT_B.to_vec(),
            "CONST_A" => CONST_A.to_vec(),
            "VAR_B" => VAR_B.to_vec(),
            "BIG_A" => big_a(),
            "BIG_B" => big_b(),
            "HUGE_A" => huge_a(),
            "HUGE_B" => huge_b(),
            other => panic!("unknown data set {other}"),
        }
    }

    const QS: [f64; 11] = [0.0, 0.01, 0.1, 0.25, 0.333, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0];

    // numpy.mean(x), numpy.std(x, ddof=1), numpy.percentile(x, 95)
    const DESCRIPTIVE: &[(&str, f64, f64, f64)] = &[
        ("N2", 1.5, 0.70710678118654757, 1.95),
        ("N3", 2.0, 1.0, 2.8999999999999999),
        (
            "N5",
            2.2999999999999998,
            1.3509256086106296,
            3.7999999999999998,
        ),
        (
            "TIES",
            2.8571428571428572,
            1.9518001458970662,
            5.7999999999999972,
        ),
        ("LAT_A", 13.74, 4.8798276556368192, 18.569999999999979),
        (
            "LAT_B",
            14.121428571428572,
            3.5427380698209796,
            19.509999999999984,
        ),
        (
            "BIG_A",
            55.039396666666669,
            2.9131247085981125,
            59.579999999999998,
        ),
    ];
    // numpy.quantile(x, QS, method='linear'), one row per data set, in QS order
    const QUANTILES: &[(&str, [f64; 11])] = &[
        (
            "N2",
            [
                1.0,
                1.01,
                1.1000000000000001,
                1.25,
                1.333,
                1.5,
                1.75,
                1.8999999999999999,
                1.95,
                1.99,
                2.0,
            ],
        ),
        (
            "N3",
            [
                1.0,
                1.02,
                1.2,
                1.5,
                1.6659999999999999,
                2.0,
                2.5,
                2.7999999999999998,
                2.8999999999999999,
                2.98,
                3.0,
            ],
        ),
        (
            "N5",
            [
                0.5,
                0.54000000000000004,
                0.90000000000000002,
                1.5,
                1.8320000000000001,
                2.5,
                3.0,
                3.6000000000000001,
                3.7999999999999998,
                3.96,
                4.0,
            ],
        ),
        (
            "TIES",
            [
                1.0,
                1.0600000000000001,
                1.6000000000000001,
                2.0,
                2.0,
                2.0,
                3.0,
                4.6000000000000014,
                5.7999999999999972,
                6.759999999999998,
                7.0,
            ],
        ),
        (
            "LAT_A",
            [
                11.699999999999999,
                11.738999999999999,
                11.99,
                12.199999999999999,
                12.300000000000001,
                12.550000000000001,
                12.925000000000001,
                13.81,
                18.569999999999979,
                34.566999999999993,
                40.299999999999997,
            ],
        ),
        (
            "LAT_B",
            [
                12.4,
                12.441000000000001,
                12.699999999999999,
                12.9,
                13.0,
                13.199999999999999,
                13.6,
                14.559999999999999,
                19.509999999999984,
                28.715999999999951,
                33.799999999999997,
            ],
        ),
        (
            "BIG_A",
            [
                50.0,
                50.099899999999998,
                51.0,
                52.520000000000003,
                53.356670000000001,
                55.039999999999999,
                57.560000000000002,
                59.070999999999998,
                59.579999999999998,
                59.9801,
                60.079999999999998,
            ],
        ),
    ];
    // scipy.stats.ttest_ind(a, b, equal_var=False): (statistic, df, pvalue)
    const WELCH: &[(&str, &str, f64, f64, f64)] = &[
        (
            "N2",
            "N3",
            -0.6546536707079772,
            2.8823529411764697,
            0.56115088124008572,
        ),
        (
            "N3",
            "N5",
            -0.35899621393952275,
            5.4879533607896143,
            0.73300125736207156,
        ),
        (
            "N5",
            "TIES",
            -0.58429561798529095,
            9.9999131181254608,
            0.57196641510964807,
        ),
        (
            "LAT_A",
            "LAT_B",
            -0.40337386819649468,
            70.970398344715164,
            0.68788593541451803,
        ),
        (
            "TIGHT_A",
            "TIGHT_B",
            -18.749852107660963,
            19.691477457269592,
            5.0453170716937477e-14,
        ),
        (
            "CONST_A",
            "VAR_B",
            -1.5540573797716224,
            4.0,
            0.19513791758605351,
        ),
        (
            "BIG_A",
            "BIG_B",
            -3.0368746828227704,
            5340.7542546279628,
            0.0024019871410574283,
        ),
        (
            "HUGE_A",
            "HUGE_B",
            -1.0300931551830439,
            323044.99951247423,
            0.30296704928573309,
        ),
    ];
    // scipy.stats.fisher_exact(table, alternative='two-sided').pvalue for
    // table = [[a_succ, a_n - a_succ], [b_succ, b_n - b_succ]]: (a_succ, a_n, b_succ, b_n, p)
    const FISHER: &[(u64, u64, u64, u64, f64)] = &[
        (3, 4, 1, 4, 0.48571428571428565),            // [[3, 1], [1, 3]]
        (0, 5, 5, 5, 0.0079365079365079378),          // [[0, 5], [5, 0]]
        (8, 10, 1, 6, 0.034965034965034975),          // [[8, 2], [1, 5]]
        (1, 10, 11, 14, 0.0027594561852200836),       // [[1, 9], [11, 3]]
        (480, 500, 450, 500, 0.00027120507188198192), // [[480, 20], [450, 50]]
        (5, 10, 5, 10, 1.0),                          // [[5, 5], [5, 5]]
        (2, 9, 8, 10, 0.023014137565221159),          // [[2, 7], [8, 2]]
        (0, 10, 3, 10, 0.21052631578947367),          // [[0, 10], [3, 7]]
        (10, 10, 10, 10, 1.0),                        // [[10, 0], [10, 0]]
        (12, 17, 7, 21, 0.048853111686211273),        // [[12, 5], [7, 14]]
        (49500, 50000, 49400, 50000, 0.0026706660516734901), // [[49500, 500], [49400, 600]]
        (495000, 500000, 494500, 500000, 9.7615731582566244e-07), // [[495000, 5000], [494500, 5500]]
    ];
    // statsmodels proportions_ztest([a_succ, b_succ], [a_n, b_n]) -> (z, p) and
    // scipy.stats.chi2_contingency(table, correction=False).pvalue:
    // (a_succ, a_n, b_succ, b_n, z, p_statsmodels, p_chi2)
    const Z_TESTS: &[(u64, u64, u64, u64, f64, f64, f64)] = &[
        (
            480,
            500,
            450,
            500,
            3.718182996118764,
            0.00020066089381932887,
            0.00020066089381932706,
        ),
        (
            45,
            100,
            30,
            100,
            2.1908902300206647,
            0.028459736916310551,
            0.028459736916310638,
        ),
        (
            1200,
            10000,
            1100,
            10000,
            2.2164832140959123,
            0.026658426238363505,
            0.02665842623836346,
        ),
        (
            30,
            60,
            45,
            70,
            -1.6435628072266368,
            0.10026654182581804,
            0.10026654182581855,
        ),
        (500, 1000, 500, 1000, 0.0, 1.0, 1.0),
        (
            9000,
            10000,
            8000,
            10000,
            19.802950859533482,
            2.8075591073244199e-87,
            2.8075591073243462e-87,
        ),
    ];

    fn assert_rel(actual: f64, expected: f64, what: &str) {
        let err = (actual - expected).abs();
        assert!(
            err <= REL_TOL * expected.abs(),
            "{what}: got {actual:e}, expected {expected:e} (relative error {:e})",
            err / expected.abs()
        );
    }

    /// Deterministic pseudo-random values (64-bit LCG), with some ties and negatives.
    fn pseudo_random(n: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let bits = state >> 40; // 24 random bits
                if bits.is_multiple_of(7) {
                    3.0 // a repeated value
                } else {
                    (bits as f64 / 1000.0) - 5000.0
                }
            })
            .collect()
    }

    #[test]
    fn mean_and_std_match_numpy() {
        for &(name, m, sd, _) in DESCRIPTIVE {
            let xs = dataset(name);
            assert_rel(mean(&xs).unwrap(), m, &format!("mean({name})"));
            assert_rel(sample_std(&xs).unwrap(), sd, &format!("sample_std({name})"));
        }
    }

    #[test]
    fn quantiles_match_numpy_linear() {
        for (name, expected) in QUANTILES {
            let data = dataset(name);
            let mut sorted = data.clone();
            sorted.sort_by(f64::total_cmp);
            for (&q, &want) in QS.iter().zip(expected) {
                let what = format!("quantile({name}, {q})");
                assert_rel(quantile_sorted(&sorted, q).unwrap(), want, &what);
                assert_rel(quantile(&mut data.clone(), q).unwrap(), want, &what);
            }
            // Sort-once path (more than two qs) and selection path (two qs).
            let all = quantiles(&mut data.clone(), &QS).unwrap();
            for ((&q, &got), &want) in QS.iter().zip(&all).zip(expected) {
                assert_rel(got, want, &format!("quantiles({name})[{q}]"));
            }
            let two = quantiles(&mut data.clone(), &[QS[8], QS[2]]).unwrap();
            assert_rel(two[0], expected[8], &format!("quantiles({name}, 2 qs)[0]"));
            assert_rel(two[1], expected[2], &format!("quantiles({name}, 2 qs)[1]"));
        }
    }

    #[test]
    fn percentile_95_matches_numpy() {
        for &(name, _, _, p95) in DESCRIPTIVE {
            let got = quantile(&mut dataset(name), 0.95).unwrap();
            assert_rel(got, p95, &format!("numpy.percentile({name}, 95)"));
        }
    }

    #[test]
    fn quantile_equals_quantile_sorted_exactly() {
        for (n, seed) in [
            (1, 1),
            (2, 2),
            (3, 3),
            (10, 4),
            (101, 5),
            (1000, 6),
            (4097, 7),
        ] {
            let data = pseudo_random(n, seed);
            let mut sorted = data.clone();
            sorted.sort_by(f64::total_cmp);
            let qs: Vec<f64> = (0..=200)
                .map(|i| f64::from(i) / 200.0)
                .chain([0.999, 1e-9])
                .collect();
            for &q in &qs {
                let expected = quantile_sorted(&sorted, q).unwrap();
                assert_eq!(
                    quantile(&mut data.clone(), q),
                    Some(expected),
                    "n={n} q={q}"
                );
            }
            let many = quantiles(&mut data.clone(), &qs).unwrap();
            let each: Vec<f64> = qs
                .iter()
                .map(|&q| quantile_sorted(&sorted, q).unwrap())
                .collect();
            assert_eq!(many, each, "n={n}");
            // Output follows the order of qs, also when they are unsorted.
            let unordered = [0.9, 0.1, 0.5];
            let got = quantiles(&mut data.clone(), &unordered).unwrap();
            let want: Vec<f64> = unordered
                .iter()
                .map(|&q| quantile_sorted(&sorted, q).unwrap())
                .collect();
            assert_eq!(got, want, "n={n}");
        }
    }

    #[test]
    fn welch_matches_scipy() {
        for &(a_name, b_name, statistic, df, p) in WELCH {
            let what = format!("ttest_ind({a_name}, {b_name}, equal_var=False)");
            let r = welch_t_test(&dataset(a_name), &dataset(b_name)).unwrap();
            assert_rel(r.statistic, statistic, &format!("{what}.statistic"));
            assert_rel(r.df, df, &format!("{what}.df"));
            assert_rel(r.p_value, p, &format!("{what}.pvalue"));
        }
    }

    #[test]
    fn welch_tiny_p_value_keeps_relative_precision() {
        let r = welch_t_test(TIGHT_A, TIGHT_B).unwrap();
        assert!(r.p_value < 1e-10);
        assert_rel(r.p_value, 5.0453170716937477e-14, "tiny p");
        // Symmetric in the order of the samples, apart from the sign of t.
        let s = welch_t_test(TIGHT_B, TIGHT_A).unwrap();
        assert_eq!(s.statistic, -r.statistic);
        assert_eq!((s.df, s.p_value), (r.df, r.p_value));
    }

    #[test]
    fn t_p_value_agrees_with_statrs_students_t() {
        // statrs' StudentsT::sf is accurate in this moderate range; 2*sf(|t|).
        for df in [1.0, 2.5, 7.3, 30.0, 123.4, 1000.0] {
            for t in [0.01, 0.5, 1.0, 2.0, 3.0, 4.0] {
                let dist = StudentsT::new(0.0, 1.0, df).unwrap();
                let expected = 2.0 * dist.sf(t);
                let got = students_t_two_sided_p(t, df).unwrap();
                assert_rel(got, expected, &format!("t={t} df={df}"));
                assert_eq!(students_t_two_sided_p(-t, df), Some(got));
            }
        }
    }

    #[test]
    fn t_p_value_approaches_normal_for_huge_df() {
        let normal = Normal::standard();
        for t in [0.5, 1.0, 2.0, 3.0, 5.0] {
            let got = students_t_two_sided_p(t, 1e13).unwrap();
            let expected = 2.0 * normal.sf(t);
            assert!(
                (got - expected).abs() <= 1e-8 * expected,
                "t={t}: {got:e} vs {expected:e}"
            );
        }
        assert_eq!(
            students_t_two_sided_p(2.0, f64::INFINITY),
            Some(2.0 * normal.sf(2.0))
        );
        assert_eq!(students_t_two_sided_p(0.0, 5.0), Some(1.0));
        assert_eq!(students_t_two_sided_p(1e200, 5.0), Some(0.0));
        assert_eq!(students_t_two_sided_p(f64::NAN, 5.0), None);
        assert_eq!(students_t_two_sided_p(1.0, 0.0), None);
    }

    #[test]
    fn welch_edge_cases_return_none_without_panicking() {
        assert_eq!(welch_t_test(&[], &[]), None);
        assert_eq!(welch_t_test(&[1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(welch_t_test(&[1.0, 2.0, 3.0], &[2.0]), None);
        assert_eq!(
            welch_t_test(&[2.0, 2.0], &[3.0, 3.0, 3.0]),
            None,
            "both variances 0"
        );
        assert_eq!(welch_t_test(&[1.0, f64::NAN], &[1.0, 2.0]), None);
        assert_eq!(welch_t_test(&[1.0, f64::INFINITY], &[1.0, 2.0]), None);
        assert_eq!(
            welch_t_test(&[1e308, -1e308], &[1.0, 2.0]),
            None,
            "variance overflows"
        );
        // One zero variance is fine: df = n_other - 1.
        let r = welch_t_test(CONST_A, VAR_B).unwrap();
        assert_rel(r.df, 4.0, "df with one constant sample");
        // Identical samples: t = 0, p = 1.
        let r = welch_t_test(N5, N5).unwrap();
        assert_eq!((r.statistic, r.p_value), (0.0, 1.0));
        // Extreme but finite scales: (var/n)^2 would under/overflow, df must not.
        for scale in [1e-150, 1e150] {
            let a: Vec<f64> = N5.iter().map(|x| x * scale).collect();
            let b: Vec<f64> = TIES.iter().map(|x| x * scale).collect();
            let r = welch_t_test(&a, &b).unwrap();
            assert_rel(r.df, 9.9999131181254608, &format!("df at scale {scale:e}"));
            assert_rel(
                r.p_value,
                0.57196641510964807,
                &format!("p at scale {scale:e}"),
            );
        }
    }

    #[test]
    fn fisher_matches_scipy() {
        for &(a_succ, a_n, b_succ, b_n, p) in FISHER {
            let what = format!("fisher_exact({a_succ}/{a_n} vs {b_succ}/{b_n})");
            assert_rel(fisher_exact(a_succ, a_n, b_succ, b_n).unwrap(), p, &what);
            // Swapping the rows or the columns describes the same table.
            assert_rel(fisher_exact(b_succ, b_n, a_succ, a_n).unwrap(), p, &what);
            assert_rel(
                fisher_exact(a_n - a_succ, a_n, b_n - b_succ, b_n).unwrap(),
                p,
                &what,
            );
        }
    }

    #[test]
    fn fisher_edge_cases() {
        assert_eq!(fisher_exact(0, 0, 1, 2), None);
        assert_eq!(fisher_exact(1, 2, 0, 0), None);
        assert_eq!(fisher_exact(3, 2, 1, 2), None, "more successes than trials");
        assert_eq!(fisher_exact(0, 7, 0, 9), Some(1.0), "all fail");
        assert_eq!(fisher_exact(7, 7, 9, 9), Some(1.0), "all succeed");
        assert_eq!(
            fisher_exact(u64::MAX, u64::MAX, 1, 1),
            None,
            "total overflows"
        );
        assert_eq!(
            fisher_exact(1 << 53, 1 << 53, 0, 1),
            None,
            "counts above 2^53"
        );
        // Large counts but a narrow support: fast, finite, in [0, 1].
        let p = fisher_exact(3, 1 << 40, 9, 1 << 41).unwrap();
        assert!((0.0..=1.0).contains(&p));
        // Extremely unlikely table: underflows gracefully to (almost) 0.
        let p = fisher_exact(100_000, 100_000, 0, 100_000).unwrap();
        assert!((0.0..1e-300).contains(&p));
    }

    #[test]
    fn z_test_matches_statsmodels_and_chi2() {
        let normal = Normal::standard();
        for &(a_succ, a_n, b_succ, b_n, z, p, p_chi2) in Z_TESTS {
            let what = format!("proportions_ztest([{a_succ}, {b_succ}], [{a_n}, {b_n}])");
            let (got_z, got_p) = two_proportion_z_test(a_succ, a_n, b_succ, b_n).unwrap();
            assert_rel(got_z, z, &format!("{what}.z"));
            assert_rel(got_p, p, &format!("{what}.p"));
            assert_rel(got_p, p_chi2, &format!("chi2_contingency p for {what}"));
            assert_rel(
                got_p,
                2.0 * normal.sf(got_z.abs()),
                &format!("2*Normal::sf for {what}"),
            );
        }
    }

    #[test]
    fn z_test_edge_cases() {
        assert_eq!(two_proportion_z_test(0, 0, 1, 2), None);
        assert_eq!(two_proportion_z_test(1, 2, 0, 0), None);
        assert_eq!(two_proportion_z_test(0, 5, 0, 7), None, "pooled 0");
        assert_eq!(two_proportion_z_test(5, 5, 7, 7), None, "pooled 1");
        assert_eq!(two_proportion_z_test(6, 5, 1, 7), None);
        assert_eq!(
            two_proportion_z_test(1, u64::MAX, 1, 1),
            None,
            "total overflows"
        );
        let (z, p) = two_proportion_z_test(u64::MAX / 4, u64::MAX / 2, 1, u64::MAX / 2).unwrap();
        assert!(z > 0.0 && p == 0.0);
    }

    #[test]
    fn compare_proportions_picks_fisher_for_small_counts_and_z_for_large() {
        // Small expected counts -> Fisher, with scipy's p-value.
        let r = compare_proportions(8, 10, 1, 6).unwrap();
        assert_eq!(
            (r.method, r.statistic),
            (ProportionMethod::FisherExact, None)
        );
        assert_rel(r.p_value, 0.034965034965034975, "Fisher [[8, 2], [1, 5]]");
        // Expected failures 500 * 7 / 1000 = 3.5 < 5 even with 1000 trials.
        let r = compare_proportions(498, 500, 495, 500).unwrap();
        assert_eq!(r.method, ProportionMethod::FisherExact);
        // Large expected counts -> z-test, equal to two_proportion_z_test.
        let r = compare_proportions(480, 500, 450, 500).unwrap();
        assert_eq!(r.method, ProportionMethod::ZTest);
        let (z, p) = two_proportion_z_test(480, 500, 450, 500).unwrap();
        assert_eq!((r.statistic, r.p_value), (Some(z), p));
        // Boundary: smallest expected count exactly 5 -> z-test; just below -> Fisher.
        // (rows 10 and 10; 10 successes -> all expected 5; 9 -> 4.5).
        assert_eq!(
            compare_proportions(6, 10, 4, 10).unwrap().method,
            ProportionMethod::ZTest
        );
        assert_eq!(
            compare_proportions(5, 10, 4, 10).unwrap().method,
            ProportionMethod::FisherExact
        );
        // All succeed / all fail -> Fisher with p = 1.
        for (a, b) in [(0, 0), (1000, 2000)] {
            let r = compare_proportions(a, 1000, b, 2000).unwrap();
            assert_eq!(
                (r.method, r.statistic, r.p_value),
                (ProportionMethod::FisherExact, None, 1.0)
            );
        }
        assert_eq!(compare_proportions(0, 0, 3, 5), None);
        assert_eq!(compare_proportions(3, 5, 0, 0), None);
        assert_eq!(compare_proportions(6, 5, 3, 5), None);
        assert_eq!(compare_proportions(1, u64::MAX, 1, 1), None);
    }

    #[test]
    fn proportion_test_serializes_method_in_snake_case() {
        let r = compare_proportions(8, 10, 1, 6).unwrap();
        let json = serde_json::to_value(r).unwrap();
        assert_eq!(json["method"], "fisher_exact");
        assert!(json["statistic"].is_null());
        let json = serde_json::to_value(ProportionMethod::ZTest).unwrap();
        assert_eq!(json, "z_test");
    }

    #[test]
    fn descriptive_edge_cases_return_none_without_panicking() {
        assert_eq!(mean(&[]), None);
        assert_eq!(mean(&[f64::NAN]), None);
        assert_eq!(mean(&[1.0, f64::INFINITY]), None);
        assert_eq!(mean(&[4.0]), Some(4.0));
        assert_eq!(
            mean(&[1e308, 1e308]),
            Some(1e308),
            "sum overflows, mean does not"
        );
        assert_eq!(sample_std(&[]), None);
        assert_eq!(sample_std(&[1.0]), None);
        assert_eq!(sample_std(&[2.0, 2.0, 2.0]), Some(0.0));
        assert_eq!(sample_std(&[1.0, f64::NAN]), None);
        assert_eq!(sample_std(&[1e308, -1e308]), None, "variance overflows");
    }

    #[test]
    fn quantile_edge_cases_return_none_without_panicking() {
        assert_eq!(quantile_sorted(&[], 0.5), None);
        assert_eq!(quantile(&mut [], 0.5), None);
        assert_eq!(quantiles(&mut [], &[0.5]), None);
        for q in [-0.1, 1.1, f64::NAN, f64::INFINITY] {
            assert_eq!(quantile_sorted(&[1.0, 2.0], q), None);
            assert_eq!(quantile(&mut [1.0, 2.0], q), None);
            assert_eq!(quantiles(&mut [1.0, 2.0], &[0.5, q]), None);
            assert_eq!(quantiles(&mut [1.0, 2.0, 3.0], &[0.5, 0.1, q]), None);
        }
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(quantile_sorted(&[1.0, bad], 0.5), None);
            assert_eq!(quantile(&mut [bad, 1.0], 0.5), None);
            assert_eq!(quantiles(&mut [bad, 1.0, 2.0], &[0.1, 0.2, 0.3]), None);
        }
        assert_eq!(quantile(&mut [7.0], 0.0), Some(7.0));
        assert_eq!(quantile(&mut [7.0], 1.0), Some(7.0));
        assert_eq!(quantile_sorted(&[7.0], 0.3), Some(7.0));
        assert_eq!(quantiles(&mut [1.0, 2.0], &[]), Some(vec![]));
        assert_eq!(quantile(&mut [-0.0, 0.0, -0.0], 0.5), Some(0.0));
    }

    #[test]
    fn mcnemar_matches_scipy_binomtest() {
        // scipy 1.17.1: scipy.stats.binomtest(min(b, c), b + c, 0.5).pvalue
        for (b, c, p) in [
            (0, 5, 0.0625),
            (3, 3, 1.0),
            (2, 9, 0.0654296875),
            (10, 0, 0.001953125),
            (1, 0, 1.0),
            (40, 55, 0.1505180638902294),
        ] {
            let got = mcnemar_exact(b, c).expect("discordant pairs");
            assert!((got - p).abs() < 1e-12, "b={b} c={c}: {got} vs {p}");
        }
        assert_eq!(mcnemar_exact(0, 0), None, "no discordant pairs, no test");
    }

    #[test]
    fn wilcoxon_matches_scipy_on_every_path() {
        // scipy 1.17.1: scipy.stats.wilcoxon(x, y) (zero_method="wilcox", correction=False,
        // method="auto") -> (statistic, pvalue)
        type Case = (&'static str, Vec<f64>, Vec<f64>, f64, f64, WilcoxonMethod);
        let cases: [Case; 9] = [
            (
                "ties, n=8",
                vec![1.5, 2.7, 3.1, 4.8, 5.2, 6.9, 7.4, 8.0],
                vec![1.0, 2.0, 3.5, 4.0, 6.0, 6.0, 7.0, 7.1],
                6.5,
                0.1171875,
                WilcoxonMethod::Permutation,
            ),
            (
                "ties, n=6",
                vec![10.0, 12.0, 14.0, 16.0, 18.0, 20.0],
                vec![11.0, 11.0, 12.0, 12.0, 13.0, 13.0],
                1.5,
                0.09375,
                WilcoxonMethod::Permutation,
            ),
            (
                "zero differences",
                vec![5.0, 6.0, 7.0, 8.0, 9.0],
                vec![5.0, 5.0, 8.0, 6.0, 9.0],
                1.5,
                0.75,
                WilcoxonMethod::Permutation,
            ),
            (
                "all zero",
                vec![3.0; 3],
                vec![3.0; 3],
                0.0,
                1.0,
                WilcoxonMethod::Permutation,
            ),
            ("n=1", vec![2.0], vec![1.0], 0.0, 1.0, WilcoxonMethod::Exact),
            (
                "all one way",
                vec![5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0],
                vec![1.0; 8],
                0.0,
                0.0078125,
                WilcoxonMethod::Exact,
            ),
            (
                "no ties",
                vec![0.5, 1.2, -0.3, 2.0, 1.7, -0.9, 3.1],
                vec![0.0; 7],
                4.0,
                0.109375,
                WilcoxonMethod::Exact,
            ),
            (
                "ties, n=20",
                (0..20).map(f64::from).collect(),
                (0..20)
                    .map(|i| f64::from(i + [1, -2, 0][i as usize % 3]))
                    .collect(),
                28.0,
                0.11358280636962223,
                WilcoxonMethod::Asymptotic,
            ),
            (
                "n=60",
                (0..60).map(|i| f64::from((i * 37) % 101)).collect(),
                (0..60).map(|i| f64::from((i * 53) % 97)).collect(),
                781.0,
                0.43244333496176646,
                WilcoxonMethod::Asymptotic,
            ),
        ];
        for (name, x, y, stat, p, method) in cases {
            let w = wilcoxon_signed_rank(&x, &y).expect(name);
            assert_eq!(w.method, method, "{name}");
            assert!((w.statistic - stat).abs() < 1e-9, "{name}: {w:?}");
            assert!((w.p_value - p).abs() < 1e-9, "{name}: {w:?} vs {p}");
        }
        assert_eq!(wilcoxon_signed_rank(&[], &[]), None);
        assert_eq!(wilcoxon_signed_rank(&[1.0], &[1.0, 2.0]), None);
    }
}
