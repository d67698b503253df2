"""What every SDK-backed provider adapter shares: the key, base URL and name, ``available()``, the
not-configured error, one SDK client per request timeout (closed by ``close()``), and the
``complete()`` skeleton that each adapter fills in with three hooks.

An adapter says how to build its client (``_new_client``), how to send a request with it
(``_send``), how to read the reply (``_response``) and how its SDK's exceptions map to a
``ProviderError`` (``_error``). No SDK is imported here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

from pydantic import BaseModel, ValidationError

from .http_errors import Call, invalid_reply, not_configured
from .types import LlmRequest, LlmResponse, ProviderError


class _Closable(Protocol):
    def close(self) -> None: ...


ClientT = TypeVar("ClientT", bound=_Closable)
ReplyT = TypeVar("ReplyT")
SchemaT = TypeVar("SchemaT", bound=BaseModel)


class SdkProvider(Generic[ClientT, ReplyT]):
    """The base of the adapters: ``ClientT`` is the SDK's client, ``ReplyT`` what ``_send`` returns."""

    supports_prefill: ClassVar[bool] = False
    default_name: ClassVar[str]
    default_base_url: ClassVar[str]  # what the SDK talks to when no base URL is given; named in errors
    base_url_env: ClassVar[str]
    # The variables that hold the key, first one set wins; an instance may name others (or none).
    key_env_vars: tuple[str, ...] = ()

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None = None,
        *,
        name: str | None = None,
        key_env_vars: tuple[str, ...] | None = None,
    ) -> None:
        self.name = self.default_name if name is None else name
        self.base_url = base_url
        if key_env_vars is not None:
            self.key_env_vars = key_env_vars
        self._api_key = api_key or None
        self._clients: dict[float, ClientT] = {}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """Key from the first of ``key_env_vars`` that is set, base URL from ``base_url_env`` (else the
        SDK's default); ``env`` defaults to ``os.environ``. An empty variable counts as unset."""
        env = os.environ if env is None else env
        key = next((env[v] for v in cls.key_env_vars if env.get(v)), None)
        return cls(key, env.get(cls.base_url_env) or None)

    def available(self) -> bool:
        return self._api_key is not None

    def complete(self, request: LlmRequest) -> LlmResponse:
        if not self.available():
            raise not_configured(self.name, self.key_env_vars)
        try:
            reply = self._send(self._client(request.timeout_seconds), request)
        except Exception as exc:  # every SDK failure becomes a ProviderError; bugs are re-raised
            raise self._error(exc, request) from None
        return self._response(reply, request)

    def warm(self, timeout: float) -> None:
        """Import the SDK and build its client now, so a call's measured latency is the call's."""
        if self.available():
            self._client(timeout)

    def close(self) -> None:
        """Close the HTTP clients this provider opened."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def _client(self, timeout: float) -> ClientT:
        # One client per timeout: the SDKs fix the timeout when a client is built.
        client = self._clients.get(timeout)
        if client is None:
            client = self._clients[timeout] = self._new_client(timeout)
        return client

    def _call(self, request: LlmRequest) -> Call:
        """The facts an error message about ``request`` needs."""
        return Call(
            provider=self.name,
            target=self.base_url or self.default_base_url,
            timeout=request.timeout_seconds,
            key_env_vars=self.key_env_vars,
            secrets=self._secrets,
        )

    def _parse(self, schema: type[SchemaT], body: bytes | dict[str, Any]) -> SchemaT:
        """``body`` (the raw JSON, or the dict an SDK built from it) validated against ``schema``;
        a ``malformed`` ProviderError when it does not fit."""
        try:
            if isinstance(body, bytes):
                return schema.model_validate_json(body)
            return schema.model_validate(body)
        except ValidationError as exc:
            raise invalid_reply(self.name, exc, body, secrets=self._secrets) from None

    @property
    def _secrets(self) -> list[str | None]:
        """What must never appear in an error message."""
        return [self._api_key]

    # The hooks. Each SDK is imported inside them, so importing an adapter stays cheap.

    def _new_client(self, timeout: float) -> ClientT:
        """A client that waits ``timeout`` seconds and never retries (the service retries, with
        fallback and budgets)."""
        raise NotImplementedError(f"{type(self).__name__} must say how to build its SDK client")

    def _send(self, client: ClientT, request: LlmRequest) -> ReplyT:
        """Send ``request``; SDK exceptions propagate to ``_error``."""
        raise NotImplementedError(f"{type(self).__name__} must say how to send a request")

    def _response(self, reply: ReplyT, request: LlmRequest) -> LlmResponse:
        """The ``LlmResponse`` for what ``_send`` returned; raises ``ProviderError`` if it is malformed."""
        raise NotImplementedError(f"{type(self).__name__} must say how to read a reply")

    def _error(self, exc: Exception, request: LlmRequest) -> ProviderError:
        """The ``ProviderError`` for an exception ``_send`` raised; re-raises one that is a bug."""
        raise NotImplementedError(f"{type(self).__name__} must say how its SDK's errors map")
