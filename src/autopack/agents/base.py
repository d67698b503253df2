"""What every agent shares: the service seam, prompt templates, and JSON extraction from replies."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template
from typing import Any, Protocol

from ..config import Policy
from ..llm.types import Message

PROMPTS = Path(__file__).resolve().parent / "prompts"


class Completer(Protocol):
    """The slice of ``llm.service.LlmService`` the agents use."""

    def complete(
        self,
        *,
        role: str,
        model: str,
        system: str,
        messages: Any,
        max_tokens: int,
        json_mode: bool = False,
        policy: Policy = Policy.PROGRESSIVE,
        phase_id: str | None = None,
        attempt_id: int | None = None,
    ) -> Any: ...


@dataclass(frozen=True)
class CallContext:
    """Where a call belongs, for accounting in the run store."""

    phase_id: str | None = None
    attempt_id: int | None = None
    policy: Policy = Policy.PROGRESSIVE


@cache
def _template(name: str) -> Template:
    return Template((PROMPTS / name).read_text(encoding="utf-8"))


def render(name: str, **values: str) -> str:
    return _template(name).safe_substitute(**values).strip() + "\n"


def estimate_tokens(text: str) -> int:
    """A cheap, provider-independent estimate (about four characters per token)."""
    return max(1, len(text) // 4)


_FENCED_JSON = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL)


class JsonReplyError(ValueError):
    pass


def extract_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in a reply: fenced or bare, with prose around it tolerated."""
    candidates = [m.group(1) for m in _FENCED_JSON.finditer(text)]
    start = text.find("{")
    if start != -1:
        candidates.append(_balanced(text, start))
    for cand in candidates:
        cand = cand.strip()
        if not cand:
            continue
        try:
            data = json.loads(cand)
        except (json.JSONDecodeError, RecursionError):  # a hostile reply can nest past Python's stack
            continue
        if isinstance(data, dict):
            return data
    snippet = text.strip().replace("\n", " ")[:160]
    raise JsonReplyError(f"the reply holds no JSON object (it starts: {snippet!r})")


def _balanced(text: str, start: int) -> str:
    depth, in_str, esc = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return text[start:]


def user(text: str) -> Message:
    return Message(role="user", content=text)


def assistant(text: str) -> Message:
    return Message(role="assistant", content=text)
