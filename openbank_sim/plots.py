"""Figures from results. Each function takes :class:`~openbank_sim.results.Results` and returns
a :class:`matplotlib.figure.Figure` (built without pyplot, so it works headless and in
notebooks alike); save it with ``fig.savefig(path)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib.figure import Figure

if TYPE_CHECKING:
    from .results import Results

__all__ = ["latency_throughput"]

_STYLE = {"p50": "#4C72B0", "p95": "#DD8452", "p99": "#C44E52", "ok": "#55A868"}


def latency_throughput(results: Results, product: str | None = None) -> Figure:
    """Latency percentiles (top) and ok throughput (bottom) per time bin.

    Args:
        results: a run's results.
        product: one product's latency (default: the product with the most ok calls).
    """
    ts = results.tables["timeseries"]
    lat = results.tables["timeseries_latency"]
    bin_s = float(results.manifest.get("time_bin_s", 3600.0))
    fig = Figure(figsize=(9, 5.5), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    if len(lat):
        if product is None:
            product = str(lat.groupby("product", observed=True)["calls_ok"].sum().idxmax())
        sel = lat[lat["product"] == product]
        for q in ("p50", "p95", "p99"):
            ax1.plot(sel["time"], sel[f"latency_{q}_s"] * 1000.0, label=q, color=_STYLE[q])
        ax1.set_title(f"Response time of ok calls: {product}")
        ax1.legend(loc="upper left", ncols=3, frameon=False)
    ax1.set_ylabel("latency (ms)")
    ax1.grid(alpha=0.3)
    warmup_s = float(results.manifest.get("warmup_s", 0.0))
    ts = ts[ts["t_start_s"] >= warmup_s] if len(ts) else ts
    if len(ts):
        per_bin = ts.groupby("time")[["calls_ok", "calls_total"]].sum()
        ax2.plot(per_bin.index, per_bin["calls_ok"] / bin_s, color=_STYLE["ok"], label="ok")
        ax2.plot(
            per_bin.index,
            per_bin["calls_total"] / bin_s,
            color="grey",
            ls="--",
            label="all attempts",
        )
        ax2.legend(loc="upper left", ncols=2, frameon=False)
    ax2.set_ylabel("throughput (calls/s)")
    ax2.set_xlabel("simulated time")
    ax2.grid(alpha=0.3)
    fig.suptitle(str(results.manifest.get("scenario_name", "")))
    return fig


def sweep_effects(summary, params: list[str], kpis: list[str]) -> Figure:
    """Each KPI's mean (with its confidence interval) against each varied parameter.

    Args:
        summary: :meth:`openbank_sim.experiment.SweepResult.summary` (one row per point).
        params: varied parameters (dotted paths) to put on the x axes.
        kpis: KPIs to plot, one row of panels each.
    """
    fig = Figure(figsize=(4.2 * len(params), 2.8 * len(kpis)), layout="constrained")
    axes = fig.subplots(len(kpis), len(params), squeeze=False)
    for i, kpi in enumerate(kpis):
        for j, param in enumerate(params):
            ax = axes[i][j]
            others = [p for p in params if p != param]
            groups = summary.groupby(others, sort=True) if others else [((), summary)]
            for key, g in groups:
                g = g.sort_values(param)
                lo = g[kpi] - g[f"{kpi}_ci_low"]
                hi = g[f"{kpi}_ci_high"] - g[kpi]
                label = (
                    ", ".join(
                        f"{o.split('.')[-1]}={v}"
                        for o, v in zip(
                            others, key if isinstance(key, tuple) else (key,), strict=False
                        )
                    )
                    or None
                )
                ax.errorbar(
                    g[param],
                    g[kpi],
                    yerr=[lo.fillna(0), hi.fillna(0)],
                    marker="o",
                    capsize=3,
                    label=label,
                )
            ax.set_xlabel(param)
            ax.set_ylabel(kpi)
            ax.grid(alpha=0.3)
            if others and i == 0 and j == 0:
                ax.legend(fontsize="small", frameon=False)
    return fig


def sensitivity_bars(indices, kpi: str) -> Figure:
    """Bar chart of sensitivity indices from :func:`openbank_sim.sensitivity.sensitivity`."""
    fig = Figure(figsize=(7, 0.5 + 0.45 * len(indices)), layout="constrained")
    ax = fig.subplots()
    if "ST" in indices.columns:
        y = range(len(indices))
        ax.barh(
            [v + 0.2 for v in y],
            indices["ST"],
            height=0.4,
            xerr=indices["ST_conf"],
            label="total (ST)",
            color=_STYLE["p95"],
        )
        ax.barh(
            [v - 0.2 for v in y],
            indices["S1"],
            height=0.4,
            xerr=indices["S1_conf"],
            label="first order (S1)",
            color=_STYLE["p50"],
        )
        ax.set_xlabel("Sobol index (share of variance)")
    else:
        ax.barh(
            range(len(indices)),
            indices["mu_star"],
            xerr=indices["mu_star_conf"],
            color=_STYLE["p50"],
            label="mu*",
        )
        ax.set_xlabel("mean |elementary effect| (mu*)")
    ax.set_yticks(range(len(indices)), indices["parameter"])
    ax.invert_yaxis()
    ax.legend(frameon=False)
    ax.set_title(f"Sensitivity of {kpi}")
    ax.grid(alpha=0.3, axis="x")
    return fig
