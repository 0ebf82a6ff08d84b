"""Figures of experiments: sweeps, the rate-limit trade-off, heatmaps, sensitivity, and the
configurations an optimization explored."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import (
    PercentFormatter,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..analysis.results import Results
from ._labels import KpiTarget, kpi_label, kpi_scale, number_text, param_label, param_name
from ._style import (
    _CYCLE,
    _WIDTH_IN,
    PALETTE,
    _axis_words,
    _ci,
    _figure,
    _fmt_value,
    _has,
    _is_categorical,
    _label_points,
    _legend,
    _legend_below,
    _lighten,
    _no_data,
    _runs_table,
    _scenario_of,
    _style,
    _varied,
)
from ._targets import (
    MEETS,
    MEETS_STYLE,
    MISSES,
    MISSES_STYLE,
    meets_all,
    pass_fail_handles,
    targets_of,
    threshold_line,
)

__all__ = [
    "rate_limit_tradeoff",
    "sweep_effects",
    "sweep_heatmap",
    "throughput_vs_load",
]

Targets = str | KpiTarget | Sequence[str | KpiTarget] | None
"""One target or several: ``"KPI>=VALUE"`` / ``"KPI<=VALUE"`` (the bound in the KPI's own
unit, e.g. seconds for ``latency_p95_s``), as ``optimize --subject-to`` writes them."""


def throughput_vs_load(
    table: pd.DataFrame | Sequence[Results],
    offered: str = "offered_per_s",
    throughput: str = "throughput_ok_per_s",
    *,
    by: str | None = None,
    measured_s: float | None = None,
    labels: Sequence[str] | None = None,
    scenario: Any = None,
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
        scenario: the scenario (a Scenario or its dict), for the names in the legend.
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
    ax.set_xlabel("offered load (attempts/s)" if default_x else _axis_words(offered))
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
        label = _fmt_value(key) if by is not None else None
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
    title = param_label(by, _scenario_of(scenario)) if by is not None else None
    _legend(ax, loc="upper left", title=title, title_fontsize=8, alignment="left")
    return fig


def rate_limit_tradeoff(
    summary: pd.DataFrame,
    *,
    latency: str = "latency_p95_s",
    params: Sequence[str] | None = None,
    targets: Targets = None,
    scenario: Any = None,
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
        targets: thresholds a point should meet, e.g. ``["latency_p95_s<=1",
            "calls_rate_limited/calls_total<=0.01"]`` (any KPI of the summary, or a ratio of
            two); a point meeting all is a circle, one missing any a cross, and a target on
            either axis is a dashed line named in the legend.
        scenario: the scenario (a Scenario or its dict), for names (limits, partners) and the
            currency in the labels.
    """
    raw = _scenario_of(scenario)
    fig = _figure(5.0)
    ax = fig.subplots()
    _style(ax)
    ax.set_xlabel(kpi_label("rate_limited_share"))
    ax.set_ylabel(kpi_label(latency))
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
    wanted = targets_of(targets)
    met = meets_all(df, wanted) if wanted else None
    params = [p for p in (params if params is not None else _varied(df)) if p in df.columns]
    levels = {p: df[p].nunique() for p in params}
    colour_by = min(
        (p for p in params if 1 < levels[p] <= len(_CYCLE)), key=levels.get, default=None
    )
    groups = list(df.groupby(colour_by, sort=True)) if colour_by else [(None, df)]
    group_handles = []
    for i, (key, g) in enumerate(groups):
        colour = _CYCLE[i % len(_CYCLE)]
        ax.errorbar(
            g[share],
            g[latency] * 1000.0,
            xerr=_ci(g, share),
            yerr=_ci(g, latency, 1000.0),
            fmt="none",
            ecolor=_lighten(colour, 0.4),
            elinewidth=1,
            capsize=3,
        )
        rows = g.index.to_numpy()
        marks = (
            [(None, rows)] if met is None else [(True, rows[met[rows]]), (False, rows[~met[rows]])]
        )
        for meets, idx in marks:
            if not len(idx):
                continue
            ax.scatter(
                df.loc[idx, share],
                df.loc[idx, latency] * 1000.0,
                s=48 if meets is not False else 64,
                marker="X" if meets is False else "o",
                color=colour,
                zorder=3,
                gid=None if meets is None else (MEETS if meets else MISSES),
            )
        if colour_by:
            group_handles.append(Patch(color=colour, label=_fmt_value(key)))
    for t in wanted:
        if t.kpi == latency:
            threshold_line(ax, t, "y")
        elif t.kpi in (share, "calls_rate_limited/calls_total"):
            ax.axvline(t.bound, color="black", ls="--", lw=1.1, label=t.text(), zorder=2)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    right = 1.0 if df[share].max() > 0.5 else max(0.01, float(df[share].max()) * 1.25)
    for t in wanted:
        if t.kpi in (share, "calls_rate_limited/calls_total") and t.bound < 1.0:
            right = max(right, t.bound * 1.15)
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
    handles = group_handles + ax.get_legend_handles_labels()[0]
    if met is not None:
        handles += _black(pass_fail_handles(met), wanted)
    title_lines = [param_label(colour_by, raw)] if colour_by else []
    if rest:
        title_lines.append("labels: " + " / ".join(param_name(p, raw) for p in rest))
    if handles:
        _legend(
            ax,
            handles=handles,
            title="\n".join(title_lines) or None,
            title_fontsize=8,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            alignment="left",
        )
    elif title_lines:
        ax.text(1.01, 1.0, "\n".join(title_lines), transform=ax.transAxes, fontsize=8, va="top")
    return fig


