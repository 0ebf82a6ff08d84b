"""The KPI names by group, in the order they are reported (a public contract; no pandas)."""

from __future__ import annotations

__all__ = ["KPI_GROUPS", "KPI_NAMES", "SHARES", "headline_kpis"]

KPI_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "calls",
        (
            "calls_total",
            "calls_ok",
            "calls_rate_limited",
            "calls_overloaded",
            "calls_timeout",
            "calls_error",
            "calls_auth_failed",
            "token_requests",
            "success_rate",
            "throughput_ok_per_s",
            "latency_mean_s",
            "latency_p50_s",
            "latency_p95_s",
            "latency_p99_s",
            "client_latency_p95_s",
            "backend_wait_mean_s",
            "backend_wait_max_s",
            "retry_amplification_peak",
            "windows_unsettled",
            "availability",
            "availability_published",
            "consents_lapsed",
            "slo_breach_hours",
            "warmup_used_s",
        ),
    ),
    (
        "journeys",
        ("journeys_started", "journeys_completed", "journeys_abandoned", "conversion_rate"),
    ),
    (
        "money",
        (
            "revenue_total",
            "cost_total",
            "profit_total",
            "npv",
            "payback_month",
            "partner_cost_total",
        ),
    ),
    (
        "onboarding",
        (
            "partners_live_end",
            "partners_in_pipeline_end",
            "time_to_market_mean_days",
            "time_to_market_p90_days",
            "onboarding_cost_total",
            "cost_per_partner",
        ),
    ),
)
"""The KPIs by group, in the order they are reported (a public contract)."""
KPI_NAMES = tuple(name for _group, names in KPI_GROUPS for name in names)

SHARES: dict[str, tuple[str, str] | None] = {
    "success_rate": ("calls_ok", "calls_total"),
    "conversion_rate": ("journeys_completed", "journeys_started"),
    "availability": None,
    "availability_published": None,
}
"""The KPIs that are shares in ``[0, 1]``, with the (numerator, denominator) KPIs they are the
ratio of, where those are KPIs too (None: a share of time, no counts). Intervals of a share are
kept inside ``[0, 1]``."""

CALL_HEADLINES = ("success_rate", "latency_p95_s", "calls_rate_limited", "revenue_total")
"""What a summary shows by default for a scenario without partner onboarding."""
ONBOARDING_HEADLINES = (
    "npv",
    "payback_month",
    "partners_live_end",
    "time_to_market_mean_days",
    "success_rate",
)
"""What a summary shows by default for a scenario that onboards partners (``[onboarding]``)."""


def headline_kpis(onboarding: bool) -> tuple[str, ...]:
    """The KPIs a summary (sweep, compare, report) shows unless ``--kpi`` picks others: the
    money and time to market of onboarding when the scenario onboards partners, else the
    calls' success, p95 latency, 429s and revenue."""
    return ONBOARDING_HEADLINES if onboarding else CALL_HEADLINES
