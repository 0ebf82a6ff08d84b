"""Experiments: replications with confidence intervals, paired comparisons under common random
numbers, and resumable sweeps over dotted-path parameters.

Replication ``r`` of anything uses the seed derived from ``(seed, r)`` (:func:`replication_seed`),
the same at every sweep point and in both arms of a comparison, so differences between
scenarios are not drowned in the noise of different users (common random numbers).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import tempfile
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ScenarioError
from ..rng import replication_seed
from ..spec.scenario import Scenario, load_scenario
from .executors import Executor, make_executor

__all__ = [
    "CompareResult",
    "ReplicationResult",
    "StoreError",
    "SweepResult",
    "compare",
    "replicate",
    "sweep",
    "sweep_points",
    "t_interval",
]

DESIGNS = ("grid", "lhs", "sobol", "saltelli", "morris")
_INDEPENDENT_OFFSET = 1_000_003  # replication index offset for the "independent seeds" arm


def _repr_float(value: float) -> str:
    """A float written so that reading it back gives the same float (full precision)."""
    return repr(float(value))


class StoreError(RuntimeError):
    """A sweep's result store cannot be used as asked (it holds another sweep, ...)."""


# --------------------------------------------------------------------------------------------
# Tasks (module level, picklable: every executor runs exactly this)
# --------------------------------------------------------------------------------------------


def run_task(task: tuple) -> dict[str, Any]:
    """Run one simulation: ``(run_id, scenario_json, source, overrides, seed)`` -> KPIs."""
    from ..simulation import simulate

    run_id, scenario_json, source, overrides, seed = task
    scenario = Scenario(json.loads(scenario_json), source)
    if overrides:
        scenario = scenario.with_overrides(overrides)
    t0 = time.perf_counter()
    results = simulate(scenario, seed=seed)
    return {"run_id": run_id, "kpis": results.kpis, "wall_s": time.perf_counter() - t0}


def _as_scenario(s: Scenario | str | Path) -> Scenario:
    return s if isinstance(s, Scenario) else load_scenario(s)


def _scenario_json(s: Scenario) -> str:
    return json.dumps(s.as_dict(), default=str, sort_keys=True)


def _progress(total: int, desc: str, quiet: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=quiet, unit="run", leave=False)


@contextmanager
def _executor(
    executor: str | Executor, workers: int | None, address: str | None
) -> Iterator[Executor]:
    """The executor to use, closed afterwards if it was made here."""
    ex = make_executor(executor, workers, address)
    try:
        yield ex
    finally:
        if isinstance(executor, str):
            ex.close()


def _execute(
    tasks: list[tuple],
    ex: Executor,
    desc: str,
    quiet: bool,
    fail_fast: bool = True,
) -> Iterable[tuple[tuple, dict | None, BaseException | None]]:
    bar = _progress(len(tasks), desc, quiet)
    try:
        for task, result, err in ex.imap_unordered(run_task, tasks):
            bar.update(1)
            if err is not None and fail_fast:
                raise err
            yield task, result, err
    finally:
        bar.close()


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float, float]:
    """``(mean, std, low, high)``: Student-t interval of the mean of ``values`` (NaNs dropped)."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan
    mean = float(x.mean())
    if n == 1:
        return mean, math.nan, math.nan, math.nan
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * std / math.sqrt(n)
    return mean, std, mean - half, mean + half


def _summarise(runs: pd.DataFrame, kpis: Sequence[str], level: float) -> pd.DataFrame:
    rows = []
    for k in kpis:
        mean, std, lo, hi = t_interval(runs[k].to_numpy(dtype=float), level)
        rows.append(
            {
                "kpi": k,
                "n": int(runs[k].notna().sum()),
                "mean": mean,
                "std": std,
                "ci_low": lo,
                "ci_high": hi,
                "half_width": (hi - lo) / 2,
            }
        )
    return pd.DataFrame(rows).set_index("kpi")


# --------------------------------------------------------------------------------------------
# Replications
# --------------------------------------------------------------------------------------------


@dataclass
class ReplicationResult:
    """Replications of one scenario.

    Attributes:
        runs: one row per replication (``replication``, ``seed`` and every KPI).
        summary: per KPI: ``n``, ``mean``, ``std``, ``ci_low``, ``ci_high``, ``half_width``
            (Student-t interval at ``level``).
        level: the confidence level.
    """

    runs: pd.DataFrame
    summary: pd.DataFrame
    level: float = 0.95

    def interval(self, kpi: str) -> tuple[float, float]:
        """The confidence interval of ``kpi``'s mean."""
        row = self.summary.loc[kpi]
        return float(row["ci_low"]), float(row["ci_high"])


