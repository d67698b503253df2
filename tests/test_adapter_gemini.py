"""GeminiProvider through the real ``google-genai`` SDK, against a local ``generateContent`` server."""

from __future__ import annotations

import re

import pytest
from pytest_httpserver import HTTPServer

from autopack.llm.gemini_provider import GeminiProvider
from autopack.llm.types import Message, ProviderError
from wire import (
    GEMINI_KEY,
    SHORT_TIMEOUT,
    ask,
    gemini_reply,
    received_count,
    received_json,
    refused_url,
    slow_handler,
)

MODEL = "gemini-2.5-pro"
# The API version in the path is the SDK's choice (v1 or v1beta); the method is what matters.
PATH = re.compile(r"^/v1(beta)?/models/gemini-2\.5-pro:generateContent$")


@pytest.fixture
def provider(httpserver: HTTPServer) -> GeminiProvider:
    return GeminiProvider(GEMINI_KEY, base_url=httpserver.url_for("/"))


def fail(provider: GeminiProvider, **fields: object) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        provider.complete(ask(MODEL, **fields))  # type: ignore[arg-type]
    return caught.value


def google_error(code: int, status: str, message: str, details: list[object] | None = None) -> dict[str, object]:
    return {"error": {"code": code, "status": status, "message": message, "details": details or []}}


def test_reply_text_and_usage_with_cached_and_thinking_tokens(httpserver: HTTPServer, provider: GeminiProvider) -> None:
    httpserver.expect_request(PATH, method="POST").respond_with_json(
        gemini_reply("Hello", prompt_tokens=4000, output_tokens=10, cached_tokens=3000, thoughts_tokens=90)
    )

    response = provider.complete(ask(MODEL))

    assert response.text == "Hello"
    assert (response.stop_reason, response.raw_stop_reason) == ("end", "STOP")
    assert (response.provider, response.model) == ("gemini", MODEL)
    # Thinking tokens are billed as output, so they count as output.
    assert (response.usage.tokens_in, response.usage.tokens_out, response.usage.tokens_cached) == (4000, 100, 3000)


def test_request_carries_system_instruction_generation_config_and_roles(
    httpserver: HTTPServer, provider: GeminiProvider
) -> None:
    httpserver.expect_request(PATH).respond_with_json(gemini_reply())
    conversation = (Message("user", "Q"), Message("assistant", "A"), Message("user", "Q2"))

    provider.complete(
        ask(MODEL, system="RULES", messages=conversation, max_tokens=640, temperature=0.3, json_mode=True)
    )

    body = received_json(httpserver)
    assert body["systemInstruction"]["parts"] == [{"text": "RULES"}]
    assert [(c["role"], c["parts"][0]["text"]) for c in body["contents"]] == [
        ("user", "Q"),
        ("model", "A"),
        ("user", "Q2"),
    ]
    config = body["generationConfig"]
    assert (config["maxOutputTokens"], config["temperature"]) == (640, 0.3)
    assert config["responseMimeType"] == "application/json"


def test_key_travels_in_a_header_not_in_the_url(httpserver: HTTPServer, provider: GeminiProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(gemini_reply())

    provider.complete(ask(MODEL))

    request, _ = httpserver.log[-1]
    assert request.headers["x-goog-api-key"] == GEMINI_KEY
    assert GEMINI_KEY not in request.url


def test_reply_cut_off_at_max_tokens_is_marked_truncated(httpserver: HTTPServer, provider: GeminiProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(gemini_reply("def f(", finish_reason="MAX_TOKENS"))

    response = provider.complete(ask(MODEL))

    assert (response.stop_reason, response.raw_stop_reason) == ("max_tokens", "MAX_TOKENS")
    assert response.truncated


def test_blocked_prompt_is_an_empty_answer_not_a_failure(httpserver: HTTPServer, provider: GeminiProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 12}}
    )

    response = provider.complete(ask(MODEL))

    assert (response.text, response.stop_reason, response.raw_stop_reason) == ("", "blocked", "SAFETY")


