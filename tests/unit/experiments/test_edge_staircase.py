"""The edge's staircase: levels, steps at exact boundaries as profile events or a capacity
schedule, and every bad input refused with one error naming the argument."""

from __future__ import annotations

import datetime as dt
import tomllib

import numpy as np
import pytest
from minimal_scenario import minimal_toml

from openbank_sim.errors import ScenarioError
from openbank_sim.experiments.edge import (
    LEVERS,
    Staircase,
    edge,
    parse_lever,
    staircase,
    staircase_spec,
)
from openbank_sim.model.bank import capacity_steps
from openbank_sim.model.partners import partner_rate
from openbank_sim.spec.profiles import profile_at, rate_pieces
from openbank_sim.spec.scenario import Scenario

TEXT = minimal_toml(
    prepend='[run]\nstart = "2026-01-05"\nhorizon = "2h"\nwarmup = "7m"\ntime_bin = "1h"\n\n',
    append=(
        '\n[[partners]]\nname = "app"\nusers = 500\nsessions_per_user_day = 1.0\n'
        'journey = "buy"\nprofile = "ecommerce"\ncopies = 2\n'
    ),
)


@pytest.fixture(scope="module")
def spec():
    return Scenario(tomllib.loads(TEXT)).spec


def test_levels_and_steps(spec):
    stairs = staircase(spec, parse_lever("load", spec), 0.5, 2.0, 4, "5m")
    assert stairs.values == (0.5, 1.0, 1.5, 2.0)
    assert stairs.start_s == 600.0  # the 7 min warm-up rounded up to a whole 5 min dwell
    assert stairs.end_s == 600.0 + 8 * 300.0
    steps = stairs.steps()
    assert [(i, d) for _, _, i, d in steps] == [
        (0, "up"), (1, "up"), (2, "up"), (3, "up"),
        (3, "down"), (2, "down"), (1, "down"), (0, "down"),
    ]  # fmt: skip
    assert [a for a, _, _, _ in steps] == list(stairs.edges_s()[:-1])
    assert all(b - a == 300.0 for a, b, _, _ in steps)


def test_load_steps_are_profile_events_at_the_level_boundaries(spec):
    lever = parse_lever("load", spec)
    stairs = staircase(spec, lever, 0.5, 2.0, 4, "13m")  # steps that cross the hour
    assert stairs.start_s == 780.0 and stairs.end_s == 780.0 + 8 * 780.0
    stepped = staircase_spec(spec, lever, stairs)
    assert stepped.run.horizon_s == stairs.end_s and stepped.run.time_bin_s == 780.0
    for name, profile in stepped.profiles.items():
        edges, factors = rate_pieces(profile, spec.run.start, stairs.end_s)
        plain_edges, _ = rate_pieces(spec.profiles[name], spec.run.start, stairs.end_s)
        # split exactly at the step edges, and nowhere else new
        assert set(edges.tolist()) == set(plain_edges.tolist()) | set(stairs.edges_s().tolist())
        for a, b, i, _d in [(0.0, stairs.start_s, 0, "warm-up"), *stairs.steps()]:
            inside = (edges[:-1] >= a) & (edges[:-1] < b)
            assert inside.any()
            base = [profile_at(spec.profiles[name], spec.run.start, t) for t in edges[:-1][inside]]
            np.testing.assert_allclose(factors[inside], stairs.values[i] * np.array(base))
    # every partner's rate follows, copies and all
    for p in stepped.partners:
        edges, factors = partner_rate(p, stepped.profiles[p.profile], spec.run.start, stairs.end_s)
        assert set(stairs.edges_s()) <= set(edges.tolist())


def test_partner_load_gives_a_private_profile(spec):
    lever = parse_lever("partners.app.load", spec)
    assert lever.target == ("app-1", "app-2")  # both copies of the entry
    stairs = staircase(spec, lever, 1.0, 3.0, 2, "10m")
    stepped = staircase_spec(spec, lever, stairs)
    by_name = {p.name: p for p in stepped.partners}
    assert by_name["shop"].profile == "flat"
    assert stepped.profiles["flat"] == spec.profiles["flat"]
    private = by_name["app-1"].profile
    assert private == "ecommerce@edge:app-1" and private in stepped.profiles
    assert spec.profiles["ecommerce"].events == ()
    events = stepped.profiles[private].events
    assert [e.factor for e in events] == [1.0, 1.0, 3.0, 3.0, 1.0]  # warm-up, up, down
    assert events[1].year == 2026 and events[1].time_of_day_s == 600 and events[1].duration_s == 600
    assert parse_lever("partners.shop.load", spec).target == ("shop",)


