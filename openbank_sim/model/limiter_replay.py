"""Limiter memory for windowed traffic: the traffic before a window, replayed through the limiters.

A window of windowed traffic starts with a fresh gateway. A token bucket forgets its past within
its refill time (``burst / rate``) and a concurrency limit within the life of an attempt, so the
window's warm-up fills them. A fixed or sliding window limit remembers a whole window (a sliding
weighted estimate two), e.g. the PSD2 log of 4 unattended refreshes per user per rolling 24 h:
started empty, it admits everything for a day. Such a limit's state at a window's start must be
what full traffic would have left there.

:class:`LimiterReplay` rebuilds it: before each window it replays, through the limiters only, the
traffic those limits see, over :data:`REPLAY_MEMORIES` memory spans before the window's span (or
from t = 0, where full traffic starts empty too). No SimPy, no queueing: each attempt is checked
against every limiter of its route (check all, then consume, as the gateway does) and ends
``rate_limited`` when one rejects, ``overloaded`` when its pool is down (the horizon's outage
timeline), ``error`` with the product's error rate, else ``ok``; the partner's client then
retries as it would (``max_attempts``, ``retry_on``, Retry-After or backoff with jitter; a user
leaves when the next attempt would come after their patience). Sessions walk their journey
(optional steps, conditions on the previous step, think times; no service or wait times);
unattended refreshes are the Poisson process of the partner's background users whose consent has
not lapsed. Only traffic on routes through a replayed limit is replayed.

One replay runs forward through the horizon, in time order over the spans before the windows.
At a window's start (:meth:`LimiterReplay.install`) the window's gateway takes over the replayed
state: its long-memory limiters of fixed scope get copies, and its per-user states are copied from
the replay on first use, so a window pays only for the users it meets. Refreshes the replay has
waiting to retry inside the window (:meth:`LimiterReplay.waiting_refreshes`) are started in the
window at their retry time, as full traffic would have them arrive there.

The cost is that of the replayed traffic (about 1-2 microseconds per attempt against ~15 in the
SimPy model), once over the union of the replayed spans, whatever the number of windows.
"""

from __future__ import annotations

import copy
import heapq
import math
from bisect import bisect_right
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..outcomes import OUTCOME_NAMES, Outcome
from ..rng import Sampler, Streams
from ..spec.limits import LimitSpec
from ..spec.profiles import sample_nhpp
from ..spec.types import GatewaySpec, PartnerSpec, Spec
from ..spec.units import SECONDS_PER_YEAR
from .gateway import Gateway
from .horizon import Operations, background_users
from .limits import new_state
from .partners import backoff_delay, partner_rate

__all__ = [
    "REPLAY_MEMORIES",
    "LimiterReplay",
    "limit_memory_s",
    "replayed_limits",
    "route_rules",
]

REPLAY_MEMORIES = 3
"""Memory spans replayed before each window. One span is not enough: a sliding log is a loss
system whose state also depends, through the arrivals it rejected, on the span before. Started
empty, Poisson arrivals at 3 per window through a log of 4 are rejected 21.8 % of the time over
the window after one span, 20.9 % after two and 20.6 % after three, against Erlang B's 20.6 %
(at 2 per window: 10.3 %, 9.6 %, 9.6 % against 9.5 %; +-0.15 %)."""

CHUNK_S = 86400.0  # arrivals are drawn a day (or fewer expected arrivals) at a time
CHUNK_ARRIVALS = 200_000.0
_USER_BITS = 32
_USER_MASK = (1 << _USER_BITS) - 1
OK, RATE_LIMITED, OVERLOADED, ERROR = (
    Outcome.OK.value,
    Outcome.RATE_LIMITED.value,
    Outcome.OVERLOADED.value,
    Outcome.ERROR.value,
)
_SKIPPED, _DONE, _APPROVED, _DECLINED = 0, 1, 2, 3
_REFRESH, _SESSION = 0, 1


def limit_memory_s(spec: LimitSpec) -> float:
    """How long a limiter remembers (s): a token bucket its refill time ``burst / rate``, a
    fixed window or sliding log one window, a sliding weighted estimate two; a concurrency
    limit only the attempts in flight (0 here)."""
    if spec.algorithm == "token_bucket":
        return spec.burst / spec.rate_per_s
    if spec.algorithm == "fixed_window":
        return spec.window_s
    if spec.algorithm == "sliding_window":
        return spec.window_s if spec.variant == "log" else 2.0 * spec.window_s
    return 0.0