def test_rate_limit_carries_retry_after_and_is_not_retried_by_the_sdk(
    httpserver: HTTPServer, provider: GeminiProvider
) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        google_error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted"), status=429, headers={"Retry-After": "7"}
    )

    error = fail(provider)

    assert (error.kind, error.status, error.retry_after) == ("rate_limit", 429, 7.0)
    assert "Resource has been exhausted" in error.message
    assert received_count(httpserver) == 1


def test_rate_limit_without_header_uses_the_retry_info_delay(httpserver: HTTPServer, provider: GeminiProvider) -> None:
    retry_info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "27s"}
    httpserver.expect_request(PATH).respond_with_json(
        google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded", [retry_info]), status=429
    )

    assert fail(provider).retry_after == 27.0


def test_server_error_keeps_its_status(httpserver: HTTPServer, provider: GeminiProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(google_error(500, "INTERNAL", "Internal error"), status=500)

    error = fail(provider)

    assert (error.kind, error.status) == ("server", 500)
    assert received_count(httpserver) == 1


def test_slow_reply_times_out(httpserver: HTTPServer, provider: GeminiProvider) -> None:
    httpserver.expect_request(PATH).respond_with_handler(slow_handler(body=gemini_reply()))

    error = fail(provider, timeout=SHORT_TIMEOUT)

    assert error.kind == "timeout"


def test_body_that_is_not_json_is_malformed(httpserver: HTTPServer, provider: GeminiProvider) -> None:
    httpserver.expect_request(PATH).respond_with_data("<html>proxy error</html>", content_type="text/html")

    assert fail(provider).kind == "malformed"


def test_reply_without_candidates_or_feedback_is_malformed(httpserver: HTTPServer, provider: GeminiProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json({"modelVersion": "gemini-2.5-pro"})

    error = fail(provider)

    assert error.kind == "malformed"
    assert "no candidates" in error.message


@pytest.mark.parametrize(("status", "google_status"), [(401, "UNAUTHENTICATED"), (403, "PERMISSION_DENIED")])
def test_unauthorized_is_auth_and_never_shows_the_key(
    httpserver: HTTPServer, provider: GeminiProvider, status: int, google_status: str
) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        google_error(status, google_status, f"key {GEMINI_KEY} is not allowed"), status=status
    )

    error = fail(provider)

    assert (error.kind, error.status) == ("auth", status)
    assert "GEMINI_API_KEY" in error.message
    assert GEMINI_KEY not in str(error)


def test_invalid_key_reported_as_400_is_still_auth(httpserver: HTTPServer, provider: GeminiProvider) -> None:
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]
    httpserver.expect_request(PATH).respond_with_json(
        google_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", details), status=400
    )

    error = fail(provider)

    assert (error.kind, error.status) == ("auth", 400)
    assert not error.retryable


def test_other_400_is_a_bad_request(httpserver: HTTPServer, provider: GeminiProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        google_error(400, "INVALID_ARGUMENT", "Request contains an invalid argument."), status=400
    )

    assert fail(provider).kind == "bad_request"


def test_refused_connection_is_a_connection_error() -> None:
    error = fail(GeminiProvider(GEMINI_KEY, base_url=refused_url()))

    assert error.kind == "connection"
    assert GEMINI_KEY not in str(error)


def test_key_falls_back_to_google_api_key() -> None:
    assert GeminiProvider.from_env({"GOOGLE_API_KEY": GEMINI_KEY}).available()
    assert not GeminiProvider.from_env({}).available()


def test_missing_key_names_both_variables(httpserver: HTTPServer) -> None:
    error = fail(GeminiProvider(None, base_url=httpserver.url_for("/")))

    assert error.kind == "not_configured"
    assert "GEMINI_API_KEY" in error.message
    assert "GOOGLE_API_KEY" in error.message
    assert received_count(httpserver) == 0
