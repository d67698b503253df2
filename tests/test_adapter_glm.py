"""GlmProvider through the real ``zhipuai`` SDK, against a local server speaking GLM's chat API."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from autopack.llm.glm_provider import GlmProvider
from autopack.llm.types import ProviderError
from wire import (
    GLM_KEY,
    SHORT_TIMEOUT,
    ask,
    chat_completion,
    received_count,
    received_json,
    refused_url,
    slow_handler,
)

MODEL = "glm-4.6"
PATH = "/api/paas/v4/chat/completions"


@pytest.fixture
def provider(httpserver: HTTPServer) -> GlmProvider:
    return GlmProvider(GLM_KEY, base_url=httpserver.url_for("/api/paas/v4"))


def fail(provider: GlmProvider, **fields: object) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        provider.complete(ask(MODEL, **fields))  # type: ignore[arg-type]
    return caught.value


def glm_error(code: str, message: str) -> dict[str, object]:
    return {"error": {"code": code, "message": message}}


def test_reply_text_usage_and_cached_tokens_are_read(httpserver: HTTPServer, provider: GlmProvider) -> None:
    httpserver.expect_request(PATH, method="POST").respond_with_json(
        chat_completion("你好", prompt_tokens=800, completion_tokens=6, cached_tokens=512, model=MODEL)
    )

    response = provider.complete(ask(MODEL))

    assert response.text == "你好"
    assert (response.stop_reason, response.provider, response.model) == ("end", "glm", MODEL)
    assert (response.usage.tokens_in, response.usage.tokens_out, response.usage.tokens_cached) == (800, 6, 512)


def test_request_uses_the_chat_completions_path_bearer_key_and_system_message(
    httpserver: HTTPServer, provider: GlmProvider
) -> None:
    httpserver.expect_request(PATH).respond_with_json(chat_completion(model=MODEL))

    provider.complete(ask(MODEL, system="RULES", max_tokens=900, json_mode=True))

    request, _ = httpserver.log[-1]
    assert request.headers["Authorization"] == f"Bearer {GLM_KEY}"
    body = received_json(httpserver)
    assert body["messages"][0] == {"role": "system", "content": "RULES"}
    assert (body["model"], body["max_tokens"]) == (MODEL, 900)
    assert body["response_format"] == {"type": "json_object"}


def test_reply_cut_off_at_length_is_marked_truncated(httpserver: HTTPServer, provider: GlmProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(chat_completion("def f(", finish_reason="length", model=MODEL))

    response = provider.complete(ask(MODEL))

    assert response.stop_reason == "max_tokens"
    assert response.truncated


def test_network_error_finish_reason_is_a_retryable_server_error(httpserver: HTTPServer, provider: GlmProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(chat_completion("", finish_reason="network_error", model=MODEL))

    error = fail(provider)

    assert error.kind == "server"
    assert error.retryable


def test_rate_limit_carries_retry_after_and_is_not_retried_by_the_sdk(
    httpserver: HTTPServer, provider: GlmProvider
) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        glm_error("1302", "API rate limit reached"), status=429, headers={"Retry-After": "7"}
    )

    error = fail(provider)

    assert (error.kind, error.status, error.retry_after) == ("rate_limit", 429, 7.0)
    assert "API rate limit reached" in error.message
    assert received_count(httpserver) == 1


def test_server_error_keeps_its_status(httpserver: HTTPServer, provider: GlmProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(glm_error("500", "internal error"), status=500)

    error = fail(provider)

    assert (error.kind, error.status) == ("server", 500)
    assert received_count(httpserver) == 1


def test_slow_reply_times_out(httpserver: HTTPServer, provider: GlmProvider) -> None:
    httpserver.expect_request(PATH).respond_with_handler(slow_handler(body=chat_completion(model=MODEL)))

    error = fail(provider, timeout=SHORT_TIMEOUT)

    assert error.kind == "timeout"


def test_body_that_is_not_json_is_malformed(httpserver: HTTPServer, provider: GlmProvider) -> None:
    httpserver.expect_request(PATH).respond_with_data("<html>502 Bad Gateway</html>", content_type="application/json")

    assert fail(provider).kind == "malformed"


def test_completion_without_choices_is_malformed(httpserver: HTTPServer, provider: GlmProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json({"id": "x", "usage": {"prompt_tokens": 1}})

    error = fail(provider)

    assert error.kind == "malformed"
    assert "choices" in error.message


def test_unauthorized_is_auth_and_never_shows_the_key(httpserver: HTTPServer, provider: GlmProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(glm_error("1000", f"身份验证失败 token={GLM_KEY}"), status=401)

    error = fail(provider)

    assert (error.kind, error.status) == ("auth", 401)
    assert "GLM_API_KEY" in error.message
    assert GLM_KEY not in str(error)


def test_refused_connection_is_a_connection_error() -> None:
    error = fail(GlmProvider(GLM_KEY, base_url=refused_url("/api/paas/v4")))

    assert error.kind == "connection"


def test_key_falls_back_to_zhipuai_api_key() -> None:
    assert GlmProvider.from_env({"ZHIPUAI_API_KEY": GLM_KEY}).available()
    assert not GlmProvider.from_env({}).available()


def test_missing_key_names_both_variables(httpserver: HTTPServer) -> None:
    error = fail(GlmProvider(None, base_url=httpserver.url_for("/api/paas/v4")))

    assert error.kind == "not_configured"
    assert "GLM_API_KEY" in error.message
    assert "ZHIPUAI_API_KEY" in error.message
    assert received_count(httpserver) == 0
