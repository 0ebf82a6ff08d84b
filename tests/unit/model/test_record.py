"""The model's hand-off: :class:`openbank_sim.model.record.RunRecord` and what the recorder
puts in it (tables with named axes and their own bin width; no packed keys leave the model)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from minimal_scenario import minimal_toml

from openbank_sim import load_scenario
from openbank_sim.histogram import LatencyHistogram
from openbank_sim.model.record import (
    BinLatency,
    CallAggregates,
    CallCounts,
    JourneyCounts,
    MoneyCells,
    RunRecord,
)
from openbank_sim.model.recorder import Recorder, RecorderLayout
from openbank_sim.model.world import run_world
from openbank_sim.outcomes import Outcome

HOUR_S = 3600.0


def recorder(**changes: object) -> Recorder:
    """Two partners x three products x two pools, hourly bins, call KPIs from 1 h to 10 h."""
    layout = RecorderLayout(
        n_partners=2,
        n_products=3,
        n_pools=2,
        product_pool=(0, 1, 1),
        product_cost=(0.5, 0.25, 0.125),
        warmup_s=HOUR_S,
        horizon_s=10 * HOUR_S,
        time_bin_s=HOUR_S,
    )
    return Recorder(dataclasses.replace(layout, **changes), flush_every=3)


def cells(counts: CallCounts) -> dict[tuple[int, int, int, int], int]:
    axes = (counts.bin, counts.partner, counts.product, counts.outcome)
    keys = zip(*(a.tolist() for a in axes), strict=True)
    return dict(zip(keys, counts.count.tolist(), strict=True))


def test_counts_come_out_by_named_axes() -> None:
    """Each attempt lands in the (bin, partner, product, outcome) cell of its arrival; the
    warm-up and the horizon bound the call KPIs, and money counts from 0."""
    rec = recorder()
    P = 3
    rec.attempt(0.5 * HOUR_S, 1 * P + 2, Outcome.OK, 0.1, 0.0, 7.0)  # warm-up: money only
    rec.attempt(1.5 * HOUR_S, 1 * P + 2, Outcome.OK, 0.1, 0.0, 3.0)
    rec.attempt(1.6 * HOUR_S, 1 * P + 2, Outcome.OK, 0.2, 0.0, 3.0)
    rec.attempt(2.5 * HOUR_S, 0 * P + 1, Outcome.RATE_LIMITED, 0.0, -1.0, 0.0)
    rec.attempt(9.5 * HOUR_S, 0 * P + 0, Outcome.TIMEOUT, 5.0, 1.0, 0.0)
    rec.attempt(10.5 * HOUR_S, 0 * P + 0, Outcome.OK, 0.1, 0.0, 11.0)  # after the horizon
    calls = rec.aggregates()
    assert isinstance(calls, CallAggregates)
    assert calls.counts.bin_s == HOUR_S
    assert cells(calls.counts) == {
        (1, 1, 2, Outcome.OK): 2,
        (2, 0, 1, Outcome.RATE_LIMITED): 1,
        (9, 0, 0, Outcome.TIMEOUT): 1,
    }
    assert calls.counts.count.dtype == np.int64
    revenue = dict(
        zip(
            zip(calls.revenue.bin.tolist(), calls.revenue.partner.tolist(), strict=True),
            calls.revenue.amount.tolist(),
            strict=True,
        )
    )
    assert revenue == {(0, 1): 7.0, (1, 1): 6.0, (2, 0): 0.0, (9, 0): 0.0}
    assert calls.cost.amount.sum() == pytest.approx(0.125 * 3 + 0.25 + 0.5)
    assert calls.attempts == 6
    # one histogram per (bin, product) with ok attempts, sorted; waits by pool
    assert calls.latency_by_bin.bin.tolist() == [1]
    assert calls.latency_by_bin.product.tolist() == [2]
    assert calls.latency_by_bin.histograms[0].count == 2
    assert calls.wait_count.tolist() == [1, 2]  # admitted in the window: pool 0 once, pool 1 twice
    assert calls.latency_by_partner[1].count == 2 and calls.latency_by_partner[0].count == 0
    assert calls.slo is None and calls.call_log is None


def test_slo_aggregates_are_keyed_by_period_and_partner() -> None:
    rec = recorder(slo_period_s=2 * HOUR_S)
    rec.attempt(1.5 * HOUR_S, 0, Outcome.OK, 0.1, 0.0, 0.0)
    rec.attempt(2.5 * HOUR_S, 3, Outcome.ERROR, 0.1, 0.0, 0.0)
    rec.attempt(3.5 * HOUR_S, 3, Outcome.OK, 0.3, 0.0, 0.0)
    slo = rec.aggregates().slo
    assert slo is not None and slo.period_s == 2 * HOUR_S
    assert dict(slo.counts) == {(0, 0): (1, 0, 1), (1, 1): (2, 1, 1)}
    assert set(slo.latency) == {(0, 0), (1, 1)}


def test_from_cells_keeps_the_order_and_the_kind_of_count() -> None:
    """Booked (expected) counts stay floats; whole ones become integers; order is kept."""
    booked = CallCounts.from_cells(86400.0, {(3, 0, 1, 0): 2.5, (1, 1, 0, 3): 0.25})
    assert booked.bin.tolist() == [3, 1] and booked.count.dtype == np.float64
    whole = CallCounts.from_cells(60.0, {(0, 0, 0, 0): 2.0})
    assert whole.count.dtype == np.int64
    empty = CallCounts.from_cells(60.0, {})
    assert empty.bin.size == 0 and empty.count.size == 0
    money = MoneyCells.from_cells(60.0, {(2, 1, 0): 1.5})
    assert (money.bin.tolist(), money.partner.tolist(), money.amount.tolist()) == ([2], [1], [1.5])
    journeys = JourneyCounts.from_cells({(0, 1, 2): 3, (0, 0, 0): 1})
    assert journeys.partner.tolist() == [1, 0] and journeys.count.dtype == np.int64
    h1, h2 = LatencyHistogram(), LatencyHistogram()
    lat = BinLatency.from_cells(60.0, {(2, 0): h1, (1, 3): h2})
    assert lat.bin.tolist() == [1, 2] and lat.histograms == (h2, h1)


@pytest.mark.parametrize("traffic", ["full", "windowed"])
def test_full_and_windowed_runs_hand_on_the_same_record(tmp_path: Path, traffic: str) -> None:
    """Both kinds of traffic produce a RunRecord of the same types; the windowed one books in
    its own bin width, which the record carries (time_bin 1h, horizon 90 days: daily bins)."""
    run = (
        '[run]\nhorizon = "90d"\nwarmup = "0s"\ntime_bin = "1h"\ntraffic = "windowed"\n'
        'windows = { every = "30d", length = "2h", warmup = "10min" }\n'
        if traffic == "windowed"
        else '[run]\nhorizon = "3h"\nwarmup = "10min"\ntime_bin = "1h"\n'
    )
    path = tmp_path / "s.toml"
    path.write_text(minimal_toml(prepend=run), encoding="utf-8")
    record = run_world(load_scenario(path).spec, 1)
    assert isinstance(record, RunRecord)
    assert isinstance(record.calls, CallAggregates)
    for field in dataclasses.fields(CallAggregates):
        value = getattr(record.calls, field.name)
        if field.name in ("slo", "call_log", "client_levers", "breaker_transitions"):
            assert value is None  # none asked for: no SLOs, call log or client levers
        else:
            assert value is not None, field.name
    assert record.partner_names == ("shop",) and record.pool_names == ("core",)
    counts = record.calls.counts
    assert counts.count.sum() > 0
    expected_bin_s = 86400.0 if traffic == "windowed" else HOUR_S
    assert counts.bin_s == record.calls.revenue.bin_s == expected_bin_s
    assert record.calls.latency_by_bin.bin_s == HOUR_S  # measured in the windows' own bins
    assert (record.windows is not None) is (traffic == "windowed")
