"""Unit tests of scenario inheritance (``extends``).

Contract (docs/scenario-format.md, the docstring of :func:`openbank_sim.load_scenario`): a file may
say ``extends = "NAME"`` (a shipped scenario) or a path relative to its own directory; the base
is loaded first (chains allowed), then the file is merged over it: tables merge key by key,
arrays, scalars and distributions replace whole; the merged table, without ``extends``, is
validated once and its errors name the file that was loaded. ``name`` is never inherited. A
missing target, a non-string ``extends`` or a cycle is one :class:`ScenarioError` at path
``extends`` of the file that says it. Every file here is written to ``tmp_path``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from minimal_scenario import minimal_toml

from openbank_sim import Scenario, ScenarioError, load_scenario
from openbank_sim.cli import main
from openbank_sim.spec.distributions import Constant
from openbank_sim.spec.scenario import shipped_scenarios

# A complete base: the minimal scenario with a name, a description and a run; a queue limit on
# pool core and a second pool, risk; a second product, check, on risk; two gateway limits (after
# the products, so that the text before them is a base with pools and products only); a
# redirect drop-off and a check before the payment; a second partner, clinic.
CHECK_AND_LIMITS = """
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
"""

BASE = minimal_toml(
    ("servers = 4\n", "servers = 4\nqueue_limit = 50\n\n[bank.pools.risk]\nservers = 2\n"),
    ("[bank.products.pay]\n", '[bank.products.pay]\nkind = "payment"\n'),
    ('mean = "100ms" }\n', 'mean = "100ms" }\n' + CHECK_AND_LIMITS),
    (
        'steps = [{ product = "pay" }]\n',
        "redirect_dropoff = 0.1\n"
        'steps = [{ product = "check", probability = 0.5 }, { product = "pay" }]\n',
    ),
    prepend='name = "base"\ndescription = "the base scenario"\n\n'
    '[run]\nhorizon = "1h"\nwarmup = "1m"\nseed = 7\n\n',
    append='\n[[partners]]\nname = "clinic"\nusers = 500\nsessions_per_user_day = 1.0\n'
    'journey = "buy"\n',
)


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (making its folder) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def base_file(tmp_path: Path) -> Path:
    """The base scenario at ``tmp_path/base.toml``."""
    return write(tmp_path / "base.toml", BASE)


def load_error(path: Path | str, root: Path | None = None) -> ScenarioError:
    """The one error :func:`load_scenario` raises for ``path`` (with ``root``, if given)."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, root=root)
    err = info.value
    assert type(err) is ScenarioError
    assert err.__cause__ is None
    assert "\n" not in str(err)
    return err


# --------------------------------------------------------------------------------------------
# Merge semantics
# --------------------------------------------------------------------------------------------


def test_nested_tables_merge_key_by_key(tmp_path: Path, base_file: Path) -> None:
    child = write(
        tmp_path / "child.toml",
        'extends = "base.toml"\n\n[bank.pools.core]\nservers = 9\n\n'
        "[bank.pools.extra]\nservers = 1\n\n[run]\nseed = 11\n",
    )
    spec = load_scenario(child).spec
    core = spec.bank.pools["core"]
    assert core.servers == 9
    assert core.queue_limit == 50  # kept from the base
    assert spec.bank.pools["risk"].servers == 2  # the base's other pool is kept
    assert spec.bank.pools["extra"].servers == 1  # the child may add a pool
    assert spec.run.seed == 11
    assert spec.run.horizon_s == 3600.0  # siblings of the replaced scalar are kept
    assert spec.run.warmup_s == 60.0
    assert set(spec.bank.products) == {"pay", "check"}


def test_partner_array_replaces_the_base_partners(tmp_path: Path, base_file: Path) -> None:
    child = write(
        tmp_path / "child.toml",
        'extends = "base.toml"\n\n[[partners]]\nname = "school"\nusers = 20\n'
        'sessions_per_user_day = 1.0\njourney = "buy"\n',
    )
    spec = load_scenario(child).spec
    assert [p.name for p in spec.partners] == ["school"]
    assert spec.partners[0].users == 20


def test_limit_array_replaces_the_base_limits(tmp_path: Path, base_file: Path) -> None:
    child = write(
        tmp_path / "child.toml",
        'extends = "base.toml"\n\n[[gateway.limits]]\nname = "only"\n'
        'algorithm = "concurrency"\nlimit = 8\n',
    )
    raw = load_scenario(child).as_dict()
    assert raw["gateway"]["limits"] == [{"name": "only", "algorithm": "concurrency", "limit": 8}]


