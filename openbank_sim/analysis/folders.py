"""Results folders on disk: which files are this project's, and how they are replaced without
touching anyone else's.

**What counts as this project's own output.** A folder is a *results folder* when its
``manifest.json`` is a JSON object with ``"kind": "openbank_sim.run"`` (folders written before
that marker are recognised by the provenance keys ``tables``, ``scenario`` and
``package_version`` without a ``kind``). Inside a results folder these names are the project's:

* ``manifest.json``, ``summary.csv``, ``histograms.json``;
* the table files the manifest lists, each named ``NAME.parquet`` or ``NAME.csv`` after its
  table;
* ``latency_throughput.png`` (``openbank-sim run --out``);
* ``figures/``, holding only the PNGs ``openbank-sim report`` draws (``latency_throughput.png``,
  ``sweep_effects.png``, ``sensitivity_KPI.png``).

Everything else, and everything in a folder that is not a results folder, is the user's.

Two more kinds of folder are this project's own, each only for writing the same kind again:

* a *comparison folder* (``openbank-sim compare --out``), ``"kind": "openbank_sim.comparison"``:
  ``manifest.json``, ``comparison.csv``, ``comparison.json``, ``intervals.csv``, ``runs.csv``;
* a *report folder* (``openbank-sim report --out``), ``"kind": "openbank_sim.report"``:
  ``manifest.json``, ``summary.csv``, ``sensitivity_KPI.csv`` and ``figures/`` as above;
* an *edge folder* (``openbank-sim edge --out``), ``"kind": "openbank_sim.edge"``:
  ``manifest.json``, ``edge.csv``, ``edge_summary.csv``, ``hysteresis.csv``, ``edge.json`` and
  ``figures/edge_curve.png``.

A folder of one kind is not this project's output for writing another kind (a report written
over the results folder it reads would destroy them): it is refused like a folder of the
user's, and even with ``overwrite`` its files are never replaced.

**Writing.** :func:`write_folder` writes every file into a temporary sibling folder first; only
when all of them are written does it touch the target. A target that does not exist, is empty
or holds nothing but this project's files is swapped for the new folder by renames (the old
one is then removed: it held only this project's files). A target that holds anything else is
refused with :class:`OutputFolderError` (nothing changed) unless ``overwrite``; then this
project's old files are moved out (``manifest.json`` first), the new ones moved in
(``manifest.json`` last) and the user's files stay where they are. A file of the user's with a
name the new results need is refused even with ``overwrite``. A crash while writing leaves the
target as it was; a crash during the renames leaves a folder without ``manifest.json``, which
reading refuses: no half-written folder ever looks complete.

Reading a folder back, every file checked, is :mod:`openbank_sim.analysis.readback`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "COMPARISON_KIND",
    "EDGE_KIND",
    "REPORT_KIND",
    "RUN_FORMAT",
    "RUN_KIND",
    "OutputFolderError",
    "check_output_folder",
    "folder_kind",
    "write_folder",
]

RUN_KIND = "openbank_sim.run"
RUN_FORMAT = 1
SWEEP_KIND = "openbank_sim.sweep"
COMPARISON_KIND = "openbank_sim.comparison"
REPORT_KIND = "openbank_sim.report"
EDGE_KIND = "openbank_sim.edge"

MANIFEST = "manifest.json"
SUMMARY = "summary.csv"
HISTOGRAMS = "histograms.json"
FIGURE = "latency_throughput.png"
FIGURES_DIR = "figures"
# the files of a results folder whose names never change (tables are named after themselves)
FIXED_NAMES = (MANIFEST, SUMMARY, HISTOGRAMS, FIGURE, FIGURES_DIR)

TABLE_NAME = re.compile(r"[A-Za-z0-9_]+")
TABLE_SUFFIXES = (".parquet", ".csv")
_REPORT_FIGURE = re.compile(
    r"(latency_throughput|sweep_effects|edge_curve|sensitivity_[A-Za-z0-9_]+)\.png"
)
_LISTED = 6  # foreign entries named in a refusal

# the files of the other kinds of output folder: fixed names, and a pattern of further names
OUTPUT_NAMES: dict[str, tuple[str, ...]] = {
    COMPARISON_KIND: (MANIFEST, "comparison.csv", "comparison.json", "intervals.csv", "runs.csv"),
    REPORT_KIND: (MANIFEST, SUMMARY, FIGURES_DIR),
    EDGE_KIND: (
        MANIFEST,
        "edge.csv",
        "edge_summary.csv",
        "hysteresis.csv",
        "edge.json",
        FIGURES_DIR,
    ),
}
_OUTPUT_PATTERN: dict[str, re.Pattern[str]] = {
    REPORT_KIND: re.compile(r"sensitivity_[A-Za-z0-9_]+\.csv"),
}
_DESCRIBED = {
    RUN_KIND: "a run's results",
    SWEEP_KIND: "a sweep store",
    COMPARISON_KIND: "a comparison",
    REPORT_KIND: "a report",
    EDGE_KIND: "an edge",
}


class OutputFolderError(FileExistsError):
    """An output folder that holds files this project did not write; nothing was changed.

    Attributes:
        folder: the folder.
        foreign: the entries in it that are not this project's (``figures/x`` for one inside
            ``figures/``), sorted.
    """

    def __init__(self, folder: Path, foreign: list[str], reason: str) -> None:
        self.folder = folder
        self.foreign = foreign
        super().__init__(reason)


# --------------------------------------------------------------------------------------------
# Which files are ours
# --------------------------------------------------------------------------------------------


def _read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when it is missing or not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def is_run_manifest(manifest: Mapping[str, Any] | None) -> bool:
    """Whether ``manifest`` (a parsed ``manifest.json``) is that of a results folder."""
    if manifest is None:
        return False
    if "kind" in manifest:
        return manifest["kind"] == RUN_KIND
    # written before the marker: the provenance keys every such manifest has
    return isinstance(manifest.get("tables"), dict) and {"scenario", "package_version"} <= set(
        manifest
    )


def table_file_ok(name: object, file: object) -> bool:
    """Whether ``file`` is the name this project gives table ``name`` (``NAME.parquet`` or
    ``NAME.csv``, a plain name inside the folder)."""
    return (
        isinstance(name, str)
        and isinstance(file, str)
        and TABLE_NAME.fullmatch(name) is not None
        and file in (name + s for s in TABLE_SUFFIXES)
    )


def folder_kind(folder: Path) -> str | None:
    """``"run"`` for a results folder, ``"sweep"`` for a sweep store, ``"comparison"`` and
    ``"report"`` for those outputs (by the kind in its ``manifest.json``), else None."""
    kind = _manifest_kind(_read_json_object(folder / MANIFEST))
    return kind.removeprefix("openbank_sim.") if kind is not None else None


def _manifest_kind(manifest: Mapping[str, Any] | None) -> str | None:
    """The kind of this project's folder that ``manifest`` describes, or None."""
    if is_run_manifest(manifest):
        return RUN_KIND
    kind = manifest.get("kind") if manifest is not None else None
    return kind if kind in _DESCRIBED else None


