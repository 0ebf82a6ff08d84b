"""Designs of experiments: the one registry of design names, and the one type of a parameter's
range, validated once.

A design turns ``vary`` (dotted scenario path -> values or range) into parameter points, each a
``{dotted path: value}`` dict, in the design's order:

* ``grid``: ``vary`` maps paths to lists; the Cartesian product, later paths varying fastest;
* ``lhs``, ``sobol`` (``scipy.stats.qmc``): ``n`` points over ``{low, high[, integer]}`` ranges;
* ``saltelli``, ``morris`` (SALib): the samples Sobol indices / Morris elementary effects are
  computed from (``n`` is SALib's base sample size N).

A range's bounds are in the unit of the value at its path (a pool's ``servers`` is a count,
``sessions_per_user_day`` is per user per day, ...). This module imports nothing heavy, so the
command line can offer :data:`DESIGNS` as its ``--design`` choices cheaply; numpy, scipy and
SALib load when a design draws points.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import ScenarioError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["DESIGNS", "Design", "ParameterRange", "salib_problem", "sweep_points"]


class _Words(NamedTuple):
    """How a notation of ranges words its two refusals of bad bounds."""

    numbers: str
    empty: str


_TABLE = _Words("low and high must be numbers", "empty range: low must be below high")
_TEXT = _Words("a range needs numbers LO:HI", "empty range: LO must be below HI")


def _check_bounds(low: Any, high: Any, words: _Words, where: str, value: Any) -> None:
    """Both bounds numbers (not booleans) and ``low < high``, or a ScenarioError at ``where``."""
    for v in (low, high):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ScenarioError(words.numbers, path=where, value=value)
    if not low < high:
        raise ScenarioError(words.empty, path=where, value=value)


@dataclass(frozen=True, slots=True)
class ParameterRange:
    """The range a sampling design draws one parameter from; build it with :meth:`from_spec`
    or :meth:`from_text`, which validate it.

    Attributes:
        path: the dotted scenario path of the parameter (``bank.pools.core.servers``).
        low, high: the bounds, ``low < high``, in the unit of the value at ``path``; kept as
            written (an int stays an int), so a sweep's definition reads as its user wrote it.
        integer: points are rounded to the nearest integer and clipped to ``[low, high]``.
    """

    path: str
    low: float
    high: float
    integer: bool = False

    @classmethod
    def from_spec(cls, path: str, spec: Any) -> ParameterRange:
        """The range a ``sweep.vary`` entry gives as ``{low, high[, integer]}``."""
        where = f"sweep.vary.{path}"
        if not isinstance(spec, Mapping) or "low" not in spec or "high" not in spec:
            raise ScenarioError(
                "a sampling design needs {low, high[, integer]}", path=where, value=spec
            )
        extra = set(spec) - {"low", "high", "integer"}
        if extra:
            raise ScenarioError(
                f"unknown key {sorted(extra)[0]!r} (expected low, high, integer)",
                path=where,
                value=dict(spec),
            )
        _check_bounds(spec["low"], spec["high"], _TABLE, where, dict(spec))
        integer = spec.get("integer", False)
        if not isinstance(integer, bool):
            raise ScenarioError("integer must be true or false", path=where, value=dict(spec))
        return cls(path, spec["low"], spec["high"], integer)

    @classmethod
    def from_text(cls, path: str, text: str) -> ParameterRange:
        """The range ``LO:HI`` of ``--vary PATH=LO:HI``; integer when both bounds are."""
        from ..spec.scenario import parse_override_value

        lo_text, _, hi_text = text.partition(":")
        low, high = parse_override_value(lo_text), parse_override_value(hi_text)
        _check_bounds(low, high, _TEXT, f"--vary {path}", text)
        return cls(path, low, high, isinstance(low, int) and isinstance(high, int))

    def as_spec(self) -> dict[str, Any]:
        """``{low, high, integer}``, the form :meth:`from_spec` reads."""
        return {"low": self.low, "high": self.high, "integer": self.integer}

    def value(self, x: float) -> int | float:
        """A drawn coordinate as this parameter's value: rounded and clipped when integer."""
        lo, hi = float(self.low), float(self.high)
        return int(min(hi, max(lo, round(x)))) if self.integer else float(x)


Design = Callable[[Mapping[str, Any], int, int], list[dict[str, Any]]]
"""A design: ``(vary, n, seed) -> points``, each point a ``{dotted path: value}`` dict."""


