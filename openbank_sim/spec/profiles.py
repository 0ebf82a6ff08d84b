"""Time-varying arrival-rate profiles and exact non-homogeneous Poisson (NHPP) sampling.

A partner generates user sessions as an NHPP with rate ``base_rate_per_s * profile(t)`` where::

    profile(t) = daily[hour] * weekly[weekday] * monthly[month] * prod(active event factors)

``daily`` (24 hourly factors, hour 0 = 00:00-01:00), ``weekly`` (7 factors, Monday first) and
``monthly`` (12 factors, January first) are each normalised to arithmetic mean 1, so a base
rate keeps its meaning as an average; dated events are not normalised. An event starts at a
time of day (midnight unless given, to the second) and lasts its duration (a day unless given,
possibly shorter or longer than a day); it recurs every year (``"MM-DD"``, ``"MM-DDTHH:MM"``)
or happens once (``"YYYY-MM-DD"``, ``"YYYY-MM-DDTHH:MM"``). Simulation time ``t`` is in seconds
from midnight of a calendar date ``start``; calendar time is naive (no DST, no time zones). A
year without the event's month-day (``02-29`` outside leap years) has no occurrence.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from ..errors import ScenarioError, did_you_mean
from .bounds import DURATION, EVENT_FACTOR, PROFILE_FACTOR, Bound, finite_float
from .units import parse_duration

__all__ = [
    "BUILTIN_PROFILE_NAMES",
    "Event",
    "Profile",
    "builtin_profiles",
    "event_begins",
    "expected_count",
    "parse_profile",
    "profile_at",
    "rate_pieces",
    "sample_nhpp",
]

HOUR_S = 3600.0
DAY_S = 86400.0

_SHAPE_LENGTHS = MappingProxyType({"daily": 24, "weekly": 7, "monthly": 12})
_PROFILE_KEYS = (*_SHAPE_LENGTHS, "events")
_EVENT_KEYS = ("date", "factor", "duration")
_DEFAULT_EVENT_DURATION = "1d"
_EVENT_DATE = re.compile(r"(?:([0-9]{4})-)?([0-9]{2})-([0-9]{2})(?:T(.*))?", re.DOTALL)
_TIME_OF_DAY = re.compile(r"([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?")
_DATE_HINT = (
    "must be 'MM-DD' or 'MM-DDTHH:MM' (every year), or 'YYYY-MM-DD' or 'YYYY-MM-DDTHH:MM' (once)"
)
_LOWER_UNIT = re.compile(r"(?<![A-Za-z])([dw])(?![A-Za-z])")
_DURATION_HINT = "must be a positive duration with a unit, e.g. '1d', '6h', '90min'"


@dataclass(frozen=True, slots=True)
class Event:
    """A dated multiplier, every year on its month-day or once in ``year``.

    Attributes:
        month: 1-12.
        day: 1-31 (a valid day of ``month`` in a leap year, or in ``year`` when given).
        factor: rate multiplier while active (>= 0, not normalised).
        duration_s: how long it lasts from its start, in seconds (> 0).
        time_of_day_s: its start, in whole seconds after midnight of month-day (0-86399).
        year: the one year it happens in; None = every year.
    """

    month: int
    day: int
    factor: float
    duration_s: float
    time_of_day_s: int = 0
    year: int | None = None

    @property
    def date_text(self) -> str:
        """The start as written in a scenario: ``[YYYY-]MM-DD[THH:MM[:SS]]``."""
        text = f"{self.month:02d}-{self.day:02d}"
        if self.year is not None:
            text = f"{self.year:04d}-{text}"
        if self.time_of_day_s:
            hours, rest = divmod(self.time_of_day_s, 3600)
            minutes, seconds = divmod(rest, 60)
            text += f"T{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")
        return text


@dataclass(frozen=True, slots=True)
class Profile:
    """A normalised rate profile (dimensionless multipliers of a base rate).

    Attributes:
        name: the profile's name.
        daily: 24 hourly factors (hour 0 = 00:00-01:00), mean 1.
        weekly: 7 day factors, Monday first, mean 1.
        monthly: 12 month factors, January first, mean 1.
        events: dated multipliers, applied on top (overlapping events multiply).
    """

    name: str
    daily: tuple[float, ...]
    weekly: tuple[float, ...]
    monthly: tuple[float, ...]
    events: tuple[Event, ...] = ()

    def __post_init__(self) -> None:
        for key, length in _SHAPE_LENGTHS.items():
            if len(getattr(self, key)) != length:
                raise ValueError(f"Profile.{key} must have {length} factors")

    def describe(self) -> dict[str, object]:
        """A JSON-able summary (factors are dimensionless, durations in seconds)."""
        return {
            "name": self.name,
            "daily": list(self.daily),
            "weekly": list(self.weekly),
            "monthly": list(self.monthly),
            "events": [
                {
                    "date": e.date_text,
                    "factor": e.factor,
                    "duration_s": e.duration_s,
                }
                for e in self.events
            ],
        }


# --------------------------------------------------------------------------------------------
# Parsing


def _nonnegative(value: object, path: str, bound: Bound = PROFILE_FACTOR) -> float:
    x = finite_float(value)
    if x is None:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            raise ScenarioError(bound.refusal(), path=path, value=value)  # too long for a float
        raise ScenarioError("must be a finite number", path=path, value=value)
    if x < 0:
        raise ScenarioError("must be >= 0", path=path, value=value)
    if x > bound.maximum:
        raise ScenarioError(bound.refusal(), path=path, value=value)
    return x


def _normalised(values: tuple[float, ...] | list[float], path: str) -> tuple[float, ...]:
    """``values`` divided by their arithmetic mean; an all-zero shape is an error."""
    mean = math.fsum(values) / len(values)
    if mean <= 0:
        raise ScenarioError("must not be all zero", path=path, value=list(values))
    return tuple(float(v) / mean for v in values)


def _parse_shape(value: object, key: str) -> tuple[float, ...]:
    length = _SHAPE_LENGTHS[key]
    if not isinstance(value, list | tuple):
        raise ScenarioError(f"must be a list of {length} factors", path=key, value=value)
    if len(value) != length:
        raise ScenarioError(
            f"must have {length} factors, got {len(value)}", path=key, value=list(value)
        )
    return _normalised([_nonnegative(v, f"{key}.{i}") for i, v in enumerate(value)], key)


def _parse_duration_s(value: object, path: str) -> float:
    """Seconds in a positive duration string with a unit (see :mod:`openbank_sim.spec.units`)."""
    try:
        seconds = parse_duration(value)
    except ScenarioError as err:
        raise err.within(path) from None
    if seconds <= 0:
        raise ScenarioError("must be a positive duration", path=path, value=value)
    if seconds > DURATION.maximum:
        raise ScenarioError(DURATION.refusal(), path=path, value=value)
    return seconds


def _event_start(value: object, path: str) -> tuple[int | None, int, int, int]:
    """``(year or None, month, day, seconds after midnight)`` of an event's ``date``."""
    if isinstance(value, dt.datetime):  # a TOML local date-time
        if value.tzinfo is not None or value.microsecond:
            raise ScenarioError(
                "must be a local date-time to the second, without a time zone",
                path=path,
                value=str(value),
            )
        return (
            value.year,
            value.month,
            value.day,
            value.hour * 3600 + value.minute * 60 + value.second,
        )
    if isinstance(value, dt.date):  # a TOML local date
        return value.year, value.month, value.day, 0
    match = _EVENT_DATE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ScenarioError(_DATE_HINT, path=path, value=value)
    year = int(match[1]) if match[1] is not None else None
    month, day = int(match[2]), int(match[3])
    try:
        dt.date(2000 if year is None else year, month, day)  # 2000 is a leap year: 02-29 recurs
    except ValueError:
        raise ScenarioError("is not a calendar date", path=path, value=value) from None
    if match[4] is None:
        return year, month, day, 0
    time = _TIME_OF_DAY.fullmatch(match[4])
    if time is None:
        raise ScenarioError(
            "needs a time of day 'HH:MM' or 'HH:MM:SS' after 'T', e.g. '11-11T20:00'",
            path=path,
            value=value,
        )
    hours, minutes, seconds = int(time[1]), int(time[2]), int(time[3] or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ScenarioError(
            "is not a time of day (hours 00-23, minutes and seconds 00-59)", path=path, value=value
        )
    return year, month, day, hours * 3600 + minutes * 60 + seconds


def _parse_event(value: object, path: str) -> Event:
    if not isinstance(value, Mapping):
        raise ScenarioError(
            "must be a table like { date = '11-11', factor = 10.0, duration = '1d' }",
            path=path,
            value=value,
        )
    for key in value:
        if key not in _EVENT_KEYS:
            hint = did_you_mean(str(key), _EVENT_KEYS)
            raise ScenarioError(f"unknown event key{hint}", path=f"{path}.{key}")
    for key in ("date", "factor"):
        if key not in value:
            raise ScenarioError("is required", path=f"{path}.{key}")
    year, month, day, time_of_day_s = _event_start(value["date"], f"{path}.date")
    factor = _nonnegative(value["factor"], f"{path}.factor", EVENT_FACTOR)
    duration_s = _parse_duration_s(
        value.get("duration", _DEFAULT_EVENT_DURATION), f"{path}.duration"
    )
    return Event(
        month=month,
        day=day,
        factor=factor,
        duration_s=duration_s,
        time_of_day_s=time_of_day_s,
        year=year,
    )


def parse_profile(name: str, table: object) -> Profile:
    """Build a :class:`Profile` from a scenario table (``[profiles.<name>]``).

    Keys (all optional, missing = flat): ``daily`` (24 factors), ``weekly`` (7, Monday first),
    ``monthly`` (12, January first), each >= 0, not all zero, normalised to mean 1; ``events``,
    a list of ``{ date = "MM-DD", factor = >= 0, duration = "1d" }`` (duration defaults to 1 day;
    ``date`` may be ``"MM-DDTHH:MM[:SS]"``, every year from that time of day, or a full date
    ``"YYYY-MM-DD[THH:MM[:SS]]"`` or TOML local date(-time), once).

    Raises:
        ScenarioError: with a path relative to the table, e.g. ``daily.3`` or ``events.0.date``.
    """
    if not isinstance(table, Mapping):
        raise ScenarioError("must be a table of daily/weekly/monthly/events", value=table)
    for key in table:
        if key not in _PROFILE_KEYS:
            hint = did_you_mean(str(key), _PROFILE_KEYS)
            raise ScenarioError(f"unknown profile key{hint}", path=str(key))
    shapes = {
        key: _parse_shape(table[key], key) if key in table else (1.0,) * length
        for key, length in _SHAPE_LENGTHS.items()
    }
    raw_events = table.get("events", [])
    if not isinstance(raw_events, list | tuple):
        raise ScenarioError("must be a list of event tables", path="events", value=raw_events)
    events = tuple(_parse_event(e, f"events.{i}") for i, e in enumerate(raw_events))
    return Profile(name=name, events=events, **shapes)


# --------------------------------------------------------------------------------------------
# Built-in profiles (raw values; normalised to mean 1 when the Profile is built)

# C-TR-1 (e-commerce): Western hour-of-day traffic index, 100 = daily mean: 05:00 ~22,
# 13:00 151, 14:00 149, 21:00 134; Alipay: evening peak strongest 20:00-21:00. Anchors are
# marked; everything else is interpolated (assumption). 20:00 = 165 is the assumed maximum.
# The raw values sum to 2400 (mean 100), so the anchors survive normalisation exactly.
_ECOMMERCE_DAILY = (
    75, 45, 30, 24, 22,  # 00-04 interpolated, assumption
    22,  # 05 C-TR-1 anchor (~22)
    30, 50, 75, 100, 120, 137, 148,  # 06-12 interpolated, assumption
    151,  # 13 C-TR-1 anchor
    149,  # 14 C-TR-1 anchor
    145, 138, 135, 140, 150,  # 15-19 interpolated, assumption
    165,  # 20 C-TR-1 evening peak (Alipay 20:00-21:00), assumed maximum
    134,  # 21 C-TR-1 anchor
    120, 95,  # 22-23 interpolated, assumption
)  # fmt: skip
_ECOMMERCE_WEEKLY = (1, 1, 1, 1, 1, 1.1, 1.1)  # assumption: weekend +10%
# C-TR-2: 11.11 (Singles' Day) season lifts November; December a bit (assumption).
_ECOMMERCE_MONTHLY = (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1.2, 1.1)

# C-TR-3 (medical): outpatient demand concentrated on weekday mornings, peak 08:00-11:00,
# low at night; hourly values are an assumption consistent with that (afternoon clinic bump).
_MEDICAL_DAILY = (
    5, 4, 3, 3, 3, 5, 15, 60,  # 00-07
    180, 220, 210, 170,  # 08-11 morning peak (C-TR-3)
    80, 110, 150, 140, 110, 60,  # 12-17 afternoon clinics, assumption
    30, 25, 20, 15, 10, 7,  # 18-23
)  # fmt: skip
# C-TR-3: one public hospital, 6,800 outpatients per weekday vs 1,800 per weekend day.
_MEDICAL_WEEKLY = (6800, 6800, 6800, 6800, 6800, 1800, 1800)
_MEDICAL_MONTHLY = (1,) * 12  # assumption: no seasonality

# C-TR-4 (education): tuition payments peak around term starts (China: late Feb-Mar and late
# Aug-Sep). Month values are an assumption consistent with that (autumn intake the largest).
_EDUCATION_DAILY = (
    10, 5, 3, 3, 3, 5, 15, 40,  # 00-07
    80, 120, 140, 135, 100, 110, 130, 130, 120, 100,  # 08-17 office hours, assumption
    90, 110, 120, 100, 60, 30,  # 18-23 evening (parents after work), assumption
)  # fmt: skip
_EDUCATION_WEEKLY = (1, 1, 1, 1, 1, 0.9, 0.9)  # assumption: flat-ish, weekend -10%
_EDUCATION_MONTHLY = (0.6, 1.4, 1.8, 0.7, 0.6, 0.6, 0.7, 1.4, 2.0, 0.8, 0.6, 0.6)  # C-TR-4


def _builtin(name: str, daily: tuple, weekly: tuple, monthly: tuple) -> Profile:
    return Profile(
        name=name,
        daily=_normalised(daily, "daily"),
        weekly=_normalised(weekly, "weekly"),
        monthly=_normalised(monthly, "monthly"),
    )


_BUILTINS: Mapping[str, Profile] = MappingProxyType(
    {
        "flat": _builtin("flat", (1,) * 24, (1,) * 7, (1,) * 12),
        "ecommerce": _builtin("ecommerce", _ECOMMERCE_DAILY, _ECOMMERCE_WEEKLY, _ECOMMERCE_MONTHLY),
        "medical": _builtin("medical", _MEDICAL_DAILY, _MEDICAL_WEEKLY, _MEDICAL_MONTHLY),
        "education": _builtin("education", _EDUCATION_DAILY, _EDUCATION_WEEKLY, _EDUCATION_MONTHLY),
    }
)
BUILTIN_PROFILE_NAMES: tuple[str, ...] = tuple(_BUILTINS)


def builtin_profiles() -> Mapping[str, Profile]:
    """The built-in profiles by name (a read-only mapping)."""
    return _BUILTINS


# --------------------------------------------------------------------------------------------
# Rate over calendar time


def _check_start(start: object) -> dt.date:
    if isinstance(start, dt.datetime) or not isinstance(start, dt.date):
        raise TypeError(f"start must be a datetime.date (midnight), got {start!r}")
    return start


def _event_occurrences(
    events: tuple[Event, ...], start: dt.date, t0_s: float, t1_s: float
) -> list[tuple[float, float, float]]:
    """``(begin_s, end_s, factor)`` of every event occurrence overlapping ``[t0_s, t1_s)``.

    Times are seconds from midnight of ``start``.
    """
    if not events:
        return []
    longest_days = max(e.duration_s for e in events) / DAY_S
    first_day = math.floor(t0_s / DAY_S) - math.ceil(longest_days) - 1
    last_day = math.floor(t1_s / DAY_S) + 1
    ordinal = start.toordinal()
    year_lo = dt.date.fromordinal(max(1, ordinal + first_day)).year
    year_hi = dt.date.fromordinal(min(dt.date.max.toordinal(), ordinal + last_day)).year
    found = []
    for year in range(year_lo, year_hi + 1):
        for e in events:
            begin = _begin_in(e, year, ordinal)
            if begin is None:
                continue
            end = begin + e.duration_s
            if begin < t1_s and end > t0_s:
                found.append((begin, end, e.factor))
    return found


def _begin_in(event: Event, year: int, ordinal: int) -> float | None:
    """When ``event`` begins in ``year`` (seconds from the day of ``ordinal``), or None."""
    if event.year is not None and event.year != year:
        return None
    try:
        day = dt.date(year, event.month, event.day)
    except ValueError:  # 02-29 outside a leap year
        return None
    return (day.toordinal() - ordinal) * DAY_S + event.time_of_day_s


def event_begins(profile: Profile, start: dt.date, horizon_s: float) -> list[tuple[float, int]]:
    """``(begin_s, index)`` of every event occurrence beginning inside ``[0, horizon_s)``.

    ``begin_s`` is in seconds from midnight of ``start``, ``index`` the event's place in
    ``profile.events``; sorted by time, then index.
    """
    start = _check_start(start)
    ordinal = start.toordinal()
    year_lo = start.year
    year_hi = dt.date.fromordinal(
        min(dt.date.max.toordinal(), ordinal + math.floor(horizon_s / DAY_S))
    ).year
    found = []
    for year in range(year_lo, year_hi + 1):
        for i, e in enumerate(profile.events):
            begin = _begin_in(e, year, ordinal)
            if begin is not None and 0.0 <= begin < horizon_s:
                found.append((begin, i))
    return sorted(found)


def rate_pieces(
    profile: Profile, start: dt.date, horizon_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """The profile as a piecewise-constant function on ``[0, horizon_s)``.

    Args:
        profile: the rate profile.
        start: the calendar date at simulation time 0 (midnight).
        horizon_s: the horizon in seconds (> 0).

    Returns:
        ``(edges_s, factors)``: ``edges_s`` (seconds, length k+1, strictly increasing, from 0
        to ``horizon_s``) and ``factors`` (dimensionless, length k), ``factors[i]`` being
        ``profile(t)`` on ``[edges_s[i], edges_s[i+1])``. Pieces are the calendar hours,
        split further where events begin or end; nothing is merged.
    """
    start = _check_start(start)
    horizon_s = float(horizon_s)
    if not math.isfinite(horizon_s) or horizon_s <= 0:
        raise ValueError(f"horizon_s must be a positive number of seconds, got {horizon_s!r}")
    n_hours = math.ceil(horizon_s / HOUR_S)
    hour_index = np.arange(n_hours)
    days = np.datetime64(start, "D") + hour_index // 24
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    month = days.astype("datetime64[M]").astype(np.int64) % 12  # January = 0
    hourly = (
        np.asarray(profile.daily)[hour_index % 24]
        * np.asarray(profile.weekly)[weekday]
        * np.asarray(profile.monthly)[month]
    )

    occurrences = _event_occurrences(profile.events, start, 0.0, horizon_s)
    event_cuts = [t for begin, end, _ in occurrences for t in (begin, end)]
    edges = np.unique(np.concatenate([hour_index[1:] * HOUR_S, [0.0, horizon_s], event_cuts]))
    edges = edges[(edges >= 0.0) & (edges <= horizon_s)]
    left = edges[:-1]
    factors = hourly[(left // HOUR_S).astype(np.int64)]
    for begin, end, factor in occurrences:
        lo, hi = np.searchsorted(left, (begin, end), side="left")
        factors[lo:hi] *= factor
    return edges, factors


def profile_at(profile: Profile, start: dt.date, t_s: float) -> float:
    """``profile(t)``, the dimensionless rate multiplier at ``t_s`` seconds after ``start``."""
    start = _check_start(start)
    t_s = float(t_s)
    if not math.isfinite(t_s):
        raise ValueError(f"t_s must be finite, got {t_s!r}")
    day_offset, hour = divmod(math.floor(t_s / HOUR_S), 24)
    day = start + dt.timedelta(days=day_offset)
    value = profile.daily[hour] * profile.weekly[day.weekday()] * profile.monthly[day.month - 1]
    for begin, end, factor in _event_occurrences(
        profile.events, start, t_s, math.nextafter(t_s, math.inf)
    ):
        if begin <= t_s < end:
            value *= factor
    return value


# --------------------------------------------------------------------------------------------
# Sampling


def _check_pieces(base_rate_per_s: float, edges_s: np.ndarray, factors: np.ndarray) -> None:
    if not math.isfinite(base_rate_per_s) or base_rate_per_s < 0:
        raise ValueError(f"base_rate_per_s must be a finite rate >= 0, got {base_rate_per_s!r}")
    if edges_s.ndim != 1 or factors.shape != (edges_s.size - 1,):
        raise ValueError("need len(edges_s) == len(factors) + 1")


def sample_nhpp(
    rng: np.random.Generator,
    base_rate_per_s: float,
    edges_s: np.ndarray,
    factors: np.ndarray,
) -> np.ndarray:
    """Exact NHPP arrival times on ``[edges_s[0], edges_s[-1])``, sorted ascending (seconds).

    The rate is ``base_rate_per_s * factors[i]`` (per second) on ``[edges_s[i], edges_s[i+1])``.
    Per-piece counts are Poisson with mean ``rate_i * len_i`` and, given the counts, positions
    are independent uniforms within each piece. Deterministic for a given generator state.
    """
    edges_s = np.asarray(edges_s, dtype=np.float64)
    factors = np.asarray(factors, dtype=np.float64)
    _check_pieces(base_rate_per_s, edges_s, factors)
    lengths = np.diff(edges_s)
    counts = rng.poisson(base_rate_per_s * factors * lengths)
    total = int(counts.sum())
    left = np.repeat(edges_s[:-1], counts)
    times = left + rng.random(total) * np.repeat(lengths, counts)
    # rounding must not push a point onto the right edge of its piece
    np.minimum(times, np.nextafter(np.repeat(edges_s[1:], counts), -np.inf), out=times)
    times.sort()
    return times


def expected_count(
    base_rate_per_s: float,
    edges_s: np.ndarray,
    factors: np.ndarray,
    t0_s: float,
    t1_s: float,
) -> float:
    """The expected number of arrivals in ``[t0_s, t1_s)``: the rate integral (dimensionless).

    The rate is zero outside ``[edges_s[0], edges_s[-1])``.
    """
    edges_s = np.asarray(edges_s, dtype=np.float64)
    factors = np.asarray(factors, dtype=np.float64)
    _check_pieces(base_rate_per_s, edges_s, factors)
    if t1_s < t0_s:
        raise ValueError(f"need t0_s <= t1_s, got [{t0_s!r}, {t1_s!r})")
    overlap = np.minimum(edges_s[1:], t1_s) - np.maximum(edges_s[:-1], t0_s)
    return float(base_rate_per_s * np.sum(factors * np.clip(overlap, 0.0, None)))


def sample_nhpp_blocks(
    rng: np.random.Generator,
    base_rate_per_s: float,
    edges_s: np.ndarray,
    factors: np.ndarray,
    max_expected: float = 32768.0,
) -> Iterator[np.ndarray]:
    """The NHPP of :func:`sample_nhpp`, yielded in time-ordered blocks of bounded size.

    Consecutive pieces are grouped while their expected count stays within ``max_expected``;
    a single piece expecting more is cut into equal sub-pieces. The blocking depends only on the
    rates, so a stream is reproducible, and memory stays bounded (about ``max_expected`` arrival
    times at once) however busy the partner is.
    """
    edges_s = np.asarray(edges_s, dtype=np.float64)
    factors = np.asarray(factors, dtype=np.float64)
    _check_pieces(base_rate_per_s, edges_s, factors)
    expected = base_rate_per_s * factors * np.diff(edges_s)
    i, n = 0, factors.size
    while i < n:
        if expected[i] > max_expected:
            parts = math.ceil(expected[i] / max_expected)
            # the edges of np.linspace(a, b, parts + 1), made one sub-piece at a time (k * step
            # + a, the last one b) so that no piece, however busy, needs an array of them
            a, b = float(edges_s[i]), float(edges_s[i + 1])
            step = (b - a) / parts
            for k in range(parts):
                right = b if k == parts - 1 else (k + 1) * step + a
                sub = np.array([k * step + a, right])
                yield sample_nhpp(rng, base_rate_per_s, sub, factors[i : i + 1])
            i += 1
            continue
        j, total = i, 0.0
        while j < n and total + expected[j] <= max_expected:
            total += expected[j]
            j += 1
        yield sample_nhpp(rng, base_rate_per_s, edges_s[i : j + 1], factors[i:j])
        i = j
