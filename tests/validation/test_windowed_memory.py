"""Windowed traffic where the model has memory, against theory and full traffic.

Windowed traffic simulates calls only inside observation windows (:mod:`openbank_sim.model.
windows`). These checks cover what a window cannot see by itself: the state of limiters that
remember longer than a window's warm-up (replayed into the windows,
:mod:`openbank_sim.model.limiter_replay`), unattended refreshes (booked on their own rate
integral), and outages and consent lapses (drawn for the whole horizon). Each compares the mean
of replications with a closed form through a Student-t interval that must cover it and be narrow
enough to mean it (:func:`theory.assert_covers`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from theory import assert_covers, erlang_b, t_interval

from openbank_sim import Scenario, load_scenario, simulate
from openbank_sim.rng import replication_seed

DAY_S = 86400.0


def scenario(
    traffic: str,
    *,
    horizon: str,
    warmup: str = "0s",
    windows: dict[str, str] | None = None,
    users: int = 500,
    sessions_per_user_day: float = 0.1,
    profile: str = "flat",
    background: dict[str, Any] | None = None,
    limits: list[dict[str, Any]] | None = None,
    client: dict[str, Any] | None = None,
    pool: dict[str, Any] | None = None,
    ais_fee: float = 0.0,
) -> Scenario:
    """One pool ``core``, a payment journey for sessions and an account-information product
    ``ais`` for the partner's unattended refreshes."""
    raw: dict[str, Any] = {
        "run": {
            "start": "2026-03-02",
            "horizon": horizon,
            "warmup": warmup,
            "traffic": traffic,
            "windows": windows or {"every": "1d", "length": "1h", "warmup": "10m"},
        },
        "bank": {
            "pools": {"core": {"servers": 4, **(pool or {})}},
            "products": {
                "ais": {
                    "kind": "account_info",
                    "pool": "core",
                    "service_time": {"dist": "exponential", "mean": "50ms"},
                    "fee": ais_fee,
                },
                "pay": {
                    "kind": "payment",
                    "pool": "core",
                    "service_time": {"dist": "exponential", "mean": "50ms"},
                },
            },
        },
        "gateway": {"limits": limits or []},
        "client": client or {},
        "journeys": {"buy": {"steps": [{"product": "pay"}]}},
        "partners": [
            {
                "name": "aggregator",
                "users": users,
                "sessions_per_user_day": sessions_per_user_day,
                "journey": "buy",
                "profile": profile,
                **({"background": background} if background is not None else {}),
            }
        ],
    }
    return Scenario(raw)


def seeds(base: int, n: int) -> list[int]:
    return [replication_seed(base, r) for r in range(n)]


# -- a per-user sliding log is a loss system: Erlang B -------------------------------------------

LOG_LIMIT = 4
LOG_WINDOW_H = 1.0
REFRESHES_PER_USER_HOUR = 3.0  # offered load 3 Erlangs per user and log
LOSS_USERS = 500


def loss_system(traffic: str) -> Scenario:
    """Poisson refreshes (3 per user-hour) through a sliding log of 4 per user per hour, never
    retried (one attempt): the log admits while fewer than 4 admissions are younger than an
    hour, so each user's log is an M/D/4/4 loss system. A day, the first 3 h (three log
    windows) left out; windowed: a 1 h window every 4 h after a 10 min warm-up, far shorter
    than the log remembers."""
    return scenario(
        traffic,
        horizon="1d",
        warmup="3h",
        windows={"every": "4h", "length": "1h", "warmup": "10m"},
        users=LOSS_USERS,
        background={
            "product": "ais",
            "per_user_day": REFRESHES_PER_USER_HOUR * 24,
            "share_of_users": 1.0,
        },
        limits=[
            {
                "name": "per_user_log",
                "scope": "user",
                "algorithm": "sliding_window",
                "variant": "log",
                "limit": LOG_LIMIT,
                "window": f"{LOG_WINDOW_H:g}h",
                "products": ["ais"],
            }
        ],
        client={"max_attempts": 1},
    )


