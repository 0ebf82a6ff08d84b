"""Reading a results folder back without trusting it.

:func:`read_folder` opens only this project's files (see :mod:`openbank_sim.analysis.folders`),
by their own names, inside the folder: a table path in the manifest that is absolute, leaves
the folder or is not the table's own name is refused, and so is a file that is a link to
somewhere else. It reads them with JSON, CSV and Parquet readers only and checks each against
what the manifest recorded when it was written (rows, columns and their kinds, the number of
KPIs). Every malformed piece is one :class:`ResultsFolderError` naming the file and what is
wrong.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .folders import (
    HISTOGRAMS,
    MANIFEST,
    RUN_FORMAT,
    RUN_KIND,
    SUMMARY,
    SWEEP_KIND,
    listing,
    table_file_ok,
)

if TYPE_CHECKING:
    import pandas as pd

    from ..histogram import LatencyHistogram

__all__ = ["ResultsFolderError", "read_folder", "table_shape"]


class ResultsFolderError(ValueError):
    """A results folder, or one file of it, that cannot be read back.

    Attributes:
        file: the folder or the file inside it.
        reason: what is wrong, in words.
    """

    def __init__(self, file: Path | str, reason: str) -> None:
        self.file = str(file)
        self.reason = reason
        super().__init__(f"{file}: {reason}")


def _first_line(err: BaseException, limit: int = 160) -> str:
    text = (str(err).strip().splitlines() or [""])[0]
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _inside(folder: Path, name: str) -> Path:
    """``folder / name``, refused when it is a link or not a regular file."""
    path = folder / name
    if path.is_symlink():
        raise ResultsFolderError(
            path, "is a link; a results folder's files are read only from inside the folder"
        )
    if not path.exists():
        raise ResultsFolderError(path, "is missing")
    if not path.is_file():
        raise ResultsFolderError(path, "is not a file")
    return path


def _load_json(path: Path) -> Any:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ResultsFolderError(path, "is not UTF-8 text") from None
    except OSError as err:
        raise ResultsFolderError(path, f"cannot be read ({_first_line(err)})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ResultsFolderError(
            path, f"is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"
        ) from None
    except RecursionError:
        raise ResultsFolderError(path, "is not valid JSON (nested too deeply)") from None


def _check_manifest(path: Path, manifest: Any) -> dict[str, Any]:
    """The manifest's keys this package reads, checked; returns it."""
    if not isinstance(manifest, dict):
        raise ResultsFolderError(path, f"must be a JSON object, not {type(manifest).__name__}")
    kind = manifest.get("kind", RUN_KIND)
    if kind == SWEEP_KIND:
        raise ResultsFolderError(
            path, "belongs to a sweep store, not to one run (openbank-sim report reads it)"
        )
    if kind != RUN_KIND:
        raise ResultsFolderError(path, f"kind {kind!r} is not {RUN_KIND!r}")
    fmt = manifest.get("format", RUN_FORMAT)
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt > RUN_FORMAT:
        raise ResultsFolderError(
            path, f"format {fmt!r}: this version reads results folders of format {RUN_FORMAT}"
        )
    for key in ("horizon_s", "warmup_s", "time_bin_s", "sim_end_s", "wall_time_s"):
        value = manifest.get(key)
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise ResultsFolderError(path, f"{key}: {value!r} is not a number of seconds >= 0")
    for key in ("scenario_name", "currency", "start"):
        value = manifest.get(key)
        if value is not None and not isinstance(value, str):
            raise ResultsFolderError(path, f"{key}: {value!r} is not a string")
    start = manifest.get("start")
    if start is not None:
        import pandas as pd

        try:
            pd.Timestamp(start)
        except (ValueError, TypeError, OverflowError):
            raise ResultsFolderError(path, f"start: {start!r} is not a date") from None
    scenario = manifest.get("scenario")
    if scenario is not None and not isinstance(scenario, dict):
        raise ResultsFolderError(path, "scenario: must be a JSON object")
    warnings = manifest.get("warnings")
    if warnings is not None and (
        not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings)
    ):
        raise ResultsFolderError(path, "warnings: must be a list of strings")
    tables = manifest.get("tables")
    if not isinstance(tables, dict):
        raise ResultsFolderError(path, "tables: must be a JSON object of table name -> file name")
    for name, file in tables.items():
        _check_table_entry(path, name, file)
    shapes = manifest.get("table_shapes")
    if shapes is not None and (
        not isinstance(shapes, dict)
        or not all(
            isinstance(s, dict)
            and isinstance(s.get("rows"), int)
            and isinstance(s.get("columns"), dict)
            for s in shapes.values()
        )
    ):
        raise ResultsFolderError(
            path, "table_shapes: must map each table to {rows: int, columns: {name: kind}}"
        )
    n_kpis = manifest.get("summary_kpis")
    if n_kpis is not None and (not isinstance(n_kpis, int) or isinstance(n_kpis, bool)):
        raise ResultsFolderError(path, f"summary_kpis: {n_kpis!r} is not a whole number")
    return manifest


def _check_table_entry(path: Path, name: object, file: object) -> None:
    where = f"tables.{name}"
    if not isinstance(file, str):
        raise ResultsFolderError(path, f"{where}: {file!r} is not a file name")
    if os.path.isabs(file) or file.startswith(("/", "\\")):
        raise ResultsFolderError(
            path,
            f"{where}: {file!r} is an absolute path; tables are read only from inside the "
            "results folder",
        )
    parts = re.split(r"[/\\]", file)
    if ".." in parts:
        raise ResultsFolderError(
            path,
            f"{where}: {file!r} leaves the results folder; tables are read only from inside it",
        )
    if len(parts) > 1:
        raise ResultsFolderError(
            path, f"{where}: {file!r} is not a file of the results folder itself"
        )
    if not table_file_ok(name, file):
        raise ResultsFolderError(
            path,
            f"{where}: {file!r} is not the name this project writes for that table "
            f"({name}.parquet or {name}.csv)",
        )


