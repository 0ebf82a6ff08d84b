"""The resumable result store of a sweep: a directory that outlives the process.

Layout::

    manifest.json     kind, format, the sweep's definition and its SHA-256
    runs/rNNN.json    one finished run each (point, replication, seed, params, kpis, wall_s)
    failures.jsonl    one line per failed run, with its traceback
    results.csv       the whole table at full float precision, once every run has finished
    results.parquet   the same, when pyarrow is installed

Every file is written atomically (a temporary file, fsync, rename), so an interrupted sweep
leaves only whole runs behind and resuming never loses or repeats one. A store is refused,
untouched, when it holds another sweep or is not a store at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "StoreError",
    "append_failure",
    "atomic_write",
    "canonical",
    "check_store",
    "open_store",
    "read_runs",
    "write_results",
    "write_run",
]


class StoreError(RuntimeError):
    """A sweep's result store cannot be used as asked (it holds another sweep, ...)."""


def canonical(obj: Any) -> str:
    """Compact JSON with sorted keys: the form a definition is compared and hashed in."""
    return json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))


def _repr_float(value: float) -> str:
    """A float written so that reading it back gives the same float (full precision)."""
    return repr(float(value))


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (the umask's permissions)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_store(store: Path, definition: dict[str, Any], resume: bool) -> str:
    """Refuse a store that cannot take this sweep (touching nothing); returns the digest."""
    manifest = store / "manifest.json"
    digest = hashlib.sha256(canonical(definition).encode()).hexdigest()
    if manifest.exists():
        old = json.loads(manifest.read_text(encoding="utf-8"))
        if old.get("definition_sha256") != digest:
            diff = [
                k
                for k in definition
                if canonical(definition[k]) != canonical(old.get("definition", {}).get(k))
            ]
            raise StoreError(
                f"{store} holds a different sweep (differs in: {', '.join(diff) or 'format'}); "
                "choose another --out directory. Nothing was changed."
            )
        if not resume:
            raise StoreError(
                f"{store} already holds this sweep; pass resume=True (--resume) "
                "to finish it. Nothing was changed."
            )
    elif store.exists() and any(store.iterdir()) and not resume:
        raise StoreError(
            f"{store} exists and is not a sweep store; choose an empty or new "
            "directory. Nothing was changed."
        )
    elif (
        store.exists()
        and any(p.name != "runs" for p in store.iterdir())
        and not (store / "runs").exists()
    ):
        raise StoreError(f"{store} exists and is not a sweep store. Nothing was changed.")
    return digest


def open_store(store: Path, definition: dict[str, Any], digest: str) -> set[int]:
    """Prepare ``store`` (already checked, see :func:`check_store`); returns the run ids
    already finished there."""
    manifest = store / "manifest.json"
    (store / "runs").mkdir(parents=True, exist_ok=True)
    if not manifest.exists():
        atomic_write(
            manifest,
            json.dumps(
                {
                    "kind": "openbank_sim.sweep",
                    "format": 1,
                    "definition_sha256": digest,
                    "definition": definition,
                },
                indent=2,
                default=str,
            ),
        )
    done = set()
    for f in (store / "runs").glob("r*.json"):
        try:
            done.add(int(f.stem[1:]))
        except ValueError:
            continue
    return done


def write_run(store: Path, rec: dict[str, Any], width: int) -> None:
    """Record one finished run as ``runs/r<run_id>.json`` (``run_id`` zero-padded to
    ``width`` digits, so the files sort in run order)."""
    atomic_write(store / "runs" / f"r{rec['run_id']:0{width}d}.json", json.dumps(rec, default=str))


def append_failure(store: Path, rec: dict[str, Any]) -> None:
    """Add one failed run (with its traceback) to ``failures.jsonl``."""
    with (store / "failures.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(rec, default=str) + "\n")


def read_runs(store: Path) -> list[dict]:
    """Every finished run of the store, in run order."""
    rows = []
    for f in sorted((store / "runs").glob("r*.json")):
        rows.append(json.loads(f.read_text(encoding="utf-8")))
    return rows


def write_results(store: Path, table: pd.DataFrame) -> None:
    """Write the complete table as ``results.csv`` (full float precision) and, with pyarrow,
    ``results.parquet``."""
    atomic_write(store / "results.csv", table.to_csv(index=False, float_format=_repr_float))
    try:
        import pyarrow  # noqa: F401

        tmp = store / ".results.parquet.tmp"
        table.to_parquet(tmp, index=False)
        os.replace(tmp, store / "results.parquet")
    except ImportError:
        pass
