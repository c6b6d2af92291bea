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

/// Sample standard deviation (ddof=1); None when n < 2.
///
/// Also `None` when any value is NaN or infinite or the variance overflows.
/// Constant data gives `Some(0.0)`. Equals `numpy.std(x, ddof=1)`.
pub fn sample_std(xs: &[f64]) -> Option<f64> {
    mean_and_sample_var(xs).map(|(_, var)| var.sqrt())
}

/// Quantile of already-sorted data by linear interpolation between closest ranks (numpy default, Hyndman-Fan type 7). q in [0,1]. None for empty.
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

/// Result of [`welch_t_test`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TTest {
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
        statistic,
        df,
        p_value,
    })
}

/// Which test [`compare_proportions`] used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProportionMethod {
    /// Fisher's exact test (small expected counts); there is no statistic.
    FisherExact,
    /// Pooled two-proportion z-test; the statistic is z.
    ZTest,
}

/// Result of [`compare_proportions`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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

/// Pooled two-proportion z-test, two-sided; equals statsmodels proportions_ztest([a_succ,b_succ],[a_n,b_n]) and the p-value of scipy.stats.chi2_contingency(table, correction=False). Returns (z, p). None when a_n or b_n is 0 or pooled p is 0 or 1.
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
    if a >= 15.0 && b <= 1.0 {
        if let Some(value) = incomplete_beta_large_a(a, b, x, y) {
            return Some(value);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder() {
        assert_eq!(mean(&[1.0, 2.0]), Some(1.5));
    }
}
