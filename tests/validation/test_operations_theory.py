"""Operations of a backend pool against theory: outages, published availability, schedules.

Scenarios are built as dicts: one API partner with a flat profile and a one-step journey calling
one product on one pool, no gateway features (no auth, limits or overhead) and the default
client (one attempt, no timeout), so each session makes one attempt at its start time, the pool
sees it at that same time (``calls.t_s``) and sessions are a Poisson process of rate
``users * sessions_per_user_day / 86400`` per second. Statistical statements use R independent
replications (different seeds) and a 99% Student-t interval that must contain the theory value
and be narrow, its half width below a stated fraction of that value (an absolute bound where
the value is 0; :func:`theory.assert_covers`); exact statements (the 503s of a
known down period, the bookkeeping of :class:`~openbank_sim.model.bank.BackendPool`) are checked
on every replication or by hand-computed unit cases with no SimPy.

Covered: availability with exponential up and down times (``MTBF / (MTBF + MTTR)``); the 503 of
every arrival while a pool is down (constant up and down times, so the down periods are known);
availability as banks publish it (C-UK-8) against a reference computed from the call log; mean
queue wait per capacity period of a schedule against Erlang C; utilization under a schedule; and
unit cases of ``capacity_steps``, ``BackendPool.admit`` around capacity changes, ``Outages`` and
the recorder's published-downtime runs across flushes.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from theory import assert_covers, mmc_wq_s, replicate, single_pool_scenario, t_interval

from openbank_sim import Results, Scenario
from openbank_sim.model.bank import REJECTED, BackendPool, Outages, capacity_steps
from openbank_sim.model.recorder import (
    OUTCOME_NAMES,
    PUBLISHED_NO_ANSWER_S,
    PUBLISHED_RUN,
    Recorder,
    RecorderLayout,
)
from openbank_sim.spec.schema import ScheduleEntry

CONFIDENCE = 0.99
START = dt.date(2026, 1, 5)  # run.start's default, a Monday; t = 0 is its midnight
HOUR_S = 3600.0


pool_scenario = single_pool_scenario


def window_of(scenario: Scenario) -> tuple[float, float]:
    """The measurement window ``(warmup_s, horizon_s)``."""
    run = scenario.spec.run
    return run.warmup_s, run.horizon_s


def core(results: Results) -> pd.Series:
    """The ``by_pool`` row of pool ``core``."""
    return results.tables["by_pool"].set_index("pool").loc["core"]


# --------------------------------------------------------------------------------------------
# 1. Availability with exponential up and down times
# --------------------------------------------------------------------------------------------

MTBF_S = 2.0 * HOUR_S
MTTR_S = 20.0 * 60.0
# Power: each interval's half width must be below a stated fraction of the theory value, set at
# about 1.5-2x the relative half width the seeded replications give (noted as "seen").
AVAILABILITY_MAX_REL_HALF_WIDTH = 0.015  # of A, seen 0.0089
REFUSED_MAX_REL_HALF_WIDTH = 0.1  # of 1 - A, seen 0.057


def test_availability_matches_mtbf_over_mtbf_plus_mttr() -> None:
    """KPI ``availability`` and ``by_pool.availability`` estimate ``MTBF / (MTBF + MTTR)``.

    Theory: an alternating renewal process with mean up time MTBF and mean down time MTTR is
    up a long-run share ``A = MTBF / (MTBF + MTTR)`` of the time (2 h and 20 min: A = 6/7); the
    process starts up at t = 0 and forgets it at rate ``1/MTBF + 1/MTTR`` (3.5 per hour), so a
    2 h warm-up leaves no bias worth the name. By PASTA, Poisson arrivals find the pool down
    with probability ``1 - A``, and every one of them gets 503.
    """
    outages = {
        "between": {"dist": "exponential", "mean": "2h"},
        "repair": {"dist": "exponential", "mean": "20m"},
    }
    scenario = pool_scenario({"servers": 4, "outages": outages}, 0.005, 0.1, "30d", "2h")
    runs = replicate(scenario, 6100, 16)
    theory = MTBF_S / (MTBF_S + MTTR_S)
    for r in runs:
        assert core(r)["availability"] == r.kpis["availability"]  # the only pool
    avail = t_interval([r.kpis["availability"] for r in runs], CONFIDENCE)
    assert_covers(avail, theory, max_rel_half_width=AVAILABILITY_MAX_REL_HALF_WIDTH, label="A")
    pool_avail = t_interval([core(r)["availability"] for r in runs], CONFIDENCE)
    assert_covers(
        pool_avail,
        theory,
        max_rel_half_width=AVAILABILITY_MAX_REL_HALF_WIDTH,
        label="A (by_pool)",
    )
    refused = t_interval(
        [r.kpis["calls_overloaded"] / r.kpis["calls_total"] for r in runs], CONFIDENCE
    )
    # power relative to 1 - A, the share being estimated (relative to A it would be 6x looser)
    assert_covers(
        refused,
        1.0 - theory,
        max_rel_half_width=REFUSED_MAX_REL_HALF_WIDTH,
        label="503 share 1 - A",
    )


# --------------------------------------------------------------------------------------------
# 2. Every arrival while down gets 503 (constant up and down times: known down periods)
# --------------------------------------------------------------------------------------------

UP_S = HOUR_S  # between = constant 1h
DOWN_S = 600.0  # repair = constant 10m
CONSTANT_OUTAGES = {
    "between": {"dist": "constant", "value": "1h"},
    "repair": {"dist": "constant", "value": "10m"},
}
OUTAGE_RATE_PER_S = 0.25
OUTAGE_SERVICE_S = 2.0  # long enough that work is often in service when an outage starts


def down_periods(until_s: float) -> list[tuple[float, float]]:
    """The down periods ``[1h, 1h10m), [2h10m, 2h20m), ...`` that start before ``until_s``."""
    cycle = UP_S + DOWN_S
    return [
        (UP_S + k * cycle, UP_S + k * cycle + DOWN_S)
        for k in range(int(until_s // cycle) + 1)
        if UP_S + k * cycle < until_s
    ]


def is_down(t_s: np.ndarray) -> np.ndarray:
    """Whether the pool is down at each time (down periods are half-open ``[start, end)``)."""
    phase = np.mod(t_s - UP_S, UP_S + DOWN_S)
    return (t_s >= UP_S) & (phase < DOWN_S)


def exact_availability(t0: float, t1: float) -> float:
    """1 - (down time inside ``[t0, t1)``) / (t1 - t0), for the constant outages."""
    down = sum(max(0.0, min(b, t1) - max(a, t0)) for a, b in down_periods(t1))
    return 1.0 - down / (t1 - t0)


@pytest.fixture(scope="module")
def constant_outage_runs() -> tuple[Scenario, list[Results]]:
    """Eight one-day runs, warm-up 30 min (no down period in it), 0.25 arrivals/s, M/M/4."""
    scenario = pool_scenario(
        {"servers": 4, "outages": CONSTANT_OUTAGES},
        OUTAGE_RATE_PER_S,
        OUTAGE_SERVICE_S,
        "1d",
        "30m",
        record_calls=True,
    )
    return scenario, replicate(scenario, 6200, 8)


def test_every_arrival_while_down_gets_503(
    constant_outage_runs: tuple[Scenario, list[Results]],
) -> None:
    """An attempt is ``overloaded`` exactly when it arrives inside a down period.

    Down periods are ``[1h + k 70m, 1h10m + k 70m)``. No queue limit, so nothing else answers
    503. Work admitted before an outage completes through it (ok, not interrupted). KPI
    ``availability`` and ``by_pool.availability`` equal the share of ``[warmup, horizon)``
    outside the down periods exactly, and ``by_pool.rejected_while_down`` counts the arrivals
    inside them (here all of them fall in the window: no down period in the warm-up and no
    attempt after the horizon).
    """
    scenario, runs = constant_outage_runs
    t0, t1 = window_of(scenario)
    exact = exact_availability(t0, t1)
    through = 0
    for r in runs:
        calls = r.tables["calls"]
        t = calls["t_s"].to_numpy()
        refused = (calls["outcome"] == "overloaded").to_numpy()
        down = is_down(t)
        assert down.sum() > 0
        np.testing.assert_array_equal(refused, down)
        assert calls["wait_s"].isna().to_numpy().tolist() == down.tolist()
        assert (calls.loc[~down, "outcome"] == "ok").all()
        inside = (t >= t0) & (t < t1)
        assert inside[down].all()  # so the pool's all-run count and the window's agree here
        pool = core(r)
        assert pool["rejected_while_down"] == down.sum()
        assert pool["rejected"] == down.sum() == r.kpis["calls_overloaded"]
        assert r.kpis["availability"] == pytest.approx(exact, rel=1e-12)
        assert pool["availability"] == pytest.approx(exact, rel=1e-12)
        # admitted just before an outage starts, still in service when it does: completes ok
        end = t + calls["latency_s"].to_numpy()
        starts = np.array([a for a, _ in down_periods(t1)])
        k = np.searchsorted(starts, t, side="right")  # first outage start after t
        nxt = np.where(k < starts.size, starts[np.minimum(k, starts.size - 1)], np.inf)
        spans = ~down & (end > nxt)
        through += int(spans.sum())
    assert through > 0, "no attempt was in service when an outage began"


def test_rejected_while_down_counts_the_measurement_window() -> None:
    """``by_pool.rejected_while_down`` counts 503s of arrivals in ``[warmup, horizon)`` only.

    The warm-up (1h30m) contains the first down period ``[1h, 1h10m)``; the 503s of that
    period belong to the warm-up like every other call of it, so the column must equal the
    arrivals inside down periods within the window, which here are all of ``rejected``.
    """
    scenario = pool_scenario(
        {"servers": 4, "outages": CONSTANT_OUTAGES}, 0.5, 0.1, "6h", "1h30m", record_calls=True
    )
    t0, t1 = window_of(scenario)
    for r in replicate(scenario, 6300, 2):
        t = r.tables["calls"]["t_s"].to_numpy()
        in_window_down = int((is_down(t) & (t >= t0) & (t < t1)).sum())
        pool = core(r)
        assert pool["rejected"] == in_window_down
        assert pool["rejected_while_down"] == in_window_down


# --------------------------------------------------------------------------------------------
# 3. Availability as banks publish it (C-UK-8)
# --------------------------------------------------------------------------------------------


# absolute (a share of the window): the theory value of the difference is 0 (seen 5.0e-4)
PUBLISHED_MAX_ABS_HALF_WIDTH = 8e-4


def published_downtime_s(
    t_s: np.ndarray, outcome: Sequence[str], latency_s: np.ndarray, horizon_s: float
) -> float:
    """Down time by the C-UK-8 rule, computed straight from a call log (seconds).

    A request fails when its outcome is ``overloaded``, ``error`` or ``timeout`` or it took
    longer than 30 s; a down period runs from the arrival of the first of at least 5
    consecutive failed requests (in arrival order) to the arrival of the next request that did
    not fail, or to the horizon when none follows.
    """
    order = np.argsort(t_s, kind="stable")
    t = np.asarray(t_s)[order]
    out = np.asarray(outcome, dtype=object)[order]
    lat = np.asarray(latency_s)[order]
    failed = np.isin(out, ["overloaded", "error", "timeout"]) | (lat > PUBLISHED_NO_ANSWER_S)
    total, i, n = 0.0, 0, t.size
    while i < n:
        if not failed[i]:
            i += 1
            continue
        j = i
        while j < n and failed[j]:
            j += 1
        if j - i >= PUBLISHED_RUN:
            total += (t[j] if j < n else horizon_s) - t[i]
        i = j
    return total


def test_published_availability_matches_the_c_uk_8_rule(
    constant_outage_runs: tuple[Scenario, list[Results]],
) -> None:
    """``availability_published`` equals the C-UK-8 rule applied to the call log, and is an
    unbiased, slightly noisy estimate of the true availability.

    Reference: the rule of :func:`published_downtime_s` on the attempts arriving in
    ``[warmup, horizon)``, ``1 - downtime / (horizon - warmup)``.

    Why it differs a little from ``availability``: a published down period starts at the first
    failed request, which arrives ``D1 ~ Exp(lam)`` after the outage begins, and ends at the next
    answered request, ``D2 ~ Exp(lam)`` after it ends (Poisson arrivals, memoryless); each
    outage is counted ``600 s - D1 + D2``, on average exactly 600 s, so the difference
    ``published - availability`` has mean 0 and a standard deviation of about
    ``sqrt(2 n) / lam / window`` for n outages (here about 3e-4). With every outage holding
    some 150 requests, none is missed for want of 5 consecutive failures, and no answer is
    slower than 30 s.
    """
    scenario, runs = constant_outage_runs
    t0, t1 = window_of(scenario)
    exact = exact_availability(t0, t1)
    diffs = []
    for r in runs:
        calls = r.tables["calls"]
        t = calls["t_s"].to_numpy()
        keep = (t >= t0) & (t < t1)
        down_s = published_downtime_s(
            t[keep],
            calls["outcome"].astype(str).to_numpy()[keep],
            calls["latency_s"].to_numpy()[keep],
            t1,
        )
        reference = 1.0 - down_s / (t1 - t0)
        published = r.kpis["availability_published"]
        assert published == pytest.approx(reference, rel=1e-12, abs=1e-12)
        assert abs(published - exact) < 2e-3  # 20 outages, each off by a few interarrivals
        diffs.append(published - exact)
    diff = t_interval(diffs, CONFIDENCE)
    # theory value 0: an absolute bound on the half width, small against the share of down time
    # being published (about 1/7)
    assert_covers(
        diff,
        0.0,
        max_abs_half_width=PUBLISHED_MAX_ABS_HALF_WIDTH,
        label="published - exact availability",
    )


def test_published_downtime_runs_carry_across_recorder_flushes() -> None:
    """The recorder's streaming C-UK-8 runs give the reference's downtime whatever the flush size.

    A synthetic arrival-ordered stream with failed runs of 1 to 9 requests (shorter than 5 do
    not count), failures of every kind (503, 5xx, timeout, an ok slower than 30 s) and a run
    still open at the horizon, fed with flushes every 1, 3, 7 and 10^6 attempts.
    """
    gen = np.random.default_rng(42)
    horizon_s = 2000.0
    t_list: list[float] = []
    out_list: list[int] = []
    lat_list: list[float] = []
    t = 0.0
    while True:
        t += float(gen.exponential(1.0))
        if t >= horizon_s:
            break
        t_list.append(t)
        out_list.append(0)
        lat_list.append(0.1)
    n = len(t_list)
    i = 10
    while i < n - 20:  # plant failed runs of random lengths, with random kinds of failure
        length = int(gen.integers(1, 10))
        for j in range(i, min(i + length, n)):
            kind = int(gen.integers(0, 4))
            out_list[j], lat_list[j] = [(2, 0.0), (4, 0.2), (3, 30.0), (0, 31.0)][kind]
        i += length + int(gen.integers(1, 40))
    for j in range(n - 7, n):  # a run still open at the horizon
        out_list[j], lat_list[j] = 2, 0.0
    names = [OUTCOME_NAMES[o] for o in out_list]
    reference = published_downtime_s(np.array(t_list), names, np.array(lat_list), horizon_s)
    assert reference > 0.0
    for flush_every in (1, 3, 7, 1_000_000):
        layout = RecorderLayout(1, 1, 1, (0,), (0.0,), 0.0, horizon_s, HOUR_S)
        rec = Recorder(layout, flush_every=flush_every)
        for tt, o, lat in zip(t_list, out_list, lat_list, strict=True):
            rec.attempt(tt, 0, o, lat, 0.0 if o != 2 else -1.0, 0.0)
        rec.flush()
        assert rec.published_downtime() == pytest.approx(reference, rel=1e-12), flush_every


# --------------------------------------------------------------------------------------------
# 4 and 6. A capacity schedule: Erlang C per period, utilization = busy / capacity-seconds
# --------------------------------------------------------------------------------------------

PERIOD_H = 3  # four stationary periods of 3 h: c = 2, 4, 2, 4
SCHEDULE_LAM = 1.5  # arrivals per second
SCHEDULE_SERVICE_S = 1.0
SCHEDULE_DISCARD_S = 1800.0  # the start of each period, while the queue settles
SCHEDULE_WARMUP_H = 3  # the by_pool window [3h, 12h): capacity 4, 2, 4
# power, as fractions of the theory values (about 1.5-2x the relative half width seen)
SCHEDULE_MAX_REL_HALF_WIDTH_WQ = {2: 0.12, 4: 0.15}  # by the period's workers, seen 0.072, 0.086
SCHEDULE_MAX_REL_HALF_WIDTH_LOAD = 0.012  # utilization and mean busy workers, seen 0.0074


def capacity_of_period(k: int) -> int:
    """Workers in the k-th 3 h period of the schedule scenario."""
    return 2 if k % 2 == 0 else 4


@pytest.fixture(scope="module")
def schedule_runs() -> tuple[Scenario, list[Results]]:
    """Ten 12 h runs of M/M/c with c = 2, raised to 4 in [3h, 6h) and [9h, 12h).

    The first raise is a recurring ``MM-DDTHH:MM`` entry (it recurs every year, not every day,
    so a daily window over several days needs one entry per day), the second a one-off ISO
    datetime. lam = 1.5/s, E[S] = 1 s: rho = 0.75 with 2 workers, 0.375 with 4.
    """
    pool = {
        "servers": 2,
        "schedule": [
            {"from": "01-05T03:00", "to": "01-05T06:00", "servers": 4},
            {"from": "2026-01-05T09:00", "to": "2026-01-05T12:00", "servers": 4},
        ],
    }
    scenario = pool_scenario(
        pool,
        SCHEDULE_LAM,
        SCHEDULE_SERVICE_S,
        f"{4 * PERIOD_H}h",
        f"{SCHEDULE_WARMUP_H}h",
        record_calls=True,
    )
    return scenario, replicate(scenario, 6400, 10)


@pytest.mark.slow
def test_schedule_mean_wait_per_period_matches_erlang_c(
    schedule_runs: tuple[Scenario, list[Results]],
) -> None:
    """Each period's mean queue wait estimates Erlang C's Wq for that period's workers.

    Theory (a = lam E[S] = 1.5 Erlang): ``B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1))``,
    ``C = B(c) / (1 - rho (1 - B(c)))``, ``Wq = C E[S] / (c (1 - rho))``: 1.2857 s with c = 2,
    0.029834 s with c = 4. Periods last 3 h (over 100 relaxation times of M/M/2 at rho = 0.75);
    waits of attempts arriving in the first 30 min of a period are discarded.
    """
    _, runs = schedule_runs
    period_s = PERIOD_H * HOUR_S
    means: dict[int, list[float]] = {2: [], 4: []}
    for r in runs:
        calls = r.tables["calls"]
        assert (calls["outcome"] == "ok").all()
        t = calls["t_s"].to_numpy()
        wait = calls["wait_s"].to_numpy()
        period = np.floor(t / period_s).astype(int)
        settled = t - period * period_s >= SCHEDULE_DISCARD_S
        caps = np.where(period % 2 == 0, 2, 4)
        for c in (2, 4):
            means[c].append(float(wait[settled & (caps == c)].mean()))
    for c in (2, 4):
        theory = mmc_wq_s(c, SCHEDULE_LAM, SCHEDULE_SERVICE_S)
        model = t_interval(means[c], CONFIDENCE)
        assert_covers(
            model,
            theory,
            max_rel_half_width=SCHEDULE_MAX_REL_HALF_WIDTH_WQ[c],
            label=f"c = {c}: Erlang C Wq (s)",
        )


@pytest.mark.slow
def test_schedule_capacity_changes_at_the_exact_second(
    schedule_runs: tuple[Scenario, list[Results]],
) -> None:
    """In the whole model, starts never exceed the capacity of the moment, and at a raise the
    waiting attempts start at exactly the scheduled second.

    From the call log: ``start = t_s + wait_s`` and ``end = t_s + latency_s`` (exact in
    floating point here). At every start, the attempts in service (itself included) are at
    most the capacity then; at each raise T (3h, 9h) the attempts that arrived before T and
    still waited start at T, as many as the new capacity leaves room for. After the cut at 6h
    up to 4 may still be in service, but no attempt starts unless fewer than 2 others are
    (the first check, with itself counted).
    """
    _, runs = schedule_runs
    times = [0.0, 3 * HOUR_S, 6 * HOUR_S, 9 * HOUR_S, 12 * HOUR_S]
    caps = [2, 4, 2, 4, 2]
    raised = 0
    for r in runs:
        calls = r.tables["calls"]
        t = calls["t_s"].to_numpy()
        start = t + calls["wait_s"].to_numpy()
        end = t + calls["latency_s"].to_numpy()
        s_sorted, e_sorted = np.sort(start), np.sort(end)
        busy = np.searchsorted(s_sorted, start, "right") - np.searchsorted(e_sorted, start, "right")
        cap_at = np.array(caps)[np.searchsorted(times, start, "right") - 1]
        assert (busy <= cap_at).all()
        for raise_s, old, new in ((3 * HOUR_S, 2, 4), (9 * HOUR_S, 2, 4)):
            before = int((start < raise_s).sum() - (end < raise_s).sum())  # busy just before
            waiting = int(((t < raise_s) & (start >= raise_s)).sum())
            assert before <= old
            if before < old:  # work conserving: nobody waits while a worker is idle
                assert waiting == 0
            expected = min(waiting, new - before) if before == old else 0
            assert int((start == raise_s).sum()) == expected
            raised += expected
    assert raised > 0, "no attempt was waiting at a capacity raise"


@pytest.mark.slow
def test_schedule_utilization_is_busy_over_capacity_seconds(
    schedule_runs: tuple[Scenario, list[Results]],
) -> None:
    """``by_pool.utilization`` = busy worker-seconds / capacity worker-seconds of the window.

    Window [3h, 12h): capacity 4, 2, 4 for 3 h each, 30 worker-hours, a time-average capacity of
    10/3. Theory: mean busy workers ``lam E[S] = 1.5`` (nothing is lost; transients at the
    changes are short), utilization ``lam E[S] / (10/3) = 0.45``. Exactly, per run:
    ``utilization * capacity-seconds = mean_busy_servers * (horizon - warmup)``.
    """
    scenario, runs = schedule_runs
    t0, t1 = window_of(scenario)
    cap_seconds = sum(
        capacity_of_period(k)
        * max(0.0, min((k + 1) * PERIOD_H * HOUR_S, t1) - max(k * PERIOD_H * HOUR_S, t0))
        for k in range(4)
    )
    assert cap_seconds == 30 * HOUR_S
    for r in runs:
        pool = core(r)
        assert pool["utilization"] * cap_seconds == pytest.approx(
            pool["mean_busy_servers"] * (t1 - t0), rel=1e-12
        )
    offered = SCHEDULE_LAM * SCHEDULE_SERVICE_S
    theory = offered / (cap_seconds / (t1 - t0))
    util = t_interval([core(r)["utilization"] for r in runs], CONFIDENCE)
    assert_covers(
        util, theory, max_rel_half_width=SCHEDULE_MAX_REL_HALF_WIDTH_LOAD, label="utilization"
    )
    busy = t_interval([core(r)["mean_busy_servers"] for r in runs], CONFIDENCE)
    assert_covers(
        busy, offered, max_rel_half_width=SCHEDULE_MAX_REL_HALF_WIDTH_LOAD, label="busy workers"
    )


# --------------------------------------------------------------------------------------------
# 5. Unit cases with no SimPy: capacity_steps, BackendPool.admit, Outages
# --------------------------------------------------------------------------------------------


def secs(when: str, start: dt.date = START) -> float:
    """Seconds from ``start``'s midnight to the ISO datetime ``when``."""
    return (dt.datetime.fromisoformat(when) - dt.datetime.combine(start, dt.time())).total_seconds()


