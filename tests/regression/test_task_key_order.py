"""A replication run by an experiment is the run ``simulate`` gives with the same seed, also
where the scenario's key order matters (``onboarding.mix`` orders the sectors' draws)."""

from __future__ import annotations

from openbank_sim import load_scenario, simulate
from openbank_sim.experiments import replicate
from openbank_sim.rng import replication_seed


def test_replicate_equals_simulate_on_an_onboarding_scenario():
    scenario = load_scenario("traditional_vs_api").with_overrides(
        {"run.horizon": "180d", "onboarding.integration": "traditional"}
    )
    mix = list(scenario.as_dict()["onboarding"]["mix"])
    assert mix != sorted(mix)  # the case a sorted copy of the scenario would get wrong
    rep = replicate(scenario, n=2, seed=5, executor="serial", quiet=True)
    for r in range(2):
        alone = simulate(scenario, seed=replication_seed(5, r)).kpis
        row = rep.runs.iloc[r]
        for kpi in ("npv", "partners_live_end", "calls_total", "revenue_total"):
            assert row[kpi] == alone[kpi] or (row[kpi] != row[kpi] and alone[kpi] != alone[kpi])
