"""Every notebook runs end to end in QUICK mode, and is committed without outputs.

QUICK mode (``OPENBANK_SIM_QUICK=1``, or papermill's ``-p QUICK True``) shrinks each notebook's
runs (shorter horizons, fewer replications and sweep points) without changing what it computes or
concludes from its run. The cell tagged ``parameters`` holds plain values only, so papermill's
injected cell (which follows it) overrides them before anything is derived from them.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
FASTEST = "01_quickstart.ipynb"  # the quickest in QUICK mode (about 15 s): the papermill run


def _parameters_cell(nb: nbformat.NotebookNode) -> int:
    """The index of the cell tagged ``parameters``."""
    (i,) = [
        k for k, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])
    ]
    return i


def _stdout(nb: nbformat.NotebookNode) -> str:
    """Everything the executed notebook's code cells printed."""
    return "".join(
        o.get("text", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stdout"
    )


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{path.name}: a code cell has outputs"
            assert cell.get("execution_count") is None, f"{path.name}: execution counts kept"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_has_a_parameters_cell_with_quick(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters' (papermill)"
    assert "QUICK" in tagged[0].source
    assert "OPENBANK_SIM_QUICK" in tagged[0].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_holds_only_literals(path: Path) -> None:
    """Derived settings live after the parameters cell, so ``papermill -p QUICK True`` reaches
    them; the one computed default allowed is QUICK's, read from OPENBANK_SIM_QUICK."""
    nb = nbformat.read(path, as_version=4)
    i = _parameters_cell(nb)
    for node in ast.parse(nb.cells[i].source).body:
        if isinstance(node, ast.Import) and [a.name for a in node.names] == ["os"]:
            continue
        assert isinstance(node, ast.Assign), f"{path.name}: not an assignment: {ast.unparse(node)}"
        names = [ast.unparse(t) for t in node.targets]
        if names == ["QUICK"]:
            assert "OPENBANK_SIM_QUICK" in ast.unparse(node.value)
            continue
        try:
            ast.literal_eval(node.value)
        except ValueError:
            pytest.fail(f"{path.name}: {names[0]} is computed in the parameters cell")
    following = next(c for c in nb.cells[i + 1 :] if c.cell_type == "code")
    assert "QUICK mode" in following.source, f"{path.name}: the next cell states the mode"


@pytest.mark.slow
def test_papermill_quick_parameter(tmp_path: Path) -> None:
    """``papermill -p QUICK True`` alone (no environment variable) gives the QUICK run."""
    path = next(p for p in NOTEBOOKS if p.name == FASTEST)
    out = tmp_path / path.name
    env = {k: v for k, v in os.environ.items() if k != "OPENBANK_SIM_QUICK"}
    env["MPLBACKEND"] = "Agg"
    command = [sys.executable, "-m", "papermill", str(path), str(out), "-p", "QUICK", "True"]
    command += ["-k", "python3", "--cwd", str(tmp_path), "--no-progress-bar"]
    done = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    nb = nbformat.read(out, as_version=4)
    injected = nb.cells[_parameters_cell(nb) + 1]
    assert "injected-parameters" in injected.metadata.get("tags", [])
    printed = _stdout(nb)
    assert "QUICK mode on: horizon 12h" in printed, printed[:2000]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_in_quick_mode(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENBANK_SIM_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
