"""Closed forms of queueing theory and replication statistics for the validation tests.

Notation: ``c`` servers, arrival rate ``lam`` (per second), mean service time ``mean_service_s``
(seconds), offered load ``a = lam * mean_service_s`` (Erlangs), utilization ``rho = a / c``.

* Erlang B (M/M/c/c loss, insensitive to the service distribution), by the stable recursion
  ``B(0) = 1``, ``B(k) = a B(k-1) / (k + a B(k-1))``.
* Erlang C (M/M/c probability of waiting) from Erlang B:
  ``C = B(c) / (1 - rho (1 - B(c)))``, and ``Wq = C * mean_service_s / (c (1 - rho))``.
* M/M/c/K (``K = c + queue_limit`` in the system at most): stationary probabilities
  ``p_n ∝ a^n / n!`` for ``n <= c`` and ``p_n ∝ a^c / c! * rho^(n - c)`` for ``c < n <= K``,
  computed in log space; by PASTA an arrival is blocked with probability ``p_K``; admitted
  arrivals wait on average ``Wq = Lq / (lam (1 - p_K))`` with ``Lq = sum (n - c) p_n``
  (Little's law on the queue).

A statement "the closed form lies in the interval" passes trivially when the interval is wide,
so every such statement also checks its **power**: :func:`assert_covers` asserts coverage and
that the interval's half width is below a stated fraction of the theory value
(``max_rel_half_width``), or, where the theory value is zero or near zero, below a stated
absolute bound (``max_abs_half_width``). Each test names its bound, chosen with margin from
the half width its seeded replications achieve.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from scipy.special import gammaln, logsumexp

from openbank_sim import Results, Scenario, simulate

__all__ = [
    "Interval",
    "MMcK",
    "assert_covers",
    "assert_power",
    "erlang_b",
    "erlang_c",
    "mmc_wq_s",
    "mmck",
    "t_interval",
]


def erlang_b(servers: int, offered_erlangs: float) -> float:
    """Erlang B blocking probability of M/M/c/c with ``servers`` and ``offered_erlangs``."""
    if servers < 0 or offered_erlangs < 0:
        raise ValueError("servers and offered load must be non-negative")
    b = 1.0
    for k in range(1, servers + 1):
        b = offered_erlangs * b / (k + offered_erlangs * b)
    return b


def erlang_c(servers: int, offered_erlangs: float) -> float:
    """Erlang C: probability that an arrival waits in M/M/c (requires ``a < c``)."""
    rho = offered_erlangs / servers
    if not 0.0 <= rho < 1.0:
        raise ValueError(f"M/M/c is unstable at rho = {rho}")
    b = erlang_b(servers, offered_erlangs)
    return b / (1.0 - rho * (1.0 - b))


def mmc_wq_s(servers: int, arrival_rate_per_s: float, mean_service_s: float) -> float:
    """Mean queue wait Wq (s) of M/M/c: ``C(c, a) * E[S] / (c (1 - rho))``."""
    a = arrival_rate_per_s * mean_service_s
    rho = a / servers
    return erlang_c(servers, a) * mean_service_s / (servers * (1.0 - rho))


@dataclass(frozen=True)
class MMcK:
    """Stationary measures of M/M/c/K.

    Attributes:
        blocking: probability that an arrival finds K in the system (``p_K``).
        lq: mean number waiting (not in service).
        wq_admitted_s: mean queue wait of admitted arrivals, seconds.
        busy_servers: mean number of busy servers, ``a (1 - p_K)``.
    """

    blocking: float
    lq: float
    wq_admitted_s: float
    busy_servers: float


def mmck(servers: int, queue_limit: int, arrival_rate_per_s: float, mean_service_s: float) -> MMcK:
    """M/M/c/K with ``K = servers + queue_limit``, computed in log space (any load)."""
    c, k_max = servers, servers + queue_limit
    a = arrival_rate_per_s * mean_service_s
    n = np.arange(k_max + 1)
    log_p = np.where(
        n <= c,
        n * math.log(a) - gammaln(n + 1),
        c * math.log(a) - gammaln(c + 1) + (n - c) * math.log(a / c),
    )
    p = np.exp(log_p - logsumexp(log_p))
    blocking = float(p[-1])
    lq = float(np.sum(np.maximum(n - c, 0) * p))
    admitted_rate = arrival_rate_per_s * (1.0 - blocking)
    return MMcK(
        blocking=blocking,
        lq=lq,
        wq_admitted_s=lq / admitted_rate,
        busy_servers=a * (1.0 - blocking),
    )


@dataclass(frozen=True)
class Interval:
    """A Student-t confidence interval of a mean over replications."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def half_width(self) -> float:
        """Half the interval's width."""
        return (self.high - self.low) / 2.0

    def __str__(self) -> str:
        return (
            f"{self.mean:.6g} [{self.low:.6g}, {self.high:.6g}] ({self.confidence:.0%}, n={self.n})"
        )


