"""``simulate``: one run of a scenario, as a pure function of (scenario, seed)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .analysis.results import Results, build_results
from .errors import ScenarioError
from .model.world import run_world
from .spec.bounds import SEED
from .spec.feasibility import check
from .spec.scenario import Scenario, load_scenario

__all__ = ["simulate"]


def simulate(
    scenario: Scenario | str | Path,
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    allow_long: bool = False,
) -> Results:
    """Run ``scenario`` once and return its :class:`~openbank_sim.analysis.results.Results`.

    Args:
        scenario: a :class:`Scenario`, a path to a TOML file, or a shipped scenario's name.
        seed: the run seed (default: the scenario's ``run.seed``). Same scenario + same seed
            gives the same numbers, bit for bit.
        overrides: dotted-path overrides applied before the run, e.g.
            ``{"bank.pools.core.servers": 64}``.
        allow_long: run even when the feasibility estimate exceeds its limits (10^9 attempts,
            24 h, this machine's memory; see :mod:`openbank_sim.spec.feasibility`).

    Raises:
        ScenarioError: a bad scenario, seed or override; its subclass
            :class:`~openbank_sim.spec.feasibility.InfeasibleRunError` for a run refused by
            the feasibility estimate.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if overrides:
        scenario = scenario.with_overrides(overrides)
    if seed is None:
        seed = scenario.spec.run.seed
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0 or seed > SEED.maximum:
        raise ScenarioError(f"must be an integer from 0 to {SEED.text()}", path="seed", value=seed)
    if not allow_long:
        check(scenario.spec, file=scenario.source or "<scenario>", raw=scenario.as_dict())
    out = run_world(scenario.spec, int(seed))
    return build_results(out, scenario.as_dict(), scenario.source)
