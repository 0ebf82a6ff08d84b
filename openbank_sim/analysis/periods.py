"""Call KPIs of the attempts arriving in given periods of one run, from its time-binned record.

A period ``[edges_s[i], edges_s[i+1])`` must be made of whole time bins of the record (its
ends multiples of ``run.time_bin``); each KPI is then a ratio of sums over those bins, as the
run's own KPIs are over ``[warmup, horizon)``:

* ``success_rate``: ``ok`` attempts / attempts;
* ``retry_amplification``: attempts / first attempts of logical calls (1 without retries);
* ``backend_wait_mean_s``: backend queue wait summed / attempts admitted, every pool together;
* ``throughput_ok_per_s``: ``ok`` attempts / the period's length in seconds.

A ratio with nothing to divide by is NaN. Periods before the warm-up's end or after the horizon
hold nothing (the record counts only arrivals in ``[warmup, horizon)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from ..model.record import RunRecord
from ..outcomes import Outcome

__all__ = ["PERIOD_KPIS", "PeriodCounts", "period_counts"]

PERIOD_KPIS: tuple[str, ...] = (
    "success_rate",
    "retry_amplification",
    "backend_wait_mean_s",
    "throughput_ok_per_s",
)
"""The KPIs :meth:`PeriodCounts.kpis` gives, in that order."""


@dataclass(frozen=True)
class PeriodCounts:
    """Sums per period (arrays of one value per period, in period order).

    Attributes:
        length_s: the period's length (seconds).
        attempts, ok, first_attempts: attempts, ``ok`` attempts and first attempts of logical
            calls arriving in it.
        admitted, wait_sum_s: attempts admitted to a backend pool and their queue waits summed
            (seconds).
    """

    length_s: np.ndarray
    attempts: np.ndarray
    ok: np.ndarray
    first_attempts: np.ndarray
    admitted: np.ndarray
    wait_sum_s: np.ndarray

    def kpis(self) -> dict[str, np.ndarray]:
        """Each of :data:`PERIOD_KPIS` per period (see the module docstring)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return {
                "success_rate": _ratio(self.ok, self.attempts),
                "retry_amplification": _ratio(self.attempts, self.first_attempts),
                "backend_wait_mean_s": _ratio(self.wait_sum_s, self.admitted),
                "throughput_ok_per_s": self.ok / self.length_s,
            }


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), math.nan)


def _sum_by_period(
    bins: np.ndarray, values: np.ndarray, period_of_bin: np.ndarray, n: int
) -> np.ndarray:
    """``values`` (one per cell of bin ``bins``) summed into ``n`` periods (other bins:
    dropped)."""
    out = np.zeros(n)
    inside = (bins >= 0) & (bins < period_of_bin.size)
    p = period_of_bin[bins[inside]]
    keep = p >= 0
    np.add.at(out, p[keep], np.asarray(values, dtype=np.float64)[inside][keep])
    return out


def period_counts(record: RunRecord, edges_s: np.ndarray) -> PeriodCounts:
    """The sums of :class:`PeriodCounts` over the periods between consecutive ``edges_s``.

    Args:
        record: a run's record (full traffic: windowed traffic books most hours).
        edges_s: increasing period edges (seconds), each a multiple of the record's time bin.

    Raises:
        ValueError: windowed traffic, edges not increasing, or not on time-bin boundaries.
    """
    if record.windows is not None:
        raise ValueError("period KPIs need full traffic: windowed traffic books most hours")
    edges = np.asarray(edges_s, dtype=np.float64)
    bin_s = float(record.spec.run.time_bin_s)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("edges_s must be at least two increasing times")
    bin_edges = edges / bin_s
    if np.any(bin_edges != np.round(bin_edges)) or edges[0] < 0:
        raise ValueError(f"period edges must be multiples of the time bin ({bin_s:g} s) from 0")
    first = bin_edges.astype(np.int64)
    period_of_bin = np.full(int(first[-1]), -1, dtype=np.int64)
    for i, (a, b) in enumerate(pairwise(first.tolist())):
        period_of_bin[a:b] = i
    calls = record.calls
    c, f, w = calls.counts, calls.first_attempts, calls.wait_by_bin
    ok = c.outcome == int(Outcome.OK)
    n = edges.size - 1
    return PeriodCounts(
        length_s=np.diff(edges),
        attempts=_sum_by_period(c.bin, c.count, period_of_bin, n),
        ok=_sum_by_period(c.bin[ok], c.count[ok], period_of_bin, n),
        first_attempts=_sum_by_period(f.bin, f.count, period_of_bin, n),
        admitted=_sum_by_period(w.bin, w.admitted, period_of_bin, n),
        wait_sum_s=_sum_by_period(w.bin, w.wait_sum_s, period_of_bin, n),
    )
