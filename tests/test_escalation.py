"""The escalation ladder: start model by policy, intra-tier steps, cross-tier moves, and resume."""

from __future__ import annotations

from typing import Any

import pytest

from autopack.config import Config
from autopack.recovery.categories import ErrorCategory
from autopack.recovery.escalation import (
    EscalationLadder,
    Rung,
    attempts_exhausted,
    counts_for_escalation,
    first_model,
    next_rung,
)

SONNET, OPUS, GPT5, GEMINI_PRO, GEMINI_FLASH, GLM = (
    "claude-sonnet-4-5",
    "claude-opus-4-5",
    "gpt-5",
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "glm-4.6",
)


def make_config(**overrides: Any) -> Config:
    data: dict[str, Any] = {
        "models": {
            GLM: {"input": 0.6, "output": 2.2},
            GEMINI_FLASH: {"input": 0.3, "output": 2.0},
            GEMINI_PRO: {"input": 1.25, "output": 10.0},
            GPT5: {"input": 1.25, "output": 10.0},
            SONNET: {"input": 3.0, "output": 15.0},
            OPUS: {"input": 5.0, "output": 25.0},
        },
        "escalation_chains": {
            "builder": {
                "low": {"models": [GLM, GEMINI_PRO, SONNET]},
                "medium": {"models": [GEMINI_PRO, SONNET, GPT5]},
                "high": {"models": [SONNET, GPT5]},
            },
            "auditor": {
                "low": {"models": [GLM, GEMINI_FLASH]},
                "medium": {"models": [GEMINI_PRO, SONNET]},
                "high": {"models": [SONNET, OPUS]},
            },
        },
        "routing": {"category_policies": {"security": "BEST_FIRST", "docs": "CHEAP_FIRST"}},
    }
    for key, value in overrides.items():
        data[key] = value
    return Config.model_validate(data)


CFG = make_config()


def test_progressive_starts_on_the_first_model_of_the_chain() -> None:
    assert first_model(CFG, "feature", "low", "builder") == GLM
    assert first_model(CFG, "feature", "medium", "builder") == GEMINI_PRO


def test_best_first_starts_on_the_strongest_model() -> None:
    assert first_model(CFG, "security", "medium", "builder") == GPT5
    assert first_model(CFG, "security", "high", "auditor") == OPUS


def test_cheap_first_starts_on_the_cheapest_model() -> None:
    assert first_model(CFG, "docs", "high", "builder") == GPT5  # 11.25 beats sonnet's 18
    assert first_model(CFG, "docs", "low", "auditor") == GEMINI_FLASH  # 2.3 beats glm's 2.8


def test_cheap_first_ties_keep_chain_order() -> None:
    assert first_model(CFG, "docs", "medium", "builder") == GEMINI_PRO  # same price as gpt-5, listed first


def test_cheap_first_treats_unpriced_models_as_most_expensive_and_free_as_cheapest() -> None:
    cfg = make_config(
        endpoints=[
            {"name": "vllm", "base_url": "http://127.0.0.1:8000/v1"},
            {"name": "ollama", "base_url": "http://127.0.0.1:11434/v1", "free": True},
        ],
        escalation_chains={
            "builder": {
                "low": {"models": ["vllm/big-coder", SONNET]},
                "medium": {"models": [SONNET, "ollama/qwen2.5-coder:7b"]},
                "high": {"models": [SONNET]},
            },
            "auditor": {"low": {"models": [GLM]}, "medium": {"models": [GLM]}, "high": {"models": [GLM]}},
        },
    )
    assert first_model(cfg, "docs", "low", "builder") == SONNET
    assert first_model(cfg, "docs", "medium", "builder") == "ollama/qwen2.5-coder:7b"


def test_auditor_role_uses_the_auditor_chains() -> None:
    assert first_model(CFG, "feature", "low", "auditor") == GLM
    assert first_model(CFG, "feature", "high", "auditor") == SONNET


def test_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError, match="role"):
        first_model(CFG, "feature", "low", "doctor")


