"""The ``openbank-sim`` command line, in a subprocess and through :func:`openbank_sim.cli.main`.

Contract (DESIGN.md "Outputs", the CLI docstring): ``run FILE --json`` prints only the KPI dict
(NaN as null); ``--set`` and ``--seed`` change the run; ``--out DIR`` writes ``summary.csv``
(``kpi,value``, floats that round-trip exactly), ``manifest.json``, the tables and
``latency_throughput.png``; bad input exits 2 with a short message on stderr, no traceback and
nothing written to ``--out``.
"""

from __future__ import annotations

import csv
import json
import math
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from minimal_scenario import minimal_toml

from openbank_sim import Results, load_scenario, simulate
from openbank_sim.analysis.results import KPI_NAMES
from openbank_sim.cli import main
from openbank_sim.spec.scenario import shipped_scenarios

# The minimal scenario with a name, a run, a fee and a cost on a 500 ms payment, a journey value,
# and 86 400 users at 5 sessions a day: about 18 000 attempts at 5 per second on 4 servers
# (offered load 2.5): runs in about a second, and the backend queue is long enough for `servers`
# to change the waits.
SCENARIO = minimal_toml(
    ("[bank.products.pay]\n", '[bank.products.pay]\nkind = "payment"\n'),
    ('mean = "100ms" }\n', 'mean = "500ms" }\ntake_rate = 0.01\ncost = 0.001\n'),
    ("[journeys.buy]\n", '[journeys.buy]\nvalue = { dist = "constant", value = 100 }\n'),
    ("users = 1000\n", "users = 86400\n"),
    ("sessions_per_user_day = 2.0\n", "sessions_per_user_day = 5.0\n"),
    prepend='name = "cli_check"\n\n'
    '[run]\nhorizon = "1h"\nwarmup = "5m"\ntime_bin = "10m"\nseed = 3\n\n',
)

TABLES = ("timeseries", "timeseries_latency", "by_partner", "by_product", "by_pool", "journeys")


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CLI test scenario, written once for the module."""
    path = tmp_path_factory.mktemp("cli") / "cli_check.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def bad_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scenario with a misspelt key."""
    path = tmp_path_factory.mktemp("cli_bad") / "bad.toml"
    path.write_text(SCENARIO.replace("servers = 4", "sever = 4"), encoding="utf-8")
    return path


