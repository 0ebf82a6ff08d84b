"""Confidence intervals for steady-state means from one long run: non-overlapping batch means.

The time bins of ``[warmup, horizon)`` are cut into ``k`` contiguous batches (default
:data:`DEFAULT_BATCHES` = 20; ``numpy.array_split``, so batch sizes differ by at most one bin).
Each supported KPI is a ratio of two sums over bins, ``R = sum N / sum D`` (a queue wait summed
over attempts admitted, ``ok`` attempts over all attempts, ...), and ``R`` over all bins is the
KPI itself. With ``N_j, D_j`` the batch sums and ``e_j = N_j - R D_j`` (the ratio estimator's
residuals; for equal ``D_j`` this is the classical batch-means interval), the interval is

    R +- t_{k-1, (1 + level) / 2} * sqrt(sum e_j^2 / (k (k - 1))) / mean(D_j)

The interval of a share (``success_rate``) is clipped to ``[0, 1]``. It assumes the batch
means are close to independent and normal: batches much longer than the run's correlation
time, after a warm-up that removed the start-up transient. The check is the
lag-1 autocorrelation ``r1`` of the residuals: ``r1 > 1.645 / sqrt(k)`` (a one-sided 5 % test of
zero correlation) flags the interval (``uncorrelated = False``) and raises a
:class:`BatchCorrelationWarning`: the batches are too short, and the interval is too narrow;
run longer (or lengthen the warm-up).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from .kpis import SHARES

if TYPE_CHECKING:
    from .results import Results

__all__ = [
    "DEFAULT_BATCHES",
    "INTERVAL_KPIS",
    "BatchCorrelationWarning",
    "BatchMeansInterval",
    "batch_means",
    "interval_of",
]

DEFAULT_BATCHES = 20
"""Batches of a batch-means interval unless asked otherwise."""
INTERVAL_KPIS: dict[str, str] = {
    "backend_wait_mean_s": "queue wait summed / attempts admitted (timeseries_wait)",
    "latency_mean_s": "latency of ok attempts summed / ok attempts (timeseries_latency)",
    "success_rate": "ok attempts / attempts (timeseries)",
    "throughput_ok_per_s": "ok attempts / seconds measured (timeseries)",
}
"""The KPIs with a batch-means interval: steady-state means resolvable by time bin."""


class BatchCorrelationWarning(UserWarning):
    """Batch means of an interval are correlated: the interval is too narrow."""


@dataclass(frozen=True)
class BatchMeansInterval:
    """A confidence interval of a steady-state mean from one run.

    Attributes:
        kpi: the KPI (its unit).
        estimate: the KPI over ``[warmup, horizon)`` (the ratio of the sums over all bins).
        low, high: the interval's ends (the KPI's unit).
        level: its confidence level, e.g. 0.95.
        batches: batches it was computed from; bins: time bins they cover.
        lag1_autocorrelation: lag-1 autocorrelation of the batch residuals.
        uncorrelated: whether ``lag1_autocorrelation <= 1.645 / sqrt(batches)``.
        method: ``"batch means"``.
    """

    kpi: str
    estimate: float
    low: float
    high: float
    level: float
    batches: int
    bins: int
    lag1_autocorrelation: float
    uncorrelated: bool
    method: str = "batch means"

    @property
    def half_width(self) -> float:
        """Half the interval's width (the KPI's unit)."""
        return (self.high - self.low) / 2.0

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


def batch_means(
    numerator: np.ndarray,
    denominator: np.ndarray,
    *,
    kpi: str = "",
    level: float = 0.95,
    batches: int = DEFAULT_BATCHES,
) -> BatchMeansInterval:
    """The batch-means interval of ``sum numerator / sum denominator`` (one value per time
    bin, in time order; see the module docstring)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if batches < 2:
        raise ValueError(f"batches must be at least 2, got {batches!r}")
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    if num.size < batches:
        raise ValueError(
            f"{kpi or 'the KPI'}: {num.size} time bins after the warm-up, fewer than the "
            f"{batches} batches: shorten run.time_bin, lengthen run.horizon or ask for fewer "
            "batches"
        )
    n_j = np.array([part.sum() for part in np.array_split(num, batches)])
    d_j = np.array([part.sum() for part in np.array_split(den, batches)])
    total = float(d_j.sum())
    if total <= 0.0:
        nan = math.nan
        return BatchMeansInterval(kpi, nan, nan, nan, level, batches, num.size, nan, False)
    ratio = float(n_j.sum()) / total
    e = n_j - ratio * d_j
    se = math.sqrt(float(np.sum(e * e)) / (batches * (batches - 1))) / (total / batches)
    half = float(stats.t.ppf(0.5 + level / 2.0, batches - 1)) * se
    centred = e - e.mean()
    denom = float(np.sum(centred * centred))
    r1 = float(np.sum(centred[:-1] * centred[1:]) / denom) if denom > 0 else 0.0
    ok = r1 <= 1.645 / math.sqrt(batches)
    return BatchMeansInterval(
        kpi, ratio, ratio - half, ratio + half, level, batches, num.size, r1, ok
    )


