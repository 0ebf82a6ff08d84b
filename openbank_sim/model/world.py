"""Build the SimPy world from a validated spec and run it to the end.

:func:`run_world` is the pure core of a run: ``(spec, seed) -> RunOutput``. Sessions start in
``[0, horizon)``; sessions under way at the horizon finish (the run drains), and the recorder
keeps only what the semantics of the numbers ask for (see :mod:`openbank_sim.model.recorder`).
"""

from __future__ import annotations

import time

from ..rng import Streams
from ..spec.types import Spec
from .span import RunOutput, live_partners, run_span
from .windows import run_windowed

__all__ = ["RunOutput", "live_partners", "run_world"]


def run_world(spec: Spec, seed: int) -> RunOutput:
    """Simulate ``spec`` with ``seed``; returns the raw aggregates."""
    wall0 = time.perf_counter()
    run = spec.run
    streams = Streams(seed)
    partners, projects = live_partners(spec, streams)
    if run.traffic == "windowed":
        return run_windowed(spec, seed, partners, projects, wall0)
    sp = run_span(spec, partners, streams, (0.0, run.horizon_s), (run.warmup_s, run.horizon_s))
    gateway = sp.gateway
    return RunOutput(
        spec=spec,
        seed=seed,
        recorder=sp.recorder,
        pools=sp.pools,
        token_pool=gateway.token_pool if gateway is not None else None,
        token_requests=gateway.token_requests if gateway is not None else 0,
        partner_names=[p.name for p in partners],
        product_names=list(spec.bank.products),
        pool_names=list(spec.bank.pools),
        journey_names=list(spec.journeys),
        partners=partners,
        projects=projects,
        sessions_by_partner=[rt.sessions for rt in sp.runtimes],
        refreshes_by_partner=[rt.refreshes for rt in sp.runtimes],
        consents_lapsed=sum(rt.consents_lapsed for rt in sp.runtimes),
        events=sp.events,
        sim_end_s=sp.sim_end_s,
        wall_s=time.perf_counter() - wall0,
    )
