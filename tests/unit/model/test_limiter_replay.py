"""The pieces of windowed traffic that carry memory: the limiter replay and its hand-over to a
window's gateway, and what is drawn for the whole horizon (outages, consent lapses, refresh
rate integrals)."""

from __future__ import annotations

import numpy as np
import pytest

from openbank_sim import Scenario, load_scenario
from openbank_sim.model.gateway import Gateway
from openbank_sim.model.horizon import (
    Operations,
    consent_lapses,
    down_spells,
    forced_down,
    horizon_operations,
    hourly_refreshes,
)
from openbank_sim.model.limiter_replay import (
    LimiterReplay,
    limit_memory_s,
    replayed_limits,
    route_rules,
)
from openbank_sim.model.limits import SlidingWindowLog
from openbank_sim.model.span import live_partners, run_span
from openbank_sim.model.windows import _published_share
from openbank_sim.rng import Streams
from openbank_sim.spec.limits import LimitSpec

HOUR_S = 3600.0
DAY_S = 86400.0


def uk_spec(**overrides: object):
    return load_scenario("uk_open_banking").with_overrides(dict(overrides)).spec


def test_limit_memory() -> None:
    assert limit_memory_s(LimitSpec("token_bucket", rate_per_s=10.0, burst=20)) == 2.0
    assert limit_memory_s(LimitSpec("fixed_window", limit=5, window_s=60.0)) == 60.0
    log = LimitSpec("sliding_window", limit=5, window_s=60.0, variant="log")
    assert limit_memory_s(log) == 60.0
    assert limit_memory_s(LimitSpec("sliding_window", limit=5, window_s=60.0)) == 120.0
    assert limit_memory_s(LimitSpec("concurrency", limit=5)) == 0.0


def test_only_long_memory_windows_are_replayed() -> None:
    """The PSD2 log (24 h) is replayed; with a warm-up longer than 24 h it would not be."""
    gw = uk_spec().gateway
    assert replayed_limits(gw, 600.0) == (0,)
    assert replayed_limits(gw, 2 * DAY_S) == ()


def test_route_rules_are_the_gateways() -> None:
    """The replay resolves every (partner, product, unattended) route to the gateway's limits
    in the gateway's order."""
    spec = uk_spec()
    partners, _ = live_partners(spec, Streams(1))
    products = tuple(spec.bank.products.values())
    gateway = Gateway(spec.gateway, partners, products, (0.0, 1.0))
    for pi in range(len(partners)):
        for k, product in enumerate(products):
            for bg in (False, True):
                fixed, user = route_rules(spec.gateway, product.name, bg)
                route = gateway.route(pi, k, bg)
                assert len(route.fixed) == len(fixed)
                assert [u.rule for u in route.user_scoped] == [
                    spec.gateway.limits[li] for li in user
                ]
    # PSD2 applies to unattended account information only
    assert route_rules(spec.gateway, "account_info", True) == ((), (0,))
    assert route_rules(spec.gateway, "account_info", False) == ((), ())


def loss_scenario() -> Scenario:
    raw = {
        "run": {
            "horizon": "1d",
            "traffic": "windowed",
            "windows": {"every": "4h", "length": "1h", "warmup": "10m"},
        },
        "bank": {
            "pools": {"core": {"servers": 2}},
            "products": {
                "ais": {
                    "kind": "account_info",
                    "pool": "core",
                    "service_time": {"dist": "constant", "value": "10ms"},
                }
            },
        },
        "gateway": {
            "limits": [
                {
                    "name": "log",
                    "scope": "user",
                    "algorithm": "sliding_window",
                    "variant": "log",
                    "limit": 2,
                    "window": "1h",
                }
            ]
        },
        "client": {"max_attempts": 1},
        "journeys": {"look": {"steps": [{"product": "ais"}]}},
        "partners": [
            {
                "name": "app",
                "users": 50,
                "sessions_per_user_day": 0.01,
                "journey": "look",
                "background": {"product": "ais", "per_user_day": 96.0, "share_of_users": 1.0},
            }
        ],
    }
    return Scenario(raw)


def test_a_window_takes_over_the_replayed_state() -> None:
    """After replaying two hours, a window's gateway rejects a user whose log the replay
    filled and admits one whose log it left with room; what the window admits does not reach
    back into the replay."""
    spec = loss_scenario().spec
    partners, _ = live_partners(spec, Streams(3))
    ops = horizon_operations(spec, partners, 3)
    replay = LimiterReplay(spec, partners, ops, 3, (0,), [(0.0, 2 * HOUR_S)])
    t = 2 * HOUR_S
    replay.advance_to(t)
    assert replay.attempts > 300  # 50 users x 4 an hour x 2 hours
    logs = replay.user_states[0]
    full = [key for key, s in logs.items() if s.count_at(t) >= 2]
    room = [key for key, s in logs.items() if s.count_at(t) < 2]
    assert full and room
    products = tuple(spec.bank.products.values())
    gateway = Gateway(spec.gateway, partners, products, (t, t + HOUR_S))
    replay.install(gateway, [0])
    route = gateway.route(0, 0, True)
    retry, _ = gateway.admit(t, route, full[0] & 0xFFFFFFFF)
    assert retry > 0.0
    user = room[0] & 0xFFFFFFFF
    before = logs[room[0]].count_at(t)
    assert gateway.admit(t, route, user) == (0.0, ())
    assert logs[room[0]].count_at(t) == before  # the replay's own log is untouched
    fresh = 10**6  # a user the replay never saw starts empty
    assert gateway.admit(t, route, fresh) == (0.0, ())


