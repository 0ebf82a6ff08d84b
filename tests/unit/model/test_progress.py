"""Progress of a run: the hook hears how far the run got, and never changes the numbers."""

from __future__ import annotations

from openbank_sim import simulate
from openbank_sim.analysis.results import build_results
from openbank_sim.model.world import run_world
from openbank_sim.spec.scenario import load_scenario


def _kpis(record) -> dict:
    return build_results(record, {}, None).kpis


def _calls(hook_calls: list[tuple[float, float]]):
    def hook(done: float, total: float) -> None:
        hook_calls.append((done, total))

    return hook


def test_full_traffic_reports_simulated_seconds_up_to_the_horizon():
    spec = load_scenario("medical").with_overrides({"run.horizon": "2d"}).spec
    heard: list[tuple[float, float]] = []
    with_hook = run_world(spec, 7, _calls(heard))
    without = run_world(spec, 7)
    assert len(heard) > 2  # ticks along the way, not only at the end
    assert {t for _, t in heard} == {spec.run.horizon_s}
    done = [d for d, _ in heard]
    assert done == sorted(done) and done[-1] == spec.run.horizon_s
    assert with_hook.events == without.events
    assert _kpis(with_hook) == _kpis(without)


def test_windowed_traffic_reports_windows():
    scenario = load_scenario("traditional_vs_api").with_overrides({"run.horizon": "90d"})
    heard: list[tuple[float, float]] = []
    record = run_world(scenario.spec, 3, _calls(heard))
    totals = {t for _, t in heard}
    assert len(totals) == 1 and totals.pop() >= len(record.windows)  # and outage windows
    done = [d for d, _ in heard]
    assert done == sorted(done) and done[-1] == heard[-1][1]
    assert _kpis(record) == _kpis(run_world(scenario.spec, 3))


def test_simulate_with_a_bar_gives_the_same_numbers(capsys):
    o = {"run.horizon": "6h"}
    assert (
        simulate("medical", overrides=o, progress=True).kpis
        == simulate("medical", overrides=o).kpis
    )
    err = capsys.readouterr().err
    assert "medical" in err and "6.0/6 h simulated" in err
