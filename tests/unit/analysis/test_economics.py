"""Money rules of :mod:`openbank_sim.analysis.money` and a run's ledger, checked by hand.

Rules under test (DESIGN.md "Economics", the module docstring): months are 1/12 year
(2 629 800 s) from t = 0; a recurring amount accrues per day at ``per_month x 12 / 365.25``
(so per second at ``per_month / month_s``) and is booked at each month-end, the last partial
month at the horizon; call revenue and per-call cost are booked at the end of the month that
holds the start of their time bin; traditional team cost = engineers x days held x day_rate at
go-live (or at the horizon while still held); API effort = ``bank_effort_days x day_rate`` at
go-live; ``platform_cost`` at t = 0 and ``platform_cost_per_month`` accrued from t = 0;
maintenance per live partner per month from go-live; servers = ``cost_per_server_hour`` x
capacity x hours (a yearly peak ``schedule`` included); ``partner_cost`` at go-live, kept out of the bank's costs, NPV and payback; NPV
discounts each flow at ``(1 + r) ** -(t / 365.25 d)``; ``payback_month`` = the first month whose
end sees cumulative undiscounted profit >= 0.

The end-to-end case uses constant phase durations; the Poisson arrival times are read from the
``partners`` table and everything else (phase dates, every ledger row, NPV, payback, KPIs) is
recomputed here from those times, the constants and the ``timeseries`` table.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd
import pytest

from openbank_sim import Results, Scenario, simulate
from openbank_sim.analysis.money import (
    LedgerRow,
    accrue_monthly,
    money_kpis,
    month_end,
    month_of,
    project_rows,
)
from openbank_sim.model.onboarding import Project
from openbank_sim.spec.money import ModeSpec, TeamSpec

DAY_S = 86400.0
YEAR_S = 365.25 * DAY_S
MONTH_S = YEAR_S / 12.0  # 2 629 800 s = 30.4375 days
CENT = 0.005

# --------------------------------------------------------------------------------------------
# Unit cases with hand numbers


def test_month_constants_and_month_of() -> None:
    """A month is 2 629 800 s; months are 1-based and half-open."""
    assert MONTH_S == 2_629_800.0
    assert month_of(0.0) == 1
    assert month_of(MONTH_S - 1.0) == 1
    assert month_of(MONTH_S) == 2
    assert month_of(45 * DAY_S) == 2
    assert month_of(YEAR_S) == 13


def test_month_end_is_the_end_or_the_horizon() -> None:
    """Month k is booked at k months, the last partial month at the horizon."""
    horizon = 100 * DAY_S  # 3.285 months
    assert month_end(1, horizon) == MONTH_S
    assert month_end(3, horizon) == 3 * MONTH_S
    assert month_end(4, horizon) == horizon
    assert month_end(2, 2 * MONTH_S) == 2 * MONTH_S


def test_accrue_3000_per_month_over_45_days() -> None:
    """3000 a month over days 0-45: 3000 for the full first month (30.4375 days), the rest
    (14.5625 days x 3000 x 12 / 365.25) at the end of month 2; 4435.32 in all."""
    rows = list(accrue_monthly(3000.0, 0.0, 45 * DAY_S, 10 * YEAR_S))
    assert [(k, t) for k, t, _ in rows] == [(1, MONTH_S), (2, 2 * MONTH_S)]
    assert rows[0][2] == pytest.approx(3000.0, abs=1e-9)
    assert rows[1][2] == pytest.approx(14.5625 * 3000.0 * 12.0 / 365.25, abs=1e-9)
    assert rows[1][2] == pytest.approx(1435.3182751540041, abs=1e-9)
    total = sum(a for _, _, a in rows)
    assert total == pytest.approx(45 * 3000.0 * 12.0 / 365.25, abs=1e-9)
    assert total == pytest.approx(4435.318275154004, abs=1e-9)


def test_accrue_inside_one_month_and_across_the_horizon() -> None:
    """A stretch inside one month is one row; the horizon clips and books the last month."""
    (row,) = accrue_monthly(1200.0, 10 * DAY_S, 20 * DAY_S, 10 * YEAR_S)
    assert row == (1, MONTH_S, pytest.approx(1200.0 * 10 * 12 / 365.25, abs=1e-9))
    horizon = 50 * DAY_S
    rows = list(accrue_monthly(1200.0, 40 * DAY_S, 90 * DAY_S, horizon))
    assert len(rows) == 1
    k, t, amount = rows[0]
    assert (k, t) == (2, horizon)  # the last, partial month is booked at the horizon
    assert amount == pytest.approx(1200.0 * 10 * 12 / 365.25, abs=1e-9)


def test_accrue_from_a_month_boundary_and_empty_cases() -> None:
    """Starting exactly at a month boundary books nothing in the month before; zero amounts,
    empty and reversed stretches and stretches after the horizon book nothing."""
    rows = list(accrue_monthly(500.0, MONTH_S, 3 * MONTH_S, 10 * YEAR_S))
    assert [(k, t) for k, t, _ in rows] == [(2, 2 * MONTH_S), (3, 3 * MONTH_S)]
    assert [a for _, _, a in rows] == [pytest.approx(500.0), pytest.approx(500.0)]
    assert list(accrue_monthly(0.0, 0.0, YEAR_S, 2 * YEAR_S)) == []
    assert list(accrue_monthly(500.0, DAY_S, DAY_S, YEAR_S)) == []
    assert list(accrue_monthly(500.0, 2 * DAY_S, DAY_S, YEAR_S)) == []
    assert list(accrue_monthly(500.0, 2 * YEAR_S, 3 * YEAR_S, YEAR_S)) == []


def test_accrue_a_whole_year_is_twelve_equal_months() -> None:
    """Twelve rows of exactly ``per_month`` over one year."""
    rows = list(accrue_monthly(40_000.0, 0.0, YEAR_S, YEAR_S))
    assert [k for k, _, _ in rows] == list(range(1, 13))
    assert [t for _, t, _ in rows] == [pytest.approx(k * MONTH_S) for k in range(1, 13)]
    for _, _, a in rows:
        assert a == pytest.approx(40_000.0, abs=1e-6)


def test_npv_of_a_flow_at_one_year() -> None:
    """1080 at exactly one year discounts to 1000 at 8 %; t = 0 flows are not discounted."""
    k = money_kpis([LedgerRow(13, YEAR_S, "revenue", "a", 1080.0)], 0.08, 2 * YEAR_S)
    assert k["npv"] == pytest.approx(1000.0, abs=1e-9)
    assert k["revenue_total"] == 1080.0
    rows = [
        LedgerRow(1, 0.0, "platform", "", -500.0),
        LedgerRow(25, 2 * YEAR_S, "revenue", "a", 1166.4),
        LedgerRow(7, YEAR_S / 2, "maintenance", "a", -100.0),
    ]
    k = money_kpis(rows, 0.08, 2 * YEAR_S)
    expected = -500.0 + 1166.4 / 1.08**2 - 100.0 / math.sqrt(1.08)
    assert k["npv"] == pytest.approx(expected, abs=1e-9)
    assert k["cost_total"] == pytest.approx(600.0)
    assert k["profit_total"] == pytest.approx(566.4)


def test_partner_cost_stays_out_of_the_bank_numbers() -> None:
    """Partner-side spend is reported apart: not in cost, profit, NPV or payback."""
    rows = [
        LedgerRow(1, 10 * DAY_S, "partner_cost", "a", -1e6),
        LedgerRow(1, MONTH_S, "revenue", "a", 10.0),
    ]
    k = money_kpis(rows, 0.08, YEAR_S)
    assert k["partner_cost_total"] == 1e6
    assert k["cost_total"] == 0.0
    assert k["profit_total"] == 10.0
    assert k["npv"] == pytest.approx(10.0 * 1.08 ** (-1 / 12), abs=1e-12)
    assert k["payback_month"] == 1.0


def test_payback_month_by_hand() -> None:
    """-1000 at t = 0, +300 at the end of each month: cumulative -700, -400, -100, +200 -> 4;
    exactly zero counts as paid back; never -> NaN."""
    horizon = 12 * MONTH_S
    base = [LedgerRow(1, 0.0, "platform", "", -1000.0)]
    monthly = [LedgerRow(k, k * MONTH_S, "revenue", "a", 300.0) for k in range(1, 13)]
    assert money_kpis(base + monthly, 0.0, horizon)["payback_month"] == 4.0
    even = [LedgerRow(k, k * MONTH_S, "revenue", "a", 250.0) for k in range(1, 13)]
    assert money_kpis(base + even, 0.0, horizon)["payback_month"] == 4.0  # -1000 + 4 x 250 = 0
    few = monthly[:3]
    assert math.isnan(money_kpis(base + few, 0.0, horizon)["payback_month"])
    # a cost later on does not undo an earlier payback
    late = [*base, *monthly[:4], LedgerRow(6, 5.5 * MONTH_S, "team", "a", -5000.0)]
    assert money_kpis(late, 0.0, horizon)["payback_month"] == 4.0


def _team_and_modes(day_rate: float = 200.0) -> tuple[TeamSpec, dict[str, ModeSpec]]:
    """A team and the two modes with the money figures (durations are not used here)."""
    base = Scenario(scenario(1)).spec.onboarding
    assert base is not None
    return TeamSpec(4, day_rate), dict(base.modes)


def test_project_rows_by_hand() -> None:
    """Team days at go-live (or at the horizon), API effort and partner cost at go-live,
    maintenance accrued from go-live."""
    team, modes = _team_and_modes()
    horizon = 700 * DAY_S
    live_trad = Project(0, "t-0001", "t", "other", "traditional", 1.0, 5 * DAY_S)
    live_trad.development_start_s = 30 * DAY_S
    live_trad.go_live_s = live_trad.testing_end_s = 150 * DAY_S
    live_trad.engineer_days = 2 * 120.0
    held = Project(1, "t-0002", "t", "other", "traditional", 1.0, 600 * DAY_S)
    held.development_start_s = 650 * DAY_S
    held.engineer_days = 2 * 50.0
    api = Project(2, "t-0003", "t", "other", "api", 1.0, 100 * DAY_S)
    api.go_live_s = api.testing_end_s = 118 * DAY_S
    docking = Project(3, "t-0004", "t", "other", "api", 1.0, 690 * DAY_S)
    rows = project_rows([live_trad, held, api, docking], modes, team, horizon)
    got = {(r.partner, r.category): [] for r in rows}
    for r in rows:
        got[r.partner, r.category].append(r)
    (r,) = got["t-0001", "team"]
    assert (r.month, r.t_s, r.amount) == (5, 150 * DAY_S, -240 * 200.0)
    (r,) = got["t-0001", "partner_cost"]
    assert (r.month, r.t_s, r.amount) == (5, 150 * DAY_S, -150_000.0)
    (r,) = got["t-0002", "team"]
    assert (r.month, r.t_s, r.amount) == (23, horizon, -100 * 200.0)
    (r,) = got["t-0003", "api_effort"]
    assert (r.month, r.t_s, r.amount) == (4, 118 * DAY_S, -3 * 200.0)
    (r,) = got["t-0003", "partner_cost"]
    assert r.amount == -20_000.0
    maint = got["t-0001", "maintenance"]
    assert maint[0].month == 5 and maint[-1].month == 23 and maint[-1].t_s == horizon
    total = sum(r.amount for r in maint)
    assert total == pytest.approx(-1000.0 * (700 - 150) * 12 / 365.25, abs=1e-6)
    assert sum(r.amount for r in got["t-0003", "maintenance"]) == pytest.approx(
        -300.0 * (700 - 118) * 12 / 365.25, abs=1e-6
    )
    assert ("t-0002", "maintenance") not in got and ("t-0002", "partner_cost") not in got
    assert not any(r.partner == "t-0004" for r in rows)


def test_team_cost_at_a_whole_month_horizon_is_in_the_last_month() -> None:
    """Horizon 24 months, engineers held at the horizon: the team row is month 24, and the
    payback at the end of month 24 (= the horizon) sees it."""
    team, modes = _team_and_modes()
    horizon = 24 * MONTH_S
    held = Project(0, "t-0001", "t", "other", "traditional", 1.0, horizon - 40 * DAY_S)
    held.development_start_s = horizon - 10 * DAY_S
    held.engineer_days = 20.0
    (row,) = project_rows([held], modes, team, horizon)
    platform = LedgerRow(1, 0.0, "platform", "", -500.0)
    revenue = LedgerRow(24, horizon, "revenue", "t-0001", 1000.0)
    kpis = money_kpis([platform, revenue, row], 0.0, horizon)
    assert (row.month, row.t_s, row.amount) == (24, horizon, -4000.0)
    assert math.isnan(kpis["payback_month"])  # -3500 at the end of month 24, the horizon


# --------------------------------------------------------------------------------------------
# End to end: one run, its ledger recomputed by hand

HORIZON_DAYS = 700  # 22.998 months: the last month (23) is partial
SEED = 185  # chosen so that every case below occurs (asserted in test_the_case_covers_...)
FEE = 32.0  # per ok call
CALL_COST = 0.05  # per attempt
SERVERS = 2
PEAK = 6  # servers from 20:00 on 10 November to 04:00 on 11 November, every year
START = dt.datetime(2026, 1, 5)  # run.start's default: t = 0
COST_PER_SERVER_HOUR = 0.5
DAY_RATE = 200.0
DISCOUNT = 0.08
TRAD = {"docking": 20.0, "development": 90.0, "testing": 30.0}  # days, constant
API = {"docking": 3.0, "development": 10.0, "testing": 5.0}  # days, constant
TRAD_ENGINEERS, TEAM = 2, 4
TRAD_PARTNER_COST, TRAD_MAINTENANCE = 150_000.0, 1000.0
API_EFFORT_DAYS, API_PARTNER_COST, API_MAINTENANCE = 3.0, 20_000.0, 300.0
PLATFORM, PLATFORM_PER_MONTH = 50_000.0, 2000.0
OWN_LIVE_FROM_DAYS = 45.0


def constant(days: float) -> dict[str, Any]:
    """A constant duration of ``days`` days."""
    return {"dist": "constant", "value": f"{days}d"}


def scenario(seed: int, horizon: str = f"{HORIZON_DAYS}d") -> dict[str, Any]:
    """Onboarding at 0.6 candidates a month, half traditional, half API, constant phases; a
    scenario partner of its own (traditional, live from day 45); tiny call traffic."""
    return {
        "run": {"horizon": horizon, "time_bin": "1d", "seed": seed},
        "bank": {
            "pools": {
                "core": {
                    "servers": SERVERS,
                    "cost_per_server_hour": COST_PER_SERVER_HOUR,
                    "schedule": [{"from": "11-10T20:00", "to": "11-11T04:00", "servers": PEAK}],
                }
            },
            "products": {
                "pay": {
                    "pool": "core",
                    "service_time": {"dist": "constant", "value": "10ms"},
                    "fee": FEE,
                    "cost": CALL_COST,
                }
            },
        },
        "journeys": {"buy": {"steps": [{"product": "pay"}]}},
        "partners": [
            {"name": "tpl", "users": 10, "sessions_per_user_day": 0.5, "journey": "buy"},
            {
                "name": "own",
                "users": 3,
                "sessions_per_user_day": 1.0,
                "journey": "buy",
                "integration": "traditional",
                "live_from": f"{OWN_LIVE_FROM_DAYS}d",
            },
        ],
        "onboarding": {
            "arrivals_per_month": 0.6,
            "integration": {"api": 0.5, "traditional": 0.5},
            "templates": {"other": "tpl"},
            "size": {"dist": "constant", "value": 1.5},
            "team": {"engineers": TEAM, "day_rate": DAY_RATE},
            "modes": {
                "traditional": {
                    **{phase: constant(d) for phase, d in TRAD.items()},
                    "engineers": TRAD_ENGINEERS,
                    "partner_cost": TRAD_PARTNER_COST,
                    "maintenance_per_month": TRAD_MAINTENANCE,
                },
                "api": {
                    **{phase: constant(d) for phase, d in API.items()},
                    "review_capacity": 1,
                    "bank_effort_days": API_EFFORT_DAYS,
                    "partner_cost": API_PARTNER_COST,
                    "platform_cost": PLATFORM,
                    "platform_cost_per_month": PLATFORM_PER_MONTH,
                    "maintenance_per_month": API_MAINTENANCE,
                },
            },
        },
        "economics": {"discount_rate": DISCOUNT},
    }


@pytest.fixture(scope="module")
def run() -> Results:
    """The end-to-end run (about a second)."""
    return simulate(Scenario(scenario(SEED)))


@pytest.fixture(scope="module")
def onboarded(run: Results) -> pd.DataFrame:
    """The onboarded partners' rows of the partners table, in arrival order."""
    p = run.tables["partners"]
    return p[p["source"] == "onboarding"].sort_values("arrival_s").reset_index(drop=True)


