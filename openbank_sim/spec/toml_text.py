"""TOML text read defensively: one clear :class:`~openbank_sim.errors.ScenarioError` for the
inputs that make Python's ``tomllib`` (or the deep copies made of its result) fail with
something else.

* Values nested deeper than :data:`~openbank_sim.spec.bounds.MAX_NESTING` (``[[[[...]]]]``,
  ``{a = {a = ...}}``) make ``tomllib`` recurse until ``RecursionError``: the brackets of the
  text are counted first, outside strings and comments, and such a text is refused before it
  is parsed.
* Dotted keys (``a.b.c...``) and table headers nest without brackets: the parsed table's depth
  is measured without recursion and refused past the same limit.
* An integer literal of more than 4,300 digits exceeds Python's int-string conversion limit
  (``ValueError`` inside ``tomllib``): the error names the line.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from typing import Any, NamedTuple

from ..errors import ScenarioError
from .bounds import MAX_INT_DIGITS, MAX_NESTING

__all__ = ["Nesting", "check_depth", "loads", "nesting_depth"]

_TOKEN = re.compile(r"\"\"\"|'''|[\"'#\[\]{}\n.=,]")
_LONG_INT = re.compile(rf"\d(?:_?\d){{{MAX_INT_DIGITS},}}")


def _string_end(text: str, start: int, quote: str) -> int:
    """The index just past the string that opens at ``start`` with ``quote`` (``"``, ``'``,
    ``\"\"\"`` or ``'''``); the end of the text when it never closes."""
    escapes = quote[0] == '"'
    multiline = len(quote) == 3
    i = start + len(quote)
    n = len(text)
    while i < n:
        j = text.find(quote, i)
        if j < 0:
            return n
        if not multiline:
            newline = text.find("\n", i, j)
            if newline >= 0:  # a one-line string cannot span lines: stop at the line end
                return newline
        if escapes:
            slashes = 0
            k = j - 1
            while k >= start and text[k] == "\\":
                slashes += 1
                k -= 1
            if slashes % 2:  # an escaped quote
                i = j + 1
                continue
        end = j + len(quote)
        while multiline and end < n and text[end] == quote[0] and end - j < 5:
            end += 1  # up to two quotes may end the content of a multi-line string
        return end
    return n


class Nesting(NamedTuple):
    """How deep a TOML text nests, measured on the text (lines are 1-based)."""

    depth: int  # the deepest nesting of [ and {
    depth_line: int
    key_parts: int  # the most parts of one dotted key (a.b.c has 3)
    key_line: int


def nesting_depth(text: str) -> Nesting:
    """How deep TOML ``text`` nests, outside strings and comments: the deepest nesting of
    ``[`` and ``{``, and the dotted key with the most parts (``tomllib`` takes time quadratic
    in the parts of one key, so a long one is refused before it is parsed)."""
    depth = deepest = 0
    line = depth_line = key_line = 1
    dots = most_dots = 0
    pos = 0
    while True:
        m = _TOKEN.search(text, pos)
        if m is None:
            return Nesting(deepest, depth_line, most_dots + 1, key_line)
        tok = m.group()
        pos = m.end()
        if tok == ".":
            dots += 1
            if dots > most_dots:
                most_dots, key_line = dots, line
            continue
        if tok in ("\n", "=", ",", "[", "{", "]", "}"):
            dots = 0  # a key starts after these (a value has at most one dot)
        if tok == "\n":
            line += 1
        elif tok == "#":
            newline = text.find("\n", pos)
            pos = len(text) if newline < 0 else newline
        elif tok in ("[", "{"):
            depth += 1
            if depth > deepest:
                deepest, depth_line = depth, line
        elif tok in ("]", "}"):
            depth = max(0, depth - 1)
        elif tok not in ("=", ","):  # a string: skip it, counting its lines
            end = _string_end(text, m.start(), tok)
            line += text.count("\n", pos, end)
            pos = end


def check_depth(table: Mapping[str, Any], file: str | None = None) -> None:
    """Refuse a table whose values nest deeper than ``MAX_NESTING`` (measured without
    recursion, so any depth is measured safely)."""
    stack: list[tuple[Any, int, tuple[str, ...]]] = [(table, 0, ())]
    while stack:
        node, depth, path = stack.pop()
        if depth > MAX_NESTING:
            raise ScenarioError(
                f"tables and arrays nest deeper than {MAX_NESTING} levels here (the format "
                "needs at most 5)",
                path=".".join(path[: MAX_NESTING + 1]),
                file=file,
            )
        if isinstance(node, Mapping):
            stack.extend((v, depth + 1, (*path, str(k))) for k, v in node.items())
        elif isinstance(node, list | tuple):
            stack.extend((v, depth + 1, (*path, str(i))) for i, v in enumerate(node))


def loads(text: str, file: str | None = None) -> dict[str, Any]:
    """``tomllib.loads(text)`` with the failures above as one ScenarioError naming ``file``."""
    nesting = nesting_depth(text)
    if nesting.depth > MAX_NESTING:
        raise ScenarioError(
            f"not valid here: line {nesting.depth_line} nests tables or arrays {nesting.depth} "
            f"deep (a scenario nests at most {MAX_NESTING})",
            file=file,
        )
    if nesting.key_parts > MAX_NESTING:
        raise ScenarioError(
            f"not valid here: line {nesting.key_line} has a dotted key of {nesting.key_parts} "
            f"parts (a scenario nests at most {MAX_NESTING})",
            file=file,
        )
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"not valid TOML: {err}", file=file) from None
    except ValueError:  # Python's int-string conversion limit
        m = _LONG_INT.search(text)
        where = f"line {text.count(chr(10), 0, m.start()) + 1} has " if m else "it has "
        raise ScenarioError(
            f"not valid here: {where}an integer literal of more than {MAX_INT_DIGITS:,} digits "
            "(no number of a scenario needs more than a few)",
            file=file,
        ) from None
    except RecursionError:
        raise ScenarioError(
            f"not valid here: tables or arrays nest too deep (a scenario nests at most "
            f"{MAX_NESTING})",
            file=file,
        ) from None
    check_depth(table, file)
    return table
