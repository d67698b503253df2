"""The Anthropic adapter: one Messages API call through the official ``anthropic`` SDK.

It owns the Anthropic wire details: the system text as text blocks that end at the request's cache
breakpoints (``cache_control``; a breakpoint whose prefix is shorter than the model's minimum
cacheable length is not sent: it would cache nothing), a trailing assistant message sent as a
prefill the model continues from, usage with cache reads and writes counted as input (writes also
reported apart: they are billed at 1.25 x the input price). The key, client cache and error mapping are shared (``sdk_base``,
``http_errors.map_stainless_error``). The SDK is imported only when a call is made, so importing
this module stays cheap.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from .http_errors import map_stainless_error
from .sdk_base import SdkProvider
from .types import LlmRequest, LlmResponse, ProviderError, Usage

if TYPE_CHECKING:
    import anthropic

KEY_ENV = "ANTHROPIC_API_KEY"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"
DEFAULT_BASE_URL = "https://api.anthropic.com"

STOP_REASONS = {"end_turn": "end", "stop_sequence": "end", "max_tokens": "max_tokens"}
MAX_BREAKPOINTS = 4  # per request (the API refuses more)
# Minimum cacheable prompt length by model (Anthropic's prompt-caching documentation); unlisted: 1024.
# Claude Sonnet 4.6 is listed as 1024 in some places and 2048 in others: the higher one is kept.
MIN_CACHEABLE = (
    (re.compile(r"opus-4-[5-9]|opus-[5-9]|haiku-4-[5-9]|haiku-[5-9]"), 4096),
    (re.compile(r"haiku-3|3-haiku|3-5-haiku|sonnet-4-6"), 2048),
)


def min_cacheable_tokens(model: str) -> int:
    """The shortest prefix (in tokens) ``model`` caches; a shorter one is processed without caching."""
    return next((n for pattern, n in MIN_CACHEABLE if pattern.search(model)), 1024)


def estimated_tokens(text: str) -> int:
    """autopack's estimate (about four characters a token; real code runs nearer 3.5, so real prompts
    are rather longer than estimated and a breakpoint kept here is above the minimum)."""
    return len(text) // 4


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


class AnthropicProvider(SdkProvider["anthropic.Anthropic", bytes]):
    """Claude models through the Messages API; key from ANTHROPIC_API_KEY, base URL from
    ANTHROPIC_BASE_URL (else the SDK default).

    ``supports_prefill``: a trailing assistant message in ``request.messages`` is sent as-is and
    the model continues it; the reply's text is only the continuation. Anthropic refuses a final
    assistant turn ending in whitespace, so that trailing whitespace is dropped before sending.
    """

    supports_prefill = True
    default_name = "anthropic"
    default_base_url = DEFAULT_BASE_URL
    base_url_env = BASE_URL_ENV
    key_env_vars: tuple[str, ...] = (KEY_ENV,)

    def request_params(self, request: LlmRequest) -> dict[str, Any]:
        """The keyword arguments for ``messages.create`` (the request body)."""
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        if messages and messages[-1]["role"] == "assistant":
            messages[-1]["content"] = messages[-1]["content"].rstrip()
        params: dict[str, Any] = {"model": request.model, "max_tokens": request.max_tokens, "messages": messages}
        if request.system:
            points = self.cache_points(request)
            if points:
                blocks: list[dict[str, Any]] = []
                start = 0
                for end in points:
                    blocks.append(
                        {"type": "text", "text": request.system[start:end], "cache_control": {"type": "ephemeral"}}
                    )
                    start = end
                if request.system[start:].strip():
                    blocks.append({"type": "text", "text": request.system[start:]})
                elif start < len(request.system):
                    blocks[-1]["text"] += request.system[start:]
                params["system"] = blocks
            else:
                params["system"] = request.system
        # ``request.temperature`` is not sent: the SDK (1.0+) dropped sampling parameters and the API
        # version it speaks (2026-10-21) rejects them with a 400, even at their default values.
        # ``json_mode``: the Messages API has no JSON switch; the agents' prompts and validators carry it.
        return params

    @staticmethod
    def cache_points(request: LlmRequest) -> list[int]:
        """Where the system text's cache breakpoints go: the request's (or the end of the text), without
        those whose prefix is below the model's minimum cacheable length or holds no new text, at most
        ``MAX_BREAKPOINTS`` (the last ones: the longest prefixes)."""
        if not request.cache_system:
            return []
        text = request.system
        minimum = min_cacheable_tokens(request.model)
        out: list[int] = []
        wanted = (len(text),) if request.cache_breaks is None else request.cache_breaks
        for end in sorted(set(wanted)):
            if (
                0 < end <= len(text)
                and estimated_tokens(text[:end]) >= minimum
                and text[out[-1] if out else 0 : end].strip()
            ):
                out.append(end)
        return out[-MAX_BREAKPOINTS:]

    def _new_client(self, timeout: float) -> anthropic.Anthropic:
        import anthropic

        return anthropic.Anthropic(api_key=self._api_key, base_url=self.base_url, timeout=timeout, max_retries=0)

    def _send(self, client: anthropic.Anthropic, request: LlmRequest) -> bytes:
        raw = client.messages.with_raw_response.create(**self.request_params(request))
        return raw.http_response.read()

    def _response(self, reply: bytes, request: LlmRequest) -> LlmResponse:
        parsed = self._parse(_Reply, reply)
        usage = parsed.usage
        cache_read = usage.cache_read_input_tokens or 0
        cache_write = usage.cache_creation_input_tokens or 0
        text = "".join(block.text or "" for block in parsed.content if block.type == "text")
        raw_stop = parsed.stop_reason
        return LlmResponse(
            text=text,
            usage=Usage(
                tokens_in=usage.input_tokens + cache_read + cache_write,
                tokens_out=usage.output_tokens,
                tokens_cached=cache_read,
                tokens_cache_write=cache_write,
            ),
            stop_reason=STOP_REASONS.get(raw_stop or "", raw_stop or "end"),
            provider=self.name,
            model=request.model,
            raw_stop_reason=raw_stop,
        )

    def _error(self, exc: Exception, request: LlmRequest) -> ProviderError:
        import anthropic

        return map_stainless_error(exc, anthropic, self._call(request))
