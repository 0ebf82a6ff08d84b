"""The whole model against queueing theory: M/M/c, M/M/c/K and Little's law on a backend pool.

Each scenario is the textbook case built as a dict: one partner with a flat profile, a one-step
journey calling one product with exponential service on one pool, no gateway features (no
auth, limits or overhead), so an attempt reaches the pool the moment its session starts and
sessions are a Poisson process of rate ``users * sessions_per_user_day / 86400`` per second.
Every statement is made on R independent replications (different seeds) with a 99% Student-t
interval that must contain the closed-form value and be narrow: its half width below a stated
fraction of that value (:func:`theory.assert_covers`); the runs start empty and discard a
warm-up.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from theory import assert_covers, mmc_wq_s, mmck, replicate, single_pool_scenario, t_interval

from openbank_sim import Scenario

MEAN_SERVICE_S = 1.0
CONFIDENCE = 0.99
# Power: each interval's half width must be below a stated fraction of the theory value
# (``max_rel_*`` parameters and ``*_MAX_REL_HALF_WIDTH_*`` constants), set at about 1.5-2x the
# relative half width the seeded replications give (noted as "seen").


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
    ("servers", "rho", "horizon", "warmup", "replications", "max_rel_wq", "max_rel_rate"),
    [
        # seen: Wq 0.042, rate 0.014
        pytest.param(1, 0.5, "4h", "10m", 10, 0.08, 0.025, id="c1-rho0.5"),
        # seen: Wq 0.144, rate 0.0099
        pytest.param(2, 0.8, "2h", "10m", 10, 0.25, 0.015, id="c2-rho0.8"),
        # seen: Wq 0.129, rate 0.0058
        pytest.param(8, 0.9, "1h", "10m", 10, 0.2, 0.01, id="c8-rho0.9", marks=pytest.mark.slow),
        # seen: Wq 0.172 (Wq is only 4 ms), rate 0.0042
        pytest.param(32, 0.7, "1h", "5m", 10, 0.3, 0.008, id="c32-rho0.7", marks=pytest.mark.slow),
    ],
)
def test_mmc_mean_queue_wait_matches_erlang_c(
    servers: int,
    rho: float,
    horizon: str,
    warmup: str,
    replications: int,
    max_rel_wq: float,
    max_rel_rate: float,
) -> None:
    """``backend_wait_mean_s`` estimates Erlang C's Wq.

    Theory (c servers, lam = rho c / E[S], a = lam E[S]):
    ``B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1))``, ``C = B(c) / (1 - rho (1 - B(c)))``,
    ``Wq = C E[S] / (c (1 - rho))``. Power: the intervals' half widths are below
    ``max_rel_wq`` of Wq and ``max_rel_rate`` of lam.
    """
    lam = rho * servers / MEAN_SERVICE_S
    scenario = pool_scenario(servers, lam, horizon, warmup)
    runs = replicate(scenario, 1000 + 100 * servers, replications)
    theory = mmc_wq_s(servers, lam, MEAN_SERVICE_S)
    waits = t_interval([r.kpis["backend_wait_mean_s"] for r in runs], CONFIDENCE)
    assert_covers(waits, theory, max_rel_half_width=max_rel_wq, label="Erlang C Wq (s)")
    # the runs are what the theory assumes: Poisson arrivals at lam, nothing rejected
    rates = t_interval([r.kpis["calls_total"] / measured_s(scenario) for r in runs], CONFIDENCE)
    assert_covers(rates, lam, max_rel_half_width=max_rel_rate, label="arrival rate (1/s)")
    assert all(r.kpis["calls_ok"] == r.kpis["calls_total"] for r in runs)


# --------------------------------------------------------------------------------------------
# 2. M/M/c/K: blocking (503 overloaded) and the wait of admitted attempts
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("servers", "queue_limit", "rho", "horizon", "max_rel_blocking", "max_rel_wq"),
    [
        pytest.param(1, 3, 0.9, "3h", 0.12, 0.06, id="c1-q3-rho0.9"),  # seen 0.073, 0.034
        pytest.param(4, 2, 1.2, "1h", 0.03, 0.03, id="c4-q2-rho1.2"),  # seen 0.019, 0.020
        pytest.param(4, 0, 0.8, "1h", 0.04, None, id="c4-q0-rho0.8"),  # seen 0.021; no wait
    ],
)
def test_mmck_blocking_and_admitted_wait(
    servers: int,
    queue_limit: int,
    rho: float,
    horizon: str,
    max_rel_blocking: float,
    max_rel_wq: float | None,
) -> None:
    """The 503 share estimates the M/M/c/K blocking probability, with K = c + queue_limit.

    Theory (a = lam E[S], rho = a / c): ``p_n ∝ a^n / n!`` (n <= c),
    ``p_n ∝ a^c / c! rho^(n-c)`` (c < n <= K); blocking = ``p_K`` (PASTA); mean queue wait of
    admitted attempts ``Wq = Lq / (lam (1 - p_K))`` with ``Lq = sum (n - c) p_n``.
    ``queue_limit = 0`` is the Erlang B loss system (no attempt ever waits). Power: the
    intervals' half widths are below ``max_rel_blocking`` of ``p_K`` and ``max_rel_wq`` of Wq.
    """
    lam = rho * servers / MEAN_SERVICE_S
    scenario = pool_scenario(servers, lam, horizon, "10m", queue_limit=queue_limit)
    runs = replicate(scenario, 2000 + 10 * servers + queue_limit, 10)
    theory = mmck(servers, queue_limit, lam, MEAN_SERVICE_S)
    blocked = t_interval(
        [r.kpis["calls_overloaded"] / r.kpis["calls_total"] for r in runs], CONFIDENCE
    )
    assert_covers(
        blocked, theory.blocking, max_rel_half_width=max_rel_blocking, label="M/M/c/K p_K"
    )
    waits = [r.kpis["backend_wait_mean_s"] for r in runs]
    if queue_limit == 0:
        assert all(w == 0.0 for w in waits)
    else:
        assert max_rel_wq is not None
        wq = t_interval(waits, CONFIDENCE)
        assert_covers(wq, theory.wq_admitted_s, max_rel_half_width=max_rel_wq, label="Wq (s)")
    for r in runs:
        k = r.kpis
        assert k["calls_ok"] + k["calls_overloaded"] == k["calls_total"]
        pool = r.tables["by_pool"].set_index("pool").loc["core"]
        assert pool["rejected"] == k["calls_overloaded"]
        assert pool["admitted"] == k["calls_ok"]


# --------------------------------------------------------------------------------------------
# 3. Little's law and utilization on an unsaturated pool
# --------------------------------------------------------------------------------------------

LITTLE_MAX_ABS_HALF_WIDTH_DIFF = 0.004  # customers, absolute: the theory value is 0 (seen 0.0023)
LITTLE_MAX_REL_HALF_WIDTH_LQ = 0.2  # seen 0.104
LITTLE_MAX_REL_HALF_WIDTH_LOAD = 0.01  # utilization and mean busy servers, seen 0.0055
LITTLE_MAX_REL_HALF_WIDTH_RATE = 0.01  # admitted rate, seen 0.0058


def test_littles_law_and_utilization_on_a_pool() -> None:
    """``by_pool`` agrees with Little's law and with the offered load (M/M/4, rho = 0.85).

    Theory: ``Lq = lam_admitted Wq`` (Little's law on the queue; in steady state the time
    average of the queue over the window and the arrival average of the waits estimate the same
    thing, so their paired difference has mean 0); ``Lq = lam Wq(Erlang C)``; utilization =
    ``lam E[S] / c``; mean busy servers = ``lam E[S]``. Power: every interval's half width is
    below its stated fraction of the theory value; the paired difference, whose theory value is
    0, has an absolute bound instead (in customers).
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
    # theory value 0: an absolute bound on the half width, small against Lq itself
    assert_covers(
        diff,
        0.0,
        max_abs_half_width=LITTLE_MAX_ABS_HALF_WIDTH_DIFF,
        label="time-average Lq - lam Wq",
    )
    for a, b in zip(lq_time, lq_little, strict=True):
        assert math.isclose(a, b, rel_tol=0.05), (a, b)  # edge effects only

    lq_theory = lam * mmc_wq_s(servers, lam, MEAN_SERVICE_S)
    lq = t_interval(lq_time, CONFIDENCE)
    assert_covers(lq, lq_theory, max_rel_half_width=LITTLE_MAX_REL_HALF_WIDTH_LQ, label="Lq")
    util = t_interval([p["utilization"] for p in pools], CONFIDENCE)
    assert_covers(util, rho, max_rel_half_width=LITTLE_MAX_REL_HALF_WIDTH_LOAD, label="utilization")
    busy = t_interval([p["mean_busy_servers"] for p in pools], CONFIDENCE)
    assert_covers(
        busy,
        lam * MEAN_SERVICE_S,
        max_rel_half_width=LITTLE_MAX_REL_HALF_WIDTH_LOAD,
        label="busy servers",
    )
    admitted = t_interval([p["admitted"] / window_s for p in pools], CONFIDENCE)
    assert_covers(
        admitted,
        lam,
        max_rel_half_width=LITTLE_MAX_REL_HALF_WIDTH_RATE,
        label="admitted rate (1/s)",
    )
