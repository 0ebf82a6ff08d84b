"""Feasibility: what a run will cost, estimated from the spec alone before it starts.

:func:`estimate` integrates every partner's session rate over the horizon (the same rate as the
model's arrivals: users x sessions_per_user_day x profile x growth, from each go-live), adds
the partners that onboarding is expected to bring live, multiplies by the journey's expected
calls and retries, and turns sessions and attempts into run time and memory with the engine
rates below. It needs milliseconds, whatever the horizon: the integral is taken day by day
(each day's hourly shape has mean 1), so a hundred-year horizon is 36,525 terms. Windowed runs
simulate only their windows; the sessions booked between windows cost no engine time.

:func:`check` refuses a run whose estimate exceeds :class:`Limits` (by default 10^9 attempts,
24 h of run time, or more memory than this machine has) with one
:class:`InfeasibleRunError` that names the key driving the estimate and the remedies. It also
refuses a run whose queues would drain past a clock of 100 years (sessions under way at the
horizon finish, so a pool offered more work than its servers can do serves its queue after
the horizon, and the run simulates that time).

The estimate is an order of magnitude, not a forecast: retries are counted from the products'
error rates only (not from overload), and onboarding ignores queueing for engineers.
``docs/scenario-format.md`` ("Feasibility") gives its accuracy on the shipped scenarios.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ScenarioError
from .bounds import DURATION
from .profiles import Profile, _event_occurrences
from .types import JourneySpec, PartnerSpec, ProductSpec, Spec
from .units import SECONDS_PER_DAY, SECONDS_PER_HOUR, SECONDS_PER_MONTH, SECONDS_PER_YEAR

__all__ = [
    "ENGINE_ATTEMPTS_PER_S",
    "Estimate",
    "InfeasibleRunError",
    "Limits",
    "check",
    "estimate",
    "machine_memory_bytes",
    "partner_entries",
]

# --------------------------------------------------------------------------------------------
# Engine rates, measured on the development machine (Linux x86_64, 2 CPUs, load average below
# 1, Python 3.11.7, SimPy 4.1.2) with the shipped scenarios run one by one
#     .venv/bin/python benchmarks/bench_feasibility.py --all
# (simulate() wall time, tables included: ecommerce 101,000 attempts/s, education 87,000,
# singles_day 87,000, uk_open_banking 85,000, medical 150,000, retry_storm 167,000,
# mmc_validation 446,000), with benchmarks/bench_engine.py (a peak of 188 MB for 5 million calls
# against 172 MB for the imports alone), and with 2,000 copies of a small partner for an hour
# (0.59 s). The rate takes the busier scenarios' (gateway, several partners, unattended
# traffic): the estimate errs long for simple ones such as an M/M/c.

ENGINE_ATTEMPTS_PER_S = 100_000.0
"""Attempts the engine simulates per second of wall time (benchmarks/bench_feasibility.py)."""
STARTUP_S = 0.2
"""Fixed cost of a run: building the world, then the result tables."""
PARTNER_S = 3e-4
"""Run time per partner (its runtime, streams and table rows): 2,000 copies of a small
partner took 0.59 s."""
PARTNER_WINDOW_S = 1.2e-3
"""Run time per partner and observation window of windowed traffic (each window sets every
live partner up again): traditional_vs_api, 96 partners in 78 windows, took 16.9 s in all."""
PARTNER_HOUR_S = 1e-6
"""Run time per partner and hour booked by windowed traffic."""

BASE_BYTES = 190e6
"""Python with numpy, pandas, SimPy and the package imported (172 MB), plus a small run."""
PARTNER_BYTES = 24e3
"""Per partner: runtime, random streams and their pre-drawn blocks (2,000 copies: 42 MB)."""
ARRIVAL_BYTES = 40.0
"""Per arrival time of a partner's current block (a numpy float and a Python float)."""
ARRIVAL_BLOCK = 32_768
"""Most arrivals of one block (``spec.profiles.sample_nhpp_blocks``)."""
HOUR_BYTES = 24.0
"""Per partner and hour of the horizon: the rate pieces a partner's arrivals walk through."""
WINDOWED_HOUR_BYTES = 64.0
"""Per partner and hour of a windowed run: expected sessions and booking (traditional_vs_api:
164 MB above the base for 111 partners over 26,298 hours)."""
CELL_BYTES = 100.0
"""Per (time bin, partner, product) cell of the sparse tables."""
LOGGED_ATTEMPT_BYTES = 250.0
"""Per attempt in the call log (``run.record_calls``): a tuple of ten values, then a row."""
SESSION_BYTES = 4e3
"""Per session in flight: its generator, attempts and draws (a session waiting for an answer
that never times out: 2.7 kB measured by ``benchmarks/bench_overload.py``, case
``server-waits``)."""
DETACHED_BYTES = 1.2e3
"""Per token request waiting in the token service's queue after its client left: the rest of
the attempt's server side and its pending timeout (``benchmarks/bench_overload.py``, case
``ecommerce``)."""
USER_BYTES = 150.0
"""Per distinct user with state: a cached token or a per-user limiter."""
CONSENT_BYTES = 40.0
"""Per user of unattended refreshes: consent lapse times."""


