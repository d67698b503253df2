"""The one place where errors become exit codes, and JSON output.

Every command group prints the same way: ``print_json`` for ``--json``; a user's error as one red line
on stderr and its exit code (``fail`` for what a command refuses itself, ``user_errors`` and ``main``'s
handler for what ``errors.user_error`` recognises: an ``AutopackError``, a full disk, a denied file).
Anything else is a bug and keeps its traceback. Rich is imported only to print an error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer

from ..errors import user_error


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout (dates, paths and the like as strings)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def print_error(message: str) -> None:
    """One red line on stderr: ``error: <message>``."""
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}")


def fail(message: str, code: int = 2) -> NoReturn:
    """One red line on stderr, then exit with ``code`` (2: bad input)."""
    print_error(message)
    raise typer.Exit(code)


def exit_code(exc: Exception) -> int | None:
    """For an error a user can cause: print its red line and return its exit code (2, or 3 for a clean
    stop or a full disk). None for anything else: a bug, whose traceback is for us."""
    err = user_error(exc)
    if err is None:
        return None
    print_error(str(err))
    return err.exit_code


@contextmanager
def user_errors() -> Iterator[None]:
    """Inside a command: what ``exit_code`` recognises ends the command with its red line and exit
    code, even when the command runs on an app other than ``autopack.cli.app`` (tests, scripts)."""
    try:
        yield
    except Exception as exc:
        code = exit_code(exc)
        if code is None:
            raise
        raise typer.Exit(code) from None
