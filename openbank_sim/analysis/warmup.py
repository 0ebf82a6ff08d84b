"""Automatic warm-up (``run.warmup = "auto"``): MSER-5 on the per-bin series of a run.

**MSER-5** (White, 1997). The series ``x_1..x_n`` (one value per time bin) is cut into
``k = n // 5`` batches of 5 consecutive values (the last ``n mod 5`` values are left out); with
``z_1..z_k`` the batch means and ``d`` the batches dropped, the statistic is

    MSER(d) = sum_{j > d} (z_j - mean(z_{d+1..k}))^2 / (k - d)^2

(the squared standard error of the truncated mean, up to a constant): dropping the transient
lowers it, dropping steady-state data raises it. The truncation is the ``d`` in ``0..k // 2``
(the first half) that minimises it, so ``5 d`` bins are dropped.

**Too short.** When the minimum over every ``d`` that keeps at least :data:`TAIL_BATCHES`
batches lies after the first half, the transient has not been seen to end inside the first half
of the run: the first half's minimum is used and the run warns. So does a series of fewer than
:data:`MIN_BATCHES` batches (shorten ``run.time_bin`` or lengthen ``run.horizon``).

**The series** (:func:`warmup_series`): the mean backend queue wait per time bin of arrival,
over every pool (bins where no attempt was admitted are left out); where no admitted attempt
ever waited (no queue), the mean latency of ``ok`` attempts per bin instead. MSER assumes the
series becomes stationary after the transient: a load that keeps changing (a daily profile,
a peak) never does, and the truncation then means nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model.record import RunRecord
from ..spec.units import format_duration

__all__ = [
    "MIN_BATCHES",
    "MSER_BATCH",
    "TAIL_BATCHES",
    "Mser",
    "WarmupChoice",
    "choose_warmup",
    "mser",
    "warmup_series",
]

MSER_BATCH = 5
"""Values per batch of MSER-5."""
MIN_BATCHES = 10
"""Fewer batches than this and the run warns that the series is too short for MSER-5."""
TAIL_BATCHES = 10
"""The too-short check looks at every truncation that keeps at least this many batches."""


@dataclass(frozen=True)
class Mser:
    """MSER-5 on one series.

    Attributes:
        truncation: values to drop from the start (a multiple of the batch size).
        batches: batches of the series (``len(series) // batch``).
        statistic: ``MSER(d)`` for ``d = 0 .. batches // 2`` (the candidates).
        settled: whether the minimum over every ``d`` keeping at least :data:`TAIL_BATCHES`
            batches lies in the first half (False: the run is too short), and there are at
            least :data:`MIN_BATCHES` batches.
    """

    truncation: int
    batches: int
    statistic: np.ndarray
    settled: bool


def mser(series: np.ndarray | list[float], batch: int = MSER_BATCH) -> Mser:
    """MSER-``batch`` truncation of ``series`` (see the module docstring)."""
    x = np.asarray(series, dtype=np.float64)
    k = x.size // batch
    if k < 2:
        return Mser(0, k, np.zeros(0), False)
    z = x[: k * batch].reshape(k, batch).mean(axis=1)
    # tail sums from each d: S1(d) = sum z[d:], S2(d) = sum z[d:]^2
    s1 = np.cumsum(z[::-1])[::-1]
    s2 = np.cumsum((z * z)[::-1])[::-1]
    m = np.arange(k, 0, -1, dtype=np.float64)  # k - d
    ss = np.maximum(s2 - s1 * s1 / m, 0.0)
    stat = ss / (m * m)
    half = k // 2
    d = int(np.argmin(stat[: half + 1]))
    last = max(half, k - TAIL_BATCHES)  # the widest range that keeps TAIL_BATCHES batches
    settled = int(np.argmin(stat[: last + 1])) <= half and k >= MIN_BATCHES
    return Mser(d * batch, k, stat[: half + 1], settled)


def warmup_series(record: RunRecord) -> tuple[np.ndarray, np.ndarray, str]:
    """The per-bin series MSER-5 runs on: ``(bins, values, name)``.

    ``name`` is ``"backend_wait_mean_s"`` (the mean queue wait of the attempts admitted in the
    bin, over every pool) or, where no admitted attempt waited, ``"latency_mean_s"`` (the mean
    latency of ``ok`` attempts in the bin). Bins without an observation are left out.
    """
    w = record.calls.wait_by_bin
    num: np.ndarray
    den: np.ndarray
    if w.wait_sum_s.size and float(w.wait_sum_s.sum()) > 0.0:
        n_bins = int(w.bin.max()) + 1
        admitted = np.bincount(w.bin, weights=w.admitted, minlength=n_bins)
        waits = np.bincount(w.bin, weights=w.wait_sum_s, minlength=n_bins)
        name = "backend_wait_mean_s"
        num, den = waits.astype(np.float64), admitted.astype(np.float64)
    else:
        lb = record.calls.latency_by_bin
        n_bins = int(lb.bin.max()) + 1 if lb.bin.size else 0
        num = np.zeros(n_bins)
        den = np.zeros(n_bins)
        for b, h in zip(lb.bin.tolist(), lb.histograms, strict=True):
            num[b] += h.sum
            den[b] += h.count
        name = "latency_mean_s"
    bins = np.flatnonzero(den > 0)
    return bins, num[bins] / den[bins], name


@dataclass(frozen=True)
class WarmupChoice:
    """The warm-up MSER-5 chose for a run.

    Attributes:
        warmup_s: the truncation (seconds from t = 0; a time-bin boundary).
        series: the series it was chosen on (``"backend_wait_mean_s"`` or
            ``"latency_mean_s"``; ``"none"`` when the run had no observation).
        bins: time bins in the series; batches: its batches of :data:`MSER_BATCH`.
        settled: False when MSER-5 found no truncation point in the first half of the run.
    """

    warmup_s: float
    series: str
    bins: int
    batches: int
    settled: bool

    def warnings(self) -> list[str]:
        """Plain-words warnings (empty when the choice is settled)."""
        if self.settled:
            return []
        if self.batches < MIN_BATCHES:
            why = (
                f"the {self.series} series has only {self.bins} time bins ({self.batches} "
                f"batches of {MSER_BATCH}; it needs at least {MIN_BATCHES * MSER_BATCH}): "
                "shorten run.time_bin or lengthen run.horizon"
            )
        else:
            why = (
                f"MSER-5 found no truncation point in the first half of the run (series "
                f"{self.series}, {self.bins} time bins): the transient has not been seen to end, "
                "so the run is too short, or the load never becomes stationary"
            )
        return [
            f'run.warmup = "auto" used a warm-up of {format_duration(self.warmup_s)}, but {why}; the KPIs '
            "still carry the start-up transient: lengthen run.horizon or give a fixed warm-up"
        ]

    def as_dict(self) -> dict[str, object]:
        """The choice as JSON-ready values (for the manifest)."""
        return {
            "method": "MSER-5",
            "warmup_s": self.warmup_s,
            "series": self.series,
            "bins": self.bins,
            "batches": self.batches,
            "settled": self.settled,
        }


def choose_warmup(record: RunRecord) -> WarmupChoice:
    """MSER-5's warm-up for a run recorded from t = 0 (``record.spec.run.warmup_s == 0``)."""
    bins, values, name = warmup_series(record)
    if values.size == 0:
        return WarmupChoice(0.0, "none", 0, 0, False)
    result = mser(values)
    first = int(bins[result.truncation]) if result.truncation else 0
    bin_s = record.calls.wait_by_bin.bin_s
    return WarmupChoice(first * bin_s, name, int(values.size), result.batches, result.settled)
