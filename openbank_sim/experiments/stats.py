"""Statistics over runs: Student-t intervals of a mean, per-KPI summaries of replications, and
how many more replications a target interval needs.

Units are those of the KPI summarised (seconds for ``latency_*_s``, the scenario's currency for
money, shares for rates); counts are numbers of replications.

Summaries (:func:`kpi_interval`, used by :func:`summarise` and sweep summaries) keep each
interval inside what the KPI can be:

* **Shares** (:data:`SHARES`: success rate, conversion, availability) are clipped to
  ``[0, 1]``; where the runs carry the share's counts, the interval is widened to cover the
  Wilson score interval of the counts pooled over the replications too, so that replications
  that all show 100 % still get the binomial uncertainty of what they counted.
* **Quantiles read from the latency histogram** (:data:`HISTOGRAM_QUANTILES`) are known only to
  the histogram's relative resolution (``DEFAULT_ALPHA``, 0.5 %): an interval is never narrower
  than that around the mean (replications landing in the same bin would otherwise give a
  zero-width interval).
* Counts, money and other means keep the Student-t interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..analysis.kpis import SHARES

__all__ = [
    "HISTOGRAM_QUANTILES",
    "SHARES",
    "interval_method",
    "kpi_interval",
    "more_needed",
    "summarise",
    "t_interval",
    "target_half_width",
    "target_verdict",
    "wilson_interval",
]

HISTOGRAM_QUANTILES = ("latency_p50_s", "latency_p95_s", "latency_p99_s", "client_latency_p95_s")
"""KPIs read from a latency histogram, known to its relative resolution only."""

HISTOGRAM_RESOLUTION = 0.005
"""The latency histogram's relative accuracy (:data:`openbank_sim.histogram.DEFAULT_ALPHA`)."""


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


def wilson_interval(successes: float, trials: float, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a binomial share ``successes / trials`` (NaN, NaN when there
    are no trials). Counts may be fractional (booked traffic is an expected value)."""
    if not trials > 0:
        return math.nan, math.nan
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = min(1.0, max(0.0, successes / trials))
    denom = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    lo = 0.0 if p == 0.0 else max(0.0, centre - half)  # the ends are exact at 0 and 1
    hi = 1.0 if p == 1.0 else min(1.0, centre + half)
    return lo, hi


def interval_method(kpi: str, columns: Sequence[str] = ()) -> str:
    """How :func:`kpi_interval` builds ``kpi``'s interval, in words (for tables and reports)."""
    if kpi in SHARES:
        counts = SHARES[kpi]
        if counts is not None and all(c in columns for c in counts):
            return "Student t over replications widened to the pooled Wilson interval, in [0, 1]"
        return "Student t over replications, clipped to [0, 1]"
    if kpi in HISTOGRAM_QUANTILES:
        return f"Student t over replications, at least +-{HISTOGRAM_RESOLUTION:.1%} (bin width)"
    return "Student t over replications"


def kpi_interval(
    runs: pd.DataFrame, kpi: str, level: float = 0.95
) -> tuple[float, float, float, float]:
    """``(mean, std, low, high)`` of ``kpi`` over ``runs`` (one row per replication), the
    Student-t interval kept inside what the KPI can be (see the module notes)."""
    mean, std, lo, hi = t_interval(runs[kpi].to_numpy(dtype=float), level)
    if math.isnan(mean):
        return mean, std, lo, hi
    if kpi in SHARES:
        counts = SHARES[kpi]
        if counts is not None and all(c in runs.columns for c in counts):
            ok = runs[list(counts)].dropna()
            w_lo, w_hi = wilson_interval(float(ok[counts[0]].sum()), float(ok[counts[1]].sum()))
            if not math.isnan(w_lo):
                lo = w_lo if math.isnan(lo) else min(lo, w_lo)
                hi = w_hi if math.isnan(hi) else max(hi, w_hi)
        if not math.isnan(lo):
            lo, hi = max(0.0, lo), min(1.0, hi)
    elif kpi in HISTOGRAM_QUANTILES and not math.isnan(lo):
        lo = min(lo, mean * (1 - HISTOGRAM_RESOLUTION))
        hi = max(hi, mean * (1 + HISTOGRAM_RESOLUTION))
    return mean, std, lo, hi


def summarise(runs: pd.DataFrame, kpis: Sequence[str], level: float) -> pd.DataFrame:
    """Per KPI of ``runs`` (one row per replication): ``n``, ``mean``, ``std``, ``ci_low``,
    ``ci_high`` and ``half_width`` (half the interval's length) at ``level``, indexed by
    ``kpi``; the intervals are :func:`kpi_interval`'s, ``method`` says how each was built."""
    rows = []
    for k in kpis:
        mean, std, lo, hi = kpi_interval(runs, k, level)
        rows.append(
            {
                "kpi": k,
                "n": int(runs[k].notna().sum()),
                "mean": mean,
                "std": std,
                "ci_low": lo,
                "ci_high": hi,
                "half_width": (hi - lo) / 2,
                "method": interval_method(k, list(runs.columns)),
            }
        )
    return pd.DataFrame(rows).set_index("kpi")


def target_half_width(target: Mapping[str, Any], mean: float) -> float:
    """The half-width ``target`` asks of a KPI whose mean is ``mean``: ``h``, or ``h x |mean|``
    when relative (``target`` is ``{"kpi": name, "half_width": h, "relative": bool}``)."""
    return float(target["half_width"]) * (abs(mean) if target.get("relative") else 1.0)


def target_verdict(runs: pd.DataFrame, target: Mapping[str, Any], level: float) -> str:
    """Where the target stands on ``runs``: ``"met"`` (the KPI's :func:`kpi_interval` is that
    narrow), ``"below resolution"`` (a histogram quantile asked finer than the histogram's bin
    width: no number of replications meets it) or ``"not met"``."""
    mean, _std, lo, hi = kpi_interval(runs, target["kpi"], level)
    goal = target_half_width(target, mean)
    if not math.isnan(hi) and (hi - lo) / 2 <= goal:
        return "met"
    if target["kpi"] in HISTOGRAM_QUANTILES and goal < abs(mean) * HISTOGRAM_RESOLUTION:
        return "below resolution"
    return "not met"


def more_needed(
    rows: list[dict], target: Mapping[str, Any], level: float, max_replications: int
) -> int:
    """How many more replications the target interval needs (0 when met, capped, or below the
    histogram's resolution; see :func:`target_verdict`, which judges the same interval the
    summaries report)."""
    runs = pd.DataFrame(rows)
    have = len(runs)
    if target_verdict(runs, target, level) != "not met" or have >= max_replications:
        return 0
    # the smallest n whose interval would be narrow enough at the current spread: the normal
    # quantile, not the t quantile of the few runs so far (that one overshoots); then a batch
    # of at least 2, and the loop checks again
    mean, std, _lo, _hi = t_interval(runs[target["kpi"]].to_numpy(dtype=float), level)
    goal = target_half_width(target, mean)
    if goal > 0 and math.isfinite(std):
        z = float(stats.norm.ppf(0.5 + level / 2))
        need = math.ceil((z * std / goal) ** 2)
    else:
        need = 2 * have
    return int(min(max_replications, max(have + 2, need))) - have
