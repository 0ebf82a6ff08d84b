"""The client's levers against retry storms: a retry budget and a circuit breaker.

* :class:`RetryBudget` follows Finagle's ``RetryBudget`` (and gRPC's retry throttling, the AWS
  SDKs' retry quota): every first attempt deposits, every retry withdraws, over a sliding
  window; a retry the budget cannot pay for is not made.
* :class:`CircuitBreaker` follows Resilience4j's count-based ``CircuitBreaker``: closed, it
  keeps the outcomes of the last ``window`` attempts and opens when at least ``min_calls`` are
  in and the share of failures reaches ``failure_rate``; open, it refuses every call for
  ``open_for_s``; half-open, it lets ``half_open_calls`` attempts through and their failure
  share decides between open again and closed.

Both are asked in simulated-time order (the partner runtime wakes a session at the moment its
client has an outcome when a lever is on), so their sliding windows are exact.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from ..spec.types import CircuitBreakerSpec, RetryBudgetSpec

__all__ = ["BREAKER_STATES", "CLOSED", "HALF_OPEN", "OPEN", "CircuitBreaker", "RetryBudget"]

CLOSED, OPEN, HALF_OPEN = 0, 1, 2
BREAKER_STATES = ("closed", "open", "half_open")
"""Breaker state names by code (the ``breaker_transitions`` table's ``from_state``/``to_state``)."""


class RetryBudget:
    """Retries allowed over any sliding window of ``window_s`` seconds: at most ``ratio`` x
    the first attempts made in it plus ``min_per_s`` x ``window_s``.

    The window at time ``t`` is ``(t - window_s, t]``; :meth:`deposit` and :meth:`try_withdraw`
    must be called in non-decreasing time order.
    """

    __slots__ = ("_firsts", "_reserve", "_retries", "ratio", "window_s")

    def __init__(self, spec: RetryBudgetSpec) -> None:
        self.ratio = spec.ratio
        self.window_s = spec.window_s
        self._reserve = spec.min_per_s * spec.window_s  # retries always allowed per window
        self._firsts: deque[float] = deque()
        self._retries: deque[float] = deque()

    def deposit(self, t: float) -> None:
        """A first attempt made at ``t`` (s)."""
        self._firsts.append(t)

    def try_withdraw(self, t: float) -> bool:
        """Whether a retry decided at ``t`` (s) fits the budget; if it does, it is counted."""
        lo = t - self.window_s
        firsts = self._firsts
        while firsts and firsts[0] <= lo:
            firsts.popleft()
        retries = self._retries
        while retries and retries[0] <= lo:
            retries.popleft()
        if len(retries) + 1 > self.ratio * len(firsts) + self._reserve:
            return False
        retries.append(t)
        return True


Transition = Callable[[float, int, int], None]  # (t_s, from_state, to_state)


class CircuitBreaker:
    """One client's breaker for one product (Resilience4j's count-based semantics).

    :meth:`permit` is asked before each attempt: it returns the breaker's epoch (a count of
    its state changes) when the attempt may go, or -1 when the call fails fast. The attempt's
    outcome comes back through :meth:`record` with that epoch; an outcome of an attempt let
    through before the latest state change is ignored (it belongs to a state that is gone).
    A half-open probe whose outcome the client never sees (the user left) gives its permit
    back through :meth:`release`. ``on_transition(t_s, from_state, to_state)`` hears every
    state change; the change from open to half-open is dated at the end of ``open_for_s``.
    """

    __slots__ = (
        "_fails",
        "_half_fails",
        "_half_n",
        "_i",
        "_n",
        "_on_transition",
        "_permitted",
        "_ring",
        "epoch",
        "failure_rate",
        "half_open_calls",
        "min_calls",
        "open_for_s",
        "open_until",
        "state",
        "window",
    )

    def __init__(self, spec: CircuitBreakerSpec, on_transition: Transition) -> None:
        self.failure_rate = spec.failure_rate
        self.window = spec.window
        self.min_calls = spec.min_calls
        self.open_for_s = spec.open_for_s
        self.half_open_calls = spec.half_open_calls
        self._on_transition = on_transition
        self.state = CLOSED
        self.epoch = 0
        self.open_until = 0.0
        self._ring = [False] * spec.window  # failure flags of the last `window` outcomes
        self._i = 0  # where the next outcome goes in the ring
        self._n = 0  # outcomes in the ring
        self._fails = 0  # failures in the ring
        self._permitted = 0  # half-open: probes let through
        self._half_n = 0  # half-open: probe outcomes in
        self._half_fails = 0

    def _to(self, t: float, state: int) -> None:
        self._on_transition(t, self.state, state)
        self.state = state
        self.epoch += 1
        if state == OPEN:
            self.open_until = t + self.open_for_s
        elif state == HALF_OPEN:
            self._permitted = self._half_n = self._half_fails = 0
        else:  # closed: a fresh window
            self._i = self._n = self._fails = 0

    def permit(self, t: float) -> int:
        """The epoch when an attempt at ``t`` (s) may go, -1 when the call fails fast."""
        state = self.state
        if state == CLOSED:
            return self.epoch
        if state == OPEN:
            if t < self.open_until:
                return -1
            self._to(self.open_until, HALF_OPEN)
        if self._permitted >= self.half_open_calls:
            return -1
        self._permitted += 1
        return self.epoch

    def record(self, t: float, failed: bool, epoch: int) -> None:
        """The outcome (``failed`` or not) the client saw at ``t`` (s) of an attempt let
        through at ``epoch``."""
        if epoch != self.epoch:
            return
        if self.state == CLOSED:
            ring = self._ring
            i = self._i
            if self._n == self.window:
                self._fails -= ring[i]
            else:
                self._n += 1
            ring[i] = failed
            self._fails += failed
            self._i = i + 1 if i + 1 < self.window else 0
            if self._n >= self.min_calls and self._fails / self._n >= self.failure_rate:
                self._to(t, OPEN)
        elif self.state == HALF_OPEN:
            self._half_n += 1
            self._half_fails += failed
            if self._half_n >= self.half_open_calls:
                rate = self._half_fails / self._half_n
                self._to(t, OPEN if rate >= self.failure_rate else CLOSED)

    def release(self, epoch: int) -> None:
        """A probe let through at ``epoch`` whose outcome will never come back."""
        if epoch == self.epoch and self.state == HALF_OPEN:
            self._permitted -= 1
