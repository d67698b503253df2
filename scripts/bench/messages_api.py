"""A local stand-in for Anthropic's Messages API prompt cache: the usage a request would be billed
for, following Anthropic's published caching rules.

- The prompt is read in Anthropic's order (tools, system, messages) as a list of content blocks;
  a block carrying ``cache_control`` is a cache breakpoint (at most 4 per request, else HTTP 400).
- A breakpoint writes a cache entry for the prefix up to and including its block, keyed by the
  model and that prefix, when the prefix holds at least the model's minimum cacheable length
  (1024 tokens by default); a shorter one is processed without caching, at no extra charge.
- A request reads the longest cached prefix that ends at a block boundary at or before one of its
  breakpoints, looking back up to 20 blocks from each; a hit refreshes the entry's time to live
  (5 minutes by default, on the clock given).
- Usage: ``cache_read_input_tokens`` (the prefix read), ``cache_creation_input_tokens`` (from there
  to the last breakpoint that was written), ``input_tokens`` (the rest).

Tokens are estimated as autopack estimates them (``len(text) // 4`` per block, at least 1), so a
prompt's size here is the size autopack believes it has. Used by ``caching.py`` and the tests.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_BREAKPOINTS = 4
LOOKBACK_BLOCKS = 20
TTL_SECONDS = 300.0


def estimate_tokens(text: str) -> int:
    """autopack's estimate (``agents.base.estimate_tokens``): about four characters a token."""
    return max(1, len(text) // 4)


@dataclass(frozen=True)
class Block:
    role: str  # "system" or a message role
    text: str
    breakpoint: bool


def blocks(body: dict[str, Any]) -> list[Block]:
    """The request's content blocks in the order Anthropic caches them: system, then each message."""
    out: list[Block] = []

    def add(role: str, content: Any) -> None:
        if isinstance(content, str):
            out.append(Block(role, content, False))
            return
        for part in content or []:
            text = part.get("text", "") if isinstance(part, dict) else str(part)
            out.append(Block(role, text, bool(isinstance(part, dict) and part.get("cache_control"))))

    if body.get("system"):
        add("system", body["system"])
    for message in body.get("messages", []):
        add(str(message.get("role", "user")), message.get("content", ""))
    return out


class TooManyBreakpoints(ValueError):
    pass


@dataclass
class PromptCache:
    """Cache entries by (model, prefix digest), each with its expiry time."""

    min_tokens: Callable[[str], int] = field(default=lambda model: 1024)
    ttl: float = TTL_SECONDS
    clock: Callable[[], float] = time.monotonic
    entries: dict[tuple[str, str], float] = field(default_factory=dict)

    def usage(self, body: dict[str, Any]) -> dict[str, int]:
        """The usage of one request, updating the cache as the API would."""
        model = str(body.get("model", ""))
        parts = blocks(body)
        marks = [i for i, b in enumerate(parts) if b.breakpoint]
        if len(marks) > MAX_BREAKPOINTS:
            raise TooManyBreakpoints(
                f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {len(marks)}."
            )
        now = self.clock()
        digests: list[str] = []
        totals: list[int] = []
        h = hashlib.sha256(model.encode())
        running = 0
        for b in parts:
            h.update(b"\x00" + b.role.encode() + b"\x01" + b.text.encode())
            digests.append(h.copy().hexdigest())
            running += estimate_tokens(b.text)
            totals.append(running)
        hit = -1
        for mark in marks:
            for j in range(mark, max(-1, mark - LOOKBACK_BLOCKS), -1):
                expiry = self.entries.get((model, digests[j]))
                if expiry is not None and expiry > now:
                    hit = max(hit, j)
                    break
        read = totals[hit] if hit >= 0 else 0
        if hit >= 0:
            self.entries[(model, digests[hit])] = now + self.ttl
        minimum = self.min_tokens(model)
        written_to = hit
        for mark in marks:
            if mark > hit and totals[mark] >= minimum:
                self.entries[(model, digests[mark])] = now + self.ttl
                written_to = max(written_to, mark)
        created = totals[written_to] - read if written_to > hit else 0
        total = totals[-1] if totals else 0
        return {
            "input_tokens": total - read - created,
            "cache_creation_input_tokens": created,
            "cache_read_input_tokens": read,
        }


def message_reply(
    text: str, model: str, usage: dict[str, int], output_tokens: int | None = None, stop_reason: str = "end_turn"
) -> dict[str, Any]:
    """A Messages API reply body."""
    return {
        "id": "msg_local",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": output_tokens if output_tokens is not None else estimate_tokens(text)},
    }


def prompt_text(body: dict[str, Any]) -> str:
    """The whole prompt as sent: every block's text, in order (system blocks, then each message)."""
    return "\n".join(b.text for b in blocks(body))


def role_of(body: dict[str, Any]) -> str:
    """The autopack role a request is for, from its system text (``ROLE: builder`` ...)."""
    first = blocks(body)[0].text if body.get("system") else ""
    return first.split("\n", 1)[0].removeprefix("ROLE: ").strip() if first.startswith("ROLE: ") else ""
