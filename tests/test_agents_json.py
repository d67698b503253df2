"""Reading the JSON object in an agent's reply (Auditor verdicts, Doctor diagnoses, Planner revisions):
whatever a model sends, the answer is an object or a JsonReplyError that is fed back, never a crash."""

from __future__ import annotations

import pytest

from autopack.agents.base import JsonReplyError, extract_json_object


def test_an_object_inside_prose_and_a_fence_is_found() -> None:
    reply = 'Here is my verdict:\n```json\n{"approved": true, "issues": [], "summary": "ok"}\n```\nThanks.'
    assert extract_json_object(reply) == {"approved": True, "issues": [], "summary": "ok"}


def test_json_nested_deeper_than_python_can_decode_is_a_reply_error_not_a_crash() -> None:
    reply = '{"approved": ' + "[" * 200_000 + "]" * 200_000 + "}"
    with pytest.raises(JsonReplyError, match="no JSON object"):
        extract_json_object(reply)


def test_a_deep_decoy_does_not_hide_a_valid_object_after_it() -> None:
    decoy = "```json\n" + "[" * 100_000 + "]" * 100_000 + "\n```\n"
    assert extract_json_object(decoy + '{"action": "skip_phase", "confidence": 0.9}') == {
        "action": "skip_phase",
        "confidence": 0.9,
    }
