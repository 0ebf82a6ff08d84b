"""The configurations ``optimize`` chooses from: a finite lattice of parameter values.

``vary`` maps dotted scenario paths to either a list of values (``KEY=V1,V2,...``; kept in
the order given) or a range ``{low, high[, integer]}`` (``KEY=LO:HI``). An integer range
(``integer = true``, or a key where the schema takes only integers, whatever the bounds look
like) gives every integer from ``low`` to ``high``; a range of real numbers gives ``levels``
equally spaced values, both bounds included. A configuration is one value per path;
configurations are numbered in mixed radix, the last path varying fastest (the order of a
sweep's grid), so the number of a configuration does not depend on which ones were evaluated.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ScenarioError
from ..spec.ranges import ParameterRange
from ..spec.scenario import Scenario, takes_only_integers

__all__ = ["Dimension", "Space", "build_space"]


@dataclass(frozen=True)
class Dimension:
    """One varied parameter: its dotted ``path`` and its ``values`` in order."""

    path: str
    values: tuple[Any, ...]
    numeric: bool

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Space:
    """The lattice of configurations: the product of the dimensions' values."""

    dims: tuple[Dimension, ...]

    @property
    def size(self) -> int:
        """How many configurations there are."""
        return math.prod(len(d) for d in self.dims)

    @property
    def paths(self) -> list[str]:
        """The varied paths, in order."""
        return [d.path for d in self.dims]

    def levels(self, index: int) -> tuple[int, ...]:
        """The position of configuration ``index`` along each dimension."""
        out = []
        for d in reversed(self.dims):
            index, pos = divmod(index, len(d))
            out.append(pos)
        return tuple(reversed(out))

    def index(self, levels: tuple[int, ...]) -> int:
        """The number of the configuration at ``levels``."""
        i = 0
        for d, pos in zip(self.dims, levels, strict=True):
            i = i * len(d) + pos
        return i

    def point(self, index: int) -> dict[str, Any]:
        """Configuration ``index`` as ``{path: value}`` overrides."""
        return {d.path: d.values[pos] for d, pos in zip(self.dims, self.levels(index), strict=True)}

    def neighbours(self, index: int) -> list[int]:
        """The configurations one step away along one dimension (in dimension order)."""
        here = self.levels(index)
        out = []
        for j, d in enumerate(self.dims):
            for step in (-1, 1):
                pos = here[j] + step
                if 0 <= pos < len(d):
                    out.append(self.index((*here[:j], pos, *here[j + 1 :])))
        return out

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.size))


def _dimension(scenario: Scenario, path: str, spec: Any, levels: int) -> Dimension:
    where = f"vary.{path}"
    if isinstance(spec, ParameterRange):
        spec = spec.as_spec()
    if isinstance(spec, list | tuple):
        if not spec:
            raise ScenarioError("empty list of values", path=where, value=list(spec))
        values = tuple(spec)
        if len(set(map(repr, values))) < len(values):
            raise ScenarioError("a value is listed twice", path=where, value=list(spec))
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        return Dimension(path, values, numeric)
    if not isinstance(spec, Mapping):
        raise ScenarioError(
            "needs a list of values or a range {low, high[, integer]}", path=where, value=spec
        )
    rng = ParameterRange.from_spec(path, spec, "optimize")
    if rng.integer or takes_only_integers(scenario.as_dict(), path, float(rng.low)):
        lo, hi = math.ceil(rng.low), math.floor(rng.high)
        if lo > hi:
            raise ScenarioError("no integer in the range", path=where, value=dict(spec))
        return Dimension(path, tuple(range(lo, hi + 1)), True)
    lo, hi = float(rng.low), float(rng.high)
    return Dimension(path, tuple(lo + (hi - lo) * i / (levels - 1) for i in range(levels)), True)


def build_space(scenario: Scenario, vary: Mapping[str, Any], levels: int = 9) -> Space:
    """The lattice of ``vary`` (see the module docstring), each path and value checked
    against ``scenario`` (a bad path or value raises a ScenarioError here, before any run)."""
    if not vary:
        raise ScenarioError("nothing to vary", path="vary")
    if not isinstance(levels, int) or isinstance(levels, bool) or levels < 2:
        raise ScenarioError("must be an integer >= 2", path="levels", value=levels)
    dims = tuple(_dimension(scenario, str(p), vary[p], levels) for p in vary)
    for d in dims:  # one override at a time: every path exists and takes every value
        for v in d.values:
            scenario.with_overrides({d.path: v})
    return Space(dims)
