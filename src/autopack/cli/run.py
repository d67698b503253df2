"""CLI commands that run models: ``run``, ``demo``, ``models``, ``doctor diagnose``, ``plan draft``.
Registered on the main Typer app by ``cli.py``; heavy imports stay inside the commands.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .cli import (
    ConfigOpt,
    EnvFileOpt,
    HomeOpt,
    JsonOpt,
    ModelOpt,
    StrongModelOpt,
    _config,
    _open_store_for_run,
    _print_json,
    app,
    console,
    fail,
    plan_app,
    status_data,
)

if TYPE_CHECKING:
    from .config import Config
    from .executor import RunResult
    from .llm.catalog import Status

models_app = typer.Typer(
    rich_markup_mode=None,
    help="List the models the config knows, or check one end to end.",
    invoke_without_command=True,
)
doctor_app = typer.Typer(rich_markup_mode=None, help="Ask the Doctor about a failed phase.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(doctor_app, name="doctor")

ScriptOpt = Annotated[
    Path | None,
    typer.Option("--script", help="answer every model call from this scripted-response YAML (offline; no key needed)"),
]
RecordOpt = Annotated[
    Path | None,
    typer.Option("--record", help="write every request and response (keys redacted) as JSON lines to this folder"),
]
ReplayOpt = Annotated[
    Path | None, typer.Option("--replay", help="serve model replies from a --record folder, with no network")
]


def _summary(result: RunResult, home: Path | None, as_json: bool, elapsed: float, *, next_steps: bool = True) -> None:
    from rich.table import Table

    store = _open_store_for_run(home, result.run_id)
    with store:
        data = status_data(store, result.run_id)
    data["elapsed_s"] = round(elapsed, 1)
    data["exit_code"] = result.exit_code
    from .cli_review import next_commands

    data["next_commands"] = next_commands(result.run_id, home) if next_steps else []
    if as_json:
        sys.stdout.write(__import__("json").dumps({"event": "summary", **data}, ensure_ascii=False, default=str) + "\n")
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
        typer.Option("--project-dir", help="the git repository to build in (default: the repository around the current directory)"),
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
        typer.Option("--max-attempts", min=1,
                     help="attempts per phase before it fails (complexity_escalation.max_attempts_per_phase)"),
    ] = None,
    env_file: EnvFileOpt = None,
) -> None:
    """Execute a run plan: Builder edits, quality gate, Auditor, one git commit per approved phase.

    Works on branch autopack/<run-id> in a worktree under .autonomous_runs/<project>/runs/<run-id>/,
    never in your working tree. Run the same command again to resume after a crash or a stop.
    Exit codes: 0 every phase complete; 1 a phase failed or was skipped; 2 bad input; 3 stopped by
    the health budget, the cost cap or a full disk (resumable: run the same command).
    """
    from .overrides import RunOverrides
    from .runner import RunRequest

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
    raise typer.Exit(_execute_and_report(req, as_json))


def _execute_and_report(req: Any, as_json: bool, *, next_steps: bool = True) -> int:
    """Run ``req`` with the live view (or plain lines, or JSON), then the summary; the exit code."""
    from .progress import make_reporter
    from .runner import INTERRUPTED_HINT, execute

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


def _dry_run(req: Any) -> None:
    """``run --dry-run``: the plan, every role with the model that would answer it, and the checks'
    interpreter; the same refusals as a real run (bad input, a role nobody can answer), nothing written."""
    from rich.table import Table

    from .checkenv import resolve_checks_env
    from .cli import plan_table
    from .preflight import role_rows
    from .runner import check_providers, prepare

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


@app.command("demo")
def demo_cmd(
    home: Annotated[
        Path | None,
        typer.Option("--home", help="where the demo's run store, project copy and logs go (default: $AUTOPACK_HOME, "
                     "else a temporary folder)"),
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

    from .config import SHIPPED_CONFIG
    from .demo import example_dir, make_project, remove_demo
    from .layout import home_dir
    from .overrides import RunOverrides
    from .runner import RunRequest

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
            req = RunRequest(
                run_id=rid, plan_path=src / "plan.yaml", project_dir=work, home=root,
                # the shipped config on top: the demo runs the same whatever a user or project config says
                config_path=SHIPPED_CONFIG, script=src / "script.yaml", env=dict(os.environ),
                # its checks need pytest, which comes with autopack, whatever virtualenv is active
                overrides=RunOverrides(extra={"quality_gate": {"checks_env": "autopack"}}),
            )
            code = _execute_and_report(req, as_json, next_steps=keep)  # without --keep, its home goes away
    finally:
        if keep:
            if not as_json:
                out.print(f"kept: the project copy {project_hint(root, rid)}; look at it with "
                          f"`autopack status --run-id {rid} --home {root}` (and `autopack journal`, same options)",
                          markup=False, soft_wrap=True)
        else:
            remove_demo(root, rid, whole_home=own_home)
            if not as_json:
                out.print("the demo's files are removed (pass --keep to look at the project copy and its run)",
                          markup=False)
    raise typer.Exit(code)


def project_hint(root: Path, rid: str) -> str:
    from .demo import project_copy

    return f"{project_copy(root, rid)} (branch autopack/{rid})"


# models -------------------------------------------------------------------------------------------
@models_app.callback()
def models_list(ctx: typer.Context, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """List every model the config knows: provider, whether its key or endpoint is set, prices, and what
    the installed provider SDK says of it (current, deprecated, unknown); warn about the routed ones."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.markup import escape
    from rich.table import Table

    from .config import provider_for_model
    from .llm.catalog import model_status
    from .llm.providers import KEY_ENV_VARS
    from .runner import run_environment

    cfg = _config(config)
    env = run_environment(dict(os.environ))
    routes = _routes(cfg)
    names = list(
        dict.fromkeys(
            list(cfg.models)
            + cfg.referenced_models()
            + [f"{e.name}/{m}" for e in cfg.endpoints for m in e.models]
            + [f"{e.name}/*" for e in cfg.endpoints if e.free]
        )
    )
    rows: list[dict[str, Any]] = []
    for m in names:
        provider = provider_for_model(m, cfg)
        ep = cfg.endpoint(provider)
        if ep is not None:
            ready = ep.api_key_env is None or bool(env.get(ep.api_key_env))
            how = ep.base_url + (f" (key ${ep.api_key_env})" if ep.api_key_env else "")
        else:
            vars_ = KEY_ENV_VARS.get(provider, ())
            ready = any(env.get(v) for v in vars_)
            how = " or ".join(f"${v}" for v in vars_)
        price = cfg.price_for(m)
        status = model_status(provider, m)
        used_by = routes.get(m, [])
        rows.append(
            {
                "model": m,
                "provider": provider,
                "ready": ready,
                "needs": how,
                "input_per_m": None if price is None else price.input,
                "output_per_m": None if price is None else price.output,
                "free": bool(price and price.free),
                "priced": price is not None,
                "status": status.kind,
                "status_detail": status.detail,
                "routed_by": used_by,
                "warning": _status_warning(m, status, used_by) if used_by and status.needs_attention else None,
            }
        )
    if as_json:
        _print_json(rows)
        return
    table = Table(title="models")
    for col in ("model", "provider", "ready", "key / endpoint", "USD in/M", "USD out/M", "SDK status"):
        table.add_column(col)
    for r in rows:
        in_p = "free" if r["free"] else ("-" if not r["priced"] else f"{r['input_per_m']:.2f}")
        out_p = "free" if r["free"] else ("-" if not r["priced"] else f"{r['output_per_m']:.2f}")
        yes_no = "yes" if r["ready"] else "no"
        table.add_row(str(r["model"]), str(r["provider"]), yes_no, str(r["needs"]), in_p, out_p, str(r["status_detail"]))
    console().print(table)
    err = console(stderr=True)
    for r in rows:
        if r["warning"]:
            err.print(f"[yellow]warning:[/] {escape(r['warning'])}", highlight=False, soft_wrap=True)


