"""Deadline-aware queues (``drop_expired``) against theory and against a brute-force simulation.

With ``drop_expired = true`` an attempt whose client deadline (its arrival plus the client's
timeout) passes before its service would start is dropped at its deadline, unserved. The pool
knows every start at arrival (the Lindley recursion), so the rule is M/M/c+D with *balking on
the virtual waiting time*: an arrival joins iff the wait ``V`` it would have is at most ``T``.

Theory (derived here by level crossing; no reference needed). Let ``k = c mu - lam``. The
virtual wait has atoms ``pi_n = pi_0 a^n / n!`` at 0 with ``n < c`` busy (``a = lam / mu``), and
a density ``v(x) = lam pi_{c-1} e^{-k x}`` on ``(0, T]`` (an arrival at ``V = y < T`` adds an
``Exp(c mu)`` to the next arrival's wait, ``Exp(c mu)`` being the first of ``c`` exponential
residuals; ``v(x) = lam [pi_{c-1} e^{-c mu x} + int_0^x v(y) e^{-c mu (x - y)} dy]`` has that
solution) and ``v(T) e^{-c mu (x - T)}`` beyond ``T``, where no one joins. So

* ``P(drop) = P(V > T) = lam pi_{c-1} e^{-k T} / (c mu)``, with ``pi_0`` from
  ``pi_0 [sum_{n<c} a^n/n! + a^{c-1}/(c-1)! (lam (1 - e^{-kT}) / k + lam e^{-kT} / (c mu))] = 1``
  (``(1 - e^{-kT}) / k -> T`` at ``k = 0``); for ``c = 1``:
  ``P = (1 - rho) rho e^{-(mu - lam) T} / (1 - rho^2 e^{-(mu - lam) T})``.
* every arrival waits ``min(V, T)`` (a dropped one until its deadline), so Little gives the mean
  queue length ``lam E[min(V, T)]``; the busy servers are ``a (1 - P(drop))``;
* the client times out when dropped or when ``V + S > T``:
  ``P(timeout) = P(drop) + e^{-mu T} [sum_{n<c} pi_n + lam pi_{c-1} (1 - e^{-jT}) / j]``
  with ``j = (c - 1) mu - lam`` (``T`` at ``j = 0``).

Erlang C's ``P(W > T)`` is *not* the dropped share: dropping removes work and shortens the
others' waits (the tests below would reject it).

Checks: the model's pool against a brute-force event simulation with an explicit queue
(:mod:`pool_reference`), attempt by attempt and exactly, with queue limits, capacity schedules
and shedding; the model and the brute force each against the formulas with replications and
99% intervals; a lever that cannot bind changes nothing, bit for bit.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from pool_reference import DROPPED as REF_DROPPED
from pool_reference import REFUSED, SERVED, SHED, Fate, simulate_pool
from theory import assert_covers, replicate, t_interval, users_for

from openbank_sim import Results, Scenario, load_scenario, simulate
from openbank_sim.model.bank import DROPPED, REJECTED, BackendPool

CONFIDENCE = 0.99


# --------------------------------------------------------------------------------------------
# Theory: M/M/c+D with balking on the virtual waiting time
# --------------------------------------------------------------------------------------------


def _int_exp(rate: float, t: float) -> float:
    """``int_0^t e^{-rate x} dx``."""
    return t if rate == 0.0 else -math.expm1(-rate * t) / rate


def mmc_deadline(c: int, lam: float, mean_service_s: float, t: float) -> dict[str, float]:
    """P(drop), mean queue length, mean busy servers and P(timeout) of M/M/c+D (see above)."""
    mu = 1.0 / mean_service_s
    a = lam / mu
    k = c * mu - lam
    terms = [a**n / math.factorial(n) for n in range(c)]
    tail = terms[-1] * (lam * _int_exp(k, t) + lam * math.exp(-k * t) / (c * mu))
    pi0 = 1.0 / (sum(terms) + tail)
    pi_top = pi0 * terms[-1]
    drop = lam * pi_top * math.exp(-k * t) / (c * mu)
    # int_0^T x e^{-k x} dx
    xk = t * t / 2.0 if k == 0.0 else (1.0 - math.exp(-k * t) * (1.0 + k * t)) / (k * k)
    wait = lam * pi_top * xk + t * drop  # E[min(V, T)]
    j = (c - 1) * mu - lam
    late = math.exp(-mu * t) * (pi0 * sum(terms) + lam * pi_top * _int_exp(j, t))
    return {
        "drop": drop,
        "queue_length": lam * wait,
        "busy": a * (1.0 - drop),
        "timeout": drop + late,
    }


def test_the_closed_form_of_one_server() -> None:
    """For c = 1 the general form is the M/M/1+D closed form (the issue's, verified)."""
    lam, mu, t = 0.9, 1.0, 2.0
    rho, e = lam / mu, math.exp(-(mu - lam) * t)
    closed = (1 - rho) * rho * e / (1 - rho**2 * e)
    assert mmc_deadline(1, lam, 1.0 / mu, t)["drop"] == pytest.approx(closed, rel=1e-12)
    # at rho = 1 the limit is 1 / (2 + lam T)
    assert mmc_deadline(1, 1.0, 1.0, t)["drop"] == pytest.approx(1.0 / (2.0 + t), rel=1e-12)


# --------------------------------------------------------------------------------------------
# The pool against the brute-force simulation, attempt by attempt
# --------------------------------------------------------------------------------------------


def pool_fates(pool: BackendPool, arrivals, services, deadlines, background) -> list[Fate]:
    """Run the attempts through :meth:`BackendPool.admit_levered`; their fates."""
    fates = []
    for now, s, d, bg in zip(arrivals, services, deadlines, background, strict=True):
        refused = pool.rejected  # queue full (all run long; the shed count is the window's)
        wait = pool.admit_levered(now, s, now, d, bg)
        if wait == DROPPED:
            fates.append(Fate(REF_DROPPED, d if d > now else now))
        elif wait == REJECTED:
            fates.append(Fate(REFUSED if pool.rejected > refused else SHED, now))
        else:
            fates.append(Fate(SERVED, now + wait))
    return fates


def random_attempts(seed: int, n: int, rate: float, timeout_s: float):
    """Poisson arrivals, exponential 1 s services, deadlines ``arrival + T`` with ``T`` mostly
    ``timeout_s`` but sometimes 0, a tenth or less than 0 (attempts that reach the pool late),
    and a third of them background."""
    gen = np.random.default_rng(seed)
    arrivals = np.cumsum(gen.exponential(1.0 / rate, n)).tolist()
    services = gen.exponential(1.0, n).tolist()
    timeouts = gen.choice([timeout_s, timeout_s, timeout_s, 0.1 * timeout_s, 0.0, -0.5], n)
    deadlines = (np.asarray(arrivals) + timeouts).tolist()
    background = (gen.random(n) < 1 / 3).tolist()
    return arrivals, services, deadlines, background


CAPACITIES: dict[str, tuple[list[float], list[int]]] = {
    "fixed-1": ([0.0], [1]),
    "fixed-3": ([0.0], [3]),
    "schedule": ([0.0, 60.0, 150.0, 400.0, 700.0], [2, 1, 4, 1, 3]),
}


@pytest.mark.parametrize("capacity", list(CAPACITIES))
@pytest.mark.parametrize(
    ("queue_limit", "shed_above", "drop_expired"),
    [
        (None, None, True),
        (3, None, True),
        (0, None, True),
        (None, 2, True),
        (4, 1, True),
        (None, 0, True),
        (None, 3, False),
        (2, 2, False),
    ],
)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_pool_is_the_brute_force_attempt_by_attempt(
    capacity: str, queue_limit: int | None, shed_above: int | None, drop_expired: bool, seed: int
) -> None:
    """Every attempt's fate and start (or drop time) is the brute force's, exactly; busy and
    waiting seconds inside a window agree to rounding; the counters count the window."""
    times, caps = CAPACITIES[capacity]
    load = 1.3 * sum(caps) / len(caps)  # overloaded on average: queues, drops and refusals
    arrivals, services, deadlines, background = random_attempts(seed, 3000, load, 2.0)
    window = (100.0, arrivals[-1] - 100.0)
    schedule = (times, caps) if len(times) > 1 else None
    pool = BackendPool(
        "core", caps[0], queue_limit, window, schedule, None, drop_expired, shed_above
    )
    assert pool.levers
    got = pool_fates(pool, arrivals, services, deadlines, background)
    want, totals = simulate_pool(
        arrivals,
        services,
        deadlines,
        background,
        (times, caps),
        drop_expired=drop_expired,
        queue_limit=queue_limit,
        shed_above=shed_above,
        window=window,
    )
    assert got == want
    kinds = {kind: sum(f.kind == kind for f in want) for kind in (REF_DROPPED, REFUSED, SHED)}
    assert kinds[REF_DROPPED] > 0 or not drop_expired
    assert kinds[SHED] > 0 or shed_above is None
    assert pool.busy_s == pytest.approx(totals.busy_s, rel=1e-12)
    assert pool.queue_s == pytest.approx(totals.queue_s, rel=1e-12)
    inside = [window[0] <= t < window[1] for t in arrivals]
    assert pool.dropped_expired == sum(
        f.kind == REF_DROPPED and w for f, w in zip(want, inside, strict=True)
    )
    assert pool.shed_background == sum(
        f.kind == SHED and w for f, w in zip(want, inside, strict=True)
    )
    assert pool.admitted == sum(f.kind in (SERVED, REF_DROPPED) for f in want)
    if queue_limit is not None:
        assert pool.rejected == kinds[REFUSED]
    assert pool.entries <= max(caps) + caps[0] + (queue_limit or 0) + (shed_above or 0)


@pytest.mark.parametrize("capacity", list(CAPACITIES))
@pytest.mark.parametrize("queue_limit", [None, 2])
def test_no_deadline_is_admit_bit_for_bit(capacity: str, queue_limit: int | None) -> None:
    """With infinite deadlines, ``admit_levered`` gives what ``admit`` gives, bit for bit."""
    times, caps = CAPACITIES[capacity]
    schedule = (times, caps) if len(times) > 1 else None
    arrivals, services, _, background = random_attempts(7, 3000, 1.2 * max(caps), 1.0)
    window = (50.0, arrivals[-1])
    plain = BackendPool("core", caps[0], queue_limit, window, schedule)
    levered = BackendPool("core", caps[0], queue_limit, window, schedule, None, True)
    assert not plain.levers and levered.levers
    for now, s, bg in zip(arrivals, services, background, strict=True):
        assert levered.admit_levered(now, s, now, math.inf, bg) == plain.admit(now, s)
    for name in ("busy_s", "queue_s", "admitted", "rejected"):
        assert getattr(levered, name) == getattr(plain, name), name
    assert levered.dropped_expired == 0
    if queue_limit is not None:
        assert levered.queue_length(arrivals[-1]) == plain.queue_length(arrivals[-1])


# --------------------------------------------------------------------------------------------
# The brute force against theory (independent of the model)
# --------------------------------------------------------------------------------------------

# (servers, arrival rate /s, timeout s) with 1 s mean service: moderate, heavy, overloaded
CASES = {
    "M/M/1+D rho 0.9": (1, 0.9, 2.0),
    "M/M/4+D rho 0.95": (4, 3.8, 0.5),
    "M/M/2+D rho 1.3": (2, 2.6, 1.0),
}
BRUTE_FORCE_BOUND = 0.04  # power: relative half width of P(drop), seen 0.026


@pytest.mark.parametrize("case", list(CASES))
def test_the_brute_force_matches_the_formula(case: str) -> None:
    """The brute-force simulation's dropped share estimates P(drop) (12 replications)."""
    c, lam, t = CASES[case]
    theory = mmc_deadline(c, lam, 1.0, t)
    shares = []
    for seed in range(12):
        gen = np.random.default_rng(9100 + seed)
        n = 30_000
        arrivals = np.cumsum(gen.exponential(1.0 / lam, n)).tolist()
        services = gen.exponential(1.0, n).tolist()
        deadlines = [a + t for a in arrivals]
        fates, _ = simulate_pool(arrivals, services, deadlines, [False] * n, ([0.0], [c]))
        kept = fates[n // 10 :]  # the first tenth warms up
        shares.append(sum(f.kind == REF_DROPPED for f in kept) / len(kept))
    assert_covers(
        t_interval(shares, CONFIDENCE),
        theory["drop"],
        max_rel_half_width=BRUTE_FORCE_BOUND,
        label=f"{case}: brute-force P(drop)",
    )


# --------------------------------------------------------------------------------------------
# The model against theory
# --------------------------------------------------------------------------------------------


def deadline_scenario(
    c: int, lam: float, timeout_s: float, horizon: str, record_calls: bool = False, **pool: Any
) -> Scenario:
    """One pool ``core`` of ``c`` servers dropping expired attempts, exponential 1 s service,
    Poisson arrivals of ``lam``/s, one attempt per call with a ``timeout_s`` timeout, no
    gateway features (so an attempt reaches the pool when it arrives)."""
    raw = {
        "run": {
            "horizon": horizon,
            "warmup": "30m",
            "record_calls": "all" if record_calls else "none",
        },
        "bank": {
            "pools": {"core": {"servers": c, "drop_expired": True, **pool}},
            "products": {
                "pay": {"pool": "core", "service_time": {"dist": "exponential", "mean": "1s"}}
            },
        },
        "client": {"timeout": f"{timeout_s}s", "max_attempts": 1},
        "journeys": {"buy": {"steps": [{"product": "pay"}]}},
        "partners": [
            {
                "name": "shop",
                "users": users_for(lam),
                "sessions_per_user_day": 1.0,
                "journey": "buy",
            }
        ],
    }
    return Scenario(raw)


def core(results: Results) -> Any:
    return results.tables["by_pool"].set_index("pool").loc["core"]


# power: relative half widths, about 1.5-2x the largest these seeds give over the three cases
# (seen: drop 0.016, queue length 0.014, busy 0.0059, timeout 0.010)
MODEL_BOUNDS = {"drop": 0.03, "queue_length": 0.025, "busy": 0.01, "timeout": 0.02}


@pytest.mark.parametrize("case", list(CASES))
def test_the_model_matches_the_formula(case: str) -> None:
    """KPI ``calls_dropped_expired`` over ``calls_total`` estimates P(drop); by_pool's mean
    queue length, busy servers and the timeout share their theory values (8 replications)."""
    c, lam, t = CASES[case]
    theory = mmc_deadline(c, lam, 1.0, t)
    runs = replicate(deadline_scenario(c, lam, t, "12h"), 9200, 8)
    measured_s = 11.5 * 3600.0
    for r in runs:
        k = r.kpis
        assert k["calls_dropped_expired"] == core(r)["dropped_expired"]
        assert 0 < k["calls_dropped_expired"] < k["calls_timeout"]
        assert k["calls_timeout"] + k["calls_ok"] + k["calls_error"] == k["calls_total"]
    estimates = {
        "drop": [r.kpis["calls_dropped_expired"] / r.kpis["calls_total"] for r in runs],
        "queue_length": [core(r)["mean_queue_length"] for r in runs],
        "busy": [core(r)["mean_busy_servers"] for r in runs],
        "timeout": [r.kpis["calls_timeout"] / r.kpis["calls_total"] for r in runs],
    }
    for name, values in estimates.items():
        assert_covers(
            t_interval(values, CONFIDENCE),
            theory[name],
            max_rel_half_width=MODEL_BOUNDS[name],
            label=f"{case}: {name}",
        )
    # Little's law on the queue: the waits recorded (a dropped attempt's up to its deadline)
    for r in runs:
        wait_total = r.kpis["backend_wait_mean_s"] * core(r)["admitted"]
        assert core(r)["mean_queue_length"] * measured_s == pytest.approx(wait_total, rel=2e-3)


def test_erlang_c_is_not_the_dropped_share() -> None:
    """The issue's suggestion, ``P(W > T)`` of M/M/c without drops, is far off (and would fail
    the test above): dropping shortens the waits of those who stay."""
    c, lam, t = CASES["M/M/1+D rho 0.9"]
    erlang_c_tail = 0.9 * math.exp(-(1.0 - lam) * t)  # M/M/1: P(W > T) = rho e^{-(mu - lam) T}
    assert erlang_c_tail > 3.0 * mmc_deadline(c, lam, 1.0, t)["drop"]


# --------------------------------------------------------------------------------------------
# The call log, and levers that cannot bind
# --------------------------------------------------------------------------------------------


def test_dropped_attempts_in_the_call_log() -> None:
    """A dropped attempt is a timeout with latency the timeout and a wait of the whole timeout
    (it arrived at the pool when it arrived); a served one waited at most the timeout."""
    t = 1.0
    r = simulate(deadline_scenario(2, 2.6, t, "2h", record_calls=True), seed=9300)
    calls = r.tables["calls"]
    timeout = (calls["outcome"] == "timeout").to_numpy()
    wait = calls["wait_s"].to_numpy()
    dropped = timeout & np.isclose(wait, t, rtol=0.0, atol=1e-9)
    assert (calls["latency_s"].to_numpy()[timeout] == t).all()
    assert (wait[~dropped] < t).all()
    inside = (calls["t_s"] >= 1800.0).to_numpy()
    assert dropped[inside].sum() == core(r)["dropped_expired"] == r.kpis["calls_dropped_expired"]
    assert dropped[inside].sum() > 100


def test_a_deadline_that_never_binds_changes_nothing() -> None:
    """``drop_expired`` with a timeout no wait reaches gives the numbers of the scenario
    without it, bit for bit (medical: gateway, auth, limits, retries, a direct partner)."""
    over = {"run.horizon": "1d", "client.timeout": "1d"}
    base = simulate(load_scenario("medical", overrides=over), seed=3)
    on = simulate(
        load_scenario("medical", overrides={**over, "bank.pools.core.drop_expired": True}), seed=3
    )
    assert on.kpis == base.kpis
    assert on.kpis["calls_dropped_expired"] == 0
    for name in base.tables:
        assert on.tables[name].equals(base.tables[name]), name
