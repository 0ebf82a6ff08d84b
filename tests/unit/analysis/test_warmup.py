"""Automatic warm-up: MSER-5 on synthetic series, the choice on a run, and its exactness.

MSER-5 (``openbank_sim.analysis.warmup``): batches of 5, ``MSER(d) = SS(d) / (k - d)^2`` over
the batch means left after dropping ``d`` batches, argmin over the first half.
"""

from __future__ import annotations

import tomllib

import numpy as np
import pytest
from minimal_scenario import minimal_toml

from openbank_sim import Scenario, ScenarioError, simulate
from openbank_sim.analysis.warmup import MSER_BATCH, mser


def _series(rng: np.random.Generator, n: int, transient: int, height: float) -> np.ndarray:
    """AR(1) noise (phi 0.5, unit innovations) around 10, plus ``height`` decaying linearly to
    0 over the first ``transient`` values."""
    noise = np.zeros(n)
    eps = rng.standard_normal(n)
    for i in range(1, n):
        noise[i] = 0.5 * noise[i - 1] + eps[i]
    ramp = np.clip(1.0 - np.arange(n) / transient, 0.0, None) * height
    return 10.0 + noise + ramp


def test_mser_statistic_is_the_formula() -> None:
    """``MSER(d)`` equals the sum of squared deviations of the batch means kept over
    ``(k - d)^2``, computed directly, for every candidate ``d``."""
    rng = np.random.default_rng(1)
    x = rng.exponential(size=203)  # 40 batches, 3 values left out
    out = mser(x)
    z = x[:200].reshape(40, 5).mean(axis=1)
    direct = [np.sum((z[d:] - z[d:].mean()) ** 2) / (40 - d) ** 2 for d in range(21)]
    assert out.batches == 40
    np.testing.assert_allclose(out.statistic, direct, rtol=1e-9, atol=1e-15)
    assert out.truncation == MSER_BATCH * int(np.argmin(direct))


@pytest.mark.parametrize("seed", range(20))
def test_truncation_ends_the_known_transient(seed: int) -> None:
    """A transient of height 20 (about 17 noise standard deviations) decaying over 100 values of
    1,000: the truncation removes it (at or after value 85, where it is below 3) and keeps most
    of the steady state (at most 200 values dropped); the choice is settled."""
    x = _series(np.random.default_rng(seed), 1000, 100, 20.0)
    out = mser(x)
    assert 85 <= out.truncation <= 200, out.truncation
    assert out.settled


def test_stationary_series_keeps_its_start() -> None:
    """Stationary AR(1) noise: over 50 series the median truncation is 0 and none drops more
    than a fifth of the series."""
    rng = np.random.default_rng(7)
    cuts = [mser(_series(rng, 500, 1, 0.0)).truncation for _ in range(50)]
    assert np.median(cuts) == 0
    assert max(cuts) <= 100


def test_transient_longer_than_half_the_run_is_unsettled() -> None:
    """A transient that lasts the whole series is never found to end in the first half."""
    x = _series(np.random.default_rng(3), 500, 600, 40.0)
    out = mser(x)
    assert not out.settled
    assert out.truncation == MSER_BATCH * (100 // 2)  # the first half's minimum: its end


def test_too_few_batches_is_unsettled() -> None:
    """Fewer than 10 batches (45 values) are never settled."""
    assert not mser(np.arange(45.0)).settled
    assert mser(np.arange(3.0)).truncation == 0


# --------------------------------------------------------------------------------------------
# On a run: M/M/1 at rho 0.9 whose first 10 minutes carry 1.5 times the load
# --------------------------------------------------------------------------------------------

STEP = minimal_toml(
    ("servers = 4", "servers = 1"),
    ('mean = "100ms"', 'mean = "1s"'),
    ("users = 1000", "users = 77760"),  # 0.9 sessions per second at one a day
    ("sessions_per_user_day = 2.0", 'sessions_per_user_day = 1.0\nprofile = "step"'),
    prepend='[run]\nhorizon = "2h"\nwarmup = "auto"\ntime_bin = "1m"\n\n'
    '[profiles.step]\nevents = [{ date = "01-05", factor = 1.5, duration = "10m" }]\n\n',
)


def _load() -> Scenario:
    return Scenario(tomllib.loads(STEP))


@pytest.fixture(scope="module")
def step_run():
    """The step scenario with "auto", seed 11."""
    return simulate(_load(), 11)


def test_auto_is_exactly_the_chosen_fixed_warmup(step_run) -> None:
    """The KPIs and tables of "auto" are those of the chosen warm-up given as a duration, bit
    for bit; ``warmup_used_s`` is it, on a time-bin boundary after the overload drained."""
    used = step_run.kpis["warmup_used_s"]
    assert used % 60.0 == 0.0
    assert 30 * 60 <= used <= 60 * 60
    assert step_run.manifest["warmup_s"] == used
    assert step_run.manifest["warmup_auto"]["series"] == "backend_wait_mean_s"
    fixed = simulate(_load().with_overrides({"run.warmup": f"{used:g}s"}), 11)
    assert fixed.kpis == step_run.kpis
    for name, table in fixed.tables.items():
        assert table.equals(step_run.tables[name]), name


def test_fixed_warmup_is_the_kpi(step_run) -> None:
    """With a fixed warm-up ``warmup_used_s`` is that warm-up and nothing is said about it."""
    fixed = simulate(_load().with_overrides({"run.warmup": "7m"}), 11)
    assert fixed.kpis["warmup_used_s"] == 420.0
    assert fixed.manifest["warmup_auto"] is None
    assert not any("auto" in w for w in fixed.warnings)


def test_a_run_too_short_warns() -> None:
    """A one-hour run (120 bins of 30 s) whose overload drains for about 45 minutes: MSER finds
    no truncation in the first half, and the warnings say so; so does a run of too few bins."""
    short = simulate(_load().with_overrides({"run.horizon": "1h", "run.time_bin": "30s"}), 11)
    assert not short.manifest["warmup_auto"]["settled"]
    assert any('run.warmup = "auto"' in w and "first half" in w for w in short.warnings)
    few = simulate(_load().with_overrides({"run.horizon": "25m"}), 11)  # 25 bins: 5 batches
    assert any("only 25 time bins" in w for w in few.warnings)


@pytest.mark.parametrize("value", ["automatic", "Auto", "10", 10, "mser"])
def test_bad_warmup_names_both_forms(value: object) -> None:
    raw = _load().as_dict()
    raw["run"]["warmup"] = value
    with pytest.raises(ScenarioError) as err:
        Scenario(raw)
    assert err.value.path == "run.warmup"
    assert '"auto"' in err.value.reason and "duration" in err.value.reason


def test_auto_is_refused_for_windowed_traffic() -> None:
    raw = _load().as_dict()
    raw["run"].update(horizon="14d", traffic="windowed", windows={"every": "7d"})
    with pytest.raises(ScenarioError) as err:
        Scenario(raw)
    assert err.value.path == "run.warmup"
    assert "run.windows.warmup" in err.value.reason
