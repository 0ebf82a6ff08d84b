"""The KPI names by group, in the order they are reported (a public contract; no pandas)."""

from __future__ import annotations

__all__ = ["KPI_GROUPS", "KPI_NAMES", "SHARES", "headline_kpis", "kpi_unit"]

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
            "calls_dropped_expired",
            "calls_shed_background",
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
            "retries_suppressed",
            "calls_short_circuited",
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


_COUNTED = {
    "token_requests": "requests",
    "consents_lapsed": "consents",
    "slo_breach_hours": "partner-hours",
    "retry_amplification_peak": "attempts per first attempt",
    "retries_suppressed": "retries",
    "windows_unsettled": "windows",
    "payback_month": "month",
}
_MONEY = {"onboarding_cost_total", "cost_per_partner"}


def kpi_unit(name: str, currency: str = "") -> str:
    """The unit a KPI is reported in: ``"s"``, ``"1/s"``, ``"days"``, the scenario's
    ``currency`` for money, ``"share"`` for a fraction in [0, 1] (:data:`SHARES`), or what a
    count counts (``"calls"``, ``"journeys"``, ``"partners"``, ...)."""
    if name in SHARES:
        return "share"
    if name in _COUNTED:
        return _COUNTED[name]
    if name.endswith("_per_s"):
        return "1/s"
    if name.endswith("_s"):
        return "s"
    if name.endswith("_days"):
        return "days"
    money = dict(KPI_GROUPS)["money"]
    if name in money or name in _MONEY:
        return currency
    if name.startswith("calls_"):
        return "calls"
    if name.startswith("journeys_"):
        return "journeys"
    if name.startswith("partners_"):
        return "partners"
    return ""
