"""Starting a run's process: ``autopack run ... --json`` with its own folder, environment and stderr file.

Two launchers with one contract (``RunProcess``: its pid, its stdout, ``wait()`` for the exit code,
negative for the signal that killed it):

- ``spawn_run``: a fresh ``python -m autopack.cli run ...`` (``subprocess.Popen``). Dask workers use
  it, and so does any machine without ``fork``.
- ``PreloadedLauncher``: the local pool's. The run is forked from a server process that has already
  imported what a run imports (autopack's run path and the SDKs of the providers the batch's runs can
  call), Python's ``multiprocessing`` forkserver with a preload list. A fresh interpreter spends about 1.6 s of CPU on
  imports before its first model call (``import anthropic`` alone is 1.1 s, ``python -X importtime``);
  a forked run starts in a few milliseconds, and 8 runs starting at once no longer queue for 2 cores.
  The server is started once per batch process (its imports once) and ends with it.

A preloaded run is still its own process (a crash or a kill of one run never touches another, and the
batch's same command resumes it): it sets its own working folder, environment, stdout pipe and stderr
file, and gets SIGTERM when the process that asked for it goes away, as a spawned one does. One
difference: interpreter settings read at start-up (``PYTHON*`` variables such as ``PYTHONUTF8``) are the
batch's, not the run's own environment's.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing import reduction
from multiprocessing.connection import wait as wait_for_sentinels
from pathlib import Path
from typing import IO, Any


@dataclass
class RunProcess:
    pid: int
    stdout: IO[bytes]
    wait: Callable[[], int]  # the exit code; -N when signal N killed it


Launcher = Callable[[list[str], Path, dict[str, str], Path], RunProcess]


def spawn_run(args: list[str], cwd: Path, env: dict[str, str], stderr_path: Path) -> RunProcess:
    """``autopack`` with ``args`` in a fresh interpreter."""
    with open(stderr_path, "ab") as err:
        proc = subprocess.Popen(  # noqa: PLW1509 (preexec_fn: one prctl call, no lock taken)
            [sys.executable, "-m", "autopack.cli", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )
    assert proc.stdout is not None
    return RunProcess(proc.pid, proc.stdout, proc.wait)


# The module the server imports before it forks runs (a run's code path; the SDKs are named per batch),
# and where a forked run starts (its ``run_cli``): the forked run's entry point, above the CLI.
PRELOAD = "autopack.forked"

# multiprocessing's process bookkeeping (Process.start polls every child it started; a forkserver
# child's exit code is read once from its sentinel) is not safe across threads: the pool's threads
# start and reap their runs under this lock.
_lock = threading.Lock()


def preloading_available() -> bool:
    return sys.platform == "linux" and "forkserver" in multiprocessing.get_all_start_methods()


class PreloadedLauncher:
    """Forks each run from one server (started on first use) that has imported autopack's run path and
    ``sdks``, the provider SDK modules the batch's runs can call (each is 0.2-1.1 s of CPU to import;
    one that is not installed is skipped, and a run that needs an SDK not named imports it itself).
    The server's list is fixed when it starts: one per process."""

    def __init__(self, sdks: Iterable[str] = ()) -> None:
        self.modules = [PRELOAD, *sorted(set(sdks))]
        self.unavailable: str | None = None  # why the server could not start: runs are spawned instead

    def __call__(self, args: list[str], cwd: Path, env: dict[str, str], stderr_path: Path) -> RunProcess:
        if self.unavailable is None:
            try:
                return self._fork(args, cwd, env, stderr_path)
            except OSError as exc:  # e.g. its socket's path under a long $TMPDIR, out of file descriptors
                self.unavailable = f"{type(exc).__name__}: {exc}"
        return spawn_run(args, cwd, env, stderr_path)

    def _fork(self, args: list[str], cwd: Path, env: dict[str, str], stderr_path: Path) -> RunProcess:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(self.modules)
        read, write = os.pipe()
        try:
            proc = ctx.Process(
                target=_run_forked,
                args=(args, str(cwd), env, _PassFd(write), str(stderr_path)),
                name="autopack-run",
            )
            with _lock:
                proc.start()
        except BaseException:
            os.close(read)
            raise
        finally:
            os.close(write)  # the child has its own copy: EOF on the pipe when it ends
        assert proc.pid is not None

        def wait() -> int:
            wait_for_sentinels([proc.sentinel])
            with _lock:
                proc.join()
                code = proc.exitcode
                proc.close()
            return 255 if code is None else code

        return RunProcess(proc.pid, os.fdopen(read, "rb"), wait)


def _run_forked(*args: Any) -> None:
    """In the forked run: its entry point's ``run_cli`` (imported by name: the entry point imports the CLI,
    which imports this module)."""
    importlib.import_module(PRELOAD).run_cli(*args)


class _PassFd:
    """A file descriptor handed to the forked child (sent to the server with the start request)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Callable[[Any], int], tuple[Any]]:
        return _detach, (reduction.DupFd(self.fd),)


def _detach(dup: Any) -> int:
    return int(dup.detach())


_PR_SET_PDEATHSIG = 1
_libc: Any = None
if sys.platform == "linux":
    with contextlib.suppress(OSError):
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent() -> None:
    """In the run's process, before it starts: SIGTERM it when the thread or process that started it goes
    away (the batch or a cluster worker killed), so it records itself INTERRUPTED instead of running on
    unseen."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
