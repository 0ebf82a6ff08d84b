"""The constrained selection procedure behind ``optimize``: which of a fixed set of
configurations are feasible, and which feasible one is best, with a stated probability.

The claim (the **certificate**): with probability at least ``1 - alpha`` the chosen
configuration meets every constraint (on the means) and its objective is within ``delta`` of
the best feasible configuration of the set. It rests on two families of one-sided Student-t
statements, combined by Bonferroni (``alpha_f + alpha_s = alpha``; the whole ``alpha`` goes to
the one family needed when there are no constraints or the objective is exact):

1. **Feasibility** (:mod:`~openbank_sim.experiments.selection`, ``bounds``): at the looks
   ``n0, 2 n0, 4 n0, ...`` (``L`` of them) a configuration's constraint is declared met when the
   upper bound of its mean is, violated when the lower bound is; the first decision stands.
   Upper bounds at level ``alpha_f / (2 k L)`` (``k`` configurations: no infeasible one is
   declared feasible), lower bounds at ``alpha_f / (2 m L)`` (``m`` constraints: the best
   feasible one is not declared infeasible). Replications are added, one look at a time,
   only where an interval still straddles its threshold.
2. **Selection** under common random numbers, pair by pair (two-stage, Nelson and Matejcik's
   Bonferroni procedure, with screening): for the chosen ``B`` and every rival ``r`` not
   declared infeasible, the first ``n0`` paired differences fix ``n = max(n0, ceil(t^2 S^2 /
   delta^2))`` (capped at ``n_max``), and ``mean(y_B - y_r) + t S / sqrt(n)`` over the first
   ``n`` replications bounds ``mu_B - mu_r``. A rival is also settled when, at a look, a
   configuration declared feasible is established better than it (a paired t bound below 0):
   it cannot be the best feasible one. Half of ``alpha_s`` goes to the bounds (``t`` at
   ``alpha_s / (2 (k - 1))``), half to the screening (``alpha_s / (2 (k - 1) L)``). The
   certificate holds when every rival is settled infeasible, screened out, or bounded within
   ``delta``: then, whichever is truly the best feasible, ``B`` is within ``delta`` of it.
   Rivals still undecided count (they might be feasible).

Assumptions: each metric's replication values are close to normal (they are means over many
calls, so the central limit theorem applies) and the means are what the runs estimate (the
scenario's horizon and warm-up define them); a run in which a constrained metric or the
objective is undefined (NaN, e.g. a latency with no ok call) makes its configuration
infeasible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .criteria import Constraint, Metric
from .evaluations import Evaluations
from .selection import bounds, gap_bound, looks, pair_size, t_upper

__all__ = ["ConfigState", "Outcome", "Procedure"]


@dataclass
class ConfigState:
    """What is known about one configuration.

    Attributes:
        point: its number in the space.
        reps: certification replications run (always replications ``0 .. reps - 1``).
        met: per constraint: True (declared met), False (declared violated), None (open).
        decided_at: per constraint: the look (replications) of the decision.
        upper, lower: per constraint: the last bounds of the mean excess over the threshold
            (metric - bound for ``<=``; bound - metric for ``>=``; met when upper <= 0).
        looks_done: how many looks were evaluated.
        screened_by: a configuration declared feasible and established better than this one
            (so this one cannot be the best feasible), if any.
        reason: why it is infeasible or failed (plain words), if it is.
        failed: a run of it raised an error.
        active: whether the procedure has started on it (with an exact objective,
            configurations are started cheapest first, and those costlier than one declared
            feasible are never run).
    """

    point: int
    m: int
    reps: int = 0
    met: list[bool | None] = field(default_factory=list)
    decided_at: list[int | None] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    looks_done: int = 0
    reason: str = ""
    failed: bool = False
    screened_by: int | None = None
    active: bool = True

    def __post_init__(self) -> None:
        self.met = [None] * self.m
        self.decided_at = [None] * self.m
        self.upper = [math.nan] * self.m
        self.lower = [math.nan] * self.m

    @property
    def status(self) -> str:
        """``failed``, ``infeasible``, ``feasible``, ``undecided`` or ``not run``."""
        if not self.active:
            return "not run"
        if self.failed:
            return "failed"
        if self.reason or any(v is False for v in self.met):
            return "infeasible"
        if all(v is True for v in self.met):
            return "feasible"
        return "undecided"


@dataclass
class Outcome:
    """The result of the procedure on a set of configurations.

    Attributes:
        states: per configuration (by point).
        best: the chosen configuration (None when none is established feasible).
        holds: whether the certificate holds.
        gaps: per rival of ``best``: the established bound on ``mu_best - mu_rival`` in the
            objective's unit (minimized form), None where it could not be established.
        delta_achieved: the largest of those bounds (what the runs establish), None if any is
            missing.
        unresolved: rivals neither settled infeasible nor bounded within ``delta``.
        exhausted: the budget stopped the procedure.
    """

    states: dict[int, ConfigState]
    best: int | None
    holds: bool
    gaps: dict[int, float | None]
    delta_achieved: float | None
    unresolved: list[int]
    exhausted: bool


@dataclass
class Procedure:
    """Feasibility then selection on ``points`` (see the module docstring).

    Args:
        evals: the runs.
        points: the configurations (their numbers in ``evals.space``).
        objective: what to minimize (after ``sign``).
        sign: +1 to minimize, -1 to maximize.
        constraints: what every chosen configuration must meet.
        alpha: one minus the certificate's probability.
        delta: the indifference zone, in the objective's unit (0: exact objective only).
        n0: first-stage replications.
        n_max: most replications of one configuration.
    """

    evals: Evaluations
    points: list[int]
    objective: Metric
    sign: float
    constraints: list[Constraint]
    alpha: float
    delta: float
    n0: int
    n_max: int

    def __post_init__(self) -> None:
        k, m = len(self.points), len(self.constraints)
        need_f = m > 0
        need_s = k > 1 and not self.objective.exact
        if need_f and need_s:
            self.alpha_f, self.alpha_s = self.alpha / 2, self.alpha / 2
        else:
            self.alpha_f = self.alpha if need_f else 0.0
            self.alpha_s = self.alpha if need_s else 0.0
        self.looks = looks(self.n0, self.n_max)
        n_looks = len(self.looks)
        self.beta_high = self.alpha_f / (2 * k * n_looks) if need_f else 0.0
        self.beta_low = self.alpha_f / (2 * m * n_looks) if need_f else 0.0
        self.t_high = {n: t_upper(self.beta_high, n - 1) for n in self.looks} if need_f else {}
        self.t_low = {n: t_upper(self.beta_low, n - 1) for n in self.looks} if need_f else {}
        self.t_select = t_upper(self.alpha_s / (2 * (k - 1)), self.n0 - 1) if need_s else 0.0
        beta_screen = self.alpha_s / (2 * (k - 1) * n_looks) if need_s else 0.0
        self.t_screen = {n: t_upper(beta_screen, n - 1) for n in self.looks} if need_s else {}
        self._screen_done: dict[tuple[int, int], int] = {}
        self.states = {p: ConfigState(p, m) for p in self.points}
        self._levels: list[list[int]] = []
        if self.objective.exact:  # start cheapest first: the costlier may never need a run
            value = {
                p: self.sign * self.objective.value({}, self.evals.space.point(p))
                for p in self.points
            }
            for v in sorted(set(value.values())):
                self._levels.append([p for p in self.points if value[p] == v])
            for p in self.points:
                self.states[p].active = False
        self._y: dict[int, list[float]] = {p: [] for p in self.points}
        self._e: dict[int, list[list[float]]] = {p: [[] for _ in range(m)] for p in self.points}
        self._pair_n: dict[tuple[int, int], int] = {}

    # -- data ------------------------------------------------------------------------------
    def _refresh(self, p: int) -> None:
        """Read the new replications of ``p`` (consecutive from 0)."""
        st = self.states[p]
        params = self.evals.space.point(p)
        while st.reps < self.n_max:
            kpis = self.evals.get(p, st.reps)
            if kpis is None:
                if (p, st.reps) in self.evals.failed:
                    st.failed = True
                    st.reason = f"a run failed: {self.evals.failed[(p, st.reps)]}"
                break
            self._y[p].append(self.sign * self.objective.value(kpis, params))
            for j, c in enumerate(self.constraints):
                self._e[p][j].append(c.excess(c.metric.value(kpis, params)))
            st.reps += 1

    def _decide(self, p: int) -> None:
        """Evaluate every look of ``p`` reached and not yet evaluated (first decision stands)."""
        st = self.states[p]
        while st.looks_done < len(self.looks) and self.looks[st.looks_done] <= st.reps:
            n = self.looks[st.looks_done]
            st.looks_done += 1
            if st.status != "undecided" and st.status != "feasible":
                return
            if any(math.isnan(v) for v in self._y[p][:n]):
                st.reason = f"the objective {self.objective.text} is undefined in a run"
                return
            for j in range(len(self.constraints)):
                if st.met[j] is not None:
                    continue
                values = self._e[p][j][:n]
                if any(math.isnan(v) for v in values):
                    st.met[j], st.decided_at[j] = False, n
                    st.reason = f"{self.constraints[j].metric.text} is undefined in a run"
                    continue
                _mean, low, high = bounds(values, self.t_high[n], self.t_low[n])
                st.lower[j], st.upper[j] = low, high
                if high <= 0.0:
                    st.met[j], st.decided_at[j] = True, n
                elif low > 0.0:
                    st.met[j], st.decided_at[j] = False, n

    def _next_look(self, p: int) -> int | None:
        st = self.states[p]
        return self.looks[st.looks_done] if st.looks_done < len(self.looks) else None

    def slack(self, p: int) -> float:
        """The smallest margin of ``p``'s constraints, relative to their thresholds."""
        st = self.states[p]
        out = math.inf
        for j, c in enumerate(self.constraints):
            out = min(out, -st.upper[j] / max(abs(c.bound), 1e-12))
        return out

    # -- selection -------------------------------------------------------------------------
    def _pair(self, b: int, r: int) -> int:
        """The replications the pair needs (fixed by its first stage once both have it)."""
        if min(self.states[b].reps, self.states[r].reps) < self.n0:
            return self.n_max  # the first stage is not complete (the budget ran out)
        key = (b, r) if b < r else (r, b)
        if key not in self._pair_n:
            d0 = np.subtract(self._y[b][: self.n0], self._y[r][: self.n0])
            self._pair_n[key] = pair_size(d0, self.t_select, self.delta, self.n0, self.n_max)
        return self._pair_n[key]

    def _gap(self, b: int, r: int) -> tuple[float, bool]:
        """``(bound on mu_b - mu_r, exact)``: exact when both have the pair's replications;
        otherwise the bound the current runs project for that many."""
        n = self._pair(b, r)
        have = min(self.states[b].reps, self.states[r].reps)
        if have < self.n0:
            return math.nan, False
        d = np.subtract(self._y[b][: min(n, have)], self._y[r][: min(n, have)])
        if have >= n:
            return gap_bound(d, self.n0, self.t_select), True
        if np.isnan(d).any():
            return math.nan, False
        s = float(d[: self.n0].std(ddof=1))
        return float(d.mean()) + self.t_select * s / math.sqrt(n), False

    def _screen(self, feasible: list[int], rivals: list[int]) -> None:
        """Settle rivals that a configuration declared feasible is established better than
        (at a look both have reached; a paired t bound on ``mu_j - mu_r`` below 0)."""
        if not self.t_screen:
            return
        for r in rivals:
            if self.states[r].screened_by is not None:
                continue
            for j in feasible:
                if j == r:
                    continue
                have = min(self.states[j].reps, self.states[r].reps)
                done = self._screen_done.get((j, r), 0)
                while done < len(self.looks) and self.looks[done] <= have:
                    n = self.looks[done]
                    done += 1
                    d = np.subtract(self._y[j][:n], self._y[r][:n])
                    if np.isnan(d).any():
                        continue
                    upper = float(d.mean()) + self.t_screen[n] * float(d.std(ddof=1)) / math.sqrt(n)
                    if upper < 0.0:
                        self.states[r].screened_by = j
                        break
                self._screen_done[(j, r)] = done
                if self.states[r].screened_by is not None:
                    break

    def _open(self, points: list[int]) -> list[int]:
        """The configurations not screened out (by one still declared feasible)."""
        out = []
        for p in points:
            by = self.states[p].screened_by
            if by is None or self.states[by].status != "feasible":
                out.append(p)
        return out

    def _choose(self, feasible: list[int], rivals: list[int]) -> tuple[int, dict]:
        """The feasible configuration whose largest gap bound to a rival is smallest (rivals
        screened out do not count)."""
        best_key: tuple | None = None
        chosen = self._open(feasible) or feasible
        best, best_gaps = chosen[0], {}
        for b in chosen:
            gaps = {r: self._gap(b, r) for r in self._open(rivals) if r != b}
            worst = max((g for g, _ in gaps.values()), default=-math.inf)
            worst = math.inf if math.isnan(worst) else worst
            key = (worst, -self.slack(b), b)
            if best_key is None or key < best_key:
                best_key, best, best_gaps = key, b, gaps
        return best, best_gaps

    def _pair_step(self, b: int, r: int) -> int | None:
        """The next look of the pair (the smallest above what both have), None at the cap."""
        have = min(self.states[b].reps, self.states[r].reps)
        return next((n for n in self.looks if n > have), None)

    # -- the procedure ---------------------------------------------------------------------
    def _wants(self, needs: dict[int, int]) -> list[tuple[int, int]]:
        out = []
        for p, n in needs.items():
            if not self.states[p].failed:
                out += [(p, s) for s in range(self.states[p].reps, min(n, self.n_max))]
        return out

    def _activate(self) -> list[int]:
        """Start the next cheapest configurations (exact objective); those started."""
        if not self._levels:
            return []
        level = self._levels.pop(0)
        for p in level:
            self.states[p].active = True
        return level

    def run(self) -> Outcome:
        """Run until the certificate holds, nothing more can be learnt, or the budget ends."""
        started = self._activate() if self._levels else self.points
        needs = {p: self.n0 for p in started}
        while True:
            wanted = self._wants(needs)
            if not wanted:
                break
            before = self.evals.runs
            self.evals.ensure(wanted)
            for p in self.points:
                if self.states[p].active:
                    self._refresh(p)
                    self._decide(p)
            feasible, undecided = self._groups()
            self._screen(feasible, feasible + undecided)
            if self.evals.exhausted or self.evals.runs == before:
                break
            needs = self._needs()
        return self._outcome()

    def _groups(self) -> tuple[list[int], list[int]]:
        feasible = [p for p in self.points if self.states[p].status == "feasible"]
        undecided = [p for p in self.points if self.states[p].status == "undecided"]
        return feasible, undecided

    def _needs(self) -> dict[int, int]:
        """Which configurations need replications next, and up to how many."""
        feasible, undecided = self._groups()
        needs: dict[int, int] = {}

        def want(p: int, n: int) -> None:
            if n > self.states[p].reps:
                needs[p] = max(needs.get(p, 0), n)

        def settle(r: int) -> bool:
            nxt = self._next_look(r)
            if nxt is not None:
                want(r, nxt)
            return nxt is not None

        if not feasible:
            for r in undecided:
                settle(r)
            for p in self._activate():  # none feasible yet: start the next cheapest too
                want(p, self.n0)
            return needs
        rivals = feasible + undecided
        best, gaps = self._choose(feasible, rivals)
        for r, (gap, exact) in gaps.items():
            if exact and gap <= self.delta:
                continue  # bounded: whether it is feasible does not matter
            if self.states[r].status == "undecided":
                settle(r)
            step = self._pair_step(best, r)
            if not exact:
                target = self._pair(best, r) if step is None else min(self._pair(best, r), step)
            elif step is not None and float(np.mean(self._y[best])) < float(np.mean(self._y[r])):
                target = step  # it looks worse: later looks may screen it out
            else:
                continue
            want(best, target)
            want(r, target)
        return needs

    def _outcome(self) -> Outcome:
        feasible, undecided = self._groups()
        failed = [p for p in self.points if self.states[p].status == "failed"]
        if not feasible:
            return Outcome(
                self.states,
                None,
                not undecided and not failed and not self._levels,
                {},
                None,
                sorted(undecided),
                self.evals.exhausted,
            )
        best, raw = self._choose(feasible, feasible + undecided)
        gaps: dict[int, float | None] = {}
        unresolved = []
        for r, (gap, exact) in raw.items():
            ok = exact and not math.isnan(gap)
            gaps[r] = gap if ok else None
            if not ok or gap > self.delta:
                unresolved.append(r)
        achieved = (
            max((g for g in gaps.values() if g is not None), default=0.0)
            if all(g is not None for g in gaps.values())
            else None
        )
        holds = not unresolved and not failed
        return Outcome(
            self.states, best, holds, gaps, achieved, sorted(unresolved), self.evals.exhausted
        )
