"""Replications of one scenario with Student-t confidence intervals, optionally until a KPI's
interval is narrow enough.

Replication ``r`` uses the seed derived from ``(seed, r)`` (:func:`replication_seed`), the same
everywhere (every sweep point, both arms of a comparison): common random numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ScenarioError
from ..rng import replication_seed
from ..spec.scenario import Scenario
from .executors import Executor
from .runs import as_scenario, check_feasible, execute, open_executor, scenario_json
from .stats import more_needed, summarise

__all__ = ["ReplicationResult", "replicate", "replication_tasks"]


@dataclass
class ReplicationResult:
    """Replications of one scenario.

    Attributes:
        runs: one row per replication (``replication``, ``seed`` and every KPI).
        summary: per KPI: ``n``, ``mean``, ``std``, ``ci_low``, ``ci_high``, ``half_width``
            (Student-t interval at ``level``, in the KPI's unit).
        level: the confidence level.
    """

    runs: pd.DataFrame
    summary: pd.DataFrame
    level: float = 0.95

    def interval(self, kpi: str) -> tuple[float, float]:
        """The confidence interval of ``kpi``'s mean."""
        row = self.summary.loc[kpi]
        return float(row["ci_low"]), float(row["ci_high"])


def replication_tasks(
    s: Scenario, seed: int, start: int, stop: int, offset: int = 0
) -> list[tuple]:
    """The tasks of replications ``start .. stop - 1`` of ``s``; replication ``r`` gets the
    seed of ``(seed, r + offset)``."""
    js = scenario_json(s)
    return [(r, js, s.source, None, replication_seed(seed, r + offset)) for r in range(start, stop)]


def _collect(results: Iterable[tuple[tuple, dict | None, BaseException | None]]) -> list[dict]:
    rows = []
    for task, result, _err in results:
        rows.append({"replication": task[0], "seed": task[4], **result["kpis"]})
    return rows


def replicate(
    scenario: Scenario | str | Path,
    n: int = 10,
    seed: int | None = None,
    *,
    target: Mapping[str, Any] | None = None,
    max_replications: int = 200,
    level: float = 0.95,
    executor: str | Executor = "processes",
    workers: int | None = None,
    address: str | None = None,
    quiet: bool = False,
    allow_long: bool = False,
) -> ReplicationResult:
    """Run ``n`` replications; replication ``r`` uses the seed derived from ``(seed, r)``.

    Args:
        scenario: a Scenario, a file, or a shipped name.
        n: replications to start with (>= 1).
        seed: base seed (default: the scenario's ``run.seed``).
        target: ``{"kpi": name, "half_width": h, "relative": bool}``: add replications (in
            batches) until that KPI's interval half-width is at most ``h`` (relative: ``h`` times
            ``|mean|``), or ``max_replications`` is reached.
        executor, workers, address: where to run (see :mod:`openbank_sim.experiments.executors`).
        quiet: no progress bar.
        allow_long: run even when the feasibility estimate of a run exceeds its limits
            (otherwise such a scenario is refused before anything runs).
    """
    s = as_scenario(scenario)
    if not isinstance(n, int) or n < 1:
        raise ScenarioError("must be an integer >= 1", path="n", value=n)
    seed = s.spec.run.seed if seed is None else int(seed)
    if target is not None:
        unknown = set(target) - {"kpi", "half_width", "relative"}
        if unknown or "kpi" not in target or "half_width" not in target:
            raise ScenarioError(
                "needs {kpi, half_width[, relative]}", path="target", value=dict(target)
            )
    if not allow_long:
        check_feasible(s)
    with open_executor(executor, workers, address) as ex:
        rows = _collect(
            execute(
                replication_tasks(s, seed, 0, n),
                ex,
                f"{s.name} replications",
                quiet,
                allow_long=allow_long,
            )
        )
        while target is not None:
            more = more_needed(rows, target, level, max_replications)
            if more == 0:
                break
            have = len(rows)
            rows += _collect(
                execute(
                    replication_tasks(s, seed, have, have + more),
                    ex,
                    f"{s.name} replications",
                    quiet,
                    allow_long=allow_long,
                )
            )
    runs = pd.DataFrame(rows).sort_values("replication", ignore_index=True)
    kpis = [c for c in runs.columns if c not in ("replication", "seed")]
    return ReplicationResult(runs, summarise(runs, kpis, level), level)