def test_journey_steps_replace_and_other_journey_keys_are_kept(
    tmp_path: Path, base_file: Path
) -> None:
    child = write(
        tmp_path / "child.toml",
        'extends = "base.toml"\n\n[journeys.buy]\nsteps = [{ product = "pay" }]\n',
    )
    raw = load_scenario(child).as_dict()
    assert raw["journeys"]["buy"]["steps"] == [{"product": "pay"}]
    assert raw["journeys"]["buy"]["redirect_dropoff"] == 0.1


def test_a_distribution_replaces_whole(tmp_path: Path, base_file: Path) -> None:
    child = write(
        tmp_path / "child.toml",
        'extends = "base.toml"\n\n[bank.products.pay]\n'
        'service_time = { dist = "constant", value = "5ms" }\n',
    )
    scenario = load_scenario(child)
    pay = scenario.as_dict()["bank"]["products"]["pay"]
    assert pay["service_time"] == {"dist": "constant", "value": "5ms"}  # no stale "mean"
    assert pay["kind"] == "payment" and pay["pool"] == "core"
    assert isinstance(scenario.spec.bank.products["pay"].service_time, Constant)


def test_a_table_without_dist_tweaks_the_base_distribution(tmp_path: Path, base_file: Path) -> None:
    child = write(
        tmp_path / "child.toml",
        'extends = "base.toml"\n\n[bank.products.pay]\nservice_time = { mean = "200ms" }\n',
    )
    pay = load_scenario(child).as_dict()["bank"]["products"]["pay"]
    assert pay["service_time"] == {"dist": "exponential", "mean": "200ms"}


def test_extends_is_dropped_and_the_chain_recorded(tmp_path: Path, base_file: Path) -> None:
    child = write(tmp_path / "child.toml", 'extends = "base.toml"\n')
    scenario = load_scenario(child)
    assert "extends" not in scenario.as_dict()
    assert "extends" not in json.loads(scenario.to_json())
    assert [Path(p).resolve() for p in scenario.extends_chain] == [base_file.resolve()]
    assert scenario.source == str(child)
    assert load_scenario(base_file).extends_chain == ()


def test_a_base_need_not_be_valid_alone(tmp_path: Path) -> None:
    # A shared "library" with pools and products but no journeys or partners.
    library = BASE[: BASE.index("[[gateway.limits]]")]
    write(tmp_path / "library.toml", library)
    child = write(
        tmp_path / "child.toml",
        'extends = "library.toml"\n\n[journeys.pay_only]\nsteps = [{ product = "pay" }]\n\n'
        '[[partners]]\nname = "shop"\nusers = 10\nsessions_per_user_day = 1.0\n'
        'journey = "pay_only"\n',
    )
    spec = load_scenario(child).spec
    assert list(spec.journeys) == ["pay_only"]
    assert spec.bank.pools["core"].queue_limit == 50


# --------------------------------------------------------------------------------------------
# Overrides and immutability
# --------------------------------------------------------------------------------------------


def test_overrides_apply_to_the_merged_table(tmp_path: Path, base_file: Path) -> None:
    child = write(tmp_path / "child.toml", 'extends = "base.toml"\n\n[run]\nseed = 3\n')
    scenario = load_scenario(
        child, overrides={"bank.pools.core.queue_limit": 5, "partners.1.users": 7}
    )
    assert scenario.spec.bank.pools["core"].queue_limit == 5
    assert scenario.spec.partners[1].users == 7
    assert scenario.spec.run.seed == 3


def test_with_overrides_keeps_the_chain(tmp_path: Path, base_file: Path) -> None:
    child = write(tmp_path / "child.toml", 'extends = "base.toml"\n')
    scenario = load_scenario(child)
    changed = scenario.with_overrides({"bank.pools.core.servers": 6})
    assert changed.extends_chain == scenario.extends_chain != ()
    assert changed.spec.bank.pools["core"].servers == 6
    with pytest.raises(AttributeError):
        scenario._chain = ()  # type: ignore[misc]