def _grid(vary: Mapping[str, Any], n: int, seed: int) -> list[dict[str, Any]]:
    """The Cartesian product of the listed values (a single value is a list of one)."""
    paths = list(vary)
    values = []
    for p in paths:
        v = vary[p]
        v = list(v) if isinstance(v, list | tuple) else [v]
        if not v:
            raise ScenarioError("empty list of values", path=f"sweep.vary.{p}", value=v)
        values.append(v)
    return [dict(zip(paths, combo, strict=True)) for combo in itertools.product(*values)]


def salib_problem(ranges: list[ParameterRange]) -> dict[str, Any]:
    """SALib's problem dict of ``ranges`` (names = paths, bounds as floats)."""
    return {
        "num_vars": len(ranges),
        "names": [r.path for r in ranges],
        "bounds": [[float(r.low), float(r.high)] for r in ranges],
    }


def _scaled_to(ranges: list[ParameterRange], unit: np.ndarray) -> np.ndarray:
    """Points of the unit cube scaled to ``ranges`` (one column per range)."""
    import numpy as np
    from scipy.stats import qmc

    lows = np.array([float(r.low) for r in ranges])
    highs = np.array([float(r.high) for r in ranges])
    return qmc.scale(unit, lows, highs)


def _lhs(ranges: list[ParameterRange], n: int, seed: int) -> np.ndarray:
    from scipy.stats import qmc

    return _scaled_to(ranges, qmc.LatinHypercube(len(ranges), seed=seed).random(n))


def _sobol(ranges: list[ParameterRange], n: int, seed: int) -> np.ndarray:
    from scipy.stats import qmc

    unit = qmc.Sobol(len(ranges), scramble=True, seed=seed).random(n)
    return _scaled_to(ranges, unit)


def _saltelli(ranges: list[ParameterRange], n: int, seed: int) -> np.ndarray:
    from SALib.sample import sobol as salib_sobol

    return salib_sobol.sample(salib_problem(ranges), n, calc_second_order=False, seed=seed)


def _morris(ranges: list[ParameterRange], n: int, seed: int) -> np.ndarray:
    from SALib.sample import morris as salib_morris

    return salib_morris.sample(salib_problem(ranges), n, num_levels=4, seed=seed)


def _sampled(
    sample: Callable[[list[ParameterRange], int, int], np.ndarray],
    vary: Mapping[str, Any],
    n: int,
    seed: int,
) -> list[dict[str, Any]]:
    """The points of a sampling design: ``n`` checked, every range validated, rows drawn by
    ``sample`` turned into values."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ScenarioError("must be an integer >= 1", path="sweep.n", value=n)
    ranges = [ParameterRange.from_spec(p, vary[p]) for p in vary]
    return [
        {r.path: r.value(x) for r, x in zip(ranges, row, strict=True)}
        for row in sample(ranges, n, seed).tolist()
    ]


DESIGNS: Mapping[str, Design] = MappingProxyType(
    {
        "grid": _grid,
        "lhs": partial(_sampled, _lhs),
        "sobol": partial(_sampled, _sobol),
        "saltelli": partial(_sampled, _saltelli),
        "morris": partial(_sampled, _morris),
    }
)
"""Every design by name, in the order the documentation lists them."""


def sweep_points(
    vary: Mapping[str, Any], design: str = "grid", n: int = 16, seed: int = 0
) -> list[dict[str, Any]]:
    """The parameter points of ``design`` (one of :data:`DESIGNS`), each a
    ``{dotted path: value}`` dict.

    ``grid``: ``vary`` maps paths to lists (the Cartesian product, in the order given);
    ``lhs`` and ``sobol`` (``scipy.stats.qmc``): ``n`` points over ``{low, high, integer}``
    ranges; ``saltelli`` and ``morris`` (SALib): samples from which Sobol indices / Morris
    elementary effects can be computed (``n`` is SALib's base sample size N). ``seed`` seeds
    the sampler only (runs take their seeds from the replication).
    """
    points = DESIGNS.get(design) if isinstance(design, str) else None
    if points is None:
        raise ScenarioError(
            f"must be one of {', '.join(DESIGNS)}", path="sweep.design", value=design
        )
    if not vary:
        raise ScenarioError("nothing to vary", path="sweep.vary")
    return points(vary, n, seed)
