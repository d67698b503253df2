"""Preflight: before a run writes anything, every model it can reach has a provider that can answer
and a price.

A run reaches, for the complexities of its phases: the Builder's escalation chains (the phase's tier,
and the tiers above it while ``complexity_escalation`` is on), the Auditor's chain at the phase's tier,
the Doctor's cheap and strong models, the Planner's ``routing.tier_strategy`` model (a re-plan uses the
phase's level, a learned rule is worded by the low one), and ``routing.fallback_models`` of the
providers in ``routing.fallback_chain`` (where a call lands when its own provider cannot answer).

A role can be answered when its model's provider has its key (or is an endpoint without
``api_key_env``), or when some provider of the fallback chain with a fallback model has one; the
router then moves the call there, as it will mid-run. ``check_roles`` lists every role that cannot,
with the model, the config key that names it and the variable or key that fixes it. A run answered by
``--script`` or ``--replay`` needs no key and skips this check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .config import COMPLEXITIES, Config, provider_for_model
from .errors import AutopackError


class PreflightError(AutopackError):
    """Some role of the run has no provider that can answer it; nothing was written."""


@dataclass(frozen=True)
class RoleModel:
    """A model a run can call: who calls it (``role``) and the config key that names it."""

    role: str
    key: str
    model: str


def reachable_models(complexities: set[str], config: Config) -> list[RoleModel]:
    """Every (role, config key, model) a run whose phases have these complexities can call."""
    out: list[RoleModel] = []
    esc = config.complexity_escalation
    builder_levels: set[str] = set()
    for c in complexities:
        start = COMPLEXITIES.index(c)  # type: ignore[arg-type]
        builder_levels.update(COMPLEXITIES[start:] if esc.enabled else (c,))
    for level in COMPLEXITIES:
        if level in builder_levels:
            for i, m in enumerate(config.escalation_chains.builder.for_complexity(level)):
                out.append(RoleModel(f"Builder ({level})", f"escalation_chains.builder.{level}.models[{i}]", m))
    for level in COMPLEXITIES:
        if level in complexities:
            for i, m in enumerate(config.escalation_chains.auditor.for_complexity(level)):
                out.append(RoleModel(f"Auditor ({level})", f"escalation_chains.auditor.{level}.models[{i}]", m))
    out.append(RoleModel("Doctor (cheap)", "doctor_models.cheap", config.doctor_models.cheap))
    out.append(RoleModel("Doctor (strong)", "doctor_models.strong", config.doctor_models.strong))
    ts = config.routing.tier_strategy
    for level in COMPLEXITIES:
        if level in complexities:
            out.append(RoleModel(f"Planner (re-plan, {level})", f"routing.tier_strategy.{level}", getattr(ts, level)))
    out.append(RoleModel("Planner (learned rules)", "routing.tier_strategy.low", ts.low))
    return out


def fallback_landings(config: Config) -> list[RoleModel]:
    """The models a call can fall back to: ``routing.fallback_models`` of the fallback chain's providers."""
    return [
        RoleModel(f"fallback on {p}", f"routing.fallback_models.{p}", config.routing.fallback_models[p])
        for p in dict.fromkeys(config.routing.fallback_chain)
        if p in config.routing.fallback_models
    ]


def provider_ready(provider: str, config: Config, env: Mapping[str, str]) -> bool:
    """True when ``provider`` can be called: its key is set, or it is an endpoint that needs none."""
    endpoint = config.endpoint(provider)
    if endpoint is not None:
        return endpoint.api_key_env is None or bool(env.get(endpoint.api_key_env))
    return any(env.get(v) for v in _key_vars(provider))


def _key_vars(provider: str) -> tuple[str, ...]:
    from .llm.providers import KEY_ENV_VARS

    return KEY_ENV_VARS.get(provider, ())


def key_hint(provider: str, config: Config) -> str:
    """What to set so ``provider`` can be called (a variable, or the endpoint's config key)."""
    endpoint = config.endpoint(provider)
    if endpoint is not None:
        index = config.endpoints.index(endpoint)
        return f"${endpoint.api_key_env} (endpoints[{index}].api_key_env)"
    return " or ".join(f"${v}" for v in _key_vars(provider)) or f"a key for {provider}"


