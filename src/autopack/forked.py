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
import contextlib
import os
import sys

import autopack.cli  # noqa: F401
import autopack.llm.providers  # noqa: F401
import autopack.report  # noqa: F401
import autopack.runner  # noqa: F401


def _let_go_of_the_batch() -> None:
    """Close the batch's end of the server's "alive" pipe, which multiprocessing hands every forked child
    (so that it could start a forkserver of its own; a run never does). The server ends when the batch
    process is gone and nobody else holds that end; a run holding it would keep the server, and so
    itself, alive after the batch was killed (its SIGTERM comes when the server ends)."""
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if isinstance(fd, int):
        with contextlib.suppress(OSError):
            os.close(fd)
        server._forkserver_alive_fd = None  # type: ignore[union-attr]


def _watch_the_batch() -> None:
    """SIGTERM this run when the batch process that asked for it is gone (its end of the start pipe
    closes), whatever happens to the server in between: a thread waits on multiprocessing's parent
    sentinel. No window: a batch that died before the thread started is seen at once."""
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
    from .batch.launch import die_with_parent

    die_with_parent()
    _let_go_of_the_batch()
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
