"""OpenAIProvider through the real ``openai`` SDK, against a local Chat Completions server."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from autopack.llm.openai_provider import OpenAIProvider
from autopack.llm.types import Message, ProviderError
from wire import (
    OPENAI_KEY,
    SHORT_TIMEOUT,
    ask,
    chat_completion,
    http_date_in,
    received_count,
    received_json,
    refused_url,
    slow_handler,
)

PATH = "/v1/chat/completions"


@pytest.fixture
def provider(httpserver: HTTPServer) -> OpenAIProvider:
    return OpenAIProvider(OPENAI_KEY, base_url=httpserver.url_for("/v1"))


def fail(provider: OpenAIProvider, model: str = "gpt-4o", **fields: object) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        provider.complete(ask(model, **fields))  # type: ignore[arg-type]
    return caught.value


def error_body(message: str, kind: str = "invalid_request_error") -> dict[str, object]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def test_reply_text_usage_and_cached_tokens_are_read(httpserver: HTTPServer, provider: OpenAIProvider) -> None:
    httpserver.expect_request(PATH, method="POST").respond_with_json(
        chat_completion("Hello", prompt_tokens=2000, completion_tokens=9, cached_tokens=1536)
    )

    response = provider.complete(ask("gpt-4o"))

    assert response.text == "Hello"
    assert (response.stop_reason, response.raw_stop_reason) == ("end", "stop")
    assert (response.provider, response.model) == ("openai", "gpt-4o")
    assert (response.usage.tokens_in, response.usage.tokens_out, response.usage.tokens_cached) == (2000, 9, 1536)


def test_system_text_goes_first_with_max_tokens_and_temperature(
    httpserver: HTTPServer, provider: OpenAIProvider
) -> None:
    httpserver.expect_request(PATH).respond_with_json(chat_completion())

    provider.complete(ask("gpt-4o", system="RULES", max_tokens=500, temperature=0.2))

    body = received_json(httpserver)
    assert body["messages"] == [{"role": "system", "content": "RULES"}, {"role": "user", "content": "Say hi."}]
    assert (body["model"], body["max_tokens"], body["temperature"]) == ("gpt-4o", 500, 0.2)
    assert "max_completion_tokens" not in body
    assert "response_format" not in body


@pytest.mark.parametrize("model", ["gpt-5", "gpt-5-mini", "o1", "o3-mini", "o4-mini"])
def test_reasoning_models_get_max_completion_tokens_and_no_temperature(
    httpserver: HTTPServer, provider: OpenAIProvider, model: str
) -> None:
    httpserver.expect_request(PATH).respond_with_json(chat_completion(model=model))

    provider.complete(ask(model, max_tokens=700, temperature=0.0))

    body = received_json(httpserver)
    assert body["max_completion_tokens"] == 700
    assert "max_tokens" not in body
    assert "temperature" not in body


def test_json_mode_asks_for_a_json_object(httpserver: HTTPServer, provider: OpenAIProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(chat_completion('{"a": 1}'))

    provider.complete(ask("gpt-4o", json_mode=True))

    assert received_json(httpserver)["response_format"] == {"type": "json_object"}


def test_trailing_assistant_message_is_sent_and_a_new_message_comes_back(
    httpserver: HTTPServer, provider: OpenAIProvider
) -> None:
    httpserver.expect_request(PATH).respond_with_json(chat_completion("rest of it"))
    conversation = (Message("user", "Write it."), Message("assistant", "first half "))

    response = provider.complete(ask("gpt-4o", messages=conversation))

    assert provider.supports_prefill is False
    assert received_json(httpserver)["messages"][-1] == {"role": "assistant", "content": "first half "}
    assert response.text == "rest of it"


def test_reply_cut_off_at_length_is_marked_truncated(httpserver: HTTPServer, provider: OpenAIProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(chat_completion("def f(", finish_reason="length"))

    response = provider.complete(ask("gpt-4o"))

    assert (response.stop_reason, response.raw_stop_reason) == ("max_tokens", "length")
    assert response.truncated


def test_rate_limit_carries_retry_after_and_is_not_retried_by_the_sdk(
    httpserver: HTTPServer, provider: OpenAIProvider
) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        error_body("Rate limit reached for gpt-4o", "requests"), status=429, headers={"Retry-After": "7"}
    )

    error = fail(provider)

    assert (error.kind, error.status, error.retry_after) == ("rate_limit", 429, 7.0)
    assert "Rate limit reached" in error.message
    assert received_count(httpserver) == 1


def test_retry_after_as_an_http_date_becomes_seconds(httpserver: HTTPServer, provider: OpenAIProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        error_body("slow down"), status=429, headers={"Retry-After": http_date_in(60)}
    )

    error = fail(provider)

    assert error.retry_after is not None
    assert 50 <= error.retry_after <= 61


def test_retry_after_ms_is_read_in_milliseconds(httpserver: HTTPServer, provider: OpenAIProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        error_body("slow down"), status=429, headers={"retry-after-ms": "1500"}
    )

    assert fail(provider).retry_after == 1.5


def test_server_error_keeps_its_status(httpserver: HTTPServer, provider: OpenAIProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(error_body("The server had an error", "server_error"), status=500)

    error = fail(provider)

    assert (error.kind, error.status) == ("server", 500)
    assert error.retryable
    assert received_count(httpserver) == 1


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, "bad_request"), (403, "auth"), (404, "bad_request"), (422, "bad_request"), (503, "server")],
)
def test_status_codes_map_to_error_kinds(
    httpserver: HTTPServer, provider: OpenAIProvider, status: int, kind: str
) -> None:
    httpserver.expect_request(PATH).respond_with_json(error_body("nope"), status=status)

    error = fail(provider)

    assert (error.kind, error.status) == (kind, status)


def test_slow_reply_times_out(httpserver: HTTPServer, provider: OpenAIProvider) -> None:
    httpserver.expect_request(PATH).respond_with_handler(slow_handler(body=chat_completion()))

    error = fail(provider, timeout=SHORT_TIMEOUT)

    assert error.kind == "timeout"


def test_body_that_is_not_json_is_malformed(httpserver: HTTPServer, provider: OpenAIProvider) -> None:
    httpserver.expect_request(PATH).respond_with_data("upstream connect error", content_type="text/plain")

    error = fail(provider)

    assert error.kind == "malformed"
    assert "upstream connect error" in error.message


def test_completion_without_choices_is_malformed(httpserver: HTTPServer, provider: OpenAIProvider) -> None:
    body = chat_completion()
    body["choices"] = []
    httpserver.expect_request(PATH).respond_with_json(body)

    error = fail(provider)

    assert error.kind == "malformed"
    assert "choices" in error.message


def test_unauthorized_is_auth_and_never_shows_the_key(httpserver: HTTPServer, provider: OpenAIProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        error_body(f"Incorrect API key provided: {OPENAI_KEY}.", "invalid_request_error"), status=401
    )

    error = fail(provider)

    assert (error.kind, error.status) == ("auth", 401)
    assert "OPENAI_API_KEY" in error.message
    assert OPENAI_KEY not in str(error)
    assert OPENAI_KEY not in repr(error.details)


def test_refused_connection_is_a_connection_error() -> None:
    error = fail(OpenAIProvider(OPENAI_KEY, base_url=refused_url("/v1")))

    assert error.kind == "connection"
    assert error.retryable


def test_missing_key_makes_the_provider_unavailable_and_names_the_variable(httpserver: HTTPServer) -> None:
    provider = OpenAIProvider(None, base_url=httpserver.url_for("/v1"))

    error = fail(provider)

    assert not provider.available()
    assert error.kind == "not_configured"
    assert "OPENAI_API_KEY" in error.message
    assert received_count(httpserver) == 0


@pytest.mark.parametrize(
    ("model", "reasoning"),
    [
        ("gpt-5", True),
        ("gpt-5.5", True),
        ("gpt-6-mini", True),
        ("gpt-10", True),
        ("o3-mini", True),
        ("o4", True),
        ("gpt-4.1", False),
        ("gpt-4o", False),
        ("gpt-3.5-turbo", False),
        ("omni-x", False),
    ],
)
def test_reasoning_models_are_recognised_across_generations(model: str, reasoning: bool) -> None:
    from autopack.llm.openai_provider import REASONING_MODELS

    assert bool(REASONING_MODELS.match(model)) is reasoning
