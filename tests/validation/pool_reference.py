"""A brute-force event simulation of one FCFS pool, the reference for the pool's levers.

:class:`~openbank_sim.model.bank.BackendPool` fixes each attempt's start when it arrives (the
multi-server Lindley recursion) and keeps no queue. This reference does it the long way, as a
textbook discrete-event simulation with an explicit FCFS queue: a server that frees (or a
capacity step that adds one) takes the head of the queue; a waiting attempt whose deadline has
passed has left the queue at its deadline (``drop_expired``); an arrival that finds the queue
at its limit gets 503, and a background arrival that finds ``shed_above`` or more waiting gets
503 before that. Events at one time: ends and capacity steps first, then the arrival (a worker
that frees at ``t`` serves an arrival at ``t``; a capacity step at ``t`` applies at ``t``).

No numpy, no SimPy, nothing of the package: it shares no code with the model.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

SERVED, DROPPED, REFUSED, SHED = "served", "dropped", "refused", "shed"


@dataclass(frozen=True)
class Fate:
    """What became of one arrival: ``kind`` (served, dropped, refused = queue full, shed) and
    the time it left the queue (its start when served, its deadline when dropped; its arrival
    when refused or shed)."""

    kind: str
    leave: float


@dataclass(frozen=True)
class Totals:
    """Worker-seconds busy and attempt-seconds waiting inside the window."""

    busy_s: float
    queue_s: float


def simulate_pool(
    arrivals: Sequence[float],
    services: Sequence[float],
    deadlines: Sequence[float],
    background: Sequence[bool],
    capacity: tuple[Sequence[float], Sequence[int]],
    *,
    drop_expired: bool = True,
    queue_limit: int | None = None,
    shed_above: int | None = None,
    window: tuple[float, float] = (0.0, math.inf),
) -> tuple[list[Fate], Totals]:
    """Every arrival's fate, and the busy and waiting seconds inside ``window``.

    ``arrivals`` strictly increasing (s); ``capacity = (times, caps)``: ``caps[k]`` workers from
    ``times[k]`` (``times[0] = 0``).
    """
    times, caps = list(capacity[0]), list(capacity[1])
    n = len(arrivals)
    fates: list[Fate | None] = [None] * n
    ends: list[float] = []  # end times of the attempts in service
    queue: deque[int] = deque()
    busy_s = queue_s = 0.0
    t0, t1 = window

    def cap_at(t: float) -> int:
        return caps[bisect.bisect_right(times, t) - 1]

    def clipped(a: float, b: float) -> float:
        return max(0.0, min(b, t1) - max(a, t0))

    def leave_queue(j: int, kind: str, t: float) -> None:
        nonlocal queue_s
        fates[j] = Fate(kind, t)
        queue_s += clipped(arrivals[j], t)

    def dispatch(t: float) -> None:
        nonlocal busy_s
        while queue and len(ends) < cap_at(t):
            j = queue.popleft()
            if drop_expired and deadlines[j] < t:  # it left at its deadline, unserved
                leave_queue(j, DROPPED, max(deadlines[j], arrivals[j]))
                continue
            leave_queue(j, SERVED, t)
            heapq.heappush(ends, t + services[j])
            busy_s += clipped(t, t + services[j])

    def waiting(t: float) -> int:
        return sum(1 for j in queue if not (drop_expired and deadlines[j] <= t))

    i, k = 0, 1
    while True:
        t_arr = arrivals[i] if i < n else math.inf
        t_end = ends[0] if ends else math.inf
        t_cap = times[k] if k < len(times) else math.inf
        t = min(t_arr, t_end, t_cap)
        if t == math.inf:
            break
        if t_end == t or t_cap == t:  # ends and capacity steps before an arrival at t
            while ends and ends[0] <= t:
                heapq.heappop(ends)
            while k < len(times) and times[k] <= t:
                k += 1
            dispatch(t)
            continue
        j = i
        i += 1
        live = waiting(t)
        if background[j] and shed_above is not None and live >= shed_above:
            fates[j] = Fate(SHED, t)
            continue
        if not live and len(ends) < cap_at(t):
            if drop_expired and deadlines[j] < t:  # reached the pool past its deadline
                fates[j] = Fate(DROPPED, t)
                continue
            fates[j] = Fate(SERVED, t)
            heapq.heappush(ends, t + services[j])
            busy_s += clipped(t, t + services[j])
            continue
        if queue_limit is not None and live >= queue_limit:
            fates[j] = Fate(REFUSED, t)
            continue
        queue.append(j)
    assert not queue  # the last end served or dropped every attempt still waiting
    assert all(f is not None for f in fates)
    return [f for f in fates if f is not None], Totals(busy_s, queue_s)
