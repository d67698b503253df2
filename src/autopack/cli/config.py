"""``autopack config show|validate|init``: the layered configuration (shipped, user, project, --config)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import ConfigOpt, JsonOpt, app, console, load_config
from .output import fail, print_json

config_app = typer.Typer(
    rich_markup_mode=None,
    help="Show, check or start the configuration (layered: shipped, user, project, --config).",
    no_args_is_help=True,
)
app.add_typer(config_app, name="config")


@config_app.command("show")
def config_show(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Print the effective configuration (the layers merged, after defaults). Keys are never shown: only which are set."""
    from ..config import config_layers

    cfg = load_config(config)
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
    from ..config import SHIPPED_CONFIG, ConfigLayer, load_effective_config

    cfg = load_effective_config(layers=[ConfigLayer("shipped", SHIPPED_CONFIG), ConfigLayer("file", file)])
    console().print(f"[green]ok[/] {file}: {len(cfg.models)} priced models, {len(cfg.endpoints)} endpoints")


@config_app.command("init")
def config_init(
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="where to write it (default: autopack.yaml at the root of the project's "
            "git repository; with --user, the user config)",
        ),
    ] = None,
    user: Annotated[
        bool, typer.Option("--user", help="write the user config ($XDG_CONFIG_HOME/autopack/config.yaml)")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="replace an existing file")] = False,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            metavar="NAME",
            help="write a shipped profile instead, in effect as written: 'deepseek' (DeepSeek Flash for the "
            "cheap work, GPT-5.5 after it; needs DEEPSEEK_API_KEY; measured in docs/BENCHMARKS.md)",
        ),
    ] = None,
) -> None:
    """Write a commented starting config (every line a comment: it changes nothing until you uncomment one),
    or with --profile a shipped profile that takes effect at once."""
    from ..config_init import starting_config_path, write_starting_config

    target = starting_config_path(output, user=user)
    if target is None:
        fail("not inside a git repository: run this in your project, or pass --user (your user config) or -o FILE")
    path = write_starting_config(target, force=force, profile=profile)
    what = "uncomment what you change" if profile is None else f"profile {profile!r}, in effect now"
    console().print(f"[green]wrote[/] {path}: {what}; check it with `autopack config validate {path}`", soft_wrap=True)
