"""Unit tests for openbank_sim.spec.profiles: parsing, built-ins, piecewise rates."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openbank_sim.errors import ScenarioError
from openbank_sim.spec.profiles import (
    BUILTIN_PROFILE_NAMES,
    Event,
    Profile,
    builtin_profiles,
    expected_count,
    parse_profile,
    profile_at,
    rate_pieces,
    sample_nhpp,
    sample_nhpp_blocks,
)

FLASH_SALE = {
    "daily": [
        *(0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 0.7, 1.0, 1.1, 1.2, 1.3),
        *(1.5, 1.5, 1.3, 1.2, 1.2, 1.3, 1.5, 1.8, 2.0, 1.9, 1.4, 0.7),
    ],
    "weekly": [1, 1, 1, 1, 1.1, 1.2, 1.1],
    "monthly": [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1.2, 1.1],
    "events": [{"date": "11-11", "factor": 10.0, "duration": "1d"}],
}
MONDAY = dt.date(2026, 1, 5)


def _mean(values: tuple[float, ...]) -> float:
    return math.fsum(values) / len(values)


def _distinct() -> dict[str, list[float]]:
    """Raw shapes with mean 1 already and all values distinct (easy hand checks)."""
    return {
        "daily": [0.5 + i / 23 for i in range(24)],  # 0.5 .. 1.5, mean 1
        "weekly": [0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3],
        "monthly": [0.45 + 0.1 * i for i in range(12)],  # 0.45 .. 1.55, mean 1
    }


# ------------------------------------------------------------------------------ parsing


def test_parse_flash_sale_normalises_shapes():
    p = parse_profile("flash_sale", FLASH_SALE)
    assert p.name == "flash_sale"
    for shape in (p.daily, p.weekly, p.monthly):
        assert _mean(shape) == pytest.approx(1.0, rel=1e-12)
    raw_mean = _mean(tuple(FLASH_SALE["daily"]))
    assert p.daily[20] == pytest.approx(2.0 / raw_mean)
    assert p.weekly[5] / p.weekly[0] == pytest.approx(1.2)
    assert p.events == (Event(month=11, day=11, factor=10.0, duration_s=86400.0),)
    json.dumps(p.describe())
    assert p.describe()["events"] == [{"date": "11-11", "factor": 10.0, "duration_s": 86400.0}]


def test_parse_empty_is_flat():
    p = parse_profile("x", {})
    assert p.daily == (1.0,) * 24 and p.weekly == (1.0,) * 7 and p.monthly == (1.0,) * 12
    assert p.events == ()


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [
        *(("1d", 86400), ("6h", 21600), ("90min", 5400), ("2m", 120)),
        *(("30s", 30), ("500ms", 0.5), ("1w", 604800), ("1d12h", 129600)),
    ],
)
def test_event_durations(duration, seconds):
    p = parse_profile("x", {"events": [{"date": "01-01", "factor": 2, "duration": duration}]})
    assert p.events[0].duration_s == pytest.approx(seconds)


def test_event_defaults_and_edge_values():
    p = parse_profile(
        "x", {"events": [{"date": "02-29", "factor": 0}, {"date": "12-31", "factor": 1.5}]}
    )
    assert p.events[0] == Event(month=2, day=29, factor=0.0, duration_s=86400.0)
    assert p.events[1].factor == 1.5


def test_parse_accepts_zero_factors_if_not_all_zero():
    p = parse_profile("x", {"weekly": [1, 1, 1, 1, 1, 0, 0]})
    assert p.weekly == pytest.approx((1.4,) * 5 + (0.0, 0.0))


def _ev(**kw):
    return {"events": [{"date": "11-11", "factor": 2.0, "duration": "1d", **kw}]}


@pytest.mark.parametrize(
    ("table", "path", "fragment"),
    [
        ({"daily": [1] * 23}, "daily", "24"),
        ({"weekly": [1] * 8}, "weekly", "7"),
        ({"monthly": [1] * 11}, "monthly", "12"),
        ({"daily": "flat"}, "daily", "list"),
        ({"daily": [1, 1, 1, "x"] + [1] * 20}, "daily.3", "number"),
        ({"daily": [1, 1, 1, True] + [1] * 20}, "daily.3", "number"),
        ({"weekly": [1, 1, -0.5, 1, 1, 1, 1]}, "weekly.2", ">= 0"),
        ({"monthly": [1] * 11 + [math.nan]}, "monthly.11", "finite"),
        ({"daily": [0] * 24}, "daily", "all zero"),
        ({"dayly": [1] * 24}, "dayly", "did you mean 'daily'"),
        ({"events": {"date": "11-11"}}, "events", "list"),
        ({"events": ["11-11"]}, "events.0", "table"),
        (_ev(date="11/11"), "events.0.date", "MM-DD"),
        (_ev(date="1-11"), "events.0.date", "MM-DD"),
        (_ev(date=1111), "events.0.date", "MM-DD"),
        (_ev(date="02-30"), "events.0.date", "calendar date"),
        (_ev(date="13-01"), "events.0.date", "calendar date"),
        (_ev(factor=-1), "events.0.factor", ">= 0"),
        (_ev(factor="big"), "events.0.factor", "number"),
        (_ev(duration="1"), "events.0.duration", "unit"),
        (_ev(duration=1), "events.0.duration", "unit"),
        (_ev(duration="0h"), "events.0.duration", "positive"),
        (_ev(duration="-1h"), "events.0.duration", "negative"),
        (_ev(duration="1 fortnight"), "events.0.duration", "unit"),
        (_ev(durration="1d"), "events.0.durration", "did you mean 'duration'"),
        ({"events": [{"factor": 2.0}]}, "events.0.date", "required"),
        ({"events": [{"date": "11-11"}]}, "events.0.factor", "required"),
    ],
)
def test_parse_errors(table, path, fragment):
    with pytest.raises(ScenarioError) as info:
        parse_profile("p", table)
    assert info.value.path == path
    assert fragment in str(info.value)


def test_parse_error_not_a_table():
    with pytest.raises(ScenarioError) as info:
        parse_profile("p", [1, 2, 3])
    assert info.value.path == "" and info.value.value == [1, 2, 3]


def test_parse_error_carries_value():
    with pytest.raises(ScenarioError) as info:
        parse_profile("p", _ev(date="02-30"))
    assert info.value.value == "02-30"
    assert info.value.within("profiles.p").path == "profiles.p.events.0.date"


def test_profile_rejects_wrong_lengths():
    with pytest.raises(ValueError):
        Profile("bad", daily=(1.0,) * 23, weekly=(1.0,) * 7, monthly=(1.0,) * 12)


# ------------------------------------------------------------------------------ built-ins


def test_builtins_exist_and_are_normalised():
    profiles = builtin_profiles()
    assert set(BUILTIN_PROFILE_NAMES) == {"flat", "ecommerce", "medical", "education"}
    assert tuple(profiles) == BUILTIN_PROFILE_NAMES
    for name, p in profiles.items():
        assert p.name == name
        assert p.events == ()
        for shape, length in ((p.daily, 24), (p.weekly, 7), (p.monthly, 12)):
            assert len(shape) == length
            assert min(shape) >= 0
            assert _mean(shape) == pytest.approx(1.0, rel=1e-12)
        json.dumps(p.describe())
    with pytest.raises(TypeError):
        profiles["x"] = profiles["flat"]  # read-only


def test_flat_is_all_ones():
    p = builtin_profiles()["flat"]
    assert set(p.daily) == set(p.weekly) == set(p.monthly) == {1.0}


def test_ecommerce_shape():
    p = builtin_profiles()["ecommerce"]
    assert int(np.argmax(p.daily)) == 20
    # C-TR-1 anchors (index 100 = mean)
    assert p.daily[13] == pytest.approx(1.51)
    assert p.daily[14] == pytest.approx(1.49)
    assert p.daily[21] == pytest.approx(1.34)
    assert p.daily[5] == pytest.approx(0.22)
    assert max(p.daily[2:7]) < 0.35
    assert p.monthly[10] == max(p.monthly) and p.monthly[11] > p.monthly[0]
    assert p.weekly[5] > p.weekly[0]


def test_medical_shape():
    p = builtin_profiles()["medical"]
    assert p.weekly[5] / p.weekly[0] == pytest.approx(1800 / 6800, rel=1e-12)
    assert p.weekly[:5] == (p.weekly[0],) * 5 and p.weekly[5] == p.weekly[6]
    assert 8 <= int(np.argmax(p.daily)) <= 10
    assert max(p.daily[0:6]) < 0.1
    assert set(p.monthly) == {1.0}


def test_education_shape():
    m = builtin_profiles()["education"].monthly
    high = {m[1], m[2], m[7], m[8]}  # Feb, Mar, Aug, Sep
    low = [m[i] for i in range(12) if i not in (1, 2, 7, 8)]
    assert min(high) > max(low)


# ------------------------------------------------------------------------------ rate pieces


def test_rate_pieces_hourly_without_events():
    raw = _distinct()
    p = parse_profile("d", raw)
    edges, factors = rate_pieces(p, MONDAY, 2 * 86400)
    assert edges.dtype == np.float64 and factors.dtype == np.float64
    np.testing.assert_array_equal(edges, np.arange(49) * 3600.0)
    d, w, m = p.daily, p.weekly, p.monthly
    assert factors[0] == pytest.approx(d[0] * w[0] * m[0])  # Monday 00:00, January
    assert factors[13] == pytest.approx(d[13] * w[0] * m[0])
    assert factors[24 + 7] == pytest.approx(d[7] * w[1] * m[0])  # Tuesday 07:00


def test_rate_pieces_partial_last_hour():
    p = builtin_profiles()["flat"]
    edges, factors = rate_pieces(p, MONDAY, 5000.0)
    np.testing.assert_array_equal(edges, [0.0, 3600.0, 5000.0])
    np.testing.assert_array_equal(factors, [1.0, 1.0])


def test_rate_pieces_event_splits_an_hour():
    raw = _distinct()
    raw["events"] = [{"date": "01-05", "factor": 2.0, "duration": "90min"}]
    p = parse_profile("d", raw)
    edges, factors = rate_pieces(p, MONDAY, 3 * 3600)
    np.testing.assert_array_equal(edges, [0.0, 3600.0, 5400.0, 7200.0, 10800.0])
    d, w, m = p.daily, p.weekly[0], p.monthly[0]
    np.testing.assert_allclose(
        factors, [2 * d[0] * w * m, 2 * d[1] * w * m, d[1] * w * m, d[2] * w * m]
    )


def test_rate_pieces_event_mid_hour_both_ends():
    # events start at midnight but may end mid-hour; two overlapping ones cut one hour twice
    raw = {"events": [{"date": "01-05", "factor": 3.0, "duration": "30min"}]}
    raw["events"].append({"date": "01-05", "factor": 5.0, "duration": "45min"})
    p = parse_profile("d", raw)
    edges, factors = rate_pieces(p, MONDAY, 3600)
    np.testing.assert_array_equal(edges, [0.0, 1800.0, 2700.0, 3600.0])
    np.testing.assert_allclose(factors, [15.0, 5.0, 1.0])  # overlapping events multiply


def test_rate_pieces_singles_day_in_horizon():
    p = parse_profile("flash_sale", FLASH_SALE)
    start = dt.date(2026, 11, 10)  # a Tuesday
    edges, factors = rate_pieces(p, start, 3 * 86400)
    np.testing.assert_array_equal(edges, np.arange(73) * 3600.0)
    plain = parse_profile("plain", {k: v for k, v in FLASH_SALE.items() if k != "events"})
    _, base = rate_pieces(plain, start, 3 * 86400)
    ratio = factors / base
    np.testing.assert_allclose(ratio[:24], 1.0)
    np.testing.assert_allclose(ratio[24:48], 10.0)
    np.testing.assert_allclose(ratio[48:], 1.0)
    assert base[0] == pytest.approx(p.daily[0] * p.weekly[1] * p.monthly[10])


def test_rate_pieces_year_wrap():
    raw = _distinct()
    raw["events"] = [{"date": "12-31", "factor": 4.0, "duration": "36h"}]
    p = parse_profile("d", raw)
    d, w, m = p.daily, p.weekly, p.monthly
    start = dt.date(2026, 12, 31)  # a Thursday
    edges, factors = rate_pieces(p, start, 2 * 86400)
    assert edges.size == 49
    assert factors[0] == pytest.approx(4 * d[0] * w[3] * m[11])
    assert factors[24] == pytest.approx(4 * d[0] * w[4] * m[0])  # Friday 2027-01-01
    assert factors[35] == pytest.approx(4 * d[11] * w[4] * m[0])
    assert factors[36] == pytest.approx(d[12] * w[4] * m[0])
    # the previous year's occurrence spills into a horizon starting on 01-01
    _, factors = rate_pieces(p, dt.date(2027, 1, 1), 86400)  # a Friday
    np.testing.assert_allclose(factors[:12], 4 * np.array(d[:12]) * w[4] * m[0])
    np.testing.assert_allclose(factors[12:], np.array(d[12:]) * w[4] * m[0])


def test_rate_pieces_leap_day_event():
    p = parse_profile("x", {"events": [{"date": "02-29", "factor": 7.0}]})
    _, factors = rate_pieces(p, dt.date(2027, 2, 27), 3 * 86400)
    assert set(factors) == {1.0}
    _, factors = rate_pieces(p, dt.date(2028, 2, 28), 3 * 86400)
    np.testing.assert_array_equal(factors, [1.0] * 24 + [7.0] * 24 + [1.0] * 24)


def test_rate_pieces_rejects_bad_input():
    p = builtin_profiles()["flat"]
    with pytest.raises(ValueError):
        rate_pieces(p, MONDAY, 0)
    with pytest.raises(TypeError):
        rate_pieces(p, dt.datetime(2026, 1, 5, 12), 3600)


def test_rate_pieces_three_years():
    p = parse_profile("flash_sale", FLASH_SALE)
    horizon = 3 * 365 * 86400.0
    edges, factors = rate_pieces(p, MONDAY, horizon)
    assert edges.size == 3 * 365 * 24 + 1
    assert edges[0] == 0.0 and edges[-1] == horizon
    assert np.all(np.diff(edges) > 0)
    # the 11-11 event occurs three times in three years: exactly 3 x 24 boosted hours
    plain = Profile("plain", p.daily, p.weekly, p.monthly)
    _, base = rate_pieces(plain, MONDAY, horizon)
    assert np.count_nonzero(~np.isclose(factors, base)) == 3 * 24
    # mean over whole years is ~1 (shapes are normalised; the event adds 9 extra days a year)
    mean = expected_count(1.0, edges, factors, 0, horizon) / horizon
    assert mean == pytest.approx(1 + 9 / 365 * p.monthly[10], rel=0.05)


@settings(max_examples=60, deadline=None)
@given(
    start=st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2090, 12, 31)),
    horizon=st.floats(min_value=1.0, max_value=20 * 86400.0),
    dur_min=st.integers(min_value=1, max_value=3 * 24 * 60),
)
def test_rate_pieces_match_profile_at(start, horizon, dur_min):
    md = start + dt.timedelta(days=2)
    table = dict(FLASH_SALE)
    table["events"] = [
        {"date": f"{md.month:02d}-{md.day:02d}", "factor": 3.0, "duration": f"{dur_min}min"},
        {"date": "02-29", "factor": 0.5, "duration": "12h"},
    ]
    p = parse_profile("fs", table)
    edges, factors = rate_pieces(p, start, horizon)
    assert edges[0] == 0.0 and edges[-1] == horizon and np.all(np.diff(edges) > 0)
    assert factors.size == edges.size - 1
    for i in range(0, factors.size, max(1, factors.size // 40)):
        for t in (edges[i], 0.5 * (edges[i] + edges[i + 1])):
            assert profile_at(p, start, t) == pytest.approx(factors[i], rel=1e-12)


def test_profile_at():
    p = parse_profile("fs", FLASH_SALE)
    start = dt.date(2026, 11, 10)
    assert profile_at(p, start, 86400 + 20 * 3600 + 1) == pytest.approx(
        10 * p.daily[20] * p.weekly[2] * p.monthly[10]
    )
    assert profile_at(p, start, 86400 - 1e-6) == pytest.approx(
        p.daily[23] * p.weekly[1] * p.monthly[10]
    )
    # negative times are calendar time before start
    assert profile_at(p, start, -1) == pytest.approx(p.daily[23] * p.weekly[0] * p.monthly[10])


# ------------------------------------------------------------------------------ sampling


def test_sample_nhpp_basic():
    edges, factors = rate_pieces(builtin_profiles()["ecommerce"], MONDAY, 86400 + 1234.5)
    a = sample_nhpp(np.random.default_rng(7), 0.01, edges, factors)
    b = sample_nhpp(np.random.default_rng(7), 0.01, edges, factors)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float64
    assert np.all(np.diff(a) >= 0)
    assert a.size > 0 and a[0] >= 0 and a[-1] < edges[-1]


def test_sample_nhpp_zero_rate_pieces_are_empty():
    edges = np.array([0.0, 10.0, 20.0, 30.0])
    times = sample_nhpp(np.random.default_rng(1), 5.0, edges, np.array([1.0, 0.0, 1.0]))
    assert times.size > 0
    assert not np.any((times >= 10.0) & (times < 20.0))
    assert sample_nhpp(np.random.default_rng(1), 0.0, edges, np.ones(3)).size == 0


def test_sample_nhpp_rejects_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        sample_nhpp(rng, -1.0, np.array([0.0, 1.0]), np.array([1.0]))
    with pytest.raises(ValueError):
        sample_nhpp(rng, 1.0, np.array([0.0, 1.0]), np.array([1.0, 2.0]))


def test_expected_count():
    edges = np.array([0.0, 10.0, 20.0])
    factors = np.array([1.0, 3.0])
    assert expected_count(2.0, edges, factors, 0, 20) == pytest.approx(80.0)
    assert expected_count(2.0, edges, factors, 5, 15) == pytest.approx(10 + 30)
    assert expected_count(2.0, edges, factors, -5, 100) == pytest.approx(80.0)
    assert expected_count(2.0, edges, factors, 7, 7) == 0.0
    with pytest.raises(ValueError):
        expected_count(2.0, edges, factors, 10, 5)


@settings(max_examples=200, deadline=None)
@given(
    a=st.floats(0.0, 1e9),
    width=st.floats(1e-3, 1e7),
    n_parts=st.integers(2, 200),
    seed=st.integers(0, 2**32),
)
def test_a_busy_piece_is_cut_where_linspace_would_cut_it(
    a: float, width: float, n_parts: int, seed: int
) -> None:
    """A piece expecting more than ``max_expected`` arrivals is cut into the sub-pieces of
    ``np.linspace`` (made one at a time, so that no piece needs an array of them): the same
    arrivals, bit for bit, as cutting it with ``np.linspace``."""
    b = a + width
    edges, factors = np.array([a, b]), np.array([1.0])
    max_expected = 50.0
    rate = (n_parts - 0.5) * max_expected / (b - a)
    parts = math.ceil(rate * (b - a) / max_expected)
    assert parts >= 2
    sub = np.linspace(a, b, parts + 1)
    sub[-1] = b
    reference = np.random.default_rng(seed)
    expected = [sample_nhpp(reference, rate, sub[k : k + 2], factors) for k in range(parts)]
    got = list(sample_nhpp_blocks(np.random.default_rng(seed), rate, edges, factors, max_expected))
    assert len(got) == parts
    for x, y in zip(got, expected, strict=True):
        np.testing.assert_array_equal(x, y)
