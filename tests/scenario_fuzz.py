"""Mutated shipped scenarios, written back as TOML, and what loading them does.

The fuzz tests (``tests/unit/spec/test_fuzz.py``, ``tests/integration/test_fuzz_runs.py``) and
the larger campaign (``benchmarks/fuzz_scenarios.py``) share this module. Import it as
``from scenario_fuzz import ...`` (``tests/`` is on ``sys.path`` through ``tests/conftest.py``).

* :func:`dumps` is a small TOML writer: every table inline (``bank = { pools = { ... } }``), so
  any parsed scenario, dates and times included, round-trips through ``tomllib``; a
  :class:`Raw` value is written verbatim (an integer literal of 5,000 digits, ``1e400``).
* :func:`mutants` is a hypothesis strategy of :class:`Mutant`: a shipped scenario (extends
  resolved) with one to a few mutations: a key deleted, a value of another type, a number
  pushed to an extreme (0, -1, 2^63, 10^100, 1e308, nan, inf, 5e-324, integer literals of
  thousands of digits), a string replaced by a garbage duration, a value nested deeply, an
  unknown key added, an array entry repeated, a dotted key of many parts.
* :func:`classify` loads a mutant's text with :func:`openbank_sim.load_scenario` and runs the
  feasibility check (:func:`openbank_sim.spec.feasibility.check`) on what loads: the outcome
  is ``"accepted"``, ``"refused"`` (a :class:`~openbank_sim.errors.ScenarioError`) or
  ``"other"`` (anything else: a bug), with the seconds it took. :func:`run_outcome` runs an
  accepted one, cut down to a day and a few thousand users (:func:`short_run`).
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import math
import re
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from openbank_sim import Scenario, ScenarioError, load_scenario, simulate
from openbank_sim.spec.feasibility import Limits, check
from openbank_sim.spec.scenario import shipped_scenarios

__all__ = [
    "OPERATIONS",
    "Mutant",
    "Outcome",
    "Raw",
    "base_table",
    "classify",
    "dumps",
    "mutants",
    "run_outcome",
    "shipped_names",
    "short_run",
]


# --------------------------------------------------------------------------------------------
# A small TOML writer


@dataclass(frozen=True)
class Raw:
    """A value written into the TOML text as it is (``text`` must be a TOML value)."""

    text: str


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f"}
_ESCAPES["\r"] = "\\r"


def _string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _value(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_key(str(k))} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def dumps(table: dict[str, Any], extra_lines: tuple[str, ...] = ()) -> str:
    """``table`` as TOML text, one top-level key a line, every table inline; ``extra_lines``
    (raw TOML lines) follow."""
    lines = [f"{_key(str(k))} = {_value(v)}" for k, v in table.items()]
    return "\n".join([*lines, *extra_lines]) + "\n"


# --------------------------------------------------------------------------------------------
# The shipped scenarios as tables


def shipped_names() -> list[str]:
    """The shipped scenarios' names, sorted."""
    return sorted(shipped_scenarios())


@functools.cache
def _base(name: str) -> dict[str, Any]:
    return load_scenario(name).as_dict()


def base_table(name: str) -> dict[str, Any]:
    """A fresh copy of shipped scenario ``name`` as a table, its ``extends`` resolved."""
    return copy.deepcopy(_base(name))


# --------------------------------------------------------------------------------------------
# Mutations

Path_ = tuple[str | int, ...]


