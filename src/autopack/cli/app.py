"""The command line: Typer commands, rich output (or ``--json``), exit codes.

A thin layer: each command loads its inputs, calls one room, and renders the result. Heavy imports
(pydantic models, SQLite, git, provider SDKs) happen inside the commands so ``--help`` stays fast.
Errors a user can cause print as one red line and exit 2; a cleanly stopped run, or one stopped by a
full disk, exits 3 (``main``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .cli_output import fail, print_json
from .encoding import harden_stdio
from .errors import user_error

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from .config import Config
    from .plan import Plan
    from .store import RunStore

app = typer.Typer(
    rich_markup_mode=None,
    name="autopack",
    help="Drive LLM Builder/Auditor agents through a phased run plan: edits, quality gates, audits, "
    "git commits, and automatic recovery (escalation, re-planning, the Doctor).",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(
    rich_markup_mode=None, help="Show, check or start the configuration (layered: shipped, user, project, --config).",
    no_args_is_help=True
)
plan_app = typer.Typer(rich_markup_mode=None, help="Validate, show or draft run plans.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(plan_app, name="plan")

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
    typer.Option("--env-file", help="a .env file of KEY=VALUE lines, read after the project's and the current "
                 "directory's .env (variables set in the environment win)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable JSON output")]
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
    typer.Option("--strong-model", help="with --model: the stronger model for escalation, the strong Doctor and "
                 "high-complexity phases"),
]


def _print_version(value: bool) -> None:
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version("autopack")
    except PackageNotFoundError:  # run from a checkout that is not installed
        from . import __version__ as number
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


def _config(path: Path | None) -> Config:
    """The effective config: shipped < user < project (the repository around the current directory) < ``path``."""
    from .config import load_effective_config

    return load_effective_config(path)


_print_json = print_json  # the name cli_batch imports (one definition: cli_output)


# config ---------------------------------------------------------------------------------------
@config_app.command("show")
def config_show(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Print the effective configuration (the layers merged, after defaults). Keys are never shown: only which are set."""
    from .config import config_layers

    cfg = _config(config)
    data = cfg.model_dump(mode="json")
    if as_json:
        print_json(data)
        return
    import yaml

    layers = config_layers(config)
    console().print(f"# effective config from {layers[-1].path}", markup=False)
    if len(layers) > 1:
        console().print("# layers, lowest first: " + ", ".join(f"{x.name} {x.path}" for x in layers), markup=False)
    console().print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), markup=False)


@config_app.command("validate")
def config_validate(file: Annotated[Path, typer.Argument(help="config file to check")]) -> None:
    """Check a config file as a layer over the shipped config: schema, unknown keys, model names. Exit 0 when
    valid, 2 when not."""
    from .config import SHIPPED_CONFIG, ConfigLayer, load_effective_config

    cfg = load_effective_config(layers=[ConfigLayer("shipped", SHIPPED_CONFIG), ConfigLayer("file", file)])
    console().print(f"[green]ok[/] {file}: {len(cfg.models)} priced models, {len(cfg.endpoints)} endpoints")


@config_app.command("init")
def config_init(
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="where to write it (default: autopack.yaml at the root of the project's "
                     "git repository; with --user, the user config)"),
    ] = None,
    user: Annotated[bool, typer.Option("--user", help="write the user config ($XDG_CONFIG_HOME/autopack/config.yaml)")] = False,
    force: Annotated[bool, typer.Option("--force", help="replace an existing file")] = False,
) -> None:
    """Write a commented starting config (every line a comment: it changes nothing until you uncomment one)."""
    from .config import PROJECT_CONFIG_NAME, user_config_path
    from .config_init import write_starting_config
    from .layout import project_root

    if output is None and user:
        output = user_config_path()
    if output is None:
        root = project_root(Path.cwd())
        if root is None:
            fail("not inside a git repository: run this in your project, or pass --user (your user config) or -o FILE")
        output = root / PROJECT_CONFIG_NAME
    path = write_starting_config(output, force=force)
    console().print(f"[green]wrote[/] {path}: uncomment what you change, then `autopack config validate {path}`",
                    soft_wrap=True)


