"""The pure rate-limit algorithms against closed-form results.

Arrivals come from numpy Generators with fixed seeds (one independent stream per replication,
spawned from a SeedSequence); statistical statements are made on replication means with
Student-t confidence intervals, never on a single run, and each interval must be narrow: its
half width below a stated fraction of the quantity under test (:func:`theory.assert_covers`).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize, stats
from theory import assert_covers, t_interval

from openbank_sim.model.limits import FixedWindow, SlidingWindowLog, TokenBucket

CONFIDENCE = 0.99
# Power: each interval's half width must be below a stated fraction of the quantity under test,
# set at about 1.5-2x the relative half width the seeded replications give (noted as "seen").
TOKEN_BUCKET_MAX_REL_HALF_WIDTH_DEFICIT = 0.4  # of the mean deficit (~1 token); seen 0.22, 0.20


def streams(seed: int, n: int) -> list[np.random.Generator]:
    """``n`` independent generators for ``n`` replications."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


def poisson_arrivals(rng: np.random.Generator, rate: float, horizon: float) -> list[float]:
    """Arrival times (s) of a Poisson process of ``rate`` (1/s) on ``[0, horizon)``."""
    n = int(rate * horizon + 10 * math.sqrt(rate * horizon) + 100)
    times = np.cumsum(rng.exponential(1.0 / rate, size=n))
    assert times[-1] >= horizon  # enough gaps drawn
    return times[times < horizon].tolist()


def admitted_times(
    state: TokenBucket | FixedWindow | SlidingWindowLog, times: list[float]
) -> list[float]:
    """The gateway pattern for one limiter: check, consume when admitted."""
    admitted = []
    for now in times:
        if state.check(now) == 0.0:
            state.consume(now)
            admitted.append(now)
    return admitted


# --------------------------------------------------------------------------------------------
# (a) token bucket: admits burst + rate * T when fed faster than its rate
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "burst", "horizon"),
    [(5.0, 10, 100.0), (1.0, 1, 1000.0), (50.0, 200, 37.3), (0.3, 7, 500.0)],
)
def test_token_bucket_deterministic_overload(rate: float, burst: int, horizon: float) -> None:
    """Arrivals every 1/(3 rate) on [0, T] are admitted floor(burst + rate T) (+/- 1) times."""
    dt = 1.0 / (3.0 * rate)
    times = [i * dt for i in range(int(horizon / dt) + 1)]
    admitted = admitted_times(TokenBucket(rate, burst), times)
    assert abs(len(admitted) - math.floor(burst + rate * horizon)) <= 1
    # admitted at the full rate once the burst is gone: never more than the budget
    for n, t in enumerate(admitted, start=1):
        assert n <= burst + rate * t + 1e-6


def token_bucket_deficit(overload: float, budget: float) -> float:
    """E[budget - admitted] for a token bucket fed Poisson arrivals at ``overload`` x its rate.

    ``budget = burst + rate * T``. The deficit is the overflow loss ``L`` before the bucket
    leaves its cap plus the tokens ``X(T)`` left at T. With ``k = overload`` and ``a > 0`` the
    root of ``a = k (1 - exp(-a))``:

    * ``L ~ Exp(rate a)``: each stay at the cap loses ``rate * Exp(k rate)`` tokens, i.e.
      Exp(k) tokens, and the cap is revisited with probability ``exp(-a)`` (Lundberg root of
      ``Z(t) = 1 - rate t + N(t)``), so a geometric sum of Exp(k) is Exp(k (1 - exp(-a))).
    * every admission removes exactly one token, so the phase ``u = X(T) mod 1`` is fixed by
      ``L``: ``u = (budget - L) mod 1``. Given the phase, the level-crossing density
      ``f(x) = k (F(x + 1) - F(max(1, x)))`` (exponential of rate ``a`` above 1) puts
      ``X(T) = u + j`` with ``E[j | u] = exp(-a u) / (1 - exp(-a))``.

    Valid when the burst is large enough that the cap is not revisited after the initial drain
    (``exp(-a (burst - 1))`` negligible) and T is long.
    """
    a = optimize.brentq(lambda x: x - overload * (1.0 - math.exp(-x)), 1e-9, 10.0 * overload + 10)

    def integrand(loss: float) -> float:
        u = (budget - loss) % 1.0
        return (loss + u + math.exp(-a * u) / (1.0 - math.exp(-a))) * a * math.exp(-a * loss)

    upper = 60.0 / a
    breaks = [budget % 1.0 + i for i in range(math.ceil(upper))]
    return float(integrate.quad(integrand, 0.0, upper, points=breaks, limit=1000)[0])


