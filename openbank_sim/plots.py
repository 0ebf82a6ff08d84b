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
