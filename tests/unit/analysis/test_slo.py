"""Service levels: :func:`openbank_sim.analysis.slo.union_length`, :func:`openbank_sim.analysis.slo.evaluate_slo`
on hand-made inputs, and whole runs built so that the breached periods are known exactly.

Semantics under test (``openbank_sim.analysis.slo``): a period of a partner breaches when a configured
target is missed in it: ``latency_mean`` / ``latency_p95`` of its ok attempts above the target,
``error_rate`` (503, 5xx or timeout over all attempts) above the target, ``availability`` (share
of the period during which every pool the partner calls was up) below the target. Periods are
aligned to t = 0 and clipped to ``[warmup, horizon)``; KPI ``slo_breach_hours`` counts distinct
breached (partner, period) pairs times the period in hours.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openbank_sim import Results, Scenario, simulate
from openbank_sim.analysis.slo import SLO_COLUMNS, evaluate_slo, union_length
from openbank_sim.cli import main
from openbank_sim.histogram import LatencyHistogram
from openbank_sim.spec.schema import SloSpec

HOUR_S = 3600.0
START = pd.Timestamp("2026-01-05")


# --------------------------------------------------------------------------------------------
# union_length
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("intervals", "length"),
    [
        ([], 0.0),
        ([(1.0, 4.0)], 3.0),
        ([(0.0, 2.0), (1.0, 3.0)], 3.0),  # overlapping
        ([(0.0, 10.0), (2.0, 3.0)], 10.0),  # nested
        ([(2.0, 3.0), (0.0, 10.0)], 10.0),  # nested, unsorted
        ([(0.0, 1.0), (1.0, 2.0)], 2.0),  # touching
        ([(5.0, 6.0), (0.0, 1.0), (2.5, 3.0)], 2.5),  # disjoint, unsorted
        ([(0.0, 4.0), (1.0, 2.0), (3.0, 6.0), (7.0, 8.0)], 7.0),
        ([(1.0, 1.0), (2.0, 3.0)], 1.0),  # an empty interval
        ([(0.0, 1.0), (0.0, 1.0), (0.0, 1.0)], 1.0),  # duplicates
    ],
)
def test_union_length_by_hand(intervals: list[tuple[float, float]], length: float) -> None:
    """Lengths of hand-made unions (seconds)."""
    assert union_length(intervals) == length


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 60), st.integers(0, 20)).map(lambda t: (t[0], t[0] + t[1])),
        max_size=12,
    )
)
def test_union_length_matches_a_grid_count(intervals: list[tuple[int, int]]) -> None:
    """With integer end points, the union's length is the number of covered unit cells."""
    covered = np.zeros(100, dtype=bool)
    for a, b in intervals:
        covered[a:b] = True
    assert union_length([(float(a), float(b)) for a, b in intervals]) == covered.sum()


# --------------------------------------------------------------------------------------------
# evaluate_slo on hand-made aggregates
# --------------------------------------------------------------------------------------------


def slo(
    *,
    period_s: float = HOUR_S,
    latency_mean_s: float | None = None,
    latency_p95_s: float | None = None,
    error_rate: float | None = None,
    availability: float | None = None,
) -> SloSpec:
    """An SLO with only the given targets."""
    return SloSpec(period_s, latency_mean_s, latency_p95_s, error_rate, availability)


def histogram(values: list[float]) -> LatencyHistogram:
    """A latency histogram of ``values`` (seconds)."""
    h = LatencyHistogram()
    h.add_many(np.asarray(values, dtype=float))
    return h


def rows(df: pd.DataFrame) -> set[tuple[str, int, str]]:
    """The breaches as (partner, period, metric)."""
    return set(zip(df["partner"], df["period"].astype(int), df["metric"], strict=True))


def test_no_data_no_breach() -> None:
    """No attempts and no down time: an empty table with the documented columns."""
    df = evaluate_slo(
        slo(latency_mean_s=0.1, latency_p95_s=0.1, error_rate=0.0, availability=1.0),
        ["a", "b"],
        {},
        {},
        [[], []],
        (0.0, 10 * HOUR_S),
        START,
    )
    assert list(df.columns) == SLO_COLUMNS
    assert len(df) == 0


