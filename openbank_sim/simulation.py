"""``simulate``: one run of a scenario, as a pure function of (scenario, seed)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .analysis.results import Results, build_results, run_kpis
from .analysis.warmup import WarmupChoice, choose_warmup
from .errors import ScenarioError
from .model.progress import ProgressHook
from .model.record import RunRecord
from .model.world import run_world
from .progress import run_bar
from .spec.bounds import SEED
from .spec.feasibility import check
from .spec.scenario import Scenario, load_scenario
from .spec.types import Spec

__all__ = ["simulate", "simulate_kpis"]


def simulate(
    scenario: Scenario | str | Path,
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    allow_long: bool = False,
    progress: bool | None = False,
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
        progress: show a bar over simulated time (over windows for windowed traffic) with an
            ETA on stderr (a widget in Jupyter); ``None`` shows it only when stderr is a
            terminal. It never changes the numbers.

    Raises:
        ScenarioError: a bad scenario, seed or override; its subclass
            :class:`~openbank_sim.spec.feasibility.InfeasibleRunError` for a run refused by
            the feasibility estimate.
    """
    scenario, seed = _checked(scenario, seed, overrides, allow_long)
    spec = scenario.spec
    label = f"{spec.name} (auto warm-up, up to 2 passes)" if spec.run.warmup_auto else spec.name
    with run_bar(label, spec.run.traffic == "windowed", progress) as hook:
        out, choice = _record(spec, seed, hook)
    return build_results(out, scenario.as_dict(), scenario.source, warmup=choice)


def simulate_kpis(
    scenario: Scenario | str | Path,
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    allow_long: bool = False,
) -> dict[str, float]:
    """The KPIs of one run, without building its tables or manifest: what a sweep's worker
    sends back. The same numbers as ``simulate(...).kpis`` (same arguments; no progress bar).
    """
    scenario, seed = _checked(scenario, seed, overrides, allow_long)
    return run_kpis(_record(scenario.spec, seed, None)[0])


def _record(
    spec: Spec, seed: int, hook: ProgressHook | None
) -> tuple[RunRecord, WarmupChoice | None]:
    """The run's record, and how ``run.warmup = "auto"`` chose its warm-up (None: fixed)."""
    if spec.run.warmup_auto:
        return run_auto_warmup(spec, seed, hook)
    return run_world(spec, seed, hook), None


def _checked(
    scenario: Scenario | str | Path,
    seed: int | None,
    overrides: Mapping[str, Any] | None,
    allow_long: bool,
) -> tuple[Scenario, int]:
    """The scenario (loaded, overrides applied) and the seed, checked; refused by the
    feasibility estimate unless ``allow_long``."""
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
    return scenario, int(seed)


def run_auto_warmup(
    spec: Spec, seed: int, progress: ProgressHook | None = None
) -> tuple[RunRecord, WarmupChoice]:
    """``run.warmup = "auto"``: run from t = 0, choose the warm-up by MSER-5 at a time-bin
    boundary, then run again recording from it.

    The warm-up changes what is recorded, never what happens (the same seed gives the same
    sessions, draws and queues), so the second run is the first one measured over ``[warm-up,
    horizon)``: every KPI and table is exactly that of the same scenario with the chosen warm-up
    given as a duration. It costs a second run (the record's ``wall_s`` counts both); a choice
    of 0 reuses the first. ``progress`` hears both passes, the second starting from 0 again.
    """
    run = dataclasses.replace(spec.run, warmup_s=0.0, warmup_auto=False)
    first = run_world(dataclasses.replace(spec, run=run), seed, progress)
    choice = choose_warmup(first)
    if choice.warmup_s == 0.0:
        return first, choice
    chosen = dataclasses.replace(run, warmup_s=choice.warmup_s)
    second = run_world(dataclasses.replace(spec, run=chosen), seed, progress)
    return dataclasses.replace(second, wall_s=first.wall_s + second.wall_s), choice