def _black(handles: list[Any], wanted: Sequence[KpiTarget]) -> list[Any]:
    """Pass/fail legend handles in black (where colour already means a parameter's value),
    saying "every target" when there are several."""
    for h in handles:
        h.set_color("black")
        if len(wanted) > 1:
            h.set_label(
                h.get_label()
                .replace("the target", "every target", 1)
                .replace("misses every target", "misses a target")
            )
    return handles


def sweep_heatmap(
    summary: pd.DataFrame,
    x: str,
    y: str,
    kpi: str,
    *,
    fmt: str | None = None,
    cmap: str = "viridis",
    target: str | KpiTarget | None = None,
    scenario: Any = None,
) -> Figure:
    """A KPI's mean over two varied parameters, one annotated cell per pair of values.

    Points that differ in other varied parameters are averaged into their cell (the title
    says so). Latencies are shown in ms, other KPIs in their own unit.

    Args:
        summary: a sweep summary (one row per point) or sweep table (one row per run).
        x: the varied parameter (dotted path) along the x axis.
        y: the varied parameter along the y axis.
        kpi: the KPI to colour by.
        fmt: format of the value written in each cell (in the unit shown, e.g. ``"{:.2f}"``);
            default about three significant figures, never in scientific notation.
        cmap: a matplotlib colour map name.
        target: ``"KPI>=VALUE"`` or ``"KPI<=VALUE"`` on ``kpi`` (bound in the KPI's own unit,
            e.g. ``"success_rate>=0.99"``): cells that meet it get a black outline, cells that
            miss it a hatch, and the legend says the threshold.
        scenario: the scenario (a Scenario or its dict), for names and the currency.

    Raises:
        ValueError: a target on another KPI, or not of the form ``KPI>=VALUE``.
    """
    raw = _scenario_of(scenario)
    currency = str((raw or {}).get("currency", "") or "")
    wanted = targets_of(target)
    if wanted and wanted[0].kpi != kpi:
        raise ValueError(f"the target is on {wanted[0].kpi!r}, the heatmap shows {kpi!r}")
    fig = _figure(4.8)
    ax = fig.subplots()
    ax.set_xlabel(param_label(x, raw))
    ax.set_ylabel(param_label(y, raw))
    what = kpi_label(kpi, currency).split(" (")[0]
    title = f"{what} by {param_name(x, raw)} and {param_name(y, raw)}"
    ax.set_title(title)
    if not _has(summary, x, y, kpi) or summary[kpi].dropna().empty:
        _style(ax)
        _no_data(ax)
        return fig
    grid = summary.pivot_table(index=y, columns=x, values=kpi, aggfunc="mean", sort=True)
    others = [p for p in _varied(summary) if p not in (x, y)]
    if others and summary.groupby([x, y]).size().max() > 1:
        names = ", ".join(param_name(p, raw) for p in others)
        ax.set_title(f"{title}\n(mean over {names})", fontsize=11)
    raw_values = grid.to_numpy(dtype=float)
    values = raw_values * kpi_scale(kpi)
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
        text = fmt.format(v) if fmt is not None else number_text(v)
        ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=size)
    if wanted:
        _mark_cells(ax, raw_values, wanted[0], currency)
    fig.colorbar(im, ax=ax, label=kpi_label(kpi, currency), shrink=0.9)
    return fig


