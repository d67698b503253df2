"""The command line: ``autopack``'s Typer commands, one module per command group.

``app`` (the root: the Typer app, shared options, the console, ``main``) is imported first; each
command module registers its commands or group on it, and the ones that live on their own Typer
(``memory``, ``docs``, ``edits``: usable on any app) are added here. Errors become exit codes in one
place, ``output``. Commands parse options and call a room; heavy imports stay inside them so
``--help`` stays fast. Nothing outside this package imports it, except the entry points
(``autopack.cli:main``, ``python -m autopack``, ``python -m autopack.cli``, and ``autopack.forked``, where a
run forked by a batch starts).
"""

from __future__ import annotations

# isort: off
# The order is the order of `autopack --help` (Typer lists commands as registered, then groups).
from .app import app, main
from . import runs, config, plan, batch, review, models, doctor, run, demo  # noqa: F401
from .docs import docs_app
from .edits import edits_app
from .memory import register as _register_memory

# isort: on

_register_memory(app)
app.add_typer(docs_app, name="docs")
app.add_typer(edits_app, name="edits")

__all__ = ["app", "main"]
