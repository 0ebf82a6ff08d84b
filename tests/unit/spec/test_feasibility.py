"""The feasibility estimate (``openbank_sim.spec.feasibility``): its session integral equals
the model's rate integral, its attempts follow the journey, it answers in milliseconds whatever
the horizon, and :func:`check` refuses what exceeds the limits with the key that drives it."""

from __future__ import annotations

import datetime as dt
import math
import time
import tomllib
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from minimal_scenario import minimal_toml

from openbank_sim import Scenario, ScenarioError, load_scenario, simulate
from openbank_sim.model.windows import hourly_sessions
from openbank_sim.spec import feasibility
from openbank_sim.spec.feasibility import InfeasibleRunError, Limits, check, estimate
from openbank_sim.spec.scenario import shipped_scenarios


def scenario(*edits: tuple[str, str], prepend: str = "", append: str = "") -> Scenario:
    return Scenario(tomllib.loads(minimal_toml(*edits, prepend=prepend, append=append)))


def model_sessions(s: Scenario) -> float:
    """The model's own expected sessions (the exact hourly rate integral) of the partners that
    are not onboarding templates."""
    partners = tuple(p for p in s.spec.partners if not p.template)
    return float(hourly_sessions(s.spec, partners).sum())


@pytest.mark.parametrize(
    "name",
    [n for n in shipped_scenarios() if load_scenario(n).spec.onboarding is None],
)
def test_sessions_equal_the_models_rate_integral(name: str) -> None:
    s = load_scenario(name)
    est = estimate(s.spec, s.as_dict())
    assert est.sessions == pytest.approx(model_sessions(s), rel=1e-3)
    assert est.booked_sessions == 0.0


@settings(max_examples=60, deadline=None)
@given(
    daily=st.lists(st.floats(0.0, 10.0), min_size=24, max_size=24).filter(lambda v: sum(v) > 1),
    weekly=st.lists(st.floats(0.1, 3.0), min_size=7, max_size=7),
    monthly=st.lists(st.floats(0.1, 3.0), min_size=12, max_size=12),
    start=st.dates(dt.date(2000, 1, 1), dt.date(2100, 12, 31)),
    horizon_h=st.floats(1.0, 3 * 8766.0),
    live_frac=st.floats(0.0, 1.0),
    growth=st.sampled_from([0.0, 0.27, -0.5, 3.0]),
    event=st.one_of(
        st.none(),
        st.tuples(st.integers(1, 12), st.integers(1, 28), st.floats(0.0, 20.0), st.integers(1, 72)),
    ),
)
def test_the_day_by_day_integral_is_the_hourly_one(
    daily: list[float],
    weekly: list[float],
    monthly: list[float],
    start: dt.date,
    horizon_h: float,
    live_frac: float,
    growth: float,
    event: tuple[int, int, float, int] | None,
) -> None:
    """Any profile, start, horizon, go-live, growth and (single) event: the estimate's session
    integral equals the model's (to 0.5% with growth, which it averages per day, not per
    hour)."""
    events = (
        f'events = [{{ date = "{event[0]:02d}-{event[1]:02d}", factor = {event[2]!r}, '
        f'duration = "{event[3]}h" }}]\n'
        if event
        else ""
    )
    horizon = f"{horizon_h * 3600:.3f}s"
    live_from = f"{live_frac * horizon_h * 3600:.3f}s"
    s = scenario(
        prepend=f'[run]\nstart = {start.isoformat()}\nhorizon = "{horizon}"\ntime_bin = "1d"\n\n'
        f"[profiles.p]\ndaily = {daily!r}\nweekly = {weekly!r}\nmonthly = {monthly!r}\n{events}\n",
        append=f'profile = "p"\ngrowth_per_year = {growth!r}\nlive_from = "{live_from}"\n',
    )
    expected = model_sessions(s)
    got = estimate(s.spec).sessions
    assert got == pytest.approx(expected, rel=5e-3 if growth else 1e-9, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    events=st.lists(
        st.tuples(st.integers(0, 40), st.floats(0.0, 8.0), st.integers(1, 30)),
        min_size=2,
        max_size=8,
    ),
    horizon_h=st.floats(12.0, 96.0),
)
def test_overlapping_events_multiply_in_the_estimate_as_in_the_model(
    events: list[tuple[int, float, int]], horizon_h: float
) -> None:
    """Events that overlap multiply in the model's rate; the estimate's integral is the
    model's (hours from 2026-03-02 00:00; factors from 0 to 8, so products reach 8^8)."""
    start = dt.datetime(2026, 3, 2)
    listed = ", ".join(
        f'{{ date = "{(start + dt.timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M")}", '
        f'factor = {f!r}, duration = "{d}h" }}'
        for h, f, d in events
    )
    s = scenario(
        prepend=f'[run]\nstart = 2026-03-02\nhorizon = "{horizon_h * 3600:.3f}s"\n\n'
        f"[profiles.p]\nevents = [{listed}]\n\n",
        append='profile = "p"\n',
    )
    assert estimate(s.spec).sessions == pytest.approx(model_sessions(s), rel=1e-9, abs=1e-9)


