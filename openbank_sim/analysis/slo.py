"""Service levels evaluated per partner and period after a run.

A period of a partner *breaches* when any configured target is missed in it:
``latency_mean`` (mean response time of ok attempts), ``latency_p95`` (their 95th percentile,
C-REG-4), ``error_rate`` (share of attempts that got 503, 5xx or a timeout) or
``availability`` (share of the period during which every pool the partner calls was up).
Periods are aligned to t = 0 and clipped to the measurement window ``[warmup, horizon)`` and to
the partner's go-live. ``slo_breach_hours`` adds up, over partners, the (clipped) length of
every period with at least one breach: partner-hours.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from ..histogram import LatencyHistogram
from ..spec.schema import SloSpec

__all__ = ["SLO_COLUMNS", "evaluate_slo", "union_length"]

SLO_COLUMNS = [
    "partner",
    "period",
    "period_start_s",
    "period_length_s",
    "time",
    "metric",
    "value",
    "target",
]


def union_length(intervals: Sequence[tuple[float, float]]) -> float:
    """Total length of the union of ``[a, b)`` intervals (seconds)."""
    total, end = 0.0, -math.inf
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def evaluate_slo(
    slo: SloSpec,
    partners: Sequence[str],
    counts: Mapping[tuple[int, int], Sequence[int]],
    latency: Mapping[tuple[int, int], LatencyHistogram],
    partner_downtime: Sequence[Sequence[tuple[float, float]]],
    window: tuple[float, float],
    start: pd.Timestamp,
    live_from: Sequence[float] | None = None,
) -> pd.DataFrame:
    """One row per missed target: partner, period, metric, value, target.

    Args:
        counts: ``(total, failed, ok)`` attempts by ``(period, partner)``.
        latency: histograms of ok latencies by ``(period, partner)``.
        partner_downtime: per partner, the down intervals of the pools it calls.
        window: ``(warmup_s, horizon_s)``.
        start: calendar time of t = 0.
        live_from: per partner, when it goes live; periods before that are not checked, and
            a period it goes live in is checked from its go-live.
    """
    n = len(partners)
    t0, t1 = window
    first = int(t0 // slo.period_s)
    last = math.ceil(t1 / slo.period_s)
    rows = []
    for period in range(first, last):
        a = max(period * slo.period_s, t0)
        b = min((period + 1) * slo.period_s, t1)
        if b <= a:
            continue
        for p in range(n):
            a_p = max(a, live_from[p]) if live_from is not None else a
            if b <= a_p:
                continue
            key = (period, p)
            checks: list[tuple[str, float, float, bool]] = []
            total, failed, _ok = counts.get(key, (0, 0, 0))
            h = latency.get(key)
            if slo.latency_mean_s is not None and h is not None and h.count:
                checks.append(
                    ("latency_mean_s", h.mean, slo.latency_mean_s, h.mean > slo.latency_mean_s)
                )
            if slo.latency_p95_s is not None and h is not None and h.count:
                p95 = h.quantile(0.95)
                checks.append(("latency_p95_s", p95, slo.latency_p95_s, p95 > slo.latency_p95_s))
            if slo.error_rate is not None and total:
                rate = failed / total
                checks.append(("error_rate", rate, slo.error_rate, rate > slo.error_rate))
            if slo.availability is not None:
                down = union_length(
                    [(max(x, a_p), min(y, b)) for x, y in partner_downtime[p] if y > a_p and x < b]
                )
                avail = 1.0 - down / (b - a_p)
                checks.append(("availability", avail, slo.availability, avail < slo.availability))
            for metric, value, target, breached in checks:
                if breached:
                    rows.append(
                        (
                            partners[p],
                            period,
                            a_p,
                            b - a_p,
                            start + pd.to_timedelta(a_p, unit="s"),
                            metric,
                            value,
                            target,
                        )
                    )
    return pd.DataFrame(rows, columns=SLO_COLUMNS)
