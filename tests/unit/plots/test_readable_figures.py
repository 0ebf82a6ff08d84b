"""Figures that read well: labels in words, no scientific notation, pass/fail against targets,
categories as dots, both arms on one axis, Gantt labels that never overlap."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from openbank_sim import Results, plots
from openbank_sim.plots._targets import MEETS, MISSES

RATE, SERVERS = "gateway.limits.0.rate", "bank.pools.core.servers"
DOTTED = re.compile(r"[a-z_]+\.[a-z0-9_]+\.")


def _texts(fig: Figure) -> list[str]:
    """Every axis label, title, tick label and legend text of ``fig``."""
    out = [fig.get_suptitle()]
    legends = [*fig.legends]
    for ax in fig.axes:
        out += [ax.get_xlabel(), ax.get_ylabel(), ax.get_title()]
        out += [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
        legends += [c for c in ax.get_children() if c.__class__.__name__ == "Legend"]
    for legend in legends:
        out += [t.get_text() for t in legend.get_texts()] + [legend.get_title().get_text()]
    return out


def _marked(fig: Figure, gid: str) -> int:
    """How many points or cells carry the pass/fail mark ``gid``."""
    n = 0
    for ax in fig.axes:
        n += sum(len(c.get_offsets()) for c in ax.collections if c.get_gid() == gid)
        n += sum(1 for p in ax.patches if p.get_gid() == gid)
    return n


def _data_lines(ax) -> list[Line2D]:
    """Lines that join two or more data points (not caps, markers or reference lines)."""
    return [
        line
        for line in ax.lines
        if line.get_linestyle() not in ("None", "none", "")
        and len(line.get_xdata()) > 1
        and not str(line.get_label()).startswith(("target:", "_child", "every attempt", "sigma"))
        and line.get_color() != "#000000"
    ]


@pytest.fixture()
def big_rates(summary: pd.DataFrame) -> pd.DataFrame:
    """The sweep summary with rates of millions per second (where ``:g`` writes 1e+06)."""
    out = summary.copy()
    out[RATE] = out[RATE] * 1_000_000.0
    return out


def test_axes_and_legends_speak_words_not_paths(summary: pd.DataFrame) -> None:
    sobol = pd.DataFrame({"parameter": [RATE, SERVERS], "S1": [0.6, 0.3], "ST": [0.65, 0.35]})
    figures = [
        plots.sweep_heatmap(summary, RATE, SERVERS, "latency_p95_s"),
        plots.sweep_effects(summary, [RATE, SERVERS], ["success_rate", "latency_p95_s"]),
        plots.rate_limit_tradeoff(summary),
        plots.throughput_vs_load(summary, by=SERVERS),
        plots.sensitivity_bars(sobol, "success_rate"),
    ]
    for fig in figures:
        for text in _texts(fig):
            assert not DOTTED.search(text), text
            assert "_" not in text, text
    heat = figures[0]
    assert heat.axes[0].get_xlabel() == "rate limit (calls/s)"
    assert heat.axes[0].get_ylabel() == "servers in pool core"
    assert heat.axes[1].get_ylabel() == "p95 latency of ok calls (ms)"
    # the cells are in ms, as the colour bar says
    shown = sorted(float(t.get_text().replace(",", "")) for t in heat.axes[0].texts)
    means = summary.groupby([RATE, SERVERS])["latency_p95_s"].mean() * 1000.0
    assert shown == pytest.approx(sorted(means), rel=0.01)
    effects = figures[1]
    assert effects.axes[0].get_ylabel() == "success rate (share of calls)"
    assert effects.axes[-1].get_xlabel() == "servers in pool core"
    labels = [t.get_text() for t in figures[4].axes[0].get_yticklabels()]
    assert labels == ["rate limit (calls/s)", "servers in pool core"]


def test_no_scientific_notation_in_legends_or_ticks(big_rates: pd.DataFrame) -> None:
    figures = [
        plots.rate_limit_tradeoff(big_rates),
        plots.sweep_heatmap(big_rates, RATE, SERVERS, "success_rate"),
        plots.sweep_effects(big_rates, [SERVERS, RATE], ["success_rate"]),
        plots.throughput_vs_load(big_rates, by=RATE),
    ]
    for fig in figures:
        for text in _texts(fig):
            assert not re.search(r"\de[+-]?\d", text), text
    legend = figures[0].axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["1,000,000", "4,000,000"]


def test_heatmap_marks_the_cells_meeting_the_target(summary: pd.DataFrame) -> None:
    target = "latency_p95_s<=0.5"
    fig = plots.sweep_heatmap(summary, RATE, SERVERS, "latency_p95_s", target=target)
    means = summary.groupby([RATE, SERVERS])["latency_p95_s"].mean()
    assert 0 < (means <= 0.5).sum() < len(means), "the fixture should have both kinds"
    assert _marked(fig, MEETS) == int((means <= 0.5).sum())
    assert _marked(fig, MISSES) == int((means > 0.5).sum())
    legend = " ".join(t.get_text() for t in fig.axes[0].get_legend().get_texts())
    assert "≤ 500 ms" in legend
    with pytest.raises(ValueError, match="heatmap shows"):
        plots.sweep_heatmap(summary, RATE, SERVERS, "latency_p95_s", target="npv>=0")


def test_tradeoff_marks_points_against_every_target(summary: pd.DataFrame) -> None:
    targets = ["latency_p95_s<=0.5", "calls_rate_limited/calls_total<=0.21"]
    fig = plots.rate_limit_tradeoff(summary, targets=targets)
    share = summary["calls_rate_limited"] / summary["calls_total"]
    meets = (summary["latency_p95_s"] <= 0.5) & (share <= 0.21)
    assert 0 < meets.sum() < len(meets), "the fixture should have both kinds"
    assert _marked(fig, MEETS) == int(meets.sum())
    assert _marked(fig, MISSES) == int((~meets).sum())
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "target: p95 latency of ok calls ≤ 500 ms" in labels
    assert any(lab.startswith("target: 429 rate-limited calls ≤ 0.21") for lab in labels)
    assert {"meets every target", "misses a target"} <= set(labels)
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(dashed) == 2


def _categorical_summary() -> pd.DataFrame:
    """A sweep summary over a string-valued parameter and a numeric one."""
    rows = []
    for mode, base in (("api", 5.0e6), ("traditional", -3.0e6)):
        for engineers in (2, 4):
            npv = base + 1.0e6 * engineers
            rows.append(
                {
                    "point": len(rows),
                    "onboarding.integration": mode,
                    "onboarding.team.engineers": engineers,
                    "replications": 5,
                    "npv": npv,
                    "npv_ci_low": npv - 5.0e5,
                    "npv_ci_high": npv + 5.0e5,
                }
            )
    return pd.DataFrame(rows)


def test_categorical_parameters_are_dots_not_lines() -> None:
    table = _categorical_summary()
    fig = plots.sweep_effects(
        table,
        ["onboarding.integration", "onboarding.team.engineers"],
        ["npv"],
        targets="npv>=0",
        scenario={"currency": "CNY"},
    )
    categorical, numeric = fig.axes[0], fig.axes[1]
    assert _data_lines(categorical) == []
    assert [t.get_text() for t in categorical.get_xticklabels()] == ["api", "traditional"]
    assert categorical.get_xlabel() == "integration mode"
    assert categorical.get_ylabel() == "NPV (CNY)"
    assert len(_data_lines(numeric)) == 2  # numbers are joined, one line per mode
    # each panel marks its 4 points: npv >= 0 everywhere but traditional with 2 engineers
    assert _marked(fig, MEETS) == 2 * 3 and _marked(fig, MISSES) == 2 * 1
    assert any(line.get_label() == "target: NPV ≥ 0 CNY" for line in categorical.lines)


def test_morris_is_bars_and_a_scatter_never_lines() -> None:
    morris = pd.DataFrame(
        {
            "parameter": [RATE, SERVERS, "client.max_attempts"],
            "mu_star": [0.2, 0.1, 0.05],
            "mu_star_conf": [0.02, 0.01, 0.01],
            "mu": [0.2, -0.1, 0.01],
            "sigma": [0.05, 0.12, 0.02],
        }
    )
    fig = plots.sensitivity_bars(morris, "latency_p95_s")
    bars, scatter = fig.axes
    assert len(bars.patches) == 3
    assert bars.patches[0].get_width() == pytest.approx(200.0)  # ms
    assert "ms" in bars.get_xlabel()
    assert all(_data_lines(ax) == [] for ax in fig.axes)
    assert len(scatter.collections[0].get_offsets()) == 3
    assert {t.get_text() for t in scatter.texts} == {
        "rate limit",
        "servers in pool core",
        "max attempts per call",
    }


def test_partners_live_puts_both_arms_on_one_axis(arms: dict[str, Results]) -> None:
    fig = plots.partners_live(arms)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    by_label = {line.get_label(): line for line in ax.lines}
    for arm, r in arms.items():
        live = by_label[f"{arm}: live"]
        assert live.get_ydata()[-1] == r.kpis["partners_live_end"]
        pipeline = by_label[f"{arm}: in the pipeline"]
        assert pipeline.get_ydata()[-1] == r.kpis["partners_in_pipeline_end"]
        assert pipeline.get_color() == live.get_color()
    assert "api vs traditional" not in ax.get_title() or len(arms) == 2
    one = plots.partners_live(arms["api"])  # one arm still works
    assert any(line.get_label() == "in the pipeline" for line in one.axes[0].lines)


def _many_partners(n: int) -> Results:
    rng = np.random.default_rng(7)
    arrival = np.sort(rng.uniform(0, 3.0e7, n))
    go_live = arrival + rng.uniform(1.0e6, 8.0e6, n)
    go_live[go_live > 3.1e7] = np.nan
    partners = pd.DataFrame(
        {
            "partner": [f"tpl_hospital-{i:04d}" for i in range(n)],
            "source": "onboarding",
            "mode": "traditional",
            "arrival_s": arrival,
            "development_start_s": arrival + 5.0e5,
            "go_live_s": go_live,
        }
    )
    return Results({}, {"partners": partners}, {"horizon_s": 3.1e7}, {})


@pytest.mark.parametrize("n", [5, 40, 120, 400])
def test_gantt_labels_never_overlap(n: int) -> None:
    fig = plots.onboarding_gantt(_many_partners(n), max_partners=n)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    ax = fig.axes[0]
    boxes = [t.get_window_extent(renderer) for t in ax.get_yticklabels() if t.get_text()]
    assert len(boxes) >= min(n, 40)
    for upper, lower in itertools.pairwise(boxes):
        assert upper.y0 >= lower.y1, "two partner labels overlap"
    legend = fig.legends[0]
    assert legend.get_texts()[0].get_fontsize() >= 9
    assert fig.get_figheight() <= 24.0
