"""``openbank_sim.experiment``: the experiments API under its documented name (see
:mod:`openbank_sim.experiments`)."""

from .experiments import (
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
