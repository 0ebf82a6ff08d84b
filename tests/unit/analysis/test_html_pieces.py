"""The HTML report's pieces without a run: the target check, the atomic write, escaping,
the KPI units and the scenario digest."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from minimal_scenario import MINIMAL_TOML

from openbank_sim.analysis.html_report import (
    HtmlReport,
    check_html_target,
    render_html,
    scenario_digest,
    scenario_levers,
    write_html,
)
from openbank_sim.analysis.kpis import KPI_NAMES, SHARES, kpi_unit
from openbank_sim.errors import ScenarioError
from openbank_sim.spec.scenario import Scenario


def test_the_target_must_be_a_file_in_an_existing_directory(tmp_path: Path) -> None:
    assert check_html_target(tmp_path / "r.html") == tmp_path / "r.html"
    with pytest.raises(ScenarioError, match="is a directory") as err:
        check_html_target(tmp_path, "--html")
    assert err.value.path == "--html"
    with pytest.raises(ScenarioError, match="does not exist"):
        check_html_target(tmp_path / "missing" / "r.html")
    (tmp_path / "f").write_text("x", encoding="utf-8")
    with pytest.raises(ScenarioError, match="is a file"):
        check_html_target(tmp_path / "f" / "r.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]  # nothing created


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "r.html"
    write_html(target, "old")
    assert target.read_text(encoding="utf-8") == "old"

    def crash(src: object, dst: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        write_html(target, "new")
    assert target.read_text(encoding="utf-8") == "old"  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temporary file left


def test_every_text_is_escaped() -> None:
    report = HtmlReport(
        title="<b>x</b>",
        question='say "hi" & <script>',
        kpis=pd.DataFrame({"KPI": ["<i>"], "value": [1.5]}),
        warnings=["<img src=x>"],
        provenance={"a<": "b>"},
    )
    text = render_html(report)
    assert "<script>" not in text and "<b>x</b>" not in text and "<img src=x>" not in text
    assert "&lt;script&gt;" in text and "&lt;img src=x&gt;" in text
    assert "Content-Security-Policy" in text and "default-src 'none'" in text


def test_every_kpi_has_a_unit_or_is_a_plain_count() -> None:
    units = {k: kpi_unit(k, "EUR") for k in KPI_NAMES}
    assert units["latency_p95_s"] == "s" and units["throughput_ok_per_s"] == "1/s"
    assert units["revenue_total"] == "EUR" and units["cost_per_partner"] == "EUR"
    assert units["payback_month"] == "month" and units["time_to_market_p90_days"] == "days"
    assert all(units[k] == "share" for k in SHARES)
    assert all(units.values()), [k for k, u in units.items() if not u]


def test_digest_and_levers_of_a_scenario() -> None:
    raw = tomllib.loads(MINIMAL_TOML)
    scenario = Scenario(raw)
    # the same after a trip through a manifest's JSON
    assert scenario_digest(raw) == scenario_digest(json.loads(scenario.to_json()))
    levers = dict(scenario_levers(raw))
    assert levers["Backend pools (capacity)"]["servers"].tolist() == [4]
    assert scenario_levers(None) == []
    assert scenario_levers({"bank": "not a table"}) == []  # no longer valid: no levers