def test_servers_steps_are_a_schedule_at_the_level_boundaries(spec):
    lever = parse_lever("bank.pools.core.servers", spec)
    stairs = staircase(spec, lever, 2, 8, 4, "5m")
    assert stairs.values == (2.0, 4.0, 6.0, 8.0)
    stepped = staircase_spec(spec, lever, stairs)
    pool = stepped.bank.pools["core"]
    assert pool.servers == 2 and len(pool.schedule) == 8
    assert pool.schedule[0].start == dt.datetime(2026, 1, 5, 0, 10)
    times, caps = capacity_steps(pool.servers, pool.schedule, spec.run.start, stairs.end_s)
    # low (2) until the second step; the top level holds for both of its steps
    assert times == [0.0, 900.0, 1200.0, 1500.0, 2100.0, 2400.0, 2700.0]
    assert caps == [2, 4, 6, 8, 6, 4, 2]
    for a, b, i, _d in stairs.steps():
        k = max(j for j, t in enumerate(times) if t <= a)
        assert caps[k] == stairs.values[i] and (k + 1 == len(times) or times[k + 1] >= b)
    assert stepped.profiles == spec.profiles


def test_servers_levels_round_to_whole_servers(spec):
    lever = parse_lever("bank.pools.core.servers", spec)
    assert staircase(spec, lever, 4, 8, 4, "5m").values == (4.0, 5.0, 7.0, 8.0)


@pytest.mark.parametrize(
    ("key", "low", "high", "levels", "dwell", "path", "fragment"),
    [
        ("load", 2.0, 1.0, 3, "5m", "low", "below HIGH"),
        ("load", 1.0, 1.0, 3, "5m", "low", "below HIGH"),
        ("load", 0.5, 2.0, 1, "5m", "levels", ">= 2"),
        ("load", 0.5, 2.0, 2.5, "5m", "levels", "whole number"),
        ("load", 0.5, 2.0, 3, "0s", "dwell", "positive"),
        ("load", 0.5, 2.0, 3, "-5m", "dwell", "negative"),
        ("load", 0.5, 2.0, 3, "5", "dwell", "unit"),
        ("load", 0.5, 2.0, 3, "1500ms", "dwell", "whole number of seconds"),
        ("load", 0.5, 2.0, 3, "20m", "dwell", "ends after the horizon"),
        ("load", -1.0, 2.0, 3, "5m", "low", ">= 0"),
        ("load", 0.5, 5000.0, 3, "5m", "high", "1,000"),
        ("bank.pools.core.servers", 1.5, 4, 3, "5m", "low", "whole numbers >= 1"),
        ("bank.pools.core.servers", 0, 4, 3, "5m", "low", "whole numbers >= 1"),
        ("bank.pools.core.servers", 1, 4.5, 3, "5m", "high", "whole numbers >= 1"),
        ("bank.pools.core.servers", 1, 3, 4, "5m", "levels", "at most 3"),
    ],
)
def test_bad_staircases(spec, key, low, high, levels, dwell, path, fragment):
    with pytest.raises(ScenarioError) as info:
        staircase(spec, parse_lever(key, spec), low, high, levels, dwell)
    assert info.value.path == path
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("client.timeout", "load, partners.NAME.load, bank.pools.NAME.servers"),
        ("bank.pools.core.queue_limit", "supported levers"),
        ("bank.pools.cold.servers", "no pool named 'cold'"),
        ("partners.shoe.load", "did you mean 'shop'"),
    ],
)
def test_unknown_levers(spec, key, fragment):
    with pytest.raises(ScenarioError) as info:
        parse_lever(key, spec)
    assert info.value.path == "lever"
    assert fragment in str(info.value)
    assert ", ".join(LEVERS) == "load, partners.NAME.load, bank.pools.NAME.servers"


def test_bad_scenario_settings():
    windowed = Scenario(tomllib.loads(TEXT)).with_overrides(
        {"run.traffic": "windowed", "run.windows": {"every": "1h", "length": "20m"}}
    )
    with pytest.raises(ScenarioError, match="full traffic") as info:
        staircase(windowed.spec, parse_lever("load", windowed.spec), 1, 2, 2, "5m")
    assert info.value.path == "run.traffic"
    auto = Scenario(tomllib.loads(TEXT)).with_overrides({"run.warmup": "auto"})
    with pytest.raises(ScenarioError, match="fixed warm-up"):
        staircase(auto.spec, parse_lever("load", auto.spec), 1, 2, 2, "5m")


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [({"replications": 0}, "replications"), ({"seed": -1}, "seed"), ({"level": 1.0}, "level")],
)
def test_bad_run_options(kwargs, path):
    with pytest.raises(ScenarioError) as info:
        edge(Scenario(tomllib.loads(TEXT)), "load", 1.0, 2.0, levels=2, dwell="5m", **kwargs)
    assert info.value.path == path


def test_staircase_edges_are_whole_steps():
    stairs = Staircase((1.0, 2.0, 3.0), 60.0, 30.0)
    np.testing.assert_array_equal(stairs.edges_s(), 60.0 + 30.0 * np.arange(7))
