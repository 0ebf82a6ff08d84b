"""Durations and dates, parsed in one place.

Every duration in a scenario is a string with a unit (``"120ms"``, ``"5s"``, ``"1h30m"``,
``"7d"``, ``"1.5y"``); the model works in **seconds** (``float``). A bare number is never a
duration: ``5`` could mean seconds, milliseconds or days, so it is rejected instead of guessed.

Units (lower-case only, so ``m`` can never be mistaken for months):

=======  ==========================================
``ms``   millisecond
``s``    second
``m``    minute (same as ``min``)
``min``  minute
``h``    hour
``d``    day (86 400 s)
``w``    week (7 d)
``mo``   month, 1/12 of a year (30.4375 d = 2 629 800 s)
``y``    year, 365.25 d (31 557 600 s)
=======  ==========================================

Components may be combined and decimals are allowed: ``"1h30m"``, ``"1d 12h"``, ``"1.5y"``,
``"0.5mo"``. The ``ms``-to-``w`` components are converted by :class:`pandas.Timedelta`
(nanosecond resolution, at most ~292 years per component); ``mo`` and ``y`` are exact decimal
arithmetic here (pandas refuses them) and have no upper limit. The sum is exact and rounded to
the nearest ``float`` once.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal
from fractions import Fraction
from typing import TypeGuard

from ..errors import ScenarioError

__all__ = [
    "SECONDS_PER_DAY",
    "SECONDS_PER_HOUR",
    "SECONDS_PER_MINUTE",
    "SECONDS_PER_MONTH",
    "SECONDS_PER_WEEK",
    "SECONDS_PER_YEAR",
    "format_duration",
    "is_number",
    "parse_date",
    "parse_duration",
]

SECONDS_PER_MINUTE: float = 60.0
"""Seconds in a minute."""
SECONDS_PER_HOUR: float = 3600.0
"""Seconds in an hour."""
SECONDS_PER_DAY: float = 86400.0
"""Seconds in a day."""
SECONDS_PER_WEEK: float = 7 * SECONDS_PER_DAY
"""Seconds in a week (604 800 s)."""
SECONDS_PER_YEAR: float = 365.25 * SECONDS_PER_DAY
"""Seconds in a (Julian) year of 365.25 days (31 557 600 s)."""
SECONDS_PER_MONTH: float = SECONDS_PER_YEAR / 12
"""Seconds in a month, 1/12 of a year (2 629 800 s, 30.4375 days)."""

# Units that pandas converts, mapped to the spelling pandas accepts without deprecation warnings
# (pandas deprecates lower-case "d" and "w").
_PANDAS_UNITS: dict[str, str] = {
    "ms": "ms",
    "s": "s",
    "m": "min",
    "min": "min",
    "h": "h",
    "d": "D",
    "w": "W",
}
_NS_PER_UNIT: dict[str, int] = {
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "min": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 604_800_000_000_000,
}
_INT64_MAX = 2**63 - 1
# Units pandas refuses, converted here exactly: whole seconds per unit.
_CALENDAR_SECONDS: dict[str, int] = {"mo": 2_629_800, "y": 31_557_600}

# ASCII digits only: Python's \d also matches the digits of other scripts ("\u0663s"), which
# pandas cannot read and no scenario means
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_UNIT = r"ms|min|mo|m|s|h|d|w|y"  # longest first where one is a prefix of another
_COMPONENT = re.compile(rf"({_NUMBER})\s*({_UNIT})", re.ASCII)
_DURATION = re.compile(rf"(-)?\s*((?:{_NUMBER}\s*(?:{_UNIT})\s*)+)", re.ASCII)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

_EXAMPLES = '"120ms", "5s", "7d"'
_UNITS_TEXT = "ms, s, m or min, h, d, w, mo (1/12 year), y (365.25 days)"
_NS_PER_SECOND = 1_000_000_000
_MS_PER_UNIT_FORMAT: tuple[tuple[str, int], ...] = (
    # Units format_duration may pick, largest first; weeks are left out on purpose ("14d").
    ("y", 31_557_600_000),
    ("mo", 2_629_800_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("min", 60_000),
    ("s", 1_000),
    ("ms", 1),
)
# Largest whole-millisecond count whose nanoseconds fit a pandas Timedelta (int64).
_PANDAS_MAX_MS = (2**63 - 1) // 1_000_000


def is_number(value: object) -> TypeGuard[int | float]:
    """Whether ``value`` is a TOML number (an int or a float, not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_duration(value: object, *, allow_none: bool = False) -> float:
    """Read a duration string and return it in seconds.

    Args:
        value: a string such as ``"120ms"``, ``"5s"``, ``"1h30m"``, ``"7d"``, ``"1.5y"``, or
            ``"none"`` (any case) when ``allow_none`` is true. Surrounding whitespace and spaces
            between components are ignored. Units are listed in the module docstring.
        allow_none: whether ``"none"`` (no limit) is allowed; it reads as ``math.inf``.

    Returns:
        The duration in seconds (``float``, ``>= 0``; ``math.inf`` for ``"none"``).

    Raises:
        ScenarioError: (with an empty path and ``value``) for a non-string (numbers included:
            a duration needs a unit), a numeric string without a unit, ``"none"`` when it is
            not allowed, a negative duration, an unknown unit or any other unreadable text.
    """
    if not isinstance(value, str):
        raise ScenarioError(_needs_unit_reason(allow_none), value=value)
    text = value.strip()
    if text.lower() == "none":
        if allow_none:
            return math.inf
        raise ScenarioError(
            f'"none" (no limit) is not allowed here; give a duration such as {_EXAMPLES}',
            value=value,
        )
    if _is_float_text(text):
        raise ScenarioError(_needs_unit_reason(allow_none), value=value)
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ScenarioError(
            f"cannot read this as a duration; write a number followed by a unit "
            f'(units: {_UNITS_TEXT}), e.g. {_EXAMPLES} or "1h30m"',
            value=value,
        )
    negative, body = match.group(1) is not None, match.group(2)
    nanoseconds = 0
    calendar = Fraction(0)
    for number, unit in _COMPONENT.findall(body):
        if unit in _CALENDAR_SECONDS:
            calendar += Fraction(Decimal(number)) * _CALENDAR_SECONDS[unit]
            continue
        try:
            nanoseconds += _component_ns(number, unit)
        except OverflowError:
            raise ScenarioError(
                f"the {number}{unit} part is too long to represent (at most ~292 years in units "
                f"from ms to w); write very long durations in y or mo",
                value=value,
            ) from None
    try:
        seconds = float(Fraction(nanoseconds, _NS_PER_SECOND) + calendar)
    except OverflowError:
        raise ScenarioError("duration is too long to represent", value=value) from None
    if negative and seconds > 0:
        raise ScenarioError("a duration cannot be negative", value=value)
    return seconds


def _component_ns(number: str, unit: str) -> int:
    """Nanoseconds of one ``ms``-to-``w`` component, as :class:`pandas.Timedelta` reads it.

    Whole numbers are exact integer arithmetic (what pandas computes too); a decimal fraction
    goes through pandas itself, imported only then, so that durations stay bit-identical to
    pandas' rounding. Raises OverflowError past the int64 nanoseconds pandas can hold.
    """
    if "." not in number:
        ns = int(number) * _NS_PER_UNIT[unit]
        if ns > _INT64_MAX:
            raise OverflowError(number)
        return ns
    import pandas as pd

    try:
        return int(pd.Timedelta(f"{number}{_PANDAS_UNITS[unit]}").value)
    except pd.errors.OutOfBoundsTimedelta:
        raise OverflowError(number) from None


def format_duration(seconds: float) -> str:
    """Write a duration (in seconds) in a short form that :func:`parse_duration` reads back.

    Whole numbers of milliseconds use the largest unit that divides them exactly, among
    ``y``, ``mo``, ``d``, ``h``, ``min``, ``s`` and ``ms`` (``"120ms"``, ``"5s"``, ``"2h"``,
    ``"7d"``, ``"90min"``) and read back to exactly ``seconds``. Other values are written in
    seconds with ``repr`` precision in positional notation (``"0.0123456s"``) and read back to
    within 2 ns (pandas reads a decimal through a float, at nanosecond resolution). ``math.inf`` is written ``"none"`` (read back only where
    ``allow_none=True``). Durations beyond what pandas holds (~292 years) are written with a
    leading whole number of years, e.g. ``"1000y3d"``.

    Args:
        seconds: a duration in seconds, ``>= 0`` (``math.inf`` allowed).

    Returns:
        The duration as a string.

    Raises:
        ValueError: for a negative or NaN ``seconds``.
    """
    seconds = float(seconds)
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"cannot format a negative or NaN duration: {seconds!r}")
    if math.isinf(seconds):
        return "none"
    exact = Fraction(seconds)
    ms = round(exact * 1000)
    if ms / 1000 == seconds:  # int / int is correctly rounded: a whole number of milliseconds
        if ms <= _PANDAS_MAX_MS:
            return _format_whole_ms(ms)
        years, rest = divmod(ms, _MS_PER_UNIT_FORMAT[0][1])
        return f"{years}y" + (_format_whole_ms(rest) if rest else "")
    if seconds < _PANDAS_MAX_MS / 1000:
        return f"{_positional(seconds)}s"
    years = math.floor(exact / _CALENDAR_SECONDS["y"])
    rest_s = float(exact - years * _CALENDAR_SECONDS["y"])  # exact: same binary granularity
    return f"{years}y{_positional(rest_s)}s"


