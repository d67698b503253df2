"""The Auditor: reviews the diff, the gate result and the phase goal; returns a validated verdict.

Malformed JSON is retried once with the parse error fed back, then counted as a failure. A critical
issue rejects the change even when the model says ``approved: true``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .base import CallContext, Completer, JsonReplyError, assistant, extract_json_object, render, user

MAX_DIFF_CHARS = 60_000


class AuditIssue(BaseModel):
    model_config = ConfigDict(extra="ignore")
    severity: Literal["minor", "major", "critical"]
    message: str
    path: str | None = None
    # Set when the approach itself is wrong (e.g. wrong_tech_stack, schema_mismatch,
    # api_contract_wrong): the config's replan.fatal_error_types then re-plan the phase at once.
    category: str | None = None


class Verdict(BaseModel):
    model_config = ConfigDict(extra="ignore")
    approved: bool
    issues: list[AuditIssue] = Field(default_factory=list)
    summary: str = ""

    @property
    def accepted(self) -> bool:
        return self.approved and not any(i.severity == "critical" for i in self.issues)

    def fatal_category(self, fatal_types: list[str]) -> str | None:
        """The first issue category that calls for an immediate re-plan, if any."""
        return next((i.category for i in self.issues if i.category in fatal_types), None)

    def feedback(self) -> str:
        lines = [f"Auditor rejected the change: {self.summary}".rstrip()]
        for i in self.issues:
            where = f" ({i.path})" if i.path else ""
            lines.append(f"- [{i.severity}]{where} {i.message}")
        return "\n".join(lines)


@dataclass(frozen=True)
class AuditOutcome:
    verdict: Verdict | None  # None: the model never produced a valid verdict
    model: str
    error: str | None = None


class Auditor:
    def __init__(self, service: Completer, max_tokens: int = 2048) -> None:
        self.service = service
        self.max_tokens = max_tokens

    def review(
        self, *, model: str, phase_text: str, diff: str, gate_summary: str, gate_tail: str, ctx: CallContext,
        unchanged: str | None = None,
    ) -> AuditOutcome:
        """The verdict on one change. ``unchanged``: the Builder replied NO_CHANGES; its reason and the
        scope files as they are, for judging whether the phase is already done."""
        if len(diff) > MAX_DIFF_CHARS:
            diff = diff[:MAX_DIFF_CHARS] + f"\n[diff cut at {MAX_DIFF_CHARS} characters]"
        change = (
            f"\nDiff of the change:\n```diff\n{diff.rstrip()}\n```\n" if diff.strip()
            else "\nDiff of the change: (empty: nothing in the tree changed)\n"
        )
        prompt = (
            f"{phase_text.strip()}\n\nQuality gate: {gate_summary}\n"
            + (f"Gate output tail:\n```\n{gate_tail.strip()}\n```\n" if gate_tail.strip() else "")
            + change
            + (f"\n{unchanged.strip()}\n" if unchanged else "")
        )
        system = render("auditor_system.md")
        messages = [user(prompt)]
        error = ""
        used = model
        for _ in range(2):
            result = self.service.complete(
                role="auditor", model=model, system=system, messages=messages, max_tokens=self.max_tokens,
                json_mode=True, policy=ctx.policy, phase_id=ctx.phase_id, attempt_id=ctx.attempt_id,
            )
            used = result.model
            text = result.response.text
            try:
                return AuditOutcome(verdict=Verdict.model_validate(extract_json_object(text)), model=used)
            except (JsonReplyError, ValidationError) as exc:
                error = _short_error(exc)
                messages = [user(prompt), assistant(text or "(empty)"), user(
                    f"That reply is not a valid verdict: {error}. Reply again with only the JSON object."
                )]
        return AuditOutcome(verdict=None, model=used, error=f"auditor reply was not a valid verdict after a retry: {error}")


def _short_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
    return str(exc)