def _mark_cells(ax: Axes, values: np.ndarray, target: KpiTarget, currency: str) -> None:
    """Outline the cells of ``values`` (the KPI in its own unit) that meet ``target``, hatch
    those that miss it, and say which is which below the axes."""
    met = target.met(values)
    for (i, j), v in np.ndenumerate(values):
        if not math.isfinite(v):
            continue
        if met[i, j]:
            patch = Rectangle(
                (j - 0.46, i - 0.46), 0.92, 0.92, fill=False, edgecolor="black", lw=2.2
            )
            patch.set_gid(MEETS)
        else:
            patch = Rectangle(
                (j - 0.5, i - 0.5), 1.0, 1.0, fill=False, hatch="//", edgecolor="white", lw=0
            )
            patch.set_gid(MISSES)
        ax.add_patch(patch)
    handles = [
        Patch(facecolor="none", edgecolor="black", lw=2.2, label=f"meets {target.text(currency)}"),
        Patch(facecolor=PALETTE["muted"], edgecolor="white", hatch="//", label="misses it"),
    ]
    _legend_below(ax, -0.13, handles=handles, fontsize=8.5, ncols=2)


def _target_lines(ax: Axes, targets: bool) -> list[Any]:
    """The axes' labelled artists that are target lines (``targets``), or all the others."""
    return [
        h
        for h in ax.get_legend_handles_labels()[0]
        if h.get_label().startswith("target:") == targets
    ]


