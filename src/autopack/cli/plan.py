"""``autopack plan validate|show|draft``: check a run plan, show it with the model each phase starts on,
or ask the Planner for one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .app import (
    ConfigOpt,
    EnvFileOpt,
    ModelOpt,
    ScriptOpt,
    StrongModelOpt,
    app,
    console,
    load_config,
    standalone_service,
)
from .output import fail

if TYPE_CHECKING:
    from rich.table import Table

    from ..config import Config
    from ..plan import Plan

plan_app = typer.Typer(rich_markup_mode=None, help="Validate, show or draft run plans.", no_args_is_help=True)
app.add_typer(plan_app, name="plan")


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
    from ..overrides import RunOverrides
    from ..plan import check_plan_models, load_plan
    from ..preflight import preflight
    from ..runner import run_environment

    plan = load_plan(file)
    cfg = RunOverrides(model, strong_model).apply(load_config(config))
    problems = check_plan_models(plan, cfg)
    if problems:
        fail(f"{file}: " + "; ".join(problems))
    preflight({p.complexity for p in plan.all_phases()}, cfg, run_environment(dict(os.environ), env_file=env_file))
    console().print(f"[green]ok[/] {file}: project {plan.project!r}, {len(plan.all_phases())} phases")


@plan_app.command("show")
def plan_show(file: Annotated[Path, typer.Argument(help="run plan (YAML or JSON)")], config: ConfigOpt = None) -> None:
    """Show a plan as a table, with the model each phase would start on."""
    from ..plan import load_plan

    console().print(plan_table(load_plan(file), load_config(config)))


def plan_table(plan: Plan, cfg: Config) -> Table:
    """The plan's phases as a rich table, with the Builder model each phase starts on."""
    from rich.table import Table

    from ..recovery.escalation import first_model

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


@plan_app.command("draft")
def plan_draft(
    goal: Annotated[str, typer.Option("--goal", help="what the run should achieve")],
    output: Annotated[Path, typer.Option("-o", "--output", help="where to write the plan YAML")],
    project_dir: Annotated[
        Path | None,
        typer.Option(
            "--project-dir", help="the project the plan is for (default: the repository around the current directory)"
        ),
    ] = None,
    project: Annotated[str | None, typer.Option("--project", help="project name (default: the directory name)")] = None,
    model: Annotated[str | None, typer.Option("--model", help="planner model (default: routing.planner_model)")] = None,
    config: ConfigOpt = None,
    script: ScriptOpt = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing output file")] = False,
) -> None:
    """Ask the Planner model for a phased plan (validated, retried on errors); review it, then `autopack run`."""
    from ..agents.planner import Planner, draft_for_project
    from ..layout import project_root
    from ..plan import write_drafted_plan

    if output.exists() and not force:
        fail(f"{output} exists; pass --force to overwrite it")
    cfg = load_config(config)
    root = project_dir.resolve() if project_dir is not None else (project_root(Path.cwd()) or Path.cwd().resolve())
    if not root.is_dir():
        fail(f"--project-dir {project_dir}: not a directory")
    planner = Planner(standalone_service(cfg, script))
    plan = draft_for_project(planner, model=model or cfg.routing.planner_model, goal=goal, root=root, project=project)
    write_drafted_plan(plan, output)
    console().print(
        f"[green]wrote[/] {output}: {len(plan.all_phases())} phases. Review it, then: "
        f"autopack run --run-id <id> --plan {output} --project-dir {root}"
    )
