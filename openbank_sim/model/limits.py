"""Rate-limit algorithms of an API gateway, as pure per-key state machines.

Every class here is the state of ONE limiter key (one partner, one user, one client id, ...).
They are deliberately SimPy-free and pure: the current simulation time ``now`` (seconds, a
float) is passed in by the caller, nothing is scheduled and nothing is logged, so the same
objects can be driven by the gateway process, by unit tests on hand-made time sequences or by
validation runs against queueing theory.

Common interface (see :class:`LimiterState`):

``check(now) -> float``
    ``0.0`` if an attempt arriving at ``now`` (s) would be admitted, otherwise the positive
    number of seconds until this limiter would admit again if nothing else happened (the HTTP
    429 ``Retry-After``), or ``math.inf`` when that is unknown. ``check`` may update internal
    bookkeeping (refill, window roll-over, expiry) but never changes later decisions otherwise.
    The returned delay ``r`` is chosen so that ``check(now + r)`` (evaluated in floating point)
    admits when nothing else happened.

``consume(now) -> None``
    Take one unit for an admitted attempt. The gateway calls ``check`` on every applicable
    limiter first and, only if all return ``0.0``, ``consume`` on each with the same ``now``
    (check-all-then-consume). ``now`` never decreases across calls on one state.

Windows of the window-based algorithms are ``[k * window_s, (k + 1) * window_s)`` aligned to
t = 0, with the boundaries computed as the floating-point products ``k * window_s``.

These classes sit on the per-API-call hot path: they use ``__slots__``, plain attributes, no
per-call allocation in the admitted path, no logging and no numpy.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from typing import Protocol

from ..spec.limits import ALGORITHMS, SLIDING_VARIANTS, LimitSpec, positive_float, positive_int

__all__ = [
    "ALGORITHMS",
    "SLIDING_VARIANTS",
    "TOKEN_EPSILON",
    "Concurrency",
    "FixedWindow",
    "LimitSpec",
    "LimiterState",
    "SlidingWindowLog",
    "SlidingWindowWeighted",
    "TokenBucket",
    "new_state",
]

TOKEN_EPSILON: float = 1e-9
"""Tolerance (tokens) of the token bucket: admitted when ``tokens >= 1 - TOKEN_EPSILON``."""

_ADMIT_TOKENS: float = 1.0 - TOKEN_EPSILON
_INF: float = math.inf


class LimiterState(Protocol):
    """What the gateway needs from the state of one limiter key."""

    def check(self, now: float) -> float:
        """0.0 if an attempt at ``now`` (s) is admitted, else the Retry-After in seconds."""
        ...

    def consume(self, now: float) -> None:
        """Take one unit at ``now`` (s) for an attempt that every limiter admitted."""
        ...


# --------------------------------------------------------------------------------------------
# helpers (never on the admitted path)
# --------------------------------------------------------------------------------------------


def _window_index(now: float, window_s: float) -> int:
    """The k with ``k * window_s <= now < (k + 1) * window_s`` (floating-point products)."""
    k = math.floor(now / window_s)
    if k * window_s > now:
        k -= 1
    elif (k + 1) * window_s <= now:
        k += 1
    return k


def _delay_until(now: float, t: float) -> float:
    """The delay r > 0 (s) with ``now + r >= t`` in floating point, for a time ``t > now``."""
    r = t - now
    if now + r < t:
        step = math.ulp(t)
        while now + r < t:
            r += step
            step += step
    return r


# --------------------------------------------------------------------------------------------
# token bucket
# --------------------------------------------------------------------------------------------


class TokenBucket:
    """AWS API Gateway style token bucket.

    The bucket holds at most ``burst`` tokens, is full at creation time ``now0`` and refills
    continuously at ``rate_per_s`` tokens per second. An attempt is admitted when at least one
    token is there (``tokens >= 1 - TOKEN_EPSILON``); ``consume`` takes one token.
    Retry-After (s) = ``(1 - tokens) / rate_per_s``.

    Args:
        rate_per_s: refill rate, tokens per second (> 0).
        burst: capacity, tokens (>= 1).
        now0: creation time (s); the bucket is full at that moment.
    """

    __slots__ = ("_last", "_tokens", "burst", "rate_per_s")

    def __init__(self, rate_per_s: float, burst: int, now0: float = 0.0) -> None:
        self.rate_per_s: float = positive_float("rate_per_s", rate_per_s)
        self.burst: float = float(positive_int("burst", burst))
        self._tokens: float = self.burst
        self._last: float = float(now0)

    def check(self, now: float) -> float:
        """Refill up to ``now`` (s); 0.0 if a token is there, else the wait in seconds."""
        tokens = self._tokens
        if now > self._last:
            tokens += (now - self._last) * self.rate_per_s
            if tokens > self.burst:
                tokens = self.burst
            self._tokens = tokens
            self._last = now
        if tokens >= _ADMIT_TOKENS:
            return 0.0
        return self._retry(now, tokens)

    def consume(self, now: float) -> None:
        """Take one token at ``now`` (s) (refilling first if time advanced since ``check``)."""
        if now > self._last:
            tokens = self._tokens + (now - self._last) * self.rate_per_s
            self._tokens = (tokens if tokens < self.burst else self.burst) - 1.0
            self._last = now
        else:
            self._tokens -= 1.0

    def tokens_at(self, now: float) -> float:
        """Tokens in the bucket at ``now`` (s), after refilling (no consumption)."""
        self.check(now)
        return self._tokens

    def _retry(self, now: float, tokens: float) -> float:
        rate = self.rate_per_s
        r = (1.0 - tokens) / rate
        # make sure check(now + r) really sees a token despite rounding of now + r
        if tokens + ((now + r) - now) * rate < _ADMIT_TOKENS:
            step = math.ulp(now + r)
            while tokens + ((now + r) - now) * rate < _ADMIT_TOKENS:
                r += step
                step += step
        return r

    def __repr__(self) -> str:
        return (
            f"TokenBucket(rate_per_s={self.rate_per_s!r}, burst={int(self.burst)}, "
            f"tokens={self._tokens!r} at t={self._last!r})"
        )


# --------------------------------------------------------------------------------------------
# fixed window
# --------------------------------------------------------------------------------------------


class FixedWindow:
    """Kong style fixed window counter.

    Windows are ``[k * window_s, (k + 1) * window_s)`` aligned to t = 0; an attempt is admitted
    while the count of admissions in the current window is below ``limit``.
    Retry-After (s) = time to the next window start.

    Args:
        limit: admissions per window (>= 1).
        window_s: window length, seconds (> 0).
    """

    __slots__ = ("_count", "_end", "_index", "limit", "window_s")

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit: int = positive_int("limit", limit)
        self.window_s: float = positive_float("window_s", window_s)
        self._index: int = -1  # window index of the counts; -inf end forces a first roll
        self._end: float = -_INF
        self._count: int = 0

    def check(self, now: float) -> float:
        """0.0 if the current window at ``now`` (s) has room, else seconds to the next window."""
        if now >= self._end:
            self._roll(now)
        if self._count < self.limit:
            return 0.0
        return _delay_until(now, self._end)

    def consume(self, now: float) -> None:
        """Count one admission at ``now`` (s)."""
        if now >= self._end:
            self._roll(now)
        self._count += 1

    def _roll(self, now: float) -> None:
        k = _window_index(now, self.window_s)
        self._index = k
        self._end = (k + 1) * self.window_s
        self._count = 0

    def __repr__(self) -> str:
        return (
            f"FixedWindow(limit={self.limit}, window_s={self.window_s!r}, "
            f"count={self._count} in window {self._index})"
        )


# --------------------------------------------------------------------------------------------
# sliding window: exact log
# --------------------------------------------------------------------------------------------


class SlidingWindowLog:
    """Exact sliding window log.

    Keeps the admission times; at ``now`` the window is ``(now - window_s, now]`` (an admission
    at ``t`` has expired once ``t + window_s <= now``, so one exactly ``window_s`` ago has
    expired). An attempt is admitted while fewer than ``limit`` admissions are in the window.
    Retry-After (s) = ``oldest_in_window + window_s - now``.

    Args:
        limit: admissions per sliding window (>= 1).
        window_s: window length, seconds (> 0).
    """

    __slots__ = ("_log", "limit", "window_s")

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit: int = positive_int("limit", limit)
        self.window_s: float = positive_float("window_s", window_s)
        self._log: deque[float] = deque()

    def check(self, now: float) -> float:
        """Expire old admissions; 0.0 if fewer than ``limit`` remain, else the wait (s)."""
        log = self._log
        window_s = self.window_s
        while log and log[0] + window_s <= now:
            log.popleft()
        n = len(log)
        if n < self.limit:
            return 0.0
        # the (n - limit + 1)-th oldest must expire; with check-then-consume n == limit
        return _delay_until(now, log[n - self.limit] + window_s)

    def consume(self, now: float) -> None:
        """Record one admission at ``now`` (s)."""
        self._log.append(now)

    def count_at(self, now: float) -> int:
        """Admissions in the window ``(now - window_s, now]`` (``now`` in seconds)."""
        self.check(now)
        return len(self._log)

    def __repr__(self) -> str:
        return (
            f"SlidingWindowLog(limit={self.limit}, window_s={self.window_s!r}, "
            f"logged={len(self._log)})"
        )


# --------------------------------------------------------------------------------------------
# sliding window: two-window weighted estimate
# --------------------------------------------------------------------------------------------


class SlidingWindowWeighted:
    """Two-window sliding estimate (Cloudflare / Kong "sliding").

    Fixed windows aligned to t = 0 as in :class:`FixedWindow`. With ``p`` the count of the
    previous window, ``c`` the count of the current one and ``e`` the time elapsed in the
    current window (s), ``estimate = p * (1 - e / window_s) + c`` (computed as
    ``p * ((window_end - now) / window_s) + c``); an attempt is admitted iff
    ``estimate < limit``. With ``p == 0`` this is exactly :class:`FixedWindow`.

    Retry-After (s) is the earliest future time at which the estimate drops below ``limit``
    if nothing else is admitted (closed form, then nudged by a few ulps so that
    ``check(now + retry)`` admits in floating point):

    * ``c < limit``: within the current window, when the previous window's weight has decayed:
      ``t = window_end - window_s * (limit - c) / p``;
    * ``c >= limit``: in the next window, where ``c`` becomes the previous count:
      ``t = next_window_end - window_s * limit / c`` (the next window start when ``c == limit``).

    Args:
        limit: admissions per (estimated) sliding window (>= 1).
        window_s: window length, seconds (> 0).
    """

    __slots__ = ("_count", "_end", "_index", "_prev", "limit", "window_s")

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit: int = positive_int("limit", limit)
        self.window_s: float = positive_float("window_s", window_s)
        self._index: int = -1  # window index of _count; -inf end forces a first roll
        self._end: float = -_INF
        self._prev: int = 0
        self._count: int = 0

    def check(self, now: float) -> float:
        """0.0 if the estimate at ``now`` (s) is below ``limit``, else the wait in seconds."""
        if now >= self._end:
            self._roll(now)
        c = self._count
        if c < self.limit:
            p = self._prev
            if not p or p * ((self._end - now) / self.window_s) + c < self.limit:
                return 0.0
        return self._retry(now)

    def consume(self, now: float) -> None:
        """Count one admission at ``now`` (s)."""
        if now >= self._end:
            self._roll(now)
        self._count += 1

    def estimate(self, now: float) -> float:
        """The estimate ``p * (1 - e / window_s) + c`` at ``now`` (s), in admissions."""
        if now >= self._end:
            self._roll(now)
        return self._prev * ((self._end - now) / self.window_s) + self._count

    def _roll(self, now: float) -> None:
        k = _window_index(now, self.window_s)
        self._prev = self._count if k == self._index + 1 else 0
        self._index = k
        self._end = (k + 1) * self.window_s
        self._count = 0

    def _admits_at(self, t: float) -> bool:
        """Whether ``check(t)`` would admit, for ``t >= now`` of the last roll; no mutation.

        Mirrors the arithmetic of :meth:`check` (including a roll-over) exactly.
        """
        limit = self.limit
        if t < self._end:
            c = self._count
            if c >= limit:
                return False
            p = self._prev
            return not p or p * ((self._end - t) / self.window_s) + c < limit
        k = _window_index(t, self.window_s)
        if k != self._index + 1:
            return True  # previous and current windows both empty after the roll
        p = self._count  # becomes the previous count, the new current count is 0
        return not p or p * (((k + 1) * self.window_s - t) / self.window_s) + 0 < limit

    def _retry(self, now: float) -> float:
        limit = self.limit
        window_s = self.window_s
        c = self._count
        if c < limit:
            # p > 0 here: wait for the previous window's weight to decay in this window
            t = self._end - window_s * (limit - c) / self._prev
        else:
            # wait into the next window, where c becomes the previous count
            t = (self._index + 2) * window_s - window_s * limit / c
        r = t - now
        if r < 0.0:
            r = 0.0
        step = math.ulp(now + r) or 5e-324
        while not self._admits_at(now + r):
            r += step
            step += step
        return r

    def __repr__(self) -> str:
        return (
            f"SlidingWindowWeighted(limit={self.limit}, window_s={self.window_s!r}, "
            f"prev={self._prev}, count={self._count} in window {self._index})"
        )


# --------------------------------------------------------------------------------------------
# concurrency
# --------------------------------------------------------------------------------------------


class Concurrency:
    """At most ``limit`` admitted attempts not yet finished by the backend.

    ``consume(now)`` adds one *held* attempt whose finish time is not known yet; the gateway
    later calls :meth:`finish_at` exactly once per consumed attempt with the time (s) at which
    the backend will be done (possibly in the future), turning one held attempt into one that
    ends then. ``check(now)`` first forgets finish times ``<= now``, then admits iff
    ``held + pending < limit``. Retry-After (s) = earliest pending finish time - ``now``, or
    ``math.inf`` when no finish time is known.

    Args:
        limit: maximum concurrent attempts (>= 1).
    """

    __slots__ = ("_heap", "_held", "limit")

    def __init__(self, limit: int) -> None:
        self.limit: int = positive_int("limit", limit)
        self._held: int = 0
        self._heap: list[float] = []

    def check(self, now: float) -> float:
        """Drop finished attempts; 0.0 if fewer than ``limit`` are in flight at ``now`` (s)."""
        heap = self._heap
        while heap and heap[0] <= now:
            heapq.heappop(heap)
        n = self._held + len(heap)
        if n < self.limit:
            return 0.0
        # the (n - limit + 1)-th earliest known finish frees the slot; with check-then-consume
        # n == limit and this is heap[0]
        needed = n - self.limit + 1
        if needed > len(heap):
            return _INF
        t = heap[0] if needed == 1 else heapq.nsmallest(needed, heap)[-1]
        return _delay_until(now, t)

    def consume(self, now: float) -> None:
        """Hold one slot from ``now`` (s) until :meth:`finish_at` tells when it ends."""
        self._held += 1

    def finish_at(self, t: float) -> None:
        """One held attempt ends at time ``t`` (s, may lie in the future).

        Raises:
            RuntimeError: when no attempt is held (more ``finish_at`` than ``consume`` calls).
        """
        if self._held <= 0:
            raise RuntimeError("finish_at() without a held attempt (more finishes than consumes)")
        self._held -= 1
        heapq.heappush(self._heap, t)

    def in_flight(self, now: float) -> int:
        """Attempts admitted and not finished at ``now`` (s): held plus finishing later."""
        heap = self._heap
        while heap and heap[0] <= now:
            heapq.heappop(heap)
        return self._held + len(heap)

    def __repr__(self) -> str:
        return f"Concurrency(limit={self.limit}, held={self._held}, pending={len(self._heap)})"


# --------------------------------------------------------------------------------------------
# factory
# --------------------------------------------------------------------------------------------


def new_state(
    spec: LimitSpec, now: float = 0.0
) -> TokenBucket | FixedWindow | SlidingWindowLog | SlidingWindowWeighted | Concurrency:
    """A fresh state of ``spec`` for one key created at ``now`` (s) (a token bucket starts full)."""
    algorithm = spec.algorithm
    if algorithm == "token_bucket":
        return TokenBucket(spec.rate_per_s, spec.burst, now)
    if algorithm == "fixed_window":
        return FixedWindow(spec.limit, spec.window_s)
    if algorithm == "sliding_window":
        if spec.variant == "log":
            return SlidingWindowLog(spec.limit, spec.window_s)
        return SlidingWindowWeighted(spec.limit, spec.window_s)
    return Concurrency(spec.limit)
