"""The shipped profiles (src/autopack/profiles/*.yaml, ``autopack config init --profile NAME``): each is a
valid layer over the shipped config whose every routed model is priced, and the DeepSeek profile's calls
go to DeepSeek only with its key (else to the fallback chain)."""

from __future__ import annotations

import pytest

from autopack.config import SHIPPED_CONFIG, Config, ConfigLayer, load_effective_config
from autopack.config_init import profile_path, profiles
from autopack.errors import AutopackError
from autopack.preflight import answered_by

FLASH = "deepseek/deepseek-flash"


def layered(name: str) -> Config:
    return load_effective_config(layers=[ConfigLayer("shipped", SHIPPED_CONFIG), ConfigLayer(name, profile_path(name))])


@pytest.mark.parametrize("name", profiles())
def test_each_profile_is_a_valid_layer_whose_routed_models_are_priced(name: str) -> None:
    cfg = layered(name)
    chains = cfg.escalation_chains
    routed = [
        m
        for role in (chains.builder, chains.auditor)
        for t in ("low", "medium", "high")
        for m in role.for_complexity(t)
    ]
    routed += [cfg.doctor_models.cheap, cfg.doctor_models.strong, cfg.routing.planner_model]
    assert cfg.unpriced_models(routed) == []


def test_the_deepseek_profile_calls_deepseek_only_with_its_key() -> None:
    assert "deepseek" in profiles()
    cfg = layered("deepseek")
    assert cfg.escalation_chains.builder.for_complexity("low") == [FLASH]
    assert answered_by(FLASH, cfg, {"DEEPSEEK_API_KEY": "sk-test-0123456789abcdef"}) == ("deepseek", FLASH)
    fallback = answered_by(FLASH, cfg, {"ANTHROPIC_API_KEY": "sk-ant-test-0123456789"})
    assert fallback == ("anthropic", cfg.routing.fallback_models["anthropic"])
    assert answered_by(FLASH, cfg, {}) is None


def test_an_unknown_profile_names_the_shipped_ones() -> None:
    with pytest.raises(AutopackError, match="--profile nope: no such profile; the shipped ones are deepseek"):
        profile_path("nope")
