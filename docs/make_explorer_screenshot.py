"""Draw ``docs/explorer.png``: the explorer panel of the e-commerce scenario, as Jupyter shows
it (``make explorer-screenshot``).

The panel is built in this process exactly as ``notebooks/00_explore.ipynb`` builds it, one
lever is moved as a slider drag would move it (so the KPI card and the figures come from a real
update), and the widgets' state is exported with :mod:`ipywidgets.embed`. The page is rendered
offline by the ``@jupyter-widgets/html-manager`` bundle (installed from npm into
``build/explorer-screenshot/``, outside git) and photographed by headless chromium.

Outside Jupyter the panel keeps its figures in :attr:`Explorer.figures` and leaves its output
area empty; this script puts those same figures, as PNG, into that output area before the
export, which is what Jupyter's display of them does.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from openbank_sim import explore

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
BUILD = ROOT / "build" / "explorer-screenshot"
HTML_MANAGER = "@jupyter-widgets/html-manager@1.0.15"  # the bundle ipywidgets 8 embeds
BUNDLE = BUILD / "node_modules" / "@jupyter-widgets" / "html-manager" / "dist" / "embed.js"
BROWSER = os.environ.get("BROWSER", "/usr/bin/chromium")
WINDOW = (1000, 1860)  # px: the panel, its card and its three figures
JUPYTER_LOOK = (  # the font and size JupyterLab gives cell outputs
    "<style>body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,"
    "sans-serif;font-size:13px;margin:16px}</style>"
)
LEVERS = {  # the notebook's levers (notebooks/00_explore.ipynb)
    "bank.pools.core.servers": {"low": 1, "high": 8},
    "gateway.limits.0.rate": {"low": 3.0, "high": 48.0},
    "partners.0.users": {"low": 400_000, "high": 6_400_000},
}
CORE_SERVERS = 3  # the lever moved before the picture (the scenario ships 2)


def html_manager_bundle() -> Path:
    """The html-manager's ``embed.js``, installed from the npm registry on first use."""
    if not BUNDLE.exists():
        BUILD.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(BUILD), HTML_MANAGER],
            check=True,
        )
    return BUNDLE


def figure_outputs(figures: list[Any]) -> tuple[dict[str, Any], ...]:
    """The figures as the display outputs Jupyter keeps for them (PNG at 100 dpi)."""
    outputs = []
    for fig in figures:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        outputs.append(
            {
                "output_type": "display_data",
                "data": {
                    "image/png": base64.b64encode(buf.getvalue()).decode("ascii"),
                    "text/plain": repr(fig),
                },
                "metadata": {},
            }
        )
    return tuple(outputs)


def panel_html(bundle_url: str) -> str:
    """The explorer of ``ecommerce`` after one update, as a page of embedded widgets."""
    from ipywidgets import Output
    from ipywidgets.embed import embed_minimal_html

    panel = explore("ecommerce", LEVERS, seed=1)
    panel.controls["bank.pools.core.servers"].value = CORE_SERVERS  # runs the scenario again
    assert panel.runs == 2, "the lever did not trigger an update"
    plots = panel.panel.children[-1]
    assert isinstance(plots, Output)
    plots.outputs = figure_outputs(panel.figures)
    buf = io.StringIO()
    embed_minimal_html(
        buf,
        views=[panel.panel],
        title="openbank_sim explorer: ecommerce",
        embed_url=bundle_url,
        requirejs=False,
        cors=False,
        drop_defaults=True,
    )
    return buf.getvalue().replace("</head>", JUPYTER_LOOK + "\n</head>", 1)


def screenshot(page: Path, out: Path) -> None:
    """Headless chromium's picture of ``page`` (local files only, a few seconds to render)."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                BROWSER,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--allow-file-access-from-files",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=15000",
                f"--window-size={WINDOW[0]},{WINDOW[1]}",
                f"--screenshot={out}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DOCS / "explorer.png")
    args = parser.parse_args()
    if shutil.which(BROWSER) is None:
        print(f"needs a headless chromium at {BROWSER} (make browser)", file=sys.stderr)
        return 1
    bundle = html_manager_bundle()
    page = BUILD / "explorer.html"
    page.write_text(panel_html(bundle.relative_to(BUILD).as_posix()), encoding="utf-8")
    screenshot(page, args.out.resolve())
    print(f"{args.out}  <-  {page.relative_to(ROOT)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
