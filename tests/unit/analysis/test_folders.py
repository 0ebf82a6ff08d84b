"""Results folders on disk (:mod:`openbank_sim.analysis.folders` and
:mod:`openbank_sim.analysis.readback`: ``Results.save``, ``Results.load``, ``openbank-sim
report``).

Contract (the module docstring): ``save`` never deletes or replaces a file it did not write; a
folder holding anything but this project's own run outputs is refused (an
:class:`OutputFolderError`, a ``FileExistsError``) unless ``overwrite``, and even then only
this project's files are replaced; writing goes to a temporary sibling first, so a crash leaves
the folder as it was. ``load`` (and ``report``) read only this project's files, by their own
names, inside the folder, and every malformed piece is one :class:`ResultsFolderError` naming
the file and what is wrong (exit 2 and one line on the command line).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from minimal_scenario import minimal_toml

from openbank_sim import Results, Scenario, simulate
from openbank_sim.analysis import folders
from openbank_sim.analysis import results as results_module
from openbank_sim.analysis.folders import OutputFolderError
from openbank_sim.analysis.readback import ResultsFolderError
from openbank_sim.cli import main

# The minimal scenario for an hour, with the call log on (so that a first save has a table,
# ``calls``, that a second one without the log does not write).
SMALL = minimal_toml(
    prepend='name = "folders"\n[run]\nhorizon = "1h"\nwarmup = "5m"\ntime_bin = "10m"\n'
    'record_calls = "all"\n\n'
)


@pytest.fixture(scope="module")
def results() -> Results:
    """One small run, with the call log."""
    import tomllib

    return simulate(Scenario(tomllib.loads(SMALL)), seed=1)


@pytest.fixture(scope="module")
def results_other(results: Results) -> Results:
    """Another run of the same scenario (another seed) without the call log."""
    import tomllib

    raw = tomllib.loads(SMALL)
    raw["run"]["record_calls"] = "none"
    return simulate(Scenario(raw), seed=2)


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``directory``: relative path -> (contents, mtime in ns)."""
    return {
        str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def siblings(directory: Path) -> list[str]:
    """The names next to ``directory`` (temporary folders left behind would show here)."""
    return sorted(p.name for p in directory.parent.iterdir())


def user_files(folder: Path) -> None:
    """A notes file and a folder of the user's in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text("keep me", encoding="utf-8")
    (folder / "data").mkdir(exist_ok=True)
    (folder / "data" / "raw.csv").write_text("a,b\n1,2\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Writing: the folder is the user's
# --------------------------------------------------------------------------------------------


def test_save_writes_a_marked_manifest_and_the_shape_of_every_table(
    results: Results, tmp_path: Path
) -> None:
    out = results.save(tmp_path / "run")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == folders.RUN_KIND
    assert manifest["format"] == folders.RUN_FORMAT
    assert manifest["summary_kpis"] == len(results.kpis)
    assert set(manifest["tables"]) == set(results.tables) and "calls" in manifest["tables"]
    for name, df in results.tables.items():
        assert manifest["table_shapes"][name]["rows"] == len(df)
        assert list(manifest["table_shapes"][name]["columns"]) == list(df.columns)
    assert siblings(out) == ["run"]


def test_saving_again_replaces_only_this_projects_files(
    results: Results, results_other: Results, tmp_path: Path
) -> None:
    """A folder holding one run (and report's figures) takes another run without being asked:
    every file is the new run's, the old run's extra table is gone."""
    out = results.save(tmp_path / "run")
    (out / "figures").mkdir()
    (out / "figures" / "latency_throughput.png").write_bytes(b"\x89PNG old")
    (out / "latency_throughput.png").write_bytes(b"\x89PNG old")
    results_other.save(out)
    back = Results.load(out)
    assert back.manifest["seed"] == 2
    assert "calls" not in back.tables
    assert not (out / "calls.parquet").exists()
    assert not (out / "figures").exists() and not (out / "latency_throughput.png").exists()
    assert siblings(out) == ["run"]


@pytest.mark.parametrize("with_run", [False, True], ids=["plain-folder", "run-folder"])
def test_a_folder_with_other_files_is_refused_untouched(
    results: Results, tmp_path: Path, with_run: bool
) -> None:
    out = tmp_path / "out"
    if with_run:
        results.save(out)
    user_files(out)
    before = snapshot(out)
    with pytest.raises(OutputFolderError) as info:
        results.save(out)
    err = info.value
    assert isinstance(err, FileExistsError)
    assert str(out) in str(err) and "notes.txt" in str(err) and "data" in str(err)
    assert "overwrite=True" in str(err) and "Nothing was changed" in str(err)
    assert err.foreign == ["data", "notes.txt"]
    assert snapshot(out) == before
    assert siblings(out) == ["out"]


def test_a_foreign_file_in_figures_makes_the_folder_foreign(
    results: Results, tmp_path: Path
) -> None:
    out = results.save(tmp_path / "run")
    (out / "figures").mkdir()
    (out / "figures" / "my_chart.svg").write_text("<svg/>", encoding="utf-8")
    with pytest.raises(OutputFolderError, match=r"figures/my_chart\.svg"):
        results.save(out)


def test_a_sweep_store_is_refused(results: Results, tmp_path: Path) -> None:
    store = tmp_path / "store"
    (store / "runs").mkdir(parents=True)
    (store / "manifest.json").write_text('{"kind": "openbank_sim.sweep"}', encoding="utf-8")
    before = snapshot(store)
    with pytest.raises(OutputFolderError, match="is a sweep store"):
        results.save(store)
    with pytest.raises(OutputFolderError, match=r"manifest\.json"):  # a name the results need
        results.save(store, overwrite=True)
    assert snapshot(store) == before


def test_overwrite_replaces_this_projects_files_and_nothing_else(
    results: Results, results_other: Results, tmp_path: Path
) -> None:
    out = results.save(tmp_path / "out")
    user_files(out)
    mine = {k: v for k, v in snapshot(out).items() if k in ("notes.txt", "data/raw.csv")}
    results_other.save(out, overwrite=True)
    after = snapshot(out)
    assert {k: after[k] for k in mine} == mine  # the user's bytes and time stamps
    back = Results.load(out)
    assert back.manifest["seed"] == 2
    assert not (out / "calls.parquet").exists()  # the old run's own file, not the user's
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["data", "notes.txt", "manifest.json", "summary.csv", "histograms.json"]
        + [f"{n}.parquet" for n in results_other.tables]
    )
    assert siblings(out) == ["out"]


def test_overwrite_never_replaces_a_users_file_of_a_name_the_results_use(
    results: Results, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.csv").write_text("my own summary\n", encoding="utf-8")
    (out / "timeseries.parquet").write_bytes(b"mine")
    before = snapshot(out)
    with pytest.raises(OutputFolderError, match=r"summary\.csv"):
        results.save(out, overwrite=True)
    (out / "summary.csv").unlink()
    before.pop("summary.csv")
    with pytest.raises(OutputFolderError, match=r"timeseries\.parquet"):  # found once written
        results.save(out, overwrite=True)
    assert snapshot(out) == before
    assert siblings(out) == ["out"]


def test_a_file_in_the_way_is_refused(results: Results, tmp_path: Path) -> None:
    path = tmp_path / "out"
    path.write_text("a file", encoding="utf-8")
    with pytest.raises(FileExistsError, match="not a folder"):
        results.save(path)
    assert path.read_text(encoding="utf-8") == "a file"


def test_a_folder_written_before_the_marker_is_still_this_projects(
    results: Results, results_other: Results, tmp_path: Path
) -> None:
    out = results.save(tmp_path / "out")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for key in ("kind", "format", "table_shapes", "summary_kpis"):
        manifest.pop(key)
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert Results.load(out).kpis == pytest.approx(results.kpis, nan_ok=True)
    results_other.save(out)  # recognised as a run folder: no overwrite needed
    assert Results.load(out).manifest["seed"] == 2


def test_a_link_to_a_folder_stays_a_link(
    results: Results, results_other: Results, tmp_path: Path
) -> None:
    real = results.save(tmp_path / "disk" / "run")
    link = tmp_path / "run"
    link.symlink_to(real)
    assert results_other.save(link) == link
    assert link.is_symlink() and Results.load(real).manifest["seed"] == 2


def _failing_parquet_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the second table written fail, as a full disk would."""
    original = pd.DataFrame.to_parquet
    calls = []

    def to_parquet(self: pd.DataFrame, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", to_parquet)


@pytest.mark.parametrize("case", ["new", "run-folder", "with-user-files"])
def test_a_crash_while_writing_leaves_the_folder_as_it_was(
    results: Results,
    results_other: Results,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    out = tmp_path / "out"
    if case != "new":
        results.save(out)
    if case == "with-user-files":
        user_files(out)
    before = snapshot(out) if out.exists() else None
    _failing_parquet_writer(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        results_other.save(out, overwrite=True)
    if before is None:
        assert not out.exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == []
    else:
        assert snapshot(out) == before
        assert siblings(out) == ["out"]
        assert Results.load(out).manifest["seed"] == 1


def test_a_crash_while_moving_files_in_puts_the_old_ones_back(
    results: Results, results_other: Results, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the user's files in the folder the new files are moved in one by one; an error
    half way moves everything back."""
    out = results.save(tmp_path / "out")
    user_files(out)
    before = snapshot(out)
    original = os.replace

    def replace(src: Any, dst: Any) -> None:
        moving_in = Path(src).parent.name.startswith(".out.") and ".old." not in str(src)
        if Path(dst) == out / "summary.csv" and moving_in:
            raise OSError(5, "Input/output error")
        original(src, dst)

    monkeypatch.setattr(folders.os, "replace", replace)
    with pytest.raises(OSError, match="Input/output error"):
        results_other.save(out, overwrite=True)
    assert snapshot(out) == before
    assert siblings(out) == ["out"]


# --------------------------------------------------------------------------------------------
# Reading: every file checked, one clear error each
# --------------------------------------------------------------------------------------------


def _edit_json(name: str, edit: Callable[[Any], Any]) -> Callable[[Path], None]:
    def tamper(d: Path) -> None:
        data = json.loads((d / name).read_text(encoding="utf-8"))
        data = edit(data) or data
        (d / name).write_text(json.dumps(data), encoding="utf-8")

    return tamper


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(m: dict[str, Any]) -> None:
        m[key] = value

    return edit


def _set_table(name: str, file: Any) -> Callable[[dict[str, Any]], None]:
    def edit(m: dict[str, Any]) -> None:
        m["tables"][name] = file

    return edit


def _write(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda d: (d / name).write_bytes(data)


def _truncate(name: str) -> Callable[[Path], None]:
    def tamper(d: Path) -> None:
        data = (d / name).read_bytes()
        (d / name).write_bytes(data[: len(data) // 2])

    return tamper


def _summary_cut_mid_line(d: Path) -> None:
    text = (d / "summary.csv").read_text(encoding="utf-8")
    (d / "summary.csv").write_text(text[: text.index(",", len(text) // 2)], encoding="utf-8")


def _summary_cut_at_a_line(d: Path) -> None:
    lines = (d / "summary.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (d / "summary.csv").write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")


def _summary_value(value: str) -> Callable[[Path], None]:
    def tamper(d: Path) -> None:
        lines = (d / "summary.csv").read_text(encoding="utf-8").splitlines()
        lines[3] = lines[3].split(",")[0] + "," + value
        (d / "summary.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    return tamper


def _summary_duplicate(d: Path) -> None:
    lines = (d / "summary.csv").read_text(encoding="utf-8").splitlines()
    lines[-1] = lines[1]
    (d / "summary.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _other_table(d: Path) -> None:
    (d / "by_pool.parquet").write_bytes((d / "by_product.parquet").read_bytes())


def _rows_dropped(d: Path) -> None:
    df = pd.read_parquet(d / "timeseries.parquet")
    df.iloc[:-1].to_parquet(d / "timeseries.parquet", index=False)


def _column_retyped(d: Path) -> None:
    df = pd.read_parquet(d / "timeseries.parquet")
    df["calls_ok"] = df["calls_ok"].astype(str)
    df.to_parquet(d / "timeseries.parquet", index=False)


def _link_outside(d: Path) -> None:
    outside = d.parent / "elsewhere.parquet"
    outside.write_bytes((d / "by_pool.parquet").read_bytes())
    (d / "by_pool.parquet").unlink()
    (d / "by_pool.parquet").symlink_to(outside)


def _histogram(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def whole(h: dict[str, Any]) -> None:
        edit(next(iter(h.values())))

    return _edit_json("histograms.json", whole)


def _pop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda h: h.pop(key) and None


# case -> (tamper, the file the error names, a fragment of the reason)
TAMPERS: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "manifest-missing": (lambda d: (d / "manifest.json").unlink(), "manifest.json", "missing"),
    "manifest-garbage": (_write("manifest.json", b"\x93NUMPY\x00\xff"), "manifest.json", "UTF-8"),
    "manifest-not-json": (_write("manifest.json", b"tables = 3"), "manifest.json", "valid JSON"),
    "manifest-truncated": (_truncate("manifest.json"), "manifest.json", "not valid JSON"),
    "manifest-not-an-object": (_write("manifest.json", b"[1, 2]"), "manifest.json", "object"),
    "manifest-other-kind": (
        _edit_json("manifest.json", _set("kind", "other.tool")),
        "manifest.json",
        "kind 'other.tool'",
    ),
    "manifest-sweep-kind": (
        _edit_json("manifest.json", _set("kind", "openbank_sim.sweep")),
        "manifest.json",
        "sweep store",
    ),
    "manifest-newer-format": (
        _edit_json("manifest.json", _set("format", 99)),
        "manifest.json",
        "format 99",
    ),
    "manifest-warmup-not-a-number": (
        _edit_json("manifest.json", _set("warmup_s", "soon")),
        "manifest.json",
        "warmup_s",
    ),
    "manifest-start-not-a-date": (
        _edit_json("manifest.json", _set("start", "someday")),
        "manifest.json",
        "start",
    ),
    "manifest-tables-not-an-object": (
        _edit_json("manifest.json", _set("tables", ["by_pool.parquet"])),
        "manifest.json",
        "tables",
    ),
    "manifest-table-absolute": (
        _edit_json("manifest.json", _set_table("by_pool", "/etc/hostname")),
        "manifest.json",
        "absolute path",
    ),
    "manifest-table-leaves-the-folder": (
        _edit_json("manifest.json", _set_table("by_pool", "../other/by_pool.parquet")),
        "manifest.json",
        "leaves the results folder",
    ),
    "manifest-table-in-a-subfolder": (
        _edit_json("manifest.json", _set_table("by_pool", "sub/by_pool.parquet")),
        "manifest.json",
        "not a file of the results folder itself",
    ),
    "manifest-table-under-another-name": (
        _edit_json("manifest.json", _set_table("by_pool", "notes.pkl")),
        "manifest.json",
        "not the name this project writes",
    ),
    "manifest-shapes-malformed": (
        _edit_json("manifest.json", _set("table_shapes", {"by_pool": 3})),
        "manifest.json",
        "table_shapes",
    ),
    "summary-missing": (lambda d: (d / "summary.csv").unlink(), "summary.csv", "missing"),
    "summary-empty": (_write("summary.csv", b""), "summary.csv", "empty"),
    "summary-garbage": (_write("summary.csv", b"\xff\xfe\x00\x01"), "summary.csv", "UTF-8"),
    "summary-bad-header": (_write("summary.csv", b"name;value\n"), "summary.csv", "header"),
    "summary-non-numeric": (_summary_value("fast"), "summary.csv", "'fast'"),
    "summary-cut-mid-line": (_summary_cut_mid_line, "summary.csv", "field(s)"),
    "summary-cut-at-a-line": (_summary_cut_at_a_line, "summary.csv", "the manifest says"),
    "summary-duplicate-kpi": (_summary_duplicate, "summary.csv", "twice"),
    "parquet-missing": (lambda d: (d / "by_pool.parquet").unlink(), "by_pool.parquet", "missing"),
    "parquet-truncated": (_truncate("timeseries.parquet"), "timeseries.parquet", "Parquet"),
    "parquet-garbage": (_write("by_pool.parquet", os.urandom(600)), "by_pool.parquet", "Parquet"),
    "parquet-of-another-table": (_other_table, "by_pool.parquet", "columns differ"),
    "parquet-rows-dropped": (_rows_dropped, "timeseries.parquet", "the manifest says"),
    "parquet-column-retyped": (_column_retyped, "timeseries.parquet", "calls_ok"),
    "parquet-link-outside": (_link_outside, "by_pool.parquet", "is a link"),
    "histograms-garbage": (_write("histograms.json", b"{oops"), "histograms.json", "valid JSON"),
    "histograms-not-an-object": (_write("histograms.json", b"[]"), "histograms.json", "object"),
    "histograms-negative-count": (
        _histogram(_set("count", -1.0)),
        "histograms.json",
        "histogram",
    ),
    "histograms-missing-bins": (_histogram(_pop("bins")), "histograms.json", "histogram"),
    "histograms-bad-index": (
        _histogram(lambda h: h["bins"]["indices"].__setitem__(0, "x")),
        "histograms.json",
        "bin index",
    ),
}


def assert_one_clear_error(
    capsys: pytest.CaptureFixture[str], folder: Path, file: str, fragment: str
) -> None:
    """``Results.load`` and ``openbank-sim report`` both refuse ``folder`` with one error
    naming ``file`` and saying ``fragment``."""
    with pytest.raises(ResultsFolderError) as info:
        Results.load(folder)
    err = info.value
    assert Path(err.file).name == file, str(err)
    assert fragment in err.reason, str(err)
    assert "\n" not in str(err)
    assert err.__cause__ is None
    code = main(["report", str(folder)])
    out, stderr = capsys.readouterr()
    assert code == 2, stderr
    assert out == ""
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("openbank-sim: error: ") and file in lines[0]
    assert not (folder / "figures").exists()


@pytest.mark.parametrize("case", list(TAMPERS))
def test_a_tampered_file_is_one_clear_error(
    results: Results, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    tamper, file, fragment = TAMPERS[case]
    folder = results.save(tmp_path / "run")
    tamper(folder)
    assert_one_clear_error(capsys, folder, file, fragment)


CSV_TAMPERS: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "csv-truncated": (_truncate("timeseries.csv"), "timeseries.csv", "the manifest says"),
    "csv-garbage": (_write("by_pool.csv", os.urandom(600)), "by_pool.csv", "CSV"),
    "csv-other-columns": (_write("by_pool.csv", b"a,b\n1,2\n"), "by_pool.csv", "columns differ"),
    "csv-empty": (_write("journeys.csv", b""), "journeys.csv", "CSV"),
}


@pytest.mark.parametrize("case", list(CSV_TAMPERS))
def test_a_tampered_csv_table_is_one_clear_error(
    results: Results,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    """Without pyarrow tables are CSV files, checked the same way."""
    monkeypatch.setattr(results_module, "_has_pyarrow", lambda: False)
    folder = results.save(tmp_path / "run")
    assert (folder / "timeseries.csv").exists()
    assert Results.load(folder).kpis == pytest.approx(results.kpis, nan_ok=True)
    tamper, file, fragment = CSV_TAMPERS[case]
    tamper(folder)
    assert_one_clear_error(capsys, folder, file, fragment)


def test_load_never_opens_a_file_outside_the_folder(
    results: Results, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manifest naming ``/etc/hostname`` or a sibling folder's table is refused before any
    table is read: no reader is called with a path outside the folder."""
    folder = results.save(tmp_path / "run")
    other = results.save(tmp_path / "other")
    opened: list[Path] = []
    original = pd.read_parquet

    def read_parquet(path: Any, *args: Any, **kwargs: Any) -> pd.DataFrame:
        opened.append(Path(path))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(pd, "read_parquet", read_parquet)
    for target in ("/etc/hostname", "../other/by_pool.parquet", str(other / "by_pool.parquet")):
        _edit_json("manifest.json", _set_table("by_pool", target))(folder)
        with pytest.raises(ResultsFolderError, match="by_pool"):
            Results.load(folder)
        assert all(p.resolve().parent == folder.resolve() for p in opened), opened


def test_an_intact_folder_reads_back_exactly(results: Results, tmp_path: Path) -> None:
    back = Results.load(results.save(tmp_path / "run"))
    assert back.kpis == pytest.approx(results.kpis, nan_ok=True)
    assert set(back.tables) == set(results.tables)
    for name, df in results.tables.items():
        # Parquet keeps datetime values, not always their unit (datetime64[s] reads as [ms])
        pd.testing.assert_frame_equal(back.tables[name], df, check_exact=True, check_dtype=False)
    assert set(back.histograms) == set(results.histograms)


def test_a_missing_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ResultsFolderError, match="no such folder"):
        Results.load(tmp_path / "nowhere")