def test_error_rate_breaches_strictly_above_the_target() -> None:
    """Keys are ``(period, partner)``; a rate equal to the target is met."""
    counts = {
        (0, 0): [100, 1, 99],  # a, period 0: 1 % = target -> met
        (0, 1): [100, 2, 98],  # b, period 0: 2 % -> breach
        (1, 0): [3, 3, 0],  # a, period 1: 100 % -> breach
        (2, 1): [0, 0, 0],  # b, period 2: no attempts -> not checked
    }
    df = evaluate_slo(
        slo(error_rate=0.01), ["a", "b"], counts, {}, [[], []], (0.0, 3 * HOUR_S), START
    )
    assert rows(df) == {("b", 0, "error_rate"), ("a", 1, "error_rate")}
    by = df.set_index(["partner", "period"])
    assert by.loc[("b", 0), "value"] == 0.02
    assert by.loc[("a", 1), "value"] == 1.0
    assert (df["target"] == 0.01).all()
    assert by.loc[("a", 1), "time"] == START + pd.Timedelta(hours=1)
    assert by.loc[("a", 1), "period_start_s"] == HOUR_S


def test_latency_targets_use_the_ok_histograms() -> None:
    """Mean and p95 of the ok latencies against their targets; periods without ok attempts
    are not checked for latency."""
    fast = [0.1] * 100
    tail = [0.1] * 90 + [2.0] * 10  # mean 0.29 s, p95 2 s
    latency = {(0, 0): histogram(fast), (1, 0): histogram(tail)}
    counts = {(0, 0): [100, 0, 100], (1, 0): [100, 0, 100], (2, 0): [5, 5, 0]}
    df = evaluate_slo(
        slo(latency_mean_s=0.25, latency_p95_s=1.0),
        ["a"],
        counts,
        latency,
        [[]],
        (0.0, 3 * HOUR_S),
        START,
    )
    assert rows(df) == {("a", 1, "latency_mean_s"), ("a", 1, "latency_p95_s")}
    by = df.set_index("metric")
    assert by.loc["latency_mean_s", "value"] == pytest.approx(0.29, rel=1e-12)
    assert by.loc["latency_p95_s", "value"] == pytest.approx(2.0, rel=0.01)
    # a mean exactly at the target is met
    met = evaluate_slo(slo(latency_mean_s=0.1), ["a"], counts, latency, [[]], (0.0, HOUR_S), START)
    assert len(met) == 0


def test_availability_clips_periods_to_the_window_and_unions_pools() -> None:
    """Window [30 min, 3 h 15 min): periods [0.5 h, 1 h), [1 h, 2 h), [2 h, 3 h), [3 h, 3.25 h).
    Down time of two pools overlapping is counted once."""
    down_a = [(1500.0, 1900.0), (4000.0, 4600.0), (4300.0, 4900.0), (11000.0, 12000.0)]
    df = evaluate_slo(
        slo(availability=0.99),
        ["a", "b"],
        {},
        {},
        [down_a, []],
        (1800.0, 11700.0),
        START,
    )
    expected = {
        0: 1.0 - 100.0 / 1800.0,  # (1800, 1900) of [1800, 3600)
        1: 1.0 - 900.0 / 3600.0,  # (4000, 4900) of [3600, 7200)
        3: 1.0 - 700.0 / 900.0,  # (11000, 11700) of [10800, 11700)
    }
    assert rows(df) == {("a", p, "availability") for p in expected}
    for r in df.itertuples():
        assert r.value == pytest.approx(expected[r.period], rel=1e-12)
        assert r.target == 0.99
    assert df.set_index("period").loc[0, "period_start_s"] == 1800.0


def test_availability_at_the_target_is_met() -> None:
    """36 s down in an hour is exactly 99 % available: met; 37 s is a breach."""
    for down_s, breached in ((36.0, False), (37.0, True)):
        df = evaluate_slo(
            slo(availability=0.99),
            ["a"],
            {},
            {},
            [[(100.0, 100.0 + down_s)]],
            (0.0, HOUR_S),
            START,
        )
        assert (len(df) == 1) is breached