def test_events_stacked_past_any_limit_are_refused_naming_them() -> None:
    """Thirty copies of a one-hour event of 10x: 10^30 in that hour, refused (the estimate
    multiplies them, capped at about 10^200, so it stays a number)."""
    event = '{ date = "2026-03-02T09:00", factor = 10.0, duration = "1h" }'
    s = scenario(
        prepend='[run]\nstart = 2026-03-02\nhorizon = "1d"\n\n'
        f"[profiles.p]\nevents = [{', '.join([event] * 30)}]\n\n",
        append='profile = "p"\n',
    )
    assert estimate(s.spec).sessions == pytest.approx(2000.0 / 24 * (23 + 1e30), rel=1e-9)
    with pytest.raises(InfeasibleRunError) as info:
        check(s.spec)
    assert info.value.path == "profiles.p.events"


def test_attempts_follow_the_journey_and_the_retries() -> None:
    """Two steps (the second with probability 0.5), 10% errors retried up to 3 attempts:
    1.5 calls x (1 + 0.1 + 0.01) attempts per session; simulated within a few percent."""
    s = scenario(
        ('mean = "100ms" }\n', 'mean = "20ms" }\nerror_rate = 0.1\n'),
        (
            'steps = [{ product = "pay" }]',
            'steps = [{ product = "pay" }, { product = "pay", probability = 0.5 }]',
        ),
        ("users = 1000", "users = 86400"),
        prepend='[run]\nhorizon = "1h"\n\n[client]\nmax_attempts = 3\n\n',
    )
    est = estimate(s.spec)
    assert est.sessions == pytest.approx(2.0 * 3600)
    assert est.attempts == pytest.approx(2.0 * 3600 * 1.5 * 1.11)
    measured = simulate(s, seed=1).manifest["attempts_simulated"]
    assert est.attempts == pytest.approx(measured, rel=0.05)


def test_unattended_refreshes_count_as_attempts() -> None:
    s = scenario(
        ("[bank.products.pay]\n", '[bank.products.pay]\nkind = "account_info"\n'),
        prepend='[run]\nhorizon = "1d"\n\n',
        append='background = { product = "pay", per_user_day = 4, share_of_users = 0.5 }\n',
    )
    est = estimate(s.spec)
    assert est.attempts == pytest.approx(2000 + 500 * 4)


def test_onboarded_partners_are_counted() -> None:
    """traditional_vs_api: the booked sessions of its own and its onboarded partners against
    the model's integral over the partners one pipeline brought live, within 50%."""
    from openbank_sim.model.span import live_partners
    from openbank_sim.rng import Streams

    s = load_scenario("traditional_vs_api")
    partners, _projects = live_partners(s.spec, Streams(s.spec.run.seed))
    model = float(hourly_sessions(s.spec, partners).sum())
    est = estimate(s.spec, s.as_dict())
    assert est.booked_sessions == pytest.approx(model, rel=0.5)
    assert est.partners == pytest.approx(len(partners), rel=0.3)
    assert est.sessions < est.booked_sessions / 50  # windows simulate a small part


def test_windowed_traffic_simulates_the_windows_only() -> None:
    full = load_scenario("ecommerce").with_overrides({"run.horizon": "28d"})
    windowed = full.with_overrides(
        {
            "run.traffic": "windowed",
            "run.windows": {"every": "7d", "length": "1h", "warmup": "10m"},
        }
    )
    a, b = estimate(full.spec), estimate(windowed.spec)
    assert b.booked_sessions == pytest.approx(a.sessions)
    assert b.sessions < a.sessions / 20