def rejected_share(kpis_table) -> float:
    ais = kpis_table.set_index("product").loc["ais"]
    return float(ais["calls_rate_limited"] / ais["calls_total"])


@pytest.mark.parametrize(
    ("traffic", "replications", "max_rel_half_width"),
    [("full", 6, 0.04), ("windowed", 12, 0.05)],
)
def test_sliding_log_rejects_erlang_b(
    traffic: str, replications: int, max_rel_half_width: float
) -> None:
    """Rejected share of refreshes = Erlang B(4, 3) = 0.2061 (insensitivity of M/G/c/c: each
    admission holds a place in the log for exactly the window). Windowed traffic hits it only
    if each window starts with the log full traffic has there: started empty, the log admits
    everything during the first minutes of a window."""
    theory = erlang_b(LOG_LIMIT, REFRESHES_PER_USER_HOUR * LOG_WINDOW_H)
    shares = [
        rejected_share(simulate(loss_system(traffic), seed=s).tables["by_product"])
        for s in seeds(31, replications)
    ]
    assert_covers(
        t_interval(shares),
        theory,
        max_rel_half_width=max_rel_half_width,
        label=f"{traffic} traffic: rejected share of refreshes",
    )


def test_windowed_log_state_is_replayed() -> None:
    """The windows' state comes from the replay: a run names the replayed limit and the
    attempts it replayed; the same seed replays the same attempts."""
    runs = [simulate(loss_system("windowed"), seed=5) for _ in range(2)]
    ev = [r.manifest["windowed_evaluation"] for r in runs]
    assert ev[0]["replayed_limits"] == ["per_user_log"]
    # three log windows before each of the six windows' spans (the first from t = 0)
    assert ev[0]["replayed_attempts"] > 0.5 * LOSS_USERS * REFRESHES_PER_USER_HOUR * 15
    assert ev[0]["replayed_attempts"] == ev[1]["replayed_attempts"]
    assert runs[0].kpis == runs[1].kpis


# -- unattended refreshes are booked on their own rate integral ----------------------------------

FLAT_USERS = 4000
FLAT_PER_USER_DAY = 2.0  # 56,000 refreshes a week
LIFETIME_D = 90.0
RENEWAL = 0.8
FEE = 0.05
HORIZON_D = 7.0


def flat_background(traffic: str) -> Scenario:
    """4,000 background users refreshing twice a day at any hour (flat) while their sessions
    follow the e-commerce day (an evening peak); consents of 90 days renewed with p = 0.8; a
    fee per refresh, nothing else earns money."""
    return scenario(
        traffic,
        horizon=f"{HORIZON_D:g}d",
        users=FLAT_USERS,
        sessions_per_user_day=0.5,
        profile="ecommerce",
        background={
            "product": "ais",
            "per_user_day": FLAT_PER_USER_DAY,
            "share_of_users": 1.0,
            "consent": {"lifetime": f"{LIFETIME_D:g}d", "renewal_probability": RENEWAL},
        },
        ais_fee=FEE,
        windows={"every": "1d", "length": "1h", "warmup": "10m", "placement": "stratified"},
    )


def expected_refreshes() -> float:
    """The rate integral: users x per_user_day x the expected days of live consent in the
    horizon. A consent lapses within the horizon only at its first expiry (uniform over the
    lifetime) when it is not renewed, so P(lapsed by t) = (1 - p) t / L for t < L and the
    integral of the users left is N (H - (1 - p) H^2 / (2 L))."""
    h, L = HORIZON_D, LIFETIME_D
    return FLAT_USERS * FLAT_PER_USER_DAY * (h - (1.0 - RENEWAL) * h * h / (2.0 * L))


