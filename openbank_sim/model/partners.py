"""Partner platforms: NHPP sessions, journeys and the partner-side client.

Sessions are state machines on SimPy's event queue, not SimPy processes. Each live partner has
one driver that wakes at each session start time; a session (:class:`_Session`) is its own
SimPy event and is scheduled only when its next step touches something shared: an attempt
arriving at the gateway or the direct line, a server step that takes time (the token service's
answer, the end of the overhead when the backend pool is reached), a retry arriving, or the
backoff's jitter being drawn. Everything in between is computed at once, on the session's own
clock: the client waiting for an answer that is already known (the backend pool fixes each
attempt's start when it arrives), think times and redirects. A one-step call with no token to
fetch and no overhead takes one SimPy event, its arrival. Each wake-up lands at the time the
same delays taken one SimPy timeout after another would give, bit for bit
(:meth:`PartnerRuntime._wake_at`).

Everything a session will need is drawn from the partner's own streams the moment it starts
(user id, value, and for every step the optional-step coin, think time, approval, the redirect
coin and time, and every draw of the step's first attempt: backend service time and error,
the gateway's or direct line's overhead, the 401 coin and the token service time), whether or
not the step runs, the attempt is admitted or it needs a token: two scenarios that differ only
in limits or capacity see the same users doing the same things, and each first attempt gets
the same draws in both (common random numbers). A retry draws all of its own from the step's
retry streams when it arrives; an unattended refresh draws its first attempt's when it starts,
from the background step's streams. The gateway draws nothing itself.

An attempt's server side (token fetch, limits, overhead, backend pool) runs with the session as
long as the client is still waiting; when the client's timeout or the user's patience comes
first, the rest of the server side continues detached (a backend never recalls work) while the
session moves on: one pending timeout per server step still ahead, which carries the server
side. A server side whose remaining steps are known when the client leaves (the backend's
answer, fixed at admission) leaves nothing behind.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from heapq import heappush
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL

from ..outcomes import CIRCUIT_OPEN, JOURNEY_FAILED_OFFSET, OUTCOME_NAMES, JourneyEnding, Outcome
from ..rng import MAX_BLOCK, Sampler, Streams, uniform_draw
from ..spec.distributions import Distribution
from ..spec.profiles import Profile, rate_pieces, sample_nhpp_blocks
from ..spec.types import (
    AuthSpec,
    BackoffSpec,
    JourneySpec,
    PartnerSpec,
    ProductSpec,
    Spec,
    StepSpec,
)
from ..spec.units import SECONDS_PER_YEAR
from .bank import DROPPED, BackendPool
from .clock import delay_until, event_queue
from .gateway import Gateway
from .recorder import Recorder
from .resilience import CircuitBreaker, RetryBudget

__all__ = ["EXTRA_REFRESH_ID", "PartnerRuntime", "SpanContext"]

EXTRA_REFRESH_ID = 1 << 40
"""Ids of refreshes under way when a span starts begin here (call-log session ``-1 - id``)."""

DRIVER_BURST = 16
"""Session starts a driver takes in place in one wake-up, at most (see ``PartnerRuntime._drive``):
bounded so that a partner whose starts are all that is on SimPy's queue still hands control
back to the span's event loop (and its progress ticks) every few starts."""

# plain ints on the hot path (an IntEnum member compares slower)
OK, RATE_LIMITED, OVERLOADED, TIMEOUT, ERROR, AUTH_FAILED = (o.value for o in Outcome)
PATIENCE = -1  # not an outcome: the user left while the attempt was under way
COMPLETED = JourneyEnding.COMPLETED.value
ABANDONED_PATIENCE = JourneyEnding.PATIENCE.value
ABANDONED_REDIRECT = JourneyEnding.REDIRECT.value
_SKIPPED, _DONE, _APPROVED, _DECLINED = 0, 1, 2, 3
# where an attempt's server side stands (_Attempt.stage), and what _serve returns when done
_AT_GATEWAY, _TOKEN_ANSWERED, _AT_POOL = 0, 1, 2
_SERVED = -1.0
NAN = math.nan


def _mean_growth(growth_per_year: float, edges: np.ndarray) -> np.ndarray:
    """The mean of ``(1 + g) ** (t / year)`` over each piece ``[edges[i], edges[i+1])``."""
    rate = math.log1p(growth_per_year) / SECONDS_PER_YEAR
    a, b = edges[:-1], edges[1:]
    return (np.exp(rate * b) - np.exp(rate * a)) / (rate * (b - a))