# --------------------------------------------------------------------------------------------
# Refusals


def timed_check(s: Scenario, limits: Limits | None = None) -> tuple[InfeasibleRunError, float]:
    t0 = time.perf_counter()
    with pytest.raises(InfeasibleRunError) as info:
        check(s.spec, limits, file="x.toml", raw=s.as_dict())
    return info.value, time.perf_counter() - t0


@pytest.mark.parametrize(
    ("edits", "prepend", "append", "path"),
    [
        ((("users = 1000", "users = 10_000_000_000"),), "", "", "partners.0.users"),
        (
            (("users = 1000", "users = 100_000"),),
            '[run]\nhorizon = "100y"\ntime_bin = "30d"\n\n',
            "",
            "run.horizon",
        ),
        (
            (("users = 1000", "users = 1_000_000"),),
            "",
            "sessions_per_user_day = 5000\n",
            "partners.0.sessions_per_user_day",
        ),
        ((("users = 1000", "users = 10_000_000"),), "", "copies = 1000\n", "partners.0.copies"),
    ],
    ids=["users", "horizon", "sessions", "copies"],
)
def test_a_huge_run_is_refused_at_once_naming_its_driver(
    edits: tuple[tuple[str, str], ...], prepend: str, append: str, path: str
) -> None:
    text = minimal_toml(*edits, prepend=prepend, append=append)
    if "sessions_per_user_day = 5000" in append:
        text = text.replace("sessions_per_user_day = 2.0\n", "")
    s = Scenario(tomllib.loads(text))
    err, seconds = timed_check(s)
    assert seconds < 1.0
    assert err.path == path
    assert isinstance(err, ScenarioError)
    message = str(err)
    assert message.startswith(f"x.toml: {path}: the run is estimated at about ")
    assert "above the limit of 1.0 billion attempts" in message
    for remedy in ("run.horizon", "windowed", "fewer users", "--allow-long"):
        assert remedy in message
    assert "\n" not in message


def test_the_issues_cases_never_hang() -> None:
    """``users = 10^15`` and ``horizon = "1000y"`` with full traffic: refused by the format's
    bounds, in well under a second each."""
    for edits, prepend in (
        ((("users = 1000", "users = 1_000_000_000_000_000"),), ""),
        ((), '[run]\nhorizon = "1000y"\n\n'),
    ):
        t0 = time.perf_counter()
        with pytest.raises(ScenarioError):
            scenario(*edits, prepend=prepend)
        assert time.perf_counter() - t0 < 1.0


def test_the_longest_horizon_is_estimated_in_milliseconds() -> None:
    s = scenario(
        ("users = 1000", "users = 1"),
        ("sessions_per_user_day = 2.0", "sessions_per_user_day = 0.001"),
        prepend='[run]\nhorizon = "100y"\ntime_bin = "100d"\n\n'
        '[profiles.p]\nevents = [{ date = "11-11", factor = 10.0 }]\n\n',
        append='profile = "p"\ngrowth_per_year = 0.01\ncopies = 50\n',
    )
    t0 = time.perf_counter()
    est = check(s.spec)
    assert time.perf_counter() - t0 < 0.5
    assert est.sessions > 0


def test_run_time_limit() -> None:
    s = scenario(("users = 1000", "users = 86400"), prepend='[run]\nhorizon = "1d"\n\n')
    err, _ = timed_check(s, Limits(run_time_s=1.0))
    assert "longer than the limit of 1.0 s" in err.reason


@pytest.mark.parametrize(
    ("sessions", "prepend", "append", "path"),
    [
        # 30 sessions/s keep the 4 servers 75% busy (at 50/s the queue would grow all day)
        ("30.0", '[run]\nhorizon = "1d"\nrecord_calls = "all"\n\n', "", "run.record_calls"),
        ("0.01", '[run]\nhorizon = "10d"\ntime_bin = "1s"\n\n', "copies = 2\n", "run.time_bin"),
        (
            "0.00001",
            '[run]\nhorizon = "50y"\ntime_bin = "30d"\n\n',
            "copies = 5000\n",
            "partners.0.copies",
        ),
    ],
    ids=["call-log", "time-bins", "copies-over-decades"],
)
def test_memory_limit_names_its_driver(sessions: str, prepend: str, append: str, path: str) -> None:
    s = scenario(
        ("users = 1000", "users = 86400"),
        ("sessions_per_user_day = 2.0", f"sessions_per_user_day = {sessions}"),
        prepend=prepend,
        append=append,
    )
    err, _ = timed_check(s, Limits(memory_bytes=200e6))
    assert "more memory than the 200.0 MB this machine has" in err.reason
    assert err.path == path


