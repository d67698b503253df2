"""Approach-flaw and stuck detection: when to stop retrying a phase as planned and re-plan it."""

from __future__ import annotations

from autopack.config import Replan
from autopack.recovery import approach
from autopack.recovery.approach import FailureRecord, detect_approach_flaw, stuck_reason
from autopack.recovery.categories import ErrorCategory

CFG = Replan()  # the shipped defaults: threshold 2, similarity 0.8, min length 30

# What a real pytest failure summary looks like in two attempts: paths, lines and timings differ.
ASSERT_1 = (
    "FAILED tests/test_cart.py::test_total_with_discount - AssertionError: assert 90.0 == 85.5\n"
    'File "/tmp/pytest-of-ci/pytest-4/test_total0/src/cart.py", line 41, in total\n1 failed, 12 passed in 0.41s'
)
ASSERT_2 = (
    "FAILED tests/test_cart.py::test_total_with_discount - AssertionError: assert 90.0 == 85.5\n"
    'File "/tmp/pytest-of-ci/pytest-9/test_total3/src/cart.py", line 47, in total\n1 failed, 12 passed in 0.57s'
)
IMPORT_ERR = (
    "ERROR tests/test_api.py - ModuleNotFoundError: No module named 'fastapi'\n"
    "Interrupted: 1 error during collection in 0.22s"
)
OTHER_ASSERT = (
    "FAILED tests/test_users.py::test_signup_sends_welcome_mail - KeyError: 'email_template'\n"
    "mailer.render(template) raised while building the welcome message"
)


def fail(category: str, message: str = ASSERT_1, **kw: str) -> FailureRecord:
    return FailureRecord(category=category, message=message, **kw)


def test_no_failures_no_verdict() -> None:
    assert detect_approach_flaw([], CFG) is None


def test_fatal_error_type_triggers_immediately() -> None:
    verdict = detect_approach_flaw([fail("wrong_tech_stack", "the plan assumes Django; the repo is Flask")], CFG)
    assert verdict is not None
    assert verdict.kind == "fatal_error_type"
    assert "wrong_tech_stack" in verdict.reason


def test_categories_may_be_given_as_enum_members() -> None:
    verdict = detect_approach_flaw([FailureRecord(ErrorCategory.schema_mismatch, "column users.email missing")], CFG)
    assert verdict is not None and verdict.kind == "fatal_error_type"


def test_an_earlier_fatal_failure_does_not_retrigger_after_other_failures() -> None:
    # The newest failure decides; an older fatal one already had its re-plan.
    failures = [fail("schema_mismatch", "column users.email missing"), fail("ci_fail", ASSERT_1)]
    assert detect_approach_flaw(failures, CFG) is None


def test_same_category_with_similar_messages_triggers() -> None:
    verdict = detect_approach_flaw([fail("ci_fail", ASSERT_1), fail("ci_fail", ASSERT_2)], CFG)
    assert verdict is not None
    assert verdict.kind == "similar_failures"
    assert "ci_fail" in verdict.reason
    assert len(verdict.evidence) == 2 and "<path>" in verdict.evidence[0]


def test_different_categories_do_not_trigger() -> None:
    assert detect_approach_flaw([fail("auditor_reject", ASSERT_1), fail("ci_fail", ASSERT_2)], CFG) is None


def test_dissimilar_messages_of_the_same_category_do_not_trigger() -> None:
    assert detect_approach_flaw([fail("ci_fail", ASSERT_1), fail("ci_fail", OTHER_ASSERT)], CFG) is None


def test_only_the_last_threshold_failures_count() -> None:
    failures = [fail("ci_fail", ASSERT_1), fail("ci_fail", ASSERT_2), fail("import_error", IMPORT_ERR)]
    assert detect_approach_flaw(failures, CFG) is None


def test_short_messages_skip_the_similarity_check_and_do_not_trigger() -> None:
    failures = [fail("ci_fail", "1 failed"), fail("ci_fail", "1 failed")]
    assert detect_approach_flaw(failures, CFG) is None


def test_length_is_measured_after_normalisation() -> None:
    # Long raw messages that are mostly a path carry too little to compare.
    msg_a = "missing: /home/ci/builds/4411/workspace/project/src/pkg/module.py"
    msg_b = "missing: /home/ci/builds/9876/workspace/project/src/pkg/module.py"
    assert len(msg_a) >= CFG.min_message_length
    assert detect_approach_flaw([fail("ci_fail", msg_a), fail("ci_fail", msg_b)], CFG) is None