def partner_rate(
    spec: PartnerSpec, profile: Profile, start: Any, until_s: float, from_s: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise profile x growth factors of a partner over ``[from_s, until_s)``.

    The session rate on piece ``i`` is ``users x sessions_per_user_day / 86400 x factors[i]``
    per second.
    """
    edges, factors = rate_pieces(profile, start, until_s)
    if spec.growth_per_year:
        factors = factors * _mean_growth(spec.growth_per_year, edges)
    if from_s > 0.0:
        k = int(np.searchsorted(edges, from_s, side="right")) - 1
        edges = np.concatenate(([from_s], edges[k + 1 :]))
        factors = factors[k:]
    return edges, factors


def backoff_delay(backoff: BackoffSpec, k: int, jitter: Sampler) -> float:
    """The client's wait after attempt ``k`` (s): ``base_s * factor ** (k - 1)`` capped at
    ``max_s``, jittered as ``backoff.jitter`` says (one draw of ``jitter`` unless "none")."""
    delay = min(backoff.max_s, backoff.base_s * backoff.factor ** (k - 1))
    if backoff.jitter == "full":
        delay *= jitter()
    elif backoff.jitter == "equal":
        delay = 0.5 * delay * (1.0 + jitter())
    return delay


# an attempt's draws: (service_s, is_error, overhead_s, auth_coin, token_service_s)
AttemptDraws = tuple[float, bool, float, float, float]
_Column = Callable[[int], Iterable[Any]]  # n -> the next n values of one draw


def _constant(value: Any) -> _Column:
    """A draw that is always ``value`` (no stream)."""
    return lambda n: itertools.repeat(value, n)


def _sampled(draw: Callable[[int], np.ndarray]) -> _Column:
    """``draw(n)`` as Python floats."""
    return lambda n: draw(n).tolist()


def _coin(uniforms: Callable[[int], np.ndarray], p: float) -> _Column:
    """Coins that come up True with probability ``p`` (a uniform below ``p``)."""
    return lambda n: (uniforms(n) < p).tolist()


def _attempt_draws(
    streams: Streams,
    key: tuple[str, ...],
    prefix: str,
    product: ProductSpec,
    overhead: Distribution | None,
    auth: AuthSpec | None,
) -> Callable[[], AttemptDraws]:
    """Every draw of a step's attempts (its first attempts, or its retries), one tuple a call.

    An attempt's tuple is :data:`AttemptDraws`, ``(service_s, is_error, overhead_s, auth_coin,
    token_service_s)``: the backend service time, the error coin's outcome, the gateway's or
    direct line's overhead (0.0 when the line has none), the 401 coin (a uniform; NaN without
    auth) and the token service time (NaN without auth). Each draw has a stream of its own,
    ``(*key, prefix + purpose)`` with purposes ``service``, ``error``, ``overhead``,
    ``auth_failure`` and ``token_service``. Blocks of all five are drawn together on demand, 64
    doubling up to :data:`~openbank_sim.rng.MAX_BLOCK` as in :func:`~openbank_sim.rng.block_sampler`, so each stream gives
    the values a block sampler over it would give, for one call per attempt.
    """

    def draws(purpose: str, draw: Callable[[np.random.Generator, int], Any]) -> Any:
        return streams.draws(draw, *key, prefix + purpose)  # made on the first block

    service = _sampled(draws("service", product.service_time.sample))
    rate = product.error_rate
    error = _coin(draws("error", uniform_draw), rate) if rate > 0 else _constant(False)
    over = _sampled(draws("overhead", overhead.sample)) if overhead is not None else _constant(0.0)
    if auth is not None:
        coin = _sampled(draws("auth_failure", uniform_draw))
        token = _sampled(draws("token_service", auth.service_time.sample))
    else:
        coin = token = _constant(NAN)

    def blocks() -> Iterator[AttemptDraws]:
        n = 64
        while True:
            # each column gives exactly n values
            yield from zip(service(n), error(n), over(n), coin(n), token(n), strict=False)
            if n < MAX_BLOCK:
                n *= 2

    return blocks().__next__


class _Step:
    """One journey step as the runtime sees it (samplers bound to the partner's streams).

    ``first`` and ``retry`` hand out every draw of an attempt (:func:`_attempt_draws`): the
    step's first attempts draw from its first-attempt streams, its retries from its retry
    streams (``retry_service``, ``retry_error``, ...).
    """

    __slots__ = (
        "approval",
        "background",
        "credit",
        "fee",
        "first",
        "kind_installment",
        "pool",
        "pp",
        "prob",
        "product",
        "redirect",
        "redirect_time",
        "retry",
        "route",
        "take_rate",
        "think",
        "u_appr",
        "u_drop",
        "u_prob",
        "when",
    )

    def __init__(
        self,
        rt: PartnerRuntime,
        j: int,
        step: StepSpec,
        journey: JourneySpec | None,
        background: bool = False,
    ) -> None:
        ctx = rt.ctx
        pk = ctx.product_index[step.product]
        product = ctx.products[pk]
        streams = ctx.streams
        name = rt.spec.name
        traditional = not rt.api
        partner = rt.index
        key = ("partner", name, "background" if background else f"step{j}")
        self.product = pk
        self.pp = partner * len(ctx.products) + pk
        self.pool = ctx.pools[pk]
        self.prob = step.probability
        self.when = step.when
        self.credit = product.kind == "credit_assessment"
        self.approval = step.approval_rate
        self.fee = product.fee
        self.take_rate = product.take_rate if product.kind == "payment" else 0.0
        self.kind_installment = product.kind == "installment"
        self.u_prob = streams.uniforms(*key, "probability") if step.probability < 1 else None
        self.think = (
            streams.sampler(step.think_time.sample, *key, "think")
            if step.think_time is not None
            else None
        )
        self.u_appr = streams.uniforms(*key, "approval") if self.credit else None
        auth = ctx.spec.gateway.auth if rt.api else None
        self.first = _attempt_draws(streams, key, "", product, rt.overhead_time, auth)
        self.retry = _attempt_draws(streams, key, "retry_", product, rt.overhead_time, auth)
        self.redirect = traditional and product.kind == "payment" and journey is not None
        self.u_drop = (
            streams.uniforms(*key, "redirect_dropoff")
            if self.redirect and journey is not None and journey.redirect_dropoff > 0
            else None
        )
        self.redirect_time = (
            streams.sampler(journey.redirect_time.sample, *key, "redirect_time")
            if self.redirect and journey is not None and journey.redirect_time is not None
            else None
        )
        gateway = rt.gateway
        self.route = gateway.route(partner, pk, background) if gateway is not None else None
        self.background = background


class _Attempt:
    """One attempt: when it arrived (``t0``, s), its step, its session and its draws
    (:data:`AttemptDraws`: backend service time, error, overhead, 401 coin, token service
    time); where its server side stands (``stage``: at the gateway, token answered, at the
    pool) at ``now`` (s), with the limiter holds it keeps (``held``, set when it leaves the
    gateway for the overhead); and, once its server side is done, what its client sees
    (``client_outcome`` at ``client_end``, s) and a 429's ``retry_after`` (s)."""

    __slots__ = (
        "client_end",
        "client_outcome",
        "draws",
        "held",
        "k",
        "now",
        "retry_after",
        "revenue",
        "sess",
        "stage",
        "step",
        "t0",
    )
    # set as the server side goes (read only once set)
    held: tuple
    retry_after: float
    client_outcome: int
    client_end: float

    def __init__(
        self, t0: float, step: _Step, sess: _Session, draws: AttemptDraws, revenue: float, k: int
    ) -> None:
        self.t0 = t0
        self.now = t0
        self.stage = _AT_GATEWAY
        self.step = step
        self.sess = sess
        self.draws = draws
        self.revenue = revenue
        self.k = k


_Callbacks = tuple[Callable[[Any], None], ...]


class _Session:
    """A user session (or an unattended refresh) as a state machine on SimPy's event queue.

    It is its own SimPy event: :meth:`PartnerRuntime._wake_at` pushes it on the queue with
    ``callbacks`` set to what it does when its time comes (an attempt arrives, a server step
    that takes time is due, a retry arrives, the jitter of a backoff is drawn); between two
    wake-ups everything the session knows is computed at once. ``clock`` is the session's own
    time (s): it moves ahead of SimPy's clock through the parts of the journey that touch
    nothing shared (the client waiting for an answer already known, think times, redirects),
    and ``moved`` says it has (so the next step that touches shared state needs a wake-up).
    """

    __slots__ = (
        "att",
        "attempt_draws",
        "callbacks",
        "client_deadline",
        "clock",
        "draws",
        "j",
        "k",
        "logged",
        "moved",
        "outcome",
        "permit",
        "prev",
        "retry_after",
        "revenue",
        "sid",
        "st",
        "t_arrive",
        "t_first",
        "t_start",
        "t_token",
        "u_appr",
        "user",
        "user_deadline",
        "value",
        "wake",
    )
    _ok = True  # read by SimPy's step: a wake-up never fails
    # the call under way (set when it begins)
    st: _Step
    revenue: float
    t_first: float
    user_deadline: float
    k: int
    attempt_draws: AttemptDraws
    u_appr: float
    # the attempt under way
    att: _Attempt
    client_deadline: float
    wake: float
    # an attempt waiting for its token: when it arrived, when the token service answers (s)
    t_arrive: float
    t_token: float
    callbacks: _Callbacks | None
    # with a client lever: the attempt's breaker permit (its epoch) and the outcome the client
    # has when the session waits to act on it in time order
    permit: int
    outcome: int
    # the Retry-After (s) of the attempt whose 429 the client has
    retry_after: float

    def __init__(
        self,
        sid: int,
        now: float,
        user: int,
        logged: bool,
        value: float = 0.0,
        draws: list[tuple] | None = None,
    ) -> None:
        self.sid = sid
        self.t_start = now
        self.clock = now
        self.moved = False
        self.user = user
        self.logged = logged
        self.value = value
        self.draws = draws  # per step (None: an unattended refresh)
        self.j = 0
        self.prev = _DONE


class _Driver:
    """Starts sessions (or refreshes) at the times of ``items`` (``(time_s, payload)`` in
    time order), one SimPy wake-up per distinct time: its own event, as :class:`_Session`."""

    __slots__ = ("callbacks", "clock", "items", "payload", "start")
    _ok = True
    callbacks: _Callbacks | None

    def __init__(self, items: Iterator[tuple[float, Any]], start: Callable[[Any], None]) -> None:
        self.items = items
        self.start = start
        self.clock = 0.0
        self.payload: Any = None


@dataclass(frozen=True)
class SpanContext:
    """What every partner of one span shares.

    Attributes:
        env: the SimPy environment (time in seconds from ``spec.run.start``).
        spec: the scenario's spec (journeys, profiles, gateway, direct line, economics).
        streams: the span's random streams.
        recorder: where attempts, logical calls and journeys go.
        products: all products in index order; product_index: name -> index.
        pools: the backend pool of each product index.
        gateway: the gateway (None when no partner of the span uses the API).
        span_from_s, span_to_s: sessions start in ``[span_from_s, span_to_s)`` (seconds).
    """

    env: simpy.Environment
    spec: Spec
    streams: Streams
    recorder: Recorder
    products: tuple[ProductSpec, ...]
    product_index: Mapping[str, int]
    pools: Sequence[BackendPool]
    gateway: Gateway | None
    span_from_s: float
    span_to_s: float

    @property
    def installment_rate(self) -> float:
        """Installment margin net of credit losses (share of the financed value)."""
        econ = self.spec.economics
        return econ.installment_margin - econ.credit_loss_rate if econ else 0.0


class PartnerRuntime:
    """A live partner: its arrival driver, sessions and client.

    Args:
        ctx: what the span's partners share.
        index: partner index (as in the recorder).
        spec: the partner.
    """

    def __init__(self, ctx: SpanContext, index: int, spec: PartnerSpec) -> None:
        run = ctx.spec.run
        journey = ctx.spec.journeys[spec.journey]
        streams = ctx.streams
        self.ctx = ctx
        self.api = spec.integration == "api"
        gateway = ctx.gateway if self.api else None
        overhead = ctx.spec.gateway.overhead if self.api else ctx.spec.bank.direct_overhead
        env = ctx.env
        self.env = env
        self.index = index
        self.spec = spec
        self.journey_index = list(ctx.spec.journeys).index(spec.journey)
        self.rec = ctx.recorder
        self.gateway = gateway
        # the gateway when it checks anything (tokens or limits), for the server side
        self.gateway_checks = (
            gateway if gateway is not None and (gateway.has_auth or gateway.has_limits) else None
        )
        self.auth = gateway is not None and gateway.has_auth  # attempts need a live token
        self.limited = gateway is not None and gateway.has_limits  # the gateway's limiters
        self.start_date = run.start
        self.profile = ctx.spec.profiles[spec.profile]
        self.horizon_s = ctx.span_to_s
        self._streams = streams
        name = spec.name
        key = ("partner", name)
        client = spec.client
        self.timeout = client.timeout_s
        self.max_attempts = client.max_attempts
        self.retry_on = tuple(o in client.retry_on for o in OUTCOME_NAMES)
        self.respect_retry_after = client.respect_retry_after
        self.backoff = client.backoff
        self.jitter = streams.uniforms(*key, "backoff_jitter")
        self.patience = journey.patience_s
        self.dropoff = journey.redirect_dropoff
        self.users = streams.sampler(lambda g, n: g.integers(0, spec.users, n), *key, "user")
        # a growing user base: (1 + g) ** (t / year) times the users at t = 0
        self.growth_log_per_s = math.log1p(spec.growth_per_year) / SECONDS_PER_YEAR
        self.u_user = streams.uniforms(*key, "user_growing")
        self.value = (
            streams.sampler(journey.value.sample, *key, "value")
            if journey.value is not None
            else None
        )
        self.overhead_time = overhead  # drawn per step and attempt (see _Step)
        self.log_share = run.record_calls
        self.u_log = streams.uniforms(*key, "call_log")
        self.tokens: dict[int, float] = {}
        self.steps = tuple(_Step(self, j, s, journey) for j, s in enumerate(journey.steps))
        self.installment_rate = ctx.installment_rate
        self.span_from_s = ctx.span_from_s
        self.sessions = 0
        self.refreshes = 0
        self.inline_starts = 0  # driver wake-ups taken in place (see _drive)
        self.end_s = -math.inf  # when the last session or refresh ended (s)
        # the recorder's buffers, extended in place (Recorder.attempt_buffer)
        self._buf, self._lc, self._stage_at = ctx.recorder.attempt_buffer()
        # journeys that start inside the recorder's window, by ending
        self._journeys = ctx.recorder.journey_tally(self.journey_index, index)
        self._journey_from_s, self._journey_to_s = ctx.recorder.warmup_s, ctx.recorder.horizon_s
        self._queue, self._eid = event_queue(env)
        self._on_drive: _Callbacks = (self._drive,)
        self._on_attempt: _Callbacks = (self._attempt_event,)
        self._on_server: _Callbacks = (self._server_event,)
        self._on_token: _Callbacks = (self._token_event,)
        self._on_retry: _Callbacks = (self._retry_event,)
        self._on_jitter: _Callbacks = (self._jitter_event,)
        self._on_outcome: _Callbacks = (self._outcome_event,)
        # the client's levers against retry storms (None when off)
        self.budget = RetryBudget(client.retry_budget) if client.retry_budget else None
        breaker = client.circuit_breaker
        self.failures: tuple[bool, ...] = ()  # by outcome: counts as a breaker failure
        self.breakers: list[CircuitBreaker] | None = None
        if breaker is not None:
            self.failures = tuple(o in breaker.failures for o in OUTCOME_NAMES)
            self.breakers = [
                CircuitBreaker(breaker, ctx.recorder.breaker_log(index, k))
                for k in range(len(ctx.products))
            ]
        self.levers = self.budget is not None or self.breakers is not None
        if self.levers:
            ctx.recorder.uses_levers()
        self.consents_lapsed = 0
        self.bg_step: _Step | None = None
        bg = spec.background
        if bg is not None:
            self.bg_step = _Step(
                self, 0, StepSpec(bg.product, 1.0, None, None, 1.0), None, background=True
            )
            self.bg_users = max(1, round(spec.users * bg.share_of_users))
            self.bg_lapse = self._consent_lapses(bg, streams)

    # -- the event queue -----------------------------------------------------------------------
    def start(self) -> None:
        """Put the partner's arrivals (and unattended refreshes) on the event queue."""
        if self.spec.live_from_s >= self.horizon_s:
            return
        self._drive_from(_Driver(self._session_times(), self._start_session))
        if self.bg_step is not None:
            self._drive_from(_Driver(self._refresh_times(), self._start_background))

    def start_refreshes(self, calls: Sequence[tuple[float, int]]) -> None:
        """Put refreshes ``(time_s, user)`` that were under way before the span began on the
        event queue (ids from :data:`EXTRA_REFRESH_ID`), in time order."""
        items = ((t, (rid, user)) for rid, (t, user) in enumerate(calls, start=EXTRA_REFRESH_ID))
        self._drive_from(_Driver(items, self._start_extra_refresh))

    def _wake_at(self, entry: _Session | _Driver, t: float, callbacks: _Callbacks) -> None:
        """Schedule ``entry`` on SimPy's queue at the absolute time ``t`` (s), to run
        ``callbacks``: the time is pushed as computed, so that a chain of delays the model
        adds up (think time, then redirect, then ...) lands where the same delays taken one
        SimPy timeout after another would have landed."""
        entry.callbacks = callbacks
        heappush(self._queue, (t, NORMAL, next(self._eid), entry))

    def _drive_from(self, drv: _Driver) -> None:
        """Schedule a driver's first start (its clock starts at the span's start)."""
        item = next(drv.items, None)
        if item is None:
            return
        t, drv.payload = item
        clock = drv.clock = self.env.now
        if t > clock:
            drv.clock = clock = clock + (t - clock)
        self._wake_at(drv, clock, self._on_drive)

    def _drive(self, drv: _Driver) -> None:
        """A driver's wake-up: start what is due now, and schedule the next start.

        When the next start comes strictly before everything else on SimPy's queue, its own
        wake-up would be the very next event: the driver moves SimPy's clock there and starts
        it in place (up to :data:`DRIVER_BURST` starts a wake-up, so the span's progress ticks
        keep coming). Each start taken in place counts as the wake-up it stands for
        (``inline_starts``), so the event count keeps its meaning."""
        clock = drv.clock
        start = drv.start
        start(drv.payload)
        queue = self._queue
        env = self.env
        burst = DRIVER_BURST
        for t, payload in drv.items:
            if t > clock:
                clock = clock + (t - clock)
                if burst and (not queue or clock < queue[0][0]):
                    burst -= 1
                    self.inline_starts += 1
                    env._now = clock
                    start(payload)
                    continue
                drv.clock = clock
                drv.payload = payload
                self._wake_at(drv, clock, self._on_drive)
                return
            start(payload)

    # -- arrivals ------------------------------------------------------------------------------
    def _session_times(self) -> Iterator[tuple[float, None]]:
        """The NHPP session start times in ``[live_from, horizon)`` (s)."""
        spec = self.spec
        base = spec.users * spec.sessions_per_user_day / 86400.0
        edges, factors = partner_rate(
            spec, self.profile, self.start_date, self.horizon_s, self.span_from_s
        )
        gen = self._streams.generator("partner", spec.name, "arrivals")
        live_from = spec.live_from_s
        for times in sample_nhpp_blocks(gen, base, edges, factors):
            for t in times.tolist():
                if t >= live_from:
                    yield t, None

    def _refresh_times(self) -> Iterator[tuple[float, int]]:
        """Unattended refreshes: a Poisson process of ``per_user_day`` per background user;
        yields ``(time_s, user)`` of those made while live and before the user's consent
        lapses."""
        spec = self.spec
        bg = spec.background
        assert bg is not None  # started only for partners with unattended traffic
        rate = self.bg_users * bg.per_user_day / 86400.0
        gen = self._streams.generator("partner", spec.name, "background_arrivals")
        users = self._streams.sampler(
            lambda g, n: g.integers(0, self.bg_users, n), "partner", spec.name, "background_user"
        )
        edges = np.array([self.span_from_s, self.horizon_s])
        lapse = self.bg_lapse
        live_from = spec.live_from_s
        for times in sample_nhpp_blocks(gen, rate, edges, np.ones(1)):
            for t in times.tolist():
                user = int(users())
                if t < live_from or (lapse is not None and t >= lapse[user]):
                    continue
                yield t, user

    # -- sessions and refreshes -----------------------------------------------------------------
    def _start_session(self, _: None) -> None:
        """Start a user session now: every draw it will need, then its walk of the journey."""
        sid = self.sessions
        self.sessions = sid + 1
        now = self.env._now  # SimPy's clock (its ``now`` property, one call less)
        if self.growth_log_per_s:
            user = int(self.u_user() * self.spec.users * math.exp(self.growth_log_per_s * now))
        else:
            user = self.users()  # numpy integers as Python ints
        value = self.value() if self.value is not None else 0.0
        logged = self.log_share > 0.0 and (self.log_share >= 1.0 or self.u_log() < self.log_share)
        draws = [
            (
                st.u_prob() if st.u_prob is not None else 0.0,
                st.think() if st.think is not None else 0.0,
                st.u_appr() if st.u_appr is not None else 0.0,
                st.first(),
                st.u_drop() if st.u_drop is not None else 1.0,
                st.redirect_time() if st.redirect_time is not None else 0.0,
            )
            for st in self.steps
        ]
        self._walk(_Session(sid, now, user, logged, value, draws))

    def _start_background(self, user: int) -> None:
        """Start the partner's next unattended refresh, for ``user``, now."""
        rid = self.refreshes
        self.refreshes = rid + 1
        self._start_refresh(rid, user)

    def _start_extra_refresh(self, payload: tuple[int, int]) -> None:
        """Start a refresh ``(id, user)`` that was under way before the span began."""
        self._start_refresh(*payload)

    def _start_refresh(self, rid: int, user: int) -> None:
        """One unattended refresh: a logical call with no user waiting (no patience)."""
        st = self.bg_step
        assert st is not None  # started only for partners with unattended traffic
        draws = st.first()
        logged = self.log_share > 0.0 and (self.log_share >= 1.0 or self.u_log() < self.log_share)
        sess = _Session(-1 - rid, self.env.now, user, logged)
        self._begin_call(sess, st, draws, st.fee, math.inf)

    def _walk(self, sess: _Session) -> None:
        """Walk the journey on from step ``sess.j``: skip what the branches or the optional-step
        coins leave out, wait the think time and the redirect, and begin the next step's call;
        or end the journey."""
        steps = self.steps
        draws = sess.draws
        assert draws is not None  # a user session
        j = sess.j
        prev = sess.prev
        while j < len(steps):
            st = steps[j]
            u_prob, think, u_appr, first, u_drop, r_time = draws[j]
            when = st.when
            if when is not None and not (
                (when == "ok" and prev != _SKIPPED)
                or (when == "approved" and prev == _APPROVED)
                or (when == "declined" and prev == _DECLINED)
            ):
                prev = _SKIPPED
                j += 1
                continue
            if st.u_prob is not None and u_prob >= st.prob:  # optional step not taken
                prev = _SKIPPED
                j += 1
                continue
            if think > 0.0:
                sess.clock += think
                sess.moved = True
            if st.redirect:
                if u_drop < self.dropoff:
                    self._end_journey(sess, ABANDONED_REDIRECT)
                    return
                if r_time > 0.0:
                    sess.clock += r_time
                    sess.moved = True
            revenue = st.fee + st.take_rate * sess.value
            if st.kind_installment:
                revenue += self.installment_rate * sess.value
            sess.j = j
            sess.u_appr = u_appr
            # the step's logical call (as _begin_call, inline on the hot path)
            clock = sess.clock
            sess.st = st
            sess.revenue = revenue
            sess.t_first = clock
            sess.user_deadline = clock + self.patience
            sess.k = 1
            sess.attempt_draws = first
            if sess.moved:
                sess.callbacks = self._on_attempt  # as _wake_at, inline on the hot path
                heappush(self._queue, (clock, NORMAL, next(self._eid), sess))
            else:
                self._attempt(sess)
            return
        self._end_journey(sess, COMPLETED)

    def _end_journey(self, sess: _Session, ending: int) -> None:
        """The session is over (at ``sess.clock``)."""
        if self._journey_from_s <= sess.t_start < self._journey_to_s:
            self._journeys[ending] += 1
        if sess.clock > self.end_s:
            self.end_s = sess.clock

    def _call_done(self, sess: _Session, outcome: int) -> None:
        """A logical call ended with ``outcome`` (or :data:`PATIENCE`): the journey goes on
        to its next step, or ends."""
        if sess.draws is None:  # an unattended refresh
            if sess.clock > self.end_s:
                self.end_s = sess.clock
            return
        if outcome != OK:
            self._end_journey(
                sess,
                ABANDONED_PATIENCE if outcome == PATIENCE else (JOURNEY_FAILED_OFFSET + outcome),
            )
            return
        j = sess.j + 1
        if j == len(self.steps):  # completed (as _end_journey, inline on the hot path)
            if self._journey_from_s <= sess.t_start < self._journey_to_s:
                self._journeys[COMPLETED] += 1
            if sess.clock > self.end_s:
                self.end_s = sess.clock
            return
        st = sess.st
        if st.credit:
            sess.prev = _APPROVED if sess.u_appr < st.approval else _DECLINED
        else:
            sess.prev = _DONE
        sess.j = j
        self._walk(sess)

    # -- a logical call ------------------------------------------------------------------------
    def _begin_call(
        self, sess: _Session, st: _Step, draws: AttemptDraws, revenue: float, patience: float
    ) -> None:
        """A logical call of step ``st`` from ``sess.clock``: attempts with backoff until ok, a
        final outcome, or the user leaves (after ``patience`` seconds; inf for unattended
        refreshes). ``draws`` are the first attempt's (``st.first()``); each retry takes its
        own from ``st.retry`` when it arrives."""
        clock = sess.clock
        sess.st = st
        sess.revenue = revenue
        sess.t_first = clock
        sess.user_deadline = clock + patience
        sess.k = 1
        sess.attempt_draws = draws
        if sess.moved:
            self._wake_at(sess, clock, self._on_attempt)
        else:
            self._attempt(sess)

    def _attempt_event(self, sess: _Session) -> None:
        sess.moved = False
        self._attempt(sess)

    def _retry_event(self, sess: _Session) -> None:
        sess.moved = False
        sess.attempt_draws = sess.st.retry()
        self._attempt(sess)

    def _server_event(self, sess: _Session) -> None:
        sess.moved = False
        self._attempt(sess, fresh=False)

    def _jitter_event(self, sess: _Session) -> None:
        sess.moved = False
        self._back_off(sess, backoff_delay(self.backoff, sess.k, self.jitter))

    def _attempt(self, sess: _Session, fresh: bool = True) -> None:
        """An attempt arrives now (``fresh``; ``sess.clock`` is the clock), or its server side
        goes on (a step that took time is due). The server side runs up to its next step that
        takes time (one wake-up at it), or to its end; when the client's timeout or the user's
        patience comes first, the rest continues detached (:meth:`_detach`) and the client
        moves on.

        An attempt with no overhead and no pool lever is served without an :class:`_Attempt`:
        with a live token (or none needed) it reaches its pool at its arrival, and its whole
        server side is known now (:meth:`_reach_pool`); one that fetches a token sends the
        request now and reaches its pool when the answer is in (one wake-up,
        :meth:`_token_answered`), unless the client or the user gives up first. The same
        arithmetic as :meth:`_serve` and :meth:`_finish`."""
        clock = sess.clock
        if not fresh:
            att = sess.att
            self._server_side(sess, att, clock, self._serve(att))
            return
        if self.levers and not self._lever_gate(sess):
            return
        draws = sess.attempt_draws
        st = sess.st
        fused = draws[2] == 0.0 and not st.pool.levers
        if fused and (not self.auth or self.tokens.get(sess.user, -math.inf) > clock):
            self._reach_pool(sess, clock, clock, clock, draws)
            return
        client_deadline = clock + self.timeout
        user_deadline = sess.user_deadline
        wake = client_deadline if client_deadline <= user_deadline else user_deadline
        if not fused:
            att = self._open_attempt(sess, clock, client_deadline, wake)
            self._server_side(sess, att, clock, self._serve(att))
            return
        gw = self.gateway_checks
        assert gw is not None  # auth
        t_token = gw.fetch_token(clock, draws[4])  # as _serve at the gateway
        if t_token > wake:  # the client or the user gives up first: the general path
            att = self._open_attempt(sess, clock, client_deadline, wake)
            att.stage = _TOKEN_ANSWERED
            att.now = t_token
            self._server_side(sess, att, clock, t_token)
        elif t_token > clock:
            sess.t_arrive = clock
            sess.t_token = t_token
            sess.clock = t = clock + (t_token - clock)
            sess.callbacks = self._on_token  # as _wake_at
            heappush(self._queue, (t, NORMAL, next(self._eid), sess))
        else:
            self._token_answered(sess, clock, t_token, clock, draws)

    def _open_attempt(
        self, sess: _Session, clock: float, client_deadline: float, wake: float
    ) -> _Attempt:
        """The :class:`_Attempt` of the attempt arriving now (``clock``, s) for the general
        server side, and the deadlines its session waits under (``wake``: the earlier)."""
        att = sess.att = _Attempt(clock, sess.st, sess, sess.attempt_draws, sess.revenue, sess.k)
        sess.client_deadline = client_deadline
        sess.wake = wake
        return att

    def _token_event(self, sess: _Session) -> None:
        sess.moved = False
        self._token_answered(sess, sess.t_arrive, sess.t_token, sess.clock, sess.attempt_draws)

    def _token_answered(
        self, sess: _Session, t0: float, now: float, clock: float, draws: AttemptDraws
    ) -> None:
        """The token service answers at ``now`` (s) the attempt that arrived at ``t0``: a 401,
        or the token is cached and the attempt reaches its pool (``clock``: SimPy's)."""
        gw = self.gateway_checks
        assert gw is not None  # only API partners fetch tokens
        if draws[3] < gw.failure_rate:
            self._reach_pool(sess, t0, now, clock, draws, AUTH_FAILED)
            return
        self.tokens[sess.user] = now + gw.token_ttl_s
        self._reach_pool(sess, t0, now, clock, draws)

    def _reach_pool(
        self,
        sess: _Session,
        t0: float,
        now: float,
        clock: float,
        draws: AttemptDraws,
        refused: int | None = None,
    ) -> None:
        """The attempt that arrived at ``t0`` reaches its pool at ``now`` (s) with nothing
        left on its way that takes time (unless the gateway ``refused`` it with that outcome):
        the gateway's limiters decide, the pool fixes its start at admission, and the answer
        is recorded as its client sees it (a response after the timeout is a timeout, as in
        :meth:`_finish`) before the client has it (``clock``: SimPy's)."""
        st = sess.st
        if refused is not None:
            outcome = refused
            end = now
            wait = -1.0
        else:
            held: tuple = ()
            retry_after = 0.0
            if self.limited:
                route = st.route
                assert route is not None  # an API partner's step
                single = route.single
                if single is not None:  # as Gateway.admit, inline on the hot path
                    retry_after = single.check(now)
                    if retry_after <= 0.0:
                        single.consume(now)
                        held = route.single_held
                else:
                    gw = self.gateway_checks
                    assert gw is not None
                    retry_after, held = gw.admit(now, route, sess.user)
            if retry_after > 0.0:
                sess.retry_after = retry_after
                outcome = RATE_LIMITED
                end = now
                wait = -1.0
            else:
                service = draws[0]
                wait = st.pool.admit(now, service)
                if wait < 0.0:
                    for h in held:
                        h.finish_at(now)
                    outcome = OVERLOADED
                    end = now
                    wait = -1.0
                else:
                    end = now + wait + service
                    for h in held:
                        h.finish_at(end)
                    outcome = ERROR if draws[1] else OK
        latency = end - t0
        if latency > self.timeout:
            outcome = TIMEOUT
            latency = self.timeout
        k = sess.k
        buf = self._buf
        buf.extend((t0, st.pp, outcome, latency, wait, sess.revenue if outcome == OK else 0.0, k))
        if len(buf) >= self._stage_at:
            self.rec.stage()
        if sess.logged:
            self._log(t0, st, sess, k, outcome, latency, wait, draws)
        self._answered(sess, clock, t0 + latency, outcome)

    def _server_side(self, sess: _Session, att: _Attempt, clock: float, t_next: float) -> None:
        """Go on with ``att``'s server side, whose next step that takes time is at ``t_next``
        (s; :data:`_SERVED` when it is done): a wake-up at that step, or the rest detached
        when the client's timeout or the user's patience (``sess.wake``) comes first, or the
        client's outcome."""
        wake = sess.wake
        while t_next >= 0.0:
            if t_next > wake:
                self._detach(att, t_next)
                sess.clock = clock + delay_until(wake, clock)
                sess.moved = True
                outcome = PATIENCE if wake != sess.client_deadline else TIMEOUT
                if self.levers:
                    self._lever_outcome(sess, outcome)
                elif outcome == PATIENCE:
                    self._call_done(sess, PATIENCE)
                else:
                    self._after_attempt(sess, TIMEOUT)
                return
            if t_next > clock:
                sess.clock = clock + (t_next - clock)
                self._wake_at(sess, sess.clock, self._on_server)
                return
            t_next = self._serve(att)
        outcome = att.client_outcome
        if outcome == RATE_LIMITED:
            sess.retry_after = att.retry_after
        self._answered(sess, clock, att.client_end, outcome)

    def _answered(self, sess: _Session, clock: float, end: float, outcome: int) -> None:
        """The attempt's server side is done: its client has ``outcome`` at ``end`` (s; the
        clock is ``clock``), unless the user leaves first."""
        user_deadline = sess.user_deadline
        if end > user_deadline:
            sess.clock = clock + delay_until(user_deadline, clock)
            sess.moved = True
            if self.levers:
                self._lever_outcome(sess, PATIENCE)
            else:
                self._call_done(sess, PATIENCE)
            return
        if end > clock:
            sess.clock = clock + (end - clock)
            sess.moved = True
        if self.levers:
            self._lever_outcome(sess, outcome)
        elif outcome == OK and not sess.st.background:  # as _after_attempt, on the hot path
            t_first = sess.t_first
            self._lc.extend((t_first, sess.clock - t_first))  # Recorder.logical_call
            self._call_done(sess, OK)
        else:
            self._after_attempt(sess, outcome)

    # -- the client's levers: a retry budget, a circuit breaker per product ------------------
    def _lever_gate(self, sess: _Session) -> bool:
        """An attempt is about to go (at ``sess.clock``, SimPy's clock): False when the
        product's breaker is open and the call fails fast (ended here, with
        :data:`~openbank_sim.outcomes.CIRCUIT_OPEN`); a first attempt pays into the budget."""
        t = sess.clock
        st = sess.st
        if self.breakers is not None:
            permit = self.breakers[st.product].permit(t)
            if permit < 0:
                self.rec.short_circuit(t, st.pp)
                if not st.background:
                    self.rec.logical_call(sess.t_first, t - sess.t_first)
                self._call_done(sess, CIRCUIT_OPEN)
                return False
            sess.permit = permit
        if self.budget is not None and sess.k == 1:
            self.budget.deposit(t)
        return True

    def _lever_outcome(self, sess: _Session, outcome: int) -> None:
        """The client has an attempt's outcome (or the user left: :data:`PATIENCE`) at
        ``sess.clock``: the levers hear of it at that moment, in time order (a wake-up when the
        session's clock is ahead of SimPy's)."""
        if sess.moved:
            sess.outcome = outcome
            self._wake_at(sess, sess.clock, self._on_outcome)
        else:
            self._lever_decide(sess, outcome)

    def _outcome_event(self, sess: _Session) -> None:
        sess.moved = False
        self._lever_decide(sess, sess.outcome)

    def _lever_decide(self, sess: _Session, outcome: int) -> None:
        """The breaker records the outcome; a retry the budget cannot pay for is not made (the
        call ends with the attempt's outcome); otherwise the client goes on as without levers."""
        t = sess.clock
        st = sess.st
        if self.breakers is not None:
            breaker = self.breakers[st.product]
            if outcome == PATIENCE:
                breaker.release(sess.permit)
            else:
                breaker.record(t, self.failures[outcome], sess.permit)
        if outcome == PATIENCE:
            self._call_done(sess, PATIENCE)
            return
        budget = self.budget
        if (
            budget is not None
            and outcome != OK
            and sess.k < self.max_attempts
            and self.retry_on[outcome]
            and not budget.try_withdraw(t)
        ):
            self.rec.retry_suppressed(t, st.pp)
            if not st.background:
                self.rec.logical_call(sess.t_first, t - sess.t_first)
            self._call_done(sess, outcome)
            return
        self._after_attempt(sess, outcome)

    def _after_attempt(self, sess: _Session, outcome: int) -> None:
        """The client has the attempt's outcome (at ``sess.clock``): the call ends, or the
        next attempt comes after a backoff."""
        k = sess.k
        if outcome == OK or k >= self.max_attempts or not self.retry_on[outcome]:
            if not sess.st.background:  # what users wait for: unattended refreshes left out
                t_first = sess.t_first
                self._lc.extend((t_first, sess.clock - t_first))  # Recorder.logical_call
            self._call_done(sess, outcome)
            return
        if outcome == RATE_LIMITED and self.respect_retry_after and sess.retry_after < math.inf:
            self._back_off(sess, sess.retry_after)
        elif sess.moved and self.backoff.jitter != "none":
            # the jitter is drawn when the client has the outcome, in time order
            self._wake_at(sess, sess.clock, self._on_jitter)
        else:
            self._back_off(sess, backoff_delay(self.backoff, k, self.jitter))

    def _back_off(self, sess: _Session, delay: float) -> None:
        """Wait ``delay`` seconds, then the next attempt (unless the user leaves first)."""
        clock = sess.clock
        user_deadline = sess.user_deadline
        if clock + delay >= user_deadline:
            sess.clock = clock + delay_until(user_deadline, clock)
            sess.moved = True
            self._call_done(sess, PATIENCE)
            return
        sess.k += 1
        if delay > 0.0:
            sess.clock = clock + delay
            sess.moved = True
        if sess.moved:
            self._wake_at(sess, sess.clock, self._on_retry)
        else:
            sess.attempt_draws = sess.st.retry()
            self._attempt(sess)

    def _consent_lapses(self, bg: Any, streams: Streams) -> np.ndarray | None:
        """When each unattended user's consent lapses for good (seconds; inf = never).

        Consents were granted at times spread evenly over the lifetime before t = 0 (a steady
        state), so the first expiry is uniform on ``[0, lifetime)``; each expiry is renewed with
        ``renewal_probability``, so the number of renewals before the lapse is geometric.
        """
        consent = bg.consent
        if consent is None:
            return None
        gen = streams.generator("partner", self.spec.name, "consent")
        first = gen.random(self.bg_users) * consent.lifetime_s
        p = consent.renewal_probability
        u = gen.random(self.bg_users)
        if p <= 0.0:
            renewals = np.zeros(self.bg_users)
        elif p >= 1.0:
            renewals = np.full(self.bg_users, np.inf)
        else:
            renewals = np.floor(np.log1p(-u) / math.log(p))
        lapse = first + renewals * consent.lifetime_s
        live_from = self.spec.live_from_s
        if live_from < self.horizon_s:  # lapses while the partner is live
            self.consents_lapsed = int(
                np.count_nonzero((lapse >= live_from) & (lapse < self.horizon_s))
            )
        return lapse

    def _detach(self, att: _Attempt, t_next: float) -> None:
        """Go on with the rest of an attempt's server side after its client stopped waiting,
        from its next step at ``t_next`` (s): one pending SimPy timeout that carries the
        attempt as its value, no process of its own."""
        env = self.env
        env.timeout(delay_until(t_next, env.now), att).callbacks.append(self._resume)

    def _resume(self, event: simpy.Event) -> None:
        """Run a detached server side (of the attempt ``event.value``) up to its next step
        that takes time."""
        att = event.value
        assert isinstance(att, _Attempt)  # every detached timeout carries its attempt
        env = self.env
        while True:
            t = self._serve(att)
            if t < 0.0:
                return
            if t > env.now:
                env.timeout(t - env.now, att).callbacks.append(self._resume)
                return

    def _serve(self, att: _Attempt) -> float:
        """Run an attempt's server side from where it stands (``att.stage``) up to its next
        step that takes time: returns that step's time (absolute s), or :data:`_SERVED` when
        the server side is done and the attempt recorded."""
        stage = att.stage
        now = att.now
        st = att.step
        draws = att.draws
        gw = self.gateway_checks
        held: tuple = ()
        if stage == _AT_GATEWAY and gw is not None and gw.has_auth:
            user = att.sess.user
            expiry = self.tokens.get(user)
            if expiry is None or expiry <= now:
                t_token = gw.fetch_token(now, draws[4])
                if t_token > now:
                    att.stage = _TOKEN_ANSWERED
                    att.now = t_token
                    return t_token
                stage = _TOKEN_ANSWERED
        if stage == _TOKEN_ANSWERED:  # a token was fetched; its answer is in at ``now``
            assert gw is not None  # only API partners fetch tokens
            if draws[3] < gw.failure_rate:
                self._finish(att, now, AUTH_FAILED, -1.0)
                return _SERVED
            self.tokens[att.sess.user] = now + gw.token_ttl_s
        if stage != _AT_POOL:
            if gw is not None and gw.has_limits:
                assert st.route is not None  # every step of an API partner has a route
                retry_after, held = gw.admit(now, st.route, att.sess.user)
                if retry_after > 0.0:
                    att.retry_after = retry_after
                    self._finish(att, now, RATE_LIMITED, -1.0)
                    return _SERVED
            d = draws[2]
            if d > 0.0:
                att.held = held
                att.stage = _AT_POOL
                att.now = now = now + d
                return now
        else:
            held = att.held
        service = draws[0]
        pool = st.pool
        if pool.levers:  # drop_expired, shed_background_above (BackendPool.admit_levered)
            deadline = att.t0 + self.timeout
            wait = pool.admit_levered(now, service, att.t0, deadline, st.background)
            if wait == DROPPED:  # its client saw a timeout at its deadline; it leaves then
                leave = deadline if deadline > now else now
                for h in held:
                    h.finish_at(leave)
                self._finish(att, math.inf, TIMEOUT, leave - now)  # latency = the timeout
                return _SERVED
        else:
            wait = pool.admit(now, service)
        if wait < 0.0:
            for h in held:
                h.finish_at(now)
            self._finish(att, now, OVERLOADED, -1.0)
            return _SERVED
        end = now + wait + service
        for h in held:
            h.finish_at(end)
        self._finish(att, end, ERROR if draws[1] else OK, wait)
        return _SERVED

    def _finish(self, att: _Attempt, end: float, outcome: int, wait: float) -> None:
        """Record the attempt as the client sees it (a response after the timeout is a timeout)."""
        t0 = att.t0
        latency = end - t0
        if latency > self.timeout:
            outcome = TIMEOUT
            latency = self.timeout
        att.client_outcome = outcome
        att.client_end = t0 + latency
        st = att.step
        buf = self._buf
        buf.extend(
            (t0, st.pp, outcome, latency, wait, att.revenue if outcome == OK else 0.0, att.k)
        )
        if len(buf) >= self._stage_at:
            self.rec.stage()
        sess = att.sess
        if sess.logged:
            self._log(t0, st, sess, att.k, outcome, latency, wait, att.draws)

    def _log(
        self,
        t0: float,
        st: _Step,
        sess: _Session,
        k: int,
        outcome: int,
        latency: float,
        wait: float,
        draws: AttemptDraws,
    ) -> None:
        """The attempt's call-log row (its session is sampled into the log)."""
        _, _, overhead, u_auth, token_service = draws
        self.rec.log(
            (
                t0,
                self.index,
                st.product,
                sess.user,
                sess.sid,
                k,
                st.background,
                outcome,
                latency,
                wait,
                overhead,
                u_auth,
                token_service,
            )
        )
