"""``--kpi`` on sweep, compare and report picks the KPIs shown; the defaults follow the scenario
(onboarding scenarios lead with NPV, payback, partners live); tables fit 100 columns; a name
that is no KPI is one error before anything runs or is written."""

from __future__ import annotations

import pytest

from openbank_sim.analysis.kpis import CALL_HEADLINES, ONBOARDING_HEADLINES
from openbank_sim.cli import main

SHORT = ["--set", "run.horizon=6h"]
VARY = ["--vary", "bank.pools.core.servers=1,2", "--vary", "gateway.auth.servers=1,2"]


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _table_rows(text: str) -> set[str]:
    return {line.split()[0] for line in _lines(text)}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    out = tmp_path_factory.mktemp("kpi") / "store"
    argv = ["sweep", "medical", *SHORT, *VARY, "--out", str(out), "--quiet"]
    assert main([*argv, "--executor", "serial"]) == 0
    return out


def test_sweep_shows_the_headlines_within_100_columns(tmp_path, capsys):
    out = tmp_path / "s"
    argv = ["sweep", "medical", *SHORT, *VARY, "--out", str(out), "--quiet", "--executor"]
    assert main([*argv, "serial"]) == 0
    shown = capsys.readouterr().out
    for kpi in CALL_HEADLINES:
        assert kpi in shown
    assert "npv" not in shown
    assert max(len(line) for line in shown.splitlines()) <= 100


def test_sweep_kpi_picks_the_columns(tmp_path, capsys):
    out = tmp_path / "s"
    argv = ["sweep", "medical", *SHORT, *VARY, "--out", str(out), "--quiet", "--kpi"]
    assert main([*argv, "calls_total", "--executor", "serial"]) == 0
    shown = capsys.readouterr().out
    assert "calls_total" in shown and "success_rate" not in shown


def test_report_of_a_sweep_store_with_kpi(store, capsys):
    capsys.readouterr()
    assert main(["report", str(store), "--kpi", "backend_wait_mean_s"]) == 0
    shown = capsys.readouterr().out
    assert "backend_wait_mean_s" in shown and "latency_p95_s" not in shown


def test_report_of_a_run_folder_with_kpi(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "medical", *SHORT, "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["report", str(out), "--kpi", "calls_total", "--kpi", "success_rate"]) == 0
    shown = capsys.readouterr().out
    assert _table_rows(shown) >= {"calls_total", "success_rate"}
    assert "latency_p95_s" not in shown


def test_kpis_may_be_given_comma_separated(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "medical", *SHORT, "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["report", str(out), "--kpi", "calls_total,success_rate"]) == 0
    shown = capsys.readouterr().out
    assert _table_rows(shown) >= {"calls_total", "success_rate"}
    assert main(["report", str(out), "--kpi", "calls_total,sucess_rate"]) == 2
    assert "did you mean 'success_rate'" in capsys.readouterr().err


def test_compare_defaults_and_kpi(capsys):
    argv = ["compare", "medical", "medical", *SHORT, "--replications", "2", "--quiet"]
    assert main([*argv, "--set-b", "bank.pools.core.servers=1"]) == 0
    shown = capsys.readouterr().out
    assert set(CALL_HEADLINES) <= _table_rows(shown)
    assert "calls_timeout" not in _table_rows(shown)
    assert main([*argv, "--kpi", "calls_timeout"]) == 0
    assert "calls_timeout" in _table_rows(capsys.readouterr().out)


def test_an_onboarding_scenario_leads_with_npv_and_payback(capsys):
    argv = ["compare", "traditional_vs_api", "traditional_vs_api", "--set", "run.horizon=90d"]
    argv += ["--set-a", "onboarding.integration=traditional"]
    argv += ["--set-b", "onboarding.integration=api", "--replications", "2", "--quiet"]
    assert main(argv) == 0
    rows = _table_rows(capsys.readouterr().out)
    assert set(ONBOARDING_HEADLINES) <= rows and "latency_p95_s" not in rows


@pytest.mark.parametrize("command", ["sweep", "compare", "report"])
def test_an_unknown_kpi_is_one_error_and_nothing_is_written(command, store, tmp_path, capsys):
    out = tmp_path / "never"
    argv = {
        "sweep": ["sweep", "medical", *SHORT, *VARY, "--out", str(out)],
        "compare": ["compare", "medical", "medical", *SHORT, "--out", str(out)],
        "report": ["report", str(store), "--out", str(out)],
    }[command]
    assert main([*argv, "--kpi", "sucess_rate"]) == 2
    err = capsys.readouterr().err
    assert "--kpi" in err and "sucess_rate" in err and "success_rate" in err
    assert "Traceback" not in err and not out.exists()
