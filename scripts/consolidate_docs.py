#!/usr/bin/env python3
"""Tidy documentation: ``python scripts/consolidate_docs.py [--dry-run] [--root DIR] [--json]``.

The seed's own command, kept as a thin wrapper over ``autopack docs consolidate`` (same code, same
options). Works from a checkout without installing autopack: ``src/`` is put on the import path.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import autopack  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))


def main() -> None:
    import typer

    from autopack.cli.docs import consolidate_cmd
    from autopack.encoding import harden_stdio

    harden_stdio()
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(consolidate_cmd)
    app()


if __name__ == "__main__":
    main()
