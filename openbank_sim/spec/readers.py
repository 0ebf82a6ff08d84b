"""Small typed readers of TOML values: each checks one key and raises a ScenarioError naming
the dotted key path, the value and the reason."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, overload

from ..errors import ScenarioError, did_you_mean
from .bounds import DURATION, MAX_INT_DIGITS, MAX_NESTING, VALUE, Bound
from .distributions import Distribution, parse_distribution
from .toml_text import check_depth, nesting_depth
from .types import NAME_RE, NOT_YET
from .units import is_number, parse_duration

# --------------------------------------------------------------------------------------------
# Small typed readers
# --------------------------------------------------------------------------------------------


def join_path(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


def check_keys(
    table: Mapping[str, Any], allowed: tuple[str, ...], path: str, later: tuple[str, ...] = ()
) -> None:
    """Refuse keys that are not in ``allowed`` (``later``: known but not supported yet)."""
    for key in table:
        if key in later:
            raise ScenarioError(f"{key!r} {NOT_YET}", path=join_path(path, key))
        if key not in allowed:
            raise ScenarioError(
                "unknown key" + did_you_mean(key, allowed), path=join_path(path, key)
            )


def table_at(parent: Mapping[str, Any], key: str, path: str, required: bool = False) -> dict:
    """The sub-table ``parent[key]`` ({} when absent and not required)."""
    if key not in parent:
        if required:
            raise ScenarioError("is required", path=join_path(path, key))
        return {}
    value = parent[key]
    if not isinstance(value, dict):
        raise ScenarioError("must be a table", path=join_path(path, key), value=value)
    return value


def number(
    table: Mapping[str, Any],
    key: str,
    path: str,
    default: float | None = None,
    *,
    minimum: float | None = None,
    positive: bool = False,
    maximum: Bound = VALUE,
) -> float:
    """A finite number (int or float) of at most ``maximum``."""
    p = join_path(path, key)
    if key not in table:
        if default is None:
            raise ScenarioError("is required", path=p)
        return default
    value = table[key]
    if not is_number(value) or (isinstance(value, float) and not math.isfinite(value)):
        raise ScenarioError("must be a number", path=p, value=value)
    # compared as written: an int of hundreds of digits compares exactly, no float overflow
    if positive and value <= 0:
        raise ScenarioError("must be > 0", path=p, value=value)
    if minimum is not None and value < minimum:
        raise ScenarioError(f"must be >= {minimum:g}", path=p, value=value)
    if value > maximum.maximum:
        raise ScenarioError(maximum.refusal(), path=p, value=value)
    if value < -maximum.maximum:
        raise ScenarioError(f"must be at least -{maximum.text()}", path=p, value=value)
    return float(value)


def share(table: Mapping[str, Any], key: str, path: str, default: float | None = None) -> float:
    """A share in [0, 1]."""
    value = number(table, key, path, default)
    if not 0.0 <= value <= 1.0:
        raise ScenarioError(
            "must be a share in [0, 1]", path=join_path(path, key), value=table[key]
        )
    return value


def count(
    table: Mapping[str, Any],
    key: str,
    path: str,
    default: int | None = None,
    *,
    minimum: int = 1,
    maximum: Bound,
) -> int:
    """An integer count (positive unless ``minimum`` says otherwise) of at most ``maximum``."""
    p = join_path(path, key)
    if key not in table:
        if default is None:
            raise ScenarioError("is required", path=p)
        return default
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError("must be an integer", path=p, value=value)
    if value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ScenarioError(f"must be {what}", path=p, value=value)
    if value > maximum.maximum:
        raise ScenarioError(maximum.refusal(), path=p, value=value)
    return value


def text(
    table: Mapping[str, Any],
    key: str,
    path: str,
    default: str | None = None,
    choices: tuple[str, ...] | None = None,
) -> str:
    """A string, optionally one of ``choices``."""
    p = join_path(path, key)
    if key not in table:
        if default is None:
            raise ScenarioError("is required", path=p)
        return default
    value = table[key]
    if not isinstance(value, str):
        raise ScenarioError("must be a string", path=p, value=value)
    if choices is not None and value not in choices:
        raise ScenarioError(
            f"must be one of {', '.join(choices)}" + did_you_mean(value, choices),
            path=p,
            value=value,
        )
    return value


def boolean(table: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
    """A TOML boolean."""
    if key not in table:
        return default
    value = table[key]
    if not isinstance(value, bool):
        raise ScenarioError("must be true or false", path=join_path(path, key), value=value)
    return value


def duration(
    table: Mapping[str, Any],
    key: str,
    path: str,
    default: str | None = None,
    *,
    allow_none: bool = False,
    maximum: Bound = DURATION,
) -> float:
    """A duration string in seconds (``"none"`` = inf where allowed), at most ``maximum``."""
    p = join_path(path, key)
    if key not in table:
        if default is None:
            raise ScenarioError("is required", path=p)
        return parse_duration(default, allow_none=allow_none)
    try:
        seconds = parse_duration(table[key], allow_none=allow_none)
    except ScenarioError as err:
        raise err.within(p) from None
    if math.isfinite(seconds) and seconds > maximum.maximum:
        raise ScenarioError(maximum.refusal(), path=p, value=table[key])
    return seconds


@overload
def distribution(
    table: Mapping[str, Any], key: str, path: str, *, time_valued: bool, required: Literal[True]
) -> Distribution: ...


@overload
def distribution(
    table: Mapping[str, Any], key: str, path: str, *, time_valued: bool, required: bool = False
) -> Distribution | None: ...


def distribution(
    table: Mapping[str, Any], key: str, path: str, *, time_valued: bool, required: bool = False
) -> Distribution | None:
    """A distribution inline table, or None when absent."""
    p = join_path(path, key)
    if key not in table:
        if required:
            raise ScenarioError("is required", path=p)
        return None
    try:
        return parse_distribution(table[key], time_valued=time_valued)
    except ScenarioError as err:
        raise err.within(p) from None


def entry_name(name: object, path: str, what: str) -> str:
    """A pool/product/journey/partner name matching ``[A-Za-z0-9_-]+``."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ScenarioError(
            f"{what} names may contain only letters, digits, '_' and '-'", path=path, value=name
        )
    return name


