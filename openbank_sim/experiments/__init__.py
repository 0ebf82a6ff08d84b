"""Many runs: replications, paired comparisons, sweeps with a resumable store, executors and
sensitivity indices. Statistics over runs live here; one run is :func:`openbank_sim.simulate`.

The modules, one job each:

* ``stats``: Student-t intervals, summaries of replications, how many more are needed;
* ``designs``: the points of each design (grid, lhs, sobol, saltelli, morris), by the names
  and over the ranges of :mod:`openbank_sim.spec.ranges` (the one registry of design names
  and the one validated range type, which the scenario's ``[sweep]`` table reads too);
* ``runs``: one simulation per picklable task, on an executor;
* ``replication``: ``replicate`` and ``ReplicationResult``;
* ``comparison``: ``compare`` (paired, common random numbers) and ``CompareResult``;
* ``store``: the resumable result store of a sweep;
* ``sweeps``: ``sweep`` and ``SweepResult``;
* ``executors``: serial | processes | dask behind one interface;
* ``sensitivity``: Sobol / Morris indices of a sweep;
* ``edge``: ``edge`` and ``EdgeResult``, one lever stepped up and back down inside each run,
  measured per step (hysteresis); imported from its module
  (``from openbank_sim.experiments.edge import edge``), whose name it shares;
* ``optimization``: ``optimize``, the best configuration meeting constraints, with a
  certificate; built on ``space`` (the lattice of configurations), ``criteria`` (objective
  and constraints), ``evaluations`` (its runs and store), ``search`` (for large spaces),
  ``selection`` (the statistics of ranking and selection) and ``certificate`` (the
  procedure).

The names below are imported on first use, so importing one module of this package loads no
pandas.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .comparison import CompareResult, compare
    from .designs import sweep_points
    from .executors import MainGuardError
    from .optimization import OptimizeResult, optimize
    from .replication import ReplicationResult, replicate
    from .stats import t_interval
    from .store import StoreError
    from .sweeps import KEEP_TABLES, SweepInterrupted, SweepResult, load_sweep, sweep

__all__ = [
    "KEEP_TABLES",
    "CompareResult",
    "MainGuardError",
    "OptimizeResult",
    "ReplicationResult",
    "StoreError",
    "SweepInterrupted",
    "SweepResult",
    "compare",
    "load_sweep",
    "optimize",
    "replicate",
    "sweep",
    "sweep_points",
    "t_interval",
]

_WHERE = {
    "KEEP_TABLES": ".sweeps",
    "MainGuardError": ".executors",
    "SweepInterrupted": ".sweeps",
    "load_sweep": ".sweeps",
    "CompareResult": ".comparison",
    "OptimizeResult": ".optimization",
    "ReplicationResult": ".replication",
    "StoreError": ".store",
    "SweepResult": ".sweeps",
    "compare": ".comparison",
    "optimize": ".optimization",
    "replicate": ".replication",
    "sweep": ".sweeps",
    "sweep_points": ".designs",
    "t_interval": ".stats",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'openbank_sim.experiments' has no attribute {name!r}")
    value = getattr(import_module(where, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
