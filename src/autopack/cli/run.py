"""``autopack run``: execute a run plan with the live view (or plain lines, or JSON lines), then the
run's summary. ``execute_and_report`` is shared with ``autopack demo``."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .app import ConfigOpt, EnvFileOpt, HomeOpt, ModelOpt, ScriptOpt, StrongModelOpt, app, console, open_run

if TYPE_CHECKING:
    from ..executor import RunResult
    from ..runner import RunRequest

RecordOpt = Annotated[
    Path | None,
    typer.Option("--record", help="write every request and response (keys redacted) as JSON lines to this folder"),
]
ReplayOpt = Annotated[
    Path | None, typer.Option("--replay", help="serve model replies from a --record folder, with no network")
]


def _summary(result: RunResult, home: Path | None, as_json: bool, elapsed: float, *, next_steps: bool = True) -> None:
    from rich.table import Table

    from ..review.status import run_status
    from .review import next_commands

    _layout, store = open_run(home, result.run_id)
    with store:
        data = run_status(store, result.run_id)
    data["elapsed_s"] = round(elapsed, 1)
    data["exit_code"] = result.exit_code
    data["next_commands"] = next_commands(result.run_id, home) if next_steps else []
    if as_json:
        sys.stdout.write(json.dumps({"event": "summary", **data}, ensure_ascii=False, default=str) + "\n")
        return
    counts: dict[str, int] = {}
    for p in data["phases"]:
        counts[p["state"]] = counts.get(p["state"], 0) + 1
    t = data["totals"]
    table = Table(title=f"run {result.run_id}: {result.status}", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    table.add_row("phases", ", ".join(f"{v} {k.lower()}" for k, v in counts.items()))
    table.add_row("attempts", str(sum(len(p["attempts"]) for p in data["phases"])))
    table.add_row("tokens in/out (cached)", f"{t['tokens_in']}/{t['tokens_out']} ({t['tokens_cached']})")
    table.add_row("cost", f"${t['cost_usd']:.4f}")
    table.add_row("time", f"{elapsed:.1f}s")
    table.add_row("branch", str(data["branch"] or "-"))
    table.add_row("worktree", str(data["worktree"] or "-"))
    if result.reason:
        table.add_row("reason", result.reason)
    console().print(table)
    if data["next_commands"]:
        console().print("next: review, land and look back at the run:", markup=False)
    for command in data["next_commands"]:
        console().print(f"  {command}", markup=False, soft_wrap=True)


@app.command("run")
def run_cmd(
    run_id: Annotated[
        str, typer.Option("--run-id", help="names the run, its git branch autopack/<run-id>, and its store records")
    ],
    plan: Annotated[Path, typer.Option("--plan", help="run plan YAML/JSON (see `autopack plan validate`)")],
    project_dir: Annotated[
        Path | None,
        typer.Option(
            "--project-dir",
            help="the git repository to build in (default: the repository around the current directory)",
        ),
    ] = None,
    config: ConfigOpt = None,
    home: HomeOpt = None,
    script: ScriptOpt = None,
    record: RecordOpt = None,
    replay: ReplayOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="show the plan and the model each role would use; change nothing")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="stream events as JSON lines")] = False,
    model: ModelOpt = None,
    strong_model: StrongModelOpt = None,
    max_cost: Annotated[
        float | None,
        typer.Option("--max-cost", min=0, help="stop the run cleanly at this spend in USD (limits.run_cost_cap_usd)"),
    ] = None,
    max_attempts: Annotated[
        int | None,
        typer.Option(
            "--max-attempts",
            min=1,
            help="attempts per phase before it fails (complexity_escalation.max_attempts_per_phase)",
        ),
    ] = None,
    env_file: EnvFileOpt = None,
) -> None:
    """Execute a run plan: Builder edits, quality gate, Auditor, one git commit per approved phase.

    Works on branch autopack/<run-id> in a worktree under .autonomous_runs/<project>/runs/<run-id>/,
    never in your working tree. Run the same command again to resume after a crash or a stop.
    Exit codes: 0 every phase complete; 1 a phase failed or was skipped; 2 bad input; 3 stopped by
    the health budget, the cost cap or a full disk (resumable: run the same command).
    """
    from ..overrides import RunOverrides
    from ..runner import RunRequest

    req = RunRequest(
        run_id=run_id,
        plan_path=plan,
        project_dir=project_dir,
        home=home,
        config_path=config,
        script=script,
        record=record,
        replay=replay,
        env=dict(os.environ),
        overrides=RunOverrides(model, strong_model, max_cost, max_attempts),
        env_file=env_file,
    )
    if dry_run:
        _dry_run(req)
        return
    raise typer.Exit(execute_and_report(req, as_json))


def execute_and_report(req: RunRequest, as_json: bool, *, next_steps: bool = True) -> int:
    """Run ``req`` with the live view (or plain lines, or JSON), then the summary; the exit code."""
    from ..progress import make_reporter
    from ..runner import INTERRUPTED_HINT, execute

    reporter = make_reporter(as_json)
    started = time.monotonic()
    try:
        result = execute(req, reporter)
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: recorded as INTERRUPTED, open phase rolled back
        reporter.close()
        console(stderr=True).print(f"[bold yellow]{INTERRUPTED_HINT}[/]")
        raise typer.Exit(getattr(exc, "exit_code", 130)) from None
    finally:
        reporter.close()
    _summary(result, req.home, as_json, time.monotonic() - started, next_steps=next_steps)
    return result.exit_code


def _dry_run(req: RunRequest) -> None:
    """``run --dry-run``: the plan, every role with the model that would answer it, and the checks'
    interpreter; the same refusals as a real run (bad input, a role nobody can answer), nothing written."""
    from rich.table import Table

    from ..gate.checks_env import resolve_checks_env
    from ..preflight import role_rows
    from ..runner import check_providers, prepare
    from .plan import plan_table

    cfg, loaded, override = prepare(req, dry_run=True)
    out = console()
    out.print(plan_table(loaded, cfg))
    roles = Table(title="models by role")
    for col in ("role", "model", "config key", "answered by"):
        roles.add_column(col, overflow="fold")
    for row in role_rows({p.complexity for p in loaded.all_phases()}, cfg, req.env):
        who = "the --script/--replay replies (no key needed)" if override is not None else row["answered_by"]
        roles.add_row(row["role"], row["model"], row["key"], who)
    out.print(roles)
    check_providers(loaded, cfg, req.env, override)
    checks = resolve_checks_env(req.project_root(), cfg.quality_gate.checks_env)
    out.print(f"checks will run with {checks.describe()}", markup=False, soft_wrap=True)
    out.print("dry run: nothing was written", markup=False)
