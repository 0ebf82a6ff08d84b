"""Runs the figure tests draw from: a small call scenario, a small onboarding one, both
onboarding arms, a 2 x 2 sweep summary, and a run with every table emptied."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from openbank_sim import Results, Scenario, simulate
from openbank_sim.experiments import sweep

CALLS: dict[str, Any] = {
    "name": "tiny_calls",
    "currency": "CNY",
    "run": {"horizon": "1h", "warmup": "10m", "time_bin": "5m"},
    "bank": {
        "pools": {"core": {"servers": 2, "queue_limit": 20}},
        "products": {
            "pay": {
                "kind": "payment",
                "pool": "core",
                "service_time": {"dist": "lognormal", "mean": "150ms", "p95": "400ms"},
                "error_rate": 0.01,
                "take_rate": 0.003,
                "cost": 0.001,
            },
            "info": {
                "kind": "account_info",
                "pool": "core",
                "service_time": {"dist": "exponential", "mean": "60ms"},
            },
        },
    },
    "gateway": {
        "overhead": {"dist": "constant", "value": "5ms"},
        "auth": {
            "token_ttl": "10m",
            "servers": 2,
            "service_time": {"dist": "exponential", "mean": "20ms"},
            "failure_rate": 0.01,
        },
        "limits": [
            {
                "name": "per-partner",
                "scope": "partner",
                "algorithm": "token_bucket",
                "rate": 2.0,
                "burst": 4,
            }
        ],
    },
    "client": {"timeout": "1s", "max_attempts": 2},
    "journeys": {
        "buy": {
            "value": {"dist": "lognormal", "mean": 300, "cv": 0.5},
            "steps": [{"product": "info", "probability": 0.5}, {"product": "pay"}],
        }
    },
    "partners": [
        {"name": "shop", "users": 100_000, "sessions_per_user_day": 2.0, "journey": "buy"},
        {
            "name": "clinic",
            "users": 20_000,
            "sessions_per_user_day": 2.0,
            "journey": "buy",
            "integration": "traditional",
        },
    ],
}

ONBOARDING: dict[str, Any] = {
    "name": "tiny_onboarding",
    "currency": "CNY",
    "run": {
        "horizon": "180d",
        "time_bin": "1d",
        "traffic": "windowed",
        "windows": {"every": "7d", "length": "1h", "warmup": "10m"},
    },
    "bank": {
        "pools": {"core": {"servers": 4, "cost_per_server_hour": 0.5}},
        "products": {
            "pay": {
                "kind": "payment",
                "pool": "core",
                "service_time": {"dist": "exponential", "mean": "100ms"},
                "take_rate": 0.003,
                "cost": 0.001,
            }
        },
    },
    "journeys": {
        "buy": {
            "value": {"dist": "lognormal", "mean": 300, "cv": 0.5},
            "steps": [{"product": "pay"}],
        }
    },
    "partners": [
        {
            "name": "tpl_shop",
            "sector": "ecommerce",
            "users": 2000,
            "sessions_per_user_day": 1.0,
            "journey": "buy",
        }
    ],
    "onboarding": {
        "arrivals_per_month": 6.0,
        "mix": {"ecommerce": 1.0},
        "integration": {"api": 0.5, "traditional": 0.5},
        "templates": {"ecommerce": "tpl_shop"},
        "team": {"engineers": 4, "day_rate": 1200},
        "modes": {
            "traditional": {
                "docking": {"dist": "gamma", "mean": "10d", "cv": 0.5},
                "development": {"dist": "gamma", "mean": "40d", "cv": 0.4},
                "testing": {"dist": "gamma", "mean": "10d", "cv": 0.5},
                "engineers": 2,
                "rework_probability": 0.25,
                "partner_cost": 150_000,
                "maintenance_per_month": 3000,
            },
            "api": {
                "docking": {"dist": "gamma", "mean": "3d", "cv": 0.5},
                "development": {"dist": "gamma", "mean": "10d", "cv": 0.5},
                "testing": {"dist": "gamma", "mean": "5d", "cv": 0.5},
                "review_capacity": 2,
                "bank_effort_days": 3,
                "rework_probability": 0.15,
                "partner_cost": 20_000,
                "platform_cost": 100_000,
                "platform_cost_per_month": 5000,
                "maintenance_per_month": 300,
            },
        },
    },
}


@pytest.fixture(scope="session")
def calls() -> Results:
    return simulate(Scenario(CALLS), seed=1)


@pytest.fixture(scope="session")
def onboarding() -> Results:
    return simulate(Scenario(ONBOARDING), seed=1)


@pytest.fixture(scope="session")
def arms() -> dict[str, Results]:
    base = Scenario(ONBOARDING)
    return {
        mode: simulate(base.with_overrides({"onboarding.integration": mode}), seed=1)
        for mode in ("traditional", "api")
    }


@pytest.fixture(scope="session")
def summary() -> pd.DataFrame:
    small = Scenario(CALLS).with_overrides({"run.horizon": "10m", "run.warmup": "1m"})
    result = sweep(
        small,
        vary={"gateway.limits.0.rate": [1.0, 4.0], "bank.pools.core.servers": [1, 2]},
        replications=2,
        executor="serial",
        quiet=True,
    )
    return result.summary()


@pytest.fixture(scope="session")
def empty(calls: Results) -> Results:
    """The call run with every table emptied (columns kept) and no histograms."""
    tables = {name: df.iloc[0:0] for name, df in calls.tables.items()}
    return Results(calls.kpis, tables, calls.manifest, {})
