"""Stores that grow and reopen: more replications or points without rerunning what a store
holds (bit-identical to the larger sweep run in one go), ``load_sweep`` reading any store
without changing it, and per-run tables kept with ``keep``."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from minimal_scenario import minimal_toml

from openbank_sim import Scenario, ScenarioError, simulate
from openbank_sim.cli import main
from openbank_sim.experiment import KEEP_TABLES, StoreError, SweepResult, load_sweep, sweep
from openbank_sim.experiments import runs as runs_module
from openbank_sim.rng import replication_seed

SERVERS = "bank.pools.core.servers"
TEXT = minimal_toml(
    ("servers = 4\n", "servers = 2\n"),
    ("users = 1000\n", "users = 86400\n"),
    ("sessions_per_user_day = 2.0\n", "sessions_per_user_day = 10.0\n"),
    prepend='name = "grow"\n\n[run]\nhorizon = "3m"\nwarmup = "30s"\nseed = 7\ntime_bin = "1m"\n\n',
)


def scenario() -> Scenario:
    return Scenario(tomllib.loads(TEXT))


def run(store: Path | None, vary: list[int], reps: int, **kwargs: Any) -> SweepResult:
    return sweep(
        scenario(),
        {SERVERS: vary},
        replications=reps,
        seed=3,
        executor="serial",
        store=store,
        quiet=True,
        **kwargs,
    )


def files(store: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()
    }


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The run ids of the runs made (serial executor), in order."""
    ran: list[int] = []
    real = runs_module.run_task

    def counting(task: tuple) -> dict[str, Any]:
        ran.append(task[0])
        return real(task)

    monkeypatch.setattr(runs_module, "run_task", counting)
    return ran


def test_a_finished_store_grows_to_the_same_numbers_as_one_sweep(
    tmp_path: Path, counted: list[int]
) -> None:
    """2 replications of 2 points, grown to 3 replications, then to 3 points: only the new
    runs are made, and results.csv and every run file's numbers equal those of the final
    sweep run in one go."""
    store = tmp_path / "grown"
    run(store, [1, 2], 2, keep=["timeseries"])
    assert counted == [0, 1, 2, 3]
    counted.clear()
    with pytest.raises(StoreError, match="resume"):  # growing is asked for, never implied
        run(store, [1, 2], 3, keep=["timeseries"])
    grown = run(store, [1, 2], 3, keep=["timeseries"], resume=True)
    assert counted == [2, 5]  # replication 2 of each point
    assert grown.failures.empty and len(grown.table) == 6
    counted.clear()
    grown = run(store, [1, 2, 4], 3, keep=["timeseries"], resume=True)
    assert counted == [6, 7, 8]

    counted.clear()
    once = tmp_path / "once"
    one_go = run(once, [1, 2, 4], 3, keep=["timeseries"])
    assert counted == list(range(9))
    assert (store / "results.csv").read_bytes() == (once / "results.csv").read_bytes()
    pd.testing.assert_frame_equal(grown.table, one_go.table, check_exact=True)
    pd.testing.assert_frame_equal(
        grown.kept("timeseries"), one_go.kept("timeseries"), check_exact=True
    )
    assert sorted(files(store)) == sorted(files(once))
    for name in files(once):  # every kept table file is the same bytes
        if name.endswith(".parquet") and name.startswith("runs/"):
            assert files(store)[name] == files(once)[name], name
    assert not (store / ".runs-grown").exists() and not (store / ".runs-old").exists()


def test_a_store_is_not_grown_into_another_sweep(tmp_path: Path) -> None:
    """Fewer replications, a point dropped or another seed: a different sweep, refused
    untouched even with resume."""
    store = tmp_path / "store"
    run(store, [1, 2], 2)
    before = files(store)
    for vary, reps in (([1, 2], 1), ([1, 4], 2)):
        with pytest.raises(StoreError, match="different sweep"):
            run(store, vary, reps, resume=True)
    with pytest.raises(StoreError, match="different sweep"):
        sweep(
            scenario(),
            {SERVERS: [1, 2]},
            replications=3,
            seed=4,
            executor="serial",
            store=store,
            quiet=True,
            resume=True,
        )
    assert files(store) == before