def test_an_override_cannot_add_extends(tmp_path: Path, base_file: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(base_file).with_overrides({"extends": "base.toml"})
    assert info.value.path == "extends"


# --------------------------------------------------------------------------------------------
# Where the base comes from
# --------------------------------------------------------------------------------------------


def test_a_shipped_scenario_as_base(tmp_path: Path) -> None:
    shipped = shipped_scenarios()
    if "ecommerce" not in shipped:
        pytest.skip("the shipped ecommerce scenario is missing")
    child = write(
        tmp_path / "short_shop.toml",
        'extends = "ecommerce"\n\n[run]\nhorizon = "10m"\nwarmup = "0s"\n',
    )
    scenario = load_scenario(child)
    original = load_scenario("ecommerce")
    assert scenario.spec.run.horizon_s == 600.0
    assert scenario.spec.run.warmup_s == 0.0
    assert scenario.spec.run.start == original.spec.run.start  # inherited
    assert scenario.spec.run.seed == original.spec.run.seed
    assert [p.name for p in scenario.spec.partners] == [p.name for p in original.spec.partners]
    assert scenario.name == "short_shop"
    assert scenario.extends_chain == (str(shipped["ecommerce"]),)


def test_a_local_file_wins_over_a_shipped_name(tmp_path: Path) -> None:
    if "ecommerce" not in shipped_scenarios():
        pytest.skip("the shipped ecommerce scenario is missing")
    write(tmp_path / "ecommerce.toml", BASE)
    child = write(tmp_path / "child.toml", 'extends = "ecommerce.toml"\n')
    assert [p.name for p in load_scenario(child).spec.partners] == ["shop", "clinic"]


def test_relative_path_from_another_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "common" / "base.toml", BASE)
    child = write(
        tmp_path / "project" / "child.toml",
        'extends = "../common/base.toml"\n\n[bank.pools.core]\nservers = 5\n',
    )
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    # ../common is outside project/, the folder tree of child.toml: root widens the tree
    for given in (child, Path("../../project/child.toml"), str(child)):
        scenario = load_scenario(given, root=tmp_path)
        assert scenario.spec.bank.pools["core"].servers == 5
        assert scenario.spec.bank.pools["core"].queue_limit == 50
        chain = [Path(p).resolve() for p in scenario.extends_chain]
        assert chain == [(tmp_path / "common" / "base.toml").resolve()]


def test_a_chain_of_three_files(tmp_path: Path, base_file: Path) -> None:
    middle = write(
        tmp_path / "mid" / "middle.toml",
        'extends = "../base.toml"\nname = "middle"\n\n[bank.pools.core]\nservers = 6\n\n'
        "[bank.pools.risk]\nservers = 3\n",
    )
    top = write(
        tmp_path / "top" / "top.toml",
        'extends = "../mid/middle.toml"\n\n[bank.pools.core]\nservers = 7\n',
    )
    scenario = load_scenario(top, root=tmp_path)  # mid/ and base.toml are outside top/
    pools = scenario.spec.bank.pools
    assert pools["core"].servers == 7  # the top file wins
    assert pools["risk"].servers == 3  # the middle file wins over the base
    assert pools["core"].queue_limit == 50  # from the base, through both
    chain = [Path(p).resolve() for p in scenario.extends_chain]
    assert chain == [middle.resolve(), base_file.resolve()]  # the outermost base last
    assert scenario.name == "top"  # neither "middle" nor "base"


# --------------------------------------------------------------------------------------------
# Name rule
# --------------------------------------------------------------------------------------------


def test_name_is_the_child_stem_not_the_base_name(tmp_path: Path, base_file: Path) -> None:
    child = write(tmp_path / "my_variant.toml", 'extends = "base.toml"\n')
    scenario = load_scenario(child)
    assert scenario.name == "my_variant" == scenario.spec.name
    assert "name" not in scenario.as_dict()
    assert scenario.description == "the base scenario"  # other top-level keys are inherited


def test_name_set_by_the_child_is_kept(tmp_path: Path, base_file: Path) -> None:
    child = write(tmp_path / "my_variant.toml", 'extends = "base.toml"\nname = "variant"\n')
    assert load_scenario(child).name == "variant"


def test_rebuilding_from_the_table_gives_the_same_name(tmp_path: Path, base_file: Path) -> None:
    child = write(tmp_path / "my_variant.toml", 'extends = "base.toml"\n')
    scenario = load_scenario(child)
    again = Scenario(json.loads(scenario.to_json()), scenario.source)
    assert again.name == "my_variant"
    assert again == scenario


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def test_validation_errors_name_the_loaded_file(tmp_path: Path, base_file: Path) -> None:
    child = write(
        tmp_path / "child.toml", 'extends = "base.toml"\n\n[bank.pools.core]\nservers = 0\n'
    )
    err = load_error(child)
    assert err.file == str(child)
    assert err.path == "bank.pools.core.servers"


def test_a_bad_base_value_is_reported_against_the_loaded_file(tmp_path: Path) -> None:
    write(tmp_path / "base.toml", BASE.replace("queue_limit = 50", "queue_limit = -1"))
    child = write(tmp_path / "child.toml", 'extends = "base.toml"\n')
    err = load_error(child)
    assert err.file == str(child)
    assert err.path == "bank.pools.core.queue_limit"


def test_a_base_that_is_not_toml_names_the_base(tmp_path: Path) -> None:
    base = write(tmp_path / "base.toml", "[bank\n")
    child = write(tmp_path / "child.toml", 'extends = "base.toml"\n')
    err = load_error(child)
    assert err.file is not None and Path(err.file).resolve() == base.resolve()
    assert "not valid TOML" in err.reason


