"""Ranking and selection: the statistics behind ``optimize`` and ``compare`` with many
alternatives (no simulation here; numpy and scipy only).

Two kinds of statements, each a one-sided Student-t bound, combined by Bonferroni:

* **Feasibility** of a mean against a threshold, sequentially at fixed looks (sample sizes
  ``n0, 2 n0, 4 n0, ...``): a mean is declared below its threshold when its upper bound is,
  above when its lower bound is; otherwise more replications are needed. Every look is a
  fixed sample size, so a union bound over looks keeps the error probability whatever look
  the decision is taken at (:func:`looks`, :func:`bounds`).
* **Gaps** between two alternatives under common random numbers (replication ``r`` of both
  uses the same seed): the paired differences of the first ``n0`` replications give a sample
  variance ``S^2``, which fixes the sample size of the pair, ``n = max(n0, ceil(t^2 S^2 /
  delta^2))`` (capped); the mean paired difference over the first ``n`` replications plus
  ``t S / sqrt(n)`` bounds the true difference from above (Stein's two-stage t statistic:
  exact for normal data because ``n`` depends on the first-stage variance only). This is the
  two-stage Bonferroni procedure of Nelson and Matejcik (1995) under common random numbers,
  taken pair by pair (:func:`pair_size`, :func:`gap_bound`).

Units are those of the metric compared; counts are numbers of replications.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

__all__ = [
    "bounds",
    "gap_bound",
    "looks",
    "pair_size",
    "subset_and_gaps",
    "t_upper",
]


def t_upper(tail: float, dof: int) -> float:
    """The Student-t quantile with upper-tail probability ``tail`` and ``dof`` degrees of
    freedom (``inf`` when ``dof < 1``)."""
    if dof < 1:
        return math.inf
    return float(stats.t.isf(tail, dof))


def looks(n0: int, n_max: int) -> tuple[int, ...]:
    """The fixed sample sizes at which feasibility is decided: ``n0`` doubling up to
    ``n_max`` (which is the last look when it is not a doubling of ``n0``)."""
    out = [n0]
    while out[-1] * 2 <= n_max:
        out.append(out[-1] * 2)
    if out[-1] < n_max:
        out.append(n_max)
    return tuple(out)


def bounds(values: Sequence[float], t_high: float, t_low: float) -> tuple[float, float, float]:
    """``(mean, lower, upper)``: the mean of ``values`` with one-sided bounds ``mean - t_low
    s / sqrt(n)`` and ``mean + t_high s / sqrt(n)`` (``s`` the sample standard deviation;
    NaN when a value is NaN or there are fewer than two)."""
    x = np.asarray(values, dtype=float)
    if x.size < 2 or np.isnan(x).any():
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    se = float(x.std(ddof=1)) / math.sqrt(x.size)
    if se == 0.0:  # a deterministic metric: the mean is the value
        return mean, mean, mean
    return mean, mean - t_low * se, mean + t_high * se


def pair_size(first_diffs: Sequence[float], t: float, delta: float, n0: int, n_max: int) -> int:
    """The replications a pair needs so that its gap bound is within ``delta``: ``max(n0,
    ceil(t^2 S^2 / delta^2))`` capped at ``n_max``, ``S^2`` the variance of the first ``n0``
    paired differences (``n0`` when they do not vary; ``n_max`` when ``delta`` is 0 and they
    do)."""
    d = np.asarray(first_diffs, dtype=float)
    s2 = float(d.var(ddof=1)) if d.size > 1 else math.inf
    if s2 == 0.0:
        return n0
    if delta <= 0.0 or not math.isfinite(s2):
        return n_max
    return int(min(n_max, max(n0, math.ceil(t * t * s2 / (delta * delta)))))


def gap_bound(diffs: Sequence[float], first_n: int, t: float) -> float:
    """An upper bound on the true mean of ``diffs`` (paired differences ``b - r``): the mean
    of all of them plus ``t S / sqrt(n)``, ``S`` from the first ``first_n`` (the first stage)
    and ``n = len(diffs)``; NaN when any is NaN."""
    d = np.asarray(diffs, dtype=float)
    if np.isnan(d).any() or d.size < max(2, first_n):
        return math.nan
    s = float(d[:first_n].std(ddof=1))
    return float(d.mean()) + t * s / math.sqrt(d.size)


def pair_sizes(y0: np.ndarray, t: float, delta: float, n_max: int) -> np.ndarray:
    """Per pair of columns of the first stage ``y0`` (``n0`` rows): the replications the pair
    needs for its gap bound to be within ``delta`` (:func:`pair_size`)."""
    n0, k = y0.shape
    sizes = np.full((k, k), n0, dtype=int)
    for i in range(k):
        for j in range(i + 1, k):
            sizes[i, j] = sizes[j, i] = pair_size(y0[:, i] - y0[:, j], t, delta, n0, n_max)
    return sizes


def subset_and_gaps(
    y: np.ndarray,
    alpha: float,
    first_n: int | None = None,
    sizes: np.ndarray | None = None,
    comparisons: int | None = None,
) -> tuple[int, np.ndarray, list[int]]:
    """Which column of ``y`` (replications x alternatives, smaller is better, rows paired by
    common random numbers) is best, and how sure that is.

    Returns ``(best, gaps, subset)``: ``best`` the column with the smallest mean (with
    ``sizes``: the one whose largest gap bound is smallest); ``gaps[j]`` an upper bound on
    ``mu_best - mu_j`` (0 for ``j = best``; NaN where the pair has fewer rows than its size),
    so that the best column's true mean exceeds the smallest true mean by at most
    ``max(gaps)``; ``subset`` the columns that could be the best (no other column is
    established better). Both statements hold together with probability at least ``1 -
    alpha``: they rest on the same ``k - 1`` one-sided bounds ``mu_i - mu_b <= mean(y_i - y_b)
    + t S / sqrt(n)`` (``b`` the truly best column; ``t`` at ``alpha / (k - 1)`` with
    ``first_n - 1`` degrees of freedom; ``S`` from the first ``first_n`` rows, all of them by
    default; the mean over the pair's first ``sizes[i, b]`` rows, all by default: see
    :func:`gap_bound`). ``comparisons`` replaces ``k - 1`` in the Bonferroni correction (when
    ``y`` holds the survivors of a screening of more alternatives).
    """
    n, k = y.shape
    first_n = n if first_n is None else first_n
    if sizes is None:
        sizes = np.full((k, k), n, dtype=int)
    t = t_upper(alpha / max(1, comparisons or k - 1), first_n - 1)
    upper = np.full((k, k), math.nan)  # upper[i, j]: bound on mu_i - mu_j
    for i in range(k):
        upper[i, i] = 0.0
        for j in range(k):
            if i != j and sizes[i, j] <= n:
                upper[i, j] = gap_bound(y[: sizes[i, j], i] - y[: sizes[i, j], j], first_n, t)
    means = y.mean(axis=0)
    if (sizes == n).all():
        best = int(np.argmin(means))
    else:
        worst = np.where(np.isnan(upper), math.inf, upper).max(axis=1)
        best = min(range(k), key=lambda i: (worst[i], means[i]))
    gaps = upper[best].copy()
    # i is established worse than j when the bound on mu_j - mu_i is below 0
    subset = [i for i in range(k) if not any(upper[j, i] < 0.0 for j in range(k) if j != i)]
    return best, gaps, subset
