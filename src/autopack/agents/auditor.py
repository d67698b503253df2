"""The Auditor: reviews the diff, the gate result and the phase goal; returns a validated verdict.

The verdict is read strictly but kindly: the object wherever it is in the reply, common JSON slips
repaired (``base.repair_json``), and the words models use normalised (severity "Major", "high",
"warning"; approved "yes"; an issue given as a plain string). A reply that still is no verdict is
sent back once with the error; then another model is asked (``fallback_models``), so a change that
passed its checks is never thrown away because one model's JSON did not parse. A critical issue
rejects the change even when the model says ``approved: true``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import CallContext, Completer, ask_json, render

MAX_DIFF_CHARS = 60_000
MAX_AUDITORS = 2  # models asked for one verdict: the phase's Auditor, then one other

# The words models use for a severity, mapped to the contract's three.
SEVERITIES = {
    **dict.fromkeys(
        [
            "minor",
            "low",
            "info",
            "informational",
            "nit",
            "nitpick",
            "trivial",
            "warning",
            "warn",
            "suggestion",
            "note",
            "style",
            "cosmetic",
            "optional",
        ],
        "minor",
    ),
    **dict.fromkeys(["major", "medium", "moderate", "high", "error", "important", "significant", "serious"], "major"),
    **dict.fromkeys(["critical", "blocker", "blocking", "fatal", "severe", "showstopper", "must_fix"], "critical"),
}
_YES = {"true", "yes", "y", "approve", "approved", "accept", "accepted", "lgtm", "pass", "passed", "ok"}
_NO = {
    "false",
    "no",
    "n",
    "reject",
    "rejected",
    "deny",
    "denied",
    "fail",
    "failed",
    "changes_requested",
    "request_changes",
    "needs_changes",
}


def _word(value: Any) -> str:
    return "_".join(str(value).strip().lower().replace("-", " ").split())


def _first(data: dict[str, Any], *names: str) -> Any:
    return next((data[n] for n in names if data.get(n) is not None), None)


class AuditIssue(BaseModel):
    model_config = ConfigDict(extra="ignore")
    severity: Literal["minor", "major", "critical"]
    message: str
    path: str | None = None
    # Set when the approach itself is wrong (e.g. wrong_tech_stack, schema_mismatch,
    # api_contract_wrong): the config's replan.fatal_error_types then re-plan the phase at once.
    category: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> Any:
        if isinstance(value, str):  # an issue written as a sentence
            return {"severity": "minor", "message": value}
        if not isinstance(value, dict):
            return value
        data = dict(value)
        severity = _first(data, "severity", "level", "priority")
        data["severity"] = SEVERITIES.get(_word(severity), severity) if severity is not None else "minor"
        data["message"] = _first(data, "message", "description", "issue", "text", "detail", "details", "comment")
        data["path"] = _first(data, "path", "file", "filename", "location")
        if data["path"] is not None:
            data["path"] = str(data["path"])
        if data.get("category") is not None:
            data["category"] = _word(data["category"])
        return data


class Verdict(BaseModel):
    model_config = ConfigDict(extra="ignore")
    approved: bool
    issues: list[AuditIssue] = Field(default_factory=list)
    summary: str = ""

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        data = dict(value)
        approved = _first(data, "approved", "approve", "verdict", "decision", "status", "accepted")
        if isinstance(approved, str) and _word(approved) in _YES | _NO:
            approved = _word(approved) in _YES
        data["approved"] = approved
        issues = data.get("issues")
        data["issues"] = [] if issues is None else [issues] if isinstance(issues, dict | str) else issues
        summary = _first(data, "summary", "reason", "rationale", "comment", "explanation")
        data["summary"] = "" if summary is None else str(summary)
        return data

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
        self,
        *,
        model: str,
        phase_text: str,
        diff: str,
        gate_summary: str,
        gate_tail: str,
        ctx: CallContext,
        unchanged: str | None = None,
        fallback_models: Sequence[str] = (),
    ) -> AuditOutcome:
        """The verdict on one change. ``unchanged``: the Builder replied NO_CHANGES; its reason and the
        scope files as they are, for judging whether the phase is already done. ``fallback_models``:
        asked in turn when ``model`` gives no valid verdict, even after being told what was wrong."""
        if len(diff) > MAX_DIFF_CHARS:
            diff = diff[:MAX_DIFF_CHARS] + f"\n[diff cut at {MAX_DIFF_CHARS} characters]"
        change = (
            f"\nDiff of the change:\n```diff\n{diff.rstrip()}\n```\n"
            if diff.strip()
            else "\nDiff of the change: (empty: nothing in the tree changed)\n"
        )
        prompt = (
            f"{phase_text.strip()}\n\nQuality gate: {gate_summary}\n"
            + (f"Gate output tail:\n```\n{gate_tail.strip()}\n```\n" if gate_tail.strip() else "")
            + change
            + (f"\n{unchanged.strip()}\n" if unchanged else "")
        )
        system = render("auditor_system.md")
        errors: list[str] = []
        used = model
        models = list(dict.fromkeys([model, *fallback_models]))[:MAX_AUDITORS]
        for current in models:
            answer = ask_json(
                self.service,
                role="auditor",
                model=current,
                system=system,
                prompt=prompt,
                validate=Verdict.model_validate,
                ctx=ctx,
                max_tokens=self.max_tokens,
                tries=2,  # the reply, then once more with what was wrong with it
                again="That reply is not a valid verdict: {error}. Reply again with only the JSON object.",
            )
            used = answer.model
            if answer.value is not None:
                return AuditOutcome(verdict=answer.value, model=used)
            errors.append(f"{current}: {answer.error}")
        return AuditOutcome(
            verdict=None, model=used, error="no valid verdict (each model asked twice): " + "; ".join(errors)
        )