# plan -----------------------------------------------------------------------------------------
@plan_app.command("validate")
def plan_validate(
    file: Annotated[Path, typer.Argument(help="run plan (YAML or JSON)")],
    config: ConfigOpt = None,
    model: ModelOpt = None,
    strong_model: StrongModelOpt = None,
    env_file: EnvFileOpt = None,
) -> None:
    """Check a run plan: schema, ids, depends_on, scopes, and that every model it can reach is routable,
    priced, and has a provider with a key (or a keyless endpoint)."""
    from .overrides import RunOverrides
    from .plan import check_plan_models, load_plan
    from .preflight import preflight
    from .runner import run_environment

    plan = load_plan(file)
    cfg = RunOverrides(model, strong_model).apply(_config(config))
    problems = check_plan_models(plan, cfg)
    if problems:
        fail(f"{file}: " + "; ".join(problems))
    preflight({p.complexity for p in plan.all_phases()}, cfg, run_environment(dict(os.environ), env_file=env_file))
    console().print(f"[green]ok[/] {file}: project {plan.project!r}, {len(plan.all_phases())} phases")


@plan_app.command("show")
def plan_show(file: Annotated[Path, typer.Argument(help="run plan (YAML or JSON)")], config: ConfigOpt = None) -> None:
    """Show a plan as a table, with the model each phase would start on."""
    from .plan import load_plan

    console().print(plan_table(load_plan(file), _config(config)))


def plan_table(plan: Plan, cfg: Config) -> Table:
    """The plan's phases as a rich table, with the Builder model each phase starts on."""
    from rich.table import Table

    from .recovery.escalation import first_model

    table = Table(title=f"{plan.project}: {plan.goal}", show_lines=False)
    for col in ("#", "id", "name", "category", "complexity", "mode", "scope", "checks", "depends on", "starts on"):
        table.add_column(col, overflow="fold")
    for i, p in enumerate(plan.all_phases(), 1):
        table.add_row(
            str(i),
            p.id,
            p.name,
            p.category,
            p.complexity,
            p.builder_mode,
            ", ".join(p.scope),
            str(len(p.checks)),
            ", ".join(p.depends_on) or "-",
            first_model(cfg, p.category, p.complexity, "builder"),
        )
    return table


# runs and status ------------------------------------------------------------------------------
def _open_store_for_run(home: Path | None, run_id: str, project: str | None = None) -> RunStore:
    from .layout import home_dir
    from .store import find_run

    return find_run(home_dir(home), run_id, project, check=False)[1]  # only read: no integrity check


