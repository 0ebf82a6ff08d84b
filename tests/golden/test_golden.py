"""Golden snapshots: every shipped scenario at seed 1 on a short horizon, bit for bit.

A refactor or a speed-up moves none of these numbers. A change that is meant to move them
regenerates them with ``.venv/bin/python -m tests.golden.regenerate`` and says in its commit
message which numbers moved and why.
"""

from __future__ import annotations

import json

import pytest

from .cases import CASES, path_of, snapshot


@pytest.mark.parametrize("name", sorted(CASES))
def test_snapshot_is_unchanged(name: str) -> None:
    path = path_of(name)
    assert path.exists(), f"no snapshot {path.name}; run python -m tests.golden.regenerate {name}"
    expected = json.loads(path.read_text(encoding="utf-8"))
    got = json.loads(json.dumps(snapshot(name), sort_keys=True))
    assert got["kpis"] == expected["kpis"], _diff(expected["kpis"], got["kpis"])
    assert got["tables"] == expected["tables"]


def _diff(expected: dict, got: dict) -> str:
    moved = [
        f"{k}: {expected.get(k)} -> {got.get(k)}" for k in expected if expected[k] != got.get(k)
    ]
    return "KPIs moved:\n" + "\n".join(moved)