def t_interval(values: Sequence[float], confidence: float = 0.99) -> Interval:
    """Student-t interval (``scipy.stats.t``) of the mean of independent replication values."""
    x = np.asarray(values, dtype=float)
    n = x.size
    if n < 2:
        raise ValueError("a t-interval needs at least two replications")
    mean = float(x.mean())
    half = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return Interval(mean, mean - half, mean + half, n, confidence)


def assert_power(
    half_width: float,
    theory: float,
    *,
    max_rel_half_width: float | None = None,
    max_abs_half_width: float | None = None,
    label: str,
) -> None:
    """Assert that an interval of ``half_width`` around an estimate of ``theory`` is narrow.

    Exactly one bound is given: ``max_rel_half_width`` (``half_width < max_rel_half_width *
    |theory|``) or, for a theory value that is zero or near zero, ``max_abs_half_width``
    (``half_width < max_abs_half_width``, in the units of the estimate).
    """
    if (max_rel_half_width is None) == (max_abs_half_width is None):
        raise ValueError("give exactly one of max_rel_half_width and max_abs_half_width")
    if max_rel_half_width is not None:
        if theory == 0.0:
            raise ValueError(f"{label}: theory value 0, give max_abs_half_width instead")
        bound = max_rel_half_width * abs(theory)
        assert half_width < bound, (
            f"{label}: interval too wide to test the theory: half width {half_width:.4g} is not "
            f"below {max_rel_half_width:g} x theory {theory:.6g} (= {bound:.4g}); relative "
            f"half width {half_width / abs(theory):.4g}"
        )
    else:
        assert max_abs_half_width is not None
        assert half_width < max_abs_half_width, (
            f"{label}: interval too wide to test the theory: half width {half_width:.4g} is not "
            f"below the absolute bound {max_abs_half_width:g} (theory {theory:.6g})"
        )


def assert_covers(
    interval: Interval,
    theory: float,
    *,
    max_rel_half_width: float | None = None,
    max_abs_half_width: float | None = None,
    label: str,
) -> None:
    """Assert that ``interval`` contains ``theory`` and is narrow enough to mean it.

    Coverage: ``interval.low <= theory <= interval.high``. Power: :func:`assert_power` on
    ``interval.half_width`` with the given bound (relative to ``theory``, or absolute where
    ``theory`` is zero or near zero).
    """
    assert theory in interval, f"{label} = {theory:.6g}, model {interval}"
    assert_power(
        interval.half_width,
        theory,
        max_rel_half_width=max_rel_half_width,
        max_abs_half_width=max_abs_half_width,
        label=label,
    )


# --------------------------------------------------------------------------------------------
# The single-pool scenario the queueing validations run, and their replications
# --------------------------------------------------------------------------------------------

SESSIONS_PER_USER_DAY = 1.0


def users_for(arrival_rate_per_s: float) -> int:
    """Users giving ``arrival_rate_per_s`` sessions per second at one session per user-day."""
    users = arrival_rate_per_s * 86400.0 / SESSIONS_PER_USER_DAY
    assert math.isclose(users, round(users), abs_tol=1e-6), "choose a whole number of users"
    return round(users)


def single_pool_scenario(
    pool: dict[str, Any],
    arrival_rate_per_s: float,
    mean_service_s: float,
    horizon: str,
    warmup: str,
    record_calls: bool = False,
) -> Scenario:
    """One pool ``core`` (as given), Poisson arrivals, exponential service of the given mean."""
    raw = {
        "run": {
            "horizon": horizon,
            "warmup": warmup,
            "record_calls": "all" if record_calls else "none",
        },
        "bank": {
            "pools": {"core": pool},
            "products": {
                "pay": {
                    "pool": "core",
                    "service_time": {"dist": "exponential", "mean": f"{mean_service_s}s"},
                }
            },
        },
        "journeys": {"buy": {"steps": [{"product": "pay"}]}},
        "partners": [
            {
                "name": "shop",
                "users": users_for(arrival_rate_per_s),
                "sessions_per_user_day": SESSIONS_PER_USER_DAY,
                "journey": "buy",
            }
        ],
    }
    return Scenario(raw)


def replicate(scenario: Scenario, base_seed: int, replications: int) -> list[Results]:
    """``replications`` independent runs with seeds ``base_seed, base_seed + 1, ...``."""
    return [simulate(scenario, seed=base_seed + r) for r in range(replications)]
