"""The module the local pool's run server imports before it forks runs (``launch.PreloadedLauncher``), and
the function a forked run starts in.

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


def run_cli(args: list[str], cwd: str, env: dict[str, str], stdout_fd: int, stderr_path: str) -> None:
    """In the forked run: become ``autopack <args>`` in ``cwd`` with ``env``, stdout on ``stdout_fd``
    and stderr appended to ``stderr_path``; the exit code is the process's (SystemExit)."""
    from .launch import die_with_parent

    die_with_parent()
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
