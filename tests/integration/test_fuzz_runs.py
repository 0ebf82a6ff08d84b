"""Accepted mutants run: a mutated shipped scenario that loads and passes the feasibility check
also runs, cut down to a day of full traffic with at most 5,000 users a partner
(``scenario_fuzz.short_run``), and ends without an exception other than ScenarioError.

The mutations here are the ones that keep a scenario loadable often (a number scaled or pushed
to an extreme, an edge duration, a key deleted); mutants the reader refuses are not counted
(``test_fuzz.py`` covers them). Derandomized: the same mutants every time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from scenario_fuzz import Mutant, classify, mutants, run_outcome

RUN_OPERATIONS = ("scale", "extreme", "duration", "delete")
EXAMPLES = 40
SECONDS_PER_RUN = 60.0
"""Far above what the cut-down runs take (about a second): a run this long is hanging."""


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_accepted_mutants_run_to_the_end(tmp_path: Path) -> None:
    outcomes: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(mutant=mutants(most=2, operations=RUN_OPERATIONS))
    def run_one(mutant: Mutant) -> None:
        path = tmp_path / "mutant.toml"
        assume(classify(mutant.text(), path).kind == "accepted")
        outcome = run_outcome(path)
        changes = "; ".join(mutant.changes)
        assert outcome.kind != "other", f"{mutant.name}: {changes}\n{outcome.detail}"
        assert outcome.seconds < SECONDS_PER_RUN, (mutant.name, changes, outcome.seconds)
        outcomes.append(outcome.kind)

    run_one()
    assert outcomes.count("accepted") >= EXAMPLES // 2, outcomes