def _routes(cfg: Config) -> dict[str, list[str]]:
    """model -> the roles the config routes to it ("builder low", "doctor cheap", "fallback on openai")."""
    from .yamlfile import format_loc

    out: dict[str, list[str]] = {}
    for loc, model in cfg._model_refs():  # the same references config validation checks
        if loc[0] == "escalation_chains":
            label = f"{loc[1]} {loc[2]}"
        elif loc[0] == "doctor_models":
            label = f"doctor {loc[1]}"
        elif loc[:2] == ("routing", "tier_strategy"):
            label = f"tier {loc[2]}"
        elif loc[:2] == ("routing", "fallback_models"):
            label = f"fallback on {loc[2]}"
        elif loc == ("routing", "planner_model"):
            label = "planner"
        else:
            label = format_loc(loc)
        out.setdefault(model, [])
        if label not in out[model]:
            out[model].append(label)
    return out


def _status_warning(model: str, status: Status, used_by: list[str]) -> str:
    """One line about a routed model its SDK calls deprecated or does not know, saying what to do."""
    if status.kind == "deprecated":
        todo = "name a current model there"
    else:
        todo = "check the name against the provider's model list, or name one the SDK lists as current"
    roles = ", ".join(used_by)
    return f"{model} is {status.detail}; the config routes {roles} to it: {todo} (user or project config, or --config)"


