"""A fuzz campaign on the scenario reader, larger than the test suite's.

Mutates the shipped scenarios as ``tests/unit/spec/test_fuzz.py`` does (``tests/scenario_fuzz.py``:
keys deleted, values of other types, numbers at the extremes, garbage durations, deep nesting,
unknown keys, repeated entries), loads each mutant with ``load_scenario`` plus the feasibility
check, then runs up to ``--runs`` of the accepted ones cut down to a day
(``tests/integration/test_fuzz_runs.py``). Prints the counts: tried, accepted, refused with a
clean ScenarioError, anything else (a bug: must be 0), and the slowest case. Exits 1 when
anything else happened or a case took longer than 2 seconds to load.

Usage::

    .venv/bin/python benchmarks/fuzz_scenarios.py --examples 5000 --seed 1
    .venv/bin/python benchmarks/fuzz_scenarios.py --examples 500 --runs 0 --save found/
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from scenario_fuzz import Mutant, classify, mutants, run_outcome

SECONDS_PER_CASE = 2.0


def campaign(examples: int, seed: int, runs: int, save: Path | None) -> int:
    """Run the campaign; print the counts; return the exit code."""
    work = Path(tempfile.mkdtemp(prefix="fuzz_scenarios."))
    counts: Counter[str] = Counter()
    run_counts: Counter[str] = Counter()
    slowest = (0.0, "")
    slowest_run = (0.0, "")
    failures: list[tuple[Mutant, str, str]] = []

    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(mutant=mutants())
    def one(mutant: Mutant) -> None:
        nonlocal slowest, slowest_run
        path = work / "mutant.toml"
        text = mutant.text()
        outcome = classify(text, path)
        counts[outcome.kind] += 1
        what = f"{mutant.name}: {'; '.join(mutant.changes)}"
        if outcome.seconds > slowest[0]:
            slowest = (outcome.seconds, what)
        if outcome.kind == "refused" and "\n" in str(outcome.error):
            counts["multi-line error"] += 1
            failures.append((mutant, text, f"a ScenarioError of several lines: {outcome.error}"))
        if outcome.seconds > SECONDS_PER_CASE:
            counts["slower than 2 s"] += 1
            failures.append((mutant, text, f"took {outcome.seconds:.1f} s"))
        if outcome.kind == "other":
            failures.append((mutant, text, outcome.detail))
        if outcome.kind == "accepted" and sum(run_counts.values()) < runs:
            ran = run_outcome(path)
            run_counts[ran.kind] += 1
            if ran.seconds > slowest_run[0]:
                slowest_run = (ran.seconds, what)
            if ran.kind == "other":
                failures.append((mutant, text, f"the short run failed:\n{ran.detail}"))

    t0 = time.perf_counter()
    one()
    wall = time.perf_counter() - t0
    tried = counts["accepted"] + counts["refused"] + counts["other"]
    print(f"seed {seed}: {tried} mutants tried in {wall:.0f} s")
    print(f"  accepted (loaded, feasible):  {counts['accepted']}")
    print(f"  refused with a ScenarioError: {counts['refused']}")
    print(f"  anything else:                {counts['other']}")
    print(f"  errors of several lines:      {counts['multi-line error']}")
    print(f"  slower than {SECONDS_PER_CASE:g} s:              {counts['slower than 2 s']}")
    print(f"  slowest: {slowest[0]:.2f} s ({slowest[1][:100]})")
    if runs:
        print(
            f"short runs of accepted mutants: {sum(run_counts.values())}: "
            f"{run_counts['accepted']} finished, {run_counts['refused']} refused with a "
            f"ScenarioError, {run_counts['other']} anything else; slowest "
            f"{slowest_run[0]:.2f} s ({slowest_run[1][:80]})"
        )
    for mutant, _text, detail in failures[:5]:
        print(f"\n--- {mutant.name}: {'; '.join(mutant.changes)}\n{detail.strip()[-2000:]}")
    if save is not None and failures:
        save.mkdir(parents=True, exist_ok=True)
        for i, (mutant, text, detail) in enumerate(failures):
            head = "".join(f"# {line}\n" for line in [*mutant.changes, *detail.splitlines()[-3:]])
            (save / f"case_{i:03d}.toml").write_text(head + text, encoding="utf-8")
        print(f"\n{len(failures)} failing cases written to {save}/")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000, help="mutants to try")
    parser.add_argument("--seed", type=int, default=1, help="the campaign's random seed")
    parser.add_argument(
        "--runs", type=int, default=200, help="accepted mutants to run, cut down to a day"
    )
    parser.add_argument("--save", type=Path, help="write failing cases here as TOML files")
    args = parser.parse_args(argv)
    return campaign(args.examples, args.seed, args.runs, args.save)


if __name__ == "__main__":
    sys.exit(main())
