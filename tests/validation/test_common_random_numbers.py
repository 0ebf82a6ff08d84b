"""Common random numbers: every draw of a first attempt is the same across scenario arms.

Three arms differ only in a limit or in capacity: ``base``; a **limit arm** with a tight token
bucket per partner (it refuses a good share of attempts, which retry); a **capacity arm** with a
quarter of the backend servers (4 for a load of about 4.3 erlangs, a queue of at most 40: queue
waits, 503s and client timeouts differ). The scenario has a random gateway overhead (lognormal)
and a random direct-line overhead (exponential), auth with a 5 % 401 rate and a 30 s token TTL
(tokens are fetched for most attempts), a two-step journey with think time, retries on every
outcome, unattended refreshes, and a traditional partner.

Every attempt's backend service time, error, overhead, 401 coin and token service time are
drawn with the attempt: for a step's first attempt when the session (or refresh) starts, from
that step's own streams, whether or not the attempt is later admitted or needs a token. First
attempts are matched across arms on (partner, session, product) with ``attempt == 1`` in the
call log, and their logged draws (``overhead_s``, ``auth_coin``, ``token_service_s``) must be
identical bit for bit: about 46,600 matched first attempts in the limit arm and 53,600 in the
capacity arm, all identical.

Measured on this scenario before the draws moved with the attempt (the overhead, the 401 coin and
the token service time then came from sequential per-partner and token-pool streams in attempt
order; draws compared where both arms took them, API partners' first attempts): the same
overhead for 0.7 % (limit arm) and 2.2 % (capacity arm), the same 401 coin for 2.8 % and 5.3 %,
the same token service time for 2.6 % and 4.3 %; 1,917 and 2,079 first attempts flipped between
401 and not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from openbank_sim import Results, Scenario, simulate
from openbank_sim.model.recorder import CALL_LOG_COLUMNS

SEED = 11
DRAWS = ("overhead_s", "auth_coin", "token_service_s")
KEY = ["partner", "session", "product"]
SERVERS = 16
QUEUE_LIMIT = 40
FAILURE_RATE = 0.05


def crn_raw(
    *, servers: int = SERVERS, limits: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Two API partners and a traditional one, 8 sessions/s each, over 20 minutes."""
    partner = {
        "users": 20_000,
        "sessions_per_user_day": 8.0 * 86400 / 20_000,
        "journey": "shop",
    }
    raw: dict[str, Any] = {
        "run": {"horizon": "20m", "warmup": "0s", "record_calls": "all"},
        "bank": {
            "direct_overhead": {"dist": "exponential", "mean": "3ms"},
            "pools": {"core": {"servers": servers, "queue_limit": QUEUE_LIMIT}},
            "products": {
                "accounts": {
                    "kind": "account_info",
                    "pool": "core",
                    "service_time": {"dist": "lognormal", "mean": "60ms", "p95": "150ms"},
                    "error_rate": 0.01,
                },
                "pay": {
                    "kind": "payment",
                    "pool": "core",
                    "service_time": {"dist": "lognormal", "mean": "120ms", "p95": "300ms"},
                    "error_rate": 0.01,
                },
            },
        },
        "gateway": {
            "overhead": {"dist": "lognormal", "mean": "15ms", "p95": "40ms"},
            "auth": {
                "token_ttl": "30s",
                "servers": 4,
                "service_time": {"dist": "exponential", "mean": "20ms"},
                "failure_rate": FAILURE_RATE,
            },
            "limits": limits or [],
        },
        "client": {
            "timeout": "1s",
            "max_attempts": 3,
            "backoff": {"base": "100ms", "factor": 2.0, "max": "2s", "jitter": "full"},
            "retry_on": ["rate_limited", "overloaded", "timeout", "error", "auth_failed"],
        },
        "journeys": {
            "shop": {
                "patience": "20s",
                "steps": [
                    {"product": "accounts"},
                    {"product": "pay", "think_time": {"dist": "exponential", "mean": "20s"}},
                ],
            }
        },
        "partners": [
            {
                "name": "p0",
                **partner,
                "background": {"product": "accounts", "per_user_day": 2, "share_of_users": 0.5},
            },
            {"name": "p1", **partner},
            {"name": "legacy", "integration": "traditional", **partner},
        ],
    }
    return raw


def crn_scenario(**kwargs: Any) -> Scenario:
    """:func:`crn_raw` as a scenario."""
    return Scenario(crn_raw(**kwargs))


TIGHT_BUCKET = {"scope": "partner", "algorithm": "token_bucket", "rate": 5.0, "burst": 10}


