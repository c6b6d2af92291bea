#!/usr/bin/env python3
"""Reference values for the end-to-end metric tests in tests/cli/runs.rs.

Two fixed data sets of runs (the same numbers are hard-coded in tests/cli/runs.rs,
functions `reference_*`) and the figures `ptrack performance --json` and
`ptrack compare NAME 1.0 1.1 --json` must report for them, each printed with the exact
numpy/scipy call that produced it (repr(x): the shortest text that round-trips).

  * prompt `ref`:   version 1.0 has 25 runs, 1.1 has 30; every expected cell count of the
                    success table is >= 5, so ptrack uses the pooled two-proportion z-test,
                    whose p-value equals scipy.stats.chi2_contingency(table, correction=False).
  * prompt `small`: version 1.0 has 8 runs, 1.1 has 10; an expected failure count is below 5,
                    so ptrack uses Fisher's exact test (scipy.stats.fisher_exact).

Each run is (execution_time_ms, success, quality_score or None, token_count or None).
Quality is the score after ratings: in the Rust test one run of `ref` 1.1 is logged with
quality 2 and then rated 9, and one line of `ref` 1.0 is duplicated; the figures here use
the rated score and count the duplicated run once.

Usage:
    pip install numpy scipy
    python3 tests/reference/metrics_reference.py

Values embedded in tests/cli/runs.rs were produced with numpy 2.4.6, scipy 1.17.1
(Python 3.11).
"""

import math

import numpy
import scipy
import scipy.stats

# --------------------------------------------------------------------------
# Data sets (mirrored exactly in tests/cli/runs.rs)
# --------------------------------------------------------------------------

T, F = True, False

REF_A = [  # ref 1.0: 25 runs, 16 successes, 14 rated
    (812.5, T, 7, 210), (640.0, T, None, 180), (1203.25, F, None, None), (955.0, T, 8, 230),
    (701.75, T, 6, 190), (1500.0, F, 2, None), (880.0, T, None, 205), (923.5, T, 7, 220),
    (610.25, T, None, 175), (2890.0, F, None, None), (745.0, T, 9, 200), (1010.0, F, 3, 240),
    (830.5, T, None, 215), (990.0, T, 7.5, 225), (1120.75, F, None, None), (700.0, T, 6, 185),
    (655.5, T, None, 180), (1780.0, F, 4, None), (905.0, T, 8, 212), (860.25, F, None, 208),
    (1340.0, T, 5, 260), (770.0, F, None, None), (815.0, T, 7, 199), (1999.5, F, None, None),
    (1025.0, T, 6, 230),
]

REF_B = [  # ref 1.1: 30 runs, 26 successes, 15 rated
    (720.0, T, 8, 190), (590.5, T, None, 170), (640.25, T, 9, 182), (810.0, T, None, 201),
    (555.0, F, None, None), (699.5, T, 8, 188), (1450.0, T, 6, 240), (610.0, T, None, 175),
    (580.75, T, 9, 171), (730.0, T, None, 195), (665.0, T, 7, 186), (2210.0, F, 3, None),
    (600.5, T, None, 178), (690.0, T, 8, 190), (720.25, T, None, 192), (575.0, T, 9, 169),
    (845.5, T, None, 205), (630.0, T, 7, 180), (710.0, T, None, 191), (598.0, T, 8, 176),
    (655.25, T, None, 183), (1180.0, F, 9, None), (620.0, T, None, 179), (700.75, T, 8, 190),
    (560.0, T, None, 168), (640.0, T, 7, 181), (690.5, T, None, 189), (1020.0, F, None, None),
    (605.25, T, 9, 177), (668.0, T, None, 185),
]

SMALL_A = [  # small 1.0: 8 runs, 5 successes, 5 rated
    (300.0, T, 6, 50), (420.5, F, 3, None), (380.0, T, 7, 55), (295.25, T, None, 48),
    (510.0, F, None, None), (330.0, T, 5, 52), (610.75, F, 4, None), (345.0, T, None, 51),
]

SMALL_B = [  # small 1.1: 10 runs, 9 successes, 6 rated
    (280.0, T, 8, 47), (265.5, T, None, 46), (301.0, T, 9, 49), (250.0, T, 8, 45),
    (890.0, F, None, None), (270.25, T, 7, 46), (288.0, T, None, 48), (259.75, T, 9, 44),
    (310.0, T, 8, 50), (275.0, T, None, 47),
]


def g(x):
    """Full-precision float, written so it is also a valid Rust f64 literal."""
    s = repr(float(x))
    if "." not in s and "e" not in s and s not in ("nan", "inf", "-inf"):
        s += ".0"
    return s


