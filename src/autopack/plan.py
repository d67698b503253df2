"""Run plans: a goal split into ordered phases, loaded from YAML (or JSON) into pydantic models.

Validation catches what would otherwise fail mid-run: duplicate phase ids, unknown or cyclic
``depends_on``, scope paths that leave the project, unknown keys. Errors name file, key path, line.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .config import CheckCommand, Config, provider_for_model
from .errors import PlanError
from .layout import MAX_ID_LENGTH
from .yamlfile import format_loc, line_for, validate_file

BuilderMode = Literal["diff", "full_file", "structured_edit"]


def check_relative_path(value: str) -> str:
    """A project-relative path or glob: no absolute paths, no drive letters, no ``..``."""
    v = value.strip().replace("\\", "/")
    if not v:
        raise ValueError("empty path")
    if v.startswith("/") or (len(v) > 1 and v[1] == ":"):
        raise ValueError(f"{value!r} is absolute; use a path relative to the project directory")
    if ".." in PurePosixPath(v).parts:
        raise ValueError(f"{value!r} leaves the project directory ('..' is not allowed)")
    if PurePosixPath(v).parts[:1] == (".git",):
        raise ValueError(f"{value!r} points into .git/, which autopack never edits")
    return v


class Phase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        max_length=MAX_ID_LENGTH,
        description="unique id, used in commits and log names",
    )
    name: str
    description: str = Field(description="what the Builder must do in this phase")
    category: str = Field("feature", description="selects routing policy, dual audit and rules")
    complexity: Literal["low", "medium", "high"] = "low"
    scope: list[str] = Field(min_length=1, description="files or globs the phase may change")
    context: list[str] = Field(default_factory=list, description="read-only files shown to the model")
    checks: list[CheckCommand] = Field(default_factory=list, description="acceptance commands run in the project dir")
    setup: list[CheckCommand] = Field(
        default_factory=list,
        description="commands run in the project's environment before the checks, on every attempt (e.g. pip install -e .)",
    )
    builder_mode: BuilderMode = "structured_edit"
    depends_on: list[str] = Field(default_factory=list)
    allow_mass_deletion: bool = Field(
        False, description="let replies delete or shrink most of a file or of the phase scope"
    )
    may_remove: list[str] = Field(
        default_factory=list,
        description="top-level definitions this phase may delete (the dropped-definition guard allows them)",
    )
    steps: list[str] = Field(default_factory=list, description="optional ordered steps for the Builder")
    tier: str | None = Field(None, description="filled from the enclosing tier, if any")

    @field_validator("scope", "context")
    @classmethod
    def _relative(cls, paths: list[str]) -> list[str]:
        return [check_relative_path(p) for p in paths]


class Tier(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    phases: list[Phase] = Field(min_length=1)


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        max_length=MAX_ID_LENGTH,
        description="runtime data goes to .autonomous_runs/<project>/",
    )
    goal: str
    phases: list[Phase] = Field(default_factory=list)
    tiers: list[Tier] = Field(default_factory=list, description="optional groups of phases, run in order")
    allowed_paths: list[str] = Field(default_factory=list, description="where a re-plan may move a phase's scope")
    default_checks: list[CheckCommand] = Field(default_factory=list, description="checks run after every phase")
    setup: list[CheckCommand] = Field(
        default_factory=list,
        description="commands run before every phase's own setup and checks (e.g. pip install -e .)",
    )

    @field_validator("allowed_paths")
    @classmethod
    def _relative(cls, paths: list[str]) -> list[str]:
        return [check_relative_path(p) for p in paths]

    @model_validator(mode="after")
    def _graph(self, info: ValidationInfo) -> Plan:
        ctx = info.context or {}
        lines = ctx.get("lines", {})
        path = ctx.get("path", "plan")
        if self.tiers and self.phases:
            raise ValueError("use either top-level 'phases' or 'tiers', not both")
        if not self.tiers and not self.phases:
            raise ValueError("the plan has no phases")

        def where(loc: tuple[str | int, ...]) -> str:
            line = line_for(lines, loc)
            return f"{path}:{line}: {format_loc(loc)}" if line else f"{path}: {format_loc(loc)}"

        locs: dict[str, tuple[str | int, ...]] = {}
        problems: list[str] = []
        for loc, phase in self._located():
            if phase.id in locs:
                problems.append(
                    f"{where((*loc, 'id'))}: duplicate phase id {phase.id!r} (first at {format_loc(locs[phase.id])})"
                )
            else:
                locs[phase.id] = loc
        for loc, phase in self._located():
            for i, dep in enumerate(phase.depends_on):
                if dep not in locs:
                    problems.append(f"{where((*loc, 'depends_on', i))}: unknown phase {dep!r} in depends_on")
        cycle = self._find_cycle()
        if cycle:
            problems.append(f"{where((*locs[cycle[0]], 'depends_on'))}: cyclic depends_on: {' -> '.join(cycle)}")
        if problems:
            raise PlanError("invalid plan:\n  " + "\n  ".join(problems))
        return self

    def _located(self) -> list[tuple[tuple[str | int, ...], Phase]]:
        if self.tiers:
            return [
                (("tiers", t, "phases", i), p) for t, tier in enumerate(self.tiers) for i, p in enumerate(tier.phases)
            ]
        return [(("phases", i), p) for i, p in enumerate(self.phases)]

    def _find_cycle(self) -> list[str] | None:
        deps = {p.id: p.depends_on for _, p in self._located()}
        state: dict[str, int] = {}
        stack: list[str] = []

        def visit(node: str) -> list[str] | None:
            state[node] = 1
            stack.append(node)
            for nxt in deps.get(node, []):
                if state.get(nxt) == 1:
                    return stack[stack.index(nxt) :] + [nxt]
                if nxt in deps and state.get(nxt) is None:
                    found = visit(nxt)
                    if found:
                        return found
            stack.pop()
            state[node] = 2
            return None

        for node in deps:
            if state.get(node) is None:
                found = visit(node)
                if found:
                    return found
        return None

    def all_phases(self) -> list[Phase]:
        """Phases in execution order: tier by tier, then a stable topological order by depends_on."""
        ordered: list[Phase] = []
        if self.tiers:
            for tier in self.tiers:
                ordered.extend(p.model_copy(update={"tier": tier.name}) for p in tier.phases)
        else:
            ordered = list(self.phases)
        done: set[str] = set()
        out: list[Phase] = []
        pending = list(ordered)
        while pending:
            for i, p in enumerate(pending):
                if all(d in done for d in p.depends_on):
                    out.append(p)
                    done.add(p.id)
                    pending.pop(i)
                    break
            else:  # unreachable after validation (no cycles)
                raise PlanError("cyclic depends_on")
        return out

    def phase(self, phase_id: str) -> Phase:
        for p in self.all_phases():
            if p.id == phase_id:
                return p
        raise PlanError(f"no phase {phase_id!r} in plan {self.project!r}")


def load_plan(path: Path) -> Plan:
    try:
        return validate_file(Plan, path, PlanError, "plan")
    except PlanError:
        raise
    except ValueError as exc:  # pragma: no cover - pydantic wraps these
        raise PlanError(f"{path}: {exc}") from None


def plan_from_json(text: str) -> Plan:
    """A plan stored in the run store (already validated once)."""
    data: dict[str, Any] = json.loads(text)
    return Plan.model_validate(data)


def check_plan_models(plan: Plan, config: Config) -> list[str]:
    """Problems that would stop a run mid-way: unroutable or unpriced models the plan can reach (every
    role and fallback, see ``preflight.reachable_models``), each named once with the keys that use it."""
    from .preflight import RoleModel, fallback_landings, reachable_models

    uses = [
        *reachable_models({p.complexity for p in plan.all_phases()}, config),
        *fallback_landings(config),
        RoleModel("Planner (plan draft)", "routing.planner_model", config.routing.planner_model),
    ]
    keys: dict[str, list[str]] = {}
    for rm in uses:
        keys.setdefault(rm.model, []).append(rm.key)
    problems = []
    for m in keys:
        try:
            provider_for_model(m, config)
        except ValueError as exc:
            problems.append(f"{exc} (used by {', '.join(dict.fromkeys(keys[m]))})")
    for m in config.unpriced_models(list(keys)):
        problems.append(
            f"model {m!r} has no price in the config's 'models' section (used by {', '.join(dict.fromkeys(keys[m]))}); "
            "add its input/output price per million tokens, or mark it `free`, so the run's cost cap can count it"
        )
    return problems


def write_drafted_plan(plan: Plan, path: Path) -> None:
    """Write a drafted ``plan`` as YAML (only what differs from the defaults), with a first line that
    says to review it; atomically, so a failed write leaves any old file as it was."""
    import yaml

    from .fileio import atomic_write_text

    data = plan.model_dump(exclude_defaults=True, exclude={"phases": {"__all__": {"tier"}}})
    atomic_write_text(
        path,
        "# drafted by `autopack plan draft`; review before `autopack run`\n"
        + yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
    )
