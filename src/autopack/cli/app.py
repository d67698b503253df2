"""The root of the command line: the Typer ``app`` every command module registers on, the options
they share, the console, and ``main`` (the console script).

A thin layer: each command loads its inputs, calls one room, and renders the result. Heavy imports
(pydantic models, SQLite, git, provider SDKs) happen inside the commands so ``--help`` stays fast.
Errors a user can cause print as one red line and exit 2; a cleanly stopped run, or one stopped by a
full disk, exits 3 (``main``, through ``output.exit_code``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..encoding import harden_stdio
from .output import exit_code

if TYPE_CHECKING:
    from rich.console import Console

    from ..config import Config
    from ..layout import Layout
    from ..store import RunStore

app = typer.Typer(
    rich_markup_mode=None,
    name="autopack",
    help="Drive LLM Builder/Auditor agents through a phased run plan: edits, quality gates, audits, "
    "git commits, and automatic recovery (escalation, re-planning, the Doctor).",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="config file layered over the shipped, user and project configs (default: $AUTOPACK_CONFIG, if set)",
    ),
]
HomeOpt = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help="where .autonomous_runs/ and logs/ live (default: $AUTOPACK_HOME, else the root of the git "
        "repository around the current directory, else the current directory)",
    ),
]
EnvFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--env-file",
        help="a .env file of KEY=VALUE lines, read after the project's and the current "
        "directory's .env (variables set in the environment win)",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable JSON output")]
ScriptOpt = Annotated[
    Path | None,
    typer.Option("--script", help="answer every model call from this scripted-response YAML (offline; no key needed)"),
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="run every role (Builder, Auditor, Doctor, Planner) on this model, e.g. ollama/qwen2.5-coder:7b or "
        "claude-sonnet-4-5; calls fall back only to its provider",
    ),
]
StrongModelOpt = Annotated[
    str | None,
    typer.Option(
        "--strong-model",
        help="with --model: the stronger model for escalation, the strong Doctor and high-complexity phases",
    ),
]


def _print_version(value: bool) -> None:
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version("autopack")
    except PackageNotFoundError:  # run from a checkout that is not installed
        from .. import __version__ as number
    typer.echo(f"autopack {number}")
    raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """Drive LLM Builder/Auditor agents through a phased run plan: edits, quality gates, audits, git commits,
    and automatic recovery (escalation, re-planning, the Doctor)."""


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped output (CI logs, `| less`) gets room for the tables instead of rich's 80-column default.
    width = None if stream.isatty() or os.environ.get("COLUMNS") else 160
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)


def load_config(path: Path | None) -> Config:
    """The effective config: shipped < user < project (the repository around the current directory) < ``path``."""
    from ..config import load_effective_config

    return load_effective_config(path)


def open_run(home: Path | None, run_id: str, project: str | None = None) -> tuple[Layout, RunStore]:
    """The layout and store of whichever project holds ``run_id``, opened to read (no integrity check);
    the caller closes the store."""
    from ..layout import home_dir
    from ..store import find_run

    return find_run(home_dir(home), run_id, project, check=False)


class EventPrinter:
    """The sink of a service used outside a run (``models check``, ``plan draft``): each event it
    reports (a retry, a fallback) as a plain line on stderr; calls are not recorded."""

    def on_call(self, record: Any, phase_id: str | None, attempt_id: int | None) -> None:
        pass

    def on_event(self, kind: str, data: dict[str, Any], phase_id: str | None) -> None:
        from ..progress import describe

        console(stderr=True).print(describe(kind, data).strip(), markup=False)

    def on_http_500(self) -> None:
        pass


def standalone_service(cfg: Config, script: Path | None) -> Any:
    """An ``LlmService`` outside any run: the config's providers (or ``script``'s replies), events on stderr."""
    from ..llm.scripted import ScriptedProvider
    from ..runner import make_service, run_environment

    return make_service(
        cfg,
        run_environment(dict(os.environ)),
        sink=EventPrinter(),
        override=ScriptedProvider(script) if script else None,
    )


def main() -> None:
    """Console-script entry point: UTF-8 stdio, then Typer. An ``AutopackError`` (exit 2, or 3 for a
    clean stop), a full disk anywhere (ENOSPC/EDQUOT, SQLite's SQLITE_FULL: exit 3) and a denied file
    (exit 2) print one red line naming the file and what to do, never a traceback (``output.exit_code``)."""
    harden_stdio()
    try:
        app()
    except Exception as exc:
        code = exit_code(exc)
        if code is None:
            raise  # a bug: the traceback is for us
        sys.exit(code)
