"""Executors: where runs execute. One small interface, identical numbers on every backend.

* ``serial``: in this process, one run after another.
* ``processes`` (default): a pool of worker processes on this machine (all cores unless told
  otherwise). Workers start with ``forkserver`` (``spawn`` off Linux), so the pool is safe to
  use from Jupyter: no forked threads, no ``__main__`` guard needed, because the task function
  lives in this package.
* ``dask``: a ``distributed.Client``: the scheduler at ``address``, or a ``LocalCluster`` when
  none is given (extra ``dask``).

A task is a picklable tuple handled by a module-level function, so every backend runs exactly
the same code on exactly the same inputs; results do not depend on worker count or order.

Crash hygiene of the ``processes`` pool: a worker ends when the process that started the pool
dies (``prctl(PR_SET_PDEATHSIG)`` on Linux, and everywhere a thread that watches the parent
process id), so a killed sweep leaves no worker computing on; workers ignore SIGINT, and an
interrupt (Ctrl-C) in the main process kills them at once instead of waiting for their runs;
a script that starts a pool from its top level without the ``if __name__ == "__main__":``
guard is refused with one clear :class:`MainGuardError` before any process starts.
"""

from __future__ import annotations

import ast
import multiprocessing as mp
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

__all__ = [
    "EXECUTORS",
    "DaskExecutor",
    "Executor",
    "ExecutorError",
    "MainGuardError",
    "ProcessExecutor",
    "SerialExecutor",
    "make_executor",
]

EXECUTORS = ("serial", "processes", "dask")


class ExecutorError(RuntimeError):
    """An executor could not be set up (e.g. an unreachable Dask scheduler)."""


class MainGuardError(SystemExit):
    """A script starts worker processes from its top level without the ``__main__`` guard:
    every worker would import the script again and start the sweep again. A ``SystemExit``
    whose code is the message: uncaught, the script ends with that one line (exit code 1)
    instead of a traceback in every worker."""

    def __init__(self, message: str) -> None:
        super().__init__(f"openbank_sim: error: {message}")


class Executor(Protocol):
    """Runs ``fn(task)`` for many tasks; yields ``(task, result, error)`` as they finish."""

    workers: int

    def imap_unordered(
        self, fn: Callable[[Any], Any], tasks: Iterable[Any]
    ) -> Iterator[tuple[Any, Any, BaseException | None]]: ...

    def close(self) -> None: ...


