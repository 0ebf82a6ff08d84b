"""The API gateway: OAuth2 tokens, rate limits (check all, then consume) and overhead.

API partners' attempts pass through it in order: auth (a per-user token cached for
``token_ttl``; a missing or expired token costs a request to the token service pool first, a
share of which fail with 401), limits (every applicable limiter is checked and only if all
admit does each consume; a rejection is a 429 carrying the longest Retry-After), then the
overhead of TLS and routing. Traditional partners never come here.

The gateway draws nothing: an attempt brings its own token service time, 401 coin and overhead,
drawn with the attempt from its partner's per-step streams (``model/partners.py``), so that
two scenarios that differ only in limits or capacity give every attempt the same draws.
"""

from __future__ import annotations

import itertools
from typing import Any

from ..spec.schema import GatewaySpec, LimitRule, PartnerSpec, ProductSpec
from .bank import BackendPool
from .limits import Concurrency, new_state

__all__ = ["Gateway", "Route"]


class _UserScoped:
    """A limit whose state is kept per (partner, user)."""

    __slots__ = ("rule", "states")

    def __init__(self, rule: LimitRule) -> None:
        self.rule = rule
        self.states: dict[int, object] = {}

    def state(self, key: int, now: float) -> object:
        s = self.states.get(key)
        if s is None:
            s = self.states[key] = new_state(self.rule.spec, now)
        return s


class Route:
    """The limiters that apply to one (partner, product) pair, resolved once."""

    __slots__ = ("concurrency", "fixed", "partner_key", "single", "single_held", "user_scoped")

    def __init__(self, fixed: tuple, user_scoped: tuple, partner_index: int) -> None:
        self.fixed = fixed
        self.user_scoped = user_scoped
        self.partner_key = partner_index << 32
        self.concurrency = any(isinstance(s, Concurrency) for s in fixed) or any(
            u.rule.spec.algorithm == "concurrency" for u in user_scoped
        )
        # the common case of one limiter that is not per user, and what it holds: checked
        # inline, without Gateway.admit's loop, where an attempt reaches its pool
        # (PartnerRuntime._reach_pool)
        self.single = fixed[0] if len(fixed) == 1 and not user_scoped else None
        self.single_held = fixed if self.concurrency else ()


class Gateway:
    """Auth, limits and overhead for API partners.

    Args:
        spec: the validated gateway section.
        partners, products: in index order (partner index, product index).
        window: the call-KPI window ``(warmup_s, horizon_s)``.
    """

    __slots__ = (
        "_routes",
        "failure_rate",
        "has_auth",
        "has_limits",
        "token_pool",
        "token_requests",
        "token_ttl_s",
        "window",
    )

    def __init__(
        self,
        spec: GatewaySpec,
        partners: tuple[PartnerSpec, ...],
        products: tuple[ProductSpec, ...],
        window: tuple[float, float],
    ) -> None:
        self.window = window
        self.has_auth = spec.auth is not None
        self.token_requests = 0
        self.token_pool: BackendPool | None = None
        self.token_ttl_s = 0.0
        self.failure_rate = 0.0
        if spec.auth is not None:
            auth = spec.auth
            self.token_pool = BackendPool("token_service", auth.servers, None, window)
            self.token_ttl_s = auth.token_ttl_s
            self.failure_rate = auth.failure_rate
        self.has_limits = bool(spec.limits)
        self._routes: dict[tuple[int, int, bool], Route] = {}
        shared: dict[tuple[Any, ...], Any] = {}
        for pi, ki, background in itertools.product(
            range(len(partners)), range(len(products)), (False, True)
        ):
            product = products[ki]
            fixed, user_scoped = [], []
            for li, rule in enumerate(spec.limits):
                if rule.products is not None and product.name not in rule.products:
                    continue
                if rule.background_only and not background:
                    continue
                key: tuple[Any, ...]
                if rule.scope == "user":
                    key = ("user", li)
                    if key not in shared:
                        shared[key] = _UserScoped(rule)
                    user_scoped.append(shared[key])
                    continue
                key = {
                    "global": (li,),
                    "partner": (li, pi),
                    "partner_product": (li, pi, ki),
                }[rule.scope]
                if key not in shared:
                    shared[key] = new_state(rule.spec, 0.0)
                fixed.append(shared[key])
            self._routes[pi, ki, background] = Route(tuple(fixed), tuple(user_scoped), pi)

    def route(self, partner: int, product: int, background: bool = False) -> Route:
        """The limiters for attempts of ``partner`` on ``product`` (unattended or not)."""
        return self._routes[partner, product, background]

    def fetch_token(self, now: float, service_s: float) -> float:
        """Send a token request at ``now`` needing ``service_s`` seconds of the token service
        (drawn with the attempt); returns when the token service answers (s)."""
        assert self.token_pool is not None  # has_auth
        wait = self.token_pool.admit(now, service_s)
        if self.window[0] <= now < self.window[1]:
            self.token_requests += 1
        return now + wait + service_s

    def admit(self, now: float, route: Route, user: int) -> tuple[float, tuple]:
        """Check every limiter of ``route`` at ``now``; consume from each only if all admit.

        Returns ``(retry_after_s, held)``: ``retry_after_s`` is 0.0 when admitted, else the
        longest Retry-After of the rejecting limiters (``inf`` when unknown); ``held`` are the
        concurrency limiters that must be told when the backend finishes (``finish_at``).
        """
        states = route.fixed
        if route.user_scoped:
            key = route.partner_key | user
            states = states + tuple(u.state(key, now) for u in route.user_scoped)
        retry = 0.0
        for s in states:
            w = s.check(now)
            if w > retry:
                retry = w
        if retry > 0.0:
            return retry, ()
        for s in states:
            s.consume(now)
        if route.concurrency:
            return 0.0, tuple(s for s in states if isinstance(s, Concurrency))
        return 0.0, ()
