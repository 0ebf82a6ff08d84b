"""The house rules as import rules, checked on the source (no import needed).

- simpy is imported only in ``model/``;
- pandas and matplotlib are never imported at module level in ``spec/`` or ``model/``;
- ``spec/`` never imports ``model/``, ``analysis/`` or ``experiments/``; ``model/`` never
  imports ``analysis/`` or ``experiments/``;
- there are no import cycles between modules (module-level imports);
- ``import openbank_sim`` and ``openbank-sim --help`` load neither pandas nor matplotlib.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "openbank_sim"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(absolute module imported, at module level?) for every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top = {id(n) for n in tree.body}
    # imports under `if TYPE_CHECKING:` at module level are not executed
    type_only = set()
    for n in tree.body:
        if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test):
            type_only.update(id(x) for x in ast.walk(n))
    out = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        level = id(node) in top
        if isinstance(node, ast.Import):
            out += [(a.name, level) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            out.append((mod, level))
            # `from . import x` imports the submodule x
            for a in node.names:
                out.append((f"{mod}.{a.name}", level))
    return out


FILES = sorted(PKG.rglob("*.py"))


def _layer(path: Path) -> str:
    rel = path.relative_to(PKG).parts
    return rel[0] if len(rel) > 1 else ""


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PKG)))
def test_layer_rules(path: Path) -> None:
    layer = _layer(path)
    for mod, module_level in _imports(path):
        root = mod.split(".")[0]
        if root == "simpy":
            assert layer == "model", f"{path.name} imports simpy outside model/"
        if root in ("pandas", "matplotlib") and layer in ("spec", "model"):
            assert not module_level, f"{path.name} imports {root} at module level in {layer}/"
        if layer == "spec":
            for other in ("model", "analysis", "experiments", "plots"):
                assert not mod.startswith(f"openbank_sim.{other}"), f"spec/{path.name} -> {mod}"
        if layer == "model":
            for other in ("analysis", "experiments", "plots"):
                assert not mod.startswith(f"openbank_sim.{other}"), f"model/{path.name} -> {mod}"


def test_no_import_cycles() -> None:
    """Module-level and function-level imports alike; a package's ``__init__`` re-exporting
    its own submodules is not a cycle."""
    names = {_module_name(p): p for p in FILES}
    graph = {
        n: {
            m
            for m, _top in _imports(p)
            if m in names and m != n and not (p.name == "__init__.py" and m.startswith(n + "."))
        }
        for n, p in names.items()
    }
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*stack[stack.index(m) :], m]))
            if m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)


@pytest.mark.parametrize(
    "code",
    [
        "import openbank_sim",
        "import sys; sys.argv = ['openbank-sim', '--help']\n"
        "from openbank_sim.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass",
    ],
    ids=["import", "cli-help"],
)
def test_cheap_imports(code: str) -> None:
    probe = (
        code
        + "\nimport sys\nprint(sorted(m for m in ('pandas', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[]", out