def _bins(results: Results) -> tuple[int, int, float, float, float]:
    """``(first bin, bins, bin width, warm-up, horizon)`` of the run's ``[warmup, horizon)``."""
    m = results.manifest
    bin_s, warmup_s, horizon_s = float(m["time_bin_s"]), float(m["warmup_s"]), float(m["horizon_s"])
    first = math.floor(warmup_s / bin_s)
    return first, math.ceil(horizon_s / bin_s) - first, bin_s, warmup_s, horizon_s


def _by_bin(bins: np.ndarray, values: np.ndarray, first: int, n: int) -> np.ndarray:
    out = np.zeros(n)
    keep = (bins >= first) & (bins < first + n)
    np.add.at(out, bins[keep] - first, values[keep])
    return out


def bin_sums(results: Results, kpi: str) -> tuple[np.ndarray, np.ndarray]:
    """The per-bin numerator and denominator of ``kpi`` over ``[warmup, horizon)``."""
    first, n, bin_s, warmup_s, horizon_s = _bins(results)
    tables = results.tables
    if kpi == "backend_wait_mean_s":
        if "timeseries_wait" not in tables:
            raise ValueError("this run has no timeseries_wait table (saved by an older version)")
        w = tables["timeseries_wait"]
        b = w["bin"].to_numpy(dtype=np.int64)
        return (
            _by_bin(b, w["wait_sum_s"].to_numpy(dtype=float), first, n),
            _by_bin(b, w["admitted"].to_numpy(dtype=float), first, n),
        )
    if kpi == "latency_mean_s":
        lt = tables["timeseries_latency"]
        b = lt["bin"].to_numpy(dtype=np.int64)
        count = lt["calls_ok"].to_numpy(dtype=float)
        sums = np.nan_to_num(lt["latency_mean_s"].to_numpy(dtype=float)) * count
        return _by_bin(b, sums, first, n), _by_bin(b, count, first, n)
    ts = tables["timeseries"]
    b = ts["bin"].to_numpy(dtype=np.int64)
    ok = _by_bin(b, ts["calls_ok"].to_numpy(dtype=float), first, n)
    if kpi == "success_rate":
        return ok, _by_bin(b, ts["calls_total"].to_numpy(dtype=float), first, n)
    starts = (first + np.arange(n)) * bin_s
    seconds = np.minimum(starts + bin_s, horizon_s) - np.maximum(starts, warmup_s)
    return ok, seconds


def interval_of(
    results: Results, kpi: str, level: float = 0.95, batches: int = DEFAULT_BATCHES
) -> BatchMeansInterval:
    """The batch-means interval of ``kpi`` over the run's ``[warmup, horizon)``
    (:meth:`Results.interval <openbank_sim.analysis.results.Results.interval>`)."""
    if kpi not in INTERVAL_KPIS:
        raise ValueError(
            f"no single-run interval for {kpi!r}: batch means cover the steady-state means "
            f"resolvable by time bin: {', '.join(INTERVAL_KPIS)} (for any KPI, replicate)"
        )
    if results.manifest.get("windows_s") is not None:
        raise ValueError(
            "no single-run interval for windowed traffic: its hours between windows are booked "
            "expected values, not one run's time series (replicate instead)"
        )
    num, den = bin_sums(results, kpi)
    out = batch_means(num, den, kpi=kpi, level=level, batches=batches)
    if kpi in SHARES and math.isfinite(out.low):  # a share's interval stays in [0, 1]
        out = dataclasses.replace(out, low=max(0.0, out.low), high=min(1.0, out.high))
    if not out.uncorrelated and math.isfinite(out.lag1_autocorrelation):
        warnings.warn(
            f"{kpi}: the {batches} batch means are correlated (lag-1 autocorrelation "
            f"{out.lag1_autocorrelation:.2f} > {1.645 / math.sqrt(batches):.2f}): the batches are "
            "too short for the run's correlation time and the interval is too narrow; run longer",
            BatchCorrelationWarning,
            stacklevel=3,
        )
    return out
