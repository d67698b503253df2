"""The OpenAI adapter (Chat Completions through the official ``openai`` SDK) and its variant for any
OpenAI-compatible endpoint a config declares (Ollama, vLLM, llama.cpp, OpenRouter).

It owns the Chat Completions wire details: the system text as a system message, the token limit
parameter each model family accepts, JSON mode, usage with cached prompt tokens, and the mapping of
the SDK's exceptions to ``ProviderError``. ``ChatReply`` and ``chat_response`` are shared with the
GLM adapter, whose API speaks the same format. The SDK is imported only when a call is made.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..config import Endpoint
from .http_errors import invalid_reply, malformed, not_configured, redact, status_error, transport_error, transport_kind
from .types import LlmRequest, LlmResponse, ProviderError, Usage

if TYPE_CHECKING:
    import openai

KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Servers that need no key still make the SDK insist on one; this is what it gets.
PLACEHOLDER_KEY = "none"

# Reasoning models take ``max_completion_tokens`` and refuse a temperature other than the default.
REASONING_MODELS = re.compile(r"^(gpt-5|o1|o3|o4)")
FINISH_REASONS = {"stop": "end", "length": "max_tokens"}


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _ChatMessage(_Lenient):
    content: str | None = None
    refusal: str | None = None


class _Choice(_Lenient):
    message: _ChatMessage
    finish_reason: str | None = None


class _PromptDetails(_Lenient):
    cached_tokens: int | None = None


class _ChatUsage(_Lenient):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_tokens_details: _PromptDetails | None = None
    prompt_cache_hit_tokens: int | None = None  # DeepSeek's name for cached prompt tokens


class ChatReply(_Lenient):
    """The fields of a ``chat.completion`` body that autopack uses (OpenAI, GLM and compatibles)."""

    choices: list[_Choice] = Field(min_length=1)
    usage: _ChatUsage | None = None  # some local servers leave it out; counted as zero


def chat_response(reply: ChatReply, provider: str, model: str) -> LlmResponse:
    """An ``LlmResponse`` from a validated chat completion."""
    choice = reply.choices[0]
    usage = reply.usage or _ChatUsage()
    details = usage.prompt_tokens_details
    cached = (details.cached_tokens if details else None) or usage.prompt_cache_hit_tokens or 0
    raw_stop = choice.finish_reason
    stop = FINISH_REASONS.get(raw_stop or "", raw_stop or "end")
    if choice.message.content is None and choice.message.refusal:
        stop = "refusal"
    return LlmResponse(
        text=choice.message.content or "",
        usage=Usage(tokens_in=usage.prompt_tokens, tokens_out=usage.completion_tokens, tokens_cached=cached),
        stop_reason=stop,
        provider=provider,
        model=model,
        raw_stop_reason=raw_stop,
    )


def chat_messages(request: LlmRequest) -> list[dict[str, str]]:
    """The system text as a system message, then the conversation as it is."""
    messages = [{"role": "system", "content": request.system}] if request.system else []
    messages.extend({"role": m.role, "content": m.content} for m in request.messages)
    return messages


class OpenAIProvider:
    """OpenAI models through Chat Completions.

    ``supports_prefill`` is False: Chat Completions cannot continue a trailing assistant message.
    Such a message is still sent, and the model answers with a new message after it; callers that
    continue a cut-off reply append that answer to what they already have.
    """

    supports_prefill = False

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None = None,
        *,
        name: str = "openai",
        key_env_vars: tuple[str, ...] = (KEY_ENV,),
    ) -> None:
        self.name = name
        self.base_url = base_url
        self.key_env_vars = key_env_vars
        self._api_key = api_key or None
        self._clients: dict[float, openai.OpenAI] = {}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OpenAIProvider:
        """Key from OPENAI_API_KEY, base URL from OPENAI_BASE_URL (else the SDK default)."""
        env = os.environ if env is None else env
        return cls(env.get(KEY_ENV) or None, env.get(BASE_URL_ENV) or None)

    def available(self) -> bool:
        return self._api_key is not None

    def complete(self, request: LlmRequest) -> LlmResponse:
        if not self.available():
            raise not_configured(self.name, self.key_env_vars)
        try:
            client = self._client(request.timeout_seconds)
            raw = client.chat.completions.with_raw_response.create(**self.request_params(request))
            body = raw.http_response.read()
        except Exception as exc:  # every SDK failure becomes a ProviderError; bugs are re-raised
            raise self._error(exc, request) from None
        try:
            reply = ChatReply.model_validate_json(body)
        except ValidationError as exc:
            raise invalid_reply(self.name, exc, body, secrets=[self._api_key]) from None
        return chat_response(reply, self.name, request.model)

    def request_params(self, request: LlmRequest) -> dict[str, Any]:
        """The keyword arguments for ``chat.completions.create`` (the request body)."""
        params: dict[str, Any] = {"model": request.model, "messages": chat_messages(request)}
        if REASONING_MODELS.match(request.model):
            params["max_completion_tokens"] = request.max_tokens
        else:
            params["max_tokens"] = request.max_tokens
            if request.temperature is not None:
                params["temperature"] = request.temperature
        if request.json_mode:
            params["response_format"] = {"type": "json_object"}
        # cache_system needs nothing here: OpenAI caches long prompt prefixes by itself.
        return params

    def close(self) -> None:
        """Close the HTTP clients this provider opened."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def _client(self, timeout: float) -> openai.OpenAI:
        client = self._clients.get(timeout)
        if client is None:
            import openai

            # The service retries (with fallback and budgets), so the SDK must not retry on its own.
            client = openai.OpenAI(
                api_key=self._api_key or PLACEHOLDER_KEY, base_url=self.base_url, timeout=timeout, max_retries=0
            )
            self._clients[timeout] = client
        return client

    def _error(self, exc: Exception, request: LlmRequest) -> ProviderError:
        import openai

        secrets = [self._api_key]
        if isinstance(exc, openai.APIStatusError):
            return status_error(
                self.name,
                exc.status_code,
                exc.response.headers,
                exc.body,
                key_env_vars=self.key_env_vars,
                secrets=secrets,
                sdk_error=type(exc).__name__,
            )
        if isinstance(exc, openai.APIResponseValidationError):
            return malformed(self.name, str(exc), secrets=secrets)
        kind = transport_kind(exc)
        if kind is not None:
            target = self.base_url or DEFAULT_BASE_URL
            return transport_error(
                self.name, exc, kind, target=target, timeout=request.timeout_seconds, secrets=secrets
            )
        if isinstance(exc, (openai.OpenAIError, ValueError)):
            # The SDK refused the request before sending it (bad arguments, missing credentials).
            return ProviderError("bad_request", redact(str(exc), secrets), self.name)
        raise exc


class OpenAICompatibleProvider(OpenAIProvider):
    """A configured OpenAI-compatible endpoint; its name is the endpoint's name.

    Available when the endpoint needs no key (``api_key_env`` unset, e.g. a local Ollama) or when
    its key variable is set.
    """

    def __init__(self, endpoint: Endpoint, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        key_env = endpoint.api_key_env
        api_key = (env.get(key_env) or None) if key_env else None
        super().__init__(
            api_key,
            endpoint.base_url,
            name=endpoint.name,
            key_env_vars=(key_env,) if key_env else (),
        )
        self.endpoint = endpoint

    def available(self) -> bool:
        return self.endpoint.api_key_env is None or self._api_key is not None
