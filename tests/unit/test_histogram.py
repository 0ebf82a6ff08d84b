"""Tests for openbank_sim.histogram (log-binned latency histogram, latencies in seconds)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openbank_sim.histogram import (
    DEFAULT_ALPHA,
    MAX_VALUE,
    ZERO_INDEX,
    ZERO_THRESHOLD,
    LatencyHistogram,
    bin_indices,
    max_bins,
)

ALPHA = DEFAULT_ALPHA
GAMMA = (1 + ALPHA) / (1 - ALPHA)
# The alpha guarantee plus slack for float rounding of log, pow and the bin boundaries.
REL_TOL = ALPHA * (1 + 1e-9) + 1e-12
Q_GRID = (0.0, 1e-3, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0)

PROPS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Latencies spanning 1e-4 .. 1e2 s, log-uniform-ish (lognormal-like tails come from hypothesis).
log_spread = st.floats(min_value=math.log(1e-4), max_value=math.log(1e2)).map(math.exp)
# Arbitrary floats in the accurate range (1e-9, 1e6] s.
in_range = st.floats(min_value=2e-9, max_value=MAX_VALUE, allow_nan=False, allow_infinity=False)
# Values on and next to bin boundaries, where np.log and math.log may disagree in the last bit.
boundary = st.integers(min_value=-2000, max_value=1380).flatmap(
    lambda k: st.sampled_from(
        [GAMMA**k, math.nextafter(GAMMA**k, 0.0), math.nextafter(GAMMA**k, math.inf)]
    )
)
# Anything add() accepts: zero bucket, accurate range, boundaries, above the top bin.
any_value = st.one_of(
    log_spread,
    in_range,
    boundary,
    st.sampled_from([0.0, 1e-12, ZERO_THRESHOLD, math.nextafter(ZERO_THRESHOLD, 1.0), 5e6]),
)


def hist_of(values, weights=None, alpha: float = ALPHA) -> LatencyHistogram:
    """Histogram built by repeated scalar add."""
    h = LatencyHistogram(alpha)
    if weights is None:
        for v in values:
            h.add(v)
    else:
        for v, w in zip(values, weights, strict=True):
            h.add(v, w)
    return h


def batch_of(values, weights=None, alpha: float = ALPHA) -> LatencyHistogram:
    """Histogram built by one add_many."""
    h = LatencyHistogram(alpha)
    h.add_many(np.asarray(values, dtype=float), None if weights is None else np.asarray(weights))
    return h


def scalar_index(v: float) -> int:
    """The bin LatencyHistogram.add puts ``v`` in (ZERO_INDEX for the zero bucket)."""
    indices = hist_of([v]).to_dict()["bins"]["indices"]
    return indices[0] if indices else ZERO_INDEX


def assert_quantiles_close(h: LatencyHistogram, x: np.ndarray, qs, weights=None) -> None:
    """Every estimate is within alpha of numpy's inverted-CDF quantile (1e-9 s abs near 0)."""
    est = np.asarray(h.quantiles(qs))
    exact = np.quantile(x, qs, method="inverted_cdf", weights=weights)
    for q, e, t in zip(qs, est, exact, strict=True):
        if t <= ZERO_THRESHOLD:
            assert abs(e - t) <= ZERO_THRESHOLD, (q, e, t)
        else:
            assert abs(e - t) <= REL_TOL * t, (q, e, t, abs(e / t - 1))


# ---------------------------------------------------------------------- accuracy


@PROPS
@given(st.lists(log_spread, min_size=1, max_size=300), st.lists(st.floats(0, 1), max_size=5))
def test_quantiles_within_alpha_log_spread(values, extra_qs):
    x = np.array(values)
    qs = list(Q_GRID) + extra_qs
    assert_quantiles_close(batch_of(x), x, qs)


@PROPS
@given(st.lists(in_range, min_size=1, max_size=300), st.lists(st.floats(0, 1), max_size=5))
def test_quantiles_within_alpha_arbitrary_floats(values, extra_qs):
    x = np.array(values)
    h = hist_of(values)
    qs = list(Q_GRID) + extra_qs
    assert_quantiles_close(h, x, qs)
    assert h.quantile(qs[-1]) == h.quantiles(qs)[-1]


@PROPS
@given(st.lists(any_value, min_size=1, max_size=200))
def test_quantiles_with_zero_bucket_and_boundaries(values):
    x = np.array(values)
    if x.max() > MAX_VALUE:  # values above the top bin are only accurate as the max
        x = np.minimum(x, MAX_VALUE)
    assert_quantiles_close(batch_of(x), x, Q_GRID)


