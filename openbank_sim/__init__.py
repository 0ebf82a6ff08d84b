"""openbank_sim: simulate open banking API cooperation with a SimPy discrete-event model.

>>> from openbank_sim import load_scenario, simulate
>>> results = simulate(load_scenario("ecommerce"), seed=1)
>>> results.kpis["latency_p95_s"]
"""

from .errors import ScenarioError
from .results import Results
from .scenario import Scenario, load_scenario
from .simulation import simulate

__all__ = ["Results", "Scenario", "ScenarioError", "load_scenario", "simulate"]
