"""Many runs: replications, paired comparisons, sweeps with a resumable store, executors and
sensitivity indices. Statistics over runs live here; one run is :func:`openbank_sim.simulate`."""

from .experiment import (
    CompareResult,
    ReplicationResult,
    StoreError,
    SweepResult,
    compare,
    replicate,
    sweep,
    sweep_points,
    t_interval,
)

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
