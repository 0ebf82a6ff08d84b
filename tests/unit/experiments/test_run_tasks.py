"""A run task builds its point's scenario once per worker: the replications of one sweep point
share it, and every run of the point gives what a run with the overrides applied afresh gives."""

from __future__ import annotations

import datetime as dt
import tomllib

import pytest
from minimal_scenario import minimal_toml

from openbank_sim.experiments import runs
from openbank_sim.simulation import simulate_kpis
from openbank_sim.spec.feasibility import InfeasibleRunError
from openbank_sim.spec.scenario import Scenario

SMALL = minimal_toml(prepend='[run]\nhorizon = "10min"\nwarmup = "0s"\n\n')


def _task(overrides, seed: int, run_id: str = "r0") -> tuple:
    s = Scenario(tomllib.loads(SMALL))
    return (run_id, runs.scenario_json(s), None, overrides, seed)


def test_the_replications_of_a_point_share_one_scenario_and_give_fresh_runs_numbers():
    runs._cached_point.cache_clear()
    overrides = {"bank.pools.core.servers": 2, "partners.0.sessions_per_user_day": 40.0}
    out = [runs.run_task(_task(overrides, seed)) for seed in (1, 2, 3)]
    info = runs._cached_point.cache_info()
    assert info.misses == 1 and info.hits == 2
    fresh = Scenario(tomllib.loads(SMALL)).with_overrides(overrides)
    for seed, o in zip((1, 2, 3), out, strict=True):
        assert o["kpis"] == simulate_kpis(fresh, seed=seed)


def test_overrides_json_cannot_carry_are_applied_run_by_run():
    runs._cached_point.cache_clear()
    overrides = {"run.start": dt.date(2026, 3, 2)}  # a TOML date: not JSON
    o = runs.run_task(_task(overrides, 1))
    assert runs._cached_point.cache_info().currsize == 0
    fresh = Scenario(tomllib.loads(SMALL)).with_overrides(overrides)
    assert o["kpis"] == simulate_kpis(fresh, seed=1)


def test_a_refused_point_is_refused_on_every_run_and_allowed_with_allow_long():
    runs._cached_point.cache_clear()
    huge = {"run.horizon": "400d", "partners.0.users": 10_000_000}
    for seed in (1, 2):
        with pytest.raises(InfeasibleRunError):
            runs.run_task(_task(huge, seed))
    assert runs._cached_point.cache_info().currsize == 0  # a refusal is not cached
    # the same point without the limits is a different key: it is built, not refused
    scenario = runs._point_scenario(_task(huge, 1)[1], None, huge, allow_long=True)
    assert scenario.spec.partners[0].users == 10_000_000