def recurring(a: tuple[int, int, int, int], b: tuple[int, int, int, int], n: int) -> ScheduleEntry:
    """A recurring (every year) schedule entry."""
    return ScheduleEntry(a, b, n, True)


def once(a: str, b: str, n: int) -> ScheduleEntry:
    """A one-off schedule entry."""
    return ScheduleEntry(dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b), n, False)


def test_capacity_steps_of_a_recurring_entry_parsed_from_a_scenario() -> None:
    """``01-05T12:00 -> 01-05T18:00`` recurs every year (12:00-18:00 of every 5 January)."""
    scenario = pool_scenario(
        {"servers": 4, "schedule": [{"from": "01-05T12:00", "to": "01-05T18:00", "servers": 8}]},
        1.0,
        0.1,
        "400d",
        "0s",
    )
    pool = scenario.spec.bank.pools["core"]
    assert pool.schedule == (recurring((1, 5, 12, 0), (1, 5, 18, 0), 8),)
    times, caps = capacity_steps(4, pool.schedule, START, scenario.spec.run.horizon_s)
    # every year from the year before the start to the year after the horizon (2027-02-09)
    years = (2026, 2027, 2028)
    assert times == [
        0.0,
        *(secs(f"{y}-01-05T{h}:00") for y in years for h in ("12", "18")),
    ]
    assert caps == [4, *([8, 4] * len(years))]


