"""``autopack edits apply``: parse a saved model reply and apply it (or ``--check`` what would happen).

Owns only the command: reading the reply file, calling ``parse_reply`` and ``apply_edits``, and
rendering the result as a rich table or ``--json``. Exit codes: 0 everything applied (or was
already there), 1 something was refused or the reply was cut off, 2 unreadable input.
``autopack.cli`` registers it with ``app.add_typer(edits_app, name="edits")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..edits.parse import MODES
from .output import fail, print_json

edits_app = typer.Typer(
    rich_markup_mode=None,
    help="Parse and apply a saved Builder reply (unified diff, whole files, or SEARCH/REPLACE blocks).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _read_reply(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"cannot read {file}: no such file; pass the path of a saved model reply")
    except IsADirectoryError:
        fail(f"cannot read {file}: it is a directory; pass the path of a saved model reply")
    except UnicodeDecodeError as exc:
        fail(f"{file} is not UTF-8 text (byte {exc.start}); save the reply as UTF-8 and retry")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")


@edits_app.command("apply")
def apply_cmd(
    file: Annotated[Path, typer.Argument(help="a saved model reply (any of the three edit formats)")],
    directory: Annotated[Path, typer.Option("--dir", help="the project directory to edit")] = Path("."),
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="file, directory or glob the edits may touch (repeatable; default: everything)"),
    ] = None,
    mode: Annotated[
        str | None, typer.Option("--mode", help="diff | full_file | structured_edit (default: detect)")
    ] = None,
    check: Annotated[bool, typer.Option("--check", help="change nothing; show what would apply and where")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable JSON output")] = False,
    allow_mass_deletion: Annotated[
        bool, typer.Option("--allow-mass-deletion", help="let whole-file edits shrink files or drop definitions")
    ] = False,
    removed_ok: Annotated[
        list[str] | None,
        typer.Option("--removed-ok", help="a top-level name a whole-file edit may remove (repeatable)"),
    ] = None,
) -> None:
    """Apply the edits in FILE to --dir. Exit 0 when all applied, 1 when something was refused, 2 on bad input."""
    from ..edits.apply import apply_edits
    from ..edits.parse import parse_reply

    if mode is not None and mode not in (*MODES, "search_replace"):
        fail(f"--mode must be one of {', '.join(MODES)}, not {mode!r}")
    if not directory.is_dir():
        fail(f"--dir {directory} is not a directory")
    text = _read_reply(file)
    parsed = parse_reply(text, mode, scope=scope or ["**"], root=directory)
    base: dict[str, Any] = {
        "file": str(file),
        "mode": parsed.mode,
        "truncated": parsed.truncated,
        "problems": parsed.problems,
    }
    if parsed.truncated or not parsed.edits:
        why = "the reply was cut off; nothing was applied" if parsed.truncated else "no edits found in the reply"
        if as_json:
            print_json({**base, "ok": False, "message": why, "results": [], "files_changed": []})
        else:
            _render_problems(why, parsed.problems)
        raise typer.Exit(1)
    report = apply_edits(
        parsed.edits,
        directory,
        scope or ["**"],
        allow_mass_deletion=allow_mass_deletion,
        dry_run=check,
        removed_ok=removed_ok or (),
    )
    if as_json:
        print_json({**base, **report.to_dict(), "feedback": report.feedback()})
    else:
        _render(report, parsed.problems, check)
    raise typer.Exit(0 if report.ok else 1)


def _render_problems(headline: str, problems: list[str]) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False)
    console.print(f"[bold red]{escape(headline)}[/]")
    for p in problems:
        console.print(f"  - {escape(p)}")


def _render(report: Any, problems: list[str], check: bool) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    colour = {"applied": "green", "already_applied": "cyan", "refused": "red"}
    table = Table(title="edits (check only: nothing written)" if check else "edits")
    for col in ("edit", "file", "hunk", "status", "where", "detail"):
        table.add_column(col, overflow="fold")
    for r in report.results:
        status = "would apply" if check and r.status == "applied" else r.status.replace("_", " ")
        rows = r.hunks if r.kind == "diff" and r.hunks else [None]
        for h in rows:
            hstatus = status if h is None else ("would apply" if check and h.status == "applied" else h.status)
            detail = (h.reason if h is not None and h.reason else r.reason) or "; ".join(h.fuzz if h else r.fuzz)
            table.add_row(
                str(r.index),
                escape(r.path),
                "-" if h is None else str(h.number),
                f"[{colour.get(h.status if h else r.status, 'white')}]{escape(hstatus.replace('_', ' '))}[/]",
                escape((h.location if h else r.location) or ""),
                escape(detail),
            )
    console.print(table)
    for r in report.refused:
        if r.closest:
            console.print(f"closest lines in {escape(r.path)} for edit {r.index}:", style="bold")
            console.print(escape(r.closest))
    for p in problems:
        console.print(f"[yellow]note:[/] {escape(p)}")
    counts = (
        f"{len(report.applied)} applied, {len(report.already_applied)} already applied, {len(report.refused)} refused"
    )
    if check:
        counts += " (check only: nothing was written)"
    console.print(counts)
