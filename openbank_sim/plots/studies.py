"""Figures of studies over many configurations: sensitivity indices (Sobol, Morris) and the
configurations an optimization explored."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._labels import kpi_label, kpi_scale, param_label, param_name
from ._style import (
    PALETTE,
    _axis_words,
    _figure,
    _fmt_value,
    _has,
    _legend,
    _no_data,
    _scenario_of,
    _style,
)
from ._targets import MEETS, MISSES, targets_of, threshold_line

__all__ = ["optimization_map", "sensitivity_bars"]


def sensitivity_bars(indices: pd.DataFrame, kpi: str, *, scenario: Any = None) -> Figure:
    """Sensitivity indices from :func:`openbank_sim.sensitivity.sensitivity`, one row of bars
    per parameter (named in words).

    Sobol indices (``S1``, ``ST``, shares of variance) as bars. Morris elementary effects as
    bars of ``mu_star`` (mean absolute effect, in the KPI's unit as shown: ms for latencies)
    and, when ``sigma`` is there, a scatter of ``sigma`` against ``mu_star`` beside them
    (a parameter far above the diagonal acts non-linearly or with others).

    Args:
        indices: the table of indices (``parameter`` and ``S1``/``ST`` or ``mu_star``).
        kpi: the KPI the indices are of.
        scenario: the scenario (a Scenario or its dict), for names and the currency.
    """
    raw = _scenario_of(scenario)
    currency = str((raw or {}).get("currency", "") or "")
    n = len(indices) if isinstance(indices, pd.DataFrame) else 0
    morris = _has(indices, "parameter", "mu_star") and not _has(indices, "ST", "S1")
    scatter = morris and "sigma" in indices.columns
    fig = _figure(max(2.5 if not scatter else 3.4, 0.9 + 0.45 * n))
    axes = fig.subplots(1, 2, width_ratios=(1.4, 1.0)) if scatter else [fig.subplots()]
    ax = axes[0]
    _style(ax, grid="x")
    what = kpi_label(kpi, currency)
    ax.set_title(f"Sensitivity of {what.split(' (')[0]}")
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
            hatch="..",
            edgecolor="white",
        )
        ax.set_xlabel("Sobol index (share of variance)")
    elif morris:
        scale = kpi_scale(kpi)
        unit = what.rsplit(" (", 1)[1].rstrip(")") if " (" in what else kpi
        ax.barh(
            range(n),
            indices["mu_star"] * scale,
            xerr=indices["mu_star_conf"] * scale if "mu_star_conf" in indices.columns else None,
            color=PALETTE["p50"],
            label="mu*",
        )
        ax.set_xlabel(f"mean |elementary effect| (mu*, {unit})")
        if scatter:
            _morris_scatter(axes[1], indices, scale, unit, raw)
    else:
        ax.set_xlabel("sensitivity index")
        _no_data(ax)
        return fig
    names = [param_label(p, raw) for p in indices["parameter"]]
    ax.set_yticks(range(n), names, fontsize=9)
    ax.invert_yaxis()
    _legend(ax, loc="lower right")
    return fig


def _morris_scatter(ax: Any, indices: pd.DataFrame, scale: float, unit: str, raw: Any) -> None:
    """``sigma`` against ``mu_star``, one labelled dot per parameter (never joined)."""
    _style(ax)
    mu = indices["mu_star"].to_numpy(dtype=float) * scale
    sigma = indices["sigma"].to_numpy(dtype=float) * scale
    ax.scatter(mu, sigma, s=40, color=PALETTE["p50"], zorder=3)
    for name, x, y in zip(indices["parameter"], mu, sigma, strict=True):
        ax.annotate(
            param_name(name, raw), (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7.5
        )
    top = float(np.nanmax(np.concatenate([mu, sigma]))) if len(mu) else 1.0
    ax.plot(
        [0, top * 1.1], [0, top * 1.1], color=PALETTE["muted"], ls=":", lw=1, label="sigma = mu*"
    )
    ax.set_xlim(0, top * 1.15)
    ax.set_ylim(0, top * 1.15)
    ax.set_xlabel(f"mu* ({unit})", fontsize=9)
    ax.set_ylabel(f"sigma of the effects ({unit})", fontsize=9)
    ax.set_title("Spread against size of the effects", fontsize=10)
    _legend(ax, loc="upper left")


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
    result: object,
    x: str | None = None,
    y: str | None = None,
    *,
    title: str | None = None,
    scenario: Any = None,
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
        scenario: the scenario (a Scenario or its dict), for names and the currency; by
            default the one in ``result.definition``.

    Each point is labelled with its replications; configurations that differ only in other
    parameters share a spot, drawn side by side.
    """
    table = getattr(result, "configurations", result)
    raw = _scenario_of(scenario) if scenario is not None else _scenario_of(result)
    currency = str((raw or {}).get("currency", "") or "")
    fig = _figure(4.6)
    ax = fig.subplots()
    _style(ax)
    ax.set_title(title or "Configurations explored by the optimization")
    ax.set_xlabel(_axis_words(x, raw, currency) if x else "parameter")
    ax.set_ylabel(_axis_words(y, raw, currency) if y else "parameter")
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
    xs = df[x].astype(float).to_numpy() * (1.0 if x in params else kpi_scale(x))
    ys = df[y].astype(float).to_numpy() * (1.0 if y in params else kpi_scale(y))
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
            gid={"feasible": MEETS, "infeasible": MISSES}.get(status),
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
    ax.set_xlabel(_axis_words(x, raw, currency))
    ax.set_ylabel(_axis_words(y, raw, currency))
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
    cert = getattr(result, "certificate", None) or {}
    for target in targets_of(list(cert.get("constraints", []))):
        if target.kpi == y and y not in params:
            threshold_line(ax, target, "y", currency)
    others = [p for p in params if p not in (x, y)]
    note = "numbers: replications"
    if others:
        note += f"; side by side: {', '.join(param_name(p, raw) for p in others)}"
    ax.text(
        1.0, -0.16, note, transform=ax.transAxes, ha="right", fontsize=8, color=PALETTE["muted"]
    )
    _legend(
        ax,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        title="configurations",
        title_fontsize=8,
    )
    return fig
