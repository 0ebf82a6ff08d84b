"""Shedding unattended traffic first (``shed_background_above = N``), on the call log.

One pool ``core`` of two servers with exponential 1 s service serves a partner's sessions
(customer present, 1.2/s) and its unattended refreshes (0.6/s), no gateway features, so an
attempt reaches the pool when it arrives (``calls.t_s``). The queue length an arrival finds is
rebuilt from the call log alone: the admitted attempts that arrived before it and had not left
the queue yet (an attempt leaves at ``t_s + wait_s``: its start, or its deadline when dropped).
The pool's exact bookkeeping is also checked attempt by attempt against a brute-force event
simulation in ``test_deadline_theory.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from theory import users_for

from openbank_sim import Results, Scenario, simulate

WARMUP_S = 600.0


def shedding_scenario(pool: dict[str, Any], client: dict[str, Any] | None = None) -> Scenario:
    users = users_for(1.2)
    raw = {
        "run": {"horizon": "2h", "warmup": "10m", "record_calls": "all"},
        "bank": {
            "pools": {"core": {"servers": 2, **pool}},
            "products": {
                "pay": {"pool": "core", "service_time": {"dist": "exponential", "mean": "1s"}},
                "info": {
                    "kind": "account_info",
                    "pool": "core",
                    "service_time": {"dist": "exponential", "mean": "1s"},
                },
            },
        },
        "client": client or {},
        "journeys": {"buy": {"steps": [{"product": "pay"}]}},
        "partners": [
            {
                "name": "shop",
                "users": users,
                "sessions_per_user_day": 1.0,
                "journey": "buy",
                "background": {"product": "info", "per_user_day": 1.0, "share_of_users": 0.5},
            }
        ],
    }
    return Scenario(raw)


def queue_at_arrival(calls: pd.DataFrame) -> np.ndarray:
    """Attempts waiting in the pool when each attempt arrives, from the call log."""
    t = calls["t_s"].to_numpy()
    wait = calls["wait_s"].to_numpy()
    admitted = ~np.isnan(wait)
    arrived = np.sort(t[admitted])
    left = np.sort(t[admitted] + wait[admitted])
    # admitted before t (strictly: arrival times are distinct) minus those gone by t
    return np.searchsorted(arrived, t, side="left") - np.searchsorted(left, t, side="right")


def core(r: Results) -> pd.Series:
    return r.tables["by_pool"].set_index("pool").loc["core"]


@pytest.mark.parametrize(
    ("pool", "client"),
    [
        ({"shed_background_above": 3}, None),
        ({"shed_background_above": 1}, None),
        (
            {"shed_background_above": 2, "queue_limit": 6, "drop_expired": True},
            {"timeout": "2s"},
        ),
        (
            {
                "shed_background_above": 2,
                "schedule": [{"from": "2026-01-05T00:40", "to": "2026-01-05T01:20", "servers": 1}],
            },
            None,
        ),
    ],
    ids=["N=3", "N=1", "N=2, queue limit 6, drop_expired", "N=2, a capacity schedule"],
)
@pytest.mark.parametrize("seed", [11, 12])
def test_background_is_shed_exactly_while_n_or_more_wait(
    pool: dict[str, Any], client: dict[str, Any] | None, seed: int
) -> None:
    """A background attempt gets 503 iff N or more attempts wait when it arrives; one with a
    user present never does (unless the queue limit is reached, and then only then); the
    counts agree with the call log in the measurement window."""
    n = pool["shed_background_above"]
    limit = pool.get("queue_limit")
    r = simulate(shedding_scenario(pool, client), seed=seed)
    calls = r.tables["calls"]
    queue = queue_at_arrival(calls)
    background = calls["background"].to_numpy()
    refused = (calls["outcome"] == "overloaded").to_numpy()
    full = queue >= limit if limit is not None else np.zeros(queue.size, dtype=bool)
    np.testing.assert_array_equal(refused[background], (queue >= n)[background])
    np.testing.assert_array_equal(refused[~background], full[~background])
    shed = refused & background
    assert shed.sum() > 50 and (~refused & background).sum() > 50  # both happen
    inside = (calls["t_s"] >= WARMUP_S).to_numpy()
    assert shed[inside].sum() == core(r)["shed_background"] == r.kpis["calls_shed_background"]
    assert r.kpis["calls_shed_background"] <= r.kpis["calls_overloaded"] == core(r)["rejected"]
    if limit is not None:
        assert full[~background].any()  # the queue limit bound for users too
        assert r.kpis["calls_dropped_expired"] > 0


def test_zero_sheds_every_background_attempt() -> None:
    """``shed_background_above = 0`` sheds every unattended attempt, always, and no other."""
    r = simulate(shedding_scenario({"shed_background_above": 0}), seed=13)
    calls = r.tables["calls"]
    background = calls["background"].to_numpy()
    refused = (calls["outcome"] == "overloaded").to_numpy()
    np.testing.assert_array_equal(refused, background)
    inside = (calls["t_s"] >= WARMUP_S).to_numpy()
    assert core(r)["shed_background"] == (background & inside).sum() > 1000


def test_a_threshold_never_reached_changes_nothing() -> None:
    """A threshold no queue reaches gives the numbers of the pool without it, bit for bit."""
    base = simulate(shedding_scenario({}), seed=14)
    high = simulate(shedding_scenario({"shed_background_above": 100_000}), seed=14)
    assert high.kpis == base.kpis and high.kpis["calls_shed_background"] == 0
    for name in base.tables:
        assert high.tables[name].equals(base.tables[name]), name
