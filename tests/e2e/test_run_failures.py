"""``autopack run`` when an attempt fails: a bad edit, a failing check, an Auditor rejection, a malformed
verdict, an edit outside the phase scope. Each one is fed back to the Builder and the next attempt wins.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import (
    ADD_MULTIPLY,
    ADD_POWER,
    APPROVE,
    WORD_RULE,
    WRONG_SEARCH,
    AutopackEnv,
    attempts,
    auditor,
    builder,
    phase,
    recorded_prompts,
    sr,
)

pytestmark = pytest.mark.slow  # real subprocesses, git and pytest: deselect with -m 'not slow'


BUGGY_MULTIPLY_AND_SCRATCH = (
    sr(
        "calc.py",
        "def subtract(a, b):\n    return a - b\n",
        "def subtract(a, b):\n    return a - b\n\n\ndef multiply(a, b):\n    return a + b\n",
    )
    + sr(
        "tests/test_calc.py",
        "from calc import add, subtract\n",
        "from calc import add, multiply, subtract\n\n\ndef test_multiply():\n    assert multiply(4, 2.5) == 10\n",
    )
    + sr("tests/test_scratch.py", "", "def test_scratch():\n    assert True\n")
)

MULTIPLY_WITH_DOCSTRING = sr(
    "calc.py",
    "def subtract(a, b):\n    return a - b\n",
    'def subtract(a, b):\n    return a - b\n\n\ndef multiply(a, b):\n    """The product of a and b."""\n    return a * b\n',
)


def test_an_edit_that_does_not_apply_is_fed_back_with_the_closest_lines(ap: AutopackEnv) -> None:
    plan = ap.plan([phase("p1")])
    script = ap.script([builder("p1", WRONG_SEARCH), builder("p1", ADD_MULTIPLY, retry=True), APPROVE, WORD_RULE])
    record = ap.root / "rec"
    result = ap.run("r", plan, script, "--record", str(record))

    assert result.returncode == 0, result.output
    assert attempts(ap.status("r"), "p1") == [("failed", "patch_apply_error"), ("approved", None)]
    first, second = recorded_prompts(record, "builder")
    assert "The previous attempt failed" not in first
    feedback = second.split("The previous attempt failed", 1)[1]
    assert "NOT applied" in feedback
    assert "closest lines really in calc.py" in feedback
    assert "def subtract(a, b):" in feedback  # the real line the SEARCH text should have copied
    assert "def multiply(a, b):" in ap.show("r", "calc.py")


def test_a_failing_check_is_retried_on_a_restored_worktree(ap: AutopackEnv) -> None:
    plan = ap.plan([phase("p1", scope=["calc.py", "tests/"])])
    script = ap.script(
        [builder("p1", BUGGY_MULTIPLY_AND_SCRATCH), builder("p1", ADD_MULTIPLY, retry=True), APPROVE, WORD_RULE]
    )
    record = ap.root / "rec"
    result = ap.run("r", plan, script, "--record", str(record))

    assert result.returncode == 0, result.output
    assert attempts(ap.status("r"), "p1") == [("failed", "ci_fail"), ("approved", None)]
    retry_prompt = recorded_prompts(record, "builder")[1]
    assert "quality gate failed" in retry_prompt
    assert "test_multiply" in retry_prompt  # the failing test is named
    # attempt 1's files were rolled back: its scratch test is neither committed nor left lying around
    assert not ap.on_branch("r", "tests/test_scratch.py")
    assert not (ap.run_dir("r") / "worktree" / "tests" / "test_scratch.py").exists()
    assert "return a * b" in ap.show("r", "calc.py")
    assert "return a + b\n\n\ndef subtract" in ap.show("r", "calc.py")  # add() untouched, multiply not buggy
    assert "return a + b" not in ap.show("r", "calc.py").split("def multiply", 1)[1]


@pytest.mark.parametrize(
    "verdict",
    [
        {
            "approved": False,
            "issues": [{"severity": "major", "message": "multiply has no docstring"}],
            "summary": "missing docs",
        },
        {
            "approved": True,
            "issues": [{"severity": "critical", "message": "multiply has no docstring", "path": "calc.py"}],
            "summary": "fine apart from that",
        },
    ],
    ids=["approved-false", "critical-issue"],
)
def test_an_auditor_rejection_is_fed_back_and_the_next_attempt_approved(
    ap: AutopackEnv, verdict: dict[str, object]
) -> None:
    plan = ap.plan([phase("p1", scope=["calc.py"])])
    script = ap.script(
        [
            builder("p1", MULTIPLY_WITH_DOCSTRING.replace('    """The product of a and b."""\n', "")),
            builder("p1", MULTIPLY_WITH_DOCSTRING, retry=True),
            auditor(verdict, label="auditor rejects"),
            APPROVE,
            WORD_RULE,
        ]
    )
    record = ap.root / "rec"
    result = ap.run("r", plan, script, "--record", str(record))

    assert result.returncode == 0, result.output
    assert attempts(ap.status("r"), "p1") == [("failed", "auditor_reject"), ("approved", None)]
    retry_prompt = recorded_prompts(record, "builder")[1]
    assert "Auditor rejected the change" in retry_prompt
    assert "multiply has no docstring" in retry_prompt
    assert '"""The product of a and b."""' in ap.show("r", "calc.py")
    assert len(ap.commits("r")) == 1


def test_a_malformed_auditor_reply_is_asked_again_then_another_model_reviews(ap: AutopackEnv) -> None:
    plan = ap.plan([phase("p1")])
    script = ap.script(
        [
            builder("p1", ADD_MULTIPLY),
            auditor("Looks good to me!", label="auditor, no JSON"),
            auditor('{"approved": "maybe"}', label="auditor, not a verdict"),
            APPROVE,
            WORD_RULE,
        ]
    )
    record = ap.root / "rec"
    result = ap.run("r", plan, script, "--record", str(record))

    assert result.returncode == 0, result.output
    # The change that passed its checks is not thrown away: one attempt, reviewed by a second model.
    assert attempts(ap.status("r"), "p1") == [("approved", None)]
    first, retry, other = recorded_prompts(record, "auditor")
    assert "not a valid verdict" not in first
    assert "Looks good to me!" in retry and "not a valid verdict" in retry  # asked again, with the reason
    assert "not a valid verdict" not in other
    models = [c["model"] for c in ap.llm_calls("r", "auditor")]
    assert models[0] == models[1] != models[2]


def test_edits_outside_the_scope_or_the_workspace_are_refused_and_never_written(
    ap: AutopackEnv, tmp_path: Path
) -> None:
    absolute = tmp_path / "absolute.txt"
    bad_reply = (
        sr("README.md", "# calc\n", "# calc, changed out of scope\n")
        + sr("../outside.txt", "", "escaped the worktree\n")
        + sr(str(absolute), "", "written by absolute path\n")
        + ADD_MULTIPLY
    )
    plan = ap.plan([phase("p1")])
    script = ap.script([builder("p1", bad_reply), builder("p1", ADD_MULTIPLY, retry=True), APPROVE, WORD_RULE])
    record = ap.root / "rec"
    result = ap.run("r", plan, script, "--record", str(record))

    assert result.returncode == 0, result.output
    status = ap.status("r")
    assert attempts(status, "p1") == [("failed", "scope_violation"), ("approved", None)]
    message = status["phases"][0]["attempts"][0]["message"]
    for path in ("README.md", "../outside.txt", str(absolute)):
        assert path in message
    # nothing from the refused reply landed anywhere: not outside the worktree, not in it, not on the branch
    worktree = ap.run_dir("r") / "worktree"
    assert not absolute.exists()
    assert not (worktree.parent / "outside.txt").exists()
    assert not (ap.repo_dir.parent / "outside.txt").exists()
    assert not [p for p in ap.root.rglob("outside.txt")]
    assert ap.show("r", "README.md") == (ap.repo_dir / "README.md").read_text(encoding="utf-8")
    assert (worktree / "README.md").read_text(encoding="utf-8") == "# calc\n\nA tiny calculator.\n"
    # the reply's one in-scope edit was not applied on its own either: attempt 1 left no patch
    with ap.store() as store:
        assert not store.attempts("r", "p1")[0].patch
    assert "scope" in recorded_prompts(record, "builder")[1].split("The previous attempt failed", 1)[1]


def test_a_request_the_provider_refuses_twice_fails_the_phase_not_the_process(ap: AutopackEnv) -> None:
    plan = ap.plan([phase("p1")])
    refused = {"kind": "bad_request", "status": 400, "message": "prompt is too long"}
    script = ap.script([{"label": "builder refused", "match": "ROLE: builder", "repeat": True, "error": refused}])
    result = ap.run("r", plan, script)

    assert result.returncode == 1, result.output
    assert "Traceback" not in result.output
    assert "prompt is too long" in result.stdout
    status = ap.status("r")
    assert status["status"] == "FAILED"
    # The same refusal twice in a row ends the phase: the three attempts left would be refused too.
    assert attempts(status, "p1") == [("failed", "infra")] * 2
    assert all("prompt is too long" in a["message"] for a in status["phases"][0]["attempts"])
    assert "refused the same request twice in a row (Builder model" in result.stdout


def test_one_refusal_then_a_good_reply_completes_the_phase(ap: AutopackEnv) -> None:
    plan = ap.plan([phase("p1")])
    refused = {"kind": "bad_request", "status": 400, "message": "prompt is too long"}
    first = {"label": "builder refused once", "match": r"ROLE: builder[\s\S]*PHASE: p1\n", "error": refused}
    script = ap.script([first, builder("p1", ADD_MULTIPLY, retry=True), APPROVE, WORD_RULE])
    result = ap.run("r", plan, script)

    assert result.returncode == 0, result.output
    assert attempts(ap.status("r"), "p1") == [("failed", "infra"), ("approved", None)]


def test_an_auditor_request_refused_twice_names_the_auditor_model(ap: AutopackEnv) -> None:
    plan = ap.plan([phase("p1")])
    refused = {"kind": "bad_request", "status": 400, "message": "max_tokens is too large"}
    auditor_refused = {"label": "auditor refused", "match": "ROLE: auditor", "repeat": True, "error": refused}
    script = ap.script([builder("p1", ADD_MULTIPLY, repeat=True), auditor_refused])
    result = ap.run("r", plan, script)

    assert result.returncode == 1, result.output
    assert attempts(ap.status("r"), "p1") == [("failed", "infra")] * 2
    assert "refused the same request twice in a row (Auditor model" in result.stdout
    assert "max_tokens is too large" in result.stdout


README_POWER = sr("README.md", "A tiny calculator.\n", "A tiny calculator, with power().\n")


def test_a_failed_phase_lets_independent_phases_run_and_its_dependents_wait_for_the_resume(ap: AutopackEnv) -> None:
    plan = ap.plan(
        [
            phase("p1", name="Power"),
            phase("p2", name="Multiply"),
            phase("p3", name="Document power", depends_on=["p1"], scope=["README.md"], checks=[]),
        ]
    )
    refused = {"kind": "bad_request", "status": 400, "message": "prompt is too long"}
    p1_refused = {"label": "p1 refused", "match": r"ROLE: builder[\s\S]*PHASE: p1\n", "repeat": True, "error": refused}
    result = ap.run("kg", plan, ap.script([p1_refused, builder("p2", ADD_MULTIPLY), APPROVE]))

    assert result.returncode == 1, result.output
    status = ap.status("kg")
    assert status["status"] == "FAILED"
    assert [(p["id"], p["state"]) for p in status["phases"]] == [("p1", "FAILED"), ("p2", "COMPLETE"), ("p3", "QUEUED")]
    assert "phase p1 failed (1 of 3 phases complete; 1 phase(s) wait on it)" in status["stop_reason"]
    assert "not started: depends on p1, which did not complete" in result.stdout
    (p2_commit,) = ap.commits("kg")
    assert "Autopack-Phase: p2" in str(p2_commit.message)

    # The same command, with the cause gone: p1 builds on the branch as it is (p2's commit stays), p3 follows.
    script = ap.script([builder("p1", ADD_POWER), builder("p3", README_POWER), APPROVE], name="script2.yaml")
    again = ap.run("kg", plan, script)

    assert again.returncode == 0, again.output
    status = ap.status("kg")
    assert status["status"] == "COMPLETE"
    assert [p["state"] for p in status["phases"]] == ["COMPLETE"] * 3
    assert ["Autopack-Phase: p2" in str(c.message) for c in ap.commits("kg")] == [True, False, False]
    assert ap.commits("kg")[0].hexsha == p2_commit.hexsha
    calc = ap.show("kg", "calc.py")
    assert "def multiply(a, b)" in calc and "def power(a, b)" in calc
    assert "with power()" in ap.show("kg", "README.md")
