"""The onboarding pipeline: candidate partners arrive and go through the four phases.

Candidates arrive as a Poisson process (``arrivals_per_month``), each with a sector (``mix``),
a size multiplier on its sector's template partner, and an integration mode. Then, as in the
essay's cooperation flow: demand docking -> interface development -> testing (a failed test,
with ``rework_probability``, sends the project back to development) -> go-live, followed by
operations and maintenance.

* Traditional projects hold ``engineers`` of the bank's integration team from the start of
  development to go-live; the team is a finite resource with ``team // engineers`` project
  slots, so projects queue and time to market grows with demand (one-to-one).
* API partners develop against the sandbox on their own; only their testing (certification)
  holds one of ``review_capacity`` review slots of the API platform team (one-to-many).

Arrivals, sector, size and mode come from streams of their own, so two runs that differ only
in ``integration`` shares see the same candidates at the same times; phase durations come from
per-mode streams. Time to market = go-live minus arrival.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from ..rng import Streams
from ..spec.units import SECONDS_PER_DAY, SECONDS_PER_MONTH
from .clock import delay_until

__all__ = ["Project", "run_pipeline"]


@dataclass
class Project:
    """One candidate partner's way through the pipeline (times in seconds; inf = not yet)."""

    index: int
    name: str
    template: str
    sector: str
    mode: str
    size: float
    arrival_s: float
    development_start_s: float = math.inf  # traditional: engineers assigned
    testing_end_s: float = math.inf
    go_live_s: float = math.inf
    reworks: int = 0
    engineer_days: float = 0.0  # traditional: engineers x days held (up to go-live or horizon)
    review_wait_s: float = 0.0  # api: waiting for a review slot

    @property
    def live(self) -> bool:
        """Whether it went live (within the pipeline's horizon)."""
        return math.isfinite(self.go_live_s)

    @property
    def time_to_market_s(self) -> float:
        """Go-live minus arrival (inf when not live)."""
        return self.go_live_s - self.arrival_s


def _choice(u: float, options: tuple[tuple[str, float], ...]) -> str:
    acc = 0.0
    for name, share in options:
        acc += share
        if u < acc:
            return name
    return next(name for name, share in reversed(options) if share > 0)


def run_pipeline(onboarding: Any, streams: Streams, horizon_s: float) -> list[Project]:
    """Simulate the pipeline over ``[0, horizon_s)``; every candidate that arrived is returned.

    Projects still under way at the horizon keep ``go_live_s = inf``; traditional engineer-days
    are counted up to the horizon.
    """
    env = simpy.Environment()
    ob = onboarding
    modes = ob.modes
    trad = modes.get("traditional")
    slots = simpy.Resource(env, max(1, ob.team.engineers // trad.engineers)) if trad else None
    reviews = simpy.Resource(env, modes["api"].review_capacity) if "api" in modes else None
    draw = {
        (mode, phase): streams.sampler(getattr(spec, phase).sample, "onboarding", mode, phase)
        for mode, spec in modes.items()
        for phase in ("docking", "development", "testing")
    }
    rework = {mode: streams.uniforms("onboarding", mode, "rework") for mode in modes}
    gen_arrivals = streams.generator("onboarding", "arrivals")
    u_sector = streams.uniforms("onboarding", "sector")
    u_mode = streams.uniforms("onboarding", "mode")
    size = (
        streams.sampler(ob.size.sample, "onboarding", "size")
        if ob.size is not None
        else (lambda: 1.0)
    )
    projects: list[Project] = []

    def project(p: Project) -> Generator[simpy.Event, Any, None]:
        spec = modes[p.mode]
        yield env.timeout(draw[p.mode, "docking"]())
        if p.mode == "traditional":
            assert slots is not None  # the scenario has a traditional mode
            with slots.request() as req:
                yield req
                p.development_start_s = env.now
                try:
                    while True:
                        yield env.timeout(draw[p.mode, "development"]())
                        yield env.timeout(draw[p.mode, "testing"]())
                        if rework[p.mode]() >= spec.rework_probability:
                            break
                        p.reworks += 1
                    p.testing_end_s = p.go_live_s = env.now
                finally:
                    p.engineer_days = (
                        spec.engineers
                        * (min(env.now, horizon_s) - p.development_start_s)
                        / SECONDS_PER_DAY
                    )
        else:
            while True:
                yield env.timeout(draw[p.mode, "development"]())
                asked = env.now
                assert reviews is not None  # the scenario has an API mode
                with reviews.request() as req:
                    yield req
                    p.review_wait_s += env.now - asked
                    yield env.timeout(draw[p.mode, "testing"]())
                if rework[p.mode]() >= spec.rework_probability:
                    break
                p.reworks += 1
            p.testing_end_s = p.go_live_s = env.now

    def arrivals() -> Generator[simpy.Event, Any, None]:
        rate = ob.arrivals_per_month / SECONDS_PER_MONTH
        times = np.cumsum(gen_arrivals.exponential(1.0 / rate, size=64))
        i = 0
        while True:
            if i >= times.size:
                times = times[-1] + np.cumsum(gen_arrivals.exponential(1.0 / rate, size=256))
                i = 0
            t = float(times[i])
            i += 1
            if t >= horizon_s:
                return
            yield env.timeout(delay_until(t, env.now))
            sector = _choice(u_sector(), ob.mix)
            mode = _choice(u_mode(), ob.integration)
            template = ob.templates[sector]
            k = len(projects)
            p = Project(
                k, f"{template}-{k + 1:04d}", template, sector, mode, float(size()), env.now
            )
            projects.append(p)
            env.process(project(p))

    env.process(arrivals())
    env.run(until=horizon_s)
    for p in projects:  # engineers still held at the horizon
        if p.mode == "traditional" and math.isfinite(p.development_start_s) and not p.live:
            p.engineer_days = (
                modes["traditional"].engineers
                * (horizon_s - p.development_start_s)
                / SECONDS_PER_DAY
            )
    return projects
