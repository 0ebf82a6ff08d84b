"""``openbank-sim run`` shows a bar over simulated time on a terminal, and none when asked
not to (``--quiet``, ``--json``) or when stderr is not a terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

import pytest

RUN = [sys.executable, "-m", "openbank_sim", "run", "medical", "--set", "run.horizon=6h"]


def _stderr_on_a_terminal(*extra: str) -> str:
    """Run the CLI with stderr on a pseudo-terminal; returns what reached it."""
    main, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 24 x 100
    proc = subprocess.Popen(
        [*RUN, *extra], stdout=subprocess.DEVNULL, stderr=side, stdin=subprocess.DEVNULL
    )
    os.close(side)
    chunks = []
    while True:
        try:
            data = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    assert proc.wait(timeout=120) == 0
    return b"".join(chunks).decode(errors="replace")


def test_run_on_a_terminal_shows_a_bar_with_an_eta():
    err = _stderr_on_a_terminal()
    assert "medical:" in err and "6.0/6 h simulated" in err and "<" in err


@pytest.mark.parametrize("flag", ["--quiet", "--json"])
def test_quiet_and_json_show_no_bar(flag):
    assert "h simulated" not in _stderr_on_a_terminal(flag)


def test_no_bar_when_stderr_is_not_a_terminal():
    proc = subprocess.run(RUN, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "h simulated" not in proc.stderr