def parse_date(value: object) -> dt.date:
    """Read a calendar date.

    Args:
        value: a TOML date (:class:`datetime.date`), a :class:`datetime.datetime` at exactly
            midnight (its own date is taken, whatever its time zone), or an ISO string
            ``"YYYY-MM-DD"``.

    Returns:
        The date.

    Raises:
        ScenarioError: (with an empty path and ``value``) for anything else, a datetime that is
            not at midnight, or an impossible date such as ``"2025-02-30"``.
    """
    if isinstance(value, dt.datetime):
        if value.time() != dt.time(0, 0):
            raise ScenarioError(
                "a date cannot have a time of day; write just the date, e.g. 2025-01-31",
                value=value,
            )
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if _ISO_DATE.fullmatch(text):
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                raise ScenarioError(
                    "not a valid calendar date (check the month and the day)", value=value
                ) from None
    raise ScenarioError("a date must be written YYYY-MM-DD, e.g. 2025-01-31", value=value)


def _needs_unit_reason(allow_none: bool) -> str:
    reason = f"a duration needs a unit, e.g. {_EXAMPLES} (units: {_UNITS_TEXT})"
    return reason + ', or "none" for no limit' if allow_none else reason


def _is_float_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _format_whole_ms(ms: int) -> str:
    if ms == 0:
        return "0s"
    for unit, size in _MS_PER_UNIT_FORMAT:
        if ms % size == 0:
            return f"{ms // size}{unit}"
    raise AssertionError("unreachable: every integer is a whole number of ms")  # pragma: no cover


def _positional(x: float) -> str:
    """``repr`` digits of ``x`` without an exponent, e.g. ``1e-05`` -> ``"0.00001"``."""
    return format(Decimal(repr(x)), "f")
