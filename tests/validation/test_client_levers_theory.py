"""The client's levers in the engine: retry amplification with and without a retry budget, the
budget's sliding window checked exactly on the call log, and the circuit breaker replayed from
the call log and against the Markov chain of its rule.

With errors i.i.d. at rate ``e`` and ``n`` attempts retried on error, a logical call makes
``1 + e + ... + e^(n-1)`` attempts on average (1.75 for e = 0.5, n = 3). A budget of ``ratio``
and ``min_per_s`` over ``window`` allows, in every window ``(t - window, t]`` of retry
decisions, at most ``ratio`` x first attempts + ``min_per_s`` x ``window`` retries, and a
retry is refused exactly when one more would break that.
"""

from __future__ import annotations

import math
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from theory import assert_covers, t_interval

from openbank_sim import simulate
from openbank_sim.model.resilience import CircuitBreaker
from openbank_sim.spec.scenario import Scenario
from openbank_sim.spec.types import CircuitBreakerSpec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "model"))
from test_resilience import _refused_share_markov

ERROR_RATE = 0.5
RATE_PER_S = 5.0  # first attempts per second
RATIO, MIN_PER_S, WINDOW_S = 0.1, 0.5, 10.0


def _scenario(client: str, *, service: str, horizon: str = "1h", rate=RATE_PER_S) -> Scenario:
    """One pool of 200 servers (no queueing), one product failing at ERROR_RATE, Poisson
    sessions of one call at ``rate`` per second, every attempt in the call log."""
    users = round(rate * 86400)
    text = f"""
[run]
horizon = "{horizon}"
warmup = "0s"
record_calls = "all"

[bank.pools.core]
servers = 200

[bank.products.pay]
pool = "core"
service_time = {service}
error_rate = {ERROR_RATE}

[client]
{client}

[journeys.buy]
steps = [{{ product = "pay" }}]

[[partners]]
name = "shop"
users = {users}
sessions_per_user_day = 1.0
journey = "buy"
"""
    return Scenario(tomllib.loads(text))


RETRIES = (
    'max_attempts = 3\nretry_on = ["error"]\n'
    'backoff = { base = "100ms", factor = 2.0, max = "1s", jitter = "full" }'
)
BUDGET = f'retry_budget = {{ ratio = {RATIO}, min_per_s = {MIN_PER_S}, window = "{WINDOW_S:g}s" }}'
EXPONENTIAL = '{ dist = "exponential", mean = "50ms" }'


def _amplification(results) -> float:
    ts = results.tables["timeseries"]
    return float(ts["calls_total"].sum() / ts["first_attempts"].sum())


def test_amplification_without_a_budget_is_one_plus_e_plus_e_squared():
    scenario = _scenario(RETRIES, service=EXPONENTIAL, horizon="30m")
    values = [_amplification(simulate(scenario, seed=s)) for s in range(1, 9)]
    theory = 1.0 + ERROR_RATE + ERROR_RATE**2
    assert_covers(
        t_interval(values), theory, max_rel_half_width=0.01, label="attempts per first attempt"
    )