@pytest.mark.parametrize(
    ("rate", "burst", "horizon", "overload"),
    [(5.0, 10, 1000.0, 3.0), (7.0, 12, 500.3, 4.0)],
)
def test_token_bucket_poisson_overload(
    rate: float, burst: int, horizon: float, overload: float
) -> None:
    """Poisson arrivals faster than the rate: burst + rate T minus about one token admitted."""
    replications = 30
    budget = burst + rate * horizon
    counts = np.array(
        [
            len(
                admitted_times(
                    TokenBucket(rate, burst), poisson_arrivals(rng, overload * rate, horizon)
                )
            )
            for rng in streams(20240601, replications)
        ],
        dtype=float,
    )
    assert np.all(counts <= budget + 1e-6)  # never more than the token budget
    assert np.all(counts >= budget - 4)  # a few tokens of slack at most (tiny variance)
    interval = t_interval(counts, CONFIDENCE)
    low, high = interval.low, interval.high
    assert high - low < 1.0
    # within a couple of tokens of the budget (the brief's +-1 is a bit too tight: the mean
    # deficit is 1.25 tokens for 3x overload, see token_bucket_deficit) ...
    assert budget - 2.0 <= low and high <= budget
    # ... and the exact expectation is inside the 99% interval. Power: against the count
    # (thousands of tokens) any interval looks narrow; what is tested is the deficit of about
    # one token, so the half width is bounded by a fraction of the deficit (an absolute bound,
    # in tokens)
    deficit = token_bucket_deficit(overload, budget)
    assert_covers(
        interval,
        budget - deficit,
        max_abs_half_width=TOKEN_BUCKET_MAX_REL_HALF_WIDTH_DEFICIT * deficit,
        label=f"admitted tokens (deficit {deficit:.4g})",
    )


# --------------------------------------------------------------------------------------------
# (b) fixed window: admits E[min(N, L)] per window with N ~ Poisson(lambda w)
# --------------------------------------------------------------------------------------------


def expected_min_poisson(mean: float, limit: int) -> float:
    """E[min(N, limit)] for N ~ Poisson(mean)."""
    k = np.arange(limit)
    return float(np.sum(k * stats.poisson.pmf(k, mean)) + limit * stats.poisson.sf(limit - 1, mean))


@pytest.mark.parametrize(
    ("rate", "window_s", "limit", "max_rel_half_width"),
    # seen: relative half widths 0.0043, 0.0030, 0.0039
    [
        pytest.param(10.0, 1.0, 10, 0.008, id="10.0-1.0-10"),
        pytest.param(2.0, 5.0, 8, 0.005, id="2.0-5.0-8"),
        pytest.param(0.5, 30.0, 16, 0.006, id="0.5-30.0-16"),
    ],
)
def test_fixed_window_poisson_mean_admitted(
    rate: float, window_s: float, limit: int, max_rel_half_width: float
) -> None:
    """Admitted per window: E[min(N, L)] in the interval, whose half width is below
    ``max_rel_half_width`` of it."""
    windows, replications = 1000, 20
    theory = expected_min_poisson(rate * window_s, limit)
    per_window = np.array(
        [
            len(
                admitted_times(
                    FixedWindow(limit, window_s),
                    poisson_arrivals(rng, rate, windows * window_s),
                )
            )
            / windows
            for rng in streams(7 + limit, replications)
        ]
    )
    admitted = t_interval(per_window, CONFIDENCE)
    assert_covers(
        admitted, theory, max_rel_half_width=max_rel_half_width, label="E[min(N, L)] per window"
    )
    assert theory < rate * window_s  # the limit really binds: not a trivial pass


# --------------------------------------------------------------------------------------------
# (c) sliding log: never more than L in any window of length w
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "window_s", "limit"), [(20.0, 1.0, 10), (3.0, 10.0, 25)])
def test_sliding_log_never_exceeds_limit(rate: float, window_s: float, limit: int) -> None:
    for rng in streams(99, 5):
        admitted = np.array(
            admitted_times(SlidingWindowLog(limit, window_s), poisson_arrivals(rng, rate, 500.0))
        )
        # admissions in [a, a + w) for every admitted a (the maximum over all windows is
        # attained at a window starting with an admission)
        in_window = np.searchsorted(admitted, admitted + window_s, side="left") - np.arange(
            len(admitted)
        )
        assert in_window.max() == limit  # reached (overloaded) but never exceeded
