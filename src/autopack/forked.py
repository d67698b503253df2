"""The entry point of a run forked by a batch's run server (``batch.launch.PreloadedLauncher``): the
module the server imports before it forks runs, and ``run_cli``, where a forked run starts. Like
``__main__`` it sits above the CLI: no module imports it; the server imports it from its preload list
and ``batch.launch`` finds ``run_cli`` by the module's name.

Importing it imports what an ``autopack run`` imports before its first model call, but the provider
SDKs (``launch.PreloadedLauncher`` names those the batch needs): the CLI, the run's code path and the
provider adapters. Nothing here opens a file, a socket or a thread: the server forks from it.
"""

from __future__ import annotations

import atexit
import os
import sys

import autopack.cli  # noqa: F401
import autopack.llm.providers  # noqa: F401
import autopack.report  # noqa: F401
import autopack.runner  # noqa: F401


def _watch_the_batch() -> None:
    """SIGTERM this run when the process that asked for it (the batch, or a Dask worker) is gone: its
    end of the start pipe closes, and a thread waits on that (multiprocessing's parent sentinel). No
    window: a batch that died before the thread started is seen at once. The run then records itself
    INTERRUPTED and exits; the server ends once the batch and its runs are gone."""
    import multiprocessing
    import signal
    import threading
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        wait([sentinel])
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="autopack-batch-watch", daemon=True).start()


def run_cli(args: list[str], cwd: str, env: dict[str, str], stdout_fd: int, stderr_path: str) -> None:
    """In the forked run: become ``autopack <args>`` in ``cwd`` with ``env``, stdout on ``stdout_fd``
    and stderr appended to ``stderr_path``; the exit code is the process's (SystemExit)."""
    _watch_the_batch()
    os.dup2(stdout_fd, 1)
    os.close(stdout_fd)
    err = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(err, 2)
    os.close(err)
    # fresh streams on the new descriptors (the server's may be closed, or a terminal's)
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = ["autopack", *args]
    try:
        autopack.cli.main()
    finally:
        atexit._run_exitfuncs()  # multiprocessing ends its children with os._exit, which skips them
