"""Build the SimPy world from a validated spec and run it to the end.

:func:`run_world` is the pure core of a run: ``(spec, seed) -> RunRecord``. Sessions start in
``[0, horizon)``; sessions under way at the horizon finish (the run drains), and the recorder
keeps only what the semantics of the numbers ask for (see :mod:`openbank_sim.model.recorder`).
"""

from __future__ import annotations

import time

from ..rng import Streams
from ..spec.types import Spec
from .progress import ProgressHook
from .record import RunRecord
from .span import live_partners, pool_record, run_span
from .windows import run_windowed

__all__ = ["RunRecord", "live_partners", "run_world"]


def run_world(spec: Spec, seed: int, progress: ProgressHook | None = None) -> RunRecord:
    """Simulate ``spec`` with ``seed``; returns the run's record.

    ``progress(done, total)``, if given, hears how far the run has got (see
    :mod:`~openbank_sim.model.progress`); it never changes the numbers.
    """
    wall0 = time.perf_counter()
    run = spec.run
    streams = Streams(seed)
    partners, projects = live_partners(spec, streams)
    if run.traffic == "windowed":
        return run_windowed(spec, seed, partners, projects, wall0, progress)
    measure = (run.warmup_s, run.horizon_s)
    tick = None
    if progress is not None:
        horizon_s = run.horizon_s

        def tick(now_s: float) -> None:
            progress(min(now_s, horizon_s), horizon_s)

    sp = run_span(spec, partners, streams, (0.0, run.horizon_s), measure, tick=tick)
    gateway = sp.gateway
    token_pool = gateway.token_pool if gateway is not None else None
    return RunRecord(
        spec=spec,
        seed=seed,
        calls=sp.calls,
        pools=tuple(pool_record(p, measure) for p in sp.pools),
        token_pool=pool_record(token_pool, measure) if token_pool is not None else None,
        token_requests=gateway.token_requests if gateway is not None else 0,
        partner_names=tuple(p.name for p in partners),
        product_names=tuple(spec.bank.products),
        pool_names=tuple(spec.bank.pools),
        journey_names=tuple(spec.journeys),
        partners=partners,
        projects=tuple(projects),
        sessions_by_partner=tuple(rt.sessions for rt in sp.runtimes),
        refreshes_by_partner=tuple(rt.refreshes for rt in sp.runtimes),
        consents_lapsed=sum(rt.consents_lapsed for rt in sp.runtimes),
        events=sp.events,
        sim_end_s=sp.sim_end_s,
        wall_s=time.perf_counter() - wall0,
    )