@pytest.fixture(scope="module")
def arms() -> dict[str, Results]:
    return {
        "base": simulate(crn_scenario(), seed=SEED),
        "limit": simulate(crn_scenario(limits=[TIGHT_BUCKET]), seed=SEED),
        "capacity": simulate(crn_scenario(servers=SERVERS // 4), seed=SEED),
    }


def _first_attempts(results: Results) -> pd.DataFrame:
    calls = results.tables["calls"]
    first = calls[calls["attempt"] == 1]
    assert not first.duplicated(KEY).any()  # (partner, session, product) names one first attempt
    return first


def _bits(values: pd.Series) -> np.ndarray:
    """The float64 bit patterns (NaN equals NaN: it is the same NaN)."""
    return values.to_numpy(dtype=np.float64).view(np.uint64)


@pytest.mark.parametrize("arm", ["limit", "capacity"])
def test_first_attempts_draw_the_same_overhead_auth_coin_and_token_time(
    arms: dict[str, Results], arm: str
) -> None:
    """Every matched first attempt has bit-identical draws in the base arm and in ``arm``."""
    base, other = _first_attempts(arms["base"]), _first_attempts(arms[arm])
    matched = base.merge(other, on=KEY, suffixes=("_a", "_b"), validate="one_to_one")
    assert len(matched) > 10_000
    for col in ("user", *DRAWS):
        same = _bits(matched[f"{col}_a"]) == _bits(matched[f"{col}_b"])
        assert same.all(), f"{col}: {same.mean():.4f} of {len(matched)} matched first attempts"
    # the same sessions: a journey's first step starts at the session's start in every arm
    # (later steps start after the previous step's response, which the arms change)
    step1 = matched["product"] == "accounts"
    assert (matched.loc[step1, "t_s_a"] == matched.loc[step1, "t_s_b"]).all()
    # every kind of first attempt is among them
    api = matched["partner"] != "legacy"
    assert matched.loc[api, "auth_coin_a"].between(0.0, 1.0).all()
    assert (matched.loc[api, "token_service_s_a"] > 0.0).all()
    assert matched.loc[~api, ["auth_coin_a", "token_service_s_a"]].isna().all().all()
    assert (matched["overhead_s_a"] > 0.0).all()
    assert matched["overhead_s_a"].nunique() == len(matched)  # random, not a constant
    assert (matched["background_a"]).sum() > 100  # unattended refreshes
    assert (matched["product"] == "pay").sum() > 1000  # second steps, after think time


def test_the_arms_differ(arms: dict[str, Results]) -> None:
    """The comparison is not vacuous: the limit rejects, the smaller pool waits and times out,
    retries happen and tokens are fetched often."""
    first = {name: _first_attempts(r) for name, r in arms.items()}
    outcomes = {name: f["outcome"].value_counts(normalize=True) for name, f in first.items()}
    api_first = first["limit"][first["limit"]["partner"] != "legacy"]
    assert (api_first["outcome"] == "rate_limited").mean() > 0.3
    assert outcomes["base"].get("rate_limited", 0.0) == 0.0
    assert outcomes["capacity"].get("timeout", 0.0) > 10 * outcomes["base"].get("timeout", 0.0)
    assert outcomes["capacity"]["timeout"] > 0.05
    assert outcomes["capacity"]["overloaded"] > 0.05
    assert first["capacity"]["wait_s"].mean() > 10 * first["base"]["wait_s"].mean()
    for r in arms.values():
        assert (r.tables["calls"]["attempt"] > 1).sum() > 1000
        assert r.kpis["calls_auth_failed"] > 500
        # most API sessions fetch a token (30 s TTL, 20,000 users per partner)
        sessions = r.tables["by_partner"].set_index("partner")["sessions"]
        assert r.kpis["token_requests"] > 0.5 * (sessions["p0"] + sessions["p1"])


def test_an_attempt_pays_the_draws_it_logs() -> None:
    """With no queue anywhere and a token fetched by every attempt, an ok attempt's latency is
    its token service time + overhead + the constant service time, and an attempt fails auth
    exactly when its 401 coin is below the failure rate."""
    raw = crn_raw()
    raw["bank"]["pools"]["core"]["servers"] = 400
    raw["bank"]["products"]["accounts"]["service_time"] = {"dist": "constant", "value": "50ms"}
    raw["bank"]["products"]["accounts"]["error_rate"] = 0.0
    raw["gateway"]["auth"].update(servers=400, token_ttl="1ms")  # a token fetch every attempt
    raw["journeys"]["shop"]["steps"] = [{"product": "accounts"}]
    for p in raw["partners"]:
        p.pop("background", None)
        p.update(users=10**9, sessions_per_user_day=4.0 * 86400 / 10**9)  # 4 sessions/s
    raw["run"]["horizon"] = "5m"
    calls = simulate(Scenario(raw), seed=SEED).tables["calls"]
    assert list(calls.columns) == list(CALL_LOG_COLUMNS)
    assert list(CALL_LOG_COLUMNS[-3:]) == list(DRAWS)
    assert all(calls[c].dtype == np.float64 for c in DRAWS)
    api = calls[calls["partner"] != "legacy"]
    assert len(api) > 2000
    assert ((api["outcome"] == "auth_failed") == (api["auth_coin"] < FAILURE_RATE)).all()
    ok = api[api["outcome"] == "ok"]
    assert (ok["wait_s"] == 0.0).all()
    expected = ok["token_service_s"] + ok["overhead_s"] + 0.050
    np.testing.assert_allclose(ok["latency_s"], expected, rtol=1e-9, atol=1e-12)
    legacy = calls[(calls["partner"] == "legacy") & (calls["outcome"] == "ok")]
    assert len(legacy) > 1000
    np.testing.assert_allclose(legacy["latency_s"], legacy["overhead_s"] + 0.050, rtol=1e-9)
