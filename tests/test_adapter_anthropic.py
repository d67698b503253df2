"""AnthropicProvider through the real ``anthropic`` SDK, against a local Messages API server."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from autopack.llm.anthropic_provider import AnthropicProvider
from autopack.llm.types import Message, ProviderError
from wire import (
    ANTHROPIC_KEY,
    SHORT_TIMEOUT,
    anthropic_reply,
    ask,
    received_count,
    received_json,
    refused_url,
    slow_handler,
)

MODEL = "claude-sonnet-5"
PATH = "/v1/messages"


@pytest.fixture
def provider(httpserver: HTTPServer) -> AnthropicProvider:
    return AnthropicProvider(ANTHROPIC_KEY, base_url=httpserver.url_for("/"))


def fail(provider: AnthropicProvider, **fields: object) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        provider.complete(ask(MODEL, **fields))  # type: ignore[arg-type]
    return caught.value


def test_reply_text_usage_and_stop_reason_are_read(httpserver: HTTPServer, provider: AnthropicProvider) -> None:
    httpserver.expect_request(PATH, method="POST").respond_with_json(
        anthropic_reply("Hello there", input_tokens=12, output_tokens=3, cache_read=900, cache_write=40)
    )

    response = provider.complete(ask(MODEL))

    assert response.text == "Hello there"
    assert response.stop_reason == "end"
    assert response.raw_stop_reason == "end_turn"
    assert response.provider == "anthropic"
    assert response.model == MODEL
    # All input counts, cached or not; only cache reads are "cached".
    assert (response.usage.tokens_in, response.usage.tokens_out, response.usage.tokens_cached) == (952, 3, 900)


def test_usage_without_cache_fields_counts_plain_input(httpserver: HTTPServer, provider: AnthropicProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(anthropic_reply(input_tokens=7, output_tokens=2))

    usage = provider.complete(ask(MODEL)).usage

    assert (usage.tokens_in, usage.tokens_out, usage.tokens_cached) == (7, 2, 0)


def test_system_text_is_sent_as_one_block_marked_for_prompt_caching(
    httpserver: HTTPServer, provider: AnthropicProvider
) -> None:
    httpserver.expect_request(PATH).respond_with_json(anthropic_reply())
    rules = "RULES " * 800  # 4,800 characters: above the 1,024-token minimum Sonnet caches

    provider.complete(ask(MODEL, system=rules, max_tokens=321))

    body = received_json(httpserver)
    assert body["system"] == [{"type": "text", "text": rules, "cache_control": {"type": "ephemeral"}}]
    assert body["model"] == MODEL
    assert body["max_tokens"] == 321
    assert body["messages"] == [{"role": "user", "content": "Say hi."}]
    # The API version the SDK speaks rejects sampling parameters outright.
    assert "temperature" not in body


def test_a_system_text_below_the_minimum_cacheable_length_is_sent_unmarked(
    httpserver: HTTPServer, provider: AnthropicProvider
) -> None:
    httpserver.expect_request(PATH).respond_with_json(anthropic_reply())

    provider.complete(ask(MODEL, system="RULES"))  # a breakpoint here would cache nothing

    assert received_json(httpserver)["system"] == "RULES"


def test_cache_breakpoints_split_the_system_text_into_marked_blocks(
    httpserver: HTTPServer, provider: AnthropicProvider
) -> None:
    httpserver.expect_request(PATH).respond_with_json(anthropic_reply())
    head, shared, phase, tail = "I" * 2000, "R" * 4000, "S" * 6000, "T" * 400
    system = head + shared + phase + tail
    breaks = (len(head), len(head + shared), len(head + shared + phase))

    provider.complete(ask(MODEL, system=system, cache_breaks=breaks))

    blocks = received_json(httpserver)["system"]
    # 500 estimated tokens after the instructions: under the minimum, so that breakpoint is dropped.
    assert [len(b["text"]) for b in blocks] == [6000, 6000, 400]
    assert [("cache_control" in b) for b in blocks] == [True, True, False]
    assert "".join(b["text"] for b in blocks) == system


def test_models_that_cache_only_longer_prefixes_get_no_breakpoint_below_theirs(
    httpserver: HTTPServer, provider: AnthropicProvider
) -> None:
    httpserver.expect_request(PATH).respond_with_json(anthropic_reply())
    system = "X" * 12_000  # about 3,000 tokens: enough for Sonnet 4.5, not for Opus 4.5 (4,096)

    provider.complete(ask("claude-opus-4-5", system=system))

    assert received_json(httpserver)["system"] == system


def test_cache_writes_are_reported_apart_from_reads(httpserver: HTTPServer, provider: AnthropicProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        anthropic_reply(input_tokens=10, cache_read=300, cache_write=2000)
    )

    usage = provider.complete(ask(MODEL)).usage

    assert (usage.tokens_in, usage.tokens_cached, usage.tokens_cache_write) == (2310, 300, 2000)


def test_system_text_is_sent_plain_when_caching_is_off(httpserver: HTTPServer, provider: AnthropicProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(anthropic_reply())

    provider.complete(ask(MODEL, system="RULES", cache_system=False))

    assert received_json(httpserver)["system"] == "RULES"


def test_trailing_assistant_message_is_sent_as_a_prefill(httpserver: HTTPServer, provider: AnthropicProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(anthropic_reply('"ok": true}'))
    conversation = (Message("user", "Answer in JSON."), Message("assistant", "{ \n"))

    response = provider.complete(ask(MODEL, messages=conversation))

    assert provider.supports_prefill is True
    # Sent as the last turn, minus the trailing whitespace the API refuses there.
    assert received_json(httpserver)["messages"][-1] == {"role": "assistant", "content": "{"}
    assert response.text == '"ok": true}'


def test_reply_cut_off_at_max_tokens_is_marked_truncated(httpserver: HTTPServer, provider: AnthropicProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(anthropic_reply("def f(", stop_reason="max_tokens"))

    response = provider.complete(ask(MODEL))

    assert response.stop_reason == "max_tokens"
    assert response.truncated


def test_rate_limit_carries_retry_after_and_is_not_retried_by_the_sdk(
    httpserver: HTTPServer, provider: AnthropicProvider
) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        {"type": "error", "error": {"type": "rate_limit_error", "message": "Number of requests exceeded"}},
        status=429,
        headers={"Retry-After": "7"},
    )

    error = fail(provider)

    assert (error.kind, error.status, error.retry_after) == ("rate_limit", 429, 7.0)
    assert "Number of requests exceeded" in error.message
    assert error.retryable
    assert received_count(httpserver) == 1  # the service retries, never the SDK


def test_server_error_keeps_its_status(httpserver: HTTPServer, provider: AnthropicProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}, status=500
    )

    error = fail(provider)

    assert (error.kind, error.status) == ("server", 500)
    assert received_count(httpserver) == 1


def test_overloaded_529_is_a_server_error(httpserver: HTTPServer, provider: AnthropicProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, status=529
    )

    error = fail(provider)

    assert (error.kind, error.status) == ("server", 529)


def test_slow_reply_times_out(httpserver: HTTPServer, provider: AnthropicProvider) -> None:
    httpserver.expect_request(PATH).respond_with_handler(slow_handler(body=anthropic_reply()))

    error = fail(provider, timeout=SHORT_TIMEOUT)

    assert error.kind == "timeout"
    assert error.retryable


def test_body_that_is_not_json_is_malformed(httpserver: HTTPServer, provider: AnthropicProvider) -> None:
    httpserver.expect_request(PATH).respond_with_data("<html>gateway says hi</html>", content_type="application/json")

    error = fail(provider)

    assert error.kind == "malformed"
    assert "gateway says hi" in error.message


def test_json_body_without_content_is_malformed(httpserver: HTTPServer, provider: AnthropicProvider) -> None:
    httpserver.expect_request(PATH).respond_with_json({"id": "msg_01", "type": "message"})

    error = fail(provider)

    assert error.kind == "malformed"
    assert "content" in error.message


def test_unauthorized_is_auth_and_never_shows_the_key(httpserver: HTTPServer, provider: AnthropicProvider) -> None:
    # A proxy that echoes the key back must not get it into our messages.
    httpserver.expect_request(PATH).respond_with_json(
        {"type": "error", "error": {"type": "authentication_error", "message": f"invalid x-api-key {ANTHROPIC_KEY}"}},
        status=401,
    )

    error = fail(provider)

    assert (error.kind, error.status) == ("auth", 401)
    assert "ANTHROPIC_API_KEY" in error.message
    assert ANTHROPIC_KEY not in str(error)
    assert ANTHROPIC_KEY not in repr(error.details)
    assert not error.retryable


def test_refused_connection_is_a_connection_error() -> None:
    provider = AnthropicProvider(ANTHROPIC_KEY, base_url=refused_url())

    error = fail(provider)

    assert error.kind == "connection"
    assert ANTHROPIC_KEY not in str(error)


def test_missing_key_makes_the_provider_unavailable_and_names_the_variable(httpserver: HTTPServer) -> None:
    provider = AnthropicProvider(None, base_url=httpserver.url_for("/"))

    error = fail(provider)

    assert not provider.available()
    assert error.kind == "not_configured"
    assert "ANTHROPIC_API_KEY" in error.message
    assert received_count(httpserver) == 0
