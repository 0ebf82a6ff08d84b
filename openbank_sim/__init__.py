"""openbank_sim: simulate open banking API cooperation with a SimPy discrete-event model.

>>> from openbank_sim import load_scenario, simulate
>>> results = simulate(load_scenario("ecommerce"), seed=1)
>>> results.kpis["latency_p95_s"]

Everything here is imported on first use, so ``import openbank_sim`` loads neither pandas nor
matplotlib (nor SimPy): ``load_scenario`` and ``Scenario`` come from ``spec/``, ``simulate``
runs ``model/`` then ``analysis/``, ``replicate``, ``compare``, ``sweep`` are the
experiments, and ``explore`` is the ipywidgets panel for notebooks.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .analysis.results import Results
    from .errors import ScenarioError
    from .experiments import compare, replicate, sweep
    from .explorer import explore
    from .simulation import simulate
    from .spec.scenario import Scenario, load_scenario

__all__ = [
    "Results",
    "Scenario",
    "ScenarioError",
    "compare",
    "explore",
    "load_scenario",
    "replicate",
    "simulate",
    "sweep",
]

_WHERE = {
    "Results": ".analysis.results",
    "Scenario": ".spec.scenario",
    "ScenarioError": ".errors",
    "load_scenario": ".spec.scenario",
    "simulate": ".simulation",
    "replicate": ".experiments",
    "compare": ".experiments",
    "sweep": ".experiments",
    "explore": ".explorer",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'openbank_sim' has no attribute {name!r}")
    value = getattr(import_module(where, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
