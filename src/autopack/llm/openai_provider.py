"""The OpenAI adapter (Chat Completions through the official ``openai`` SDK) and its variant for any
OpenAI-compatible endpoint a config declares (Ollama, vLLM, llama.cpp, OpenRouter).

It owns the Chat Completions wire details: the system text as a system message, the token limit
parameter each model family accepts, JSON mode, usage with cached prompt tokens, and which
endpoints need no key. The key, client cache and error mapping are shared (``sdk_base``,
``http_errors.map_stainless_error``). ``ChatReply`` and ``chat_response`` are shared with the GLM
adapter, whose API speaks the same format. The SDK is imported only when a call is made.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ..config import Endpoint
from .http_errors import map_stainless_error
from .sdk_base import SdkProvider
from .types import LlmRequest, LlmResponse, ProviderError, Usage

if TYPE_CHECKING:
    import openai

KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Servers that need no key still make the SDK insist on one; this is what it gets.
PLACEHOLDER_KEY = "none"

# Reasoning models take ``max_completion_tokens`` and refuse a temperature other than the default.
# gpt-5 and every later generation (gpt-5.5, gpt-6-*, ...) and the o-series; not gpt-4.1 or gpt-4o.
REASONING_MODELS = re.compile(r"^(gpt-([5-9]|\d{2,})|o\d)")
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


class OpenAIProvider(SdkProvider["openai.OpenAI", bytes]):
    """OpenAI models through Chat Completions; key from OPENAI_API_KEY, base URL from OPENAI_BASE_URL
    (else the SDK default).

    ``supports_prefill`` is False: Chat Completions cannot continue a trailing assistant message.
    Such a message is still sent, and the model answers with a new message after it; callers that
    continue a cut-off reply append that answer to what they already have.
    """

    default_name = "openai"
    default_base_url = DEFAULT_BASE_URL
    base_url_env = BASE_URL_ENV
    key_env_vars: tuple[str, ...] = (KEY_ENV,)

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

    def _new_client(self, timeout: float) -> openai.OpenAI:
        import openai

        return openai.OpenAI(
            api_key=self._api_key or PLACEHOLDER_KEY, base_url=self.base_url, timeout=timeout, max_retries=0
        )

    def _send(self, client: openai.OpenAI, request: LlmRequest) -> bytes:
        raw = client.chat.completions.with_raw_response.create(**self.request_params(request))
        return raw.http_response.read()

    def _response(self, reply: bytes, request: LlmRequest) -> LlmResponse:
        return chat_response(self._parse(ChatReply, reply), self.name, request.model)

    def _error(self, exc: Exception, request: LlmRequest) -> ProviderError:
        import openai

        return map_stainless_error(exc, openai, self._call(request))


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
