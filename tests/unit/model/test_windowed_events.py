"""Windowed traffic honours intra-day profile events: its booking integrates the same rate
pieces full traffic samples, and the event's day gets its window on its busiest hour."""

from __future__ import annotations

import tomllib

import numpy as np
from minimal_scenario import minimal_toml

from openbank_sim.model.horizon import horizon_operations
from openbank_sim.model.windows import hourly_sessions, plan_run
from openbank_sim.spec.scenario import Scenario

HOUR = 3600.0
DAY = 86400.0


def _windowed(date: str) -> Scenario:
    text = minimal_toml(
        ('journey = "buy"\n', 'journey = "buy"\nprofile = "peak"\n'),
        prepend=(
            '[run]\nstart = "2026-01-05"\nhorizon = "14d"\ntraffic = "windowed"\n'
            'windows = { every = "7d", length = "1h", warmup = "10m", placement = "stratified" }\n\n'
        ),
        append=(
            "\n[profiles.peak]\n"
            f'events = [{{ date = "{date}", factor = 10.0, duration = "30min" }}]\n'
        ),
    )
    return Scenario(tomllib.loads(text))


def test_booking_counts_the_event_half_hour():
    spec = _windowed("01-08T20:30").spec
    sessions = hourly_sessions(spec, spec.partners)[0]
    base = 1000 * 2.0 / 24.0  # sessions an hour: flat profile, 1000 users, 2 a day
    hour = 3 * 24 + 20
    assert np.isclose(sessions[hour], base * (0.5 + 0.5 * 10.0), rtol=1e-12)
    others = np.delete(sessions, hour)
    np.testing.assert_allclose(others, base, rtol=1e-12)


def test_the_event_day_gets_a_window_on_the_event_hour():
    spec = _windowed("01-08T20:30").spec
    plan = plan_run(spec, spec.partners, horizon_operations(spec, spec.partners, 1))
    regular = len(range(0, 14, 7))
    assert len(plan.windows) == regular + 1
    event_window = plan.windows[-1]
    assert event_window.start_s == 3 * DAY + 20 * HOUR  # the busiest hour of 2026-01-08


def test_a_dated_event_outside_the_horizon_gets_no_window():
    spec = _windowed("2027-01-08T20:30").spec
    plan = plan_run(spec, spec.partners, horizon_operations(spec, spec.partners, 1))
    assert len(plan.windows) == 2
    sessions = hourly_sessions(spec, spec.partners)[0]
    np.testing.assert_allclose(sessions, 1000 * 2.0 / 24.0, rtol=1e-12)
