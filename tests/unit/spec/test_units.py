"""Unit tests of duration and date parsing in :mod:`openbank_sim.spec.units`."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openbank_sim.errors import ScenarioError
from openbank_sim.spec.units import (
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    SECONDS_PER_MINUTE,
    SECONDS_PER_MONTH,
    SECONDS_PER_WEEK,
    SECONDS_PER_YEAR,
    format_duration,
    parse_date,
    parse_duration,
)

# Any pandas deprecation warning (e.g. lower-case "d") must fail the tests.
pytestmark = pytest.mark.filterwarnings("error")


def test_constants() -> None:
    assert SECONDS_PER_MINUTE == 60.0
    assert SECONDS_PER_HOUR == 3600.0
    assert SECONDS_PER_DAY == 86400.0
    assert SECONDS_PER_WEEK == 604800.0
    assert SECONDS_PER_YEAR == 365.25 * 86400 == 31_557_600.0
    assert SECONDS_PER_MONTH == SECONDS_PER_YEAR / 12 == 2_629_800.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("120ms", 0.12),
        ("5s", 5.0),
        ("3m", 180.0),
        ("10min", 600.0),
        ("2h", 7200.0),
        ("7d", 604800.0),
        ("2w", 1_209_600.0),
        ("1mo", 2_629_800.0),
        ("1y", 31_557_600.0),
        ("0s", 0.0),
        ("0ms", 0.0),
    ],
)
def test_every_unit(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1.5y", 1.5 * 31_557_600),
        ("0.5mo", 1_314_900.0),
        ("1.5h", 5400.0),
        ("0.25d", 21600.0),
        ("1.5w", 907_200.0),
        ("2.5s", 2.5),
        ("0.5ms", 0.0005),
        ("0.1s", 0.1),
        ("0.1y", 3_155_760.0),
        ("05s", 5.0),
    ],
)
def test_decimals(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1h30m", 5400.0),
        ("1h30min", 5400.0),
        ("1h 30m", 5400.0),
        ("1d12h", 129_600.0),
        ("1y2mo", 31_557_600.0 + 2 * 2_629_800.0),
        ("1m30s", 90.0),
        ("2s500ms", 2.5),
        ("  5 s ", 5.0),
    ],
)
def test_combinations_and_whitespace(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["none", "None", "NONE", " none "])
def test_none_allowed(text: str) -> None:
    assert parse_duration(text, allow_none=True) == math.inf


@pytest.mark.parametrize("text", ["none", "None"])
def test_none_refused_by_default(text: str) -> None:
    with pytest.raises(ScenarioError, match='"none"') as info:
        parse_duration(text)
    assert "not allowed here" in info.value.reason
    assert info.value.path == ""
    assert info.value.value == text


@pytest.mark.parametrize("value", [0, 5, 5.0, 0.5, -1, True, False, math.inf, None, [5], {"s": 5}])
def test_non_strings_need_a_unit(value: object) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_duration(value)
    assert "a duration needs a unit" in info.value.reason
    assert info.value.path == ""
    assert info.value.value is value


@pytest.mark.parametrize("text", ["5", "0", "5.5", " 120 ", "-5", "1e3", "inf", "nan"])
def test_numeric_strings_need_a_unit(text: str) -> None:
    # pandas would read "5" as 5 nanoseconds: it must never be accepted.
    with pytest.raises(ScenarioError) as info:
        parse_duration(text)
    assert "a duration needs a unit" in info.value.reason


def test_numeric_string_hint_mentions_none_when_allowed() -> None:
    with pytest.raises(ScenarioError, match='"none"'):
        parse_duration("5", allow_none=True)


@pytest.mark.parametrize("text", ["-5s", "-1h30m", "-0.5y", " -2ms"])
def test_negative_rejected(text: str) -> None:
    with pytest.raises(ScenarioError, match="negative") as info:
        parse_duration(text)
    assert info.value.value == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "s",
        "5x",
        "5 seconds",
        "5sec",
        "5mins",
        "5S",
        "7D",
        "5M",
        "PT5S",
        "1 days",
        "5us",
        "5ns",
        ".5s",
        "5.s",
        "1e3s",
        "5s garbage",
        "+5s",
        "5s-",
        "1,5h",
        "nones",
        # digits of other scripts: Python's int() and Decimal read them, pandas does not
        "\u0663s",
        "1.\u0663s",
        "\uff15ms",
        "0.\u096bm",
        "1h \u0663\u0663min",
    ],
)
def test_garbage_rejected_with_the_units(text: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_duration(text)
    reason = info.value.reason
    assert "cannot read" in reason
    for unit in ("ms", "min", "h", "d", "w", "mo", "y"):
        assert unit in reason
    assert info.value.path == ""
    assert info.value.value == text


def test_too_long_for_pandas_is_an_error_but_years_are_not() -> None:
    with pytest.raises(ScenarioError, match="too long"):
        parse_duration("200000d")
    assert parse_duration("1000y") == 1000 * SECONDS_PER_YEAR


def test_error_path_can_be_prefixed() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_duration(5)
    assert info.value.within("bank.timeout").path == "bank.timeout"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0s"),
        (0.12, "120ms"),
        (0.001, "1ms"),
        (5.0, "5s"),
        (90.0, "90s"),
        (120.0, "2min"),
        (5400.0, "90min"),
        (7200.0, "2h"),
        (604800.0, "7d"),
        (SECONDS_PER_MONTH, "1mo"),
        (SECONDS_PER_YEAR, "1y"),
        (1.5, "1500ms"),
        (0.0123456, "0.0123456s"),
        (1e-5, "0.00001s"),
        (math.inf, "none"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("bad", [-1.0, -1e-9, math.nan, -math.inf])
def test_format_duration_rejects_negative_and_nan(bad: float) -> None:
    with pytest.raises(ValueError):
        format_duration(bad)


def test_format_none_round_trip() -> None:
    assert parse_duration(format_duration(math.inf), allow_none=True) == math.inf


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=10**17))
def test_whole_milliseconds_round_trip_exactly(ms: int) -> None:
    # Up to ~3 million years: also covers the "<n>y<rest>" form beyond pandas' ~292 years.
    seconds = ms / 1000
    assert parse_duration(format_duration(seconds)) == seconds


@settings(max_examples=150, deadline=None)
@given(st.floats(min_value=0, max_value=1e18, allow_nan=False, allow_infinity=False))
def test_any_duration_round_trips_within_two_nanoseconds(seconds: float) -> None:
    # pandas reads "0.0123456789012s" through a float at nanosecond resolution: ~1.5 ns at worst.
    back = parse_duration(format_duration(seconds))
    assert back == pytest.approx(seconds, rel=1e-15, abs=2e-9)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=0, max_value=10**4),  # 10⁴ w ≈ 192 years: within pandas
    st.sampled_from(
        [
            ("ms", 0.001),
            ("s", 1.0),
            ("m", 60.0),
            ("min", 60.0),
            ("h", 3600.0),
            ("d", 86400.0),
            ("w", 604800.0),
            ("mo", 2_629_800.0),
            ("y", 31_557_600.0),
        ]
    ),
)
def test_integer_counts_of_each_unit(count: int, unit: tuple[str, float]) -> None:
    name, size = unit
    expected = count / 1000 if name == "ms" else count * size
    assert parse_duration(f"{count}{name}") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.date(2025, 1, 31), dt.date(2025, 1, 31)),
        (dt.datetime(2025, 1, 31), dt.date(2025, 1, 31)),
        (dt.datetime(2025, 1, 31, tzinfo=dt.UTC), dt.date(2025, 1, 31)),
        ("2025-01-31", dt.date(2025, 1, 31)),
        (" 2024-02-29 ", dt.date(2024, 2, 29)),
    ],
)
def test_parse_date(value: object, expected: dt.date) -> None:
    result = parse_date(value)
    assert result == expected
    assert type(result) is dt.date


def test_parse_date_rejects_a_time_of_day() -> None:
    value = dt.datetime(2025, 1, 31, 12, 30)
    with pytest.raises(ScenarioError, match="time of day") as info:
        parse_date(value)
    assert info.value.value == value


@pytest.mark.parametrize("text", ["2025-02-30", "2023-02-29", "2025-13-01"])
def test_parse_date_rejects_impossible_dates(text: str) -> None:
    with pytest.raises(ScenarioError, match="not a valid calendar date"):
        parse_date(text)


@pytest.mark.parametrize(
    "value",
    [
        "20250131",
        "2025-W05-1",
        "31/01/2025",
        "2025-1-31",
        "2025-01-31T00:00",
        "",
        "\u0662\u0660\u0662\u0665-01-31",  # Arabic-Indic digits
        20250131,
        None,
    ],
)
def test_parse_date_rejects_other_forms(value: object) -> None:
    with pytest.raises(ScenarioError, match="YYYY-MM-DD") as info:
        parse_date(value)
    assert info.value.path == ""


def test_whole_number_components_match_pandas_without_importing_it() -> None:
    """Whole-number components are integer arithmetic, equal to what pandas computes."""
    import random

    import pandas as pd

    from openbank_sim.spec.units import _PANDAS_UNITS, _component_ns

    rng = random.Random(5)
    for unit, pandas_unit in _PANDAS_UNITS.items():
        for _ in range(500):
            number = str(rng.randint(0, 10 ** rng.randint(0, 9)))
            try:
                expected = pd.Timedelta(f"{number}{pandas_unit}").value
            except (OverflowError, pd.errors.OutOfBoundsTimedelta):
                with pytest.raises(OverflowError):
                    _component_ns(number, unit)
                continue
            assert _component_ns(number, unit) == expected, (number, unit)
    with pytest.raises(OverflowError):
        _component_ns("106752", "d")  # past the ~292 years of int64 nanoseconds
