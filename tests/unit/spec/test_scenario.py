"""Unit tests of scenario loading, defaults, immutability and overrides.

Covers :mod:`openbank_sim.spec.scenario` and the defaults of :mod:`openbank_sim.spec.schema` as listed in
docs/scenario-format.md ("Required and defaults") and DESIGN.md ("Overrides"). Every scenario here
is written to ``tmp_path``; only :func:`test_shipped_scenarios_load_by_name` reads the shipped
folder.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path
from typing import Any

import pytest
from minimal_scenario import MINIMAL_TOML, minimal_toml

import openbank_sim.spec.scenario as scenario_module
from openbank_sim import Scenario, ScenarioError, load_scenario, simulate
from openbank_sim.spec.distributions import Constant
from openbank_sim.spec.scenario import parse_override_value, shipped_scenarios

# A scenario with a limit, several partners and `copies`, for the override paths.
RICH = """\
name = "rich"

[run]
horizon = "2h"

[bank.pools.core]
servers = 4

[bank.pools.risk]
servers = 2

[bank.products.pay]
kind = "payment"
pool = "core"
service_time = { dist = "exponential", mean = "100ms" }

[bank.products.check]
kind = "credit_assessment"
pool = "risk"
service_time = { dist = "constant", value = "50ms" }

[[gateway.limits]]
name = "per-partner"
scope = "partner"
algorithm = "token_bucket"
rate = 50.0
burst = 100

[[gateway.limits]]
name = "in-flight"
algorithm = "concurrency"
limit = 64

[journeys.buy]
steps = [{ product = "check", probability = 0.5 }, { product = "pay" }]

[[partners]]
name = "shop"
users = 1000
sessions_per_user_day = 2.0
journey = "buy"
copies = 3