@app.command("runs")
def runs_cmd(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """List runs of every project under the home directory.

    Each store's integrity is checked as it is opened (``PRAGMA quick_check``: this is the overview
    that should notice a damaged store). One that cannot be read (damaged, locked, not readable) is
    named on a warning line (stderr), the others are still listed, and the exit code is then 2.
    A run whose worktree is missing, whose branch or project folder is gone is marked stale."""
    from rich.markup import escape

    from .errors import StoreError
    from .layout import Layout, home_dir
    from .store import RunStore, store_projects

    root = home_dir(home)
    rows: list[dict[str, Any]] = []
    unreadable: list[StoreError] = []
    for proj in store_projects(root):
        try:
            with RunStore(Layout(root, proj).db_path) as store:
                rows.extend(store.list_runs())
        except StoreError as exc:
            unreadable.append(exc)
    if rows:
        from .review.stale import stale_marks

        marks = stale_marks(rows)
        for r in rows:
            r["stale"] = marks.get((r["project"], r["run_id"]), [])
    _print_runs(root, rows, as_json, quiet=bool(unreadable))
    for problem in unreadable:
        console(stderr=True).print(f"[bold yellow]warning:[/] {escape(str(problem))}", soft_wrap=True)
    if unreadable:
        raise typer.Exit(2)


def _print_runs(root: Path, rows: list[dict[str, Any]], as_json: bool, quiet: bool) -> None:
    from rich.table import Table

    if as_json:
        print_json(rows)
        return
    if not rows:
        if not quiet:
            console().print(f"no runs yet under {root}/.autonomous_runs")
        return
    table = Table(title="runs")
    any_stale = any(r.get("stale") for r in rows)
    for col in ("run id", "project", "status", "phases", "cost (USD)", "branch", "stop reason"):
        table.add_column(col)
    if any_stale:
        table.add_column("stale", style="yellow")
    for r in rows:
        cells = [
            r["run_id"],
            r["project"],
            r["status"],
            f"{r['complete']}/{r['phases']}",
            f"{r['cost_usd']:.4f}",
            r["branch"] or "-",
            r["stop_reason"] or "",
        ]
        if any_stale:
            cells.append(", ".join(r.get("stale") or []))
        table.add_row(*cells)
    console().print(table)
    if any_stale:
        console().print(
            "stale: its worktree, branch or project is gone; `autopack clean --run-id ID` removes what is left",
            markup=False,
        )


def status_data(store: RunStore, run_id: str) -> dict[str, Any]:
    run = store.require_run(run_id)
    usage = store.usage_by_phase(run_id)
    durations = store.phase_durations(run_id)
    phases = []
    for p in store.phases(run_id):
        atts = store.attempts(run_id, p["phase_id"])
        u = usage.get(p["phase_id"], {})
        phases.append(
            {
                "id": p["phase_id"],
                "name": p["name"],
                "state": p["state"],
                "revision": p["revision"],
                "commit": p["commit_sha"],
                "model": p["model"],
                "attempts": [
                    {k: a[k] for k in ("number", "model", "outcome", "error_category", "message")} for a in atts
                ],
                "tokens_in": u.get("tokens_in") or 0,
                "tokens_out": u.get("tokens_out") or 0,
                "cost_usd": u.get("cost_usd") or 0.0,
                # seconds the phase was worked on (not counting the time the run was stopped)
                "duration_s": round(durations.get(p["phase_id"], 0.0), 3),
            }
        )
    from .lock import LOCK_NAME, executor_holding

    executor = executor_holding(store.path.parent / "runs" / run_id / LOCK_NAME)
    return {
        "run_id": run_id,
        "project": run["project"],
        "goal": run["goal"],
        "status": run["status"],
        "stop_reason": run["stop_reason"],
        # RUNNING with no executor: it was killed (or its machine stopped); the same command resumes it.
        "executor_pid": executor,
        "interrupted": run["status"] == "INTERRUPTED" or (run["status"] == "RUNNING" and executor is None),
        "branch": run["branch"],
        "worktree": run["worktree"],
        "phases": phases,
        "totals": store.totals(run_id),
        "by_model": store.usage_by_model(run_id),
    }


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

    store = _open_store_for_run(home, run_id, project)
    with store:
        data = status_data(store, run_id)
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


def main() -> None:
    """Console-script entry point: UTF-8 stdio, then Typer. An ``AutopackError`` (exit 2, or 3 for a
    clean stop), a full disk anywhere (ENOSPC/EDQUOT, SQLite's SQLITE_FULL: exit 3) and a denied file
    (exit 2) print one red line naming the file and what to do, never a traceback (``errors.user_error``)."""
    harden_stdio()
    try:
        app()
    except Exception as exc:
        err = user_error(exc)
        if err is None:
            raise  # a bug: the traceback is for us
        from rich.markup import escape

        console(stderr=True).print(f"[bold red]error:[/] {escape(str(err))}", soft_wrap=True)
        sys.exit(err.exit_code)


# Commands that run models live in their own module; importing it registers them on ``app``.
# diff, merge, clean and report (reviewing a run afterwards) likewise; batch (many runs at once) too.
from . import cli_batch, cli_review, cli_run  # noqa: E402,F401
from .docs.cli import docs_app  # noqa: E402
from .edits.cli import edits_app  # noqa: E402
from .memory.cli import register as _register_memory  # noqa: E402

_register_memory(app)
app.add_typer(docs_app, name="docs")
app.add_typer(edits_app, name="edits")

if __name__ == "__main__":
    # Under `python -m autopack.cli` this file runs as __main__, while the command modules register
    # on the importable `autopack.cli`; run that one so every command is there.
    from autopack.cli import main as _main

    _main()
