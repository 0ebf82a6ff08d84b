"""The onboarding pipeline against queueing theory: the team queue, one-to-one vs one-to-many.

Candidates arrive as a Poisson process of ``arrivals_per_month`` per month (a month is 1/12
year). A traditional project holds ``engineers`` of the team from the start of development to
go-live, so the team is ``c = team // engineers`` project slots served FCFS: with no docking or
testing (constant ``"0s"``), no rework and exponential development, the wait for engineers
(``development_start_s - arrival_s``) is the wait of M/M/c (Erlang C). API partners develop on
their own and only their certification (testing) holds one of ``review_capacity`` slots; the
arrivals at the review are the Poisson arrivals displaced by i.i.d. docking + development
times, hence Poisson again, so with exponential testing the review is M/M/c too.

Onboarding is simulated for decades here. Simulating the calls of hundreds of onboarded partners
over such horizons would cost far more than the pipeline (call arrivals are prepared per partner
per hour of the horizon), so the statistics are read from the ``partners`` table built, as
:func:`openbank_sim.simulate` builds it, from the run's own pipeline entry point
(:func:`openbank_sim.model.world.live_partners`) without the calls;
:func:`test_partners_table_is_the_runs_own` checks on a short horizon that this is exactly the
table a full run returns. Each statement uses R independent replications (seeds 0..R-1), the
arrivals of the first ``WARMUP_YEARS`` are discarded and a 99% Student-t interval must contain
the closed-form value and be narrow: its half width below a stated fraction of that value
(:func:`theory.assert_covers`).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from theory import assert_covers, erlang_c, mmc_wq_s, t_interval

from openbank_sim import Results, Scenario, load_scenario, simulate
from openbank_sim.analysis.money import partners_table
from openbank_sim.cli import main
from openbank_sim.model.world import live_partners
from openbank_sim.rng import Streams

DAY_S = 86400.0
MONTH_S = 365.25 * DAY_S / 12.0
YEAR_S = 12 * MONTH_S
DAYS_PER_MONTH = 365.25 / 12.0
CONFIDENCE = 0.99
WARMUP_YEARS = 10


def scenario(
    arrivals_per_month: float, years: int, modes: dict[str, Any], integration: Any, team: int
) -> dict[str, Any]:
    """Onboarding from one template partner with almost no traffic (one user, a session every
    ten thousand days), so that a full run's cost is the pipeline's."""
    return {
        "run": {"horizon": f"{years}y", "time_bin": "1d"},
        "bank": {
            "pools": {"core": {"servers": 1}},
            "products": {
                "pay": {"pool": "core", "service_time": {"dist": "constant", "value": "10ms"}}
            },
        },
        "journeys": {"buy": {"steps": [{"product": "pay"}]}},
        "partners": [{"name": "tpl", "users": 1, "sessions_per_user_day": 1e-4, "journey": "buy"}],
        "onboarding": {
            "arrivals_per_month": arrivals_per_month,
            "integration": integration,
            "templates": {"other": "tpl"},
            "team": {"engineers": team, "day_rate": 1000},
            "modes": modes,
        },
    }


def pipeline_table(raw: dict[str, Any] | Scenario, seed: int) -> pd.DataFrame:
    """The onboarded partners' rows of the ``partners`` table of a run of ``raw`` (a scenario
    or its dict) with ``seed``, calls left out."""
    spec = (raw if isinstance(raw, Scenario) else Scenario(raw)).spec
    partners, projects = live_partners(spec, Streams(seed))
    out = SimpleNamespace(spec=spec, projects=projects, partners=partners)
    table = partners_table(out)
    return table[table["source"] == "onboarding"].reset_index(drop=True)


def gamma(mean: str, cv: float = 0.5) -> dict[str, Any]:
    """A gamma duration."""
    return {"dist": "gamma", "mean": mean, "cv": cv}


ZERO = {"dist": "constant", "value": "0s"}

# -- the team queue: M/M/c ------------------------------------------------------------------
# c = 6 // 2 = 3 slots, development exponential with a mean of 2 months, 1.2 candidates a
# month: offered load 2.4 Erlangs, rho = 0.8.
MMC_TEAM, MMC_ENGINEERS, MMC_DEV_MONTHS, MMC_ARRIVALS = 6, 2, 2.0, 1.2
MMC_YEARS, MMC_MEASURED_UNTIL_YEARS, MMC_R = 90, 80, 40
# Power: each interval's half width must be below a stated fraction of the theory value, set at
# about 1.5-2x the relative half width the seeded replications give (noted as "seen").
MMC_MAX_REL_HALF_WIDTH_WQ = 0.2  # seen 0.128
MMC_MAX_REL_HALF_WIDTH_P_WAIT = 0.06  # seen 0.039
MMC_MODES = {
    "traditional": {
        "docking": ZERO,
        "development": {"dist": "exponential", "mean": f"{MMC_DEV_MONTHS:g}mo"},
        "testing": ZERO,
        "engineers": MMC_ENGINEERS,
    }
}


def mmc_raw(years: int) -> dict[str, Any]:
    """The M/M/c team-queue scenario over ``years``."""
    return scenario(MMC_ARRIVALS, years, MMC_MODES, "traditional", MMC_TEAM)


def test_partners_table_is_the_runs_own() -> None:
    """On a short horizon, a full run's ``partners`` table is the one the tests read."""
    raw = mmc_raw(3)
    full = simulate(Scenario(raw), seed=5).tables["partners"]
    full = full[full["source"] == "onboarding"].reset_index(drop=True)
    assert len(full) > 20
    pd.testing.assert_frame_equal(full, pipeline_table(raw, 5), check_exact=True)


