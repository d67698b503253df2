"""What ``autopack models`` shows and checks: every model the config knows with its provider, whether
its key or endpoint is set, its prices, what the installed SDK says of it and the roles routed to it
(``model_rows``); and one tiny call through the real path, reporting who answered (``check_model``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Config
    from .catalog import Status
    from .service import LlmService


def model_rows(cfg: Config, env: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per model the config prices, routes or offers through an endpoint (``env`` decides
    whether its key is set); ``warning`` is set for a routed model its SDK calls deprecated or unknown."""
    from ..config import provider_for_model
    from .catalog import model_status
    from .providers import KEY_ENV_VARS

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
    return rows


def _routes(cfg: Config) -> dict[str, list[str]]:
    """model -> the roles the config routes to it ("builder low", "doctor cheap", "fallback on openai")."""
    from ..yamlfile import format_loc

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


def check_model(service: LlmService, model: str) -> dict[str, Any]:
    """Send one tiny prompt to ``model`` through ``service`` (routing, retries, fallback): who answered,
    how fast, the tokens and the cost."""
    from .types import Message

    started = time.monotonic()
    res = service.complete(
        role="check",
        model=model,
        system="You are a health check. Reply with the single word: ok",
        messages=[Message("user", "Reply with: ok")],
        max_tokens=16,
    )
    return {
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
