"""Shared style and helpers of the figures (palette, axes, time axes, labels)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.colors import to_rgb
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import (
    NullFormatter,
    NullLocator,
)

from ..outcomes import Outcome
from ..spec.units import SECONDS_PER_DAY, SECONDS_PER_HOUR, SECONDS_PER_MONTH, format_duration
from ._labels import kpi_label, number_text, param_label

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..analysis.results import Results


#: Colours by role (Okabe-Ito, readable with colour-vision deficiencies).
PALETTE: Mapping[str, str] = MappingProxyType(
    {
        "p50": "#0072B2",
        "p95": "#E69F00",
        "p99": "#D55E00",
        "ok": "#009E73",
        "rate_limited": "#E69F00",
        "overloaded": "#D55E00",
        "timeout": "#CC79A7",
        "error": "#4D4D4D",
        "auth_failed": "#56B4E9",
        "revenue": "#009E73",
        "cost": "#D55E00",
        "profit": "#0072B2",
        "partner_cost": "#999999",
        "api": "#0072B2",
        "traditional": "#E69F00",
        "muted": "#7F7F7F",
        "shade": "#EBEBEB",
    }
)
_CYCLE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
_OUTCOME_LABELS = {
    Outcome.OK: "ok",
    Outcome.RATE_LIMITED: "429 rate limited",
    Outcome.OVERLOADED: "503 overloaded",
    Outcome.TIMEOUT: "timeout",
    Outcome.ERROR: "5xx error",
    Outcome.AUTH_FAILED: "401 auth failed",
}
_OUTCOMES = tuple((o.label, _OUTCOME_LABELS[o]) for o in Outcome)
_WIDTH_IN = 8.0  # 800 px at 100 dpi


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def _figure(height: float = 4.5, width: float = _WIDTH_IN) -> Figure:
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _style(ax: Axes, grid: str = "both") -> None:
    """The house look: light grid behind the data, no top or right spine, 9 pt ticks."""
    ax.grid(True, axis=grid, color="#000000", alpha=0.12, linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)


def _legend(ax: Axes, **kwargs: Any) -> Any:
    """The house legend (no frame, 9 pt unless ``fontsize`` says otherwise), of ``handles``
    when given, else of the axes' labelled artists; none when there is nothing to show."""
    if kwargs.get("handles") or ax.get_legend_handles_labels()[0]:
        return ax.legend(**{"frameon": False, "fontsize": 9, **kwargs})
    return None


