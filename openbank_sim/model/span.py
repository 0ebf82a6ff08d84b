"""Simulating calls over one span of time (no run dispatch here).

:func:`run_span` builds a SimPy environment for some partners, runs it and returns what it
recorded and its pools; full traffic runs one span over the horizon, windowed traffic one per
observation window. A windowed span can be set up first (:class:`SpanSetup`): the outage
timelines its pools follow, the consent lapses of its unattended users, limiter state taken over
into its gateway and refreshes already under way when it starts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from heapq import heappop

import numpy as np
import simpy

from ..rng import Streams
from ..spec.types import PartnerSpec, PoolSpec, RunSpec, Spec
from .bank import BackendPool, Outages, capacity_steps
from .clock import event_queue
from .gateway import Gateway
from .onboarding import Project, run_pipeline
from .partners import EXTRA_REFRESH_ID, PartnerRuntime, SpanContext
from .progress import TICK_EVENTS, SpanTick
from .record import CallAggregates, PoolRecord
from .recorder import Recorder, RecorderLayout

__all__ = [
    "EXTRA_REFRESH_ID",
    "Span",
    "SpanSetup",
    "live_partners",
    "pool_outages",
    "pool_record",
    "run_span",
]


def pool_outages(p: PoolSpec, streams: Streams) -> Outages | None:
    """The outage timeline of pool ``p`` drawn from ``streams`` (None without outages)."""
    if p.outages is None:
        return None
    return Outages(
        streams.sampler(p.outages.between.sample, "pool", p.name, "outage_between"),
        streams.sampler(p.outages.repair.sample, "pool", p.name, "outage_repair"),
    )


def _pool(
    p: PoolSpec,
    run: RunSpec,
    window: tuple[float, float],
    streams: Streams,
    outages: Mapping[str, Outages | None] | None = None,
) -> BackendPool:
    capacity = (
        capacity_steps(p.servers, p.schedule, run.start, run.horizon_s) if p.schedule else None
    )
    timeline = outages[p.name] if outages is not None else pool_outages(p, streams)
    return BackendPool(
        p.name,
        p.servers,
        p.queue_limit,
        window,
        capacity,
        timeline,
        p.drop_expired,
        p.shed_background_above,
    )


@dataclass(frozen=True)
class SpanSetup:
    """How windowed traffic sets a span up before it runs (full traffic uses none).

    Attributes:
        outages: pool name -> the outage timeline the pool follows (None: always up); every
            pool must be named.
        consent_lapses: span partner index -> when each unattended user's consent lapses (s),
            in place of the span's own draw.
        gateway: called with the span's gateway before the run (limiter state taken over).
        refreshes: span partner index -> unattended refreshes ``(time_s, user)`` already under
            way when the span starts (their next attempt at ``time_s``), in time order; their ids
            start at :data:`EXTRA_REFRESH_ID`.
    """

    outages: Mapping[str, Outages | None] | None = None
    consent_lapses: Mapping[int, np.ndarray] = field(default_factory=dict)
    gateway: Callable[[Gateway], None] | None = None
    refreshes: Mapping[int, Sequence[tuple[float, int]]] = field(default_factory=dict)


def live_partners(spec: Spec, streams: Streams) -> tuple[tuple[PartnerSpec, ...], list[Project]]:
    """The partners that can generate calls: the scenario's own (templates excluded) and the
    onboarded ones, which start at their go-live; plus every onboarding project."""
    run = spec.run
    projects: list[Project] = []
    partners = tuple(p for p in spec.partners if not p.template)
    if spec.onboarding is not None:
        projects = run_pipeline(spec.onboarding, streams, run.horizon_s)
        by_name = {p.name: p for p in spec.partners}
        partners += tuple(
            replace(
                by_name[pr.template],
                name=pr.name,
                integration=pr.mode,
                users=max(1, round(by_name[pr.template].users * pr.size)),
                live_from_s=pr.go_live_s,
                template=False,
            )
            for pr in projects
            if pr.live
        )
    return partners, projects


def pool_record(pool: BackendPool, window: tuple[float, float]) -> PoolRecord:
    """A pool's statistics and down intervals over ``window`` (seconds)."""
    downtime = pool.outages.downtime(*window) if pool.outages is not None else []
    servers_min, servers_max = pool.capacity_range()
    return PoolRecord(
        pool.name,
        pool.servers,
        pool.queue_limit,
        pool.busy_s,
        pool.queue_s,
        pool.capacity_seconds(),
        pool.admitted,
        pool.rejected_down,
        tuple(downtime),
        servers_min,
        servers_max,
        pool.dropped_expired,
        pool.shed_background,
    )


