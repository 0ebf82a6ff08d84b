"""Profile events at a time of day and shorter than a day: parsing, bad input, rate pieces."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from openbank_sim.errors import ScenarioError
from openbank_sim.spec.profiles import (
    Event,
    event_begins,
    parse_profile,
    profile_at,
    rate_pieces,
)
from openbank_sim.spec.scenario import Scenario

MONDAY = dt.date(2026, 1, 5)
HOUR = 3600.0
DAY = 86400.0


def _one(date: object, factor: float = 3.0, duration: str | None = "30min"):
    event: dict[str, object] = {"date": date, "factor": factor}
    if duration is not None:
        event["duration"] = duration
    return parse_profile("peak", {"events": [event]})


# ------------------------------------------------------------------------------ parsing


@pytest.mark.parametrize(
    ("date", "event"),
    [
        ("11-11T20:00", Event(11, 11, 3.0, 1800.0, time_of_day_s=72000)),
        ("11-11T20:00:15", Event(11, 11, 3.0, 1800.0, time_of_day_s=72015)),
        ("11-11T00:00", Event(11, 11, 3.0, 1800.0)),
        ("2026-11-11T20:00", Event(11, 11, 3.0, 1800.0, time_of_day_s=72000, year=2026)),
        ("2026-11-11", Event(11, 11, 3.0, 1800.0, year=2026)),
        (dt.datetime(2026, 11, 11, 20, 0, 5), Event(11, 11, 3.0, 1800.0, 72005, 2026)),
        (dt.date(2028, 2, 29), Event(2, 29, 3.0, 1800.0, year=2028)),
        ("02-29T23:59:59", Event(2, 29, 3.0, 1800.0, time_of_day_s=86399)),
    ],
)
def test_event_dates_with_a_time_of_day(date, event):
    assert _one(date).events == (event,)


def test_the_whole_day_form_is_unchanged():
    assert _one("11-11", 10.0, None).events == (
        Event(month=11, day=11, factor=10.0, duration_s=DAY),
    )
    assert _one("11-11", 10.0, None).describe()["events"] == [
        {"date": "11-11", "factor": 10.0, "duration_s": DAY}
    ]


@pytest.mark.parametrize(
    "date", ["11-11T20:00", "11-11T20:00:15", "2026-11-11T20:00", "2026-11-11", "11-11"]
)
def test_describe_writes_the_date_back(date):
    p = _one(date)
    assert p.describe()["events"][0]["date"] == date
    assert _one(p.describe()["events"][0]["date"]).events == p.events


@pytest.mark.parametrize(
    ("event", "path", "fragment"),
    [
        ({"date": "11-11T25:00"}, "events.0.date", "not a time of day"),
        ({"date": "11-11T12:60"}, "events.0.date", "not a time of day"),
        ({"date": "11-11T12:00:60"}, "events.0.date", "not a time of day"),
        ({"date": "11-11T"}, "events.0.date", "time of day 'HH:MM'"),
        ({"date": "11-11T8:00"}, "events.0.date", "time of day 'HH:MM'"),
        ({"date": "11-11T20"}, "events.0.date", "time of day 'HH:MM'"),
        ({"date": "11-11T20:00Z"}, "events.0.date", "time of day 'HH:MM'"),
        ({"date": "11-11 20:00"}, "events.0.date", "MM-DDTHH:MM"),
        ({"date": "2027-02-29T10:00"}, "events.0.date", "calendar date"),
        ({"date": "26-11-11T10:00"}, "events.0.date", "YYYY-MM-DD"),
        ({"date": dt.datetime(2026, 11, 11, 20, 0, 0, 500)}, "events.0.date", "to the second"),
        ({"date": dt.time(20, 0)}, "events.0.date", "MM-DDTHH:MM"),
        ({"date": "11-11T20:00", "duration": "0min"}, "events.0.duration", "positive"),
        ({"date": "11-11T20:00", "duration": "-30min"}, "events.0.duration", "negative"),
        ({"date": "11-11T20:00", "duration": "30"}, "events.0.duration", "unit"),
        ({"date": "11-11T20:00", "duration": "half an hour"}, "events.0.duration", "unit"),
        ({"date": "11-11T20:00", "duration": 1800}, "events.0.duration", "unit"),
    ],
)
def test_bad_intraday_events(event, path, fragment):
    with pytest.raises(ScenarioError) as info:
        parse_profile("peak", {"events": [{"factor": 3.0, **event}]})
    assert info.value.path == path
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("event", "path", "fragment"),
    [
        ({"date": "11-11T25:00"}, "profiles.peak.events.0.date", "not a time of day"),
        ({"date": "11-11T"}, "profiles.peak.events.0.date", "HH:MM"),
        ({"date": "11-11T20:00", "duration": "0s"}, "profiles.peak.events.0.duration", "positive"),
    ],
)
def test_bad_intraday_events_name_the_scenario_key(event, path, fragment):
    raw = {
        "bank": {
            "pools": {"core": {"servers": 1}},
            "products": {
                "pay": {"pool": "core", "service_time": {"dist": "constant", "value": "1ms"}}
            },
        },
        "journeys": {"buy": {"steps": [{"product": "pay"}]}},
        "profiles": {"peak": {"events": [{"factor": 3.0, **event}]}},
        "partners": [{"name": "shop", "users": 1, "sessions_per_user_day": 1.0, "journey": "buy"}],
    }
    with pytest.raises(ScenarioError) as info:
        Scenario(raw).spec  # noqa: B018 (validates)
    assert info.value.path == path
    assert fragment in str(info.value)


# ------------------------------------------------------------------------------ rate pieces


def test_a_30_minute_event_splits_its_hour_to_the_second():
    p = _one("01-05T20:10:15", 3.0, "30min")
    edges, factors = rate_pieces(p, MONDAY, DAY)
    begin, end = 20 * HOUR + 615.0, 20 * HOUR + 615.0 + 1800.0
    expected = np.unique(np.concatenate([np.arange(25) * HOUR, [begin, end]]))
    np.testing.assert_array_equal(edges, expected)
    lo = int(np.searchsorted(edges, begin))
    assert edges[lo] == begin and edges[lo + 1] == end
    np.testing.assert_array_equal(factors[lo : lo + 1], [3.0])
    assert np.count_nonzero(factors != 1.0) == 1
    # the rate integral over the day grows by exactly 2 x 1800 s
    assert float(np.sum(factors * np.diff(edges))) == DAY + 2 * 1800.0


def test_an_event_crossing_midnight():
    p = _one("01-05T23:30", 4.0, "1h")
    edges, factors = rate_pieces(p, MONDAY, 2 * DAY)
    i = int(np.searchsorted(edges, 23.5 * HOUR))
    assert edges[i] == 23.5 * HOUR and edges[i + 1] == DAY and edges[i + 2] == DAY + 1800.0
    np.testing.assert_array_equal(factors[i : i + 2], [4.0, 4.0])
    assert factors[i - 1] == 1.0 and factors[i + 2] == 1.0
    assert np.count_nonzero(factors != 1.0) == 2


def test_a_recurring_event_crossing_the_year_end():
    p = _one("12-31T23:00", 5.0, "2h")
    start = dt.date(2026, 12, 31)
    edges, factors = rate_pieces(p, start, 2 * DAY)
    boosted = [(a, b) for a, b, f in zip(edges[:-1], edges[1:], factors, strict=True) if f != 1]
    assert boosted == [(23 * HOUR, DAY), (DAY, DAY + HOUR)]
    np.testing.assert_array_equal(factors[factors != 1.0], [5.0, 5.0])
    # a horizon starting on 01-01 sees the last hour of the previous year's occurrence
    edges, factors = rate_pieces(p, dt.date(2027, 1, 1), DAY)
    assert factors[0] == 5.0 and np.count_nonzero(factors != 1.0) == 1
    assert edges[1] == HOUR
    # and it recurs: the next year's 12-31 23:00 too
    edges, factors = rate_pieces(p, dt.date(2027, 12, 31), HOUR * 24)
    assert factors[23] == 5.0 and np.count_nonzero(factors != 1.0) == 1


def test_a_dated_event_happens_once():
    p = _one("2026-01-05T08:00", 2.0, "90min")
    edges, factors = rate_pieces(p, MONDAY, 400 * DAY)
    boosted = edges[:-1][factors != 1.0]
    np.testing.assert_array_equal(boosted, [8 * HOUR, 9 * HOUR])
    assert edges[np.searchsorted(edges, 9 * HOUR) + 1] == 9.5 * HOUR
    # a horizon in another year has none
    _, factors = rate_pieces(p, dt.date(2027, 1, 4), 7 * DAY)
    assert set(factors.tolist()) == {1.0}


def test_profile_at_matches_the_pieces_at_the_edges():
    p = _one("01-05T20:00", 3.0, "30min")
    at = 20 * HOUR
    assert profile_at(p, MONDAY, math.nextafter(at, -math.inf)) == 1.0
    assert profile_at(p, MONDAY, at) == 3.0
    assert profile_at(p, MONDAY, at + 1799.999) == 3.0
    assert profile_at(p, MONDAY, at + 1800.0) == 1.0


def test_event_begins_are_the_occurrences_inside_the_horizon():
    p = parse_profile(
        "x",
        {
            "events": [
                {"date": "01-06T20:00", "factor": 2.0, "duration": "30min"},
                {"date": "2026-01-05T06:00", "factor": 2.0},
                {"date": "01-04T23:00", "factor": 2.0, "duration": "2h"},  # begins before t = 0
            ]
        },
    )
    assert event_begins(p, MONDAY, 3 * DAY) == [(6 * HOUR, 1), (DAY + 20 * HOUR, 0)]
    assert event_begins(p, MONDAY, DAY + 20 * HOUR) == [(6 * HOUR, 1)]
    # in 2027 the dated one does not happen; the 01-04 one begins inside the horizon
    assert event_begins(p, dt.date(2027, 1, 4), 3 * DAY) == [
        (23 * HOUR, 2),
        (2 * DAY + 20 * HOUR, 0),
    ]
