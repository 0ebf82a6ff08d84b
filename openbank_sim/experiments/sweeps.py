"""Sweeps: a design over dotted-path parameters, ``replications`` runs per point, optionally
into a resumable result store (:mod:`openbank_sim.experiments.store`).

Run ``run_id = point x replications + replication``; replication ``r`` uses the seed derived
from ``(seed, r)`` at every point (common random numbers across points). A failing run is
recorded and never stops the others unless ``fail_fast``.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ScenarioError
from ..rng import replication_seed
from ..spec.ranges import SAMPLING_DESIGNS
from ..spec.scenario import Scenario
from .designs import sweep_points
from .executors import Executor
from .runs import as_scenario, execute, open_executor, scenario_json
from .stats import kpi_interval
from .store import (
    StoreError,
    append_failure,
    check_runs,
    check_store,
    load_sweep_store,
    open_store,
    read_runs,
    read_table,
    write_results,
    write_run,
    write_tables,
)

__all__ = ["KEEP_TABLES", "SweepInterrupted", "SweepResult", "load_sweep", "sweep"]

# the per-run tables a sweep can keep (``keep``): those every run has
KEEP_TABLES = (
    "timeseries",
    "timeseries_latency",
    "timeseries_wait",
    "by_partner",
    "by_product",
    "by_pool",
    "journeys",
    "partners",
    "ledger",
)


class SweepInterrupted(KeyboardInterrupt):
    """A sweep stopped by an interrupt (Ctrl-C); its message says how many runs the store
    keeps and how to finish them (the command line prints it and exits with 130)."""


@dataclass
class SweepResult:
    """A finished (or partly failed) sweep.

    Attributes:
        table: one row per finished run: ``run_id``, ``point``, ``replication``, ``seed``, the
            varied parameters and every KPI, sorted by ``run_id``.
        failures: one row per failed run (``run_id``, ``error``).
        store: the result store directory, if any.
        definition: what was swept (scenario, vary, design, n, replications, seed, points).
        set_aside: one note per damaged or mislabeled run file found in the store, moved to
            ``runs/corrupt/`` and run again (empty when there was none).
    """

    table: pd.DataFrame
    failures: pd.DataFrame
    store: Path | None
    definition: dict[str, Any] = field(default_factory=dict)
    set_aside: list[str] = field(default_factory=list)
    _records: dict[int, dict[str, Any]] | None = field(default=None, repr=False)

    def summary(self, kpis: Sequence[str] | None = None, level: float = 0.95) -> pd.DataFrame:
        """Per point: the varied parameters and each KPI's mean with its interval
        (:func:`~openbank_sim.experiments.stats.kpi_interval`: Student t, kept inside the
        KPI's range)."""
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
                mean, _std, lo, hi = kpi_interval(g, k, level)
                row[k] = mean
                row[f"{k}_n"] = int(g[k].notna().sum())
                row[f"{k}_ci_low"] = lo
                row[f"{k}_ci_high"] = hi
            rows.append(row)
        return pd.DataFrame(rows)

    def kept(self, name: str) -> pd.DataFrame:
        """The table ``name`` kept for every run (``sweep(..., keep=[name])``), one under
        the other in run order, each row led by its run's ``run_id``, ``point``,
        ``replication``, ``seed`` and varied parameters (every file's checksum is checked).

        Raises:
            KeyError: the sweep did not keep ``name`` (the message names what it kept).
            StoreError: a kept file is missing or was changed.
        """
        keep = list(self.definition.get("keep") or ())
        if name not in keep:
            raise KeyError(
                f"this sweep kept no table {name!r}; it kept: {', '.join(keep) or 'none'} "
                f"(choices: {', '.join(KEEP_TABLES)})"
            )
        if self.store is None:  # pragma: no cover - keep needs a store
            raise StoreError("kept tables live in a store; this sweep had none")
        width = len(str(len(self.definition["points"]) * self.definition["replications"]))
        records = self._records or {}
        params = list(self.definition.get("vary", {}))
        frames = []
        for row in self.table.itertuples(index=False):
            run_id = int(row.run_id)  # type: ignore[attr-defined]
            df = read_table(self.store, records[run_id], name, width)
            lead = {
                "run_id": run_id,
                "point": int(row.point),  # type: ignore[attr-defined]
                "replication": int(row.replication),  # type: ignore[attr-defined]
                "seed": int(row.seed),  # type: ignore[attr-defined]
                **{p: records[run_id]["params"][p] for p in params},
            }
            for i, (col, value) in enumerate(lead.items()):
                df.insert(i, col, value, allow_duplicates=True)
            frames.append(df)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load_sweep(path: str | Path) -> SweepResult:
    """Open any sweep (or optimize) store read-only, finished or not: its table of valid
    runs, its failures, its definition and the kept tables (:meth:`SweepResult.kept`). No
    file is changed; a run file that fails its checks is not counted and
    :attr:`SweepResult.set_aside` says so (resuming the sweep sets it aside and runs it
    again).

    Raises:
        StoreError: ``path`` is not a sweep store (the message names the file and why).
    """
    store = Path(path)
    definition, rows, failures, notes = load_sweep_store(store)
    params = list(definition.get("vary", {}))
    if "points" not in definition:  # optimize: every run names its configuration
        params = list(dict.fromkeys(k for r in rows for k in r.get("params", {})))
    result = _finish_sweep(rows, failures, params, [], 0, None, definition)
    result.store = store
    result.set_aside = notes
    result._records = {r["run_id"]: r for r in rows}
    return result


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
    allow_long: bool = False,
    keep: Sequence[str] | None = None,
    on_start: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Run a design over dotted-path parameters, ``replications`` runs per point.

    Arguments left as None come from the scenario's ``[sweep]`` table (``vary``, ``design``,
    ``n``, ``replications``), else defaults (grid, 16, 1). Replication ``r`` uses the seed
    derived from ``(seed, r)`` at every point. With ``store``, every finished run is written
    atomically to ``store/runs/``, failures (with tracebacks) to ``store/failures.jsonl``,
    and ``results.csv`` (plus ``results.parquet`` with pyarrow) when the sweep completes;
    ``resume=True`` skips runs already there; a run file that fails its checks (damaged,
    edited, mislabeled) is set aside in ``store/runs/corrupt/`` and run again
    (:attr:`SweepResult.set_aside` says which). A failing run never stops the others unless
    ``fail_fast``; a run whose feasibility estimate exceeds its limits fails that way (an
    :class:`~openbank_sim.spec.feasibility.InfeasibleRunError`) unless ``allow_long``.

    A range (``{low, high}``) needs a sampling design and is typed by the key it varies
    (integer exactly where the schema takes only integers). ``on_start(points, replications)``
    is called once the points are validated, the store opened and the executor reached, just
    before the first run.

    ``keep`` names per-run tables to store (one Parquet file per run and table, in the store;
    needs ``store``), read back with :meth:`SweepResult.kept`; the choices are
    :data:`KEEP_TABLES`. A store holding a smaller version of this sweep (fewer replications,
    or a subset of its points) is grown with ``resume=True``: its runs are kept, renumbered,
    and only the new ones run (the numbers are those of the larger sweep run in one go).
    An interrupt (Ctrl-C) ends the workers at once and raises :class:`SweepInterrupted`,
    whose message says how many runs the store keeps.
    """
    s = as_scenario(scenario)
    table = s.spec.sweep if getattr(s.spec, "sweep", None) is not None else None
    vary = dict(vary) if vary is not None else dict(getattr(table, "vary", {}) or {})
    design = design or getattr(table, "design", None)
    if design is None:
        ranges = [p for p, v in vary.items() if isinstance(v, Mapping)]
        if ranges:
            raise ScenarioError(
                f"{ranges[0]} is a range, which needs a sampling design: one of "
                f"{', '.join(SAMPLING_DESIGNS)} (a grid takes lists of values)",
                path="sweep.design",
            )
        design = "grid"
    if design in SAMPLING_DESIGNS:
        vary = s.typed_vary(vary, design)  # a rate stays real-valued whatever its bounds
    n = n if n is not None else getattr(table, "n", None) or 16
    replications = (
        replications if replications is not None else getattr(table, "replications", None) or 1
    )
    if not isinstance(replications, int) or isinstance(replications, bool) or replications < 1:
        raise ScenarioError(
            "must be an integer >= 1", path="sweep.replications", value=replications
        )
    seed = s.spec.run.seed if seed is None else int(seed)
    keep_names = _check_keep(keep, store)
    points = sweep_points(vary, design, n, seed)
    # validate every point before anything runs: a bad path or value fails here, not mid-sweep
    for pt in points:
        s.with_overrides(pt)
    params = list(vary)
    base = json.loads(scenario_json(s))
    definition = {
        "scenario": base,
        "vary": vary,
        "design": design,
        "n": None if design == "grid" else n,
        "replications": replications,
        "seed": seed,
        "points": points,
    }
    if keep_names:  # only then: the definition (and digest) of other stores is unchanged
        definition["keep"] = keep_names
    width = len(str(len(points) * replications))
    store_path = Path(store) if store is not None else None
    digest = ""
    if store_path is not None:
        digest = check_store(store_path, definition, resume)  # refuse before anything starts
    notes: list[str] = []
    try:
        with open_executor(executor, workers, address) as ex:
            done: set[int] = set()
            if store_path is not None:
                done, notes = open_store(store_path, definition, digest)
            if on_start is not None:
                on_start(len(points), replications)
            rows, failures = _run_sweep(
                s,
                ex,
                points,
                replications,
                seed,
                done,
                store_path,
                width,
                quiet,
                fail_fast,
                allow_long,
                tuple(keep_names),
            )
    except SweepInterrupted:
        raise
    except KeyboardInterrupt:
        raise SweepInterrupted(_interrupted(store_path, definition)) from None
    if store_path is not None:
        rows, late = read_runs(store_path, definition)
        notes += late
    result = _finish_sweep(rows, failures, params, points, replications, store_path, definition)
    result.set_aside = notes
    result._records = {r["run_id"]: r for r in rows}
    return result


def _check_keep(keep: Sequence[str] | None, store: str | Path | None) -> list[str]:
    """The validated names of ``keep`` (a ScenarioError naming the choices otherwise)."""
    if keep is None:
        return []
    if isinstance(keep, str) or not all(isinstance(k, str) for k in keep):
        raise ScenarioError(
            f"must be a list of table names, from: {', '.join(KEEP_TABLES)}",
            path="keep",
            value=keep,
        )
    bad = [k for k in keep if k not in KEEP_TABLES]
    if bad:
        raise ScenarioError(
            f"no per-run table {bad[0]!r}; choose from: {', '.join(KEEP_TABLES)}",
            path="keep",
            value=bad[0],
        )
    names = list(dict.fromkeys(keep))
    if names and store is None:
        raise ScenarioError("kept tables are written into the store: give a store", path="keep")
    if names:
        try:
            import pyarrow  # noqa: F401
        except ImportError:  # pragma: no cover - depends on the environment
            raise ScenarioError(
                "kept tables are Parquet files: install the 'parquet' extra", path="keep"
            ) from None
    return names


def _interrupted(store_path: Path | None, definition: dict[str, Any]) -> str:
    """The one line that says what an interrupted sweep keeps and how to finish it."""
    total = len(definition["points"]) * definition["replications"]
    if store_path is None:
        return f"sweep interrupted; no store was given, so its runs (of {total}) are not kept"
    kept = len(check_runs(store_path, definition)[0]) if (store_path / "runs").is_dir() else 0
    return (
        f"sweep interrupted; {kept} of {total} runs are kept in {store_path}: run the same "
        "sweep again with --resume (resume=True) to finish it"
    )


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
    allow_long: bool = False,
    keep: tuple[str, ...] = (),
) -> tuple[list[dict], list[dict]]:
    js = scenario_json(s)
    tasks: list[tuple] = []
    for p, pt in enumerate(points):
        for r in range(replications):
            run_id = p * replications + r
            if run_id not in done:
                task: tuple = (run_id, js, s.source, pt, replication_seed(seed, r))
                tasks.append((*task, keep) if keep else task)
    rows: list[dict] = []
    failures: list[dict] = []
    for task, result, err in execute(
        tasks, ex, f"sweep {s.name}", quiet, fail_fast=False, allow_long=allow_long
    ):
        run_id, _js, _src, pt, run_seed = task[:5]
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
                append_failure(store_path, rec)
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
            if keep:  # the tables first: a run file proves its tables are whole
                rec["tables"] = write_tables(store_path, run_id, width, result["tables"])
            write_run(store_path, rec, width)
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
        write_results(store_path, df)
    return SweepResult(df, fail_df, store_path, definition)
