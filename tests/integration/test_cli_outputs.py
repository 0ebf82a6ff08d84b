"""``compare --out``, ``report --out`` and ``compare --set-a/--set-b``.

Both output folders have the safety of ``run --out`` (``openbank_sim/analysis/folders.py``): a
folder holding anything that is not this project's output of the same kind is refused with
exit 2 naming the folder and what is in it, and nothing is written; ``--force`` writes beside
the other files and leaves them untouched. ``--set-a`` / ``--set-b`` set one arm only and are
validated like ``--set``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from minimal_scenario import minimal_toml

from openbank_sim.cli import main

SMALL = minimal_toml(prepend='name = "small"\n\n[run]\nhorizon = "10m"\ntime_bin = "1m"\n\n')
SERVERS = "bank.pools.core.servers"
COMPARE_FILES = {"comparison.csv", "comparison.json", "intervals.csv", "manifest.json", "runs.csv"}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "small.toml"
    path.write_text(SMALL, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run_folder(small: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "results"
    assert main(["run", str(small), "--out", str(out), "--quiet"]) == 0
    return out


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def compare_args(small: Path, *more: object) -> tuple[object, ...]:
    return ("compare", small, small, "--replications", 2, "--executor", "serial", "--quiet", *more)


def foreign_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("my notes\n", encoding="utf-8")
    return folder


def assert_refused(code: int, out: str, err: str, folder: Path) -> None:
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    assert err.startswith("openbank-sim: error: ")
    assert str(folder) in err and "notes.txt" in err and "--force" in err
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]  # nothing written


# -- compare --out ----------------------------------------------------------------------------


def test_compare_out_writes_the_tables_and_the_summary(
    capsys: pytest.CaptureFixture[str], small: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cmp"
    code, text, _err = cli(capsys, *compare_args(small, "--set-b", f"{SERVERS}=1", "--out", out))
    assert code == 0
    assert "B - A" in text  # the table is printed as before
    assert {p.name for p in out.iterdir()} == COMPARE_FILES
    table = pd.read_csv(out / "comparison.csv")
    assert {"kpi", "mean_a", "mean_b", "diff_mean", "ci_low", "ci_high"} <= set(table.columns)
    intervals = pd.read_csv(out / "intervals.csv")
    assert list(intervals.columns) == ["kpi", "mean_a", "mean_b", "diff_mean", "ci_low", "ci_high"]
    runs = pd.read_csv(out / "runs.csv")
    assert sorted(runs["arm"].unique()) == ["a", "b"] and len(runs) == 4
    # the paired difference of the table is that of the runs, at full precision
    a = runs[runs["arm"] == "a"].set_index("replication")["calls_total"]
    b = runs[runs["arm"] == "b"].set_index("replication")["calls_total"]
    row = table.set_index("kpi").loc["calls_total"]
    assert row["diff_mean"] == (b - a).mean()
    summary = json.loads((out / "comparison.json").read_text(encoding="utf-8"))
    assert summary["replications"] == 2
    assert [s["overrides"] for s in summary["scenarios"]] == [{}, {SERVERS: 1}]
    assert {r["kpi"] for r in summary["summary"]} == set(table["kpi"])
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "openbank_sim.comparison"
    assert set(manifest["files"]) == COMPARE_FILES - {"manifest.json"}


def test_compare_out_of_many_scenarios(
    capsys: pytest.CaptureFixture[str], small: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cmp"
    three = ("compare", small, small, small, "--replications", 2, "--executor", "serial")
    code, _text, _err = cli(capsys, *three, "--quiet", "--best", "latency_mean_s", "--out", out)
    assert code == 0
    table = pd.read_csv(out / "comparison.csv")
    assert set(table["scenario"]) == {"B", "C"}
    assert {"kpi", "mean_A", "B-A", "low_B", "high_C"} <= set(pd.read_csv(out / "intervals.csv"))
    summary = json.loads((out / "comparison.json").read_text(encoding="utf-8"))
    assert summary["best"]["kpi"] == "latency_mean_s"
    assert [s["label"] for s in summary["scenarios"]] == ["A", "B", "C"]


def test_compare_out_refuses_a_folder_of_the_users(
    capsys: pytest.CaptureFixture[str], small: Path, tmp_path: Path
) -> None:
    folder = foreign_folder(tmp_path)
    assert_refused(*cli(capsys, *compare_args(small, "--out", folder)), folder)


def test_compare_out_with_force_keeps_the_users_files(
    capsys: pytest.CaptureFixture[str], small: Path, tmp_path: Path
) -> None:
    folder = foreign_folder(tmp_path)
    code, _text, _err = cli(capsys, *compare_args(small, "--out", folder, "--force"))
    assert code == 0
    assert {p.name for p in folder.iterdir()} == COMPARE_FILES | {"notes.txt"}
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "my notes\n"
    # written again over its own files, the user's file still stays
    assert cli(capsys, *compare_args(small, "--out", folder, "--force"))[0] == 0
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "my notes\n"


def test_compare_out_never_replaces_a_runs_results(
    capsys: pytest.CaptureFixture[str], small: Path, run_folder: Path
) -> None:
    before = sorted(p.name for p in run_folder.iterdir())
    code, out, err = cli(capsys, *compare_args(small, "--out", run_folder, "--force"))
    assert code == 2 and out == ""
    assert "manifest.json" in err
    assert sorted(p.name for p in run_folder.iterdir()) == before


# -- --set-a / --set-b ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "fragments"),
    [
        ("--set-a", f"{SERVERS}=0", (f"{SERVERS}: 0", "positive integer")),
        ("--set-b", "bank.pools.nope.servers=3", ("bank.pools.nope", "no pool named 'nope'")),
        ("--set-a", SERVERS, ("--set-a", "expected KEY=VALUE")),
        (
            "--set-b",
            f"{SERVERS}=[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]",
            (f"--set-b {SERVERS}",),
        ),
    ],
    ids=["a-value", "b-key", "a-form", "b-deep"],
)
def test_a_bad_arm_override_exits_2_naming_the_key(
    capsys: pytest.CaptureFixture[str],
    small: Path,
    tmp_path: Path,
    option: str,
    value: str,
    fragments: tuple[str, ...],
) -> None:
    out = tmp_path / "cmp"
    code, text, err = cli(capsys, *compare_args(small, option, value, "--out", out))
    assert code == 2 and text == ""
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert not out.exists()


def test_arm_overrides_apply_to_their_arm_only(
    capsys: pytest.CaptureFixture[str], small: Path, tmp_path: Path
) -> None:
    """The same file in both arms, one pool shrunk to a server in B only: B waits, A does not
    (1,000 users at 2 sessions a day offer 2.3 % of 4 servers' capacity)."""
    out = tmp_path / "cmp"
    args = compare_args(small, "--set", "partners.0.users=200000", "--set-b", f"{SERVERS}=1")
    assert cli(capsys, *args, "--out", out)[0] == 0
    summary = json.loads((out / "comparison.json").read_text(encoding="utf-8"))
    assert [s["overrides"] for s in summary["scenarios"]] == [
        {"partners.0.users": 200000},
        {"partners.0.users": 200000, SERVERS: 1},
    ]
    row = pd.read_csv(out / "comparison.csv").set_index("kpi").loc["backend_wait_mean_s"]
    assert row["mean_b"] > row["mean_a"] and row["ci_low"] > 0


# -- report --out -----------------------------------------------------------------------------


def test_report_out_writes_the_summary_and_figures(
    capsys: pytest.CaptureFixture[str], run_folder: Path, tmp_path: Path
) -> None:
    before = sorted(p.name for p in run_folder.iterdir())
    out = tmp_path / "report"
    code, text, _err = cli(capsys, "report", run_folder, "--out", out)
    assert code == 0 and "calls_total" in text
    assert {p.name for p in out.iterdir()} == {"manifest.json", "summary.csv", "figures"}
    summary = pd.read_csv(out / "summary.csv")
    saved = pd.read_csv(run_folder / "summary.csv")
    assert summary["kpi"].tolist() == saved["kpi"].tolist()
    assert summary["value"].equals(saved["value"])
    png = (out / "figures" / "latency_throughput.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "openbank_sim.report"
    assert manifest["source"] == str(run_folder) and manifest["source_kind"] == "run"
    assert sorted(p.name for p in run_folder.iterdir()) == before  # nothing added to DIR


def test_report_out_of_a_sweep_store(
    capsys: pytest.CaptureFixture[str], small: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    sweep = ("sweep", small, "--vary", f"{SERVERS}=1,2", "--executor", "serial", "--quiet")
    assert cli(capsys, *sweep, "--out", store)[0] == 0
    out = tmp_path / "report"
    assert cli(capsys, "report", store, "--out", out)[0] == 0
    summary = pd.read_csv(out / "summary.csv")
    assert summary[SERVERS].tolist() == [1, 2]
    assert (out / "figures" / "sweep_effects.png").is_file()
    assert not (store / "figures").exists()


def test_report_out_refuses_a_folder_of_the_users(
    capsys: pytest.CaptureFixture[str], run_folder: Path, tmp_path: Path
) -> None:
    folder = foreign_folder(tmp_path)
    assert_refused(*cli(capsys, "report", run_folder, "--out", folder), folder)


def test_report_out_with_force_keeps_the_users_files(
    capsys: pytest.CaptureFixture[str], run_folder: Path, tmp_path: Path
) -> None:
    folder = foreign_folder(tmp_path)
    assert cli(capsys, "report", run_folder, "--out", folder, "--force")[0] == 0
    assert {p.name for p in folder.iterdir()} == {
        "manifest.json",
        "summary.csv",
        "figures",
        "notes.txt",
    }
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "my notes\n"


def test_report_out_into_the_folder_it_reads_is_refused(
    capsys: pytest.CaptureFixture[str], run_folder: Path
) -> None:
    before = sorted(p.name for p in run_folder.iterdir())
    for force in ((), ("--force",)):
        code, out, err = cli(capsys, "report", run_folder, "--out", run_folder, *force)
        assert code == 2 and out == "" and "Traceback" not in err
        assert str(run_folder) in err
    assert sorted(p.name for p in run_folder.iterdir()) == before


def test_report_refuses_to_read_a_report(
    capsys: pytest.CaptureFixture[str], run_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    assert cli(capsys, "report", run_folder, "--out", out)[0] == 0
    code, text, err = cli(capsys, "report", out)
    assert code == 2 and text == ""
    assert "is the output of report" in err
