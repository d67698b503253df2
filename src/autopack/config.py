"""Configuration: ``config/models.yaml`` loaded into a pydantic tree.

Every section of the seed document lives here with its defaults: Doctor models and execute_fix
settings, complexity escalation, escalation chains, re-planning, the run health budget, provider
routing, retries, caps and per-model prices. Unknown keys are errors with a file, key path and line.
The effective config is layered (``load_effective_config``): the shipped ``config/models.yaml``, then
the user's ``$XDG_CONFIG_HOME/autopack/config.yaml``, then the project's ``autopack.yaml`` at the root
of its git repository, then ``--config FILE`` (else ``$AUTOPACK_CONFIG``). Mappings merge key by key,
anything else (lists, values) is replaced by the later file; an error names the file and line of the
layer that set the key. ``load_config`` reads one file on its own.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from .errors import ConfigError
from .yamlfile import Loc, YamlProblem, format_loc, line_for, load_with_lines, validate_file

PACKAGE_DIR = Path(__file__).resolve().parent
# In a checkout (or an editable install) the file lives at config/models.yaml; a wheel carries a
# copy as package data (see pyproject's force-include).
_REPO_CONFIG = PACKAGE_DIR.parent.parent / "config" / "models.yaml"
SHIPPED_CONFIG = _REPO_CONFIG if _REPO_CONFIG.is_file() else PACKAGE_DIR / "data" / "models.yaml"

Complexity = Literal["low", "medium", "high"]
COMPLEXITIES: tuple[Complexity, ...] = ("low", "medium", "high")
BUILTIN_PROVIDERS: tuple[str, ...] = ("anthropic", "openai", "glm", "gemini")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Policy(StrEnum):
    """How a phase picks its first model and its fallback order."""

    BEST_FIRST = "BEST_FIRST"  # start on the strongest model of the chain
    PROGRESSIVE = "PROGRESSIVE"  # start on the first model, escalate along the chain
    CHEAP_FIRST = "CHEAP_FIRST"  # start on the cheapest model, providers tried cheapest first


class ModelPrice(Strict):
    input: float = Field(0.0, ge=0, description="USD per million input tokens")
    output: float = Field(0.0, ge=0, description="USD per million output tokens")
    cached_input: float | None = Field(None, ge=0, description="USD per million cache-read tokens")
    cache_write: float | None = Field(
        None,
        ge=0,
        description="USD per million tokens written to the prompt cache; unset: 1.25 x input (Anthropic's "
        "5-minute cache). Providers that cache by themselves (OpenAI, Gemini, GLM) report no writes",
    )
    free: bool = Field(False, description="a local or free model: cost is counted as zero")
    context_window: int | None = Field(
        None,
        ge=1000,
        description="tokens one request may hold (prompt and reply); unset: the usual window of its family",
    )

    @model_validator(mode="before")
    @classmethod
    def _free_shorthand(cls, value: Any) -> Any:
        if value == "free":
            return {"free": True}
        return value

    def cost(self, tokens_in: int, tokens_out: int, tokens_cached: int = 0, tokens_cache_write: int = 0) -> float:
        """USD for one call. ``tokens_in`` counts every input token; of them, cache reads are billed at
        ``cached_input`` (default: input/10) and cache writes at ``cache_write`` (default: 1.25 x input)."""
        if self.free:
            return 0.0
        cached_rate = self.cached_input if self.cached_input is not None else self.input / 10
        write_rate = self.cache_write if self.cache_write is not None else self.input * 1.25
        uncached = max(tokens_in - tokens_cached - tokens_cache_write, 0)
        return (
            uncached * self.input
            + tokens_cached * cached_rate
            + tokens_cache_write * write_rate
            + tokens_out * self.output
        ) / 1e6


class Endpoint(Strict):
    """An OpenAI-compatible server (Ollama, vLLM, llama.cpp, OpenRouter); models are ``name/model``."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    base_url: str
    api_key_env: str | None = Field(None, description="environment variable holding the key, if any")
    free: bool = Field(False, description="every model of this endpoint costs nothing (local server)")
    models: dict[str, ModelPrice] = Field(default_factory=dict, description="prices by model name")


class DoctorModels(Strict):
    cheap: str = "glm-4.6"
    strong: str = "claude-sonnet-4-5"
    min_confidence_for_cheap: float = Field(0.7, ge=0, le=1)
    health_budget_near_limit_ratio: float = Field(0.8, gt=0, le=1)
    high_risk_categories: list[str] = Field(default_factory=lambda: ["import", "logic"])
    max_calls_per_phase: int = Field(2, ge=0)
    max_calls_per_run: int = Field(10, ge=0)
    call_after_failures: int = Field(2, ge=1, description="failed Builder attempts before the Doctor is asked")