def horizon_s() -> float:
    """The end-to-end case's horizon (s)."""
    return HORIZON_DAYS * DAY_S


def last_month(horizon: float) -> int:
    """The month that ends at the horizon (the last, possibly partial, month)."""
    return math.ceil(horizon / MONTH_S)


def hand_accrual(
    per_month: float, a: float, b: float, horizon: float
) -> list[tuple[int, float, float]]:
    """``(month, booked at, amount)`` of ``per_month`` accrued over ``[a, min(b, horizon))``
    at ``per_month / MONTH_S`` per second, month by month."""
    b = min(b, horizon)
    out = []
    for k in range(1, last_month(horizon) + 1):
        lo, hi = max(a, (k - 1) * MONTH_S), min(b, k * MONTH_S)
        if hi > lo:
            out.append((k, min(k * MONTH_S, horizon), per_month * (hi - lo) / MONTH_S))
    return out


def test_the_case_covers_every_kind_of_project(onboarded: pd.DataFrame) -> None:
    """The seed gives API partners live and still in the pipeline, one that waited for the
    review slot, traditional ones live, waiting for engineers, holding engineers at the
    horizon, and still in docking at the horizon."""
    tr = onboarded[onboarded["mode"] == "traditional"]
    api = onboarded[onboarded["mode"] == "api"]
    dev_start = tr["development_start_s"]
    assert api["live"].sum() >= 2 and (~api["live"]).sum() >= 1
    assert (api["review_wait_days"] > 0).sum() >= 1
    assert tr["live"].sum() >= 2
    assert (dev_start > tr["arrival_s"] + TRAD["docking"] * DAY_S + 1.0).sum() >= 1
    assert (dev_start.notna() & ~tr["live"]).sum() >= 1
    assert dev_start.isna().sum() >= 1
    assert list(onboarded["partner"]) == [f"tpl-{i:04d}" for i in range(1, len(onboarded) + 1)]
    assert (onboarded["template"] == "tpl").all() and (onboarded["size"] == 1.5).all()