def test_with_similarity_disabled_the_same_category_alone_triggers() -> None:
    cfg = Replan(message_similarity_enabled=False)
    verdict = detect_approach_flaw([fail("ci_fail", "1 failed"), fail("ci_fail", OTHER_ASSERT)], cfg)
    assert verdict is not None and verdict.kind == "similar_failures"


def test_a_higher_threshold_needs_more_failures() -> None:
    cfg = Replan(trigger_threshold=3)
    two = [fail("ci_fail", ASSERT_1), fail("ci_fail", ASSERT_2)]
    assert detect_approach_flaw(two, cfg) is None
    verdict = detect_approach_flaw([*two, fail("ci_fail", ASSERT_1)], cfg)
    assert verdict is not None and verdict.kind == "similar_failures"


def test_a_stricter_similarity_threshold_refuses_near_matches() -> None:
    near = ASSERT_2.replace("85.5", "86.25").replace("12 passed", "11 passed, 1 skipped")
    assert detect_approach_flaw([fail("ci_fail", ASSERT_1), fail("ci_fail", near)], CFG) is not None
    assert (
        detect_approach_flaw([fail("ci_fail", ASSERT_1), fail("ci_fail", near)], Replan(similarity_threshold=0.99))
        is None
    )


def test_transient_server_errors_are_not_an_approach_flaw() -> None:
    msg = "anthropic HTTP 500 server: Internal server error while processing the request"
    assert detect_approach_flaw([fail("http_500", msg), fail("http_500", msg)], CFG) is None


def test_same_reply_twice_in_a_row_is_stuck() -> None:
    failures = [fail("ci_fail", ASSERT_1, reply_hash="r1"), fail("auditor_reject", "x", reply_hash="r1")]
    verdict = detect_approach_flaw(failures, CFG)
    assert verdict is not None and verdict.kind == "repeated_reply"


def test_same_edit_twice_in_a_row_is_stuck() -> None:
    failures = [
        fail("ci_fail", ASSERT_1, reply_hash="r1", edit_hash="e1"),
        fail("patch_apply_error", "hunk failed", reply_hash="r2", edit_hash="e1"),
    ]
    verdict = detect_approach_flaw(failures, CFG)
    assert verdict is not None and verdict.kind == "repeated_reply"
    assert "edit" in verdict.reason


def test_different_replies_are_not_stuck() -> None:
    failures = [fail("ci_fail", ASSERT_1, reply_hash="r1"), fail("auditor_reject", "too broad", reply_hash="r2")]
    assert stuck_reason(failures) is None


def test_gate_failures_alternating_a_b_a_b_are_stuck() -> None:
    cats = ["ci_fail", "import_error", "ci_fail", "import_error"]
    msgs = [ASSERT_1, IMPORT_ERR, ASSERT_2, IMPORT_ERR]
    failures = [fail(c, m, gate_signature=s) for c, m, s in zip(cats, msgs, "ABAB", strict=True)]
    verdict = detect_approach_flaw(failures, CFG)
    assert verdict is not None and verdict.kind == "alternating_failures"


def test_three_distinct_gate_failures_do_not_alternate() -> None:
    failures = [
        fail("ci_fail", m, gate_signature=s)
        for m, s in zip([ASSERT_1, IMPORT_ERR, OTHER_ASSERT, IMPORT_ERR], "ABCB", strict=True)
    ]
    assert stuck_reason(failures) is None


def test_three_empty_replies_in_a_row_are_stuck() -> None:
    failures = [fail("empty_reply", "the reply contained no edits") for _ in range(3)]
    verdict = detect_approach_flaw(failures, CFG)
    assert verdict is not None and verdict.kind == "empty_replies"


def test_two_empty_replies_are_not_yet_stuck() -> None:
    failures = [fail("ci_fail", ASSERT_1)] + [fail("empty_reply", "") for _ in range(2)]
    assert detect_approach_flaw(failures, CFG) is None


def test_seed_name_is_an_alias() -> None:
    assert approach._detect_approach_flaw is detect_approach_flaw


def test_evidence_is_the_tail_of_each_normalised_message() -> None:
    long_1 = "collected 400 items\n" + "test_mod.py ....\n" * 300 + ASSERT_1
    long_2 = "collected 400 items\n" + "test_mod.py ....\n" * 300 + ASSERT_2
    verdict = detect_approach_flaw([fail("ci_fail", long_1), fail("ci_fail", long_2)], CFG)
    assert verdict is not None
    assert all(len(e) <= approach.EVIDENCE_CHARS for e in verdict.evidence)
    assert all(e.endswith("1 failed, 12 passed in <dur>") for e in verdict.evidence)