def test_machine_memory_is_the_default_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    s = scenario()
    monkeypatch.setattr(feasibility, "machine_memory_bytes", lambda: 1e6)
    with pytest.raises(InfeasibleRunError):
        check(s.spec)
    monkeypatch.setattr(feasibility, "machine_memory_bytes", lambda: None)
    check(s.spec)


def test_simulate_refuses_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    huge = scenario(("users = 1000", "users = 10_000_000_000"))
    t0 = time.perf_counter()
    with pytest.raises(InfeasibleRunError) as info:
        simulate(huge)
    assert time.perf_counter() - t0 < 5.0
    assert info.value.path == "partners.0.users"
    assert info.value.file == "<scenario>"
    called: list[Any] = []
    monkeypatch.setattr("openbank_sim.simulation.check", lambda *a, **k: called.append(a))
    simulate(scenario(prepend='[run]\nhorizon = "10m"\n\n'), allow_long=True)
    assert called == []


def test_describe() -> None:
    est = feasibility.Estimate(1.5e6, 3.2e9, 0.0, 3, 90_000.0, 2.5e9)
    assert est.describe() == "about 1.5 million sessions, 3.2 billion attempts, 25.0 h and 2.5 GB"
    est = feasibility.Estimate(812.0, 2e4, 7e7, 1, 4.2, 1.5e8)
    assert est.describe() == (
        "about 812 sessions (and 70.0 million booked between windows), 20 thousand attempts, "
        "4.2 s and 150.0 MB"
    )
    assert feasibility._count(math.inf) == "infinitely many"


def test_the_estimate_is_finite_at_every_bound() -> None:
    """Every rate at its ceiling at once still gives finite numbers (and a refusal)."""
    s = scenario(
        ("users = 1000", "users = 10_000_000_000"),
        ("sessions_per_user_day = 2.0", "sessions_per_user_day = 86400"),
        prepend='[run]\nhorizon = "100y"\ntime_bin = "100d"\n\n',
        append="growth_per_year = 10\ncopies = 10000\n",
    )
    est = estimate(s.spec)
    assert (
        all(np.isfinite([est.sessions, est.attempts, est.run_time_s, est.memory_bytes]))
        or est.sessions == math.inf
    )
    with pytest.raises(InfeasibleRunError):
        check(s.spec)


# One server, exponential 100 ms service (10 attempts/s of capacity) against 1,000 sessions/s
# for an hour: 100x its capacity, no queue limit, and by default no timeout and no patience.
OVERLOADED = (
    ("servers = 4", "servers = 1"),
    (
        "users = 1000\nsessions_per_user_day = 2.0",
        "users = 1_000_000\nsessions_per_user_day = 86.4",
    ),
)


def test_a_queue_that_holds_waiting_sessions_for_the_whole_run_is_refused() -> None:
    """About 3.6 million sessions still wait at the end (99% of them), 4 kB each: refused at
    the pool's queue limit with the remedies; a client timeout, a user patience or a queue
    limit leaves the pool holding nothing, and the estimate nothing for it."""
    waits = scenario(*OVERLOADED, prepend='[run]\nhorizon = "1h"\n\n')
    est = estimate(waits.spec)
    assert est.backlog == pytest.approx(0.99 * 3.6e6, rel=0.01)
    assert est.memory_bytes > 14e9
    err, _ = timed_check(waits, Limits(memory_bytes=8e9))
    assert err.path == "bank.pools.core.queue_limit"
    assert "the queue of pool 'core' grows for the whole run" in err.reason
    for remedy in ("bank.pools.core.queue_limit", "[client] timeout", "patience", "--allow-long"):
        assert remedy in err.reason
    for fix in (
        {"client.timeout": "5s"},
        {"journeys.buy.patience": "10s"},
        {"bank.pools.core.queue_limit": 100},
    ):
        fixed = estimate(waits.with_overrides(fix).spec)
        assert fixed.backlog == 0.0
        assert fixed.memory_bytes < 1e9
        check(waits.with_overrides(fix).spec, Limits(memory_bytes=8e9))


