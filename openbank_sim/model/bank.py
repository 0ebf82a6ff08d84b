"""Backend pools: FCFS multi-server queues with an optional queue limit.

A pool serves attempts first come, first served on ``servers`` workers. Every attempt's service
time is drawn when the attempt is created and a backend never recalls work (a client timeout
leaves the request queued and served), so the start time of an attempt is fixed the moment it
arrives: it is the later of its arrival and the earliest time a worker frees up (the
multi-server Lindley recursion). :meth:`BackendPool.admit` therefore answers an arrival in
O(log servers) with no simulation events of its own, which is exact for FCFS and is what
keeps the engine fast. It must be called in non-decreasing time order, which the SimPy
scheduler guarantees (attempts reach a pool at their own simulated time).

Utilization and queue length are integrated exactly over the measurement window
``[warmup, horizon)`` as each attempt is admitted.
"""

from __future__ import annotations

import heapq
from collections import deque

__all__ = ["REJECTED", "BackendPool"]

REJECTED = -1.0
"""What :meth:`BackendPool.admit` returns for an arrival that found the queue full (503)."""


class BackendPool:
    """A pool of ``servers`` workers with a FCFS queue of at most ``queue_limit`` waiting.

    Args:
        name: the pool's name.
        servers: concurrent workers (positive).
        queue_limit: most attempts waiting, excluding those in service; ``None`` = unbounded.
        window: ``(t0, t1)`` seconds, the interval over which busy time and queue length are
            integrated (the run's measurement window).
    """

    __slots__ = (
        "_free",
        "_queued",
        "_t0",
        "_t1",
        "admitted",
        "busy_s",
        "name",
        "queue_limit",
        "queue_s",
        "rejected",
        "servers",
    )

    def __init__(
        self, name: str, servers: int, queue_limit: int | None, window: tuple[float, float]
    ) -> None:
        if servers < 1:
            raise ValueError("servers must be positive")
        self.name = name
        self.servers = servers
        self.queue_limit = queue_limit
        self._free = [0.0] * servers  # heap of the times each worker frees up
        self._queued: deque[float] = deque()  # start times of attempts still waiting
        self._t0, self._t1 = window
        self.admitted = 0
        self.rejected = 0
        self.busy_s = 0.0  # worker-seconds busy inside the window
        self.queue_s = 0.0  # attempt-seconds spent waiting inside the window

    def admit(self, now: float, service_s: float) -> float:
        """Admit an attempt arriving at ``now`` needing ``service_s`` seconds of work.

        Returns its queue wait in seconds (it finishes at ``now + wait + service_s``), or
        :data:`REJECTED` when the queue is full.
        """
        free = self._free
        earliest = free[0]
        if earliest <= now:
            start = now
        else:
            queued = self._queued
            while queued and queued[0] <= now:
                queued.popleft()
            if self.queue_limit is not None and len(queued) >= self.queue_limit:
                self.rejected += 1
                return REJECTED
            start = earliest
            queued.append(start)
        end = start + service_s
        heapq.heapreplace(free, end)
        self.admitted += 1
        t0, t1 = self._t0, self._t1
        lo = start if start > t0 else t0
        hi = end if end < t1 else t1
        if hi > lo:
            self.busy_s += hi - lo
        if start > now:
            lo = now if now > t0 else t0
            hi = start if start < t1 else t1
            if hi > lo:
                self.queue_s += hi - lo
        return start - now

    def queue_length(self, now: float) -> int:
        """Attempts waiting (not in service) at ``now``."""
        return sum(1 for s in self._queued if s > now)

    def busy(self, now: float) -> int:
        """Workers busy at ``now`` (only exact for ``now`` not before the last arrival)."""
        return sum(1 for t in self._free if t > now)