def _replication_tasks(
    s: Scenario, seed: int, start: int, stop: int, offset: int = 0
) -> list[tuple]:
    js = _scenario_json(s)
    return [(r, js, s.source, None, replication_seed(seed, r + offset)) for r in range(start, stop)]


def _collect(results: Iterable[tuple[tuple, dict | None, BaseException | None]]) -> list[dict]:
    rows = []
    for task, result, _err in results:
        rows.append({"replication": task[0], "seed": task[4], **result["kpis"]})
    return rows


def replicate(
    scenario: Scenario | str | Path,
    n: int = 10,
    seed: int | None = None,
    *,
    target: Mapping[str, Any] | None = None,
    max_replications: int = 200,
    level: float = 0.95,
    executor: str | Executor = "processes",
    workers: int | None = None,
    address: str | None = None,
    quiet: bool = False,
) -> ReplicationResult:
    """Run ``n`` replications; replication ``r`` uses the seed derived from ``(seed, r)``.

    Args:
        scenario: a Scenario, a file, or a shipped name.
        n: replications to start with (>= 1).
        seed: base seed (default: the scenario's ``run.seed``).
        target: ``{"kpi": name, "half_width": h, "relative": bool}``: add replications (in
            batches) until that KPI's interval half-width is at most ``h`` (relative: ``h`` times
            ``|mean|``), or ``max_replications`` is reached.
        executor, workers, address: where to run (see :mod:`openbank_sim.experiments.executors`).
        quiet: no progress bar.
    """
    s = _as_scenario(scenario)
    if not isinstance(n, int) or n < 1:
        raise ScenarioError("must be an integer >= 1", path="n", value=n)
    seed = s.spec.run.seed if seed is None else int(seed)
    if target is not None:
        unknown = set(target) - {"kpi", "half_width", "relative"}
        if unknown or "kpi" not in target or "half_width" not in target:
            raise ScenarioError(
                "needs {kpi, half_width[, relative]}", path="target", value=dict(target)
            )
    with _executor(executor, workers, address) as ex:
        rows = _collect(
            _execute(_replication_tasks(s, seed, 0, n), ex, f"{s.name} replications", quiet)
        )
        while target is not None:
            more = _more_needed(rows, target, level, max_replications)
            if more == 0:
                break
            have = len(rows)
            rows += _collect(
                _execute(
                    _replication_tasks(s, seed, have, have + more),
                    ex,
                    f"{s.name} replications",
                    quiet,
                )
            )
    runs = pd.DataFrame(rows).sort_values("replication", ignore_index=True)
    kpis = [c for c in runs.columns if c not in ("replication", "seed")]
    return ReplicationResult(runs, _summarise(runs, kpis, level), level)


def _more_needed(
    rows: list[dict], target: Mapping[str, Any], level: float, max_replications: int
) -> int:
    """How many more replications the target interval needs (0 when met or capped)."""
    runs = pd.DataFrame(rows)
    mean, std, lo, hi = t_interval(runs[target["kpi"]].to_numpy(dtype=float), level)
    goal = float(target["half_width"]) * (abs(mean) if target.get("relative") else 1.0)
    have = len(runs)
    if (not math.isnan(hi) and (hi - lo) / 2 <= goal) or have >= max_replications:
        return 0
    # the smallest n whose interval would be narrow enough at the current spread: the normal
    # quantile, not the t quantile of the few runs so far (that one overshoots); then a batch
    # of at least 2, and the loop checks again with the t interval
    if goal > 0 and math.isfinite(std):
        z = float(stats.norm.ppf(0.5 + level / 2))
        need = math.ceil((z * std / goal) ** 2)
    else:
        need = 2 * have
    return int(min(max_replications, max(have + 2, need))) - have


