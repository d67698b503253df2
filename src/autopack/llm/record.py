"""Record and replay of LLM calls: ``calls.jsonl``, one completed call per line.

``Recorder`` appends each successful call (request, response, and a key hashed from the canonical
request) with API keys scrubbed; ``ReplayProvider`` serves those responses back in order, only to
requests whose key matches, so a run can be re-played offline and a changed prompt is caught.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import AutopackError
from ..secrets import register_secret_values, scrub, scrub_data
from .types import LlmRequest, LlmResponse, Usage

CALLS_FILE = "calls.jsonl"
_SNIPPET = 200


class ReplayMismatch(AutopackError):
    """The run asked for something the recording does not hold; the recording must be re-made."""


class RecordingError(AutopackError):
    """A recording file is missing or unreadable."""


def canonical_request(request: LlmRequest) -> dict[str, Any]:
    """The parts of a request that decide its answer (what the key is computed from)."""
    return {
        "model": request.model,
        "system": request.system,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "max_tokens": request.max_tokens,
        "json_mode": request.json_mode,
    }


def request_key(request: LlmRequest) -> str:
    """sha256 of the canonical request, serialised with sorted keys."""
    text = json.dumps(canonical_request(request), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Recorder:
    """Appends one JSON line per completed call to ``dir/calls.jsonl``."""

    def __init__(self, dir: Path, secrets: Sequence[str] = ()) -> None:
        self.dir = dir
        self.path = dir / CALLS_FILE
        self._secrets = list(secrets)
        register_secret_values(secrets)
        dir.mkdir(parents=True, exist_ok=True)

    def record(self, request: LlmRequest, response: LlmResponse) -> None:
        """Append the call; the file is flushed per line so a crash loses at most the call in flight."""
        u = response.usage
        body = {
            "request": canonical_request(request),
            "response": {
                "text": response.text,
                "usage": {"tokens_in": u.tokens_in, "tokens_out": u.tokens_out, "tokens_cached": u.tokens_cached},
                "stop_reason": response.stop_reason,
                "provider": response.provider,
                "model": response.model,
            },
        }
        # The key hashes the real request (a replay sees the real keys too); it is hex, so scrubbing
        # the other values is enough to keep secrets out of the file.
        line = {**scrub_data(body, self._secrets), "key": request_key(request)}
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
            fh.flush()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _RecMessage(_Strict):
    role: str
    content: str


class _RecRequest(_Strict):
    model: str
    system: str
    messages: list[_RecMessage]
    max_tokens: int
    json_mode: bool


class _RecUsage(_Strict):
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0


class _RecResponse(_Strict):
    text: str
    usage: _RecUsage = Field(default_factory=_RecUsage)
    stop_reason: str
    provider: str
    model: str


class RecordedCall(_Strict):
    """One line of ``calls.jsonl``."""

    request: _RecRequest
    response: _RecResponse
    key: str


def load_recording(path: Path) -> list[RecordedCall]:
    """Parse ``calls.jsonl``; RecordingError names the file (and line) when it cannot be used."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordingError(
            f"{path}: no recording here; record a run first (or point replay at its directory)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path}: cannot read the recording ({exc})") from None
    calls = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            calls.append(RecordedCall.model_validate(json.loads(raw)))
        except json.JSONDecodeError as exc:
            raise RecordingError(f"{path}:{n}: corrupt line ({exc.msg}); re-make the recording") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(line)"
            raise RecordingError(f"{path}:{n}: {where}: {first['msg']}; re-make the recording") from None
    return calls


def _prompt_lines(system: str, messages: Sequence[tuple[str, str]]) -> list[str]:
    lines = ["[system]", *system.splitlines()]
    for role, content in messages:
        lines.append(f"[{role}]")
        lines.extend(content.splitlines())
    return lines


def _first_difference(expected: list[str], received: list[str]) -> str:
    for i in range(max(len(expected), len(received))):
        exp = expected[i] if i < len(expected) else "<end of prompt>"
        got = received[i] if i < len(received) else "<end of prompt>"
        if exp != got:
            return f"prompt line {i + 1}: expected {exp[:_SNIPPET]!r}, received {got[:_SNIPPET]!r}"
    return "the prompts are identical"


class ReplayProvider:
    """A provider that answers from a recording, in order, only to the requests that were recorded."""

    name = "replay"
    supports_prefill = True

    def __init__(self, dir: Path, secrets: Sequence[str] = ()) -> None:
        self.path = dir / CALLS_FILE
        self.calls = load_recording(self.path)
        self._next = 0
        self._secrets = list(secrets)
        register_secret_values(secrets)

    def available(self) -> bool:
        return True

    @property
    def remaining(self) -> int:
        """Recorded calls not yet served."""
        return len(self.calls) - self._next

    def complete(self, request: LlmRequest) -> LlmResponse:
        number = self._next + 1
        if self._next >= len(self.calls):
            raise self._mismatch(
                f"call {number} was not recorded: {self.path} holds {len(self.calls)} calls "
                f"(received model {request.model!r}); re-make the recording"
            )
        rec = self.calls[self._next]
        if request_key(request) != rec.key:
            raise self._mismatch(
                f"call {number} differs from the recording in {self.path}: {self._diff(rec, request)}; re-make the recording"
            )
        self._next += 1
        r = rec.response
        return LlmResponse(
            text=r.text,
            usage=Usage(r.usage.tokens_in, r.usage.tokens_out, r.usage.tokens_cached),
            stop_reason=r.stop_reason,
            provider=r.provider,
            model=r.model,
            raw_stop_reason=r.stop_reason,
        )

    def _diff(self, rec: RecordedCall, request: LlmRequest) -> str:
        exp, got = rec.request, request
        parts = []
        if exp.model != got.model:
            parts.append(f"model: expected {exp.model!r}, received {got.model!r}")
        exp_lines = _prompt_lines(exp.system, [(m.role, m.content) for m in exp.messages])
        got_lines = _prompt_lines(got.system, [(m.role, m.content) for m in got.messages])
        if exp_lines != got_lines:
            parts.append(_first_difference(exp_lines, got_lines))
        if exp.max_tokens != got.max_tokens:
            parts.append(f"max_tokens: expected {exp.max_tokens}, received {got.max_tokens}")
        if exp.json_mode != got.json_mode:
            parts.append(f"json_mode: expected {exp.json_mode}, received {got.json_mode}")
        if not parts:
            # Same visible text but a different key: the recording held a secret that was scrubbed.
            parts.append("the request matches the scrubbed recording but not its key")
        return "; ".join(parts)

    def _mismatch(self, message: str) -> ReplayMismatch:
        return ReplayMismatch(scrub(message, self._secrets))
