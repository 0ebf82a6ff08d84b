"""Delays between absolute simulation times that float rounding cannot make negative.

SimPy moves its clock to ``now + delay``. In floating point ``now + (t - now)`` is not always
``t``: when ``t`` is more than twice ``now`` the difference is rounded, and the clock can land
one unit in the last place past ``t``. A deadline computed before such a step can then lie
just behind the clock, and ``env.timeout(deadline - env.now)`` asks SimPy for a negative delay
(``ValueError: Negative delay -1.78e-15``). Every delay the model computes as a difference of
two times either goes through :func:`delay_until` or is guarded by ``t > now``.
"""

from __future__ import annotations

from collections.abc import Iterator

import simpy

__all__ = ["delay_until", "event_queue"]


def delay_until(t: float, now: float) -> float:
    """The delay in seconds from ``now`` to the absolute time ``t`` (s), never negative: waiting
    for a time the clock has already reached is no wait."""
    d = t - now
    return d if d > 0.0 else 0.0


def event_queue(env: simpy.Environment) -> tuple[list, Iterator[int]]:
    """SimPy's event queue of ``env`` and its event-id counter (SimPy 4).

    The model schedules its own wake-ups at absolute times: ``heappush(queue, (t, NORMAL,
    next(eid), entry))`` is what ``env.schedule`` does with ``t = now + delay``, without
    rounding ``t`` through a delay.
    """
    return env._queue, env._eid
