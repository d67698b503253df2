"""The run health budget stops a run at its limits with a reason that says how to continue."""

from __future__ import annotations

import pytest

from autopack.config import HealthBudgetLimits as BudgetLimits
from autopack.recovery.budget import HealthBudget
from autopack.recovery.categories import ErrorCategory

LIMITS = BudgetLimits(MAX_HTTP_500_PER_RUN=3, MAX_PATCH_FAILURES_PER_RUN=4, MAX_TOTAL_FAILURES_PER_RUN=6)


def test_a_fresh_budget_is_within_limits() -> None:
    budget = HealthBudget(LIMITS)
    assert budget.exceeded() is None
    assert not budget.near_limit(0.8)


@pytest.mark.parametrize(
    "category", ["patch_apply_error", "scope_violation", "syntax_error", "destructive_output", "truncation"]
)
def test_edit_failures_count_as_patch_failures(category: str) -> None:
    budget = HealthBudget(LIMITS)
    budget.record_failure(category)
    assert (budget.patch_failures, budget.total_failures) == (1, 1)


@pytest.mark.parametrize("category", ["ci_fail", "auditor_reject", "import_error", "timeout", "empty_reply"])
def test_other_failures_count_only_toward_the_total(category: str) -> None:
    budget = HealthBudget(LIMITS)
    budget.record_failure(category)
    assert (budget.patch_failures, budget.total_failures, budget.http_500) == (0, 1, 0)


def test_patch_failure_limit_names_its_key_and_how_to_resume() -> None:
    budget = HealthBudget(LIMITS)
    for _ in range(4):
        budget.record_failure(ErrorCategory.patch_apply_error)
    reason = budget.exceeded()
    assert reason is not None
    assert reason.startswith("MAX_PATCH_FAILURES_PER_RUN (4) reached: 4 patch failures this run")
    assert "raise health_budget.MAX_PATCH_FAILURES_PER_RUN in the config" in reason
    assert "run the same command again to resume" in reason


def test_one_below_the_limit_is_not_exceeded() -> None:
    budget = HealthBudget(LIMITS, patch_failures=3, total_failures=3)
    assert budget.exceeded() is None


def test_server_errors_reach_the_http_500_limit() -> None:
    budget = HealthBudget(LIMITS)
    for _ in range(3):
        budget.record_http_500()
    assert budget.total_failures == 0  # a retried server answer is not a phase failure
    reason = budget.exceeded()
    assert reason is not None and reason.startswith("MAX_HTTP_500_PER_RUN (3) reached: 3 HTTP 5xx")


def test_a_phase_failure_of_category_http_500_is_not_counted_twice_as_a_server_error() -> None:
    # each 5xx reply is counted once, by record_http_500, when the LLM service sees it
    budget = HealthBudget(LIMITS)
    budget.record_http_500()
    budget.record_failure("http_500")
    assert (budget.http_500, budget.total_failures) == (1, 1)


def test_total_failures_limit() -> None:
    budget = HealthBudget(LIMITS)
    for _ in range(6):
        budget.record_failure("ci_fail")
    reason = budget.exceeded()
    assert reason is not None and reason.startswith("MAX_TOTAL_FAILURES_PER_RUN (6) reached: 6 failures")


def test_a_resumed_budget_continues_from_its_counts() -> None:
    budget = HealthBudget(LIMITS, http_500=1, patch_failures=3, total_failures=5)
    assert budget.exceeded() is None
    budget.record_failure("patch_apply_error")
    reason = budget.exceeded()
    assert reason is not None and "MAX_PATCH_FAILURES_PER_RUN" in reason


def test_near_limit_when_any_counter_reaches_the_ratio() -> None:
    budget = HealthBudget(LIMITS, patch_failures=3, total_failures=3)  # 3/4 = 0.75 of the patch limit
    assert budget.near_limit(0.75)
    assert not budget.near_limit(0.8)


def test_snapshot_shows_counters_limits_and_ratios() -> None:
    snap = HealthBudget(LIMITS, http_500=1, patch_failures=2, total_failures=3).snapshot()
    assert snap["counters"] == {"http_500": 1, "patch_failures": 2, "total_failures": 3}
    assert snap["limits"] == {"http_500": 3, "patch_failures": 4, "total_failures": 6}
    assert snap["limit_keys"]["patch_failures"] == "MAX_PATCH_FAILURES_PER_RUN"
    assert snap["ratios"] == {"http_500": 0.333, "patch_failures": 0.5, "total_failures": 0.5}
