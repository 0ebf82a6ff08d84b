"""Statistical validation of the exact NHPP sampler against the rate integral.

Counts are checked against their Poisson mean within four standard deviations; each such band
must also be narrow (power): its half width below a stated fraction of the mean
(:func:`theory.assert_power`).
"""

from __future__ import annotations

import datetime as dt
from itertools import pairwise

import numpy as np
from scipy import stats
from theory import assert_power

from openbank_sim.spec.profiles import builtin_profiles, expected_count, rate_pieces, sample_nhpp

START = dt.date(2026, 1, 9)  # a Friday, so the horizon covers weekday and weekend hours
REPLICATIONS = 30
P_MIN = 0.001
# Power: the largest half width of a four-sigma band, as a fraction of the Poisson mean (the
# bands follow from the design: relative half widths 0.0088, 0.04 and 0.014)
TOTAL_MAX_REL_HALF_WIDTH = 0.015
CONSTANT_PIECE_MAX_REL_HALF_WIDTH = 0.06
PIECE_MEAN_MAX_REL_HALF_WIDTH = 0.025


def test_hourly_counts_match_rate_integral():
    """Per-hour counts follow the rate integral (chi-square), checked across replications.

    Given the total N, hourly counts are multinomial with probabilities proportional to the
    rate integral per hour, so each replication's chi-square p-value is ~Uniform(0, 1); the 30
    p-values are tested against the uniform with a KS test, and the grand total against its
    Poisson mean.
    """
    base_rate = 0.02  # per second; the quietest ecommerce hour still expects > 5 arrivals
    edges, factors = rate_pieces(builtin_profiles()["ecommerce"], START, 4 * 86400)
    expected = np.array(
        [expected_count(base_rate, edges, factors, a, b) for a, b in pairwise(edges)]
    )
    assert expected.min() >= 5
    p_values, total = [], 0
    for seed in range(REPLICATIONS):
        times = sample_nhpp(np.random.default_rng([2026, seed]), base_rate, edges, factors)
        observed, _ = np.histogram(times, bins=edges)
        assert observed.sum() == times.size
        total += times.size
        f_exp = expected * (times.size / expected.sum())
        p_values.append(stats.chisquare(observed, f_exp).pvalue)
    assert stats.kstest(p_values, "uniform").pvalue > P_MIN
    mean = REPLICATIONS * expected_count(base_rate, edges, factors, 0, edges[-1])
    assert abs(total - mean) < 4 * np.sqrt(mean)
    assert_power(
        4 * np.sqrt(mean), mean, max_rel_half_width=TOTAL_MAX_REL_HALF_WIDTH, label="grand total"
    )


def test_interarrivals_in_a_constant_piece_are_exponential():
    rate = 0.5  # per second
    edges, factors = np.array([0.0, 20_000.0]), np.array([2.0])
    times = sample_nhpp(np.random.default_rng(11), rate / 2.0, edges, factors)
    gaps = np.diff(np.concatenate([[0.0], times]))
    assert stats.kstest(gaps, "expon", args=(0, 1 / rate)).pvalue > P_MIN
    assert abs(times.size - rate * 20_000) < 4 * np.sqrt(rate * 20_000)
    assert_power(
        4 * np.sqrt(rate * 20_000),
        rate * 20_000,
        max_rel_half_width=CONSTANT_PIECE_MAX_REL_HALF_WIDTH,
        label="count in the piece",
    )


def test_counts_in_one_piece_are_poisson():
    """Counts of one piece over many replications: mean and variance both equal the mean."""
    edges, factors = np.array([0.0, 10.0, 30.0]), np.array([0.5, 2.0])
    counts = np.array(
        [
            np.count_nonzero(sample_nhpp(np.random.default_rng([7, s]), 1.0, edges, factors) >= 10)
            for s in range(2000)
        ]
    )
    mu = 40.0
    assert abs(counts.mean() - mu) < 4 * np.sqrt(mu / counts.size)
    assert_power(
        4 * np.sqrt(mu / counts.size),
        mu,
        max_rel_half_width=PIECE_MEAN_MAX_REL_HALF_WIDTH,
        label="mean count",
    )
    assert abs(counts.var(ddof=1) / mu - 1) < 0.15