def test_capacity_steps_wrap_the_year_end() -> None:
    """``12-31T22:00 -> 01-01T02:00``: the previous year's occurrence covers t = 0."""
    start = dt.date(2026, 1, 1)
    entry = recurring((12, 31, 22, 0), (1, 1, 2, 0), 2)
    times, caps = capacity_steps(4, (entry,), start, 2 * 86400.0)
    s = [secs(w, start) for w in ("2026-12-31T22:00", "2027-01-01T02:00")]
    s += [secs(w, start) for w in ("2027-12-31T22:00", "2028-01-01T02:00")]
    assert times == [0.0, 2 * HOUR_S, *s]
    assert caps == [2, 4, 2, 4, 2, 4]
    # from a start in the middle of the year, the entry is a step at the coming year end
    times, caps = capacity_steps(4, (entry,), dt.date(2026, 6, 1), 86400.0)
    start_june = dt.date(2026, 6, 1)
    assert times[:3] == [
        0.0,
        secs("2026-12-31T22:00", start_june),
        secs("2027-01-01T02:00", start_june),
    ]
    assert caps[:3] == [4, 2, 4]


def test_capacity_steps_one_off_and_recurring_later_entries_win() -> None:
    """A one-off entry happens once; where entries overlap, the later one wins."""
    a = recurring((1, 5, 6, 0), (1, 5, 12, 0), 6)
    b = once("2026-01-05T10:00", "2026-01-05T14:00", 3)
    times, caps = capacity_steps(4, (a, b), START, 86400.0)
    assert times[:4] == [0.0, 6 * HOUR_S, 10 * HOUR_S, 14 * HOUR_S]
    assert caps[:4] == [4, 6, 3, 4]
    times, caps = capacity_steps(4, (b, a), START, 86400.0)
    assert times[:4] == [0.0, 6 * HOUR_S, 12 * HOUR_S, 14 * HOUR_S]
    assert caps[:4] == [4, 6, 3, 4]
    # the one-off entry is not repeated the next year; the recurring one is
    assert secs("2027-01-05T06:00") in times
    assert secs("2027-01-05T10:00") not in times
    # a one-off entry in the past, and one with the base capacity, change nothing
    past = once("2025-03-01T00:00", "2025-03-02T00:00", 9)
    same = once("2026-01-05T01:00", "2026-01-05T02:00", 4)
    assert capacity_steps(4, (past, same), START, 86400.0) == ([0.0], [4])