def _paths(node: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every key path below ``node`` (tables and arrays included), depth first."""
    out: list[Path_] = []
    items: list[tuple[str | int, Any]]
    if isinstance(node, dict):
        items = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    else:
        return out
    for k, v in items:
        out.append((*prefix, k))
        out.extend(_paths(v, (*prefix, k)))
    return out


def _get(tree: Any, path: Path_) -> Any:
    for k in path:
        tree = tree[k]
    return tree


def _set(tree: Any, path: Path_, value: Any) -> None:
    _get(tree, path[:-1])[path[-1]] = value


def _delete(tree: Any, path: Path_) -> None:
    parent = _get(tree, path[:-1])
    if isinstance(parent, list):
        parent.pop(int(path[-1]))
    else:
        del parent[path[-1]]


def _huge_int(digits: int, sign: str = "") -> Raw:
    return Raw(sign + "9" * digits)


EXTREME_NUMBERS: tuple[Any, ...] = (
    0,
    -1,
    1,
    2**31,
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    10**19,
    10**100,
    0.0,
    -0.0,
    -1.0,
    1e-300,
    5e-324,
    1e308,
    -1e308,
    1.7976931348623157e308,
    math.nan,
    math.inf,
    -math.inf,
    Raw("1e400"),
    Raw("-1e400"),
    Raw("1e-400"),
    Raw("-nan"),
    _huge_int(20),
    _huge_int(400),
    _huge_int(4300),
    _huge_int(4301),
    _huge_int(5000, "-"),
)
"""Numbers at the edges: zero and signs, 64-bit limits, float overflow and underflow, nan and
inf (TOML has them), integer literals up to and past Python's 4,300-digit conversion limit."""

GARBAGE_DURATIONS: tuple[str, ...] = (
    "",
    " ",
    "5",
    "s",
    "5 parsecs",
    "-5s",
    "+5s",
    "5 s",
    "5S",
    "1e400s",
    "1e308y",
    "1e-400s",
    "nan ms",
    "infd",
    "1.5.5s",
    "5s5s",
    "1_000s",
    "0x10s",
    "\u0663s",  # an Arabic-Indic digit three
    "\uff15s",  # a full-width digit five
    "99999999999999999999999999y",
    "9" * 400 + "ms",
    "5s\x00",
    "\u202e5s",
    "none",
    "NONE",
    "2026-13-45",
    "11-11T25:99",
    "T",
)
"""Strings where a duration, a date or a name is expected: units missing or wrong, numbers a
float cannot hold, digits of other scripts, control characters."""

_DURATION_TOKENS = (
    "0",
    "1",
    "9",
    "12",
    "00",
    ".",
    ".5",
    "\u0663",
    "\uff15",
    "e",
    "e400",
    "-",
    "+",
    "_",
    " ",
    ":",
    "T",
    "ms",
    "s",
    "m",
    "min",
    "mo",
    "h",
    "d",
    "w",
    "y",
    "none",
    "\x00",
)
"""Pieces of durations, dates and calendar times, joined at random (``"1.\u0663s"``,
``"12-00T9:5"``)."""

EDGE_DURATIONS: tuple[str, ...] = (
    "0s",
    "0ms",
    "0.0s",
    "0.000001ms",
    "1e-9s",
    "1ms",
    "1s",
    "59s",
    "1h",
    "1d",
    "7d",
    "1mo",
    "1y",
    "99y",
    "100y",
    "100y1ms",
    "292y",
    "36525d",
    "5000w",
)
"""Valid durations at the edges: zero, the smallest, up to and past the 100-year bound."""

SCALE_FACTORS: tuple[float, ...] = (0.0, 1e-12, 1e-6, 1e-3, 0.5, 2.0, 10.0, 1e3, 1e6, 1e12)
"""Factors a number is multiplied by (an integer stays an integer)."""

_DIGITS = "0123456789\u0663\u0669\uff15\u096b"  # ASCII, Arabic-Indic, full-width, Devanagari
_UNITS = ("ms", "s", "m", "min", "mo", "h", "d", "w", "y", "S", "us", "")


@st.composite
def _duration_like(draw: Any) -> str:
    """One to three components ``[-]DIGITS[.DIGITS][ ]UNIT``, digits of several scripts."""
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        number = draw(st.text(_DIGITS, min_size=1, max_size=4))
        if draw(st.booleans()):
            number += "." + draw(st.text(_DIGITS, min_size=1, max_size=4))
        space = draw(st.sampled_from(["", " "]))
        parts.append(number + space + draw(st.sampled_from(_UNITS)))
    sign = draw(st.sampled_from(["", "", "-", "+"]))
    return sign + draw(st.sampled_from(["", " "])).join(parts)


_LOOKS_LIKE_DURATION = re.compile(r"[0-9.]+\s*(ms|min|mo|m|s|h|d|w|y)")


def _any_value() -> st.SearchStrategy[Any]:
    """A value of any TOML type."""
    scalars = st.one_of(
        st.booleans(),
        st.integers(-10, 10),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=8),
        st.dates(),
        st.datetimes(),
        st.times(),
    )
    return st.one_of(
        scalars,
        st.lists(scalars, max_size=3),
        st.dictionaries(st.text(min_size=1, max_size=6), scalars, max_size=3),
    )