# --------------------------------------------------------------------------------------------
# Paired comparison
# --------------------------------------------------------------------------------------------


@dataclass
class CompareResult:
    """Paired runs of two scenarios.

    Attributes:
        runs: one row per (arm, replication) with every KPI; ``arm`` is ``"a"`` or ``"b"``.
        summary: per KPI: ``mean_a``, ``mean_b``, ``diff_mean`` (b - a), ``diff_std``,
            ``ci_low``, ``ci_high``, ``half_width`` (of the mean paired difference), ``n``.
        crn: whether both arms used the same seeds (common random numbers).
    """

    runs: pd.DataFrame
    summary: pd.DataFrame
    crn: bool = True
    level: float = 0.95


def compare(
    a: Scenario | str | Path,
    b: Scenario | str | Path,
    n: int = 10,
    seed: int | None = None,
    *,
    crn: bool = True,
    level: float = 0.95,
    executor: str | Executor = "processes",
    workers: int | None = None,
    address: str | None = None,
    quiet: bool = False,
) -> CompareResult:
    """Run ``a`` and ``b`` ``n`` times each and report paired differences ``b - a`` per KPI.

    With ``crn=True`` (the default) replication ``r`` of both arms uses the same seed, so both
    see the same users, journeys and service draws; ``crn=False`` gives ``b`` independent seeds
    (to measure what common random numbers buy).
    """
    sa, sb = _as_scenario(a), _as_scenario(b)
    if not isinstance(n, int) or n < 1:
        raise ScenarioError("must be an integer >= 1", path="n", value=n)
    seed = sa.spec.run.seed if seed is None else int(seed)
    ta = _replication_tasks(sa, seed, 0, n)
    tb = _replication_tasks(sb, seed, 0, n, 0 if crn else _INDEPENDENT_OFFSET)
    tasks = [(("a", t[0]), *t[1:]) for t in ta] + [(("b", t[0]), *t[1:]) for t in tb]
    rows = []
    with _executor(executor, workers, address) as ex:
        for task, result, _err in _execute(tasks, ex, f"{sa.name} vs {sb.name}", quiet):
            arm, r = task[0]
            rows.append({"arm": arm, "replication": r, "seed": task[4], **result["kpis"]})
    runs = pd.DataFrame(rows).sort_values(["arm", "replication"], ignore_index=True)
    kpis = [c for c in runs.columns if c not in ("arm", "replication", "seed")]
    ra = runs[runs["arm"] == "a"].set_index("replication")
    rb = runs[runs["arm"] == "b"].set_index("replication")
    out = []
    for k in kpis:
        diff = (rb[k] - ra[k]).to_numpy(dtype=float)
        mean, std, lo, hi = t_interval(diff, level)
        out.append(
            {
                "kpi": k,
                "n": int(np.sum(~np.isnan(diff))),
                "mean_a": float(ra[k].mean()),
                "mean_b": float(rb[k].mean()),
                "diff_mean": mean,
                "diff_std": std,
                "ci_low": lo,
                "ci_high": hi,
                "half_width": (hi - lo) / 2,
            }
        )
    return CompareResult(runs, pd.DataFrame(out).set_index("kpi"), crn, level)


# --------------------------------------------------------------------------------------------
# Sweeps
# --------------------------------------------------------------------------------------------


def _check_range(path: str, spec: Any) -> tuple[float, float, bool]:
    if not isinstance(spec, Mapping) or "low" not in spec or "high" not in spec:
        raise ScenarioError(
            "a sampling design needs {low, high[, integer]}", path=f"sweep.vary.{path}", value=spec
        )
    extra = set(spec) - {"low", "high", "integer"}
    if extra:
        raise ScenarioError(
            f"unknown key {sorted(extra)[0]!r} (expected low, high, integer)",
            path=f"sweep.vary.{path}",
            value=dict(spec),
        )
    lo, hi = spec["low"], spec["high"]
    for v in (lo, hi):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ScenarioError(
                "low and high must be numbers", path=f"sweep.vary.{path}", value=dict(spec)
            )
    if not lo < hi:
        raise ScenarioError(
            "empty range: low must be below high", path=f"sweep.vary.{path}", value=dict(spec)
        )
    integer = spec.get("integer", False)
    if not isinstance(integer, bool):
        raise ScenarioError(
            "integer must be true or false", path=f"sweep.vary.{path}", value=dict(spec)
        )
    return float(lo), float(hi), integer


