"""``autopack doctor diagnose`` on a run whose phase FAILED: the diagnosis is printed, ``--apply`` carries
it out, and running the same ``autopack run`` again finishes the run from there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from conftest import CliResult

from .conftest import (
    ADD_MULTIPLY,
    ADD_POWER,
    APPROVE,
    CHEAP_DOCTOR,
    NO_EDITS,
    WRONG_SEARCH,
    AutopackEnv,
    attempts,
    builder,
    doctor,
    phase,
)

pytestmark = pytest.mark.slow  # real subprocesses, git and pytest: deselect with -m 'not slow'

RATIONALE = "multiply belongs to a later milestone; the phase cannot succeed as planned"


@dataclass
class Diagnosed:
    ap: AutopackEnv
    failed_run: CliResult
    failed_status: dict[str, Any]
    doctor_calls_in_run: int
    diagnose: CliResult
    after_diagnose: dict[str, Any]
    applied: CliResult
    after_apply: dict[str, Any]
    rerun: CliResult
    after_rerun: dict[str, Any]


@pytest.fixture(scope="module")
def diagnosed(tmp_path_factory: pytest.TempPathFactory) -> Diagnosed:
    ap = AutopackEnv(tmp_path_factory.mktemp("doctor"))
    # Two attempts per phase, and the Doctor is not called during the run (it would be after 3 failures).
    config = ap.config(complexity_escalation={"max_attempts_per_phase": 2}, doctor_models={"call_after_failures": 3})
    plan = ap.plan([phase("p1", name="Add multiply")])
    run_script = ap.script([builder("p1", WRONG_SEARCH), builder("p1", NO_EDITS, retry=True), APPROVE])
    failed = ap.run("dx", plan, run_script, "--config", str(config))
    failed_status = ap.status("dx")
    doctor_calls_in_run = len(ap.llm_calls("dx", "doctor"))

    doctor_script = ap.script(
        [doctor({"action": "skip_phase", "confidence": 0.9, "rationale": RATIONALE, "hint": "leave calc.py alone"})],
        name="doctor.yaml",
    )
    base = ["doctor", "diagnose", "--run-id", "dx", "--script", str(doctor_script), "--home", str(ap.home)]
    diagnose = ap.cli(*base, "--config", str(config))
    after_diagnose = ap.status("dx")
    applied = ap.cli(*base, "--config", str(config), "--apply")
    after_apply = ap.status("dx")
    rerun = ap.run("dx", plan, run_script, "--config", str(config))
    return Diagnosed(
        ap,
        failed,
        failed_status,
        doctor_calls_in_run,
        diagnose,
        after_diagnose,
        applied,
        after_apply,
        rerun,
        ap.status("dx"),
    )


def test_the_run_fails_the_phase_after_max_attempts(diagnosed: Diagnosed) -> None:
    assert diagnosed.failed_run.returncode == 1, diagnosed.failed_run.output
    assert diagnosed.failed_status["status"] == "FAILED"
    assert diagnosed.failed_status["phases"][0]["state"] == "FAILED"
    assert attempts(diagnosed.failed_status, "p1") == [("failed", "patch_apply_error"), ("failed", "empty_reply")]
    assert diagnosed.doctor_calls_in_run == 0


def test_diagnose_prints_the_doctors_diagnosis_and_changes_nothing(diagnosed: Diagnosed) -> None:
    out = diagnosed.diagnose
    assert out.returncode == 0, out.output
    assert f"p1: skip_phase (confidence 0.90, model {CHEAP_DOCTOR})" in out.stdout
    assert RATIONALE in out.stdout
    assert "hint: leave calc.py alone" in out.stdout
    assert "applied" not in out.stdout
    assert diagnosed.after_diagnose["phases"][0]["state"] == "FAILED"
    # the diagnosis is accounted to the run like any other call (this one, then the --apply one)
    calls = diagnosed.ap.llm_calls("dx", "doctor")
    assert [(c["model"], c["phase_id"]) for c in calls] == [(CHEAP_DOCTOR, "p1")] * 2


def test_diagnose_apply_with_skip_phase_marks_the_phase_skipped(diagnosed: Diagnosed) -> None:
    out = diagnosed.applied
    assert out.returncode == 0, out.output
    assert "applied: skip_phase: phase p1 is now SKIPPED" in out.stdout
    assert diagnosed.after_apply["phases"][0]["state"] == "SKIPPED"
    skipped = diagnosed.ap.events("dx", "phase_skipped")
    assert [e.phase_id for e in skipped] == ["p1"]
    assert RATIONALE in skipped[0].data["reason"]


def test_running_the_same_command_after_a_skip_ends_the_run_partial(diagnosed: Diagnosed) -> None:
    assert diagnosed.rerun.returncode == 1, diagnosed.rerun.output
    assert diagnosed.after_rerun["status"] == "PARTIAL"
    assert len(attempts(diagnosed.after_rerun, "p1")) == 2  # no new attempt at the skipped phase
    assert diagnosed.ap.commits("dx") == []


def test_a_phase_a_person_queues_again_builds_on_the_phases_that_completed_after_it(tmp_path: Any) -> None:
    # p1 fails and the run goes on to complete p2; `doctor diagnose --apply` sends p1 back to the queue;
    # the next run builds p1 on the branch as p2 left it: p2's commit is not rolled back with p1's start.
    ap = AutopackEnv(tmp_path)
    config = ap.config(complexity_escalation={"max_attempts_per_phase": 2}, doctor_models={"call_after_failures": 3})
    plan = ap.plan([phase("p1", name="Power"), phase("p2", name="Multiply")])
    first = ap.script(
        [builder("p1", WRONG_SEARCH), builder("p1", NO_EDITS, retry=True), builder("p2", ADD_MULTIPLY), APPROVE]
    )
    assert ap.run("rq", plan, first, "--config", str(config)).returncode == 1
    assert [p["state"] for p in ap.status("rq")["phases"]] == ["FAILED", "COMPLETE"]
    (p2_commit,) = ap.commits("rq")

    hint = {"action": "retry_with_fix", "confidence": 0.9, "rationale": "the search text was wrong", "hint": "copy it"}
    doctor_script = ap.script([doctor(hint)], name="doctor.yaml")
    applied = ap.cli("doctor", "diagnose", "--run-id", "rq", "--script", str(doctor_script), "--home", str(ap.home),
                     "--config", str(config), "--apply")  # fmt: skip
    assert applied.returncode == 0, applied.output
    assert ap.status("rq")["phases"][0]["state"] == "QUEUED"

    again = ap.run(
        "rq", plan, ap.script([builder("p1", ADD_POWER), APPROVE], name="again.yaml"), "--config", str(config)
    )
    assert again.returncode == 0, again.output
    assert [p["state"] for p in ap.status("rq")["phases"]] == ["COMPLETE", "COMPLETE"]
    assert [c.hexsha for c in ap.commits("rq")][0] == p2_commit.hexsha
    calc = ap.show("rq", "calc.py")
    assert "def multiply(a, b)" in calc and "def power(a, b)" in calc
