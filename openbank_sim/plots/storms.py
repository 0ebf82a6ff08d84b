"""A retry storm over time: one run, or several arms (levers) on one time axis."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from ._style import (
    _CYCLE,
    PALETTE,
    _bin_words,
    _figure,
    _legend_right,
    _no_data,
    _style,
    _time_axis,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["storm_over_time"]


def storm_over_time(
    timelines: pd.DataFrame | Mapping[str, pd.DataFrame],
    trigger: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    trigger_label: str = "trigger",
) -> Figure:
    """Retry amplification, mean backend wait and success rate per time bin, for one run's
    timeline or several (keyed by label), from
    :func:`~openbank_sim.analysis.recovery.storm_timeline`.

    Args:
        timelines: a timeline, or timelines by label (one line each, on one time axis).
        trigger: ``(start, end)`` of what set the storm off (a surge, an outage), shaded.
        trigger_label: what the shading is called in the legend.
    """
    arms = {"run": timelines} if isinstance(timelines, pd.DataFrame) else dict(timelines)
    fig = _figure(height=7.2)
    axes = fig.subplots(3, 1, sharex=True)
    for ax in axes:
        _style(ax)
    amp_ax, wait_ax, ok_ax = axes
    if not arms or all(len(tl) == 0 for tl in arms.values()):
        amp_ax.set_title("Retry storm over time")
        for ax in axes:
            _no_data(ax)
        return fig
    bin_s = next(float(tl.attrs.get("time_bin_s", 0.0)) for tl in arms.values())
    for i, (label, tl) in enumerate(arms.items()):
        colour = _CYCLE[i % len(_CYCLE)]
        t = pd.to_datetime(tl["time"])
        amp_ax.step(t, tl["retry_amplification"], where="post", color=colour, lw=1.4, label=label)
        wait = tl["backend_wait_mean_s"].to_numpy(dtype=float)
        wait_ax.step(t, np.where(wait > 0, wait, np.nan), where="post", color=colour, lw=1.4)
        ok_ax.step(t, tl["success_rate"], where="post", color=colour, lw=1.4)
    amp_ax.set_ylabel("attempts per\nfirst attempt")
    amp_ax.set_ylim(bottom=0.9)
    wait_ax.set_ylabel("mean backend\nwait (s)")
    wait_ax.set_yscale("log")
    ok_ax.set_ylabel("success rate\n(share of attempts)")
    ok_ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ok_ax.set_ylim(-0.02, 1.02)
    handles, labels = amp_ax.get_legend_handles_labels()
    if trigger is not None:
        for ax in axes:
            ax.axvspan(trigger[0], trigger[1], color=PALETTE["shade"], zorder=0)
        handles.append(Patch(color=PALETTE["shade"], label=trigger_label))
        labels.append(trigger_label)
    _time_axis(ok_ax)
    unit = f" per {_bin_words(bin_s)} bin" if bin_s > 0 else ""
    amp_ax.set_title(f"Retry storm over time{unit}")
    _legend_right(amp_ax, handles=handles, labels=labels)
    return fig
