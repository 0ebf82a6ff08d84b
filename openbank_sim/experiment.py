"""``openbank_sim.experiment``: the experiments API under its documented name (see
:mod:`openbank_sim.experiments`)."""

from . import experiments as _experiments
from .experiments import *  # noqa: F403

__all__ = list(_experiments.__all__)
