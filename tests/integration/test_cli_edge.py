"""``openbank-sim edge``: the table, --json, --out (files, safety) and exit 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from minimal_scenario import minimal_toml

from openbank_sim.cli import main

# 4 servers of 100 ms at 2 sessions/s (offered load 0.2 x the multiplier): a run of a few
# thousand attempts
SCENARIO = minimal_toml(
    ("users = 1000\n", "users = 172800\n"),
    prepend='name = "edge_check"\n\n[run]\nhorizon = "1h"\nwarmup = "1m"\nseed = 5\n\n',
)
EDGE = ["--vary", "load=0.5:2", "--levels", "3", "--dwell", "2m", "--replications", "2"]


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("edge") / "edge_check.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


def test_table_and_out(scenario_file, tmp_path, capsys):
    out = tmp_path / "edge"
    assert main(["edge", str(scenario_file), *EDGE, "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "load from 0.5 to 2 and back, 3 levels of 2min each way" in text
    assert "seeds 5-6" in text and "widest gap (success rate down - up)" in text
    assert len([line for line in text.splitlines() if " up " in line]) == 3
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == [
        "edge.csv",
        "edge.json",
        "edge_summary.csv",
        "figures/edge_curve.png",
        "hysteresis.csv",
        "manifest.json",
    ]
    runs = pd.read_csv(out / "edge.csv")
    assert len(runs) == 2 * 3 * 2  # replications x levels x directions
    assert set(runs["direction"]) == {"up", "down"} and set(runs["seed"]) == {5, 6}
    assert set(runs["level_value"]) == {0.5, 1.25, 2.0}
    assert len(pd.read_csv(out / "edge_summary.csv")) == 6
    assert len(pd.read_csv(out / "hysteresis.csv")) == 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "openbank_sim.edge" and manifest["vary"] == "load=0.5:2"
    # written again over itself: fine; over a folder of the user's: refused, exit 2
    assert main(["edge", str(scenario_file), *EDGE, "--out", str(out), "--quiet"]) == 0
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    assert main(["edge", str(scenario_file), *EDGE, "--out", str(theirs), "--quiet"]) == 2
    assert sorted(p.name for p in theirs.iterdir()) == ["notes.txt"]


def test_json(scenario_file, capsys):
    args = ["--vary", "bank.pools.core.servers=1:4", "--levels", "4", "--dwell", "1m"]
    assert main(["edge", str(scenario_file), *args, "--replications", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["lever"] == "bank.pools.core.servers" and doc["values"] == [1.0, 2.0, 3.0, 4.0]
    assert doc["seeds"] == [5, 6] and len(doc["summary"]) == 8 and len(doc["hysteresis"]) == 4
    assert set(doc["widest_gap"]) == {"level", "level_value", "diff_mean", "ci_low", "ci_high"}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--vary", "client.timeout=1:2"], "load, partners.NAME.load, bank.pools.NAME.servers"),
        (["--vary", "load=2:1"], "--vary"),
        (["--vary", "load=1"], "KEY=LOW:HIGH"),
        (["--vary", "load=a:b"], "numbers"),
        (["--vary", "load=1:2", "--levels", "1"], "--levels"),
        (["--vary", "load=1:2", "--dwell", "0s"], "--dwell"),
        (["--vary", "load=1:2", "--dwell", "1h"], "ends after the horizon"),
        (["--vary", "bank.pools.core.servers=1.5:4"], "whole numbers"),
        (["--vary", "bank.pools.core.servers=0:4"], "whole numbers"),
        (["--vary", "bank.pools.nope.servers=1:4"], "no pool named 'nope'"),
        (["--vary", "load=1:2", "--replications", "0"], "--replications"),
    ],
)
def test_bad_input_exits_2(scenario_file, tmp_path, capsys, args, fragment):
    out = tmp_path / "never"
    assert main(["edge", str(scenario_file), *args, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert len(err.strip().splitlines()) <= 2
    assert not out.exists()
