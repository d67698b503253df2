"""The Planner: drafts whole plans from a goal, revises one phase's approach mid-run (re-plan), and
words learned rules. Every reply is validated against the plan schema; a bad draft is sent back with
its validation errors.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import AutopackError
from ..plan import Phase, Plan
from .base import CallContext, Completer, ask_json, render


class PlannerError(AutopackError):
    pass


def draft_for_project(planner: Planner, *, model: str, goal: str, root: Path, project: str | None) -> Plan:
    """``autopack plan draft``: the Planner's plan for ``goal`` in the project at ``root``, shown up to
    300 of its file paths (hidden ones left out) and its README; ``project`` names it (default: the
    directory's name)."""
    files = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )[:300]
    readme = next((root / n for n in ("README.md", "README.rst", "README.txt", "README") if (root / n).is_file()), None)
    name = project or re.sub(r"[^A-Za-z0-9_.-]", "-", root.name) or "project"
    return planner.draft_plan(
        model=model,
        goal=goal,
        project=name,
        tree="\n".join(files),
        readme=readme.read_text(encoding="utf-8", errors="replace") if readme else "",
        ctx=CallContext(),
    )


def within(path: str, allowed: list[str]) -> bool:
    """A scope entry is allowed when it equals, or falls under, an allowed path or glob."""
    for a in allowed:
        a_dir = a.rstrip("/")
        if (
            path == a
            or fnmatch.fnmatch(path, a)
            or path.startswith(a_dir + "/")
            or fnmatch.fnmatch(path, a_dir + "/**")
        ):
            return True
    return False


def spec_diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    a = yaml.safe_dump(old, sort_keys=True, allow_unicode=True).splitlines(keepends=True)
    b = yaml.safe_dump(new, sort_keys=True, allow_unicode=True).splitlines(keepends=True)
    return "".join(difflib.unified_diff(a, b, "revision-before", "revision-after"))


class Planner:
    def __init__(self, service: Completer, max_tokens: int = 4096) -> None:
        self.service = service
        self.max_tokens = max_tokens

    def _json(self, model: str, prompt: str, ctx: CallContext, validate: Any, tries: int = 3) -> Any:
        answer = ask_json(
            self.service,
            role="planner",
            model=model,
            system=render("planner_system.md"),
            prompt=prompt,
            validate=validate,
            ctx=ctx,
            max_tokens=self.max_tokens,
            tries=tries,
            again="That reply is not valid: {error}\nFix it and reply with only the JSON object.",
        )
        if answer.value is None:
            raise PlannerError(f"the planner model ({model}) gave no valid reply after {tries} tries: {answer.error}")
        return answer.value

    def replan_phase(
        self,
        *,
        model: str,
        phase: Phase,
        failures: list[dict[str, Any]],
        allowed_paths: list[str],
        reason: str,
        ctx: CallContext,
    ) -> tuple[Phase, str]:
        """A revised phase (same id, name, category, complexity) and the rationale."""
        allowed = allowed_paths or list(dict.fromkeys(phase.scope + phase.context))
        prompt = (
            "A phase keeps failing in the same way: its approach must change.\n"
            f"Reason: {reason}\n\nCurrent phase:\n{json.dumps(phase.model_dump(exclude={'tier'}), indent=1, ensure_ascii=False)}\n\n"
            f"Recent failures:\n{json.dumps(failures, indent=1, ensure_ascii=False)}\n\n"
            f"Allowed paths for the scope: {allowed}\n"
            'Reply with {"description": str, "steps": [str], "scope": [str], "builder_mode": "diff|full_file|structured_edit", '
            '"rationale": str}. Describe a different approach that avoids the failure.'
        )
        holder: dict[str, str] = {}

        def validate(data: dict[str, Any]) -> Phase:
            scope = data.get("scope") or phase.scope
            bad = [s for s in scope if not within(str(s), allowed)]
            if bad:
                raise ValueError(f"scope {bad} is outside the allowed paths {allowed}")
            holder["rationale"] = str(data.get("rationale", ""))
            update = {
                "description": data["description"] if "description" in data else phase.description,
                "steps": data.get("steps") or [],
                "scope": scope,
                "builder_mode": data.get("builder_mode") or phase.builder_mode,
            }
            return Phase.model_validate({**phase.model_dump(), **update})

        revised = self._json(model, prompt, ctx, validate)
        return revised, holder.get("rationale", "")

    def draft_plan(self, *, model: str, goal: str, project: str, tree: str, readme: str, ctx: CallContext) -> Plan:
        prompt = (
            f"Goal: {goal}\nProject name: {project}\n\nProject files:\n{tree}\n\n"
            + (f"README:\n{readme[:8000]}\n\n" if readme else "")
            + 'Reply with a plan: {"project": str, "goal": str, "phases": [phase, ...]} with 2 to 8 small phases, '
            "each with real checks that run in the project directory."
        )
        return self._json(model, prompt, ctx, Plan.model_validate)

    def word_rule(self, *, model: str, category: str, message: str, fix_diff: str, ctx: CallContext) -> str:
        """One sentence that would have prevented the failure (the caller falls back if this fails)."""
        prompt = (
            f"A phase failed with a {category} error, then a later attempt fixed it.\nError: {message[:1500]}\n"
            f"Fix (diff):\n```diff\n{fix_diff[:4000]}\n```\n"
            'Reply with {"rule": "one imperative sentence a Builder should follow next time"}.'
        )

        def validate(data: dict[str, Any]) -> str:
            rule = str(data.get("rule", "")).strip()
            if not rule or len(rule) > 400:
                raise ValueError("'rule' must be one sentence under 400 characters")
            return rule

        result: str = self._json(model, prompt, ctx, validate, tries=1)
        return result