def test_quantiles_large_lognormal_sample():
    rng = np.random.default_rng(7)
    x = rng.lognormal(mean=math.log(0.05), sigma=1.5, size=50_000)
    h = batch_of(x)
    qs = np.linspace(0, 1, 1001)
    assert_quantiles_close(h, x, qs)
    assert h.quantile(0.0) == x.min() and h.quantile(1.0) == x.max()


@PROPS
@given(
    st.lists(st.tuples(log_spread, st.integers(0, 40)), min_size=1, max_size=100),
)
def test_dyadic_float_weights_match_numpy_weighted_quantile(pairs):
    # Weights k/8 sum exactly in floating point, so the ranks agree exactly with numpy.
    x = np.array([v for v, _ in pairs])
    w = np.array([k / 8 for _, k in pairs])
    if w.sum() == 0:
        w[0] = 0.125
    h = batch_of(x, w)
    assert h.count == w.sum()
    assert_quantiles_close(h, x, Q_GRID, weights=w)


@PROPS
@given(
    st.lists(
        st.tuples(log_spread, st.floats(min_value=1e-3, max_value=1e3)), min_size=1, max_size=100
    ),
    st.floats(0, 1),
)
def test_arbitrary_float_weights_bracketed(pairs, q):
    # With arbitrary float weights the rank can flip at an exact tie of q*n with a partial
    # sum (summation order), so the estimate is bracketed by the quantiles just around q.
    x = np.array([v for v, _ in pairs])
    w = np.array([k for _, k in pairs])
    est = batch_of(x, w).quantile(q)
    lo = np.quantile(x, max(q - 1e-9, 0.0), method="inverted_cdf", weights=w)
    hi = np.quantile(x, min(q + 1e-9, 1.0), method="inverted_cdf", weights=w)
    assert lo * (1 - REL_TOL) <= est <= hi * (1 + REL_TOL)


def test_other_alpha_guarantee():
    rng = np.random.default_rng(3)
    x = rng.lognormal(0.0, 2.0, size=5000)
    for alpha in (0.001, 0.01, 0.05):
        h = batch_of(x, alpha=alpha)
        est = np.asarray(h.quantiles(Q_GRID))
        exact = np.quantile(x, Q_GRID, method="inverted_cdf")
        assert np.all(np.abs(est / exact - 1) <= alpha * (1 + 1e-9)), alpha


def test_representative_is_within_alpha_of_its_bin():
    for i in (-2000, -1, 0, 1, 500, 1382):
        rep = 2 * GAMMA**i / (GAMMA + 1)
        lo, hi = GAMMA ** (i - 1), GAMMA**i
        assert rep / lo - 1 <= ALPHA * (1 + 1e-12)
        assert 1 - rep / hi <= ALPHA * (1 + 1e-12)


# ---------------------------------------------------------------------- exact statistics


@PROPS
@given(st.lists(any_value, min_size=1, max_size=200))
def test_count_sum_mean_min_max_exact(values):
    x = np.array(values)
    h = hist_of(values)
    assert h.count == len(values)
    assert h.sum == pytest.approx(math.fsum(values), rel=1e-12)
    assert h.mean == pytest.approx(math.fsum(values) / len(values), rel=1e-12)
    assert h.min == x.min() and h.max == x.max()
    assert h.count == h.zero_count + sum(h.to_dict()["bins"]["counts"])


