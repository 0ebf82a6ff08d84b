"""Words for the figures: parameter paths and KPI keys with units, numbers, targets."""

from __future__ import annotations

import re

import numpy as np
import pytest

from openbank_sim import load_scenario
from openbank_sim.analysis.kpis import KPI_NAMES
from openbank_sim.plots._labels import (
    KpiTarget,
    kpi_label,
    kpi_scale,
    number_text,
    param_label,
    param_name,
    parse_target,
)


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("gateway.limits.0.rate", "rate limit (calls/s)"),
        ("gateway.limits.1.burst", "burst of rate limit 1 (calls)"),
        ("bank.pools.core.servers", "servers in pool core"),
        ("bank.pools.core.cost_per_server_hour", "cost per server-hour of pool core (CNY per h)"),
        ("client.max_attempts", "max attempts per call"),
        ("client.timeout", "client timeout (s)"),
        ("onboarding.integration", "integration mode"),
        ("onboarding.team.day_rate", "engineer day rate (CNY per day)"),
        ("onboarding.modes.api.platform_cost", "api platform cost (CNY)"),
        (
            "onboarding.modes.traditional.maintenance_per_month",
            "traditional maintenance per live partner (CNY per month)",
        ),
        ("economics.discount_rate", "discount rate (share per year)"),
        ("partners.0.users", "users of partner 0"),
    ],
)
def test_parameter_paths_in_words(path: str, label: str) -> None:
    assert param_label(path, currency="CNY") == label


def test_names_from_the_scenario() -> None:
    raw = load_scenario("rate_limits").as_dict()
    name = raw["gateway"]["limits"][0]["name"]
    assert param_label("gateway.limits.0.rate", raw) == f"rate limit {name} (calls/s)"
    partner = raw["partners"][0]["name"]
    assert param_label("partners.0.users", raw) == f"users of {partner}"
    assert param_name("gateway.limits.0.rate", raw) == f"rate limit {name}"


@pytest.mark.parametrize(
    "path", ["a.b_c.0.d_e", "x", "", "a..b", ".", "gateway.limits.9.rate", "bank.pools", 42]
)
def test_unknown_paths_fall_back_to_words(path: object) -> None:
    label = param_label(path, {"gateway": {"limits": []}})
    assert label and "_" not in label
    assert not re.search(r"\w\.\w", label)


def test_every_kpi_has_words_and_a_unit() -> None:
    for kpi in KPI_NAMES:
        label = kpi_label(kpi, "CNY")
        assert "_" not in label, label
        assert re.search(r"\([^()]+\)$", label) or kpi in ("retry_amplification_peak",), label
    assert kpi_label("success_rate") == "success rate (share of calls)"
    assert kpi_label("latency_p95_s") == "p95 latency of ok calls (ms)"
    assert kpi_label("npv", "CNY") == "NPV (CNY)"
    assert (
        kpi_label("calls_rate_limited/calls_total") == "429 rate-limited calls (share of attempts)"
    )
    assert kpi_scale("latency_p95_s") == 1000.0 and kpi_scale("success_rate") == 1.0


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e6, "1,000,000"),
        (1_000_000, "1,000,000"),
        (0.000123, "0.000123"),
        (1e-9, "0.000000001"),
        (12.5, "12.5"),
        (4321.7, "4,322"),
        (0.1 + 0.2, "0.3"),
        (6.0, "6"),
        (2.5e12, "2,500,000,000,000"),
        (np.float64(0.997), "0.997"),
        ("api", "api"),
    ],
)
def test_numbers_never_in_scientific_notation(value: object, text: str) -> None:
    assert number_text(value) == text


def test_targets_from_text_and_constraints() -> None:
    t = parse_target("latency_p95_s<=1")
    assert t == KpiTarget("latency_p95_s", "<=", 1.0)
    assert list(t.met([0.5, 1.0, 1.2, np.nan])) == [True, True, False, False]
    assert t.text() == "target: p95 latency of ok calls ≤ 1,000 ms"
    assert parse_target("success_rate >= 0.99").text() == "target: success rate ≥ 0.99"
    with pytest.raises(ValueError, match="KPI>=VALUE"):
        parse_target("success_rate=0.99")
    with pytest.raises(ValueError, match="finite"):
        parse_target("success_rate>=nan")
    with pytest.raises(ValueError, match="the figure shows"):
        parse_target("success_rate>=0.9", kpi="npv")