def test_only_configured_failure_types_count() -> None:
    assert counts_for_escalation("ci_fail", CFG)
    assert counts_for_escalation("auditor_reject", CFG)
    assert counts_for_escalation("patch_apply_error", CFG)
    assert counts_for_escalation(ErrorCategory.TEST_FAILURE, CFG)
    assert not counts_for_escalation("http_500", CFG)
    assert not counts_for_escalation("syntax_error", CFG)


def test_progressive_ladder_walks_intra_tier_then_cross_tier_to_the_top() -> None:
    ladder = EscalationLadder(CFG, "builder", "feature", "low")
    seen = [ladder.current]
    reasons = []
    for _ in range(6):
        reasons.append(ladder.record_failure("ci_fail"))
        seen.append(ladder.current)
    assert seen == [
        Rung(GLM, "low"),
        Rung(GEMINI_PRO, "low"),  # intra-tier after the first failure
        Rung(SONNET, "medium"),  # 2 failures at low: cross-tier, past gemini-2.5-pro (it just failed at low)
        Rung(GPT5, "medium"),
        Rung(GPT5, "high"),  # cross-tier: sonnet and gpt-5 both failed, so high's last model
        Rung(GPT5, "high"),  # high, chain exhausted: stays
        Rung(GPT5, "high"),
    ]
    assert "within low complexity" in (reasons[0] or "")
    assert "escalating to medium complexity" in (reasons[1] or "")
    assert (reasons[1] or "").endswith(f"on {SONNET} ({GEMINI_PRO} already failed)")
    assert (reasons[3] or "").endswith(
        f"on {GPT5} (every model of that tier already failed: {SONNET}, {GPT5}; the last again)"
    )
    assert reasons[-1] is None


def test_uncounted_failures_do_not_move_the_ladder() -> None:
    ladder = EscalationLadder(CFG, "builder", "feature", "low")
    assert ladder.record_failure("http_500") is None
    assert ladder.record_failure("syntax_error") is None
    assert ladder.current == Rung(GLM, "low")
    assert ladder.failures_at_tier == 0


def test_best_first_has_nothing_stronger_in_tier_and_crosses_at_the_threshold() -> None:
    ladder = EscalationLadder(CFG, "builder", "security", "low")
    assert ladder.current == Rung(SONNET, "low")
    assert ladder.record_failure("auditor_reject") is None
    assert ladder.current == Rung(SONNET, "low")
    assert ladder.record_failure("auditor_reject") is not None
    assert ladder.current == Rung(GPT5, "medium")


def test_cheap_first_walks_the_tier_by_price() -> None:
    ladder = EscalationLadder(CFG, "builder", "docs", "medium")
    assert ladder.current == Rung(GEMINI_PRO, "medium")  # ties with gpt-5 on price: chain order
    ladder.record_failure("ci_fail")
    assert ladder.current == Rung(GPT5, "medium")
    ladder.record_failure("ci_fail")
    assert ladder.current == Rung(SONNET, "high")  # high's cheapest is gpt-5, which just failed: the next by price


def test_disabled_complexity_escalation_never_crosses_tiers() -> None:
    cfg = make_config(complexity_escalation={"enabled": False})
    ladder = EscalationLadder(cfg, "builder", "feature", "low")
    for _ in range(5):
        ladder.record_failure("ci_fail")
    assert ladder.current == Rung(SONNET, "low")


def test_threshold_of_one_crosses_after_the_first_failure() -> None:
    cfg = make_config(complexity_escalation={"thresholds": {"low_to_medium": 1, "medium_to_high": 3}})
    ladder = EscalationLadder(cfg, "builder", "feature", "low")
    ladder.record_failure("patch_apply_error")
    assert ladder.current == Rung(GEMINI_PRO, "medium")
    ladder.record_failure("patch_apply_error")
    ladder.record_failure("patch_apply_error")
    assert ladder.current.complexity == "medium"
    ladder.record_failure("patch_apply_error")
    assert ladder.current == Rung(GPT5, "high")  # high's models both failed at medium: its strongest


