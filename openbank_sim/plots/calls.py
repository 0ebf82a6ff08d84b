"""Figures of one run's calls: latency over time, outcome mix, latency CDFs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import (
    FuncFormatter,
    PercentFormatter,
)

if TYPE_CHECKING:
    from ..analysis.results import Results
from ._style import (
    _CYCLE,
    _OUTCOMES,
    PALETTE,
    _bin_s,
    _bin_words,
    _clock,
    _figure,
    _has,
    _legend_right,
    _no_data,
    _plot_percentiles,
    _shade_warmup,
    _short_number,
    _style,
    _table,
    _time_axis,
    _time_limits,
)

__all__ = ["latency_cdf", "latency_percentiles", "latency_throughput", "outcome_mix"]


def latency_throughput(results: Results, product: str | None = None) -> Figure:
    """Latency percentiles (top) and throughput (bottom) per time bin.

    Args:
        results: a run's results.
        product: one product's latency (default: the product with the most ok calls).
    """
    fig = _figure(5.5)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    for ax in (ax1, ax2):
        _style(ax)
    shown = _plot_percentiles(ax1, results, product)
    ax1.set_ylabel("latency of ok calls (ms)")
    ax1.set_title(f"Response time of ok calls: {shown}" if shown else "Response time of ok calls")
    ts = _table(results, "timeseries")
    if _has(ts, "t_start_s", "calls_ok", "calls_total"):
        warmup_s = float(results.manifest.get("warmup_s", 0.0) or 0.0)
        ts = ts[ts["t_start_s"] >= warmup_s]
    if _has(ts, "t_start_s", "calls_ok", "calls_total"):
        bin_s = _bin_s(results, ts["t_start_s"])
        per_bin = ts.groupby("t_start_s")[["calls_ok", "calls_total"]].sum().sort_index()
        t = _clock(results, per_bin.index.to_numpy(dtype=float) + 0.5 * bin_s)
        ax2.plot(t, per_bin["calls_ok"] / bin_s, color=PALETTE["ok"], lw=1.6, label="ok")
        ax2.plot(
            t, per_bin["calls_total"] / bin_s, color=PALETTE["muted"], ls="--", label="all attempts"
        )
        ax2.set_ylim(bottom=0)
    ax2.set_ylabel("throughput (calls/s)")
    ax2.set_xlabel("simulated time")
    fig.suptitle(str(results.manifest.get("scenario_name", "")))
    panels = ((ax1, shown is not None), (ax2, bool(ax2.lines)))
    if not any(has for _, has in panels):
        for ax, _ in panels:
            _no_data(ax)
        return fig
    _time_axis(ax2)
    _time_limits(ax2, results)
    for ax, has in panels:
        if has:
            _shade_warmup(ax, results)
            _legend_right(ax)
        else:  # the x axis is shared: note the gap without removing the ticks
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", color="grey")
    return fig


def latency_percentiles(results: Results, product: str | None = None) -> Figure:
    """p50, p95 and p99 response time of ok calls per time bin, in milliseconds.

    Quantiles come from the per-bin histograms of ``timeseries_latency`` and are plotted at
    bin midpoints; bins without ok calls leave a gap (windowed runs observe only their
    windows, shown as separate points).

    Args:
        results: a run's results.
        product: the product to show (default: the product with the most ok calls).
    """
    fig = _figure()
    ax = fig.subplots()
    _style(ax)
    shown = _plot_percentiles(ax, results, product)
    ax.set_ylabel("latency of ok calls (ms)")
    _time_axis(ax)
    if shown is None:
        _no_data(ax)
        ax.set_title("Response time of ok calls")
        return fig
    _shade_warmup(ax, results)
    name = results.manifest.get("scenario_name")
    ax.set_title(f"Response time of ok calls: {shown}" + (f" ({name})" if name else ""))
    _time_limits(ax, results)
    _legend_right(ax)
    return fig


def outcome_mix(
    results: Results,
    partner: str | None = None,
    *,
    product: str | None = None,
    share: bool = False,
) -> Figure:
    """Calls per time bin stacked by outcome: ok, 429, 503, timeout, 5xx error, 401.

    Args:
        results: a run's results (the ``timeseries`` table).
        partner: one partner (default: all partners together).
        product: one product (default: all products together).
        share: plot each outcome's share of the bin's calls instead of counts.
    """
    fig = _figure()
    ax = fig.subplots()
    _style(ax)
    ts = _table(results, "timeseries")
    cols = [f"calls_{o}" for o, _ in _OUTCOMES]
    who = partner if partner is not None else "all partners"
    if product is not None:
        who += f", {product}"
    grouped = None
    if _has(ts, "t_start_s", *cols):
        sel = ts
        if partner is not None and "partner" in sel.columns:
            sel = sel[sel["partner"].astype(str) == partner]
        if product is not None and "product" in sel.columns:
            sel = sel[sel["product"].astype(str) == product]
        if len(sel):
            grouped = sel.groupby("t_start_s")[cols].sum().sort_index().astype(float)
    bin_s = _bin_s(results, ts["t_start_s"] if _has(ts, "t_start_s") else None)
    unit = _bin_words(bin_s)
    ax.set_ylabel("share of calls" if share else f"calls per {unit} bin")
    _time_axis(ax)
    title = f"Call outcomes per {unit} bin: {who}"
    if grouped is None or float(grouped.to_numpy().sum()) == 0.0:
        ax.set_title(title)
        _no_data(ax)
        return fig
    bins = np.round(grouped.index.to_numpy(dtype=float) / bin_s).astype(np.int64)
    grouped.index = bins
    if bins.max() - bins.min() < 50_000:
        grouped = grouped.reindex(np.arange(bins.min(), bins.max() + 1), fill_value=0.0)
    y = grouped.to_numpy(dtype=float)
    if share:
        total = y.sum(axis=1, keepdims=True)
        y = np.divide(y, total, out=np.zeros_like(y), where=total > 0)
    top = np.cumsum(y, axis=1)
    edges = _clock(results, np.append(grouped.index.to_numpy(), grouped.index[-1] + 1) * bin_s)
    for i, (outcome, label) in enumerate(_OUTCOMES):
        if not y[:, i].any():
            continue  # outcomes that never happened stay out of the legend
        lower = top[:, i - 1] if i else np.zeros(len(y))
        ax.fill_between(
            edges,
            np.append(lower, lower[-1]),
            np.append(top[:, i], top[-1, i]),
            step="post",
            color=PALETTE[outcome],
            label=label,
            lw=0,
        )
    if share:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylim(0, 1)
    else:
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(FuncFormatter(_short_number))
    _shade_warmup(ax, results)
    _time_limits(ax, results)
    ax.set_title(title)
    _legend_right(ax)
    return fig


def latency_cdf(
    results: Results, partners: Sequence[str] | None = None, *, max_partners: int = 8
) -> Figure:
    """Cumulative distribution of ok calls' response time by partner, log x axis in ms.

    From the run's latency histograms (``results.histograms["partner:NAME"]``), warm-up
    excluded like every call KPI.

    Args:
        results: a run's results.
        partners: partners to show (default: the ``max_partners`` with the most ok calls).
        max_partners: how many partners to show by default.
    """
    fig = _figure()
    ax = fig.subplots()
    _style(ax)
    hists = {
        k.split(":", 1)[1]: h
        for k, h in getattr(results, "histograms", {}).items()
        if k.startswith("partner:") and h.count > 0
    }
    if partners is None:
        names = sorted(hists, key=lambda n: -hists[n].count)
        title = "Response time of ok calls by partner"
        if len(names) > max_partners:
            title += f" (busiest {max_partners} of {len(names)})"
            names = names[:max_partners]
    else:
        names = [n for n in partners if n in hists]
        title = "Response time of ok calls by partner"
    ax.set_xlabel("latency of ok calls (ms, log scale)")
    ax.set_ylabel("share of ok calls at or below")
    ax.set_title(title)
    lines = 0
    low, high = math.inf, 0.0
    for i, name in enumerate(names):
        values, shares = hists[name].to_points()
        keep = values > 0  # the zero bucket has no place on a log axis; shares stay cumulative
        if not keep.any():
            continue
        p95 = hists[name].quantile(0.95) * 1000.0
        ax.step(
            values[keep] * 1000.0,
            shares[keep],
            where="post",
            color=_CYCLE[i % len(_CYCLE)],
            lw=1.6,
            label=f"{name} (p95 {p95:.3g} ms)",
        )
        lines += 1
        # the x range follows the body and tail, not the few fastest calls
        low = min(low, hists[name].quantile(0.001) * 1000.0)
        high = max(high, float(values[keep][-1]) * 1000.0)
    if not lines:
        _no_data(ax)
        return fig
    ax.set_xscale("log")
    if 0 < low < high:
        ax.set_xlim(low / 1.5, high * 1.5)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_ylim(0, 1.01)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    for q in (0.95, 0.99):
        ax.axhline(q, color=PALETTE["muted"], lw=0.8, ls=":")
        ax.annotate(
            f"p{round(q * 100)}",
            (0.0, q),
            xycoords=("axes fraction", "data"),
            xytext=(3, -1),
            textcoords="offset points",
            va="top",
            fontsize=8,
            color=PALETTE["muted"],
        )
    _legend_right(ax)
    return fig
