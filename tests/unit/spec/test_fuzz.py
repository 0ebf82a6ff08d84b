"""Fuzzing the scenario reader: mutated shipped scenarios load, or fail with one ScenarioError.

Each example is a shipped scenario (``extends`` resolved) with one to three mutations
(``tests/scenario_fuzz.py``: keys deleted, values of other types, numbers at the extremes,
garbage durations, deep nesting, unknown keys, repeated entries), written as TOML to a file.
:func:`load_scenario` and the feasibility check must then accept it or raise
:class:`ScenarioError`, on one line naming the file, within 2 seconds; anything else is a bug.

The examples are derandomized, so the suite tests the same 300 cases every time;
``benchmarks/fuzz_scenarios.py`` runs a larger, random campaign. Cases it finds belong in
``tests/corpus/`` (``test_corpus.py``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from scenario_fuzz import Mutant, base_table, classify, dumps, mutants, shipped_names

from openbank_sim import load_scenario

SECONDS_PER_CASE = 2.0
"""Longest a mutant may take to load and be estimated (they take milliseconds)."""


@pytest.fixture(scope="module")
def mutant_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "mutant.toml"


@pytest.mark.parametrize("name", shipped_names())
def test_the_writer_round_trips_every_shipped_scenario(name: str, tmp_path: Path) -> None:
    table = base_table(name)
    text = dumps(table)
    assert tomllib.loads(text) == table
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    assert load_scenario(path) == load_scenario(name)


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutant=mutants())
def test_a_mutated_scenario_loads_or_fails_with_one_scenario_error(
    mutant: Mutant, mutant_file: Path
) -> None:
    outcome = classify(mutant.text(), mutant_file)
    changes = "; ".join(mutant.changes)
    assert outcome.kind != "other", f"{mutant.name}: {changes}\n{outcome.detail}"
    assert outcome.seconds < SECONDS_PER_CASE, (mutant.name, changes, outcome.seconds)
    if outcome.kind == "refused":
        message = str(outcome.error)
        assert "\n" not in message, message
        assert message.startswith(f"{mutant_file}: "), message
