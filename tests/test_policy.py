"""The recovery policy after a failed attempt, branch by branch: pure data in, actions out (milliseconds;
the end-to-end runs in tests/e2e/test_recovery_e2e.py show the same decisions carried out)."""

from __future__ import annotations

import pytest

from autopack.config import SHIPPED_CONFIG, Config, load_config
from autopack.recovery.approach import FailureRecord, FlawVerdict
from autopack.recovery.escalation import EscalationLadder
from autopack.recovery.policy import (
    ConsultDoctor,
    Fail,
    Failure,
    PhaseRun,
    Progress,
    Replan,
    Retry,
    SwitchMode,
    attempts_left,
    decide,
)


@pytest.fixture(scope="module")
def cfg() -> Config:
    base = load_config(SHIPPED_CONFIG)
    return base.model_copy(
        update={
            "replan": base.replan.model_copy(update={"max_replans_per_phase": 1}),
            "doctor_models": base.doctor_models.model_copy(update={"call_after_failures": 2}),
            "complexity_escalation": base.complexity_escalation.model_copy(update={"max_attempts_per_phase": 5}),
        }
    )


def progress(**kw: object) -> Progress:
    values: dict[str, object] = {
        "mode": "structured_edit",
        "failures_since_doctor": 1,
        "replans_used": 0,
        "doctor_allowed": True,
        "budget_near_limit": False,
    }
    values.update(kw)
    return Progress(**values)  # type: ignore[arg-type]


FLAW = FlawVerdict(reason="3 similar ci_fail failures", kind="similar_failures")


def test_a_first_ordinary_failure_is_retried_with_the_error(cfg: Config) -> None:
    assert decide(progress(), Failure(), cfg) == [Retry()]


def test_the_same_refusal_twice_in_a_row_fails_the_phase(cfg: Config) -> None:
    refusal = "Builder model m: prompt is too long"
    (action,) = decide(progress(), Failure(refusal=refusal, previous_refusal=refusal), cfg)
    assert isinstance(action, Fail) and "refused the same request twice" in action.reason and refusal in action.reason


def test_a_different_refusal_is_retried(cfg: Config) -> None:
    assert decide(progress(), Failure(refusal="a", previous_refusal="b"), cfg) == [Retry()]


def test_a_reply_cut_off_in_full_file_mode_switches_to_search_replace_then_retries(cfg: Config) -> None:
    actions = decide(progress(mode="full_file"), Failure(cut_off=True), cfg)
    assert actions == [SwitchMode("structured_edit", "reply cut off in full_file mode"), Retry()]


def test_a_cut_off_reply_in_another_mode_does_not_switch(cfg: Config) -> None:
    assert decide(progress(mode="structured_edit"), Failure(cut_off=True), cfg) == [Retry()]


def test_an_approach_flaw_replans_while_the_budget_lasts(cfg: Config) -> None:
    (action,) = decide(progress(), Failure(flaw=FLAW), cfg)
    assert action == Replan("similar_failures: 3 similar ci_fail failures", doctor_if_it_fails=True)


def test_a_failed_replan_counts_so_the_next_flaw_goes_to_the_doctor(cfg: Config) -> None:
    assert decide(progress(replans_used=1), Failure(flaw=FLAW), cfg) == [ConsultDoctor(near_limit=False)]


def test_a_flaw_with_no_replan_left_and_no_doctor_left_is_retried(cfg: Config) -> None:
    assert decide(progress(replans_used=1, doctor_allowed=False), Failure(flaw=FLAW), cfg) == [Retry()]


def test_a_replan_without_doctor_budget_does_not_fall_back_to_the_doctor(cfg: Config) -> None:
    (action,) = decide(progress(doctor_allowed=False), Failure(flaw=FLAW), cfg)
    assert action == Replan("similar_failures: 3 similar ci_fail failures", doctor_if_it_fails=False)


def test_the_doctor_is_consulted_after_call_after_failures(cfg: Config) -> None:
    assert decide(progress(failures_since_doctor=2), Failure(), cfg) == [ConsultDoctor(near_limit=False)]
    assert decide(progress(failures_since_doctor=1), Failure(), cfg) == [Retry()]


def test_a_health_budget_near_its_limit_calls_the_doctor_early(cfg: Config) -> None:
    assert decide(progress(budget_near_limit=True), Failure(), cfg) == [ConsultDoctor(near_limit=True)]


def test_no_doctor_beyond_its_budgets(cfg: Config) -> None:
    assert decide(progress(failures_since_doctor=9, doctor_allowed=False), Failure(), cfg) == [Retry()]


def test_attempts_run_out_at_max_attempts_per_phase(cfg: Config) -> None:
    assert attempts_left(4, cfg) is None
    reason = attempts_left(5, cfg)
    assert reason is not None and "max_attempts_per_phase = 5" in reason


def test_a_fresh_start_after_a_replan_forgets_the_old_revision(cfg: Config) -> None:
    ladder = EscalationLadder.from_history(cfg, "builder", "feature", "low", [])
    st = PhaseRun(
        start="abc",
        ladder=ladder,
        feedback="boom",
        previous_patch="diff",
        since_doctor=2,
        kept_edits=True,
        attempts_done=3,
    )
    st.failures.append(FailureRecord("ci_fail", "x"))
    st.fresh_start()
    assert (st.failures, st.previous_patch, st.since_doctor, st.kept_edits) == ([], None, 0, False)
    # what the checks said last stays in the next prompt (the same tests judge the new revision)
    assert st.feedback is not None and st.feedback.endswith("boom") and "re-planned" in st.feedback
    st.feedback = None
    st.fresh_start()
    assert st.feedback is None
    assert st.attempts_done == 3  # the attempt budget is the phase's, not the revision's


def test_after_the_last_attempt_neither_the_planner_nor_the_doctor_is_asked(cfg: Config) -> None:
    # a flaw with re-plan budget left, and the Doctor due: both would be asked with an attempt left
    due = progress(failures_since_doctor=5, attempts_done=4)  # cfg: 5 attempts
    assert isinstance(decide(due, Failure(flaw=FLAW), cfg)[0], Replan)
    assert isinstance(decide(due, Failure(), cfg)[0], ConsultDoctor)
    last = progress(failures_since_doctor=5, attempts_done=5, budget_near_limit=True)
    assert decide(last, Failure(flaw=FLAW), cfg) == [Retry()]
    assert decide(last, Failure(), cfg) == [Retry()]
    # a refusal repeated still fails with its reason, and a cut-off reply still switches format
    refusal = "Builder model m: prompt is too long"
    assert isinstance(decide(last, Failure(refusal=refusal, previous_refusal=refusal), cfg)[0], Fail)
    assert decide(progress(attempts_done=5, mode="full_file"), Failure(cut_off=True), cfg) == [
        SwitchMode("structured_edit", "reply cut off in full_file mode"),
        Retry(),
    ]
