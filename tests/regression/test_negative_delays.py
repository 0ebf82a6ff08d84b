"""No simulated delay may come out negative from float rounding.

SimPy moves the clock to ``now + delay``, and ``now + (deadline - now)`` is not always
``deadline``: when ``deadline`` is more than twice ``now`` the difference is rounded. With the
user's patience equal to the client's timeout and a backend slower than both, the first attempt
of a call early in the run times out at the user's deadline plus one rounding step, and waiting
"until the deadline" for the retry asked SimPy for ``ValueError: Negative delay -1.78e-15``.

The property test below runs small worlds over random deadlines, patience, timeouts, overheads,
token services, retries and service times, early in the run where rounding bites, and checks
that every run finishes with outcomes a client can see.
"""

from __future__ import annotations

import math
import tomllib

from hypothesis import given, settings
from hypothesis import strategies as st
from minimal_scenario import minimal_toml

from openbank_sim import simulate
from openbank_sim.model.world import run_world
from openbank_sim.outcomes import JourneyEnding, Outcome
from openbank_sim.spec.scenario import Scenario

# Patience = timeout = 10 s, a 20 s backend and a 3 ms gateway overhead; 10 sessions a second
# from t = 0, so that a hundred first attempts start before t = 10 s.
CRASH = minimal_toml(
    (
        'service_time = { dist = "exponential", mean = "100ms" }',
        'service_time = { dist = "constant", value = "20s" }',
    ),
    ('steps = [{ product = "pay" }]', 'patience = "10s"\nsteps = [{ product = "pay" }]'),
    ("sessions_per_user_day = 2.0", "sessions_per_user_day = 864.0"),
    prepend=(
        '[run]\nhorizon = "2min"\nwarmup = "0s"\n\n'
        '[gateway]\noverhead = { dist = "exponential", mean = "3ms" }\n\n'
    ),
    append='client = { timeout = "10s", max_attempts = 3, retry_on = ["timeout"] }\n',
)


def test_patience_equal_to_the_timeout_with_a_slower_backend_runs() -> None:
    """Every call times out and the user leaves at the same instant: the run finishes, and
    every journey ends by the user's patience (a retry can never start before the deadline)."""
    results = simulate(Scenario(tomllib.loads(CRASH)), seed=1)
    k = results.kpis
    assert k["journeys_started"] > 1000
    assert k["journeys_completed"] == 0
    assert k["journeys_abandoned"] == k["journeys_started"]
    assert k["calls_ok"] == 0
    assert k["calls_timeout"] == k["calls_total"]  # first attempts only: no retry fits in


def _world(
    timeout: str,
    patience: str,
    service: str,
    overhead: str,
    token: str,
    attempts: int,
    backoff: str,
) -> str:
    return minimal_toml(
        ("servers = 4", "servers = 2"),
        (
            'service_time = { dist = "exponential", mean = "100ms" }',
            f"service_time = {service}",
        ),
        (
            'steps = [{ product = "pay" }]',
            f'patience = "{patience}"\nsteps = [{{ product = "pay" }}]',
        ),
        (
            "users = 1000\nsessions_per_user_day = 2.0",
            "users = 50\nsessions_per_user_day = 17280.0",
        ),
        prepend=(
            '[run]\nhorizon = "10s"\nwarmup = "0s"\nrecord_calls = "all"\n\n'
            f"[gateway]\noverhead = {overhead}\n"
            f'auth = {{ token_ttl = "5s", servers = 1, service_time = {token} }}\n\n'
        ),
        append=(
            f'client = {{ timeout = "{timeout}", max_attempts = {attempts}, '
            'retry_on = ["timeout", "overloaded", "error"], '
            f'backoff = {{ base = "{backoff}", factor = 2.0, max = "1s", jitter = "full" }} }}\n'
        ),
    )


def _seconds(x: float) -> str:
    return f"{x:.6f}s"


_durations = st.floats(min_value=1e-3, max_value=8.0, allow_nan=False)
_shares = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
_kinds = st.sampled_from(["constant", "exponential"])


def _distribution(kind: str, mean_s: float) -> str:
    mean = _seconds(max(mean_s, 1e-6))
    key = "value" if kind == "constant" else "mean"
    return f'{{ dist = "{kind}", {key} = "{mean}" }}'


@settings(max_examples=60, deadline=None)
@given(
    timeout=_durations,
    patience=st.one_of(st.just("timeout"), st.just(math.inf), _durations),
    service=st.tuples(_kinds, st.floats(min_value=0.2, max_value=3.0)),
    overhead=st.tuples(_kinds, _shares),
    token=st.tuples(_kinds, _shares),
    attempts=st.integers(min_value=1, max_value=4),
    backoff=_shares,
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_random_deadlines_never_give_a_negative_delay(
    timeout: float,
    patience: float | str,
    service: tuple[str, float],
    overhead: tuple[str, float],
    token: tuple[str, float],
    attempts: int,
    backoff: float,
    seed: int,
) -> None:
    """Random small worlds (patience often equal to the timeout; the backend's mean service
    from 0.2 to 3 timeouts, overhead and token service up to 5% of it) run to the end; no
    attempt is seen to take longer than the timeout, no logical call to outlast the user's
    patience, and every session ends exactly once."""
    patience = timeout if patience == "timeout" else float(patience)
    text = _world(
        _seconds(timeout),
        "none" if math.isinf(patience) else _seconds(patience),
        _distribution(service[0], service[1] * timeout),
        _distribution(overhead[0], 0.05 * overhead[1] * timeout),
        _distribution(token[0], 0.05 * token[1] * timeout),
        attempts,
        _seconds(backoff),
    )
    spec = Scenario(tomllib.loads(text)).spec
    timeout = spec.partners[0].client.timeout_s  # as read (durations keep nanoseconds)
    patience = spec.journeys["buy"].patience_s
    record = run_world(spec, seed)
    log = record.calls.call_log
    assert log is not None
    assert set(log["outcome"].tolist()) <= {int(o) for o in Outcome}
    assert (log["latency_s"] >= 0.0).all()
    assert (log["latency_s"] <= timeout).all()
    journeys = record.calls.journeys
    started = sum(record.sessions_by_partner)
    assert journeys.count.sum() == started  # every session ends exactly once
    left = journeys.count[journeys.ending == JourneyEnding.PATIENCE].sum()
    if math.isinf(patience):
        assert left == 0
    calls = record.calls.client_latency  # logical calls that ended with an answer
    if math.isfinite(patience) and calls.count > 0:
        # the clock's own rounding aside (a few units in the last place of the time)
        assert calls.max <= patience + 4 * math.ulp(record.sim_end_s)