def _read_summary(folder: Path, expected: int | None) -> dict[str, float]:
    path = _inside(folder, SUMMARY)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ResultsFolderError(path, "is not UTF-8 text") from None
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as err:
        raise ResultsFolderError(path, f"is not valid CSV ({err})") from None
    if not rows:
        raise ResultsFolderError(path, "is empty (expected the header kpi,value)")
    if rows[0] != ["kpi", "value"]:
        raise ResultsFolderError(path, f"line 1: header {','.join(rows[0])!r} is not 'kpi,value'")
    kpis: dict[str, float] = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != 2:
            raise ResultsFolderError(
                path, f"line {line}: {len(row)} field(s), expected 2 (kpi,value); truncated?"
            )
        name, text_value = row
        if not name:
            raise ResultsFolderError(path, f"line {line}: empty KPI name")
        if name in kpis:
            raise ResultsFolderError(path, f"line {line}: KPI {name!r} appears twice")
        try:
            kpis[name] = float(text_value)
        except ValueError:
            raise ResultsFolderError(
                path, f"line {line}: value {text_value!r} of KPI {name!r} is not a number"
            ) from None
    if not kpis:
        raise ResultsFolderError(path, "holds no KPIs")
    if expected is not None and len(kpis) != expected:
        raise ResultsFolderError(
            path, f"holds {len(kpis)} KPIs, the manifest says {expected} (truncated or edited?)"
        )
    return kpis


def _read_table(
    folder: Path, name: str, file: str, shape: Mapping[str, Any] | None
) -> pd.DataFrame:
    import pandas as pd

    path = _inside(folder, file)
    try:
        if file.endswith(".parquet"):
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path)
    except ImportError:
        raise ResultsFolderError(
            path, "reading Parquet needs pyarrow: pip install 'openbank_sim[parquet]'"
        ) from None
    except Exception as err:  # every reader error is a damaged file here
        kind = "Parquet" if file.endswith(".parquet") else "CSV"
        raise ResultsFolderError(
            path, f"is not a readable {kind} file ({_first_line(err)})"
        ) from None
    if shape is not None:
        columns = list(shape["columns"])
        if list(df.columns) != columns:
            missing = [c for c in columns if c not in df.columns]
            extra = [c for c in df.columns if c not in columns]
            raise ResultsFolderError(
                path,
                f"columns differ from those written for table {name} "
                f"(missing: {listing([str(c) for c in missing]) or '-'}; "
                f"unexpected: {listing([str(c) for c in extra]) or '-'})",
            )
        if len(df) != shape["rows"]:
            raise ResultsFolderError(
                path,
                f"has {len(df)} rows, the manifest says {shape['rows']} (truncated or edited?)",
            )
        if file.endswith(".parquet"):
            for col, kind in shape["columns"].items():
                if df[col].dtype.kind != kind:
                    raise ResultsFolderError(
                        path, f"column {col!r} holds {df[col].dtype} data, not what was written"
                    )
    return df


def _read_histograms(folder: Path) -> dict[str, LatencyHistogram]:
    from ..histogram import LatencyHistogram

    path = folder / HISTOGRAMS
    if not path.exists() and not path.is_symlink():
        return {}
    raw = _load_json(_inside(folder, HISTOGRAMS))
    if not isinstance(raw, dict):
        raise ResultsFolderError(
            path, f"must be a JSON object of name -> histogram, not {type(raw).__name__}"
        )
    out = {}
    for key, value in raw.items():
        try:
            out[key] = LatencyHistogram.from_dict(value)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as err:
            raise ResultsFolderError(path, f"histogram {key!r}: {_first_line(err)}") from None
    return out


def read_folder(
    folder: str | Path,
) -> tuple[dict[str, float], dict[str, pd.DataFrame], dict[str, Any], dict[str, LatencyHistogram]]:
    """KPIs, tables, manifest and histograms of a results folder, every file checked.

    Raises:
        ResultsFolderError: the folder or one of its files is missing or malformed (the error
            names the file and what is wrong).
    """
    d = Path(folder)
    if not d.is_dir():
        raise ResultsFolderError(d, "no such folder" if not d.exists() else "is not a folder")
    path = d / MANIFEST
    if not path.exists() and not path.is_symlink():
        raise ResultsFolderError(
            path,
            "is missing: not a complete results folder (Results.save and openbank-sim run "
            "--out write it last)",
        )
    manifest = _check_manifest(path, _load_json(_inside(d, MANIFEST)))
    kpis = _read_summary(d, manifest.get("summary_kpis"))
    shapes = manifest.get("table_shapes") or {}
    tables = {
        name: _read_table(d, name, file, shapes.get(name))
        for name, file in manifest["tables"].items()
    }
    return kpis, tables, manifest, _read_histograms(d)


def table_shape(df: pd.DataFrame) -> dict[str, Any]:
    """What :func:`read_folder` checks a table file against: rows, and each column's dtype
    kind (numpy's one-letter code)."""
    return {"rows": len(df), "columns": {str(c): df[c].dtype.kind for c in df.columns}}
