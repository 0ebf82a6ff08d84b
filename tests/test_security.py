"""What the tool trusts, claim by claim (README, "What the tool trusts").

1. Scenario files are data: read by ``tomllib`` and validated; nothing in them (or in a
   ``--set`` value) is evaluated, and no module of the package can evaluate or unpickle.
2. ``extends`` reads only inside the scenario's folder tree (or a shipped scenario by name):
   an absolute path, ``../`` out of the tree or a link out of it is a ``ScenarioError`` at
   ``extends``, refused before the file outside is read.
3. Results folders and sweep stores are read with JSON, CSV and Parquet readers only, and only
   their own files inside the folder: a manifest pointing at ``/etc/hostname`` is refused; a
   run file holding anything but JSON is set aside, never loaded.
"""

from __future__ import annotations

import ast
import json
import pickle
from pathlib import Path

import pytest
from minimal_scenario import minimal_toml

from openbank_sim import Results, Scenario, ScenarioError, load_scenario, simulate
from openbank_sim.analysis.readback import ResultsFolderError
from openbank_sim.cli import main
from openbank_sim.spec.scenario import shipped_scenarios

PKG = Path(__file__).resolve().parents[1] / "openbank_sim"
SOURCES = sorted(PKG.rglob("*.py"))

BASE = minimal_toml(prepend='[run]\nhorizon = "10m"\nwarmup = "1m"\ntime_bin = "5m"\n\n')

# -- 1. scenario files are data ------------------------------------------------------------------

# builtins that turn text into code, and modules that turn bytes into objects
FORBIDDEN_BUILTINS = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_MODULES = {"pickle", "cPickle", "marshal", "shelve", "dill", "cloudpickle", "yaml"}
# `load` / `loads` are called on these only: the JSON and TOML readers, and Results.load
# toml_text is the project's guarded front of tomllib (size, depth and digit limits first);
# test_scenario_files_are_read_by_tomllib_only checks that it parses with tomllib alone
SAFE_LOADERS = {"json", "tomllib", "Results", "toml_text"}


