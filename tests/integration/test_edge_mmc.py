"""The edge on the M/M/c case: without retries nothing feeds back, so the way down measures
what the way up did (no hysteresis), and the per-step counts add up to the run's own KPIs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from openbank_sim import load_scenario
from openbank_sim.analysis.periods import period_counts
from openbank_sim.analysis.results import run_kpis
from openbank_sim.experiments.edge import edge, parse_lever, staircase, staircase_spec
from openbank_sim.experiments.stats import t_interval
from openbank_sim.model.world import run_world

# M/M/8 at 64 calls/s with a queue of 5: blocking grows from about 1 % at 0.8x to about 10 %
# at 1.3x, so the success rate moves with the level; no client retries (max_attempts = 1)
OVERRIDES = {"run.warmup": "2m", "bank.pools.core.queue_limit": 5}
LEVELS = (0.8, 1.05, 1.3)
REPLICATIONS = 6
CONFIDENCE = 0.99  # per level; three levels: a family of about 97 %
# Power: the paired difference's half width below this (share of attempts; the seeded runs
# give 0.007-0.018)
MAX_HALF_WIDTH = 0.025


@pytest.fixture(scope="module")
def result():
    return edge(
        load_scenario("mmc_validation"),
        "load",
        LEVELS[0],
        LEVELS[-1],
        levels=len(LEVELS),
        dwell="2m",
        seed=11,
        replications=REPLICATIONS,
        level=CONFIDENCE,
        overrides=OVERRIDES,
    )


def test_no_hysteresis_without_feedback(result):
    assert result.values == LEVELS
    assert result.seeds == tuple(range(11, 11 + REPLICATIONS))
    h = result.hysteresis
    assert list(h["level_value"]) == list(LEVELS) and set(h["n"]) == {REPLICATIONS}
    for _, row in h.iterrows():
        assert row["ci_low"] <= 0.0 <= row["ci_high"], row.to_dict()
        assert (row["ci_high"] - row["ci_low"]) / 2 < MAX_HALF_WIDTH, row.to_dict()
    gap = result.widest_gap
    assert gap["ci_low"] <= 0.0 <= gap["ci_high"]
    # the mean wait agrees too, paired within runs
    runs = result.runs
    for value in LEVELS:
        at = runs[runs["level_value"] == value].pivot(
            index="replication", columns="direction", values="backend_wait_mean_s"
        )
        _mean, _std, lo, hi = t_interval((at["down"] - at["up"]).to_numpy(), CONFIDENCE)
        assert lo <= 0.0 <= hi, (value, lo, hi)


def test_the_levels_are_felt(result):
    s = result.summary
    up = s[s["direction"] == "up"].set_index("level_value")
    assert up["success_rate_mean"].is_monotonic_decreasing
    assert up.loc[LEVELS[-1], "success_rate_ci_high"] < up.loc[LEVELS[0], "success_rate_ci_low"]
    assert up["throughput_ok_per_s_mean"].is_monotonic_increasing
    np.testing.assert_array_equal(s["retry_amplification_mean"], 1.0)  # no retries
    # offered attempts per second follow the multiplier of 64 calls/s
    runs = result.runs
    per_s = runs.groupby("level_value")["attempts"].mean() / result.dwell_s
    for value in LEVELS:
        assert per_s[value] == pytest.approx(64.0 * value, rel=0.03)


def test_steps_add_up_to_the_run():
    scenario = load_scenario("mmc_validation").with_overrides(OVERRIDES)
    spec = scenario.spec
    lever = parse_lever("bank.pools.core.servers", spec)
    stairs = staircase(spec, lever, 7, 9, 3, "1m")
    stepped = staircase_spec(spec, lever, stairs)
    record = run_world(stepped, 3)
    kpis = run_kpis(record)
    counts = period_counts(record, stairs.edges_s())
    assert counts.attempts.sum() == kpis["calls_total"]
    assert counts.ok.sum() == kpis["calls_ok"]
    wait = counts.wait_sum_s.sum() / counts.admitted.sum()
    assert math.isclose(wait, kpis["backend_wait_mean_s"], rel_tol=1e-12)
    assert counts.first_attempts.sum() == kpis["calls_total"]  # no retries


def test_every_executor_gives_the_same_numbers(result):
    # the replications as tasks on worker processes: the same rows, bit for bit
    again = edge(
        load_scenario("mmc_validation"),
        "load",
        LEVELS[0],
        LEVELS[-1],
        levels=len(LEVELS),
        dwell="2m",
        seed=11,
        replications=REPLICATIONS,
        level=CONFIDENCE,
        overrides=OVERRIDES,
        executor="processes",
        workers=2,
    )
    assert again.runs.equals(result.runs)
    assert again.summary.equals(result.summary)
