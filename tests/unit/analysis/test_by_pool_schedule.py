"""``by_pool`` shows the capacity as scheduled over the KPI window, not only as configured."""

from __future__ import annotations

import pytest
from minimal_scenario import minimal_toml

from openbank_sim import load_scenario, simulate

# 4 servers, 8 from 06:00 to 12:00 and 2 from 18:00 to 24:00 of the one simulated day
# (2026-01-05, the default start): 6 h x 8 + 6 h x 2 + 12 h x 4 = 108 server-hours in 24 h.
SCHEDULED = minimal_toml(
    (
        "servers = 4\n",
        "servers = 4\nschedule = ["
        '{ from = "01-05T06:00", to = "01-05T12:00", servers = 8 }, '
        '{ from = "01-05T18:00", to = "01-06T00:00", servers = 2 }]\n',
    ),
    prepend='[run]\nhorizon = "1d"\n\n',
)


def test_scheduled_capacity_min_mean_max(tmp_path):
    path = tmp_path / "scheduled.toml"
    path.write_text(SCHEDULED)
    row = simulate(load_scenario(path), seed=1).by_pool.set_index("pool").loc["core"]
    assert row["servers"] == 4
    assert (row["servers_min"], row["servers_max"]) == (2, 8)
    assert row["servers_mean"] == pytest.approx(108 / 24, rel=1e-12)


def test_without_a_schedule_all_three_are_the_configured_servers(tmp_path):
    path = tmp_path / "plain.toml"
    path.write_text(minimal_toml(prepend='[run]\nhorizon = "1d"\n\n'))
    row = simulate(load_scenario(path), seed=1).by_pool.set_index("pool").loc["core"]
    assert (row["servers_min"], row["servers_mean"], row["servers_max"]) == (4, 4.0, 4)
