"""Single-run intervals by batch means (``openbank_sim.analysis.intervals``, ``Results.interval``)."""

from __future__ import annotations

import math
import tomllib
import warnings

import numpy as np
import pytest
from minimal_scenario import minimal_toml
from scipy import stats

from openbank_sim import Results, Scenario, simulate
from openbank_sim.analysis import intervals
from openbank_sim.analysis.intervals import (
    INTERVAL_KPIS,
    BatchCorrelationWarning,
    batch_means,
)

# M/M/4 at offered load 2 (5 sessions/s x 0.4 s), 1 h after a 5-minute warm-up, 1-minute bins
RUN = minimal_toml(
    ('mean = "100ms"', 'mean = "400ms"'),
    ("users = 1000", "users = 86400"),
    ("sessions_per_user_day = 2.0", "sessions_per_user_day = 5.0"),
    prepend='[run]\nhorizon = "65m"\nwarmup = "5m"\ntime_bin = "1m"\n\n',
)


@pytest.fixture(scope="module")
def run() -> Results:
    return simulate(Scenario(tomllib.loads(RUN)), 5)


def test_equal_denominators_give_the_classical_interval() -> None:
    """With equal denominators the interval is mean +- t s / sqrt(k) of the batch means."""
    rng = np.random.default_rng(2)
    x = rng.normal(3.0, 1.0, size=400)
    out = batch_means(x, np.ones(400), level=0.9, batches=20)
    z = x.reshape(20, 20).mean(axis=1)
    half = stats.t.ppf(0.95, 19) * z.std(ddof=1) / math.sqrt(20)
    assert out.estimate == pytest.approx(x.mean(), rel=1e-12)
    assert out.low == pytest.approx(z.mean() - half, rel=1e-9)
    assert out.high == pytest.approx(z.mean() + half, rel=1e-9)
    assert (out.batches, out.bins, out.level, out.method) == (20, 400, 0.9, "batch means")


def test_ratio_estimate_is_the_ratio_of_sums() -> None:
    """Unequal denominators: the estimate is sum N / sum D, not the mean of the ratios."""
    num = np.array([1.0, 2.0, 10.0, 4.0] * 10)
    den = np.array([1.0, 1.0, 4.0, 2.0] * 10)
    out = batch_means(num, den, batches=10)
    assert out.estimate == pytest.approx(num.sum() / den.sum())
    assert out.half_width == pytest.approx(0.0, abs=1e-12)  # every batch has the same ratio


def test_correlated_batches_are_flagged() -> None:
    """A random walk's batch means are strongly correlated: flagged; iid ones are not."""
    rng = np.random.default_rng(4)
    walk = np.cumsum(rng.normal(size=2000))
    assert not batch_means(walk, np.ones(2000)).uncorrelated
    assert batch_means(rng.normal(size=2000), np.ones(2000)).uncorrelated


def test_too_few_bins_is_an_error() -> None:
    with pytest.raises(ValueError, match="fewer than the 20 batches"):
        batch_means(np.ones(12), np.ones(12))


def test_estimates_are_the_kpis(run: Results) -> None:
    """Each supported KPI's interval is centred on the KPI itself (success rate 1 here: a
    zero-width interval)."""
    for kpi in INTERVAL_KPIS:
        iv = run.interval(kpi)
        assert iv.estimate == pytest.approx(run.kpis[kpi], rel=1e-12), kpi
        assert iv.low <= run.kpis[kpi] <= iv.high, kpi
        assert iv.bins == 60 and iv.batches == 20


def test_wait_table_adds_up_to_the_pool(run: Results) -> None:
    """``timeseries_wait`` sums to ``by_pool``'s admitted attempts and mean wait."""
    w = run.tables["timeseries_wait"]
    pool = run.tables["by_pool"].set_index("pool").loc["core"]
    assert w["admitted"].sum() == pool["admitted"]
    assert w["wait_sum_s"].sum() / w["admitted"].sum() == pytest.approx(pool["wait_mean_s"])
    assert (w["t_start_s"] >= run.manifest["warmup_s"]).all()


def test_unsupported_kpi_lists_the_supported(run: Results) -> None:
    with pytest.raises(ValueError) as err:
        run.interval("latency_p95_s")
    for kpi in INTERVAL_KPIS:
        assert kpi in str(err.value)


def test_interval_after_save_and_load(run: Results, tmp_path) -> None:
    """A saved run gives the same intervals when loaded back."""
    loaded = Results.load(run.save(tmp_path / "r"))
    for kpi in INTERVAL_KPIS:
        a, b = run.interval(kpi), loaded.interval(kpi)
        assert (b.low, b.high) == pytest.approx((a.low, a.high), rel=1e-12)


def test_correlated_run_warns(run: Results) -> None:
    """Too few batches for the queue's memory: M/M/1 at rho 0.95 in bins of 10 s, 20 batches
    of 30 s each, against a relaxation time of about 30 minutes."""
    slow = minimal_toml(
        ("servers = 4", "servers = 1"),
        ('mean = "100ms"', 'mean = "1s"'),
        ("users = 1000", "users = 82080"),  # 0.95 per second
        ("sessions_per_user_day = 2.0", "sessions_per_user_day = 1.0"),
        prepend='[run]\nhorizon = "10m"\ntime_bin = "10s"\n\n',
    )
    res = simulate(Scenario(tomllib.loads(slow)), 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        iv = res.interval("backend_wait_mean_s")
    assert not iv.uncorrelated
    assert any(issubclass(w.category, BatchCorrelationWarning) for w in caught)


def test_a_share_interval_stays_in_0_1() -> None:
    """A success rate near 1 whose raw batch-means interval would pass 1 is clipped to it,
    its estimate and lower end untouched."""
    rare = simulate(
        Scenario(tomllib.loads(RUN)).with_overrides({"bank.products.pay.error_rate": 5e-05}), 5
    )
    num, den = intervals.bin_sums(rare, "success_rate")
    raw = batch_means(num, den, kpi="success_rate")
    assert raw.high > 1.0  # the unclipped interval leaves the range
    got = rare.interval("success_rate")
    assert got.high == 1.0 and got.low == raw.low and got.estimate == raw.estimate
