"""Money after a run: the economics rules and the ledger (dated cash flows of the bank, the
partner-side spend kept apart), the partners table and the onboarding KPIs.

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

The rules work on plain :class:`LedgerRow` tuples; :func:`ledger_table` makes the DataFrame.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..model.bank import capacity_steps
from ..model.onboarding import Project
from ..model.record import MoneyCells, RunRecord
from ..spec.units import SECONDS_PER_DAY, SECONDS_PER_MONTH, SECONDS_PER_YEAR

__all__ = [
    "LedgerRow",
    "accrue_monthly",
    "ledger_rows",
    "ledger_table",
    "money_kpis",
    "month_end",
    "month_pieces",
    "onboarding_kpis",
    "partners_table",
]

PER_DAY_OF_MONTH = 12.0 / 365.25  # a monthly amount accrues at this share per day
BANK_COSTS = ("call_cost", "team", "api_effort", "platform", "maintenance", "servers")
ONBOARDING_COSTS = ("team", "api_effort", "platform")  # what onboarding_cost_total sums


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


# --------------------------------------------------------------------------------------------
# The ledger and the partners table (DataFrames, after a run)
# --------------------------------------------------------------------------------------------


def _by_month(
    money: MoneyCells, horizon_s: float, partners: Sequence[str], category: str, sign: float
) -> list[LedgerRow]:
    agg: dict[tuple[int, int], float] = {}
    for b, p, v in zip(
        money.bin.tolist(), money.partner.tolist(), money.amount.tolist(), strict=True
    ):
        k = month_of(b * money.bin_s)
        agg[k, p] = agg.get((k, p), 0.0) + v
    return [
        LedgerRow(k, month_end(k, horizon_s), category, partners[p], sign * v)
        for (k, p), v in sorted(agg.items())
        if v
    ]


def ledger_rows(out: RunRecord) -> tuple[list[LedgerRow], dict[str, float]]:
    """The run's ledger rows, sorted by time, category and partner, and its money KPIs
    (revenue, cost, profit, NPV, payback, partner); :func:`ledger_table` makes the DataFrame."""
    spec = out.spec
    run = spec.run
    H = run.horizon_s
    rows: list[LedgerRow] = []
    rows += _by_month(out.calls.revenue, H, out.partner_names, "revenue", 1.0)
    rows += _by_month(out.calls.cost, H, out.partner_names, "call_cost", -1.0)
    for pool in spec.bank.pools.values():
        if not pool.cost_per_server_hour:
            continue
        times, caps = capacity_steps(pool.servers, pool.schedule, run.start, H)
        bounds = [*times[1:], math.inf]
        for a, b, c in zip(times, bounds, caps, strict=True):
            # capacity cost accrues in wall-clock hours, not the 12/365.25 day rule
            for k, t, seconds in month_pieces(a, b, H):
                rows.append(
                    LedgerRow(
                        k, t, "servers", "", -pool.cost_per_server_hour * c * seconds / 3600.0
                    )
                )
    ob = spec.onboarding
    if ob is not None:
        modes = ob.modes
        api = modes.get("api")
        if api is not None and any(m == "api" and s > 0 for m, s in ob.integration):
            if api.platform_cost:
                rows.append(LedgerRow(1, 0.0, "platform", "", -api.platform_cost))
            for k, t, amount in accrue_monthly(api.platform_cost_per_month, 0.0, H, H):
                rows.append(LedgerRow(k, t, "platform", "", -amount))
        rows += project_rows(out.projects, modes, ob.team, H)
        onboarded = {p.name for p in out.projects}
        for p in out.partners:  # partners of the scenario itself pay maintenance too
            if p.name not in onboarded and p.integration in modes:
                for k, t, amount in accrue_monthly(
                    modes[p.integration].maintenance_per_month, p.live_from_s, H, H
                ):
                    rows.append(LedgerRow(k, t, "maintenance", p.name, -amount))
    econ = spec.economics
    kpis = money_kpis(rows, econ.discount_rate if econ else 0.0, H)
    rows.sort(key=lambda r: (r.t_s, r.category, r.partner))
    return rows, kpis


def ledger_table(rows: Sequence[LedgerRow], start: Any) -> pd.DataFrame:
    """The ``ledger`` table of sorted ``rows`` (:func:`ledger_rows`); ``start`` is
    ``run.start``."""
    df = pd.DataFrame(
        [(r.month, r.t_s, r.category, r.partner, r.amount) for r in rows],
        columns=["month", "t_s", "category", "partner", "amount"],
    )
    df.insert(2, "time", pd.Timestamp(start) + pd.to_timedelta(df["t_s"], unit="s"))
    bank = df["amount"].where(df["category"] != "partner_cost", 0.0)
    df["cumulative_profit"] = bank.cumsum()
    return df


def partners_table(out: RunRecord) -> pd.DataFrame:
    """One row per partner: onboarded ones with their phase dates, and the scenario's own."""
    run = out.spec.run
    rows = []
    for p in out.projects:
        rows.append(
            {
                "partner": p.name,
                "source": "onboarding",
                "template": p.template,
                "sector": p.sector,
                "mode": p.mode,
                "size": p.size,
                "arrival_s": p.arrival_s,
                "development_start_s": p.development_start_s,
                "go_live_s": p.go_live_s,
                "time_to_market_days": p.time_to_market_s / SECONDS_PER_DAY if p.live else math.nan,
                "reworks": p.reworks,
                "engineer_days": p.engineer_days,
                "review_wait_days": p.review_wait_s / SECONDS_PER_DAY,
                "live": p.live,
            }
        )
    onboarded = {p.name for p in out.projects}
    for q in out.partners:
        if q.name in onboarded:
            continue
        rows.append(
            {
                "partner": q.name,
                "source": "scenario",
                "template": "",
                "sector": q.sector,
                "mode": q.integration,
                "size": 1.0,
                "arrival_s": math.nan,
                "development_start_s": math.nan,
                "go_live_s": q.live_from_s,
                "time_to_market_days": math.nan,
                "reworks": 0,
                "engineer_days": 0.0,
                "review_wait_days": 0.0,
                "live": q.live_from_s < run.horizon_s,
            }
        )
    df = pd.DataFrame(rows)
    for col in ("arrival_s", "development_start_s", "go_live_s"):
        if len(df):
            df[col] = df[col].replace(math.inf, np.nan)
    return df


def onboarding_kpis(out: RunRecord, rows: Sequence[LedgerRow]) -> dict[str, float]:
    """Time to market, partners live / in the pipeline, onboarding cost."""
    H = out.spec.run.horizon_s
    live_static = sum(
        1
        for p in out.partners
        if p.live_from_s < H and p.name not in {q.name for q in out.projects}
    )
    live = [p for p in out.projects if p.live]
    ttm = np.array([p.time_to_market_s / SECONDS_PER_DAY for p in live])
    # summed in ledger order, pairwise (as a column sum of the ledger table would be)
    spent = [r.amount for r in rows if r.category in ONBOARDING_COSTS]
    onboarding_cost = 0.0 - float(np.sum(np.asarray(spent, dtype=np.float64))) if rows else 0.0
    has = out.spec.onboarding is not None
    return {
        "partners_live_end": float(live_static + len(live)),
        "partners_in_pipeline_end": float(len(out.projects) - len(live)),
        "time_to_market_mean_days": float(ttm.mean()) if ttm.size else math.nan,
        "time_to_market_p90_days": float(np.percentile(ttm, 90)) if ttm.size else math.nan,
        "onboarding_cost_total": onboarding_cost,
        "cost_per_partner": onboarding_cost / len(live) if has and live else math.nan,
    }