def _legend_right(ax: Axes, **kwargs: Any) -> Any:
    """The legend outside the axes on the right, clear of the data."""
    return _legend(
        ax, **{"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0.0, **kwargs}
    )


def _legend_below(ax: Axes, y: float, **kwargs: Any) -> Any:
    """The legend centred below the axes, its top at ``y`` (axes fraction, negative)."""
    return _legend(ax, loc="upper center", bbox_to_anchor=(0.5, y), **kwargs)


def _lighten(colour: str, amount: float = 0.6) -> tuple[float, float, float]:
    """``colour`` mixed with white (``amount`` = share of white), as an opaque RGB."""
    rgb = np.array(to_rgb(colour))
    return tuple(rgb + (1.0 - rgb) * amount)


def _bin_words(bin_s: float) -> str:
    """A bin width for a label: 300 -> '5 min', 86400 -> '1 d'."""
    return re.sub(r"^(\d+(?:\.\d+)?)([a-z]+)$", r"\1 \2", format_duration(bin_s))


def _no_data(ax: Axes, note: str = "no data") -> None:
    ax.text(
        0.5,
        0.5,
        note,
        transform=ax.transAxes,
        ha="center",
        va="center",
        color=PALETTE["muted"],
        fontsize=12,
    )
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(NullLocator())
        axis.set_major_formatter(NullFormatter())


def _has(df: pd.DataFrame | None, *columns: str) -> bool:
    """Whether ``df`` is a non-empty DataFrame with all of ``columns``."""
    return isinstance(df, pd.DataFrame) and len(df) > 0 and all(c in df.columns for c in columns)


def _table(results: Results, name: str) -> pd.DataFrame | None:
    return getattr(results, "tables", {}).get(name)


def _start(results: Results) -> pd.Timestamp:
    return pd.Timestamp(results.manifest.get("start") or "1970-01-01")


def _clock(results: Results, t_s: Any) -> pd.DatetimeIndex:
    """Simulated seconds from ``run.start`` as calendar times."""
    return _start(results) + pd.to_timedelta(np.asarray(t_s, dtype=float), unit="s")


def _time_axis(ax: Axes) -> None:
    locator = AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_xlabel("simulated time")


def _time_limits(ax: Axes, results: Results) -> None:
    """The x axis over the whole run, ``[run.start, run.start + horizon]``."""
    horizon_s = _horizon_s(results)
    if horizon_s > 0:
        ax.set_xlim(*_clock(results, [0.0, horizon_s]))


def _shade_warmup(ax: Axes, results: Results) -> None:
    warmup_s = float(results.manifest.get("warmup_s", 0.0) or 0.0)
    if warmup_s > 0:
        t0, t1 = _clock(results, [0.0, warmup_s])
        ax.axvspan(t0, t1, color=PALETTE["shade"], zorder=0, label="warm-up (not counted)")


def _bin_s(results: Results, t_start_s: pd.Series | None = None) -> float:
    """The run's time bin (seconds): from the manifest, else the smallest step seen."""
    bin_s = results.manifest.get("time_bin_s")
    if bin_s:
        return float(bin_s)
    if t_start_s is None:
        return SECONDS_PER_HOUR
    steps = np.diff(np.unique(t_start_s.to_numpy(dtype=float)))
    return float(steps.min()) if steps.size else SECONDS_PER_HOUR


def _span(horizon_s: float) -> tuple[float, str]:
    """Seconds per x unit and its name, chosen from the horizon (hours, days or months)."""
    if horizon_s <= 2 * SECONDS_PER_DAY:
        return SECONDS_PER_HOUR, "hours"
    if horizon_s <= 90 * SECONDS_PER_DAY:
        return SECONDS_PER_DAY, "days"
    return SECONDS_PER_MONTH, "months"


def _horizon_s(results: Results, fallback: float = 0.0) -> float:
    return float(results.manifest.get("horizon_s") or fallback)


def _since_start_label(unit: str, results: Results | None) -> str:
    start = results.manifest.get("start") if results is not None else None
    return f"{unit} since start ({start})" if start else f"{unit} since start"


def _horizon_line(ax: Axes, x: float) -> None:
    """A dashed line at the horizon, labelled, with a little room to its right."""
    ax.axvline(x, color="black", lw=0.8, ls="--")
    ax.annotate(
        "horizon",
        (x, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(-3, -3),
        textcoords="offset points",
        ha="right",
        va="top",
        fontsize=8,
        color=PALETTE["muted"],
    )
    ax.set_xlim(0, x * 1.03)


def _currency(results: Results) -> str:
    currency = results.manifest.get("currency")
    if currency:
        return str(currency)
    scenario = results.manifest.get("scenario") or {}
    return str(scenario.get("currency", "") or "") if isinstance(scenario, Mapping) else ""


def _short_number(value: float, _pos: Any = None) -> str:
    """1234567 -> '1.23M', 45000 -> '45k', 12.5 -> '12.5', 0.00012 -> '0.00012' (never in
    scientific notation)."""
    for scale, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{number_text(value / scale)}{suffix}"
    return number_text(value)


def _mode_colour(mode: str, i: int) -> str:
    return PALETTE.get(mode, _CYCLE[i % len(_CYCLE)])


def _varied(summary: pd.DataFrame) -> list[str]:
    """The varied parameters of a sweep summary: the columns before ``replications``."""
    cols = list(summary.columns)
    if "replications" in cols:
        return [c for c in cols[: cols.index("replications")] if c != "point"]
    return [c for c in cols if "." in c and not c.endswith(("_ci_low", "_ci_high"))]


def _fmt_value(v: Any) -> str:
    """A parameter's value for a tick or a legend: numbers without scientific notation."""
    return number_text(v)


def _axis_words(column: str, scenario: Mapping[str, Any] | None = None, currency: str = "") -> str:
    """A column of a summary in words with its unit: a varied parameter (a dotted path) or a
    KPI."""
    if "." in column:
        return param_label(column, scenario, currency or None)
    return kpi_label(column, currency)


def _scenario_of(source: Any) -> Mapping[str, Any] | None:
    """The scenario dict behind a result (``definition["scenario"]``), a Scenario, or None."""
    if isinstance(source, Mapping):
        return source
    as_dict = getattr(source, "as_dict", None)
    if callable(as_dict) and hasattr(source, "spec"):
        raw = as_dict()
        return raw if isinstance(raw, Mapping) else None
    definition = getattr(source, "definition", None)
    if isinstance(definition, Mapping) and isinstance(definition.get("scenario"), Mapping):
        return definition["scenario"]
    return None


def _is_categorical(values: pd.Series) -> bool:
    """Whether a parameter's values are categories (strings, booleans), not numbers."""
    return not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)


_SHARE_KPIS = ("success_rate", "conversion_rate", "availability", "availability_published")
_NON_NEGATIVE = (
    "calls_",
    "latency_",
    "client_latency_",
    "backend_wait_",
    "throughput_",
    "token_requests",
    "journeys_",
    "partners_",
    "time_to_market_",
    "revenue_total",
    "cost_total",
    "offered",
    "consents_lapsed",
    "slo_breach_hours",
    "retries_suppressed",
)


def _bounds(col: str) -> tuple[float, float]:
    """Where a KPI's values can lie: shares in [0, 1], counts and times >= 0."""
    if col in _SHARE_KPIS or col.endswith("_share"):
        return 0.0, 1.0
    if col.startswith(_NON_NEGATIVE):
        return 0.0, math.inf
    return -math.inf, math.inf


def _ci(df: pd.DataFrame, col: str, scale: float = 1.0) -> np.ndarray | None:
    """Asymmetric error bars ``[below, above]`` from ``col_ci_low`` / ``col_ci_high``.

    The interval is cut to the values the KPI can take (a t-interval over few, spread
    replications may reach below 0 or above 1).
    """
    lo, hi = f"{col}_ci_low", f"{col}_ci_high"
    if lo not in df.columns or hi not in df.columns:
        return None
    floor, ceiling = _bounds(col)
    mid = df[col].to_numpy(dtype=float)
    low = np.clip(df[lo].to_numpy(dtype=float), floor, ceiling)
    high = np.clip(df[hi].to_numpy(dtype=float), floor, ceiling)
    below = np.clip(mid - low, 0.0, None)
    above = np.clip(high - mid, 0.0, None)
    return np.nan_to_num(np.vstack([below, above]) * scale)


# --------------------------------------------------------------------------------------------
# Calls and latency
# --------------------------------------------------------------------------------------------


def _plot_percentiles(ax: Axes, results: Results, product: str | None) -> str | None:
    """p50 / p95 / p99 lines of one product (ms) at bin midpoints; the product, or None."""
    lat = _table(results, "timeseries_latency")
    cols = ("product", "t_start_s", "calls_ok", "latency_p50_s", "latency_p95_s", "latency_p99_s")
    if not _has(lat, *cols):
        return None
    lat = lat[lat["calls_ok"] > 0]
    names = lat["product"].astype(str)
    if product is None:
        if not len(lat):
            return None
        product = str(lat.groupby(names)["calls_ok"].sum().idxmax())
    sel = lat[names == product].sort_values("t_start_s")
    if not len(sel):
        return None
    bin_s = _bin_s(results, sel["t_start_s"])
    bins = np.round(sel["t_start_s"].to_numpy(dtype=float) / bin_s).astype(np.int64)
    sel = sel.set_index(bins)
    if bins.max() - bins.min() < 50_000:  # a gap between observed bins breaks the line
        sel = sel.reindex(np.arange(bins.min(), bins.max() + 1))
    sparse = bool(sel["calls_ok"].isna().any()) or len(sel) < 4
    t = _clock(results, (sel.index.to_numpy(dtype=float) + 0.5) * bin_s)
    for q in ("p50", "p95", "p99"):
        ax.plot(
            t,
            sel[f"latency_{q}_s"].to_numpy(dtype=float) * 1000.0,
            color=PALETTE[q],
            label=q,
            lw=1.6,
            marker="o" if sparse else None,
            ms=3.5,
        )
    ax.set_ylim(bottom=0)
    return product


def _runs_table(runs: Sequence[Results], labels: Sequence[str] | None) -> pd.DataFrame:
    rows = []
    for i, r in enumerate(runs):
        measured = _horizon_s(r) - float(r.manifest.get("warmup_s", 0.0) or 0.0)
        rows.append(
            {
                "label": labels[i] if labels is not None else r.manifest.get("scenario_name", i),
                "offered_per_s": r.kpis.get("calls_total", math.nan) / measured
                if measured > 0
                else math.nan,
                "throughput_ok_per_s": r.kpis.get("throughput_ok_per_s", math.nan),
            }
        )
    return pd.DataFrame(rows)


def _label_points(ax: Axes, df: pd.DataFrame, xcol: str, ycol: str, params: Sequence[str]) -> None:
    """Write the values of ``params`` next to each point; points within about 2 % of the
    axes of each other share one label (common random numbers often put them together)."""
    x = df[xcol].to_numpy(dtype=float)
    y = df[ycol].to_numpy(dtype=float) * 1000.0
    spans = [max(float(np.ptp(v)), 1e-12) for v in (x, y)]
    clusters: list[list[int]] = []
    for i in range(len(df)):
        for c in clusters:
            j = c[0]
            if abs(x[i] - x[j]) <= 0.02 * spans[0] and abs(y[i] - y[j]) <= 0.02 * spans[1]:
                c.append(i)
                break
        else:
            clusters.append([i])
    for c in clusters:
        texts = list(dict.fromkeys("/".join(_fmt_value(df[p].iloc[i]) for p in params) for i in c))
        lines = [", ".join(texts[k : k + 3]) for k in range(0, len(texts), 3)]
        ax.annotate(
            "\n".join(lines),
            (x[c[0]], y[c[0]]),
            xytext=(6, 4),
            textcoords="offset points",
            fontsize=8,
            va="bottom",
        )


def _cumulative(ledger: pd.DataFrame, amount: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(times in seconds starting at 0, running sum) of ``amount`` grouped by ledger time."""
    per_t = amount.groupby(ledger["t_s"].to_numpy(dtype=float)).sum().sort_index()
    per_t = per_t[per_t != 0.0]
    t = np.concatenate([[0.0], per_t.index.to_numpy(dtype=float)])
    return t, np.concatenate([[0.0], per_t.cumsum().to_numpy(dtype=float)])


def _extend(t: np.ndarray, v: np.ndarray, horizon_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Carry the last value of a step series to the horizon."""
    if horizon_s > t[-1]:
        return np.append(t, horizon_s), np.append(v, v[-1])
    return t, v
