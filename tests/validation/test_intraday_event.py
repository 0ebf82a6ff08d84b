"""Sessions inside a 30-minute x3 profile event match the NHPP's rate integral.

One partner at a flat 0.5 sessions per second meets an event ``01-05T00:40`` of factor 3 for
30 minutes; each session makes one call, so first attempts per 10-minute bin count sessions.
Over 20 replications (seeds 0-19) the mean count inside the event, and in the half hours
before and after it, are compared with the rate integral by a 99 % Student-t interval.
"""

from __future__ import annotations

import tomllib

from minimal_scenario import minimal_toml
from theory import assert_covers, t_interval

from openbank_sim import Scenario, simulate

RATE_PER_S = 0.5
FACTOR = 3.0
REPLICATIONS = 20
# Power: each interval's half width below this fraction of the expected count (the seeded
# replications give 0.011 inside the event and 0.017-0.021 outside)
INSIDE_MAX_REL_HALF_WIDTH = 0.025
OUTSIDE_MAX_REL_HALF_WIDTH = 0.04

SCENARIO = minimal_toml(
    ("users = 1000", f"users = {round(RATE_PER_S * 86400)}"),
    ("sessions_per_user_day = 2.0", "sessions_per_user_day = 1.0"),
    ('journey = "buy"\n', 'journey = "buy"\nprofile = "peak"\n'),
    prepend='[run]\nstart = "2026-01-05"\nhorizon = "2h"\ntime_bin = "10m"\n\n',
    append=(
        "\n[profiles.peak]\n"
        f'events = [{{ date = "01-05T00:40", factor = {FACTOR}, duration = "30min" }}]\n'
    ),
)


def _counts(seed: int) -> tuple[float, float, float]:
    ts = simulate(Scenario(tomllib.loads(SCENARIO)), seed=seed).timeseries
    by_bin = ts.groupby("bin")["first_attempts"].sum()

    def bins(lo: int, hi: int) -> float:
        return float(by_bin.reindex(range(lo, hi), fill_value=0).sum())

    return bins(1, 4), bins(4, 7), bins(7, 10)  # 00:10-00:40, the event, 01:10-01:40


def test_sessions_inside_an_intraday_event_match_the_rate_integral():
    runs = [_counts(seed) for seed in range(REPLICATIONS)]
    before, inside, after = zip(*runs, strict=True)
    base = RATE_PER_S * 1800.0
    assert_covers(
        t_interval(inside),
        FACTOR * base,
        max_rel_half_width=INSIDE_MAX_REL_HALF_WIDTH,
        label="sessions inside the event",
    )
    for label, values in (("before", before), ("after", after)):
        assert_covers(
            t_interval(values),
            base,
            max_rel_half_width=OUTSIDE_MAX_REL_HALF_WIDTH,
            label=f"sessions in the half hour {label} the event",
        )