def test_waiting_refreshes_are_handed_on() -> None:
    """Refreshes rejected before a window and retrying inside it are listed by partner, in
    time order, with their retry times inside the window."""
    spec = uk_spec()
    partners, _ = live_partners(spec, Streams(1))
    ops = horizon_operations(spec, partners, 1)
    replay = LimiterReplay(spec, partners, ops, 1, (0,), [(0.0, 3 * DAY_S)])
    replay.advance_to(3 * DAY_S)
    waiting = replay.waiting_refreshes(3 * DAY_S, 3 * DAY_S + HOUR_S)
    assert set(waiting) <= {0, 1}  # the two partners with unattended refreshes
    calls = [c for cs in waiting.values() for c in cs]
    assert len(calls) > 50
    for cs in waiting.values():
        times = [t for t, _ in cs]
        assert times == sorted(times)
        assert all(3 * DAY_S <= t < 3 * DAY_S + HOUR_S for t in times)


def test_consent_lapses_are_the_partner_models() -> None:
    """The horizon's lapse times are the draws the partner model makes from the same stream,
    so windowed and full runs lapse the same consents."""
    spec = uk_spec()
    partners, _ = live_partners(spec, Streams(4))
    sp = run_span(spec, partners, Streams(4), (0.0, 60.0), (0.0, 60.0))
    for i, p in enumerate(partners):
        if p.background is None or p.background.consent is None:
            continue
        ours = consent_lapses(p, p.background, Streams(4))
        assert ours is not None
        np.testing.assert_array_equal(ours, sp.runtimes[i].bg_lapse)
    ops = horizon_operations(spec, partners, 4)
    assert set(ops.lapses) == {0, 1}


def test_hourly_refreshes_integrate_the_live_consents() -> None:
    """Without consents: users x per_user_day per day, from go-live; with them, less the
    user-seconds after each lapse."""
    spec = uk_spec()
    partners, _ = live_partners(spec, Streams(2))
    ops = horizon_operations(spec, partners, 2)
    n_hours = 7 * 24
    per_hour = hourly_refreshes(spec, partners, ops, n_hours)
    assert per_hour.shape == (3, n_hours)
    assert not per_hour[2].any()  # the payment provider has no unattended refreshes
    for i in (0, 1):
        p = partners[i]
        bg = p.background
        users = max(1, round(p.users * bg.share_of_users))
        lapse = ops.lapses[i]
        live_s = np.minimum(lapse, 7 * DAY_S).sum()
        assert per_hour[i].sum() == pytest.approx(live_s * bg.per_user_day / DAY_S, rel=1e-12)
        assert per_hour[i].sum() < users * bg.per_user_day * 7
    no_consent = {**ops.lapses}
    no_consent.pop(0)
    flat = hourly_refreshes(spec, partners, Operations(ops.down, no_consent, 0), n_hours)
    users0 = max(1, round(partners[0].users * partners[0].background.share_of_users))
    np.testing.assert_allclose(flat[0], users0 * partners[0].background.per_user_day / 24)


def test_down_spells_merge_pools() -> None:
    ops = Operations({"a": ((10.0, 20.0), (50.0, 60.0)), "b": ((15.0, 30.0),)}, {}, 0)
    spells = down_spells(ops)
    assert [(s.start_s, s.end_s, sorted(s.pools)) for s in spells] == [
        (10.0, 30.0, ["a", "b"]),
        (50.0, 60.0, ["a"]),
    ]


def test_forced_down_is_down_once() -> None:
    timeline = forced_down(100.0, 160.0)
    assert not timeline.is_down(99.0)
    assert timeline.is_down(100.0) and timeline.is_down(159.0)
    assert not timeline.is_down(160.0) and not timeline.is_down(1e9)
    assert timeline.downtime(0.0, 1e9) == [(100.0, 160.0)]


def test_published_share_of_a_bernoulli_stream() -> None:
    """``q^5 (5 - 4q)``: the share of requests (hence of time, for a Poisson stream) from the
    first of a run of at least 5 unanswered requests to the next answered one."""
    rng = np.random.default_rng(0)
    for q in (0.3, 0.6, 0.9):
        failed = rng.random(4_000_000) < q
        edges = np.flatnonzero(np.diff(np.concatenate(([0], failed.view(np.int8), [0]))))
        runs = edges[1::2] - edges[::2]
        down = runs[runs >= 5].sum()
        assert down / failed.size == pytest.approx(float(_published_share(np.array(q))), rel=0.03)


def test_a_log_on_its_own_is_what_the_replay_uses() -> None:
    """The replay drives the limiters' own state machines (no copy of their rules)."""
    spec = loss_scenario().spec
    partners, _ = live_partners(spec, Streams(3))
    ops = horizon_operations(spec, partners, 3)
    replay = LimiterReplay(spec, partners, ops, 3, (0,), [(0.0, HOUR_S)])
    replay.advance_to(HOUR_S)
    assert all(isinstance(s, SlidingWindowLog) for s in replay.user_states[0].values())
