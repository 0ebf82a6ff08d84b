"""Figures of experiments: sweeps, the rate-limit trade-off, heatmaps, sensitivity, and the
configurations an optimization explored."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import (
    PercentFormatter,
)

if TYPE_CHECKING:
    from ..analysis.results import Results
from ._style import (
    _CYCLE,
    _WIDTH_IN,
    PALETTE,
    _ci,
    _figure,
    _fmt_value,
    _has,
    _label_points,
    _legend,
    _lighten,
    _no_data,
    _runs_table,
    _short_names,
    _style,
    _varied,
)

__all__ = [
    "optimization_map",
    "rate_limit_tradeoff",
    "sensitivity_bars",
    "sweep_effects",
    "sweep_heatmap",
    "throughput_vs_load",
]


def throughput_vs_load(
    table: pd.DataFrame | Sequence[Results],
    offered: str = "offered_per_s",
    throughput: str = "throughput_ok_per_s",
    *,
    by: str | None = None,
    measured_s: float | None = None,
    labels: Sequence[str] | None = None,
) -> Figure:
    """Throughput (ok calls per second) against offered load (attempts per second).

    Args:
        table: either a sweep summary (:meth:`~openbank_sim.experiment.SweepResult.summary`,
            one row per point) or any DataFrame with one row per run or point, or a list of
            :class:`Results`. A DataFrame needs the ``throughput`` column (ok calls per
            second; ``throughput_ok_per_s`` by default) and the offered load in attempts per
            second: the ``offered`` column when present; else ``calls_total / measured_s``
            when ``calls_total`` is there and ``measured_s`` (horizon minus warm-up, seconds)
            is given; else ``throughput_ok_per_s / success_rate`` (exact per run,
            approximate for means over replications). ``<col>_ci_low`` / ``<col>_ci_high``
            columns, when present, give error bars. A list of :class:`Results` is turned into
            such a table (``calls_total`` over the measured time of each run).
        offered: column of offered load (attempts/s), or any column to put on the x axis.
        throughput: column of throughput (ok calls/s).
        by: a column whose values each get their own line (e.g.
            ``"bank.pools.core.servers"``); without it the points are not joined.
        measured_s: measured time per run (seconds), to derive the offered load from
            ``calls_total``.
        labels: names of the runs when ``table`` is a list of :class:`Results`.
    """
    fig = _figure()
    ax = fig.subplots()
    _style(ax)
    df = table if isinstance(table, pd.DataFrame) else _runs_table(list(table), labels)
    df = df.copy()
    derived = offered not in df.columns
    if derived and len(df):
        if "calls_total" in df.columns and measured_s:
            df[offered] = df["calls_total"] / float(measured_s)
            for side in ("ci_low", "ci_high"):
                if f"calls_total_{side}" in df.columns:
                    df[f"{offered}_{side}"] = df[f"calls_total_{side}"] / float(measured_s)
        elif {"throughput_ok_per_s", "success_rate"} <= set(df.columns):
            df[offered] = df["throughput_ok_per_s"] / df["success_rate"].where(
                df["success_rate"] > 0
            )
    default_x = derived or offered == "offered_per_s"
    ax.set_xlabel("offered load (attempts/s)" if default_x else offered)
    ax.set_ylabel("throughput (ok calls/s)")
    ax.set_title("Throughput against offered load")
    if not _has(df, offered, throughput):
        _no_data(ax)
        return fig
    df = df.replace([np.inf, -np.inf], np.nan).dropna(subset=[offered, throughput])
    if not len(df):
        _no_data(ax)
        return fig
    groups = (
        list(df.groupby(by, sort=True)) if by is not None and by in df.columns else [(None, df)]
    )
    for i, (key, g) in enumerate(groups):
        g = g.sort_values(offered)
        label = f"{_short_names([by])[by]}={_fmt_value(key)}" if by is not None else None
        ax.errorbar(
            g[offered],
            g[throughput],
            xerr=_ci(g, offered),
            yerr=_ci(g, throughput),
            marker="o",
            ms=5,
            lw=1.6 if by is not None else 0,
            elinewidth=1,
            capsize=3,
            color=_CYCLE[i % len(_CYCLE)],
            label=label,
        )
    top = float(max(df[offered].max(), df[throughput].max())) * 1.05
    ax.plot([0, top], [0, top], color=PALETTE["muted"], ls="--", lw=1, label="every attempt ok")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    if "label" in df.columns and not isinstance(table, pd.DataFrame):
        for label, x, y in zip(df["label"], df[offered], df[throughput], strict=True):
            ax.annotate(
                str(label),
                (x, y),
                xytext=(5, -10),
                textcoords="offset points",
                fontsize=8,
            )
    _legend(ax, loc="upper left")
    return fig


def rate_limit_tradeoff(
    summary: pd.DataFrame,
    *,
    latency: str = "latency_p95_s",
    params: Sequence[str] | None = None,
) -> Figure:
    """Share of calls rate limited (429) against p95 latency, one point per sweep point.

    Points are coloured by the varied parameter with the fewest levels and labelled with the
    values of the others (points that fall on the same spot share one label).

    Args:
        summary: a sweep summary (:meth:`~openbank_sim.experiment.SweepResult.summary`) with
            ``calls_rate_limited`` and ``calls_total`` (or a ``rate_limited_share`` column)
            and ``latency``; ``_ci_low`` / ``_ci_high`` columns give error bars (the share's
            interval is ``calls_rate_limited``'s over the mean ``calls_total``).
        latency: the latency KPI in seconds (plotted in ms).
        params: the varied parameters to annotate each point with (default: the summary's
            columns before ``replications``).
    """
    fig = _figure(5.0)
    ax = fig.subplots()
    _style(ax)
    ax.set_xlabel("calls rate limited (429 share of attempts)")
    pretty = latency.removeprefix("latency_").removesuffix("_s")
    ax.set_ylabel(f"{pretty} latency of ok calls (ms)")
    ax.set_title("Rate limiting against latency across the sweep")
    df = summary.copy() if isinstance(summary, pd.DataFrame) else pd.DataFrame()
    share = "rate_limited_share"
    if share not in df.columns and _has(df, "calls_rate_limited", "calls_total"):
        total = df["calls_total"].where(df["calls_total"] > 0)
        df[share] = df["calls_rate_limited"] / total
        for side in ("ci_low", "ci_high"):
            if f"calls_rate_limited_{side}" in df.columns:
                df[f"{share}_{side}"] = df[f"calls_rate_limited_{side}"] / total
    if not _has(df, share, latency) or df[[share, latency]].dropna().empty:
        _no_data(ax)
        return fig
    dropped = len(df) - int(df[[share, latency]].notna().all(axis=1).sum())
    df = df.dropna(subset=[share, latency]).reset_index(drop=True)
    params = [p for p in (params if params is not None else _varied(df)) if p in df.columns]
    short = _short_names(params)
    levels = {p: df[p].nunique() for p in params}
    colour_by = min(
        (p for p in params if 1 < levels[p] <= len(_CYCLE)), key=levels.get, default=None
    )
    groups = list(df.groupby(colour_by, sort=True)) if colour_by else [(None, df)]
    for i, (key, g) in enumerate(groups):
        ax.errorbar(
            g[share],
            g[latency] * 1000.0,
            xerr=_ci(g, share),
            yerr=_ci(g, latency, 1000.0),
            fmt="o",
            ms=6,
            color=_CYCLE[i % len(_CYCLE)],
            ecolor=_lighten(_CYCLE[i % len(_CYCLE)], 0.4),
            elinewidth=1,
            capsize=3,
            label=f"{short[colour_by]}={_fmt_value(key)}" if colour_by else None,
        )
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    right = 1.0 if df[share].max() > 0.5 else max(0.01, float(df[share].max()) * 1.25)
    ax.set_xlim(-0.03 * right, right)
    ax.set_ylim(bottom=0)
    if dropped:
        ax.text(
            1.0,
            0.01,
            f"{dropped} point(s) without ok calls not shown",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=8,
            color=PALETTE["muted"],
        )
    rest = [p for p in params if p != colour_by]
    if rest:
        _label_points(ax, df, share, latency, rest)
    if colour_by or rest:
        title = "labels: " + " / ".join(short[p] for p in rest) if rest else None
        handles, _ = ax.get_legend_handles_labels()
        if handles:
            ax.legend(
                frameon=False,
                fontsize=9,
                title=title,
                title_fontsize=8,
                loc="upper left",
                bbox_to_anchor=(1.01, 1.0),
                alignment="left",
            )
        elif title:
            ax.text(1.01, 1.0, title, transform=ax.transAxes, fontsize=8, va="top")
    return fig


def sweep_heatmap(
    summary: pd.DataFrame,
    x: str,
    y: str,
    kpi: str,
    *,
    fmt: str = "{:.3g}",
    cmap: str = "viridis",
) -> Figure:
    """A KPI's mean over two varied parameters, one annotated cell per pair of values.

    Points that differ in other varied parameters are averaged into their cell (the title
    says so).

    Args:
        summary: a sweep summary (one row per point) or sweep table (one row per run).
        x: the varied parameter (dotted path) along the x axis.
        y: the varied parameter along the y axis.
        kpi: the KPI to colour by (in its own unit, e.g. seconds for ``latency_p95_s``).
        fmt: format of the value written in each cell.
        cmap: a matplotlib colour map name.
    """
    fig = _figure(4.8)
    ax = fig.subplots()
    short = _short_names([x, y]) if x != y else {x: x}
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{kpi} by {short[x]} and {short[y]}")
    if not _has(summary, x, y, kpi) or summary[kpi].dropna().empty:
        _style(ax)
        _no_data(ax)
        return fig
    grid = summary.pivot_table(index=y, columns=x, values=kpi, aggfunc="mean", sort=True)
    others = [p for p in _varied(summary) if p not in (x, y)]
    if others and summary.groupby([x, y]).size().max() > 1:
        ax.set_title(f"{kpi} by {short[x]} and {short[y]} (mean over {', '.join(others)})")
    values = grid.to_numpy(dtype=float)
    im = ax.imshow(np.ma.masked_invalid(values), origin="lower", aspect="auto", cmap=cmap)
    ax.set_xticks(range(grid.shape[1]), [_fmt_value(v) for v in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [_fmt_value(v) for v in grid.index])
    ax.tick_params(labelsize=9, length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    size = 10 if values.size <= 36 else 8
    for (i, j), v in np.ndenumerate(values):
        if not math.isfinite(v):
            ax.text(j, i, "–", ha="center", va="center", color=PALETTE["muted"])
            continue
        r, g, b, _ = im.cmap(im.norm(v))
        colour = "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.55 else "black"
        ax.text(j, i, fmt.format(v), ha="center", va="center", color=colour, fontsize=size)
    fig.colorbar(im, ax=ax, label=kpi, shrink=0.9)
    return fig


def sweep_effects(summary: pd.DataFrame, params: list[str], kpis: list[str]) -> Figure:
    """Each KPI's mean (with its confidence interval) against each varied parameter.

    Args:
        summary: :meth:`openbank_sim.experiment.SweepResult.summary` (one row per point).
        params: varied parameters (dotted paths) to put on the x axes.
        kpis: KPIs to plot, one row of panels each.
    """
    fig = Figure(
        figsize=(max(_WIDTH_IN, 3.6 * len(params)), 0.6 + 2.6 * max(1, len(kpis))),
        dpi=100,
        layout="constrained",
    )
    axes = fig.subplots(max(1, len(kpis)), max(1, len(params)), squeeze=False)
    for i, kpi in enumerate(kpis):
        for j, param in enumerate(params):
            ax = axes[i][j]
            _style(ax)
            ax.set_xlabel(param if i == len(kpis) - 1 else "", fontsize=9)
            ax.set_ylabel(kpi if j == 0 else "", fontsize=9)
            if not _has(summary, param, kpi):
                _no_data(ax)
                continue
            others = [p for p in params if p != param and p in summary.columns]
            groups = summary.groupby(others, sort=True) if others else [((), summary)]
            for k, (key, g) in enumerate(groups):
                g = g.sort_values(param)
                keys = key if isinstance(key, tuple) else (key,)
                short = _short_names(others)
                label = ", ".join(
                    f"{short[o]}={_fmt_value(v)}" for o, v in zip(others, keys, strict=False)
                )
                ax.errorbar(
                    g[param],
                    g[kpi],
                    yerr=_ci(g, kpi),
                    marker="o",
                    ms=4,
                    capsize=3,
                    lw=1.4,
                    color=_CYCLE[k % len(_CYCLE)],
                    label=label or None,
                )
            if others and i == len(kpis) - 1:  # each column groups by the other parameters
                ax.legend(
                    frameon=False,
                    fontsize=7.5,
                    loc="upper center",
                    bbox_to_anchor=(0.5, -0.22),
                    ncols=2 if len(groups) > 3 else 1,
                )
    if not kpis or not params:
        _no_data(axes[0][0])
    fig.suptitle("Sweep effects (mean and confidence interval per point)", fontsize=11)
    return fig


def sensitivity_bars(indices: pd.DataFrame, kpi: str) -> Figure:
    """Bar chart of sensitivity indices from :func:`openbank_sim.sensitivity.sensitivity`.

    Sobol indices (``S1``, ``ST``) when present, else Morris ``mu_star``.
    """
    n = len(indices) if isinstance(indices, pd.DataFrame) else 0
    fig = _figure(max(2.5, 0.9 + 0.45 * n))
    ax = fig.subplots()
    _style(ax, grid="x")
    ax.set_title(f"Sensitivity of {kpi}")
    ax.set_ylabel("parameter")
    if _has(indices, "parameter", "ST", "S1"):
        y = np.arange(n)
        ax.barh(
            y - 0.2,
            indices["ST"],
            height=0.4,
            xerr=indices["ST_conf"] if "ST_conf" in indices.columns else None,
            label="total (ST)",
            color=PALETTE["p95"],
        )
        ax.barh(
            y + 0.2,
            indices["S1"],
            height=0.4,
            xerr=indices["S1_conf"] if "S1_conf" in indices.columns else None,
            label="first order (S1)",
            color=PALETTE["p50"],
        )
        ax.set_xlabel("Sobol index (share of variance)")
    elif _has(indices, "parameter", "mu_star"):
        ax.barh(
            range(n),
            indices["mu_star"],
            xerr=indices["mu_star_conf"] if "mu_star_conf" in indices.columns else None,
            color=PALETTE["p50"],
            label="mu*",
        )
        ax.set_xlabel(f"mean |elementary effect| (mu*, units of {kpi})")
    else:
        ax.set_xlabel("sensitivity index")
        _no_data(ax)
        return fig
    ax.set_yticks(range(n), indices["parameter"], fontsize=9)
    ax.invert_yaxis()
    _legend(ax, loc="lower right")
    return fig


_STATUS_STYLE = {
    # status: (label, marker, colour, filled)
    "feasible": ("feasible", "o", PALETTE["ok"], True),
    "infeasible": ("infeasible", "X", PALETTE["overloaded"], True),
    "undecided": ("undecided", "s", PALETTE["p95"], False),
    "failed": ("a run failed", "X", PALETTE["error"], True),
    "searched": ("explored by the search only", ".", PALETTE["muted"], True),
    "not run": ("not needed (costlier than the chosen)", "o", PALETTE["muted"], False),
}


def optimization_map(
    result: object, x: str | None = None, y: str | None = None, *, title: str | None = None
) -> Figure:
    """The configurations an optimization explored: feasible, infeasible, undecided, and the
    chosen one (a star), over two varied parameters.

    Args:
        result: an :class:`~openbank_sim.experiments.OptimizeResult`, or its
            ``configurations`` table (one row per configuration: ``point``, the parameters,
            ``role``, ``status``, ``chosen``, ``replications``).
        x, y: the parameters on the axes (default: the first two; with one parameter, ``y``
            is the first metric of the table, e.g. a constrained KPI in its unit).
        title: the figure's title.

    Each point is labelled with its replications; configurations that differ only in other
    parameters share a spot, drawn side by side.
    """
    table = getattr(result, "configurations", result)
    fig = _figure(4.6)
    ax = fig.subplots()
    _style(ax)
    ax.set_title(title or "Configurations explored by the optimization")
    ax.set_xlabel(x or "parameter")
    ax.set_ylabel(y or "parameter")
    if not isinstance(table, pd.DataFrame) or not _has(table, "point", "role", "status"):
        _no_data(ax)
        return fig
    cols = list(table.columns)
    params = cols[cols.index("point") + 1 : cols.index("role")]
    if not params or table.empty:
        _no_data(ax)
        return fig
    x = x or params[0]
    if y is None:
        if len(params) > 1:
            y = params[1]
        else:  # the first constrained metric, else the first metric of the table
            cert = getattr(result, "certificate", None) or {}
            constrained = [c.split("<=")[0].split(">=")[0] for c in cert.get("constraints", [])]
            after = cols[cols.index("chosen") + 1 :] if "chosen" in cols else []
            metrics = [c for c in after if not c.startswith("meets ")]
            y = next((c for c in constrained if c in metrics), metrics[0] if metrics else None)
    if y is None or not _has(table, x, y):
        _no_data(ax)
        return fig
    df = table.copy()
    categorical = {}
    for axis, col in (("x", x), ("y", y)):
        if not pd.api.types.is_numeric_dtype(df[col]):
            levels = list(dict.fromkeys(df[col].tolist()))
            categorical[axis] = levels
            df[col] = df[col].map({v: i for i, v in enumerate(levels)})
    # side by side where several configurations share a spot
    xs = df[x].astype(float).to_numpy()
    ys = df[y].astype(float).to_numpy()
    spots = pd.Series(list(zip(xs, ys, strict=True)))
    rank = spots.groupby(spots).cumcount().to_numpy()
    count = spots.map(spots.value_counts()).to_numpy()
    span = np.ptp(xs) if np.ptp(xs) > 0 else 1.0
    step = span / max(8.0, 4.0 * len(np.unique(xs)))
    xs = xs + (rank - (count - 1) / 2.0) * step
    for status, (label, marker, colour, filled) in _STATUS_STYLE.items():
        mask = (df["status"] == status).to_numpy()
        if not mask.any():
            continue
        ax.scatter(
            xs[mask],
            ys[mask],
            s=28 if status in ("searched", "not run") else 70,
            marker=marker,
            facecolors=colour if filled else "none",
            edgecolors=colour,
            linewidths=1.5,
            label=label,
            zorder=3,
        )
    chosen = df["chosen"].fillna(False).astype(bool).to_numpy() if "chosen" in df else None
    if chosen is not None and chosen.any():
        ax.scatter(
            xs[chosen],
            ys[chosen],
            s=330,
            marker="*",
            facecolors="none",
            edgecolors="black",
            linewidths=1.6,
            label="chosen",
            zorder=4,
        )
    if "replications" in df.columns:
        for xi, yi, n, role in zip(xs, ys, df["replications"], df["role"], strict=True):
            if role == "candidate" and n:
                ax.annotate(
                    f"{int(n)}",
                    (xi, yi),
                    xytext=(6, 5),
                    textcoords="offset points",
                    fontsize=7.5,
                    color=PALETTE["muted"],
                )
    short = _short_names([x, y]) if x != y else {x: x}
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    for axis, col in (("x", x), ("y", y)):
        if axis in categorical:
            ticks: list[float] = list(range(len(categorical[axis])))
            labels = [_fmt_value(v) for v in categorical[axis]]
        else:  # the values a parameter takes, when they are few
            ticks = sorted(set(df[col].dropna().astype(float)))
            if col not in params or len(ticks) > 12:
                continue
            labels = [_fmt_value(v) for v in ticks]
        if axis == "x":
            ax.set_xticks(ticks, labels)
        else:
            ax.set_yticks(ticks, labels)
    others = [p for p in params if p not in (x, y)]
    note = "numbers: replications"
    if others:
        note += f"; side by side: {', '.join(_short_names(others).values())}"
    ax.text(
        1.0, -0.16, note, transform=ax.transAxes, ha="right", fontsize=8, color=PALETTE["muted"]
    )
    ax.legend(
        frameon=False,
        fontsize=9,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        title=f"{short[x]} x {short[y]}",
        title_fontsize=8,
    )
    return fig
