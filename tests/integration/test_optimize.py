"""``optimize`` and ``compare`` with many alternatives: known answers from Erlang C, the
indifference zone, the budget running out, determinism, the store, the search, bad input.

The model is the M/M/c of the queueing validations: Poisson arrivals at 10 per second,
exponential service of 0.3 s (3 Erlangs offered) on ``servers`` workers, 3 minutes measured
after a 20 s warm-up (about 1 800 calls, a few hundredths of a second per run). Erlang C gives
the mean queue wait: 0.153 s with 4 servers, 0.0354 s with 5, 0.0099 s with 6 (3 servers is
unstable), so the cheapest pool with a mean wait of at most 0.075 s has 5 servers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from validation.theory import mmc_wq_s, single_pool_scenario

from openbank_sim import Scenario, ScenarioError
from openbank_sim.cli import main
from openbank_sim.experiments import StoreError, compare, optimize
from openbank_sim.experiments.alternatives import AlternativesResult
from openbank_sim.experiments.executors import ProcessExecutor

SERVERS = "bank.pools.core.servers"
PRICE = "bank.pools.core.cost_per_server_hour"
ARRIVALS_PER_S, SERVICE_S = 10.0, 0.3
WAIT_TARGET_S = 0.075
CONSTRAINT = f"backend_wait_mean_s<={WAIT_TARGET_S}"
MACRO_REPLICATIONS = 20


def mmc(servers: int = 4) -> Scenario:
    """The M/M/c above, one server-hour costing 1."""
    return single_pool_scenario(
        {"servers": servers, "cost_per_server_hour": 1.0}, ARRIVALS_PER_S, SERVICE_S, "3m", "20s"
    )


def cheapest_by_erlang_c(candidates: range) -> int:
    """The fewest servers whose Erlang C mean wait meets the target."""
    stable = [c for c in candidates if c > ARRIVALS_PER_S * SERVICE_S]
    return min(c for c in stable if mmc_wq_s(c, ARRIVALS_PER_S, SERVICE_S) <= WAIT_TARGET_S)


@pytest.fixture(scope="module")
def pool() -> Any:
    """Two worker processes shared by the tests of this module."""
    ex = ProcessExecutor(2)
    yield ex
    ex.close()


# --------------------------------------------------------------------------------------------
# 1. Known answers and the indifference zone
# --------------------------------------------------------------------------------------------


def test_the_cheapest_pool_meeting_a_wait_target_is_erlang_cs(pool: ProcessExecutor) -> None:
    """In at least 95 % of independent macro-replications, ``optimize`` returns the number of
    servers Erlang C gives, with its certificate (cost as a KPI, or servers directly). A first
    stage of 6 replications keeps the test fast (``benchmarks/bench_optimize.py`` measures the
    defaults over 200 macro-replications)."""
    space = range(4, 7)
    answer = cheapest_by_erlang_c(space)
    assert answer == 5
    right = 0
    for m in range(MACRO_REPLICATIONS):
        res = optimize(
            mmc(),
            vary={SERVERS: {"low": space.start, "high": space.stop - 1}},
            minimize="cost_total" if m % 2 == 0 else SERVERS,
            subject_to=[CONSTRAINT],
            delta=0.01 if m % 2 == 0 else None,
            seed=1000 + m,
            initial=6,
            executor=pool,
            quiet=True,
        )
        right += res.holds and res.best == {SERVERS: answer}
        assert res.holds or res.certificate["undecided"], res.certificate["statement"]
    assert right >= 0.95 * MACRO_REPLICATIONS


def test_within_the_indifference_zone_either_is_accepted(pool: ProcessExecutor) -> None:
    """Mean latency with 7 or 8 servers differs by 2 ms (Erlang C), less than delta = 10 ms:
    either may be chosen, the certificate holds (and is true), and the procedure does not spend
    its replications telling them apart. 4 servers (150 ms slower) is never chosen."""
    delta = 0.01
    true = {c: mmc_wq_s(c, ARRIVALS_PER_S, SERVICE_S) + SERVICE_S for c in (4, 7, 8)}
    assert abs(true[7] - true[8]) < delta < true[4] - min(true.values())
    for m in range(3):
        res = optimize(
            mmc(),
            vary={SERVERS: [4, 7, 8]},
            minimize="latency_mean_s",
            delta=delta,
            seed=2000 + m,
            initial=6,
            executor=pool,
            quiet=True,
        )
        assert res.holds, res.certificate["statement"]
        chosen = res.best[SERVERS]
        assert chosen in (7, 8)
        assert true[chosen] - min(true.values()) <= delta  # the certificate's claim is true
        assert res.runs <= 3 * 24
        assert "within 0.01 of the best" in res.certificate["statement"]


# --------------------------------------------------------------------------------------------
# 2. The budget, determinism, the store, the search
# --------------------------------------------------------------------------------------------


def test_when_the_budget_runs_out_it_says_so_and_claims_nothing_false() -> None:
    """A threshold close to 4 servers' mean wait needs many replications; with 45 runs the
    result names the best candidate, what was established, and no certificate."""
    res = optimize(
        mmc(),
        vary={SERVERS: [4, 5, 6]},
        minimize=SERVERS,
        subject_to=["backend_wait_mean_s<=0.14"],
        budget=35,
        seed=5,
        executor="serial",
        quiet=True,
    )
    cert = res.certificate
    assert not res.holds
    assert cert["budget_exhausted"] and res.runs == 35
    assert "budget of 35 runs ran out" in cert["statement"]
    assert "No certificate" in cert["statement"]
    assert res.best == {SERVERS: 5}  # established feasible; 4 servers is still open
    assert cert["best_feasible"] and cert["unresolved"] == [{SERVERS: 4}]
    status = res.configurations.set_index(SERVERS)["status"]
    assert status[4] == "undecided" and status[5] == "feasible"


def small_problem(**kwargs: Any) -> Any:
    return optimize(
        mmc(),
        vary={SERVERS: [4, 5, 6]},
        minimize="latency_p95_s",
        subject_to=["cost_total<=0.27"],  # 4 or 5 servers (0.2, 0.25)
        delta=0.05,
        seed=9,
        initial=6,
        quiet=True,
        **kwargs,
    )


def test_the_same_seed_gives_the_same_answer_on_every_executor(pool: ProcessExecutor) -> None:
    serial = small_problem(executor="serial")
    parallel = small_problem(executor=pool)
    assert serial.as_dict() == parallel.as_dict()
    pd.testing.assert_frame_equal(serial.table, parallel.table, check_exact=True)
    pd.testing.assert_frame_equal(serial.configurations, parallel.configurations)
    assert serial.best == {SERVERS: 5} and serial.holds


def test_the_store_holds_every_run_and_resumes_without_running_again(tmp_path: Path) -> None:
    store = tmp_path / "opt"
    first = small_problem(executor="serial", store=store)
    files = sorted((store / "runs").glob("r*.json"))
    assert len(files) == first.runs
    table = pd.read_csv(store / "results.csv")
    assert len(table) == first.runs
    assert set(table[SERVERS]) == {4, 5, 6}
    assert json.loads((store / "optimize.json").read_text())["best"] == {SERVERS: 5}
    assert len(pd.read_csv(store / "configurations.csv")) == 3
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["definition"]["design"] == "optimize"
    with pytest.raises(StoreError, match="resume"):
        small_problem(executor="serial", store=store)
    stamps = {f.name: f.stat().st_mtime_ns for f in files}
    again = small_problem(executor="serial", store=store, resume=True)
    assert again.as_dict() == first.as_dict()
    assert {f.name: f.stat().st_mtime_ns for f in (store / "runs").glob("r*.json")} == stamps


def test_a_space_too_large_to_enumerate_is_searched_first(pool: ProcessExecutor) -> None:
    """10 configurations with ``max_points=4``: the search keeps 5 candidates, the certificate
    speaks of them, and the answer is still 5 servers at the lower price."""
    res = optimize(
        mmc(),
        vary={SERVERS: {"low": 3, "high": 7}, PRICE: [1.0, 2.0]},
        minimize="cost_total",
        subject_to=[CONSTRAINT],
        delta=0.01,
        seed=3,
        max_points=4,
        search_initial=4,
        candidates=5,
        initial=6,
        executor=pool,
        quiet=True,
    )
    cert = res.certificate
    assert res.holds and res.best == {SERVERS: 5, PRICE: 1.0}
    assert cert["searched"] and "candidates a search kept out of 10" in cert["scope"]
    roles = res.configurations["role"].value_counts()
    assert roles["candidate"] == 5


# --------------------------------------------------------------------------------------------
# 3. Bad input: one line, exit 2, nothing written
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mmc_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("optimize") / "mmc.toml"
    path.write_text(
        'name = "mmc_small"\n\n[run]\nhorizon = "3m"\nwarmup = "20s"\n\n'
        "[bank.pools.core]\nservers = 4\ncost_per_server_hour = 1.0\n\n"
        '[bank.products.pay]\npool = "core"\n'
        'service_time = { dist = "exponential", mean = "0.3s" }\n\n'
        '[journeys.buy]\nsteps = [{ product = "pay" }]\n\n'
        '[[partners]]\nname = "shop"\nusers = 864000\nsessions_per_user_day = 1.0\n'
        'journey = "buy"\n',
        encoding="utf-8",
    )
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


GOOD = ("--minimize", "cost_total", "--delta", "0.01", "--subject-to", CONSTRAINT)


@pytest.mark.parametrize(
    ("vary", "options", "fragment"),
    [
        (
            f"{SERVERS}=3:6",
            ("--minimize", "cost_totl", "--delta", "1"),
            "did you mean 'cost_total'",
        ),
        (
            f"{SERVERS}=3:6",
            ("--minimize", "cost_total", "--delta", "1", "--subject-to", "latency_p9_s<=1"),
            "did you mean 'latency_p99_s'",
        ),
        (
            f"{SERVERS}=3:6",
            ("--minimize", "cost_total", "--delta", "1", "--subject-to", "latency_p95_s=1"),
            "expected METRIC<=VALUE",
        ),
        (
            f"{SERVERS}=3:6",
            ("--minimize", "cost_total", "--delta", "1", "--subject-to", "latency_p95_s<=fast"),
            "not a finite number",
        ),
        (f"{SERVERS}=3:6", (*GOOD, "--alpha", "0.5"), "(0, 0.5)"),
        (f"{SERVERS}=3:6", (*GOOD, "--alpha", "0"), "(0, 0.5)"),
        (f"{SERVERS}=3:6", ("--minimize", "cost_total", "--delta", "0"), "> 0"),
        (f"{SERVERS}=3:6", ("--minimize", "cost_total", "--delta", "-1"), "> 0"),
        (f"{SERVERS}=3:6", ("--minimize", "cost_total"), "needs delta"),
        (f"{SERVERS}=5:5", GOOD, "empty range"),
        (f"{SERVERS}=6:3", GOOD, "empty range"),
        (f"{SERVERS}=", GOOD, "expected KEY="),
        (f"{SERVERS}=3:6", (*GOOD, "--budget", "39"), "too small to certify anything"),
        ("bank.pools.vault.servers=3:6", GOOD, "vault"),
    ],
    ids=[
        "minimize-unknown-kpi",
        "constraint-unknown-kpi",
        "malformed-constraint",
        "malformed-bound",
        "alpha-too-large",
        "alpha-zero",
        "delta-zero",
        "delta-negative",
        "delta-missing",
        "empty-range",
        "inverted-range",
        "no-values",
        "budget-too-small",
        "unknown-pool",
    ],
)
def test_cli_optimize_bad_input_exits_2_and_writes_nothing(
    mmc_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    vary: str,
    options: tuple[str, ...],
    fragment: str,
) -> None:
    out_dir = tmp_path / "out"
    code, out, err = run_cli(
        capsys, "optimize", str(mmc_file), "--vary", vary, *options, "--out", str(out_dir)
    )
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("openbank-sim: error: "), err
    assert fragment in err
    assert not out_dir.exists()


def test_the_python_api_refuses_bad_arguments() -> None:
    vary = {SERVERS: [4, 5]}
    with pytest.raises(ScenarioError, match="exactly one"):
        optimize(mmc(), vary, minimize="cost_total", maximize="revenue_total", delta=1)
    with pytest.raises(ScenarioError, match=r"\(0, 0.5\)"):
        optimize(mmc(), vary, minimize=SERVERS, alpha=-0.1)
    with pytest.raises(ScenarioError, match="not a varied parameter"):
        optimize(mmc(), vary, minimize="bank.pools.core.queue_limit")
    with pytest.raises(ScenarioError, match="empty list"):
        optimize(mmc(), {SERVERS: []}, minimize=SERVERS)


def test_cli_optimize_json(mmc_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``--json``: best, kpis, certificate, runs; the store has every run and a summary."""
    out_dir = tmp_path / "out"
    code, out, err = run_cli(
        capsys,
        "optimize",
        str(mmc_file),
        "--vary",
        f"{SERVERS}=3:6",
        *GOOD,
        "--seed",
        "4",
        "--executor",
        "serial",
        "--out",
        str(out_dir),
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == {"best", "kpis", "certificate", "runs"}
    assert doc["best"] == {SERVERS: 5}
    assert doc["certificate"]["holds"] is True
    assert doc["certificate"]["alpha_feasibility"] + doc["certificate"]["alpha_selection"] == 0.05
    wait = doc["kpis"]["backend_wait_mean_s"]
    assert wait["ci_low"] <= wait["mean"] <= wait["ci_high"] <= WAIT_TARGET_S
    assert len(list((out_dir / "runs").glob("r*.json"))) == doc["runs"]
    assert (out_dir / "optimize.json").exists() and (out_dir / "configurations.csv").exists()
    # the store is a sweep store: `report` reads it
    code, out, err = run_cli(capsys, "report", str(out_dir))
    assert code == 0, err
    assert out.splitlines()[0].split()[:3] == ["point", SERVERS, "replications"]


# --------------------------------------------------------------------------------------------
# 4. compare with many alternatives
# --------------------------------------------------------------------------------------------


def test_compare_three_scenarios_each_against_the_first() -> None:
    """Simultaneous intervals (Bonferroni over 2 comparisons) and the best on a KPI."""
    n = 4
    res = compare(mmc(4), mmc(5), mmc(6), n=n, best="latency_mean_s", executor="serial", quiet=True)
    assert isinstance(res, AlternativesResult)
    assert res.labels == ["A", "B", "C"]
    assert set(res.summary.index.get_level_values("scenario")) == {"B", "C"}
    runs = res.runs.pivot(index="replication", columns="arm", values="latency_mean_s")
    diff = (runs["C"] - runs["A"]).to_numpy()
    t = stats.t.ppf(1 - 0.05 / 2 / 2, n - 1)  # each interval at 97.5 %
    row = res.summary.loc[("C", "latency_mean_s")]
    assert row["diff_mean"] == pytest.approx(diff.mean())
    assert row["half_width"] == pytest.approx(t * diff.std(ddof=1) / np.sqrt(n))
    assert row["ci_high"] < 0  # 6 servers are faster than 4
    assert res.best is not None
    assert res.best["best"] == "C" and "C" in res.best["could_be_best"]
    assert "A" not in res.best["could_be_best"]
    # legacy positional n on two scenarios: the paired comparison as before
    two = compare(mmc(4), mmc(5), 3, executor="serial", quiet=True)
    assert list(two.summary.columns)[:3] == ["n", "mean_a", "mean_b"]


def test_compare_best_with_delta_runs_until_within_delta() -> None:
    res = compare(
        mmc(7),
        mmc(8),
        mmc(4),
        n=5,
        best="latency_mean_s",
        delta=0.01,
        executor="serial",
        quiet=True,
    )
    assert res.best is not None
    assert res.best["best"] in ("A", "B") and res.best["gap"] <= 0.01
    assert "C" not in res.best["could_be_best"]


def test_cli_compare_three_scenarios(
    mmc_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    text = mmc_file.read_text(encoding="utf-8")
    five, six = tmp_path / "five.toml", tmp_path / "six.toml"
    five.write_text(text.replace("servers = 4", "servers = 5"), encoding="utf-8")
    six.write_text(text.replace("servers = 4", "servers = 6"), encoding="utf-8")
    args = ("compare", str(mmc_file), str(five), str(six), "--replications", "3")
    code, out, err = run_cli(capsys, *args, "--executor", "serial", "--best", "latency_mean_s")
    assert code == 0, err
    lines = out.splitlines()
    assert "C = mmc_small" in lines[0] and "Bonferroni over 2 comparisons" in lines[0]
    assert lines[1].split() == ["mean_A", "B-A", "low_B", "high_B", "C-A", "low_C", "high_C"]
    assert lines[-1].startswith("best on latency_mean_s: C has the best mean")
    code, out, err = run_cli(capsys, *args, "--executor", "serial", "--json", "--quiet")
    assert code == 0, err
    doc = json.loads(out)
    assert [s["label"] for s in doc["scenarios"]] == ["A", "B", "C"]
    assert doc["best"] is None and len(doc["summary"]) > 0
    code, out, err = run_cli(capsys, *args, "--best", "latency_mean_s:fastest")
    assert code == 2 and out == "" and "min or max" in err