def test_empty_histogram():
    h = LatencyHistogram()
    assert h.count == 0 and h.sum == 0 and len(h) == 0
    assert math.isnan(h.mean) and math.isnan(h.min) and math.isnan(h.max)
    assert math.isnan(h.quantile(0.5)) and all(math.isnan(v) for v in h.quantiles([0, 1]))
    assert math.isnan(h.cdf(1.0))
    reps, shares = h.to_points()
    assert reps.size == 0 and shares.size == 0
    assert h == LatencyHistogram()
    assert LatencyHistogram.from_dict(json.loads(json.dumps(h.to_dict()))) == h
    h.add_many(np.array([]))
    h.add_many(np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    h.add(3.0, 0.0)
    assert h == LatencyHistogram() and math.isnan(h.min)


# ---------------------------------------------------------------------- add vs add_many


@PROPS
@given(st.lists(any_value, max_size=300))
def test_add_many_equals_repeated_add(values):
    a, b = hist_of(values), batch_of(values)
    assert a == b
    assert a.to_dict()["bins"] == b.to_dict()["bins"]  # bins exactly, not just within tolerance
    assert a.zero_count == b.zero_count and a.count == b.count


@PROPS
@given(st.lists(st.tuples(any_value, st.integers(0, 5)), max_size=200))
def test_add_many_with_weights_equals_repeated_add(pairs):
    values = [v for v, _ in pairs]
    weights = [float(w) for _, w in pairs]
    a, b = hist_of(values, weights), batch_of(values, weights)
    assert a == b
    assert a.to_dict()["bins"] == b.to_dict()["bins"]


def test_add_many_equals_add_on_every_bin_boundary():
    # Every boundary gamma**k of the range and both float neighbours: exercises the math.log
    # re-check of values whose np.log result may differ from math.log in the last bit.
    b = GAMMA ** np.arange(-2073, 1384, dtype=float)
    x = np.concatenate([b, np.nextafter(b, 0.0), np.nextafter(b, np.inf)])
    expected = np.array([scalar_index(v) for v in x.tolist()])
    assert np.array_equal(bin_indices(x), expected)
    assert hist_of(x.tolist()) == batch_of(x)


def test_bin_indices_formula_and_sentinel():
    x = np.array([0.0, 1e-12, ZERO_THRESHOLD, 2e-9, 0.001, 1.0, 1.5, 1e6, 1e9])
    idx = bin_indices(x)
    assert idx.dtype == np.int64
    assert list(idx[:3]) == [ZERO_INDEX] * 3
    lg = math.log(GAMMA)
    lo, hi = math.ceil(math.log(1e-9) / lg), math.ceil(math.log(1e6) / lg)
    assert idx[-1] == hi and idx[-2] == hi  # 1e9 clipped into the top bin
    for v, i in zip(x[3:-1], idx[3:-1], strict=True):
        assert i == min(max(math.ceil(math.log(v) / lg), lo), hi)
    assert idx[5] == 0  # log(1) = 0
    assert bin_indices(x.reshape(3, 3)).shape == (3, 3)
    assert bin_indices([]).shape == (0,)


# ---------------------------------------------------------------------- add_indices


def test_add_indices_group_by_key_matches_add_many():
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.lognormal(-3, 1, 5000), np.zeros(50)])
    keys = rng.integers(0, 4, x.size)
    idx = bin_indices(x)
    for k in range(4):
        sel = keys == k
        direct = batch_of(x[sel])
        via = LatencyHistogram()
        via.add_indices(idx[sel], value_sum=x[sel].sum(), vmin=x[sel].min(), vmax=x[sel].max())
        assert via == direct
        # Pre-aggregated distinct indices with counts as weights.
        uniq, counts = np.unique(idx[sel], return_counts=True)
        agg = LatencyHistogram()
        agg.add_indices(uniq, counts, value_sum=x[sel].sum(), vmin=x[sel].min(), vmax=x[sel].max())
        assert agg == direct


def test_add_indices_rejects_bad_input():
    h = LatencyHistogram()
    stats = {"value_sum": 1.0, "vmin": 0.5, "vmax": 0.5}
    with pytest.raises(ValueError):
        h.add_indices(np.array([max_bins() * 10]), **stats)
    with pytest.raises(ValueError):
        h.add_indices(np.array([0.5]), **stats)
    with pytest.raises(ValueError):
        h.add_indices(np.array([0, 1]), np.array([1.0]), **stats)
    with pytest.raises(ValueError):
        h.add_indices(np.array([0]), np.array([-1.0]), **stats)
    with pytest.raises(ValueError):
        h.add_indices(np.array([0]), value_sum=1.0, vmin=2.0, vmax=1.0)
    assert h == LatencyHistogram()


# ---------------------------------------------------------------------- merge, scale, weights


@PROPS
@given(st.lists(any_value, max_size=150), st.lists(any_value, max_size=150))
def test_merge_equals_histogram_of_concatenation(a_values, b_values):
    a, b = hist_of(a_values), batch_of(b_values)
    a.merge(b)
    assert a == batch_of(a_values + b_values)
    assert b == batch_of(b_values)  # other is untouched


@PROPS
@given(st.lists(any_value, min_size=1, max_size=100), st.integers(1, 5))
def test_integer_weight_equals_duplication(values, k):
    weighted = hist_of(values, [k] * len(values))
    duplicated = batch_of(np.repeat(values, k))
    assert weighted == duplicated
    assert weighted == batch_of(values).scaled(k)
    merged = LatencyHistogram()
    merged.merge(batch_of(values), weight=k)
    assert merged == duplicated


def test_weight_two_equals_adding_twice():
    a, b = LatencyHistogram(), LatencyHistogram()
    for v in (0.0, 0.003, 0.2, 7.5):
        a.add(v, 2)
        b.add(v)
        b.add(v)
    assert a == b and a.count == 8


