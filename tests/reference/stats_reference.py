#!/usr/bin/env python3
"""Reference values for the unit tests in src/stats.rs.

Prints, for fixed data sets defined below, the values computed by numpy,
scipy and statsmodels, each line naming the exact call that produced it.
The numbers are printed with format(x, ".17g") (round-trip exact) and are
embedded in the `#[cfg(test)] mod tests` of src/stats.rs.

Usage:
    pip install scipy numpy statsmodels
    python3 tests/reference/stats_reference.py

Values embedded in src/stats.rs were produced with numpy 2.4.6,
scipy 1.17.1, statsmodels 0.15.0 (Python 3.11).
"""

import fractions
import math
import warnings

import numpy
import scipy
import scipy.stats
import statsmodels
from statsmodels.stats.proportion import proportions_ztest


def g(x):
    """Full-precision float, written so it is also a valid Rust f64 literal."""
    s = format(float(x), ".17g")
    if s in ("nan", "inf", "-inf"):
        return s
    if "." not in s and "e" not in s:
        s += ".0"
    return s


# --------------------------------------------------------------------------
# Data sets (mirrored exactly in src/stats.rs tests)
# --------------------------------------------------------------------------

N2 = [1.0, 2.0]
N3 = [3.0, 1.0, 2.0]
N5 = [2.5, 0.5, 4.0, 1.5, 3.0]
TIES = [1.0, 2.0, 2.0, 2.0, 3.0, 3.0, 7.0]

# ~40 latency-like values in milliseconds (right-skewed, a few outliers).
LAT_A = [
    12.1, 11.8, 13.4, 12.9, 12.2, 14.8, 11.9, 12.5, 12.7, 13.1,
    12.0, 12.3, 25.6, 12.6, 12.4, 13.0, 11.7, 12.8, 12.2, 13.3,
    12.9, 12.1, 18.2, 12.5, 12.6, 11.9, 12.4, 13.7, 12.3, 12.0,
    12.8, 12.5, 40.3, 12.2, 12.7, 12.4, 13.2, 12.1, 12.6, 12.9,
]
LAT_B = [
    12.9, 12.6, 14.1, 13.5, 12.8, 15.9, 12.7, 13.2, 13.3, 13.8,
    12.7, 13.0, 21.4, 13.1, 13.0, 13.9, 12.4, 13.6, 12.9, 14.2,
    13.4, 12.8, 19.7, 13.2, 13.3, 12.5, 13.1, 14.6, 13.0, 12.7,
    13.5, 13.3, 33.8, 12.9, 13.4, 13.1, 14.0, 12.8, 13.3, 13.6,
    13.2, 12.9,
]

# Two tight, well-separated groups: p-value far below 1e-10.
TIGHT_A = [10.0, 10.2, 9.9, 10.1, 10.05, 9.95, 10.15, 9.85, 10.0, 10.1]
TIGHT_B = [10.9, 11.15, 10.8, 11.0, 10.95, 10.85, 11.1, 10.75, 10.9, 11.05, 10.95, 11.0]

# One group with zero variance (Welch df then equals n_other - 1).
CONST_A = [5.0, 5.0, 5.0, 5.0]
VAR_B = [4.0, 6.5, 5.5, 7.0, 6.0]


def big_a(n):
    """Deterministic large data set: exact integer arithmetic then one division."""
    return [((i * 7919 + 13) % 1009) / 100.0 + 50.0 for i in range(n)]


def big_b(n):
    return [((i * 104729 + 7) % 997) / 100.0 + 50.3 for i in range(n)]


def huge_a(n):
    return [((i * 7919) % 10007) / 1000.0 for i in range(n)]


def huge_b(n):
    return [((i * 6007 + 3) % 10009) / 1000.0 + 0.01 for i in range(n)]


# Sums that cancel across magnitudes, and finite values whose sum overflows.
CANCEL = [1e16, 1.0, -1e16, 0.1, 1e-3, -0.1, 3.0e300, 1.5, -3.0e300, 2.0**-60]
BIGS = [1.7e308, 1.7e308, -1.0e308, 5.5]

BIG_A = big_a(3000)
BIG_B = big_b(2500)
HUGE_A = huge_a(200000)
HUGE_B = huge_b(150000)

DATASETS = [
    ("N2", N2),
    ("N3", N3),
    ("N5", N5),
    ("TIES", TIES),
    ("LAT_A", LAT_A),
    ("LAT_B", LAT_B),
    ("BIG_A", BIG_A),
]

QS = [0.0, 0.01, 0.1, 0.25, 0.333, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0]

TTESTS = [
    ("N2", N2, "N3", N3),
    ("N3", N3, "N5", N5),
    ("N5", N5, "TIES", TIES),
    ("LAT_A", LAT_A, "LAT_B", LAT_B),
    ("TIGHT_A", TIGHT_A, "TIGHT_B", TIGHT_B),
    ("CONST_A", CONST_A, "VAR_B", VAR_B),
    ("BIG_A", BIG_A, "BIG_B", BIG_B),
    ("HUGE_A", HUGE_A, "HUGE_B", HUGE_B),
]

FISHER_TABLES = [
    [[3, 1], [1, 3]],
    [[0, 5], [5, 0]],
    [[8, 2], [1, 5]],
    [[1, 9], [11, 3]],
    [[480, 20], [450, 50]],
    [[5, 5], [5, 5]],
    [[2, 7], [8, 2]],
    [[0, 10], [3, 7]],
    [[10, 0], [10, 0]],
    [[12, 5], [7, 14]],
    [[49500, 500], [49400, 600]],
    [[495000, 5000], [494500, 5500]],
]

