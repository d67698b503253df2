"""Commands of the memory room: ``autopack journal`` and ``autopack rules list|show|remove``.

``register(app)`` adds them to a Typer app (``autopack.cli`` adds them to the main one). Errors a user
can cause print one red line and exit 2 (3 for a full disk), the same as the rest of the CLI, even
when these commands run outside ``autopack.cli.main`` (``output.user_errors``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import AutopackError
from .app import JsonOpt, open_run
from .output import print_json, user_errors

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="where .autonomous_runs/ lives (default: $AUTOPACK_HOME, else the current directory)"),
]

rules_app = typer.Typer(
    rich_markup_mode=None, help="List, show or remove a project's learned rules (rules.yaml).", no_args_is_help=True
)


def _rules_path(home: Path | None, project: str | None) -> Path:
    from ..layout import home_dir
    from ..memory.rules import project_rules_path

    return project_rules_path(home_dir(home), project)


def journal_cmd(
    run_id: Annotated[str, typer.Option("--run-id", help="the run to tell")],
    home: HomeOpt = None,
    project: Annotated[
        str | None, typer.Option("--project", help="project name, if run ids repeat across projects")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="write the Markdown here instead of printing it")
    ] = None,
) -> None:
    """Print a run's debug journal (Markdown): attempts, errors, diagnoses, fixes, re-plans, outcomes."""
    from ..memory.journal import render_journal, write_journal

    with user_errors():
        _layout, store = open_run(home, run_id, project)
        with store:
            if output is not None:
                write_journal(store, run_id, output)
                typer.echo(f"journal written to {output}", err=True)
                return
            sys.stdout.write(render_journal(store, run_id))


ProjectOpt = Annotated[
    str | None, typer.Option("--project", help="the project (may be left out when there is only one)")
]


@rules_app.command("list")
def rules_list(project: ProjectOpt = None, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """List the project's rules (most-seen first) and any run hints not yet promoted."""
    from ..memory.rules import RuleBook

    with user_errors():
        path = _rules_path(home, project)
        book = RuleBook.load(path)
    rules = sorted(book.rules, key=lambda r: (-r.count, r.id))
    if as_json:
        print_json(
            {
                "path": str(path),
                "rules": [r.model_dump(mode="json") for r in rules],
                "hints": [h.model_dump(mode="json") for h in book.hints],
            }
        )
        return
    from rich.console import Console
    from rich.table import Table

    out = Console(highlight=False)
    if not rules and not book.hints:
        out.print(f"no learned rules yet ({path})", markup=False)
        return
    table = Table(title=f"learned rules ({path})")
    for col in ("id", "count", "category", "applies to", "last seen", "text"):
        table.add_column(col, overflow="fold")
    for r in rules:
        scope = ", ".join(r.phase_categories or ["any phase"]) + "; " + ", ".join(r.paths or ["any path"])
        table.add_row(r.id, str(r.count), r.category, scope, str(r.last_seen), r.text)
    out.print(table)
    if book.hints:
        hints = Table(title="run hints (promoted when seen in another run)")
        for col in ("run", "category", "created", "text"):
            hints.add_column(col, overflow="fold")
        for h in book.hints:
            hints.add_row(h.run_id, h.category, str(h.created), h.text)
        out.print(hints)


RuleIdArg = Annotated[str, typer.Argument(help="rule id, e.g. r-0007")]


def _no_rule(rule_id: str, path: Path) -> AutopackError:
    return AutopackError(f"no rule {rule_id!r} in {path}; `autopack rules list` shows the ids")


@rules_app.command("show")
def rules_show(
    rule_id: RuleIdArg,
    project: ProjectOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one rule with all its fields."""
    from ..memory.rules import RuleBook

    with user_errors():
        path = _rules_path(home, project)
        rule = RuleBook.load(path).get(rule_id)
        if rule is None:
            raise _no_rule(rule_id, path)
    if as_json:
        print_json(rule.model_dump(mode="json"))
        return
    for key, value in rule.model_dump(mode="json").items():
        shown = ", ".join(value) if isinstance(value, list) else value
        typer.echo(f"{key + ':':<17} {shown if shown not in ('', None) else '-'}")


@rules_app.command("remove")
def rules_remove(
    rule_id: RuleIdArg,
    project: ProjectOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete a rule from rules.yaml (it may be learned again if the failure comes back)."""
    from ..memory.rules import RuleBook

    with user_errors():
        path = _rules_path(home, project)
        book = RuleBook.load(path)
        if not book.remove(rule_id):
            raise _no_rule(rule_id, path)
        book.save()
    if as_json:
        print_json({"removed": rule_id, "path": str(path)})
    else:
        typer.echo(f"removed {rule_id} from {path}")


def register(app: typer.Typer) -> None:
    """Add ``journal`` and ``rules`` to the main app."""
    app.command("journal")(journal_cmd)
    app.add_typer(rules_app, name="rules")