def _named_like_ours(name: str, kind: str) -> bool:
    """Whether ``name`` (a top-level entry) is one that a folder of ``kind`` writes."""
    if kind == RUN_KIND:
        return name in FIXED_NAMES
    pattern = _OUTPUT_PATTERN.get(kind)
    return name in OUTPUT_NAMES[kind] or (
        pattern is not None and pattern.fullmatch(name) is not None
    )


def _own_and_foreign(folder: Path, kind: str = RUN_KIND) -> tuple[list[str], list[str]]:
    """The top-level entries of ``folder`` that are this project's output of ``kind`` and the
    others (a foreign file inside ``figures/`` makes ``figures`` foreign and is listed as
    ``figures/NAME``)."""
    entries = sorted(p.name for p in folder.iterdir())
    manifest = _read_json_object(folder / MANIFEST)
    if _manifest_kind(manifest) != kind:
        return [], entries
    assert manifest is not None
    own_names: set[str] = set()
    if kind == RUN_KIND:
        tables = manifest.get("tables")
        own_names.update(FIXED_NAMES)
        if isinstance(tables, dict):
            own_names.update(f for n, f in tables.items() if table_file_ok(n, f))
    own, foreign = [], []
    for name in entries:
        path = folder / name
        ours = name in own_names or (kind != RUN_KIND and _named_like_ours(name, kind))
        if not ours or path.is_symlink():
            foreign.append(name)
        elif name == FIGURES_DIR:
            if not path.is_dir():
                foreign.append(name)
                continue
            odd = sorted(
                p.name
                for p in path.iterdir()
                if _REPORT_FIGURE.fullmatch(p.name) is None or not p.is_file() or p.is_symlink()
            )
            if odd:
                foreign.extend(f"{FIGURES_DIR}/{n}" for n in odd)
            else:
                own.append(name)
        elif path.is_file():
            own.append(name)
        else:
            foreign.append(name)
    return own, foreign


