"""Recovery through the real CLI: re-planning an approach flaw, the health budget and the cost cap
(stop with exit 3, resume after raising the limit), and the Doctor (routing, hints, skip, budgets)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from conftest import CliResult

from .conftest import (
    ADD_MULTIPLY,
    APPROVE,
    CHEAP_DOCTOR,
    NO_EDITS,
    STRONG_DOCTOR,
    WORD_RULE,
    WRONG_SEARCH,
    AutopackEnv,
    attempts,
    builder,
    doctor,
    phase,
    recorded_prompts,
    sr,
)

pytestmark = pytest.mark.slow  # real subprocesses, git and pytest: deselect with -m 'not slow'


def buggy_multiply(expr: str) -> str:
    """multiply() implemented as ``expr``, with a test that catches anything but a product."""
    return sr(
        "calc.py",
        "def subtract(a, b):\n    return a - b\n",
        f"def subtract(a, b):\n    return a - b\n\n\ndef multiply(a, b):\n    return {expr}\n",
    ) + sr(
        "tests/test_calc.py",
        "from calc import add, subtract\n",
        "from calc import add, multiply, subtract\n\n\ndef test_multiply():\n    assert multiply(4, 2.5) == 10\n",
    )


# ----- approach flaw -> re-plan ------------------------------------------------------------------------
REVISED = "REVISED APPROACH: multiply(a, b) must return the product a * b, not a sum."
REPLAN_REPLY = {
    "description": REVISED,
    "steps": ["Return a * b from multiply", "Test multiply(4, 2.5) == 10"],
    "scope": ["calc.py", "tests/test_calc.py"],
    "builder_mode": "structured_edit",
    "rationale": "both attempts added instead of multiplying",
}


@dataclass
class Replanned:
    ap: AutopackEnv
    result: CliResult
    status: dict[str, Any]
    builder_prompts: list[str]


@pytest.fixture(scope="module")
def replanned(tmp_path_factory: pytest.TempPathFactory) -> Replanned:
    ap = AutopackEnv(tmp_path_factory.mktemp("replan"))
    plan = ap.plan([phase("p1", description="Add multiply(a, b) to calc.py, with a test.")])
    script = ap.script(
        [
            {**builder("p1", ADD_MULTIPLY), "match": r"ROLE: builder[\s\S]*PHASE: p1\n[\s\S]*REVISED APPROACH"},
            builder("p1", buggy_multiply("a + b")),
            builder("p1", buggy_multiply("b + a"), retry=True),  # a different reply, the same failure
            {
                "label": "planner re-plans",
                "match": r"ROLE: planner[\s\S]*keeps failing",
                "text": json.dumps(REPLAN_REPLY),
            },
            APPROVE,
            WORD_RULE,
        ]
    )
    record = ap.root / "rec"
    result = ap.run("rp", plan, script, "--record", str(record))
    return Replanned(ap, result, ap.status("rp"), recorded_prompts(record, "builder"))


def test_the_same_failure_twice_is_an_approach_flaw(replanned: Replanned) -> None:
    assert attempts(replanned.status, "p1")[:2] == [("failed", "ci_fail"), ("failed", "ci_fail")]
    flaws = replanned.ap.events("rp", "approach_flaw")
    assert [e.data["kind"] for e in flaws] == ["similar_failures"]


def test_an_approach_flaw_stores_a_new_revision_with_its_diff(replanned: Replanned) -> None:
    (event,) = replanned.ap.events("rp", "phase_replanned")
    assert event.phase_id == "p1"
    assert event.data["revision"] == 1
    assert event.data["decided_by"] == "approach-flaw detector"
    diff = event.data["diff"]
    assert "-description: Add multiply(a, b) to calc.py, with a test." in diff
    assert "+description: 'REVISED APPROACH" in diff
    assert "+- Return a * b from multiply" in diff
    with replanned.ap.store() as store:
        revisions = store.revisions("rp", "p1")
    assert [r.revision for r in revisions] == [0, 1]
    assert json.loads(revisions[1].spec_json)["description"] == REVISED
    assert replanned.status["phases"][0]["revision"] == 1


def test_the_replanned_phase_is_built_from_the_new_description_and_completes(replanned: Replanned) -> None:
    assert replanned.result.returncode == 0, replanned.result.output
    assert attempts(replanned.status, "p1") == [("failed", "ci_fail"), ("failed", "ci_fail"), ("approved", None)]
    third = replanned.builder_prompts[2]
    assert REVISED in third
    assert "Return a * b from multiply" in third  # the revised steps
    # a fresh start on the new plan: the old attempt's diff is gone, what the checks said last is kept
    # (the same tests judge the new revision; scripts/bench/finishing.py measured the loss without it)
    assert "Before the phase was re-planned, the previous attempt failed with:" in third
    assert "1 failed, 2 passed" in third.split("Before the phase was re-planned")[1]
    assert "previous attempt's change" not in third
    assert "return a * b" in replanned.ap.show("rp", "calc.py")


# ----- health budget -------------------------------------------------------------------------------
def test_the_health_budget_stops_the_run_and_raising_it_resumes(ap: AutopackEnv) -> None:
    config = ap.config(health_budget={"MAX_TOTAL_FAILURES_PER_RUN": 2})
    plan = ap.plan([phase("p1")])
    fix_hint = {"action": "retry_with_fix", "confidence": 0.9, "rationale": "copy the lines", "hint": "copy lines"}
    script = ap.script(
        [builder("p1", WRONG_SEARCH), builder("p1", buggy_multiply("a + b"), retry=True), doctor(fix_hint, repeat=True)]
    )
    stopped = ap.run("hb", plan, script, "--config", str(config))

    assert stopped.returncode == 3, stopped.output
    assert "MAX_TOTAL_FAILURES_PER_RUN (2) reached" in stopped.output
    status = ap.status("hb")
    assert status["status"] == "STOPPED"
    assert "MAX_TOTAL_FAILURES_PER_RUN" in status["stop_reason"]
    assert attempts(status, "p1") == [("failed", "patch_apply_error"), ("failed", "ci_fail")]
    assert ap.commits("hb") == []

    ap.config(health_budget={"MAX_TOTAL_FAILURES_PER_RUN": 25})  # the same file, limit raised
    ap.script([builder("p1", ADD_MULTIPLY, retry=True), APPROVE, WORD_RULE, doctor(fix_hint, repeat=True)])
    resumed = ap.run("hb", plan, script, "--config", str(config))

    assert resumed.returncode == 0, resumed.output
    status = ap.status("hb")
    assert status["status"] == "COMPLETE"
    assert attempts(status, "p1")[-1] == ("approved", None)
    assert len(attempts(status, "p1")) == 3  # the budget counted the stored failures, not a fresh allowance
    assert len(ap.commits("hb")) == 1


# ----- cost cap ------------------------------------------------------------------------------------
@dataclass
class Capped:
    ap: AutopackEnv
    stopped: CliResult
    stopped_status: dict[str, Any]
    resumed: CliResult
    status: dict[str, Any]


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Capped:
    ap = AutopackEnv(tmp_path_factory.mktemp("cap"))
    config = ap.config(limits={"run_cost_cap_usd": 0.000001})
    plan = ap.plan([phase("p1")])
    script = ap.script([builder("p1", ADD_MULTIPLY), APPROVE])
    stopped = ap.run("cap", plan, script, "--config", str(config))
    stopped_status = ap.status("cap")
    ap.config(limits={"run_cost_cap_usd": 10.0})
    resumed = ap.run("cap", plan, script, "--config", str(config))
    return Capped(ap, stopped, stopped_status, resumed, ap.status("cap"))


def test_the_cost_cap_stops_the_run_with_exit_3_and_says_how_to_resume(capped: Capped) -> None:
    assert capped.stopped.returncode == 3, capped.stopped.output
    assert "run cost cap reached" in capped.stopped.output
    assert "limits.run_cost_cap_usd" in capped.stopped.output
    assert "Traceback" not in capped.stopped.output
    assert capped.stopped_status["status"] == "STOPPED"
    assert "run cost cap reached" in capped.stopped_status["stop_reason"]
    # the cap counts a call's worst case before making it: the Builder's call could pass it, so the stopped run
    # made none (the one Builder call stored is the resumed run's)
    assert [c["role"] for c in capped.ap.llm_calls("cap")].count("builder") == 1
    assert attempts(capped.stopped_status, "p1") == [("stopped", None)]


def test_the_cost_cap_message_shows_the_configured_cap(capped: Capped) -> None:
    assert "0.000001" in capped.stopped.output or "1e-06" in capped.stopped.output


def test_raising_the_cost_cap_resumes_the_run_to_completion(capped: Capped) -> None:
    assert capped.resumed.returncode == 0, capped.resumed.output
    assert capped.status["status"] == "COMPLETE"
    assert attempts(capped.status, "p1") == [("stopped", None), ("approved", None)]
    assert len(capped.ap.commits("cap")) == 1
    assert "def multiply" in capped.ap.show("cap", "calc.py")


# ----- the Doctor ----------------------------------------------------------------------------------
STRONG_HINT = "Multiply with the star operator and copy the SEARCH lines exactly"


def test_an_unsure_cheap_doctor_is_escalated_and_its_hint_reaches_the_builder(ap: AutopackEnv) -> None:
    plan = ap.plan([phase("p1")])
    hinted = rf"ROLE: builder[\s\S]*PHASE: p1\n[\s\S]*Hint from the diagnosis of earlier failures: {STRONG_HINT}"
    script = ap.script(
        [
            {**builder("p1", ADD_MULTIPLY, label="builder with the hint"), "match": hinted},
            builder("p1", WRONG_SEARCH),  # patch_apply_error
            builder("p1", NO_EDITS, retry=True),  # empty_reply: a different failure, so no approach flaw
            doctor(
                {"action": "retry_with_fix", "confidence": 0.4, "rationale": "not sure", "hint": "try again"},
                label="cheap doctor, unsure",
            ),
            doctor(
                {
                    "action": "retry_with_fix",
                    "confidence": 0.9,
                    "rationale": "the SEARCH text was invented",
                    "hint": STRONG_HINT,
                },
                label="strong doctor",
            ),
            APPROVE,
            WORD_RULE,
        ]
    )
    record = ap.root / "rec"
    result = ap.run("dr", plan, script, "--record", str(record))

    assert result.returncode == 0, result.output
    status = ap.status("dr")
    assert attempts(status, "p1") == [("failed", "patch_apply_error"), ("failed", "empty_reply"), ("approved", None)]
    # the Doctor was called after call_after_failures (2) failures: its cheap model first, then the strong one
    assert [c["model"] for c in ap.llm_calls("dr", "doctor")] == [CHEAP_DOCTOR, STRONG_DOCTOR]
    (diagnosis,) = ap.events("dr", "doctor_diagnosis")
    assert diagnosis.data["model"] == STRONG_DOCTOR
    assert diagnosis.data["escalated"] is True
    assert diagnosis.data["hint"] == STRONG_HINT
    prompts = recorded_prompts(record, "builder")
    assert STRONG_HINT not in prompts[0] and STRONG_HINT not in prompts[1]
    assert f"Hint from the diagnosis of earlier failures: {STRONG_HINT}" in prompts[2]
    assert "try again" not in prompts[2]  # the unsure cheap answer was not used


def test_a_doctor_skip_skips_the_phase_and_the_run_ends_partial(ap: AutopackEnv) -> None:
    plan = ap.plan(
        [
            phase("p1", name="Doomed"),
            phase("p2", name="Independent"),
            phase("p3", name="Needs p1", depends_on=["p1"]),
        ]
    )
    script = ap.script(
        [
            builder("p1", WRONG_SEARCH),
            builder("p1", NO_EDITS, retry=True),
            doctor({"action": "skip_phase", "confidence": 0.95, "rationale": "multiply is not needed after all"}),
            builder("p2", ADD_MULTIPLY),
            APPROVE,
        ]
    )
    result = ap.run("sk", plan, script)

    assert result.returncode == 1, result.output
    status = ap.status("sk")
    assert status["status"] == "PARTIAL"
    assert [(p["id"], p["state"]) for p in status["phases"]] == [
        ("p1", "SKIPPED"),
        ("p2", "COMPLETE"),
        ("p3", "SKIPPED"),
    ]
    assert [c["model"] for c in ap.llm_calls("sk", "doctor")] == [CHEAP_DOCTOR]  # confident: no escalation
    skipped = {e.phase_id: e.data["reason"] for e in ap.events("sk", "phase_skipped")}
    assert "multiply is not needed after all" in skipped["p1"]
    assert "depends on p1" in skipped["p3"]
    assert ["Autopack-Phase: p2" in str(c.message) for c in ap.commits("sk")] == [True]


def test_the_doctor_is_called_at_most_twice_per_phase(ap: AutopackEnv) -> None:
    # Every attempt fails the same way (an approach flaw each time, which asks for the Doctor) and
    # re-planning is off: without the per-phase budget the Doctor would be asked after every failure.
    config = ap.config(replan={"max_replans_per_phase": 0}, complexity_escalation={"max_attempts_per_phase": 6})
    plan = ap.plan([phase("p1")])
    hint = {"action": "retry_with_fix", "confidence": 0.9, "rationale": "copy the lines", "hint": "copy the lines"}
    script = ap.script([builder("p1", WRONG_SEARCH, repeat=True), doctor(hint, repeat=True)])
    result = ap.run("db", plan, script, "--config", str(config))

    assert result.returncode == 1, result.output
    status = ap.status("db")
    assert status["phases"][0]["state"] == "FAILED"
    assert len(attempts(status, "p1")) == 6
    assert len(ap.events("db", "approach_flaw")) >= 4  # the Doctor was wanted more often than it was asked
    assert len(ap.events("db", "doctor_diagnosis")) == 2
    assert len(ap.llm_calls("db", "doctor")) == 2
    with ap.store() as store:
        assert store.phase("db", "p1").doctor_calls == 2


def test_a_replan_the_planner_cannot_answer_counts_against_the_replan_budget(ap: AutopackEnv) -> None:
    config = ap.config(
        replan={"max_replans_per_phase": 1},
        complexity_escalation={"max_attempts_per_phase": 5},
        doctor_models={"max_calls_per_phase": 0},
    )
    plan = ap.plan([phase("p1")])
    garbage = {"label": "planner cannot answer", "match": "ROLE: planner", "repeat": True, "text": "I am not sure."}
    script = ap.script([builder("p1", buggy_multiply("a + b"), repeat=True), garbage])

    result = ap.run("rb", plan, script, "--config", str(config))

    assert result.returncode == 1, result.output
    assert len(ap.events("rb", "approach_flaw")) >= 2  # the flaw was seen again after the failed re-plan
    assert len(ap.events("rb", "replan_failed")) == 1  # ... but the Planner was not asked again
    planner_calls = [c for c in ap.llm_calls("rb") if c["role"] == "planner"]
    assert 1 <= len(planner_calls) <= 3  # one re-plan (its own retries of an unreadable reply), not one per failure


def test_a_stuck_builder_moves_up_and_the_doctor_is_told_what_it_cannot_choose(ap: AutopackEnv) -> None:
    # The Builder sends the same wrong reply every time; re-planning is off. A reply sent again moves the
    # phase to the next model at once, and the Doctor's second diagnosis is told that a re-plan is not
    # available and which hint it already gave.
    config = ap.config(replan={"max_replans_per_phase": 0}, complexity_escalation={"max_attempts_per_phase": 5})
    plan = ap.plan([phase("p1")])
    hint = {"action": "retry_with_fix", "confidence": 0.9, "rationale": "copy the lines", "hint": "copy the lines"}
    script = ap.script([builder("p1", WRONG_SEARCH, repeat=True), doctor(hint, repeat=True)])
    record = ap.root / "rec"
    result = ap.run("st", plan, script, "--config", str(config), "--record", str(record))

    assert result.returncode == 1, result.output
    reasons = [e.data["reason"] for e in ap.events("st", "escalation")]
    assert any("sent the same reply again" in r for r in reasons), reasons
    models = [a["model"] for a in ap.status("st")["phases"][0]["attempts"]]
    assert len(models) == 5 and len(set(models)) >= 3, models  # no model kept after it repeated itself
    doctor_prompts = recorded_prompts(record, "doctor")
    assert len(doctor_prompts) == 2
    assert "Not available now, do not choose it: replan" in doctor_prompts[0]
    assert "Hints already given" not in doctor_prompts[0]
    assert "Hints already given for this phase" in doctor_prompts[1] and "- copy the lines" in doctor_prompts[1]
