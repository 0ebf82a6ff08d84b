"""The bounds of the format (``openbank_sim.spec.bounds``), the defensive TOML reader
(``openbank_sim.spec.toml_text``) and ``--set`` values: every limit is stated in
docs/scenario-format.md and loose enough for every shipped scenario; text that would make the
parser recurse, or take quadratic time, is refused before it is parsed."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from minimal_scenario import MINIMAL_TOML

from openbank_sim import Scenario, ScenarioError, load_scenario
from openbank_sim.spec import bounds
from openbank_sim.spec.readers import parse_override_value
from openbank_sim.spec.scenario import shipped_scenarios
from openbank_sim.spec.toml_text import check_depth, loads, nesting_depth

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "scenario-format.md").read_text(encoding="utf-8")
BOUNDS_SECTION = DOC[DOC.index("Bounds (`openbank_sim/spec/bounds.py`)") :]


@pytest.mark.parametrize("key", sorted(bounds.BOUNDS))
def test_every_bound_is_stated_in_the_format(key: str) -> None:
    """The row of the key gives the limit as the error writes it, and the reason."""
    bound = bounds.BOUNDS[key]
    rows = [line for line in BOUNDS_SECTION.splitlines() if f"`{key}`" in line or key in line]
    assert rows, f"{key} has no row in the Bounds table"
    assert any(bound.text() in row for row in rows), (key, bound.text())
    assert any(bound.reason.split(";")[0] in row for row in rows), (key, bound.reason)


@pytest.mark.parametrize(
    ("bound", "text"),
    [
        (bounds.SERVERS, "100,000"),
        (bounds.USERS, "10,000,000,000"),
        (bounds.RATE_PER_S, "1,000,000,000"),
        (bounds.MONEY, "10^15"),
        (bounds.DURATION, "100y"),
        (bounds.GROWTH_PER_YEAR, "10"),
        (bounds.SEED, "9,223,372,036,854,775,807"),
    ],
)
def test_bound_text(bound: bounds.Bound, text: str) -> None:
    assert bound.text() == text
    assert bound.refusal().startswith(f"must be at most {text} (")


@pytest.mark.parametrize("name", sorted(shipped_scenarios()))
def test_shipped_scenarios_are_inside_every_bound(name: str) -> None:
    load_scenario(name)


def test_finite_float() -> None:
    assert bounds.finite_float(3) == 3.0
    assert bounds.finite_float(10**400) is None
    assert bounds.finite_float(float("inf")) is None
    assert bounds.finite_float(float("nan")) is None
    assert bounds.finite_float(True) is None
    assert bounds.finite_float("1") is None


# --------------------------------------------------------------------------------------------
# Nesting measured on the text


@pytest.mark.parametrize(
    ("text", "depth", "parts"),
    [
        ("a = 1\n", 0, 1),
        ("[a.b]\nc = [1, [2, [3]]]\n", 3, 2),
        ('x = "[[[[[[[[[[[[[[[[[[[[ a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r"\n', 0, 1),
        ("x = '[[[[[[[[[[[[[[[[[[[['\n", 0, 1),
        ('x = """\n[[[[[[[[[[[[[[[[[[[[\n"""\ny = [[1]]\n', 2, 1),
        ("x = '''\n{{{{{{{{{{{{{{{{{{{{\n'''\n", 0, 1),
        ('x = "escaped \\" [[[[[[[[[[[[[[[[[[[[["\n', 0, 1),
        ("# [[[[[[[[[[[[[[[[[[[[[[ a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q\nx = 1\n", 0, 1),
        ('"a.b".c.d = 1.5\n', 0, 3),
        ("t = { a.b.c = 1, d = 2.5 }\n", 1, 3),
        ("x = [1.5, 2.5, 3.5]\n", 1, 2),
        ("d = 2026-01-05T10:00:00.999\n", 0, 2),
    ],
)
def test_nesting_depth(text: str, depth: int, parts: int) -> None:
    got = nesting_depth(text)
    assert (got.depth, got.key_parts) == (depth, parts)


def test_nesting_depth_names_the_line() -> None:
    text = "a = 1\nb = 2\nc = " + "[" * 20 + "]" * 20 + "\nd = 1\n"
    got = nesting_depth(text)
    assert (got.depth, got.depth_line) == (20, 3)


def test_the_shipped_scenarios_nest_shallowly() -> None:
    for path in shipped_scenarios().values():
        got = nesting_depth(path.read_text(encoding="utf-8"))
        assert got.depth <= 3 and got.key_parts <= 3, path.name


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("x = " + "[" * 100_000 + "]" * 100_000 + "\n", "100000 deep"),
        ("x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n", "3000 deep"),
        (".".join(["k"] * 200_000) + " = 1\n", "dotted key of 200000 parts"),
        ("x = " + "1" * 10_000 + "\n", "4,300 digits"),
    ],
    ids=["arrays", "inline-tables", "dotted-key", "long-integer"],
)
def test_loads_refuses_quickly(text: str, words: str) -> None:
    """Well under a second, even for a text the parser would recurse on or crawl through."""
    t0 = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        loads(text, file="f.toml")
    assert time.perf_counter() - t0 < 1.0
    assert words in str(info.value)
    assert str(info.value).startswith("f.toml: ")


def test_check_depth_refuses_a_deep_table_built_in_python() -> None:
    """A scenario built from a dict is measured before it is deep-copied (no RecursionError)."""
    raw: dict = {}
    node = raw
    for _ in range(10_000):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(ScenarioError) as info:
        check_depth(raw)
    assert info.value.path == ".".join(["a"] * 17)
    with pytest.raises(ScenarioError):
        Scenario(raw)


def test_a_huge_integer_from_python_gives_a_short_message() -> None:
    """An int beyond Python's int-string limit cannot be repr'd; the message still renders."""
    import tomllib

    raw = tomllib.loads(MINIMAL_TOML)
    raw["partners"][0]["users"] = 10**5000
    with pytest.raises(ScenarioError) as info:
        Scenario(raw)
    assert "an integer of more than 4,300 digits" in str(info.value)
    assert "at most 10,000,000,000" in info.value.reason


def test_a_file_of_deep_nesting_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 50 + "]" * 50 + "\n" + MINIMAL_TOML, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert re.search(
        r"deep\.toml: not valid here: line 1 nests tables or arrays 50 deep", str(info.value)
    )


def test_an_override_path_of_many_parts_is_refused() -> None:
    s = Scenario(__import__("tomllib").loads(MINIMAL_TOML))
    with pytest.raises(ScenarioError) as info:
        s.with_overrides({".".join(["client"] * 5000): 1})
    assert "5000 parts" in info.value.reason


# --------------------------------------------------------------------------------------------
# --set values


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("1h\nrm -rf /", "line break"),
        ("a\rb", "line break"),
        ("[" * 40 + "]" * 40, "deeper than a scenario may"),
        ("{" + "a." * 40 + "b = 1}", "deeper than a scenario may"),
        ("9" * 5000, "4,300 digits"),
    ],
    ids=["newline", "carriage-return", "deep-array", "deep-dotted-key", "long-integer"],
)
def test_parse_override_value_refuses(text: str, words: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_override_value(text)
    assert words in info.value.reason
    assert "\n" not in str(info.value)
