"""``report DIR --html FILE`` and ``Results.to_html``: one self-contained HTML report.

The report is rendered in a real headless browser, Debian's chromium (``make browser``
installs it; ``make test`` depends on it), driven by playwright from the dev extras with the
system's binary (playwright never downloads a browser here). Every image must load, the
console must stay free of errors and the only request must be the file itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from minimal_scenario import minimal_toml

from openbank_sim.analysis.html_report import scenario_digest
from openbank_sim.analysis.results import Results
from openbank_sim.cli import main

CHROMIUM = Path("/usr/bin/chromium")
# the machine's network is closed: without these chromium waits on connections of its own
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SMALL = minimal_toml(
    prepend='name = "small"\ndescription = "How fast does a small shop pay through one pool?"\n\n'
    '[run]\nhorizon = "30m"\ntime_bin = "1m"\n\n'
)
SERVERS = "bank.pools.core.servers"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "small.toml"
    path.write_text(SMALL, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run_folder(small: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "results"
    assert main(["run", str(small), "--out", str(out), "--quiet", "--seed", "3"]) == 0
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless chromium; fails (never skips) saying what is missing."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: the HTML report tests render in Debian's chromium; "
            "run `make browser` (or `make test`, which runs it) to install it",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "the playwright package is missing: install the dev extras "
            '(.venv/bin/pip install -e ".[dev]", or `make test`)',
            pytrace=False,
        )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


def render(browser: Any, path: Path) -> dict[str, Any]:
    """Open ``path`` in the browser: its images, console messages, page errors and requests."""
    page = browser.new_page()
    console: list[str] = []
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(path.resolve().as_uri(), wait_until="load", timeout=60_000)
        images = page.evaluate(
            "Array.from(document.images).map(i => "
            "({complete: i.complete, width: i.naturalWidth, alt: i.alt}))"
        )
        text = page.inner_text("body")
    finally:
        page.close()
    return {
        "images": images,
        "console": console,
        "errors": errors,
        "requests": requests,
        "text": text,
    }


def assert_renders_cleanly(browser: Any, path: Path, figures: int) -> str:
    """Every image loaded, no console message of type error, no request but the file."""
    seen = render(browser, path)
    assert len(seen["images"]) == figures, seen["images"]
    for img in seen["images"]:
        assert img["complete"] and img["width"] > 0, img
    assert [m for m in seen["console"] if m.startswith("error")] == [], seen["console"]
    assert seen["errors"] == []
    assert [u for u in seen["requests"] if not u.startswith("data:")] == [path.resolve().as_uri()]
    return str(seen["text"])


def assert_self_contained(text: str) -> None:
    """No link, script or resource outside the file: every src is a data: URI."""
    assert "<script" not in text.lower() and "<link" not in text.lower()
    assert "href=" not in text.lower()
    assert "http://" not in text and "https://" not in text
    assert "@import" not in text and "url(" not in text
    sources = re.findall(r'src="([^"]*)"', text)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_report_html_of_a_run_renders_in_a_browser(
    capsys: pytest.CaptureFixture[str], run_folder: Path, tmp_path: Path, browser: Any
) -> None:
    target = tmp_path / "report.html"
    code, out, err = cli(capsys, "report", run_folder, "--html", target)
    assert code == 0, err
    assert "calls_total" in out  # the table is printed as before
    assert f"HTML report written to {target}" in err
    text = target.read_text(encoding="utf-8")
    assert_self_contained(text)
    shown = assert_renders_cleanly(browser, target, figures=3)
    manifest = json.loads((run_folder / "manifest.json").read_text(encoding="utf-8"))
    # the question and the levers, read from the scenario the run used
    assert "How fast does a small shop pay through one pool?" in shown
    assert "Backend pools" in shown and "Gateway rate limits" in shown and "Partners (1)" in shown
    assert "30min" in shown  # the horizon
    # the KPI table with units and single-run intervals
    assert re.search(r"latency_p95_s\s+[\d.]+\s+s\b", shown)
    assert re.search(r"success_rate\s+[\d.]+\s+share\s+\[", shown)
    assert "batch means of 20 batches" in shown
    # provenance
    assert scenario_digest(manifest["scenario"]) in shown
    assert manifest["package_version"] in shown
    assert re.search(r"seed\s+3\b", shown)
    # nothing else was written beside the report but DIR/figures, as report always does
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_results_to_html_is_the_same_report(
    capsys: pytest.CaptureFixture[str], run_folder: Path, tmp_path: Path
) -> None:
    results = Results.load(run_folder)
    a = results.to_html(tmp_path / "a.html", source=str(run_folder))
    assert a == tmp_path / "a.html"
    assert cli(capsys, "report", run_folder, "--html", tmp_path / "b.html")[0] == 0
    # same results, same bytes (no time stamps; the PNGs carry no version or date)
    assert a.read_bytes() == (tmp_path / "b.html").read_bytes()


def test_report_html_of_a_sweep_store(
    capsys: pytest.CaptureFixture[str], small: Path, tmp_path: Path, browser: Any
) -> None:
    store = tmp_path / "store"
    sweep = ("sweep", small, "--vary", f"{SERVERS}=1,2", "--executor", "serial", "--quiet")
    assert cli(capsys, *sweep, "--out", store)[0] == 0
    target = tmp_path / "sweep.html"
    code, _out, err = cli(capsys, "report", store, "--html", target)
    assert code == 0, err
    assert_self_contained(target.read_text(encoding="utf-8"))
    shown = assert_renders_cleanly(browser, target, figures=1)
    assert "Sweep summary" in shown and SERVERS in shown
    assert "success_rate (share)" in shown and "latency_p95_s (s)" in shown
    definition = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
    scenario = definition.get("definition", definition)["scenario"]
    assert scenario_digest(scenario) in shown


@pytest.mark.parametrize("where", ["missing_dir", "a_directory", "inside_a_file"])
def test_report_html_bad_target_exits_2_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], run_folder: Path, tmp_path: Path, where: str
) -> None:
    (tmp_path / "afile").write_text("mine\n", encoding="utf-8")
    (tmp_path / "adir").mkdir()
    target, reason = {
        "missing_dir": (
            tmp_path / "nowhere" / "report.html",
            f"the directory {tmp_path / 'nowhere'} does not exist",
        ),
        "a_directory": (tmp_path / "adir", "is a directory"),
        "inside_a_file": (
            tmp_path / "afile" / "report.html",
            f"{tmp_path / 'afile'} is a file",
        ),
    }[where]
    before = sorted(p.name for p in run_folder.iterdir())
    code, out, err = cli(capsys, "report", run_folder, "--html", target)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    assert err.startswith("openbank-sim: error: --html: ") and err.count("\n") == 1
    assert reason in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "afile"]
    assert list((tmp_path / "adir").iterdir()) == []
    assert (tmp_path / "afile").read_text(encoding="utf-8") == "mine\n"
    assert sorted(p.name for p in run_folder.iterdir()) == before  # not even figures/