def test_windowed_float_weight_merge():
    rng = np.random.default_rng(5)
    x1, x2 = rng.lognormal(-3, 1, 2000), rng.lognormal(-1, 0.5, 3000)
    merged = LatencyHistogram()
    merged.merge(batch_of(x1), 0.3)
    merged.merge(batch_of(x2), 0.7)
    x = np.concatenate([x1, x2])
    w = np.concatenate([np.full(x1.size, 0.3), np.full(x2.size, 0.7)])
    assert merged.count == pytest.approx(w.sum(), rel=1e-12)
    assert merged.mean == pytest.approx(np.dot(x, w) / w.sum(), rel=1e-12)
    assert merged.min == x.min() and merged.max == x.max()
    for q in Q_GRID:
        est = merged.quantile(q)
        lo = np.quantile(x, max(q - 1e-9, 0.0), method="inverted_cdf", weights=w)
        hi = np.quantile(x, min(q + 1e-9, 1.0), method="inverted_cdf", weights=w)
        assert lo * (1 - REL_TOL) <= est <= hi * (1 + REL_TOL)


def test_scaled_keeps_shape_and_zero_empties():
    h = batch_of([0.0, 0.01, 0.02, 3.0])
    s = h.scaled(2.5)
    assert s.count == 10.0 and s.sum == pytest.approx(2.5 * h.sum)
    assert s.quantiles(Q_GRID) == h.quantiles(Q_GRID) and s.mean == pytest.approx(h.mean)
    assert h.count == 4.0  # original untouched
    assert h.scaled(0.0) == LatencyHistogram()
    assert h.scaled(1.0) == h and h.copy() == h and h.copy() is not h


def test_merge_self_doubles():
    h = batch_of([0.0, 0.1, 0.2])
    h.merge(h)
    assert h == batch_of([0.0, 0.1, 0.2] * 2)