def test_capacity_steps_skip_february_29_in_common_years() -> None:
    """A recurring 02-29 entry happens only in leap years (2028 here, not 2027)."""
    entry = recurring((2, 29, 0, 0), (3, 1, 0, 0), 9)
    start = dt.date(2027, 1, 4)
    times, caps = capacity_steps(4, (entry,), start, 2 * 365 * 86400.0)
    assert times == [0.0, secs("2028-02-29T00:00", start), secs("2028-03-01T00:00", start)]
    assert caps == [4, 9, 4]


def test_admit_a_queued_attempt_starts_exactly_at_a_capacity_raise() -> None:
    """1 worker, 2 from T = 10 s: the attempt waiting since t = 1 starts at exactly T.

    t=0 (20 s) starts at 0; t=1 (5 s) waits for the raise, starts at 10 (wait 9); t=2 (5 s)
    finds 2 busy from 10, starts when the second finishes at 15 (wait 13); t=21 (1 s) starts
    at once (both ended at 20).
    """
    pool = BackendPool(
        "core", 1, 10, (0.0, 100.0), ([0.0, 10.0], [1, 2])
    )  # a limit that never binds
    assert [pool.capacity_at(x) for x in (0.0, 9.999, 10.0, 50.0)] == [1, 1, 2, 2]
    assert pool.admit(0.0, 20.0) == 0.0
    assert pool.admit(1.0, 5.0) == 9.0
    assert pool.queue_length(5.0) == 1
    assert pool.admit(2.0, 5.0) == 13.0
    assert pool.admit(21.0, 1.0) == 0.0
    assert pool.busy_s == 20.0 + 5.0 + 5.0 + 1.0
    assert pool.queue_s == 9.0 + 13.0
    assert pool.capacity_seconds() == 1 * 10.0 + 2 * 90.0


