"""The scripted provider: replies read from a YAML file, for demos and end-to-end tests.

A script serves its entries in order (``mode: sequence``) or picks the first unused entry whose
``match`` regex is found in the prompt (``mode: match``). An entry may raise a ProviderError instead
of answering, so retries, fallbacks and the health budget can be exercised without a network.
See ``ScriptFile`` for the format; every problem in the file names its line and entry index.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from ..errors import AutopackError
from ..yamlfile import validate_file
from .types import ErrorKind, LlmRequest, LlmResponse, ProviderError, Usage

_SNIPPET = 200


class ScriptFileError(AutopackError):
    """A response script is missing or invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScriptedFailure(_Strict):
    """Raise ``ProviderError(kind, ...)`` instead of answering."""

    kind: ErrorKind
    status: int | None = None
    retry_after: float | None = Field(default=None, ge=0, description="seconds, as a Retry-After header would say")
    message: str | None = Field(default=None, description="the error text (default: names the entry)")


class ScriptedUsage(_Strict):
    """Token counts to report; a missing count is estimated as characters // 4."""

    tokens_in: int | None = Field(default=None, ge=0)
    tokens_out: int | None = Field(default=None, ge=0)
    tokens_cached: int = Field(default=0, ge=0)


class ScriptEntry(_Strict):
    text: str | None = Field(default=None, description="the reply")
    match: str | None = Field(default=None, description="regex searched in the prompt (system + all messages)")
    default: bool = Field(default=False, description="match mode: served when no `match` entry fits")
    stop_reason: Literal["end", "max_tokens"] = "end"
    usage: ScriptedUsage | None = None
    repeat: bool = Field(default=False, description="the entry can be served any number of times")
    error: ScriptedFailure | None = Field(default=None, description="raise this ProviderError instead of answering")
    label: str | None = Field(default=None, description="shown in errors and in `served`")

    @field_validator("match")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression ({exc})") from None
        return value

    @model_validator(mode="after")
    def _text_or_error(self) -> ScriptEntry:
        if (self.text is None) == (self.error is None):
            raise ValueError("an entry needs exactly one of `text` (the reply) or `error` (a failure to raise)")
        return self


class ScriptFile(_Strict):
    mode: Literal["sequence", "match"] = Field("sequence", description="serve in order, or by regex match")
    responses: list[ScriptEntry] = Field(min_length=1)

    @field_validator("responses")
    @classmethod
    def _match_mode_entries_match(cls, value: list[ScriptEntry], info: ValidationInfo) -> list[ScriptEntry]:
        if info.data.get("mode") == "match":
            for i, entry in enumerate(value):
                if entry.match is None and not entry.default:
                    name = f" ({entry.label})" if entry.label else ""
                    # The error is reported at `responses:`, so say where the entry itself is.
                    lines = (info.context or {}).get("lines", {})
                    at = f" at line {lines[('responses', i)]}" if ("responses", i) in lines else ""
                    raise ValueError(f"responses[{i}]{name}{at}: match mode needs `match: <regex>` or `default: true`")
        return value


def prompt_text(request: LlmRequest) -> str:
    """What ``match`` regexes are searched in: the system text and every message, one per line."""
    return "\n".join([request.system, *(m.content for m in request.messages)])


class ScriptedProvider:
    """Answers from a YAML script; ``served`` lists the labels of the entries used, in order."""

    name = "scripted"
    supports_prefill = True

    def __init__(self, path: Path) -> None:
        self.path = path
        self.script = validate_file(ScriptFile, path, ScriptFileError, "response script")
        self.served: list[str] = []
        self._used: set[int] = set()
        self._next = 0  # sequence mode: the entry to serve next

    def available(self) -> bool:
        return True

    def _label(self, index: int) -> str:
        return self.script.responses[index].label or f"responses[{index}]"

    def complete(self, request: LlmRequest) -> LlmResponse:
        prompt = prompt_text(request)
        index = self._pick_sequence(prompt) if self.script.mode == "sequence" else self._pick_match(prompt)
        entry = self.script.responses[index]
        self._used.add(index)
        self.served.append(self._label(index))
        if entry.error is not None:
            err = entry.error
            raise ProviderError(
                kind=err.kind,
                message=err.message or f"scripted {err.kind} from {self._label(index)} in {self.path}",
                provider=self.name,
                status=err.status,
                retry_after=err.retry_after,
            )
        text = entry.text or ""
        usage = entry.usage or ScriptedUsage()
        return LlmResponse(
            text=text,
            usage=Usage(
                tokens_in=usage.tokens_in if usage.tokens_in is not None else len(prompt) // 4,
                tokens_out=usage.tokens_out if usage.tokens_out is not None else len(text) // 4,
                tokens_cached=usage.tokens_cached,
            ),
            stop_reason=entry.stop_reason,
            provider=self.name,
            model=request.model,
            raw_stop_reason=entry.stop_reason,
        )

    def _pick_sequence(self, prompt: str) -> int:
        entries = self.script.responses
        if self._next >= len(entries):
            raise self._exhausted()
        index = self._next
        entry = entries[index]
        if entry.match is not None and re.search(entry.match, prompt) is None:
            raise ProviderError(
                kind="bad_request",
                message=(
                    f"{self.path}: {self._label(index)} expects a prompt matching {entry.match!r}, "
                    f"but the prompt starts {prompt[:_SNIPPET]!r}; fix the script or the run"
                ),
                provider=self.name,
            )
        if not entry.repeat:
            self._next += 1
        return index

    def _pick_match(self, prompt: str) -> int:
        entries = self.script.responses
        usable = [i for i, e in enumerate(entries) if e.repeat or i not in self._used]
        if not usable:
            raise self._exhausted()
        for i in usable:
            pattern = entries[i].match
            if pattern is not None and re.search(pattern, prompt) is not None:
                return i
        for i in usable:
            if entries[i].default:
                return i
        raise ProviderError(
            kind="bad_request",
            message=(
                f"{self.path}: no unused entry matches the prompt (and no `default: true` entry is left); "
                f"the prompt starts {prompt[:_SNIPPET]!r}; add an entry for it"
            ),
            provider=self.name,
        )

    def _exhausted(self) -> ProviderError:
        return ProviderError(
            kind="bad_request",
            message=(
                f"script exhausted after {len(self.served)} responses: {self.path} has no response left "
                "for this call; add entries (or `repeat: true`) to the script"
            ),
            provider=self.name,
        )