class InfeasibleRunError(ScenarioError):
    """A run whose estimated cost exceeds the limits (see :func:`check`)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What :func:`check` allows.

    Attributes:
        attempts: most simulated attempts.
        run_time_s: most estimated wall-clock seconds.
        memory_bytes: most estimated memory; None = this machine's (:func:`machine_memory_bytes`).
        clock_s: latest simulated time the run may reach, queues drained after the horizon
            included (the bound of every duration, 100 years: the clock in seconds keeps
            sub-microsecond resolution; also refused under ``allow_long``).
    """

    attempts: float = 1e9
    run_time_s: float = 24 * 3600.0
    memory_bytes: float | None = None
    clock_s: float = DURATION.maximum


@dataclass(frozen=True, slots=True)
class Estimate:
    """What a run is expected to cost.

    Attributes:
        sessions: user sessions simulated (windowed traffic: inside the windows only).
        attempts: attempts simulated (sessions' calls with retries, unattended refreshes).
        booked_sessions: sessions booked between windows (windowed traffic; else 0).
        partners: partners with traffic (onboarded ones included, as expected).
        run_time_s: estimated wall-clock seconds at :data:`ENGINE_ATTEMPTS_PER_S`.
        memory_bytes: estimated peak memory.
        drivers: the key paths behind the estimate, most important first: ``("attempts",
            path)`` for sessions and attempts, ``("memory", path)`` for memory, ``("drain",
            path)`` for the drain.
        backlog: attempts (or token requests) expected to wait at the end in queues that grow
            for the whole run and hold memory while they wait (0 when none does).
        drain_s: simulated seconds after the horizon that the most loaded queue needs to
            serve the work offered to it (0 when every pool keeps up); ``drain_pool`` names it.
    """

    sessions: float
    attempts: float
    booked_sessions: float
    partners: float
    run_time_s: float
    memory_bytes: float
    drivers: Mapping[str, str] = field(default_factory=dict)
    backlog: float = 0.0
    drain_s: float = 0.0
    drain_pool: str = ""

    def describe(self) -> str:
        """One line: ``about 1.2 million sessions, 2.5 million attempts, 50 s, 180 MB``."""
        booked = (
            f" (and {_count(self.booked_sessions)} booked between windows)"
            if self.booked_sessions
            else ""
        )
        return (
            f"about {_count(self.sessions)} sessions{booked}, {_count(self.attempts)} "
            f"attempts, {_duration(self.run_time_s)} and {_bytes(self.memory_bytes)}"
        )