def test_team_queue_is_erlang_c() -> None:
    """Wait for engineers = M/M/c Wq with c = team // engineers, service = development time;
    the share of projects that wait = Erlang C."""
    c = MMC_TEAM // MMC_ENGINEERS
    waits, delayed = [], []
    for seed in range(MMC_R):
        p = pipeline_table(mmc_raw(MMC_YEARS), seed)
        arrival = p["arrival_s"]
        p = p[(arrival >= WARMUP_YEARS * YEAR_S) & (arrival < MMC_MEASURED_UNTIL_YEARS * YEAR_S)]
        assert p["development_start_s"].notna().all()  # ten spare years: every one started
        assert (p["mode"] == "traditional").all() and (p["reworks"] == 0).all()
        wait_months = (p["development_start_s"] - p["arrival_s"]) / MONTH_S
        waits.append(float(wait_months.mean()))
        delayed.append(float((wait_months > 0).mean()))
    wq_months = mmc_wq_s(c, MMC_ARRIVALS, MMC_DEV_MONTHS)  # the units cancel: months throughout
    p_wait = erlang_c(c, MMC_ARRIVALS * MMC_DEV_MONTHS)
    w, d = t_interval(waits, CONFIDENCE), t_interval(delayed, CONFIDENCE)
    assert_covers(w, wq_months, max_rel_half_width=MMC_MAX_REL_HALF_WIDTH_WQ, label="Wq (months)")
    assert_covers(d, p_wait, max_rel_half_width=MMC_MAX_REL_HALF_WIDTH_P_WAIT, label="Erlang C")


