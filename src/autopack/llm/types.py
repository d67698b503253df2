"""The data that crosses the LLM boundary, and the one protocol every provider implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

ErrorKind = Literal[
    "rate_limit", "server", "timeout", "connection", "auth", "bad_request", "malformed", "not_configured"
]


@dataclass(frozen=True)
class Message:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class LlmRequest:
    """One chat completion. ``system`` is the stable, cacheable part (instructions, files);
    ``messages`` the variable part. A trailing assistant message is a prefix to continue from."""

    model: str  # the name the provider's API knows (endpoint prefix already removed)
    system: str
    messages: tuple[Message, ...]
    max_tokens: int = 4096
    temperature: float | None = 0.0
    cache_system: bool = True  # False: write nothing to the provider's prompt cache
    json_mode: bool = False
    timeout_seconds: float = 120.0
    # Character offsets in ``system`` where a prefix worth caching ends (cache breakpoints), in order;
    # None: one at the end of ``system``; (): none. Providers that cache prefixes by themselves ignore
    # them, and a provider drops a breakpoint whose prefix is below its minimum cacheable length.
    cache_breaks: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Usage:
    tokens_in: int = 0  # all input tokens, cached ones included
    tokens_out: int = 0
    tokens_cached: int = 0  # input tokens served from the provider's prompt cache
    tokens_cache_write: int = 0  # input tokens written to the provider's prompt cache (billed at its write price)


@dataclass(frozen=True)
class LlmResponse:
    text: str
    usage: Usage
    stop_reason: str  # normalised: "end", "max_tokens", or the provider's own word
    provider: str
    model: str
    raw_stop_reason: str | None = None

    @property
    def truncated(self) -> bool:
        return self.stop_reason == "max_tokens"


@dataclass
class ProviderError(Exception):
    """A call that failed. ``retryable`` kinds are rate_limit, server, timeout, connection."""

    kind: ErrorKind
    message: str
    provider: str = ""
    status: int | None = None
    retry_after: float | None = None  # seconds, from the Retry-After header when sent
    details: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def retryable(self) -> bool:
        return self.kind in ("rate_limit", "server", "timeout", "connection")

    def __str__(self) -> str:
        status = f" HTTP {self.status}" if self.status else ""
        return f"{self.provider or 'provider'}{status} {self.kind}: {self.message}"


class Provider(Protocol):
    """One backend. ``complete`` sends one request, without retries (the service retries), and
    raises ``ProviderError`` for every failure, never an SDK exception."""

    name: str

    def available(self) -> bool:
        """True when the key (or endpoint) this provider needs is configured."""
        ...

    def complete(self, request: LlmRequest) -> LlmResponse: ...
