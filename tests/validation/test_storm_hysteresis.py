"""A storm that outlives its trigger, and a retry budget that ends it (``retry_storm``).

The scenario doubles the hospitals' 09:00 peak for one hour on one payment server (about 1.05
busy during the surge). Without a lever the queue grows past the clients' 5 s timeout, every
attempt times out and is tried three times, and three times the ordinary load keeps the server
overloaded long after the surge: a metastable failure. A retry budget caps the retries at
about a tenth of the first attempts, so the load falls back below capacity when the surge ends
and the queue drains. Replicated over seeds; every replication must show it.
"""

from __future__ import annotations

import math

import pytest

from openbank_sim import load_scenario, simulate
from openbank_sim.analysis.recovery import recovery_time_s, storm_timeline

SURGE_END_S = 10 * 3600.0  # the surge lasts 09:00-10:00
SEEDS = range(1, 5)
BUDGET = {"client.retry_budget": {"ratio": 0.1, "min_per_s": 0.02, "window": "10s"}}


def _hour(tl, start_h: float) -> float:
    """Retry amplification over the hour from ``start_h`` o'clock."""
    sel = (tl["t_start_s"] >= start_h * 3600) & (tl["t_start_s"] < (start_h + 1) * 3600)
    return float(tl.loc[sel, "attempts"].sum() / tl.loc[sel, "first_attempts"].sum())


@pytest.mark.slow
def test_without_a_lever_the_storm_outlives_the_surge_and_a_budget_ends_it_within_minutes():
    storm = load_scenario("retry_storm")
    budget = storm.with_overrides(BUDGET)
    for seed in SEEDS:
        tl = storm_timeline(simulate(storm, seed=seed))
        assert _hour(tl, 8) < 1.05  # before the surge: hardly a retry
        # an hour after the surge's end, still nearly three attempts per call
        assert _hour(tl, 11) >= 2.0
        assert recovery_time_s(tl, SURGE_END_S) == math.inf  # not over by midnight

        tl = storm_timeline(simulate(budget, seed=seed))
        assert _hour(tl, 9) < 1.15  # the budget caps amplification during the surge
        assert _hour(tl, 11) < 1.02
        # the surge's own backlog (about 0.05 of an hour's work) drains within half an hour
        assert recovery_time_s(tl, SURGE_END_S) <= 30 * 60.0


@pytest.mark.slow
def test_dropping_expired_work_alone_ends_it_and_shedding_unattended_traffic_alone_does_not():
    # what the pool levers do alone on this case (the README and notebook 07 report it):
    # dropping attempts whose clients have gone frees the server for calls still waiting, so
    # the backlog goes with the surge although every timed-out call is still retried; shedding
    # the unattended refreshes leaves the patients' own retries, which alone overload the server
    storm = load_scenario("retry_storm")
    drop = storm.with_overrides({"bank.pools.core.drop_expired": True})
    shed = storm.with_overrides({"bank.pools.core.shed_background_above": 10})
    for seed in (1, 2):
        tl = storm_timeline(simulate(drop, seed=seed))
        assert _hour(tl, 9) > 2.0  # still retried during the surge
        assert _hour(tl, 11) < 1.02
        assert recovery_time_s(tl, SURGE_END_S) <= 45 * 60.0
        tl = storm_timeline(simulate(shed, seed=seed))
        assert _hour(tl, 11) >= 2.0
        assert recovery_time_s(tl, SURGE_END_S) > 3 * 3600.0
