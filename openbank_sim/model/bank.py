"""Backend pools: FCFS multi-server queues with a queue limit, capacity schedules and outages.

A pool serves attempts first come, first served. Every attempt's service time is drawn when
the attempt is created and a backend never recalls work (a client timeout leaves the request
queued and served, unless the pool drops expired attempts, below), so the start time of an attempt is fixed the moment it arrives: the
earliest time, not before its arrival nor before the previous arrival's start, at which fewer
attempts are in service than the capacity then (the multi-server Lindley recursion, extended
to a capacity that changes at known times). :meth:`BackendPool.admit` answers an arrival with
no simulation events of its own, which is exact for FCFS and keeps the engine fast. It must be
called in non-decreasing time order, which the SimPy scheduler guarantees.

* **Capacity schedules**: capacity changes at calendar times; shrinking never interrupts work
  in service (no new attempt starts until fewer than the new capacity are busy).
* **Outages**: alternating up and down periods; an attempt arriving while the pool is down gets
  503 at once, and work already admitted (in service or queued) completes.
* **Deadline-aware queue** (``drop_expired``): an attempt whose client deadline passes before
  its service would start is dropped at its deadline without being served (gRPC deadline
  propagation); it takes no worker, so the starts of the others are those of the same
  recursion without it. Its client has seen a timeout at that same deadline.
* **Background shedding** (``shed_background_above = N``): while ``N`` or more attempts are
  waiting, an arriving unattended (background) attempt gets 503 at once.

The two levers go through :meth:`BackendPool.admit_levered`; a pool with neither on is
served by :meth:`BackendPool.admit` alone, untouched by them.

Utilization and queue length are integrated exactly over the measurement window.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import math
from collections import deque
from collections.abc import Callable

from ..spec.schema import ScheduleEntry

__all__ = ["DROPPED", "REJECTED", "BackendPool", "Outages", "capacity_steps", "scheduled_range"]

REJECTED = -1.0
"""What :meth:`BackendPool.admit` returns for an arrival that gets 503 (queue full or down)."""
DROPPED = -2.0
"""What :meth:`BackendPool.admit_levered` returns for an attempt dropped at its deadline."""


def _at(start: dt.date, year: int, mdhm: tuple[int, int, int, int]) -> float | None:
    month, day, hour, minute = mdhm
    try:
        when = dt.datetime(year, month, day, hour, minute)
    except ValueError:  # 02-29 in a year that has none
        return None
    return (when - dt.datetime.combine(start, dt.time())).total_seconds()


def scheduled_range(times: list[float], caps: list[int], t0: float, t1: float) -> tuple[int, int]:
    """The fewest and most workers of the steps ``(times, caps)`` on ``[t0, t1)`` (seconds)."""
    on = [
        c
        for k, c in enumerate(caps)
        if times[k] < t1 and (k + 1 == len(times) or times[k + 1] > t0)
    ]
    return (min(on), max(on)) if on else (caps[-1], caps[-1])


def capacity_steps(
    servers: int, schedule: tuple[ScheduleEntry, ...], start: dt.date, until_s: float
) -> tuple[list[float], list[int]]:
    """The capacity as steps: ``caps[k]`` workers on ``[times[k], times[k+1])`` (seconds).

    ``times[0] = 0``; the last step lasts forever. Recurring entries repeat every year from the
    year before ``start`` to the year after ``until_s``; later entries win where they overlap.
    """
    intervals: list[tuple[float, float, int, int]] = []  # (from, to, servers, order)
    t0 = dt.datetime.combine(start, dt.time())
    last_year = (t0 + dt.timedelta(seconds=until_s)).year + 1
    for order, e in enumerate(schedule):
        if e.recurring:
            assert isinstance(e.start, tuple) and isinstance(e.end, tuple)
            for year in range(start.year - 1, last_year + 1):
                a = _at(start, year, e.start)
                b = _at(start, year + (1 if e.end < e.start else 0), e.end)
                if a is not None and b is not None:
                    intervals.append((a, b, e.servers, order))
        else:
            assert isinstance(e.start, dt.datetime) and isinstance(e.end, dt.datetime)
            intervals.append(
                ((e.start - t0).total_seconds(), (e.end - t0).total_seconds(), e.servers, order)
            )
    cuts = sorted(
        {
            0.0,
            *(max(0.0, a) for a, _, _, _ in intervals),
            *(max(0.0, b) for _, b, _, _ in intervals),
        }
    )
    times: list[float] = []
    caps: list[int] = []
    for t in cuts:
        c, best = servers, -1
        for a, b, n, order in intervals:
            if a <= t < b and order > best:
                c, best = n, order
        if not caps or caps[-1] != c:
            times.append(t)
            caps.append(c)
    return times, caps


class Outages:
    """Alternating up and down periods drawn on demand (seconds; up first, from t = 0)."""

    __slots__ = ("_between", "_i", "_repair", "down")

    def __init__(self, between: Callable[[], float], repair: Callable[[], float]) -> None:
        self._between = between
        self._repair = repair
        self.down: list[tuple[float, float]] = []  # (start, end) of every down period so far
        self._i = 0
        self._extend(0.0)

    def _extend(self, until: float) -> None:
        t = self.down[-1][1] if self.down else 0.0
        while not self.down or self.down[-1][1] <= until:
            start = t + self._between()
            end = start + self._repair()
            self.down.append((start, end))
            t = end

    def is_down(self, now: float) -> bool:
        """Whether the pool is down at ``now`` (``now`` never decreasing between calls)."""
        down = self.down
        if down[-1][1] <= now:
            self._extend(now)
        i = self._i
        while down[i][1] <= now:
            i += 1
        self._i = i
        return down[i][0] <= now

    def downtime(self, t0: float, t1: float) -> list[tuple[float, float]]:
        """Down periods clipped to ``[t0, t1)``."""
        self._extend(t1)
        return [(max(a, t0), min(b, t1)) for a, b in self.down if b > t0 and a < t1]


class BackendPool:
    """A pool of workers with a FCFS queue of at most ``queue_limit`` waiting.

    Args:
        name: the pool's name.
        servers: concurrent workers (positive) when no schedule applies.
        queue_limit: most attempts waiting, excluding those in service; ``None`` = unbounded.
        window: ``(t0, t1)`` seconds, the interval over which busy time, queue length and
            capacity are integrated (the run's measurement window).
        capacity: optional ``(times, caps)`` steps from :func:`capacity_steps`.
        outages: optional :class:`Outages`.
        drop_expired: drop an attempt whose deadline passes before its service would start.
        shed_background_above: 503 to background attempts while this many or more wait
            (0: every background attempt); None = no shedding.
    """

    __slots__ = (
        "_cap_caps",
        "_cap_times",
        "_ends",
        "_free",
        "_last_start",
        "_leaves",
        "_queued",
        "_shed",
        "_t0",
        "_t1",
        "admitted",
        "busy_s",
        "drop_expired",
        "dropped_expired",
        "levers",
        "name",
        "outages",
        "queue_limit",
        "queue_s",
        "rejected",
        "rejected_down",
        "servers",
        "shed_above",
        "shed_background",
    )

    def __init__(
        self,
        name: str,
        servers: int,
        queue_limit: int | None,
        window: tuple[float, float],
        capacity: tuple[list[float], list[int]] | None = None,
        outages: Outages | None = None,
        drop_expired: bool = False,
        shed_background_above: int | None = None,
    ) -> None:
        if servers < 1:
            raise ValueError("servers must be positive")
        if shed_background_above is not None and shed_background_above < 0:
            raise ValueError("shed_background_above must be >= 0")
        self.name = name
        self.servers = servers
        self.queue_limit = queue_limit
        self._free = [0.0] * servers  # heap of the times each worker frees up (fixed capacity)
        # start times of attempts still waiting, kept only to enforce the queue limit (with
        # none, the pool holds no per-attempt state: its memory stays O(servers) however long
        # the queue grows under overload)
        self._queued: deque[float] = deque()
        self._t0, self._t1 = window
        self.admitted = 0
        self.rejected = 0
        self.rejected_down = 0
        self.busy_s = 0.0  # worker-seconds busy inside the window
        self.queue_s = 0.0  # attempt-seconds spent waiting inside the window
        self.outages = outages
        self._cap_times: list[float] | None = None
        self._cap_caps: list[int] = []
        self._ends: list[float] = []  # heap of end times of started attempts (schedules)
        self._last_start = 0.0
        if capacity is not None and (len(capacity[0]) > 1 or capacity[1][0] != servers):
            self._cap_times, self._cap_caps = list(capacity[0]), list(capacity[1])
        # the levers (admit_levered): whether any is on, and what they keep
        self.drop_expired = drop_expired
        self.shed_above = shed_background_above
        self.levers = drop_expired or shed_background_above is not None
        self.dropped_expired = 0  # attempts dropped at their deadline, arriving in the window
        self.shed_background = 0  # background attempts shed, arriving in the window
        # heap of the times the attempts waiting leave the queue (start or deadline), kept for
        # the queue limit under the levers: a dropped attempt leaves at its deadline, out of
        # start order, so a deque no longer stays sorted
        self._leaves: list[float] = []
        # heap of the N latest leave times so far (N = shed_background_above): N or more wait at
        # ``now`` exactly when it holds N and the earliest of them lies after ``now``
        self._shed: list[float] = []

    def capacity_at(self, t: float) -> int:
        """Workers at time ``t`` (seconds)."""
        if self._cap_times is None:
            return self.servers
        return self._cap_caps[bisect.bisect_right(self._cap_times, t) - 1]

    def capacity_seconds(self) -> float:
        """Worker-seconds of capacity inside the window (for utilization)."""
        t0, t1 = self._t0, self._t1
        if self._cap_times is None:
            return self.servers * (t1 - t0)
        total = 0.0
        times, caps = self._cap_times, self._cap_caps
        for k, c in enumerate(caps):
            a = max(times[k], t0)
            b = min(times[k + 1] if k + 1 < len(times) else math.inf, t1)
            if b > a:
                total += c * (b - a)
        return total

    def capacity_range(self) -> tuple[int, int]:
        """The fewest and most workers scheduled inside the window."""
        if self._cap_times is None:
            return self.servers, self.servers
        return scheduled_range(self._cap_times, self._cap_caps, self._t0, self._t1)

    def admit(self, now: float, service_s: float) -> float:
        """Admit an attempt arriving at ``now`` needing ``service_s`` seconds of work.

        Returns its queue wait in seconds (it finishes at ``now + wait + service_s``), or
        :data:`REJECTED` when the pool is down or the queue is full (503).
        """
        if self.outages is not None and self.outages.is_down(now):
            if self._t0 <= now < self._t1:
                self.rejected_down += 1
            return REJECTED
        if self._cap_times is None:
            free = self._free
            earliest = free[0]
            if earliest <= now:
                start = now
            else:
                start = earliest
                if self.queue_limit is not None:
                    queued = self._queued
                    while queued and queued[0] <= now:
                        queued.popleft()
                    if len(queued) >= self.queue_limit:
                        self.rejected += 1
                        return REJECTED
                    queued.append(start)
            heapq.heapreplace(free, start + service_s)
        else:
            start = self._start_scheduled(now)
            if start < 0.0:
                self.rejected += 1
                return REJECTED
            heapq.heappush(self._ends, start + service_s)
        # statistics inside the window [t0, t1): busy worker-seconds and waiting seconds
        self.admitted += 1
        end = start + service_s
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

    def _start_scheduled(self, now: float) -> float:
        """Start time under a capacity schedule, or -1 when the queue is full.

        Starts never decrease (FCFS), so an attempt is waiting at ``now`` exactly when the
        latest start lies after ``now``; ``ends`` holds only the end times after the latest
        start (at most the largest capacity).
        """
        ends = self._ends
        while ends and ends[0] <= now:
            heapq.heappop(ends)
        if self._last_start <= now and len(ends) < self.capacity_at(now):
            self._last_start = now
            return now
        limit = self.queue_limit
        queued = self._queued
        if limit is not None:
            while queued and queued[0] <= now:
                queued.popleft()
            if len(queued) >= limit:
                return -1.0
        s = self._free_from(max(now, self._last_start))
        self._last_start = s
        if s > now and limit is not None:
            queued.append(s)
        return s

    def _free_from(self, s: float) -> float:
        """Under a capacity schedule, the earliest time from ``s`` at which fewer attempts are
        in service than the capacity then (no state changes but dropping ended work)."""
        ends = self._ends
        times = self._cap_times
        assert times is not None  # only pools with a capacity schedule come here
        while True:
            while ends and ends[0] <= s:
                heapq.heappop(ends)
            k = bisect.bisect_right(times, s)
            if len(ends) < self._cap_caps[k - 1]:
                return s
            nxt = times[k] if k < len(times) else math.inf
            s = min(ends[0] if ends else math.inf, nxt)
            if s == math.inf:  # pragma: no cover - capacities are positive
                raise RuntimeError(f"pool {self.name}: no capacity ever frees up")

    def admit_levered(
        self, now: float, service_s: float, arrived: float, deadline: float, background: bool
    ) -> float:
        """:meth:`admit` for a pool with a lever on (``self.levers``): the same recursion,
        plus dropping expired attempts and shedding background ones.

        ``arrived`` is when the attempt reached the gateway or direct line (s; the window of
        the counts), ``deadline`` its client's deadline (s; inf: none), ``background`` whether
        it is unattended. Returns the queue wait (s), :data:`REJECTED` (503: down, background
        shed, queue full, checked in that order) or :data:`DROPPED`: its service would start
        after ``deadline``, so it waits until then (``max(deadline, now)``) and leaves
        without taking a worker. A dropped attempt counts in ``admitted`` and its waiting
        seconds in ``queue_s``, as any other admitted attempt's.
        """
        if self.outages is not None and self.outages.is_down(now):
            if self._t0 <= now < self._t1:
                self.rejected_down += 1
            return REJECTED
        t0, t1 = self._t0, self._t1
        shed = self._shed
        n_shed = self.shed_above
        if (
            background
            and n_shed is not None
            and (n_shed == 0 or (len(shed) == n_shed and shed[0] > now))
        ):
            if t0 <= arrived < t1:
                self.shed_background += 1
            return REJECTED
        if self._cap_times is None:
            earliest = self._free[0]
            start = now if earliest <= now else earliest
        else:
            ends = self._ends
            while ends and ends[0] <= now:
                heapq.heappop(ends)
            if self._last_start <= now and len(ends) < self.capacity_at(now):
                start = now
            else:
                start = self._free_from(max(now, self._last_start))
            # the latest start computed, taken or not (dropped, queue full): ``_free_from``
            # forgot the work that ended before it, and no later start comes before it
            self._last_start = start
        leaves = self._leaves
        if start > now and self.queue_limit is not None:
            while leaves and leaves[0] <= now:
                heapq.heappop(leaves)
            if len(leaves) >= self.queue_limit:
                self.rejected += 1
                return REJECTED
        dropped = self.drop_expired and start > deadline
        leave = (deadline if deadline > now else now) if dropped else start
        if leave > now:  # it waits: it holds a queue place until it leaves
            if self.queue_limit is not None:
                heapq.heappush(leaves, leave)
            if n_shed:
                if len(shed) < n_shed:
                    heapq.heappush(shed, leave)
                elif leave > shed[0]:
                    heapq.heapreplace(shed, leave)
            lo = now if now > t0 else t0
            hi = leave if leave < t1 else t1
            if hi > lo:
                self.queue_s += hi - lo
        self.admitted += 1
        if dropped:
            if t0 <= arrived < t1:
                self.dropped_expired += 1
            return DROPPED
        end = start + service_s
        if self._cap_times is None:
            heapq.heapreplace(self._free, end)
        else:
            heapq.heappush(self._ends, end)
        lo = start if start > t0 else t0
        hi = end if end < t1 else t1
        if hi > lo:
            self.busy_s += hi - lo
        return start - now

    @property
    def entries(self) -> int:
        """Per-attempt entries the pool holds (worker free times, end times, waiting starts): at
        most the servers, plus the largest capacity under a schedule, plus the queue limit,
        plus ``shed_background_above``; never more with the length of the queue."""
        return (
            len(self._free)
            + len(self._ends)
            + len(self._queued)
            + len(self._leaves)
            + len(self._shed)
        )

    def queue_length(self, now: float) -> int:
        """Attempts waiting (not in service) at ``now``; only a pool with a queue limit keeps
        them (``ValueError`` otherwise: the mean queue length is ``queue_s`` over the window)."""
        if self.queue_limit is None:
            raise ValueError(f"pool {self.name} has no queue limit and keeps no queue")
        return sum(1 for s in (self._leaves if self.levers else self._queued) if s > now)