def test_admit_a_capacity_cut_never_interrupts_work_in_service() -> None:
    """2 workers, 1 from T = 10 s: both attempts in service at T finish (at 15 and 21); the
    attempt waiting since t = 5 starts only when fewer than 1 are busy, at 21 (not 15)."""
    pool = BackendPool("core", 2, None, (0.0, 100.0), ([0.0, 10.0], [2, 1]))
    assert pool.admit(0.0, 15.0) == 0.0  # ends at 15, through the cut
    assert pool.admit(1.0, 20.0) == 0.0  # ends at 21, through the cut
    assert pool.admit(5.0, 1.0) == 16.0  # starts at 21, ends at 22
    assert pool.admit(21.5, 1.0) == 0.5  # behind it (FCFS): starts at 22
    assert pool.admit(30.0, 2.0) == 0.0
    assert pool.queue_s == 16.0 + 0.5


def test_admit_queue_limit_with_a_schedule() -> None:
    """queue_limit = 1 under a schedule (1 worker, 2 from T = 10): the second waiting arrival
    is refused; after the first waiter started at T the queue has room again."""
    pool = BackendPool("core", 1, 1, (0.0, 1000.0), ([0.0, 10.0], [1, 2]))
    assert pool.admit(0.0, 100.0) == 0.0
    assert pool.admit(1.0, 100.0) == 9.0  # waits for the raise
    assert pool.admit(2.0, 100.0) == REJECTED  # one already waiting
    assert pool.admit(10.5, 100.0) == 89.5  # queue empty again; 2 busy until 100
    assert pool.admit(11.0, 100.0) == REJECTED
    assert pool.admit(100.0, 1.0) == 10.0  # 0 ends at 100, 10.5 starts then; 2nd free at 110
    assert (pool.admitted, pool.rejected, pool.rejected_down) == (4, 2, 0)