def machine_memory_bytes() -> float | None:
    """This machine's physical memory in bytes (None where the system does not say)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


# --------------------------------------------------------------------------------------------
# The rate integral, day by day


class _Cumulative:
    """The integral of a profile (without events) times growth from 0 to ``t``, in seconds:
    exact for the daily shape, the day's weekday and month, and the mean growth of each day."""

    __slots__ = ("_base", "_cum", "_daily", "_daily_cum", "_horizon_s")

    def __init__(self, profile: Profile, start: Any, horizon_s: float, growth: float) -> None:
        n_days = max(1, math.ceil(horizon_s / SECONDS_PER_DAY))
        days = np.datetime64(start, "D") + np.arange(n_days)
        weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
        month = days.astype("datetime64[M]").astype(np.int64) % 12
        base = np.asarray(profile.weekly)[weekday] * np.asarray(profile.monthly)[month]
        if growth:
            rate = math.log1p(growth) / SECONDS_PER_YEAR
            a = np.arange(n_days) * SECONDS_PER_DAY
            base = (
                base
                * np.expm1(rate * SECONDS_PER_DAY)
                * np.exp(rate * a)
                / (rate * SECONDS_PER_DAY)
            )
        self._base = base
        self._cum = np.concatenate(([0.0], np.cumsum(base * SECONDS_PER_DAY)))
        self._daily = np.asarray(profile.daily)
        self._daily_cum = np.concatenate(([0.0], np.cumsum(self._daily))) * SECONDS_PER_HOUR
        self._horizon_s = horizon_s

    def __call__(self, t: float) -> float:
        t = min(max(t, 0.0), self._horizon_s)
        d = min(int(t // SECONDS_PER_DAY), self._base.size - 1)
        s = t - d * SECONDS_PER_DAY
        h = min(int(s // SECONDS_PER_HOUR), 23)
        within = self._daily_cum[h] + self._daily[h] * (s - h * SECONDS_PER_HOUR)
        return float(self._cum[d] + self._base[d] * within)


def _shape_integral(
    spec: Spec, p: PartnerSpec, cache: dict[tuple[str, float], _Cumulative]
) -> tuple[float, float]:
    """Integral of ``profile x growth`` (events included) over the partner's live part of the
    horizon, in seconds: its expected sessions per unit of base rate; and the largest product
    of overlapping event factors there (1.0 without events)."""
    run = spec.run
    key = (p.profile, p.growth_per_year)
    if key not in cache:
        cache[key] = _Cumulative(spec.profiles[p.profile], run.start, run.horizon_s, key[1])
    cum = cache[key]
    lo, hi = p.live_from_s, run.horizon_s
    if lo >= hi:
        return 0.0, 1.0
    total = cum(hi) - cum(lo)
    peak = 1.0
    occurrences = _event_occurrences(spec.profiles[p.profile].events, run.start, lo, hi)
    if occurrences:
        cuts, product = _event_products(occurrences, lo, hi)
        shape = np.diff([cum(float(t)) for t in cuts])
        total += float(np.sum((product - 1.0) * np.maximum(shape, 0.0)))
        peak = max(peak, float(product.max()))
    return max(total, 0.0), peak


_MAX_LOG_FACTOR = 460.0
"""Overlapping events multiply; their product is capped at e^460 (about 10^200) so that the
estimate of an absurd profile stays a finite number that :func:`check` refuses."""


def _event_products(
    occurrences: list[tuple[float, float, float]], lo: float, hi: float
) -> tuple[np.ndarray, np.ndarray]:
    """The boundaries of the events inside ``[lo, hi)`` (seconds, sorted, ``lo`` and ``hi``
    included) and, on each piece between two, the product of the factors of the events
    under way there: overlapping events multiply, as they do in the model's rate
    (:func:`~.profiles.rate_pieces`); capped at e^:data:`_MAX_LOG_FACTOR`."""
    begin = np.clip([o[0] for o in occurrences], lo, hi)
    end = np.clip([o[1] for o in occurrences], lo, hi)
    factor = np.array([o[2] for o in occurrences], dtype=np.float64)
    cuts = np.unique(np.concatenate(([lo, hi], begin, end)))
    ib, ie = np.searchsorted(cuts, begin), np.searchsorted(cuts, end)
    zero = (factor == 0.0).astype(np.float64)  # a factor 0 stops the rate: no log of it
    log_f = np.log(np.where(zero > 0.0, 1.0, factor))
    logs = np.zeros(cuts.size)
    zeros = np.zeros(cuts.size)
    np.add.at(logs, ib, log_f)
    np.add.at(logs, ie, -log_f)
    np.add.at(zeros, ib, zero)
    np.add.at(zeros, ie, -zero)
    under_way = np.minimum(np.cumsum(logs)[:-1], _MAX_LOG_FACTOR)
    return cuts, np.where(np.cumsum(zeros)[:-1] > 0.5, 0.0, np.exp(under_way))


# --------------------------------------------------------------------------------------------
# Calls and attempts per session


def _attempts_per_call(product: ProductSpec, max_attempts: int, retry_errors: bool) -> float:
    """Expected attempts of one call when only the product's errors cause retries."""
    e = product.error_rate if retry_errors else 0.0
    return float(sum(e**k for k in range(max_attempts)))


def _journey_attempts(
    journey: JourneySpec, products: Mapping[str, ProductSpec], partner: PartnerSpec
) -> tuple[float, float, dict[str, float]]:
    """Expected attempts and seconds in flight of one session of ``journey``, and its expected
    attempts by product."""
    client = partner.client
    retry_errors = "error" in client.retry_on
    attempts = seconds = 0.0
    by_product: dict[str, float] = {}
    ran_before = 1.0  # probability that the previous step ran
    approval_before = 1.0
    for step in journey.steps:
        if step.when is None:
            condition = 1.0
        elif step.when == "ok":
            condition = ran_before
        elif step.when == "approved":
            condition = ran_before * approval_before
        else:
            condition = ran_before * (1.0 - approval_before)
        runs = condition * step.probability
        product = products[step.product]
        step_attempts = runs * _attempts_per_call(product, client.max_attempts, retry_errors)
        attempts += step_attempts
        by_product[step.product] = by_product.get(step.product, 0.0) + step_attempts
        seconds += runs * (
            product.service_time.mean + (step.think_time.mean if step.think_time else 0.0)
        )
        ran_before, approval_before = runs, step.approval_rate
    if journey.redirect_time is not None:
        seconds += journey.redirect_time.mean
    return attempts, seconds, by_product


# --------------------------------------------------------------------------------------------
# Queues that grow for the whole run


@dataclass(frozen=True, slots=True)
class _Backlog:
    """A queue that grows for the whole run: what waits in it at the end and the key to change."""

    waiting: float  # attempts (or token requests) waiting at the end that hold memory
    bytes: float
    path: str


def _waits_forever(spec: Spec, p: PartnerSpec) -> bool:
    """Whether the partner's sessions wait for an answer however long it takes."""
    return math.isinf(p.client.timeout_s) and math.isinf(spec.journeys[p.journey].patience_s)


def _backlogs(spec: Spec, partners: list[PartnerSpec], shares: list[_Partner]) -> list[_Backlog]:
    """The queues offered more work over the simulated time than their servers can do.

    A backend pool keeps no state per waiting attempt, but a session whose client waits with
    no timeout and no patience stays alive until it is served: the pool's excess work divided
    by its mean service time is the attempts still waiting at the end, and the share of them
    from such partners holds :data:`SESSION_BYTES` each. A pool with a ``queue_limit`` never
    grows so. The token service has no queue limit, and each request waiting there holds the
    rest of its attempt (:data:`DETACHED_BYTES`) whether or not its client is still waiting.
    Work is spread evenly over the horizon (a peak that drains again is not a backlog).
    """
    run = spec.run
    duration = run.horizon_s
    if run.traffic == "windowed" and run.windows is not None:
        duration = min(duration, run.windows.length_s + run.windows.warmup_s)
    out: list[_Backlog] = []
    products = spec.bank.products
    for pool in spec.bank.pools.values():
        if pool.queue_limit is not None:
            continue
        work = held = attempts = 0.0
        for p, share in zip(partners, shares, strict=True):
            forever = _waits_forever(spec, p)
            for name, n in share.by_product.items():
                product = products[name]
                if product.pool != pool.name:
                    continue
                w = n * product.service_time.mean
                work += w
                attempts += n
                held += w if forever else 0.0
        excess = work / run.horizon_s - pool.servers  # busy servers beyond capacity
        if excess <= 0.0 or held <= 0.0:
            continue
        waiting = excess * duration / (work / attempts) * (held / work)
        out.append(
            _Backlog(waiting, waiting * SESSION_BYTES, f"bank.pools.{pool.name}.queue_limit")
        )
    auth = spec.gateway.auth
    if auth is not None:
        requests = 0.0
        for p, share in zip(partners, shares, strict=True):
            live_s = run.horizon_s - p.live_from_s
            n = share.attempts + share.refreshes
            if p.integration != "api" or live_s <= 0.0 or n <= 0.0:
                continue
            # a user fetches a token at the first attempt after the last one expired
            r = n / (p.users * live_s)  # attempts per user and second
            requests += p.users * r / (1.0 + r * auth.token_ttl_s) * live_s
        mean = auth.service_time.mean
        excess = requests * mean / run.horizon_s - auth.servers
        if excess > 0.0 and mean > 0.0:
            waiting = excess * duration / mean
            out.append(_Backlog(waiting, waiting * DETACHED_BYTES, "gateway.auth.servers"))
    return out


# --------------------------------------------------------------------------------------------
# The estimate


@dataclass
class _Partner:
    """One partner's share of the estimate (expected values)."""

    sessions: float
    attempts: float
    refreshes: float
    in_flight: float
    distinct_users: float
    consents: float
    by_product: dict[str, float] = field(default_factory=dict)  # attempts, refreshes included
    peak_event_factor: float = 1.0  # the largest product of overlapping profile events


def _partner(
    spec: Spec, p: PartnerSpec, cache: dict[tuple[str, float], _Cumulative], user_state: bool
) -> _Partner:
    run = spec.run
    shape, peak_event_factor = _shape_integral(spec, p, cache)
    sessions = p.users * p.sessions_per_user_day / SECONDS_PER_DAY * shape
    per_session, seconds, by_product = _journey_attempts(
        spec.journeys[p.journey], spec.bank.products, p
    )
    live_s = max(0.0, run.horizon_s - p.live_from_s)
    refreshes = consents = 0.0
    bg = p.background
    if bg is not None and live_s > 0:
        bg_users = max(1, round(p.users * bg.share_of_users))
        refreshes = bg_users * bg.per_user_day / SECONDS_PER_DAY * live_s
        consents = bg_users if bg.consent is not None else 0.0
        product = spec.bank.products[bg.product]
        refreshes *= _attempts_per_call(
            product, p.client.max_attempts, "error" in p.client.retry_on
        )
    distinct = p.users * -math.expm1(-sessions / p.users) if user_state and sessions else 0.0
    rate = sessions / live_s if live_s else 0.0
    attempts = {name: sessions * a for name, a in by_product.items()}
    if refreshes and p.background is not None:
        attempts[p.background.product] = attempts.get(p.background.product, 0.0) + refreshes
    return _Partner(
        sessions,
        sessions * per_session,
        refreshes,
        rate * seconds,
        distinct,
        consents,
        attempts,
        peak_event_factor,
    )


def _onboarded(
    spec: Spec, cache: dict[tuple[str, float], _Cumulative], user_state: bool
) -> tuple[_Partner, float]:
    """The expected traffic of the partners onboarding brings live, and their expected
    number: candidates arrive at ``arrivals_per_month`` and go live after the mean time to
    market of their mode (reworks included); each then has its template's traffic."""
    ob = spec.onboarding
    none = _Partner(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    if ob is None:
        return none, 0.0
    horizon = spec.run.horizon_s
    rate_per_s = ob.arrivals_per_month / SECONDS_PER_MONTH
    size = ob.size.mean if ob.size is not None else 1.0
    by_name = {p.name: p for p in spec.partners}
    total = _Partner(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    count = 0.0
    for sector, share in ob.mix:
        template = by_name.get(ob.templates.get(sector, ""))
        if template is None or share <= 0:
            continue
        base = _partner(spec, template, cache, user_state)
        template_live_s = max(horizon - template.live_from_s, 1e-9)
        for mode_name, mode_share in ob.integration:
            mode = ob.modes.get(mode_name)
            if mode is None or mode_share <= 0 or mode.rework_probability >= 1.0:
                continue
            ttm = mode.docking.mean + (mode.development.mean + mode.testing.mean) / (
                1.0 - mode.rework_probability
            )
            if ttm >= horizon:
                continue
            arrivals = rate_per_s * share * mode_share
            # expected live partner-seconds: the integral of arrivals x (horizon - t - ttm)
            live_partner_s = arrivals * (horizon - ttm) ** 2 / 2.0
            scale = size * live_partner_s / template_live_s
            count += arrivals * (horizon - ttm)
            total.sessions += base.sessions * scale
            total.attempts += base.attempts * scale
            total.refreshes += base.refreshes * scale
            total.in_flight = max(total.in_flight, base.in_flight * size)
            total.distinct_users += base.distinct_users * scale
            total.consents += base.consents * size * arrivals * (horizon - ttm)
    return total, count


def _windowed_fraction(spec: Spec) -> tuple[float, float]:
    """The share of the horizon's sessions that windowed traffic simulates, and the number of
    windows: one per spacing (placement ``peak``: at the busiest hour) and one per event day
    (at its busiest hour)."""
    run = spec.run
    w = run.windows
    if run.traffic != "windowed" or w is None:
        return 1.0, 0.0
    windows = math.floor(run.horizon_s / w.every_s + 1e-9)
    used = [spec.profiles[name] for name in sorted({p.profile for p in spec.partners})]
    busiest_hour = max((max(pr.daily) for pr in used), default=1.0)
    peak = 1.0
    if w.placement == "peak":
        busiest_day = max((max(pr.weekly) for pr in used), default=1.0)
        peak = busiest_hour * (busiest_day if w.every_s >= 7 * SECONDS_PER_DAY else 1.0)
    events = [
        factor
        for pr in used
        for _begin, _end, factor in _event_occurrences(pr.events, run.start, 0.0, run.horizon_s)
    ]
    measured = (w.length_s + w.warmup_s) / run.horizon_s
    fraction = min(1.0, measured * (windows * peak + busiest_hour * sum(events)))
    return fraction, windows + len(events)


# --------------------------------------------------------------------------------------------
# Queues after the horizon


def _step_runs(
    journey: JourneySpec, products: Mapping[str, ProductSpec], partner: PartnerSpec
) -> dict[str, float]:
    """Expected attempts of each product in one session of ``journey``."""
    return _journey_attempts(journey, products, partner)[2]


def _drain(
    spec: Spec, partners: list[PartnerSpec], shares: list[_Partner], scale: float
) -> tuple[float, str, str]:
    """How long after the horizon the most loaded queue keeps serving, in seconds, with its
    name and the key that drives it.

    Every pool (and the token service) is offered the expected work of the partners' attempts
    (attempts x mean service time); the clock reaches the later of the horizon and the time
    ``servers`` workers need for it. A bounded queue (``queue_limit``) turns the excess away,
    so it holds at most ``queue_limit + servers`` attempts at the horizon. ``scale`` is the
    share of the horizon one simulated span covers (one window of windowed traffic)."""
    products = spec.bank.products
    work: dict[str, float] = {}  # pool -> offered seconds of service
    heaviest: dict[str, tuple[float, str]] = {}  # pool -> (work, product)
    tokens = 0.0
    auth = spec.gateway.auth
    for p, share in zip(partners, shares, strict=True):
        per_session = _step_runs(spec.journeys[p.journey], products, p)
        demand = {name: n * share.sessions for name, n in per_session.items()}
        if p.background is not None:
            demand[p.background.product] = demand.get(p.background.product, 0.0) + share.refreshes
        for name, attempts in demand.items():
            product = products[name]
            w = attempts * product.service_time.mean
            work[product.pool] = work.get(product.pool, 0.0) + w
            if w > heaviest.get(product.pool, (-1.0, ""))[0]:
                heaviest[product.pool] = (w, name)
        if auth is not None and p.integration == "api":
            live_s = max(0.0, spec.run.horizon_s - p.live_from_s)
            renewals = 1.0 + live_s / auth.token_ttl_s if auth.token_ttl_s > 0 else math.inf
            tokens += min(share.attempts + share.refreshes, share.distinct_users * renewals)
    span_s = spec.run.horizon_s * scale
    longest = (0.0, "", "")
    for pool in spec.bank.pools.values():
        offered = work.get(pool.name, 0.0) * scale
        drain = max(0.0, offered / pool.servers - span_s)
        if pool.queue_limit is not None and drain > 0:
            longest_service = max(
                q.service_time.mean for q in products.values() if q.pool == pool.name
            )
            held = pool.queue_limit + pool.servers  # attempts in the pool at the horizon
            drain = min(drain, held * longest_service / pool.servers)
        if drain > longest[0]:
            longest = (drain, pool.name, f"bank.products.{heaviest[pool.name][1]}.service_time")
    if auth is not None and tokens:
        drain = max(0.0, tokens * scale * auth.service_time.mean / auth.servers - span_s)
        if drain > longest[0]:
            longest = (drain, "token service", "gateway.auth.service_time")
    return longest


def estimate(spec: Spec, raw: Mapping[str, Any] | None = None) -> Estimate:
    """The expected cost of running ``spec`` once (see the module docstring); ``raw`` (the
    table as written) lets :attr:`Estimate.drivers` name ``[[partners]]`` entries exactly."""
    run = spec.run
    entries = partner_entries(spec, raw)
    cache: dict[tuple[str, float], _Cumulative] = {}
    user_state = spec.gateway.auth is not None or any(
        rule.scope == "user" for rule in spec.gateway.limits
    )
    partners = [p for p in spec.partners if not p.template]
    shares = [_partner(spec, p, cache, user_state) for p in partners]
    onboarded, n_onboarded = _onboarded(spec, cache, user_state)
    all_shares = [*shares, onboarded]
    sessions = sum(s.sessions for s in all_shares)
    attempts = sum(s.attempts + s.refreshes for s in all_shares)
    n_partners = len(partners) + n_onboarded
    fraction, n_windows = _windowed_fraction(spec)
    windowed = run.traffic == "windowed"
    sim_sessions = sessions * fraction
    sim_attempts = attempts * fraction
    n_hours = math.ceil(run.horizon_s / SECONDS_PER_HOUR)
    run_time = STARTUP_S + n_partners * PARTNER_S + sim_attempts / ENGINE_ATTEMPTS_PER_S
    if windowed:
        run_time += n_partners * (n_windows * PARTNER_WINDOW_S + n_hours * PARTNER_HOUR_S)
    if run.warmup_auto:  # a pass from t = 0 chooses the warm-up, a second one records from it
        run_time *= 2.0
    n_bins = math.ceil(run.horizon_s / run.time_bin_s)
    memory = {
        "partners": n_partners * PARTNER_BYTES,
        "arrivals": sum(min(ARRIVAL_BLOCK, s.sessions + s.refreshes) for s in all_shares)
        * ARRIVAL_BYTES,
        "hours": n_partners * n_hours * (WINDOWED_HOUR_BYTES if windowed else HOUR_BYTES),
        "bins": n_bins * n_partners * len(spec.bank.products) * CELL_BYTES,
        "call_log": sim_attempts * run.record_calls * LOGGED_ATTEMPT_BYTES,
        "in_flight": sum(s.in_flight for s in all_shares) * SESSION_BYTES,
        "users": sum(s.distinct_users for s in all_shares) * USER_BYTES * fraction,
        "consents": sum(s.consents for s in all_shares) * CONSENT_BYTES,
    }
    backlogs = _backlogs(spec, partners, shares)
    if backlogs:  # only then may it drive the memory (every part can be 0 on a tiny run)
        memory["backlog"] = sum(b.bytes for b in backlogs)
    parts = sorted(memory, key=memory.__getitem__)
    span_scale = fraction / n_windows if windowed and n_windows else 1.0
    drain_s, drain_pool, drain_key = _drain(spec, partners, shares, span_scale)
    drivers = {
        "attempts": _attempts_driver(spec, entries, partners, shares, onboarded),
        "memory": (
            max(backlogs, key=lambda b: b.bytes).path
            if parts[-1] == "backlog"
            else _memory_driver(spec, entries, partners, shares, parts[-1], n_onboarded)
        ),
        "drain": drain_key,
    }
    return Estimate(
        sessions=sim_sessions,
        attempts=sim_attempts,
        booked_sessions=sessions if windowed else 0.0,
        partners=n_partners,
        run_time_s=run_time,
        memory_bytes=BASE_BYTES + sum(memory.values()),
        drivers=drivers,
        backlog=sum(b.waiting for b in backlogs),
        drain_s=drain_s,
        drain_pool=drain_pool,
    )


# --------------------------------------------------------------------------------------------
# Which key drives it


def partner_entries(spec: Spec, raw: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Partner name -> index of the ``[[partners]]`` entry it comes from (the copies of one
    entry share it); without ``raw``, the partners' own order."""
    items = raw.get("partners") if isinstance(raw, Mapping) else None
    if not isinstance(items, list):
        return {p.name: i for i, p in enumerate(spec.partners)}
    out: dict[str, int] = {}
    for i, t in enumerate(items):
        name, copies = t.get("name"), t.get("copies", 1)
        names = [name] if copies == 1 else [f"{name}-{k}" for k in range(1, copies + 1)]
        out.update((str(n), i) for n in names)
    return out


def _busiest(shares: list[_Partner]) -> int:
    return max(range(len(shares)), key=lambda k: shares[k].attempts + shares[k].refreshes)


def _attempts_driver(
    spec: Spec,
    entries: dict[str, int],
    partners: list[PartnerSpec],
    shares: list[_Partner],
    onboarded: _Partner,
) -> str:
    """The key that most inflates the attempts: of the busiest partner (or of onboarding), the
    one furthest above an ordinary value (a week, a million users, a session a day, ...)."""
    run = spec.run
    full = run.traffic == "full"
    candidates: list[tuple[float, str]] = [
        (run.horizon_s / (7 * SECONDS_PER_DAY) if full else 1.0, "run.horizon")
    ]
    own = shares[_busiest(shares)] if shares else None
    if own is not None and own.attempts + own.refreshes >= onboarded.attempts + onboarded.refreshes:
        p = partners[_busiest(shares)]
        entry = entries.get(p.name, 0)
        copies = sum(1 for q in partners if entries.get(q.name) == entry)
        years = run.horizon_s / SECONDS_PER_YEAR
        candidates += [
            (p.users / 1e6, f"partners.{entry}.users"),
            (p.sessions_per_user_day, f"partners.{entry}.sessions_per_user_day"),
            (copies / 10.0, f"partners.{entry}.copies"),
            ((1.0 + p.growth_per_year) ** years / 2.0, f"partners.{entry}.growth_per_year"),
            # a peak of 10x (Singles' Day) is ordinary; overlapping events multiply
            (own.peak_event_factor / 10.0, f"profiles.{p.profile}.events"),
        ]
        if p.background is not None and own.refreshes > own.attempts:
            candidates.append(
                (p.background.per_user_day * 10.0, f"partners.{entry}.background.per_user_day")
            )
    elif spec.onboarding is not None:
        candidates.append(
            (spec.onboarding.arrivals_per_month / 3.0, "onboarding.arrivals_per_month")
        )
    return max(candidates)[1]


def _memory_driver(
    spec: Spec,
    entries: dict[str, int],
    partners: list[PartnerSpec],
    shares: list[_Partner],
    part: str,
    n_onboarded: float,
) -> str:
    """The key behind the largest part of the memory estimate."""
    if part == "call_log":
        return "run.record_calls"
    if part == "bins":
        return "run.time_bin"
    if part in ("partners", "hours"):
        if n_onboarded > len(partners) and spec.onboarding is not None:
            return "onboarding.arrivals_per_month"
        counts: dict[int, int] = {}
        for p in partners:
            counts[entries.get(p.name, 0)] = counts.get(entries.get(p.name, 0), 0) + 1
        entry = max(counts, key=counts.__getitem__) if counts else 0
        if part == "partners" or counts.get(entry, 0) >= 100:
            return f"partners.{entry}.copies"
        return "run.horizon"
    if shares:
        p = partners[_busiest(shares)]
        return f"partners.{entries.get(p.name, 0)}.users"
    return "run.horizon"


# --------------------------------------------------------------------------------------------
# The check


_REMEDIES = (
    'shorten run.horizon, use windowed traffic (run.traffic = "windowed"), model fewer users '
    "or sessions, or pass --allow-long (allow_long=True) to run it anyway"
)
_ALLOW = "or pass --allow-long (allow_long=True) to run it anyway"


def _backlog_remedies(path: str, waiting: float) -> str:
    """What to change when a queue that grows for the whole run drives the memory."""
    if path == "gateway.auth.servers":
        return (
            f"the token service's queue grows for the whole run (about {_count(waiting)} "
            "requests waiting at the end, each holding the rest of its attempt); add "
            f"gateway.auth.servers, lengthen gateway.auth.token_ttl, model fewer users, {_ALLOW}"
        )
    pool = path.split(".")[2]
    return (
        f"the queue of pool '{pool}' grows for the whole run (about {_count(waiting)} sessions "
        "waiting at the end for an answer without a timeout); set "
        f"bank.pools.{pool}.queue_limit, give the client a timeout ([client] timeout) or the "
        f"journey a patience, add servers, model fewer users, {_ALLOW}"
    )


def check(
    spec: Spec,
    limits: Limits | None = None,
    file: str | None = None,
    raw: Mapping[str, Any] | None = None,
) -> Estimate:
    """The estimate of ``spec``; raises :class:`InfeasibleRunError` when it exceeds ``limits``.

    The error names ``file`` and, as its path, the key that drives the estimate; its reason
    says what would be exceeded and the remedies. ``raw`` as for :func:`estimate`.
    """
    limits = limits or Limits()
    est = estimate(spec, raw)
    memory_limit = limits.memory_bytes
    if memory_limit is None:
        memory_limit = machine_memory_bytes()
    what = ""
    remedies = _REMEDIES
    driver = est.drivers["attempts"]
    if not est.attempts <= limits.attempts:
        what = f"above the limit of {_count(limits.attempts)} attempts"
    elif not est.run_time_s <= limits.run_time_s:
        what = f"longer than the limit of {_duration(limits.run_time_s)}"
    elif memory_limit is not None and not est.memory_bytes <= memory_limit:
        what = f"more memory than the {_bytes(memory_limit)} this machine has"
        driver = est.drivers["memory"]
        if driver.endswith(".queue_limit") or driver == "gateway.auth.servers":
            remedies = _backlog_remedies(driver, est.backlog)
    if what:
        raise InfeasibleRunError(
            f"the run is estimated at {est.describe()}: {what}; {remedies}",
            path=driver,
            file=file,
        )
    if not spec.run.horizon_s + est.drain_s <= limits.clock_s:
        pool = est.drain_pool
        where = "the token service" if pool == "token service" else f"pool {pool!r}"
        remedy = (
            "give [gateway.auth] more servers or a shorter service_time"
            if pool == "token service"
            else f"give bank.pools.{pool} more servers or a queue_limit, or shorten this "
            "service time"
        )
        raise InfeasibleRunError(
            f"{where} is offered more work than its servers can do: its queue would take "
            f"about {_duration(est.drain_s)} to drain after the horizon, past the "
            f"{_duration(limits.clock_s)} a run's clock may reach; {remedy}",
            path=est.drivers["drain"],
            file=file,
        )
    return est


# --------------------------------------------------------------------------------------------
# Words


def _count(x: float) -> str:
    if not math.isfinite(x):
        return "infinitely many"
    if x < 1e4:
        return f"{x:,.0f}"
    if x < 1e6:
        return f"{x / 1e3:,.0f} thousand"
    if x < 1e9:
        return f"{x / 1e6:,.1f} million"
    if x < 1e12:
        return f"{x / 1e9:,.1f} billion"
    return f"{x:.1e}"


def _duration(s: float) -> str:
    if not math.isfinite(s):
        return "forever"
    for size, unit in ((SECONDS_PER_YEAR, "years"), (SECONDS_PER_DAY, "days"), (3600.0, "h")):
        if s >= 2 * size or (unit == "h" and s >= size):
            value = s / size
            return f"{value:,.1f} {unit}" if value < 1e6 else f"{value:.1e} {unit}"
    if s >= 60:
        return f"{s / 60:.0f} min"
    return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"


def _bytes(b: float) -> str:
    if not math.isfinite(b):
        return "unbounded memory"
    for size, unit in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB")):
        if b >= size:
            value = b / size
            return f"{value:,.1f} {unit}" if value < 1e6 else f"{value:.1e} {unit}"
    return f"{b / 1e3:.0f} kB"
