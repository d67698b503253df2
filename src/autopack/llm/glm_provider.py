"""The GLM adapter: Zhipu's GLM models through the official ``zhipuai`` SDK.

GLM's chat API speaks the OpenAI chat-completion format, so the reply is validated with the same
``ChatReply`` schema; what this room owns is the SDK's client, its own exception classes (which
carry the HTTP response but no parsed body) and GLM's ``network_error`` finish reason. The SDK is
imported only when a call is made.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from .http_errors import malformed, not_configured, redact, status_error, transport_error, transport_kind
from .openai_provider import ChatReply, chat_messages, chat_response
from .types import LlmRequest, LlmResponse, ProviderError

if TYPE_CHECKING:
    import zhipuai

KEY_ENV_VARS = ("GLM_API_KEY", "ZHIPUAI_API_KEY")
BASE_URL_ENV = "GLM_API_BASE"
DEFAULT_BASE_URL = "https://open.bigmodel.cn/api/paas/v4"


class GlmProvider:
    """GLM models (``glm-*``) through Zhipu's chat completions API.

    ``supports_prefill`` is False: a trailing assistant message is sent, and the model answers
    with a new message after it (see ``OpenAIProvider``).
    """

    supports_prefill = False
    key_env_vars: tuple[str, ...] = KEY_ENV_VARS

    def __init__(self, api_key: str | None, base_url: str | None = None, *, name: str = "glm") -> None:
        self.name = name
        self.base_url = base_url
        self._api_key = api_key or None
        self._clients: dict[float, zhipuai.ZhipuAI] = {}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GlmProvider:
        """Key from GLM_API_KEY (else ZHIPUAI_API_KEY), base URL from GLM_API_BASE (else the SDK's
        ZHIPUAI_BASE_URL or its default)."""
        env = os.environ if env is None else env
        key = next((env[v] for v in KEY_ENV_VARS if env.get(v)), None)
        return cls(key, env.get(BASE_URL_ENV) or None)

    def available(self) -> bool:
        return self._api_key is not None

    def complete(self, request: LlmRequest) -> LlmResponse:
        if self._api_key is None:
            raise not_configured(self.name, self.key_env_vars)
        try:
            client = self._client(request.timeout_seconds)
            completion = client.chat.completions.create(**self.request_params(request))
        except Exception as exc:  # every SDK failure becomes a ProviderError; bugs are re-raised
            raise self._error(exc, request) from None
        reply = self._validate(completion)
        choice = reply.choices[0]
        if choice.finish_reason == "network_error":
            # GLM ends a generation that failed on its side with this reason and a 200 status.
            raise ProviderError(
                "server", "GLM reported a failure while generating (finish_reason network_error)", self.name
            )
        return chat_response(reply, self.name, request.model)

    def request_params(self, request: LlmRequest) -> dict[str, Any]:
        """The keyword arguments for ``chat.completions.create``."""
        params: dict[str, Any] = {
            "model": request.model,
            "messages": chat_messages(request),
            "max_tokens": request.max_tokens,
        }
        if request.temperature is not None:
            # The SDK clamps to GLM's open interval (0, 1) and turns sampling off at or below zero.
            params["temperature"] = request.temperature
        if request.json_mode:
            params["response_format"] = {"type": "json_object"}
        return params

    def close(self) -> None:
        """Close the HTTP clients this provider opened."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def _client(self, timeout: float) -> zhipuai.ZhipuAI:
        client = self._clients.get(timeout)
        if client is None:
            import zhipuai

            # The service retries (with fallback and budgets), so the SDK must not retry on its own.
            client = zhipuai.ZhipuAI(api_key=self._api_key, base_url=self.base_url, timeout=timeout, max_retries=0)
            self._clients[timeout] = client
        return client

    def _validate(self, completion: object) -> ChatReply:
        # The SDK builds its reply object without validating it, so a body that is not a chat
        # completion arrives as a half-empty object (or as text); the boundary check is ours.
        if not isinstance(completion, BaseModel):
            raise malformed(self.name, "the body is not a JSON object", secrets=[self._api_key], raw=completion)
        data = completion.model_dump(warnings=False)
        try:
            return ChatReply.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "body"
            raise malformed(self.name, f"{where}: {err['msg']}", secrets=[self._api_key], raw=data) from None

    def _error(self, exc: Exception, request: LlmRequest) -> ProviderError:
        import zhipuai

        secrets = [self._api_key]
        if isinstance(exc, zhipuai.APIStatusError):
            response = exc.response
            return status_error(
                self.name,
                exc.status_code,
                response.headers,
                response.text,
                key_env_vars=self.key_env_vars,
                secrets=secrets,
                sdk_error=type(exc).__name__,
            )
        if isinstance(exc, zhipuai.APIResponseValidationError):
            return malformed(self.name, str(exc), secrets=secrets)
        kind = transport_kind(exc)
        if kind is not None:
            target = self.base_url or DEFAULT_BASE_URL
            return transport_error(
                self.name, exc, kind, target=target, timeout=request.timeout_seconds, secrets=secrets
            )
        if isinstance(exc, ValueError):
            # A 200 whose body is not JSON fails inside the SDK's parser.
            return malformed(self.name, f"the body is not JSON ({type(exc).__name__})", secrets=secrets)
        if isinstance(exc, zhipuai.ZhipuAIError):
            return ProviderError("bad_request", redact(str(exc), secrets), self.name)
        raise exc