def reference_waits(
    arrivals: Sequence[float],
    services: Sequence[float],
    times: Sequence[float],
    caps: Sequence[int],
    queue_limit: int | None,
) -> list[float]:
    """FCFS waits under a capacity schedule by brute force (REJECTED when the queue is full).

    An attempt starts at the earliest time ``s >= max(arrival, previous start)`` at which fewer
    attempts are in service (``start <= s < end``) than the capacity at ``s``; it is refused
    when it would wait while ``queue_limit`` admitted attempts are still waiting.
    """
    starts: list[float] = []
    ends: list[float] = []
    out: list[float] = []
    last = 0.0
    for a, s in zip(arrivals, services, strict=True):
        lower = max(a, last)
        candidates = sorted(
            {lower, *(e for e in ends if e > lower), *(x for x in times if x > lower)}
        )
        start = next(
            c
            for c in candidates
            if sum(b <= c < e for b, e in zip(starts, ends, strict=True))
            < caps[bisect.bisect_right(times, c) - 1]
        )
        waiting = sum(b > a for b in starts)
        if start > a and queue_limit is not None and waiting >= queue_limit:
            out.append(REJECTED)
            continue
        starts.append(start)
        ends.append(start + s)
        last = start
        out.append(start - a)
    return out


@settings(max_examples=300, deadline=None)
@given(
    jobs=st.lists(st.tuples(st.integers(0, 4), st.integers(1, 8)), min_size=1, max_size=40),
    steps=st.lists(st.tuples(st.integers(1, 12), st.integers(1, 4)), min_size=0, max_size=6),
    base=st.integers(1, 4),
    queue_limit=st.one_of(st.none(), st.integers(0, 3)),
)
def test_admit_matches_brute_force_fcfs_under_any_schedule(
    jobs: list[tuple[int, int]],
    steps: list[tuple[int, int]],
    base: int,
    queue_limit: int | None,
) -> None:
    """``BackendPool.admit`` gives the brute-force FCFS waits under random capacity steps.

    Whole-second arrivals, services and change times make ties (an arrival at an end, an end at
    a change) common. With no steps the pool takes its fixed-capacity path, which must agree
    with the same constant capacity given as a schedule.
    """
    arrivals = np.cumsum([g for g, _ in jobs]).astype(float).tolist()
    services = [float(s) for _, s in jobs]
    times = [0.0, *np.cumsum([d for d, _ in steps]).astype(float).tolist()]
    caps = [base, *(c for _, c in steps)]
    expected = reference_waits(arrivals, services, times, caps, queue_limit)
    capacity = (times, caps) if steps else None
    pool = BackendPool("core", base, queue_limit, (0.0, 1e9), capacity)
    assert [pool.admit(a, s) for a, s in zip(arrivals, services, strict=True)] == expected
    assert pool.rejected == expected.count(REJECTED)
    if not steps:  # the scheduled path with a constant capacity agrees with the fixed path
        same = BackendPool("core", base, queue_limit, (0.0, 1e9), ([0.0, 1e8], [base, base]))
        assert [same.admit(a, s) for a, s in zip(arrivals, services, strict=True)] == expected


