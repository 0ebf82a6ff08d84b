"""Simulating calls over one span of time, and what a run hands on (no run dispatch here).

:func:`run_span` builds a SimPy environment for some partners, runs it and returns its
recorder and pools; full traffic runs one span over the horizon, windowed traffic one per
observation window. :class:`RunOutput` is the raw aggregates of a whole run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import simpy

from ..rng import Streams
from ..spec.types import PartnerSpec, PoolSpec, RunSpec, Spec
from .bank import BackendPool, Outages, capacity_steps
from .gateway import Gateway
from .onboarding import Project, run_pipeline
from .partners import PartnerRuntime
from .recorder import Recorder

__all__ = ["RunOutput", "Span", "live_partners", "run_span"]


@dataclass
class RunOutput:
    """Raw aggregates of one run (no pandas): what :mod:`openbank_sim.analysis.results` turns into tables."""

    spec: Spec
    seed: int
    recorder: Recorder
    pools: list[BackendPool]
    token_pool: BackendPool | None
    token_requests: int
    partner_names: list[str]
    product_names: list[str]
    pool_names: list[str]
    journey_names: list[str]
    partners: tuple[PartnerSpec, ...]
    projects: list[Project]
    sessions_by_partner: list[int]
    refreshes_by_partner: list[int]
    consents_lapsed: int
    events: int
    sim_end_s: float
    wall_s: float
    windows: list[tuple[float, float]] | None = None  # windowed traffic: measured windows


def _pool(p: PoolSpec, run: RunSpec, window: tuple[float, float], streams: Streams) -> BackendPool:
    capacity = (
        capacity_steps(p.servers, p.schedule, run.start, run.horizon_s) if p.schedule else None
    )
    outages = None
    if p.outages is not None:
        outages = Outages(
            streams.sampler(p.outages.between.sample, "pool", p.name, "outage_between"),
            streams.sampler(p.outages.repair.sample, "pool", p.name, "outage_repair"),
        )
    return BackendPool(p.name, p.servers, p.queue_limit, window, capacity, outages)


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


@dataclass
class Span:
    """What simulating calls over one span of time produced."""

    recorder: Recorder
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
) -> Span:
    """Simulate calls of ``partners``: sessions start in ``span``; call KPIs count attempts
    arriving in ``measure``, money those arriving in ``[money_from_s, measure end)``."""
    run = spec.run
    env = simpy.Environment(initial_time=span[0])
    products = tuple(spec.bank.products.values())
    pool_specs = list(spec.bank.pools.values())
    pool_index = {p.name: i for i, p in enumerate(pool_specs)}
    pools = [_pool(p, run, measure, streams) for p in pool_specs]
    product_pools = [pools[pool_index[p.pool]] for p in products]
    recorder = Recorder(
        n_partners=len(partners),
        n_products=len(products),
        product_pool=[pool_index[p.pool] for p in products],
        product_cost=[p.cost for p in products],
        n_pools=len(pools),
        warmup_s=measure[0],
        horizon_s=measure[1],
        time_bin_s=run.time_bin_s,
        call_log=run.record_calls > 0,
        slo_period_s=spec.slo.period_s if spec.slo is not None else None,
        money_from_s=money_from_s,
    )
    needs_gateway = any(p.integration == "api" for p in partners) or not partners
    gateway = Gateway(spec.gateway, partners, products, streams, measure) if needs_gateway else None
    journey_names = list(spec.journeys)
    econ = spec.economics
    installment_rate = econ.installment_margin - econ.credit_loss_rate if econ else 0.0
    runtimes = []
    for i, p in enumerate(partners):
        api = p.integration == "api"
        rt = PartnerRuntime(
            env,
            i,
            p,
            spec.journeys[p.journey],
            journey_names.index(p.journey),
            spec.profiles[p.profile],
            run.start,
            span[1],
            products,
            product_pools,
            gateway if api else None,
            spec.gateway.overhead if api else spec.bank.direct_overhead,
            recorder,
            streams,
            run.record_calls,
            installment_rate,
            span_from_s=span[0],
        )
        runtimes.append(rt)
        if p.live_from_s < span[1]:
            env.process(rt.arrivals())
            if p.background is not None:
                env.process(rt.background())
    env.run()
    recorder.flush()
    events = next(env._eid)  # SimPy's running event id: events scheduled in this run
    return Span(recorder, pools, gateway, runtimes, events, env.now)
