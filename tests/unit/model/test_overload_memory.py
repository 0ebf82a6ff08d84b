"""Memory under overload: what the engine keeps does not grow with the attempts.

One server at 100x its capacity, with no queue limit, has a queue that grows for the whole run.
With a client timeout the sessions leave, and nothing the engine keeps may grow with the queue:
the pool holds no state per waiting attempt (it knows each start at admission), a session in
flight holds one pending event, and a server side whose client left holds one pending timeout
and no process. Counted, not timed.
"""

from __future__ import annotations

import gc
import tomllib
from collections.abc import Callable
from typing import Any

import pytest
import simpy
from minimal_scenario import minimal_toml

from openbank_sim.model import span as span_module
from openbank_sim.model.span import run_span
from openbank_sim.rng import Streams
from openbank_sim.spec.scenario import Scenario

# One server, exponential 1 s service (capacity 1 attempt/s), 100 sessions/s for 10 min, a 5 s
# timeout, 3 attempts and a 10 s patience: about 60,000 sessions and 120,000 attempts.
OVERLOAD = minimal_toml(
    ("servers = 4", "servers = 1"),
    ('mean = "100ms"', 'mean = "1s"'),
    (
        "users = 1000\nsessions_per_user_day = 2.0",
        "users = 1_000_000\nsessions_per_user_day = 8.64",
    ),
    ('steps = [{ product = "pay" }]', 'patience = "10s"\nsteps = [{ product = "pay" }]'),
    prepend='[run]\nhorizon = "10min"\nwarmup = "0s"\n\n',
    append='client = { timeout = "5s", max_attempts = 3, retry_on = ["timeout", "overloaded"] }\n',
)
RATE = 100.0  # sessions per second
PATIENCE_S = 10.0


def _sampling(
    every_s: float, sample: Callable[[simpy.Environment], None]
) -> Callable[[simpy.Environment], int]:
    """A replacement for the span's run loop that calls ``sample(env)`` every ``every_s``."""

    def run(env: simpy.Environment) -> int:
        events = 0
        next_s = every_s
        try:
            while True:
                env.step()
                events += 1
                if env.now >= next_s:
                    next_s += every_s
                    sample(env)
        except simpy.core.EmptySchedule:
            return events

    return run


def _run(
    text: str, monkeypatch: pytest.MonkeyPatch, sample: Callable[[Any], None], every_s: float
) -> Any:
    spec = Scenario(tomllib.loads(text)).spec
    monkeypatch.setattr(span_module, "_run_to_end", _sampling(every_s, sample))
    horizon = spec.run.horizon_s
    return run_span(spec, spec.partners, Streams(1), (0.0, horizon), (0.0, horizon))


def test_pending_events_stay_with_the_sessions_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pending events never exceed a few per session in flight (at most rate x patience
    sessions), while the queue at the one server grows to hours; the pool ends holding its
    one worker's free time and nothing for the tens of thousands of attempts still queued."""
    pending: list[int] = []
    sp = _run(OVERLOAD, monkeypatch, lambda env: pending.append(len(env._queue)), 10.0)
    (pool,) = sp.pools
    assert sp.calls.attempts > 100_000
    assert pool.admitted > 100_000
    assert pool.busy_s > 0.99 * 600.0  # saturated from the start
    assert sp.calls.wait_max.wait_max_s.max() > 3 * 3600.0  # queued for hours at the end
    in_flight = RATE * PATIENCE_S
    assert max(pending) <= 2 * in_flight  # one timeout per session, plus the arrivals
    assert pool.entries == 1  # the worker's free time: no per-attempt state


def test_a_detached_server_side_is_one_pending_timeout_and_no_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A token service at 25x its capacity: every attempt's client leaves while its token
    request waits, and the rest of its server side (limits, overhead, backend) continues
    without it. The pending timeouts grow with the token queue (that is the backlog the
    feasibility estimate counts), but the processes alive stay those of the sessions in flight."""
    text = OVERLOAD.replace('mean = "1s"', 'mean = "10ms"').replace("servers = 1", "servers = 4")
    text = text.replace('horizon = "10min"', 'horizon = "4min"')
    text = text.replace(
        "[bank.pools.core]",
        '[gateway.auth]\ntoken_ttl = "1h"\nservers = 1\n'
        'service_time = { dist = "constant", value = "250ms" }\n\n[bank.pools.core]',
    )
    samples: list[tuple[int, int]] = []

    def sample(env: simpy.Environment) -> None:
        if env.now > 240.0:  # the token queue drains for hours after the horizon
            return
        processes = sum(1 for o in gc.get_objects() if isinstance(o, simpy.Process))
        samples.append((len(env._queue), processes))

    sp = _run(text, monkeypatch, sample, 60.0)
    assert sp.gateway is not None and sp.gateway.token_requests > 20_000
    pending, _ = samples[2]  # at 3 min, inside the horizon
    assert pending > 5 * RATE * PATIENCE_S  # the token queue's detached server sides
    assert max(p for _, p in samples) <= 2 * RATE * PATIENCE_S
