"""``docs/scenario-format.md`` is kept true to the code: every key the schema accepts is
documented there, and every key the document shows (a backticked ``key`` or ``key =``) is one
the schema accepts, an allowed value, or one of the few words listed below."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "scenario-format.md"
SOURCES = [
    ROOT / "openbank_sim" / "spec" / "schema.py",
    ROOT / "openbank_sim" / "spec" / "money.py",
]
# backticked words of the document that are not table keys
NOT_KEYS = {
    "dist",  # a distribution's kind (openbank_sim.spec.distributions)
    "cv",  # a distribution parameter
    "mo",  # duration units
    "y",
    "_per_day",  # suffixes of rate keys
    "_per_month",
    "_per_year",
}


def _tuples(trees: list[ast.Module]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        out[target.id] = [
                            e.value
                            for e in node.value.elts
                            if isinstance(e, ast.Constant) and isinstance(e.value, str)
                        ]
    return out


def _strings(node: ast.AST, names: dict[str, list[str]]) -> list[str]:
    if isinstance(node, ast.Tuple):
        return [e.value for e in node.elts if isinstance(e, ast.Constant)]
    if isinstance(node, ast.Name):
        return names.get(node.id, [])
    if isinstance(node, ast.BinOp):
        return _strings(node.left, names) + _strings(node.right, names)
    return []


def schema_keys() -> set[str]:
    """Every key passed as allowed to ``check_keys`` in the schema's sources."""
    trees = [ast.parse(p.read_text(encoding="utf-8")) for p in SOURCES]
    names = _tuples(trees)
    keys: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "check_keys":
                keys.update(_strings(node.args[1], names))
                for kw in node.keywords:
                    if kw.arg == "later":
                        keys.update(_strings(kw.value, names))
    return keys


def profile_keys() -> set[str]:
    """The keys of a ``[profiles.<name>]`` table and of its events (parsed in profiles.py)."""
    from openbank_sim.spec import profiles

    return {*profiles._PROFILE_KEYS, *profiles._EVENT_KEYS}


def allowed_values() -> set[str]:
    from openbank_sim.spec import money, schema, types

    out: set[str] = set()
    for mod in (types, schema, money):
        for name, value in vars(mod).items():
            if name.isupper() and isinstance(value, tuple):
                out.update(v for v in value if isinstance(v, str))
    return out


def test_the_schema_has_keys() -> None:
    keys = schema_keys()
    assert {"servers", "service_time", "token_ttl", "engineers", "extends"} <= keys
    assert len(keys) > 100


def test_every_accepted_key_is_documented() -> None:
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", DOC.read_text(encoding="utf-8")))
    missing = sorted(schema_keys() - words)
    assert not missing, f"keys the schema accepts but {DOC.name} does not document: {missing}"


def test_every_documented_key_is_accepted() -> None:
    shown = set(re.findall(r"`([a-z_][a-z0-9_]*)\s*(?:=|`)", DOC.read_text(encoding="utf-8")))
    unknown = sorted(shown - schema_keys() - profile_keys() - allowed_values() - NOT_KEYS)
    assert not unknown, f"{DOC.name} shows keys the schema does not accept: {unknown}"
