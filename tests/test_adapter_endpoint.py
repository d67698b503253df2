"""OpenAICompatibleProvider: a configured endpoint (Ollama, vLLM, OpenRouter) through the ``openai`` SDK."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from autopack.config import Endpoint
from autopack.llm.openai_provider import OpenAICompatibleProvider
from autopack.llm.types import ProviderError
from wire import ENDPOINT_KEY, ask, chat_completion, received_count, received_json, refused_url

PATH = "/v1/chat/completions"


def ollama(server_url: str) -> Endpoint:
    return Endpoint(name="ollama", base_url=server_url, free=True)


def test_keyless_local_server_is_available_and_answers(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH, method="POST").respond_with_json(
        chat_completion("hi from llama", prompt_tokens=33, completion_tokens=4, model="llama3.1:8b")
    )
    provider = OpenAICompatibleProvider(ollama(httpserver.url_for("/v1")), env={})

    response = provider.complete(ask("llama3.1:8b", max_tokens=128, temperature=0.1))

    assert provider.available()
    assert provider.name == "ollama"
    assert (response.text, response.provider, response.model) == ("hi from llama", "ollama", "llama3.1:8b")
    assert (response.usage.tokens_in, response.usage.tokens_out) == (33, 4)
    body = received_json(httpserver)
    # The endpoint prefix is the router's business: the server gets the bare model name.
    assert (body["model"], body["max_tokens"], body["temperature"]) == ("llama3.1:8b", 128, 0.1)


def test_keyless_server_gets_a_placeholder_key(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_json(chat_completion())
    provider = OpenAICompatibleProvider(ollama(httpserver.url_for("/v1")), env={})

    provider.complete(ask("llama3.1:8b"))

    request, _ = httpserver.log[-1]
    assert request.headers["Authorization"] == "Bearer none"


def test_reply_without_usage_counts_zero_tokens(httpserver: HTTPServer) -> None:
    body = chat_completion("ok")
    del body["usage"]
    httpserver.expect_request(PATH).respond_with_json(body)
    provider = OpenAICompatibleProvider(ollama(httpserver.url_for("/v1")), env={})

    response = provider.complete(ask("llama3.1:8b"))

    assert response.text == "ok"
    assert (response.usage.tokens_in, response.usage.tokens_out, response.usage.tokens_cached) == (0, 0, 0)


def test_endpoint_with_a_key_variable_sends_that_key(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_json(chat_completion())
    endpoint = Endpoint(name="router", base_url=httpserver.url_for("/v1"), api_key_env="ROUTER_KEY")
    provider = OpenAICompatibleProvider(endpoint, env={"ROUTER_KEY": ENDPOINT_KEY})

    provider.complete(ask("meta/llama-3-70b"))

    request, _ = httpserver.log[-1]
    assert provider.available()
    assert request.headers["Authorization"] == f"Bearer {ENDPOINT_KEY}"


def test_endpoint_whose_key_variable_is_unset_is_unavailable(httpserver: HTTPServer) -> None:
    endpoint = Endpoint(name="router", base_url=httpserver.url_for("/v1"), api_key_env="ROUTER_KEY")
    provider = OpenAICompatibleProvider(endpoint, env={})

    with pytest.raises(ProviderError) as caught:
        provider.complete(ask("meta/llama-3-70b"))

    assert not provider.available()
    assert caught.value.kind == "not_configured"
    assert "ROUTER_KEY" in caught.value.message
    assert received_count(httpserver) == 0


def test_endpoint_auth_failure_names_its_variable_and_hides_the_key(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_json({"error": {"message": f"bad key {ENDPOINT_KEY}"}}, status=401)
    endpoint = Endpoint(name="router", base_url=httpserver.url_for("/v1"), api_key_env="ROUTER_KEY")
    provider = OpenAICompatibleProvider(endpoint, env={"ROUTER_KEY": ENDPOINT_KEY})

    with pytest.raises(ProviderError) as caught:
        provider.complete(ask("meta/llama-3-70b"))

    assert (caught.value.kind, caught.value.provider) == ("auth", "router")
    assert "ROUTER_KEY" in caught.value.message
    assert ENDPOINT_KEY not in str(caught.value)


def test_local_server_that_is_down_says_so() -> None:
    provider = OpenAICompatibleProvider(ollama(refused_url("/v1")), env={})

    with pytest.raises(ProviderError) as caught:
        provider.complete(ask("llama3.1:8b"))

    assert caught.value.kind == "connection"
    assert "is the server up" in caught.value.message


def test_keyless_endpoint_that_wants_a_key_says_how_to_configure_one(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_json({"error": {"message": "missing bearer token"}}, status=401)
    provider = OpenAICompatibleProvider(ollama(httpserver.url_for("/v1")), env={})

    with pytest.raises(ProviderError) as caught:
        provider.complete(ask("llama3.1:8b"))

    assert caught.value.kind == "auth"
    assert "api_key_env" in caught.value.message
    assert "ollama" in caught.value.message


def test_credentials_in_the_base_url_stay_out_of_error_messages() -> None:
    url = refused_url("/v1").replace("http://", "http://admin:hunter2-secret@")
    provider = OpenAICompatibleProvider(ollama(url), env={})

    with pytest.raises(ProviderError) as caught:
        provider.complete(ask("llama3.1:8b"))

    assert caught.value.kind == "connection"
    assert "hunter2-secret" not in str(caught.value)
