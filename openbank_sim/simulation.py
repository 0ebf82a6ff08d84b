"""``simulate``: one run of a scenario, as a pure function of (scenario, seed)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .analysis.results import Results, build_results
from .errors import ScenarioError
from .model.world import run_world
from .spec.scenario import Scenario, load_scenario

__all__ = ["simulate"]


def simulate(
    scenario: Scenario | str | Path,
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Results:
    """Run ``scenario`` once and return its :class:`~openbank_sim.analysis.results.Results`.

    Args:
        scenario: a :class:`Scenario`, a path to a TOML file, or a shipped scenario's name.
        seed: the run seed (default: the scenario's ``run.seed``). Same scenario + same seed
            gives the same numbers, bit for bit.
        overrides: dotted-path overrides applied before the run, e.g.
            ``{"bank.pools.core.servers": 64}``.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if overrides:
        scenario = scenario.with_overrides(overrides)
    if seed is None:
        seed = scenario.spec.run.seed
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ScenarioError("must be a non-negative integer", path="seed", value=seed)
    out = run_world(scenario.spec, int(seed))
    return build_results(out, scenario.as_dict(), scenario.source)