# -- one-to-one vs one-to-many -----------------------------------------------------------------
# Traditional: 4 // 2 = 2 slots, each held for development (3 months) + testing (1 month), so
# the team finishes at most 2 / 4 = 0.5 projects a month. API: docking 10 d + development 20 d
# on the partner's side, then certification (exponential, 5 d) on one of 2 review slots.
OTM_TEAM, OTM_ENGINEERS = 4, 2
OTM_ENGAGED_MONTHS = 3.0 + 1.0
OTM_CAPACITY_PER_MONTH = (OTM_TEAM // OTM_ENGINEERS) / OTM_ENGAGED_MONTHS
OTM_API_DAYS = {"docking": 10.0, "development": 20.0, "testing": 5.0}
OTM_REVIEW_SLOTS = 2
OTM_DEMAND = (0.25, 1.0, 4.0)  # candidates per month: rho = 0.5, 2 and 8 for the team
OTM_YEARS, OTM_R = 40, 10
# Power, per demand level (the go-lives counted shrink with the demand): each interval's half
# width must be below a stated fraction of the theory value, about 1.5-2x the relative half
# width seen.
# seen 0.103, 0.055, 0.029
OTM_MAX_REL_HALF_WIDTH_API_THROUGHPUT = {0.25: 0.2, 1.0: 0.1, 4.0: 0.05}
# seen 0.047, 0.017, 0.011
OTM_MAX_REL_HALF_WIDTH_API_TTM = {0.25: 0.08, 1.0: 0.03, 4.0: 0.02}
# seen 0.116, 0.021, 0.026
OTM_MAX_REL_HALF_WIDTH_TRADITIONAL_THROUGHPUT = {0.25: 0.2, 1.0: 0.04, 4.0: 0.04}
OTM_MODES = {
    "traditional": {
        "docking": gamma("1mo"),
        "development": gamma("3mo"),
        "testing": gamma("1mo"),
        "engineers": OTM_ENGINEERS,
    },
    "api": {
        "docking": gamma(f"{OTM_API_DAYS['docking']:g}d"),
        "development": gamma(f"{OTM_API_DAYS['development']:g}d"),
        "testing": {"dist": "exponential", "mean": f"{OTM_API_DAYS['testing']:g}d"},
        "review_capacity": OTM_REVIEW_SLOTS,
    },
}


def api_time_to_market_days(arrivals_per_month: float) -> float:
    """Docking + development + M/M/c review wait + testing (days)."""
    testing_months = OTM_API_DAYS["testing"] / DAYS_PER_MONTH
    wq_days = mmc_wq_s(OTM_REVIEW_SLOTS, arrivals_per_month, testing_months) * DAYS_PER_MONTH
    return sum(OTM_API_DAYS.values()) + wq_days


def onboarding_arm(arrivals_per_month: float, mode: str) -> tuple[list[float], list[float]]:
    """Per replication: go-lives per month in ``[WARMUP_YEARS, OTM_YEARS)`` and the mean time
    to market (days) of the partners that went live then (API: of every candidate arriving in
    ``[WARMUP_YEARS, OTM_YEARS - 1)``, all live within the year left)."""
    raw = scenario(arrivals_per_month, OTM_YEARS, OTM_MODES, mode, OTM_TEAM)
    window_months = (OTM_YEARS - WARMUP_YEARS) * 12
    throughput, ttm = [], []
    for seed in range(OTM_R):
        p = pipeline_table(raw, seed)
        assert (p["mode"] == mode).all()
        live_in_window = p["go_live_s"] >= WARMUP_YEARS * YEAR_S  # NaN (not live) is False
        throughput.append(float(live_in_window.sum()) / window_months)
        if mode == "api":
            arrival = p["arrival_s"]
            cohort = p[(arrival >= WARMUP_YEARS * YEAR_S) & (arrival < (OTM_YEARS - 1) * YEAR_S)]
            assert cohort["live"].all()
        else:
            cohort = p[live_in_window]
        ttm.append(float(cohort["time_to_market_days"].mean()))
    return throughput, ttm


@pytest.fixture(scope="module")
def arms() -> dict[tuple[float, str], tuple[list[float], list[float]]]:
    """Both arms at every demand level (about 8 s)."""
    return {(lam, mode): onboarding_arm(lam, mode) for lam in OTM_DEMAND for mode in OTM_MODES}


@pytest.mark.parametrize("arrivals_per_month", OTM_DEMAND)
def test_api_onboarding_keeps_up_with_demand(
    arms: dict[tuple[float, str], tuple[list[float], list[float]]], arrivals_per_month: float
) -> None:
    """One-to-many: API go-lives per month = arrivals per month; time to market = the phase
    means plus the M/M/c review wait, whatever the demand."""
    throughput, ttm = arms[arrivals_per_month, "api"]
    th, t = t_interval(throughput, CONFIDENCE), t_interval(ttm, CONFIDENCE)
    expected_ttm = api_time_to_market_days(arrivals_per_month)
    assert_covers(
        th,
        arrivals_per_month,
        max_rel_half_width=OTM_MAX_REL_HALF_WIDTH_API_THROUGHPUT[arrivals_per_month],
        label="go-lives a month",
    )
    assert_covers(
        t,
        expected_ttm,
        max_rel_half_width=OTM_MAX_REL_HALF_WIDTH_API_TTM[arrivals_per_month],
        label="time to market (d)",
    )


def test_api_time_to_market_stays_flat(
    arms: dict[tuple[float, str], tuple[list[float], list[float]]],
) -> None:
    """Sixteen times the demand moves the API time to market by under two days."""
    means = [t_interval(arms[lam, "api"][1], CONFIDENCE).mean for lam in OTM_DEMAND]
    assert max(means) - min(means) < 2.0, means


@pytest.mark.parametrize("arrivals_per_month", OTM_DEMAND)
def test_traditional_throughput_saturates(
    arms: dict[tuple[float, str], tuple[list[float], list[float]]], arrivals_per_month: float
) -> None:
    """One-to-one: go-lives per month = min(demand, (team // engineers) / (development +
    testing) months) = min(demand, 0.5)."""
    throughput, _ = arms[arrivals_per_month, "traditional"]
    th = t_interval(throughput, CONFIDENCE)
    expected = min(arrivals_per_month, OTM_CAPACITY_PER_MONTH)
    assert_covers(
        th,
        expected,
        max_rel_half_width=OTM_MAX_REL_HALF_WIDTH_TRADITIONAL_THROUGHPUT[arrivals_per_month],
        label="go-lives a month",
    )
    if arrivals_per_month > OTM_CAPACITY_PER_MONTH:
        assert th.high < arrivals_per_month  # the backlog grows


def test_traditional_time_to_market_grows_with_demand(
    arms: dict[tuple[float, str], tuple[list[float], list[float]]],
) -> None:
    """Past the team's capacity the backlog, and with it time to market, grows: years instead
    of months, and more with more demand; API partners stay under two months throughout."""
    trad = [t_interval(arms[lam, "traditional"][1], CONFIDENCE) for lam in OTM_DEMAND]
    engaged_days = (1.0 + OTM_ENGAGED_MONTHS) * DAYS_PER_MONTH  # docking + development + testing
    assert engaged_days < trad[0].mean < 2 * engaged_days  # rho = 0.5: some waiting
    assert trad[1].low > 10 * trad[0].high  # saturated
    assert trad[2].low > trad[1].high
    api = [t_interval(arms[lam, "api"][1], CONFIDENCE) for lam in OTM_DEMAND]
    assert all(t.high < 2 * DAYS_PER_MONTH for t in api)


# -- common random numbers across integration modes -----------------------------------------

CRN_SCENARIO = """\
name = "onboarding_crn"

[run]
horizon = "1y"
time_bin = "1d"

[bank.pools.core]
servers = 2

[bank.products.pay]
pool = "core"
service_time = { dist = "constant", value = "10ms" }
fee = 1.0

[journeys.buy]
steps = [{ product = "pay" }]

[[partners]]
name = "tpl_shop"
sector = "ecommerce"
users = 5
sessions_per_user_day = 0.2
journey = "buy"

[[partners]]
name = "tpl_clinic"
sector = "medical"
users = 3
sessions_per_user_day = 0.2
journey = "buy"

[onboarding]
arrivals_per_month = 2.0
mix = { ecommerce = 0.6, medical = 0.4 }
integration = { api = 0.5, traditional = 0.5 }
templates = { ecommerce = "tpl_shop", medical = "tpl_clinic" }
size = { dist = "lognormal", mean = 1.0, cv = 0.8 }

[onboarding.team]
engineers = 4
day_rate = 1000

[onboarding.modes.traditional]
docking = { dist = "gamma", mean = "20d", cv = 0.5 }
development = { dist = "gamma", mean = "90d", cv = 0.4 }
testing = { dist = "gamma", mean = "30d", cv = 0.5 }
engineers = 2
rework_probability = 0.25

[onboarding.modes.api]
docking = { dist = "gamma", mean = "3d", cv = 0.5 }
development = { dist = "gamma", mean = "10d", cv = 0.5 }
testing = { dist = "gamma", mean = "5d", cv = 0.5 }
review_capacity = 2
rework_probability = 0.15
"""

CANDIDATE = ["partner", "template", "sector", "size", "arrival_s"]


def test_integration_arms_see_the_same_candidates(tmp_path: Path) -> None:
    """``--set onboarding.integration=traditional`` and ``=api`` both run and see the same
    candidates (names, templates, sectors, sizes, arrival times) as each other and as the
    mixed file: common random numbers; only modes and phase dates differ."""
    path = tmp_path / "onboarding_crn.toml"
    path.write_text(CRN_SCENARIO, encoding="utf-8")
    tables = {}
    for mode in ("traditional", "api"):
        out = tmp_path / mode
        argv = ["run", str(path), "--seed", "11", "--quiet", "--out", str(out)]
        assert main([*argv, "--set", f"onboarding.integration={mode}"]) == 0
        p = Results.load(out).tables["partners"]
        tables[mode] = p[p["source"] == "onboarding"].reset_index(drop=True)
        assert (tables[mode]["mode"] == mode).all()
    mixed = pipeline_table(load_scenario(path), 11)
    assert len(tables["api"]) >= 12
    assert set(tables["api"]["sector"]) == {"ecommerce", "medical"}
    assert set(mixed["mode"]) == {"api", "traditional"}
    for other in (tables["traditional"], mixed):
        pd.testing.assert_frame_equal(tables["api"][CANDIDATE], other[CANDIDATE], check_exact=True)
    assert tables["api"]["live"].sum() > tables["traditional"]["live"].sum()
