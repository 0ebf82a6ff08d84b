"""Figures: every function returns a labelled Figure from real runs and from empty tables."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from openbank_sim import Results, plots


def _check(fig: Figure, path: Path) -> None:
    """A Figure with labelled axes and a title, that renders to a non-empty PNG."""
    assert isinstance(fig, Figure)
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert axes
    assert any(ax.get_xlabel() for ax in axes), "no x label"
    assert any(ax.get_ylabel() for ax in axes), "no y label"
    assert any(ax.get_title() for ax in axes) or fig.get_suptitle()
    fig.savefig(path, dpi=72)
    assert path.stat().st_size > 1000


def _note(fig: Figure) -> str:
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts)


def test_call_figures(calls: Results, tmp_path: Path) -> None:
    figures = {
        "latency_throughput": plots.latency_throughput(calls),
        "latency_percentiles": plots.latency_percentiles(calls),
        "latency_percentiles_info": plots.latency_percentiles(calls, product="info"),
        "outcome_mix": plots.outcome_mix(calls),
        "outcome_mix_share": plots.outcome_mix(calls, "shop", share=True),
        "latency_cdf": plots.latency_cdf(calls),
        "latency_cdf_one": plots.latency_cdf(calls, partners=["clinic"]),
        "throughput_vs_load": plots.throughput_vs_load([calls], labels=["tiny"]),
        "money_over_time": plots.money_over_time(calls),
    }
    for name, fig in figures.items():
        _check(fig, tmp_path / f"{name}.png")
        assert "no data" not in _note(fig), name


def test_latency_in_milliseconds(calls: Results) -> None:
    ax = plots.latency_percentiles(calls, product="pay").axes[0]
    p50 = ax.lines[0].get_ydata()
    assert "ms" in ax.get_ylabel()
    expected = calls.tables["timeseries_latency"]
    expected = expected[expected["product"].astype(str) == "pay"]["latency_p50_s"] * 1000.0
    assert np.nanmax(p50) == pytest.approx(expected.max())


def test_outcome_mix_stacks_to_the_totals(calls: Results) -> None:
    ax = plots.outcome_mix(calls).axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert "429 rate limited" in labels and labels[0] == "ok"
    shares = plots.outcome_mix(calls, share=True).axes[0]
    assert shares.get_ylim() == (0.0, 1.0)
    assert "share" in shares.get_ylabel()


def test_latency_cdf_is_log_scale_and_ends_at_one(calls: Results) -> None:
    ax = plots.latency_cdf(calls).axes[0]
    assert ax.get_xscale() == "log"
    assert len(ax.lines) >= 2
    for line in ax.lines[:2]:
        assert line.get_ydata()[-1] == pytest.approx(1.0)


def test_sweep_figures(summary: pd.DataFrame, tmp_path: Path) -> None:
    rate, servers = "gateway.limits.0.rate", "bank.pools.core.servers"
    figures = {
        "throughput_vs_load": plots.throughput_vs_load(summary, by=servers, measured_s=540.0),
        "throughput_vs_load_ratio": plots.throughput_vs_load(summary),
        "rate_limit_tradeoff": plots.rate_limit_tradeoff(summary),
        "sweep_heatmap": plots.sweep_heatmap(summary, rate, servers, "latency_p95_s"),
        "sweep_effects": plots.sweep_effects(summary, [rate, servers], ["success_rate"]),
    }
    for name, fig in figures.items():
        _check(fig, tmp_path / f"{name}.png")
        assert "no data" not in _note(fig), name
    heat = figures["sweep_heatmap"].axes[0]
    assert len(heat.texts) == 4  # one value per (rate, servers) cell
    tradeoff = figures["rate_limit_tradeoff"].axes[0]
    # coloured by one varied parameter, every point labelled with the other one's value
    legend = tradeoff.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["1", "4"]
    assert legend.get_title().get_text().startswith("rate limit (calls/s)")
    written = ", ".join(t.get_text().replace("\n", ", ") for t in tradeoff.texts).split(", ")
    assert {"1", "2"} <= set(written)


def test_sensitivity_bars(tmp_path: Path) -> None:
    sobol = pd.DataFrame(
        {
            "parameter": ["gateway.limits.0.rate", "bank.pools.core.servers"],
            "S1": [0.6, 0.3],
            "S1_conf": [0.05, 0.04],
            "ST": [0.65, 0.35],
            "ST_conf": [0.05, 0.05],
        }
    )
    morris = pd.DataFrame(
        {"parameter": ["a.b", "c.d"], "mu_star": [2.0, 1.0], "mu_star_conf": [0.2, 0.1]}
    )
    _check(plots.sensitivity_bars(sobol, "latency_p95_s"), tmp_path / "sobol.png")
    _check(plots.sensitivity_bars(morris, "latency_p95_s"), tmp_path / "morris.png")


def test_onboarding_figures(onboarding: Results, arms: dict[str, Results], tmp_path: Path) -> None:
    figures = {
        "latency_percentiles": plots.latency_percentiles(onboarding),
        "outcome_mix": plots.outcome_mix(onboarding),
        "money_over_time": plots.money_over_time(onboarding),
        "partners_live": plots.partners_live(onboarding),
        "onboarding_gantt": plots.onboarding_gantt(onboarding),
        "onboarding_gantt_short": plots.onboarding_gantt(onboarding, max_partners=5),
        "break_even": plots.break_even(arms),
        "time_to_market_hist": plots.time_to_market_hist(arms),
        "time_to_market_by_mode": plots.time_to_market_hist(onboarding),
    }
    for name, fig in figures.items():
        _check(fig, tmp_path / f"{name}.png")
        assert "no data" not in _note(fig), name
    assert "CNY" in figures["money_over_time"].axes[0].get_ylabel()
    assert "first 5 of" in figures["onboarding_gantt_short"].axes[0].get_title()


def test_money_over_time_ends_at_the_profit_kpi(onboarding: Results) -> None:
    ax = plots.money_over_time(onboarding).axes[0]
    profit = next(line for line in ax.lines if line.get_label() == "profit")
    assert profit.get_ydata()[-1] == pytest.approx(onboarding.kpis["profit_total"])


def test_partners_live_ends_at_the_kpi(onboarding: Results) -> None:
    ax = plots.partners_live(onboarding).axes[0]
    total = next(line for line in ax.lines if line.get_label() == "all live")
    assert total.get_ydata()[-1] == onboarding.kpis["partners_live_end"]


def test_break_even_marks_each_payback(arms: dict[str, Results]) -> None:
    ax = plots.break_even(arms).axes[0]
    labels = ax.get_legend_handles_labels()[1]
    for arm, r in arms.items():
        month = r.kpis["payback_month"]
        label = next(lab for lab in labels if lab.startswith(arm))
        assert (
            (f"payback month {month:g}" in label) if math.isfinite(month) else "no payback" in label
        )


def test_time_to_market_counts_live_partners(arms: dict[str, Results]) -> None:
    ax = plots.time_to_market_hist(arms).axes[0]
    heights = sum(p.get_height() for p in ax.patches if p.get_fill())
    live = sum(
        int(((r.tables["partners"]["source"] == "onboarding") & r.tables["partners"]["live"]).sum())
        for r in arms.values()
    )
    assert heights == live


def test_empty_tables_draw_a_note(empty: Results, tmp_path: Path) -> None:
    figures = {
        "latency_percentiles": plots.latency_percentiles(empty),
        "outcome_mix": plots.outcome_mix(empty),
        "latency_cdf": plots.latency_cdf(empty),
        "money_over_time": plots.money_over_time(empty),
        "partners_live": plots.partners_live(empty),
        "onboarding_gantt": plots.onboarding_gantt(empty),
        "break_even": plots.break_even({"a": empty, "b": empty}),
        "time_to_market_hist": plots.time_to_market_hist({"a": empty}),
        "throughput_vs_load": plots.throughput_vs_load(pd.DataFrame()),
        "rate_limit_tradeoff": plots.rate_limit_tradeoff(pd.DataFrame()),
        "sweep_heatmap": plots.sweep_heatmap(pd.DataFrame(), "x", "y", "latency_p95_s"),
        "sensitivity_bars": plots.sensitivity_bars(pd.DataFrame(), "latency_p95_s"),
    }
    for name, fig in figures.items():
        _check(fig, tmp_path / f"{name}.png")
        assert "no data" in _note(fig), name
    fig = plots.latency_throughput(empty)
    fig.savefig(tmp_path / "latency_throughput.png")
    assert "no data" in _note(fig)


def test_results_without_tables_or_manifest() -> None:
    bare = Results({}, {}, {}, {})
    for fig in (
        plots.latency_percentiles(bare),
        plots.outcome_mix(bare),
        plots.money_over_time(bare),
        plots.partners_live(bare),
        plots.onboarding_gantt(bare),
        plots.time_to_market_hist(bare),
        plots.break_even({}),
    ):
        assert "no data" in _note(fig)


def test_optimization_map_marks_feasible_infeasible_and_chosen(tmp_path: Path) -> None:
    table = pd.DataFrame(
        {
            "point": [0, 1, 2, 3, 4, 5],
            "gateway.limits.0.rate": [6.0, 6.0, 12.0, 12.0, 12.0, 9.0],
            "bank.pools.core.servers": [4, 5, 4, 5, 6, 5],
            "role": ["candidate"] * 5 + ["searched"],
            "status": ["infeasible", "infeasible", "undecided", "feasible", "feasible", "searched"],
            "replications": [10, 10, 40, 20, 10, 0],
            "chosen": [False, False, False, True, False, False],
            "latency_p95_s": [2.0, 1.5, 1.05, 0.87, 0.83, 0.9],
        }
    )
    fig = plots.optimization_map(table)
    _check(fig, tmp_path / "map.png")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [
        "feasible",
        "infeasible",
        "undecided",
        "explored by the search only",
        "chosen",
    ]
    assert ax.get_xlabel() == "rate limit (calls/s)"
    assert ax.get_ylabel() == "servers in pool core"
    assert {t.get_text() for t in ax.texts} >= {"10", "40", "20"}
    one = plots.optimization_map(table.drop(columns=["gateway.limits.0.rate"]))
    _check(one, tmp_path / "map1.png")
    assert one.axes[0].get_ylabel() == "p95 latency of ok calls (ms)"
    marks = [c for c in one.axes[0].collections if c.get_label() != "chosen"]
    points = np.concatenate([c.get_offsets()[:, 1] for c in marks])
    assert sorted(points) == pytest.approx(sorted(table["latency_p95_s"] * 1000.0))
    empty = plots.optimization_map(pd.DataFrame())
    _check(empty, tmp_path / "empty.png")
    assert "no data" in _note(empty)
