"""Statistics over runs: Student-t intervals of a mean, per-KPI summaries of replications, and
how many more replications a target interval needs.

Units are those of the KPI summarised (seconds for ``latency_*_s``, the scenario's currency for
money, shares for rates); counts are numbers of replications.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["more_needed", "summarise", "t_interval"]


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float, float]:
    """``(mean, std, low, high)``: Student-t interval of the mean of ``values`` (NaNs dropped)."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan
    mean = float(x.mean())
    if n == 1:
        return mean, math.nan, math.nan, math.nan
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * std / math.sqrt(n)
    return mean, std, mean - half, mean + half


def summarise(runs: pd.DataFrame, kpis: Sequence[str], level: float) -> pd.DataFrame:
    """Per KPI of ``runs`` (one row per replication): ``n``, ``mean``, ``std``, ``ci_low``,
    ``ci_high`` and ``half_width`` of the t-interval at ``level``, indexed by ``kpi``."""
    rows = []
    for k in kpis:
        mean, std, lo, hi = t_interval(runs[k].to_numpy(dtype=float), level)
        rows.append(
            {
                "kpi": k,
                "n": int(runs[k].notna().sum()),
                "mean": mean,
                "std": std,
                "ci_low": lo,
                "ci_high": hi,
                "half_width": (hi - lo) / 2,
            }
        )
    return pd.DataFrame(rows).set_index("kpi")


def more_needed(
    rows: list[dict], target: Mapping[str, Any], level: float, max_replications: int
) -> int:
    """How many more replications the target interval needs (0 when met or capped).

    ``target`` is ``{"kpi": name, "half_width": h, "relative": bool}``: the interval's
    half-width must be at most ``h`` (in the KPI's unit), or ``h x |mean|`` when relative.
    """
    runs = pd.DataFrame(rows)
    mean, std, lo, hi = t_interval(runs[target["kpi"]].to_numpy(dtype=float), level)
    goal = float(target["half_width"]) * (abs(mean) if target.get("relative") else 1.0)
    have = len(runs)
    if (not math.isnan(hi) and (hi - lo) / 2 <= goal) or have >= max_replications:
        return 0
    # the smallest n whose interval would be narrow enough at the current spread: the normal
    # quantile, not the t quantile of the few runs so far (that one overshoots); then a batch
    # of at least 2, and the loop checks again with the t interval
    if goal > 0 and math.isfinite(std):
        z = float(stats.norm.ppf(0.5 + level / 2))
        need = math.ceil((z * std / goal) ** 2)
    else:
        need = 2 * have
    return int(min(max_replications, max(have + 2, need))) - have
