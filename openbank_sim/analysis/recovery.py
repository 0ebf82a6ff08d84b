"""A storm over time, and when it ended: one row per time bin of a run, and the recovery time
after a trigger.

:func:`storm_timeline` sums a run's ``timeseries`` (every partner and product) and
``timeseries_wait`` (every pool) per time bin: attempts, first attempts of logical calls, their
ratio (the retry amplification), the success rate of the attempts, the mean backend wait, and
what the clients' levers did. :func:`recovery_time_s` reads it: the time from a trigger's end
(a surge, an outage) until the success rate is back at a level and stays there to the horizon.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .levers import LEVER_COLUMNS
from .results import Results

__all__ = ["TIMELINE_COLUMNS", "recovery_time_s", "storm_timeline"]

TIMELINE_COLUMNS = (
    "t_start_s",
    "time",
    "attempts",
    "first_attempts",
    "calls_ok",
    "retry_amplification",
    "success_rate",
    "backend_wait_mean_s",
    *LEVER_COLUMNS,
)
"""The columns of :func:`storm_timeline`, in order."""


def storm_timeline(results: Results) -> pd.DataFrame:
    """One row per time bin of the call-KPI window (see :data:`TIMELINE_COLUMNS`).

    ``retry_amplification`` is attempts / first attempts (NaN in a bin without first
    attempts), ``success_rate`` ok / attempts (NaN without attempts), ``backend_wait_mean_s``
    the queue wait of the attempts admitted to any pool in the bin (s), and the lever columns
    are 0 for a scenario whose clients have no lever. Every bin of ``[warmup, horizon)`` has a
    row (an empty one has zero counts); ``attrs["time_bin_s"]`` is the bin width (s).
    """
    ts = results.tables["timeseries"]
    wait = results.tables["timeseries_wait"]
    cols = ["calls_total", "first_attempts", "calls_ok"]
    cols += [c for c in LEVER_COLUMNS if c in ts.columns]
    manifest = results.manifest
    bin_s = float(manifest["time_bin_s"])
    first_bin = math.floor(float(manifest["warmup_s"]) / bin_s)
    last_bin = math.ceil(float(manifest["horizon_s"]) / bin_s)
    index = pd.Index(np.arange(first_bin, last_bin) * bin_s, name="t_start_s")
    by_bin = ts.groupby("t_start_s", sort=True)[cols].sum().reindex(index, fill_value=0)
    out = pd.DataFrame(index=index)
    out["attempts"] = by_bin["calls_total"].astype(np.int64)
    out["first_attempts"] = by_bin["first_attempts"].astype(np.int64)
    out["calls_ok"] = by_bin["calls_ok"].astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["retry_amplification"] = np.where(
            out["first_attempts"] > 0, out["attempts"] / out["first_attempts"], np.nan
        )
        out["success_rate"] = np.where(
            out["attempts"] > 0, out["calls_ok"] / out["attempts"], np.nan
        )
    w = wait.groupby("t_start_s", sort=True)[["admitted", "wait_sum_s"]].sum()
    w = w.reindex(out.index)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["backend_wait_mean_s"] = np.where(
            w["admitted"] > 0, w["wait_sum_s"] / w["admitted"], np.nan
        )
    for c in LEVER_COLUMNS:
        out[c] = by_bin[c].astype(np.int64) if c in by_bin.columns else 0
    out = out.reset_index()
    out["time"] = pd.Timestamp(manifest["start"]) + pd.to_timedelta(out["t_start_s"], unit="s")
    out = out[list(TIMELINE_COLUMNS)]
    out.attrs["time_bin_s"] = bin_s
    return out


def recovery_time_s(
    timeline: pd.DataFrame, after_s: float, success_at_least: float = 0.95
) -> float:
    """Seconds from ``after_s`` (a trigger's end, s from the run's start) until the success
    rate is at least ``success_at_least`` in every time bin from then to the end of the
    timeline: the end of the last bin starting at or after ``after_s`` that fell short, minus
    ``after_s`` (0.0 when none fell short; ``inf`` when the last bin still falls short).

    A bin without attempts counts as recovered (nothing failed in it).
    """
    if not 0.0 < success_at_least <= 1.0:
        raise ValueError(f"success_at_least must be a share in (0, 1], not {success_at_least}")
    t = timeline["t_start_s"].to_numpy(dtype=float)
    if t.size == 0:
        raise ValueError("the timeline is empty: no time bin in the call-KPI window")
    if after_s > t[-1]:
        raise ValueError(
            f"after_s = {after_s:g} s is past the timeline's last bin (it starts at {t[-1]:g} s)"
        )
    bin_s = float(timeline.attrs.get("time_bin_s", np.min(np.diff(t)) if t.size > 1 else 0.0))
    success = timeline["success_rate"].to_numpy(dtype=float)
    short = (t >= after_s) & (success < success_at_least)  # NaN compares False: recovered
    if not short.any():
        return 0.0
    last = int(np.flatnonzero(short)[-1])
    if last == t.size - 1:
        return math.inf
    return float(t[last] + bin_s - after_s)
