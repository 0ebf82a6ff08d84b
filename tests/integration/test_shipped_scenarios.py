"""The shipped scenarios: they load, list, run on a short horizon and land in realistic ranges.

Every ``scenarios/*.toml`` is checked, including ones added later. Short runs override
``run.horizon`` (2 h, or less for scenarios whose traffic would make that slow) and set
``run.warmup = "0s"``; full-horizon runs are left to the validation suite and to benchmarks.
Every TOML block in the README and under ``docs/`` must load as a scenario too.
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path

import pytest

from openbank_sim import Scenario, load_scenario, simulate
from openbank_sim.analysis.results import KPI_NAMES, Results
from openbank_sim.cli import main
from openbank_sim.spec.profiles import expected_count, rate_pieces

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_DIR = ROOT / "scenarios"
SHIPPED = sorted(SCENARIO_DIR.glob("*.toml"))
# The scenarios whose every number must cite docs/calibration.md or say "assumption" (see below).
CITED = (
    "ecommerce",
    "medical",
    "education",
    "mmc_validation",
    "singles_day",
    "noisy_neighbour",
    "uk_open_banking",
    "retry_storm",
)
# The ones calibrated to docs/calibration.md (the M/M/c case is textbook numbers, all assumptions).
CALIBRATED = (
    "ecommerce",
    "medical",
    "education",
    "singles_day",
    "noisy_neighbour",
    "uk_open_banking",
)
CALIBRATION = ROOT / "docs" / "calibration.md"

SHORT_HORIZON_S = 2 * 3600.0
MAX_SHORT_SESSIONS = 20_000.0  # expected sessions in a short run; keeps each run ~1 s
OUTCOMES = ("ok", "rate_limited", "overloaded", "timeout", "error", "auth_failed")
# keys whose value is a label, not a model number
UNCITED_KEYS = ("format_version", "name", "description")
ROW_ID = re.compile(r"\bC-[A-Z]+-\d+\b")
TOML_BLOCK = re.compile(r"^```toml[ \t]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def _short_horizon_s(scenario: Scenario) -> float:
    """A horizon (seconds) of at most 2 h whose expected session count stays modest."""
    spec = scenario.spec
    sessions = 0.0
    for partner in spec.partners:
        if partner.live_from_s >= SHORT_HORIZON_S:
            continue
        base = partner.users * partner.sessions_per_user_day / 86400.0
        edges, factors = rate_pieces(spec.profiles[partner.profile], spec.run.start, 86400.0)
        sessions += expected_count(base, edges, factors, 0.0, SHORT_HORIZON_S)
    if sessions <= MAX_SHORT_SESSIONS:
        return SHORT_HORIZON_S
    return max(60.0, math.floor(SHORT_HORIZON_S * MAX_SHORT_SESSIONS / sessions))


@pytest.fixture(scope="module")
def short_runs() -> dict[str, Results]:
    """Short-horizon results by scenario name, run once per module and shared by the tests."""
    cache: dict[str, Results] = {}
    return cache


def _short_run(cache: dict[str, Results], path: Path) -> Results:
    if path.stem not in cache:
        scenario = load_scenario(path)
        horizon_s = _short_horizon_s(scenario)
        overrides = {"run.horizon": f"{horizon_s:g}s", "run.warmup": "0s"}
        if scenario.spec.run.traffic == "windowed":  # a 2 h horizon holds no window spacing
            overrides["run.traffic"] = "full"
        short = scenario.with_overrides(overrides)
        cache[path.stem] = simulate(short)
    return cache[path.stem]


# --------------------------------------------------------------------------------------------
# Loading and listing


def test_the_expected_scenarios_are_shipped():
    names = {p.stem for p in SHIPPED}
    assert set(CITED) <= names


@pytest.mark.parametrize("path", SHIPPED, ids=_ids(SHIPPED))
def test_shipped_file_loads_with_name_and_description(path: Path):
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    scenario = load_scenario(path)
    assert raw.get("name") == path.stem == scenario.name
    assert isinstance(raw.get("description"), str)
    assert scenario.description.strip()
    assert "\n" not in scenario.description
    first = path.read_text(encoding="utf-8").lstrip().splitlines()[0]
    assert first.startswith("#"), "a shipped scenario starts with a comment saying its question"


@pytest.mark.parametrize("path", SHIPPED, ids=_ids(SHIPPED))
def test_shipped_file_is_found_by_name(path: Path):
    scenario = load_scenario(path.stem)
    assert Path(scenario.source).resolve() == path.resolve()
    assert main(["validate", path.stem]) == 0


def test_list_shows_every_scenario_with_its_description(capsys: pytest.CaptureFixture[str]):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for path in SHIPPED:
        description = load_scenario(path).description
        matching = [line for line in lines if line.split(maxsplit=1)[:1] == [path.stem]]
        assert len(matching) == 1, f"{path.stem} not listed once: {lines}"
        assert matching[0].rstrip().endswith(description)
        assert "(invalid" not in matching[0]


# --------------------------------------------------------------------------------------------
# Every number is traceable


def _value_lines(path: Path) -> list[tuple[int, str, str]]:
    """``(line number, code, comment)`` of each line that sets a value with a digit in it."""
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        code, _, comment = line.partition("#")
        if not code.strip() or "=" not in code:
            continue
        key = code.split("=", 1)[0].strip()
        if key in UNCITED_KEYS or not re.search(r"\d", code.split("=", 1)[1]):
            continue
        out.append((i, code.strip(), comment))
    return out


@pytest.mark.parametrize("name", CITED)
def test_every_number_cites_a_calibration_row_or_an_assumption(name: str):
    path = SCENARIO_DIR / f"{name}.toml"
    missing = [
        f"{path.name}:{i}: {code}"
        for i, code, comment in _value_lines(path)
        if not (ROW_ID.search(comment) or "assumption" in comment)
    ]
    assert not missing, "numbers without a C-... row id or 'assumption':\n" + "\n".join(missing)


@pytest.mark.parametrize("name", CITED)
def test_cited_rows_exist_in_calibration(name: str):
    known = set(ROW_ID.findall(CALIBRATION.read_text(encoding="utf-8")))
    cited = set(ROW_ID.findall((SCENARIO_DIR / f"{name}.toml").read_text(encoding="utf-8")))
    if name in CALIBRATED:
        assert cited, f"{name}.toml cites no docs/calibration.md row"
    assert cited <= known, f"unknown rows: {sorted(cited - known)}"


# --------------------------------------------------------------------------------------------
# Short runs


@pytest.mark.parametrize("path", SHIPPED, ids=_ids(SHIPPED))
def test_short_run_produces_every_kpi(path: Path, short_runs: dict[str, Results]):
    results = _short_run(short_runs, path)
    kpis = results.kpis
    assert set(KPI_NAMES) <= set(kpis)
    assert all(isinstance(kpis[k], float) for k in KPI_NAMES)
    assert sum(kpis[f"calls_{o}"] for o in OUTCOMES) == kpis["calls_total"]
    for table in ("timeseries", "by_partner", "by_product", "by_pool", "journeys"):
        assert table in results.tables


@pytest.mark.parametrize("name", CITED)
def test_cited_scenarios_have_traffic_on_a_short_run(name: str, short_runs: dict[str, Results]):
    kpis = _short_run(short_runs, SCENARIO_DIR / f"{name}.toml").kpis
    assert kpis["calls_total"] > 0
    assert kpis["calls_ok"] > 0
    assert not math.isnan(kpis["latency_mean_s"])


def test_ecommerce_defaults_land_in_realistic_ranges(short_runs: dict[str, Results]):
    """C-UK-2 (324 ms average), C-UK-6 (750 ms target), C-UK-7 (error rates 0.10-0.94%)."""
    kpis = _short_run(short_runs, SCENARIO_DIR / "ecommerce.toml").kpis
    assert kpis["calls_total"] > 1000
    assert 0.1 <= kpis["latency_mean_s"] <= 0.75
    assert kpis["success_rate"] > 0.98
    assert 0.0005 <= kpis["calls_error"] / kpis["calls_total"] <= 0.01


def test_ecommerce_direct_line_shows_the_redirect_dropoff(short_runs: dict[str, Results]):
    by_partner = _short_run(short_runs, SCENARIO_DIR / "ecommerce.toml").tables["by_partner"]
    mode = dict(zip(by_partner["partner"], by_partner["integration"], strict=True))
    assert sorted(mode.values()) == ["api", "traditional"]
    conversion = dict(zip(by_partner["integration"], by_partner["conversion_rate"], strict=True))
    assert conversion["traditional"] < conversion["api"]


# --------------------------------------------------------------------------------------------
# The M/M/c case states the theory it should reproduce


def _erlang_c_wq_s(servers: int, rate_per_s: float, mean_service_s: float) -> float:
    """Erlang C mean queue wait (seconds) of M/M/c."""
    a = rate_per_s * mean_service_s
    rho = a / servers
    head = sum(a**k / math.factorial(k) for k in range(servers))
    tail = a**servers / math.factorial(servers) / (1.0 - rho)
    return tail / (head + tail) / (servers / mean_service_s - rate_per_s)


def test_mmc_scenario_states_its_erlang_c_wait():
    path = SCENARIO_DIR / "mmc_validation.toml"
    spec = load_scenario(path).spec
    (pool,) = spec.bank.pools.values()
    (product,) = spec.bank.products.values()
    (partner,) = spec.partners
    assert partner.profile == "flat"
    assert spec.gateway.auth is None and not spec.gateway.limits
    assert spec.gateway.overhead is None
    assert type(product.service_time).__name__ == "Exponential"
    mean_s = product.service_time.mean
    rate = partner.users * partner.sessions_per_user_day / 86400.0
    assert rate * mean_s / pool.servers == pytest.approx(0.8)
    wq = _erlang_c_wq_s(pool.servers, rate, mean_s)
    assert f"Wq = C / (c mu - lambda) = 0.45764 / 16 = {wq:.6f} s" in path.read_text("utf-8")
    calls = rate * (spec.run.horizon_s - spec.run.warmup_s)
    assert 1e6 <= calls <= 2e6


# --------------------------------------------------------------------------------------------
# Documentation


def _doc_toml_blocks() -> list[tuple[str, str]]:
    files = [ROOT / "README.md"] if (ROOT / "README.md").exists() else []
    docs = ROOT / "docs"
    if docs.is_dir():
        files += sorted(docs.rglob("*.md"))
    blocks = []
    for file in files:
        for k, match in enumerate(TOML_BLOCK.finditer(file.read_text(encoding="utf-8"))):
            blocks.append((f"{file.relative_to(ROOT)}#{k}", match.group(1)))
    return blocks


def test_every_toml_block_in_the_docs_loads():
    blocks = _doc_toml_blocks()
    if not blocks:
        pytest.skip("no ```toml blocks in README.md or docs/")
    for where, text in blocks:
        Scenario(tomllib.loads(text), source=where)
