"""The gateway's limits inside the whole model, against closed forms; CRN and determinism.

Scenarios are built as dicts: partners with a flat profile and a one-step journey, so each
session makes one attempt at its start time and sessions are a Poisson process of rate
``users * sessions_per_user_day / 86400`` per second; the client makes one attempt (no retry)
unless a test says otherwise; the backend pool is large enough that no attempt is refused by it,
so an attempt is ``ok`` exactly when the gateway admits it. Statistical statements use R
independent replications (different seeds) and a 99% Student-t interval that must contain the
closed-form value and be narrow: its half width below a stated fraction of that value
(:func:`theory.assert_covers`).
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from theory import assert_covers, erlang_b, t_interval

from openbank_sim import Results, Scenario, simulate

CONFIDENCE = 0.99
# Power: each interval's half width must be below a stated fraction of the theory value, set at
# about 1.5-2x the relative half width the seeded replications give (noted as "seen").
TOKEN_BUCKET_MAX_REL_HALF_WIDTH_OFFERED = {"partner": 0.08, "global": 0.03}  # seen 0.049, 0.019
FIXED_WINDOW_MAX_REL_HALF_WIDTH = 0.006  # seen 0.0040


def gateway_scenario(
    limits: list[dict[str, Any]],
    *,
    horizon: str,
    warmup: str = "0s",
    partners: int = 1,
    users: int = 86400,
    sessions_per_user_day: float = 1.0,
    servers: int = 200,
    service_time: dict[str, Any] | None = None,
    record_calls: str = "none",
    time_bin: str = "1h",
    client: dict[str, Any] | None = None,
) -> Scenario:
    """API partners ``p0, p1, ...`` each offering ``users * sessions_per_user_day / 86400``/s."""
    raw: dict[str, Any] = {
        "run": {
            "horizon": horizon,
            "warmup": warmup,
            "record_calls": record_calls,
            "time_bin": time_bin,
        },
        "bank": {
            "pools": {"core": {"servers": servers}},
            "products": {
                "pay": {
                    "pool": "core",
                    "service_time": service_time or {"dist": "exponential", "mean": "10ms"},
                }
            },
        },
        "gateway": {"limits": limits},
        "client": {"max_attempts": 1, **(client or {})},
        "journeys": {"buy": {"steps": [{"product": "pay"}]}},
        "partners": [
            {
                "name": f"p{i}",
                "users": users,
                "sessions_per_user_day": sessions_per_user_day,
                "journey": "buy",
            }
            for i in range(partners)
        ],
    }
    return Scenario(raw)


def replicate(scenario: Scenario, base_seed: int, replications: int) -> list[Results]:
    """``replications`` independent runs with seeds ``base_seed, base_seed + 1, ...``."""
    return [simulate(scenario, seed=base_seed + r) for r in range(replications)]


def only_ok_and_rate_limited(kpis: dict[str, float]) -> bool:
    """Every attempt was either admitted (and ok) or refused by a limit."""
    return kpis["calls_ok"] + kpis["calls_rate_limited"] == kpis["calls_total"]


# --------------------------------------------------------------------------------------------
# 4. token bucket far below the offered rate: burst + rate * T
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["partner", "global"])
def test_token_bucket_admits_burst_plus_rate_times_horizon(scope: str) -> None:
    """Two partners offer 50/s each against a bucket of rate 5/s, burst 20, for T = 300 s.

    Theory: a bucket fed much faster than it refills never sits full after the first burst, so
    the admitted count is ``burst + rate T`` less the fraction of a token left at T (and the
    refill lost before the first arrival): within 2 tokens, never above. ``scope = "partner"``
    gives each partner that budget, ``"global"`` shares one budget between both. After the
    first minute every minute admits ``rate * 60`` (within 2). The offered rate is checked
    too (interval and power), so the budget is not met by offering less than stated.
    """
    rate, burst, horizon_s, offered = 5.0, 20, 300.0, 50.0
    limit = {"scope": scope, "algorithm": "token_bucket", "rate": rate, "burst": burst}
    scenario = gateway_scenario(
        [limit],
        horizon="5m",
        partners=2,
        sessions_per_user_day=offered,
        time_bin="1m",
    )
    budget = burst + rate * horizon_s
    totals = []
    for r in replicate(scenario, 4000 if scope == "partner" else 4100, 3):
        k = r.kpis
        assert only_ok_and_rate_limited(k)
        assert k["calls_rate_limited"] == k["calls_total"] - k["calls_ok"]
        by_partner = r.tables["by_partner"].set_index("partner")
        admitted = by_partner["calls_ok"]
        if scope == "partner":
            for name in ("p0", "p1"):
                assert budget - 2 <= admitted[name] <= budget, (name, admitted[name], budget)
        else:
            assert budget - 2 <= admitted.sum() <= budget, (admitted.sum(), budget)
        ts = r.tables["timeseries"]
        per_minute = ts.groupby("bin")["calls_ok"].sum()
        budgets = 2 if scope == "partner" else 1
        later = per_minute.loc[per_minute.index >= 1].to_numpy()
        assert len(later) == 4
        assert np.all(np.abs(later - budgets * rate * 60) <= 2 * budgets), later
        totals.append(k["calls_total"] / horizon_s)
    offered_interval = t_interval(totals, CONFIDENCE)
    assert_covers(
        offered_interval,
        2 * offered,
        max_rel_half_width=TOKEN_BUCKET_MAX_REL_HALF_WIDTH_OFFERED[scope],
        label="offered rate (1/s)",
    )


# --------------------------------------------------------------------------------------------
# 5. fixed window fed Poisson arrivals: E[min(N, L)] per window
# --------------------------------------------------------------------------------------------


def test_fixed_window_admits_mean_of_min_poisson_and_limit() -> None:
    """A fixed window (L = 55 per 1 min) fed Poisson arrivals at 1/s.

    Theory: windows are aligned to t = 0 and independent, each receives ``N ~ Poisson(lam w)``
    arrivals and admits ``min(N, L)``: ``E[min(N, L)] = sum_n min(n, L) P(N = n)``
    (``= L - sum_{n < L} (L - n) P(N = n)``). No window ever admits more than L.
    """
    limit, window_s, lam = 55, 60.0, 1.0
    rule = {"scope": "partner", "algorithm": "fixed_window", "limit": limit, "window": "1m"}
    scenario = gateway_scenario([rule], horizon="2h", sessions_per_user_day=lam, time_bin="1m")
    n_windows = round(scenario.spec.run.horizon_s / window_s)
    n = np.arange(0, 400)
    pmf = stats.poisson.pmf(n, lam * window_s)
    theory = float(np.sum(np.minimum(n, limit) * pmf))
    means = []
    for r in replicate(scenario, 5000, 10):
        assert only_ok_and_rate_limited(r.kpis)
        per_window = r.tables["timeseries"].groupby("bin")["calls_ok"].sum()
        assert per_window.max() <= limit
        means.append(r.kpis["calls_ok"] / n_windows)
    admitted = t_interval(means, CONFIDENCE)
    assert_covers(
        admitted, theory, max_rel_half_width=FIXED_WINDOW_MAX_REL_HALF_WIDTH, label="E[min(N, L)]"
    )


# --------------------------------------------------------------------------------------------
# 6. sliding window log: never more than L admitted in any window of length w
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "limit", "window", "window_s", "users", "sessions_per_user_day", "horizon"),
    [
        pytest.param("partner", 10, "1m", 60.0, 86400, 0.5, "1h", id="partner"),
        pytest.param("user", 4, "1h", 3600.0, 20, 240.0, "12h", id="user"),
    ],
)
def test_sliding_window_log_is_exact(
    scope: str,
    limit: int,
    window: str,
    window_s: float,
    users: int,
    sessions_per_user_day: float,
    horizon: str,
) -> None:
    """The exact log admits at most L in any window ``(t - w, t]`` and refuses only when full.

    Theory (per key: the partner, or each of its users): with admitted times
    ``t_1 <= t_2 <= ...``, ``t_i + w <= t_{i+L}`` for every i; an arrival at t is refused iff
    exactly L admitted times lie in ``(t - w, t]``.
    """
    rule = {
        "scope": scope,
        "algorithm": "sliding_window",
        "variant": "log",
        "limit": limit,
        "window": window,
    }
    scenario = gateway_scenario(
        [rule],
        horizon=horizon,
        users=users,
        sessions_per_user_day=sessions_per_user_day,
        record_calls="all",
        partners=2,
    )
    for r in replicate(scenario, 6000 if scope == "partner" else 6100, 3):
        calls = r.tables["calls"]
        assert len(calls) == r.kpis["calls_total"]
        refused_total = 0
        keys = ["partner"] if scope == "partner" else ["partner", "user"]
        for _, group in calls.groupby(keys, observed=True):
            refused = (group["outcome"] == "rate_limited").to_numpy()
            t = group["t_s"].to_numpy()
            admitted = np.sort(t[~refused])
            assert np.all(admitted[:-limit] + window_s <= admitted[limit:])
            t_refused = t[refused]
            in_window = np.searchsorted(admitted, t_refused, side="right") - np.searchsorted(
                admitted + window_s, t_refused, side="right"
            )
            assert np.all(in_window == limit)
            refused_total += refused.sum()
        assert refused_total == r.kpis["calls_rate_limited"] > 0


# --------------------------------------------------------------------------------------------
# 7. concurrency limit: Erlang B
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "offered_erlangs", "service_time", "max_rel_half_width"),
    [
        # seen: relative half width 0.044 and 0.037
        pytest.param(10, 8.0, {"dist": "exponential", "mean": "1s"}, 0.08, id="M/M/10/10"),
        pytest.param(4, 3.0, {"dist": "constant", "value": "1s"}, 0.06, id="M/D/4/4"),
    ],
)
def test_concurrency_limit_is_an_erlang_loss_system(
    limit: int, offered_erlangs: float, service_time: dict[str, Any], max_rel_half_width: float
) -> None:
    """A concurrency limit c in front of a pool of 200 servers is the M/G/c/c loss system.

    Theory: an admitted attempt holds its slot for its service time (no queue wait at the
    pool), so the rate-limited share is Erlang B, ``B(0) = 1``,
    ``B(k) = a B(k-1) / (k + a B(k-1))``, ``a = lam E[S]``: insensitive to the service-time
    distribution (exponential and constant alike). Power: the interval's half width is below
    ``max_rel_half_width`` of B.
    """
    lam = offered_erlangs / 1.0
    rule = {"scope": "partner", "algorithm": "concurrency", "limit": limit}
    scenario = gateway_scenario(
        [rule],
        horizon="35m",
        warmup="5m",
        sessions_per_user_day=lam,
        service_time=service_time,
    )
    runs = replicate(scenario, 7000 + limit, 10)
    for r in runs:
        assert only_ok_and_rate_limited(r.kpis)
        assert r.kpis["backend_wait_mean_s"] == 0.0
    theory = erlang_b(limit, offered_erlangs)
    share = t_interval(
        [r.kpis["calls_rate_limited"] / r.kpis["calls_total"] for r in runs], CONFIDENCE
    )
    assert_covers(share, theory, max_rel_half_width=max_rel_half_width, label="Erlang B")


# --------------------------------------------------------------------------------------------
# 8. common random numbers across scenarios that differ only in a limit
# --------------------------------------------------------------------------------------------


def test_common_random_numbers_across_limit_settings() -> None:
    """Token bucket rate 5/s vs 50/s (burst 20), two partners at 20/s, retries allowed.

    Expected: the same sessions in both runs, i.e. the first attempts' (partner, session,
    user, arrival time) rows are identical; the first attempt's service time is drawn whether
    or not it is admitted, so first attempts admitted without a queue wait in both runs have
    identical latencies. The limit does change the outcomes (the comparison is not vacuous).
    """

    def run(rate: float) -> Results:
        rule = {"scope": "partner", "algorithm": "token_bucket", "rate": rate, "burst": 20}
        scenario = gateway_scenario(
            [rule],
            horizon="10m",
            partners=2,
            sessions_per_user_day=20.0,
            users=86400,
            record_calls="all",
            client={"max_attempts": 3, "retry_on": ["rate_limited"]},
        )
        return simulate(scenario, seed=8)

    tight, loose = run(5.0), run(50.0)
    key = ["partner", "session"]
    first = [
        r.tables["calls"].query("attempt == 1").sort_values(key).reset_index(drop=True)
        for r in (tight, loose)
    ]
    a, b = first
    assert len(a) == len(b) > 0
    assert set(a["partner"]) == {"p0", "p1"}
    for col in ("partner", "session", "user", "t_s"):
        assert (a[col].to_numpy() == b[col].to_numpy()).all(), col
    both_ok = (
        (a["outcome"] == "ok").to_numpy()
        & (b["outcome"] == "ok").to_numpy()
        & (a["wait_s"] == 0.0).to_numpy()
        & (b["wait_s"] == 0.0).to_numpy()
    )
    assert both_ok.sum() > 1000
    assert (a["latency_s"].to_numpy()[both_ok] == b["latency_s"].to_numpy()[both_ok]).all()
    # the limit matters: the tight bucket refuses first attempts and causes retries
    assert (a["outcome"] == "rate_limited").sum() > 1000
    assert (b["outcome"] == "rate_limited").sum() < (a["outcome"] == "rate_limited").sum()
    assert (tight.tables["calls"]["attempt"] > 1).any()


# --------------------------------------------------------------------------------------------
# 9. determinism
# --------------------------------------------------------------------------------------------


def _bits(value: float) -> bytes:
    return struct.pack("<d", value)


def test_same_seed_same_numbers_bit_for_bit() -> None:
    """Same scenario + seed gives identical KPIs (bit for bit, NaN equal to NaN) and tables.

    The scenario exercises most of the engine: auth with token failures, a token bucket and a
    concurrency limit, retries with jittered backoff and Retry-After, timeouts, a queue limit,
    errors, lognormal service, gateway overhead, a traditional partner, a partial call log.
    Another seed gives different numbers.
    """
    raw = {
        "run": {"horizon": "30m", "warmup": "5m", "record_calls": 0.5, "time_bin": "5m"},
        "bank": {
            "direct_overhead": {"dist": "constant", "value": "3ms"},
            "pools": {"core": {"servers": 3, "queue_limit": 5}},
            "products": {
                "pay": {
                    "kind": "payment",
                    "pool": "core",
                    "service_time": {"dist": "lognormal", "mean": "300ms", "cv": 1.0},
                    "error_rate": 0.01,
                    "take_rate": 0.003,
                    "cost": 0.0002,
                }
            },
        },
        "gateway": {
            "overhead": {"dist": "constant", "value": "5ms"},
            "auth": {
                "token_ttl": "5m",
                "servers": 2,
                "service_time": {"dist": "exponential", "mean": "40ms"},
                "failure_rate": 0.01,
            },
            "limits": [
                {"scope": "partner", "algorithm": "token_bucket", "rate": 4.0, "burst": 10},
                {"scope": "global", "algorithm": "concurrency", "limit": 6},
            ],
        },
        "client": {"max_attempts": 3, "timeout": "2s", "respect_retry_after": True},
        "journeys": {
            "buy": {
                "value": {"dist": "lognormal", "mean": 300, "cv": 0.5},
                "patience": "10s",
                "steps": [{"product": "pay"}],
            }
        },
        "partners": [
            {"name": "api", "users": 1000, "sessions_per_user_day": 500.0, "journey": "buy"},
            {
                "name": "direct",
                "integration": "traditional",
                "users": 1000,
                "sessions_per_user_day": 200.0,
                "journey": "buy",
            },
        ],
    }
    scenario = Scenario(raw)
    first, again, other = (simulate(scenario, seed=s) for s in (11, 11, 12))

    assert first.kpis.keys() == again.kpis.keys()
    for name, value in first.kpis.items():
        assert _bits(value) == _bits(again.kpis[name]), (name, value, again.kpis[name])
    assert first.tables.keys() == again.tables.keys()
    assert "calls" in first.tables
    for name, table in first.tables.items():
        pd.testing.assert_frame_equal(table, again.tables[name], check_exact=True, obj=name)

    assert first.kpis != other.kpis
    for name in ("calls_total", "latency_mean_s", "backend_wait_mean_s"):
        assert first.kpis[name] != other.kpis[name], name
    assert not math.isnan(first.kpis["latency_mean_s"])