def sweep_points(
    vary: Mapping[str, Any], design: str = "grid", n: int = 16, seed: int = 0
) -> list[dict[str, Any]]:
    """The parameter points of a design, each a ``{dotted path: value}`` dict.

    ``grid``: ``vary`` maps paths to lists (the Cartesian product, in the order given);
    ``lhs`` and ``sobol`` (``scipy.stats.qmc``): ``n`` points over ``{low, high, integer}``
    ranges; ``saltelli`` and ``morris`` (SALib): samples from which Sobol indices / Morris
    elementary effects can be computed (``n`` is SALib's base sample size N).
    """
    if design not in DESIGNS:
        raise ScenarioError(
            f"must be one of {', '.join(DESIGNS)}", path="sweep.design", value=design
        )
    if not vary:
        raise ScenarioError("nothing to vary", path="sweep.vary")
    paths = list(vary)
    if design == "grid":
        values = []
        for p in paths:
            v = vary[p]
            v = list(v) if isinstance(v, list | tuple) else [v]
            if not v:
                raise ScenarioError("empty list of values", path=f"sweep.vary.{p}", value=v)
            values.append(v)
        return [dict(zip(paths, combo, strict=True)) for combo in itertools.product(*values)]
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ScenarioError("must be an integer >= 1", path="sweep.n", value=n)
    ranges = [_check_range(p, vary[p]) for p in paths]
    d = len(paths)
    if design in ("lhs", "sobol"):
        from scipy.stats import qmc

        sampler = (
            qmc.LatinHypercube(d, seed=seed)
            if design == "lhs"
            else qmc.Sobol(d, scramble=True, seed=seed)
        )
        unit = sampler.random(n)
        lows = np.array([r[0] for r in ranges])
        highs = np.array([r[1] for r in ranges])
        x = qmc.scale(unit, lows, highs)
    else:
        problem = _salib_problem(paths, ranges)
        if design == "saltelli":
            from SALib.sample import sobol as salib_sobol

            x = salib_sobol.sample(problem, n, calc_second_order=False, seed=seed)
        else:
            from SALib.sample import morris as salib_morris

            x = salib_morris.sample(problem, n, num_levels=4, seed=seed)
    points = []
    for row in x:
        pt = {}
        for p, (lo, hi, integer), v in zip(paths, ranges, row.tolist(), strict=True):
            pt[p] = int(min(hi, max(lo, round(v)))) if integer else float(v)
        points.append(pt)
    return points


def _salib_problem(paths: list[str], ranges: list[tuple[float, float, bool]]) -> dict:
    return {"num_vars": len(paths), "names": paths, "bounds": [[lo, hi] for lo, hi, _ in ranges]}


