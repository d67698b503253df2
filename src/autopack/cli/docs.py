"""``autopack docs consolidate``: the command over ``docs.consolidate`` (also run by
``scripts/consolidate_docs.py``). Prints the plan (``--dry-run``) or what was done; ``--json`` for machines.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .output import print_json, user_errors

if TYPE_CHECKING:
    from ..docs.consolidate import ConsolidationPlan

docs_app = typer.Typer(rich_markup_mode=None, help="Tidy documentation archives.", no_args_is_help=True)


def _table(plan: ConsolidationPlan) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console(highlight=False)
    if plan.actions:
        table = Table(title=f"consolidation plan for {plan.root}")
        for col in ("source", "destination", "consolidated file", "reason"):
            table.add_column(col, overflow="fold")
        for row in plan.rows():
            table.add_row(row["source"], row["destination"], row["consolidated"], row["reason"])
        out.print(table)
    elif plan.index_stale:
        out.print(f"no documents to consolidate under {plan.root}; the index is out of date", markup=False)
    else:
        out.print(f"nothing to consolidate under {plan.root}", markup=False)
    _skipped(plan)


def _skipped(plan: ConsolidationPlan) -> None:
    from rich.console import Console
    from rich.markup import escape

    err = Console(stderr=True, highlight=False)
    for s in plan.skipped:
        err.print(f"[yellow]skipped[/] {escape(plan.rel(s.path))}: {escape(s.reason)}")
    if plan.index_blocked:
        err.print(
            f"[yellow]not updated[/] {escape(plan.rel(plan.index_path))}: it was not written by autopack and "
            "cannot be moved aside; rename it and run again"
        )


@docs_app.command("consolidate")
def consolidate_cmd(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show the plan as a table and change nothing")] = False,
    root: Annotated[
        Path | None,
        typer.Option("--root", help="the repository to tidy (default: $AUTOPACK_HOME, else the current directory)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable JSON output")] = False,
) -> None:
    """Sort loose Markdown documents into archive/ or .autonomous_runs/<project>/archive/, fold them into
    CONSOLIDATED_*.md files by kind, move the originals to superseded/, and refresh archive/ARCHIVE_INDEX.md."""
    from ..docs.consolidate import apply_consolidation, plan_consolidation
    from ..layout import home_dir

    with user_errors():
        plan = plan_consolidation(home_dir(root))
        if dry_run:
            if as_json:
                print_json({"dry_run": True, **plan.to_dict()})
            else:
                _table(plan)
            return
        report = apply_consolidation(plan)
    if as_json:
        print_json({"dry_run": False, **report.to_dict()})
        return
    if not report.changed:
        typer.echo(f"nothing to consolidate under {plan.root}")
    for src, dst in report.moved:
        typer.echo(f"moved {plan.rel(src)} -> {plan.rel(dst)}")
    for path in report.written:
        typer.echo(f"wrote {plan.rel(path)}")
    if report.index:
        typer.echo(f"updated {plan.rel(report.index)}")
    _skipped(plan)