[[partners]]
name = "clinic"
users = 500
sessions_per_user_day = 1.0
journey = "buy"
"""


def write(directory: Path, text: str, name: str = "scenario.toml") -> Path:
    """Write ``text`` to ``directory / name`` and return the path."""
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def minimal(minimal_scenario_path: Path) -> Scenario:
    """The minimal scenario, loaded from ``tmp_path/minimal.toml``."""
    return load_scenario(minimal_scenario_path)


@pytest.fixture
def rich(tmp_path: Path) -> Scenario:
    """The scenario with limits and copies, loaded from ``tmp_path/rich.toml``."""
    return load_scenario(write(tmp_path, RICH, "rich.toml"))


# --------------------------------------------------------------------------------------------
# Defaults of a minimal file
# --------------------------------------------------------------------------------------------


def test_minimal_defaults_top_level_and_run(minimal: Scenario) -> None:
    spec = minimal.spec
    assert spec.format_version == 1
    assert spec.name == "minimal" == minimal.name  # the file's stem
    assert spec.description == ""
    assert spec.currency == "CNY"
    run = spec.run
    assert run.start == dt.date(2026, 1, 5)
    assert run.start.weekday() == 0  # a Monday
    assert run.horizon_s == 86400.0
    assert run.warmup_s == 0.0
    assert run.seed == 0
    assert run.time_bin_s == 3600.0
    assert run.record_calls == 0.0
    assert run.traffic == "full"


def test_minimal_defaults_bank_and_gateway(minimal: Scenario) -> None:
    bank = minimal.spec.bank
    assert bank.direct_overhead is None
    assert list(bank.pools) == ["core"]
    pool = bank.pools["core"]
    assert pool.servers == 4
    assert pool.queue_limit is None
    product = bank.products["pay"]
    assert product.kind == "other"
    assert product.pool == "core"
    assert product.service_time.mean == pytest.approx(0.1)
    assert product.error_rate == 0.0
    assert product.fee == 0.0
    assert product.take_rate == 0.0
    assert product.cost == 0.0
    gateway = minimal.spec.gateway
    assert gateway.overhead is None
    assert gateway.auth is None
    assert gateway.limits == ()


def test_minimal_defaults_client_journey_partner(minimal: Scenario) -> None:
    client = minimal.spec.client
    assert math.isinf(client.timeout_s)
    assert client.max_attempts == 1
    assert client.respect_retry_after is False
    journey = minimal.spec.journeys["buy"]
    assert journey.value is None or journey.value.mean == 0.0
    assert math.isinf(journey.patience_s)
    assert journey.redirect_dropoff == 0.0
    assert journey.redirect_time is None
    (step,) = journey.steps
    assert step.product == "pay"
    assert step.probability == 1.0
    assert step.when is None
    assert step.think_time is None
    (partner,) = minimal.spec.partners
    assert partner.name == "shop"  # copies = 1 keeps the name as written
    assert partner.sector == "other"
    assert partner.integration == "api"
    assert partner.profile == "flat"
    assert partner.live_from_s == 0.0
    assert partner.users == 1000
    assert partner.sessions_per_user_day == 2.0
    assert partner.client == client  # no override: the [client] defaults


def test_minimal_file_runs_with_extra_machinery_off(minimal: Scenario) -> None:
    results = simulate(minimal.with_overrides({"run.horizon": "6h"}))
    k = results.kpis
    assert k["calls_total"] > 0
    assert k["calls_ok"] == k["calls_total"]
    for outcome in ("rate_limited", "overloaded", "timeout", "error", "auth_failed"):
        assert k[f"calls_{outcome}"] == 0.0, outcome
    assert k["token_requests"] == 0.0
    assert k["success_rate"] == 1.0
    assert k["journeys_completed"] == k["journeys_started"] == k["calls_total"]
    assert k["journeys_abandoned"] == 0.0
    assert k["revenue_total"] == 0.0
    assert k["cost_total"] == 0.0
    assert k["partners_live_end"] == 1.0
    assert list(results.tables["by_pool"]["pool"]) == ["core"]  # no token pool
    assert "calls" not in results.tables  # record_calls = "none"


def test_name_key_wins_over_file_stem(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, 'name = "other"\n' + MINIMAL_TOML, "stem.toml"))
    assert scenario.name == "other"
    assert scenario.source == str(tmp_path / "stem.toml")


# --------------------------------------------------------------------------------------------
# Immutability
# --------------------------------------------------------------------------------------------


def test_spec_is_frozen(minimal: Scenario) -> None:
    spec = minimal.spec
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.run.seed = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.bank.pools["core"].servers = 8  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.partners[0].users = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.bank.pools["gpu"] = spec.bank.pools["core"]  # type: ignore[index]
    with pytest.raises(TypeError):
        spec.journeys["buy"] = spec.journeys["buy"]  # type: ignore[index]
    assert isinstance(spec.partners, tuple)
    assert isinstance(spec.journeys["buy"].steps, tuple)
    assert isinstance(spec.client.retry_on, frozenset)


@pytest.mark.parametrize("attribute", ["spec", "source", "name_of_my_own"])
def test_scenario_attributes_cannot_be_set(minimal: Scenario, attribute: str) -> None:
    with pytest.raises(AttributeError):
        setattr(minimal, attribute, None)


def test_scenario_attributes_cannot_be_deleted(minimal: Scenario) -> None:
    with pytest.raises(AttributeError):
        del minimal.spec


def test_scenario_does_not_alias_its_input_or_output() -> None:
    import tomllib

    raw: dict[str, Any] = tomllib.loads(MINIMAL_TOML)
    scenario = Scenario(raw)
    raw["bank"]["pools"]["core"]["servers"] = 99
    assert scenario.as_dict()["bank"]["pools"]["core"]["servers"] == 4
    copy_out = scenario.as_dict()
    copy_out["partners"][0]["users"] = 7
    assert scenario.as_dict()["partners"][0]["users"] == 1000
    assert scenario.spec.bank.pools["core"].servers == 4


def test_with_overrides_leaves_the_original_unchanged(minimal: Scenario) -> None:
    before = minimal.to_json()
    changed = minimal.with_overrides({"bank.pools.core.servers": 8})
    assert changed.spec.bank.pools["core"].servers == 8
    assert minimal.spec.bank.pools["core"].servers == 4
    assert minimal.to_json() == before
    assert changed != minimal
    assert changed.source == minimal.source
    assert minimal.with_overrides({}) == minimal


# --------------------------------------------------------------------------------------------
# Overrides
# --------------------------------------------------------------------------------------------


def test_override_partner_by_index(minimal: Scenario) -> None:
    changed = minimal.with_overrides({"partners.0.users": 250})
    assert changed.spec.partners[0].users == 250


def test_override_limit_by_index(rich: Scenario) -> None:
    changed = rich.with_overrides({"gateway.limits.0.rate": 7.5, "gateway.limits.1.limit": 3})
    first, second = changed.spec.gateway.limits
    assert first.name == "per-partner"
    assert first.spec.rate_per_s == 7.5
    assert first.spec.burst == 100
    assert second.spec.limit == 3


def test_override_pool_by_name(rich: Scenario) -> None:
    changed = rich.with_overrides([("bank.pools.core.servers", 16)])
    assert changed.spec.bank.pools["core"].servers == 16
    assert changed.spec.bank.pools["risk"].servers == 2


def test_override_fills_a_table_the_file_does_not_have(minimal: Scenario) -> None:
    assert "run" not in minimal.as_dict()
    changed = minimal.with_overrides({"run.warmup": "30m", "client.timeout": "2s"})
    assert changed.spec.run.warmup_s == 1800.0
    assert changed.spec.run.horizon_s == 86400.0  # the rest of [run] keeps its defaults
    assert changed.spec.client.timeout_s == 2.0
    assert changed.as_dict()["run"] == {"warmup": "30m"}


def test_override_fills_a_key_inside_an_existing_entry(minimal: Scenario) -> None:
    changed = minimal.with_overrides(
        {
            "bank.pools.core.queue_limit": 0,
            "bank.products.pay.error_rate": 0.25,
            "partners.0.client.max_attempts": 3,
            "journeys.buy.steps.0.probability": 0.5,
        }
    )
    assert changed.spec.bank.pools["core"].queue_limit == 0
    assert changed.spec.bank.products["pay"].error_rate == 0.25
    assert changed.spec.partners[0].client.max_attempts == 3
    assert changed.spec.client.max_attempts == 1  # only the partner's client changed
    assert changed.spec.journeys["buy"].steps[0].probability == 0.5


def test_override_indexes_partners_before_copies_expansion(rich: Scenario) -> None:
    assert [p.name for p in rich.spec.partners] == ["shop-1", "shop-2", "shop-3", "clinic"]
    changed = rich.with_overrides({"partners.1.users": 7, "partners.0.sessions_per_user_day": 3})
    by_name = {p.name: p for p in changed.spec.partners}
    assert by_name["clinic"].users == 7  # index 1 in the file, not shop-2
    for name in ("shop-1", "shop-2", "shop-3"):
        assert by_name[name].users == 1000
        assert by_name[name].sessions_per_user_day == 3.0


def test_override_several_keys_validated_together(minimal: Scenario) -> None:
    # each alone would be fine or not; together the warm-up must stay below the horizon
    changed = minimal.with_overrides({"run.horizon": "2d", "run.warmup": "1d"})
    assert changed.spec.run.horizon_s == 172800.0
    with pytest.raises(ScenarioError) as info:
        minimal.with_overrides({"run.horizon": "1h", "run.warmup": "1h"})
    assert info.value.path == "run.warmup"


def test_override_values_are_validated_like_the_file(minimal: Scenario) -> None:
    with pytest.raises(ScenarioError) as info:
        minimal.with_overrides({"bank.pools.core.servers": 0})
    err = info.value
    assert err.path == "bank.pools.core.servers"
    assert "minimal.toml" in str(err)
    assert "positive" in err.reason


def test_load_scenario_applies_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL_TOML)
    scenario = load_scenario(path, overrides={"bank.pools.core.servers": 6, "run.horizon": "2d"})
    assert scenario.spec.bank.pools["core"].servers == 6
    assert scenario.spec.run.horizon_s == 172800.0
    assert scenario.source == str(path)


@pytest.mark.parametrize(
    ("key", "value", "path"),
    [
        ("bank.pools.gpu.servers", 8, "bank.pools.gpu"),
        ("bank.pools.gpu", {"servers": 8}, "bank.pools.gpu"),
        ("bank.products.loan.pool", "core", "bank.products.loan"),
        ("journeys.sell.steps", [{"product": "pay"}], "journeys.sell"),
        ("partners.2.users", 10, "partners.2"),
        ("partners.2", {"name": "x"}, "partners.2"),
        ("journeys.buy.steps.2.product", "pay", "journeys.buy.steps.2"),
        ("gateway.limits.2.rate", 10.0, "gateway.limits.2"),
        ("profiles.mine.daily", [1.0] * 24, "profiles"),
    ],
)
def test_overrides_never_create_entries(rich: Scenario, key: str, value: Any, path: str) -> None:
    with pytest.raises(ScenarioError) as info:
        rich.with_overrides({key: value})
    err = info.value
    assert err.path == path
    assert path in str(err)
    assert "rich.toml" in str(err)


def test_override_never_creates_a_limit_where_the_file_has_none(minimal: Scenario) -> None:
    with pytest.raises(ScenarioError) as info:
        minimal.with_overrides({"gateway.limits.0.rate": 10.0})
    assert info.value.path == "gateway.limits"
    assert "never create" in info.value.reason


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (
            "partners",
            [
                {"name": "shop", "users": 1000, "sessions_per_user_day": 2.0, "journey": "buy"},
                {"name": "new", "users": 10, "sessions_per_user_day": 1.0, "journey": "buy"},
            ],
        ),
        ("bank.pools", {"core": {"servers": 4}, "gpu": {"servers": 2}}),
        ("gateway.limits", [{"algorithm": "concurrency", "limit": 5}]),
        ("gateway", {"limits": [{"algorithm": "concurrency", "limit": 5}]}),
    ],
    ids=["partners", "bank.pools", "gateway.limits", "gateway"],
)
def test_whole_collection_override_never_creates_entries(
    minimal: Scenario, key: str, value: Any
) -> None:
    with pytest.raises(ScenarioError):
        minimal.with_overrides({key: value})


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("bank.pools.core.servers.x", "bank.pools.core.servers.x"),
        ("partners.first.users", "partners.first"),
        ("run..horizon", "run..horizon"),
    ],
)
def test_malformed_override_paths(minimal: Scenario, key: str, path: str) -> None:
    with pytest.raises(ScenarioError) as info:
        minimal.with_overrides({key: 1})
    assert info.value.path == path
    assert "minimal.toml" in str(info.value)


# --------------------------------------------------------------------------------------------
# copies
# --------------------------------------------------------------------------------------------


def test_copies_name_partners_name_1_to_n(rich: Scenario) -> None:
    shops = [p for p in rich.spec.partners if p.name.startswith("shop")]
    assert [p.name for p in shops] == ["shop-1", "shop-2", "shop-3"]
    assert {dataclasses.replace(p, name="shop") for p in shops} == {
        dataclasses.replace(shops[0], name="shop")
    }


def test_copies_by_override(minimal: Scenario) -> None:
    changed = minimal.with_overrides({"partners.0.copies": 2})
    assert [p.name for p in changed.spec.partners] == ["shop-1", "shop-2"]


def test_copies_clash_with_a_named_partner(tmp_path: Path) -> None:
    text = minimal_toml(
        append='copies = 3\n\n[[partners]]\nname = "shop-2"\nusers = 10\n'
        'sessions_per_user_day = 1.0\njourney = "buy"\n'
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, text, "clash.toml"))
    err = info.value
    assert err.path == "partners.1.name"
    assert "duplicate" in err.reason
    assert "shop-2" in err.reason
    assert "clash.toml" in str(err)


# --------------------------------------------------------------------------------------------
# parse_override_value
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("64", 64),
        ("0.5", 0.5),
        ("-3", -3),
        ("1_000", 1000),
        ("true", True),
        ("false", False),
        ("[1, 2]", [1, 2]),
        ("[1,2]", [1, 2]),
        ('["a", "b"]', ["a", "b"]),
        ('{dist="constant", value="5ms"}', {"dist": "constant", "value": "5ms"}),
        ('{ dist = "exponential", mean = "1s" }', {"dist": "exponential", "mean": "1s"}),
        ('"quoted"', "quoted"),
        ("2026-03-03", dt.date(2026, 3, 3)),
        ("2d", "2d"),
        ("1h30m", "1h30m"),
        ("500ms", "500ms"),
        ("api", "api"),
        ("none", "none"),
        ("traditional", "traditional"),
        ("my shop", "my shop"),
    ],
)
def test_parse_override_value(text: str, expected: Any) -> None:
    value = parse_override_value(text)
    assert value == expected
    assert type(value) is type(expected)


def test_parsed_override_values_apply(minimal: Scenario) -> None:
    changed = minimal.with_overrides(
        {
            "bank.products.pay.service_time": parse_override_value(
                '{dist="constant", value="5ms"}'
            ),
            "run.horizon": parse_override_value("2d"),
            "partners.0.integration": parse_override_value("traditional"),
            "bank.pools.core.servers": parse_override_value("12"),
            "run.start": parse_override_value("2026-03-03"),
        }
    )
    spec = changed.spec
    assert spec.bank.products["pay"].service_time == Constant(0.005)
    assert spec.run.horizon_s == 172800.0
    assert spec.partners[0].integration == "traditional"
    assert spec.bank.pools["core"].servers == 12
    assert spec.run.start == dt.date(2026, 3, 3)


# --------------------------------------------------------------------------------------------
# Shipped names
# --------------------------------------------------------------------------------------------


@pytest.fixture
def shipped_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in shipped folder with ``alpha`` and ``beta``; the working directory is empty."""
    folder = tmp_path / "shipped"
    folder.mkdir()
    write(folder, 'description = "first"\n' + MINIMAL_TOML, "alpha.toml")
    write(folder, 'description = "second"\n' + MINIMAL_TOML, "beta.toml")
    monkeypatch.setattr(scenario_module, "_shipped_dir", lambda: folder)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return folder


