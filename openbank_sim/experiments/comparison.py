"""Paired comparison of two scenarios: the mean difference ``b - a`` of every KPI with its
Student-t interval, under common random numbers (or independent seeds, to measure what they buy).
More than two scenarios, or which one is best on a KPI: :mod:`.alternatives`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import ScenarioError
from ..spec.scenario import Scenario
from .executors import Executor
from .replication import replication_tasks
from .runs import as_scenario, check_feasible, execute, open_executor
from .stats import t_interval

if TYPE_CHECKING:
    from .alternatives import AlternativesResult

__all__ = ["CompareResult", "compare"]

_INDEPENDENT_OFFSET = 1_000_003  # replication index offset for the "independent seeds" arm


@dataclass
class CompareResult:
    """Paired runs of two scenarios.

    Attributes:
        runs: one row per (arm, replication) with every KPI; ``arm`` is ``"a"`` or ``"b"``.
        summary: per KPI: ``mean_a``, ``mean_b``, ``diff_mean`` (b - a), ``diff_std``,
            ``ci_low``, ``ci_high``, ``half_width`` (of the mean paired difference, in the KPI's
            unit), ``n``.
        crn: whether both arms used the same seeds (common random numbers).
        level: the confidence level.
    """

    runs: pd.DataFrame
    summary: pd.DataFrame
    crn: bool = True
    level: float = 0.95


def compare(
    a: Scenario | str | Path,
    b: Scenario | str | Path,
    *more: Scenario | str | Path | int,
    n: int = 10,
    seed: int | None = None,
    crn: bool = True,
    level: float = 0.95,
    best: str | tuple[str, str] | None = None,
    delta: float | None = None,
    executor: str | Executor = "processes",
    workers: int | None = None,
    address: str | None = None,
    quiet: bool = False,
    allow_long: bool = False,
) -> CompareResult | AlternativesResult:
    """Run ``a`` and ``b`` ``n`` times each and report paired differences ``b - a`` per KPI.

    With ``crn=True`` (the default) replication ``r`` of both arms uses the same seed, so both
    see the same users, journeys and service draws; ``crn=False`` gives ``b`` independent seeds
    (to measure what common random numbers buy). Each arm is refused before anything runs when
    the feasibility estimate of one run exceeds its limits, unless ``allow_long``.

    More scenarios (``compare(a, b, c, ...)``), or ``best="KPI"`` / ``"KPI:max"`` (which is
    best on that KPI, optionally within ``delta``), compare each with ``a`` with simultaneous
    intervals and return an :class:`~openbank_sim.experiments.alternatives.AlternativesResult`
    (see :func:`~openbank_sim.experiments.alternatives.compare_alternatives`).
    """
    if more and isinstance(more[0], int) and not isinstance(more[0], bool):
        n, more = more[0], more[1:]  # compare(a, b, n[, seed]) as before
        if more and (more[0] is None or isinstance(more[0], int)):
            seed, more = more[0], more[1:]
    if more or best is not None:
        from .alternatives import compare_alternatives

        return compare_alternatives(
            [a, b, *more],
            n,
            seed,
            best=best,
            delta=delta,
            crn=crn,
            level=level,
            executor=executor,
            workers=workers,
            address=address,
            quiet=quiet,
        )
    sa, sb = as_scenario(a), as_scenario(b)
    if not isinstance(n, int) or n < 1:
        raise ScenarioError("must be an integer >= 1", path="n", value=n)
    seed = sa.spec.run.seed if seed is None else int(seed)
    if not allow_long:
        check_feasible(sa)
        check_feasible(sb)
    ta = replication_tasks(sa, seed, 0, n)
    tb = replication_tasks(sb, seed, 0, n, 0 if crn else _INDEPENDENT_OFFSET)
    tasks = [(("a", t[0]), *t[1:]) for t in ta] + [(("b", t[0]), *t[1:]) for t in tb]
    rows = []
    with open_executor(executor, workers, address) as ex:
        for task, result, _err in execute(
            tasks, ex, f"{sa.name} vs {sb.name}", quiet, allow_long=allow_long
        ):
            arm, r = task[0]
            rows.append({"arm": arm, "replication": r, "seed": task[4], **result["kpis"]})
    runs = pd.DataFrame(rows).sort_values(["arm", "replication"], ignore_index=True)
    kpis = [c for c in runs.columns if c not in ("arm", "replication", "seed")]
    ra = runs[runs["arm"] == "a"].set_index("replication")
    rb = runs[runs["arm"] == "b"].set_index("replication")
    out = []
    for k in kpis:
        diff = (rb[k] - ra[k]).to_numpy(dtype=float)
        mean, std, lo, hi = t_interval(diff, level)
        out.append(
            {
                "kpi": k,
                "n": int(np.sum(~np.isnan(diff))),
                "mean_a": float(ra[k].mean()),
                "mean_b": float(rb[k].mean()),
                "diff_mean": mean,
                "diff_std": std,
                "ci_low": lo,
                "ci_high": hi,
                "half_width": (hi - lo) / 2,
            }
        )
    return CompareResult(runs, pd.DataFrame(out).set_index("kpi"), crn, level)
