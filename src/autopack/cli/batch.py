"""Commands for many runs at once: ``autopack batch BATCH.yaml`` (also spelled ``batch run``),
``batch status`` and ``batch report``. The batch rooms (and Dask, only with ``--cluster``) are
imported inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from .app import EnvFileOpt, HomeOpt, JsonOpt, app, console
from .output import print_json

if TYPE_CHECKING:
    from ..batch.state import BatchPaths


class _RunByDefault(TyperGroup):
    """``autopack batch BATCH.yaml`` is ``autopack batch run BATCH.yaml``: an argument that names no
    subcommand goes to ``run``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's own click Context
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


batch_app = typer.Typer(
    cls=_RunByDefault,
    rich_markup_mode=None,
    no_args_is_help=True,
    help="Run many runs at once from a batch file, on a local pool of worker processes or a Dask cluster: "
    "`autopack batch BATCH.yaml [--workers N]`, then `autopack batch status BATCH.yaml`.",
)
app.add_typer(batch_app, name="batch")

BatchArg = Annotated[Path, typer.Argument(help="the batch file (YAML), or the id of a batch that ran under --home")]


@batch_app.command("run")
def batch_run(
    file: Annotated[
        Path, typer.Argument(help="the batch file (YAML): runs, or one plan and a list of project folders")
    ],
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-w", min=1, max=256, help="runs at once (default: the file's `workers`, else 4)"),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            help="run on a Dask cluster: its scheduler's address (tcp://host:8786), or `local` "
            "for a cluster of --workers processes on this machine; needs `pip install 'autopack[cluster]'`",
        ),
    ] = None,
    max_cost: Annotated[
        float | None,
        typer.Option("--max-cost", min=0, help="the whole batch's cost cap in USD (the file's `max_cost`)"),
    ] = None,
    retry_failed: Annotated[
        bool,
        typer.Option(
            "--retry-failed", help="run again the runs that failed or ended partial (they are skipped otherwise)"
        ),
    ] = False,
    home: HomeOpt = None,
    env_file: EnvFileOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="stream the batch's and every run's events as JSON lines")
    ] = False,
) -> None:
    """Run a batch: each run is its own `autopack run` process (on its branch autopack/<run-id>), N at a time.

    The same command resumes: finished runs are skipped, interrupted or stopped ones resume where they
    stopped. One failing run never stops the others. Exit codes: 0 every run complete; 1 a run failed,
    ended partial or could not run; 2 bad input (nothing started); 3 a run stopped (its cost cap, the
    batch's, its health budget) or was interrupted: run the same command to resume.
    """
    from ..batch.launch import PreloadedLauncher, preloading_available
    from ..batch.pool import BatchOptions, BatchRunner, LocalEngine
    from ..batch.spec import check_batch, load_batch
    from ..batch.state import BatchPaths, BatchStore, batch_dir, batch_lock
    from ..batch.view import make_view
    from ..layout import home_dir
    from ..runner import interrupt_signals, run_environment

    batch = load_batch(file)
    address = cluster or (batch.cluster.address if batch.cluster else None)
    sdks = check_batch(batch, run_environment(dict(os.environ), env_file=env_file))
    root = home_dir(home)
    paths = BatchPaths(batch_dir(root, batch.batch_id))
    slots = workers or batch.workers
    options = BatchOptions(
        home=root,
        run_home=batch.home or (home.resolve() if home else _env_home()),
        max_cost=max_cost,
        retry_failed=retry_failed,
        env_file=env_file.resolve() if env_file else None,
        remote=address is not None,
    )
    paths.root.mkdir(parents=True, exist_ok=True)
    with batch_lock(paths, batch.batch_id), BatchStore(paths.db) as store:
        engine: Any
        if address is not None:
            from ..batch.cluster import DaskEngine

            engine = DaskEngine(
                address, slots, batch, paths, scratch=batch.cluster.scratch if batch.cluster else None, sdks=sdks
            )
        else:
            engine = LocalEngine(slots, PreloadedLauncher(sdks) if preloading_available() else None)
        view = make_view(as_json, console())
        runner = BatchRunner(batch, paths, store, engine, view, options)
        try:
            with interrupt_signals():  # SIGTERM too: the runs still going are told, and record themselves
                result = runner.run()
        except KeyboardInterrupt as exc:
            view.close()
            console(stderr=True).print("[bold yellow]interrupted; run the same command to resume the batch[/]")
            raise typer.Exit(getattr(exc, "exit_code", 130)) from None
        finally:
            view.close()
    raise typer.Exit(result.exit_code)


def _env_home() -> Path | None:
    value = os.environ.get("AUTOPACK_HOME")
    return Path(value).resolve() if value else None


def _paths(batch: Path, home: Path | None) -> tuple[str, BatchPaths]:
    from ..batch.pool import find_batch
    from ..layout import home_dir

    return find_batch(batch, home_dir(home))


@batch_app.command("status")
def batch_status(batch: BatchArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Where each run of a batch stands: state, phase, cost, provider waits; whether the batch is running."""
    from ..batch.pool import batch_status as status_of
    from ..batch.view import RunLine, runs_table, totals_line

    batch_id, paths = _paths(batch, home)
    summary = status_of(batch_id, paths)
    pid = summary["running_pid"]
    if as_json:
        print_json(summary)
        return
    out = console()
    lines = []
    for r in summary["runs"]:
        ln = RunLine(
            r["run_id"],
            r["source"] or "",
            r["state"],
            phase=r["phase"] or "",
            phases_done=r["phases_done"],
            phases_total=r["phases_total"],
            cost_usd=r["cost_usd"],
            cost_cap_usd=r["cost_cap_usd"],
            simulated=bool(r["simulated"]),
            waits=r["waits"],
            waited_s=r["waited_s"],
            worker=r["worker"] or "",
            message=r["message"] or "",
            elapsed_s=r["elapsed_s"],
        )
        lines.append(ln)
    out.print(runs_table(lines, title=f"batch {batch_id}"))
    out.print(totals_line(summary), markup=False, soft_wrap=True)
    if pid:
        waiting = ", ".join(f"{n} waiting for {p}" for p, n in summary["waiting_now"].items())
        out.print(f"running in process {pid}" + (f"; {waiting}" if waiting else ""), markup=False)
    else:
        out.print("not running", markup=False)
    if paths.report.is_file():
        out.print(f"report: {paths.report}", markup=False, soft_wrap=True)


@batch_app.command("report")
def batch_report(
    batch: BatchArg,
    home: HomeOpt = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="where to write it (default: report.html in the batch folder)")
    ] = None,
) -> None:
    """Write the batch's HTML page again: each run's outcome, cost and time, linking each run's report."""
    from ..batch.pool import batch_summary
    from ..batch.report import render_batch_report
    from ..batch.state import BatchStore
    from ..fileio import atomic_write_text

    batch_id, paths = _paths(batch, home)
    with BatchStore.open_existing(paths.db) as store:
        summary = batch_summary(batch_id, store, paths, (store.meta().get("batch") or {}).get("max_cost"))
    target = (output or paths.report).resolve()
    atomic_write_text(target, render_batch_report(summary, target.parent), fsync=False)
    console().print(f"[green]wrote[/] {target}", highlight=False, soft_wrap=True)
