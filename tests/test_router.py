"""Router: which provider serves a model, and the order providers are tried in for one call."""

from __future__ import annotations

from typing import Any

import pytest

from autopack.config import Config, Policy
from autopack.llm.router import Router, RoutingError
from autopack.llm.types import LlmRequest, LlmResponse, ProviderError

CHAIN = {"models": ["claude-sonnet-4-5"]}


def make_config(**sections: Any) -> Config:
    data: dict[str, Any] = {
        "models": {
            "claude-sonnet-4-5": {"input": 3.0, "output": 15.0},
            "glm-4.6": {"input": 0.6, "output": 2.2},
            "gpt-5": {"input": 1.25, "output": 10.0},
            "gemini-2.5-flash": {"input": 0.3, "output": 2.5},
        },
        "escalation_chains": {
            "builder": {"low": CHAIN, "medium": CHAIN, "high": CHAIN},
            "auditor": {"low": CHAIN, "medium": CHAIN, "high": CHAIN},
        },
        **sections,
    }
    return Config.model_validate(data)


class KeyedProvider:
    """A provider that only reports whether it has a key; the router never calls it."""

    def __init__(self, name: str, available: bool = True) -> None:
        self.name = name
        self._available = available

    def available(self) -> bool:
        return self._available

    def complete(self, request: LlmRequest) -> LlmResponse:
        raise ProviderError(kind="bad_request", message="the router must not call providers", provider=self.name)


def providers(*names: str, without_key: tuple[str, ...] = ()) -> dict[str, KeyedProvider]:
    return {n: KeyedProvider(n, available=n not in without_key) for n in names}


ALL = ("anthropic", "openai", "glm", "gemini")


def test_route_maps_model_names_to_their_provider() -> None:
    router = Router(make_config(), providers(*ALL))
    assert router.route("claude-sonnet-4-5") == ("anthropic", "claude-sonnet-4-5")
    assert router.route("gpt-5") == ("openai", "gpt-5")
    assert router.route("glm-4.6") == ("glm", "glm-4.6")
    assert router.route("gemini-2.5-flash") == ("gemini", "gemini-2.5-flash")


def test_route_strips_the_endpoint_prefix_for_endpoint_models() -> None:
    config = make_config(endpoints=[{"name": "ollama", "base_url": "http://127.0.0.1:11434/v1", "free": True}])
    router = Router(config, providers(*ALL, "ollama"))
    assert router.route("ollama/qwen2.5-coder:7b") == ("ollama", "qwen2.5-coder:7b")


def test_route_refuses_a_model_no_provider_serves() -> None:
    router = Router(make_config(), providers(*ALL))
    with pytest.raises(RoutingError, match="unknown model 'llama-3'"):
        router.route("llama-3")


def test_candidates_put_the_requested_model_first_then_the_fallback_chain() -> None:
    router = Router(make_config(), providers(*ALL))
    got = router.candidates("claude-sonnet-4-5", policy=Policy.PROGRESSIVE, provider_tokens={})
    assert list(got) == [("anthropic", "claude-sonnet-4-5"), ("glm", "glm-4.6"), ("openai", "gpt-5")]
    assert got.skipped == []


def test_candidates_use_the_configured_fallback_model_of_each_provider() -> None:
    config = make_config(
        routing={
            "fallback_chain": ["openai", "gemini"],
            "fallback_models": {"openai": "gpt-5", "gemini": "gemini-2.5-flash"},
        }
    )
    got = Router(config, providers(*ALL)).candidates("glm-4.6", policy=Policy.PROGRESSIVE, provider_tokens={})
    assert list(got) == [("glm", "glm-4.6"), ("openai", "gpt-5"), ("gemini", "gemini-2.5-flash")]


def test_providers_without_a_key_are_skipped_and_listed_with_the_reason() -> None:
    router = Router(make_config(), providers(*ALL, without_key=("glm",)))
    got = router.candidates("claude-sonnet-4-5", policy=Policy.PROGRESSIVE, provider_tokens={})
    assert list(got) == [("anthropic", "claude-sonnet-4-5"), ("openai", "gpt-5")]
    assert [(s.provider, s.reason) for s in got.skipped] == [("glm", "no key")]


def test_a_requested_provider_without_a_key_leaves_only_the_fallbacks() -> None:
    router = Router(make_config(), providers(*ALL, without_key=("anthropic",)))
    got = router.candidates("claude-sonnet-4-5", policy=Policy.PROGRESSIVE, provider_tokens={})
    assert list(got) == [("glm", "glm-4.6"), ("openai", "gpt-5")]
    assert [(s.provider, s.model, s.reason) for s in got.skipped] == [("anthropic", "claude-sonnet-4-5", "no key")]