def run_process(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m openbank_sim ARGS`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "openbank_sim", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``main(ARGS)`` in this process: (exit code, stdout, stderr)."""
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def bits(value: float | None) -> bytes:
    """The float's exact bit pattern (``None`` reads as NaN), so that NaN == NaN."""
    number = math.nan if value is None else float(value)
    if math.isnan(number):
        return b"nan"
    return struct.pack("<d", number)


def same_kpis(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two KPI dicts hold the same names and bit-identical values (null = NaN)."""
    return a.keys() == b.keys() and all(bits(a[k]) == bits(b[k]) for k in a)


def json_kpis(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    """The KPI dict printed by ``main(["run", ..., "--json"])``."""
    code, out, _ = run_main(capsys, "run", *args, "--json")
    assert code == 0
    return json.loads(out)


def assert_short_error(code: int, out: str, err: str) -> None:
    """Exit 2, nothing on stdout, one or two lines on stderr, no traceback."""
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 2, err
    assert lines[0].startswith("openbank-sim: error:")
    assert "Traceback" not in err


# --------------------------------------------------------------------------------------------
# In a subprocess
# --------------------------------------------------------------------------------------------


def test_help() -> None:
    proc = run_process("--help")
    assert proc.returncode == 0
    for command in ("run", "validate", "list"):
        assert command in proc.stdout
    assert proc.stderr == ""


def test_run_json_in_a_subprocess(scenario_file: Path) -> None:
    proc = run_process("run", str(scenario_file), "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    kpis = json.loads(proc.stdout)  # stdout is the JSON dict and nothing else
    assert isinstance(kpis, dict)
    assert list(kpis) == list(KPI_NAMES)
    assert kpis["time_to_market_mean_days"] is None  # NaN as null (no onboarding)
    assert "NaN" not in proc.stdout
    assert kpis["calls_total"] > 10_000
    # the same numbers as a run in this process with the scenario's seed
    assert same_kpis(kpis, simulate(scenario_file).kpis)


def test_bad_input_in_a_subprocess(tmp_path: Path, bad_file: Path) -> None:
    out = tmp_path / "out"
    proc = run_process("run", str(bad_file), "--out", str(out))
    assert_short_error(proc.returncode, proc.stdout, proc.stderr)
    assert "bank.pools.core.sever" in proc.stderr
    assert not out.exists()


def test_negative_seed_in_a_subprocess(tmp_path: Path, scenario_file: Path) -> None:
    out = tmp_path / "out"
    proc = run_process("run", str(scenario_file), "--seed", "-1", "--out", str(out))
    assert_short_error(proc.returncode, proc.stdout, proc.stderr)
    assert not out.exists()


def test_validate_and_list_in_a_subprocess(scenario_file: Path, bad_file: Path) -> None:
    ok = run_process("validate", str(scenario_file))
    assert ok.returncode == 0, ok.stderr
    assert "ok" in ok.stdout
    bad = run_process("validate", str(bad_file))
    assert_short_error(bad.returncode, bad.stdout, bad.stderr)
    listed = run_process("list")
    assert listed.returncode == 0, listed.stderr
    assert "Traceback" not in listed.stderr


# --------------------------------------------------------------------------------------------
# Through main()
# --------------------------------------------------------------------------------------------


def test_run_prints_a_kpi_table(capsys: pytest.CaptureFixture[str], scenario_file: Path) -> None:
    code, out, err = run_main(capsys, "run", str(scenario_file))
    assert code == 0
    for group in ("[calls]", "[journeys]", "[money]", "[onboarding]"):
        assert group in out
    names = {line.split()[0] for line in out.splitlines() if line.startswith("  ")}
    assert names == set(KPI_NAMES)
    assert "running cli_check" in err  # progress goes to stderr, not into the table


def test_run_quiet(capsys: pytest.CaptureFixture[str], scenario_file: Path) -> None:
    code, out, err = run_main(capsys, "run", str(scenario_file), "--quiet")
    assert code == 0
    assert "[calls]" in out
    assert err == ""


def test_run_json_through_main(capsys: pytest.CaptureFixture[str], scenario_file: Path) -> None:
    code, out, err = run_main(capsys, "run", str(scenario_file), "--json")
    assert code == 0
    assert err == ""
    kpis = json.loads(out)
    assert set(kpis) == set(KPI_NAMES)
    for name, value in kpis.items():
        assert value is None or (isinstance(value, float) and math.isfinite(value)), name
    assert kpis["time_to_market_p90_days"] is None


def test_set_changes_results(capsys: pytest.CaptureFixture[str], scenario_file: Path) -> None:
    base = json_kpis(capsys, str(scenario_file))
    fewer = json_kpis(capsys, str(scenario_file), "--set", "bank.pools.core.servers=3")
    more = json_kpis(capsys, str(scenario_file), "--set", "bank.pools.core.servers=8")
    # same arrivals (common random numbers), different queueing
    assert fewer["calls_total"] == base["calls_total"] == more["calls_total"]
    assert fewer["backend_wait_mean_s"] > base["backend_wait_mean_s"] > more["backend_wait_mean_s"]
    assert fewer["latency_mean_s"] > base["latency_mean_s"] > more["latency_mean_s"]


def test_several_sets(capsys: pytest.CaptureFixture[str], scenario_file: Path) -> None:
    base = json_kpis(capsys, str(scenario_file))
    changed = json_kpis(
        capsys,
        str(scenario_file),
        "--set",
        "run.horizon=2h",
        "--set",
        'bank.products.pay.service_time={dist="constant", value="100ms"}',
    )
    assert changed["calls_total"] > 1.8 * base["calls_total"]
    assert changed["latency_p50_s"] == pytest.approx(0.1, rel=0.02)
    assert changed["backend_wait_mean_s"] < base["backend_wait_mean_s"]


def test_seed(capsys: pytest.CaptureFixture[str], scenario_file: Path) -> None:
    first = json_kpis(capsys, str(scenario_file), "--seed", "7")
    again = json_kpis(capsys, str(scenario_file), "--seed", "7")
    other = json_kpis(capsys, str(scenario_file), "--seed", "8")
    default = json_kpis(capsys, str(scenario_file))
    file_seed = json_kpis(capsys, str(scenario_file), "--seed", "3")  # run.seed in the file
    assert same_kpis(first, again)
    assert not same_kpis(first, other)
    assert first["calls_total"] != other["calls_total"]
    assert same_kpis(default, file_seed)
    assert not same_kpis(default, first)


def test_out_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, scenario_file: Path
) -> None:
    out = tmp_path / "nested" / "run1"
    code, stdout, _ = run_main(
        capsys,
        "run",
        str(scenario_file),
        "--seed",
        "5",
        "--set",
        "bank.pools.core.servers=5",
        "--out",
        str(out),
        "--json",
    )
    assert code == 0
    printed = json.loads(stdout)  # --out adds nothing to stdout under --json

    # summary.csv: kpi,value with floats that read back bit for bit
    with (out / "summary.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["kpi", "value"]
    summary = {k: float(v) for k, v in rows[1:]}
    assert list(summary) == list(KPI_NAMES)
    assert same_kpis(summary, printed)

    # manifest.json: provenance
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 5
    expected_raw = load_scenario(scenario_file).as_dict()
    expected_raw["bank"]["pools"]["core"]["servers"] = 5
    assert manifest["scenario"] == expected_raw  # the scenario as resolved, --set included
    assert isinstance(manifest["package_version"], str) and manifest["package_version"]
    assert isinstance(manifest["wall_time_s"], float) and manifest["wall_time_s"] > 0
    assert isinstance(manifest["events"], int) and manifest["events"] > 0

    # the tables and the figure
    for name in TABLES:
        assert name in manifest["tables"]
        assert (out / manifest["tables"][name]).is_file()
    png = out / "latency_throughput.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Results.load gives back the same KPIs bit for bit, and the run repeats in this process
    loaded = Results.load(out)
    assert same_kpis(loaded.kpis, printed)
    fresh = simulate(scenario_file, seed=5, overrides={"bank.pools.core.servers": 5})
    assert same_kpis(fresh.kpis, printed)
    assert set(TABLES) <= set(loaded.tables)
    for name in TABLES:
        assert len(loaded.tables[name]) == len(fresh.tables[name]), name
    pd.testing.assert_frame_equal(
        loaded.tables["by_pool"], fresh.tables["by_pool"], check_dtype=False
    )


def test_out_folder_of_the_users_is_refused_unless_forced(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, scenario_file: Path
) -> None:
    """``--out`` into a folder holding the user's files: exit 2 naming the folder and the files,
    nothing changed; with ``--force`` the results go beside them and the user's files keep every
    byte and time stamp. A folder holding an earlier run (and ``report``'s figures) takes a new
    run without ``--force``."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    (out / "old_store").mkdir()
    (out / "old_store" / "results.csv").write_text("run_id\n0\n", encoding="utf-8")
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}

    code, stdout, stderr = run_main(capsys, "run", str(scenario_file), "--out", str(out))
    assert_short_error(code, stdout, stderr)
    assert str(out) in stderr and "notes.txt" in stderr and "old_store" in stderr
    assert "--force" in stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "old_store"]

    code, _stdout, stderr = run_main(
        capsys, "run", str(scenario_file), "--out", str(out), "--force", "--quiet"
    )
    assert code == 0, stderr
    for path, (data, mtime) in before.items():
        assert (path.read_bytes(), path.stat().st_mtime_ns) == (data, mtime)
    assert (out / "latency_throughput.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Results.load(out).manifest["seed"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary leftovers

    again = tmp_path / "again"
    assert run_main(capsys, "run", str(scenario_file), "--out", str(again), "--quiet")[0] == 0
    assert run_main(capsys, "report", str(again))[0] == 0  # adds figures/
    code, _stdout, stderr = run_main(
        capsys, "run", str(scenario_file), "--seed", "4", "--out", str(again), "--quiet"
    )
    assert code == 0, stderr
    assert Results.load(again).manifest["seed"] == 4
    assert not (again / "figures").exists()  # the earlier run's figures went with it


def test_out_naming_a_file_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, scenario_file: Path
) -> None:
    path = tmp_path / "results.txt"
    path.write_text("mine", encoding="utf-8")
    code, stdout, stderr = run_main(capsys, "run", str(scenario_file), "--out", str(path))
    assert_short_error(code, stdout, stderr)
    assert path.read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(("run", "{missing}"), id="missing-file"),
        pytest.param(("run", "{not_toml}"), id="not-toml"),
        pytest.param(("run", "{bad}"), id="unknown-key"),
        pytest.param(("run", "no_such_shipped_name"), id="unknown-name"),
        pytest.param(("run", "{good}", "--set", "bank.pools.gpu.servers=3"), id="set-new-pool"),
        pytest.param(("run", "{good}", "--set", "bank.pools.core.servers=0"), id="set-bad-value"),
        pytest.param(("run", "{good}", "--set", "bank.pools.core.servers"), id="set-no-equals"),
        pytest.param(("run", "{good}", "--set", "=3"), id="set-no-key"),
        pytest.param(("run", "{good}", "--set", "run.horizon=2"), id="set-duration-no-unit"),
        pytest.param(("run", "{good}", "--set", "colour=red"), id="set-unknown-key"),
        pytest.param(("run", "{good}", "--seed", "-1"), id="negative-seed"),
        pytest.param(("validate", "{bad}"), id="validate-unknown-key"),
        pytest.param(("validate", "{good}", "--set", "partners.0.users=0"), id="validate-set"),
    ],
)
def test_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    scenario_file: Path,
    bad_file: Path,
    case: tuple[str, ...],
) -> None:
    not_toml = tmp_path / "not_toml.toml"
    not_toml.write_text("servers = = 4\n", encoding="utf-8")
    names = {
        "good": str(scenario_file),
        "bad": str(bad_file),
        "missing": str(tmp_path / "missing.toml"),
        "not_toml": str(not_toml),
    }
    args = [a.format(**names) for a in case]
    out = tmp_path / "out"
    if args[0] == "run":
        args += ["--out", str(out)]
    code, stdout, stderr = run_main(capsys, *args)
    assert_short_error(code, stdout, stderr)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["not_toml.toml"]  # no temporary leftovers


def test_validate_ok(capsys: pytest.CaptureFixture[str], scenario_file: Path) -> None:
    code, out, err = run_main(capsys, "validate", str(scenario_file))
    assert code == 0
    assert err == ""
    assert out.startswith(f"{scenario_file}: ok")
    assert "cli_check" in out
    code, out, _ = run_main(capsys, "validate", str(scenario_file), "--set", "partners.0.copies=3")
    assert code == 0
    assert "3 partner(s)" in out
    code, out, _ = run_main(capsys, "validate", str(scenario_file), "--set", "run.horizon=4h")
    assert code == 0
    assert "horizon 4h" in out  # in human units, not "0.166667 d"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        run_main(capsys, "--version")
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"openbank-sim {version('openbank_sim')}"


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "list")
    assert code == 0
    listed = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert listed == list(shipped_scenarios())


def test_usage_error_is_not_a_scenario_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run"])  # FILE|NAME missing: argparse's usage error
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_run_json_intervals(capsys: pytest.CaptureFixture[str], scenario_file: Path) -> None:
    """``--json --intervals`` adds ``KPI_ci`` = [low, high] after each KPI that has a
    single-run interval, and only with ``--intervals``; the intervals contain the KPI."""
    args = ["run", str(scenario_file), "--set", "run.time_bin=1m", "--json", "--quiet"]
    assert main(args) == 0
    plain = json.loads(capsys.readouterr().out)
    assert not any(k.endswith("_ci") for k in plain)
    assert main([*args, "--intervals"]) == 0
    out = json.loads(capsys.readouterr().out)
    for kpi in ("backend_wait_mean_s", "latency_mean_s", "success_rate", "throughput_ok_per_s"):
        low, high = out[f"{kpi}_ci"]
        assert low <= out[kpi] <= high
    assert {k: v for k, v in out.items() if not k.endswith("_ci")} == plain
    assert list(out).index("latency_mean_s_ci") == list(out).index("latency_mean_s") + 1


def test_run_intervals_in_the_table(
    capsys: pytest.CaptureFixture[str], scenario_file: Path
) -> None:
    """``--intervals`` without ``--json`` prints an [intervals] section after the KPIs."""
    assert main(["run", str(scenario_file), "--set", "run.time_bin=1m", "--intervals"]) == 0
    out = capsys.readouterr().out
    assert "[intervals] 95%, one run, batch means of 20 batches" in out
    assert out.index("[intervals]") > out.index("[onboarding]")


def test_run_intervals_refused_before_the_run(
    capsys: pytest.CaptureFixture[str], scenario_file: Path
) -> None:
    """Too few time bins after the warm-up for 20 batches: exit 2 naming --intervals."""
    assert main(["run", str(scenario_file), "--intervals", "--json"]) == 2  # 10-minute bins
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "--intervals" in captured.err and "time bins" in captured.err
