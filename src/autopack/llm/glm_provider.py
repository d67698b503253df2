"""The GLM adapter: Zhipu's GLM models through the official ``zhipuai`` SDK.

GLM's chat API speaks the OpenAI chat-completion format, so the reply is validated with the same
``ChatReply`` schema, and its SDK copies the Stainless exception classes, so they map like
Anthropic's and OpenAI's. What this room owns is the SDK's client, checking the reply object the
SDK builds without validating, a 200 body that is not JSON, and GLM's ``network_error`` finish
reason. The SDK is imported only when a call is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .http_errors import malformed, map_stainless_error, transport_kind
from .openai_provider import ChatReply, chat_messages, chat_response
from .sdk_base import SdkProvider
from .types import LlmRequest, LlmResponse, ProviderError

if TYPE_CHECKING:
    import zhipuai

KEY_ENV_VARS = ("GLM_API_KEY", "ZHIPUAI_API_KEY")
BASE_URL_ENV = "GLM_API_BASE"
DEFAULT_BASE_URL = "https://open.bigmodel.cn/api/paas/v4"


class GlmProvider(SdkProvider["zhipuai.ZhipuAI", object]):
    """GLM models (``glm-*``) through Zhipu's chat completions API; key from GLM_API_KEY (else
    ZHIPUAI_API_KEY), base URL from GLM_API_BASE (else the SDK's ZHIPUAI_BASE_URL or its default).

    ``supports_prefill`` is False: a trailing assistant message is sent, and the model answers
    with a new message after it (see ``OpenAIProvider``).
    """

    default_name = "glm"
    default_base_url = DEFAULT_BASE_URL
    base_url_env = BASE_URL_ENV
    key_env_vars: tuple[str, ...] = KEY_ENV_VARS

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

    def _new_client(self, timeout: float) -> zhipuai.ZhipuAI:
        import zhipuai

        return zhipuai.ZhipuAI(api_key=self._api_key, base_url=self.base_url, timeout=timeout, max_retries=0)

    def _send(self, client: zhipuai.ZhipuAI, request: LlmRequest) -> object:
        return client.chat.completions.create(**self.request_params(request))

    def _response(self, reply: object, request: LlmRequest) -> LlmResponse:
        parsed = self._validate(reply)
        if parsed.choices[0].finish_reason == "network_error":
            # GLM ends a generation that failed on its side with this reason and a 200 status.
            raise ProviderError(
                "server", "GLM reported a failure while generating (finish_reason network_error)", self.name
            )
        return chat_response(parsed, self.name, request.model)

    def _validate(self, completion: object) -> ChatReply:
        # The SDK builds its reply object without validating it, so a body that is not a chat
        # completion arrives as a half-empty object (or as text); the boundary check is ours.
        if not isinstance(completion, BaseModel):
            raise malformed(self.name, "the body is not a JSON object", secrets=self._secrets, raw=completion)
        return self._parse(ChatReply, completion.model_dump(warnings=False))

    def _error(self, exc: Exception, request: LlmRequest) -> ProviderError:
        import zhipuai

        if isinstance(exc, ValueError) and transport_kind(exc) is None:
            # A 200 whose body is not JSON fails inside the SDK's parser.
            return malformed(self.name, f"the body is not JSON ({type(exc).__name__})", secrets=self._secrets)
        return map_stainless_error(exc, zhipuai, self._call(request))