def _calls(tree: ast.AST) -> list[tuple[str, str | None, int]]:
    """(called name, the module or object it is called on, line) for every call."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                out.append((func.id, None, node.lineno))
            elif isinstance(func, ast.Attribute):
                owner = func.value.id if isinstance(func.value, ast.Name) else None
                out.append((func.attr, owner, node.lineno))
    return out


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PKG)))
def test_no_module_can_evaluate_or_unpickle(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert alias.name.split(".")[0] not in FORBIDDEN_MODULES, (path, alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.module.split(".")[0] not in FORBIDDEN_MODULES, (path, node.module)
        elif isinstance(node, ast.keyword) and node.arg == "allow_pickle":
            raise AssertionError(f"{path}:{node.value.lineno}: allow_pickle")
    for name, owner, line in _calls(tree):
        if name in ("load", "loads"):
            assert owner in SAFE_LOADERS, f"{path}:{line}: {owner}.{name}"
        elif owner is None:
            assert name not in FORBIDDEN_BUILTINS, f"{path}:{line}: {name}"
        else:
            assert name != "read_pickle", f"{path}:{line}: {owner}.{name}"


def test_scenario_files_are_read_by_tomllib_only() -> None:
    """The one place a scenario file is opened parses it with tomllib (through toml_text,
    whose only parser is ``tomllib.loads``)."""
    source = (PKG / "spec" / "scenario.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    opened = [(n, o) for n, o, _ in _calls(tree) if n in ("open", "read_text", "read_bytes")]
    assert len(opened) == 1
    assert "toml_text.loads(text" in source
    front = ast.parse((PKG / "spec" / "toml_text.py").read_text(encoding="utf-8"))
    parsers = {(o, n) for n, o, _ in _calls(front) if n in ("load", "loads")}
    assert parsers == {("tomllib", "loads")}


def test_code_in_a_scenario_or_an_override_stays_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    payload = "__import__('pathlib').Path('PWNED').touch()"
    path = tmp_path / "code.toml"
    path.write_text(f"description = {json.dumps(payload)}\n" + BASE, encoding="utf-8")
    assert load_scenario(path).description == payload
    assert main(["validate", str(path), "--set", f"description={payload}"]) == 0
    assert main(["validate", str(path), "--set", f"bank.pools.core.servers={payload}"]) == 2
    assert "must be" in capsys.readouterr().err
    path.write_text(f"servers_expr = {json.dumps(payload)}\n" + BASE, encoding="utf-8")
    with pytest.raises(ScenarioError, match="servers_expr"):
        load_scenario(path)
    assert not (tmp_path / "PWNED").exists()


# -- 2. extends stays in the scenario's folder tree -------------------------------------------


def _extends_error(child: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(child)
    err = info.value
    assert err.path == "extends"
    assert err.file == str(child)
    assert "\n" not in str(err)
    return err


def test_extends_climbing_out_of_the_tree_is_refused(tmp_path: Path) -> None:
    child = tmp_path / "project" / "child.toml"
    child.parent.mkdir()
    child.write_text('extends = "../../etc/passwd"\n', encoding="utf-8")
    err = _extends_error(child)
    assert err.value == "../../etc/passwd"
    assert "outside this scenario's folder tree" in err.reason


def test_extends_to_a_readable_toml_file_outside_is_refused_unread(tmp_path: Path) -> None:
    """A valid scenario one folder up is refused, not merged (its values never show)."""
    (tmp_path / "secret.toml").write_text(BASE.replace("servers = 4", "servers = 77"))
    child = tmp_path / "project" / "child.toml"
    child.parent.mkdir()
    child.write_text('extends = "../secret.toml"\n', encoding="utf-8")
    err = _extends_error(child)
    assert "outside" in err.reason and "77" not in str(err)


@pytest.mark.parametrize("target", ["/etc/hostname", "/etc/passwd", "{tmp}/base.toml"])
def test_an_absolute_extends_is_refused(tmp_path: Path, target: str) -> None:
    (tmp_path / "base.toml").write_text(BASE, encoding="utf-8")
    child = tmp_path / "child.toml"
    child.write_text(f'extends = "{target.format(tmp=tmp_path)}"\n', encoding="utf-8")
    err = _extends_error(child)
    assert "absolute path" in err.reason


def test_a_link_out_of_the_tree_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "base.toml").write_text(BASE, encoding="utf-8")
    project = tmp_path / "project"
    project.mkdir()
    (project / "base.toml").symlink_to(outside / "base.toml")
    child = project / "child.toml"
    child.write_text('extends = "base.toml"\n', encoding="utf-8")
    assert "outside" in _extends_error(child).reason


def test_extends_inside_the_tree_and_shipped_names_still_work(tmp_path: Path) -> None:
    (tmp_path / "base.toml").write_text(BASE, encoding="utf-8")
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "middle.toml").write_text(
        'extends = "../base.toml"\n\n[bank.pools.core]\nservers = 6\n', encoding="utf-8"
    )
    child = tmp_path / "child.toml"
    child.write_text('extends = "common/middle.toml"\n', encoding="utf-8")
    assert load_scenario(child).spec.bank.pools["core"].servers == 6
    shipped = tmp_path / "shipped.toml"
    name = next(iter(shipped_scenarios()))
    shipped.write_text(f'extends = "{name}"\n', encoding="utf-8")
    assert load_scenario(shipped).extends_chain == (str(shipped_scenarios()[name]),)


# -- 3. results folders and sweep stores: own files, safe readers -------------------------------


@pytest.fixture(scope="module")
def results() -> Results:
    import tomllib

    return simulate(Scenario(tomllib.loads(BASE)), seed=1)


@pytest.mark.parametrize("target", ["/etc/hostname", "../other/by_pool.parquet"])
def test_a_manifest_pointing_outside_the_folder_is_refused(
    results: Results, tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    folder = results.save(tmp_path / "run")
    results.save(tmp_path / "other")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["tables"]["by_pool"] = target
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ResultsFolderError, match=r"tables\.by_pool"):
        Results.load(folder)
    assert main(["report", str(folder)]) == 2
    assert "tables.by_pool" in capsys.readouterr().err


def test_a_pickle_in_place_of_a_table_is_never_unpickled(results: Results, tmp_path: Path) -> None:
    folder = results.save(tmp_path / "run")
    (folder / "by_pool.parquet").write_bytes(pickle.dumps({"not": "a table"}))
    with pytest.raises(ResultsFolderError, match="not a readable Parquet file"):
        Results.load(folder)


def test_a_run_file_that_is_not_json_is_set_aside(tmp_path: Path) -> None:
    import tomllib

    from openbank_sim.experiments import sweep

    scenario = Scenario(tomllib.loads(BASE))
    store = tmp_path / "store"
    vary = {"bank.pools.core.servers": [2, 4]}
    sweep(scenario, vary, executor="serial", store=store, quiet=True)
    (store / "runs" / "r1.json").write_bytes(pickle.dumps({"run_id": 1}))
    res = sweep(scenario, vary, executor="serial", store=store, resume=True, quiet=True)
    assert res.set_aside and "not valid JSON" in res.set_aside[0]
    assert (store / "runs" / "corrupt" / "r1.json").exists()
    assert res.table["run_id"].tolist() == [0, 1]