def sweep_effects(
    summary: pd.DataFrame,
    params: list[str],
    kpis: list[str],
    *,
    targets: Targets = None,
    scenario: Any = None,
) -> Figure:
    """Each KPI's mean (with its confidence interval) against each varied parameter.

    A numeric parameter's points are joined by lines (one per combination of the other
    parameters); a categorical one (strings such as ``onboarding.integration = api |
    traditional``) is drawn as dots with error bars at each category, side by side, never
    joined. Latencies are shown in ms.

    Args:
        summary: :meth:`openbank_sim.experiment.SweepResult.summary` (one row per point).
        params: varied parameters (dotted paths) to put on the x axes.
        kpis: KPIs to plot, one row of panels each.
        targets: thresholds (``"KPI>=VALUE"``, bound in the KPI's own unit): in the row of
            that KPI a dashed line marks the bound, points that meet it are circles and
            points that miss it crosses.
        scenario: the scenario (a Scenario or its dict), for names and the currency.
    """
    raw = _scenario_of(scenario)
    currency = str((raw or {}).get("currency", "") or "")
    wanted = targets_of(targets)
    fig = Figure(
        figsize=(max(_WIDTH_IN, 3.6 * len(params)), 0.6 + 2.6 * max(1, len(kpis))),
        dpi=100,
        layout="constrained",
    )
    axes = fig.subplots(max(1, len(kpis)), max(1, len(params)), squeeze=False)
    for i, kpi in enumerate(kpis):
        on_kpi = [t for t in wanted if t.kpi == kpi]
        for j, param in enumerate(params):
            ax = axes[i][j]
            _style(ax)
            ax.set_xlabel(param_label(param, raw) if i == len(kpis) - 1 else "", fontsize=9)
            ax.set_ylabel(kpi_label(kpi, currency) if j == 0 else "", fontsize=9)
            if not _has(summary, param, kpi):
                _no_data(ax)
                continue
            others = [p for p in params if p != param and p in summary.columns]
            n_groups = _effect_panel(ax, summary, param, kpi, others, on_kpi, raw)
            for t in on_kpi:
                threshold_line(ax, t, "y", currency)
            if on_kpi and j == len(params) - 1:
                met = meets_all(summary, on_kpi)
                handles = _target_lines(ax, True)
                handles += (
                    _black(pass_fail_handles(met, 6.0), on_kpi)
                    if n_groups > 1
                    else pass_fail_handles(met, 6.0)
                )
                _legend(ax, handles=handles, fontsize=7.5, loc="best")
            if others and i == len(kpis) - 1:  # each column groups by the other parameters
                below = _legend_below(
                    ax,
                    -0.22,
                    handles=_target_lines(ax, False),
                    fontsize=7.5,
                    ncols=2 if n_groups > 3 else 1,
                )
                if below is not None:
                    ax.add_artist(below)
    if not kpis or not params:
        _no_data(axes[0][0])
    fig.suptitle("Sweep effects (mean and confidence interval per point)", fontsize=11)
    return fig


def _effect_panel(
    ax: Axes,
    summary: pd.DataFrame,
    param: str,
    kpi: str,
    others: list[str],
    on_kpi: list[KpiTarget],
    raw: Mapping[str, Any] | None,
) -> int:
    """One panel of :func:`sweep_effects`: a group per combination of ``others``; the number
    of groups."""
    scale = kpi_scale(kpi)
    categorical = _is_categorical(summary[param])
    levels = list(dict.fromkeys(summary[param].tolist())) if categorical else []
    groups = list(summary.groupby(others, sort=True)) if others else [((), summary)]
    width = 0.5 / max(1, len(groups))
    for k, (key, g) in enumerate(groups):
        g = g.sort_values(param) if not categorical else g
        keys = key if isinstance(key, tuple) else (key,)
        label = ", ".join(
            f"{param_name(o, raw)}: {_fmt_value(v)}" for o, v in zip(others, keys, strict=False)
        )
        colour = _CYCLE[k % len(_CYCLE)]
        if categorical:
            x = np.array([levels.index(v) for v in g[param]], dtype=float)
            x = x + (k - (len(groups) - 1) / 2.0) * width
        else:
            x = g[param].to_numpy(dtype=float)
        y = g[kpi].to_numpy(dtype=float) * scale
        ax.errorbar(
            x,
            y,
            yerr=_ci(g, kpi, scale),
            fmt="none" if categorical else "-",
            capsize=3,
            lw=1.4,
            color=colour,
            label=label or None,
        )
        met = meets_all(g, on_kpi) if on_kpi else None
        single = len(groups) == 1 and met is not None
        for meets, mask in (
            [(None, np.ones(len(g), dtype=bool))] if met is None else [(True, met), (False, ~met)]
        ):
            if not mask.any():
                continue
            style = MEETS_STYLE if meets else MISSES_STYLE
            ax.scatter(
                x[mask],
                y[mask],
                s=30 if meets is not False else 42,
                marker="X" if meets is False else "o",
                color=style["color"] if single else colour,
                zorder=3,
                gid=None if meets is None else (MEETS if meets else MISSES),
            )
    if categorical:
        ax.set_xticks(range(len(levels)), [_fmt_value(v) for v in levels])
        ax.set_xlim(-0.6, len(levels) - 0.4)
    return len(groups)
