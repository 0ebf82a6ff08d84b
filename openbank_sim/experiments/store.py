"""The resumable result store of a sweep: a directory that outlives the process.

Layout::

    manifest.json     kind, format, the sweep's definition and its SHA-256
    runs/rNNN.json    one finished run each (run id, point, replication, seed, params, kpis,
                      wall_s, the SHA-256 of each kept table) and the SHA-256 of all of that
    runs/rNNN.NAME.parquet  the run's table NAME, for each name of ``keep`` (when asked)
    runs/corrupt/     run files that failed their checks, set aside (never counted)
    failures.jsonl    one line per failed run, with its traceback
    results.csv       the whole table at full float precision, once every run has finished
    results.parquet   the same, when pyarrow is installed

Every file is written atomically (a temporary file, fsync, rename), so an interrupted sweep
leaves only whole runs behind and resuming never loses or repeats one. A store is refused,
untouched, when it holds another sweep or is not a store at all.

A run file is trusted only when it proves itself: valid JSON, its checksum matches its content,
its run id is the one in its name and exists in the sweep, and its point, replication, seed and
parameters are the ones the definition gives that run id. Resuming sets every other run file
aside in ``runs/corrupt/`` (saying so) and runs it again; ``report`` refuses a store holding
one.

A store grows: a sweep that extends the one it holds (the same scenario, design, seed, varied
keys and kept tables; every point it holds among its points; at least as many replications)
keeps every run it has. Run ids follow the larger definition, so the runs are renumbered: into
``.runs-grown/`` beside ``runs/``, then the manifest is replaced, then the folders are swapped;
an interrupted growth is finished (or, before the manifest, undone) the next time the store is
opened. :func:`load_sweep_store` reads any store without changing it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..rng import replication_seed

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "STORE_FORMAT",
    "StoreError",
    "append_failure",
    "atomic_write",
    "canonical",
    "check_runs",
    "check_store",
    "grows",
    "load_sweep_store",
    "open_store",
    "read_complete_store",
    "read_runs",
    "read_table",
    "set_aside",
    "write_results",
    "write_run",
    "write_tables",
]

STORE_KIND = "openbank_sim.sweep"
# 2: run files carry the SHA-256 of their content (files of format 1 have none and are rerun)
STORE_FORMAT = 2
CORRUPT_DIR = "corrupt"
GROWN_DIR = ".runs-grown"
_GROWN_MARK = "grown.json"
_RUN_FILE = re.compile(r"r(\d+)\.json")
_TABLE_FILE = re.compile(r"r(\d+)\.([a-z_]+)\.parquet")
_RUN_KEYS = ("run_id", "point", "replication", "seed", "params", "kpis", "sha256")


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


def _read_manifest(store: Path) -> dict[str, Any]:
    """The store's manifest as a JSON object (a StoreError naming the file otherwise)."""
    path = store / "manifest.json"
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise StoreError(
            f"{path}: not valid JSON ({type(err).__name__}); the store cannot be used. "
            "Nothing was changed."
        ) from None
    except OSError as err:
        raise StoreError(f"{path}: cannot be read ({err.strerror or err})") from None
    if not isinstance(data, dict):
        raise StoreError(f"{path}: not a JSON object; the store cannot be used")
    return data


