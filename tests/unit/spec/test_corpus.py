"""Every case of the fuzz corpus (``tests/corpus/*.toml``) gives the ScenarioError its header
states: the dotted key path (``# expect: ScenarioError at PATH``, ``(file)`` for none) and a
fragment of the reason (``# reason: ...``), on one line naming the file, within 2 seconds.
``tests/corpus/README.md`` describes the header."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from openbank_sim import ScenarioError, load_scenario
from openbank_sim.spec.feasibility import check

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
CASES = sorted(CORPUS.glob("*.toml"))
_EXPECT = re.compile(r"# expect: ScenarioError at (\S+)\n")
_REASON = re.compile(r"# reason: (.+)\n")
SECONDS_PER_CASE = 2.0


def _shown(path: str) -> str:
    """``path`` as the header writes it: control characters as Python escapes."""
    return "".join(repr(c)[1:-1] if ord(c) < 0x20 or ord(c) == 0x7F else c for c in path)


def test_the_corpus_has_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_a_corpus_case_gives_its_scenario_error(case: Path) -> None:
    header = case.read_text(encoding="utf-8")
    expect, reason = _EXPECT.search(header), _REASON.search(header)
    assert expect is not None and reason is not None, f"{case.name}: header incomplete"
    path = "" if expect.group(1) == "(file)" else expect.group(1)
    t0 = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        scenario = load_scenario(case)
        check(scenario.spec, file=str(case), raw=scenario.as_dict())
    assert time.perf_counter() - t0 < SECONDS_PER_CASE
    err = info.value
    assert _shown(err.path) == path
    assert reason.group(1) in err.reason
    message = str(err)
    assert message.startswith(f"{case}: ")
    assert "\n" not in message