FixType = Literal["git", "file", "python"]


class DoctorSettings(Strict):
    allow_execute_fix_global: bool = False
    max_execute_fix_per_phase: int = Field(1, ge=0)
    allowed_fix_types: list[FixType] = Field(default_factory=lambda: list[FixType](["git", "file"]))
    command_timeout_seconds: float = Field(120, gt=0)


class EscalationThresholds(Strict):
    low_to_medium: int = Field(2, ge=1)
    medium_to_high: int = Field(2, ge=1)


class ComplexityEscalation(Strict):
    enabled: bool = True
    thresholds: EscalationThresholds = Field(default_factory=EscalationThresholds)
    max_attempts_per_phase: int = Field(5, ge=1)
    failure_types: list[str] = Field(default_factory=lambda: ["auditor_reject", "ci_fail", "patch_apply_error"])


class Chain(Strict):
    models: list[str] = Field(min_length=1)


class TierChains(Strict):
    low: Chain
    medium: Chain
    high: Chain

    def for_complexity(self, complexity: str) -> list[str]:
        chain: Chain = getattr(self, complexity)
        return list(chain.models)


class EscalationChains(Strict):
    builder: TierChains
    auditor: TierChains


class Replan(Strict):
    trigger_threshold: int = Field(2, ge=1)
    message_similarity_enabled: bool = True
    similarity_threshold: float = Field(0.8, ge=0, le=1)
    min_message_length: int = Field(30, ge=0)
    max_replans_per_phase: int = Field(1, ge=0)
    fatal_error_types: list[str] = Field(
        default_factory=lambda: ["wrong_tech_stack", "schema_mismatch", "api_contract_wrong"]
    )


class HealthBudgetLimits(Strict):
    """The health budget's limits (``health_budget`` in the config); the counters checked against them
    during a run are ``recovery.budget.HealthBudget``."""

    MAX_HTTP_500_PER_RUN: int = Field(10, ge=1)
    MAX_PATCH_FAILURES_PER_RUN: int = Field(15, ge=1)
    MAX_TOTAL_FAILURES_PER_RUN: int = Field(40, ge=1)  # the seed's 25, raised: config/models.yaml says why


class TierStrategy(Strict):
    """The model that serves each complexity level for roles without an escalation chain: a phase's
    mid-run re-plan uses its level's model, and learned rules are worded by the low one."""

    low: str = "glm-4.6"
    medium: str = "claude-sonnet-4-5"
    high: str = "claude-sonnet-4-5"


class Routing(Strict):
    tier_strategy: TierStrategy = Field(default_factory=TierStrategy)
    fallback_chain: list[str] = Field(default_factory=lambda: ["glm", "anthropic", "openai"])
    fallback_models: dict[str, str] = Field(
        default_factory=lambda: {"glm": "glm-4.6", "anthropic": "claude-sonnet-4-5", "openai": "gpt-5"},
        description="the model used on a provider when a call falls back to it",
    )
    default_policy: Policy = Policy.PROGRESSIVE
    category_policies: dict[str, Policy] = Field(default_factory=dict)
    planner_model: str = "claude-sonnet-4-5"

    def policy_for(self, category: str) -> Policy:
        return self.category_policies.get(category, self.default_policy)


class Limits(Strict):
    run_cost_cap_usd: float | None = Field(10.0, ge=0, description="stop the run cleanly at this spend")
    provider_token_caps: dict[str, int] = Field(default_factory=dict, description="tokens per provider per run")
    near_cap_ratio: float = Field(0.8, gt=0, le=1, description="past this share of a cap, prefer other providers")


class Retries(Strict):
    max_retries: int = Field(3, ge=0, description="retries of one call on 429/5xx/timeouts")
    base_delay_seconds: float = Field(1.0, ge=0)
    max_delay_seconds: float = Field(30.0, ge=0)
    max_total_seconds: float = Field(120.0, ge=0, description="give up on a provider after this long")
    request_timeout_seconds: float = Field(120.0, gt=0)


def _command(value: str) -> str:
    if not value.strip():
        raise ValueError(
            "an empty check command; give the command to run (e.g. 'python -m pytest -q') or remove the entry"
        )
    return value


