"""What every agent shares: the service seam, prompt templates, and JSON extraction from replies."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template
from typing import Any, Generic, Protocol, TypeVar

from ..config import Policy
from ..errors import AutopackError
from ..llm.types import Message

PROMPTS = Path(__file__).resolve().parent / "prompts"
T = TypeVar("T")


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
        cache_breaks: Any = None,
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


_FENCED_JSON = re.compile(r"```(?:json|JSON|json5|javascript|js|python)?[ \t]*\n(.*?)```", re.DOTALL)
MAX_OBJECT_STARTS = 50  # "{" positions tried in one reply (a reply full of braces stays linear)
_PY_WORDS = {"True": "true", "False": "false", "None": "null"}


class JsonReplyError(ValueError):
    pass


def json_objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object a reply holds, in order: fenced blocks first, then each top-level object in the
    text, wherever it is. Each is read as strict JSON first, then with the slips models make repaired
    (``repair_json``: single quotes, Python's True/False/None, trailing commas, comments, bare keys)."""
    candidates = [m.group(1) for m in _FENCED_JSON.finditer(text)]
    pos, starts = 0, 0
    while starts < MAX_OBJECT_STARTS and (start := text.find("{", pos)) != -1:
        starts += 1
        block = _balanced(text, start)
        candidates.append(block)
        # A block that reads as an object is skipped whole; otherwise an object may start inside it.
        pos = start + len(block) if _read(block) is not None else start + 1
    found: list[dict[str, Any]] = []
    for cand in candidates:
        data = _read(cand)
        if data is not None and data not in found:
            found.append(data)
    return found


def extract_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in a reply (see ``json_objects``)."""
    found = json_objects(text)
    if found:
        return found[0]
    snippet = text.strip().replace("\n", " ")[:160]
    raise JsonReplyError(f"the reply holds no JSON object (it starts: {snippet!r})")


def first_valid(text: str, validate: Callable[[dict[str, Any]], T]) -> T:
    """The first object of the reply that ``validate`` accepts; the first object's error (or
    JsonReplyError when there is no object) when none is."""
    found = json_objects(text)
    if not found:
        extract_json_object(text)  # raises the JsonReplyError that says what the reply starts with
    first: Exception | None = None
    for data in found:
        try:
            return validate(data)
        except (ValueError, TypeError, KeyError, AutopackError) as exc:  # pydantic's ValidationError is a ValueError
            first = first or exc
    assert first is not None
    raise first


@dataclass(frozen=True)
class JsonAnswer(Generic[T]):
    """What ``ask_json`` got: the validated value (None when every try failed), the model that answered
    last, and what was wrong with the last reply (None when one was valid)."""

    value: T | None
    model: str
    error: str | None = None


def ask_json(
    service: Completer,
    *,
    role: str,
    model: str,
    system: str,
    prompt: str,
    validate: Callable[[dict[str, Any]], T],
    ctx: CallContext,
    max_tokens: int,
    tries: int,
    again: str,
) -> JsonAnswer[T]:
    """Ask ``model`` for one JSON object that ``validate`` accepts: the reply, then (up to ``tries`` in
    all) again with the reply and what was wrong with it, ``again`` being how the model is asked to fix
    it ({error} stands for what was wrong). The one retry loop of the Auditor, the Doctor and the Planner."""
    messages = [user(prompt)]
    used, error = model, ""
    for _ in range(tries):
        result = service.complete(
            role=role,
            model=model,
            system=system,
            messages=messages,
            max_tokens=max_tokens,
            json_mode=True,
            policy=ctx.policy,
            phase_id=ctx.phase_id,
            attempt_id=ctx.attempt_id,
        )
        used, text = result.model, result.response.text
        try:
            return JsonAnswer(first_valid(text, validate), used)
        except (ValueError, TypeError, KeyError, AutopackError) as exc:  # as first_valid raises them
            error = short_error(exc)
            messages = [user(prompt), assistant(text or "(empty)"), user(again.format(error=error))]
    return JsonAnswer(None, used, error)


def short_error(exc: Exception) -> str:
    """A reply's problem in one line: pydantic's first five errors by field, else the message."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
    return str(exc)


def _read(candidate: str) -> dict[str, Any] | None:
    candidate = candidate.strip()
    if not candidate.startswith("{"):
        return None
    for attempt in (candidate, None):
        try:
            data = json.loads(attempt if attempt is not None else repair_json(candidate))
        except (json.JSONDecodeError, RecursionError):  # a hostile reply can nest past Python's stack
            continue
        return data if isinstance(data, dict) else None
    return None


def repair_json(text: str) -> str:
    """``text`` with the slips models make in JSON undone, outside and inside strings: single-quoted
    strings, ``True``/``False``/``None``, trailing commas, ``//`` and ``#`` comments, bare keys, raw
    newlines inside strings. Text that is valid JSON comes back unchanged."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'":
            quote, j = ch, i + 1
            out.append('"')
            while j < n and text[j] != quote:
                c = text[j]
                if c == "\\" and j + 1 < n:
                    out.append("'" if text[j + 1] == "'" else text[j : j + 2])
                    j += 2
                    continue
                out.append('\\"' if c == '"' else "\\n" if c == "\n" else c)
                j += 1
            out.append('"')
            i = j + 1
        elif ch == "/" and text.startswith("//", i) or ch == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif ch == ",":
            j = i + 1
            while j < n and text[j].isspace():
                j += 1
            if j >= n or text[j] not in "}]":
                out.append(ch)
            i += 1
        elif ch.isalpha() or ch == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            k = j
            while k < n and text[k] in " \t":
                k += 1
            if word in _PY_WORDS:
                out.append(_PY_WORDS[word])
            elif k < n and text[k] == ":" and word not in ("true", "false", "null"):
                out.append(f'"{word}"')
            else:
                out.append(word)
            i = j
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _balanced(text: str, start: int) -> str:
    depth, quote, esc = 0, "", False
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
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
