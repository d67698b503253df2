"""Commands that review a run after it ran: ``diff``, ``merge``, ``clean`` and ``report``. Git and the
store are imported inside the commands so ``--help`` stays fast. The work is done in
``autopack.review`` and ``autopack.report``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from .app import HomeOpt, JsonOpt, app, console, open_run
from .output import fail, print_json

RunIdOpt = Annotated[str, typer.Option("--run-id", help="the run")]
ProjectOpt = Annotated[str | None, typer.Option("--project", help="project name, if run ids repeat across projects")]


def _note(text: str) -> None:
    console(stderr=True).print(f"note: {text}", markup=False, soft_wrap=True)


def _write(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `autopack diff | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


# diff ---------------------------------------------------------------------------------------------
@app.command("diff")
def diff_cmd(
    run_id: RunIdOpt,
    phase: Annotated[str | None, typer.Option("--phase", help="only this phase's commit")] = None,
    attempts: Annotated[
        bool, typer.Option("--attempts", help="also each failed attempt: its stored patch, error and gate output")
    ] = False,
    color: Annotated[str, typer.Option("--color", help="auto (colours on a terminal), always or never")] = "auto",
    home: HomeOpt = None,
    project: ProjectOpt = None,
) -> None:
    """Show what a run changed: its branch against the commit it started from (or one phase's commit),
    and with --attempts what the models tried before that. Plain text when piped."""
    from ..review.diff import Painter, stored_run_diff

    if color not in ("auto", "always", "never"):
        fail(f"--color {color!r}: choose auto, always or never")
    painter = Painter(color == "always" or (color == "auto" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")))
    layout, store = open_run(home, run_id, project)
    with store:
        out, notes = stored_run_diff(store, layout, run_id, phase=phase, attempts=attempts, painter=painter)
    for note in notes:
        _note(note)
    _write(out)


# merge --------------------------------------------------------------------------------------------
@app.command("merge")
def merge_cmd(
    run_id: RunIdOpt,
    squash: Annotated[bool, typer.Option("--squash", help="one commit instead of a merge commit")] = False,
    into: Annotated[
        str | None, typer.Option("--into", help="the branch to merge into (default: the one the run started from)")
    ] = None,
    home: HomeOpt = None,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Merge the run branch into your branch. A dirty checkout of that branch or a conflict is refused
    with the reason, and nothing is changed."""
    from ..review.merge import merge_stored_run

    layout, store = open_run(home, run_id, project)
    with store:
        run, phases, result = merge_stored_run(store, layout, run_id, into=into, squash=squash)
    from ..store import PhaseState

    done = [p for p in phases if p.state is PhaseState.COMPLETE]
    data = {
        "run_id": run_id,
        "into": result.target,
        "commit": result.commit,
        "squash": squash,
        "already_merged": result.already_merged,
        "worktree_updated": str(result.worktree) if result.worktree else None,
        "phases_merged": len(done),
        "notes": result.notes,
    }
    if as_json:
        print_json(data)
        return
    for note in result.notes:
        _note(note)
    if result.commit is None:
        return
    if run.status != "COMPLETE":
        _note(f"run {run_id} is {run.status}: {len(done)} of its {len(phases)} phases were approved and merged")
    how = "squashed into one commit" if squash else "merge commit"
    out = console()
    out.print(
        f"[green]merged[/] {run.branch} into {result.target}: {how} {result.commit[:10]} ({len(done)} phases)",
        highlight=False,
    )
    short = result.commit[:10]
    if result.worktree is not None:
        out.print(f"updated the checkout of {result.target} in {result.worktree}", markup=False)
        undo = f"git -C {result.worktree} reset --keep {short}~1"
    else:
        out.print(f"{result.target} is not checked out anywhere: only the branch moved", markup=False)
        undo = f"git -C {run.project_dir} branch -f {result.target} {short}~1"
    out.print(f"undo (before anything else lands on {result.target}): {undo}", markup=False, soft_wrap=True)
    out.print(f"tidy up: autopack clean --run-id {run_id}", markup=False)


# clean --------------------------------------------------------------------------------------------
@app.command("clean")
def clean_cmd(
    run_id: Annotated[str | None, typer.Option("--run-id", help="this run")] = None,
    older_than: Annotated[
        str | None, typer.Option("--older-than", help="runs last updated longer ago than this: 7d, 12h, 30m, 2w")
    ] = None,
    all_finished: Annotated[bool, typer.Option("--all-finished", help="every run whose status is not RUNNING")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="also delete run branches that are not merged, and rolled-back refs")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would be removed; remove nothing")] = False,
    home: HomeOpt = None,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove runs' worktrees, branches (merged ones, unless --force), run folders, logs and store records.
    Select with --run-id, or with --older-than and/or --all-finished."""
    from ..layout import Layout, home_dir
    from ..review.clean import clean_runs, parse_age
    from ..store import store_projects

    if run_id is not None and (older_than is not None or all_finished):
        fail("--run-id names one run: use it alone, or select with --older-than and/or --all-finished")
    if run_id is None and older_than is None and not all_finished:
        fail("say which runs to clean: --run-id ID, --older-than 7d, or --all-finished (see --dry-run first)")
    age = parse_age(older_than) if older_than is not None else None
    root = home_dir(home)
    if run_id is not None:
        found, _store = open_run(home, run_id, project)
        _store.close()
        layouts = [found]
    else:
        layouts = [Layout(root, p) for p in ([project] if project else store_projects(root))]
    report = clean_runs(layouts, run_id=run_id, older_than=age, all_finished=all_finished, force=force, dry_run=dry_run)
    if as_json:
        print_json(report)
        return
    out = console()
    if not report:
        which = "finished " if all_finished else ""
        age_txt = f" last updated more than {older_than} ago" if older_than else ""
        out.print(f"no {which}runs{age_txt} to clean under {root} (finished: any status but RUNNING)", markup=False)
        return
    verb = "would remove" if dry_run else "removed"
    for item in report:
        out.print(f"run {item['run_id']} ({item['project']}):", markup=False)
        if item["skipped"]:
            out.print(f"  left alone: {item['skipped']}", markup=False)
            continue
        for what in item["would_remove"] if dry_run else item["removed"]:
            out.print(f"  {verb} {what}", markup=False)
        for what in item["kept"]:
            out.print(f"  kept {what}", markup=False)
    if dry_run:
        out.print("dry run: nothing was removed", markup=False)


# report -------------------------------------------------------------------------------------------
@app.command("report")
def report_cmd(
    run_id: RunIdOpt,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="where to write it (default: report.html in the run folder)")
    ] = None,
    home: HomeOpt = None,
    project: ProjectOpt = None,
) -> None:
    """Write one self-contained HTML file about a run (opens offline): a timeline of phases and attempts,
    cost and tokens per phase and per model, each attempt's diff, gate output and verdict, every
    recovery decision and the rules learned."""
    from ..fileio import atomic_write_text
    from ..report import build_report, render_report
    from ..secrets import scrub

    layout, store = open_run(home, run_id, project)
    with store:
        data = build_report(store, layout, run_id)
    html = scrub(render_report(data))
    path = (output or layout.run_dir(run_id) / "report.html").resolve()
    atomic_write_text(path, html, fsync=False)
    console().print(f"[green]wrote[/] {path} ({len(html.encode('utf-8')) // 1024 + 1} KB)", highlight=False)
    console().print(f"open it: {path.as_uri()}", markup=False, soft_wrap=True)


def next_commands(run_id: str, home: Path | None) -> list[str]:
    """What to run after a run: see its change, land it, read its report (printed at the end of every run)."""
    import shlex

    flag = f" --home {shlex.quote(str(home))}" if home is not None else ""
    return [
        f"autopack diff --run-id {run_id}{flag}",
        f"autopack merge --run-id {run_id}{flag}",
        f"autopack report --run-id {run_id}{flag}",
    ]