# A check is a command line run by the shell; an empty one would "pass" without checking anything.
CheckCommand = Annotated[str, AfterValidator(_command)]


class QualityGate(Strict):
    default_checks: list[CheckCommand] = Field(default_factory=list, description="run after each phase's own checks")
    check_timeout_seconds: float = Field(600, gt=0)
    checks_env: str = Field(
        "auto",
        description="where `python` in checks comes from: auto (the active virtual environment, else the project's "
        ".venv/venv, else autopack's interpreter), inherit (the PATH at launch), autopack, or a venv path",
    )
    tail_lines: int = Field(60, ge=1)
    dual_audit_categories: list[str] = Field(
        default_factory=lambda: ["security", "auth", "schema", "migration"],
        description="phase categories that need every check green and two Auditor approvals",
    )


class BuilderSettings(Strict):
    max_output_tokens: int = Field(8192, ge=256)
    context_token_budget: int | None = Field(
        None,
        ge=1000,
        description="tokens for the phase and its files; unset: a share of the Builder model's context window",
    )
    context_window_share: float = Field(
        0.5,
        gt=0,
        le=0.9,
        description="share of the smallest context window a Builder request may land on (the model or a fallback)",
    )
    max_continuations: int = Field(2, ge=0, description="continue a reply cut off at max tokens")


class Config(Strict):
    models: dict[str, ModelPrice] = Field(default_factory=dict, description="per-model prices")
    endpoints: list[Endpoint] = Field(default_factory=list)
    doctor_models: DoctorModels = Field(default_factory=DoctorModels)
    doctor: DoctorSettings = Field(default_factory=DoctorSettings)
    complexity_escalation: ComplexityEscalation = Field(default_factory=ComplexityEscalation)
    escalation_chains: EscalationChains
    replan: Replan = Field(default_factory=Replan)
    health_budget: HealthBudgetLimits = Field(default_factory=HealthBudgetLimits)
    routing: Routing = Field(default_factory=Routing)
    limits: Limits = Field(default_factory=Limits)
    retries: Retries = Field(default_factory=Retries)
    quality_gate: QualityGate = Field(default_factory=QualityGate)
    builder: BuilderSettings = Field(default_factory=BuilderSettings)

    @model_validator(mode="after")
    def _names_route(self, info: ValidationInfo) -> Config:
        # Raised as ConfigError (not ValueError) so the message can point at the key that names the
        # bad model or provider, with its line, instead of pydantic's "(top level)".
        ctx = info.context or {}
        lines: dict[Loc, int] = ctx.get("lines", {})
        path = ctx.get("path", "config")
        problems: list[tuple[Loc, str]] = []
        names = [e.name for e in self.endpoints]
        for i, name in enumerate(names):
            if name in names[:i]:
                problems.append(
                    (("endpoints", i, "name"), f"two endpoints are named {name!r}; give each a unique name")
                )
            if name in BUILTIN_PROVIDERS:
                problems.append(
                    (("endpoints", i, "name"), f"{name!r} is a built-in provider's name; rename the endpoint")
                )
        for i, provider in enumerate(self.routing.fallback_chain):
            if provider not in BUILTIN_PROVIDERS and provider not in names:
                problems.append(
                    (
                        ("routing", "fallback_chain", i),
                        f"unknown provider {provider!r}: use one of {', '.join(BUILTIN_PROVIDERS)} or an endpoint name",
                    )
                )
        for prov in self.limits.provider_token_caps:
            if prov not in BUILTIN_PROVIDERS and prov not in names:
                problems.append(
                    (
                        ("limits", "provider_token_caps", prov),
                        f"unknown provider {prov!r}: use one of {', '.join(BUILTIN_PROVIDERS)} or an endpoint name",
                    )
                )
        for loc, model in self._model_refs():
            try:
                provider_for_model(model, self)
            except ValueError as exc:
                problems.append((loc, str(exc)))
        if problems:
            msgs = []
            where = ctx.get("where")  # layered configs: the file and line of the layer that set the key
            for loc, msg in problems:
                if where is not None:
                    msgs.append(f"{where(loc)}: {format_loc(loc)}: {msg}")
                    continue
                line = line_for(lines, loc)
                msgs.append(f"{path}:{line}: {format_loc(loc)}: {msg}" if line else f"{path}: {format_loc(loc)}: {msg}")
            raise ConfigError("invalid config:\n  " + "\n  ".join(msgs))
        return self

    def _model_refs(self) -> list[tuple[Loc, str]]:
        """Every (key path, model name) the config uses in a chain, tier or role."""
        out: list[tuple[Loc, str]] = [
            (("doctor_models", "cheap"), self.doctor_models.cheap),
            (("doctor_models", "strong"), self.doctor_models.strong),
            (("routing", "planner_model"), self.routing.planner_model),
        ]
        for role in ("builder", "auditor"):
            chains: TierChains = getattr(self.escalation_chains, role)
            for c in COMPLEXITIES:
                out.extend(
                    (("escalation_chains", role, c, "models", i), m) for i, m in enumerate(chains.for_complexity(c))
                )
        ts = self.routing.tier_strategy
        out.extend((("routing", "tier_strategy", c), getattr(ts, c)) for c in COMPLEXITIES)
        out.extend((("routing", "fallback_models", p), m) for p, m in self.routing.fallback_models.items())
        return out

    def referenced_models(self) -> list[str]:
        """Every model name the config uses in a chain, tier or role."""
        return list(dict.fromkeys(m for _, m in self._model_refs()))

    def endpoint(self, name: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.name == name), None)

    def price_for(self, model: str) -> ModelPrice | None:
        """The model's price, or None when the config cannot count its cost."""
        if model in self.models:
            return self.models[model]
        if "/" in model:
            ep_name, _, inner = model.partition("/")
            ep = self.endpoint(ep_name)
            if ep is not None:
                if inner in ep.models:
                    return ep.models[inner]
                if ep.free:
                    return ModelPrice(free=True)
        return None

    def unpriced_models(self, models: list[str]) -> list[str]:
        return [m for m in models if self.price_for(m) is None]

    def context_window(self, model: str) -> int:
        """Tokens one request to ``model`` may hold: its ``context_window`` entry, else its family's usual one."""
        price = self.price_for(model)
        if price is not None and price.context_window is not None:
            return price.context_window
        if "/" in model:
            return ENDPOINT_CONTEXT_WINDOW
        return next((n for prefix, n in FAMILY_CONTEXT_WINDOWS if model.startswith(prefix)), ENDPOINT_CONTEXT_WINDOW)


