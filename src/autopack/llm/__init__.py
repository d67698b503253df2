"""The LLM room: one ``Provider`` protocol, one adapter per official SDK, a router (model name ->
provider, policies, fallback, caps) and a service (retries, usage, cost, record/replay).

Importing this package must stay cheap: SDKs are imported inside the adapters only when used.
"""

from .types import LlmRequest, LlmResponse, Message, Provider, ProviderError, Usage

__all__ = ["LlmRequest", "LlmResponse", "Message", "Provider", "ProviderError", "Usage"]
