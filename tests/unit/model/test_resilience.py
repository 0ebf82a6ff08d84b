"""The client's levers as state machines: the retry budget's sliding window and the circuit
breaker's count-based rule (Resilience4j), against hand-computed sequences and a Markov chain."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from openbank_sim.model.resilience import (
    BREAKER_STATES,
    CLOSED,
    HALF_OPEN,
    OPEN,
    CircuitBreaker,
    RetryBudget,
)
from openbank_sim.spec.types import CircuitBreakerSpec, RetryBudgetSpec


def _breaker(
    failure_rate=0.5, window=4, min_calls=2, open_for_s=10.0, half_open_calls=2
) -> tuple[CircuitBreaker, list[tuple[float, str, str]]]:
    log: list[tuple[float, str, str]] = []
    spec = CircuitBreakerSpec(
        failure_rate, window, min_calls, open_for_s, half_open_calls, frozenset({"error"})
    )
    return CircuitBreaker(
        spec, lambda t, a, b: log.append((t, BREAKER_STATES[a], BREAKER_STATES[b]))
    ), log


def _call(br: CircuitBreaker, t: float, failed: bool) -> bool:
    """One call at ``t`` whose outcome comes back at once; whether it was let through."""
    epoch = br.permit(t)
    if epoch < 0:
        return False
    br.record(t, failed, epoch)
    return True


# -- retry budget ------------------------------------------------------------------------------


def test_the_budget_allows_ratio_times_first_attempts_plus_the_reserve_per_window():
    budget = RetryBudget(RetryBudgetSpec(ratio=0.5, min_per_s=0.2, window_s=10.0))
    # reserve 0.2 x 10 = 2 retries per window with no first attempt at all
    assert budget.try_withdraw(0.0) and budget.try_withdraw(1.0)
    assert not budget.try_withdraw(2.0)
    for t in (3.0, 3.5):  # two first attempts: 0.5 x 2 = one retry more
        budget.deposit(t)
    assert budget.try_withdraw(4.0)
    assert not budget.try_withdraw(5.0)
    # at 10.0 the retry of 0.0 leaves the window (t - 10, t]; the one of 1.0 is still in it
    assert budget.try_withdraw(10.0)
    assert not budget.try_withdraw(10.5)
    # at 13.5 the deposits of 3.0 and 3.5 are gone too; in the window: 4.0 and 10.0
    assert not budget.try_withdraw(13.5)
    assert budget.try_withdraw(14.0)  # 4.0 left: 10.0 alone, room for one more


def test_a_zero_budget_allows_no_retry():
    budget = RetryBudget(RetryBudgetSpec(ratio=0.0, min_per_s=0.0, window_s=1.0))
    budget.deposit(0.0)
    assert not budget.try_withdraw(0.5)


# -- circuit breaker: hand-computed sequences ---------------------------------------------------


def test_the_breaker_opens_at_the_failure_rate_once_min_calls_are_in():
    br, log = _breaker(failure_rate=0.5, window=4, min_calls=3)
    assert _call(br, 1.0, True)  # 1 of 1 failed, but fewer than min_calls
    assert _call(br, 2.0, False)  # 1 of 2
    assert br.state == CLOSED
    assert _call(br, 3.0, False)  # 1 of 3: 0.33 < 0.5
    assert _call(br, 4.0, True)  # 2 of 4: 0.5 >= 0.5 -> open
    assert br.state == OPEN and log == [(4.0, "closed", "open")]
    assert not _call(br, 5.0, False) and not _call(br, 13.9, False)  # open for 10 s


def test_the_window_counts_only_the_last_calls():
    br, log = _breaker(failure_rate=0.5, window=4, min_calls=4)
    for t, failed in [(1, True), (2, False), (3, False), (4, False)]:  # 1 of 4
        _call(br, float(t), failed)
    _call(br, 5.0, False)  # the failure of t=1 leaves the window: 0 of 4
    _call(br, 6.0, True)  # 1 of 4
    _call(br, 7.0, True)  # 2 of 4 -> open
    assert log == [(7.0, "closed", "open")]


def test_half_open_lets_probes_through_and_their_share_decides():
    br, log = _breaker(failure_rate=0.5, window=4, min_calls=2, open_for_s=10.0, half_open_calls=2)
    _call(br, 0.0, True)
    _call(br, 1.0, True)  # open at 1, until 11
    assert not _call(br, 10.999, False)
    # the first call after 11 finds the breaker half-open since 11
    e1 = br.permit(12.0)
    e2 = br.permit(12.5)
    assert e1 >= 0 and e2 >= 0 and br.permit(12.6) == -1  # only two probes at a time
    br.record(13.0, True, e1)
    assert br.state == HALF_OPEN
    br.record(13.5, False, e2)  # 1 of 2 failed: 0.5 >= 0.5 -> open again
    assert br.state == OPEN
    assert not _call(br, 23.4, False)
    assert _call(br, 23.6, False) and _call(br, 24.0, False)  # half-open since 23.5: 0 of 2
    assert br.state == CLOSED
    assert log == [
        (1.0, "closed", "open"),
        (11.0, "open", "half_open"),
        (13.5, "half_open", "open"),
        (23.5, "open", "half_open"),
        (24.0, "half_open", "closed"),
    ]
    # closed again with a fresh window: one failure among fewer than min_calls keeps it closed
    _call(br, 25.0, True)
    assert br.state == CLOSED


def test_outcomes_of_calls_let_through_before_a_state_change_are_ignored():
    br, log = _breaker(failure_rate=0.5, window=4, min_calls=2)
    late = br.permit(0.0)  # a slow call, let through while closed
    _call(br, 1.0, True)
    _call(br, 2.0, True)  # open
    br.record(3.0, False, late)  # its outcome belongs to the closed state that is gone
    assert br.state == OPEN and len(log) == 1


def test_a_probe_whose_outcome_never_comes_back_gives_its_permit_back():
    br, _ = _breaker(half_open_calls=1)
    _call(br, 0.0, True)
    _call(br, 1.0, True)  # open until 11
    probe = br.permit(11.0)
    assert probe >= 0 and br.permit(11.5) == -1
    br.release(probe)  # the user left; no outcome
    assert br.permit(12.0) >= 0


# -- circuit breaker: the long-run share of calls refused, against a Markov chain ---------------


def _refused_share_markov(
    p: float, window: int, min_calls: int, rate: float, half_open: int, open_calls: float
) -> float:
    """Long-run share of calls the breaker refuses when each call fails with probability ``p``
    independently and its outcome is known at once; an open period refuses ``open_calls``
    calls on average (arrivals at ``rate`` for ``open_for``: Poisson, so the first call after
    it is the first probe).

    The chain runs over the calls let through: closed states are the ring's content (the last
    ``min(n, window)`` outcomes since it closed), half-open states the probes' outcomes so far.
    Each entry into the open state refuses ``open_calls`` calls, so the share refused is
    ``r * open_calls / (1 + r * open_calls)`` with ``r`` the entries into the open state per
    call let through (renewal reward)."""
    states: list[tuple] = [
        ("C", bits) for n in range(window + 1) for bits in itertools.product((0, 1), repeat=n)
    ]
    states += [("H", j, f) for j in range(half_open) for f in range(j + 1)]
    index = {s: i for i, s in enumerate(states)}
    n = len(states)
    P = np.zeros((n, n))
    opens = np.zeros(n)  # probability that the next call let through opens the breaker
    for s in states:
        i = index[s]
        for failed, q in ((1, p), (0, 1.0 - p)):
            if s[0] == "C":
                bits = (*s[1], failed)[-window:]
                if len(bits) >= min_calls and sum(bits) / len(bits) >= rate:
                    P[i, index[("H", 0, 0)]] += q
                    opens[i] += q
                else:
                    P[i, index[("C", bits)]] += q
            else:
                j, f = s[1] + 1, s[2] + failed
                if j < half_open:
                    P[i, index[("H", j, f)]] += q
                elif f / j >= rate:
                    P[i, index[("H", 0, 0)]] += q
                    opens[i] += q
                else:
                    P[i, index[("C", ())]] += q
    # stationary distribution: pi P = pi, sum pi = 1
    A = np.vstack([P.T - np.eye(n), np.ones(n)])
    b = np.zeros(n + 1)
    b[-1] = 1.0
    pi = np.linalg.lstsq(A, b, rcond=None)[0]
    r = float(pi @ opens)
    return r * open_calls / (1.0 + r * open_calls)


@pytest.mark.parametrize("p", [0.2, 0.4])
def test_the_share_of_calls_refused_on_a_bernoulli_stream_matches_the_markov_chain(p):
    window, min_calls, rate, half_open, open_for, arrivals = 5, 3, 0.5, 2, 4.0, 1.0
    theory = _refused_share_markov(p, window, min_calls, rate, half_open, arrivals * open_for)
    shares = []
    for seed in range(20):
        gen = np.random.default_rng(seed)
        br, _ = _breaker(rate, window, min_calls, open_for, half_open)
        times = np.cumsum(gen.exponential(1.0 / arrivals, 20_000))
        fails = gen.random(times.size) < p
        refused = sum(
            not _call(br, t, f) for t, f in zip(times.tolist(), fails.tolist(), strict=True)
        )
        shares.append(refused / times.size)
    mean = float(np.mean(shares))
    half = 2.861 * float(np.std(shares, ddof=1)) / math.sqrt(len(shares))  # 99 %, 19 df
    assert abs(mean - theory) <= half, (mean, half, theory)
    assert half < 0.05 * theory  # narrow enough to mean it