_OPENAI = re.compile(r"^(gpt-|o1|o3|o4|chatgpt-|text-embedding-)")

# Context windows (prompt and reply, in tokens) by model-name prefix, first match wins; a model's
# own ``context_window`` in ``models:`` overrides them. Local servers often run with small windows.
FAMILY_CONTEXT_WINDOWS: tuple[tuple[str, int], ...] = (
    ("claude-", 200_000),
    ("gpt-5", 400_000),
    ("gpt-4.1", 1_047_576),
    ("gpt-", 128_000),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4", 200_000),
    ("glm-4.6", 200_000),
    ("glm-", 128_000),
    ("gemini-", 1_048_576),
)
ENDPOINT_CONTEXT_WINDOW = 32_768


def provider_for_model(model: str, config: Config | None = None) -> str:
    """The provider a model name routes to; ValueError with the routing table for unknown names."""
    if "/" in model:
        ep = model.split("/", 1)[0]
        if config is not None and config.endpoint(ep) is not None:
            return ep
        raise ValueError(
            f"model {model!r} names endpoint {ep!r}, which is not declared under 'endpoints' in the config"
        )
    if model.startswith("claude-"):
        return "anthropic"
    if _OPENAI.match(model):
        return "openai"
    if model.startswith("glm-"):
        return "glm"
    if model.startswith("gemini-"):
        return "gemini"
    raise ValueError(
        f"unknown model {model!r}: names must start with claude- (Anthropic), gpt-/o1/o3/o4 (OpenAI), "
        "glm- (GLM), gemini- (Gemini), or be <endpoint>/<model> for a configured endpoint"
    )


def config_path(explicit: Path | None = None) -> Path:
    if explicit is not None:
        return explicit
    env = os.environ.get("AUTOPACK_CONFIG")
    if env:
        return Path(env)
    return SHIPPED_CONFIG


def load_config(explicit: Path | None = None) -> Config:
    """Load and validate the effective config; ConfigError names file, key path and line."""
    return validate_file(Config, config_path(explicit), ConfigError, "config")


# Layering -------------------------------------------------------------------------------------------
# The project's config file, at the root of its git repository (visible, not a dot-file: it is part of
# the project, reviewed and committed like the plan files next to it).
PROJECT_CONFIG_NAME = "autopack.yaml"


