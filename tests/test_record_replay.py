"""Record and replay: calls recorded through the service replay offline, and only for the same prompt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from autopack.config import Config
from autopack.errors import AutopackError
from autopack.llm.record import CALLS_FILE, Recorder, RecordingError, ReplayMismatch, ReplayProvider, request_key
from autopack.llm.service import LlmService
from autopack.llm.types import LlmRequest, LlmResponse, Message, ProviderError, Usage

CHAIN = {"models": ["claude-sonnet-4-5"]}
SECRET = "sk-live-DO-NOT-LEAK-42424242"


def make_config() -> Config:
    return Config.model_validate(
        {
            "models": {"claude-sonnet-4-5": {"input": 3.0, "output": 15.0}, "glm-4.6": {"input": 0.6, "output": 2.2}},
            "escalation_chains": {
                "builder": {"low": CHAIN, "medium": CHAIN, "high": CHAIN},
                "auditor": {"low": CHAIN, "medium": CHAIN, "high": CHAIN},
            },
            "retries": {"max_retries": 0},
        }
    )


class EchoProvider:
    """Answers with a text derived from the last message; optionally fails every call with ``fail``."""

    def __init__(self, name: str, fail: ProviderError | None = None) -> None:
        self.name = name
        self.fail = fail
        self.calls = 0

    def available(self) -> bool:
        return True

    def complete(self, request: LlmRequest) -> LlmResponse:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return LlmResponse(
            text=f"{self.name} says: {request.messages[-1].content.upper()}",
            usage=Usage(tokens_in=50, tokens_out=7, tokens_cached=10),
            stop_reason="end",
            provider=self.name,
            model=request.model,
        )


def ask(service: LlmService, prompt: str, *, system: str = "You build.", model: str = "claude-sonnet-4-5") -> Any:
    return service.complete(
        role="builder", model=model, system=system, messages=[Message("user", prompt)], max_tokens=300
    )


def record_calls(tmp_path: Path, *prompts: str, system: str = "You build.") -> Path:
    rec_dir = tmp_path / "rec"
    service = LlmService(
        make_config(), {"anthropic": EchoProvider("anthropic")}, recorder=Recorder(rec_dir, secrets=[SECRET])
    )
    for p in prompts:
        ask(service, p, system=system)
    return rec_dir


def replay_service(rec_dir: Path) -> LlmService:
    return LlmService(make_config(), {}, override=ReplayProvider(rec_dir))


def test_recorded_calls_replay_in_order_without_any_provider(tmp_path: Path) -> None:
    rec_dir = record_calls(tmp_path, "first step", "second step")
    service = replay_service(rec_dir)
    one = ask(service, "first step")
    two = ask(service, "second step")
    assert one.response.text == "anthropic says: FIRST STEP"
    assert two.response.text == "anthropic says: SECOND STEP"
    assert one.response.usage == Usage(50, 7, 10)
    assert one.provider == "replay"
    assert one.cost_usd > 0  # priced as the requested model


def test_each_completed_call_is_one_json_line_with_request_response_and_key(tmp_path: Path) -> None:
    rec_dir = record_calls(tmp_path, "hello")
    lines = (rec_dir / CALLS_FILE).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["request"] == {
        "model": "claude-sonnet-4-5",
        "system": "You build.",
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": 300,
        "json_mode": False,
    }
    assert line["response"]["text"] == "anthropic says: HELLO"
    assert line["response"]["usage"] == {"tokens_in": 50, "tokens_out": 7, "tokens_cached": 10}
    assert (line["response"]["provider"], line["response"]["stop_reason"]) == ("anthropic", "end")
    request = LlmRequest(
        model="claude-sonnet-4-5", system="You build.", messages=(Message("user", "hello"),), max_tokens=300
    )
    assert line["key"] == request_key(request)


def test_a_call_that_fell_back_replays_under_the_model_that_was_asked_for(tmp_path: Path) -> None:
    rec_dir = tmp_path / "rec"
    providers = {
        "anthropic": EchoProvider("anthropic", fail=ProviderError(kind="auth", message="bad key")),
        "glm": EchoProvider("glm"),
    }
    ask(LlmService(make_config(), providers, recorder=Recorder(rec_dir)), "step")
    replayed = ask(replay_service(rec_dir), "step")
    assert replayed.response.text == "glm says: STEP"


def test_a_different_prompt_fails_with_the_call_number_and_the_first_differing_line(tmp_path: Path) -> None:
    rec_dir = record_calls(tmp_path, "first step", "line one\nline two")
    service = replay_service(rec_dir)
    ask(service, "first step")
    with pytest.raises(ReplayMismatch) as info:
        ask(service, "line one\nline 2")
    message = str(info.value)
    assert "call 2" in message
    assert "expected 'line two', received 'line 2'" in message
    assert "re-make the recording" in message


def test_a_different_model_is_named_in_the_mismatch(tmp_path: Path) -> None:
    rec_dir = record_calls(tmp_path, "step")
    with pytest.raises(ReplayMismatch, match="model: expected 'claude-sonnet-4-5', received 'glm-4.6'"):
        ask(replay_service(rec_dir), "step", model="glm-4.6")


def test_asking_for_more_calls_than_were_recorded_fails_clearly(tmp_path: Path) -> None:
    rec_dir = record_calls(tmp_path, "only one")
    service = replay_service(rec_dir)
    ask(service, "only one")
    with pytest.raises(ReplayMismatch, match="call 2 was not recorded: .* holds 1 calls"):
        ask(service, "only one")


def test_secrets_never_reach_the_recording_and_the_call_still_replays(tmp_path: Path) -> None:
    rec_dir = record_calls(tmp_path, f"use token {SECRET} please", system=f"key={SECRET}")
    text = (rec_dir / CALLS_FILE).read_text(encoding="utf-8")
    assert SECRET not in text
    assert "***" in text
    # The response echoed the secret (upper-cased, so not the secret itself) and the prompt did.
    replayed = ask(replay_service(rec_dir), f"use token {SECRET} please", system=f"key={SECRET}")
    assert replayed.response.text == f"anthropic says: USE TOKEN {SECRET.upper()} PLEASE"


def test_a_missing_recording_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match=f"{tmp_path / 'nowhere' / CALLS_FILE}: no recording"):
        ReplayProvider(tmp_path / "nowhere")


def test_a_corrupt_line_names_the_file_and_line(tmp_path: Path) -> None:
    rec_dir = record_calls(tmp_path, "good")
    with (rec_dir / CALLS_FILE).open("a", encoding="utf-8") as fh:
        fh.write('{"request": {"model": "x"\n')
    with pytest.raises(AutopackError, match=r"calls\.jsonl:2: corrupt line"):
        ReplayProvider(rec_dir)


def test_a_line_missing_fields_names_the_file_line_and_field(tmp_path: Path) -> None:
    rec_dir = tmp_path / "rec"
    rec_dir.mkdir()
    (rec_dir / CALLS_FILE).write_text('{"request": {}, "response": {}}\n', encoding="utf-8")
    with pytest.raises(RecordingError, match=r"calls\.jsonl:1: request\.model: Field required"):
        ReplayProvider(rec_dir)


def test_records_are_appended_to_an_existing_recording(tmp_path: Path) -> None:
    rec_dir = record_calls(tmp_path, "one")
    recorder = Recorder(rec_dir)
    request = LlmRequest(model="m", system="s", messages=(Message("user", "two"),))
    recorder.record(request, LlmResponse(text="t", usage=Usage(), stop_reason="end", provider="p", model="m"))
    assert len(ReplayProvider(rec_dir).calls) == 2