def test_an_interrupted_growth_is_finished_or_undone(tmp_path: Path) -> None:
    """A crash after the renumbered runs were staged but before the manifest: the staging is
    dropped and the store still opens as it was; the growth then goes through."""
    store = tmp_path / "store"
    first = run(store, [1, 2], 2)
    (store / ".runs-grown").mkdir()
    (store / ".runs-grown" / "r0.json").write_text("{}", encoding="utf-8")
    again = run(store, [1, 2], 2, resume=True)
    pd.testing.assert_frame_equal(again.table, first.table, check_exact=True)
    assert not (store / ".runs-grown").exists()
    grown = run(store, [1, 2], 3, resume=True)
    assert len(grown.table) == 6


def test_load_sweep_opens_any_store_read_only(tmp_path: Path) -> None:
    """A finished store, an unfinished one (with a damaged run file) and a grown one open
    without resume and without a file changing; not a store: one StoreError."""
    store = tmp_path / "store"
    done = run(store, [1, 2], 2, keep=["by_pool", "timeseries"])
    before = files(store)
    loaded = load_sweep(store)
    assert files(store) == before
    pd.testing.assert_frame_equal(loaded.table, done.table, check_exact=True)
    assert loaded.definition == done.definition and loaded.set_aside == []
    pd.testing.assert_frame_equal(loaded.kept("by_pool"), done.kept("by_pool"), check_exact=True)
    summary = loaded.summary(["success_rate"])
    assert summary["replications"].tolist() == [2, 2]

    (store / "results.csv").unlink()
    (store / "runs" / "r1.json").write_text("{", encoding="utf-8")
    before = files(store)
    partial = load_sweep(store)
    assert files(store) == before
    assert partial.table["run_id"].tolist() == [0, 2, 3]
    assert len(partial.set_aside) == 1 and "r1.json" in partial.set_aside[0]

    with pytest.raises(StoreError, match=r"manifest\.json"):
        load_sweep(tmp_path / "nothing")


def test_kept_tables_are_each_runs_tables(tmp_path: Path) -> None:
    """``kept('timeseries')``: every run's time series, led by its run's columns, equal to
    the tables of the same run made alone; a damaged file is named."""
    store = tmp_path / "store"
    res = run(store, [1, 2], 2, keep=["timeseries"])
    ts = res.kept("timeseries")
    assert list(ts.columns[:5]) == ["run_id", "point", "replication", "seed", SERVERS]
    assert sorted(set(ts["run_id"])) == [0, 1, 2, 3]
    alone = simulate(scenario().with_overrides({SERVERS: 2}), seed=replication_seed(3, 1))
    mine = ts[ts["run_id"] == 3].drop(columns=ts.columns[:5]).reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, alone.tables["timeseries"].reset_index(drop=True))
    assert len(list((store / "runs").glob("r*.timeseries.parquet"))) == 4
    with pytest.raises(KeyError, match="kept: timeseries"):
        res.kept("by_pool")
    path = store / "runs" / "r2.timeseries.parquet"
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(StoreError, match=r"r2\.timeseries\.parquet"):
        load_sweep(store).kept("timeseries")
    assert hashlib.sha256(path.read_bytes()).hexdigest()  # the file is left for a look


@pytest.mark.parametrize(
    "keep, match",
    [(["timeseries", "nope"], "nope"), ("timeseries", "list"), (["timeseries"], "store")],
)
def test_bad_keep_is_one_error_naming_the_choices(tmp_path: Path, keep: Any, match: str) -> None:
    store = None if match == "store" else tmp_path / "store"
    with pytest.raises(ScenarioError, match=match) as err:
        run(store, [1, 2], 1, keep=keep)
    if match != "store":
        assert all(name in str(err.value) for name in KEEP_TABLES)
    assert not (tmp_path / "store").exists()


def test_cli_keep_is_validated_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "grow.toml"
    path.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "out"
    args = ["sweep", str(path), "--vary", f"{SERVERS}=1,2", "--executor", "serial", "--quiet"]
    code = main([*args, "--keep", "timeseriez", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.count("\n") == 1 and "timeseriez" in err and "by_partner" in err
    assert not out.exists()
    assert main([*args, "--keep", "timeseries", "--out", str(out)]) == 0
    assert len(load_sweep(out).kept("timeseries")["run_id"].unique()) == 2