@models_app.command("check")
def models_check(
    model: Annotated[str, typer.Argument(help="model name, e.g. claude-sonnet-5-5 or ollama/qwen2.5-coder:7b")],
    config: ConfigOpt = None,
    script: ScriptOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send one tiny prompt through the real path (routing, retries, fallback) and report who answered."""
    from .config import provider_for_model
    from .llm.types import Message

    cfg = _config(config)
    try:
        provider_for_model(model, cfg)
    except ValueError as exc:
        fail(str(exc))
    service = _standalone_service(cfg, script)
    started = time.monotonic()
    res = service.complete(
        role="check",
        model=model,
        system="You are a health check. Reply with the single word: ok",
        messages=[Message("user", "Reply with: ok")],
        max_tokens=16,
    )
    data = {
        "requested": model,
        "provider": res.provider,
        "model": res.model,
        "fallbacks": res.fallbacks,
        "latency_ms": round((time.monotonic() - started) * 1000, 1),
        "tokens_in": res.response.usage.tokens_in,
        "tokens_out": res.response.usage.tokens_out,
        "tokens_cached": res.response.usage.tokens_cached,
        "cost_usd": res.cost_usd,
        "reply": res.response.text[:200],
    }
    if as_json:
        _print_json(data)
        return
    console().print(
        f"[green]ok[/] {model}: answered by {_answered_by(res.provider, res.model)} in {data['latency_ms']} ms, tokens "
        f"{data['tokens_in']}/{data['tokens_out']}, ${res.cost_usd:.6f}"
        + (f" (fell back: {' -> '.join(res.fallbacks)})" if res.fallbacks else "")
    )


def _answered_by(provider: str, model: str) -> str:
    """``model`` (on ``provider``), without doubling an endpoint's name: ``local/coder`` already says ``local``."""
    return model if model.startswith(provider + "/") else f"{model} on {provider}"


class _EventPrinter:
    def on_call(self, record: Any, phase_id: str | None, attempt_id: int | None) -> None:
        pass

    def on_event(self, kind: str, data: dict[str, Any], phase_id: str | None) -> None:
        from .progress import describe

        console(stderr=True).print(describe(kind, data).strip(), markup=False)

    def on_http_500(self) -> None:
        pass


def _standalone_service(cfg: Any, script: Path | None, sink: Any = None) -> Any:
    from .llm.scripted import ScriptedProvider
    from .runner import make_service, run_environment

    return make_service(cfg, run_environment(dict(os.environ)), sink=sink or _EventPrinter(),
                        override=ScriptedProvider(script) if script else None)


# doctor -------------------------------------------------------------------------------------------
@doctor_app.command("diagnose")
def doctor_diagnose(
    run_id: Annotated[str, typer.Option("--run-id", help="the run")],
    phase: Annotated[str | None, typer.Option("--phase", help="phase id (default: the failed one)")] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="carry out the diagnosis (then `autopack run` the same run to continue)")
    ] = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
    script: ScriptOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the Doctor on a failed phase from the store and print its diagnosis."""
    from .doctor_cmd import diagnose_stored

    data = diagnose_stored(run_id=run_id, phase_id=phase, apply=apply, config_path=config, home=home, script=script)
    if as_json:
        _print_json(data)
        return
    out = console()
    d = data["diagnosis"]
    out.print(f"[bold]{data['phase']}[/]: {d['action']} (confidence {d['confidence']:.2f}, model {data['model']})")
    out.print(d["rationale"], markup=False)
    if d.get("hint"):
        out.print(f"hint: {d['hint']}", markup=False)
    for c in d.get("commands") or []:
        out.print(f"command: {c}", markup=False)
    if apply:
        out.print(f"applied: {data['applied']}", markup=False)


# plan draft ---------------------------------------------------------------------------------------
@plan_app.command("draft")
def plan_draft(
    goal: Annotated[str, typer.Option("--goal", help="what the run should achieve")],
    output: Annotated[Path, typer.Option("-o", "--output", help="where to write the plan YAML")],
    project_dir: Annotated[
        Path | None,
        typer.Option("--project-dir", help="the project the plan is for (default: the repository around the current directory)"),
    ] = None,
    project: Annotated[str | None, typer.Option("--project", help="project name (default: the directory name)")] = None,
    model: Annotated[str | None, typer.Option("--model", help="planner model (default: routing.planner_model)")] = None,
    config: ConfigOpt = None,
    script: ScriptOpt = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing output file")] = False,
) -> None:
    """Ask the Planner model for a phased plan (validated, retried on errors); review it, then `autopack run`."""
    import re

    import yaml

    from .agents.base import CallContext
    from .agents.planner import Planner

    if output.exists() and not force:
        fail(f"{output} exists; pass --force to overwrite it")
    cfg = _config(config)
    from .layout import project_root

    root = project_dir.resolve() if project_dir is not None else (project_root(Path.cwd()) or Path.cwd().resolve())
    if not root.is_dir():
        fail(f"--project-dir {project_dir}: not a directory")
    files = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )[:300]
    readme = next((root / n for n in ("README.md", "README.rst", "README.txt", "README") if (root / n).is_file()), None)
    name = project or re.sub(r"[^A-Za-z0-9_.-]", "-", root.name) or "project"
    planner = Planner(_standalone_service(cfg, script))
    plan = planner.draft_plan(
        model=model or cfg.routing.planner_model,
        goal=goal,
        project=name,
        tree="\n".join(files),
        readme=readme.read_text(encoding="utf-8", errors="replace") if readme else "",
        ctx=CallContext(),
    )
    data = plan.model_dump(exclude_defaults=True, exclude={"phases": {"__all__": {"tier"}}})
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(
        "# drafted by `autopack plan draft`; review before `autopack run`\n"
        + yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    os.replace(tmp, output)
    console().print(
        f"[green]wrote[/] {output}: {len(plan.all_phases())} phases. Review it, then: "
        f"autopack run --run-id <id> --plan {output} --project-dir {root}"
    )
