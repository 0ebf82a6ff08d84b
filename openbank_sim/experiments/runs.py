"""Runs as tasks: one simulation per picklable task, executed on an executor with a progress bar.

A task is ``(run_id, scenario_json, source, overrides, seed)``, optionally followed by the
names of the run's tables to send back (a sweep's ``keep``); :func:`run_task` is module
level, so every executor (see :mod:`openbank_sim.experiments.executors`) runs exactly this code
on exactly these inputs, and the numbers do not depend on where or in which order runs finish.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..spec.scenario import Scenario, load_scenario
from .executors import Executor, make_executor

__all__ = [
    "as_scenario",
    "base_scenario",
    "check_feasible",
    "execute",
    "open_executor",
    "run_task",
    "run_task_allowing_long",
    "scenario_json",
]


def run_task(task: tuple) -> dict[str, Any]:
    """Run one simulation: ``(run_id, scenario_json, source, overrides, seed[, keep])`` ->
    ``run_id``, ``kpis``, ``wall_s`` (wall-clock seconds of the run) and, with ``keep``,
    ``tables`` (those of :attr:`Results.tables <openbank_sim.analysis.results.Results>`). A run the feasibility estimate
    refuses raises :class:`~openbank_sim.spec.feasibility.InfeasibleRunError`."""
    return _run(task, allow_long=False)


def run_task_allowing_long(task: tuple) -> dict[str, Any]:
    """:func:`run_task` without the feasibility limits (``allow_long=True``)."""
    return _run(task, allow_long=True)


def _run(task: tuple, allow_long: bool) -> dict[str, Any]:
    from ..simulation import simulate, simulate_kpis

    run_id, scenario_json, source, overrides, seed = task[:5]
    keep = task[5] if len(task) > 5 else ()
    scenario = _point_scenario(scenario_json, source, overrides, allow_long)
    t0 = time.perf_counter()
    if not keep:  # the KPIs only: no tables are built that would not be sent back
        # the point's scenario passed the feasibility check when it was built
        kpis = simulate_kpis(scenario, seed=seed, allow_long=True)
        return {"run_id": run_id, "kpis": kpis, "wall_s": time.perf_counter() - t0}
    results = simulate(scenario, seed=seed, allow_long=True)  # checked with the point
    out = {"run_id": run_id, "kpis": results.kpis, "wall_s": time.perf_counter() - t0}
    out["tables"] = {name: results.tables[name] for name in keep}
    return out


@functools.lru_cache(maxsize=8)
def base_scenario(scenario_json: str, source: str | None) -> Scenario:
    """The task's scenario before its overrides, parsed and validated once per worker (the
    tasks of one experiment share it; a Scenario is immutable)."""
    return Scenario(json.loads(scenario_json), source)


def _point_scenario(
    scenario_json: str, source: str | None, overrides: Any, allow_long: bool
) -> Scenario:
    """The task's scenario with its overrides applied (and, unless ``allow_long``, passed by
    the feasibility check), built once per worker for all the replications of one point:
    overrides that JSON can carry are the cache's key, others are applied run by run."""
    try:
        key = json.dumps(overrides or {})
    except (TypeError, ValueError):
        scenario = base_scenario(scenario_json, source).with_overrides(overrides)
        if not allow_long:
            check_feasible(scenario)
        return scenario
    return _cached_point(scenario_json, source, key, allow_long)


@functools.lru_cache(maxsize=64)
def _cached_point(
    scenario_json: str, source: str | None, overrides_json: str, allow_long: bool
) -> Scenario:
    scenario = base_scenario(scenario_json, source)
    overrides = json.loads(overrides_json)
    if overrides:
        scenario = scenario.with_overrides(overrides)
    if not allow_long:
        check_feasible(scenario)  # a refusal raises, and is not cached
    return scenario


def check_feasible(s: Scenario) -> None:
    """Refuse ``s`` when the feasibility estimate of one run exceeds its limits (an
    :class:`~openbank_sim.spec.feasibility.InfeasibleRunError` naming its file)."""
    from ..spec.feasibility import check

    check(s.spec, file=s.source or "<scenario>", raw=s.as_dict())


def as_scenario(s: Scenario | str | Path) -> Scenario:
    """A Scenario as given, or loaded from a file or a shipped name."""
    return s if isinstance(s, Scenario) else load_scenario(s)


def scenario_json(s: Scenario) -> str:
    """The scenario as JSON, its keys in the file's order: how a task carries it to a worker.

    The order is kept because it is part of the scenario (the order of ``onboarding.mix``
    and ``onboarding.templates`` orders the sectors' draws), so a task's run is the run
    :func:`~openbank_sim.simulation.simulate` gives with the same seed."""
    return json.dumps(s.as_dict(), default=str)


def _progress(total: int, desc: str, quiet: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=quiet, unit="run", leave=True)


@contextmanager
def open_executor(
    executor: str | Executor, workers: int | None, address: str | None
) -> Iterator[Executor]:
    """The executor to use, closed afterwards if it was made here (from its name)."""
    ex = make_executor(executor, workers, address)
    try:
        yield ex
    finally:
        if isinstance(executor, str):
            ex.close()


def execute(
    tasks: list[tuple],
    ex: Executor,
    desc: str,
    quiet: bool,
    fail_fast: bool = True,
    allow_long: bool = False,
    fn: Callable[[tuple], dict[str, Any]] | None = None,
) -> Iterable[tuple[tuple, dict | None, BaseException | None]]:
    """``(task, result, error)`` for every task as it finishes, with a progress bar; the first
    error is raised when ``fail_fast``. ``allow_long``: runs skip the feasibility limits.
    ``fn``: a module-level task function of another kind of run (default :func:`run_task`)."""
    bar = _progress(len(tasks), desc, quiet)
    if fn is None:
        fn = run_task_allowing_long if allow_long else run_task
    try:
        for task, result, err in ex.imap_unordered(fn, tasks):
            bar.update(1)
            if err is not None and fail_fast:
                raise err
            yield task, result, err
    finally:
        bar.close()
