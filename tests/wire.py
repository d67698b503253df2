"""Helpers for the adapter tests: replies in each provider's wire format, a slow handler, a port
nobody listens on, and a reader for what the local server received.

Every adapter test points its real SDK client at pytest-httpserver on 127.0.0.1 through an
explicit base URL, so no test can reach the internet.
"""

from __future__ import annotations

import email.utils
import json
import socket
import time
from collections.abc import Callable
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from autopack.config import Config
from autopack.llm.types import LlmRequest, Message

# Distinctive fake keys: a test fails if one of them shows up in an error message.
ANTHROPIC_KEY = "sk-ant-FAKE-anthropic-9f8e7d6c5b4a"
OPENAI_KEY = "sk-proj-FAKE-openai-1a2b3c4d5e6f"
GLM_KEY = "FAKEglmkey0123456789.abcdefghij"
GEMINI_KEY = "AIzaFAKE-gemini-0123456789abcdef"
ENDPOINT_KEY = "or-FAKE-endpoint-55aa66bb77cc"

# Long enough for an unhurried local reply, short enough that a broken test fails fast.
QUICK = 5.0
SLOW_REPLY_SECONDS = 1.5
SHORT_TIMEOUT = 0.3

CHAIN = {"models": ["claude-sonnet-4-5"]}


def ask(
    model: str,
    *,
    system: str = "You are a careful engineer.",
    messages: tuple[Message, ...] = (Message("user", "Say hi."),),
    timeout: float = QUICK,
    **fields: Any,
) -> LlmRequest:
    """An LlmRequest with test-friendly defaults."""
    return LlmRequest(model=model, system=system, messages=messages, timeout_seconds=timeout, **fields)


def make_config(endpoints: list[dict[str, Any]] | None = None) -> Config:
    """A minimal valid config, with the given endpoints."""
    return Config.model_validate(
        {
            "escalation_chains": {
                "builder": {"low": CHAIN, "medium": CHAIN, "high": CHAIN},
                "auditor": {"low": CHAIN, "medium": CHAIN, "high": CHAIN},
            },
            "endpoints": endpoints or [],
        }
    )


def anthropic_reply(
    text: str = "hi",
    *,
    stop_reason: str = "end_turn",
    input_tokens: int = 12,
    output_tokens: int = 3,
    cache_read: int | None = None,
    cache_write: int | None = None,
) -> dict[str, Any]:
    """A Messages API reply body."""
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_input_tokens": cache_read,
            "cache_creation_input_tokens": cache_write,
        },
    }


def chat_completion(
    text: str | None = "hi",
    *,
    finish_reason: str = "stop",
    prompt_tokens: int = 20,
    completion_tokens: int = 4,
    cached_tokens: int | None = None,
    model: str = "gpt-4o",
) -> dict[str, Any]:
    """A ``chat.completion`` body (OpenAI, GLM and OpenAI-compatible servers)."""
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if cached_tokens is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": cached_tokens}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason}],
        "usage": usage,
    }


def gemini_reply(
    text: str = "hi",
    *,
    finish_reason: str = "STOP",
    prompt_tokens: int = 30,
    output_tokens: int = 5,
    cached_tokens: int | None = None,
    thoughts_tokens: int | None = None,
) -> dict[str, Any]:
    """A ``generateContent`` reply body."""
    usage: dict[str, Any] = {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": output_tokens,
        "totalTokenCount": prompt_tokens + output_tokens,
    }
    if cached_tokens is not None:
        usage["cachedContentTokenCount"] = cached_tokens
    if thoughts_tokens is not None:
        usage["thoughtsTokenCount"] = thoughts_tokens
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": finish_reason, "index": 0}
        ],
        "usageMetadata": usage,
        "modelVersion": "gemini-2.5-pro",
    }


def slow_handler(
    seconds: float = SLOW_REPLY_SECONDS, body: dict[str, Any] | None = None
) -> Callable[[Request], Response]:
    """A handler that answers only after ``seconds``: longer than the client is willing to wait."""

    def handle(request: Request) -> Response:
        time.sleep(seconds)
        return Response(json.dumps(body or {}), content_type="application/json")

    return handle


def http_date_in(seconds: float) -> str:
    """An HTTP-date ``seconds`` from now, as a Retry-After header may carry."""
    return email.utils.formatdate(time.time() + seconds, usegmt=True)


def refused_url(path: str = "/") -> str:
    """A URL on a local port nobody listens on (the OS picked it free, and it was closed again)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def received_json(server: HTTPServer, index: int = -1) -> dict[str, Any]:
    """The JSON body of a request the server received (the last one by default)."""
    request, _ = server.log[index]
    data: dict[str, Any] = json.loads(request.get_data(as_text=True))
    return data


def received_count(server: HTTPServer) -> int:
    """How many requests reached the server: more than one means somebody retried."""
    return len(server.log)
