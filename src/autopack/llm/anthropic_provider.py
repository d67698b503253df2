"""The Anthropic adapter: one Messages API call through the official ``anthropic`` SDK.

It owns the Anthropic wire details: the system text as one cached text block (prompt caching),
a trailing assistant message sent as a prefill the model continues from, usage with cache reads
and writes counted as input, and the mapping of the SDK's exceptions to ``ProviderError``.
The SDK is imported only when a call is made, so importing this module stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .http_errors import invalid_reply, malformed, not_configured, redact, status_error, transport_error, transport_kind
from .types import LlmRequest, LlmResponse, ProviderError, Usage

if TYPE_CHECKING:
    import anthropic

KEY_ENV = "ANTHROPIC_API_KEY"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"
DEFAULT_BASE_URL = "https://api.anthropic.com"

STOP_REASONS = {"end_turn": "end", "stop_sequence": "end", "max_tokens": "max_tokens"}


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Block(_Lenient):
    type: str
    text: str | None = None


class _Usage(_Lenient):
    input_tokens: int = 0
    output_tokens: int = 0
    # null on replies that used no cache; absent from older API versions
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None


class _Reply(_Lenient):
    """The fields of a Messages API reply that autopack uses."""

    content: list[_Block]
    stop_reason: str | None = None
    usage: _Usage = Field(default_factory=_Usage)


class AnthropicProvider:
    """Claude models through the Messages API.

    ``supports_prefill``: a trailing assistant message in ``request.messages`` is sent as-is and
    the model continues it; the reply's text is only the continuation. Anthropic refuses a final
    assistant turn ending in whitespace, so that trailing whitespace is dropped before sending.
    """

    supports_prefill = True
    key_env_vars: tuple[str, ...] = (KEY_ENV,)

    def __init__(self, api_key: str | None, base_url: str | None = None, *, name: str = "anthropic") -> None:
        self.name = name
        self.base_url = base_url
        self._api_key = api_key or None
        self._clients: dict[float, anthropic.Anthropic] = {}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AnthropicProvider:
        """Key from ANTHROPIC_API_KEY, base URL from ANTHROPIC_BASE_URL (else the SDK default)."""
        env = os.environ if env is None else env
        return cls(env.get(KEY_ENV) or None, env.get(BASE_URL_ENV) or None)

    def available(self) -> bool:
        return self._api_key is not None

    def complete(self, request: LlmRequest) -> LlmResponse:
        if self._api_key is None:
            raise not_configured(self.name, self.key_env_vars)
        try:
            client = self._client(request.timeout_seconds)
            raw = client.messages.with_raw_response.create(**self.request_params(request))
            body = raw.http_response.read()
        except Exception as exc:  # every SDK failure becomes a ProviderError; bugs are re-raised
            raise self._error(exc, request) from None
        return self._response(body, request)

    def request_params(self, request: LlmRequest) -> dict[str, Any]:
        """The keyword arguments for ``messages.create`` (the request body)."""
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        if messages and messages[-1]["role"] == "assistant":
            messages[-1]["content"] = messages[-1]["content"].rstrip()
        params: dict[str, Any] = {"model": request.model, "max_tokens": request.max_tokens, "messages": messages}
        if request.system:
            if request.cache_system:
                params["system"] = [{"type": "text", "text": request.system, "cache_control": {"type": "ephemeral"}}]
            else:
                params["system"] = request.system
        # ``request.temperature`` is not sent: the SDK (1.0+) dropped sampling parameters and the API
        # version it speaks (2026-10-21) rejects them with a 400, even at their default values.
        # ``json_mode``: the Messages API has no JSON switch; the agents' prompts and validators carry it.
        return params

    def close(self) -> None:
        """Close the HTTP clients this provider opened."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def _client(self, timeout: float) -> anthropic.Anthropic:
        client = self._clients.get(timeout)
        if client is None:
            import anthropic

            # The service retries (with fallback and budgets), so the SDK must not retry on its own.
            client = anthropic.Anthropic(api_key=self._api_key, base_url=self.base_url, timeout=timeout, max_retries=0)
            self._clients[timeout] = client
        return client

    def _response(self, body: bytes, request: LlmRequest) -> LlmResponse:
        try:
            reply = _Reply.model_validate_json(body)
        except ValidationError as exc:
            raise invalid_reply(self.name, exc, body, secrets=[self._api_key]) from None
        usage = reply.usage
        cache_read = usage.cache_read_input_tokens or 0
        cache_write = usage.cache_creation_input_tokens or 0
        text = "".join(block.text or "" for block in reply.content if block.type == "text")
        raw_stop = reply.stop_reason
        return LlmResponse(
            text=text,
            usage=Usage(
                tokens_in=usage.input_tokens + cache_read + cache_write,
                tokens_out=usage.output_tokens,
                tokens_cached=cache_read,
            ),
            stop_reason=STOP_REASONS.get(raw_stop or "", raw_stop or "end"),
            provider=self.name,
            model=request.model,
            raw_stop_reason=raw_stop,
        )

    def _error(self, exc: Exception, request: LlmRequest) -> ProviderError:
        import anthropic

        secrets = [self._api_key]
        if isinstance(exc, anthropic.APIStatusError):
            return status_error(
                self.name,
                exc.status_code,
                exc.response.headers,
                exc.body,
                key_env_vars=self.key_env_vars,
                secrets=secrets,
                sdk_error=type(exc).__name__,
            )
        if isinstance(exc, anthropic.APIResponseValidationError):
            return malformed(self.name, str(exc), secrets=secrets)
        kind = transport_kind(exc)
        if kind is not None:
            target = self.base_url or DEFAULT_BASE_URL
            return transport_error(
                self.name, exc, kind, target=target, timeout=request.timeout_seconds, secrets=secrets
            )
        if isinstance(exc, (anthropic.AnthropicError, ValueError)):
            # The SDK refused the request before sending it (bad arguments, missing credentials).
            return ProviderError("bad_request", redact(str(exc), secrets), self.name)
        raise exc