def times(runs):
    return numpy.asarray([r[0] for r in runs], dtype=float)


def quality(runs):
    return numpy.asarray([r[2] for r in runs if r[2] is not None], dtype=float)


def tokens(runs):
    return numpy.asarray([r[3] for r in runs if r[3] is not None], dtype=float)


def successes(runs):
    return sum(1 for r in runs if r[1])


def version_figures(label, runs):
    x = times(runs)
    q = quality(runs)
    tok = tokens(runs)
    print(f"### {label}")
    print(f"len({label}) = {len(runs)}")
    print(f"successes / runs = {successes(runs)} / {len(runs)} = {g(successes(runs) / len(runs))}")
    print(f"numpy.mean(times) = {g(numpy.mean(x))}")
    p50, p95, p99 = numpy.percentile(x, [50, 95, 99])  # method='linear' (the default)
    print(f"numpy.percentile(times, [50, 95, 99]) = [{g(p50)}, {g(p95)}, {g(p99)}]")
    print(f"numpy.min(times), numpy.max(times) = {g(numpy.min(x))}, {g(numpy.max(x))}")
    print(f"numpy.mean(quality) = {g(numpy.mean(q))} (n={len(q)})")
    print(f"numpy.mean(tokens) = {g(numpy.mean(tok))}, numpy.sum(tokens) = {int(numpy.sum(tok))}")


def comparison_figures(name, a, b):
    """b against a, as `ptrack compare NAME 1.0 1.1` (a = 1.0, b = 1.1)."""
    print(f"### compare {name} 1.0 1.1")
    sa, na, sb, nb = successes(a), len(a), successes(b), len(b)
    print(f"success_delta_pts = 100 * ({sb}/{nb} - {sa}/{na}) = {g(100 * (sb / nb - sa / na))}")
    table = [[sb, nb - sb], [sa, na - sa]]  # b first: compare tests b vs a
    expected = scipy.stats.contingency.expected_freq(table)
    print(f"success table (b, a) = {table}; "
          f"scipy.stats.contingency.expected_freq(table).min() = {g(expected.min())}")
    if expected.min() < 5:
        r = scipy.stats.fisher_exact(table, alternative="two-sided")
        print(f"method = fisher_exact; scipy.stats.fisher_exact({table}, "
              f"alternative='two-sided').pvalue = {g(r.pvalue)}")
    else:
        chi = scipy.stats.chi2_contingency(table, correction=False)
        # The pooled z statistic (b - a); its square is the chi-square statistic.
        pooled = (sa + sb) / (na + nb)
        z = (sb / nb - sa / na) / math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
        print(f"method = z_test; scipy.stats.chi2_contingency({table}, "
              f"correction=False).pvalue = {g(chi.pvalue)}")
        print(f"z = (p_b - p_a) / sqrt(p(1-p)(1/n_a + 1/n_b)) = {g(z)}; "
              f"z**2 = {g(z * z)}; chi2_contingency(...).statistic = {g(chi.statistic)}")
    tb, ta = times(b), times(a)
    print(f"p50_delta_ms = numpy.percentile(b, 50) - numpy.percentile(a, 50) = "
          f"{g(numpy.percentile(tb, 50) - numpy.percentile(ta, 50))}")
    print(f"mean_time_delta_ms = numpy.mean(b) - numpy.mean(a) = "
          f"{g(numpy.mean(tb) - numpy.mean(ta))}")
    r = scipy.stats.ttest_ind(tb, ta, equal_var=False)
    print(f"scipy.stats.ttest_ind(times_b, times_a, equal_var=False) = "
          f"(statistic={g(r.statistic)}, df={g(r.df)}, pvalue={g(r.pvalue)})")
    qb, qa = quality(b), quality(a)
    print(f"quality_delta = numpy.mean(quality_b) - numpy.mean(quality_a) = "
          f"{g(numpy.mean(qb) - numpy.mean(qa))}")
    r = scipy.stats.ttest_ind(qb, qa, equal_var=False)
    print(f"scipy.stats.ttest_ind(quality_b, quality_a, equal_var=False) = "
          f"(statistic={g(r.statistic)}, df={g(r.df)}, pvalue={g(r.pvalue)})")


def main():
    print(f"# numpy {numpy.__version__}, scipy {scipy.__version__}")
    for name, a, b in [("ref", REF_A, REF_B), ("small", SMALL_A, SMALL_B)]:
        print(f"\n## {name}")
        version_figures(f"{name} 1.0", a)
        version_figures(f"{name} 1.1", b)
        version_figures(f"{name} all", a + b)
        comparison_figures(name, a, b)


if __name__ == "__main__":
    main()