def listing(names: list[str]) -> str:
    """The first few ``names``, comma-separated, and how many more there are."""
    shown = ", ".join(names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


def check_output_folder(
    folder: str | Path,
    overwrite: bool = False,
    option: str = "overwrite=True",
    kind: str = RUN_KIND,
) -> None:
    """Refuse ``folder`` as an output folder of ``kind`` (a results folder by default) before
    anything is computed for it (``option`` is how the refusal names the way to write anyway,
    e.g. ``--force``).

    Raises:
        OutputFolderError: it exists and is not a folder, or it holds files that are not this
            project's output of ``kind`` (unless ``overwrite``), or, even with ``overwrite``, a
            file of another's named like one this output writes.
    """
    target = _real(Path(folder))
    if not target.exists() and not target.is_symlink():
        return
    if not target.is_dir():
        raise OutputFolderError(
            target, [], f"{target} exists and is not a folder; results need a folder"
        )
    _own, foreign = _own_and_foreign(target, kind)
    if not foreign:
        return
    clash = sorted(n for n in foreign if _named_like_ours(n.split("/")[0], kind))
    if not overwrite:
        other = _manifest_kind(_read_json_object(target / MANIFEST))
        if other == SWEEP_KIND:
            what = "is a sweep store"
        elif other is not None and other != kind:
            what = f"holds {_DESCRIBED[other]}, not {_DESCRIBED[kind]} ({listing(foreign)})"
        else:
            what = f"holds files this project did not write ({listing(foreign)})"
        raise OutputFolderError(
            target,
            foreign,
            f"{target} {what}; choose another folder, or pass {option} to write the results "
            "beside them (they are left untouched). Nothing was changed.",
        )
    if clash:
        raise OutputFolderError(target, foreign, _clash_reason(target, clash, kind))


def _clash_reason(target: Path, clash: list[str], kind: str) -> str:
    """Why ``target`` is refused even with overwrite: files not of ``kind`` under its names."""
    need = "need" if kind == RUN_KIND else "needs"
    return (
        f"{target} holds other files under names that {_DESCRIBED[kind]} {need} "
        f"({listing(clash)}); move them away or choose another folder. Nothing was changed."
    )


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _make_temp_dir(target: Path, tag: str) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{tag}", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    return tmp


def write_folder(
    folder: str | Path,
    write: Callable[[Path], None],
    overwrite: bool = False,
    kind: str = RUN_KIND,
) -> Path:
    """Write an output folder of ``kind`` (a results folder by default): ``write(tmp)`` fills
    a temporary sibling folder, whose ``manifest.json`` must say ``kind``, which then replaces
    this project's files of that kind in ``folder`` (see the module docstring); returns the
    folder.

    Raises:
        OutputFolderError: as :func:`check_output_folder`, and when a file of the new output
            would replace a file of the user's. Nothing was changed.
    """
    given = Path(folder)
    target = _real(given)  # a link to a folder: write in the folder, keep the link
    check_output_folder(target, overwrite, kind=kind)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _make_temp_dir(target, "")
    try:
        write(tmp)
        if not target.exists():
            os.replace(tmp, target)
            return given
        own, foreign = _own_and_foreign(target, kind)
        if not foreign:
            old = _make_temp_dir(target, "old.")
            os.replace(target, old / "x")
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
            return given
        if not overwrite:
            check_output_folder(target, kind=kind)  # raises: the folder changed since checked
        new = sorted(p.name for p in tmp.iterdir())
        clash = sorted(set(new) & set(foreign))
        if clash:
            raise OutputFolderError(target, foreign, _clash_reason(target, clash, kind))
        _replace_own_files(target, tmp, own, new)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    return given


def _real(path: Path) -> Path:
    """``path`` with a link in its last part followed (the folder it points to)."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _replace_own_files(target: Path, tmp: Path, own: list[str], new: list[str]) -> None:
    """Move this project's ``own`` files out of ``target`` (the manifest first) and the ``new``
    ones in from ``tmp`` (the manifest last); on an error, put everything back."""
    old = _make_temp_dir(target, "old.")
    moved_out: list[str] = []
    moved_in: list[str] = []
    try:
        for name in sorted(own, key=lambda n: n != MANIFEST):
            os.replace(target / name, old / name)
            moved_out.append(name)
        for name in sorted(new, key=lambda n: n == MANIFEST):
            os.replace(tmp / name, target / name)
            moved_in.append(name)
    except BaseException:
        for name in reversed(moved_in):
            os.replace(target / name, tmp / name)
        for name in reversed(moved_out):
            os.replace(old / name, target / name)
        shutil.rmtree(old, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