def check_store(store: Path, definition: dict[str, Any], resume: bool) -> str:
    """Refuse a store that cannot take this sweep (touching nothing); returns the digest."""
    manifest = store / "manifest.json"
    digest = hashlib.sha256(canonical(definition).encode()).hexdigest()
    if store.exists() and not store.is_dir():
        raise StoreError(f"{store} exists and is not a directory. Nothing was changed.")
    if manifest.exists():
        old = _read_manifest(store)
        if old.get("kind") != STORE_KIND:
            raise StoreError(
                f"{store} is not a sweep store (its manifest.json is not a sweep's); choose "
                "another --out directory. Nothing was changed."
            )
        if old.get("definition_sha256") != digest:
            old_definition = old.get("definition")
            if not isinstance(old_definition, dict):
                old_definition = {}
            if grows(old_definition, definition):
                if resume:
                    return digest
                held = len(old_definition["points"]) * old_definition["replications"]
                total = len(definition["points"]) * definition["replications"]
                raise StoreError(
                    f"{store} holds {held} runs of this sweep, which would grow to {total}; "
                    "pass resume=True (--resume) to keep them and run only the new ones. "
                    "Nothing was changed."
                )
            diff = [
                k
                for k in dict.fromkeys([*definition, *old_definition])
                if canonical(definition.get(k)) != canonical(old_definition.get(k))
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


def grows(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether the sweep ``new`` extends the sweep ``old`` held by a store: the same
    scenario, design, seed, varied keys (in order) and kept tables, every point of ``old``
    among the points of ``new`` and at least as many replications, and more runs."""
    try:
        same = all(
            canonical(old.get(k)) == canonical(new.get(k))
            for k in ("scenario", "design", "seed", "keep")
        )
        if not same or list(old["vary"]) != list(new["vary"]):
            return False
        if new["replications"] < old["replications"]:
            return False
        return _point_map(old["points"], new["points"]) is not None and (
            len(new["points"]) * new["replications"] > len(old["points"]) * old["replications"]
        )
    except (KeyError, TypeError, AttributeError):
        return False


def _point_map(old: list[dict], new: list[dict]) -> list[int] | None:
    """The index in ``new`` of each point of ``old`` (duplicates matched in order), or None
    when one is missing."""
    where: dict[str, list[int]] = {}
    for i, pt in enumerate(new):
        where.setdefault(canonical(pt), []).append(i)
    out = []
    for pt in old:
        free = where.get(canonical(pt))
        if not free:
            return None
        out.append(free.pop(0))
    return out


def _width(definition: dict[str, Any]) -> int:
    """Digits of the zero-padded run id in run file names."""
    return len(str(len(definition.get("points", ())) * definition.get("replications", 1)))


def _manifest_text(definition: dict[str, Any], digest: str) -> str:
    return json.dumps(
        {
            "kind": STORE_KIND,
            "format": STORE_FORMAT,
            "definition_sha256": digest,
            "definition": definition,
        },
        indent=2,
        default=str,
    )


def _grow(store: Path, old: dict[str, Any], new: dict[str, Any], digest: str) -> list[str]:
    """Renumber the runs of ``old`` held by ``store`` as runs of ``new`` (see the module's
    docstring); returns a note for each run file set aside on the way."""
    valid, bad = check_runs(store, old)
    notes = set_aside(store, bad)
    for name in ("results.csv", "results.parquet"):  # the store is no longer complete
        (store / name).unlink(missing_ok=True)
    mapping = _point_map(old["points"], new["points"])
    assert mapping is not None  # checked by grows()
    staging = store / GROWN_DIR
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    width, old_width = _width(new), _width(old)
    for run_id, rec in valid.items():
        point = mapping[rec["point"]]
        new_id = point * new["replications"] + rec["replication"]
        write_run(store, {**rec, "run_id": new_id, "point": point}, width, folder=staging)
        for name in rec.get("tables", {}):
            src = store / "runs" / f"r{run_id:0{old_width}d}.{name}.parquet"
            dest = staging / f"r{new_id:0{width}d}.{name}.parquet"
            try:
                os.link(src, dest)
            except OSError:
                shutil.copy2(src, dest)
    _renumber_failures(store, mapping, new["replications"])
    atomic_write(staging / _GROWN_MARK, json.dumps({"definition_sha256": digest}))
    atomic_write(store / "manifest.json", _manifest_text(new, digest))
    _finish_growth(store)
    return notes


def _renumber_failures(store: Path, mapping: list[int], replications: int) -> None:
    """Give the runs recorded in ``failures.jsonl`` their run ids in the grown sweep."""
    path = store / "failures.jsonl"
    if not path.is_file():
        return
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
            point = mapping[rec["point"]]
            rec.update(run_id=point * replications + rec["replication"], point=point)
            line = json.dumps(rec, default=str)
        except (ValueError, KeyError, IndexError, TypeError):
            pass  # a line of another form is kept as it is
        out.append(line + "\n")
    atomic_write(path, "".join(out))


def _finish_growth(store: Path) -> None:
    """Finish a growth the manifest already records, or drop one it does not (a crash)."""
    staging = store / GROWN_DIR
    old_runs = store / ".runs-old"
    if staging.is_dir():
        try:
            mark = json.loads((staging / _GROWN_MARK).read_text(encoding="utf-8"))
            done = mark.get("definition_sha256") == _read_manifest(store).get("definition_sha256")
        except (OSError, ValueError, AttributeError, StoreError):
            done = False
        if not done:
            shutil.rmtree(staging)
        else:
            runs = store / "runs"
            if runs.is_dir():  # what is not a run of the old numbering goes along
                for f in runs.iterdir():
                    if not (_RUN_FILE.fullmatch(f.name) or _TABLE_FILE.fullmatch(f.name)):
                        os.replace(f, staging / f.name)
                os.replace(runs, old_runs)
            (staging / _GROWN_MARK).unlink()
            os.replace(staging, runs)
    if old_runs.exists():
        shutil.rmtree(old_runs)


def open_store(store: Path, definition: dict[str, Any], digest: str) -> tuple[set[int], list[str]]:
    """Prepare ``store`` (already checked, see :func:`check_store`), growing it when it holds
    a smaller version of this sweep (see :func:`grows`); returns the run ids already finished
    there and a note for each run file set aside (see :func:`set_aside`)."""
    manifest = store / "manifest.json"
    (store / "runs").mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    if manifest.exists():
        _finish_growth(store)
        old = _read_manifest(store)
        if old.get("definition_sha256") != digest:
            notes = _grow(store, old["definition"], definition, digest)
    if not manifest.exists():
        atomic_write(manifest, _manifest_text(definition, digest))
    valid, bad = check_runs(store, definition)
    return set(valid), notes + set_aside(store, bad)


def run_checksum(rec: dict[str, Any]) -> str:
    """The SHA-256 of a run record's canonical JSON, its own ``sha256`` key left out."""
    body = {k: v for k, v in rec.items() if k != "sha256"}
    return hashlib.sha256(canonical(body).encode()).hexdigest()


def _run_problem(
    rec: Any, file_id: int, name: str, definition: dict[str, Any], width: int
) -> str | None:
    """What is wrong with the run record ``rec`` read from the file ``name``, or None."""
    if not isinstance(rec, dict):
        return f"not a JSON object but {type(rec).__name__}"
    if "sha256" not in rec:
        return "no checksum (written before run files carried one, or edited)"
    missing = [k for k in _RUN_KEYS if k not in rec]
    if missing:
        return f"missing {', '.join(missing)}"
    if rec["sha256"] != run_checksum(rec):
        return "checksum mismatch: the file was changed after it was written"
    if "points" not in definition:  # an adaptive store (optimize): runs are not a fixed grid
        if rec["run_id"] != file_id:
            return f"claims run id {rec['run_id']!r} but is named {name}"
        return _kpis_problem(rec["kpis"])
    points = definition["points"]
    replications = definition["replications"]
    run_id = rec["run_id"]
    if not isinstance(run_id, int) or isinstance(run_id, bool):
        return f"run id {run_id!r} is not an integer"
    if run_id != file_id:
        return f"claims run id {run_id} but is named {name}"
    if name != f"r{run_id:0{width}d}.json":
        return f"run {run_id}'s file is r{run_id:0{width}d}.json, not {name}"
    total = len(points) * replications
    if not 0 <= run_id < total:
        return f"run id {run_id} does not exist in this sweep ({total} runs)"
    point, rep = divmod(run_id, replications)
    if (rec["point"], rec["replication"]) != (point, rep):
        return (
            f"claims point {rec['point']!r}, replication {rec['replication']!r}; run {run_id} "
            f"is point {point}, replication {rep}"
        )
    expected_seed = replication_seed(definition["seed"], rep)
    if rec["seed"] != expected_seed:
        return f"seed {rec['seed']!r} is not run {run_id}'s seed {expected_seed}"
    if canonical(rec["params"]) != canonical(points[point]):
        return f"params {canonical(rec['params'])} are not point {point}'s"
    return _kpis_problem(rec["kpis"])


def _tables_problem(rec: dict[str, Any], f: Path, keep: list[str], width: int) -> str | None:
    """What is missing of the kept tables of a run, or None (their checksums are checked
    when they are read, see :func:`read_table`)."""
    tables = rec.get("tables")
    if not isinstance(tables, dict) or sorted(tables) != sorted(keep):
        return f"its kept tables are not {', '.join(keep)}"
    for name in keep:
        if not (f.parent / f"r{rec['run_id']:0{width}d}.{name}.parquet").is_file():
            return f"its table {name} is missing"
    return None


def _kpis_problem(kpis: Any) -> str | None:
    if not isinstance(kpis, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in kpis.values()
    ):
        return "kpis: not a JSON object of numbers"
    return None


def check_runs(
    store: Path, definition: dict[str, Any]
) -> tuple[dict[int, dict[str, Any]], list[tuple[Path, str]]]:
    """Every run file of ``store`` checked against the sweep's ``definition``: the valid ones
    by run id (without their checksum) and ``(file, what is wrong)`` for the others. Files in
    ``runs/`` whose names are not ``rNNN.json`` are not the store's and are left alone."""
    width = _width(definition)
    valid: dict[int, dict[str, Any]] = {}
    bad: list[tuple[Path, str]] = []
    for f in sorted((store / "runs").glob("r*.json")):
        m = _RUN_FILE.fullmatch(f.name)
        if m is None or not f.is_file() or f.is_symlink():
            continue
        try:
            rec = json.loads(f.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            bad.append((f, "not valid JSON (truncated or damaged)"))
            continue
        problem = _run_problem(rec, int(m.group(1)), f.name, definition, width)
        if problem is None and definition.get("keep"):
            problem = _tables_problem(rec, f, definition["keep"], width)
        if problem is not None:
            bad.append((f, problem))
            continue
        valid[rec["run_id"]] = {k: v for k, v in rec.items() if k != "sha256"}
    return valid, bad


def set_aside(store: Path, bad: list[tuple[Path, str]]) -> list[str]:
    """Move each bad run file to ``runs/corrupt/`` (never counted again, kept for a look) and,
    when there was one, remove ``results.*`` (the store is no longer complete); returns one
    note per file."""
    if not bad:
        return []
    corrupt = store / "runs" / CORRUPT_DIR
    corrupt.mkdir(exist_ok=True)
    notes = []
    for f, problem in bad:
        dest = corrupt / f.name
        n = 0
        while dest.exists():
            n += 1
            dest = corrupt / f"{f.name}.{n}"
        os.replace(f, dest)
        notes.append(
            f"{f.relative_to(store)}: {problem}; set aside as {dest.relative_to(store)}, "
            "the run is done again"
        )
    for name in ("results.csv", "results.parquet"):
        (store / name).unlink(missing_ok=True)
    return notes


def write_run(store: Path, rec: dict[str, Any], width: int, folder: Path | None = None) -> None:
    """Record one finished run as ``runs/r<run_id>.json`` (``run_id`` zero-padded to
    ``width`` digits, so the files sort in run order), with the checksum of its content
    (``folder``: another folder than ``runs/``)."""
    body = {k: v for k, v in rec.items() if k != "sha256"}
    # the checksum is of the record as it reads back from JSON (tuples become lists, ...)
    body = json.loads(json.dumps(body, default=str))
    body["sha256"] = run_checksum(body)
    folder = store / "runs" if folder is None else folder
    atomic_write(folder / f"r{rec['run_id']:0{width}d}.json", json.dumps(body))


def write_tables(store: Path, run_id: int, width: int, tables: dict[str, Any]) -> dict[str, str]:
    """Write each kept table of run ``run_id`` as ``runs/r<run_id>.NAME.parquet`` (whole or
    not at all); returns the SHA-256 of each file, for the run's record."""
    sums = {}
    for name, df in tables.items():
        path = store / "runs" / f"r{run_id:0{width}d}.{name}.parquet"
        tmp = path.with_name(f".{path.name}.tmp")
        df.to_parquet(tmp, index=False)
        sums[name] = hashlib.sha256(tmp.read_bytes()).hexdigest()
        os.replace(tmp, path)
    return sums


def read_table(store: Path, rec: dict[str, Any], name: str, width: int) -> pd.DataFrame:
    """The kept table ``name`` of the run record ``rec``, checked against its SHA-256."""
    import io

    import pandas as pd

    path = store / "runs" / f"r{rec['run_id']:0{width}d}.{name}.parquet"
    try:
        data = path.read_bytes()
    except OSError as err:
        raise StoreError(f"{path}: cannot be read ({err.strerror or err})") from None
    if hashlib.sha256(data).hexdigest() != rec.get("tables", {}).get(name):
        raise StoreError(f"{path}: checksum mismatch: the file was changed after it was written")
    return pd.read_parquet(io.BytesIO(data))


def append_failure(store: Path, rec: dict[str, Any]) -> None:
    """Add one failed run (with its traceback) to ``failures.jsonl``."""
    with (store / "failures.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(rec, default=str) + "\n")


def read_runs(store: Path, definition: dict[str, Any]) -> tuple[list[dict], list[str]]:
    """Every valid finished run of the store, in run order, and a note for each run file set
    aside (see :func:`check_runs` and :func:`set_aside`)."""
    valid, bad = check_runs(store, definition)
    return [valid[k] for k in sorted(valid)], set_aside(store, bad)


def _check_definition(path: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    definition = manifest.get("definition")
    if manifest.get("kind") != STORE_KIND or not isinstance(definition, dict):
        raise StoreError(f"{path}: not the manifest of a sweep store")
    if (
        manifest.get("definition_sha256")
        != hashlib.sha256(canonical(definition).encode()).hexdigest()
    ):
        raise StoreError(f"{path}: the definition does not match its checksum (edited?)")
    points, reps, seed = (definition.get(k) for k in ("points", "replications", "seed"))
    if definition.get("design") == "optimize":  # an adaptive store: no fixed grid of runs
        points, reps = [], 1
    if (
        not isinstance(points, list)
        or not all(isinstance(p, dict) for p in points)
        or not isinstance(reps, int)
        or reps < 1
        or not isinstance(seed, int)
        or seed < 0
        or not isinstance(definition.get("vary"), dict)
        or not isinstance(definition.get("design"), str)
    ):
        raise StoreError(f"{path}: the definition lacks points, replications, seed or vary")
    return definition


def read_complete_store(store: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """The definition and ``results.csv`` of a finished sweep, for ``report``: the manifest,
    every run file and the table are checked, and nothing in the store is changed.

    Raises:
        StoreError: the store is not complete, or a file of it is missing or damaged (the
            error names it, and how to repair the store: ``--resume``).
    """
    import pandas as pd

    path = store / "manifest.json"
    if not path.is_file():
        raise StoreError(f"{path}: missing; {store} is not a sweep store")
    definition = _check_definition(path, _read_manifest(store))
    if not (store / "runs").is_dir():
        raise StoreError(f"{store / 'runs'}: missing; the store has lost its run files")
    valid, bad = check_runs(store, definition)
    if bad:
        listed = "; ".join(f"{f.relative_to(store)}: {why}" for f, why in bad[:3])
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise StoreError(
            f"{store}: {len(bad)} damaged run file(s) ({listed}{more}); openbank-sim sweep ... "
            "--resume sets them aside and runs them again"
        )
    table_path = store / "results.csv"
    if not table_path.exists():
        raise StoreError(
            f"{store}: the sweep is not complete (no results.csv); finish it with "
            "openbank-sim sweep ... --resume"
        )
    if "points" in definition:
        ids = list(range(len(definition["points"]) * definition["replications"]))
    else:  # an adaptive store (optimize) holds the runs it chose to make
        ids = sorted(valid)
    missing = sorted(set(ids) - set(valid))
    if missing:
        raise StoreError(
            f"{store}: run(s) {', '.join(map(str, missing[:5]))} have no run file although "
            "results.csv exists; openbank-sim sweep ... --resume runs them again"
        )
    try:
        table = pd.read_csv(table_path)
    except Exception as err:  # every reader error is a damaged file here
        raise StoreError(f"{table_path}: not a readable CSV file ({type(err).__name__})") from None
    expected = [valid[i]["seed"] for i in ids]
    if (
        "run_id" not in table.columns
        or "seed" not in table.columns
        or table["run_id"].tolist() != ids
        or table["seed"].tolist() != expected
    ):
        raise StoreError(
            f"{table_path}: its run ids and seeds are not those of the run files (edited or "
            "damaged); delete it and run openbank-sim sweep ... --resume to write it again"
        )
    for col in table.columns:
        if col in definition["vary"]:
            continue
        if table[col].dtype.kind not in "iufb" and not table[col].isna().all():
            raise StoreError(f"{table_path}: column {col!r} is not numeric (edited or damaged)")
    return definition, table


def load_sweep_store(
    store: Path,
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Any sweep (or optimize) store, read without changing a file: its definition, its
    valid runs in run order, its failures (``failures.jsonl``, the lines that read) and a
    note for each run file that is not counted.

    Raises:
        StoreError: no manifest, or a manifest that is not a sweep store's or was edited.
    """
    path = store / "manifest.json"
    if not path.is_file():
        raise StoreError(f"{path}: missing; {store} is not a sweep store")
    definition = _check_definition(path, _read_manifest(store))
    valid, bad = check_runs(store, definition) if (store / "runs").is_dir() else ({}, [])
    notes = [
        f"{f.relative_to(store)}: {why}; not counted (resuming the sweep sets it aside and "
        "runs it again)"
        for f, why in bad
    ]
    failures: list[dict[str, Any]] = []
    try:
        lines = (store / "failures.jsonl").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        lines = []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if (
            isinstance(rec, dict)
            and isinstance(rec.get("run_id"), int)
            and rec["run_id"] not in valid
        ):
            failures.append(rec)
    return definition, [valid[k] for k in sorted(valid)], failures, notes


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
