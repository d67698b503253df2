"""ScriptedProvider: replies from a YAML script, in order or by pattern, with scripted failures."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from autopack.config import Config
from autopack.llm.scripted import ScriptedProvider, ScriptFileError
from autopack.llm.service import LlmService
from autopack.llm.types import LlmRequest, Message, ProviderError, Usage

CHAIN = {"models": ["claude-sonnet-4-5"]}


def script(tmp_path: Path, text: str) -> ScriptedProvider:
    path = tmp_path / "script.yaml"
    path.write_text(text, encoding="utf-8")
    return ScriptedProvider(path)


def req(prompt: str, system: str = "You are the Builder.") -> LlmRequest:
    return LlmRequest(model="claude-sonnet-4-5", system=system, messages=(Message("user", prompt),))


def test_sequence_mode_serves_entries_in_order_and_tracks_labels(tmp_path: Path) -> None:
    p = script(
        tmp_path,
        """
responses:
  - text: "first"
    label: phase-1 first try
  - text: "second"
""",
    )
    assert p.complete(req("a")).text == "first"
    second = p.complete(req("b"))
    assert (second.text, second.provider, second.model, second.stop_reason) == (
        "second",
        "scripted",
        "claude-sonnet-4-5",
        "end",
    )
    assert p.served == ["phase-1 first try", "responses[1]"]
    assert p.available() and p.supports_prefill


def test_usage_is_estimated_unless_given(tmp_path: Path) -> None:
    p = script(
        tmp_path,
        """
responses:
  - text: "12345678"
  - text: "x"
    stop_reason: max_tokens
    usage: {tokens_in: 120, tokens_out: 40, tokens_cached: 100}
""",
    )
    estimated = p.complete(req("p" * 40, system=""))
    assert estimated.usage == Usage(tokens_in=len("\n" + "p" * 40) // 4, tokens_out=2, tokens_cached=0)
    given = p.complete(req("q"))
    assert given.usage == Usage(120, 40, 100)
    assert given.truncated


def test_a_sequence_entry_with_match_is_served_only_when_the_prompt_matches(tmp_path: Path) -> None:
    p = script(
        tmp_path,
        """
responses:
  - text: "ok"
    match: "phase P1"
    label: builder P1
""",
    )
    with pytest.raises(ProviderError) as info:
        p.complete(req("please build phase P2 now"))
    assert info.value.kind == "bad_request"
    assert "builder P1" in info.value.message and "please build phase P2" in info.value.message
    assert p.complete(req("please build phase P1 now")).text == "ok"


def test_match_mode_serves_the_first_unused_matching_entry(tmp_path: Path) -> None:
    p = script(
        tmp_path,
        """
mode: match
responses:
  - {text: "audit 1", match: "Auditor"}
  - {text: "build 1", match: "Builder"}
  - {text: "build 2", match: "Builder"}
""",
    )
    assert p.complete(req("x", system="You are the Builder.")).text == "build 1"
    assert p.complete(req("x", system="You are the Auditor.")).text == "audit 1"
    assert p.complete(req("x", system="You are the Builder.")).text == "build 2"


def test_match_mode_searches_the_messages_as_well_as_the_system_text(tmp_path: Path) -> None:
    p = script(tmp_path, "mode: match\nresponses:\n  - {text: found, match: 'def add\\('}\n")
    assert p.complete(req("fix this:\ndef add(a, b):")).text == "found"


def test_match_mode_falls_back_to_a_default_entry(tmp_path: Path) -> None:
    p = script(
        tmp_path,
        """
mode: match
responses:
  - {text: "specific", match: "needle"}
  - {text: "anything else", default: true, repeat: true}
