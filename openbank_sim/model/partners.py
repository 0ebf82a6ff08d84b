"""Partner platforms: NHPP sessions, journeys and the partner-side client.

Each live partner runs one arrival process; each session is a SimPy process that walks its
journey. Everything a session will need is drawn from the partner's own streams the moment it
starts (user id, value, and for every step the optional-step coin, think time, approval, the
redirect coin and time, and every draw of the step's first attempt: backend service time and
error, the gateway's or direct line's overhead, the 401 coin and the token service time),
whether or not the step runs, the attempt is admitted or it needs a token: two scenarios that
differ only in limits or capacity see the same users doing the same things, and each first
attempt gets the same draws in both (common random numbers). A retry draws all of its own from
the step's retry streams; an unattended refresh draws its first attempt's when it starts, from
the background step's streams. The gateway draws nothing itself.

An attempt's server side (token fetch, limits, overhead, backend pool) runs inline in the
session process as long as the client is still waiting; when the client's timeout or the
user's patience comes first, the rest of the server side continues detached (a backend never
recalls work) while the session moves on: one pending timeout per step still ahead, which
carries the server side, and no process of its own. A server side whose remaining steps are
known when the client leaves (the backend's answer, fixed at admission) leaves nothing behind.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from ..outcomes import JOURNEY_FAILED_OFFSET, OUTCOME_NAMES, JourneyEnding, Outcome
from ..rng import Streams
from ..spec.distributions import Distribution
from ..spec.profiles import Profile, rate_pieces, sample_nhpp_blocks
from ..spec.types import AuthSpec, JourneySpec, PartnerSpec, ProductSpec, Spec, StepSpec
from ..spec.units import SECONDS_PER_YEAR
from .bank import BackendPool
from .clock import delay_until
from .gateway import Gateway
from .recorder import Recorder

__all__ = ["PartnerRuntime", "SpanContext"]

# plain ints on the hot path (an IntEnum member compares slower)
OK, RATE_LIMITED, OVERLOADED, TIMEOUT, ERROR, AUTH_FAILED = (o.value for o in Outcome)
PATIENCE = -1  # not an outcome: the user left while the attempt was under way
COMPLETED = JourneyEnding.COMPLETED.value
ABANDONED_PATIENCE = JourneyEnding.PATIENCE.value
ABANDONED_REDIRECT = JourneyEnding.REDIRECT.value
_SKIPPED, _DONE, _APPROVED, _DECLINED = 0, 1, 2, 3
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


# an attempt's draws: (service_s, is_error, overhead_s, auth_coin, token_service_s)
AttemptDraws = tuple[float, bool, float, float, float]
_Column = Callable[[int], Iterable[Any]]  # n -> the next n values of one draw


def _constant(value: Any) -> _Column:
    """A draw that is always ``value`` (no stream)."""
    return lambda n: itertools.repeat(value, n)


def _sampled(
    gen: np.random.Generator, sample: Callable[[np.random.Generator, int], Any]
) -> _Column:
    """``sample(gen, n)`` as Python floats."""
    return lambda n: sample(gen, n).tolist()


def _coin(gen: np.random.Generator, p: float) -> _Column:
    """Coins that come up True with probability ``p`` (a uniform below ``p``)."""
    return lambda n: (gen.random(n) < p).tolist()


class _AttemptDraws:
    """Every draw of a step's attempts (its first attempts, or its retries), one tuple each.

    An attempt's tuple is :data:`AttemptDraws`, ``(service_s, is_error, overhead_s, auth_coin,
    token_service_s)``: the backend service time, the error coin's outcome, the gateway's or
    direct line's overhead (0.0 when the line has none), the 401 coin (a uniform; NaN without
    auth) and the token service time (NaN without auth). Each draw has a stream of its own,
    ``(*key, prefix + purpose)`` with purposes ``service``, ``error``, ``overhead``,
    ``auth_failure`` and ``token_service``. Blocks of all five are drawn together on demand, 64
    doubling up to 4096 as in :class:`~openbank_sim.rng.BlockSampler`, so each stream gives
    the values a BlockSampler over it would give, for one call per attempt.
    """

    __slots__ = ("_auth", "_block", "_buf", "_error", "_i", "_n", "_overhead", "_service", "_token")

    def __init__(
        self,
        streams: Streams,
        key: tuple[str, ...],
        prefix: str,
        product: ProductSpec,
        overhead: Distribution | None,
        auth: AuthSpec | None,
    ) -> None:
        def gen(purpose: str) -> np.random.Generator:
            return streams.generator(*key, prefix + purpose)

        self._service = _sampled(gen("service"), product.service_time.sample)
        rate = product.error_rate
        self._error = _coin(gen("error"), rate) if rate > 0 else _constant(False)
        self._overhead = (
            _sampled(gen("overhead"), overhead.sample) if overhead is not None else _constant(0.0)
        )
        if auth is not None:
            self._auth = _sampled(gen("auth_failure"), lambda g, n: g.random(n))
            self._token = _sampled(gen("token_service"), auth.service_time.sample)
        else:
            self._auth = self._token = _constant(NAN)
        self._block = 64
        self._buf: list[AttemptDraws] = []
        self._i = 0
        self._n = 0

    def _refill(self) -> None:
        n = self._block
        self._buf = list(
            zip(
                self._service(n),
                self._error(n),
                self._overhead(n),
                self._auth(n),
                self._token(n),
                strict=False,  # each column gives exactly n values
            )
        )
        self._n = n
        self._i = 0
        if n < 4096:
            self._block = 2 * n

    def __call__(self) -> AttemptDraws:
        """The next attempt's draws."""
        if self._i >= self._n:
            self._refill()
        i = self._i
        self._i = i + 1
        return self._buf[i]


