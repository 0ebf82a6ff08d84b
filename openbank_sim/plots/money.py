"""Figures of money and onboarding: cumulative money, partners live, Gantt, break-even."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import (
    FuncFormatter,
    MaxNLocator,
)

from ..spec.units import SECONDS_PER_MONTH

if TYPE_CHECKING:
    from ..analysis.results import Results
from ._style import (
    PALETTE,
    _cumulative,
    _currency,
    _extend,
    _figure,
    _has,
    _horizon_line,
    _horizon_s,
    _legend,
    _legend_right,
    _lighten,
    _mode_colour,
    _no_data,
    _short_number,
    _since_start_label,
    _span,
    _style,
    _table,
)

__all__ = [
    "break_even",
    "money_over_time",
    "onboarding_gantt",
    "partners_live",
    "time_to_market_hist",
]


def money_over_time(results: Results) -> Figure:
    """Cumulative revenue, bank cost and profit over time, from the ``ledger`` table.

    Cost is every bank category (call cost, team, API effort, platform, maintenance,
    servers); profit is revenue minus that cost. Partner-side spend (``partner_cost``) is
    drawn apart, dotted: it is not the bank's money and not in profit. Amounts are in the
    scenario's currency, at the times the ledger books them (revenue and running costs at
    month ends, the last partial month at the horizon; one-off items when they happen); the
    x axis is time since ``run.start`` in hours, days or months depending on the horizon.
    """
    fig = _figure()
    ax = fig.subplots()
    _style(ax)
    ledger = _table(results, "ledger")
    currency = _currency(results)
    horizon_s = _horizon_s(results)
    scale, unit = _span(horizon_s)
    ax.set_xlabel(_since_start_label(unit, results))
    ax.set_ylabel(f"cumulative amount ({currency})" if currency else "cumulative amount")
    name = results.manifest.get("scenario_name")
    ax.set_title("Cumulative revenue, cost and profit" + (f": {name}" if name else ""))
    if not _has(ledger, "t_s", "category", "amount"):
        _no_data(ax)
        return fig
    cat = ledger["category"].astype(str)
    amount = ledger["amount"].astype(float)
    zero = amount * 0.0
    horizon_s = max(horizon_s, float(ledger["t_s"].max()))
    series = (
        ("revenue", "revenue", amount.where(cat == "revenue", zero), "-"),
        ("cost", "bank cost", -amount.where(~cat.isin(["revenue", "partner_cost"]), zero), "-"),
        ("profit", "profit", amount.where(cat != "partner_cost", zero), "-"),
        (
            "partner_cost",
            "partner-side cost (not in profit)",
            -amount.where(cat == "partner_cost", zero),
            ":",
        ),
    )
    few = ledger["t_s"].nunique() <= 12  # mark the booking times of short runs
    for role, label, values, ls in series:
        if role == "partner_cost" and not values.any():
            continue
        t, v = _cumulative(ledger, values)
        ax.step(
            *_extend(t / scale, v, horizon_s / scale),
            where="post",
            color=PALETTE[role],
            lw=2 if role == "profit" else 1.5,
            ls=ls,
            label=label,
        )
        if few:
            ax.plot(t[1:] / scale, v[1:], "o", color=PALETTE[role], ms=3.5)
    ax.axhline(0.0, color="black", lw=0.8)
    _horizon_line(ax, horizon_s / scale)
    ax.yaxis.set_major_formatter(FuncFormatter(_short_number))
    _legend(ax, loc="best")
    return fig


def _steps(times: np.ndarray, horizon_s: float) -> tuple[np.ndarray, np.ndarray]:
    """A running count that steps up at each of ``times`` (seconds), carried to the horizon."""
    times = np.sort(times)
    t = np.concatenate([[0.0], times, [horizon_s]])
    n = np.concatenate([[0], np.arange(1, times.size + 1), [times.size]])
    return t, n


def _pipeline(p: pd.DataFrame, live: np.ndarray, horizon_s: float) -> tuple[np.ndarray, ...]:
    """Onboarded partners that arrived and are not live yet, over time (a step series);
    empty arrays when the table has no arrivals."""
    if not _has(p, "arrival_s"):
        return np.array([]), np.array([])
    go_live = p["go_live_s"].to_numpy(dtype=float)
    arrival = p["arrival_s"].to_numpy(dtype=float)
    arrived = np.isfinite(arrival)
    if not arrived.any():
        return np.array([]), np.array([])
    events = np.concatenate([arrival[arrived], go_live[arrived & live]])
    steps = np.concatenate([np.ones(arrived.sum()), -np.ones((arrived & live).sum())])
    order = np.argsort(events, kind="stable")
    t = np.concatenate([[0.0], events[order], [horizon_s]])
    n = np.cumsum(np.concatenate([[0.0], steps[order]]))
    return t, np.append(n, n[-1])


def _live_mask(p: pd.DataFrame, horizon_s: float) -> np.ndarray:
    go_live = p["go_live_s"].to_numpy(dtype=float)
    return np.isfinite(go_live) & (go_live < horizon_s if horizon_s else True)


def partners_live(results: Results | Mapping[str, Results]) -> Figure:
    """Partners live over time (step plot of go-live times), with the pipeline.

    From the ``partners`` table: scenario partners count from ``live_from``, onboarded ones
    from their go-live; the dashed line counts onboarded partners that arrived but are not
    live yet (in the pipeline).

    Args:
        results: one run (one line per integration mode in it, and all live), or several
            arms keyed by name, e.g. ``{"api": r1, "traditional": r2}``: each arm's partners
            live (solid) and in the pipeline (dashed, the same colour) on one axis.
    """
    if isinstance(results, Mapping):
        return _partners_live_arms(dict(results))
    fig = _figure()
    ax = fig.subplots()
    _style(ax)
    p = _table(results, "partners")
    horizon_s = _horizon_s(results)
    if _has(p, "go_live_s"):
        horizon_s = max(horizon_s, float(np.nanmax(p["go_live_s"].to_numpy(dtype=float))))
    scale, unit = _span(horizon_s)
    ax.set_xlabel(_since_start_label(unit, results))
    ax.set_ylabel("partners (count)")
    ax.set_title("Partners live over time")
    if not _has(p, "go_live_s", "mode"):
        _no_data(ax)
        return fig
    go_live = p["go_live_s"].to_numpy(dtype=float)
    live = _live_mask(p, horizon_s)
    modes = sorted(p["mode"].astype(str).unique())
    total = 0
    for i, mode in enumerate(modes):
        times = go_live[live & (p["mode"].astype(str) == mode).to_numpy()]
        if not times.size:
            continue
        t, n = _steps(times, horizon_s)
        ax.step(
            t / scale,
            n,
            where="post",
            color=_mode_colour(mode, i),
            lw=max(1.6, 3.2 - 1.2 * i),  # wider first, so that equal counts stay visible
            label=f"{mode} live",
        )
        total += times.size
    if len(modes) > 1 and total:
        t, n = _steps(go_live[live], horizon_s)
        ax.step(t / scale, n, where="post", color="black", lw=1.0, label="all live")
    t, n = _pipeline(p, live, horizon_s)
    if t.size:
        ax.step(
            t / scale,
            n,
            where="post",
            color=PALETTE["muted"],
            ls="--",
            lw=1.2,
            label="in the pipeline",
        )
    if not ax.lines:
        _no_data(ax, "no partner live by the horizon")
        return fig
    _finish_partners(ax, horizon_s / scale)
    return fig


def _finish_partners(ax: Any, horizon: float) -> None:
    _horizon_line(ax, horizon)
    top = max(float(np.nanmax(line.get_ydata())) for line in ax.lines if len(line.get_ydata()))
    ax.set_ylim(0, top * 1.08 + 0.3)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    _legend_right(ax)


def _partners_live_arms(arms: dict[str, Results]) -> Figure:
    """:func:`partners_live` of several arms on one axis."""
    fig = _figure()
    ax = fig.subplots()
    _style(ax)
    tables = {arm: _table(r, "partners") for arm, r in arms.items()}
    horizon_s = max([_horizon_s(r) for r in arms.values()] or [0.0])
    for p in tables.values():
        if _has(p, "go_live_s") and np.isfinite(p["go_live_s"].to_numpy(dtype=float)).any():
            horizon_s = max(horizon_s, float(np.nanmax(p["go_live_s"].to_numpy(dtype=float))))
    first = next(iter(arms.values()), None)
    scale, unit = _span(horizon_s)
    ax.set_xlabel(_since_start_label(unit, first))
    ax.set_ylabel("partners (count)")
    ax.set_title("Partners live over time: " + " vs ".join(arms) if arms else "Partners live")
    for i, (arm, p) in enumerate(tables.items()):
        if not _has(p, "go_live_s"):
            continue
        colour = _mode_colour(arm, i)
        live = _live_mask(p, horizon_s)
        t, n = _steps(p["go_live_s"].to_numpy(dtype=float)[live], horizon_s)
        ax.step(t / scale, n, where="post", color=colour, lw=2.2, label=f"{arm}: live")
        t, n = _pipeline(p, live, horizon_s)
        if t.size:
            ax.step(
                t / scale,
                n,
                where="post",
                color=colour,
                ls="--",
                lw=1.3,
                label=f"{arm}: in the pipeline",
            )
    if not ax.lines:
        _no_data(ax)
        return fig
    _finish_partners(ax, horizon_s / scale)
    return fig


def onboarding_gantt(results: Results, max_partners: int = 40) -> Figure:
    """Each onboarded partner's path from arrival to go-live, one bar per partner.

    Traditional projects show two parts: arrival to development start (docking, then waiting
    for engineers; pale) and development start to go-live (development and testing, with
    reworks). API projects (docking, sandbox development and certification are the
    partner's and the review team's) show one bar. Hatched bars were not live by the
    horizon. The first ``max_partners`` partners by arrival are shown.
    """
    p = _table(results, "partners")
    if _has(p, "arrival_s", "go_live_s", "mode"):
        p = p[np.isfinite(p["arrival_s"].to_numpy(dtype=float))]
        if "source" in p.columns:
            p = p[p["source"].astype(str) == "onboarding"]
        p = p.sort_values("arrival_s", kind="stable")
    n_all = len(p) if isinstance(p, pd.DataFrame) else 0
    shown = p.head(max_partners) if n_all else p
    n = min(n_all, max_partners)
    fig = _figure(min(max(3.6, _GANTT_FRAME_IN + _GANTT_ROW_IN * n), _GANTT_MAX_IN))
    ax = fig.subplots()
    _style(ax, grid="x")
    horizon_s = _horizon_s(results)
    if n:
        horizon_s = max(horizon_s, float(np.nanmax(shown["arrival_s"].to_numpy(dtype=float))))
    scale, unit = _span(horizon_s)
    ax.set_xlabel(_since_start_label(unit, results))
    ax.set_ylabel("partner (by arrival)")
    title = "Onboarding timelines"
    if n_all > n:
        title += f" (first {n} of {n_all} partners)"
    ax.set_title(title)
    if not n:
        _no_data(ax)
        return fig
    modes = sorted(shown["mode"].astype(str).unique())
    colour = {m: _mode_colour(m, i) for i, m in enumerate(modes)}
    pale = {m: _lighten(c) for m, c in colour.items()}
    for row, r in enumerate(shown.itertuples(index=False)):
        a, g = float(r.arrival_s), float(r.go_live_s)
        live = math.isfinite(g)
        end = g if live else horizon_s
        mode = str(r.mode)
        d = float(getattr(r, "development_start_s", math.nan))
        # traditional: pale until engineers are assigned (all pale if they never were)
        split = (d if math.isfinite(d) else end) if mode == "traditional" else a
        for lo, hi, waiting in ((a, split, True), (split, end, False)):
            if hi <= lo:
                continue
            ax.barh(
                row,
                (hi - lo) / scale,
                left=lo / scale,
                height=0.7,
                color=pale[mode] if waiting else colour[mode],
                hatch=None if live else "////",
                edgecolor=colour[mode] if waiting else "white",
                lw=0,
            )
    _horizon_line(ax, horizon_s / scale)
    every = _label_every(n, fig.get_figheight())
    rows = range(0, n, every)
    names = shown["partner"].astype(str).to_numpy()
    ax.set_yticks(list(rows), [names[k] for k in rows], fontsize=_GANTT_LABEL_PT)
    if every > 1:
        ax.set_ylabel(f"partner (by arrival; every {every}th named)")
    ax.set_ylim(n - 0.4, -0.6)
    handles = []
    for m in modes:
        if m == "traditional":
            handles.append(
                Patch(color=pale[m], label="traditional: docking, waiting for engineers")
            )
            handles.append(Patch(color=colour[m], label="traditional: development and testing"))
        else:
            handles.append(Patch(color=colour[m], label=f"{m}: docking to go-live"))
    if not shown["go_live_s"].notna().all():
        handles.append(
            Patch(
                facecolor="white",
                edgecolor=PALETTE["muted"],
                hatch="////",
                label="not live by the horizon",
            )
        )
    fig.legend(handles=handles, frameon=False, fontsize=9, loc="outside lower center", ncols=2)
    return fig


_GANTT_ROW_IN = 0.2  # inches per partner row: 8 pt labels (0.11 in) with room between
_GANTT_FRAME_IN = 1.9  # inches of title, axis label and legend around the rows
_GANTT_MAX_IN = 24.0  # the tallest Gantt; beyond it the labels are thinned
_GANTT_LABEL_PT = 8.0


def _label_every(rows: int, height_in: float) -> int:
    """Name every k-th row so that 8 pt labels never overlap in ``height_in`` inches."""
    per_row_in = (height_in - _GANTT_FRAME_IN) / max(rows, 1)
    needed_in = _GANTT_LABEL_PT / 72.0 * 1.45  # a label's height with a little leading
    return max(1, math.ceil(needed_in / max(per_row_in, 1e-9)))


def break_even(results_by_mode: Mapping[str, Results]) -> Figure:
    """Cumulative profit over time for several arms, each arm's payback month marked.

    Args:
        results_by_mode: arm name -> results, e.g. ``{"traditional": r1, "api": r2}``. Profit
            is the bank's (partner-side cost excluded), from each run's ``ledger``; payback is
            the ``payback_month`` KPI (first month whose end sees cumulative profit >= 0).
    """
    fig = _figure()
    ax = fig.subplots()
    _style(ax)
    arms = dict(results_by_mode)
    horizon_s = max([_horizon_s(r) for r in arms.values()] or [0.0])
    first = next(iter(arms.values()), None)
    scale, unit = _span(horizon_s)
    currency = _currency(first) if first is not None else ""
    ax.set_xlabel(_since_start_label(unit, first))
    ax.set_ylabel(f"cumulative profit ({currency})" if currency else "cumulative profit")
    ax.set_title("Break-even: cumulative profit by arm")
    for i, (arm, r) in enumerate(arms.items()):
        ledger = _table(r, "ledger")
        if not _has(ledger, "t_s", "category", "amount"):
            continue
        colour = _mode_colour(arm, i)
        bank = (
            ledger["amount"]
            .astype(float)
            .where(ledger["category"].astype(str) != "partner_cost", 0.0)
        )
        t, v = _extend(*_cumulative(ledger, bank), max(horizon_s, float(ledger["t_s"].max())))
        payback = float(r.kpis.get("payback_month", math.nan))
        label = (
            f"{arm} (payback month {payback:g})"
            if math.isfinite(payback)
            else f"{arm} (no payback by the horizon)"
        )
        ax.step(t / scale, v, where="post", color=colour, lw=1.8, label=label)
        if math.isfinite(payback):
            at = min(payback * SECONDS_PER_MONTH, t[-1])
            k = int(np.searchsorted(t, at, side="right")) - 1
            ax.axvline(at / scale, color=colour, lw=0.9, ls=":")
            ax.plot(at / scale, v[max(k, 0)], "o", color=colour, ms=7, mec="white")
            ax.annotate(
                f"month {payback:g}",
                (at / scale, v[max(k, 0)]),
                xytext=(6, -14 if i % 2 else 6),
                textcoords="offset points",
                fontsize=8,
                color=colour,
            )
    if not ax.lines:
        _no_data(ax)
        return fig
    ax.axhline(0.0, color="black", lw=0.8)
    _horizon_line(ax, horizon_s / scale)
    ax.yaxis.set_major_formatter(FuncFormatter(_short_number))
    _legend(ax, loc="best")
    return fig


def time_to_market_hist(results_by_mode: Mapping[str, Results] | Results) -> Figure:
    """Overlaid histograms of time to market (days from arrival to go-live) by arm.

    Only onboarded partners live by the horizon count (the legend says how many others
    were still in the pipeline: their time to market is unknown, at least the time since
    arrival).

    Args:
        results_by_mode: arm name -> results, e.g. ``{"traditional": r1, "api": r2}``; or one
            :class:`Results`, split by each partner's integration mode.
    """
    fig = _figure()
    ax = fig.subplots()
    _style(ax, grid="y")
    ax.set_xlabel("time to market (days from arrival to go-live)")
    ax.set_ylabel("partners (count)")
    ax.set_title("Time to market")
    if isinstance(results_by_mode, Mapping):
        arms = {arm: _table(r, "partners") for arm, r in results_by_mode.items()}
    else:
        p = _table(results_by_mode, "partners")
        arms = (
            {m: g for m, g in p.groupby(p["mode"].astype(str), sort=True)}
            if _has(p, "mode")
            else {}
        )
    data: dict[str, tuple[np.ndarray, int]] = {}
    for arm, p in arms.items():
        if not _has(p, "time_to_market_days"):
            continue
        if "source" in p.columns:
            p = p[p["source"].astype(str) == "onboarding"]
        ttm = p["time_to_market_days"].to_numpy(dtype=float)
        waiting = int((~np.isfinite(ttm)).sum()) if "arrival_s" in p.columns else 0
        data[arm] = (ttm[np.isfinite(ttm)], waiting)
    values = [v for v, _ in data.values() if v.size]
    if not values:
        _no_data(ax)
        return fig
    everything = np.concatenate(values)
    lo, hi = float(everything.min()), float(everything.max())
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.histogram_bin_edges(
        everything, bins=int(np.clip(2 * np.sqrt(everything.size), 15, 40)), range=(lo, hi)
    )
    for i, (arm, (v, waiting)) in enumerate(data.items()):
        if not v.size:
            continue
        colour = _mode_colour(arm, i)
        label = f"{arm}: {v.size} live, mean {v.mean():.0f} d"
        if waiting:
            label += f", {waiting} in the pipeline"
        ax.hist(v, bins=edges, color=colour, alpha=0.45, label=label)
        ax.hist(v, bins=edges, color=colour, histtype="step", lw=1.4)
        ax.axvline(v.mean(), color=colour, ls="--", lw=1.2)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(left=0)
    _legend(ax, loc="best")
    return fig
