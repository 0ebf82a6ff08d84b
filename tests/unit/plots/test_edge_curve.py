"""The edge figure: success rate and amplification against the lever, up and down, in words."""

from __future__ import annotations

import math

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg

from openbank_sim import plots
from openbank_sim.experiments.edge import EdgeResult


def _result(lever: str = "load") -> EdgeResult:
    rows = []
    for direction, offset in (("up", 0.0), ("down", -0.3)):
        for i, value in enumerate((0.5, 1.0, 1.5)):
            sr = 1.0 - 0.2 * i + (offset if i < 2 else 0.0)
            rows.append(
                {
                    "level": i + 1,
                    "level_value": value,
                    "direction": direction,
                    "n": 3,
                    **{
                        f"success_rate_{k}": sr + d
                        for k, d in (("mean", 0), ("ci_low", -0.05), ("ci_high", 0.0))
                    },
                    **{f"retry_amplification_{k}": 1.0 + i for k in ("mean", "ci_low", "ci_high")},
                }
            )
    summary = pd.DataFrame(rows)
    return EdgeResult("toy", lever, (0.5, 1.0, 1.5), 300.0, 0.0, (1, 2, 3), 0.95,
                      pd.DataFrame(), summary, pd.DataFrame())  # fmt: skip


def test_two_panels_two_directions_labels_in_words():
    fig = plots.edge_curve(_result())
    FigureCanvasAgg(fig).draw()
    top, bottom = fig.axes
    assert top.get_ylabel() == "success rate (share of calls)"
    assert bottom.get_ylabel() == "retry amplification (attempts per logical call)"
    assert bottom.get_xlabel() == "load (multiple of every partner's arrival rate)"
    labels = top.get_legend_handles_labels()[1]
    assert labels == ["load rising (up)", "load falling (down)"]
    assert len(top.get_lines()) == 2 and len(top.collections) == 2  # lines and CI bands
    arrows = [c for c in top.get_children() if c.__class__.__name__ == "Annotation"]
    assert len(arrows) == 4  # one per segment, each way
    assert "5 min per direction" in fig.get_suptitle()


def test_servers_lever_and_no_data():
    fig = plots.edge_curve(_result("bank.pools.core.servers"))
    assert fig.axes[1].get_xlabel() == "servers in pool core"
    assert fig.axes[0].get_legend_handles_labels()[1][0] == "servers rising (up)"
    empty = _result()
    empty.summary = pd.DataFrame()
    fig = plots.edge_curve(empty)
    assert any(t.get_text() == "no data" for t in fig.axes[0].texts)
    assert not math.isnan(fig.get_figwidth())