class _Step:
    """One journey step as the runtime sees it (samplers bound to the partner's streams).

    ``first`` and ``retry`` hand out every draw of an attempt (:class:`_AttemptDraws`): the
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
        self.first = _AttemptDraws(streams, key, "", product, rt.overhead_time, auth)
        self.retry = _AttemptDraws(streams, key, "retry_", product, rt.overhead_time, auth)
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
    """One attempt and its draws: backend service time (s), error, overhead (s), 401 coin
    (a uniform; NaN without auth) and token service time (s; NaN without auth)."""

    __slots__ = (
        "client_end",
        "client_outcome",
        "held",
        "is_error",
        "k",
        "logged",
        "overhead",
        "retry_after",
        "revenue",
        "service",
        "sid",
        "step",
        "t0",
        "token_service",
        "u_auth",
        "user",
    )

    def __init__(
        self,
        t0: float,
        step: _Step,
        user: int,
        draws: AttemptDraws,
        revenue: float,
        k: int,
        sid: int,
        logged: bool,
    ) -> None:
        self.t0 = t0
        self.step = step
        self.user = user
        self.service, self.is_error, self.overhead, self.u_auth, self.token_service = draws
        self.revenue = revenue
        self.k = k
        self.sid = sid
        self.logged = logged
        self.retry_after = math.inf
        self.client_end = math.inf
        self.client_outcome = TIMEOUT


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
    """A live partner: its arrival process, sessions and client.

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
        self.start = run.start
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
        self.consents_lapsed = 0
        self.bg_step: _Step | None = None
        bg = spec.background
        if bg is not None:
            self.bg_step = _Step(
                self, 0, StepSpec(bg.product, 1.0, None, None, 1.0), None, background=True
            )
            self.bg_users = max(1, round(spec.users * bg.share_of_users))
            self.bg_lapse = self._consent_lapses(bg, streams)

    # -- arrivals ------------------------------------------------------------------------------
    def arrivals(self) -> Generator[simpy.Event, Any, None]:
        """Start sessions at the NHPP arrival times in ``[live_from, horizon)``."""
        env = self.env
        spec = self.spec
        base = spec.users * spec.sessions_per_user_day / 86400.0
        edges, factors = partner_rate(
            spec, self.profile, self.start, self.horizon_s, self.span_from_s
        )
        gen = self._streams.generator("partner", spec.name, "arrivals")
        live_from = spec.live_from_s
        sid = 0
        for times in sample_nhpp_blocks(gen, base, edges, factors):
            for t in times.tolist():
                if t < live_from:
                    continue
                if t > env.now:
                    yield env.timeout(t - env.now)
                env.process(self.session(sid))
                sid += 1
        self.sessions = sid

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

    def background(self) -> Generator[simpy.Event, Any, None]:
        """Unattended refreshes: a Poisson process of ``per_user_day`` per background user."""
        env = self.env
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
        rid = 0
        for times in sample_nhpp_blocks(gen, rate, edges, np.ones(1)):
            for t in times.tolist():
                user = int(users())
                if t < live_from or (lapse is not None and t >= lapse[user]):
                    continue
                if t > env.now:
                    yield env.timeout(t - env.now)
                env.process(self.refresh(rid, user))
                rid += 1
        self.refreshes = rid

    def refresh(self, rid: int, user: int) -> Generator[simpy.Event, Any, None]:
        """One unattended refresh: a logical call with no user waiting (no patience)."""
        st = self.bg_step
        assert st is not None  # started only for partners with unattended traffic
        draws = st.first()
        logged = self.log_share > 0.0 and (self.log_share >= 1.0 or self.u_log() < self.log_share)
        yield from self._call(st, user, -1 - rid, draws, st.fee, logged, math.inf)

    # -- a session -----------------------------------------------------------------------------
    def session(self, sid: int) -> Generator[simpy.Event, Any, None]:
        """One user session walking the partner's journey."""
        env = self.env
        t_start = env.now
        if self.growth_log_per_s:
            user = int(self.u_user() * self.spec.users * math.exp(self.growth_log_per_s * t_start))
        else:
            user = int(self.users())
        value = self.value() if self.value is not None else 0.0
        logged = self.log_share > 0.0 and (self.log_share >= 1.0 or self.u_log() < self.log_share)
        draws = []
        for st in self.steps:
            draws.append(
                (
                    st.u_prob() if st.u_prob is not None else 0.0,
                    st.think() if st.think is not None else 0.0,
                    st.u_appr() if st.u_appr is not None else 0.0,
                    st.first(),
                    st.u_drop() if st.u_drop is not None else 1.0,
                    st.redirect_time() if st.redirect_time is not None else 0.0,
                )
            )
        ending = COMPLETED
        prev = _DONE
        for st, (u_prob, think, u_appr, first, u_drop, r_time) in zip(
            self.steps, draws, strict=True
        ):
            when = st.when
            if when is not None and not (
                (when == "ok" and prev != _SKIPPED)
                or (when == "approved" and prev == _APPROVED)
                or (when == "declined" and prev == _DECLINED)
            ):
                prev = _SKIPPED
                continue
            if st.u_prob is not None and u_prob >= st.prob:  # optional step not taken
                prev = _SKIPPED
                continue
            if think > 0.0:
                yield env.timeout(think)
            if st.redirect:
                if u_drop < self.dropoff:
                    ending = ABANDONED_REDIRECT
                    break
                if r_time > 0.0:
                    yield env.timeout(r_time)
            revenue = st.fee + st.take_rate * value
            if st.kind_installment:
                revenue += self.installment_rate * value
            outcome = yield from self._call(st, user, sid, first, revenue, logged, self.patience)
            if outcome != OK:
                ending = (
                    ABANDONED_PATIENCE if outcome == PATIENCE else (JOURNEY_FAILED_OFFSET + outcome)
                )
                break
            if st.credit:
                prev = _APPROVED if u_appr < st.approval else _DECLINED
            else:
                prev = _DONE
        self.rec.journey(t_start, self.journey_index, self.index, ending)

    def _call(
        self,
        st: _Step,
        user: int,
        sid: int,
        draws: AttemptDraws,
        revenue: float,
        logged: bool,
        patience: float,
    ) -> Generator[simpy.Event, Any, int]:
        """A logical call: attempts with backoff until ok, a final outcome, or the user leaves
        (after ``patience`` seconds; inf for unattended refreshes). ``draws`` are the first
        attempt's (``st.first()``); each retry takes its own from ``st.retry``.

        Each attempt's server side runs inline while the client waits; when the client's
        timeout or the user's patience comes first, the rest continues detached
        (:meth:`_detach`). Waiting for an answer, a deadline or a backoff takes one pending
        timeout.
        """
        env = self.env
        t_first = env.now
        user_deadline = t_first + patience
        k = 1
        while True:
            att = _Attempt(env.now, st, user, draws, revenue, k, sid, logged)
            client_deadline = att.t0 + self.timeout
            wake = client_deadline if client_deadline <= user_deadline else user_deadline
            server = self._serve(att)
            outcome = OK
            for t_next in server:
                if t_next > wake:
                    self._detach(server, t_next)
                    yield env.timeout(delay_until(wake, env.now))
                    if wake != client_deadline:
                        return PATIENCE
                    outcome = TIMEOUT
                    break
                if t_next > env.now:
                    yield env.timeout(t_next - env.now)
            else:
                end = att.client_end
                if end > user_deadline:
                    yield env.timeout(delay_until(user_deadline, env.now))
                    return PATIENCE
                if end > env.now:
                    yield env.timeout(end - env.now)
                outcome = att.client_outcome
            if outcome == OK or k >= self.max_attempts or not self.retry_on[outcome]:
                if not st.background:  # what users wait for: unattended refreshes left out
                    self.rec.logical_call(t_first, env.now - t_first)
                return outcome
            if outcome == RATE_LIMITED and self.respect_retry_after and att.retry_after < math.inf:
                delay = att.retry_after
            else:
                b = self.backoff
                delay = min(b.max_s, b.base_s * b.factor ** (k - 1))
                if b.jitter == "full":
                    delay *= self.jitter()
                elif b.jitter == "equal":
                    delay = 0.5 * delay * (1.0 + self.jitter())
            if env.now + delay >= user_deadline:
                yield env.timeout(delay_until(user_deadline, env.now))
                return PATIENCE
            if delay > 0.0:
                yield env.timeout(delay)
            k += 1
            draws = st.retry()

    def _detach(self, server: Generator[float, None, None], t_next: float) -> None:
        """Go on with the rest of an attempt's server side after its client stopped waiting,
        from its next step at ``t_next`` (s): one pending SimPy timeout that carries the server
        side as its value, no process of its own."""
        env = self.env
        env.timeout(delay_until(t_next, env.now), server).callbacks.append(self._resume)

    def _resume(self, event: simpy.Event) -> None:
        """Run a detached server side (``event.value``) up to its next step that takes time."""
        server = event.value
        assert server is not None  # every detached timeout carries its server side
        env = self.env
        for t in server:
            if t > env.now:
                env.timeout(t - env.now, server).callbacks.append(self._resume)
                return

    def _serve(self, att: _Attempt) -> Generator[float, None, None]:
        """The server side of an attempt; yields the next time it needs (absolute seconds)."""
        now = att.t0
        st = att.step
        held: tuple = ()
        gw = self.gateway
        if gw is not None:  # an API partner
            if gw.has_auth:
                expiry = self.tokens.get(att.user)
                if expiry is None or expiry <= now:
                    t_token = gw.fetch_token(now, att.token_service)
                    if t_token > now:
                        yield t_token
                        now = t_token
                    if att.u_auth < gw.failure_rate:
                        self._finish(att, now, AUTH_FAILED, -1.0)
                        return
                    self.tokens[att.user] = now + gw.token_ttl_s
            if gw.has_limits:
                assert st.route is not None  # every step of an API partner has a route
                retry_after, held = gw.admit(now, st.route, att.user)
                if retry_after > 0.0:
                    att.retry_after = retry_after
                    self._finish(att, now, RATE_LIMITED, -1.0)
                    return
        d = att.overhead
        if d > 0.0:
            now += d
            yield now
        wait = st.pool.admit(now, att.service)
        if wait < 0.0:
            for h in held:
                h.finish_at(now)
            self._finish(att, now, OVERLOADED, -1.0)
            return
        end = now + wait + att.service
        for h in held:
            h.finish_at(end)
        self._finish(att, end, ERROR if att.is_error else OK, wait)

    def _finish(self, att: _Attempt, end: float, outcome: int, wait: float) -> None:
        """Record the attempt as the client sees it (a response after the timeout is a timeout)."""
        latency = end - att.t0
        if latency > self.timeout:
            outcome = TIMEOUT
            latency = self.timeout
        att.client_outcome = outcome
        att.client_end = att.t0 + latency
        st = att.step
        self.rec.attempt(
            att.t0, st.pp, outcome, latency, wait, att.revenue if outcome == OK else 0.0, att.k
        )
        if att.logged:
            self.rec.log(
                (
                    att.t0,
                    self.index,
                    st.product,
                    att.user,
                    att.sid,
                    att.k,
                    st.background,
                    outcome,
                    latency,
                    wait,
                    att.overhead,
                    att.u_auth,
                    att.token_service,
                )
            )
