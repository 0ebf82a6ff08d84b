"""A storm's timeline and its recovery time, on hand-made timelines and on a run."""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pandas as pd
import pytest
from minimal_scenario import minimal_toml

from openbank_sim import simulate
from openbank_sim.analysis.recovery import TIMELINE_COLUMNS, recovery_time_s, storm_timeline
from openbank_sim.spec.scenario import Scenario


def _timeline(success: list[float], bin_s: float = 60.0) -> pd.DataFrame:
    df = pd.DataFrame(
        {"t_start_s": np.arange(len(success)) * bin_s, "success_rate": np.asarray(success)}
    )
    df.attrs["time_bin_s"] = bin_s
    return df


def test_recovery_ends_with_the_last_bin_that_fell_short():
    tl = _timeline([1.0, 0.2, 0.1, 0.97, 0.5, 0.99, 1.0, 0.96])
    # after 60 s: bins at 60, 120 and 240 fall short; the last ends at 300 s
    assert recovery_time_s(tl, after_s=60.0, success_at_least=0.95) == 240.0
    assert recovery_time_s(tl, after_s=300.0) == 0.0  # from 300 s on, every bin is at 0.95+
    assert recovery_time_s(tl, after_s=60.0, success_at_least=0.98) == math.inf  # 420 s: 0.96


def test_a_bin_without_attempts_counts_as_recovered_and_bad_arguments_are_refused():
    tl = _timeline([0.1, math.nan, 1.0])
    assert recovery_time_s(tl, after_s=0.0) == 60.0
    with pytest.raises(ValueError, match="share"):
        recovery_time_s(tl, 0.0, success_at_least=0.0)
    with pytest.raises(ValueError, match="past the timeline"):
        recovery_time_s(tl, after_s=1e6)


def test_the_timeline_sums_a_run_per_bin_with_a_row_for_every_bin():
    text = minimal_toml(
        ('mean = "100ms" }', 'mean = "100ms" }\nerror_rate = 0.5'),
        prepend='[run]\nhorizon = "2h"\nwarmup = "30m"\ntime_bin = "10min"\n\n',
        append='client = { max_attempts = 2, retry_on = ["error"] }\n',
    )
    results = simulate(Scenario(tomllib.loads(text)), seed=2)
    tl = storm_timeline(results)
    assert list(tl.columns) == list(TIMELINE_COLUMNS)
    assert tl["t_start_s"].tolist() == [1800.0 + 600.0 * i for i in range(9)]
    assert tl.attrs["time_bin_s"] == 600.0
    assert tl["attempts"].sum() == results.kpis["calls_total"]
    assert tl["calls_ok"].sum() == results.kpis["calls_ok"]
    # errors at 50 % retried once: 1.5 attempts per first attempt
    amp = tl["attempts"].sum() / tl["first_attempts"].sum()
    assert 1.4 < amp < 1.6
    assert (tl["retries_suppressed"] == 0).all() and (tl["calls_short_circuited"] == 0).all()
