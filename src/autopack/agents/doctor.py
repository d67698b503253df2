"""The Doctor: diagnoses a failing phase and picks one recovery action.

Routing: the cheap model by default; the strong one for high-risk error categories or a health budget
near its limit, or when the cheap answer's confidence is below ``min_confidence_for_cheap`` (then the
strong model is asked and its answer used). The executor enforces the per-phase and per-run budgets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..config import Config
from .auditor import _first, _word
from .base import CallContext, Completer, ask_json, render

Action = Literal["retry_with_fix", "replan", "skip_phase", "mark_fatal", "rollback_run", "execute_fix"]
# The other words models use for an action.
ACTIONS = {
    "retry": "retry_with_fix",
    "retry_with_hint": "retry_with_fix",
    "fix": "retry_with_fix",
    "retry_fix": "retry_with_fix",
    "re_plan": "replan",
    "replan_phase": "replan",
    "revise": "replan",
    "skip": "skip_phase",
    "mark_as_fatal": "mark_fatal",
    "fatal": "mark_fatal",
    "abort": "mark_fatal",
    "rollback": "rollback_run",
    "roll_back": "rollback_run",
    "roll_back_run": "rollback_run",
    "execute": "execute_fix",
    "run_commands": "execute_fix",
    "execute_commands": "execute_fix",
}
CONFIDENCE_WORDS = {"very_high": 0.95, "high": 0.85, "medium": 0.6, "moderate": 0.6, "low": 0.3, "very_low": 0.1}


def _confidence(value: Any) -> Any:
    """0..1 from what models write: 0.85, 85, "85%", "0.85", "high"."""
    if isinstance(value, str):
        word = _word(value)
        if word in CONFIDENCE_WORDS:
            return CONFIDENCE_WORDS[word]
        try:
            value = float(word.rstrip("%"))
        except ValueError:
            return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 < value <= 100:
        return value / 100
    return value


def _commands(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    return value


class Diagnosis(BaseModel):
    model_config = ConfigDict(extra="ignore")
    action: Action
    confidence: float = Field(ge=0, le=1)
    rationale: str
    hint: str | None = None
    commands: list[str] = Field(default_factory=list)
    setup: list[str] = Field(
        default_factory=list, description="with retry_with_fix: commands to add to the phase's setup"
    )

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        data = dict(value)
        action = _first(data, "action", "recovery_action", "decision")
        if action is not None:
            data["action"] = ACTIONS.get(_word(action), _word(action))
        data["confidence"] = _confidence(data.get("confidence"))
        rationale = _first(data, "rationale", "reason", "explanation", "diagnosis")
        data["rationale"] = "" if rationale is None else str(rationale)
        hint = data.get("hint")
        data["hint"] = "\n".join(map(str, hint)) if isinstance(hint, list) else hint
        data["commands"] = _commands(data.get("commands"))
        data["setup"] = _commands(data.get("setup"))
        return data


@dataclass
class DoctorRequest:
    """The compact evidence the Doctor sees."""

    phase: dict[str, Any]
    attempts: list[dict[str, Any]]  # number, model, outcome, error_category, normalized message
    last_patch: str
    gate_tail: str
    budget: dict[str, Any]
    budget_near_limit: bool
    execute_fix_enabled: bool = False
    unavailable: dict[str, str] = field(default_factory=dict)  # action -> why it cannot be taken now
    hints_given: list[str] = field(default_factory=list)  # the phase's earlier retry_with_fix hints

    def render(self) -> str:
        patch = self.last_patch if len(self.last_patch) < 6000 else self.last_patch[:6000] + "\n[patch cut]"
        tail = self.gate_tail[-4000:]
        return (
            "Phase:\n"
            + json.dumps(self.phase, indent=1, ensure_ascii=False)
            + "\n\nAttempts so far:\n"
            + json.dumps(self.attempts, indent=1, ensure_ascii=False)
            + f"\n\nLast patch:\n```diff\n{patch}\n```\n\nGate output tail:\n```\n{tail}\n```\n"
            + "\nRun health budget:\n"
            + json.dumps(self.budget, ensure_ascii=False)
            + (" (NEAR ITS LIMIT)" if self.budget_near_limit else "")
            + "\n"
            + "".join(f"\nNot available now, do not choose it: {a} ({why})" for a, why in self.unavailable.items())
            + (
                "\n\nHints already given for this phase (the attempts above had them; a new hint must say something "
                "else):\n" + "\n".join(f"- {h}" for h in self.hints_given)
                if self.hints_given
                else ""
            )
            + ("\n" if self.unavailable or self.hints_given else "")
        )


@dataclass
class DoctorResult:
    diagnosis: Diagnosis | None
    model: str
    calls: int
    escalated: bool
    reasons: list[str] = field(default_factory=list)
    error: str | None = None


class Doctor:
    def __init__(self, service: Completer, config: Config, max_tokens: int = 1500) -> None:
        self.service = service
        self.config = config
        self.max_tokens = max_tokens

    def choose_model(self, request: DoctorRequest) -> tuple[str, str]:
        dm = self.config.doctor_models
        from ..recovery.categories import is_high_risk

        risky = [str(a["error_category"]) for a in request.attempts if a.get("error_category")]
        if any(is_high_risk(c, dm.high_risk_categories) for c in risky):
            return dm.strong, "high-risk error category"
        phase_category = str(request.phase.get("category", ""))
        if phase_category and is_high_risk(phase_category, dm.high_risk_categories):
            return dm.strong, f"high-risk phase category {phase_category!r}"
        if request.budget_near_limit:
            return dm.strong, "health budget near its limit"
        return dm.cheap, "routine failure"

    def _ask(self, model: str, request: DoctorRequest, ctx: CallContext) -> tuple[Diagnosis | None, str, str | None]:
        note = "enabled." if request.execute_fix_enabled else "it is DISABLED in this run, do not choose it."
        system = render("doctor_system.md", execute_fix_note=note)
        answer = ask_json(
            self.service,
            role="doctor",
            model=model,
            system=system,
            prompt=request.render(),
            validate=Diagnosis.model_validate,
            ctx=ctx,
            max_tokens=self.max_tokens,
            tries=2,
            again="That is not a valid diagnosis: {error}. Reply with only the JSON object.",
        )
        return answer.value, answer.model, answer.error

    def diagnose(self, request: DoctorRequest, ctx: CallContext) -> DoctorResult:
        dm = self.config.doctor_models
        model, why = self.choose_model(request)
        diag, used, error = self._ask(model, request, ctx)
        calls, escalated, reasons = 1, model == dm.strong, [f"{model}: {why}"]
        if model != dm.strong and (diag is None or diag.confidence < dm.min_confidence_for_cheap):
            reason = (
                "no valid answer"
                if diag is None
                else f"confidence {diag.confidence:.2f} < {dm.min_confidence_for_cheap}"
            )
            reasons.append(f"{dm.strong}: cheap model's {reason}")
            strong, used2, error2 = self._ask(dm.strong, request, ctx)
            calls += 1
            escalated = True
            if strong is not None:
                diag, used, error = strong, used2, None
            elif diag is None:
                used, error = used2, error2
        return DoctorResult(diagnosis=diag, model=used, calls=calls, escalated=escalated, reasons=reasons, error=error)