def test_outages_is_down_and_downtime() -> None:
    """Constant 1 h up, 10 min down: down on ``[3600, 4200)``, ``[7800, 8400)``, ..."""
    outages = Outages(lambda: UP_S, lambda: DOWN_S)
    probes = [0.0, 3599.999, 3600.0, 4199.999, 4200.0, 7800.0, 8399.0, 8400.0, 1e6]
    assert [outages.is_down(x) for x in probes] == [
        False,
        False,
        True,
        True,
        False,
        True,
        True,
        False,
        bool(is_down(np.array([1e6]))[0]),
    ]
    fresh = Outages(lambda: UP_S, lambda: DOWN_S)
    assert fresh.downtime(0.0, 9000.0) == [(3600.0, 4200.0), (7800.0, 8400.0)]
    assert fresh.downtime(4000.0, 8000.0) == [(4000.0, 4200.0), (7800.0, 8000.0)]
    assert fresh.downtime(4200.0, 7800.0) == []
    assert outages.downtime(0.0, 86400.0) == down_periods(86400.0)


def test_outages_random_periods_agree_with_is_down() -> None:
    """Random up and down times: ``is_down`` at increasing probes agrees with ``downtime``."""
    gen = np.random.default_rng(7)
    outages = Outages(lambda: float(gen.exponential(100.0)), lambda: float(gen.exponential(20.0)))
    probes = np.sort(np.random.default_rng(8).uniform(0.0, 50_000.0, 5000))
    down = [outages.is_down(float(x)) for x in probes]
    periods = outages.downtime(0.0, 50_000.0)
    assert len(periods) > 100
    assert all(a < b <= c for (a, b), (c, _) in itertools.pairwise(periods))
    starts = np.array([a for a, _ in periods])
    ends = np.array([b for _, b in periods])
    k = np.searchsorted(starts, probes, side="right") - 1
    inside = (k >= 0) & (probes < ends[np.maximum(k, 0)])
    assert down == inside.tolist()


def test_pool_down_answers_503_and_admitted_work_completes() -> None:
    """A pool down on ``[3600, 4200)``: work admitted before completes through the outage; an
    arrival while down is refused at once (``rejected_down``, not ``rejected``); after the
    outage, arrivals queue behind the work still in service."""
    pool = BackendPool(
        "core", 1, None, (0.0, 10_000.0), outages=Outages(lambda: UP_S, lambda: DOWN_S)
    )
    assert pool.admit(3500.0, 1000.0) == 0.0  # in service until 4500
    assert pool.admit(3600.0, 1.0) == REJECTED
    assert pool.admit(4199.0, 1.0) == REJECTED
    assert pool.admit(4300.0, 1.0) == 200.0  # up again, waits for the 3500 attempt
    assert (pool.admitted, pool.rejected, pool.rejected_down) == (2, 0, 2)
    assert pool.busy_s == 1001.0