""",
    )
    assert p.complete(req("hay")).text == "anything else"
    assert p.complete(req("needle")).text == "specific"
    assert p.complete(req("needle")).text == "anything else"


def test_match_mode_without_a_matching_entry_says_what_the_prompt_was(tmp_path: Path) -> None:
    p = script(tmp_path, "mode: match\nresponses:\n  - {text: a, match: needle}\n")
    with pytest.raises(ProviderError, match="no unused entry matches the prompt.*haystack"):
        p.complete(req("haystack"))


def test_a_repeat_entry_can_be_served_any_number_of_times(tmp_path: Path) -> None:
    p = script(
        tmp_path,
        """
mode: match
responses:
  - {text: "approved", match: "Auditor", repeat: true}
""",
    )
    texts = [p.complete(req("x", system="Auditor")).text for _ in range(5)]
    assert texts == ["approved"] * 5


def test_a_repeat_entry_in_sequence_mode_answers_every_later_call(tmp_path: Path) -> None:
    p = script(tmp_path, "responses:\n  - text: one\n  - {text: again, repeat: true}\n")
    assert [p.complete(req("x")).text for _ in range(4)] == ["one", "again", "again", "again"]


def test_an_error_entry_raises_the_scripted_provider_error(tmp_path: Path) -> None:
    p = script(
        tmp_path,
        """
responses:
  - error: {kind: rate_limit, status: 429, retry_after: 3}
    label: throttled
  - text: "after the storm"
""",
    )
    with pytest.raises(ProviderError) as info:
        p.complete(req("x"))
    e = info.value
    assert (e.kind, e.status, e.retry_after, e.provider) == ("rate_limit", 429, 3.0, "scripted")
    assert "throttled" in e.message
    assert p.complete(req("x")).text == "after the storm"
    assert p.served == ["throttled", "responses[1]"]


def test_scripted_errors_drive_the_service_retries(tmp_path: Path) -> None:
    p = script(
        tmp_path,
        """
responses:
  - error: {kind: server, status: 500}
  - error: {kind: server, status: 500}
  - text: "done"
""",
    )
    config = Config.model_validate(
        {"escalation_chains": {r: {c: CHAIN for c in ("low", "medium", "high")} for r in ("builder", "auditor")}}
    )
    sleeps: list[float] = []
    service = LlmService(config, {}, override=p, sleep=sleeps.append, rng=random.Random(1))
    result = service.complete(
        role="builder", model="claude-sonnet-4-5", system="s", messages=[Message("user", "u")], max_tokens=100
    )
    assert result.response.text == "done"
    assert len(sleeps) == 2


def test_running_out_of_responses_is_a_bad_request_saying_how_many_were_served(tmp_path: Path) -> None:
    p = script(tmp_path, "responses:\n  - text: one\n  - text: two\n")
    p.complete(req("x"))
    p.complete(req("x"))
    with pytest.raises(ProviderError) as info:
        p.complete(req("x"))
    assert info.value.kind == "bad_request"
    assert "script exhausted after 2 responses" in info.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("responses:\n  - text: [unclosed\n", r"script\.yaml:\d+: malformed YAML"),
        ("responses:\n  - text: ok\n  - txt: typo\n", r"script\.yaml:3: responses\[1\]\.txt: unknown key"),
        (
            "responses:\n  - {text: ok, match: '(unbalanced'}\n",
            r"responses\[0\]\.match: .*not a valid regular expression",
        ),
        ("responses:\n  - {label: empty}\n", r"responses\[0\]: .*exactly one of `text`"),
        (
            "mode: match\nresponses:\n  - {text: a, match: x}\n  - {text: b, label: lost}\n",
            r"responses\[1\] \(lost\) at line 4: match mode needs",
        ),
        ("responses:\n  - error: {kind: teapot}\n", r"responses\[0\]\.error\.kind"),
        ("mode: random\nresponses:\n  - text: a\n", r"script\.yaml:1: mode"),
        ("responses: []\n", r"responses: List should have at least 1 item"),
    ],
)
def test_an_invalid_script_names_the_file_entry_and_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ScriptFileError, match=expected):
        script(tmp_path, text)


def test_a_missing_script_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ScriptFileError, match=r"nope\.yaml: file not found"):
        ScriptedProvider(tmp_path / "nope.yaml")