@dataclass
class SweepResult:
    """A finished (or partly failed) sweep.

    Attributes:
        table: one row per finished run: ``run_id``, ``point``, ``replication``, ``seed``, the
            varied parameters and every KPI, sorted by ``run_id``.
        failures: one row per failed run (``run_id``, ``error``).
        store: the result store directory, if any.
        definition: what was swept (scenario, vary, design, n, replications, seed, points).
    """

    table: pd.DataFrame
    failures: pd.DataFrame
    store: Path | None
    definition: dict[str, Any] = field(default_factory=dict)

    def summary(self, kpis: Sequence[str] | None = None, level: float = 0.95) -> pd.DataFrame:
        """Per point: the varied parameters and each KPI's mean with its t-interval."""
        params = list(self.definition.get("vary", {}))
        kpis = (
            list(kpis)
            if kpis
            else [
                c
                for c in self.table.columns
                if c not in ("run_id", "point", "replication", "seed", *params)
            ]
        )
        rows = []
        for point, g in self.table.groupby("point", sort=True):
            row: dict[str, Any] = {
                "point": point,
                **{p: g[p].iloc[0] for p in params},
                "replications": len(g),
            }
            for k in kpis:
                values = g[k].to_numpy(dtype=float)
                mean, _std, lo, hi = t_interval(values, level)
                row[k] = mean
                row[f"{k}_n"] = int(np.count_nonzero(~np.isnan(values)))
                row[f"{k}_ci_low"] = lo
                row[f"{k}_ci_high"] = hi
            rows.append(row)
        return pd.DataFrame(rows)


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check_store(store: Path, definition: dict[str, Any], resume: bool) -> str:
    """Refuse a store that cannot take this sweep (touching nothing); returns the digest."""
    manifest = store / "manifest.json"
    digest = hashlib.sha256(_canonical(definition).encode()).hexdigest()
    if manifest.exists():
        old = json.loads(manifest.read_text(encoding="utf-8"))
        if old.get("definition_sha256") != digest:
            diff = [
                k
                for k in definition
                if _canonical(definition[k]) != _canonical(old.get("definition", {}).get(k))
            ]
            raise StoreError(
                f"{store} holds a different sweep (differs in: {', '.join(diff) or 'format'}); "
                "choose another --out directory. Nothing was changed."
            )
        if not resume:
            raise StoreError(
                f"{store} already holds this sweep; pass resume=True (--resume) "
                "to finish it. Nothing was changed."
            )
    elif store.exists() and any(store.iterdir()) and not resume:
        raise StoreError(
            f"{store} exists and is not a sweep store; choose an empty or new "
            "directory. Nothing was changed."
        )
    elif (
        store.exists()
        and any(p.name != "runs" for p in store.iterdir())
        and not (store / "runs").exists()
    ):
        raise StoreError(f"{store} exists and is not a sweep store. Nothing was changed.")
    return digest


def _open_store(store: Path, definition: dict[str, Any], digest: str) -> set[int]:
    """Prepare ``store`` (already checked, see :func:`_check_store`); returns the run ids
    already finished there."""
    manifest = store / "manifest.json"
    (store / "runs").mkdir(parents=True, exist_ok=True)
    if not manifest.exists():
        _atomic_write(
            manifest,
            json.dumps(
                {
                    "kind": "openbank_sim.sweep",
                    "format": 1,
                    "definition_sha256": digest,
                    "definition": definition,
                },
                indent=2,
                default=str,
            ),
        )
    done = set()
    for f in (store / "runs").glob("r*.json"):
        try:
            done.add(int(f.stem[1:]))
        except ValueError:
            continue
    return done


def _read_runs(store: Path) -> list[dict]:
    rows = []
    for f in sorted((store / "runs").glob("r*.json")):
        rows.append(json.loads(f.read_text(encoding="utf-8")))
    return rows


def _table(rows: list[dict], params: list[str]) -> pd.DataFrame:
    flat = []
    for r in rows:
        flat.append(
            {
                "run_id": r["run_id"],
                "point": r["point"],
                "replication": r["replication"],
                "seed": r["seed"],
                **{p: r["params"][p] for p in params},
                **r["kpis"],
            }
        )
    df = pd.DataFrame(flat)
    return df.sort_values("run_id", ignore_index=True) if len(df) else df