@pytest.mark.parametrize(
    ("files", "bad_file", "chain"),
    [
        ({"a.toml": "a.toml"}, "a.toml", "a.toml -> a.toml"),
        ({"a.toml": "./a.toml"}, "a.toml", "a.toml -> a.toml"),
        ({"a.toml": "b.toml", "b.toml": "a.toml"}, "b.toml", "a.toml -> b.toml -> a.toml"),
        (
            {"a.toml": "b.toml", "b.toml": "c.toml", "c.toml": "a.toml"},
            "c.toml",
            "a.toml -> b.toml -> c.toml -> a.toml",
        ),
        (
            {"a.toml": "b.toml", "b.toml": "c.toml", "c.toml": "b.toml"},
            "c.toml",
            "b.toml -> c.toml -> b.toml",
        ),
    ],
    ids=["self", "self-dot", "two-files", "three-files", "loop-below-the-top"],
)
def test_cycles(tmp_path: Path, files: dict[str, str], bad_file: str, chain: str) -> None:
    for name, target in files.items():
        write(tmp_path / name, f'extends = "{target}"\n')
    err = load_error(tmp_path / "a.toml")
    assert err.path == "extends"
    assert err.file == str(tmp_path / bad_file)
    assert "cycle" in err.reason
    assert chain in err.reason


def test_missing_shipped_name(tmp_path: Path) -> None:
    child = write(tmp_path / "child.toml", 'extends = "ecomerce"\n')
    err = load_error(child)
    assert err.path == "extends"
    assert err.file == str(child)
    assert err.value == "ecomerce"
    assert "no such file" in err.reason
    for name in shipped_scenarios():
        assert name in err.reason
    if "ecommerce" in shipped_scenarios():
        assert "did you mean 'ecommerce'?" in err.reason


def test_missing_relative_file_suggests_a_neighbour(tmp_path: Path) -> None:
    write(tmp_path / "common" / "base.toml", BASE)
    child = write(tmp_path / "project" / "child.toml", 'extends = "../common/bse.toml"\n')
    err = load_error(child, root=tmp_path)
    assert err.path == "extends"
    assert err.file == str(child)
    assert "no such file" in err.reason
    assert "did you mean '../common/base.toml'?" in err.reason


def test_missing_target_in_a_base_names_the_base(tmp_path: Path) -> None:
    middle = write(tmp_path / "middle.toml", 'extends = "nowhere.toml"\n')
    child = write(tmp_path / "child.toml", 'extends = "middle.toml"\n')
    err = load_error(child)
    assert err.file == str(middle)
    assert err.path == "extends"


def test_a_directory_target(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    child = write(tmp_path / "child.toml", 'extends = "folder"\n')
    err = load_error(child)
    assert err.path == "extends"
    assert "directory" in err.reason


@pytest.mark.parametrize(
    "value", ["5", "true", '["base.toml"]', '{ file = "base.toml" }', '""', '"  "']
)
def test_extends_must_be_a_non_empty_string(tmp_path: Path, base_file: Path, value: str) -> None:
    child = write(tmp_path / "child.toml", f"extends = {value}\n")
    err = load_error(child)
    assert err.path == "extends"
    assert err.file == str(child)
    assert "string" in err.reason or "empty" in err.reason


def test_scenario_from_a_dict_refuses_extends(tmp_path: Path, base_file: Path) -> None:
    raw = load_scenario(base_file).as_dict()
    raw["extends"] = "ecommerce"
    with pytest.raises(ScenarioError) as info:
        Scenario(raw)
    err = info.value
    assert err.path == "extends"
    assert err.file == "<scenario>"
    assert "load_scenario" in err.reason
    assert "loading a file" in err.reason


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def test_cli_validate_and_run_a_child(
    tmp_path: Path, base_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    child = write(
        tmp_path / "child.toml", 'extends = "base.toml"\n\n[bank.pools.core]\nservers = 8\n'
    )
    assert main(["validate", str(child)]) == 0
    out = capsys.readouterr().out
    assert "ok" in out and "child" in out and "2 partner(s)" in out

    assert main(["run", str(child), "--set", "run.horizon=10m", "--json"]) == 0
    kpis = json.loads(capsys.readouterr().out)
    assert isinstance(kpis, dict) and kpis


@pytest.mark.parametrize("command", ["validate", "run"])
def test_cli_cycle_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    write(tmp_path / "a.toml", 'extends = "b.toml"\n')
    write(tmp_path / "b.toml", 'extends = "a.toml"\n')
    code = main([command, str(tmp_path / "a.toml")])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("openbank-sim: error:")
    assert "a.toml -> b.toml -> a.toml" in lines[0]
