"""Retry storms made visible (:mod:`openbank_sim.analysis.storms`): retry amplification per
time bin, the longest queue wait against the client timeout, unsettled windows, and the
plain-words warnings in :attr:`Results.warnings` and on the command line."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from minimal_scenario import minimal_toml

from openbank_sim import Results, load_scenario, simulate
from openbank_sim.analysis.storms import AMPLIFICATION_WARNING, MIN_FIRST_ATTEMPTS
from openbank_sim.cli import main

# One server at load 0.8 (8 sessions/s x 100 ms), a 1 s timeout and three retries on timeout,
# no recall: one slow spell pushes waits past the timeout, every attempt then times out and is
# retried, the offered load quadruples and the queue never drains. Two servers (load 0.4)
# never get there.
STORM = minimal_toml(
    ("servers = 4", "servers = 1"),
    ("users = 1000\nsessions_per_user_day = 2.0", "users = 691200\nsessions_per_user_day = 1.0"),
    prepend=(
        'name = "storm"\n[run]\nhorizon = "2h"\nwarmup = "10min"\ntime_bin = "10min"\n\n'
        '[client]\ntimeout = "1s"\nmax_attempts = 4\nretry_on = ["timeout"]\n'
        'backoff = { base = "100ms", factor = 1.0, max = "100ms", jitter = "none" }\n\n'
    ),
)
WINDOWED = STORM.replace(
    'horizon = "2h"',
    'horizon = "3d"\ntraffic = "windowed"\n'
    'windows = { every = "1d", length = "2h", warmup = "10min" }',
)


@pytest.fixture
def storm(tmp_path: Path) -> Path:
    path = tmp_path / "storm.toml"
    path.write_text(STORM, encoding="utf-8")
    return path


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_collapse_is_measured_and_warned_about(storm: Path, seed: int) -> None:
    """One server collapses (amplification >= 2, waits far past the timeout, warnings naming
    the storm and the pool); two servers report neither, for every seed."""
    scenario = load_scenario(storm)
    r = simulate(scenario, seed=seed)
    assert r.kpis["retry_amplification_peak"] >= 2.0
    assert r.kpis["backend_wait_max_s"] > 60.0  # the queue grows for the rest of the run
    assert len(r.warnings) == 2
    storm_warning, pool_warning = r.warnings
    assert storm_warning.startswith("Retry storm: from 2026-01-05 ")
    assert "replicate" in storm_warning
    assert pool_warning.startswith("Pool 'core': queue waits reached ")
    assert "beyond the 1 s client timeout" in pool_warning
    assert r.kpis["windows_unsettled"] == 0.0  # full traffic has no windows
    calm = simulate(scenario.with_overrides({"bank.pools.core.servers": 2}), seed=seed)
    assert calm.kpis["retry_amplification_peak"] < AMPLIFICATION_WARNING
    assert calm.kpis["backend_wait_max_s"] < 1.0
    assert calm.warnings == []


def test_amplification_is_attempts_over_first_attempts_per_bin(storm: Path) -> None:
    """The timeseries carries attempts and first attempts per bin; the peak KPI is the largest
    bank-wide ratio over bins with enough first attempts; by_pool has the longest wait."""
    r = simulate(load_scenario(storm), seed=1)
    ts = r.timeseries
    per_bin = ts.groupby("bin")[["calls_total", "first_attempts"]].sum()
    enough = per_bin[per_bin["first_attempts"] >= MIN_FIRST_ATTEMPTS]
    ratio = enough["calls_total"] / enough["first_attempts"]
    assert r.kpis["retry_amplification_peak"] == pytest.approx(ratio.max(), rel=1e-12)
    assert per_bin["first_attempts"].sum() == pytest.approx(r.kpis["journeys_started"], rel=0.01)
    assert r.by_pool.loc[0, "wait_max_s"] == r.kpis["backend_wait_max_s"]


def test_without_retries_amplification_is_one(tmp_path: Path) -> None:
    path = tmp_path / "single.toml"
    path.write_text(STORM.replace("max_attempts = 4", "max_attempts = 1"), encoding="utf-8")
    r = simulate(load_scenario(path), seed=1)
    assert r.kpis["retry_amplification_peak"] == 1.0
    ts = r.timeseries
    assert np.array_equal(ts["calls_total"].to_numpy(), ts["first_attempts"].to_numpy())
    assert not any(w.startswith("Retry storm") for w in r.warnings)


def test_warnings_survive_save_and_load(storm: Path, tmp_path: Path) -> None:
    r = simulate(load_scenario(storm), seed=1)
    back = Results.load(r.save(tmp_path / "out"))
    assert back.warnings == r.warnings
    assert back.kpis["retry_amplification_peak"] == r.kpis["retry_amplification_peak"]


def test_windowed_windows_that_end_unsettled_are_counted(tmp_path: Path) -> None:
    """A window whose last bin still shows the storm is counted and warned about; calm
    windowed traffic counts 0."""
    path = tmp_path / "windowed.toml"
    path.write_text(WINDOWED, encoding="utf-8")
    scenario = load_scenario(path)
    r = simulate(scenario, seed=1)
    n_windows = len(r.manifest["windows_s"])
    assert r.kpis["windows_unsettled"] == n_windows
    assert any("observation window(s) ended unsettled" in w for w in r.warnings)
    calm = simulate(scenario.with_overrides({"bank.pools.core.servers": 2}), seed=1)
    assert calm.kpis["windows_unsettled"] == 0.0
    assert calm.warnings == []
    assert not math.isnan(calm.kpis["retry_amplification_peak"])


def test_the_command_line_prints_the_warnings(
    storm: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(storm), "--seed", "1"]) == 0
    err = capsys.readouterr().err
    assert "warning: Retry storm: from 2026-01-05 " in err
    assert "warning: Pool 'core': queue waits reached " in err
