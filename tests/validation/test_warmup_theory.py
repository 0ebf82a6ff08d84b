"""Automatic warm-up and single-run intervals against queueing theory (M/M/1, Erlang C).

* Started empty, an M/M/1 queue at rho 0.9 waits less than Erlang C's Wq = rho / (mu - lam) =
  9 s until it has filled: without a warm-up a short run's mean wait is visibly biased low.
* Started empty and overloaded for its first 10 minutes (1.5 times the load: rho 1.35), the
  queue gains about 0.35 x 600 = 210 attempts and drains at mu - lam = 0.1 per second: the
  transient ends about 10 + 35 = 45 minutes in (the fluid approximation). Without a warm-up
  the mean wait is far above Wq; with ``run.warmup = "auto"`` MSER-5 truncates after the
  transient and the replications' interval covers Wq.
* Batch means (``Results.interval``) on an M/M/1 at rho 0.5: the 95 % interval of one run
  covers Wq = 1 s in 90 % to 98 % of independent runs.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from theory import assert_covers, mmc_wq_s, single_pool_scenario, t_interval

from openbank_sim import Scenario, simulate

MEAN_SERVICE_S = 1.0


def _mm1(rho: float, horizon: str, warmup: str, time_bin: str, step: bool = False) -> Scenario:
    """M/M/1 at ``rho`` (Poisson arrivals, exponential service of 1 s), started empty; with
    ``step`` the first 10 minutes carry 1.5 times the load."""
    raw: dict[str, Any] = single_pool_scenario(
        {"servers": 1}, rho / MEAN_SERVICE_S, MEAN_SERVICE_S, horizon, warmup
    ).as_dict()
    raw["run"]["time_bin"] = time_bin
    if step:
        raw["profiles"] = {
            "step": {"events": [{"date": "01-05", "factor": 1.5, "duration": "10m"}]}
        }
        raw["partners"][0]["profile"] = "step"
    return Scenario(raw)


WQ_09 = mmc_wq_s(1, 0.9, MEAN_SERVICE_S)  # 9 s


def test_empty_start_biases_a_short_run_without_warmup() -> None:
    """200 runs of 5 minutes from empty at rho 0.9, no warm-up: the 99 % interval of the mean
    wait lies below Erlang C's 9 s (seen: 6.85 [5.92, 7.78])."""
    runs = [simulate(_mm1(0.9, "5m", "0s", "1m"), seed=300 + r) for r in range(200)]
    waits = t_interval([r.kpis["backend_wait_mean_s"] for r in runs], 0.99)
    assert waits.high < WQ_09, f"no visible bias: {waits}"


def test_auto_warmup_removes_an_overload_transient() -> None:
    """30 runs of 4 h (1-minute bins) started empty and overloaded for 10 minutes.

    With ``run.warmup = "auto"`` the 99 % interval of the mean wait covers Wq = 9 s with a half
    width below 12 % of it (seen: 8.42 [7.68, 9.16]), the median truncation is at or after the
    fluid end of the transient (45 minutes; seen: 55, from 30 to 120) and none is past the
    first half; with no warm-up (10 runs) the interval lies far above Wq (seen: 26.1 [18.8,
    33.3])."""
    auto = [simulate(_mm1(0.9, "4h", "auto", "1m", step=True), seed=400 + r) for r in range(30)]
    waits = t_interval([r.kpis["backend_wait_mean_s"] for r in auto], 0.99)
    assert_covers(waits, WQ_09, max_rel_half_width=0.12, label="Erlang C Wq after auto (s)")
    cuts = np.array([r.kpis["warmup_used_s"] for r in auto])
    assert np.median(cuts) >= 45 * 60, sorted(cuts)
    assert cuts.max() <= 2 * 3600
    zero = [simulate(_mm1(0.9, "4h", "0s", "1m", step=True), seed=400 + r) for r in range(10)]
    biased = t_interval([r.kpis["backend_wait_mean_s"] for r in zero], 0.99)
    assert biased.low > 1.5 * WQ_09, f"no visible bias without warm-up: {biased}"


def test_batch_means_interval_covers_erlang_c() -> None:
    """100 independent runs of an M/M/1 at rho 0.5 (a 2 h horizon after a 10-minute warm-up,
    bins of 30 s: 20 batches of 5.5 minutes): the 95 % batch-means interval of one run covers
    Wq = 1 s in 90 to 98 of them (seen: 96), and flags correlated batches in at most 10 (the
    check's false-alarm rate is about 5 %)."""
    wq = mmc_wq_s(1, 0.5, MEAN_SERVICE_S)
    scenario = _mm1(0.5, "2h", "10m", "30s")
    hits = flagged = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(100):
            iv = simulate(scenario, seed=5000 + r).interval("backend_wait_mean_s", level=0.95)
            hits += wq in iv
            flagged += not iv.uncorrelated
    assert 90 <= hits <= 98, f"coverage {hits} / 100"
    assert flagged <= 10