def test_flat_background_follows_its_rate_integral() -> None:
    """Windowed refreshes, refresh calls and revenue within 3 % of the rate integral (55,564
    refreshes, 2,778 of fees), whatever the sessions' evening peak does; full traffic draws the
    same process."""
    theory = expected_refreshes()
    windowed = [simulate(flat_background("windowed"), seed=s) for s in seeds(41, 5)]
    refreshes = [float(r.tables["by_partner"]["refreshes"].sum()) for r in windowed]
    calls = [rejected_or_total(r) for r in windowed]
    revenue = [r.kpis["revenue_total"] for r in windowed]
    for name, values, target in (
        ("refreshes", refreshes, theory),
        ("refresh calls", calls, theory),
        ("revenue", revenue, FEE * theory),
    ):
        mean = float(np.mean(values))
        assert abs(mean / target - 1.0) <= 0.03, f"{name}: windowed {mean:.1f}, theory {target:.1f}"
    # the booked count is the rate integral of the horizon's lapses: it varies only with them
    assert_covers(t_interval(refreshes), theory, max_rel_half_width=0.01, label="refreshes")
    full = [
        float(simulate(flat_background("full"), seed=s).tables["by_partner"]["refreshes"].sum())
        for s in seeds(41, 3)
    ]
    assert_covers(t_interval(full), theory, max_rel_half_width=0.03, label="full refreshes")


def rejected_or_total(results) -> float:
    """Attempts on the refreshed product (every refresh is one attempt here)."""
    return float(results.tables["by_product"].set_index("product").loc["ais", "calls_total"])


# -- outages and availability over the whole horizon ---------------------------------------------

MTBF_H = 6.0
MTTR_H = 0.5


def outages(traffic: str, horizon: str = "30d") -> Scenario:
    """A pool that fails every 6 h on average (exponential) for 30 min (exponential)."""
    return scenario(
        traffic,
        horizon=horizon,
        users=2000,
        sessions_per_user_day=1.0,
        pool={
            "outages": {
                "between": {"dist": "exponential", "mean": f"{MTBF_H:g}h"},
                "repair": {"dist": "exponential", "mean": f"{MTTR_H * 60:g}m"},
            }
        },
    )


def test_windowed_availability_is_mtbf_over_mtbf_plus_mttr() -> None:
    """Time-weighted availability over the horizon = MTBF / (MTBF + MTTR) = 0.9231 (alternating
    renewal), in windowed runs as in full ones, the pool's own availability with it."""
    theory = MTBF_H / (MTBF_H + MTTR_H)
    runs = [simulate(outages("windowed"), seed=s) for s in seeds(51, 16)]
    avail = [r.kpis["availability"] for r in runs]
    assert_covers(t_interval(avail), theory, max_rel_half_width=0.02, label="windowed availability")
    for r in runs:
        pool = r.tables["by_pool"].set_index("pool").loc["core"]
        assert pool["availability"] == r.kpis["availability"]


def test_windowed_outages_are_those_of_full_traffic() -> None:
    """Same seed, same outage timeline: availability identical bit for bit; calls arriving
    while the pool is down are booked as 503s, as many as full traffic has (mean of
    replications, within 10 %), and the published availability follows."""
    full, windowed = [], []
    for s in seeds(61, 3):
        full.append(simulate(outages("full", "7d"), seed=s))
        windowed.append(simulate(outages("windowed", "7d"), seed=s))
    for f, w in zip(full, windowed, strict=True):
        assert w.kpis["availability"] == f.kpis["availability"]
        fp = f.tables["by_pool"].set_index("pool").loc["core", "availability"]
        assert w.tables["by_pool"].set_index("pool").loc["core", "availability"] == fp

    def mean(runs, kpi: str) -> float:
        return float(np.mean([r.kpis[kpi] for r in runs]))

    assert mean(full, "calls_overloaded") > 1000
    assert mean(windowed, "calls_overloaded") == pytest.approx(
        mean(full, "calls_overloaded"), rel=0.10
    )
    assert mean(windowed, "success_rate") == pytest.approx(mean(full, "success_rate"), abs=0.01)
    published = mean(full, "availability_published")
    assert published < 0.99  # a 1,000-call day loses whole outages
    assert mean(windowed, "availability_published") == pytest.approx(published, abs=0.01)
    rejected = [
        r.tables["by_pool"].set_index("pool").loc["core", "rejected_while_down"] for r in windowed
    ]
    assert np.mean(rejected) == pytest.approx(mean(windowed, "calls_overloaded"), rel=0.01)


