"""``autopack demo``: the shipped offline example, run end to end with a scripted model (the files are
``autopack.demo``'s)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer

from .app import JsonOpt, app, console
from .run import execute_and_report


@app.command("demo")
def demo_cmd(
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="where the demo's run store, project copy and logs go (default: $AUTOPACK_HOME, "
            "else a temporary folder)",
        ),
    ] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="default: demo-<timestamp>")] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="keep the project copy, its run branch and worktree to look at afterwards")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the shipped offline example end to end with a SCRIPTED model (no API key, no network).

    Copies the example's project (shipped inside the package) to a fresh git repository, then runs its
    plan with the scripted replies: real edits, real pytest checks, real git commits, including failed
    attempts that are recovered. Works from any directory; removes what it made unless --keep.
    """
    import tempfile

    from ..demo import demo_request, example_dir, make_project, project_copy, remove_demo
    from ..layout import home_dir

    rid = run_id or time.strftime("demo-%Y%m%d-%H%M%S")
    own_home = home is None and not os.environ.get("AUTOPACK_HOME")
    root = Path(tempfile.mkdtemp(prefix="autopack-demo-")) if own_home else home_dir(home)
    out = console()
    code = 1
    try:
        with example_dir() as src:
            work = make_project(src, root, rid)
            if not as_json:
                out.print(
                    "[bold]autopack demo[/]: the model is [bold yellow]SCRIPTED[/] (canned replies from the example's "
                    "script.yaml); edits, checks and commits are real, and the costs shown are simulated."
                )
                out.print(f"project copy: {work}", markup=False)
            req = demo_request(src, work, root, rid, dict(os.environ))
            code = execute_and_report(req, as_json, next_steps=keep)  # without --keep, its home goes away
    finally:
        if keep:
            if not as_json:
                out.print(
                    f"kept: the project copy {project_copy(root, rid)} (branch autopack/{rid}); look at it with "
                    f"`autopack status --run-id {rid} --home {root}` (and `autopack journal`, same options)",
                    markup=False,
                    soft_wrap=True,
                )
        else:
            remove_demo(root, rid, whole_home=own_home)
            if not as_json:
                out.print(
                    "the demo's files are removed (pass --keep to look at the project copy and its run)", markup=False
                )
    raise typer.Exit(code)
