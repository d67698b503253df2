"""A Builder may say the phase is already done (``NO_CHANGES``): the checks and the Auditor review the
tree as it is, and an approval is an empty commit that says so, not a change; through the real
Anthropic SDK against a local Messages API."""

from __future__ import annotations

from pathlib import Path

from pytest_httpserver import HTTPServer

from fake_claude import FakeClaude, run_plan

CALC = "def add(a, b):\n    return a + b\n"
PHASE = {
    "id": "add",
    "name": "Add add()",
    "description": "Add add(a, b) returning a + b to calc.py.",
    "scope": ["calc.py"],
    "builder_mode": "structured_edit",
}


def test_no_changes_is_checked_audited_and_committed_as_an_empty_commit_that_says_so(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeClaude(httpserver)
    fake.queue("builder", "**NO_CHANGES**\ncalc.py already defines add(a, b) returning a + b.\n")
    check = 'python -c "import calc; assert calc.add(2, 3) == 5"'
    run = run_plan(tmp_path, fake, {"calc.py": CALC}, [{**PHASE, "checks": [check]}])

    assert run.result.exit_code == 0
    assert [len(fake.calls(r)) for r in ("builder", "auditor", "doctor", "planner")] == [1, 1, 0, 0]
    audit = fake.prompts("auditor")[0]
    assert "replied NO_CHANGES" in audit and "calc.py already defines add" in audit
    assert "def add(a, b):\n    return a + b" in audit  # the file as it is, to judge by
    assert "Diff of the change: (empty" in audit
    assert run.branch_log() == ["autopack(add): Add add() (no changes)"]
    shown = run.show(f"autopack/{run.run_id}")
    assert "Autopack-Changes: none" in shown and "calc.py" not in shown.split("Autopack-Changes: none")[1]
    assert "NO_CHANGES" in fake.prompts("builder")[0]  # the Builder is told it may say so


def test_no_changes_on_a_tree_that_fails_its_checks_is_fed_back_as_a_failure(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeClaude(httpserver)
    edit = (
        "calc.py\n```\n<<<<<<< SEARCH\ndef add(a, b):\n    return a + b\n=======\ndef add(a, b):\n    return a + b\n\n\n"
        "def sub(a, b):\n    return a - b\n>>>>>>> REPLACE\n```\n"
    )
    fake.queue("builder", "NO_CHANGES\nNothing to do.", edit)
    check = 'python -c "import calc; assert calc.sub(5, 3) == 2"'
    run = run_plan(
        tmp_path, fake, {"calc.py": CALC}, [{**PHASE, "id": "sub", "description": "Add sub(a, b).", "checks": [check]}]
    )

    assert run.result.exit_code == 0
    first = run.attempts("sub")[0]
    assert first.outcome == "failed" and first.error_category == "ci_fail"
    assert "you replied NO_CHANGES, but the files as they are do not pass" in fake.prompts("builder")[1]
    assert run.branch_log() == ["autopack(sub): Add add()"]


def test_a_reply_without_edits_is_told_it_may_say_no_changes(tmp_path: Path, httpserver: HTTPServer) -> None:
    fake = FakeClaude(httpserver)
    fake.queue("builder", "I think it is fine already.", "NO_CHANGES - add() exists.")
    run = run_plan(tmp_path, fake, {"calc.py": CALC}, [{**PHASE, "checks": []}])

    assert run.result.exit_code == 0
    assert run.attempts("add")[0].error_category == "empty_reply"
    assert "reply with the line NO_CHANGES" in fake.prompts("builder")[1]
