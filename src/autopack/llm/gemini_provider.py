"""The Gemini adapter: Google's Gemini models through the official ``google-genai`` SDK.

It owns the Gemini wire details: the system text as ``system_instruction``, roles ``user`` and
``model``, JSON mode as a response MIME type, usage from ``usage_metadata`` (thinking tokens
counted as output, as they are billed), finish reasons, and the mapping of the SDK's own errors
(a wrong key reported as 400, the ``retryDelay`` of a 429); the raw httpx errors it lets through
map like every adapter's (``http_errors.unanswered_error``). The SDK is imported only when a call
is made.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .http_errors import malformed, status_error, unanswered_error
from .sdk_base import SdkProvider
from .types import ErrorKind, LlmRequest, LlmResponse, ProviderError, Usage

if TYPE_CHECKING:
    from google import genai
    from google.genai import types as genai_types

KEY_ENV_VARS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
BASE_URL_ENV = "GOOGLE_GEMINI_BASE_URL"
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/"

FINISH_REASONS = {"STOP": "end", "MAX_TOKENS": "max_tokens"}


class GeminiProvider(SdkProvider["genai.Client", "genai_types.GenerateContentResponse"]):
    """Gemini models (``gemini-*``) through the Gemini Developer API (never Vertex AI); key from
    GEMINI_API_KEY (else GOOGLE_API_KEY), base URL from GOOGLE_GEMINI_BASE_URL (which the SDK would
    also read by itself).

    ``supports_prefill`` is False: a trailing assistant message is sent as a ``model`` turn, and
    the reply is a new message, not guaranteed to continue it.
    """

    default_name = "gemini"
    default_base_url = DEFAULT_BASE_URL
    base_url_env = BASE_URL_ENV
    key_env_vars: tuple[str, ...] = KEY_ENV_VARS

    def request_params(self, request: LlmRequest) -> dict[str, Any]:
        """The keyword arguments for ``models.generate_content`` (dict forms the SDK accepts)."""
        contents = [
            {"role": "model" if m.role == "assistant" else "user", "parts": [{"text": m.content}]}
            for m in request.messages
        ]
        config: dict[str, Any] = {"max_output_tokens": request.max_tokens}
        if request.system:
            config["system_instruction"] = request.system
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if request.json_mode:
            config["response_mime_type"] = "application/json"
        # cache_system needs nothing here: Gemini caches repeated prompt prefixes implicitly and
        # reports the hits as cached_content_token_count.
        return {"model": request.model, "contents": contents, "config": config}

    def _new_client(self, timeout: float) -> genai.Client:
        from google import genai
        from google.genai import types

        options = types.HttpOptions(
            base_url=self.base_url,
            timeout=max(1, math.ceil(timeout * 1000)),  # the SDK takes milliseconds
            # One attempt means no SDK retries.
            retry_options=types.HttpRetryOptions(attempts=1),
        )
        # vertexai=False: GOOGLE_GENAI_USE_VERTEXAI in the environment must not reroute the key.
        return genai.Client(api_key=self._api_key, vertexai=False, http_options=options)

    def _send(self, client: genai.Client, request: LlmRequest) -> genai_types.GenerateContentResponse:
        return client.models.generate_content(**self.request_params(request))

    def _response(self, reply: genai_types.GenerateContentResponse, request: LlmRequest) -> LlmResponse:
        meta = reply.usage_metadata
        usage = Usage(
            tokens_in=(meta.prompt_token_count or 0) if meta else 0,
            tokens_out=((meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)) if meta else 0,
            tokens_cached=(meta.cached_content_token_count or 0) if meta else 0,
        )
        if not reply.candidates:
            feedback = reply.prompt_feedback
            if feedback is not None and feedback.block_reason is not None:
                # The prompt itself was refused: an answer, not a failure worth retrying.
                reason = _word(feedback.block_reason)
                return self._reply("", usage, "blocked", reason, request)
            raise malformed(self.name, "no candidates and no prompt feedback", secrets=self._secrets, raw=_dump(reply))
        candidate = reply.candidates[0]
        parts = candidate.content.parts if candidate.content and candidate.content.parts else []
        text = "".join(p.text for p in parts if p.text and not p.thought)
        if candidate.finish_reason is None and not parts:
            raise malformed(
                self.name, "a candidate with neither content nor finish reason", secrets=self._secrets, raw=_dump(reply)
            )
        raw_stop = _word(candidate.finish_reason) if candidate.finish_reason is not None else None
        stop = FINISH_REASONS.get(raw_stop or "", (raw_stop or "end").lower())
        return self._reply(text, usage, stop, raw_stop, request)

    def _reply(self, text: str, usage: Usage, stop: str, raw: str | None, request: LlmRequest) -> LlmResponse:
        return LlmResponse(
            text=text, usage=usage, stop_reason=stop, provider=self.name, model=request.model, raw_stop_reason=raw
        )

    def _error(self, exc: Exception, request: LlmRequest) -> ProviderError:
        from google.genai import errors
        from pydantic import ValidationError

        if isinstance(exc, errors.APIError):
            # Gemini answers a wrong key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
            kind: ErrorKind | None = "auth" if "API_KEY_INVALID" in json.dumps(exc.details, default=str) else None
            error = status_error(
                self.name,
                exc.code,
                getattr(exc.response, "headers", None),
                exc.details,
                key_env_vars=self.key_env_vars,
                secrets=self._secrets,
                sdk_error=type(exc).__name__,
                kind=kind,
            )
            if error.kind == "rate_limit" and error.retry_after is None:
                error.retry_after = retry_delay(exc.details)
            return error
        if isinstance(exc, (errors.UnknownApiResponseError, json.JSONDecodeError, ValidationError)):
            return malformed(
                self.name, f"the body is not a generateContent reply ({type(exc).__name__})", secrets=self._secrets
            )
        return unanswered_error(exc, self._call(request))


def _word(value: object) -> str:
    """An SDK enum member's wire name (``FinishReason.STOP`` -> ``STOP``)."""
    return str(getattr(value, "value", value))


def retry_delay(details: object) -> float | None:
    """Seconds from the ``google.rpc.RetryInfo`` detail (``"retryDelay": "27s"``) Gemini sends with a
    429 instead of a Retry-After header; None when absent."""
    error = details.get("error", details) if isinstance(details, Mapping) else None
    items = error.get("details") if isinstance(error, Mapping) else None
    for item in items if isinstance(items, list) else []:
        delay = item.get("retryDelay") if isinstance(item, Mapping) else None
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return max(float(delay[:-1]), 0.0)
            except ValueError:
                return None
    return None


def _dump(response: genai_types.GenerateContentResponse) -> str:
    # The SDK adds the HTTP headers and a call history to the object; neither was in the body.
    return response.model_dump_json(
        exclude_none=True, exclude={"sdk_http_response", "automatic_function_calling_history"}
    )