def replayed_limits(gateway: GatewaySpec, warmup_s: float) -> tuple[int, ...]:
    """Indices of the gateway limits a window's warm-up cannot fill: fixed and sliding windows
    remembering longer than ``warmup_s`` (token buckets and concurrency limits keep the
    warm-up)."""
    return tuple(
        li
        for li, rule in enumerate(gateway.limits)
        if rule.spec.algorithm in ("fixed_window", "sliding_window")
        and limit_memory_s(rule.spec) > warmup_s
    )


def route_rules(
    gateway: GatewaySpec, product: str, background: bool
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The limits on attempts of ``product`` (unattended or not), in the gateway's order: those
    of a fixed scope (global, partner, partner_product) and the per-user ones."""
    fixed: list[int] = []
    user: list[int] = []
    for li, rule in enumerate(gateway.limits):
        if rule.products is not None and product not in rule.products:
            continue
        if rule.background_only and not background:
            continue
        (user if rule.scope == "user" else fixed).append(li)
    return tuple(fixed), tuple(user)


def _fixed_key(scope: str, li: int, partner: int, product: int) -> tuple[int, ...]:
    """The gateway's sharing of a fixed-scope limit's state."""
    if scope == "global":
        return (li,)
    if scope == "partner":
        return (li, partner)
    return (li, partner, product)


def _clone(state: Any) -> Any:
    """An independent copy of a limiter state (its containers copied, not shared)."""
    cls = type(state)
    new = object.__new__(cls)
    for name in cls.__slots__:
        value = getattr(state, name)
        if isinstance(value, deque | list | dict):
            value = copy.copy(value)
        setattr(new, name, value)
    return new


class _TakenOver(dict):
    """One limit's per-user states in a window's gateway: each copied from the replay the first
    time the window asks for it (keys ``partner << 32 | user`` in the window's partner index)."""

    __slots__ = ("_global_of", "_source")

    def __init__(self, source: Mapping[int, Any], global_of: Sequence[int]) -> None:
        super().__init__()
        self._source = source
        self._global_of = global_of

    def get(self, key: int, default: Any = None) -> Any:
        value = dict.get(self, key)
        if value is None:
            src = self._source.get(
                (self._global_of[key >> _USER_BITS] << _USER_BITS) | (key & _USER_MASK)
            )
            if src is None:
                return default
            value = self[key] = _clone(src)
        return value

    def __missing__(self, key: int) -> Any:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int) and self.get(key) is not None


class _Route:
    """The replay's limiter states of one (partner, product, unattended) route."""

    __slots__ = ("fixed", "key", "one", "user")

    def __init__(self, fixed: tuple, user: tuple, partner: int) -> None:
        self.fixed = fixed  # state objects
        self.user = user  # (limit spec, states by packed key)
        self.key = partner << _USER_BITS
        # one per-user limit and nothing else (the PSD2 case): the fast path
        self.one = user[0] if not fixed and len(user) == 1 else None


class _Client:
    """A partner's client as the replay needs it, with its own jitter stream."""

    __slots__ = (
        "backoff",
        "jitter",
        "max_attempts",
        "respect",
        "retry_on",
    )

    def __init__(self, p: PartnerSpec, jitter: Sampler) -> None:
        c = p.client
        self.max_attempts = c.max_attempts
        self.retry_on = tuple(o in c.retry_on for o in OUTCOME_NAMES)
        self.respect = c.respect_retry_after
        self.backoff = c.backoff
        self.jitter = jitter

    def delay(self, outcome: int, k: int, retry_after: float) -> float:
        """Seconds before attempt ``k + 1`` after attempt ``k`` ended with ``outcome``."""
        if outcome == RATE_LIMITED and self.respect and retry_after < math.inf:
            return retry_after
        return backoff_delay(self.backoff, k, self.jitter)


class _Pool:
    """A pool's down intervals, for asking whether it is down at a time."""

    __slots__ = ("ends", "starts")

    def __init__(self, down: Sequence[tuple[float, float]]) -> None:
        self.starts = [a for a, _ in down]
        self.ends = [b for _, b in down]

    def down(self, t: float) -> bool:
        if not self.starts:
            return False
        i = bisect_right(self.starts, t) - 1
        return i >= 0 and t < self.ends[i]


class _Refreshes:
    """One partner's unattended refreshes on a replayed route."""

    __slots__ = (
        "client",
        "error_rate",
        "kind",
        "lapse",
        "live_from",
        "n_users",
        "partner",
        "pool",
        "rate",
        "route",
    )

    def __init__(
        self, partner: int, p: PartnerSpec, route: _Route, client: _Client, pool: _Pool, err: float
    ) -> None:
        bg = p.background
        assert bg is not None  # only partners with unattended traffic
        self.kind = _REFRESH
        self.partner = partner
        self.n_users = background_users(p)
        self.rate = self.n_users * bg.per_user_day / 86400.0
        self.route = route
        self.client = client
        self.pool = pool
        self.error_rate = err
        self.live_from = p.live_from_s
        self.lapse: np.ndarray | None = None


class _Step:
    """One journey step as the replay walks it."""

    __slots__ = ("approval", "credit", "error_rate", "pool", "prob", "route", "think", "when")

    def __init__(
        self, route: _Route, pool: _Pool, step: Any, kind: str, err: float, think: Any
    ) -> None:
        self.route = route
        self.pool = pool
        self.error_rate = err
        self.prob = step.probability
        self.when = step.when
        self.credit = kind == "credit_assessment"
        self.approval = step.approval_rate
        self.think = think


class _Sessions:
    """One partner's sessions, walking a journey with a step on a replayed route."""

    __slots__ = (
        "base",
        "client",
        "edges",
        "factors",
        "growth",
        "kind",
        "live_from",
        "partner",
        "patience",
        "steps",
        "users",
    )

    def __init__(self, partner: int, p: PartnerSpec, spec: Spec, client: _Client) -> None:
        self.kind = _SESSION
        self.partner = partner
        self.client = client
        self.base = p.users * p.sessions_per_user_day / 86400.0
        self.edges, self.factors = partner_rate(
            p, spec.profiles[p.profile], spec.run.start, spec.run.horizon_s
        )
        self.users = p.users
        self.growth = math.log1p(p.growth_per_year) / SECONDS_PER_YEAR
        self.live_from = p.live_from_s
        self.patience = spec.journeys[p.journey].patience_s
        self.steps: tuple[_Step, ...] = ()


class _Walk:
    """A session under way: its step, the previous step's result and the call's deadline."""

    __slots__ = ("deadline", "j", "prev", "src", "user")

    def __init__(self, src: _Sessions, user: int) -> None:
        self.src = src
        self.user = user
        self.j = 0
        self.prev = _DONE
        self.deadline = 0.0


def _clip(
    edges: np.ndarray, factors: np.ndarray, a: float, b: float
) -> tuple[np.ndarray, np.ndarray]:
    """The pieces of a piecewise-constant rate restricted to ``[a, b)``."""
    i = max(0, int(np.searchsorted(edges, a, side="right")) - 1)
    j = min(factors.size, int(np.searchsorted(edges, b, side="left")))
    cut = edges[i : j + 1].copy()
    cut[0], cut[-1] = a, b
    return cut, factors[i:j]


class LimiterReplay:
    """The traffic of long-memory limiters, replayed through them over the spans before windows.

    Args:
        spec: the scenario's spec.
        partners: the live partners (global index order).
        ops: the horizon's outages and consent lapses.
        seed: the run's seed (the replay draws from streams of its own).
        limits: indices of the replayed limits (:func:`replayed_limits`).
        pieces: the time intervals whose arrivals are replayed, in order and disjoint (s).
    """

    def __init__(
        self,
        spec: Spec,
        partners: tuple[PartnerSpec, ...],
        ops: Operations,
        seed: int,
        limits: tuple[int, ...],
        pieces: Sequence[tuple[float, float]],
    ) -> None:
        gw = spec.gateway
        self.limits = gw.limits
        self.replayed = frozenset(limits)
        self.pieces = list(pieces)
        self.now = 0.0
        self.attempts = 0
        self._piece = 0
        streams = Streams(seed)
        products = list(spec.bank.products.values())
        self._products = tuple(p.name for p in products)
        index = {p.name: k for k, p in enumerate(products)}
        self._rules = {
            (k, bg): route_rules(gw, prod.name, bg)
            for k, prod in enumerate(products)
            for bg in (False, True)
        }
        self.fixed_states: dict[tuple[int, ...], Any] = {}
        self.user_states: dict[int, dict[int, Any]] = {li: {} for li in range(len(self.limits))}
        pools = {name: _Pool(ops.down.get(name, ())) for name in spec.bank.pools}
        routes: dict[tuple[int, int, bool], _Route] = {}

        def route(pi: int, k: int, bg: bool) -> _Route:
            r = routes.get((pi, k, bg))
            if r is None:
                fixed_li, user_li = self._rules[k, bg]
                fixed = []
                for li in fixed_li:
                    rule = self.limits[li]
                    if rule.spec.algorithm == "concurrency":
                        continue  # holds only attempts in flight: always admits here
                    key = _fixed_key(rule.scope, li, pi, k)
                    state = self.fixed_states.get(key)
                    if state is None:
                        state = self.fixed_states[key] = new_state(rule.spec, 0.0)
                    fixed.append(state)
                user = tuple(
                    (self.limits[li].spec, self.user_states[li])
                    for li in user_li
                    if self.limits[li].spec.algorithm != "concurrency"
                )
                r = routes[pi, k, bg] = _Route(tuple(fixed), user, pi)
            return r

        def replayed_route(k: int, bg: bool) -> bool:
            fixed_li, user_li = self._rules[k, bg]
            return any(li in self.replayed for li in (*fixed_li, *user_li))

        self._refreshes: list[_Refreshes] = []
        self._sessions: list[_Sessions] = []
        for pi, p in enumerate(partners):
            if p.integration != "api":
                continue  # direct lines never pass the gateway
            client = _Client(p, streams.uniforms("replay", p.name, "backoff_jitter"))
            bg = p.background
            if bg is not None and replayed_route(index[bg.product], True):
                k = index[bg.product]
                prod = products[k]
                src = _Refreshes(
                    pi, p, route(pi, k, True), client, pools[prod.pool], prod.error_rate
                )
                src.lapse = ops.lapses.get(pi)
                self._refreshes.append(src)
            journey = spec.journeys[p.journey]
            if any(replayed_route(index[s.product], False) for s in journey.steps):
                sessions = _Sessions(pi, p, spec, client)
                sessions.steps = tuple(
                    _Step(
                        route(pi, index[s.product], False),
                        pools[spec.bank.products[s.product].pool],
                        s,
                        spec.bank.products[s.product].kind,
                        spec.bank.products[s.product].error_rate,
                        streams.sampler(s.think_time.sample, "replay", p.name, f"think{j}")
                        if s.think_time is not None
                        else None,
                    )
                    for j, s in enumerate(journey.steps)
                )
                self._sessions.append(sessions)
        self._heap: list[tuple[Any, ...]] = []
        self._seq = 0
        self._u_error = streams.uniforms("replay", "error")
        self._u_step = streams.uniforms("replay", "steps")
        self._arrivals = streams.generator("replay", "arrivals")
        rate = sum(s.rate for s in self._refreshes) + sum(
            s.base * float(np.max(s.factors, initial=0.0)) for s in self._sessions
        )
        self._chunk_s = CHUNK_S if rate <= 0 else max(60.0, min(CHUNK_S, CHUNK_ARRIVALS / rate))

    @property
    def replays_refreshes(self) -> bool:
        """True when unattended refreshes pass a replayed limit."""
        return bool(self._refreshes)

    @property
    def empty(self) -> bool:
        """True when no traffic passes a replayed limit (nothing to replay)."""
        return not self._refreshes and not self._sessions

    # -- replaying ---------------------------------------------------------------------------
    def advance_to(self, t_end: float) -> None:
        """Replay every event before ``t_end`` (s); arrivals only inside the replayed pieces."""
        while self.now < t_end:
            pieces = self.pieces
            while self._piece < len(pieces) and pieces[self._piece][1] <= self.now:
                self._piece += 1
            a, b = pieces[self._piece] if self._piece < len(pieces) else (math.inf, math.inf)
            if self.now < a:  # between pieces: only what is already waiting
                stop = min(t_end, a)
                self._run([], [], [], stop)
            else:
                stop = min(t_end, b, self.now + self._chunk_s)
                self._run(*self._draw_arrivals(self.now, stop), stop)
            self.now = stop

    def _draw_arrivals(self, a: float, b: float) -> tuple[list[float], list[Any], list[int]]:
        """Arrivals in ``[a, b)`` of every replayed source, in time order: times, sources,
        users."""
        gen = self._arrivals
        times: list[np.ndarray] = []
        users: list[np.ndarray] = []
        sources: list[Any] = []
        for src in self._refreshes:
            lo = max(a, src.live_from)
            if lo >= b:
                continue
            n = int(gen.poisson(src.rate * (b - lo)))
            t = np.sort(lo + gen.random(n) * (b - lo))
            u = gen.integers(0, src.n_users, n)
            if src.lapse is not None:
                keep = t < src.lapse[u]
                t, u = t[keep], u[keep]
            times.append(t)
            users.append(u)
            sources.append(src)
        for ss in self._sessions:
            lo = max(a, ss.live_from)
            if lo >= b:
                continue
            t = sample_nhpp(gen, ss.base, *_clip(ss.edges, ss.factors, lo, b))
            if ss.growth:
                u = (gen.random(t.size) * ss.users * np.exp(ss.growth * t)).astype(np.int64)
            else:
                u = gen.integers(0, ss.users, t.size)
            times.append(t)
            users.append(u)
            sources.append(ss)
        if not times:
            return [], [], []
        all_t = np.concatenate(times)
        order = np.argsort(all_t, kind="stable")
        which = np.concatenate([np.full(t.size, i) for i, t in enumerate(times)])[order]
        return (
            all_t[order].tolist(),
            [sources[i] for i in which.tolist()],
            np.concatenate(users)[order].tolist(),
        )

    def _push(self, t: float, kind: int, what: Any, user: int, k: int) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, kind, what, user, k))

    def _run(self, times: list[float], sources: list[Any], users: list[int], stop: float) -> None:
        """Process the arrivals and everything waiting, in time order, before ``stop``."""
        heap = self._heap
        pop = heapq.heappop
        n = len(times)
        i = 0
        inf = math.inf
        while True:
            ta = times[i] if i < n else inf
            if heap and heap[0][0] <= ta:
                if heap[0][0] >= stop:
                    break
                t, _, kind, what, user, k = pop(heap)
                if kind != _REFRESH:
                    self._call(t, what, user, k)
                    continue
            elif ta < stop:
                t, what, user, k = ta, sources[i], users[i], 1
                i += 1
                if what.kind != _REFRESH:
                    self._step(t, _Walk(what, user))
                    continue
            else:
                break
            # an unattended refresh's attempt k (inlined: most replayed attempts are these)
            route = what.route
            one = route.one
            if one is not None:
                self.attempts += 1
                key = route.key | user
                table = one[1]
                state = table.get(key)
                if state is None:
                    state = table[key] = new_state(one[0], t)
                retry = state.check(t)
                if retry > 0.0:
                    outcome = RATE_LIMITED
                else:
                    state.consume(t)
                    pool = what.pool
                    if pool.starts and pool.down(t):
                        outcome = OVERLOADED
                    elif what.error_rate > 0.0 and self._u_error() < what.error_rate:
                        outcome = ERROR
                    else:
                        continue  # ok
            else:
                outcome, retry = self._attempt(t, route, user, what.pool, what.error_rate)
                if outcome == OK:
                    continue
            c = what.client
            if k >= c.max_attempts or not c.retry_on[outcome]:
                continue
            self._seq += 1
            heapq.heappush(
                heap, (t + c.delay(outcome, k, retry), self._seq, _REFRESH, what, user, k + 1)
            )

    def _attempt(
        self, t: float, route: _Route, user: int, pool: _Pool, error_rate: float
    ) -> tuple[int, float]:
        """One attempt at ``t``: its outcome and Retry-After (s; 0 unless rate-limited)."""
        self.attempts += 1
        states = route.fixed
        if route.user:
            key = route.key | user
            extra = []
            for spec, table in route.user:
                s = table.get(key)
                if s is None:
                    s = table[key] = new_state(spec, t)
                extra.append(s)
            states = states + tuple(extra)
        retry = 0.0
        for s in states:
            w = s.check(t)
            if w > retry:
                retry = w
        if retry > 0.0:
            return RATE_LIMITED, retry
        for s in states:
            s.consume(t)
        if pool.down(t):
            return OVERLOADED, 0.0
        if error_rate > 0.0 and self._u_error() < error_rate:
            return ERROR, 0.0
        return OK, 0.0

    def _step(self, t: float, walk: _Walk) -> None:
        """Walk a session from its current step to its next call (or its end)."""
        src = walk.src
        steps = src.steps
        while walk.j < len(steps):
            st = steps[walk.j]
            prev = walk.prev
            when = st.when
            if when is not None and not (
                (when == "ok" and prev != _SKIPPED)
                or (when == "approved" and prev == _APPROVED)
                or (when == "declined" and prev == _DECLINED)
            ):
                walk.prev = _SKIPPED
                walk.j += 1
                continue
            if st.prob < 1.0 and self._u_step() >= st.prob:
                walk.prev = _SKIPPED
                walk.j += 1
                continue
            if st.think is not None:
                t += st.think()
            walk.deadline = t + src.patience
            self._push(t, _SESSION, walk, walk.user, 1)
            return

    def _call(self, t: float, walk: _Walk, user: int, k: int) -> None:
        """Attempt ``k`` of a session's call; then a retry, the next step or the end."""
        src = walk.src
        st = src.steps[walk.j]
        outcome, retry = self._attempt(t, st.route, user, st.pool, st.error_rate)
        if outcome == OK:
            walk.prev = (
                (_APPROVED if self._u_step() < st.approval else _DECLINED) if st.credit else _DONE
            )
            walk.j += 1
            self._step(t, walk)
            return
        c = src.client
        if k >= c.max_attempts or not c.retry_on[outcome]:
            return  # the journey fails
        t_next = t + c.delay(outcome, k, retry)
        if t_next >= walk.deadline:
            return  # the user leaves
        self._push(t_next, _SESSION, walk, user, k + 1)

    # -- handing over to a window ------------------------------------------------------------
    def waiting_refreshes(self, t0: float, t1: float) -> dict[int, list[tuple[float, int]]]:
        """Refreshes waiting to retry in ``[t0, t1)``: partner -> ``(time_s, user)`` in order."""
        out: dict[int, list[tuple[float, int]]] = {}
        for t, _, kind, what, user, _k in self._heap:
            if kind == _REFRESH and t0 <= t < t1:
                out.setdefault(what.partner, []).append((t, user))
        for calls in out.values():
            calls.sort()
        return out

    def install(self, gateway: Gateway, span_partners: Sequence[int]) -> None:
        """Hand the replayed state of the long-memory limits to a window's gateway.

        ``span_partners`` maps the window's partner indices to global ones. Fixed-scope states
        are copied now; per-user states are copied from the replay when first used.
        """
        clones: dict[tuple[int, ...], Any] = {}
        limits = self.limits
        replayed = self.replayed
        for ps, pg in enumerate(span_partners):
            for k in range(len(self._products)):
                for bg in (False, True):
                    fixed_li, user_li = self._rules[k, bg]
                    route = gateway.route(ps, k, bg)
                    if len(route.fixed) != len(fixed_li) or len(route.user_scoped) != len(
                        user_li
                    ):  # pragma: no cover - the gateway and route_rules must agree
                        raise RuntimeError("the gateway's routes and the limiter replay disagree")
                    if any(li in replayed for li in fixed_li):
                        states = list(route.fixed)
                        for pos, li in enumerate(fixed_li):
                            if li not in replayed:
                                continue
                            key = _fixed_key(limits[li].scope, li, pg, k)
                            src = self.fixed_states.get(key)
                            if src is None:
                                continue
                            clone = clones.get(key)
                            if clone is None:
                                clone = clones[key] = _clone(src)
                            states[pos] = clone
                        route.fixed = tuple(states)
                    for pos, li in enumerate(user_li):
                        scoped = route.user_scoped[pos]
                        if scoped.rule is not limits[li]:  # pragma: no cover - as above
                            raise RuntimeError(
                                "the gateway's routes and the limiter replay disagree"
                            )
                        if li in replayed and not isinstance(scoped.states, _TakenOver):
                            scoped.states = _TakenOver(self.user_states[li], span_partners)
