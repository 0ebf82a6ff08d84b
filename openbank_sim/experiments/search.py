"""The search ``optimize`` runs first when there are too many configurations to certify them
all: an adaptive local search on the lattice, with its own replications.

1. A Latin hypercube of the lattice (``scipy.stats.qmc``, seeded): ``initial`` configurations,
   ``replications`` runs each (the search's own seeds, common to every configuration).
2. Each evaluated configuration is ranked: those whose means meet every constraint first, by
   their objective; then the others by how far their means miss the constraints (the sum of
   the relative excesses over the thresholds).
3. The unevaluated neighbours (one step along one parameter) of the ``beam`` best are
   evaluated; repeat until the best ones have no unevaluated neighbour (a local optimum of
   the lattice) or the search's share of the budget is spent.
4. The ``keep`` best become the candidates the certified procedure runs on, with fresh
   replications (:mod:`~openbank_sim.experiments.certificate`).

The search has no guarantee of its own: a configuration it never evaluated cannot be chosen,
and the certificate speaks of the candidates only (``optimize`` says so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .criteria import Constraint, Metric
from .evaluations import Evaluations

__all__ = ["LatticeSearch"]


@dataclass
class LatticeSearch:
    """The search (see the module docstring).

    Args:
        evals: the runs (search slots start at ``evals.max_replications``).
        objective, sign, constraints: as in the procedure.
        replications: runs per evaluated configuration.
        initial: configurations of the first design.
        beam: how many of the best have their neighbours evaluated each round.
        budget: most runs the search may use (None: until a local optimum).
        seed: seeds the first design (not the runs).
    """

    evals: Evaluations
    objective: Metric
    sign: float
    constraints: list[Constraint]
    replications: int = 3
    initial: int = 12
    beam: int = 3
    budget: int | None = None
    seed: int = 0
    scores: dict[int, tuple] = field(default_factory=dict)

    def _slots(self, point: int) -> list[tuple[int, int]]:
        base = self.evals.max_replications
        return [(point, base + s) for s in range(self.replications)]

    def _score(self, point: int) -> tuple:
        """The rank key of an evaluated configuration (smaller is better)."""
        params = self.evals.space.point(point)
        runs = [self.evals.get(p, s) for p, s in self._slots(point)]
        if any(r is None for r in runs):
            return (2, math.inf, point)
        excess = 0.0
        for c in self.constraints:
            mean = float(np.mean([c.metric.value(r, params) for r in runs if r is not None]))
            if math.isnan(mean):
                return (2, math.inf, point)
            excess += max(0.0, c.excess(mean)) / max(abs(c.bound), 1e-12)
        y = [self.sign * self.objective.value(r, params) for r in runs if r is not None]
        obj = float(np.mean(y))
        if math.isnan(obj):
            return (2, math.inf, point)
        return (0, obj, point) if excess == 0.0 else (1, excess, point)

    def _evaluate(self, points: list[int], spent: list[int]) -> bool:
        """Run ``points`` (within the search budget); False when it is spent."""
        wants, taken = [], []
        for p in points:
            if self.budget is not None and spent[0] + self.replications > self.budget:
                break
            wants += self._slots(p)
            taken.append(p)
            spent[0] += self.replications
        complete = self.evals.ensure(wants) and len(taken) == len(points)
        for p in taken:
            self.scores[p] = self._score(p)
        return complete

    def _first_design(self) -> list[int]:
        from scipy.stats import qmc

        space = self.evals.space
        n = min(self.initial, space.size)
        unit = qmc.LatinHypercube(len(space.dims), seed=self.seed).random(n)
        centre = space.index(tuple(len(d) // 2 for d in space.dims))
        points = [centre]
        for row in unit:
            levels = tuple(
                min(len(d) - 1, int(u * len(d))) for d, u in zip(space.dims, row, strict=True)
            )
            p = space.index(levels)
            if p not in points:
                points.append(p)
        return points

    def run(self, keep: int) -> list[int]:
        """Search, then the ``keep`` best configurations found (best first)."""
        spent = [0]
        going = self._evaluate(self._first_design(), spent)
        while going:
            ranked = sorted(self.scores, key=self.scores.__getitem__)
            fresh: list[int] = []
            for p in ranked[: self.beam]:
                for q in self.evals.space.neighbours(p):
                    if q not in self.scores and q not in fresh:
                        fresh.append(q)
            if not fresh:
                break
            going = self._evaluate(fresh, spent)
        ranked = sorted(self.scores, key=self.scores.__getitem__)
        return ranked[:keep]
