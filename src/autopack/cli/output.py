"""What every command group prints the same way: JSON on stdout, and a user's error as one red line
with its exit code. Shared by ``cli``, ``edits.cli`` and ``memory.cli`` (rich is imported only to fail)."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout (dates, paths and the like as strings)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def fail(message: str, code: int = 2) -> NoReturn:
    """One red line on stderr, then exit with ``code`` (2: bad input)."""
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)
