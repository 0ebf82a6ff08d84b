"""The KPIs a sweep's worker computes without tables are simulate's KPIs, bit for bit."""

from __future__ import annotations

import math

import pytest

from openbank_sim import load_scenario, simulate
from openbank_sim.simulation import simulate_kpis

# onboarding and money (traditional_vs_api), SLOs and unattended refreshes (uk_open_banking),
# retries and a storm (medical), run.warmup = "auto" (mmc_validation)
CASES = {
    "traditional_vs_api": {"run.horizon": "6mo", "onboarding.integration": "api"},
    "uk_open_banking": {"run.horizon": "1d"},
    "medical": {"run.horizon": "1d"},
    "mmc_validation": {"run.horizon": "20m", "run.warmup": "auto"},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_simulate_kpis_is_simulate_kpis_bit_for_bit(name: str) -> None:
    scenario = load_scenario(name).with_overrides(CASES[name])
    full = simulate(scenario, seed=3).kpis
    lean = simulate_kpis(scenario, seed=3)
    assert list(lean) == list(full)
    moved = {
        k: (full[k], lean[k])
        for k in full
        if not (full[k] == lean[k] or (math.isnan(full[k]) and math.isnan(lean[k])))
    }
    assert not moved