def test_targets_not_set_are_not_checked() -> None:
    """Only the configured targets produce rows."""
    counts = {(0, 0): [10, 10, 0]}
    latency = {(0, 0): histogram([5.0])}
    df = evaluate_slo(
        slo(latency_p95_s=1.0),
        ["a"],
        counts,
        latency,
        [[(0.0, HOUR_S)]],
        (0.0, HOUR_S),
        START,
    )
    assert rows(df) == {("a", 0, "latency_p95_s")}


# --------------------------------------------------------------------------------------------
# Whole runs with known breaches
# --------------------------------------------------------------------------------------------


def slo_scenario(
    slo_table: dict[str, Any],
    *,
    outages: dict[str, Any] | None = None,
    slow_ms: int = 200,
    error_rate: float = 0.0,
    sessions_per_user_day: float = 10.0,
    refreshes_per_user_day: float = 2.0,
    horizon: str = "1d",
    warmup: str = "0s",
) -> Scenario:
    """Pools ``flaky`` (optional outages) and ``solid``; partners ``a`` (journey on flaky),
    ``b`` (journey on solid) and ``c`` (journey on solid, refreshes on flaky)."""
    flaky: dict[str, Any] = {"servers": 100}
    if outages is not None:
        flaky["outages"] = outages
    raw: dict[str, Any] = {
        "run": {"horizon": horizon, "warmup": warmup, "record_calls": "all"},
        "bank": {
            "pools": {"flaky": flaky, "solid": {"servers": 100}},
            "products": {
                "ais": {
                    "kind": "account_info",
                    "pool": "flaky",
                    "service_time": {"dist": "constant", "value": f"{slow_ms}ms"},
                    "error_rate": error_rate,
                },
                "pay": {
                    "kind": "payment",
                    "pool": "solid",
                    "service_time": {"dist": "constant", "value": "20ms"},
                },
            },
        },
        "client": {"max_attempts": 1},
        "journeys": {
            "look": {"steps": [{"product": "ais"}]},
            "buy": {"steps": [{"product": "pay"}]},
        },
        "partners": [
            {
                "name": "a",
                "users": 1000,
                "sessions_per_user_day": sessions_per_user_day,
                "journey": "look",
            },
            {
                "name": "b",
                "users": 1000,
                "sessions_per_user_day": sessions_per_user_day,
                "journey": "buy",
            },
            {
                "name": "c",
                "users": 1000,
                "sessions_per_user_day": sessions_per_user_day,
                "journey": "buy",
                "background": {
                    "product": "ais",
                    "per_user_day": refreshes_per_user_day,
                    "share_of_users": 0.5,
                },
            },
        ],
        "slo": slo_table,
    }
    return Scenario(raw)


def constant_outages(
    between_s: float, repair_s: float, until_s: float
) -> list[tuple[float, float]]:
    """Down intervals of a pool up for ``between_s``, then down for ``repair_s``, repeatedly."""
    out, t = [], 0.0
    while t < until_s:
        start = t + between_s
        out.append((start, start + repair_s))
        t = start + repair_s
    return out


def breach_set(results: Results, metric: str) -> set[tuple[str, int]]:
    """The (partner, period) pairs breaching ``metric``."""
    df = results.tables["slo_breaches"]
    df = df[df["metric"] == metric]
    return set(zip(df["partner"], df["period"].astype(int), strict=True))


