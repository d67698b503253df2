"""``autopack runs`` and ``autopack status``: where every run, or one run, stands (read from the stores by
``review.status``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .app import HomeOpt, JsonOpt, app, console, open_run
from .output import print_json

if TYPE_CHECKING:
    from ..store import RunSummary


@app.command("runs")
def runs_cmd(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """List runs of every project under the home directory.

    Each store's integrity is checked as it is opened (``PRAGMA quick_check``: this is the overview
    that should notice a damaged store). One that cannot be read (damaged, locked, not readable) is
    named on a warning line (stderr), the others are still listed, and the exit code is then 2.
    A run whose worktree is missing, whose branch or project folder is gone is marked stale."""
    from rich.markup import escape

    from ..layout import home_dir
    from ..review.status import list_runs

    root = home_dir(home)
    rows, stale, unreadable = list_runs(root)
    _print_runs(root, rows, stale, as_json, quiet=bool(unreadable))
    for problem in unreadable:
        console(stderr=True).print(f"[bold yellow]warning:[/] {escape(str(problem))}", soft_wrap=True)
    if unreadable:
        raise typer.Exit(2)


def _print_runs(root: Path, rows: list[RunSummary], stale: list[list[str]], as_json: bool, quiet: bool) -> None:
    """The runs table (or JSON: each run's row with its ``stale`` reasons); ``stale[i]`` is ``rows[i]``'s."""
    from rich.table import Table

    if as_json:
        print_json([{**r.to_dict(), "stale": why} for r, why in zip(rows, stale, strict=True)])
        return
    if not rows:
        if not quiet:
            console().print(f"no runs yet under {root}/.autonomous_runs")
        return
    table = Table(title="runs")
    any_stale = any(stale)
    for col in ("run id", "project", "status", "phases", "cost (USD)", "branch", "stop reason"):
        table.add_column(col)
    if any_stale:
        table.add_column("stale", style="yellow")
    for r, why in zip(rows, stale, strict=True):
        cells = [
            r.run_id,
            r.project,
            r.status.value,
            f"{r.complete}/{r.phases}",
            f"{r.cost_usd:.4f}",
            r.branch or "-",
            r.stop_reason or "",
        ]
        if any_stale:
            cells.append(", ".join(why))
        table.add_row(*cells)
    console().print(table)
    if any_stale:
        console().print(
            "stale: its worktree, branch or project is gone; `autopack clean --run-id ID` removes what is left",
            markup=False,
        )


@app.command("status")
def status_cmd(
    run_id: Annotated[str, typer.Option("--run-id", help="the run to show")],
    home: HomeOpt = None,
    project: Annotated[
        str | None, typer.Option("--project", help="project name, if run ids repeat across projects")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a run's phases, attempts, tokens and cost."""
    from rich.table import Table

    from ..review.status import run_status

    _layout, store = open_run(home, run_id, project)
    with store:
        data = run_status(store, run_id)
    if as_json:
        print_json(data)
        return
    out = console()
    out.print(
        f"[bold]{data['run_id']}[/] ({data['project']}): {data['status']}"
        + (f" - {data['stop_reason']}" if data["stop_reason"] else "")
    )
    if data["interrupted"]:
        out.print(
            "no executor is running this run: it was interrupted (killed, or its machine stopped) and the phase "
            "states below are where it stopped; run the same `autopack run` command to resume it",
            markup=False,
        )
    elif data["status"] == "RUNNING" and data["executor_pid"] is not None:
        out.print(f"running in process {data['executor_pid'] or '(pid unknown)'}", markup=False)
    if data["branch"]:
        out.print(f"branch {data['branch']}", markup=False)
    table = Table(title="phases")
    for col in ("phase", "state", "attempts", "last outcome", "tokens in/out", "cost (USD)", "commit"):
        table.add_column(col, overflow="fold")
    for p in data["phases"]:
        last = p["attempts"][-1] if p["attempts"] else None
        last_txt = (
            "-"
            if last is None
            else f"{last['outcome']}" + (f" ({last['error_category']})" if last["error_category"] else "")
        )
        table.add_row(
            f"{p['id']} {p['name']}",
            p["state"],
            str(len(p["attempts"])),
            last_txt,
            f"{p['tokens_in']}/{p['tokens_out']}",
            f"{p['cost_usd']:.4f}",
            (p["commit"] or "-")[:10],
        )
    out.print(table)
    tried = [(p["id"], a) for p in data["phases"] for a in p["attempts"]]
    if tried:
        at = Table(title="attempts")
        for col in ("phase", "#", "model", "outcome", "category", "message"):
            at.add_column(col, overflow="fold")
        for pid, a in tried:
            first = next((ln.strip() for ln in (a["message"] or "").splitlines() if ln.strip()), "")
            at.add_row(pid, str(a["number"]), a["model"], a["outcome"], a["error_category"] or "", first[:120])
        out.print(at)
    mt = Table(title="usage by model")
    for col in ("provider", "model", "calls", "tokens in", "tokens out", "cached", "cost (USD)"):
        mt.add_column(col)
    for m in data["by_model"]:
        mt.add_row(
            m["provider"],
            m["model"],
            str(m["calls"]),
            str(m["tokens_in"]),
            str(m["tokens_out"]),
            str(m["tokens_cached"]),
            f"{m['cost_usd']:.4f}",
        )
    t = data["totals"]
    mt.add_row(
        "",
        "total",
        str(t["calls"]),
        str(t["tokens_in"]),
        str(t["tokens_out"]),
        str(t["tokens_cached"]),
        f"{t['cost_usd']:.4f}",
        style="bold",
    )
    out.print(mt)
