#!/usr/bin/env python3
"""Reference values for the unit tests of the experiment analysis (src/experiment.rs).

Each line names the call that produced the value; the values are embedded in
`mod tests` of src/experiment.rs.

Usage:
    pip install scipy statsmodels
    python3 tests/reference/experiment_reference.py

Values embedded were produced with scipy 1.17.1 and statsmodels 0.15.0 (Python 3.11).
"""

import hashlib

import scipy.stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_confint, proportion_effectsize


def g(x):
    return format(float(x), ".17g")


# Sample-ratio mismatch: units per variant against 90/10 and 50/30/20 weights.
for obs, shares in [([9000, 1000], [0.9, 0.1]), ([8840, 1160], [0.9, 0.1]), ([510, 290, 200], [0.5, 0.3, 0.2])]:
    total = sum(obs)
    r = scipy.stats.chisquare(obs, f_exp=[s * total for s in shares])
    print(f"scipy.stats.chisquare({obs}, f_exp={shares}*{total}): chi2={g(r.statistic)} p={g(r.pvalue)}")

# Sample size per group for a rate change p1 -> p2 (two-sided, alpha, power 0.8, equal groups).
for p1, p2, alpha in [(0.80, 0.85, 0.05), (0.5, 0.55, 0.05), (0.9, 0.95, 0.025)]:
    h = proportion_effectsize(p2, p1)
    n = NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=0.8, ratio=1.0)
    print(f"NormalIndPower().solve_power(proportion_effectsize({p2}, {p1}), alpha={alpha}, power=0.8, ratio=1): {g(n)}")

# Sample size per group for a mean change delta with sd (Cohen's d = delta / sd).
for sd, delta in [(2.0, 0.5), (120.0, 30.0)]:
    n = NormalIndPower().solve_power(effect_size=delta / sd, alpha=0.05, power=0.8, ratio=1.0)
    print(f"NormalIndPower().solve_power({delta}/{sd}, alpha=0.05, power=0.8, ratio=1): {g(n)}")

# Wilson interval.
for k, n in [(42, 50), (0, 10), (990, 1000)]:
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    print(f"proportion_confint({k}, {n}, alpha=0.05, method='wilson'): {g(lo)} {g(hi)}")

# Student's t interval of a mean.
xs = [7.0, 8.0, 6.0, 9.0, 7.0, 8.0, 5.0]
m = sum(xs) / len(xs)
lo, hi = scipy.stats.t.interval(0.95, len(xs) - 1, loc=m, scale=scipy.stats.sem(xs))
print(f"scipy.stats.t.interval(0.95, 6, loc=mean(xs), scale=sem(xs)) for {xs}: {g(lo)} {g(hi)}")

# Buckets (README test vector).
for u in ["user-1", "user-2", "user-3", "alice@example.com", ""]:
    b = int.from_bytes(hashlib.sha256(("brief_answers\n" + u).encode()).digest()[:8], "big") % 10000
    print(f"bucket('brief_answers', {u!r}) = {b}")
