"""``autopack models`` (list the models the config knows) and ``autopack models check MODEL`` (one tiny
call through the real path); the rows and the call are ``llm.inventory``'s."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from .app import ConfigOpt, JsonOpt, ScriptOpt, app, console, load_config, standalone_service
from .output import fail, print_json

models_app = typer.Typer(
    rich_markup_mode=None,
    help="List the models the config knows, or check one end to end.",
    invoke_without_command=True,
)
app.add_typer(models_app, name="models")


@models_app.callback()
def models_list(ctx: typer.Context, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """List every model the config knows: provider, whether its key or endpoint is set, prices, and what
    the installed provider SDK says of it (current, deprecated, unknown); warn about the routed ones."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.markup import escape
    from rich.table import Table

    from ..llm.inventory import model_rows
    from ..runner import run_environment

    rows = model_rows(load_config(config), run_environment(dict(os.environ)))
    if as_json:
        print_json(rows)
        return
    table = Table(title="models")
    for col in ("model", "provider", "ready", "key / endpoint", "USD in/M", "USD out/M", "SDK status"):
        table.add_column(col)
    for r in rows:
        in_p = "free" if r["free"] else ("-" if not r["priced"] else f"{r['input_per_m']:.2f}")
        out_p = "free" if r["free"] else ("-" if not r["priced"] else f"{r['output_per_m']:.2f}")
        yes_no = "yes" if r["ready"] else "no"
        table.add_row(
            str(r["model"]), str(r["provider"]), yes_no, str(r["needs"]), in_p, out_p, str(r["status_detail"])
        )
    console().print(table)
    err = console(stderr=True)
    for r in rows:
        if r["warning"]:
            err.print(f"[yellow]warning:[/] {escape(r['warning'])}", highlight=False, soft_wrap=True)


@models_app.command("check")
def models_check(
    model: Annotated[str, typer.Argument(help="model name, e.g. claude-sonnet-5-5 or ollama/qwen2.5-coder:7b")],
    config: ConfigOpt = None,
    script: ScriptOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send one tiny prompt through the real path (routing, retries, fallback) and report who answered."""
    from ..config import provider_for_model
    from ..llm.inventory import check_model

    cfg = load_config(config)
    try:
        provider_for_model(model, cfg)
    except ValueError as exc:
        fail(str(exc))
    data = check_model(standalone_service(cfg, script), model)
    if as_json:
        print_json(data)
        return
    console().print(
        f"[green]ok[/] {model}: answered by {_answered_by(data['provider'], data['model'])} in {data['latency_ms']} ms, "
        f"tokens {data['tokens_in']}/{data['tokens_out']}, ${data['cost_usd']:.6f}"
        + (f" (fell back: {' -> '.join(data['fallbacks'])})" if data["fallbacks"] else "")
    )


def _answered_by(provider: str, model: str) -> str:
    """``model`` (on ``provider``), without doubling an endpoint's name: ``local/coder`` already says ``local``."""
    return model if model.startswith(provider + "/") else f"{model} on {provider}"
