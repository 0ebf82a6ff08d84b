"""Windowed traffic against full traffic: the accuracy targets, window placement, determinism.

``run.traffic = "windowed"`` simulates calls only inside observation windows and books the
expected sessions in between, priced by what the windows measured
(:mod:`openbank_sim.model.windows`). The targets: as the mean over replications, windowed agrees
with full traffic within 3% on ``revenue_total`` and within 1 percentage point on
``success_rate``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from openbank_sim import Scenario, load_scenario, simulate
from openbank_sim.analysis.results import KPI_NAMES
from openbank_sim.model.world import run_world
from openbank_sim.rng import replication_seed

# -- the 14-day e-commerce comparison ---------------------------------------------------------

TRAFFIC_DIVISOR = 20  # the shipped users / 20: a full 14-day run takes ~4-10 s
REPLICATIONS = 5
BASE_SEED = 2026
REVENUE_TOLERANCE = 0.03  # relative
SUCCESS_RATE_TOLERANCE = 0.01  # absolute (1 percentage point)
WINDOWS = {
    "run.windows.every": "1d",
    "run.windows.length": "1h",
    "run.windows.warmup": "10m",
    "run.windows.placement": "stratified",
}


def ecommerce_14d(traffic: str) -> Scenario:
    """The shipped e-commerce case over 14 days (two full weeks from a Tuesday), no warm-up.

    Users are divided by :data:`TRAFFIC_DIVISOR`; both pools keep one worker (a pool cannot go
    below one), so the core pool is busy ~4% of the time on average instead of the shipped ~39%:
    light queueing, no rate limiting, errors and a few timeouts, as in a quiet bank.
    """
    base = load_scenario("ecommerce")
    users = [p.users for p in base.spec.partners]
    overrides: dict[str, Any] = {
        "run.horizon": "14d",
        "run.warmup": "0s",
        "partners.0.users": users[0] // TRAFFIC_DIVISOR,
        "partners.1.users": users[1] // TRAFFIC_DIVISOR,
        "bank.pools.core.servers": 1,
        "bank.pools.risk.servers": 1,
        "run.traffic": traffic,
    }
    if traffic == "windowed":
        overrides.update(WINDOWS)
    return base.with_overrides(overrides)


@pytest.mark.slow
def test_windowed_matches_full_traffic_on_14_days() -> None:
    """Mean over replications: revenue within 3%, success rate within 1 percentage point."""
    full, windowed = ecommerce_14d("full"), ecommerce_14d("windowed")
    kpis: dict[str, list[dict[str, float]]] = {"full": [], "windowed": []}
    utilization = []
    for r in range(REPLICATIONS):
        seed = replication_seed(BASE_SEED, r)
        res = simulate(full, seed=seed)
        kpis["full"].append(res.kpis)
        pools = res.tables["by_pool"].set_index("pool")
        utilization.append(float(pools.loc["core", "utilization"]))
        kpis["windowed"].append(simulate(windowed, seed=seed).kpis)

    def mean(arm: str, name: str) -> float:
        return float(np.mean([k[name] for k in kpis[arm]]))

    revenue_error = abs(mean("windowed", "revenue_total") / mean("full", "revenue_total") - 1.0)
    success_error = abs(mean("windowed", "success_rate") - mean("full", "success_rate"))
    p95_error = abs(mean("windowed", "latency_p95_s") / mean("full", "latency_p95_s") - 1.0)
    print(
        f"\n{REPLICATIONS} replications, 14 days, windows every 1d x 1h (10 min warm-up), "
        f"stratified; core utilization (full) {np.mean(utilization):.3f}\n"
        f"revenue_total: full {mean('full', 'revenue_total'):,.0f}, windowed "
        f"{mean('windowed', 'revenue_total'):,.0f}, error {100 * revenue_error:.2f}% "
        f"(target <= {100 * REVENUE_TOLERANCE:.0f}%)\n"
        f"success_rate: full {mean('full', 'success_rate'):.5f}, windowed "
        f"{mean('windowed', 'success_rate'):.5f}, error {100 * success_error:.3f} pp "
        f"(target <= {100 * SUCCESS_RATE_TOLERANCE:.0f} pp)\n"
        f"latency_p95_s: full {mean('full', 'latency_p95_s'):.3f}, windowed "
        f"{mean('windowed', 'latency_p95_s'):.3f}, error {100 * p95_error:.2f}% (no target)"
    )
    assert revenue_error <= REVENUE_TOLERANCE
    assert success_error <= SUCCESS_RATE_TOLERANCE


# -- a tiny windowed scenario -----------------------------------------------------------------

EVENT_DATE = "03-04"  # a sale day inside every horizon below (the run starts on 03-02)


def tiny(horizon: str = "4d", every: str = "1d", traffic: str = "windowed") -> Scenario:
    """One flat-evening shop, one payment product, a 3x sale on 2026-03-04."""
    raw = {
        "run": {
            "start": "2026-03-02",
            "horizon": horizon,
            "warmup": "0s",
            "traffic": traffic,
            "windows": {"every": every, "length": "1h", "warmup": "10m"},
        },
        "bank": {
            "pools": {"core": {"servers": 2}},
            "products": {
                "pay": {
                    "kind": "payment",
                    "pool": "core",
                    "service_time": {"dist": "exponential", "mean": "100ms"},
                    "error_rate": 0.01,
                    "take_rate": 0.003,
                }
            },
        },
        "journeys": {
            "buy": {"steps": [{"product": "pay"}], "value": {"dist": "constant", "value": 100}}
        },
        "profiles": {
            "sale": {
                "daily": [0.3] * 8 + [1.0] * 16,
                "events": [{"date": EVENT_DATE, "factor": 3.0, "duration": "1d"}],
            }
        },
        "partners": [
            {
                "name": "shop",
                "users": 2000,
                "sessions_per_user_day": 2.0,
                "journey": "buy",
                "profile": "sale",
            }
        ],
    }
    return Scenario(raw)


def same(a: float, b: float) -> bool:
    """Equal, NaN equal to NaN."""
    return a == b or (math.isnan(a) and math.isnan(b))


def test_windowed_books_every_kpi() -> None:
    """All KPIs, finite where full traffic's are; outcome counts sum to ``calls_total``."""
    windowed = simulate(tiny(), seed=3).kpis
    full = simulate(tiny(traffic="full"), seed=3).kpis
    assert list(windowed) == list(KPI_NAMES)
    assert {k for k, v in windowed.items() if math.isfinite(v)} == {
        k for k, v in full.items() if math.isfinite(v)
    }
    outcomes = ("ok", "rate_limited", "overloaded", "timeout", "error", "auth_failed")
    total = sum(windowed[f"calls_{o}"] for o in outcomes)
    assert windowed["calls_total"] == pytest.approx(total, rel=1e-12)
    assert windowed["calls_error"] > 0  # booked expected counts, not only ok calls
    # booked sessions follow the rate integral: 4 days x 4000 sessions, the sale day x3
    assert windowed["journeys_started"] == pytest.approx(4000.0 * (1 + 3 + 1 + 1), rel=1e-9)
    assert windowed["calls_total"] == pytest.approx(full["calls_total"], rel=0.05)


