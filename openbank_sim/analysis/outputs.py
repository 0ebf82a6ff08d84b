"""Output folders of tables, JSON documents and figures: ``compare --out``, ``report --out``
and ``edge --out``.

:func:`write_output` writes one such folder with the same safety as a run's results
(:func:`openbank_sim.analysis.folders.write_folder`: refused when it holds anything that is not
this project's output of the same kind, unless ``overwrite``; only this project's files
replaced; every file written into a temporary sibling folder first, ``manifest.json`` last).
Tables are CSV with floats at full precision; documents are JSON (NaN and infinities as null);
figures are PNGs under ``figures/``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .folders import COMPARISON_KIND, EDGE_KIND, FIGURES_DIR, MANIFEST, REPORT_KIND, write_folder

__all__ = [
    "COMPARISON_KIND",
    "EDGE_KIND",
    "REPORT_KIND",
    "jsonable",
    "package_version",
    "write_output",
]

FIGURE_DPI = 100
"""Resolution of the figures written (dots per inch), as ``report`` draws them."""


def jsonable(value: Any) -> Any:
    """``value`` with NaN and infinite floats replaced by None, recursively (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _full_precision(value: float) -> str:
    return repr(float(value))


def write_output(
    folder: str | Path,
    kind: str,
    *,
    tables: Mapping[str, pd.DataFrame] | None = None,
    documents: Mapping[str, Any] | None = None,
    figures: Mapping[str, Any] | None = None,
    provenance: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write an output folder of ``kind`` (:data:`COMPARISON_KIND`, :data:`REPORT_KIND` or
    :data:`EDGE_KIND`).

    Args:
        folder: the folder (made when missing).
        kind: what the folder is; its ``manifest.json`` says so.
        tables: file name (``"comparison.csv"``) -> table, written without its index.
        documents: file name (``"comparison.json"``) -> a JSON-able value.
        figures: file name (``"latency_throughput.png"``) -> a matplotlib Figure, written
            under ``figures/``.
        provenance: more keys of ``manifest.json`` (source, command, package version, ...).
        overwrite: write beside files that are not this project's (see the module docstring).

    Returns:
        The folder.

    Raises:
        OutputFolderError: the folder is refused (nothing was changed).
    """
    tables, documents, figures = tables or {}, documents or {}, figures or {}

    def write(tmp: Path) -> None:
        for name, df in tables.items():
            df.to_csv(tmp / name, index=False, float_format=_full_precision)
        for name, doc in documents.items():
            (tmp / name).write_text(
                json.dumps(jsonable(doc), indent=2, default=str, allow_nan=False) + "\n",
                encoding="utf-8",
            )
        if figures:
            (tmp / FIGURES_DIR).mkdir()
            for name, fig in figures.items():
                fig.savefig(tmp / FIGURES_DIR / name, dpi=FIGURE_DPI)
        manifest: dict[str, Any] = {"kind": kind}
        manifest.update(provenance or {})
        manifest["files"] = sorted(
            [*tables, *documents, *(f"{FIGURES_DIR}/{name}" for name in figures)]
        )
        (tmp / MANIFEST).write_text(
            json.dumps(jsonable(manifest), indent=2, default=str, allow_nan=False) + "\n",
            encoding="utf-8",
        )

    return write_folder(folder, write, overwrite, kind=kind)


def package_version() -> str:
    """This package's installed version (``"0+unknown"`` from a source tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("openbank_sim")
    except PackageNotFoundError:
        return "0+unknown"
