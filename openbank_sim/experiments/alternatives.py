"""Many alternatives at once: each scenario against the first under common random numbers,
with simultaneous intervals, and which one is best on a KPI (ranking and selection).

* **Simultaneous intervals** (Bonferroni): with ``k`` scenarios there are ``k - 1`` paired
  differences ``X - A`` per KPI; each interval is a paired Student-t interval at level
  ``1 - (1 - level) / (k - 1)``, so that for a given KPI all ``k - 1`` cover together with
  probability at least ``level``.
* **Which is best** on a KPI (smaller or larger is better): the scenario with the best mean;
  an upper bound on how far it can be from the truly best one, and the subset that could be
  the best, both holding together with probability at least ``level`` (paired one-sided t
  bounds against every other scenario, Bonferroni over the ``k - 1``; see
  :func:`~openbank_sim.experiments.selection.subset_and_gaps`). With ``delta``, the first
  ``n`` replications screen out the scenarios established worse than another (half the
  error), and a second stage (Nelson and Matejcik's two-stage procedure under common random
  numbers, the other half) makes the chosen survivor within ``delta`` of the best: the pairs of
  the chosen one need ``max(n, ceil(t^2 S^2 / delta^2))`` replications, capped at
  ``max_replications``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import ascii_uppercase
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ScenarioError
from ..spec.scenario import Scenario
from .criteria import Metric, parse_metric
from .executors import Executor
from .replication import replication_tasks
from .runs import as_scenario, execute, open_executor
from .selection import pair_sizes, subset_and_gaps, t_upper
from .stats import t_interval

__all__ = ["AlternativesResult", "compare_alternatives", "parse_best"]


@dataclass
class AlternativesResult:
    """Paired runs of ``k`` scenarios, each against the first.

    Attributes:
        labels: ``A``, ``B``, ``C``, ... in the order given.
        names: the scenarios' names.
        runs: one row per (arm, replication) with every KPI; ``arm`` is the label.
        summary: per (``scenario`` label, ``kpi``) for every scenario after the first:
            ``mean_a``, ``mean``, ``diff_mean`` (X - A), ``diff_std``, ``ci_low``,
            ``ci_high``, ``half_width`` (simultaneous over the ``k - 1``), ``n``.
        best: which scenario is best on the KPI asked for (None when not asked): ``kpi``,
            ``direction``, ``best`` (label), ``means``, ``gap`` (its established distance
            from the truly best, in the KPI's unit), ``could_be_best`` (labels),
            ``delta``, ``replications``, ``statement`` (plain words).
        crn, level: common random numbers; the joint confidence level.
        correction: the multiplicity correction, in words.
    """

    labels: list[str]
    names: list[str]
    runs: pd.DataFrame
    summary: pd.DataFrame
    best: dict[str, Any] | None = None
    crn: bool = True
    level: float = 0.95
    correction: str = ""
    sources: list[str | None] = field(default_factory=list)


def parse_best(best: str | tuple[str, str]) -> tuple[Metric, str]:
    """``"KPI"``, ``"KPI:min"``, ``"KPI:max"`` or ``(KPI, "min"|"max")`` -> (metric,
    direction)."""
    if isinstance(best, tuple):
        text, direction = best
    else:
        text, sep, direction = str(best).rpartition(":")
        if not sep:
            text, direction = direction, "min"
    if direction not in ("min", "max"):
        raise ScenarioError("the direction must be min or max", path="best", value=best)
    return parse_metric(text, (), "best"), direction


def _labels(k: int) -> list[str]:
    return [ascii_uppercase[i] if i < 26 else f"S{i + 1}" for i in range(k)]


def _run(
    scenarios: list[Scenario],
    labels: list[str],
    seed: int,
    start: int,
    stop: int,
    crn: bool,
    ex: Executor,
    quiet: bool,
) -> list[dict]:
    tasks = []
    for i, (lab, s) in enumerate(zip(labels, scenarios, strict=True)):
        offset = 0 if crn or i == 0 else 1_000_003 * i
        tasks += [((lab, t[0]), *t[1:]) for t in replication_tasks(s, seed, start, stop, offset)]
    rows = []
    desc = " vs ".join(s.name for s in scenarios[:3]) + (" ..." if len(scenarios) > 3 else "")
    for task, result, _err in execute(tasks, ex, desc, quiet):
        arm, r = task[0]
        rows.append({"arm": arm, "replication": r, "seed": task[4], **result["kpis"]})
    return rows


def compare_alternatives(
    scenarios: Sequence[Scenario | str | Path],
    n: int = 10,
    seed: int | None = None,
    *,
    best: str | tuple[str, str] | None = None,
    delta: float | None = None,
    max_replications: int = 200,
    crn: bool = True,
    level: float = 0.95,
    executor: str | Executor = "processes",
    workers: int | None = None,
    address: str | None = None,
    quiet: bool = False,
) -> AlternativesResult:
    """Run every scenario ``n`` times (replication ``r`` of each with the same seed) and
    compare each with the first; with ``best``, say which is best on that KPI.

    Args:
        scenarios: two or more Scenarios, files or shipped names; the first is the reference.
        n: replications (first stage when ``delta`` is given), >= 2.
        best: ``"KPI"`` (smaller is better), ``"KPI:max"`` (larger is better), or a ratio
            ``"KPI/KPI"``.
        delta: with ``best``: run more replications until the chosen one is within ``delta``
            (the KPI's unit) of the best (at most ``max_replications``).
        crn: common random numbers (False: independent seeds per scenario).
        level: joint confidence level of the intervals and of the ``best`` statement.
    """
    ss = [as_scenario(s) for s in scenarios]
    if len(ss) < 2:
        raise ScenarioError("needs at least two scenarios", path="scenarios", value=len(ss))
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ScenarioError("must be an integer >= 2 to compare many", path="n", value=n)
    if not 0 < level < 1:
        raise ScenarioError("must be in (0, 1)", path="level", value=level)
    metric, direction = parse_best(best) if best is not None else (None, "min")
    if delta is not None:
        if metric is None:
            raise ScenarioError("delta needs best (the KPI to select on)", path="delta")
        if isinstance(delta, bool) or not isinstance(delta, int | float) or not delta > 0:
            raise ScenarioError("must be a number > 0", path="delta", value=delta)
    seed = ss[0].spec.run.seed if seed is None else int(seed)
    labels = _labels(len(ss))
    with open_executor(executor, workers, address) as ex:
        rows = _run(ss, labels, seed, 0, n, crn, ex, quiet)
        total, keep, sizes = n, None, None
        if metric is not None and delta is not None:
            y0 = _matrix(rows, labels, metric, direction, n)
            if not np.isnan(y0).any():
                keep, sizes = _stage_one(y0, level, float(delta), max(n, max_replications))
                while True:  # the pairs of the provisional best decide how many more
                    y = _matrix(rows, labels, metric, direction, total)[:, keep]
                    b, _gaps, _subset = subset_and_gaps(
                        y, (1 - level) / 2, n, sizes, comparisons=len(ss) - 1
                    )
                    need = int(sizes[b].max())
                    if need <= total:
                        break
                    rows += _run(ss, labels, seed, total, need, crn, ex, quiet)
                    total = need
    runs = pd.DataFrame(rows).sort_values(["arm", "replication"], ignore_index=True)
    kpis = [c for c in runs.columns if c not in ("arm", "replication", "seed")]
    k = len(ss)
    each = 1 - (1 - level) / (k - 1)
    correction = (
        f"Bonferroni over {k - 1} comparisons with {labels[0]}: each interval at "
        f"{each:.4g}, jointly at least {level:g} per KPI"
    )
    summary = _summary(runs, labels, kpis, each)
    chosen = None
    if metric is not None:
        chosen = _best(runs, labels, metric, direction, level, n, total, delta, keep, sizes)
    return AlternativesResult(
        labels,
        [s.name for s in ss],
        runs,
        summary,
        chosen,
        crn,
        level,
        correction,
        [s.source for s in ss],
    )


def _stage_one(
    y0: np.ndarray, level: float, delta: float, n_max: int
) -> tuple[list[int], np.ndarray]:
    """The first stage of the two-stage procedure: the columns of ``y0`` that survive a
    screening at half the error (no other column established better), and the replications
    each pair of survivors needs (t at the other half, Bonferroni over ``k - 1``)."""
    n, k = y0.shape
    _b, _gaps, keep = subset_and_gaps(y0, (1 - level) / 2)
    t = t_upper((1 - level) / 2 / (k - 1), n - 1)
    sizes = pair_sizes(y0[:, keep], t, delta, n_max)
    return keep, sizes


def _matrix(rows: list[dict], labels: list[str], metric: Metric, direction: str, n: int):
    """Replications x scenarios of the metric (minimized form), first ``n`` replications."""
    sign = 1.0 if direction == "min" else -1.0
    y = np.full((n, len(labels)), math.nan)
    col = {lab: i for i, lab in enumerate(labels)}
    for r in rows:
        if r["replication"] < n:
            y[r["replication"], col[r["arm"]]] = sign * metric.value(r, {})
    return y


def _summary(runs: pd.DataFrame, labels: list[str], kpis: list[str], each: float) -> pd.DataFrame:
    first = runs[runs["arm"] == labels[0]].set_index("replication")
    out = []
    for lab in labels[1:]:
        other = runs[runs["arm"] == lab].set_index("replication")
        for kpi in kpis:
            diff = (other[kpi] - first[kpi]).to_numpy(dtype=float)
            mean, std, lo, hi = t_interval(diff, each)
            out.append(
                {
                    "scenario": lab,
                    "kpi": kpi,
                    "n": int(np.sum(~np.isnan(diff))),
                    "mean_a": float(first[kpi].mean()),
                    "mean": float(other[kpi].mean()),
                    "diff_mean": mean,
                    "diff_std": std,
                    "ci_low": lo,
                    "ci_high": hi,
                    "half_width": (hi - lo) / 2,
                }
            )
    return pd.DataFrame(out).set_index(["scenario", "kpi"])


def _best(
    runs: pd.DataFrame,
    labels: list[str],
    metric: Metric,
    direction: str,
    level: float,
    n: int,
    total: int,
    delta: float | None,
    keep: list[int] | None,
    sizes: np.ndarray | None,
) -> dict[str, Any]:
    y = _matrix(runs.to_dict("records"), labels, metric, direction, total)
    sign = 1.0 if direction == "min" else -1.0
    means = {lab: float(sign * np.nanmean(y[:, i])) for i, lab in enumerate(labels)}
    better = "smaller" if direction == "min" else "larger"
    pct = f"{level:.0%}"
    out: dict[str, Any] = {
        "kpi": metric.text,
        "direction": direction,
        "means": means,
        "delta": delta,
        "replications": total,
        "level": level,
    }
    if np.isnan(y).any():
        out.update(best=None, gap=None, could_be_best=list(labels))
        out["statement"] = (
            f"{metric.text} is undefined (NaN) in some runs, so no scenario can be named best."
        )
        return out
    if keep is None:  # one stage: every pair at the same replications
        b, gaps, subset = subset_and_gaps(y, 1 - level)
    else:  # the survivors of the first stage's screening, at their pairs' replications
        b, gaps, subset = subset_and_gaps(
            y[:, keep], (1 - level) / 2, n, sizes, comparisons=len(labels) - 1
        )
        b, subset = keep[b], [keep[i] for i in subset]
    gap = max(0.0, float(np.nanmax(gaps))) if not np.isnan(gaps).any() else math.inf
    could = [labels[i] for i in subset]
    out.update(best=labels[b], gap=gap, could_be_best=could)
    words = f"{labels[b]} has the best mean {metric.text} ({better} is better). "
    if gap > 0:
        words += (
            f"With probability at least {pct}, its true mean is within {gap:.4g} of the "
            "truly best scenario's"
        )
    else:
        words += f"With probability at least {pct}, no other scenario is truly better"
    if delta is not None and gap <= delta:
        words += f" (within delta = {delta:g}, after {total} replications)"
    elif delta is not None:
        words += f" (delta = {delta:g} not reached: the replication cap allowed {total})"
    words += "; " + (
        f"{labels[b]} is the only one that can be the best."
        if len(could) == 1
        else f"these could be the best: {', '.join(could)}."
    )
    out["statement"] = words
    return out