@dataclass
class Span:
    """What simulating calls over one span of time produced."""

    calls: CallAggregates
    pools: list[BackendPool]
    gateway: Gateway | None
    runtimes: list[PartnerRuntime]
    events: int
    sim_end_s: float


def run_span(
    spec: Spec,
    partners: tuple[PartnerSpec, ...],
    streams: Streams,
    span: tuple[float, float],
    measure: tuple[float, float],
    money_from_s: float = 0.0,
    setup: SpanSetup | None = None,
    tick: SpanTick | None = None,
) -> Span:
    """Simulate calls of ``partners``: sessions start in ``span``; call KPIs count attempts
    arriving in ``measure``, money those arriving in ``[money_from_s, measure end)``.

    ``tick``, if given, is called with the clock (s) every :data:`~.progress.TICK_EVENTS`
    events, and with ``math.inf`` once the span is done."""
    run = spec.run
    env = simpy.Environment(initial_time=span[0])
    products = tuple(spec.bank.products.values())
    pool_specs = list(spec.bank.pools.values())
    pool_index = {p.name: i for i, p in enumerate(pool_specs)}
    timelines = setup.outages if setup is not None else None
    pools = [_pool(p, run, measure, streams, timelines) for p in pool_specs]
    product_pools = [pools[pool_index[p.pool]] for p in products]
    recorder = Recorder(
        RecorderLayout(
            n_partners=len(partners),
            n_products=len(products),
            n_pools=len(pools),
            product_pool=tuple(pool_index[p.pool] for p in products),
            product_cost=tuple(p.cost for p in products),
            warmup_s=measure[0],
            horizon_s=measure[1],
            time_bin_s=run.time_bin_s,
            call_log=run.record_calls > 0,
            slo_period_s=spec.slo.period_s if spec.slo is not None else None,
            money_from_s=money_from_s,
        )
    )
    needs_gateway = any(p.integration == "api" for p in partners) or not partners
    gateway = Gateway(spec.gateway, partners, products, measure) if needs_gateway else None
    if setup is not None and setup.gateway is not None and gateway is not None:
        setup.gateway(gateway)
    ctx = SpanContext(
        env=env,
        spec=spec,
        streams=streams,
        recorder=recorder,
        products=products,
        product_index={p.name: i for i, p in enumerate(products)},
        pools=product_pools,
        gateway=gateway,
        span_from_s=span[0],
        span_to_s=span[1],
    )
    runtimes = []
    for i, p in enumerate(partners):
        rt = PartnerRuntime(ctx, i, p)
        runtimes.append(rt)
        if setup is not None and i in setup.consent_lapses:
            rt.bg_lapse = setup.consent_lapses[i]
        rt.start()
    if setup is not None:
        for i, calls in setup.refreshes.items():
            if calls:
                runtimes[i].start_refreshes(calls)
    events = _run_to_end(env) if tick is None else _run_to_end_ticking(env, tick)
    events += sum(rt.inline_starts for rt in runtimes)  # wake-ups a driver took in place
    end_s = max([env.now, *(rt.end_s for rt in runtimes)])
    return Span(recorder.aggregates(), pools, gateway, runtimes, events, end_s)


def _run_to_end(env: simpy.Environment) -> int:
    """Run ``env`` until no event is left (as ``env.run()`` does); returns the events processed.

    The loop is SimPy's ``Environment.step`` unrolled over its queue: pop the earliest event,
    move the clock to it, run its callbacks. The call-level world holds only the model's own
    wake-ups and SimPy timeouts (no processes, no ``until`` event, nothing that fails), so
    this is what ``env.run()`` does, one Python call less per event."""
    return _run_events(env, math.inf)


def _run_events(env: simpy.Environment, most: float) -> int:
    """Process up to ``most`` events of ``env`` (fewer when its queue runs dry); returns how
    many (see :func:`_run_to_end`)."""
    queue, _ = event_queue(env)
    events = 0
    while queue and events < most:
        env._now, _, _, event = heappop(queue)
        callbacks, event.callbacks = event.callbacks, None
        for callback in callbacks:
            callback(event)
        if not event._ok:
            raise RuntimeError(f"a call-level event failed: {event!r}")
        events += 1
    return events


def _run_to_end_ticking(env: simpy.Environment, tick: SpanTick) -> int:
    """:func:`_run_to_end`, calling ``tick(env.now)`` every :data:`TICK_EVENTS` events."""
    queue, _ = event_queue(env)
    events = 0
    while queue:
        n = _run_events(env, TICK_EVENTS)
        events += n
        if n == TICK_EVENTS:
            tick(env._now)
    tick(math.inf)  # the span is done, whenever its last event was
    return events
