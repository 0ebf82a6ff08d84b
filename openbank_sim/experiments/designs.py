"""Designs of experiments: the points each design draws, keyed by the one registry of design
names and over the one range type (:mod:`openbank_sim.spec.ranges`).

A design turns ``vary`` (dotted scenario path -> values or range) into parameter points, each a
``{dotted path: value}`` dict, in the design's order:

* ``grid``: ``vary`` maps paths to lists; the Cartesian product, later paths varying fastest;
* ``lhs``, ``sobol`` (``scipy.stats.qmc``): ``n`` points over ``{low, high[, integer]}`` ranges;
* ``saltelli``, ``morris`` (SALib): the samples Sobol indices / Morris elementary effects are
  computed from (``n`` is SALib's base sample size N).

A range's bounds are in the unit of the value at its path (a pool's ``servers`` is a count,
``sessions_per_user_day`` is per user per day, ...). numpy, scipy and SALib load when a design
draws points.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import ScenarioError
from ..spec.ranges import DESIGN_NAMES, ParameterRange, check_design_size

if TYPE_CHECKING:
    import numpy as np

__all__ = ["DESIGNS", "Design", "ParameterRange", "salib_problem", "sweep_points"]


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


_DRAWS = {"lhs": _lhs, "sobol": _sobol, "saltelli": _saltelli, "morris": _morris}
DESIGNS: Mapping[str, Design] = MappingProxyType(
    {name: _grid if name == "grid" else partial(_sampled, _DRAWS[name]) for name in DESIGN_NAMES}
)
"""Every design by name (:data:`~openbank_sim.spec.ranges.DESIGN_NAMES`, in that order)."""


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
    check_design_size(design, n, vary)  # before a huge grid or sample is built
    return points(vary, n, seed)