class SerialExecutor:
    """Runs tasks one after another in this process."""

    workers = 1

    def imap_unordered(self, fn, tasks):
        for task in tasks:
            try:
                yield task, fn(task), None
            except Exception as err:  # a failing run never stops the others
                yield task, None, err

    def close(self) -> None:
        return None

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ProcessExecutor:
    """A pool of worker processes on this machine.

    A worker that dies (killed, out of memory, a crash in native code) breaks the whole pool:
    every task in flight then fails with ``BrokenProcessPool``. The executor replaces the pool
    and runs those tasks again one at a time, so the one whose worker dies again alone fails
    (with ``BrokenProcessPool``) and every other task gets its result.

    Args:
        workers: processes (default: all cores, ``os.cpu_count()``).
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        method = "forkserver" if sys.platform.startswith("linux") else "spawn"
        check_main_guard()
        self._ctx = mp.get_context(method)
        if method == "forkserver":
            # workers fork from a server that has imported the engine once
            self._ctx.set_forkserver_preload(
                ["openbank_sim.simulation", "openbank_sim.experiments.runs"]
            )
        self._pool = self._new_pool()
        self._killed = False  # the pool was killed by an interrupt: replaced on the next use

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._ctx,
            initializer=watch_parent,
            initargs=(os.getpid(),),
        )

    def _kill_workers(self) -> None:
        """End every worker now (their runs are lost; finished ones were already yielded)."""
        procs = list((getattr(self._pool, "_processes", None) or {}).values())
        manager = getattr(self._pool, "_executor_manager_thread", None)
        self._pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.join(timeout=1.0)
        # The pool's manager thread sees the dead workers and closes the pool's queues and
        # pipes; it must be done before the caller exits, whose finalizers close the same
        # queues (a race that printed a thread traceback after Ctrl-C).
        if manager is not None:
            manager.join(timeout=1.0)

    def _replace_pool(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = self._new_pool()

    def imap_unordered(self, fn, tasks):
        if self._killed:
            self._pool, self._killed = self._new_pool(), False
        try:
            yield from self._imap_unordered(fn, tasks)
        except KeyboardInterrupt:
            self._kill_workers()  # do not wait for the runs in flight
            # no new pool now: one made here would be starting its workers and registering
            # its semaphores while an interrupted command exits
            self._killed = True
            raise

    def _imap_unordered(self, fn, tasks):
        it = iter(tasks)
        # keep a bounded number of tasks in flight, so huge sweeps do not pickle everything
        limit = 4 * self.workers
        pending: dict[Future, Any] = {}
        suspects: deque[Any] = deque()  # in flight when a worker died: rerun one at a time
        alone = False  # whether the one task in flight is a suspect running alone
        exhausted = False
        while True:
            broken = False
            if suspects and not pending:
                task = suspects.popleft()
                alone = True
                try:
                    pending[self._pool.submit(fn, task)] = task
                except BrokenProcessPool:
                    suspects.appendleft(task)
                    broken = True
            elif not suspects:
                alone = False
                while not exhausted and len(pending) < limit:
                    task = next(it, _END)
                    if task is _END:
                        exhausted = True
                        break
                    try:
                        pending[self._pool.submit(fn, task)] = task
                    except BrokenProcessPool:
                        suspects.append(task)
                        broken = True
                        break
            if not pending and not suspects and not broken:
                return
            if pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    task = pending.pop(fut)
                    err = fut.exception()
                    if isinstance(err, BrokenProcessPool):
                        broken = True
                        if alone:
                            yield task, None, _worker_died(err)
                        else:
                            suspects.append(task)
                    else:
                        yield task, (None if err else fut.result()), err
            if broken:
                # every other task in flight fails with the pool (or finished just before)
                for fut in wait(pending).done:
                    task = pending.pop(fut)
                    err = fut.exception()
                    if isinstance(err, BrokenProcessPool):
                        suspects.append(task)
                    else:
                        yield task, (None if err else fut.result()), err
                self._replace_pool()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_END = object()
_WATCH_INTERVAL_S = 0.5
_PR_SET_PDEATHSIG = 1


def watch_parent(main_pid: int) -> None:
    """Worker initializer: ignore SIGINT (the main process handles Ctrl-C and ends the
    workers) and end this worker when its parent dies. The parent is the fork server (which
    exits when the main process ``main_pid`` does) or the main process itself (spawn): on
    Linux the kernel sends SIGKILL (``PR_SET_PDEATHSIG``); everywhere a daemon thread checks
    every 0.5 s that the parent process id has not changed and that ``main_pid`` lives."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the thread remains
            pass

    def orphaned() -> bool:
        if os.getppid() != parent:
            return True
        try:
            os.kill(main_pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # pragma: no cover - the pid exists, owned by another user
            return False
        return False

    if orphaned():  # the parent died before the watch was set
        os._exit(1)

    def watch() -> None:
        while True:
            if orphaned():
                os._exit(1)
            threading.Event().wait(_WATCH_INTERVAL_S)

    threading.Thread(target=watch, name="openbank-sim-parent-watch", daemon=True).start()


def check_main_guard() -> None:
    """Refuse to start worker processes from the unguarded top level of a script.

    Worker processes import the main script again (``spawn`` and ``forkserver`` do); without
    the ``if __name__ == "__main__":`` guard, that import would start the sweep again in every
    worker and end in pages of tracebacks. The check looks at the frame of the script's top
    level that is running now: when its line is not inside such a guard (or the script is
    being imported by a worker), a :class:`MainGuardError` says what to do. Jupyter, the REPL,
    ``python -c`` and the command line (guarded) pass.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not isinstance(path, str) or not path.endswith(".py"):
        return
    spec_name = getattr(getattr(main, "__spec__", None), "name", None)
    if spec_name is not None and (
        spec_name.endswith("__main__") or sys.platform.startswith("linux")
    ):
        return  # ``python -m pkg``: workers do not import it again (forkserver, or *.__main__)
    if getattr(main, "__name__", "__main__") == "__mp_main__":
        raise MainGuardError(_guard_message(path))
    frame = sys._getframe(1)
    line = None
    while frame is not None:
        if frame.f_globals is vars(main) and frame.f_code.co_name == "<module>":
            line = frame.f_lineno
        frame = frame.f_back  # type: ignore[assignment]
    if line is None:
        return
    try:
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read(), filename=path)
    except (OSError, SyntaxError, ValueError):  # pragma: no cover - cannot tell: allow it
        return
    for node in tree.body:
        if (
            isinstance(node, ast.If)
            and _is_main_test(node.test)
            and node.lineno <= line <= (node.end_lineno or node.lineno)
        ):
            return
    raise MainGuardError(_guard_message(path))


def _is_main_test(test: ast.expr) -> bool:
    """Whether ``test`` is ``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return False
    if not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    consts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(consts) == 1


def _guard_message(path: str) -> str:
    return (
        f"{path}: the 'processes' executor starts worker processes, which import this script "
        'again; put the code that runs the sweep under `if __name__ == "__main__":`, or pass '
        "executor='serial'"
    )


def _worker_died(cause: BaseException) -> BrokenProcessPool:
    err = BrokenProcessPool(
        "the worker process running this task died (killed, out of memory, or it exited) "
        "while it ran alone; the other tasks went on in a new pool"
    )
    err.__cause__ = cause
    return err


class DaskExecutor:
    """Runs tasks on a Dask cluster through ``distributed.Client``.

    Args:
        address: scheduler address (``tcp://host:8786``); None starts a ``LocalCluster``.
        workers: worker processes of the LocalCluster (default: all cores).
        timeout_s: how long to try to reach the scheduler before giving up.
    """

    def __init__(
        self, address: str | None = None, workers: int | None = None, timeout_s: float = 10.0
    ) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ExecutorError(
                "the dask executor needs the 'dask' extra: pip install 'openbank_sim[dask]'"
            ) from err
        self._cluster = None
        try:
            if address is None:
                self.workers = max(1, workers or os.cpu_count() or 1)
                self._cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
                self._client = Client(self._cluster, timeout=f"{timeout_s}s")
            else:
                self._client = Client(address, timeout=f"{timeout_s}s")
                self.workers = max(1, len(self._client.scheduler_info().get("workers", {})))
        except (OSError, TimeoutError) as err:
            if self._cluster is not None:
                self._cluster.close()
            raise ExecutorError(
                f"cannot reach the Dask scheduler at {address or 'a LocalCluster'} within "
                f"{timeout_s:g} s: {err}"
            ) from None

    def imap_unordered(self, fn, tasks):
        from distributed import as_completed

        tasks = list(tasks)
        futures = self._client.map(fn, tasks, pure=False)
        index = {f.key: t for f, t in zip(futures, tasks, strict=True)}
        for fut in as_completed(futures):
            task = index[fut.key]
            if fut.status == "error":
                yield task, None, fut.exception()
            else:
                yield task, fut.result(), None

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_executor(
    kind: str | Executor = "processes", workers: int | None = None, address: str | None = None
) -> Executor:
    """An executor by name (``serial``, ``processes``, ``dask``) or the one given."""
    if not isinstance(kind, str):
        return kind
    if kind == "serial":
        return SerialExecutor()
    if kind == "processes":
        return ProcessExecutor(workers)
    if kind == "dask":
        return DaskExecutor(address, workers)
    raise ValueError(f"unknown executor {kind!r}; expected one of {', '.join(EXECUTORS)}")