def test_shipped_scenarios_lists_the_folder(shipped_dir: Path) -> None:
    assert shipped_scenarios() == {
        "alpha": shipped_dir / "alpha.toml",
        "beta": shipped_dir / "beta.toml",
    }


@pytest.mark.parametrize("name", ["alpha", "alpha.toml"])
def test_name_falls_back_to_the_shipped_folder(shipped_dir: Path, name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.source == str(shipped_dir / "alpha.toml")
    assert scenario.name == "alpha"
    assert scenario.description == "first"


def test_a_local_file_wins_over_a_shipped_name(shipped_dir: Path) -> None:
    write(Path.cwd(), 'description = "local"\n' + MINIMAL_TOML, "alpha.toml")
    assert load_scenario("alpha.toml").description == "local"


def test_a_directory_does_not_shadow_a_shipped_name(shipped_dir: Path) -> None:
    (Path.cwd() / "alpha").mkdir()
    assert load_scenario("alpha").description == "first"


def test_unknown_name_lists_the_shipped_ones(shipped_dir: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario("alpah")
    err = info.value
    message = str(err)
    assert "alpah" in message
    assert "alpha" in err.reason
    assert "beta" in err.reason
    assert "did you mean 'alpha'" in err.reason


def test_unknown_path_is_a_missing_file(shipped_dir: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario("sub/alpha.toml")
    assert "no such file" in info.value.reason
    assert "sub/alpha.toml" in str(info.value)


def test_shipped_scenarios_load_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = shipped_scenarios()
    if not shipped:
        pytest.skip("no scenario is shipped yet")
    monkeypatch.chdir(tmp_path)
    for name, path in shipped.items():
        scenario = load_scenario(name)
        assert scenario.source == str(path)
        assert scenario.spec.partners
