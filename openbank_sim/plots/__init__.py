"""Figures from results. Each function returns a :class:`matplotlib.figure.Figure` built
without pyplot (so it works headless, in scripts and in notebooks alike, and leaves no global
figure state behind); save one with ``fig.savefig(path)``. Figures are sized for about 800 px
wide at the default 100 dpi.

Calls and latency (one run):
    :func:`latency_throughput`, :func:`latency_percentiles`, :func:`outcome_mix`,
    :func:`latency_cdf`.
A retry storm over time (timelines of one run or several arms):
    :func:`storm_over_time`.
Experiments (a sweep summary, a list of runs, sensitivity indices, an edge):
    :func:`throughput_vs_load`, :func:`rate_limit_tradeoff`, :func:`sweep_heatmap`,
    :func:`sweep_effects`, :func:`sensitivity_bars`, :func:`optimization_map`,
    :func:`edge_curve`.
Money and onboarding (one run, or several arms keyed by name):
    :func:`money_over_time`, :func:`partners_live`, :func:`onboarding_gantt`,
    :func:`break_even`, :func:`time_to_market_hist`.

Labels: :func:`param_label` (a dotted parameter path in words with its unit) and
:func:`kpi_label` (a KPI in words with its unit), as the figures write them.

Every function draws an empty axes with the note "no data" instead of raising when the table
it needs is empty or missing.
"""

from ._labels import kpi_label, param_label
from ._style import PALETTE
from .calls import latency_cdf, latency_percentiles, latency_throughput, outcome_mix
from .edge import edge_curve
from .experiments import (
    rate_limit_tradeoff,
    sweep_effects,
    sweep_heatmap,
    throughput_vs_load,
)
from .money import (
    break_even,
    money_over_time,
    onboarding_gantt,
    partners_live,
    time_to_market_hist,
)
from .storms import storm_over_time
from .studies import optimization_map, sensitivity_bars

__all__ = [
    "PALETTE",
    "break_even",
    "edge_curve",
    "kpi_label",
    "latency_cdf",
    "latency_percentiles",
    "latency_throughput",
    "money_over_time",
    "onboarding_gantt",
    "optimization_map",
    "outcome_mix",
    "param_label",
    "partners_live",
    "rate_limit_tradeoff",
    "sensitivity_bars",
    "storm_over_time",
    "sweep_effects",
    "sweep_heatmap",
    "throughput_vs_load",
    "time_to_market_hist",
]
