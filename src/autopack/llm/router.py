"""Routing: which provider serves a model name, and in what order providers are tried.

The router owns the fallback order of one call: the requested provider first, then
``routing.fallback_chain`` with each provider's ``routing.fallback_models`` entry, minus providers
without a key and providers that used up their token cap this run; providers near their cap go to
the end. It never calls a provider; the service does, with retries, along the list returned here.
(The first model of a phase is chosen by escalation, not here.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ..config import Config, Policy, provider_for_model
from ..errors import AutopackError
from .types import Provider


class RoutingError(AutopackError):
    """A model name that no provider serves (unknown prefix or undeclared endpoint)."""


@dataclass(frozen=True)
class SkippedProvider:
    """A provider the router left out of a call's candidates, and why (e.g. "no key")."""

    provider: str
    model: str
    reason: str


class Candidates(list[tuple[str, str]]):
    """The ordered ``(provider, model)`` pairs to try, with the providers left out in ``skipped``.

    ``model`` is the config's model name (``ollama/qwen`` keeps its endpoint prefix, so prices are
    found); ``Router.api_model`` gives the name the provider's API knows.
    """

    def __init__(self, pairs: list[tuple[str, str]], skipped: list[SkippedProvider]) -> None:
        super().__init__(pairs)
        self.skipped = skipped


def api_model(model: str, provider: str) -> str:
    """The model name the provider's API knows: ``<endpoint>/<model>`` loses its endpoint prefix."""
    prefix = provider + "/"
    return model[len(prefix) :] if model.startswith(prefix) else model


class Router:
    """Maps model names to providers and orders the providers a call may use."""

    def __init__(self, config: Config, providers: Mapping[str, Provider]) -> None:
        self.config = config
        self.providers = providers

    def provider_name(self, model: str) -> str:
        """The provider a model name routes to; RoutingError for names nothing serves."""
        try:
            return provider_for_model(model, self.config)
        except ValueError as exc:
            raise RoutingError(f"{exc}; fix the model name in the plan or config") from None

    def route(self, model: str) -> tuple[str, str]:
        """(provider name, model name as the provider's API knows it)."""
        provider = self.provider_name(model)
        return provider, api_model(model, provider)

    def candidates(
        self,
        model: str,
        *,
        policy: Policy = Policy.PROGRESSIVE,
        provider_tokens: Mapping[str, int] | None = None,
    ) -> Candidates:
        """The requested (provider, model) first, then the fallback chain; see the module docstring."""
        used = provider_tokens or {}
        requested = self.provider_name(model)
        skipped: list[SkippedProvider] = []

        fallbacks: list[tuple[str, str]] = []
        for name in dict.fromkeys(self.config.routing.fallback_chain):
            if name == requested:
                continue
            fb_model = self.config.routing.fallback_models.get(name)
            if fb_model is None:
                skipped.append(
                    SkippedProvider(name, "", f"no fallback model (set routing.fallback_models.{name} in the config)")
                )
                continue
            fallbacks.append((name, fb_model))
        if policy is Policy.CHEAP_FIRST:
            # Stable sort: equally priced providers keep the configured order; unpriced ones go last.
            fallbacks.sort(key=lambda pair: self._price_key(pair[1]))

        ordered: list[tuple[str, str]] = []
        near_cap: list[tuple[str, str]] = []
        for name, cand_model in [(requested, model), *fallbacks]:
            reason = self._unusable(name, used)
            if reason is not None:
                skipped.append(SkippedProvider(name, cand_model, reason))
            elif self._near_cap(name, used):
                near_cap.append((name, cand_model))
            else:
                ordered.append((name, cand_model))
        return Candidates(ordered + near_cap, skipped)

    def _unusable(self, name: str, used: Mapping[str, int]) -> str | None:
        provider = self.providers.get(name)
        if provider is None:
            return "not set up (no adapter was built for it)"
        if not provider.available():
            return "no key"
        cap = self.config.limits.provider_token_caps.get(name)
        if cap is not None and used.get(name, 0) >= cap:
            return f"token cap reached ({used.get(name, 0)} of {cap} tokens this run; limits.provider_token_caps)"
        return None

    def _near_cap(self, name: str, used: Mapping[str, int]) -> bool:
        cap = self.config.limits.provider_token_caps.get(name)
        if cap is None:
            return False
        return used.get(name, 0) >= cap * self.config.limits.near_cap_ratio

    def _price_key(self, model: str) -> float:
        price = self.config.price_for(model)
        if price is None:
            return math.inf
        if price.free:
            return 0.0
        return price.input + price.output