@pytest.mark.parametrize(
    ("horizon", "every"), [("4d", "1d"), ("4d12h", "1d"), ("3d", "2d"), ("10d", "3d")]
)
def test_one_window_per_spacing_plus_event_days(horizon: str, every: str) -> None:
    """``floor(horizon / every)`` windows, plus one on the sale day."""
    spec = tiny(horizon, every).spec
    windows = run_world(spec, 1).windows
    assert windows is not None
    assert len(windows) == math.floor(spec.run.horizon_s / spec.run.windows.every_s) + 1
    for start, end in windows:
        assert end - start == spec.run.windows.length_s
        assert spec.run.windows.warmup_s <= start and end <= spec.run.horizon_s
    sale_day_s = 2 * 86400.0  # the event window comes last
    assert sale_day_s <= windows[-1][0] < sale_day_s + 86400.0


def test_windowed_is_deterministic() -> None:
    """Same seed, identical KPIs; another seed, other measurements."""
    scenario = tiny()
    a, b = simulate(scenario, seed=11).kpis, simulate(scenario, seed=11).kpis
    assert all(same(a[k], b[k]) for k in KPI_NAMES), {
        k: (a[k], b[k]) for k in KPI_NAMES if not same(a[k], b[k])
    }
    c = simulate(scenario, seed=12).kpis
    assert a["latency_p95_s"] != c["latency_p95_s"] or a["revenue_total"] != c["revenue_total"]
