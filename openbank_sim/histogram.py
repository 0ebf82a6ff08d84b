"""Log-binned latency histogram with bounded memory and relative-accuracy quantiles.

:class:`LatencyHistogram` is a DDSketch-style sketch for latencies in **seconds**. With relative
accuracy ``alpha`` (default 0.005) and ``gamma = (1 + alpha) / (1 - alpha)``:

* a value ``x > ZERO_THRESHOLD`` (1e-9 s) goes to log bin ``i = ceil(log(x) / log(gamma))``,
  i.e. bin ``i`` holds ``gamma**(i-1) < x <= gamma**i``;
* the representative value of bin ``i`` is ``2 * gamma**i / (gamma + 1)``, which is within
  relative error ``alpha`` of every value in the bin;
* values ``0 <= x <= ZERO_THRESHOLD`` (including exact zero) go to a separate *zero bucket* whose
  representative value is ``0.0``; negative, NaN and infinite values raise :class:`ValueError`.

Quantiles
    ``quantile(q)`` estimates the *inverted-CDF* quantile (numpy ``method="inverted_cdf"``): the
    smallest sample value ``v`` such that the weight of samples ``<= v`` is at least ``q * n``
    (``n`` = total weight); for unit weights that is the order statistic of 0-based rank
    ``max(ceil(q * n) - 1, 0)``. The estimate is the representative of the bin holding that
    sample, clamped to ``[min, max]``, so for a true quantile in ``(1e-9 s, 1e6 s]`` the relative
    error is at most ``alpha`` (0.5 %) plus floating-point rounding; for a true quantile in the
    zero bucket the absolute error is at most 1e-9 s. ``q = 0`` and ``q = 1`` return the exact
    ``min`` and ``max``.

Bounded memory
    Bins are stored sparsely (a ``dict`` from bin index to weight) and indices are clipped to the
    fixed range ``[ceil(log(1e-9) / log(gamma)), ceil(log(1e6) / log(gamma))]``, so a histogram
    never holds more than :func:`max_bins` ``(alpha)`` ≈ ``ceil(log(1e15) / log(gamma)) + 1``
    log bins (3455 for alpha 0.005) plus the scalar zero bucket, however many values are added.
    Values above ``MAX_VALUE`` (1e6 s) are counted in the top bin (their quantile estimate is
    then clamped to the exact ``max``, so it is only accurate if they are the maximum). The
    weights alone would be 3455 × 8 B ≈ 27 KB; the sparse CPython ``dict`` costs about 95 B per
    occupied bin (entry, int key, float value): measured ≈ 330 KB with all 3455 bins occupied,
    ≈ 95 KB for a lognormal spanning ~5 decades (≈ 1100 bins).

Weights and counts
    Weights are non-negative finite numbers (floats allowed, e.g. for merging windowed histograms
    weighted by booked sessions). All weights and counts are stored as ``float``: integer weights
    stay exact up to 2**53. ``count``, ``sum``, ``min`` and ``max`` are tracked exactly (not from
    the bins), so :attr:`LatencyHistogram.mean` is the exact (weighted) mean up to float
    summation rounding. A zero weight adds nothing (not even to ``min``/``max``).

Batch binning
    :func:`bin_indices` bins a whole array at once (vectorised ``np.log``/``np.ceil``) and marks
    zero-bucket values with the sentinel :data:`ZERO_INDEX`; a caller can bin a column of
    latencies once, group the indices by other keys itself, and feed each group to
    :meth:`LatencyHistogram.add_indices`. ``add_many`` is exactly ``bin_indices`` +
    ``add_indices`` and gives exactly the same bins as repeated ``add``: ``np.log`` and
    ``math.log`` may differ in the last bit, so values whose ``log(x) / log(gamma)`` lies within
    rounding distance of an integer are re-binned with ``math.log``, the function ``add`` uses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_ALPHA",
    "MAX_VALUE",
    "ZERO_INDEX",
    "ZERO_THRESHOLD",
    "LatencyHistogram",
    "bin_indices",
    "max_bins",
]

DEFAULT_ALPHA = 0.005
"""Default relative accuracy of bin representatives (0.5 %)."""

ZERO_THRESHOLD = 1e-9
"""Values ``<= ZERO_THRESHOLD`` seconds go to the zero bucket."""

MAX_VALUE = 1e6
"""Largest value (seconds) with its own bin; larger values are clipped into the top bin."""

ZERO_INDEX = np.iinfo(np.int64).min
"""Sentinel bin index (``-2**63``) that :func:`bin_indices` returns for zero-bucket values."""

_log = math.log
_ceil = math.ceil

_EQ_REL_TOL = 1e-9
"""Relative tolerance of ``==`` on float accumulators (sum, count, bin weights)."""

_NEAR_INTEGER_REL_TOL = 1e-9
"""Batch binning re-checks with ``math.log`` every value whose ``log(x)/log(gamma)`` is within
``_NEAR_INTEGER_REL_TOL * (2 + largest |bin index|)`` of an integer (about 2e-6 for alpha 0.005,
so ~4 values per million); ``np.log`` and ``math.log`` differ by at most a few ulps, i.e. ~1e-12
in that ratio."""


def _layout(alpha: float) -> tuple[float, float, int, int]:
    """Return ``(gamma, log_gamma, min_index, max_index)`` for relative accuracy ``alpha``."""
    if isinstance(alpha, bool) or not isinstance(alpha, int | float | np.floating):
        raise TypeError(f"alpha must be a float, got {type(alpha).__name__}")
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    gamma = (1.0 + alpha) / (1.0 - alpha)
    log_gamma = math.log(gamma)
    min_index = math.ceil(math.log(ZERO_THRESHOLD) / log_gamma)
    max_index = math.ceil(math.log(MAX_VALUE) / log_gamma)
    return gamma, log_gamma, min_index, max_index


def max_bins(alpha: float = DEFAULT_ALPHA) -> int:
    """Maximum number of log bins a histogram with ``alpha`` can hold (zero bucket excluded).

    This is ``ceil(log(1e6)/log(gamma)) - ceil(log(1e-9)/log(gamma)) + 1``, which is at most
    ``ceil(log(1e15)/log(gamma)) + 1``; 3455 for alpha 0.005.
    """
    _, _, min_index, max_index = _layout(alpha)
    return max_index - min_index + 1


def _check_values(values: np.ndarray) -> None:
    """Raise ValueError unless every value is finite and non-negative."""
    if values.size and not (np.all(values >= 0.0) and np.all(values < np.inf)):
        if np.isnan(values).any():
            raise ValueError("latency values must not be NaN")
        if (values < 0.0).any():
            raise ValueError(f"latency values must be >= 0 s, got {values.min()!r}")
        raise ValueError("latency values must be finite")


def _check_scalar_value(x: float) -> None:
    """Raise ValueError unless ``x`` is a finite number >= 0."""
    if x != x:
        raise ValueError("latency values must not be NaN")
    if x < 0:
        raise ValueError(f"latency values must be >= 0 s, got {x!r}")
    if x == math.inf:
        raise ValueError("latency values must be finite")


def _check_weights(weights: np.ndarray) -> None:
    """Raise ValueError unless every weight is finite and non-negative."""
    if weights.size and not (np.all(weights >= 0.0) and np.all(weights < np.inf)):
        raise ValueError("weights must be finite and >= 0")


def _check_scalar_weight(weight: float, what: str = "weight") -> float:
    """Return ``weight`` as a float, raising ValueError unless it is finite and >= 0."""
    w = float(weight)
    if not 0.0 <= w < math.inf:
        raise ValueError(f"{what} must be finite and >= 0, got {weight!r}")
    return w


def _bin_indices(
    values: np.ndarray, log_gamma: float, min_index: int, max_index: int
) -> np.ndarray:
    """Bin already-validated float64 ``values`` (see :func:`bin_indices`)."""
    flat = values.ravel()
    ratio = np.maximum(flat, ZERO_THRESHOLD)
    np.log(ratio, out=ratio)
    ratio /= log_gamma
    ceiled = np.ceil(ratio)
    # np.log may differ from math.log by an ulp; re-bin anything within rounding distance of a
    # bin boundary with math.log so that batch binning matches LatencyHistogram.add exactly.
    # Ratios outside [min_index - 1, max_index] are clipped either way, so the tolerance only
    # has to cover rounding of ratios up to that size (errors there are ~1e-12).
    dist = ceiled - ratio  # in [0, 1); near 0 or 1 means near an integer
    dist -= 0.5
    np.abs(dist, out=dist)
    tol = _NEAR_INTEGER_REL_TOL * (2.0 + max(-min_index, max_index))
    near = np.flatnonzero(dist >= 0.5 - tol)
    if near.size:
        ceiled[near] = [
            _ceil(_log(max(x, ZERO_THRESHOLD)) / log_gamma) for x in flat[near].tolist()
        ]
    np.clip(ceiled, min_index, max_index, out=ceiled)
    out = ceiled.astype(np.int64)
    zero = flat <= ZERO_THRESHOLD
    if zero.any():
        out[zero] = ZERO_INDEX
    return out.reshape(values.shape)


def bin_indices(values: np.ndarray | Iterable[float], alpha: float = DEFAULT_ALPHA) -> np.ndarray:
    """Bin latencies (seconds) in one vectorised pass.

    Args:
        values: latencies in seconds, any shape; must be finite and ``>= 0``.
        alpha: relative accuracy of the histogram the indices are meant for.

    Returns:
        An ``int64`` array of the same shape: ``ceil(log(x) / log(gamma))`` clipped to the bin
        range for ``x > ZERO_THRESHOLD``, and :data:`ZERO_INDEX` (``-2**63``) for zero-bucket
        values. Identical to the bins :meth:`LatencyHistogram.add` uses.

    Raises:
        ValueError: if any value is negative, NaN or infinite, or ``alpha`` is not in (0, 1).
    """
    _, log_gamma, min_index, max_index = _layout(alpha)
    arr = np.asarray(values, dtype=np.float64)
    _check_values(arr)
    return _bin_indices(arr, log_gamma, min_index, max_index)


class LatencyHistogram:
    """Mergeable log-binned histogram of latencies in seconds (see the module docstring).

    Attributes are private; read them through the properties :attr:`alpha`, :attr:`count`,
    :attr:`sum`, :attr:`mean`, :attr:`min`, :attr:`max` and :attr:`zero_count`.
    """

    __slots__ = (
        "_alpha",
        "_bins",
        "_cache",
        "_count",
        "_gamma",
        "_log_gamma",
        "_max",
        "_max_index",
        "_min",
        "_min_index",
        "_sum",
        "_zero",
    )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __init__(self, alpha: float = DEFAULT_ALPHA) -> None:
        """Create an empty histogram with relative accuracy ``alpha`` (0 < alpha < 1)."""
        self._gamma, self._log_gamma, self._min_index, self._max_index = _layout(alpha)
        self._alpha = float(alpha)
        self._bins: dict[int, float] = {}
        self._zero = 0.0
        self._count = 0.0
        self._sum = 0.0
        self._min = math.inf
        self._max = -math.inf
        # (sorted representatives incl. 0.0 for the zero bucket, cumulative weights), or None.
        self._cache: tuple[np.ndarray, np.ndarray] | None = None

    # ------------------------------------------------------------------ adding values

    def add(self, x: float, weight: float = 1.0) -> None:
        """Add one latency ``x`` (seconds) with ``weight`` (finite, >= 0; default 1.0).

        Pure Python (``math.log`` + ``dict``); use :meth:`add_many` for batches.

        Raises:
            ValueError: if ``x`` is negative, NaN or infinite, or ``weight`` is negative or not
                finite.
        """
        if weight != 1.0:
            weight = _check_scalar_weight(weight)
            if weight == 0.0:
                _check_scalar_value(x)
                return
        if x > ZERO_THRESHOLD:
            try:
                i = _ceil(_log(x) / self._log_gamma)
            except OverflowError:  # x == inf
                raise ValueError("latency values must be finite") from None
            if i > self._max_index:
                i = self._max_index
            elif i < self._min_index:
                i = self._min_index
            bins = self._bins
            bins[i] = bins.get(i, 0.0) + weight
        elif x >= 0:
            self._zero += weight
        else:
            _check_scalar_value(x)
        self._count += weight
        self._sum += x * weight
        if x < self._min:
            self._min = float(x)
        if x > self._max:
            self._max = float(x)
        self._cache = None

    def add_many(
        self,
        values: np.ndarray | Iterable[float],
        weights: np.ndarray | Iterable[float] | None = None,
    ) -> None:
        """Add an array of latencies (seconds), optionally with per-value ``weights``.

        Gives exactly the same bins, zero bucket, count, min and max as calling :meth:`add`
        for each value in order (sum and float weights up to summation-order rounding).

        Raises:
            ValueError: on negative, NaN or infinite values or weights, or mismatched shapes.
        """
        arr = np.asarray(values, dtype=np.float64).ravel()
        _check_values(arr)
        w: np.ndarray | None = None
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64).ravel()
            if w.shape != arr.shape:
                raise ValueError(f"weights has {w.size} entries but values has {arr.size}")
            _check_weights(w)
            if not np.all(w > 0.0):
                keep = w > 0.0
                arr, w = arr[keep], w[keep]
        if arr.size == 0:
            return
        indices = _bin_indices(arr, self._log_gamma, self._min_index, self._max_index)
        value_sum = float(np.sum(arr if w is None else arr * w))
        self._add_indices(indices, w, value_sum, float(arr.min()), float(arr.max()))

    def add_indices(
        self,
        indices: np.ndarray,
        weights: np.ndarray | None = None,
        *,
        value_sum: float,
        vmin: float,
        vmax: float,
    ) -> None:
        """Add values that were binned beforehand with :func:`bin_indices` (same ``alpha``).

        Indices may repeat, so either pass one index per value, or pre-aggregated distinct
        indices with their weights (e.g. from ``np.unique(..., return_counts=True)``). Because
        the bins do not carry exact statistics, the caller supplies them for the same values.

        Args:
            indices: int array of bin indices in the histogram's range, or :data:`ZERO_INDEX`.
            weights: weight per index entry (finite, >= 0), or None for weight 1 each.
            value_sum: ``sum(weight * value)`` over those values, in seconds.
            vmin: smallest value with positive weight, in seconds.
            vmax: largest value with positive weight, in seconds.

        Raises:
            ValueError: on indices outside the range, bad weights or inconsistent statistics.
        """
        idx = np.asarray(indices)
        if idx.size and not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"indices must be integers, got dtype {idx.dtype}")
        idx = idx.astype(np.int64, copy=False).ravel()
        w: np.ndarray | None = None
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64).ravel()
            if w.shape != idx.shape:
                raise ValueError(f"weights has {w.size} entries but indices has {idx.size}")
            _check_weights(w)
            if not np.all(w > 0.0):
                keep = w > 0.0
                idx, w = idx[keep], w[keep]
        if idx.size == 0:
            return
        in_range = (idx >= self._min_index) & (idx <= self._max_index)
        if not np.all(in_range | (idx == ZERO_INDEX)):
            raise ValueError(
                f"bin indices must be in [{self._min_index}, {self._max_index}] or ZERO_INDEX"
            )
        vmin, vmax, value_sum = float(vmin), float(vmax), float(value_sum)
        if not (0.0 <= vmin <= vmax < math.inf and 0.0 <= value_sum < math.inf):
            raise ValueError("need finite 0 <= vmin <= vmax and value_sum >= 0 (seconds)")
        self._add_indices(idx, w, value_sum, vmin, vmax)

    def _add_indices(
        self, idx: np.ndarray, w: np.ndarray | None, value_sum: float, vmin: float, vmax: float
    ) -> None:
        """Add validated, non-empty int64 indices with positive weights (or None)."""
        n_bins = self._max_index - self._min_index + 1
        offsets = idx - self._min_index
        zero_mask = idx == ZERO_INDEX
        if zero_mask.any():
            offsets[zero_mask] = n_bins  # one extra slot for the zero bucket
        per_bin = np.bincount(offsets, weights=w).astype(np.float64, copy=False)
        if per_bin.size > n_bins:
            self._zero += float(per_bin[n_bins])
            per_bin = per_bin[:n_bins]
        occupied = np.flatnonzero(per_bin)
        keys = (occupied + self._min_index).tolist()
        bins = self._bins
        if not bins:  # the common case of one batch per histogram: 0.0 + w is w, exactly
            self._bins = dict(zip(keys, per_bin[occupied].tolist(), strict=True))
        else:
            for key, weight in zip(keys, per_bin[occupied].tolist(), strict=True):
                bins[key] = bins.get(key, 0.0) + weight
        total = float(idx.size) if w is None else float(np.sum(w))
        self._count += total
        self._sum += value_sum
        if vmin < self._min:
            self._min = vmin
        if vmax > self._max:
            self._max = vmax
        self._cache = None

    def merge(self, other: LatencyHistogram, weight: float = 1.0) -> None:
        """Add ``weight`` times the contents of ``other`` into this histogram, in place.

        ``min``/``max`` are combined as plain extremes (a positive weight does not scale them);
        ``weight == 0`` is a no-op.

        Raises:
            TypeError: if ``other`` is not a LatencyHistogram.
            ValueError: if the alphas differ or ``weight`` is negative or not finite.
        """
        if not isinstance(other, LatencyHistogram):
            raise TypeError(f"can only merge a LatencyHistogram, got {type(other).__name__}")
        if other._alpha != self._alpha:
            raise ValueError(f"cannot merge alpha {other._alpha!r} into alpha {self._alpha!r}")
        weight = _check_scalar_weight(weight)
        if weight == 0.0 or other._count == 0.0:
            return
        bins = self._bins
        if not bins and weight == 1.0:  # value * 1.0 is value, exactly
            self._bins = dict(other._bins)
        else:
            for key, value in list(other._bins.items()):
                bins[key] = bins.get(key, 0.0) + value * weight
        self._zero += other._zero * weight
        self._count += other._count * weight
        self._sum += other._sum * weight
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)
        self._cache = None

    def scaled(self, factor: float) -> LatencyHistogram:
        """Return a new histogram with every weight (and ``count``, ``sum``) times ``factor``.

        Quantiles, ``mean``, ``min`` and ``max`` are unchanged for ``factor > 0``;
        ``factor == 0`` gives an empty histogram.

        Raises:
            ValueError: if ``factor`` is negative or not finite.
        """
        factor = _check_scalar_weight(factor, "factor")
        out = LatencyHistogram(self._alpha)
        out.merge(self, factor)
        return out

    def copy(self) -> LatencyHistogram:
        """Return an independent copy."""
        out = LatencyHistogram(self._alpha)
        out._bins = dict(self._bins)
        out._zero, out._count, out._sum = self._zero, self._count, self._sum
        out._min, out._max = self._min, self._max
        return out

    # ------------------------------------------------------------------ statistics

    @property
    def alpha(self) -> float:
        """Relative accuracy of bin representatives."""
        return self._alpha

    @property
    def count(self) -> float:
        """Total weight added (the number of values for unit weights), as a float."""
        return self._count

    @property
    def sum(self) -> float:
        """Exact weighted sum of the values, in seconds (0.0 when empty)."""
        return self._sum

    @property
    def mean(self) -> float:
        """Exact weighted mean in seconds, NaN when empty."""
        return self._sum / self._count if self._count > 0.0 else math.nan

    @property
    def min(self) -> float:
        """Smallest value added with positive weight, in seconds; NaN when empty."""
        return self._min if self._count > 0.0 else math.nan

    @property
    def max(self) -> float:
        """Largest value added with positive weight, in seconds; NaN when empty."""
        return self._max if self._count > 0.0 else math.nan

    @property
    def zero_count(self) -> float:
        """Weight in the zero bucket (values <= 1e-9 s)."""
        return self._zero

    def _sorted(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted representatives (seconds) and cumulative weights, cached until mutation."""
        if self._cache is None:
            n = len(self._bins)
            keys = np.fromiter(self._bins.keys(), dtype=np.int64, count=n)
            weights = np.fromiter(self._bins.values(), dtype=np.float64, count=n)
            order = np.argsort(keys)
            keys, weights = keys[order], weights[order]
            reps = 2.0 * np.power(self._gamma, keys.astype(np.float64)) / (self._gamma + 1.0)
            if self._zero > 0.0:
                reps = np.concatenate(([0.0], reps))
                weights = np.concatenate(([self._zero], weights))
            self._cache = (reps, np.cumsum(weights))
        return self._cache

    def quantiles(self, qs: Iterable[float]) -> list[float]:
        """Inverted-CDF quantile estimates (seconds) for each ``q`` in ``qs``.

        See the module docstring for the definition and accuracy guarantee. All NaN when the
        histogram is empty.

        Raises:
            ValueError: if any ``q`` is outside ``[0, 1]`` or NaN.
        """
        q = np.asarray(list(qs) if not isinstance(qs, np.ndarray) else qs, dtype=np.float64)
        q = q.ravel()
        if q.size and not np.all((q >= 0.0) & (q <= 1.0)):
            raise ValueError(f"quantiles must be in [0, 1], got {q.tolist()!r}")
        if self._count <= 0.0:
            return [math.nan] * q.size
        reps, cum = self._sorted()
        total = cum[-1]
        # Smallest bin whose cumulative weight reaches q * total (clip guards float rounding).
        pos = np.searchsorted(cum, q * total, side="left")
        np.minimum(pos, cum.size - 1, out=pos)
        est = np.clip(reps[pos], self._min, self._max)
        est[q == 0.0] = self._min
        est[q == 1.0] = self._max
        return est.tolist()

    def quantile(self, q: float) -> float:
        """Inverted-CDF quantile estimate in seconds (NaN when empty); ``q`` in ``[0, 1]``."""
        return self.quantiles((q,))[0]

    def cdf(self, x: float) -> float:
        """Share of the weight in bins whose representative value is ``<= x`` (seconds).

        NaN when empty; 0.0 for ``x < 0``.

        Raises:
            ValueError: if ``x`` is NaN.
        """
        if x != x:
            raise ValueError("cdf(x) needs a number, got NaN")
        if self._count <= 0.0:
            return math.nan
        reps, cum = self._sorted()
        k = int(np.searchsorted(reps, x, side="right"))
        return float(cum[k - 1] / cum[-1]) if k > 0 else 0.0

    def to_points(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted representative values (seconds) and cumulative weight shares, for a CDF plot.

        The zero bucket, when non-empty, is the point 0.0; the last share is 1.0. Both arrays
        are empty when the histogram is.
        """
        if self._count <= 0.0:
            return np.empty(0), np.empty(0)
        reps, cum = self._sorted()
        return reps.copy(), cum / cum[-1]

    # ------------------------------------------------------------------ serialization

    def to_dict(self) -> dict[str, Any]:
        """JSON-able snapshot; :meth:`from_dict` restores it exactly.

        Keys: ``alpha``, ``count``, ``sum``, ``min``, ``max`` (None when empty), ``zero`` (zero
        bucket weight) and ``bins`` = ``{"indices": [int, ...], "counts": [float, ...]}`` sorted
        by index.
        """
        keys = sorted(self._bins)
        empty = self._count <= 0.0
        return {
            "alpha": self._alpha,
            "count": float(self._count),
            "sum": float(self._sum),
            "min": None if empty else float(self._min),
            "max": None if empty else float(self._max),
            "zero": float(self._zero),
            "bins": {"indices": keys, "counts": [float(self._bins[k]) for k in keys]},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LatencyHistogram:
        """Rebuild a histogram from :meth:`to_dict` output.

        Raises:
            ValueError: if keys are missing or values are invalid.
        """
        try:
            out = cls(d["alpha"])
            indices, counts = list(d["bins"]["indices"]), list(d["bins"]["counts"])
            count, total, zero = (
                _check_scalar_weight(d[name], name) for name in ("count", "sum", "zero")
            )
            weights = [_check_scalar_weight(c, "bin count") for c in counts]
            vmin, vmax = d["min"], d["max"]
            if (vmin is None) != (vmax is None) or (vmin is None) != (count == 0.0):
                raise ValueError("min and max must be null exactly when count is 0")
            if vmin is not None:
                vmin, vmax = float(vmin), float(vmax)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a LatencyHistogram dict: {exc!r}") from exc
        if len(indices) != len(counts):
            raise ValueError("bins.indices and bins.counts differ in length")
        if len(set(indices)) != len(indices):
            raise ValueError("bins.indices has duplicates")
        for i in indices:
            if isinstance(i, bool) or not isinstance(i, int | np.integer):
                raise ValueError(f"bin index must be an int, got {i!r}")
            if not out._min_index <= i <= out._max_index:
                raise ValueError(f"bin index {i} outside [{out._min_index}, {out._max_index}]")
        if vmin is not None:
            if not 0.0 <= vmin <= vmax < math.inf:
                raise ValueError(f"need 0 <= min <= max < inf, got {vmin!r}, {vmax!r}")
            out._min, out._max = vmin, vmax
        out._bins = {int(i): c for i, c in zip(indices, weights, strict=True) if c > 0.0}
        out._count, out._sum, out._zero = count, total, zero
        return out

    # ------------------------------------------------------------------ dunder

    def __len__(self) -> int:
        """Number of non-empty log bins (the zero bucket is not counted)."""
        return len(self._bins)

    def __eq__(self, other: object) -> bool:
        """Structural equality: same alpha, bin indices, min and max, and float accumulators
        (bin weights, zero bucket, count, sum) equal within relative tolerance 1e-9, because
        ``add``, ``add_many`` and ``merge`` sum in different orders."""
        if not isinstance(other, LatencyHistogram):
            return NotImplemented
        if (
            self._alpha != other._alpha
            or self._bins.keys() != other._bins.keys()
            or (self._count > 0.0) != (other._count > 0.0)
        ):
            return False
        if self._count > 0.0 and (self._min != other._min or self._max != other._max):
            return False

        def close(a: float, b: float) -> bool:
            return math.isclose(a, b, rel_tol=_EQ_REL_TOL, abs_tol=0.0)

        return (
            close(self._count, other._count)
            and close(self._sum, other._sum)
            and close(self._zero, other._zero)
            and all(close(v, other._bins[k]) for k, v in self._bins.items())
        )

    def __repr__(self) -> str:
        """Short summary: alpha, count, bins and (when non-empty) mean/min/max in seconds."""
        head = f"LatencyHistogram(alpha={self._alpha!r}, count={self._count!r}, bins={len(self)}"
        if self._count <= 0.0:
            return head + ")"
        return f"{head}, mean={self.mean:.6g}s, min={self._min:.6g}s, max={self._max:.6g}s)"
