"""The runs of an optimization: configuration ``point`` x replication ``slot`` -> KPIs, each run
at most once, within a budget, optionally kept in a resumable result store (the sweep store
format of :mod:`openbank_sim.experiments.store`).

Slot ``r < max_replications`` is replication ``r`` (seed ``replication_seed(seed, r)``, the
same at every configuration: common random numbers). Slots from ``max_replications`` on are
the search's own replications, seeded ``replication_seed(seed, SEARCH_REPLICATION + s)``,
so the statistics on the final candidates never reuse the runs that chose them. A run's id is
``point x stride + slot`` (``stride = max_replications + search_replications``), so a store
names every run the same way whatever order they were asked for in.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..rng import replication_seed
from .executors import Executor
from .runs import run_task
from .space import Space
from .store import append_failure, read_runs, write_run

__all__ = ["SEARCH_REPLICATION", "Evaluations"]

SEARCH_REPLICATION = 1_000_000
"""The replication index of the search's first run (far above any certification replication)."""


class Evaluations:
    """Every run an optimization asked for, in a cache keyed by ``(point, slot)``.

    Args:
        scenario_json, source: the base scenario as a task carries it.
        space: the configurations (``point`` numbers them).
        seed: the base seed.
        max_replications: certification slots per configuration.
        search_replications: search slots per configuration.
        executor: where runs execute.
        budget: most runs the optimization may use (None: no limit); runs found in the
            store count too, so a resumed optimization makes the same decisions.
        store: the result store directory (already checked and opened), or None.
        bar: a progress bar (``update(1)`` per run), or None.
    """

    def __init__(
        self,
        scenario_json: str,
        source: str | None,
        space: Space,
        seed: int,
        max_replications: int,
        search_replications: int,
        executor: Executor,
        budget: int | None,
        store: Path | None,
        bar: Any = None,
    ) -> None:
        self.js = scenario_json
        self.source = source
        self.space = space
        self.seed = seed
        self.max_replications = max_replications
        self.stride = max_replications + search_replications
        self.ex = executor
        self.budget = budget
        self.store = store
        self.bar = bar
        self.width = len(str(space.size * self.stride))
        self.kpis: dict[tuple[int, int], dict[str, float]] = {}
        self.failed: dict[tuple[int, int], str] = {}
        self.used: set[tuple[int, int]] = set()
        self.exhausted = False
        if store is not None:
            for rec in read_runs(store, {})[0]:  # an adaptive store: no fixed grid
                point, slot = divmod(int(rec["run_id"]), self.stride)
                self.kpis[(point, slot)] = rec["kpis"]

    @property
    def runs(self) -> int:
        """Runs used so far (each ``(point, slot)`` once, found in the store or run here)."""
        return len(self.used)

    @property
    def left(self) -> int | None:
        """Runs the budget still allows (None: no limit)."""
        return None if self.budget is None else self.budget - len(self.used)

    def replication(self, slot: int) -> int:
        """The replication index (of :func:`replication_seed`) of ``slot``."""
        if slot < self.max_replications:
            return slot
        return SEARCH_REPLICATION + slot - self.max_replications

    def get(self, point: int, slot: int) -> dict[str, float] | None:
        """The KPIs of a run already used (None if not run, or failed)."""
        return self.kpis.get((point, slot)) if (point, slot) in self.used else None

    def ensure(self, wants: Iterable[tuple[int, int]]) -> bool:
        """Make sure every ``(point, slot)`` of ``wants`` has run, in the order given, as far
        as the budget allows; False when the budget stopped it (and :attr:`exhausted` is
        set)."""
        todo: list[tuple[int, int]] = []
        complete = True
        for key in wants:
            if key in self.used:
                continue
            if self.budget is not None and len(self.used) >= self.budget:
                complete = False
                self.exhausted = True
                break
            self.used.add(key)
            if key in self.kpis:
                if self.bar is not None:
                    self.bar.update(1)
            else:
                todo.append(key)
        if todo:
            self._run(todo)
        return complete

    def _run(self, keys: list[tuple[int, int]]) -> None:
        tasks = []
        for point, slot in keys:
            params = self.space.point(point)
            run_id = point * self.stride + slot
            seed = replication_seed(self.seed, self.replication(slot))
            tasks.append((run_id, self.js, self.source, params, seed))
        for task, result, err in self.ex.imap_unordered(run_task, tasks):
            run_id, _js, _src, params, seed = task
            point, slot = divmod(run_id, self.stride)
            rec: dict[str, Any] = {
                "run_id": run_id,
                "point": point,
                "replication": self.replication(slot),
                "seed": seed,
                "params": params,
            }
            if err is not None:
                self.failed[(point, slot)] = repr(err)
                if self.store is not None:
                    rec["error"] = repr(err)
                    rec["traceback"] = "".join(traceback.format_exception(err))
                    append_failure(self.store, rec)
            else:
                self.kpis[(point, slot)] = result["kpis"]
                if self.store is not None:
                    rec["kpis"] = result["kpis"]
                    rec["wall_s"] = result["wall_s"]
                    write_run(self.store, rec, self.width)
            if self.bar is not None:
                self.bar.update(1)

    def table_rows(self) -> list[dict[str, Any]]:
        """One flat row per run used and finished: ``run_id``, ``point``, ``replication``,
        ``seed``, the parameters and every KPI, in run-id order."""
        rows = []
        for point, slot in sorted(self.used, key=lambda k: k[0] * self.stride + k[1]):
            kpis = self.kpis.get((point, slot))
            if kpis is None:
                continue
            rows.append(
                {
                    "run_id": point * self.stride + slot,
                    "point": point,
                    "replication": self.replication(slot),
                    "seed": replication_seed(self.seed, self.replication(slot)),
                    **self.space.point(point),
                    **kpis,
                }
            )
        return rows