# -- consent lapses ---------------------------------------------------------------------------

CONSENT_USERS = 4000
CONSENT_LIFETIME_D = 30.0
CONSENT_RENEWAL = 0.5


def consents(traffic: str) -> Scenario:
    return scenario(
        traffic,
        horizon="14d",
        users=CONSENT_USERS,
        background={
            "product": "ais",
            "per_user_day": 0.5,
            "share_of_users": 1.0,
            "consent": {
                "lifetime": f"{CONSENT_LIFETIME_D:g}d",
                "renewal_probability": CONSENT_RENEWAL,
            },
        },
    )


def expected_lapses(horizon_d: float) -> float:
    """The partner model's closed form: the first expiry is uniform over the lifetime L and
    each expiry is renewed with p, so a consent lapses at ``U L + G L`` with G geometric:
    P(lapse < H) = sum_g (1 - p) p^g clip(H / L - g, 0, 1)."""
    x = horizon_d / CONSENT_LIFETIME_D
    p = CONSENT_RENEWAL
    return CONSENT_USERS * sum(
        (1 - p) * p**g * min(1.0, max(0.0, x - g)) for g in range(math.ceil(x) + 1)
    )


def test_windowed_consent_lapses_follow_the_closed_form() -> None:
    """``consents_lapsed`` of windowed runs: the mean of replications covers the closed form
    (933 of 4,000 over 14 days of a 30-day consent renewed half the time); each run's count is
    full traffic's for the same seed."""
    theory = expected_lapses(14.0)
    lapsed = [simulate(consents("windowed"), seed=s).kpis["consents_lapsed"] for s in seeds(71, 10)]
    assert_covers(t_interval(lapsed), theory, max_rel_half_width=0.05, label="consents lapsed")
    s = seeds(71, 1)[0]
    assert simulate(consents("full"), seed=s).kpis["consents_lapsed"] == lapsed[0]


# -- the shipped PSD2 case ------------------------------------------------------------------------


@pytest.mark.slow
def test_uk_open_banking_windowed_matches_full_traffic() -> None:
    """``uk_open_banking`` over its week, three replications: windowed traffic rate-limits as
    many unattended refreshes as full traffic (mean within 5 %; the PSD2 log remembers 24 h, a
    window's warm-up is 10 min) and its success rate is within 1 percentage point; outages,
    availability and lapsed consents are full traffic's, seed by seed."""
    base = load_scenario("uk_open_banking")
    windowed = base.with_overrides(
        {
            "run.traffic": "windowed",
            "run.windows.every": "1d",
            "run.windows.length": "1h",
            "run.windows.warmup": "10m",
            "run.windows.placement": "stratified",
        }
    )
    kpis: dict[str, list[dict[str, float]]] = {"full": [], "windowed": []}
    for s in seeds(2026, 3):
        f, w = simulate(base, seed=s).kpis, simulate(windowed, seed=s).kpis
        kpis["full"].append(f)
        kpis["windowed"].append(w)
        assert w["availability"] == f["availability"]
        assert w["consents_lapsed"] == f["consents_lapsed"]

    def mean(arm: str, name: str) -> float:
        return float(np.mean([k[name] for k in kpis[arm]]))

    assert mean("full", "calls_rate_limited") > 30_000
    assert mean("windowed", "calls_rate_limited") == pytest.approx(
        mean("full", "calls_rate_limited"), rel=0.05
    )
    assert mean("windowed", "success_rate") == pytest.approx(mean("full", "success_rate"), abs=0.01)
    assert mean("windowed", "calls_overloaded") == pytest.approx(
        mean("full", "calls_overloaded"), rel=0.15
    )
