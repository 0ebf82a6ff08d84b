"""``optimize``: the best configuration that meets the constraints, with a certificate.

Given parameters to vary (the lattice of :mod:`~openbank_sim.experiments.space`), an
objective to minimize (or maximize) and constraints on means (``latency_p95_s<=1.0``), it
returns the chosen configuration, each KPI's estimate and interval there, and a certificate:
with probability at least ``1 - alpha`` the chosen configuration meets every constraint and its
objective is within ``delta`` of the best feasible configuration. The procedure and its
assumptions are in :mod:`~openbank_sim.experiments.certificate`; spaces larger than
``max_points`` are searched first (:mod:`~openbank_sim.experiments.search`) and the
certificate then speaks of the candidates the search kept. When the budget runs out first,
the result says what was established and what was not; it never claims more.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..analysis.kpis import KPI_NAMES
from ..errors import ScenarioError
from ..spec.scenario import Scenario
from .certificate import Outcome, Procedure
from .criteria import Constraint, Metric, parse_constraint, parse_metric
from .evaluations import Evaluations
from .executors import Executor
from .runs import _progress, as_scenario, open_executor, scenario_json
from .search import LatticeSearch
from .space import Space, build_space
from .stats import t_interval
from .store import atomic_write, check_store, open_store, write_results

__all__ = ["OptimizeResult", "optimize"]


@dataclass
class OptimizeResult:
    """What ``optimize`` found.

    Attributes:
        best: the chosen configuration (``{path: value}``); when the certificate does not
            hold, the best candidate (see ``certificate["best_feasible"]``); None when every
            configuration was shown infeasible.
        kpis: at ``best``: per KPI (and per ratio metric used) ``mean``, ``ci_low``,
            ``ci_high`` (a Student-t interval at ``1 - alpha``, one KPI at a time) and ``n``.
        certificate: what holds and with which probability (``holds``, ``statement`` in
            plain words, ``alpha`` and its split, ``delta``, the scope, what is unresolved).
        runs: runs used.
        configurations: one row per evaluated configuration: ``point``, the parameters,
            ``role`` (``candidate`` or ``searched``), ``status`` (``feasible``,
            ``infeasible``, ``undecided``, ``failed``), ``chosen``, ``replications``, the
            mean of the objective and of each constrained metric, ``meets <constraint>``.
        table: one row per run (``run_id``, ``point``, ``replication``, ``seed``, the
            parameters, every KPI), as in a sweep's store.
        store: the result store directory, if any.
    """

    best: dict[str, Any] | None
    kpis: dict[str, dict[str, float]]
    certificate: dict[str, Any]
    runs: int
    configurations: pd.DataFrame
    table: pd.DataFrame
    store: Path | None = None
    definition: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """``{"best", "kpis", "certificate", "runs"}``, JSON-ready (NaN as None)."""
        return _clean(
            {
                "best": self.best,
                "kpis": self.kpis,
                "certificate": self.certificate,
                "runs": self.runs,
            }
        )

    def to_json(self) -> str:
        """:meth:`as_dict` as JSON."""
        return json.dumps(self.as_dict(), indent=2)

    @property
    def holds(self) -> bool:
        """Whether the certificate holds."""
        return bool(self.certificate["holds"])


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item"):  # numpy scalars
        return _clean(obj.item())
    return obj


def _check(scenario: Scenario, args: dict[str, Any]) -> dict[str, Any]:
    """Every argument checked (a ScenarioError before anything runs or is written)."""
    out: dict[str, Any] = {}
    space = build_space(scenario, args["vary"], args["levels"])
    out["space"] = space
    minimize, maximize = args["minimize"], args["maximize"]
    if (minimize is None) == (maximize is None):
        raise ScenarioError("give exactly one of minimize and maximize", path="minimize")
    where = "minimize" if minimize is not None else "maximize"
    out["objective"] = parse_metric(minimize or maximize, space.paths, where)
    out["sign"] = 1.0 if minimize is not None else -1.0
    subject_to = args["subject_to"]
    subject_to = [subject_to] if isinstance(subject_to, str) else list(subject_to or ())
    out["constraints"] = [parse_constraint(c, space.paths) for c in subject_to]
    alpha = args["alpha"]
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 0.5:
        raise ScenarioError("must be a number in (0, 0.5)", path="alpha", value=alpha)
    delta = args["delta"]
    if delta is None:
        if not out["objective"].exact:
            raise ScenarioError(
                f"needs delta: the indifference zone, in the unit of {out['objective'].text}",
                path="delta",
            )
        delta = 0.0
    elif (
        isinstance(delta, bool)
        or not isinstance(delta, int | float)
        or not math.isfinite(delta)
        or delta <= 0
    ):
        raise ScenarioError("must be a number > 0", path="delta", value=delta)
    out["delta"] = float(delta)
    for name, low in (("initial", 3), ("max_replications", 3), ("max_points", 1)):
        v = args[name]
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ScenarioError(f"must be an integer >= {low}", path=name, value=v)
    for name in ("candidates", "search_replications"):
        v = args[name]
        if isinstance(v, bool) or not isinstance(v, int) or v < 2:
            raise ScenarioError("must be an integer >= 2", path=name, value=v)
    if args["max_replications"] < args["initial"]:
        raise ScenarioError(
            f"must be at least initial ({args['initial']})",
            path="max_replications",
            value=args["max_replications"],
        )
    search = space.size > args["max_points"]
    out["search"] = search
    n0 = args["initial"]
    if search:
        first = min(space.size, args["search_initial"] or 4 * len(space.dims) + 4)
        minimum = first * args["search_replications"] + min(args["candidates"], space.size) * n0
        what = (
            f"a search's first design ({first} configurations x {args['search_replications']} "
            f"runs) and the first stage on {args['candidates']} candidates ({n0} each)"
        )
    elif out["objective"].exact:  # started cheapest first: the cheapest ones at least
        values = [out["sign"] * out["objective"].value({}, space.point(i)) for i in space]
        cheapest = values.count(min(values))
        minimum = cheapest * n0
        what = f"the first stage of the cheapest ({cheapest} configurations x {n0} replications)"
    else:
        minimum = space.size * n0
        what = f"the first stage ({space.size} configurations x {n0} replications)"
    if not search:
        for i in space:  # every configuration is a valid scenario
            scenario.with_overrides(space.point(i))
    budget = args["budget"]
    if budget is not None:
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise ScenarioError("must be an integer >= 1", path="budget", value=budget)
        if budget < minimum:
            raise ScenarioError(
                f"too small to certify anything: {what} needs {minimum} runs",
                path="budget",
                value=budget,
            )
    seed = args["seed"]
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ScenarioError("must be a non-negative integer", path="seed", value=seed)
    return out


def optimize(
    scenario: Scenario | str | Path,
    vary: Mapping[str, Any],
    minimize: str | None = None,
    subject_to: Sequence[str] | str = (),
    *,
    maximize: str | None = None,
    alpha: float = 0.05,
    delta: float | None = None,
    budget: int | None = None,
    seed: int | None = None,
    initial: int = 10,
    max_replications: int = 160,
    levels: int = 9,
    max_points: int = 64,
    candidates: int = 8,
    search_replications: int = 3,
    search_initial: int | None = None,
    executor: str | Executor = "processes",
    workers: int | None = None,
    address: str | None = None,
    store: str | Path | None = None,
    resume: bool = False,
    quiet: bool = False,
) -> OptimizeResult:
    """The best configuration of ``vary`` that meets ``subject_to``, with a certificate.

    Args:
        scenario: a Scenario, a file, or a shipped name.
        vary: dotted path -> list of values, or range ``{low, high[, integer]}`` (integer
            ranges give every integer; real ranges ``levels`` equally spaced values).
        minimize: the objective: a KPI, a ratio ``KPI/KPI``, or a varied path (exact).
        subject_to: constraints ``METRIC<=VALUE`` / ``METRIC>=VALUE`` on means.
        maximize: instead of ``minimize``.
        alpha: the certificate holds with probability at least ``1 - alpha`` (0 < alpha <
            0.5).
        delta: the indifference zone, in the objective's unit: the chosen configuration is
            within ``delta`` of the best feasible one (required unless the objective is a
            varied path, where it defaults to exact comparison).
        budget: most runs to use (None: as many as the procedure asks for, at most
            ``max_replications`` per configuration).
        seed: base seed (default: the scenario's ``run.seed``); replication ``r`` of every
            configuration uses the seed of ``(seed, r)``.
        initial: first-stage replications per configuration (``n0``).
        max_replications: most replications per configuration.
        levels: values of a real-valued range.
        max_points: spaces with more configurations are searched first.
        candidates, search_replications, search_initial: the search's candidates kept,
            runs per configuration it evaluates, and first design's size (default
            ``4 x parameters + 4``).
        executor, workers, address: where to run (see
            :mod:`openbank_sim.experiments.executors`).
        store: a result store directory (the sweep store format): every run, then
            ``results.csv``, ``configurations.csv`` and ``optimize.json``; ``resume=True``
            reuses the runs already there (the objective, constraints, alpha, delta and budget
            may differ between calls: runs depend only on scenario, parameters and seeds).
        quiet: no progress bar.
    """
    s = as_scenario(scenario)
    args = dict(locals())
    checked = _check(s, args)
    space: Space = checked["space"]
    seed = s.spec.run.seed if seed is None else int(seed)
    js = scenario_json(s)
    definition = {
        "scenario": json.loads(js),
        "vary": {d.path: list(d.values) for d in space.dims},
        "design": "optimize",
        "seed": seed,
        "max_replications": max_replications,
        "search_replications": search_replications,
    }
    store_path = Path(store) if store is not None else None
    digest = check_store(store_path, definition, resume) if store_path is not None else ""
    with open_executor(executor, workers, address) as ex:
        if store_path is not None:
            open_store(store_path, definition, digest)
        bar = _progress(budget, f"optimize {s.name}", quiet)  # over the budget, if any
        try:
            evals = Evaluations(
                js,
                s.source,
                space,
                seed,
                max_replications,
                search_replications,
                ex,
                budget,
                store_path,
                bar,
            )
            searched: list[int] = []
            if checked["search"]:
                first = search_initial or 4 * len(space.dims) + 4
                share = None
                if budget is not None:  # the rest is kept for the candidates' certification
                    share = max(first * search_replications, budget - 2 * candidates * initial)
                    share = min(share, budget - candidates * initial)
                search = LatticeSearch(
                    evals,
                    checked["objective"],
                    checked["sign"],
                    checked["constraints"],
                    replications=search_replications,
                    initial=first,
                    budget=share,
                    seed=seed,
                )
                points = search.run(candidates)
                searched = sorted(search.scores)
            else:
                points = list(space)
            proc = Procedure(
                evals,
                points,
                checked["objective"],
                checked["sign"],
                checked["constraints"],
                float(alpha),
                checked["delta"],
                initial,
                max_replications,
            )
            outcome = proc.run()
        finally:
            bar.close()
    result = _result(s, space, checked, proc, outcome, evals, searched, float(alpha), budget)
    result.store = store_path
    result.definition = definition
    if store_path is not None:
        _write(store_path, result)
    return result


# -- the result ---------------------------------------------------------------------------


def _describe(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_fmt(v)}" for k, v in params.items())


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _at_best(evals: Evaluations, proc: Procedure, point: int, level: float) -> dict:
    params = evals.space.point(point)
    runs = [evals.get(point, r) for r in range(proc.states[point].reps)]
    rows = [r for r in runs if r is not None]
    out: dict[str, dict[str, float]] = {}
    metrics: list[Metric] = [proc.objective, *(c.metric for c in proc.constraints)]
    names = [k for k in KPI_NAMES if rows and k in rows[0]]
    extra = [m for m in metrics if m.kind == "ratio" and m.text not in names]
    for name in names:
        values = [float(r[name]) for r in rows]
        mean, _std, lo, hi = t_interval(values, level)
        out[name] = {"mean": mean, "ci_low": lo, "ci_high": hi, "n": len(values)}
    for m in extra:
        values = [m.value(r, params) for r in rows]
        mean, _std, lo, hi = t_interval(values, level)
        out[m.text] = {"mean": mean, "ci_low": lo, "ci_high": hi, "n": len(values)}
    return out


def _configurations(
    space: Space, proc: Procedure, outcome: Outcome, evals: Evaluations, searched: list[int]
) -> pd.DataFrame:
    metrics: list[Metric] = []
    for m in [proc.objective, *(c.metric for c in proc.constraints)]:
        if m.text not in [x.text for x in metrics] and not m.exact:
            metrics.append(m)
    rows = []
    for p in sorted(set(proc.points) | set(searched)):
        params = space.point(p)
        st = proc.states.get(p)
        row: dict[str, Any] = {"point": p, **params}
        row["role"] = "candidate" if st is not None else "searched"
        if st is not None:
            row["status"] = st.status
            row["reason"] = st.reason
            row["replications"] = st.reps
            runs = [evals.get(p, r) for r in range(st.reps)]
        else:
            row["status"] = "searched"
            row["reason"] = ""
            row["replications"] = 0
            base = evals.max_replications
            runs = [evals.get(p, base + r) for r in range(evals.stride - base)]
        row["chosen"] = p == outcome.best
        good = [r for r in runs if r is not None]
        for m in metrics:
            vals = [m.value(r, params) for r in good]
            row[m.text] = float(pd.Series(vals, dtype=float).mean()) if vals else math.nan
        for j, c in enumerate(proc.constraints):
            row[f"meets {c.text}"] = st.met[j] if st is not None else None
        rows.append(row)
    return pd.DataFrame(rows)


def _words_constraints(constraints: list[Constraint]) -> str:
    return "; ".join(c.text for c in constraints) if constraints else "no constraints"


def _result(
    s: Scenario,
    space: Space,
    checked: dict[str, Any],
    proc: Procedure,
    outcome: Outcome,
    evals: Evaluations,
    searched: list[int],
    alpha: float,
    budget: int | None,
) -> OptimizeResult:
    objective: Metric = checked["objective"]
    constraints: list[Constraint] = checked["constraints"]
    delta = checked["delta"]
    k = len(proc.points)
    statuses = [proc.states[p].status for p in proc.points]
    if checked["search"]:
        scope = (
            f"the {k} candidates a search kept out of {space.size:,} configurations "
            f"({len(searched)} explored)"
        )
    else:
        scope = f"all {k} configurations"
    best = outcome.best
    best_feasible = best is not None
    if best is None:
        open_ = [p for p in proc.points if proc.states[p].status == "undecided"]
        if open_:
            best = min(open_, key=lambda p: (-proc.slack(p), p))
    direction = "minimize" if checked["sign"] > 0 else "maximize"
    level = 1.0 - alpha
    pct = f"{level:.0%}" if abs(level * 100 - round(level * 100)) < 1e-9 else f"{level:.3%}"
    cons = _words_constraints(constraints)
    obj = objective.text
    better = "smaller" if direction == "minimize" else "larger"
    unresolved = [space.point(p) for p in outcome.unresolved]
    undecided = [space.point(p) for p in proc.points if proc.states[p].status == "undecided"]
    failed = [space.point(p) for p in proc.points if proc.states[p].status == "failed"]
    reasons = []
    if outcome.exhausted:
        reasons.append(f"the budget of {budget} runs ran out")
    if failed:
        reasons.append(f"{len(failed)} configuration(s) had a failing run")
    if outcome.holds and best_feasible:
        assert best is not None
        if delta == 0.0:
            tail = f"no feasible configuration among {scope} has a {better} {obj}"
        else:
            tail = f"its {obj} is within {delta:g} of the best feasible configuration among {scope}"
        meets = f" meets every constraint ({cons}) and" if constraints else ","
        statement = (
            f"With probability at least {pct}, {_describe(space.point(best))}{meets} {tail}."
        )
    elif outcome.holds:
        statement = (
            f"With probability at least {pct}, none of {scope} meets every constraint ({cons})."
        )
    else:
        why = (
            "; ".join(reasons)
            or "the replication cap was reached before every comparison was settled"
        )
        if best_feasible:
            assert best is not None
            statement = (
                f"No certificate ({why}). Established: {_describe(space.point(best))} meets every "
                f"constraint ({cons}) with probability at least {pct}. Not established: that "
                f"its {obj} is within {delta:g} of the best feasible one, because "
                f"{len(unresolved)} configuration(s) could not be settled or bounded: "
                + "; ".join(_describe(u) for u in unresolved[:5])
                + ("; ..." if len(unresolved) > 5 else "")
                + "."
            )
        elif best is not None:
            statement = (
                f"No certificate ({why}). No configuration was established feasible; "
                f"{len(undecided)} remain undecided, the closest being "
                f"{_describe(space.point(best))}."
            )
        else:
            statement = f"No certificate ({why})."
    achieved = outcome.delta_achieved
    certificate = {
        "holds": bool(outcome.holds),
        "statement": statement,
        "probability": level,
        "alpha": alpha,
        "alpha_feasibility": proc.alpha_f,
        "alpha_selection": proc.alpha_s,
        "correction": "Bonferroni: alpha split between feasibility and selection; "
        "feasibility bounds over configurations, constraints and looks; selection over "
        "the k - 1 pairs with the best",
        "objective": obj,
        "direction": direction,
        "delta": delta,
        "delta_established": None if achieved is None else max(0.0, achieved),
        "constraints": [c.text for c in constraints],
        "scope": scope,
        "configurations": k,
        "feasible": statuses.count("feasible"),
        "infeasible": statuses.count("infeasible"),
        "undecided": undecided,
        "not_run": statuses.count("not run"),
        "failed": failed,
        "unresolved": unresolved,
        "best_feasible": best_feasible,
        "budget": budget,
        "budget_exhausted": bool(outcome.exhausted),
        "looks": list(proc.looks),
        "initial": proc.n0,
        "max_replications": proc.n_max,
        "searched": bool(checked["search"]),
        "method": "sequential feasibility (one-sided t bounds at the looks) then two-stage "
        "pairwise selection under common random numbers (Nelson-Matejcik, Bonferroni)",
    }
    kpis = _at_best(evals, proc, best, level) if best is not None else {}
    table = pd.DataFrame(evals.table_rows())
    return OptimizeResult(
        space.point(best) if best is not None else None,
        kpis,
        certificate,
        evals.runs,
        _configurations(space, proc, outcome, evals, searched),
        table,
    )


def _write(store: Path, result: OptimizeResult) -> None:
    """``results.csv`` (every run), ``configurations.csv`` and ``optimize.json``."""
    if len(result.table):
        write_results(store, result.table)
    atomic_write(
        store / "configurations.csv",
        result.configurations.to_csv(index=False, float_format=lambda v: repr(float(v))),
    )
    atomic_write(store / "optimize.json", result.to_json())
