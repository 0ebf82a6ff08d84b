"""The ledger: dated cash flows of the bank, and the partner-side spend kept apart.

Money rules (DESIGN.md "Economics"):

* Revenue: per ``ok`` attempt (fees, take rates, installment margin net of credit losses),
  booked by month.
* Bank costs: per attempt (``cost``); team days (traditional: ``engineers x days held x
  day_rate``, booked at go-live, or at the horizon for projects still holding engineers; API:
  ``bank_effort_days x day_rate``, booked at go-live); the API platform (``platform_cost`` at
  t = 0, ``platform_cost_per_month`` whenever the scenario onboards API partners);
  maintenance per live partner per month by mode; servers (``cost_per_server_hour`` x
  capacity).
* Recurring amounts accrue per day at ``per_month x 12 / 365.25`` and are booked at each
  month-end (months are 1/12 year from t = 0; the last, partial month is booked at the
  horizon).
* Partner-side spend (``partner_cost``, at go-live) is a row of category ``partner_cost``,
  never part of the bank's cost.
* NPV discounts each booked flow at ``(1 + discount_rate) ** -(t / 1 year)``;
  ``payback_month`` is the first month whose end sees cumulative undiscounted profit >= 0.

No pandas here: :func:`ledger_rows` returns plain tuples.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..units import SECONDS_PER_DAY, SECONDS_PER_MONTH, SECONDS_PER_YEAR
from .onboarding import Project

__all__ = [
    "LedgerRow",
    "accrue_monthly",
    "money_kpis",
    "month_end",
    "month_pieces",
]

PER_DAY_OF_MONTH = 12.0 / 365.25  # a monthly amount accrues at this share per day
BANK_COSTS = ("call_cost", "team", "api_effort", "platform", "maintenance", "servers")


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One booked cash flow: revenue positive, costs negative (currency)."""

    month: int  # 1-based month the flow is booked in
    t_s: float  # booking time
    category: str
    partner: str
    amount: float


def month_of(t_s: float) -> int:
    """The 1-based month containing ``t_s``."""
    return int(t_s // SECONDS_PER_MONTH) + 1


def last_month(horizon_s: float) -> int:
    """The number of (1-based) months the horizon touches; the last may be partial."""
    return max(1, math.ceil(horizon_s / SECONDS_PER_MONTH - 1e-12))


def booking_month(t_s: float, horizon_s: float) -> int:
    """The month a flow at ``t_s`` is booked in (a flow at the horizon: the last month)."""
    return min(month_of(t_s), last_month(horizon_s))


def month_end(month: int, horizon_s: float) -> float:
    """When month ``month`` is booked: its end, or the horizon for the last partial month."""
    return min(month * SECONDS_PER_MONTH, horizon_s)


def accrue_monthly(
    per_month: float, a: float, b: float, horizon_s: float
) -> Iterable[tuple[int, float, float]]:
    """``(month, booking time, amount)`` for ``per_month`` accrued daily over ``[a, b)``."""
    if per_month == 0:
        return
    per_s = per_month * PER_DAY_OF_MONTH / SECONDS_PER_DAY
    for k, t, seconds in month_pieces(a, b, horizon_s):
        yield k, t, per_s * seconds


def month_pieces(a: float, b: float, horizon_s: float) -> Iterable[tuple[int, float, float]]:
    """``(month, booking time, seconds)``: ``[a, min(b, horizon))`` cut at month ends."""
    b = min(b, horizon_s)
    k = month_of(a)
    while (k - 1) * SECONDS_PER_MONTH < b:
        lo = max(a, (k - 1) * SECONDS_PER_MONTH)
        hi = min(b, k * SECONDS_PER_MONTH)
        if hi > lo:
            yield k, month_end(k, horizon_s), hi - lo
        k += 1


def project_rows(projects: Sequence[Project], modes, team, horizon_s: float) -> list[LedgerRow]:
    """Team, API effort, maintenance and partner-side rows of onboarded partners."""
    rows = []
    for p in projects:
        spec = modes[p.mode]
        if p.mode == "traditional" and p.engineer_days > 0:
            t = p.go_live_s if p.live else horizon_s
            rows.append(
                LedgerRow(
                    booking_month(t, horizon_s),
                    t,
                    "team",
                    p.name,
                    -p.engineer_days * team.day_rate,
                )
            )
        if not p.live:
            continue
        if p.mode == "api" and spec.bank_effort_days:
            rows.append(
                LedgerRow(
                    month_of(p.go_live_s),
                    p.go_live_s,
                    "api_effort",
                    p.name,
                    -spec.bank_effort_days * team.day_rate,
                )
            )
        if spec.partner_cost:
            rows.append(
                LedgerRow(
                    month_of(p.go_live_s), p.go_live_s, "partner_cost", p.name, -spec.partner_cost
                )
            )
        for k, t, amount in accrue_monthly(
            spec.maintenance_per_month, p.go_live_s, horizon_s, horizon_s
        ):
            rows.append(LedgerRow(k, t, "maintenance", p.name, -amount))
    return rows


def money_kpis(
    rows: Sequence[LedgerRow], discount_rate: float, horizon_s: float
) -> dict[str, float]:
    """Totals, NPV and payback month from the ledger."""
    revenue = sum(r.amount for r in rows if r.category == "revenue")
    cost = -sum(r.amount for r in rows if r.category in BANK_COSTS)
    partner = -sum(r.amount for r in rows if r.category == "partner_cost")
    npv = sum(
        r.amount * (1.0 + discount_rate) ** (-r.t_s / SECONDS_PER_YEAR)
        for r in rows
        if r.category != "partner_cost"
    )
    months = last_month(horizon_s)
    by_month = [0.0] * (months + 1)
    booked = [False] * (months + 1)
    for r in rows:
        if r.category != "partner_cost":
            by_month[min(r.month, months)] += r.amount
            booked[min(r.month, months)] = booked[min(r.month, months)] or r.amount != 0.0
    # payback: the first month-end, once anything has been booked, with cumulative >= 0
    cumulative, payback, started = 0.0, math.nan, False
    for k in range(1, months + 1):
        cumulative += by_month[k]
        started = started or booked[k]
        if started and cumulative >= 0.0:
            payback = float(k)
            break
    return {
        "revenue_total": revenue,
        "cost_total": cost,
        "profit_total": revenue - cost,
        "npv": npv,
        "payback_month": payback,
        "partner_cost_total": partner,
    }