# (a_succ, a_n, b_succ, b_n)
ZTESTS = [
    (480, 500, 450, 500),
    (45, 100, 30, 100),
    (1200, 10000, 1100, 10000),
    (30, 60, 45, 70),
    (500, 1000, 500, 1000),
    (9000, 10000, 8000, 10000),
]


def main():
    # scipy warns about "catastrophic cancellation" for the zero-variance
    # group CONST_A; the result is still exact there, so keep stderr clean.
    warnings.filterwarnings("ignore", message="Precision loss occurred")
    print(f"# numpy {numpy.__version__}, scipy {scipy.__version__}, "
          f"statsmodels {statsmodels.__version__}")

    print("\n## exact sums (ExactSum): math.fsum, and the exact mean of BIGS")
    for name, xs in [("LAT_A", LAT_A), ("HUGE_A", HUGE_A), ("CANCEL", CANCEL)]:
        print(f"math.fsum({name}) = {g(math.fsum(xs))}")
    # math.fsum(BIGS) raises OverflowError (an intermediate sum overflows); the mean does not.
    exact = sum(fractions.Fraction(x) for x in BIGS) / len(BIGS)
    print(f"float(sum(Fraction(x) for x in BIGS) / 4) = {g(float(exact))}")

    print("\n## mean / sample std")
    for name, xs in DATASETS:
        x = numpy.asarray(xs, dtype=float)
        print(f"numpy.mean({name}) = {g(numpy.mean(x))}")
        print(f"numpy.std({name}, ddof=1) = {g(numpy.std(x, ddof=1))}")

    print("\n## quantiles: numpy.quantile(x, q, method='linear') (Hyndman-Fan type 7)")
    for name, xs in DATASETS:
        x = numpy.asarray(xs, dtype=float)
        vals = [numpy.quantile(x, q, method="linear") for q in QS]
        print(f"numpy.quantile({name}, {QS}, method='linear') = "
              f"[{', '.join(g(v) for v in vals)}]")
        print(f"numpy.percentile({name}, 95) = {g(numpy.percentile(x, 95))}")

    print("\n## Welch t-test: scipy.stats.ttest_ind(a, b, equal_var=False)")
    for an, a, bn, b in TTESTS:
        r = scipy.stats.ttest_ind(numpy.asarray(a), numpy.asarray(b), equal_var=False)
        print(f"scipy.stats.ttest_ind({an}, {bn}, equal_var=False) = "
              f"(statistic={g(r.statistic)}, df={g(r.df)}, pvalue={g(r.pvalue)})")

    print("\n## Fisher exact: scipy.stats.fisher_exact(table, alternative='two-sided')")
    for t in FISHER_TABLES:
        r = scipy.stats.fisher_exact(t, alternative="two-sided")
        print(f"scipy.stats.fisher_exact({t}, alternative='two-sided').pvalue = {g(r.pvalue)}")

    print("\n## Two-proportion z-test: statsmodels.stats.proportion.proportions_ztest"
          "([a_succ, b_succ], [a_n, b_n]) and scipy.stats.chi2_contingency(table, correction=False)")
    for a_s, a_n, b_s, b_n in ZTESTS:
        z, p = proportions_ztest([a_s, b_s], [a_n, b_n])
        table = [[a_s, a_n - a_s], [b_s, b_n - b_s]]
        chi = scipy.stats.chi2_contingency(table, correction=False)
        print(f"proportions_ztest([{a_s}, {b_s}], [{a_n}, {b_n}]) = (z={g(z)}, p={g(p)}); "
              f"scipy.stats.chi2_contingency({table}, correction=False).pvalue = {g(chi.pvalue)}")

    print("\n## McNemar's exact test: scipy.stats.binomtest(min(b, c), b + c, 0.5).pvalue")
    for b, c in MCNEMAR:
        print(f"binomtest({min(b, c)}, {b + c}, 0.5).pvalue = {g(scipy.stats.binomtest(min(b, c), b + c, 0.5).pvalue)}")

    print("\n## Wilcoxon signed-rank: scipy.stats.wilcoxon(x, y) with its defaults")
    for name, x, y in WILCOXON:
        r = scipy.stats.wilcoxon(x, y)
        print(f"{name}: wilcoxon(x, y) = (statistic={g(r.statistic)}, pvalue={g(r.pvalue)})")


MCNEMAR = [(0, 5), (3, 3), (2, 9), (10, 0), (1, 0), (40, 55)]
WILCOXON = [
    ("ties, n=8", [1.5, 2.7, 3.1, 4.8, 5.2, 6.9, 7.4, 8.0], [1.0, 2.0, 3.5, 4.0, 6.0, 6.0, 7.0, 7.1]),
    ("ties, n=6", [10, 12, 14, 16, 18, 20], [11, 11, 12, 12, 13, 13]),
    ("zero differences", [5, 6, 7, 8, 9], [5, 5, 8, 6, 9]),
    ("all zero", [3, 3, 3], [3, 3, 3]),
    ("n=1", [2.0], [1.0]),
    ("all one way", [5, 6, 7, 8, 9, 10, 11, 12], [1] * 8),
    ("no ties", [0.5, 1.2, -0.3, 2.0, 1.7, -0.9, 3.1], [0.0] * 7),
    ("ties, n=20", list(range(20)), [i + (1 if i % 3 == 0 else (-2 if i % 3 == 1 else 0)) for i in range(20)]),
    ("n=60", [(i * 37) % 101 for i in range(60)], [(i * 53) % 97 for i in range(60)]),
]


if __name__ == "__main__":
    main()