def test_a_provider_that_reached_its_token_cap_is_dropped() -> None:
    config = make_config(limits={"provider_token_caps": {"glm": 1000}})
    got = Router(config, providers(*ALL)).candidates(
        "claude-sonnet-4-5", policy=Policy.PROGRESSIVE, provider_tokens={"glm": 1000}
    )
    assert list(got) == [("anthropic", "claude-sonnet-4-5"), ("openai", "gpt-5")]
    assert got.skipped[0].provider == "glm"
    assert "token cap reached (1000 of 1000" in got.skipped[0].reason


def test_a_provider_near_its_cap_is_moved_to_the_end() -> None:
    config = make_config(limits={"provider_token_caps": {"glm": 1000}, "near_cap_ratio": 0.8})
    got = Router(config, providers(*ALL)).candidates(
        "claude-sonnet-4-5", policy=Policy.PROGRESSIVE, provider_tokens={"glm": 850}
    )
    assert list(got) == [("anthropic", "claude-sonnet-4-5"), ("openai", "gpt-5"), ("glm", "glm-4.6")]


def test_a_provider_below_the_near_cap_ratio_keeps_its_place() -> None:
    config = make_config(limits={"provider_token_caps": {"glm": 1000}, "near_cap_ratio": 0.8})
    got = Router(config, providers(*ALL)).candidates(
        "claude-sonnet-4-5", policy=Policy.PROGRESSIVE, provider_tokens={"glm": 799}
    )
    assert list(got) == [("anthropic", "claude-sonnet-4-5"), ("glm", "glm-4.6"), ("openai", "gpt-5")]


def test_the_requested_provider_near_its_cap_goes_last_too() -> None:
    config = make_config(limits={"provider_token_caps": {"anthropic": 100}})
    got = Router(config, providers(*ALL)).candidates(
        "claude-sonnet-4-5", policy=Policy.PROGRESSIVE, provider_tokens={"anthropic": 90}
    )
    assert list(got) == [("glm", "glm-4.6"), ("openai", "gpt-5"), ("anthropic", "claude-sonnet-4-5")]


def test_cheap_first_orders_fallback_providers_by_price() -> None:
    config = make_config(
        routing={
            "fallback_chain": ["anthropic", "openai", "glm"],
            "fallback_models": {"anthropic": "claude-sonnet-4-5", "openai": "gpt-5", "glm": "glm-4.6"},
        }
    )
    router = Router(config, providers(*ALL))
    got = router.candidates("gemini-2.5-flash", policy=Policy.CHEAP_FIRST, provider_tokens={})
    # glm 0.6+2.2 < openai 1.25+10 < anthropic 3+15; the requested model stays first.
    assert list(got) == [
        ("gemini", "gemini-2.5-flash"),
        ("glm", "glm-4.6"),
        ("openai", "gpt-5"),
        ("anthropic", "claude-sonnet-4-5"),
    ]


@pytest.mark.parametrize("policy", [Policy.PROGRESSIVE, Policy.BEST_FIRST])
def test_progressive_and_best_first_keep_the_configured_fallback_order(policy: Policy) -> None:
    config = make_config(
        routing={
            "fallback_chain": ["anthropic", "openai", "glm"],
            "fallback_models": {"anthropic": "claude-sonnet-4-5", "openai": "gpt-5", "glm": "glm-4.6"},
        }
    )
    got = Router(config, providers(*ALL)).candidates("gemini-2.5-flash", policy=policy, provider_tokens={})
    assert [p for p, _ in got] == ["gemini", "anthropic", "openai", "glm"]


def test_cheap_first_puts_unpriced_fallback_models_last() -> None:
    config = make_config(
        routing={
            "fallback_chain": ["anthropic", "glm"],
            "fallback_models": {"anthropic": "claude-unpriced-1", "glm": "glm-4.6"},
        }
    )
    got = Router(config, providers(*ALL)).candidates("gpt-5", policy=Policy.CHEAP_FIRST, provider_tokens={})
    assert [p for p, _ in got] == ["openai", "glm", "anthropic"]


def test_a_chain_provider_without_a_fallback_model_is_skipped_with_the_key_to_set() -> None:
    config = make_config(routing={"fallback_chain": ["glm", "openai"], "fallback_models": {"glm": "glm-4.6"}})
    got = Router(config, providers(*ALL)).candidates("claude-sonnet-4-5", policy=Policy.PROGRESSIVE, provider_tokens={})
    assert list(got) == [("anthropic", "claude-sonnet-4-5"), ("glm", "glm-4.6")]
    assert "routing.fallback_models.openai" in got.skipped[0].reason


def test_a_provider_with_no_adapter_is_skipped() -> None:
    got = Router(make_config(), providers("anthropic", "glm")).candidates(
        "claude-sonnet-4-5", policy=Policy.PROGRESSIVE, provider_tokens={}
    )
    assert [p for p, _ in got] == ["anthropic", "glm"]
    assert [s.provider for s in got.skipped] == ["openai"]
