"""The explorer's callbacks, headless: a widget's new value runs the scenario again and the
KPI card and figures follow; bad levers are one clear error."""

from __future__ import annotations

import math

import pytest

from openbank_sim import ScenarioError
from openbank_sim.explorer import default_levers, explore
from openbank_sim.spec.scenario import load_scenario

pytest.importorskip("ipywidgets")

LEVERS = {"bank.pools.core.servers": {"low": 1, "high": 4}, "gateway.auth.servers": [1, 2]}


@pytest.fixture(scope="module")
def panel():
    return explore("medical", LEVERS, horizon="12h")


def test_opens_with_numbers_and_says_what_it_runs(panel):
    assert panel.runs == 1 and panel.results is not None
    assert "run.horizon = 12h" in panel.horizon_note and "7d" in panel.horizon_note
    assert "success rate" in panel.card.value and "p95 latency" in panel.card.value
    assert len(panel.figures) >= 2


def test_levers_are_named_in_words_with_the_key_as_tooltip(panel):
    servers = panel.controls["bank.pools.core.servers"]
    auth = panel.controls["gateway.auth.servers"]
    assert servers.description == "servers in pool core"
    assert servers.tooltip == "bank.pools.core.servers"
    assert "." not in auth.description and auth.tooltip == "gateway.auth.servers"


def test_a_slider_runs_again_and_redraws(panel):
    before_kpis, before_figures = dict(panel.kpis), list(panel.figures)
    slider = panel.controls["bank.pools.core.servers"]
    assert type(slider).__name__ == "IntSlider"  # servers take only integers
    slider.value = 1
    assert panel.runs == 2
    assert panel.overrides["bank.pools.core.servers"] == 1
    assert panel.results.by_pool.set_index("pool").loc["core", "servers"] == 1
    # one server instead of two: the queue wait grows, and the card and figures follow
    assert panel.kpis["backend_wait_mean_s"][0] > before_kpis["backend_wait_mean_s"][0]
    assert all(a is not b for a, b in zip(panel.figures, before_figures, strict=False))
    card = panel.card.value
    p95_ms = f"{panel.kpis['latency_p95_s'][0] * 1000:,.0f} ms"
    assert p95_ms in card


def test_a_drop_down_runs_again(panel):
    runs = panel.runs
    panel.controls["gateway.auth.servers"].value = 2
    assert panel.runs == runs + 1 and panel.overrides["gateway.auth.servers"] == 2


def test_replications_put_intervals_on_the_card():
    e = explore("medical", {"bank.pools.core.servers": [2, 3]}, horizon="6h", replications=3)
    mean, low, high = e.kpis["success_rate"]
    assert low <= mean <= high and math.isfinite(low)
    assert "3 replications" in e.horizon_note and "[" in e.card.value


def test_quick_mode_of_a_long_full_traffic_scenario_is_windowed():
    e = explore("ecommerce", {"bank.pools.core.servers": [2]}, run=False)
    assert e.overrides["run.traffic"] == "windowed" and "windowed" in e.horizon_note


def test_default_levers_follow_the_scenario():
    levers = default_levers(load_scenario("traditional_vs_api"))
    assert levers["onboarding.integration"] == ["api", "traditional"]
    assert "bank.pools.core.servers" in levers and "gateway.limits.0.rate" in levers


@pytest.mark.parametrize(
    ("levers", "path"),
    [
        ({"bank.pools.nope.servers": {"low": 1, "high": 2}}, "bank.pools.nope"),
        ({"bank.pools.core.servers": {"low": 3, "high": 2}}, "levers.bank.pools.core.servers"),
        ({"bank.pools.core.servers": 5}, "levers.bank.pools.core.servers"),
        ({"bank.pools.core.servers": []}, "levers.bank.pools.core.servers"),
    ],
)
def test_bad_levers_are_one_clear_error(levers, path):
    with pytest.raises(ScenarioError) as err:
        explore("medical", levers, run=False)
    assert path in str(err.value)


def test_bad_horizon_and_replications():
    with pytest.raises(ScenarioError, match="horizon"):
        explore("medical", LEVERS, horizon="soon", run=False)
    with pytest.raises(ScenarioError, match="replications"):
        explore("medical", LEVERS, replications=0, run=False)