def test_a_token_service_queue_that_grows_for_the_whole_run_is_refused() -> None:
    """The e-commerce case at 100x its users for two days: token requests arrive at several
    times what the one token server can sign, and each waiting request holds the rest of its
    attempt; refused at gateway.auth.servers."""
    huge = load_scenario("ecommerce").with_overrides(
        {"partners.0.users": 160_000_000, "partners.1.users": 20_000_000}
    )
    est = estimate(huge.spec)
    assert est.backlog > 1e7
    err, _ = timed_check(huge, Limits(memory_bytes=8e9))
    assert err.path == "gateway.auth.servers"
    assert "the token service's queue grows for the whole run" in err.reason
    assert estimate(huge.with_overrides({"gateway.auth.servers": 64}).spec).backlog == 0.0


@pytest.mark.parametrize("name", sorted(shipped_scenarios()))
def test_no_shipped_scenario_has_a_queue_growing_for_the_whole_run(name: str) -> None:
    assert estimate(load_scenario(name).spec).backlog == 0.0


def test_a_run_with_no_memory_to_speak_of_names_an_ordinary_driver() -> None:
    """traditional_vs_api for 2 h: nobody is live yet, every memory part is 0 and no queue
    grows, so the memory driver is one of the ordinary keys."""
    tiny = load_scenario("traditional_vs_api").with_overrides(
        {"run.horizon": "2h", "run.warmup": "0s", "run.traffic": "full"}
    )
    est = estimate(tiny.spec)
    assert est.backlog == 0.0
    assert not est.drivers["memory"].endswith(".queue_limit")


UNBOUNDED_LIMITS = Limits(attempts=math.inf, run_time_s=math.inf, memory_bytes=math.inf)


def test_work_beyond_the_servers_drains_after_the_horizon() -> None:
    """2,000 attempts a day of 1 minute each on 1 server: 2,000 minutes of work in 1,440, so
    the queue drains for about 560 minutes after the horizon."""
    s = scenario(("servers = 4", "servers = 1"), ('mean = "100ms"', 'mean = "1min"'))
    est = check(s.spec, UNBOUNDED_LIMITS)
    assert est.drain_pool == "core"
    assert est.drivers["drain"] == "bank.products.pay.service_time"
    assert est.drain_s == pytest.approx(2000 * 60 - 86400, rel=0.02)


def test_a_bounded_queue_limits_the_drain() -> None:
    s = scenario(
        ("servers = 4", "servers = 1\nqueue_limit = 9"), ('mean = "100ms"', 'mean = "1min"')
    )
    assert estimate(s.spec).drain_s == pytest.approx(10 * 60)


def test_a_light_load_does_not_drain() -> None:
    assert estimate(scenario().spec).drain_s == 0.0


@pytest.mark.parametrize(
    ("edits", "prepend", "path", "where"),
    [
        ((('mean = "100ms"', 'mean = "1y"'),), "", "bank.products.pay.service_time", "pool"),
        (
            (),
            '[gateway.auth]\nservice_time = { dist = "constant", value = "99y" }\n\n',
            "gateway.auth.service_time",
            "the token service",
        ),
    ],
    ids=["pool", "token-service"],
)
def test_a_drain_past_the_clock_is_refused_even_when_allowed_long(
    edits: tuple[tuple[str, str], ...], prepend: str, path: str, where: str
) -> None:
    """A queue that would drain for centuries after the horizon is refused before it runs
    (the run would simulate those centuries, outage timelines and all), even with the
    limits ``--allow-long`` lifts."""
    s = scenario(*edits, prepend=prepend)
    with pytest.raises(InfeasibleRunError) as info:
        check(s.spec, UNBOUNDED_LIMITS, file="x.toml")
    err = info.value
    assert err.path == path
    assert str(err).startswith(f"x.toml: {path}: {where}")
    assert "to drain after the horizon, past the 100.0 years" in err.reason