def test_a_repeated_reply_moves_on_at_once_whatever_the_threshold() -> None:
    cfg = make_config(complexity_escalation={"thresholds": {"low_to_medium": 3, "medium_to_high": 3}})
    ladder = EscalationLadder(cfg, "builder", "feature", "low")
    ladder.current = Rung(SONNET, "low")  # the tier's last model: an ordinary failure stays on it
    assert ladder.record_failure("ci_fail") is None and ladder.current == Rung(SONNET, "low")
    reason = ladder.record_failure("ci_fail", repeated=True)
    assert ladder.current == Rung(GEMINI_PRO, "medium")
    assert reason is not None and "sent the same reply again" in reason and "medium complexity" in reason
    reason = ladder.record_failure("ci_fail", repeated=True)  # within a tier: its next model
    assert ladder.current == Rung(GPT5, "medium") and "within medium" in (reason or "")


def test_a_repeated_reply_at_the_top_stays_and_without_tiers_stays_in_its_tier() -> None:
    ladder = EscalationLadder(CFG, "builder", "feature", "high")
    ladder.current = Rung(GPT5, "high")
    assert ladder.record_failure("ci_fail", repeated=True) is None and ladder.current == Rung(GPT5, "high")
    off = EscalationLadder(make_config(complexity_escalation={"enabled": False}), "builder", "feature", "low")
    off.current = Rung(SONNET, "low")
    assert off.record_failure("ci_fail", repeated=True) is None and off.current == Rung(SONNET, "low")


def test_from_history_replays_repeated_replies() -> None:
    cfg = make_config(complexity_escalation={"thresholds": {"low_to_medium": 3, "medium_to_high": 3}})
    live = EscalationLadder(cfg, "builder", "feature", "low")
    history: list[tuple[str, str, str | None, bool]] = []
    for repeated in (False, False, True):
        history.append((live.current.model, live.current.complexity, "ci_fail", repeated))
        live.record_failure("ci_fail", repeated=repeated)
    rebuilt = EscalationLadder.from_history(cfg, "builder", "feature", "low", history)
    assert rebuilt.current == live.current == Rung(GPT5, "medium")  # sonnet repeated itself at low
    assert rebuilt.tried == live.tried == [GLM, GEMINI_PRO, SONNET]


def test_next_rung_reports_no_change_with_a_none_reason() -> None:
    rung, reason = next_rung(CFG, "builder", "feature", Rung(GPT5, "high"), 5)
    assert (rung, reason) == (Rung(GPT5, "high"), None)


def test_next_rung_moves_a_model_foreign_to_the_tier_onto_the_chain() -> None:
    rung, reason = next_rung(CFG, "builder", "feature", Rung(OPUS, "medium"), 1)
    assert rung == Rung(GEMINI_PRO, "medium")
    assert reason is not None and "not in the medium chain" in reason


def test_attempts_exhausted_at_max_attempts_per_phase() -> None:
    assert not attempts_exhausted(CFG, 4)
    assert attempts_exhausted(CFG, 5)


def test_from_history_rebuilds_the_same_ladder_as_a_live_run() -> None:
    live = EscalationLadder(CFG, "builder", "feature", "low")
    history = []
    for category in ["ci_fail", "http_500", "ci_fail", "auditor_reject"]:
        history.append((live.current.model, live.current.complexity, category))
        live.record_failure(category)
    rebuilt = EscalationLadder.from_history(CFG, "builder", "feature", "low", history)
    assert rebuilt.current == live.current == Rung(GPT5, "medium")  # medium entered on sonnet (gemini failed at low)
    assert rebuilt.failures_at_tier == live.failures_at_tier == 1


def test_from_history_trusts_the_stored_rungs() -> None:
    # The run was on gpt-5 at medium (say the config changed since); one counted failure there.
    history: list[tuple[str, str, str | None]] = [(GPT5, "medium", "ci_fail")]
    ladder = EscalationLadder.from_history(CFG, "builder", "feature", "low", history)
    assert ladder.current == Rung(GPT5, "medium")  # last of the medium chain: no intra step left
    assert ladder.failures_at_tier == 1
    ladder.record_failure("ci_fail")
    assert ladder.current == Rung(SONNET, "high")


def test_from_history_skips_attempts_that_did_not_fail() -> None:
    ladder = EscalationLadder.from_history(CFG, "builder", "feature", "low", [(GLM, "low", None)])
    assert ladder.current == Rung(GLM, "low")
    assert ladder.failures_at_tier == 0