@pytest.mark.parametrize(
    ("between_min", "repair_min", "target"),
    [(120, 30, 0.995), (100, 25, 0.995), (100, 25, 0.9)],
)
def test_constant_outages_breach_exactly_the_hours_with_down_time(
    between_min: int, repair_min: int, target: float
) -> None:
    """Availability per hour from the known outage schedule: breached hours, their values and
    ``slo_breach_hours``; partner b never calls the flaky pool, c does through its refreshes."""
    horizon_s = 24 * HOUR_S
    scenario = slo_scenario(
        {"period": "1h", "availability": target},
        outages={
            "between": {"dist": "constant", "value": f"{between_min}m"},
            "repair": {"dist": "constant", "value": f"{repair_min}m"},
        },
    )
    results = simulate(scenario, seed=2)
    down = constant_outages(between_min * 60.0, repair_min * 60.0, horizon_s)
    expected: dict[int, float] = {}
    for h in range(24):
        a, b = h * HOUR_S, (h + 1) * HOUR_S
        d = sum(max(0.0, min(y, b) - max(x, a)) for x, y in down)
        if 1.0 - d / HOUR_S < target:
            expected[h] = 1.0 - d / HOUR_S
    assert expected  # the case is not vacuous
    assert breach_set(results, "availability") == {(p, h) for p in ("a", "c") for h in expected}
    table = results.tables["slo_breaches"]
    for r in table.itertuples():
        assert r.value == pytest.approx(expected[r.period], abs=1e-12)
    assert results.kpis["slo_breach_hours"] == 2 * len(expected)
    total_down = sum(min(y, horizon_s) - x for x, y in down if x < horizon_s)
    assert results.kpis["availability"] == pytest.approx(1.0 - total_down / horizon_s, abs=1e-12)
    # partner a's attempts inside the down periods are refused with 503
    calls = results.tables["calls"]
    a = calls[calls["partner"] == "a"]
    inside = np.zeros(len(a), dtype=bool)
    t = a["t_s"].to_numpy()
    for x, y in down:
        inside |= (t >= x) & (t < y)
    assert (a.loc[inside, "outcome"].astype(str) == "overloaded").all()
    assert (a.loc[~inside, "outcome"].astype(str) == "ok").all()


