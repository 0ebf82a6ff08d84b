"""The storm figure: amplification, backend wait and success over time, one line per arm."""

from __future__ import annotations

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg

from openbank_sim import plots
from openbank_sim.analysis.recovery import storm_timeline


def test_three_panels_one_line_per_arm_and_the_trigger_shaded(calls):
    tl = storm_timeline(calls)
    start = pd.Timestamp(calls.manifest["start"])
    trigger = (start + pd.Timedelta("20min"), start + pd.Timedelta("30min"))
    fig = plots.storm_over_time({"as is": tl, "again": tl}, trigger=trigger)
    FigureCanvasAgg(fig).draw()
    amp, wait, ok = fig.axes[:3]
    assert [ax.get_ylabel() for ax in (amp, wait, ok)] == [
        "attempts per\nfirst attempt",
        "mean backend\nwait (s)",
        "success rate\n(share of attempts)",
    ]
    assert all(len(ax.get_lines()) == 2 for ax in (amp, wait, ok))
    assert wait.get_yscale() == "log"
    labels = [t.get_text() for t in amp.get_legend().get_texts()]
    assert labels == ["as is", "again", "trigger"]
    assert "per 5 min bin" in amp.get_title()


def test_an_empty_timeline_draws_no_data():
    fig = plots.storm_over_time({})
    FigureCanvasAgg(fig).draw()
    assert any(t.get_text() == "no data" for t in fig.axes[0].texts)
