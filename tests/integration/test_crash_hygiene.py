"""Crash hygiene of sweeps on the ``processes`` executor: no orphaned workers when the main
process is killed, a quick and quiet Ctrl-C that keeps the finished runs, and one clear line
for a script without the ``__main__`` guard."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
SERVERS = "bank.pools.core.servers"


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for(predicate, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _scenario(tmp_path: Path, horizon: str) -> Path:
    from minimal_scenario import minimal_toml

    text = minimal_toml(
        ("users = 1000\n", "users = 86400\n"),
        ("sessions_per_user_day = 2.0\n", "sessions_per_user_day = 10.0\n"),
        prepend=f'name = "crash"\n\n[run]\nhorizon = "{horizon}"\nwarmup = "30s"\nseed = 7\n'
        'time_bin = "1m"\n\n',
    )
    path = tmp_path / "crash.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_end_when_the_sweep_is_killed(tmp_path: Path) -> None:
    """SIGKILL to the process running a sweep: its busy workers are gone within 5 s."""
    pids = tmp_path / "pids"
    pids.mkdir()
    script = tmp_path / "killed_sweep.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import dying_task
            from openbank_sim.experiment import sweep
            from openbank_sim.experiments import runs

            if __name__ == "__main__":
                runs.run_task = dying_task.run_slowly
                sweep({str(_scenario(tmp_path, "5m"))!r}, vary={{{SERVERS!r}: [1, 2, 3, 4]}},
                      executor="processes", workers=2, quiet=True)
            """
        ),
        encoding="utf-8",
    )
    env = {**os.environ, "OPENBANK_SIM_PID_DIR": str(pids), "PYTHONPATH": str(TESTS)}
    proc = subprocess.Popen([sys.executable, str(script)], env=env)
    try:
        assert _wait_for(lambda: len(list(pids.glob("*.pid"))) == 2, 60.0), "no workers"
        workers = [int(p.stem) for p in pids.glob("*.pid")]
        assert all(_alive(pid) for pid in workers)
        proc.kill()
        proc.wait(timeout=10)
        assert _wait_for(lambda: not any(_alive(pid) for pid in workers), 5.0), (
            f"workers {[pid for pid in workers if _alive(pid)]} outlived their sweep"
        )
    finally:
        proc.kill()
        for p in pids.glob("*.pid"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(p.stem), signal.SIGKILL)


def test_ctrl_c_stops_a_sweep_quickly_keeps_its_runs_and_says_how_to_resume(
    tmp_path: Path,
) -> None:
    """SIGINT to the sweep's process group (what Ctrl-C does) once a run is stored: exit code
    130 within 2 s, one line on stderr naming --resume, no traceback, the runs kept; the
    resumed sweep runs only the rest."""
    scenario = _scenario(tmp_path, "3h")  # about 1.5 to 3 s a run
    store = tmp_path / "store"
    args = [
        "sweep",
        str(scenario),
        "--vary",
        f"{SERVERS}=2,3,4",
        "--replications",
        "4",
        "--workers",
        "2",
        "--quiet",
        "--out",
        str(store),
    ]
    cmd = [sys.executable, "-m", "openbank_sim", *args]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        assert _wait_for(lambda: any((store / "runs").glob("r*.json")), 120.0)
        os.killpg(proc.pid, signal.SIGINT)
        t0 = time.monotonic()
        _out, err = proc.communicate(timeout=30)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    text = err.decode()
    lines = [line for line in text.splitlines() if not line.startswith("sweep: ")]
    assert proc.returncode == 130, text
    assert elapsed < 2.0, f"took {elapsed:.2f} s"
    assert "Traceback" not in text
    assert len(lines) == 1 and "--resume" in lines[0], text
    kept = sorted(p.name for p in (store / "runs").glob("r*.json"))
    assert 1 <= len(kept) < 12
    assert f"{len(kept)} of 12 runs are kept" in lines[0]


def test_a_script_without_the_main_guard_gets_one_clear_line(tmp_path: Path) -> None:
    """Workers would import the script again and start the sweep again: it is refused before
    any worker starts, with one line naming the guard, and nothing is written."""
    store = tmp_path / "store"
    script = tmp_path / "no_guard.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from openbank_sim.experiment import sweep

            sweep({str(_scenario(tmp_path, "5m"))!r}, vary={{{SERVERS!r}: [1, 2]}},
                  executor="processes", workers=2, quiet=True, store={str(store)!r})
            """
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert 'if __name__ == "__main__":' in done.stderr
    assert str(script) in done.stderr
    assert not store.exists()
