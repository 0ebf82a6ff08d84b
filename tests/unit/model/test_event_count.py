"""SimPy events per attempt: sessions are state machines on the event queue, not processes.

An attempt costs one SimPy event, its arrival (a session's first attempt arrives in the same
wake-up that starts the session), plus one for each server step that takes time (a token
request waiting for the token service, the overhead before the backend pool) and one when the
client draws a backoff's jitter after waiting for an answer (a timeout). Counted exactly, so
that a change cannot silently bring processes (three or four events per attempt) back.
"""

from __future__ import annotations

import tomllib

from minimal_scenario import minimal_toml

from openbank_sim import simulate
from openbank_sim.spec.scenario import Scenario

MAX_ATTEMPTS = 3

# One server with room for one waiting attempt, about 0.9 busy: 503s and timeouts both happen.
# Two steps, the second after an exponential think time; retries on 503 and on timeouts with a
# fully jittered backoff; every attempt in the call log.
RETRIES = minimal_toml(
    ("servers = 4", "servers = 1\nqueue_limit = 1"),
    ("users = 1000\nsessions_per_user_day = 2.0", "users = 1000\nsessions_per_user_day = 389.0"),
    (
        'steps = [{ product = "pay" }]',
        'steps = [{ product = "pay" }, { product = "pay", think_time = '
        '{ dist = "exponential", mean = "2s" } }]',
    ),
    prepend='[run]\nhorizon = "20min"\nwarmup = "0s"\nrecord_calls = "all"\n\n',
    append=(
        f'client = {{ timeout = "250ms", max_attempts = {MAX_ATTEMPTS}, '
        'retry_on = ["overloaded", "timeout"], '
        'backoff = { base = "200ms", factor = 2.0, max = "2s", jitter = "full" } }\n'
    ),
)


def test_one_event_per_attempt_plus_one_per_jitter_drawn_after_a_wait():
    results = simulate(Scenario(tomllib.loads(RETRIES)), seed=3)
    log = results.tables["calls"]
    attempts = int(results.manifest["attempts_simulated"])
    assert len(log) == attempts
    retries_after_503 = int(
        ((log["outcome"] == "overloaded") & (log["attempt"] < MAX_ATTEMPTS)).sum()
    )
    retries_after_timeout = int(
        ((log["outcome"] == "timeout") & (log["attempt"] < MAX_ATTEMPTS)).sum()
    )
    second_steps = int(
        log.groupby("session")["attempt"].apply(lambda k: int((k == 1).sum()) - 1).sum()
    )
    # the scenario exercises what it is meant to: think times, and retries of both kinds
    assert second_steps > 1000 and retries_after_503 > 1000 and retries_after_timeout > 1000
    events = int(results.manifest["events"])
    # a 503 is known at the arrival, so its backoff's jitter is drawn in the same wake-up; a
    # timeout is known only when the client has waited for it: one more wake-up to draw it
    assert events == attempts + retries_after_timeout
    assert events / attempts < 1.5


def test_each_server_step_that_takes_time_is_one_event():
    """Auth (every token request waits for the token service) and gateway overhead before the
    pool: two more events an attempt, with a timeout long enough that none happens."""
    text = (
        RETRIES.replace('record_calls = "all"', 'record_calls = "none"')
        .replace('timeout = "250ms"', 'timeout = "30s"')
        .replace('retry_on = ["overloaded", "timeout"]', 'retry_on = ["overloaded"]')
    ) + (
        '\n[gateway]\noverhead = { dist = "exponential", mean = "5ms" }\n'
        '[gateway.auth]\ntoken_ttl = "1s"\nservers = 1\n'
        'service_time = { dist = "exponential", mean = "10ms" }\n'
    )
    results = simulate(Scenario(tomllib.loads(text)), seed=3)
    attempts = int(results.manifest["attempts_simulated"])
    events = int(results.manifest["events"])
    tokens = int(results.kpis["token_requests"])  # those sent before the horizon
    assert tokens > 0.5 * attempts and results.kpis["calls_timeout"] == 0
    # arrival + overhead + token answer; the attempts after the horizon (retries of the last
    # sessions) fetch tokens that the KPI does not count
    expected = 2 * attempts + tokens
    assert expected <= events <= expected + 0.001 * attempts


def test_a_client_lever_adds_one_wake_up_per_outcome_that_comes_after_the_arrival():
    # with a retry budget, the client acts on each outcome at the moment it has it, in time
    # order: one wake-up per attempt answered after its arrival (a 503 is known at once), which
    # also draws the backoff's jitter
    budget = RETRIES.replace(
        "max_attempts",
        'retry_budget = { ratio = 0.5, min_per_s = 1.0, window = "10s" }, max_attempts',
    )
    results = simulate(Scenario(tomllib.loads(budget)), seed=3)
    log = results.tables["calls"]
    attempts = int(results.manifest["attempts_simulated"])
    assert len(log) == attempts
    answered_later = int((log["latency_s"] > 0).sum())
    assert results.kpis["retries_suppressed"] > 100  # the budget acts
    assert int(results.manifest["events"]) == attempts + answered_later
