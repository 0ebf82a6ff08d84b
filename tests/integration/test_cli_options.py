"""The command line's options are checked like the file's numbers: every numeric option in a
stated range, ``--out`` a directory, ``--scheduler`` a scheduler address that goes with
``--executor dask``, the extras an option needs installed, design sizes below their maximum,
and every run estimated before it starts (``validate`` prints the estimate; ``run``,
``compare`` and sweep runs refuse an infeasible one unless ``--allow-long``). Bad input exits 2
with one line and writes nothing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from minimal_scenario import minimal_toml

from openbank_sim import cli
from openbank_sim.cli import main
from openbank_sim.experiments import runs as experiment_module
from openbank_sim.experiments import sweep
from openbank_sim.spec.scenario import load_scenario

SERVERS = "bank.pools.core.servers"
SMALL = minimal_toml(prepend='name = "small"\n\n[run]\nhorizon = "10m"\ntime_bin = "1m"\n\n')
# 10^10 users at 2 sessions a day: some 2 * 10^10 sessions in a day
HUGE = minimal_toml(("users = 1000", "users = 10_000_000_000"), prepend='name = "huge"\n\n')


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    small = tmp_path / "small.toml"
    small.write_text(SMALL, encoding="utf-8")
    huge = tmp_path / "huge.toml"
    huge.write_text(HUGE, encoding="utf-8")
    a_file = tmp_path / "a_file"
    a_file.write_text("notes\n", encoding="utf-8")
    return {
        "small": str(small),
        "huge": str(huge),
        "file": str(a_file),
        "out": str(tmp_path / "out"),
    }


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("openbank-sim: error: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


SWEEP = ("sweep", "{small}", "--vary", f"{SERVERS}=1,2", "--out", "{out}", "--quiet")
COMPARE = ("compare", "{small}", "{small}", "--replications", "2", "--quiet")
GRID_100 = ",".join(str(i) for i in range(1, 101))

CASES = [
    pytest.param(
        ("run", "{small}", "--seed", "-1"), ("--seed", "from 0 to"), id="run-seed-negative"
    ),
    pytest.param(
        ("run", "{small}", "--seed", str(2**64)),
        ("--seed", "9,223,372,036,854,775,807"),
        id="run-seed-huge",
    ),
    pytest.param(
        ("run", "{small}", "--out", "{file}"), ("--out", "not a directory"), id="run-out-file"
    ),
    pytest.param(
        ("run", "{small}", "--out", "{file}/inside"),
        ("--out", "is a file"),
        id="run-out-inside-a-file",
    ),
    pytest.param(
        ("run", "{small}", "--set", "run.horizon=1h\nname=x"),
        ("--set", "line break"),
        id="set-newline",
    ),
    pytest.param(
        ("run", "{small}", "--set", "run.horizon=" + "[" * 30 + "]" * 30),
        ("--set run.horizon", "deeper"),
        id="set-deep",
    ),
    pytest.param(
        ("run", "{huge}"), ("partners.0.users", "--allow-long", "1.0 billion"), id="run-infeasible"
    ),
    pytest.param(
        ("validate", "{huge}"), ("partners.0.users", "--allow-long"), id="validate-infeasible"
    ),
    pytest.param((*SWEEP, "--n", "1000000000"), ("--n", "at most 100,000"), id="sweep-n-huge"),
    pytest.param((*SWEEP, "--n", "0"), ("--n", ">= 1"), id="sweep-n-zero"),
    pytest.param(
        (*SWEEP, "--replications", "100000"), ("--replications", "10,000"), id="sweep-reps-huge"
    ),
    pytest.param((*SWEEP, "--workers", "-1"), ("--workers", ">= 1"), id="sweep-workers-negative"),
    pytest.param((*SWEEP, "--workers", "100000"), ("--workers", "1,024"), id="sweep-workers-huge"),
    pytest.param((*SWEEP, "--seed", "-1"), ("--seed",), id="sweep-seed-negative"),
    pytest.param(
        ("sweep", "{small}", "--vary", f"{SERVERS}=1,2", "--out", "{file}"),
        ("--out", "not a directory"),
        id="sweep-out-file",
    ),
    pytest.param(
        (*SWEEP, "--scheduler", "tcp://127.0.0.1:8786"),
        ("--scheduler", "only with --executor dask"),
        id="sweep-scheduler-without-dask",
    ),
    pytest.param(
        (*SWEEP, "--executor", "dask", "--scheduler", "garbage!!"),
        ("--scheduler", "HOST:PORT"),
        id="sweep-scheduler-garbage",
    ),
    pytest.param(
        (*SWEEP, "--executor", "dask", "--scheduler", "tcp://127.0.0.1:99999"),
        ("--scheduler",),
        id="sweep-scheduler-port",
    ),
    pytest.param(
        (
            "sweep",
            "{small}",
            "--vary",
            f"{SERVERS}={GRID_100}",
            "--vary",
            f"partners.0.users={GRID_100}",
            "--vary",
            f"run.seed={GRID_100}",
            "--out",
            "{out}",
        ),
        ("sweep.vary", "1,000,000 points", "at most 100,000"),
        id="sweep-grid-huge",
    ),
    pytest.param(
        (
            "sweep",
            "{small}",
            "--vary",
            f"{SERVERS}=1:9",
            "--design",
            "saltelli",
            "--n",
            "60000",
            "--out",
            "{out}",
        ),
        ("sweep.n", "180,000 points"),
        id="sweep-saltelli-huge",
    ),
    pytest.param(
        ("sweep", "{small}", "--vary", "partners.0.users=" + "9" * 5000, "--out", "{out}"),
        ("--vary partners.0.users", "4,300 digits"),
        id="sweep-vary-long-integer",
    ),
    pytest.param(
        (*COMPARE, "--workers", "-1"), ("--workers", ">= 1"), id="compare-workers-negative"
    ),
    pytest.param((*COMPARE, "--seed", "-1"), ("--seed", "from 0 to"), id="compare-seed-negative"),
    pytest.param((*COMPARE, "--replications", "0"), ("--replications",), id="compare-reps-zero"),
    pytest.param(
        (*COMPARE, "--scheduler", "tcp://127.0.0.1:8786"),
        ("--scheduler", "only with --executor dask"),
        id="compare-scheduler-without-dask",
    ),
    pytest.param(
        ("compare", "{small}", "{huge}", "--replications", "2", "--executor", "serial"),
        ("huge.toml", "partners.0.users", "--allow-long"),
        id="compare-infeasible-arm",
    ),
]


@pytest.mark.parametrize(("args", "fragments"), CASES)
def test_bad_options_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str],
    files: dict[str, str],
    args: tuple[str, ...],
    fragments: tuple[str, ...],
) -> None:
    argv = [a.format(**files) for a in args]
    t0 = time.perf_counter()
    code, out, err = run_cli(capsys, *argv)
    assert time.perf_counter() - t0 < 10.0
    assert_one_line_error(code, out, err, *fragments)
    assert not Path(files["out"]).exists()
    assert Path(files["file"]).read_text(encoding="utf-8") == "notes\n"


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        ((*SWEEP, "--executor", "dask"), "dask"),
        ((*COMPARE, "--executor", "dask"), "dask"),
        (
            (
                "sweep",
                "{small}",
                "--vary",
                f"{SERVERS}=1:9",
                "--design",
                "morris",
                "--out",
                "{out}",
            ),
            "analysis",
        ),
    ],
    ids=["sweep-dask", "compare-dask", "sweep-morris"],
)
def test_a_missing_extra_names_the_install_command(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    files: dict[str, str],
    args: tuple[str, ...],
    extra: str,
) -> None:
    monkeypatch.setattr(cli, "_installed", lambda module: False)
    code, out, err = run_cli(capsys, *[a.format(**files) for a in args])
    assert_one_line_error(code, out, err, f"pip install 'openbank_sim[{extra}]'")
    assert not Path(files["out"]).exists()


def test_validate_prints_the_estimate(
    capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    code, out, err = run_cli(capsys, "validate", files["small"])
    assert code == 0, err
    first, second = out.strip().splitlines()
    assert first.startswith(f"{files['small']}: ok")
    assert second.startswith("  one run: about ")
    assert "sessions" in second and "attempts" in second and "MB" in second


def test_allow_long_lets_validate_report_a_huge_run(
    capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    code, out, err = run_cli(capsys, "validate", files["huge"], "--allow-long")
    assert code == 0, err
    assert "billion sessions" in out


def test_run_says_its_estimate(capsys: pytest.CaptureFixture[str], files: dict[str, str]) -> None:
    code, _out, err = run_cli(capsys, "run", files["small"])
    assert code == 0, err
    assert "estimated about " in err


def test_sweep_runs_refused_by_the_estimate_are_failures_unless_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An infeasible point fails its own runs (recorded, the others finish); with
    ``allow_long`` every run goes to the function that skips the estimate."""
    (tmp_path / "s.toml").write_text(SMALL.replace("users = 1000", "users = 10_000_000_000"))
    s = load_scenario(tmp_path / "s.toml")
    spud = "partners.0.sessions_per_user_day"  # 10^-6: 69 sessions; 100: 7 * 10^9
    res = sweep(s, {spud: [1e-6, 100.0]}, executor="serial", quiet=True)
    assert res.table[spud].tolist() == [1e-6]
    assert res.failures["error"].str.startswith("InfeasibleRunError(").tolist() == [True]

    used: list[Any] = []
    original = experiment_module.run_task

    def allowed(task: tuple) -> dict[str, Any]:
        used.append(task[3])
        return original(task)

    monkeypatch.setattr(experiment_module, "run_task_allowing_long", allowed)
    s = s.with_overrides({spud: 1e-6})
    res = sweep(s, {SERVERS: [1, 2]}, executor="serial", quiet=True, allow_long=True)
    assert len(res.table) == 2
    assert used == [{SERVERS: 1}, {SERVERS: 2}]
