"""``openbank_sim.sensitivity``: Sobol / Morris indices of a sweep under its documented name
(see :mod:`openbank_sim.experiments.sensitivity`)."""

from .experiments.sensitivity import sensitivity

__all__ = ["sensitivity"]
