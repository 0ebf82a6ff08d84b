"""Pass/fail against targets, drawn the way :func:`~openbank_sim.plots.optimization_map` draws
feasible and infeasible configurations: a filled green circle meets, an orange-red cross
misses (shape and colour both, so it reads without colour), the threshold a dashed line named
in the legend.

Artists that mark a result carry the gid :data:`MEETS` or :data:`MISSES` so that a test (or a
reader of the figure) can count them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from ._labels import KpiTarget, kpi_scale, parse_target
from ._style import PALETTE

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MEETS = "target-met"
"""The gid of an artist that marks a result meeting every target."""
MISSES = "target-missed"
"""The gid of an artist that marks a result missing a target."""
MEETS_STYLE = {"marker": "o", "color": PALETTE["ok"], "label": "meets the target"}
MISSES_STYLE = {"marker": "X", "color": PALETTE["overloaded"], "label": "misses the target"}
THRESHOLD_COLOUR = "#000000"


def targets_of(targets: str | KpiTarget | Any | Sequence[Any] | None) -> list[KpiTarget]:
    """Targets from one or several ``"KPI>=VALUE"`` texts, :class:`KpiTarget` s or
    optimization constraints (see :func:`~openbank_sim.plots._labels.parse_target`)."""
    if targets is None:
        return []
    if isinstance(targets, str | KpiTarget) or not isinstance(targets, Sequence):
        return [parse_target(targets)]
    return [parse_target(t) for t in targets]


def metric_values(df: pd.DataFrame, metric: str) -> np.ndarray | None:
    """A target's metric per row: a column, or ``A/B`` as the ratio of two columns (NaN where
    ``B`` is 0); None when the table lacks it."""
    if metric in df.columns:
        return df[metric].to_numpy(dtype=float)
    num, sep, den = metric.partition("/")
    if sep and num in df.columns and den in df.columns:
        b = df[den].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(b > 0, df[num].to_numpy(dtype=float) / b, np.nan)
    if metric == "rate_limited_share":
        return metric_values(df, "calls_rate_limited/calls_total")
    return None


def meets_all(df: pd.DataFrame, targets: Sequence[KpiTarget]) -> np.ndarray:
    """Per row, whether every target the table can be checked on is met.

    Raises:
        ValueError: a target on a metric the table does not have.
    """
    ok = np.ones(len(df), dtype=bool)
    for t in targets:
        values = metric_values(df, t.kpi)
        if values is None:
            raise ValueError(f"the table has no {t.kpi!r} to check the target {t.kpi}{t.op}")
        ok &= t.met(values)
    return ok


def threshold_line(ax: Axes, target: KpiTarget, axis: str, currency: str = "") -> None:
    """The target's bound as a dashed line across ``ax`` (``axis`` "x" or "y": the axis the
    KPI is on, in the unit the figure shows it), labelled with the target in words."""
    at = target.bound * kpi_scale(target.kpi)
    line = ax.axhline if axis == "y" else ax.axvline
    line(at, color=THRESHOLD_COLOUR, ls="--", lw=1.1, label=target.text(currency), zorder=2)


def pass_fail_handles(met: np.ndarray, size: float = 7.0) -> list[Line2D]:
    """Legend handles for the two marks, those that occur only."""
    out = []
    for style, present in ((MEETS_STYLE, met.any()), (MISSES_STYLE, (~met).any())):
        if present:
            out.append(
                Line2D(
                    [],
                    [],
                    ls="none",
                    marker=style["marker"],
                    color=style["color"],
                    markersize=size,
                    label=style["label"],
                )
            )
    return out
