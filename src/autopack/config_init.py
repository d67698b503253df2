"""``autopack config init``: a commented starting config, every line a comment, so the file changes
nothing until a line is uncommented (it is layered over the shipped defaults like any config file);
or, with ``--profile NAME``, one of the shipped profiles (``profiles/NAME.yaml``): a config layer that
takes effect as written.
"""

from __future__ import annotations

from pathlib import Path

from .errors import AutopackError
from .fileio import atomic_write_text

TEMPLATE = """\
# autopack configuration, layered over the shipped defaults (`autopack config show` prints the result).
# Layers, lowest first: the shipped config; your user config ($XDG_CONFIG_HOME/autopack/config.yaml,
# usually ~/.config/autopack/config.yaml); the project's autopack.yaml at the root of its git repository;
# then --config FILE (or $AUTOPACK_CONFIG). Mappings merge key by key, lists and values replace.
# Every line below is a comment: uncomment what you change, then `autopack config validate <this file>`.

# --- Models you run: one for every role ------------------------------------------------------------
# The quick way needs no config: `autopack run ... --model ollama/qwen2.5-coder:7b`
# (and `--strong-model NAME` for escalation and the strong Doctor). To make it the default, name
# the model in every role below.
#
# A local or hosted OpenAI-compatible server; its models are written `<name>/<model>`:
# endpoints:
#   - name: ollama
#     base_url: http://127.0.0.1:11434/v1
#     free: true                          # a local server: calls cost nothing
#   - name: router
#     base_url: https://openrouter.ai/api/v1
#     api_key_env: OPENROUTER_API_KEY     # the variable that holds its key (.env works too)
#     models:
#       some/model: {input: 0.50, output: 1.50}   # USD per million tokens
#
# escalation_chains:                      # each role's models per phase complexity, weakest first
#   builder:
#     low: {models: [ollama/qwen2.5-coder:7b]}
#     medium: {models: [ollama/qwen2.5-coder:7b]}
#     high: {models: [ollama/qwen2.5-coder:7b]}
#   auditor:
#     low: {models: [ollama/qwen2.5-coder:7b]}
#     medium: {models: [ollama/qwen2.5-coder:7b]}
#     high: {models: [ollama/qwen2.5-coder:7b]}
# doctor_models: {cheap: ollama/qwen2.5-coder:7b, strong: ollama/qwen2.5-coder:7b}
# routing:
#   tier_strategy: {low: ollama/qwen2.5-coder:7b, medium: ollama/qwen2.5-coder:7b, high: ollama/qwen2.5-coder:7b}
#   planner_model: ollama/qwen2.5-coder:7b
#   fallback_chain: [ollama]             # where a call goes when its provider cannot answer
#   fallback_models: {ollama: ollama/qwen2.5-coder:7b}

# --- Prices for models the shipped config does not list (USD per million tokens) -------------------
# models:
#   my-model-name: {input: 1.00, output: 4.00, cached_input: 0.10}

# --- Limits ------------------------------------------------------------------------------------------
# limits:
#   run_cost_cap_usd: 10.0                # `--max-cost USD` for one run
# complexity_escalation:
#   max_attempts_per_phase: 5             # `--max-attempts N` for one run

# --- The quality gate --------------------------------------------------------------------------------
# quality_gate:
#   default_checks: ["python -m pytest -q"]   # run after every phase's own checks
#   checks_env: auto                      # auto | inherit | autopack | a venv path
"""


def starting_config_path(output: Path | None, *, user: bool) -> Path | None:
    """Where ``config init`` writes: ``output``; else with ``user`` the user config; else ``autopack.yaml``
    at the root of the git repository around the current directory (None outside one)."""
    from .config import PROJECT_CONFIG_NAME, user_config_path
    from .layout import project_root

    if output is not None:
        return output
    if user:
        return user_config_path()
    root = project_root(Path.cwd())
    return None if root is None else root / PROJECT_CONFIG_NAME


PROFILES_DIR = Path(__file__).resolve().parent / "profiles"


def profiles() -> list[str]:
    """The names of the shipped profiles."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def profile_path(name: str) -> Path:
    """The shipped profile ``name``; AutopackError naming the ones there are when it is not one."""
    if name not in profiles():
        raise AutopackError(f"--profile {name}: no such profile; the shipped ones are {', '.join(profiles())}")
    return PROFILES_DIR / f"{name}.yaml"


def write_starting_config(path: Path, *, force: bool = False, profile: str | None = None) -> Path:
    """Write ``TEMPLATE`` (or the shipped profile ``profile``) to ``path`` (folders made as needed);
    refuses to overwrite without ``force``."""
    text = TEMPLATE if profile is None else profile_path(profile).read_text(encoding="utf-8")
    if path.exists() and not force:
        raise AutopackError(f"{path} exists; edit it, or pass --force to replace it with the starting config")
    atomic_write_text(path, text)
    return path
