"""Tasks whose worker process dies, for the tests of the ``processes`` executor.

They live in a module of their own (``tests/`` is on ``sys.path``, see ``tests/conftest.py``) so
that worker processes can unpickle them by name. A worker running one of the doomed tasks ends
with ``os._exit``, as a process killed by the kernel would: no exception, no clean-up.
"""

from __future__ import annotations

import os
from typing import Any

# the sweep run whose worker dies, and the numbers whose square kills the worker
DYING_RUN = 3
DYING_NUMBERS = (3, 7)


def run_or_die(task: tuple) -> dict[str, Any]:
    """:func:`openbank_sim.experiments.runs.run_task`, except that run ``DYING_RUN`` kills its
    worker."""
    from openbank_sim.experiments.runs import run_task

    if task[0] == DYING_RUN:
        os._exit(1)
    return run_task(task)


def square_or_die(x: int) -> int:
    """``x * x``; the worker dies for the numbers in ``DYING_NUMBERS``."""
    if x in DYING_NUMBERS:
        os._exit(1)
    return x * x


def run_slowly(task: tuple) -> dict[str, Any]:
    """Record this worker's pid in the folder ``$OPENBANK_SIM_PID_DIR`` and sleep 60 s: a run
    that is still computing when its sweep is killed."""
    import time
    from pathlib import Path

    folder = Path(os.environ["OPENBANK_SIM_PID_DIR"])
    (folder / f"{os.getpid()}.pid").write_text(str(os.getpid()), encoding="utf-8")
    time.sleep(60.0)
    raise RuntimeError("the sweep should have been killed by now")


def square_slowly(x: int) -> int:
    """``x * x`` after 0 s for 0 and 30 s for anything else: runs still in flight when an
    interrupt comes."""
    import time

    if x:
        time.sleep(30.0)
    return x * x