def _decisions(log: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From the call log of one-call sessions: the first attempts' arrival times, and the
    times of the retry decisions the client made (an attempt that failed before the last try
    ended at its arrival plus its latency), split into the retries made and those refused."""
    log = log.sort_values(["session", "attempt"])
    firsts = np.sort(log.loc[log["attempt"] == 1, "t_s"].to_numpy())
    could = log[(log["outcome"] == "error") & (log["attempt"] < 3)]
    end = (could["t_s"] + could["latency_s"]).to_numpy()
    nxt = set(zip(log["session"], log["attempt"], strict=True))
    made = np.array(
        [(s, k + 1) in nxt for s, k in zip(could["session"], could["attempt"], strict=True)]
    )
    return firsts, np.sort(end[made]), np.sort(end[~made])


def _in_window(times: np.ndarray, t: np.ndarray) -> np.ndarray:
    """How many of ``times`` (sorted) lie in ``(t - WINDOW_S, t]``, for each ``t``."""
    return np.searchsorted(times, t, side="right") - np.searchsorted(times, t - WINDOW_S, "right")


@pytest.mark.parametrize("seed", [1, 2])
def test_the_budget_holds_exactly_in_every_sliding_window_of_retry_decisions(seed):
    results = simulate(_scenario(RETRIES + "\n" + BUDGET, service=EXPONENTIAL), seed=seed)
    firsts, made, refused = _decisions(results.tables["calls"])
    allowance = RATIO * _in_window(firsts, made) + MIN_PER_S * WINDOW_S
    # a retry made fits: with it, the retries decided in its window are within the allowance
    assert (_in_window(made, made) <= allowance + 1e-9).all()
    # a retry refused did not: one more would have broken the allowance
    allowance = RATIO * _in_window(firsts, refused) + MIN_PER_S * WINDOW_S
    assert (_in_window(made, refused) + 1 > allowance - 1e-9).all()
    # the budget bound: with 5 first attempts a second and errors at 50 %, demand for retries
    # (about 3.75 a second) is far above the budget (0.1 x 5 + 0.5 = 1 a second)
    assert refused.size > 0.5 * (made.size + refused.size)
    kpis = results.kpis
    assert kpis["retries_suppressed"] == refused.size
    span = max(made.max(), refused.max())
    windows = math.ceil(span / WINDOW_S)
    assert made.size <= RATIO * firsts.size + MIN_PER_S * WINDOW_S * windows
    # with the budget spent, amplification falls from 1.75 to about 1 + 1/5
    assert 1.15 < _amplification(results) < 1.25


# -- circuit breaker -------------------------------------------------------------------------
BREAKER = dict(failure_rate=0.5, window=5, min_calls=3, open_for_s=4.0, half_open_calls=2)


def _breaker_client(p_rate=BREAKER) -> str:
    return (
        "max_attempts = 1\n"
        f"circuit_breaker = {{ failure_rate = {p_rate['failure_rate']}, window = "
        f"{p_rate['window']}, min_calls = {p_rate['min_calls']}, open_for = "
        f'"{p_rate["open_for_s"]:g}s", half_open_calls = {p_rate["half_open_calls"]}, '
        'failures = ["error"] }'
    )


def test_the_breakers_transitions_replay_exactly_from_the_call_log():
    # attempts overlap (exponential 2 s service at 5 calls/s): outcomes come back out of order
    scenario = _scenario(
        'max_attempts = 2\nretry_on = ["error"]\n'
        + _breaker_client().replace("max_attempts = 1\n", ""),
        service='{ dist = "exponential", mean = "2s" }',
        horizon="20m",
    )
    results = simulate(scenario, seed=4)
    log = results.tables["calls"]
    # replay: each attempt asks at its arrival, its outcome comes back at arrival + latency
    events = [(t, 1, i) for i, t in enumerate(log["t_s"])]
    events += [
        (t + lat, 0, i) for i, (t, lat) in enumerate(zip(log["t_s"], log["latency_s"], strict=True))
    ]
    events.sort()  # at a tie an outcome comes before an arrival (as the engine has it)
    seen: list[tuple[float, str, str]] = []
    names = ("closed", "open", "half_open")
    spec = CircuitBreakerSpec(
        BREAKER["failure_rate"],
        BREAKER["window"],
        BREAKER["min_calls"],
        BREAKER["open_for_s"],
        BREAKER["half_open_calls"],
        frozenset({"error"}),
    )
    br = CircuitBreaker(spec, lambda t, a, b: seen.append((t, names[a], names[b])))
    failed = (log["outcome"] == "error").to_numpy()
    permit = {}
    for t, kind, i in events:
        if kind == 1:
            permit[i] = br.permit(t)
            assert permit[i] >= 0, f"attempt {i} at {t} is in the log but the breaker refused it"
        else:
            br.record(t, bool(failed[i]), permit[i])
    table = results.tables["breaker_transitions"]
    got = list(
        zip(
            table["t_s"],
            table["from_state"].astype(str),
            table["to_state"].astype(str),
            strict=True,
        )
    )
    assert len(got) > 20  # the breaker opens and closes many times
    assert [(a, b) for _, a, b in got] == [(a, b) for _, a, b in seen]
    np.testing.assert_allclose([t for t, _, _ in got], [t for t, _, _ in seen], rtol=0, atol=1e-9)


@pytest.mark.slow
def test_the_share_of_calls_failed_fast_matches_the_markov_chain_of_the_rule():
    # outcomes come back 1 ms after the call (constant service): the breaker sees each outcome
    # before the next call in all but about 0.5 % of cases, as the chain assumes
    rate = 0.5  # calls per second
    scenario = _scenario(
        _breaker_client(),
        service='{ dist = "constant", value = "1ms" }',
        horizon="1d",
        rate=rate,
    )
    shares = []
    for seed in range(1, 11):
        k = simulate(scenario, seed=seed).kpis
        shares.append(k["calls_short_circuited"] / (k["calls_short_circuited"] + k["calls_total"]))
    theory = _refused_share_markov(
        ERROR_RATE,
        BREAKER["window"],
        BREAKER["min_calls"],
        BREAKER["failure_rate"],
        BREAKER["half_open_calls"],
        rate * BREAKER["open_for_s"],
    )
    assert_covers(t_interval(shares), theory, max_rel_half_width=0.05, label="share failed fast")


def test_calls_failed_fast_never_reach_the_bank_and_end_their_journey_as_circuit_open():
    scenario = _scenario(
        _breaker_client(), service='{ dist = "constant", value = "1ms" }', horizon="2h", rate=2.0
    )
    results = simulate(scenario, seed=1)
    k = results.kpis
    assert k["calls_short_circuited"] > 100
    log = results.tables["calls"]
    assert len(log) == k["calls_total"]  # the call log holds attempts only
    journeys = results.tables["journeys"].set_index("ending")["count"]
    assert journeys["failed_circuit_open"] == k["calls_short_circuited"]
    partner = results.tables["by_partner"].iloc[0]
    assert partner["calls_short_circuited"] == k["calls_short_circuited"]
    ts = results.tables["timeseries"]
    assert ts["calls_short_circuited"].sum() == k["calls_short_circuited"]
    assert ts["retries_suppressed"].sum() == 0