def test_phase_dates_follow_the_queues_by_hand(onboarded: pd.DataFrame) -> None:
    """Traditional: FCFS on team // engineers = 2 slots, each held for development + testing
    (120 days) after 20 days of docking; API: FCFS on one review slot for 5 days after 13 days."""
    horizon = horizon_s()
    slots = [0.0] * (TEAM // TRAD_ENGINEERS)
    review_free = 0.0
    for row in onboarded.itertuples():
        if row.mode == "traditional":
            ready = row.arrival_s + TRAD["docking"] * DAY_S
            start = max(ready, heapq.heappop(slots))
            heapq.heappush(slots, start + (TRAD["development"] + TRAD["testing"]) * DAY_S)
            go_live = start + (TRAD["development"] + TRAD["testing"]) * DAY_S
            if start < horizon:
                assert row.development_start_s == pytest.approx(start, abs=1e-6)
                held_until = min(go_live, horizon)
                assert row.engineer_days == pytest.approx(
                    TRAD_ENGINEERS * (held_until - start) / DAY_S, abs=1e-9
                )
            else:
                assert math.isnan(row.development_start_s) and row.engineer_days == 0.0
        else:
            ready = row.arrival_s + (API["docking"] + API["development"]) * DAY_S
            start = max(ready, review_free)
            review_free = start + API["testing"] * DAY_S
            go_live = review_free
            if start < horizon:
                assert row.review_wait_days * DAY_S == pytest.approx(start - ready, abs=1e-6)
        if go_live < horizon:
            assert row.live
            assert row.go_live_s == pytest.approx(go_live, abs=1e-6)
            assert row.time_to_market_days == pytest.approx(
                (go_live - row.arrival_s) / DAY_S, abs=1e-9
            )
        else:
            assert not row.live and math.isnan(row.go_live_s)


def test_calls_start_at_go_live(run: Results, onboarded: pd.DataFrame) -> None:
    """Onboarded partners call only from their go-live day on; templates and partners not
    live never call; revenue is the fee per ok call and cost the cost per attempt."""
    ts = run.tables["timeseries"]
    callers = set(ts["partner"].astype(str))
    assert "tpl" not in callers
    live = onboarded[onboarded["live"]]
    assert callers == {*live["partner"], "own"}
    first = ts.groupby(ts["partner"].astype(str))["t_start_s"].min()
    for row in live.itertuples():
        assert first[row.partner] >= math.floor(row.go_live_s / DAY_S) * DAY_S
    assert first["own"] >= OWN_LIVE_FROM_DAYS * DAY_S
    assert (ts["calls_ok"] == ts["calls_total"]).all()
    assert np.allclose(ts["revenue"], FEE * ts["calls_ok"], rtol=0, atol=1e-9)
    assert np.allclose(ts["cost"], CALL_COST * ts["calls_total"], rtol=0, atol=1e-9)


def hand_ledger(run: Results) -> list[tuple[int, float, str, str, float]]:
    """Every ledger row ``(month, t_s, category, partner, amount)`` recomputed from the
    partners table's dates, the timeseries table's revenue and cost, and the constants."""
    horizon = horizon_s()
    k_last = last_month(horizon)
    rows: list[tuple[int, float, str, str, float]] = []
    ts = run.tables["timeseries"]
    month = np.floor(ts["t_start_s"].to_numpy() / MONTH_S).astype(int) + 1
    for category, column, sign in (("revenue", "revenue", 1.0), ("call_cost", "cost", -1.0)):
        sums: dict[tuple[int, str], float] = defaultdict(float)
        for k, partner, v in zip(month, ts["partner"].astype(str), ts[column], strict=True):
            sums[int(k), partner] += float(v)
        for (k, partner), v in sums.items():
            if v:
                rows.append((k, min(k * MONTH_S, horizon), category, partner, sign * v))
    peaks = [
        (
            (dt.datetime(year, 11, 10, 20) - START).total_seconds(),
            (dt.datetime(year, 11, 11, 4) - START).total_seconds(),
        )
        for year in (2026, 2027)
    ]
    for k in range(1, k_last + 1):  # servers: price x servers x hours of the month
        lo, hi = (k - 1) * MONTH_S, min(k * MONTH_S, horizon)
        server_s = SERVERS * (hi - lo)
        for a, b in peaks:
            server_s += (PEAK - SERVERS) * max(0.0, min(b, hi) - max(a, lo))
        rows.append((k, hi, "servers", "", -COST_PER_SERVER_HOUR * server_s / 3600.0))
    rows.append((1, 0.0, "platform", "", -PLATFORM))
    for k, t, a in hand_accrual(PLATFORM_PER_MONTH, 0.0, horizon, horizon):
        rows.append((k, t, "platform", "", -a))
    partners = run.tables["partners"]
    for p in partners.itertuples():
        if p.source == "scenario":
            for k, t, a in hand_accrual(TRAD_MAINTENANCE, p.go_live_s, horizon, horizon):
                rows.append((k, t, "maintenance", p.partner, -a))
            continue
        if p.mode == "traditional" and not math.isnan(p.development_start_s):
            until = p.go_live_s if p.live else horizon
            days = (until - p.development_start_s) / DAY_S
            k = int(until // MONTH_S) + 1 if p.live else k_last
            rows.append((k, until, "team", p.partner, -TRAD_ENGINEERS * days * DAY_RATE))
        if not p.live:
            continue
        k = int(p.go_live_s // MONTH_S) + 1
        if p.mode == "api":
            rows.append((k, p.go_live_s, "api_effort", p.partner, -API_EFFORT_DAYS * DAY_RATE))
            cost, maintenance = API_PARTNER_COST, API_MAINTENANCE
        else:
            cost, maintenance = TRAD_PARTNER_COST, TRAD_MAINTENANCE
        rows.append((k, p.go_live_s, "partner_cost", p.partner, -cost))
        for km, t, a in hand_accrual(maintenance, p.go_live_s, horizon, horizon):
            rows.append((km, t, "maintenance", p.partner, -a))
    return rows


def by_key(
    rows: list[tuple[int, float, str, str, float]],
) -> dict[tuple[str, str, int, float], float]:
    """Amounts summed by (category, partner, month, booking time rounded to 1 µs)."""
    out: dict[tuple[str, str, int, float], float] = defaultdict(float)
    for k, t, category, partner, amount in rows:
        out[category, partner, int(k), round(float(t), 6)] += float(amount)
    return dict(out)


def test_ledger_rows_by_hand(run: Results) -> None:
    """Every row of the ledger, to the cent, and nothing else. Server rows come one per
    capacity step and month, so rows are compared summed by (category, partner, month, time);
    every other key holds one row."""
    led = run.tables["ledger"]
    got_rows = list(
        zip(
            led["month"].astype(int),
            led["t_s"],
            led["category"],
            led["partner"],
            led["amount"],
            strict=True,
        )
    )
    expected, got = by_key(hand_ledger(run)), by_key(got_rows)
    assert sorted(got) == sorted(expected)
    for key, amount in expected.items():
        assert got[key] == pytest.approx(amount, abs=CENT), key
    others = led[led["category"] != "servers"]
    assert not others.duplicated(["category", "partner", "month", "t_s"]).any()
    assert len(others) == sum(1 for key in expected if key[0] != "servers")
    assert set(led["category"]) == {
        "revenue",
        "call_cost",
        "servers",
        "platform",
        "maintenance",
        "team",
        "api_effort",
        "partner_cost",
    }
    peak_month = int((dt.datetime(2026, 11, 10, 21) - START).total_seconds() // MONTH_S) + 1
    servers = led[led["category"] == "servers"].groupby("month")["amount"].sum()
    assert servers[peak_month] - servers[peak_month - 1] == pytest.approx(
        -COST_PER_SERVER_HOUR * (PEAK - SERVERS) * 8.0, abs=1e-6
    )  # both months are whole: the difference is the eight peak hours


def test_ledger_order_and_cumulative_profit(run: Results) -> None:
    """Rows by booking time; ``cumulative_profit`` is the running bank profit (partner cost
    excluded); ``time`` is ``run.start`` plus ``t_s``."""
    led = run.tables["ledger"]
    assert led["t_s"].is_monotonic_increasing
    assert led["t_s"].max() == pytest.approx(horizon_s())
    bank = led["amount"].where(led["category"] != "partner_cost", 0.0)
    assert np.allclose(led["cumulative_profit"], bank.cumsum(), rtol=0, atol=1e-6)
    start = pd.Timestamp("2026-01-05")
    assert (led["time"] == start + pd.to_timedelta(led["t_s"], unit="s")).all()


def test_money_kpis_by_hand(run: Results) -> None:
    """Totals, NPV at 8 % and payback month recomputed from the hand ledger."""
    rows = hand_ledger(run)
    bank = [r for r in rows if r[2] != "partner_cost"]
    revenue = sum(r[4] for r in bank if r[2] == "revenue")
    cost = -sum(r[4] for r in bank if r[2] != "revenue")
    npv = sum(r[4] * (1.0 + DISCOUNT) ** (-r[1] / YEAR_S) for r in bank)
    by_month = defaultdict(float)
    for r in bank:
        by_month[r[0]] += r[4]
    payback, cumulative = math.nan, 0.0
    for k in range(1, last_month(horizon_s()) + 1):
        cumulative += by_month[k]
        if cumulative >= 0.0:
            payback = float(k)
            break
    k = run.kpis
    assert k["revenue_total"] == pytest.approx(revenue, abs=CENT)
    assert k["cost_total"] == pytest.approx(cost, abs=CENT)
    assert k["profit_total"] == pytest.approx(revenue - cost, abs=CENT)
    assert k["npv"] == pytest.approx(npv, abs=CENT)
    assert k["partner_cost_total"] == pytest.approx(
        -sum(r[4] for r in rows if r[2] == "partner_cost"), abs=CENT
    )
    assert math.isfinite(payback) and 1 < payback < last_month(horizon_s())
    assert k["payback_month"] == payback


def test_onboarding_kpis_by_hand(run: Results, onboarded: pd.DataFrame) -> None:
    """Partners live and in the pipeline, time to market, onboarding cost per live partner."""
    rows = hand_ledger(run)
    live = onboarded[onboarded["live"]]
    ttm = ((live["go_live_s"] - live["arrival_s"]) / DAY_S).to_numpy()
    onboarding = -sum(r[4] for r in rows if r[2] in ("team", "api_effort", "platform"))
    k = run.kpis
    assert k["partners_live_end"] == len(live) + 1  # + the scenario's own partner
    assert k["partners_in_pipeline_end"] == len(onboarded) - len(live)
    assert k["time_to_market_mean_days"] == pytest.approx(ttm.mean(), abs=1e-9)
    assert k["time_to_market_p90_days"] == pytest.approx(np.percentile(ttm, 90), abs=1e-9)
    assert k["onboarding_cost_total"] == pytest.approx(onboarding, abs=CENT)
    assert k["cost_per_partner"] == pytest.approx(onboarding / len(live), abs=CENT)


def test_whole_month_horizon_ledger_has_no_month_after_the_horizon() -> None:
    """Horizon 2 years = 24 months: no ledger row is booked after month 24."""
    led = simulate(Scenario(scenario(SEED, horizon="2y"))).tables["ledger"]
    held = led[(led["category"] == "team") & (led["t_s"] == 24 * MONTH_S)]
    assert len(held) >= 1  # the seed has projects holding engineers at the horizon
    assert led["month"].max() == 24, held[["month", "t_s", "partner", "amount"]]
