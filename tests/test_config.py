"""config/models.yaml: the shipped values, prices, model routing, overrides and validation errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from autopack.config import (
    COMPLEXITIES,
    SHIPPED_CONFIG,
    Config,
    ModelPrice,
    Policy,
    config_path,
    load_config,
    provider_for_model,
)
from autopack.errors import AutopackError, ConfigError

CHAINS = """\
escalation_chains:
  builder:
    low: {models: [glm-4.6, claude-sonnet-4-5]}
    medium: {models: [claude-sonnet-4-5]}
    high: {models: [claude-sonnet-4-5]}
  auditor:
    low: {models: [glm-4.6]}
    medium: {models: [claude-sonnet-4-5]}
    high: {models: [claude-sonnet-4-5]}
"""


def write(tmp_path: Path, text: str, name: str = "models.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


# the shipped file carries the seed's values ------------------------------------------------------
@pytest.fixture(scope="module")
def shipped() -> Config:
    return load_config(SHIPPED_CONFIG)


def test_shipped_config_is_the_default_file() -> None:
    assert SHIPPED_CONFIG.is_file()
    assert SHIPPED_CONFIG.name == "models.yaml"


def _cost(cfg: Config, model: str) -> float:
    price = cfg.price_for(model)
    assert price is not None, f"{model} has no price"
    return price.input + price.output


def test_shipped_doctor_models_match_the_seed(shipped: Config) -> None:
    # The models themselves are whatever the installed SDKs list as current (tests/test_catalog.py);
    # the seed's roles are kept: the cheap Doctor is the cheapest routed model, the strong one dearer.
    dm = shipped.doctor_models
    assert dm.cheap == min(shipped.referenced_models(), key=lambda m: _cost(shipped, m))
    assert _cost(shipped, dm.cheap) < _cost(shipped, dm.strong)
    assert dm.min_confidence_for_cheap == 0.7
    assert dm.health_budget_near_limit_ratio == 0.8
    assert dm.high_risk_categories == ["import", "logic"]
    assert (dm.max_calls_per_phase, dm.max_calls_per_run) == (2, 10)


def test_shipped_doctor_execute_fix_is_opt_in_with_seed_limits(shipped: Config) -> None:
    assert shipped.doctor.allow_execute_fix_global is False
    assert shipped.doctor.max_execute_fix_per_phase == 1
    assert shipped.doctor.allowed_fix_types == ["git", "file"]


def test_shipped_complexity_escalation_matches_the_seed_with_the_benchmarks_attempt_limit(shipped: Config) -> None:
    ce = shipped.complexity_escalation
    assert ce.enabled is True
    assert (ce.thresholds.low_to_medium, ce.thresholds.medium_to_high) == (2, 2)
    assert ce.max_attempts_per_phase == 8  # the seed's 5, raised by scripts/bench/finishing.py (issue 15)
    assert ce.failure_types == ["auditor_reject", "ci_fail", "patch_apply_error"]


def test_shipped_escalation_chains_climb_from_cheap_to_strong_in_the_seeds_slots(shipped: Config) -> None:
    chains = {
        (role, c): getattr(shipped.escalation_chains, role).for_complexity(c)
        for role in ("builder", "auditor")
        for c in COMPLEXITIES
    }
    assert {k: len(v) for k, v in chains.items()} == {
        ("builder", "low"): 2,
        ("builder", "medium"): 2,
        ("builder", "high"): 1,
        ("auditor", "low"): 1,
        ("auditor", "medium"): 1,
        ("auditor", "high"): 1,
    }
    for chain in chains.values():
        costs = [_cost(shipped, m) for m in chain]
        assert costs == sorted(costs), chain
    # Tuned by the finishing benchmark (issue 15): one cheap model opens the Builder's low chain and is
    # the Auditor's, the cheap Doctor's and the low tier's; one mid model follows it (intra-tier), opens
    # the medium chain and is the Auditor's from medium up, the strong Doctor, the Planner and the
    # medium/high tiers; one strong model closes the medium chain and is the whole high chain.
    cheap, mid = chains["builder", "low"]
    mid_again, strong = chains["builder", "medium"]
    assert cheap == chains["auditor", "low"][0] == shipped.doctor_models.cheap == shipped.routing.tier_strategy.low
    assert mid == mid_again == chains["auditor", "medium"][0] == chains["auditor", "high"][0]
    assert mid == shipped.doctor_models.strong == shipped.routing.planner_model == shipped.routing.tier_strategy.high
    assert chains["builder", "high"] == [strong]
    assert _cost(shipped, cheap) < _cost(shipped, mid) < _cost(shipped, strong)


def test_shipped_replan_matches_the_seed(shipped: Config) -> None:
    rp = shipped.replan
    assert rp.trigger_threshold == 2
    assert rp.message_similarity_enabled is True
    assert rp.similarity_threshold == 0.8
    assert rp.min_message_length == 30
    assert rp.max_replans_per_phase == 1
    assert rp.fatal_error_types == ["wrong_tech_stack", "schema_mismatch", "api_contract_wrong"]


def test_shipped_health_budget_is_the_seeds_but_total_failures_raised_to_40(shipped: Config) -> None:
    hb = shipped.health_budget
    assert (hb.MAX_HTTP_500_PER_RUN, hb.MAX_PATCH_FAILURES_PER_RUN, hb.MAX_TOTAL_FAILURES_PER_RUN) == (10, 15, 40)


def test_shipped_routing_tiers_and_fallback_chain_match_the_seed(shipped: Config) -> None:
    rt = shipped.routing
    strong = shipped.doctor_models.strong
    assert (rt.tier_strategy.low, rt.tier_strategy.medium, rt.tier_strategy.high) == (
        shipped.doctor_models.cheap,
        strong,
        strong,
    )
    # GLM leads the seed's chain, but the installed zhipuai SDK lists no model name it could vouch for
    assert rt.fallback_chain == ["anthropic", "openai", "gemini"]
    assert [provider_for_model(rt.fallback_models[p], shipped) for p in rt.fallback_chain] == rt.fallback_chain
    assert rt.fallback_models["anthropic"] == strong
    assert rt.fallback_models["openai"] == shipped.escalation_chains.builder.for_complexity("high")[-1]


def test_shipped_config_uses_all_three_policies(shipped: Config) -> None:
    rt = shipped.routing
    assert set(rt.category_policies.values()) == {Policy.BEST_FIRST, Policy.PROGRESSIVE, Policy.CHEAP_FIRST}
    assert rt.policy_for("security") is Policy.BEST_FIRST
    assert rt.policy_for("docs") is Policy.CHEAP_FIRST
    assert rt.policy_for("a-category-nobody-configured") is rt.default_policy is Policy.PROGRESSIVE


def test_every_model_the_shipped_config_names_is_priced(shipped: Config) -> None:
    assert shipped.unpriced_models(shipped.referenced_models()) == []


# prices --------------------------------------------------------------------------------------------
def test_cost_is_per_million_tokens() -> None:
    price = ModelPrice(input=3.0, output=15.0)
    assert price.cost(1_000_000, 0) == pytest.approx(3.0)
    assert price.cost(2000, 1000) == pytest.approx((2000 * 3.0 + 1000 * 15.0) / 1e6)


def test_cached_tokens_are_billed_at_the_cached_rate() -> None:
    price = ModelPrice(input=3.0, output=15.0, cached_input=0.30)
    # 10k of the 12k input tokens came from the cache
    assert price.cost(12_000, 500, tokens_cached=10_000) == pytest.approx(
        (2_000 * 3.0 + 10_000 * 0.30 + 500 * 15.0) / 1e6
    )


def test_cached_rate_defaults_to_a_tenth_of_the_input_rate() -> None:
    price = ModelPrice(input=2.0, output=8.0)
    assert price.cost(1_000_000, 0, tokens_cached=1_000_000) == pytest.approx(0.2)


def test_cached_tokens_beyond_the_input_count_never_make_cost_negative() -> None:
    price = ModelPrice(input=1.0, output=1.0, cached_input=0.1)
    assert price.cost(100, 0, tokens_cached=500) >= 0


def test_free_model_costs_nothing(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "models:\n  claude-haiku-4-5: free\n" + CHAINS))
    price = cfg.price_for("claude-haiku-4-5")
    assert price is not None and price.free
    assert price.cost(5_000_000, 5_000_000, tokens_cached=1000) == 0.0


# routing model names -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("claude-sonnet-4-5", "anthropic"),
        ("gpt-5", "openai"),
        ("o3-mini", "openai"),
        ("glm-4.6", "glm"),
        ("gemini-2.5-pro", "gemini"),
    ],
)
def test_model_names_route_to_their_provider(model: str, provider: str) -> None:
    assert provider_for_model(model) == provider


def test_unknown_model_name_is_refused_with_the_naming_rules() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'foo-1'.*claude-.*<endpoint>/<model>"):
        provider_for_model("foo-1")


def test_endpoint_model_routes_to_its_endpoint_and_is_free_when_the_endpoint_is(shipped: Config) -> None:
    assert provider_for_model("ollama/qwen2.5-coder:7b", shipped) == "ollama"
    price = shipped.price_for("ollama/qwen2.5-coder:7b")
    assert price is not None and price.cost(10_000, 10_000) == 0.0


def test_endpoint_model_uses_its_listed_price_and_is_unpriced_otherwise(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            textwrap.dedent(
                """\
            endpoints:
              - name: router
                base_url: https://openrouter.example/v1
                api_key_env: ROUTER_KEY
                models:
                  big-model: {input: 1.0, output: 2.0}
            """
            )
            + CHAINS,
        )
    )
    assert provider_for_model("router/big-model", cfg) == "router"
    assert cfg.price_for("router/big-model") == ModelPrice(input=1.0, output=2.0)
    assert cfg.unpriced_models(["router/big-model", "router/other"]) == ["router/other"]


def test_endpoint_that_is_not_declared_is_refused() -> None:
    with pytest.raises(ValueError, match="endpoint 'nowhere'.*not declared"):
        provider_for_model("nowhere/model")


# which file, and overrides -------------------------------------------------------------------------
def test_explicit_file_wins_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOPACK_CONFIG", str(tmp_path / "env.yaml"))
    assert config_path(tmp_path / "cli.yaml") == tmp_path / "cli.yaml"
    assert config_path() == tmp_path / "env.yaml"
    monkeypatch.delenv("AUTOPACK_CONFIG")
    assert config_path() == SHIPPED_CONFIG


def test_autopack_config_environment_variable_selects_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "health_budget: {MAX_HTTP_500_PER_RUN: 3}\n" + CHAINS)
    monkeypatch.setenv("AUTOPACK_CONFIG", str(path))
    cfg = load_config()
    assert cfg.health_budget.MAX_HTTP_500_PER_RUN == 3
    assert cfg.health_budget.MAX_TOTAL_FAILURES_PER_RUN == 40  # untouched keys keep their defaults


# validation errors name file, key path and line ----------------------------------------------------
def test_unknown_key_names_file_key_path_and_line(tmp_path: Path) -> None:
    msg = config_error(tmp_path, CHAINS + "replan:\n  trigger_threshold: 2\n  similarity_treshold: 0.5\n")
    assert f"{tmp_path / 'models.yaml'}:12: replan.similarity_treshold: unknown key" in msg


def test_wrong_type_names_key_path_and_line(tmp_path: Path) -> None:
    msg = config_error(tmp_path, "retries:\n  max_retries: lots\n" + CHAINS)
    assert "models.yaml:2: retries.max_retries:" in msg
    assert "valid integer" in msg


def test_out_of_range_value_is_refused(tmp_path: Path) -> None:
    msg = config_error(tmp_path, "doctor_models:\n  min_confidence_for_cheap: 1.5\n" + CHAINS)
    assert "models.yaml:2: doctor_models.min_confidence_for_cheap:" in msg
    assert "less than or equal to 1" in msg


def test_unknown_model_in_an_escalation_chain_names_the_model_and_where_it_is(tmp_path: Path) -> None:
    text = CHAINS.replace("medium: {models: [claude-sonnet-4-5]}", "medium: {models: [claude-sonnet-4-5, foo-1]}", 1)
    msg = config_error(tmp_path, text)
    assert "unknown model 'foo-1'" in msg
    assert "models.yaml:4: escalation_chains.builder.medium.models[1]" in msg


def test_endpoint_model_without_a_declared_endpoint_is_a_config_error(tmp_path: Path) -> None:
    msg = config_error(tmp_path, "doctor_models:\n  cheap: ollama/llama3\n" + CHAINS)
    assert "models.yaml:2: doctor_models.cheap: model 'ollama/llama3' names endpoint 'ollama'" in msg


def test_fallback_chain_with_unknown_provider_is_refused(tmp_path: Path) -> None:
    msg = config_error(tmp_path, CHAINS + "routing:\n  fallback_chain: [glm, mistral]\n")
    assert "routing.fallback_chain[1]: unknown provider 'mistral'" in msg


def test_two_endpoints_with_one_name_are_refused(tmp_path: Path) -> None:
    msg = config_error(
        tmp_path,
        "endpoints:\n  - {name: local, base_url: 'http://a'}\n  - {name: local, base_url: 'http://b'}\n" + CHAINS,
    )
    assert "models.yaml:3: endpoints[1].name: two endpoints are named 'local'" in msg


def test_missing_required_section_is_named(tmp_path: Path) -> None:
    msg = config_error(tmp_path, "replan: {trigger_threshold: 3}\n")
    assert "escalation_chains" in msg
    assert "Field required" in msg


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    msg = config_error(tmp_path, "replan:\n  trigger_threshold: 2: 3\n" + CHAINS)
    assert f"{tmp_path / 'models.yaml'}:2: malformed YAML" in msg


def test_duplicate_key_is_an_error_not_a_silent_override(tmp_path: Path) -> None:
    msg = config_error(tmp_path, "replan:\n  trigger_threshold: 2\n  trigger_threshold: 9\n" + CHAINS)
    assert "models.yaml:3: duplicate key 'trigger_threshold'" in msg


def test_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.yaml")


def test_config_errors_are_user_errors_with_exit_code_2(tmp_path: Path) -> None:
    with pytest.raises(AutopackError) as info:
        load_config(tmp_path / "absent.yaml")
    assert info.value.exit_code == 2


def test_an_endpoint_named_like_a_built_in_provider_is_refused_with_its_line(tmp_path: Path) -> None:
    import yaml as _yaml

    from autopack.config import SHIPPED_CONFIG, load_config
    from autopack.errors import ConfigError

    data = _yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    data["endpoints"] = [{"name": "openai", "base_url": "http://127.0.0.1:9/v1", "free": True}]
    path = tmp_path / "clash.yaml"
    path.write_text(_yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "endpoints[0].name" in str(err.value) and "built-in provider" in str(err.value)
    assert f"{path}:" in str(err.value)


def test_a_token_cap_for_an_unknown_provider_is_refused_with_its_line(tmp_path: Path) -> None:
    import yaml as _yaml

    from autopack.config import SHIPPED_CONFIG, load_config

    data = _yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    data["limits"]["provider_token_caps"] = {"antropic": 100}
    path = tmp_path / "caps.yaml"
    path.write_text(_yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "limits.provider_token_caps.antropic" in str(err.value) and "unknown provider" in str(err.value)