def user_config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/autopack/config.yaml`` (``~/.config/autopack/config.yaml`` when unset)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME")
    return (Path(base) if base else Path.home() / ".config") / "autopack" / "config.yaml"


@dataclass(frozen=True)
class ConfigLayer:
    """One file of the effective config: ``name`` says where it came from (shipped, user, project,
    --config, $AUTOPACK_CONFIG)."""

    name: str
    path: Path


def config_layers(explicit: Path | None = None, project_dir: Path | None = None) -> list[ConfigLayer]:
    """The files that make the effective config, lowest first. ``project_dir`` is any folder of the
    project (default: the current directory); its git repository's root holds the project config."""
    from .layout import project_root

    layers = [ConfigLayer("shipped", SHIPPED_CONFIG)]
    user = user_config_path()
    if user.is_file():
        layers.append(ConfigLayer("user", user))
    root = project_root(project_dir or Path.cwd())
    if root is not None and (root / PROJECT_CONFIG_NAME).is_file():
        layers.append(ConfigLayer("project", root / PROJECT_CONFIG_NAME))
    if explicit is not None:
        layers.append(ConfigLayer("--config", explicit))
    elif os.environ.get("AUTOPACK_CONFIG"):
        layers.append(ConfigLayer("$AUTOPACK_CONFIG", Path(os.environ["AUTOPACK_CONFIG"])))
    return layers


Place = tuple[Path, int]


def load_effective_config(
    explicit: Path | None = None, *, project_dir: Path | None = None, layers: list[ConfigLayer] | None = None
) -> Config:
    """The layered config (see the module docstring); ConfigError names the file, key path and line."""
    data: Any = {}
    places: dict[Loc, Place] = {}
    chosen = layers if layers is not None else config_layers(explicit, project_dir)
    for layer in chosen:
        try:
            layer_data, lines = load_with_lines(layer.path)
        except YamlProblem as exc:
            at = f"{layer.path}:{exc.line}" if exc.line else str(layer.path)
            raise ConfigError(f"{at}: {exc.message}; fix the config file and try again") from None
        if layer_data is None:  # an empty file, or one of comments only (as `config init` writes)
            continue
        if not isinstance(layer_data, dict):
            raise ConfigError(f"{layer.path}: the config must be a mapping of keys at the top level")
        data = _merge(data, layer_data, (), places, layer.path, lines)
    top = chosen[-1].path

    def where(loc: Loc) -> str:
        probe = tuple(loc)
        while probe not in places and probe:
            probe = probe[:-1]
        found = places.get(probe)
        return f"{found[0]}:{found[1]}" if found else str(top)

    try:
        return Config.model_validate(data, context={"where": where, "path": top})
    except ValidationError as exc:
        msgs = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check its spelling; see the shipped example for the allowed keys)"
            msgs.append(f"{where(loc)}: {format_loc(loc)}: {msg}")
        raise ConfigError("invalid config:\n  " + "\n  ".join(msgs)) from None


def merge_layer(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` deep-merged onto ``base`` as config layers merge (mappings key by key, the rest replaced)."""
    merged: dict[str, Any] = _merge(dict(base), dict(over), (), {}, Path(), {})
    return merged


def _merge(base: Any, over: Any, loc: Loc, places: dict[Loc, Place], path: Path, lines: Mapping[Loc, int]) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        if loc in lines:
            places[loc] = (path, lines[loc])
        for key, value in over.items():
            child = (*loc, key if isinstance(key, int) else str(key))
            out[key] = _merge(base.get(key), value, child, places, path, lines)
        return out
    # Replaced: what a lower layer said under this key no longer applies, nor do its lines.
    n = len(loc)
    for stale in [p for p in places if p[:n] == loc]:
        del places[stale]
    places.update({p: (path, ln) for p, ln in lines.items() if p[:n] == loc})
    return over


def config_diff(old: Mapping[str, Any], new: Mapping[str, Any], limit: int = 12) -> list[str]:
    """The keys whose values differ between two config dumps, as ``key.path: old -> new`` lines (at most
    ``limit``, then a count of the rest)."""
    flat_old, flat_new = _flatten(old), _flatten(new)
    lines = []
    for key in sorted(set(flat_old) | set(flat_new)):
        before, after = flat_old.get(key, "(unset)"), flat_new.get(key, "(unset)")
        if before != after:
            lines.append(f"{key}: {_short(before)} -> {_short(after)}")
    if len(lines) > limit:
        lines = [*lines[:limit], f"and {len(lines) - limit} more"]
    return lines


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _short(value: Any) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
