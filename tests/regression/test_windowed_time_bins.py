"""A windowed run longer than 60 days books traffic in daily bins whatever ``run.time_bin``
says; the ledger and the timeseries must decode those bins with the record's own width.

Before the fix, a 120-day API run with ``time_bin = "1h"`` showed all revenue in month 1,
payback month 1 and a timeseries that ended on day 5.
"""

from __future__ import annotations

import pandas as pd
import pytest

from openbank_sim import load_scenario, simulate

HORIZON_DAYS = 120


@pytest.fixture(scope="module")
def runs() -> dict[str, object]:
    base = load_scenario("traditional_vs_api").with_overrides(
        {"run.horizon": f"{HORIZON_DAYS}d", "onboarding.integration": "api"}
    )
    return {tb: simulate(base.with_overrides({"run.time_bin": tb}), seed=3) for tb in ("1h", "1d")}


def test_monthly_ledger_agrees(runs) -> None:
    hourly, daily = runs["1h"], runs["1d"]

    def monthly(r) -> pd.Series:
        df = r.tables["ledger"]
        return df[df["category"] == "revenue"].groupby("month")["amount"].sum()

    h, d = monthly(hourly), monthly(daily)
    assert list(h.index) == list(d.index)
    assert len(h) >= 4, "revenue must be booked over the months of the horizon"
    pd.testing.assert_series_equal(h, d, rtol=1e-9)
    assert hourly.kpis["npv"] == pytest.approx(daily.kpis["npv"], rel=1e-9)
    assert hourly.kpis["payback_month"] == daily.kpis["payback_month"]


def test_timeseries_covers_the_horizon(runs) -> None:
    for r in runs.values():
        ts = r.tables["timeseries"]
        last_day = ts["t_start_s"].max() / 86400.0
        assert last_day >= HORIZON_DAYS - 1, f"timeseries ends on day {last_day:.1f}"
        assert ts["revenue"].sum() == pytest.approx(r.kpis["revenue_total"], rel=1e-9)
