"""Agents' JSON read strictly but kindly: the object wherever it is, common slips repaired, synonyms
normalised; a change that passed its checks is never thrown away because a verdict did not parse.
Through the real Anthropic SDK against a local Messages API, reading the requests as sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from autopack.agents.auditor import Verdict
from autopack.agents.base import JsonReplyError, extract_json_object, first_valid, json_objects
from autopack.agents.doctor import Diagnosis
from fake_claude import CHEAP, MID, FakeClaude, claude_config, run_plan

CALC = "def add(a, b):\n    return a + b\n"
EDIT = (
    "calc.py\n```\n<<<<<<< SEARCH\ndef add(a, b):\n    return a + b\n=======\ndef add(a, b):\n    return a + b\n\n\n"
    "def sub(a, b):\n    return a - b\n>>>>>>> REPLACE\n```\n"
)
PHASE = {
    "id": "sub",
    "name": "Add sub",
    "description": "Add sub(a, b) to calc.py.",
    "scope": ["calc.py"],
    "checks": ['python -c "import calc; assert calc.sub(5, 3) == 2"'],
    "builder_mode": "structured_edit",
}
GARBAGE = "I reviewed it and it looks mostly fine, approve."


def test_a_sloppy_verdict_in_prose_is_read_and_its_words_normalised(tmp_path: Path, httpserver: HTTPServer) -> None:
    fake = FakeClaude(httpserver)
    fake.queue("builder", EDIT)
    fake.queue(
        "auditor",
        "Here you go.\n{'approved': True, 'issues': [{'severity': 'Major', 'message': 'name it "
        "subtract',}, 'also add a docstring'], 'summary': None,}\nThanks!",
    )
    run = run_plan(tmp_path, fake, {"calc.py": CALC}, [PHASE])

    assert run.result.exit_code == 0 and len(fake.calls("auditor")) == 1


def test_an_unreadable_verdict_is_asked_again_then_another_model_is_asked(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeClaude(httpserver)
    fake.queue("builder", EDIT)
    fake.queue("auditor", GARBAGE, GARBAGE, '{"approved": "yes", "issues": null, "summary": "ok"}')
    run = run_plan(tmp_path, fake, {"calc.py": CALC}, [PHASE])

    assert run.result.exit_code == 0 and len(fake.calls("builder")) == 1
    audits = fake.calls("auditor")
    assert [a["model"] for a in audits] == [CHEAP, CHEAP, MID]
    assert "That reply is not a valid verdict" in audits[1]["messages"][-1]["content"]


def test_a_change_that_passed_its_checks_survives_a_review_nobody_could_read(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeClaude(httpserver)
    fake.queue("builder", EDIT, "NO_CHANGES: the change above is complete.")
    fake.queue("auditor", GARBAGE, GARBAGE, GARBAGE, GARBAGE, '{"approved": true, "issues": [], "summary": "ok"}')
    run = run_plan(tmp_path, fake, {"calc.py": CALC}, [PHASE])

    assert run.result.exit_code == 0
    assert run.attempts("sub")[0].error_category == "malformed_output"
    retry = fake.prompts("builder")[1]
    assert "no Auditor reply could be read" in retry and "reply NO_CHANGES" in retry
    assert "def sub(a, b):" in retry  # the files shown hold the change, which was kept
    assert run.branch_log() == ["autopack(sub): Add sub"]  # committed as the real change it is
    assert "calc.py" in run.show(f"autopack/{run.run_id}")


def test_a_doctor_answer_in_its_own_words_is_carried_out(tmp_path: Path, httpserver: HTTPServer) -> None:
    fake = FakeClaude(httpserver)
    fake.queue("builder", "no idea")
    fake.queue(
        "doctor", '```json\n{"action": "Skip", "confidence": 85, "rationale": "not needed", "commands": null}\n```'
    )
    cfg = claude_config(
        tmp_path / "config.yaml", replan={"trigger_threshold": 10}, doctor_models={"call_after_failures": 2}
    )
    run = run_plan(tmp_path, fake, {"calc.py": CALC}, [PHASE], config=cfg)

    assert len(fake.calls("doctor")) == 1  # confidence 85 is 0.85: no second opinion
    skipped = run.events("phase_skipped")
    assert skipped and "the Doctor skipped it: not needed" in skipped[0].data["reason"]


# -- the reading itself ------------------------------------------------------------------------------


def test_single_quotes_python_words_trailing_commas_comments_and_bare_keys_are_repaired() -> None:
    reply = "{approved: False, // not yet\n 'issues': [{'severity': 'warning', 'message': \"it's \\\"odd\\\"\",},],}"
    data = extract_json_object(reply)
    assert data == {"approved": False, "issues": [{"severity": "warning", "message": 'it\'s "odd"'}]}


def test_the_object_is_found_after_braces_in_prose() -> None:
    reply = 'The {placeholder} in f"{x}" is fine.\nVerdict: {"approved": true, "summary": "ok"}'
    assert first_valid(reply, Verdict.model_validate).approved is True


def test_a_nested_issue_is_not_taken_for_the_verdict() -> None:
    assert json_objects('{"approved": false, "issues": [{"severity": "high", "message": "m"}]}')[0]["approved"] is False


@pytest.mark.parametrize(
    ("word", "severity"),
    [("Major", "major"), ("high", "major"), ("warning", "minor"), ("BLOCKER", "critical"), ("nit", "minor")],
)
def test_severity_synonyms(word: str, severity: str) -> None:
    verdict = Verdict.model_validate({"approved": True, "issues": [{"severity": word, "description": "d"}]})
    assert verdict.issues[0].severity == severity and verdict.issues[0].message == "d"


def test_a_critical_synonym_still_rejects() -> None:
    verdict = Verdict.model_validate({"approved": "approve", "issues": [{"severity": "Blocker", "message": "m"}]})
    assert verdict.approved and not verdict.accepted


@pytest.mark.parametrize(("value", "expected"), [(85, 0.85), ("85%", 0.85), ("0.7", 0.7), ("high", 0.85), (1, 1.0)])
def test_confidence_in_the_forms_models_write(value: object, expected: float) -> None:
    d = Diagnosis.model_validate(
        {"action": "retry", "confidence": value, "rationale": "r", "commands": None, "setup": None}
    )
    assert (d.action, d.confidence, d.commands, d.setup) == ("retry_with_fix", expected, [], [])


def test_an_unknown_severity_is_an_error_to_feed_back_not_a_guess() -> None:
    with pytest.raises(ValueError, match="severity"):
        Verdict.model_validate({"approved": True, "issues": [{"severity": "purple", "message": "m"}]})


def test_no_object_at_all_is_a_reply_error() -> None:
    with pytest.raises(JsonReplyError):
        first_valid("nothing here", Verdict.model_validate)
    assert json.loads('{"a": 1}') == extract_json_object('{"a": 1}')
