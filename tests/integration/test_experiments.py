"""The experiments layer: replications, paired comparisons, sweeps, result stores, executors and
the ``sweep``, ``compare`` and ``report`` commands.

Contract (``openbank_sim/experiment.py``, ``executors.py``, ``sensitivity.py``, ``cli.py``):
replication ``r`` uses ``replication_seed(seed, r)`` everywhere (every sweep point, both arms of
a comparison), so runs are reproducible and comparisons use common random numbers; summaries
are Student-t intervals; a sweep store holds one JSON per finished run, a manifest, failures
with tracebacks and, once complete, ``results.csv``/``results.parquet`` at full float
precision; resuming never loses or repeats a run; every executor gives the same numbers; bad
command-line input exits 2 with a one-line message.

The scenarios are small (minutes of simulated time, a few thousand calls) so that each run takes
a fraction of a second.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import os
import re
import signal
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import dying_task
import numpy as np
import pandas as pd
import pytest
from minimal_scenario import minimal_toml
from scipy import stats

from openbank_sim import Scenario, ScenarioError, simulate
from openbank_sim.analysis.results import KPI_NAMES
from openbank_sim.cli import main
from openbank_sim.experiments import (
    ReplicationResult,
    StoreError,
    SweepResult,
    compare,
    replicate,
    sweep,
    sweep_points,
    t_interval,
)
from openbank_sim.experiments import runs as experiment_module
from openbank_sim.experiments.executors import ExecutorError, ProcessExecutor
from openbank_sim.experiments.sensitivity import sensitivity
from openbank_sim.experiments.stats import HISTOGRAM_QUANTILES, SHARES
from openbank_sim.experiments.store import run_checksum
from openbank_sim.rng import replication_seed

SERVERS = "bank.pools.core.servers"
SESSIONS = "partners.0.sessions_per_user_day"
USERS = "partners.0.users"
HUGE_USERS = 10**10  # the most a partner may have
UNREACHABLE = "tcp://127.0.0.1:9"


def base_toml(horizon: str = "5m", sessions: float = 10.0) -> str:
    """The small base scenario as TOML: the minimal scenario with a name, a short run, 2 servers
    and 86 400 users, so that ``sessions`` a day per user are as many calls per second."""
    return minimal_toml(
        ("servers = 4\n", "servers = 2\n"),
        ("[bank.products.pay]\n", '[bank.products.pay]\nkind = "payment"\n'),
        ("users = 1000\n", "users = 86400\n"),
        ("sessions_per_user_day = 2.0\n", f"sessions_per_user_day = {sessions}\n"),
        prepend=f'name = "exp_small"\n\n[run]\nhorizon = "{horizon}"\nwarmup = "30s"\nseed = 7\n'
        'time_bin = "1m"\n\n',
    )


# One partner offering 10 calls per second to a pool of `servers` workers with exponential
# 100 ms service: 5 minutes give about 2 700 counted calls and run in about 0.1 s.
BASE: dict[str, Any] = tomllib.loads(base_toml())

# A token bucket on the payments of partner "shop" (offered about 10 calls per second) while a
# second partner reads account information without a limit (about 20 calls per second): the
# bank-wide success rate and ok count depend on the bucket's rate and on the traffic of both.
CRN_RAW: dict[str, Any] = {
    "name": "exp_limit",
    "run": {"horizon": "5m", "warmup": "30s", "seed": 7, "time_bin": "1m"},
    "bank": {
        "pools": {"core": {"servers": 8}},
        "products": {
            "pay": {
                "kind": "payment",
                "pool": "core",
                "service_time": {"dist": "exponential", "mean": "50ms"},
            },
            "info": {
                "kind": "account_info",
                "pool": "core",
                "service_time": {"dist": "exponential", "mean": "50ms"},
            },
        },
    },
    "gateway": {
        "limits": [
            {
                "name": "per-partner",
                "scope": "partner",
                "algorithm": "token_bucket",
                "rate": 5.0,
                "burst": 10,
                "products": ["pay"],
            }
        ]
    },
    "journeys": {"buy": {"steps": [{"product": "pay"}]}, "look": {"steps": [{"product": "info"}]}},
    "partners": [
        {"name": "shop", "users": 86400, "sessions_per_user_day": 10.0, "journey": "buy"},
        {"name": "app", "users": 86400, "sessions_per_user_day": 20.0, "journey": "look"},
    ],
}


def base_scenario(**overrides: Any) -> Scenario:
    """The small base scenario, with dotted-path overrides."""
    s = Scenario(copy.deepcopy(BASE))
    return s.with_overrides(overrides) if overrides else s


def write_base(path: Path, horizon: str = "5m", sessions: float = 10.0, extra: str = "") -> Path:
    """The base scenario as a TOML file (``extra`` is appended, e.g. a ``[sweep]`` table)."""
    path.write_text(base_toml(horizon, sessions) + extra, encoding="utf-8")
    return path


def kpi_array(kpis: dict[str, float] | pd.Series) -> np.ndarray:
    """The KPIs in ``KPI_NAMES`` order (NaN compares equal in ``assert_array_equal``)."""
    return np.array([float(kpis[k]) for k in KPI_NAMES])


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``directory``: relative path -> (contents, mtime in ns)."""
    return {
        str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


# --------------------------------------------------------------------------------------------
# 1. Replications
# --------------------------------------------------------------------------------------------

REP_SEED = 11
REP_N = 5


@pytest.fixture(scope="module")
def replicated() -> ReplicationResult:
    """Five serial replications of the base scenario."""
    return replicate(base_scenario(), n=REP_N, seed=REP_SEED, executor="serial", quiet=True)


def test_replicate_runs_use_replication_seeds(
    replicated: ReplicationResult,
) -> None:
    """Replication ``r`` is exactly ``simulate(scenario, seed=replication_seed(seed, r))``."""
    runs = replicated.runs
    assert runs["replication"].tolist() == list(range(REP_N))
    assert runs["seed"].tolist() == [replication_seed(REP_SEED, r) for r in range(REP_N)]
    assert len(set(runs["seed"])) == REP_N
    for r in (0, REP_N - 1):
        direct = simulate(base_scenario(), seed=replication_seed(REP_SEED, r)).kpis
        np.testing.assert_array_equal(kpi_array(runs.iloc[r]), kpi_array(direct))


def test_replicate_summary_is_the_student_t_interval(
    replicated: ReplicationResult,
) -> None:
    """Mean, std (ddof 1) and the 95 % interval agree with a hand computation per KPI."""
    summary = replicated.summary
    assert set(summary.index) == set(KPI_NAMES)
    checked = 0
    for kpi in KPI_NAMES:
        x = replicated.runs[kpi].to_numpy(dtype=float)
        row = summary.loc[kpi]
        if np.isnan(x).all():
            assert row["n"] == 0 and math.isnan(row["mean"])
            continue
        n = len(x)
        mean = float(np.mean(x))
        std = float(np.std(x, ddof=1))
        half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
        assert row["n"] == n
        assert row["mean"] == pytest.approx(mean, rel=1e-12, abs=1e-300)
        assert row["std"] == pytest.approx(std, rel=1e-9, abs=1e-300)
        lo, hi = replicated.interval(kpi)
        if kpi in SHARES or kpi in HISTOGRAM_QUANTILES:  # kept in range: covers t within it
            bottom, top = (0.0, 1.0) if kpi in SHARES else (0.0, math.inf)
            assert bottom <= lo <= max(bottom, mean - half) + 1e-12
            assert min(top, mean + half) - 1e-12 <= hi <= top
        else:
            assert row["half_width"] == pytest.approx(half, rel=1e-9, abs=1e-300)
            assert (lo, hi) == pytest.approx((mean - half, mean + half), rel=1e-9)
        checked += 1
    assert checked >= 15
    assert summary.loc["latency_mean_s", "half_width"] > 0


def test_t_interval_levels_and_edge_cases() -> None:
    """Any level; NaNs are dropped; one value has no spread; none gives NaNs."""
    x = [1.0, 2.5, 2.0, 4.0, float("nan"), 3.5]
    clean = np.array([1.0, 2.5, 2.0, 4.0, 3.5])
    mean, std, lo, hi = t_interval(x, level=0.9)
    half = float(stats.t.ppf(0.95, 4)) * clean.std(ddof=1) / math.sqrt(5)
    assert mean == pytest.approx(clean.mean(), rel=1e-15)
    assert std == pytest.approx(clean.std(ddof=1), rel=1e-15)
    assert (lo, hi) == pytest.approx((clean.mean() - half, clean.mean() + half), rel=1e-14)
    one = t_interval([2.0])
    assert one[0] == 2.0 and all(math.isnan(v) for v in one[1:])
    assert all(math.isnan(v) for v in t_interval([]))


def test_replicate_target_adds_replications_until_the_goal_is_met() -> None:
    """A 3 % relative half-width on the mean latency needs more than the first 3 runs."""
    seed = 5
    goal = 0.03
    res = replicate(
        base_scenario(),
        n=3,
        seed=seed,
        target={"kpi": "latency_mean_s", "half_width": goal, "relative": True},
        executor="serial",
        quiet=True,
    )
    runs = res.runs
    n = len(runs)
    assert n > 3
    assert runs["replication"].tolist() == list(range(n))
    assert runs["seed"].tolist() == [replication_seed(seed, r) for r in range(n)]
    row = res.summary.loc["latency_mean_s"]
    assert row["half_width"] <= goal * abs(row["mean"])
    first = t_interval(runs["latency_mean_s"].iloc[:3].to_numpy())
    assert (first[3] - first[2]) / 2 > goal * abs(first[0]), "the first runs already met the goal"


def test_replicate_target_stops_at_max_replications() -> None:
    """An unreachable goal (zero half-width) stops at ``max_replications`` exactly."""
    res = replicate(
        base_scenario(),
        n=2,
        seed=1,
        target={"kpi": "latency_mean_s", "half_width": 0.0},
        max_replications=5,
        executor="serial",
        quiet=True,
    )
    assert res.runs["replication"].tolist() == [0, 1, 2, 3, 4]
    assert res.summary.loc["latency_mean_s", "half_width"] > 0


def test_replicate_refuses_bad_arguments() -> None:
    """``n`` below 1 and a target without ``half_width`` are scenario errors."""
    with pytest.raises(ScenarioError):
        replicate(base_scenario(), n=0, executor="serial", quiet=True)
    with pytest.raises(ScenarioError):
        replicate(base_scenario(), n=2, target={"kpi": "latency_mean_s"}, executor="serial")


# --------------------------------------------------------------------------------------------
# 2. Paired comparison with common random numbers
# --------------------------------------------------------------------------------------------


def test_common_random_numbers_narrow_a_rate_limit_comparison() -> None:
    """Token bucket 5/s vs 8/s on a partner offering ~10/s: with common random numbers the 95 %
    interval of the mean difference is at least 3x narrower than with independent seeds."""
    a = Scenario(copy.deepcopy(CRN_RAW))
    b = a.with_overrides({"gateway.limits.0.rate": 8.0})
    n, seed = 10, 3
    paired = compare(a, b, n=n, seed=seed, crn=True, executor="serial", quiet=True)
    indep = compare(a, b, n=n, seed=seed, crn=False, executor="serial", quiet=True)

    runs = paired.runs
    seeds_a = runs[runs["arm"] == "a"]["seed"].tolist()
    seeds_b = runs[runs["arm"] == "b"]["seed"].tolist()
    assert seeds_a == seeds_b == [replication_seed(seed, r) for r in range(n)]
    other = indep.runs[indep.runs["arm"] == "b"]["seed"].tolist()
    assert not set(other) & set(seeds_a)
    assert paired.crn and not indep.crn

    for kpi in ("success_rate", "calls_ok"):
        p, i = paired.summary.loc[kpi], indep.summary.loc[kpi]
        assert p["n"] == i["n"] == n
        assert p["diff_mean"] > 0 and i["diff_mean"] > 0  # a faster bucket lets more through
        assert p["diff_mean"] == pytest.approx(p["mean_b"] - p["mean_a"], rel=1e-9)
        ratio = i["half_width"] / p["half_width"]
        print(
            f"CRN {kpi}: half-width {p['half_width']:.6g} (crn) vs {i['half_width']:.6g} "
            f"(independent), ratio {ratio:.2f}"
        )
        assert ratio >= 3.0, f"{kpi}: common random numbers narrow the interval only {ratio:.2f}x"


# --------------------------------------------------------------------------------------------
# 3. Designs
# --------------------------------------------------------------------------------------------


def test_grid_is_the_cartesian_product_in_order() -> None:
    """Later parameters vary fastest, values in the order given."""
    pts = sweep_points({"a": [3, 1], "b": ["x", "y", "z"]}, "grid")
    assert pts == [
        {"a": 3, "b": "x"},
        {"a": 3, "b": "y"},
        {"a": 3, "b": "z"},
        {"a": 1, "b": "x"},
        {"a": 1, "b": "y"},
        {"a": 1, "b": "z"},
    ]


@pytest.mark.parametrize("design", ["lhs", "sobol"])
def test_sampling_designs_stay_in_range_and_round_integers(design: str) -> None:
    """``n`` points inside ``[low, high]``; integer parameters are ints; reproducible by seed."""
    vary = {
        SERVERS: {"low": 2, "high": 9, "integer": True},
        SESSIONS: {"low": 5.0, "high": 10.0},
    }
    pts = sweep_points(vary, design, n=8, seed=4)
    assert len(pts) == 8
    for pt in pts:
        assert list(pt) == [SERVERS, SESSIONS]
        assert type(pt[SERVERS]) is int and 2 <= pt[SERVERS] <= 9
        assert type(pt[SESSIONS]) is float and 5.0 <= pt[SESSIONS] <= 10.0
    assert sweep_points(vary, design, n=8, seed=4) == pts
    assert sweep_points(vary, design, n=8, seed=5) != pts
    if design == "lhs":
        # one point in each of the n equal strata of a continuous parameter
        strata = sorted(int((pt[SESSIONS] - 5.0) / 5.0 * 8) for pt in pts)
        assert strata == list(range(8))


def test_salib_designs_have_their_sizes() -> None:
    """Saltelli (first order) gives N (D + 2) points, Morris N (D + 1)."""
    vary = {
        SERVERS: {"low": 2, "high": 8, "integer": True},
        SESSIONS: {"low": 5.0, "high": 10.0},
        "bank.pools.core.queue_limit": {"low": 0, "high": 50, "integer": True},
    }
    assert len(sweep_points(vary, "saltelli", n=4, seed=0)) == 4 * (3 + 2)
    assert len(sweep_points(vary, "morris", n=4, seed=0)) == 4 * (3 + 1)
    for pt in sweep_points(vary, "morris", n=4, seed=0):
        assert type(pt[SERVERS]) is int and 2 <= pt[SERVERS] <= 8
        assert 5.0 <= pt[SESSIONS] <= 10.0


def test_bad_designs_are_refused() -> None:
    """An unknown design, an empty range, a list where a range is needed, ``n`` of 0."""
    with pytest.raises(ScenarioError):
        sweep_points({SERVERS: [2]}, "factorial")
    with pytest.raises(ScenarioError):
        sweep_points({SERVERS: {"low": 5, "high": 5}}, "lhs", n=4)
    with pytest.raises(ScenarioError):
        sweep_points({SERVERS: [2, 4]}, "sobol", n=4)
    with pytest.raises(ScenarioError):
        sweep_points({SERVERS: {"low": 2, "high": 5}}, "lhs", n=0)
    with pytest.raises(ScenarioError):
        sweep_points({}, "grid")


def test_replication_r_uses_the_same_seed_at_every_point() -> None:
    """Seeds depend on the replication only, so arrivals are the same at every point."""
    res = sweep(
        base_scenario(),
        {SERVERS: [1, 2, 4]},
        replications=3,
        seed=9,
        executor="serial",
        quiet=True,
    )
    t = res.table
    assert t["run_id"].tolist() == list(range(9))
    assert t["point"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert t["replication"].tolist() == [0, 1, 2] * 3
    assert t[SERVERS].tolist() == [1, 1, 1, 2, 2, 2, 4, 4, 4]
    for r, g in t.groupby("replication"):
        assert g["seed"].tolist() == [replication_seed(9, int(r))] * 3
        # servers do not change who arrives: the same calls at every point
        assert g["calls_total"].nunique() == 1
    assert t["latency_mean_s"].nunique() == 9
    assert res.failures.empty


def test_a_range_is_typed_by_the_key_it_varies() -> None:
    """Integer bounds on a real-valued key stay real-valued; an integer key is integer
    without being told; ``integer = false`` on an integer key is refused."""
    s = base_scenario()
    typed = s.typed_vary({SESSIONS: {"low": 5, "high": 10}, SERVERS: {"low": 1, "high": 4}}, "lhs")
    assert typed[SESSIONS]["integer"] is False and typed[SERVERS]["integer"] is True
    pts = sweep_points(typed, "lhs", n=16, seed=1)
    assert len({pt[SESSIONS] for pt in pts}) == 16  # no rounding, so no duplicated points
    assert all(type(pt[SERVERS]) is int for pt in pts)
    assert s.typed_vary({SESSIONS: {"low": 5, "high": 10, "integer": True}}, "lhs") == {
        SESSIONS: {"low": 5, "high": 10, "integer": True}
    }  # the user's choice, kept
    with pytest.raises(ScenarioError, match="integers only") as err:
        s.typed_vary({SERVERS: {"low": 1, "high": 4, "integer": False}}, "lhs")
    assert err.value.path == f"sweep.vary.{SERVERS}"
    # a [sweep] table's range on an integer key needs no `integer = true` either
    raw = copy.deepcopy(BASE)
    raw["sweep"] = {"design": "lhs", "n": 4, "vary": {SERVERS: {"low": 1, "high": 3}}}
    assert Scenario(raw).spec.sweep is not None


def test_a_range_without_a_design_is_an_error_naming_the_choices() -> None:
    with pytest.raises(ScenarioError, match="lhs, sobol, saltelli, morris") as err:
        sweep(base_scenario(), {SERVERS: {"low": 1, "high": 4}}, executor="serial", quiet=True)
    assert err.value.path == "sweep.design"


def test_cli_vary_replaces_the_sweep_table_and_says_how_many_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """``--vary`` replaces the file's ``[sweep]`` table with its replications; a range needs
    ``--design``; the run count is printed before the runs."""
    table = f'\n[sweep]\ndesign = "grid"\nreplications = 3\nvary = {{ "{SERVERS}" = [1, 2] }}\n'
    path = write_base(tmp_path / "with_sweep.toml", extra=table)
    code, _out, err = run_cli(
        capsys, "sweep", str(path), "--vary", f"{SERVERS}=2,3,4", "--executor", "serial",
        "--quiet", "--out", str(tmp_path / "a"),
    )  # fmt: skip
    assert code == 0, err
    assert "sweep: 3 points x 1 replications = 3 runs" in err
    code, _out, err = run_cli(
        capsys, "sweep", str(path), "--executor", "serial", "--quiet", "--out",
        str(tmp_path / "b"),
    )  # fmt: skip
    assert code == 0, err
    assert "sweep: 2 points x 3 replications = 6 runs" in err
    code, _out, err = run_cli(
        capsys, "sweep", str(path), "--vary", f"{SESSIONS}=5:10", "--out", str(tmp_path / "c")
    )
    assert code == 2
    assert_one_line_error(err)
    assert "--design" in err and "lhs|sobol|saltelli|morris" in err
    assert not (tmp_path / "c").exists()


@pytest.fixture(scope="module")
def morris_store(tmp_path_factory: pytest.TempPathFactory) -> SweepResult:
    """A Morris sweep (N = 4, two parameters) stored for the report command."""
    store = tmp_path_factory.mktemp("morris") / "store"
    vary = {
        SERVERS: {"low": 1, "high": 7, "integer": True},
        SESSIONS: {"low": 5.0, "high": 10.0},
    }
    return sweep(
        base_scenario(),
        vary,
        design="morris",
        n=4,
        seed=3,
        executor="serial",
        store=store,
        quiet=True,
    )


def test_sensitivity_of_saltelli_and_morris_sweeps(morris_store: SweepResult) -> None:
    """Indices per parameter; the servers do not move the call count, the session rate does."""
    vary = {
        SERVERS: {"low": 1, "high": 7, "integer": True},
        SESSIONS: {"low": 5.0, "high": 10.0},
    }
    saltelli = sweep(
        base_scenario(), vary, design="saltelli", n=4, seed=3, executor="serial", quiet=True
    )
    assert len(saltelli.table) == 4 * (2 + 2)
    sobol = sensitivity(saltelli, "calls_total")
    assert list(sobol.columns) == ["parameter", "S1", "S1_conf", "ST", "ST_conf"]
    assert sobol["parameter"].tolist() == [SESSIONS, SERVERS]
    assert np.isfinite(sobol[["S1", "ST"]].to_numpy()).all()
    servers = sobol.set_index("parameter").loc[SERVERS]
    assert servers["S1"] == 0.0 and servers["ST"] == 0.0
    latency = sensitivity(saltelli, "latency_mean_s")
    assert set(latency["parameter"]) == {SERVERS, SESSIONS}

    morris = sensitivity(morris_store, "calls_total")
    assert list(morris.columns) == ["parameter", "mu_star", "mu_star_conf", "mu", "sigma"]
    assert morris["parameter"].tolist() == [SESSIONS, SERVERS]
    assert morris.set_index("parameter").loc[SERVERS, "mu_star"] == 0.0
    assert morris.set_index("parameter").loc[SESSIONS, "mu_star"] > 0
    lat = sensitivity(morris_store, "latency_mean_s").set_index("parameter")
    assert lat.loc[SERVERS, "mu_star"] > 0

    grid = sweep(base_scenario(), {SERVERS: [2, 3]}, executor="serial", quiet=True)
    with pytest.raises(ValueError, match="saltelli"):
        sensitivity(grid, "calls_total")
    with pytest.raises(KeyError):
        sensitivity(saltelli, "no_such_kpi")


# --------------------------------------------------------------------------------------------
# 4. The result store
# --------------------------------------------------------------------------------------------

STORE_VARY = {SERVERS: [1, 2, 4]}
STORE_REPS = 2


def store_sweep(store: Path | None, **kwargs: Any) -> SweepResult:
    """The store tests' sweep: 3 points x 2 replications, serial."""
    return sweep(
        base_scenario(),
        STORE_VARY,
        replications=STORE_REPS,
        seed=2,
        executor="serial",
        store=store,
        quiet=True,
        **kwargs,
    )


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> SweepResult:
    """The store tests' sweep, finished into a fresh store."""
    return store_sweep(tmp_path_factory.mktemp("stored") / "store")


def test_store_holds_runs_manifest_and_exact_tables(stored: SweepResult) -> None:
    """One JSON per run, a manifest, results.csv and results.parquet equal to the table."""
    store = stored.store
    assert store is not None
    files = sorted(p.name for p in (store / "runs").iterdir())
    assert files == [f"r{i}.json" for i in range(6)]
    for i, name in enumerate(files):
        rec = json.loads((store / "runs" / name).read_text(encoding="utf-8"))
        assert rec["run_id"] == i
        assert (rec["point"], rec["replication"]) == divmod(i, STORE_REPS)
        assert rec["seed"] == replication_seed(2, rec["replication"])
        assert rec["params"] == {SERVERS: STORE_VARY[SERVERS][rec["point"]]}
        assert set(rec["kpis"]) == set(KPI_NAMES)
    manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "openbank_sim.sweep"
    assert manifest["definition"]["vary"] == STORE_VARY
    assert manifest["definition"]["replications"] == STORE_REPS
    assert manifest["definition"]["points"] == [{SERVERS: v} for v in STORE_VARY[SERVERS]]
    assert manifest["definition"] == json.loads(json.dumps(stored.definition, default=str))
    assert not (store / "failures.jsonl").exists()

    table = stored.table
    assert table["run_id"].tolist() == list(range(6))
    csv_table = pd.read_csv(store / "results.csv")
    pd.testing.assert_frame_equal(csv_table, table, check_exact=True)
    parquet = pd.read_parquet(store / "results.parquet")
    pd.testing.assert_frame_equal(parquet, table, check_exact=True)

    # every float is written at full precision: its text reads back as the same float
    with (store / "results.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for i, row in enumerate(rows):
        for col in ("latency_mean_s", "latency_p95_s", "backend_wait_mean_s", "success_rate"):
            assert float(row[col]) == table.loc[i, col]
            assert row[col] == repr(float(table.loc[i, col]))


def test_store_files_follow_the_umask(stored: SweepResult) -> None:
    """Every file of a store is created like any other file: mode 0666 less the umask."""
    mask = os.umask(0)
    os.umask(mask)
    expected = 0o666 & ~mask
    if expected == 0o600:
        pytest.skip("with this umask the mode of a mkstemp file is the expected one")
    store = stored.store
    assert store is not None
    assert stat.S_IMODE((store / "results.parquet").stat().st_mode) == expected
    for name in ("manifest.json", "results.csv", "runs/r0.json"):
        assert stat.S_IMODE((store / name).stat().st_mode) == expected, name


def test_stored_and_storeless_sweeps_agree(stored: SweepResult) -> None:
    """The table read back from the run files equals the one kept in memory."""
    pd.testing.assert_frame_equal(store_sweep(None).table, stored.table, check_exact=True)


@pytest.mark.parametrize("executor", ["serial", "processes"])
def test_a_failing_run_is_recorded_and_the_others_finish(tmp_path: Path, executor: str) -> None:
    """A point that passes validation but whose runs the feasibility estimate refuses (10^10
    users at 1,000 sessions a day: some 3.5 * 10^10 sessions in 5 minutes): its runs go to
    failures.jsonl with a traceback (from the worker too), every other run finishes; no
    results.csv yet."""
    store = tmp_path / "store"
    res = sweep(
        base_scenario(**{SESSIONS: 1000.0}),
        {USERS: [100, HUGE_USERS, 50]},
        replications=2,
        seed=2,
        executor=executor,
        workers=2,
        store=store,
        quiet=True,
    )
    assert res.table["run_id"].tolist() == [0, 1, 4, 5]
    assert sorted(res.failures["run_id"]) == [2, 3]
    assert res.failures["point"].tolist() == [1, 1]
    assert all("Error" in e for e in res.failures["error"])
    lines = (store / "failures.jsonl").read_text(encoding="utf-8").splitlines()
    recs = sorted((json.loads(line) for line in lines), key=lambda r: r["run_id"])
    assert [r["run_id"] for r in recs] == [2, 3]
    for rec in recs:
        assert rec["params"] == {USERS: HUGE_USERS}
        assert rec["error"].startswith("InfeasibleRunError(")
        assert rec["seed"] == replication_seed(2, rec["replication"])
        assert "Traceback (most recent call last)" in rec["traceback"]
        assert "in run_task" in rec["traceback"]  # the frames of the run itself
        assert rec["error"].split("(")[0] in rec["traceback"]
    finished = sorted(p.name for p in (store / "runs").iterdir())
    assert finished == ["r0.json", "r1.json", "r4.json", "r5.json"]
    assert not (store / "results.csv").exists()
    assert res.summary()["point"].tolist() == [0, 2]


def test_fail_fast_stops_at_the_first_failure(tmp_path: Path) -> None:
    """With ``fail_fast`` the error propagates and later runs never start."""
    store = tmp_path / "store"
    with pytest.raises(ScenarioError):
        sweep(
            base_scenario(**{SESSIONS: 1000.0}),
            {USERS: [100, HUGE_USERS, 50]},
            replications=2,
            seed=2,
            executor="serial",
            store=store,
            fail_fast=True,
            quiet=True,
        )
    assert sorted(p.name for p in (store / "runs").iterdir()) == ["r0.json", "r1.json"]
    assert not (store / "results.csv").exists()


def test_a_failing_task_is_isolated_and_retried_on_resume(
    stored: SweepResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any exception raised by a run (here an injected one) is recorded, not raised; resume
    reruns only the failed run and completes the store."""
    original = experiment_module.run_task
    ran: list[int] = []
    failed: set[int] = set()

    def flaky(task: tuple) -> dict[str, Any]:
        ran.append(task[0])
        if task[0] == 1 and not failed:
            failed.add(task[0])
            raise RuntimeError("injected failure of run 1")
        return original(task)

    monkeypatch.setattr(experiment_module, "run_task", flaky)
    store = tmp_path / "store"
    res = store_sweep(store)
    assert res.failures["run_id"].tolist() == [1]
    assert res.table["run_id"].tolist() == [0, 2, 3, 4, 5]
    rec = json.loads((store / "failures.jsonl").read_text(encoding="utf-8"))
    assert "injected failure of run 1" in rec["traceback"]
    assert rec["error"] == "RuntimeError('injected failure of run 1')"
    assert not (store / "results.csv").exists()

    ran.clear()
    again = store_sweep(store, resume=True)
    assert ran == [1]
    assert again.failures.empty
    assert (store / "results.csv").read_bytes() == (stored.store / "results.csv").read_bytes()


def test_resume_runs_only_what_is_missing(
    stored: SweepResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After losing two run files and results.csv, resume reruns exactly those two runs and
    writes the same results.csv; resuming a finished store runs nothing."""
    store = tmp_path / "store"
    first = store_sweep(store)
    reference = (store / "results.csv").read_bytes()
    assert reference == (stored.store / "results.csv").read_bytes()
    (store / "results.csv").unlink()
    (store / "results.parquet").unlink()
    (store / "runs" / "r1.json").unlink()
    (store / "runs" / "r4.json").unlink()

    ran: list[int] = []
    original = experiment_module.run_task

    def counting(task: tuple) -> dict[str, Any]:
        ran.append(task[0])
        return original(task)

    monkeypatch.setattr(experiment_module, "run_task", counting)
    resumed = store_sweep(store, resume=True)
    assert sorted(ran) == [1, 4]
    assert (store / "results.csv").read_bytes() == reference
    pd.testing.assert_frame_equal(resumed.table, first.table, check_exact=True)

    ran.clear()
    again = store_sweep(store, resume=True)
    assert ran == []
    assert (store / "results.csv").read_bytes() == reference
    pd.testing.assert_frame_equal(again.table, first.table, check_exact=True)


def test_a_store_holding_another_sweep_is_refused_untouched(stored: SweepResult) -> None:
    """A different sweep (with or without resume), or the same one without resume, is a
    StoreError and no file in the store changes."""
    store = stored.store
    assert store is not None
    before = snapshot(store)
    for kwargs in ({}, {"resume": True}):
        with pytest.raises(StoreError, match="different sweep"):
            sweep(
                base_scenario(),
                {SERVERS: [1, 2, 5]},
                replications=STORE_REPS,
                seed=2,
                executor="serial",
                store=store,
                quiet=True,
                **kwargs,
            )
        with pytest.raises(StoreError, match="different sweep"):
            sweep(
                base_scenario(),
                STORE_VARY,
                replications=STORE_REPS,
                seed=3,
                executor="serial",
                store=store,
                quiet=True,
                **kwargs,
            )
    with pytest.raises(StoreError, match="resume"):
        store_sweep(store)
    assert snapshot(store) == before


def test_a_directory_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    """A non-empty directory without a manifest is left alone."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me", encoding="utf-8")
    before = snapshot(other)
    for resume in (False, True):
        with pytest.raises(StoreError):
            store_sweep(other, resume=resume)
    assert snapshot(other) == before
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_resume_on_a_missing_or_empty_store_starts_fresh(
    stored: SweepResult, tmp_path: Path, kind: str
) -> None:
    """``resume=True`` on nothing runs the whole sweep."""
    store = tmp_path / "store"
    if kind == "empty":
        store.mkdir()
    res = store_sweep(store, resume=True)
    assert len(res.table) == 6
    assert (store / "results.csv").read_bytes() == (stored.store / "results.csv").read_bytes()


# --------------------------------------------------------------------------------------------
# 4b. Run files that prove themselves; workers that die
# --------------------------------------------------------------------------------------------


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _rewrite(path: Path, edit: Any, checksum: bool) -> None:
    """Edit the run record in ``path``; with ``checksum``, recompute its checksum (a careful
    edit), else leave the old one."""
    rec = _read(path)
    edit(rec)
    if checksum:
        rec["sha256"] = run_checksum(rec)
    path.write_text(json.dumps(rec), encoding="utf-8")


def _truncate(store: Path) -> None:
    path = store / "runs" / "r2.json"
    path.write_bytes(path.read_bytes()[:40])


def _run_id(checksum: bool) -> Any:
    def tamper(store: Path) -> None:
        _rewrite(store / "runs" / "r2.json", lambda r: r.update(run_id=3), checksum)

    return tamper


def _seed(store: Path) -> None:
    _rewrite(store / "runs" / "r2.json", lambda r: r.update(seed=r["seed"] + 1), True)


def _params(store: Path) -> None:
    _rewrite(store / "runs" / "r2.json", lambda r: r.update(params={SERVERS: 9}), True)


def _kpi(store: Path) -> None:
    _rewrite(store / "runs" / "r2.json", lambda r: r["kpis"].update(calls_total=1.0), False)


def _no_checksum(store: Path) -> None:
    _rewrite(store / "runs" / "r2.json", lambda r: r.pop("sha256"), False)


def _copied(store: Path) -> None:
    """r3.json replaced by a copy of r2.json: one run twice, one missing (before checksums,
    results.csv then had a duplicate and a gap)."""
    (store / "runs" / "r2.json").replace(store / "runs" / "r9.json")
    (store / "runs" / "r3.json").write_bytes((store / "runs" / "r1.json").read_bytes())


# case -> (damage, the files named and set aside, the runs done again, a fragment of the note)
DAMAGE: dict[str, tuple[Any, list[str], list[int], str]] = {
    "truncated": (_truncate, ["r2.json"], [2], "not valid JSON"),
    "garbage": (
        lambda st: (st / "runs" / "r2.json").write_bytes(b"\x00\xff\x10"),
        ["r2.json"],
        [2],
        "not valid JSON",
    ),
    "run-id-edited": (_run_id(False), ["r2.json"], [2], "checksum mismatch"),
    "run-id-edited-with-checksum": (_run_id(True), ["r2.json"], [2], "claims run id 3"),
    "seed-edited-with-checksum": (_seed, ["r2.json"], [2], "seed"),
    "params-edited-with-checksum": (_params, ["r2.json"], [2], "params"),
    "kpi-edited": (_kpi, ["r2.json"], [2], "checksum mismatch"),
    "no-checksum": (_no_checksum, ["r2.json"], [2], "no checksum"),
    "renamed-and-copied": (_copied, ["r3.json", "r9.json"], [2, 3], "claims run id"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_run_file_is_reported_set_aside_and_run_again(
    stored: SweepResult,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    case: str,
) -> None:
    """``report`` refuses the store naming the file (changing nothing); ``resume`` moves the
    file to runs/corrupt/, says so, runs that run again and writes the very same results.csv;
    the damaged file is never counted."""
    damage, names, rerun, fragment = DAMAGE[case]
    store = tmp_path / "store"
    store_sweep(store)
    reference = (store / "results.csv").read_bytes()
    damage(store)
    before = snapshot(store)
    code, out, err = run_cli(capsys, "report", str(store))
    assert code == 2 and out == ""
    assert_one_line_error(err)
    assert f"runs/{names[0]}" in err and "--resume" in err
    assert snapshot(store) == before

    ran: list[int] = []
    original = experiment_module.run_task

    def counting(task: tuple) -> dict[str, Any]:
        ran.append(task[0])
        return original(task)

    monkeypatch.setattr(experiment_module, "run_task", counting)
    res = store_sweep(store, resume=True)
    assert sorted(ran) == rerun
    assert len(res.set_aside) == len(names)
    for name, note in zip(names, res.set_aside, strict=True):
        assert note.startswith(f"runs/{name}: ")
        assert (store / "runs" / "corrupt" / name).exists()
    assert fragment in " ".join(res.set_aside)
    assert (store / "results.csv").read_bytes() == reference
    assert res.table["run_id"].tolist() == list(range(6))
    code, _out, err = run_cli(capsys, "report", str(store))
    assert code == 0, err


def test_run_files_carry_their_id_seed_and_checksum(stored: SweepResult) -> None:
    store = stored.store
    assert store is not None
    for i in range(6):
        rec = _read(store / "runs" / f"r{i}.json")
        assert rec["run_id"] == i
        assert rec["seed"] == replication_seed(2, i % STORE_REPS)
        assert rec["sha256"] == run_checksum(rec)


def test_cli_resume_warns_about_a_set_aside_run_file(
    cli_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    store = tmp_path / "store"
    args = ("sweep", str(cli_file), "--vary", f"{SERVERS}=1,2", "--out", str(store))
    args += ("--executor", "serial", "--quiet")
    assert run_cli(capsys, *args)[0] == 0
    _truncate_first = store / "runs" / "r1.json"
    _truncate_first.write_text("{", encoding="utf-8")
    code, _out, err = run_cli(capsys, *args, "--resume")
    assert code == 0, err
    assert "warning: runs/r1.json: not valid JSON" in err
    assert "runs/corrupt/r1.json" in err
    assert "2 runs finished" in err


def test_a_corrupt_store_manifest_is_a_store_error(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store_sweep(store)
    (store / "manifest.json").write_text("{", encoding="utf-8")
    before = snapshot(store)
    with pytest.raises(StoreError, match=r"manifest\.json: not valid JSON"):
        store_sweep(store, resume=True)
    assert snapshot(store) == before


def test_an_edited_results_csv_is_refused_by_report(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    store = tmp_path / "store"
    store_sweep(store)
    table = pd.read_csv(store / "results.csv")
    table.loc[3, "run_id"] = 2
    table.to_csv(store / "results.csv", index=False)
    code, out, err = run_cli(capsys, "report", str(store))
    assert code == 2 and out == ""
    assert_one_line_error(err)
    assert "results.csv" in err


def test_a_worker_that_dies_fails_only_its_own_task() -> None:
    """Two tasks kill their worker; every other task gets its result from a new pool."""
    with ProcessExecutor(workers=2) as ex:
        out = {
            task: (res, err)
            for task, res, err in ex.imap_unordered(dying_task.square_or_die, range(12))
        }
    assert sorted(out) == list(range(12))
    for x, (res, err) in out.items():
        if x in dying_task.DYING_NUMBERS:
            assert res is None
            assert type(err).__name__ == "BrokenProcessPool"
        else:
            assert (res, err) == (x * x, None)


def test_an_interrupt_ends_the_workers_and_the_pool_thread_before_it_propagates() -> None:
    """Ctrl-C while runs are in flight: when ``KeyboardInterrupt`` leaves ``imap_unordered`` the
    workers are dead and the pool's manager thread has finished (a thread still closing the
    pool's queues raced the exiting command's finalizers and printed a traceback); the next
    use gets a fresh pool."""
    with ProcessExecutor(workers=2) as ex:
        runs = ex.imap_unordered(dying_task.square_slowly, range(6))
        assert next(runs) == (0, 0, None)
        pool = ex._pool
        procs = list(pool._processes.values())
        manager = pool._executor_manager_thread
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            runs.throw(KeyboardInterrupt)
        assert time.monotonic() - t0 < 3.0
        assert not manager.is_alive()
        assert not any(proc.is_alive() for proc in procs)
        again = dict(
            (task, res) for task, res, _err in ex.imap_unordered(dying_task.square_or_die, [2, 4])
        )
        assert again == {2: 4, 4: 16}
        assert ex._pool is not pool


def test_a_killed_worker_fails_its_run_and_the_sweep_goes_on(
    stored: SweepResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run 3's worker exits: run 3 is in failures.jsonl (BrokenProcessPool), the five others
    finish; resuming runs 3 and writes the same results.csv as an undisturbed sweep."""
    store = tmp_path / "store"
    kwargs: dict[str, Any] = dict(replications=STORE_REPS, seed=2, store=store, quiet=True)
    monkeypatch.setattr(experiment_module, "run_task", dying_task.run_or_die)
    res = sweep(base_scenario(), STORE_VARY, executor="processes", workers=2, **kwargs)
    assert res.failures["run_id"].tolist() == [dying_task.DYING_RUN]
    assert "BrokenProcessPool" in res.failures["error"].iloc[0]
    assert res.table["run_id"].tolist() == [0, 1, 2, 4, 5]
    lines = (store / "failures.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["run_id"] for line in lines] == [dying_task.DYING_RUN]
    assert not (store / "results.csv").exists()

    monkeypatch.undo()
    again = sweep(base_scenario(), STORE_VARY, executor="serial", resume=True, **kwargs)
    assert again.failures.empty
    assert (store / "results.csv").read_bytes() == (stored.store / "results.csv").read_bytes()


# --------------------------------------------------------------------------------------------
# 5. Killed and resumed from the command line
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_killed_sweep_resumes_to_the_same_results(tmp_path: Path) -> None:
    """SIGKILL after at least 3 of 12 runs, then ``--resume``: results.csv is byte-identical to
    an uninterrupted sweep, with no run lost and none repeated."""
    # about 36 000 calls (1 h at 10 per second): 0.4-1 s per run
    scenario = write_base(tmp_path / "long.toml", horizon="1h")
    args = [
        "sweep",
        str(scenario),
        "--vary",
        f"{SERVERS}=2,3,4,6",
        "--replications",
        "3",
        "--executor",
        "serial",
        "--quiet",
    ]
    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "openbank_sim", *args, "--out", str(killed)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    try:
        while len(list((killed / "runs").glob("r*.json"))) < 3:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the sweep did not write 3 runs in time"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    done_before = len(list((killed / "runs").glob("r*.json")))
    assert 3 <= done_before < 12, "the sweep finished before it could be killed"
    assert not (killed / "results.csv").exists()

    resumed = subprocess.run(
        [*cmd, "--resume"], capture_output=True, text=True, timeout=120, check=False
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "12 runs finished" in resumed.stderr

    whole = tmp_path / "whole"
    assert main([*args, "--out", str(whole)]) == 0
    assert (killed / "results.csv").read_bytes() == (whole / "results.csv").read_bytes()
    table = pd.read_csv(killed / "results.csv")
    assert table["run_id"].tolist() == list(range(12))
    assert len(list((killed / "runs").glob("r*.json"))) == 12


# --------------------------------------------------------------------------------------------
# 6. Executors
# --------------------------------------------------------------------------------------------

EXEC_VARY = {SERVERS: [1, 2], SESSIONS: [8.0, 12.0]}


def exec_sweep(**kwargs: Any) -> SweepResult:
    """The executor tests' sweep: 4 points x 2 replications."""
    return sweep(base_scenario(), EXEC_VARY, replications=2, seed=6, quiet=True, **kwargs)


@pytest.fixture(scope="module")
def serial_table() -> pd.DataFrame:
    """The executor tests' sweep on the serial executor."""
    return exec_sweep(executor="serial").table


@pytest.mark.parametrize(
    ("executor", "workers"),
    [
        ("processes", 1),
        ("processes", 2),
        pytest.param("dask", 2, marks=pytest.mark.slow),
    ],
)
def test_every_executor_gives_identical_numbers(
    serial_table: pd.DataFrame, executor: str, workers: int
) -> None:
    """Same table, to the last bit, whatever runs the tasks and in whatever order."""
    res = exec_sweep(executor=executor, workers=workers)
    assert res.failures.empty
    assert len(serial_table) == 8
    pd.testing.assert_frame_equal(res.table, serial_table, check_exact=True)


@pytest.mark.slow
def test_an_unreachable_dask_scheduler_is_an_executor_error() -> None:
    """Nothing listens on port 9: ExecutorError within about 15 s."""
    t0 = time.monotonic()
    with pytest.raises(ExecutorError, match=re.escape(UNREACHABLE)):
        exec_sweep(executor="dask", address=UNREACHABLE)
    assert time.monotonic() - t0 < 15


# --------------------------------------------------------------------------------------------
# 7. Command line
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The base scenario as a file."""
    return write_base(tmp_path_factory.mktemp("cli") / "exp_small.toml")


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``openbank-sim ARGS`` in this process: (exit code, stdout, stderr)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str) -> None:
    """A bad-input message: one line, the program's prefix, no traceback."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("openbank-sim: error: ")


def test_cli_sweep_grid(cli_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``--vary KEY=V1,V2`` is a grid; the summary has one row per point."""
    store = tmp_path / "store"
    code, out, err = run_cli(
        capsys,
        "sweep",
        str(cli_file),
        "--vary",
        f"{SERVERS}=1,2,4",
        "--replications",
        "2",
        "--seed",
        "2",
        "--out",
        str(store),
        "--executor",
        "serial",
        "--quiet",
    )
    assert code == 0, err
    assert "6 runs finished" in err
    assert out.splitlines()[0].split()[:3] == ["point", SERVERS, "replications"]
    first_block = out.strip().split("\n\n")[0]  # columns wrap at 100 characters
    assert len(first_block.splitlines()) == 1 + 3
    assert max(len(line) for line in out.splitlines()) <= 100
    table = pd.read_csv(store / "results.csv")
    assert table[SERVERS].tolist() == [1, 1, 2, 2, 4, 4]
    manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["definition"]["design"] == "grid"
    # the same numbers as the API (the file and the dict are the same scenario)
    api = store_sweep(None).table
    cols = ["run_id", "seed", SERVERS, "latency_mean_s", "calls_total"]
    pd.testing.assert_frame_equal(table[cols], api[cols], check_exact=True)


def test_cli_sweep_range_with_lhs(
    cli_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """``--vary KEY=LO:HI --design lhs --n 4``: 4 integer points in the range."""
    store = tmp_path / "store"
    code, _out, err = run_cli(
        capsys,
        "sweep",
        str(cli_file),
        "--vary",
        f"{SERVERS}=1:6",
        "--vary",
        f"{SESSIONS}=5.0:10.0",
        "--design",
        "lhs",
        "--n",
        "4",
        "--out",
        str(store),
        "--executor",
        "serial",
        "--quiet",
    )
    assert code == 0, err
    definition = json.loads((store / "manifest.json").read_text(encoding="utf-8"))["definition"]
    assert definition["design"] == "lhs" and definition["n"] == 4
    assert definition["vary"] == {
        SERVERS: {"low": 1, "high": 6, "integer": True},
        SESSIONS: {"low": 5.0, "high": 10.0, "integer": False},
    }
    table = pd.read_csv(store / "results.csv")
    assert len(table) == 4
    assert table[SERVERS].between(1, 6).all() and table[SERVERS].dtype.kind == "i"
    assert table[SESSIONS].between(5.0, 10.0).all() and table[SESSIONS].dtype.kind == "f"


def test_cli_sweep_uses_the_scenarios_sweep_table(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Without ``--vary`` the file's ``[sweep]`` table says what to run."""
    table_text = (
        '\n[sweep]\ndesign = "grid"\nreplications = 2\n'
        f'vary = {{ "{SERVERS}" = [1, 3], "{SESSIONS}" = [6.0, 9.0] }}\n'
    )
    scenario = write_base(tmp_path / "with_sweep.toml", extra=table_text)
    store = tmp_path / "store"
    args = ("sweep", str(scenario), "--out", str(store), "--executor", "serial", "--quiet")
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    assert "8 runs finished" in err
    table = pd.read_csv(store / "results.csv")
    assert table[SERVERS].tolist() == [1, 1, 1, 1, 3, 3, 3, 3]
    assert table[SESSIONS].tolist() == [6.0, 6.0, 9.0, 9.0] * 2
    assert table["replication"].tolist() == [0, 1] * 4
    first_block = out.strip().split("\n\n")[0]  # columns wrap at 100 characters
    assert len(first_block.splitlines()) == 1 + 4


@pytest.mark.parametrize(
    ("vary", "extra", "fragment"),
    [
        (f"{SERVERS.replace('servers', 'sever')}=2,4", (), "unknown key"),
        (f"{SERVERS}=abc", (), "abc"),
        (f"{SERVERS}=5:5", (), "empty range"),
        (f"{SERVERS}=2:5", ("--n", "0"), "--n"),
        ("bank.pools.vault.servers=2,4", (), "vault"),
    ],
    ids=["missing-path", "wrong-type", "empty-range", "n-zero", "unknown-pool"],
)
def test_cli_sweep_bad_input_exits_2(
    cli_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    vary: str,
    extra: tuple[str, ...],
    fragment: str,
) -> None:
    """A one-line message naming the problem, exit 2, nothing written."""
    store = tmp_path / "store"
    code, out, err = run_cli(
        capsys,
        "sweep",
        str(cli_file),
        "--vary",
        vary,
        *extra,
        "--out",
        str(store),
        "--executor",
        "serial",
        "--quiet",
    )
    assert code == 2
    assert out == ""
    assert_one_line_error(err)
    assert fragment in err
    assert not store.exists()


def test_cli_sweep_refuses_a_store_of_another_sweep(
    cli_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Exit 2 with one line; the store keeps every byte and time stamp."""
    store = tmp_path / "store"
    base = ("sweep", str(cli_file), "--out", str(store), "--executor", "serial", "--quiet")
    code, _out, err = run_cli(capsys, *base, "--vary", f"{SERVERS}=1,2")
    assert code == 0, err
    before = snapshot(store)
    for resume in ((), ("--resume",)):
        code, out, err = run_cli(capsys, *base, "--vary", f"{SERVERS}=1,3", *resume)
        assert code == 2
        assert out == ""
        assert_one_line_error(err)
        assert "different sweep" in err
    assert snapshot(store) == before


@pytest.fixture(scope="module")
def unreachable_cli(tmp_path_factory: pytest.TempPathFactory, cli_file: Path) -> dict[str, Any]:
    """``sweep --executor dask --scheduler tcp://127.0.0.1:9`` run once in a subprocess."""
    store = tmp_path_factory.mktemp("dask_cli") / "store"
    cmd = [
        sys.executable,
        "-m",
        "openbank_sim",
        "sweep",
        str(cli_file),
        "--vary",
        f"{SERVERS}=1,2",
        "--executor",
        "dask",
        "--scheduler",
        UNREACHABLE,
        "--out",
        str(store),
        "--quiet",
    ]
    t0 = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    return {
        "code": done.returncode,
        "stdout": done.stdout,
        "stderr": done.stderr,
        "elapsed_s": time.monotonic() - t0,
        "store": store,
        "cmd": cmd,
    }


@pytest.mark.slow
def test_cli_unreachable_scheduler_exits_2_within_seconds(unreachable_cli: dict[str, Any]) -> None:
    """Exit 2 with one line on stderr, no traceback, within about 15 s (process start included)."""
    assert unreachable_cli["code"] == 2, unreachable_cli["stderr"]
    assert unreachable_cli["stdout"] == ""
    assert_one_line_error(unreachable_cli["stderr"])
    assert "127.0.0.1:9" in unreachable_cli["stderr"]
    assert unreachable_cli["elapsed_s"] < 20


@pytest.mark.slow
def test_cli_unreachable_scheduler_leaves_no_store(unreachable_cli: dict[str, Any]) -> None:
    """Exit 2 means nothing was written to ``--out`` (the CLI's contract), so the same command
    can be run again once the scheduler is up."""
    assert unreachable_cli["code"] == 2
    assert not unreachable_cli["store"].exists()


@pytest.mark.slow
def test_cli_compare_with_an_unreachable_scheduler_exits_2(cli_file: Path) -> None:
    """``compare --executor dask --scheduler ADDR`` with nothing there: exit 2, one line."""
    cmd = [
        sys.executable,
        "-m",
        "openbank_sim",
        "compare",
        str(cli_file),
        str(cli_file),
        "--replications",
        "2",
        "--executor",
        "dask",
        "--scheduler",
        UNREACHABLE,
        "--quiet",
    ]
    t0 = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert_one_line_error(done.stderr)
    assert "127.0.0.1:9" in done.stderr
    assert time.monotonic() - t0 < 20


def test_cli_compare_prints_the_paired_table(
    tmp_path: Path, cli_file: Path, capsys: pytest.CaptureFixture
) -> None:
    """``compare A B --replications 3 --kpi ...``: a header and one row per KPI asked for,
    with B - A."""
    b = write_base(tmp_path / "busier.toml", sessions=12.0)
    every = [arg for kpi in KPI_NAMES for arg in ("--kpi", kpi)]
    code, out, err = run_cli(
        capsys,
        "compare",
        str(cli_file),
        str(b),
        "--replications",
        "3",
        "--executor",
        "serial",
        *every,
    )
    assert code == 0, err
    lines = out.splitlines()
    assert "3 paired replications" in lines[0] and "common random numbers" in lines[0]
    assert lines[1].split() == ["mean_a", "mean_b", "diff_mean", "ci_low", "ci_high"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[3:]}
    assert set(KPI_NAMES) <= set(rows)
    mean_a, mean_b, diff = (float(v.replace(",", "")) for v in rows["calls_total"][:3])
    assert not any("e+" in v or "e-" in v for r in rows.values() for v in r)  # positional
    assert mean_b > mean_a and diff == pytest.approx(mean_b - mean_a, rel=1e-4)

    code, out, err = run_cli(
        capsys, "compare", str(cli_file), str(b), "--replications", "0", "--executor", "serial"
    )
    assert code == 2 and out == ""
    assert_one_line_error(err)


def test_cli_report_of_a_sweep_store(
    stored: SweepResult, morris_store: SweepResult, capsys: pytest.CaptureFixture
) -> None:
    """A summary per point and figures/sweep_effects.png; Morris stores add sensitivities."""
    store = stored.store
    assert store is not None
    code, out, err = run_cli(capsys, "report", str(store))
    assert code == 0, err
    lines = out.strip().split("\n\n")[0].splitlines()  # columns wrap at 100 characters
    assert lines[0].split()[:3] == ["point", SERVERS, "replications"]
    assert len(lines) == 1 + 3
    assert max(len(line) for line in out.splitlines()) <= 100
    png = store / "figures" / "sweep_effects.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert morris_store.store is not None
    code, out, err = run_cli(capsys, "report", str(morris_store.store))
    assert code == 0, err
    assert "sensitivity of latency_p95_s" in out and "mu_star" in out
    # N = 4 trajectories are too few: the report says so, with the size needed
    assert re.search(r"warning: latency_p95_s: the sample is too small .* about \d+ traj", out)
    figures = morris_store.store / "figures"
    assert (figures / "sweep_effects.png").exists()
    assert (figures / "sensitivity_latency_p95_s.png").exists()


def test_cli_report_of_a_run_directory(
    cli_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """``report DIR`` of ``run --out DIR``: the KPIs and figures/latency_throughput.png."""
    out_dir = tmp_path / "run"
    code, _out, err = run_cli(capsys, "run", str(cli_file), "--out", str(out_dir), "--quiet")
    assert code == 0, err
    code, out, err = run_cli(capsys, "report", str(out_dir))
    assert code == 0, err
    assert out.startswith("[calls]") and "calls_total" in out
    assert re.search(r"revenue_total +[0-9,.]+ CNY\n", out)  # the run's currency kept
    png = out_dir / "figures" / "latency_throughput.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    code, out, err = run_cli(capsys, "report", str(tmp_path))
    assert code == 2 and out == ""
    assert_one_line_error(err)


def test_cli_report_refuses_an_unfinished_store(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store without results.csv (a run failed) is reported as unfinished."""
    original = experiment_module.run_task

    def flaky(task: tuple) -> dict[str, Any]:
        if task[0] == 0:
            raise RuntimeError("injected failure of run 0")
        return original(task)

    monkeypatch.setattr(experiment_module, "run_task", flaky)
    store = tmp_path / "store"
    assert len(store_sweep(store).failures) == 1
    code, out, err = run_cli(capsys, "report", str(store))
    assert code == 2 and out == ""
    assert_one_line_error(err)
    assert "--resume" in err
    assert os.path.isdir(store / "runs")


def test_cli_replicate_reports_intervals_and_grows_to_a_target(
    cli_file: Path, capsys: pytest.CaptureFixture
) -> None:
    """``replicate --json``: the Student-t intervals of the chosen KPIs, the same numbers as
    :func:`replicate`; ``--target`` adds replications until it is met (or says it was not)."""
    code, out, err = run_cli(
        capsys, "replicate", str(cli_file), "--replications", "3", "--executor", "serial",
        "--kpi", "latency_mean_s", "--kpi", "calls_total", "--json",
    )  # fmt: skip
    assert code == 0, err
    got = json.loads(out)
    assert got["replications"] == 3 and list(got["kpis"]) == ["latency_mean_s", "calls_total"]
    direct = replicate(base_scenario(), n=3, executor="serial", quiet=True)
    for kpi, row in got["kpis"].items():
        assert row["mean"] == direct.summary.loc[kpi, "mean"]
        assert (row["ci_low"], row["ci_high"]) == direct.interval(kpi)
    code, out, err = run_cli(
        capsys, "replicate", str(cli_file), "--replications", "2", "--executor", "serial",
        "--target", "latency_mean_s:2%", "--max-replications", "30", "--json",
    )  # fmt: skip
    assert code == 0, err
    got = json.loads(out)
    row = got["kpis"]["latency_mean_s"]
    assert got["target"]["met"] is True and got["replications"] > 2
    assert row["half_width"] <= 0.02 * abs(row["mean"])
    code, out, err = run_cli(
        capsys, "replicate", str(cli_file), "--replications", "2", "--executor", "serial",
        "--target", "latency_mean_s:0.0000001", "--max-replications", "3", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert "target latency_mean_s:0.0000001: not met after --max-replications 3" in out
    code, out, err = run_cli(
        capsys, "replicate", str(cli_file), "--replications", "2", "--executor", "serial",
        "--target", "latency_p95_s:0.01%", "--max-replications", "50", "--json",
    )  # fmt: skip
    assert code == 0, err
    got = json.loads(out)  # finer than the histogram: said so, and no replications wasted
    assert got["target"]["verdict"] == "below resolution" and got["replications"] == 2


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--kpi", "latncy_p95_s"), "--kpi"),
        (("--target", "latency_p95_s"), "--target"),
        (("--target", "latency_p95_s:-1"), "--target"),
        (("--target", "no_kpi:0.1"), "--target"),
        (("--replications", "0"), "--replications"),
        (("--replications", "5", "--target", "success_rate:1%", "--max-replications", "3"),
         "--max-replications"),
    ],
)  # fmt: skip
def test_cli_replicate_bad_input_exits_2(
    cli_file: Path, capsys: pytest.CaptureFixture, args: tuple[str, ...], option: str
) -> None:
    code, out, err = run_cli(capsys, "replicate", str(cli_file), "--executor", "serial", *args)
    assert code == 2 and out == ""
    assert_one_line_error(err)
    assert f"error: {option}" in err
