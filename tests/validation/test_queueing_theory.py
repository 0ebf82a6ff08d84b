"""The whole model against queueing theory: M/M/c, M/M/c/K and Little's law on a backend pool.

Each scenario is the textbook case built as a dict: one partner with a flat profile, a one-step
journey calling one product with exponential service on one pool, no gateway features (no
auth, limits or overhead), so an attempt reaches the pool the moment its session starts and
sessions are a Poisson process of rate ``users * sessions_per_user_day / 86400`` per second.
Every statement is made on R independent replications (different seeds) with a 99% Student-t
interval that must contain the closed-form value; the runs start empty and discard a warm-up.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from theory import mmc_wq_s, mmck, replicate, single_pool_scenario, t_interval

from openbank_sim import Scenario

MEAN_SERVICE_S = 1.0
CONFIDENCE = 0.99


def pool_scenario(
    servers: int,
    arrival_rate_per_s: float,
    horizon: str,
    warmup: str,
    queue_limit: int | None = None,
) -> Scenario:
    """M/M/c (or M/M/c/K with ``queue_limit``) as a scenario: Poisson arrivals, exp. service."""
    pool: dict[str, Any] = {"servers": servers}
    if queue_limit is not None:
        pool["queue_limit"] = queue_limit
    return single_pool_scenario(pool, arrival_rate_per_s, MEAN_SERVICE_S, horizon, warmup)


def measured_s(scenario: Scenario) -> float:
    """Length (s) of the measurement window ``[warmup, horizon)``."""
    run = scenario.spec.run
    return run.horizon_s - run.warmup_s


# --------------------------------------------------------------------------------------------
# 1. M/M/c mean queue wait vs Erlang C
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("servers", "rho", "horizon", "warmup", "replications"),
    [
        pytest.param(1, 0.5, "4h", "10m", 10, id="c1-rho0.5"),
        pytest.param(2, 0.8, "2h", "10m", 10, id="c2-rho0.8"),
        pytest.param(8, 0.9, "1h", "10m", 10, id="c8-rho0.9", marks=pytest.mark.slow),
        pytest.param(32, 0.7, "1h", "5m", 10, id="c32-rho0.7", marks=pytest.mark.slow),
    ],
)
def test_mmc_mean_queue_wait_matches_erlang_c(
    servers: int, rho: float, horizon: str, warmup: str, replications: int
) -> None:
    """``backend_wait_mean_s`` estimates Erlang C's Wq.

    Theory (c servers, lam = rho c / E[S], a = lam E[S]):
    ``B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1))``, ``C = B(c) / (1 - rho (1 - B(c)))``,
    ``Wq = C E[S] / (c (1 - rho))``.
    """
    lam = rho * servers / MEAN_SERVICE_S
    scenario = pool_scenario(servers, lam, horizon, warmup)
    runs = replicate(scenario, 1000 + 100 * servers, replications)
    theory = mmc_wq_s(servers, lam, MEAN_SERVICE_S)
    waits = t_interval([r.kpis["backend_wait_mean_s"] for r in runs], CONFIDENCE)
    assert theory in waits, f"Erlang C Wq = {theory:.6g} s, model {waits}"
    # the runs are what the theory assumes: Poisson arrivals at lam, nothing rejected
    rates = t_interval([r.kpis["calls_total"] / measured_s(scenario) for r in runs], CONFIDENCE)
    assert lam in rates, f"arrival rate {lam}/s, model {rates}"
    assert all(r.kpis["calls_ok"] == r.kpis["calls_total"] for r in runs)


# --------------------------------------------------------------------------------------------
# 2. M/M/c/K: blocking (503 overloaded) and the wait of admitted attempts
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("servers", "queue_limit", "rho", "horizon"),
    [
        pytest.param(1, 3, 0.9, "3h", id="c1-q3-rho0.9"),
        pytest.param(4, 2, 1.2, "1h", id="c4-q2-rho1.2"),
        pytest.param(4, 0, 0.8, "1h", id="c4-q0-rho0.8"),
    ],
)
def test_mmck_blocking_and_admitted_wait(
    servers: int, queue_limit: int, rho: float, horizon: str
) -> None:
    """The 503 share estimates the M/M/c/K blocking probability, with K = c + queue_limit.

    Theory (a = lam E[S], rho = a / c): ``p_n ∝ a^n / n!`` (n <= c),
    ``p_n ∝ a^c / c! rho^(n-c)`` (c < n <= K); blocking = ``p_K`` (PASTA); mean queue wait of
    admitted attempts ``Wq = Lq / (lam (1 - p_K))`` with ``Lq = sum (n - c) p_n``.
    ``queue_limit = 0`` is the Erlang B loss system (no attempt ever waits).
    """
    lam = rho * servers / MEAN_SERVICE_S
    scenario = pool_scenario(servers, lam, horizon, "10m", queue_limit=queue_limit)
    runs = replicate(scenario, 2000 + 10 * servers + queue_limit, 10)
    theory = mmck(servers, queue_limit, lam, MEAN_SERVICE_S)
    blocked = t_interval(
        [r.kpis["calls_overloaded"] / r.kpis["calls_total"] for r in runs], CONFIDENCE
    )
    assert theory.blocking in blocked, f"M/M/c/K p_K = {theory.blocking:.6g}, model {blocked}"
    waits = [r.kpis["backend_wait_mean_s"] for r in runs]
    if queue_limit == 0:
        assert all(w == 0.0 for w in waits)
    else:
        wq = t_interval(waits, CONFIDENCE)
        assert theory.wq_admitted_s in wq, f"Wq = {theory.wq_admitted_s:.6g} s, model {wq}"
    for r in runs:
        k = r.kpis
        assert k["calls_ok"] + k["calls_overloaded"] == k["calls_total"]
        pool = r.tables["by_pool"].set_index("pool").loc["core"]
        assert pool["rejected"] == k["calls_overloaded"]
        assert pool["admitted"] == k["calls_ok"]


# --------------------------------------------------------------------------------------------
# 3. Little's law and utilization on an unsaturated pool
# --------------------------------------------------------------------------------------------


def test_littles_law_and_utilization_on_a_pool() -> None:
    """``by_pool`` agrees with Little's law and with the offered load (M/M/4, rho = 0.85).

    Theory: ``Lq = lam_admitted Wq`` (Little's law on the queue; in steady state the time
    average of the queue over the window and the arrival average of the waits estimate the same
    thing, so their paired difference has mean 0); ``Lq = lam Wq(Erlang C)``; utilization =
    ``lam E[S] / c``; mean busy servers = ``lam E[S]``.
    """
    servers, rho = 4, 0.85
    lam = rho * servers / MEAN_SERVICE_S
    scenario = pool_scenario(servers, lam, "1h", "10m")
    window_s = measured_s(scenario)
    runs = replicate(scenario, 3000, 20)
    pools = [r.tables["by_pool"].set_index("pool").loc["core"] for r in runs]
    lq_little = [p["admitted"] / window_s * p["wait_mean_s"] for p in pools]
    lq_time = [p["mean_queue_length"] for p in pools]

    diff = t_interval([a - b for a, b in zip(lq_time, lq_little, strict=True)], CONFIDENCE)
    assert 0.0 in diff, f"time-average Lq - lam Wq: {diff}"
    for a, b in zip(lq_time, lq_little, strict=True):
        assert math.isclose(a, b, rel_tol=0.05), (a, b)  # edge effects only

    lq_theory = lam * mmc_wq_s(servers, lam, MEAN_SERVICE_S)
    lq = t_interval(lq_time, CONFIDENCE)
    assert lq_theory in lq, f"Lq = {lq_theory:.6g}, model {lq}"
    util = t_interval([p["utilization"] for p in pools], CONFIDENCE)
    assert rho in util, f"utilization {rho}, model {util}"
    busy = t_interval([p["mean_busy_servers"] for p in pools], CONFIDENCE)
    assert lam * MEAN_SERVICE_S in busy, f"busy servers {lam * MEAN_SERVICE_S}, model {busy}"
    admitted = t_interval([p["admitted"] / window_s for p in pools], CONFIDENCE)
    assert lam in admitted, f"admitted rate {lam}/s, model {admitted}"
