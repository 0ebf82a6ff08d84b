"""Many runs: replications, paired comparisons, sweeps with a resumable store, executors and
sensitivity indices. Statistics over runs live here; one run is :func:`openbank_sim.simulate`."""

from . import experiment as _experiment
from .experiment import *  # noqa: F403

__all__ = list(_experiment.__all__)
