"""openbank_sim: simulate open banking API cooperation with a SimPy discrete-event model.

>>> from openbank_sim import load_scenario, simulate
>>> results = simulate(load_scenario("ecommerce"), seed=1)
>>> results.kpis["latency_p95_s"]

Experiments (``replicate``, ``compare``, ``sweep``) are imported on first use.
"""

from typing import Any

from .analysis.results import Results
from .errors import ScenarioError
from .simulation import simulate
from .spec.scenario import Scenario, load_scenario

__all__ = [
    "Results",
    "Scenario",
    "ScenarioError",
    "compare",
    "load_scenario",
    "replicate",
    "simulate",
    "sweep",
]

_LAZY = {"replicate", "compare", "sweep"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import experiment

        return getattr(experiment, name)
    raise AttributeError(f"module 'openbank_sim' has no attribute {name!r}")
