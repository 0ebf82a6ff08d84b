"""Fixtures shared by every test folder.

pytest's default ``prepend`` import mode puts this file's folder, ``tests/``, on ``sys.path``, so
any test module imports the shared scenario text with ``from minimal_scenario import ...``, as
the validation tests import ``theory``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from minimal_scenario import MINIMAL_TOML


@pytest.fixture
def minimal_scenario_path(tmp_path: Path) -> Path:
    """:data:`minimal_scenario.MINIMAL_TOML` written to ``tmp_path/minimal.toml``."""
    path = tmp_path / "minimal.toml"
    path.write_text(MINIMAL_TOML, encoding="utf-8")
    return path