def test_merge_errors():
    h = LatencyHistogram()
    with pytest.raises(ValueError):
        h.merge(LatencyHistogram(alpha=0.01))
    with pytest.raises(ValueError):
        h.merge(LatencyHistogram(), weight=-1.0)
    with pytest.raises(ValueError):
        h.merge(LatencyHistogram(), weight=math.nan)
    with pytest.raises(TypeError):
        h.merge(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        h.scaled(-2.0)


# ---------------------------------------------------------------------- zero bucket


def test_zero_bucket():
    h = LatencyHistogram()
    for v in (0.0, 1e-12, ZERO_THRESHOLD):
        h.add(v)
    assert h.zero_count == 3 and len(h) == 0 and h.count == 3
    assert h.quantile(0.5) <= ZERO_THRESHOLD and h.quantile(0.0) == 0.0
    h.add(math.nextafter(ZERO_THRESHOLD, 1.0))
    assert h.zero_count == 3 and len(h) == 1
    h.add(0.1)
    assert h.cdf(0.0) == pytest.approx(3 / 5)
    assert h.cdf(-1.0) == 0.0 and h.cdf(math.inf) == 1.0
    reps, shares = h.to_points()
    assert reps[0] == 0.0 and shares[0] == pytest.approx(0.6)
    assert h.quantile(0.6) <= ZERO_THRESHOLD
    assert h.quantile(0.61) == pytest.approx(ZERO_THRESHOLD, rel=REL_TOL)


# ---------------------------------------------------------------------- cdf and points


@PROPS
@given(st.lists(any_value, min_size=1, max_size=200))
def test_to_points_and_cdf(values):
    h = batch_of(values)
    reps, shares = h.to_points()
    assert reps.size == len(h) + (h.zero_count > 0)
    assert np.all(np.diff(reps) > 0) and np.all(np.diff(shares) > 0)
    assert shares[-1] == 1.0
    for r, s in zip(reps, shares, strict=True):
        assert h.cdf(float(r)) == s
    # cdf(x) roughly agrees with the empirical CDF (bins move values by <= alpha), for values
    # in the accurate range (larger ones are clipped into the top bin).
    x = np.sort(np.minimum(values, MAX_VALUE))
    h = batch_of(x)
    v = float(x[len(x) // 2])
    emp_lo = np.mean(x <= v * (1 - 2 * ALPHA)) if v > ZERO_THRESHOLD else 0.0
    emp_hi = np.mean(x <= v * (1 + 2 * ALPHA) + ZERO_THRESHOLD)
    assert emp_lo - 1e-12 <= h.cdf(v) <= emp_hi + 1e-12


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize("bad", [-1.0, -1e-300, math.nan, math.inf, -math.inf])
def test_bad_values_rejected(bad):
    h = LatencyHistogram()
    with pytest.raises(ValueError):
        h.add(bad)
    with pytest.raises(ValueError):
        h.add(bad, 0.0)
    with pytest.raises(ValueError):
        h.add_many(np.array([0.1, bad]))
    with pytest.raises(ValueError):
        bin_indices(np.array([bad]))
    assert h == LatencyHistogram()


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_bad_weights_rejected(bad):
    h = LatencyHistogram()
    with pytest.raises(ValueError):
        h.add(0.1, bad)
    with pytest.raises(ValueError):
        h.add_many(np.array([0.1]), np.array([bad]))
    assert h == LatencyHistogram()


def test_other_errors():
    h = batch_of([0.1, 0.2])
    for q in (-0.01, 1.01, math.nan):
        with pytest.raises(ValueError):
            h.quantile(q)
    with pytest.raises(ValueError):
        h.quantiles([0.5, 2.0])
    with pytest.raises(ValueError):
        h.add_many(np.array([0.1, 0.2]), np.array([1.0]))
    with pytest.raises(ValueError):
        h.cdf(math.nan)
    for alpha in (0.0, 1.0, -0.1, math.nan):
        with pytest.raises(ValueError):
            LatencyHistogram(alpha)


# ---------------------------------------------------------------------- serialization


@PROPS
@given(st.lists(st.tuples(any_value, st.floats(0, 10)), max_size=100))
def test_to_dict_round_trip_exact(pairs):
    h = LatencyHistogram()
    for v, w in pairs:
        h.add(v, w)
    d = h.to_dict()
    restored = LatencyHistogram.from_dict(json.loads(json.dumps(d, allow_nan=False)))
    assert restored.to_dict() == d  # exact, floats included
    assert restored == h
    assert (restored.count, restored.sum, restored.zero_count) == (h.count, h.sum, h.zero_count)
    if h.count:
        assert restored.quantiles(Q_GRID) == h.quantiles(Q_GRID)


def test_to_dict_layout():
    d = batch_of([0.0, 1.0, 1.0, 2.0]).to_dict()
    assert set(d) == {"alpha", "count", "sum", "min", "max", "zero", "bins"}
    assert d["bins"]["indices"] == sorted(d["bins"]["indices"])
    assert d["zero"] == 1.0 and d["count"] == 4.0 and d["min"] == 0.0 and d["max"] == 2.0
    assert LatencyHistogram().to_dict()["min"] is None


@pytest.mark.parametrize(
    "change",
    [
        {"alpha": 2.0},
        {"count": -1.0},
        {"min": None},
        {"min": 3.0, "max": 1.0},
        {"bins": {"indices": [0, 0], "counts": [1.0, 1.0]}},
        {"bins": {"indices": [0], "counts": [1.0, 2.0]}},
        {"bins": {"indices": [10**6], "counts": [1.0]}},
        {"bins": {"indices": [0.5], "counts": [1.0]}},
        {"bins": {"indices": [0], "counts": [-1.0]}},
        {"bins": None},
    ],
)
def test_from_dict_rejects_bad_input(change):
    d = {**batch_of([0.5, 1.0]).to_dict(), **change}
    with pytest.raises(ValueError):
        LatencyHistogram.from_dict(d)


def test_from_dict_missing_key():
    d = batch_of([0.5]).to_dict()
    del d["sum"]
    with pytest.raises(ValueError):
        LatencyHistogram.from_dict(d)


# ---------------------------------------------------------------------- memory bound


def test_max_bins_matches_documented_bound():
    assert max_bins() == 3455
    for alpha in (0.001, 0.005, 0.01, 0.02, 0.1):
        gamma = (1 + alpha) / (1 - alpha)
        assert max_bins(alpha) <= math.ceil(math.log(1e15) / math.log(gamma)) + 1


def test_memory_bound_over_full_range():
    rng = np.random.default_rng(1)
    x = np.exp(rng.uniform(math.log(1e-12), math.log(1e9), size=1_000_000))
    h = LatencyHistogram()
    h.add_many(x)
    assert len(h) <= max_bins()
    assert len(h) == max_bins()  # every bin of the range is occupied here
    h.add_many(x * 3.7)
    h.add(1e12)
    assert len(h) <= max_bins()
    assert h.count == 2_000_001 and h.max == 1e12


def test_equality_semantics():
    a = batch_of([0.1, 0.2])
    assert a != batch_of([0.1, 0.3])
    assert a != batch_of([0.1, 0.2], alpha=0.01)
    assert a != batch_of([0.1, 0.2, 0.2])
    assert (a == "x") is False
    with pytest.raises(TypeError):
        hash(a)
    assert "LatencyHistogram(" in repr(a)
