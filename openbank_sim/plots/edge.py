"""Where the edge is: success rate and retry amplification against the lever, up and down."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from ._labels import kpi_label, number_text, param_label
from ._style import _CYCLE, _figure, _legend, _lighten, _no_data, _style

if TYPE_CHECKING:
    from ..experiments.edge import EdgeResult

__all__ = ["edge_curve"]

_PANELS = ("success_rate", "retry_amplification")
_DIRECTIONS = (("up", _CYCLE[0]), ("down", _CYCLE[1]))


def _direction_words(lever: str) -> dict[str, str]:
    what = "servers" if lever.endswith(".servers") else "load"
    return {"up": f"{what} rising (up)", "down": f"{what} falling (down)"}


def edge_curve(result: EdgeResult, scenario: Any = None) -> Figure:
    """Success rate and retry amplification against the lever's level, the way up and the way
    down as two lines with their 95 % (``result.level``) bands; arrows mark the direction.

    Where the two lines part, the run's past decides its present: hysteresis, a storm that
    outlived its trigger.

    Args:
        result: :func:`openbank_sim.experiments.edge.edge`'s result.
        scenario: the scenario as a dict, for the names in the lever's label; optional.
    """
    fig = _figure(height=6.0)
    axes = fig.subplots(2, 1, sharex=True)
    words = _direction_words(result.lever)
    s = result.summary
    fig.suptitle(
        f"Where the edge is: {result.scenario}, each level held "
        f"{number_text(result.dwell_s / 60.0)} min per direction, {len(result.seeds)} run(s)",
        fontsize=11,
    )
    for ax, kpi in zip(axes, _PANELS, strict=True):
        _style(ax)
        ax.set_ylabel(kpi_label(kpi))
        if not len(s) or f"{kpi}_mean" not in s.columns:
            _no_data(ax)
            continue
        for direction, colour in _DIRECTIONS:
            g = s[s["direction"] == direction].sort_values("level_value")
            x = g["level_value"].to_numpy(dtype=float)
            y = g[f"{kpi}_mean"].to_numpy(dtype=float)
            lo = g[f"{kpi}_ci_low"].to_numpy(dtype=float)
            hi = g[f"{kpi}_ci_high"].to_numpy(dtype=float)
            ax.fill_between(x, lo, hi, color=_lighten(colour, 0.7), alpha=0.6, linewidth=0)
            ax.plot(x, y, marker="o", color=colour, label=words[direction])
            _arrows(ax, x if direction == "up" else x[::-1], y if direction == "up" else y[::-1])
    axes[0].set_ylim(-0.02, 1.02)
    axes[-1].set_xlabel(param_label(result.lever, scenario))
    _legend(axes[0], loc="lower left")
    return fig


def _arrows(ax: Any, x: np.ndarray, y: np.ndarray) -> None:
    """Arrowheads midway along each segment, pointing the way the lever moved."""
    colour = ax.get_lines()[-1].get_color()
    for x0, y0, x1, y1 in zip(x[:-1], y[:-1], x[1:], y[1:], strict=True):
        if not np.all(np.isfinite([x0, y0, x1, y1])):
            continue
        xm, ym = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        ax.annotate(
            "",
            xy=(xm + (x1 - x0) * 0.05, ym + (y1 - y0) * 0.05),
            xytext=(xm - (x1 - x0) * 0.05, ym - (y1 - y0) * 0.05),
            arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.2, "mutation_scale": 14},
        )