def _nested(depth: int, kind: str) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value] if kind == "array" else {"a": value}
    return value


OPERATIONS = (
    "delete",
    "scale",
    "duration",
    "retype",
    "extreme",
    "garbage",
    "nest",
    "unknown_key",
    "repeat_entry",
    "many_entries",
    "dotted_key",
)
"""Every kind of mutation :func:`mutants` makes."""


@dataclass
class Mutant:
    """A shipped scenario with mutations made.

    Attributes:
        name: the shipped scenario it started from.
        table: the mutated table (``extends`` resolved).
        extra_lines: raw TOML lines written after the table.
        changes: what was done, one line each (``"extreme partners.0.users = 0"``).
    """

    name: str
    table: dict[str, Any]
    extra_lines: tuple[str, ...] = ()
    changes: list[str] = field(default_factory=list)

    def text(self) -> str:
        """The mutant as TOML."""
        return dumps(self.table, self.extra_lines)


def _dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path)


def _short(value: Any) -> str:
    text = _value(value) if not isinstance(value, Raw) else value.text
    return text if len(text) <= 40 else f"{text[:37]}..."


def _mutate(
    draw: Callable[[st.SearchStrategy[Any]], Any], m: Mutant, operations: tuple[str, ...]
) -> None:
    """One mutation of ``m`` (one of ``operations``), in place."""
    tree = m.table
    op = draw(st.sampled_from(operations))
    paths = _paths(tree)
    if op == "dotted_key":
        parts = draw(st.integers(2, 40))
        head = draw(st.sampled_from(["run", "bank", "x", "partners"]))
        line = ".".join([head, *(f"k{i}" for i in range(parts - 1))]) + " = 1"
        m.extra_lines = (*m.extra_lines, line)
        m.changes.append(f"dotted_key of {parts} parts under {head}")
        return
    if not paths:
        tree["run"] = draw(_any_value())
        m.changes.append("retype run (the table was empty)")
        return
    if op == "extreme":
        numeric = [p for p in paths if isinstance(_get(tree, p), int | float)]
        path = draw(st.sampled_from(numeric or paths))
        value = draw(st.sampled_from(EXTREME_NUMBERS))
        _set(tree, path, value)
    elif op == "scale":
        numeric = [
            p
            for p in paths
            if isinstance(_get(tree, p), int | float) and not isinstance(_get(tree, p), bool)
        ]
        path = draw(st.sampled_from(numeric or paths))
        old, factor = _get(tree, path), draw(st.sampled_from(SCALE_FACTORS))
        if isinstance(old, int | float) and not isinstance(old, bool):
            value = old * factor if isinstance(old, float) else round(old * factor)
            _set(tree, path, value)
    elif op in ("garbage", "duration"):
        strings = [p for p in paths if isinstance(_get(tree, p), str)]
        durations = [p for p in strings if _LOOKS_LIKE_DURATION.fullmatch(_get(tree, p))]
        path = draw(st.sampled_from(durations or strings or paths))
        if op == "duration":
            value = draw(st.sampled_from(EDGE_DURATIONS))
        else:
            value = draw(
                st.one_of(
                    st.sampled_from(GARBAGE_DURATIONS),
                    _duration_like(),
                    st.lists(st.sampled_from(_DURATION_TOKENS), min_size=1, max_size=6).map(
                        "".join
                    ),
                    st.text(max_size=12),
                )
            )
        _set(tree, path, value)
    elif op in ("repeat_entry", "many_entries"):
        arrays = [p for p in paths if isinstance(_get(tree, p), list) and _get(tree, p)]
        if not arrays:
            op = "delete"
        else:
            path = draw(st.sampled_from(arrays))
            array = _get(tree, path)
            entry = array[draw(st.integers(0, len(array) - 1))]
            times = 1 if op == "repeat_entry" else draw(st.sampled_from([100, 2_000]))
            array.extend(copy.deepcopy(entry) for _ in range(times))
            m.changes.append(f"{op} {_dotted(path)} (+{times})")
            return
    else:
        path = draw(st.sampled_from(paths))
    if op == "delete":
        _delete(tree, path)
        m.changes.append(f"delete {_dotted(path)}")
        return
    if op == "retype":
        value = draw(_any_value())
        _set(tree, path, value)
    elif op == "nest":
        value = _nested(draw(st.integers(2, 40)), draw(st.sampled_from(["array", "table"])))
        _set(tree, path, value)
    elif op == "unknown_key":
        holder = _get(tree, path)
        if not isinstance(holder, dict):
            path = path[:-1]
            holder = _get(tree, path)
        if not isinstance(holder, dict):  # an array element's index: add at the top
            path, holder = (), tree
        key = draw(st.text(min_size=1, max_size=10))
        value = draw(_any_value())
        holder[key] = value
        m.changes.append(f"unknown_key {_dotted((*path, key))} = {_short(value)}")
        return
    m.changes.append(f"{op} {_dotted(path)} = {_short(_get(tree, path))}")