def answered_by(model: str, config: Config, env: Mapping[str, str]) -> tuple[str, str] | None:
    """The (provider, model) that would answer a call for ``model`` now: its own provider when ready,
    else the first ready provider of the fallback chain (as the router orders them); None when none is."""
    provider = provider_for_model(model, config)
    if provider_ready(provider, config, env):
        return provider, model
    for name in dict.fromkeys(config.routing.fallback_chain):
        fallback = config.routing.fallback_models.get(name)
        if name != provider and fallback is not None and provider_ready(name, config, env):
            return name, fallback
    return None


# Provider -> the SDK module its adapter imports (an endpoint speaks OpenAI's API through the openai SDK).
SDK_MODULES = {"anthropic": "anthropic", "openai": "openai", "glm": "zhipuai", "gemini": "google.genai"}


def sdk_modules(complexities: set[str], config: Config, env: Mapping[str, str]) -> set[str]:
    """The SDK modules of the providers that would answer a run whose phases have these complexities,
    with the keys in ``env`` (a model whose provider has no key: the fallback that takes its calls)."""
    out: set[str] = set()
    for rm in reachable_models(complexities, config):
        try:
            answer = answered_by(rm.model, config, env)
        except ValueError:
            continue  # an unroutable name is check_plan_models' to report
        if answer is not None:
            out.add(SDK_MODULES.get(answer[0], "openai"))
    return out


def check_roles(complexities: set[str], config: Config, env: Mapping[str, str]) -> list[str]:
    """One line per role that no provider can answer: the role, its models with the config key that
    names them, and what to set; empty when every role can be answered."""
    by_role: dict[str, list[str]] = {}
    for rm in reachable_models(complexities, config):
        try:
            provider = provider_for_model(rm.model, config)
        except ValueError:
            continue  # unroutable names are check_plan_models' to report, with their key
        if answered_by(rm.model, config, env) is None:
            by_role.setdefault(rm.role, []).append(f"{rm.model} at {rm.key} needs {key_hint(provider, config)}")
    return [f"{role}: {'; '.join(dict.fromkeys(items))}" for role, items in by_role.items()]


def preflight(complexities: set[str], config: Config, env: Mapping[str, str]) -> None:
    """Raise PreflightError naming every role that no provider can answer (see the module docstring)."""
    problems = check_roles(complexities, config, env)
    if not problems:
        return
    chain = config.routing.fallback_chain
    ready_hints = [f"{key_hint(p, config)} ({p})" for p in dict.fromkeys(chain) if p in config.routing.fallback_models]
    raise PreflightError(
        "no provider can answer these roles of the run (nothing was written):\n  "
        + "\n  ".join(problems)
        + f"\n  and no provider of routing.fallback_chain [{', '.join(chain)}] can take the calls over"
        + (f" (set {', '.join(ready_hints)})" if ready_hints else "")
        + ".\n  Fix: set one of those variables (in the environment or a .env file), or point the roles at models "
        "you can reach in your config (escalation_chains, doctor_models, routing.tier_strategy), or run every role "
        "on one model with --model NAME (e.g. --model ollama/qwen2.5-coder:7b)."
    )


def role_rows(complexities: set[str], config: Config, env: Mapping[str, str]) -> list[dict[str, str]]:
    """What ``--dry-run`` shows: each role's models, the config key, and who would answer it now."""
    rows = []
    for rm in reachable_models(complexities, config):
        provider = provider_for_model(rm.model, config)
        answer = answered_by(rm.model, config, env)
        if answer is None:
            who = f"nobody: set {key_hint(provider, config)}"
        elif answer == (provider, rm.model):
            who = provider
        else:
            who = f"{answer[1]} on {answer[0]} (fallback: {provider} has no key)"
        rows.append({"role": rm.role, "model": rm.model, "key": rm.key, "answered_by": who})
    return rows