def test_latency_targets_below_the_service_time_breach_every_hour() -> None:
    """A constant 200 ms service time against 100 ms targets: every hour with ok attempts
    breaches both latency targets for partner a; partner b's 20 ms calls never do."""
    scenario = slo_scenario({"period": "1h", "latency_mean": "100ms", "latency_p95": "100ms"})
    results = simulate(scenario, seed=3)
    calls = results.tables["calls"]
    ok = calls[calls["outcome"].astype(str) == "ok"]
    hours_a = set((ok.loc[ok["partner"] == "a", "t_s"] // HOUR_S).astype(int))
    assert hours_a == set(range(24))
    for metric in ("latency_mean_s", "latency_p95_s"):
        got = breach_set(results, metric)
        assert "b" not in {p for p, _ in got}  # b only calls the 20 ms product
        assert {h for p, h in got if p == "a"} == hours_a
    table = results.tables["slo_breaches"]
    a_rows = table[table["partner"] == "a"]
    np.testing.assert_allclose(a_rows["value"], 0.2, rtol=1e-9)  # t + 0.2 - t
    assert results.kpis["slo_breach_hours"] == len(table[["partner", "period"]].drop_duplicates())


def test_latency_breaches_of_a_mixed_partner_follow_its_ok_attempts() -> None:
    """Partner c mixes 20 ms sessions and 200 ms refreshes, about 5 % of its ok attempts:
    per hour, the mean and the share of slow ok attempts in the call table decide its breaches
    (with only two values, the p95 is 200 ms exactly when more than 5 % are slow)."""
    scenario = slo_scenario(
        {"period": "1h", "latency_mean": "29ms", "latency_p95": "100ms"},
        refreshes_per_user_day=1.05,
    )
    results = simulate(scenario, seed=6)
    calls = results.tables["calls"]
    c = calls[(calls["partner"] == "c") & (calls["outcome"].astype(str) == "ok")]
    hour = (c["t_s"] // HOUR_S).astype(int)
    mean = c.groupby(hour)["latency_s"].mean()
    share_slow = c.groupby(hour)["latency_s"].apply(lambda s: float(np.mean(s > 0.1)))
    got_mean = {h for p, h in breach_set(results, "latency_mean_s") if p == "c"}
    got_p95 = {h for p, h in breach_set(results, "latency_p95_s") if p == "c"}
    assert got_mean == set(mean.index[mean > 0.029])
    assert got_p95 == set(share_slow.index[share_slow > 0.05])
    assert 0 < len(got_mean) < 24 and 0 < len(got_p95) < 24  # both discriminate


@pytest.mark.parametrize("target", [0.01, 0.5])
def test_error_rate_breaches_follow_the_call_table(target: float) -> None:
    """A product failing half its attempts (5xx): per hour, failed / total from the call table
    decides the error-rate breaches and their values, exactly."""
    scenario = slo_scenario(
        {"period": "1h", "error_rate": target}, error_rate=0.5, sessions_per_user_day=1.0
    )
    results = simulate(scenario, seed=9)
    calls = results.tables["calls"]
    outcome = calls["outcome"].astype(str)
    failed = outcome.isin(["overloaded", "timeout", "error"])
    key = [calls["partner"].astype(str), (calls["t_s"] // HOUR_S).astype(int)]
    rate = failed.groupby(key).sum() / failed.groupby(key).size()
    expected = {k: v for k, v in rate.items() if v > target}
    if target == 0.01:
        assert {p for p, _ in expected} == {"a", "c"}
        assert len([k for k in expected if k[0] == "a"]) == 24
    else:
        assert 0 < len(expected) < 48  # some hours breach, some do not
    assert breach_set(results, "error_rate") == set(expected)
    table = results.tables["slo_breaches"]
    for r in table.itertuples():
        assert r.value == expected[(r.partner, r.period)]
    assert results.kpis["slo_breach_hours"] == len(expected)


def test_slo_breach_hours_scale_with_the_period() -> None:
    """A 2 h period: breached (partner, period) pairs count 2 hours each."""
    scenario = slo_scenario(
        {"period": "2h", "availability": 0.995},
        outages={
            "between": {"dist": "constant", "value": "5h"},
            "repair": {"dist": "constant", "value": "1h"},
        },
    )
    results = simulate(scenario, seed=1)
    # down (5, 6), (11, 12), (17, 18), (23, 24) h: periods 2, 5, 8, 11
    assert breach_set(results, "availability") == {
        (p, k) for p in ("a", "c") for k in (2, 5, 8, 11)
    }
    assert results.kpis["slo_breach_hours"] == 2 * 4 * 2.0


def test_no_slo_no_table() -> None:
    """Without [slo] there is no breach table and no breach hours."""
    raw = slo_scenario({}).as_dict()
    del raw["slo"]
    results = simulate(Scenario(raw), seed=1)
    assert "slo_breaches" not in results.tables
    assert results.kpis["slo_breach_hours"] == 0.0


# --------------------------------------------------------------------------------------------
# The command line prints the worst breaches
# --------------------------------------------------------------------------------------------

CLI_SCENARIO = """\
name = "slo_check"

[run]
horizon = "12h"
seed = 4

[bank.pools.core]
servers = 20
outages = { between = { dist = "constant", value = "2h" }, repair = { dist = "constant", value = "30m" } }

[bank.products.ais]
kind = "account_info"
pool = "core"
service_time = { dist = "constant", value = "300ms" }

[journeys.look]
steps = [{ product = "ais" }]

[[partners]]
name = "agg"
users = 1000
sessions_per_user_day = 5.0
journey = "look"

[slo]
period = "1h"
latency_p95 = "250ms"
availability = 0.995
"""


def test_run_prints_the_worst_breaches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``openbank-sim run FILE`` prints the KPI table, then ``[slo] N breach(es); worst:`` and
    the five largest misses (availability 0.5 against 0.995 is the worst); ``--json`` does not."""
    path = tmp_path / "slo_check.toml"
    path.write_text(CLI_SCENARIO, encoding="utf-8")
    results = simulate(path)
    n = len(results.tables["slo_breaches"])
    assert n == 12 + 4  # every hour misses p95 (0.3 s); 4 hours contain down time
    assert results.kpis["slo_breach_hours"] == 12.0  # distinct hours

    assert main(["run", str(path), "--quiet"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    i = lines.index(f"[slo] {n} breach(es); worst:")
    worst = lines[i + 1 : i + 6]
    assert len(worst) == 5
    assert i + 6 == len(lines)
    assert all(line.split()[0] == "agg" for line in worst)
    assert [line.split()[3] for line in worst[:4]] == ["availability"] * 4
    assert worst[0].split()[4:] == ["0.5", "(target", "0.995)"]
    assert worst[4].split()[3] == "latency_p95_s"

    assert main(["run", str(path), "--json"]) == 0
    assert "[slo]" not in capsys.readouterr().out

    proc = subprocess.run(
        [sys.executable, "-m", "openbank_sim", "run", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"[slo] {n} breach(es); worst:" in proc.stdout