def sweep(
    scenario: Scenario | str | Path,
    vary: Mapping[str, Any] | None = None,
    design: str | None = None,
    n: int | None = None,
    replications: int | None = None,
    seed: int | None = None,
    *,
    executor: str | Executor = "processes",
    workers: int | None = None,
    address: str | None = None,
    store: str | Path | None = None,
    resume: bool = False,
    fail_fast: bool = False,
    quiet: bool = False,
) -> SweepResult:
    """Run a design over dotted-path parameters, ``replications`` runs per point.

    Arguments left as None come from the scenario's ``[sweep]`` table (``vary``, ``design``,
    ``n``, ``replications``), else defaults (grid, 16, 1). Replication ``r`` uses the seed
    derived from ``(seed, r)`` at every point. With ``store``, every finished run is written
    atomically to ``store/runs/``, failures (with tracebacks) to ``store/failures.jsonl``,
    and ``results.csv`` (plus ``results.parquet`` with pyarrow) when the sweep completes;
    ``resume=True`` skips runs already there. A failing run never stops the others unless
    ``fail_fast``.
    """
    s = _as_scenario(scenario)
    table = s.spec.sweep if getattr(s.spec, "sweep", None) is not None else None
    vary = dict(vary) if vary is not None else dict(getattr(table, "vary", {}) or {})
    design = design or getattr(table, "design", None) or "grid"
    n = n if n is not None else getattr(table, "n", None) or 16
    replications = (
        replications if replications is not None else getattr(table, "replications", None) or 1
    )
    if not isinstance(replications, int) or isinstance(replications, bool) or replications < 1:
        raise ScenarioError(
            "must be an integer >= 1", path="sweep.replications", value=replications
        )
    seed = s.spec.run.seed if seed is None else int(seed)
    points = sweep_points(vary, design, n, seed)
    # validate every point before anything runs: a bad path or value fails here, not mid-sweep
    for pt in points:
        s.with_overrides(pt)
    params = list(vary)
    base = json.loads(_scenario_json(s))
    definition = {
        "scenario": base,
        "vary": vary,
        "design": design,
        "n": None if design == "grid" else n,
        "replications": replications,
        "seed": seed,
        "points": points,
    }
    width = len(str(len(points) * replications))
    store_path = Path(store) if store is not None else None
    digest = ""
    if store_path is not None:
        digest = _check_store(store_path, definition, resume)  # refuse before anything starts
    with _executor(executor, workers, address) as ex:
        done = _open_store(store_path, definition, digest) if store_path is not None else set()
        rows, failures = _run_sweep(
            s, ex, points, replications, seed, done, store_path, width, quiet, fail_fast
        )
    if store_path is not None:
        rows = _read_runs(store_path)
    return _finish_sweep(rows, failures, params, points, replications, store_path, definition)


def _run_sweep(
    s: Scenario,
    ex: Executor,
    points: list[dict],
    replications: int,
    seed: int,
    done: set[int],
    store_path: Path | None,
    width: int,
    quiet: bool,
    fail_fast: bool,
) -> tuple[list[dict], list[dict]]:
    js = _scenario_json(s)
    tasks = []
    for p, pt in enumerate(points):
        for r in range(replications):
            run_id = p * replications + r
            if run_id not in done:
                tasks.append((run_id, js, s.source, pt, replication_seed(seed, r)))
    rows: list[dict] = []
    failures: list[dict] = []
    for task, result, err in _execute(tasks, ex, f"sweep {s.name}", quiet, fail_fast=False):
        run_id, _js, _src, pt, run_seed = task
        point, rep = divmod(run_id, replications)
        if err is not None:
            tb = "".join(traceback.format_exception(err))
            rec = {
                "run_id": run_id,
                "point": point,
                "replication": rep,
                "seed": run_seed,
                "params": pt,
                "error": repr(err),
                "traceback": tb,
            }
            failures.append(rec)
            if store_path is not None:
                with (store_path / "failures.jsonl").open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(rec, default=str) + "\n")
            if fail_fast:
                raise err
            continue
        rec = {
            "run_id": run_id,
            "point": point,
            "replication": rep,
            "seed": run_seed,
            "params": pt,
            "kpis": result["kpis"],
            "wall_s": result["wall_s"],
        }
        if store_path is not None:
            _atomic_write(
                store_path / "runs" / f"r{run_id:0{width}d}.json", json.dumps(rec, default=str)
            )
        rows.append(rec)
    return rows, failures


def _finish_sweep(
    rows: list[dict],
    failures: list[dict],
    params: list[str],
    points: list[dict],
    replications: int,
    store_path: Path | None,
    definition: dict[str, Any],
) -> SweepResult:
    df = _table(rows, params)
    fail_df = pd.DataFrame(
        [{k: f[k] for k in ("run_id", "point", "replication", "error")} for f in failures],
        columns=["run_id", "point", "replication", "error"],
    )
    if store_path is not None and not failures and len(df) == len(points) * replications:
        _atomic_write(store_path / "results.csv", df.to_csv(index=False, float_format=_repr_float))
        try:
            import pyarrow  # noqa: F401

            tmp = store_path / ".results.parquet.tmp"
            df.to_parquet(tmp, index=False)
            os.replace(tmp, store_path / "results.parquet")
        except ImportError:
            pass
    return SweepResult(df, fail_df, store_path, definition)
