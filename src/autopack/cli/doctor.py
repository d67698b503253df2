"""``autopack doctor diagnose``: the Doctor's diagnosis of a failed phase of a stored run (the work is
``autopack.diagnose``)."""

from __future__ import annotations

from typing import Annotated

import typer

from .app import ConfigOpt, HomeOpt, JsonOpt, ScriptOpt, app, console
from .output import print_json

doctor_app = typer.Typer(rich_markup_mode=None, help="Ask the Doctor about a failed phase.", no_args_is_help=True)
app.add_typer(doctor_app, name="doctor")


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
    from ..diagnose import diagnose_stored

    data = diagnose_stored(run_id=run_id, phase_id=phase, apply=apply, config_path=config, home=home, script=script)
    if as_json:
        print_json(data)
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
