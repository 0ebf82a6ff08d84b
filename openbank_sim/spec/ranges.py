"""The parameters a design of experiments varies: the one registry of design names and the
one type of a parameter's range, validated once (no numpy here).

Read by the ``[sweep]`` section of a scenario, by ``openbank-sim sweep --vary`` and by
:mod:`openbank_sim.experiments.designs`, which draws the points.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..errors import ScenarioError
from .bounds import DESIGN_POINTS
from .readers import parse_override_value
from .units import is_number

__all__ = ["DESIGN_NAMES", "SAMPLING_DESIGNS", "ParameterRange", "check_design_size", "design_size"]

DESIGN_NAMES = ("grid", "lhs", "sobol", "saltelli", "morris")
"""Every design of experiments, in the order the documentation lists them."""
SAMPLING_DESIGNS = DESIGN_NAMES[1:]
"""The designs that draw points from ranges (``grid`` takes lists of values)."""


class _Words(NamedTuple):
    """How a notation of ranges words its two refusals of bad bounds."""

    numbers: str
    empty: str


_TABLE = _Words("needs numbers with low < high", "empty range: needs low < high")
_TEXT = _Words("a range needs numbers LO:HI", "empty range: LO must be below HI")


def _check_bounds(low: Any, high: Any, words: _Words, where: str, value: Any) -> None:
    """Both bounds numbers (not booleans) and ``low < high``, or a ScenarioError at ``where``."""
    if not (is_number(low) and is_number(high)):
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
    def from_spec(cls, path: str, spec: Any, design: str = "sampling") -> ParameterRange:
        """The range a ``sweep.vary`` entry gives as ``{low, high[, integer]}`` (``design``
        names the design in the error)."""
        where = f"sweep.vary.{path}"
        if not isinstance(spec, Mapping) or "low" not in spec or "high" not in spec:
            raise ScenarioError(
                f"a {design} design needs {{low, high[, integer]}}", path=where, value=spec
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


def design_size(design: str, n: int, vary: Mapping[str, Any]) -> int:
    """How many points ``design`` draws, without drawing them: a grid, the product of its
    lists' lengths; ``lhs`` and ``sobol``, ``n``; ``saltelli`` (first order), ``n (D + 2)``;
    ``morris``, ``n (D + 1)`` for ``D`` varied parameters."""
    d = len(vary)
    if design == "grid":
        size = 1
        for values in vary.values():
            size *= len(values) if isinstance(values, list | tuple) else 1
        return size
    return n * {"saltelli": d + 2, "morris": d + 1}.get(design, 1)


def check_design_size(design: str, n: int, vary: Mapping[str, Any]) -> None:
    """Refuse a design of more than ``DESIGN_POINTS`` points (path ``sweep.vary`` for a grid,
    ``sweep.n`` for a sampling design)."""
    if design != "grid" and (isinstance(n, bool) or not isinstance(n, int)):
        return  # the design refuses such an n itself
    size = design_size(design, n, vary)
    if size > DESIGN_POINTS.maximum:
        raise ScenarioError(
            f"gives a {design} design of {size:,} points; at most {DESIGN_POINTS.text()} "
            f"({DESIGN_POINTS.reason})",
            path="sweep.vary" if design == "grid" else "sweep.n",
            value=n if design != "grid" else {k: len(v) for k, v in vary.items()},
        )