def named_tables(
    parent: Mapping[str, Any], key: str, path: str, what: str, required: bool
) -> dict[str, dict]:
    """A table of named sub-tables such as ``[bank.pools.NAME]``."""
    tables = table_at(parent, key, path)
    p = join_path(path, key)
    if required and not tables:
        raise ScenarioError(f"at least one {what} is required", path=p)
    for name, sub in tables.items():
        entry_name(name, join_path(p, name), what)
        if not isinstance(sub, dict):
            raise ScenarioError("must be a table", path=join_path(p, name), value=sub)
    return tables


def array_of_tables(parent: Mapping[str, Any], key: str, path: str) -> list[dict]:
    """An array of tables such as ``[[partners]]`` ([] when absent)."""
    p = join_path(path, key)
    if key not in parent:
        return []
    value = parent[key]
    if not isinstance(value, list):
        raise ScenarioError("must be an array of tables", path=p, value=value)
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ScenarioError("must be a table", path=join_path(p, i), value=item)
    return value


def frozen_mapping(d: dict) -> Mapping:
    return MappingProxyType(dict(d))


def parse_override_value(text: str) -> Any:
    """A ``--set`` value: a TOML literal (``64``, ``0.5``, ``true``, ``[1, 2]``,
    ``{dist = "constant", value = "5ms"}``); a bare word is a string (``2d``, ``api``).

    Raises:
        ScenarioError: (without a path) for a value with a line break, one that nests deeper
            than a scenario may, or an integer literal too long to convert.
    """
    if "\n" in text or "\r" in text:
        raise ScenarioError("a value cannot contain a line break", value=text)
    nesting = nesting_depth(text)
    if max(nesting.depth, nesting.key_parts) > MAX_NESTING:
        raise ScenarioError(
            f"nests tables, arrays or dotted keys deeper than a scenario may ({MAX_NESTING})",
            value=text,
        )
    try:
        parsed = tomllib.loads(f"v = {text}")
    except tomllib.TOMLDecodeError:
        return text
    except ValueError:  # Python's int-string conversion limit
        raise ScenarioError(
            f"has an integer literal of more than {MAX_INT_DIGITS:,} digits", value=text
        ) from None
    check_depth(parsed)
    return parsed["v"] if list(parsed) == ["v"] else text