@st.composite
def mutants(
    draw: Any,
    names: tuple[str, ...] | None = None,
    most: int = 3,
    operations: tuple[str, ...] = OPERATIONS,
) -> Mutant:
    """A shipped scenario (one of ``names``, default all) with 1 to ``most`` mutations, each
    one of ``operations``."""
    name = draw(st.sampled_from(names or tuple(shipped_names())))
    m = Mutant(name, base_table(name))
    for _ in range(draw(st.integers(1, most))):
        _mutate(draw, m, operations)
    return m


# --------------------------------------------------------------------------------------------
# Loading a mutant


@dataclass
class Outcome:
    """What loading a scenario text did.

    Attributes:
        kind: ``"accepted"`` (loaded and feasible), ``"refused"`` (a ScenarioError) or
            ``"other"`` (any other exception: a bug).
        seconds: wall-clock seconds of loading and the feasibility check.
        error: the ScenarioError (refused) or the exception (other); None when accepted.
        detail: the traceback of an ``"other"`` exception.
    """

    kind: str
    seconds: float
    error: BaseException | None = None
    detail: str = ""


def classify(text: str, path: Path) -> Outcome:
    """Write ``text`` to ``path``, load it and check its feasibility; never raises (except
    KeyboardInterrupt and the like)."""
    path.write_text(text, encoding="utf-8")
    t0 = time.perf_counter()
    try:
        scenario = load_scenario(path)
        check(scenario.spec, file=str(path), raw=scenario.as_dict())
    except ScenarioError as err:
        return Outcome("refused", time.perf_counter() - t0, err)
    except Exception as err:
        return Outcome("other", time.perf_counter() - t0, err, traceback.format_exc())
    return Outcome("accepted", time.perf_counter() - t0)


# --------------------------------------------------------------------------------------------
# Running an accepted mutant

RUN_OVERRIDES: dict[str, Any] = {"run.horizon": "1d", "run.warmup": "0s", "run.traffic": "full"}
"""What a short run of an accepted mutant changes: a day of full traffic (every hour of the
daily profile), no warm-up."""
RUN_USERS = 5_000
"""Most users of a partner in a short run."""
RUN_LIMITS = Limits(attempts=50_000, run_time_s=3.0, memory_bytes=1e9)
"""The feasibility limits a short run must meet (others are skipped, as refused)."""


def short_run(scenario: Scenario) -> Scenario:
    """``scenario`` cut down to a short run: :data:`RUN_OVERRIDES`, at most :data:`RUN_USERS`
    users a partner, checked against :data:`RUN_LIMITS` (raises ScenarioError when any of it
    is refused)."""
    overrides = dict(RUN_OVERRIDES)
    for i, partner in enumerate(scenario.as_dict().get("partners", [])):
        users = partner.get("users")
        if isinstance(users, int) and users > RUN_USERS:
            overrides[f"partners.{i}.users"] = RUN_USERS
    short = scenario.with_overrides(overrides)
    check(short.spec, RUN_LIMITS, file=short.source, raw=short.as_dict())
    return short


def run_outcome(path: Path, seed: int = 1) -> Outcome:
    """Load the accepted scenario file ``path``, cut it down with :func:`short_run` and run it:
    ``"accepted"`` when the run finished, ``"refused"`` for a ScenarioError (of the cut or of
    the run), ``"other"`` for anything else."""
    t0 = time.perf_counter()
    try:
        simulate(short_run(load_scenario(path)), seed=seed, allow_long=True)
    except ScenarioError as err:
        return Outcome("refused", time.perf_counter() - t0, err)
    except Exception as err:
        return Outcome("other", time.perf_counter() - t0, err, traceback.format_exc())
    return Outcome("accepted", time.perf_counter() - t0)
