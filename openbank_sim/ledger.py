"""The ledger and the partners table of a run, as DataFrames (built after the run)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .model.bank import capacity_steps
from .model.economics import (
    LedgerRow,
    accrue_monthly,
    money_kpis,
    month_end,
    month_of,
    month_pieces,
    project_rows,
)
from .units import SECONDS_PER_DAY

__all__ = ["build_ledger", "onboarding_kpis", "partners_table"]

LEDGER_COLUMNS = ["month", "t_s", "time", "category", "partner", "amount", "cumulative_profit"]


def _by_month(
    d: dict[int, float],
    n_pp: int,
    P: int,
    time_bin_s: float,
    horizon_s: float,
    partners: list[str],
    category: str,
    sign: float,
) -> list[LedgerRow]:
    agg: dict[tuple[int, int], float] = {}
    for key, v in d.items():
        b, pp = divmod(key, n_pp)
        k = month_of(b * time_bin_s)
        agg[k, pp // P] = agg.get((k, pp // P), 0.0) + v
    return [
        LedgerRow(k, month_end(k, horizon_s), category, partners[p], sign * v)
        for (k, p), v in sorted(agg.items())
        if v
    ]


def build_ledger(out: Any) -> tuple[pd.DataFrame, dict[str, float]]:
    """The run's ledger and its money KPIs (revenue, cost, profit, NPV, payback, partner)."""
    spec = out.spec
    run = spec.run
    rec = out.recorder
    H = run.horizon_s
    P = len(out.product_names)
    n_pp = len(out.partner_names) * P
    rows: list[LedgerRow] = []
    rows += _by_month(rec.revenue, n_pp, P, run.time_bin_s, H, out.partner_names, "revenue", 1.0)
    rows += _by_month(rec.cost, n_pp, P, run.time_bin_s, H, out.partner_names, "call_cost", -1.0)
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
    df = pd.DataFrame(
        [(r.month, r.t_s, r.category, r.partner, r.amount) for r in rows],
        columns=["month", "t_s", "category", "partner", "amount"],
    )
    df.insert(2, "time", pd.Timestamp(run.start) + pd.to_timedelta(df["t_s"], unit="s"))
    bank = df["amount"].where(df["category"] != "partner_cost", 0.0)
    df["cumulative_profit"] = bank.cumsum()
    return df, kpis


def partners_table(out: Any) -> pd.DataFrame:
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
    for p in out.partners:
        if p.name in onboarded:
            continue
        rows.append(
            {
                "partner": p.name,
                "source": "scenario",
                "template": "",
                "sector": p.sector,
                "mode": p.integration,
                "size": 1.0,
                "arrival_s": math.nan,
                "development_start_s": math.nan,
                "go_live_s": p.live_from_s,
                "time_to_market_days": math.nan,
                "reworks": 0,
                "engineer_days": 0.0,
                "review_wait_days": 0.0,
                "live": p.live_from_s < run.horizon_s,
            }
        )
    df = pd.DataFrame(rows)
    for col in ("arrival_s", "development_start_s", "go_live_s"):
        if len(df):
            df[col] = df[col].replace(math.inf, np.nan)
    return df


def onboarding_kpis(out: Any, ledger: pd.DataFrame) -> dict[str, float]:
    """Time to market, partners live / in the pipeline, onboarding cost."""
    H = out.spec.run.horizon_s
    live_static = sum(
        1
        for p in out.partners
        if p.live_from_s < H and p.name not in {q.name for q in out.projects}
    )
    live = [p for p in out.projects if p.live]
    ttm = np.array([p.time_to_market_s / SECONDS_PER_DAY for p in live])
    onboarding_cost = (
        0.0
        - float(
            ledger.loc[ledger["category"].isin(["team", "api_effort", "platform"]), "amount"].sum()
        )
        if len(ledger)
        else 0.0
    )
    has = out.spec.onboarding is not None
    return {
        "partners_live_end": float(live_static + len(live)),
        "partners_in_pipeline_end": float(len(out.projects) - len(live)),
        "time_to_market_mean_days": float(ttm.mean()) if ttm.size else math.nan,
        "time_to_market_p90_days": float(np.percentile(ttm, 90)) if ttm.size else math.nan,
        "onboarding_cost_total": onboarding_cost,
        "cost_per_partner": onboarding_cost / len(live) if has and live else math.nan,
    }
