"""Command-line overrides of the effective config: one model for every role (``--model``, with
``--strong-model`` for escalation and the strong Doctor), the run cost cap (``--max-cost``) and the
attempts per phase (``--max-attempts``).

``--model NAME`` routes every role to NAME: the Builder's and the Auditor's escalation chains at every
complexity, the Doctor's cheap and strong models, the Planner (``routing.tier_strategy`` and
``routing.planner_model``), and the fallback chain, which keeps only NAME's provider (so no call
silently lands on another provider). With ``--strong-model STRONG`` too, the stronger sibling takes
the places where the run asks for more: the second rung of the Builder's low and medium chains and
the whole high chain, the Auditor's high chain, the strong Doctor, high-complexity re-plans and the
plan drafter; its provider joins the fallback chain after NAME's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config import COMPLEXITIES, Config, merge_layer, provider_for_model
from .errors import AutopackError


class OverrideError(AutopackError):
    """A --model / --strong-model name that no provider serves."""


@dataclass(frozen=True)
class RunOverrides:
    model: str | None = None
    strong_model: str | None = None
    max_cost: float | None = None
    max_attempts: int | None = None
    extra: dict[str, Any] | None = None  # any other keys, as a config layer on top (e.g. the demo's checks_env)

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.model, self.strong_model, self.max_cost, self.max_attempts, self.extra))

    def layer(self, config: Config) -> dict[str, Any]:
        """The config keys these options set, as a layer over ``config`` (checked against its endpoints)."""
        out: dict[str, Any] = {}
        if self.strong_model is not None and self.model is None:
            raise OverrideError("--strong-model needs --model too: --model names the model every role starts on")
        if self.model is not None:
            out.update(single_model_layer(config, self.model, self.strong_model))
        if self.max_cost is not None:
            out["limits"] = {"run_cost_cap_usd": self.max_cost}
        if self.max_attempts is not None:
            out["complexity_escalation"] = {"max_attempts_per_phase": self.max_attempts}
        return merge_layer(out, self.extra) if self.extra else out

    def apply(self, config: Config) -> Config:
        """``config`` with these options applied (the config itself when none is given)."""
        if not self:
            return config
        layer = self.layer(config)
        data = merge_layer(config.model_dump(mode="json"), layer)
        if "routing" in layer:  # replaced whole, not merged: only these providers may take a call over
            data["routing"]["fallback_models"] = layer["routing"]["fallback_models"]
        return Config.model_validate(data)


def _provider(flag: str, model: str, config: Config) -> str:
    try:
        return provider_for_model(model, config)
    except ValueError as exc:
        raise OverrideError(f"{flag} {model}: {exc}") from None


def single_model_layer(config: Config, model: str, strong: str | None = None) -> dict[str, Any]:
    """Every role on ``model`` (and ``strong`` where the run asks for a stronger one); see the module docstring."""
    provider = _provider("--model", model, config)
    strong_model = strong or model
    strong_provider = _provider("--strong-model", strong_model, config)
    pair = list(dict.fromkeys([model, strong_model]))
    builder = {c: {"models": pair if c != "high" else [strong_model]} for c in COMPLEXITIES}
    auditor = {c: {"models": [model] if c != "high" else [strong_model]} for c in COMPLEXITIES}
    return {
        "escalation_chains": {"builder": builder, "auditor": auditor},
        "doctor_models": {"cheap": model, "strong": strong_model},
        "routing": {
            "tier_strategy": {"low": model, "medium": model, "high": strong_model},
            "planner_model": strong_model,
            "fallback_chain": list(dict.fromkeys([provider, strong_provider])),
            "fallback_models": {
                provider: model,
                **({strong_provider: strong_model} if strong_provider != provider else {}),
            },
        },
    }
