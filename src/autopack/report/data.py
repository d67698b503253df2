"""What the run report shows, read from the run store into plain dataclasses (no HTML here).

``build_report`` gathers a run's phases with their attempts (model, outcome, time, tokens, cost,
stored patch and gate output, the Auditor's verdict where the store has it), every recovery decision
(escalation, approach flaw, re-plan with its revision diff, Doctor diagnosis and action, fix commands
run or refused, set-up added, rollback, provider fallback) and the rules learned. Event kinds it does
not know are kept as plain notes, so a newer executor never breaks the report.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..layout import Layout
from ..store import RUN_BOUNDARY_EVENTS, CallRow, EventRow, ModelUsage, RunStore

# Events the report tells through other means (attempt rows, phase states, the timeline itself).
_SILENT = {
    "attempt_started",
    "attempt_finished",
    "attempt_interrupted",
    "phase_state",
    "phase_complete",
    "run_created",
    "workspace_ready",
    "run_finished",
    "checks_env",
    "http_500",
    "audit_verdict",
    "rule_learned",
}
# Decisions the recovery layer (or the Doctor, or a person) took about a phase or the run.
RECOVERY_KINDS = {
    "escalation",
    "approach_flaw",
    "phase_replanned",
    "replan_failed",
    "doctor_diagnosis",
    "doctor_failed",
    "execute_fix",
    "setup_added",
    "mode_switch",
    "run_rolled_back",
    "llm_fallback",
    "phase_requeued",
    "phase_skipped",
    "phase_waiting",
    "phase_fatal",
    "phase_failed",
}
_TERMINAL_PHASE_EVENTS = ("phase_complete", "phase_failed", "phase_skipped", "phase_fatal")


@dataclass(frozen=True)
class Item:
    """One line of a decision: a command and what became of it, an edit and how it was placed."""

    text: str
    outcome: str = ""
    tone: str = ""  # "good" | "bad" | "" (neutral)


@dataclass
class Decision:
    at: float
    phase_id: str | None
    kind: str
    title: str
    text: str = ""
    diff: str = ""
    items: list[Item] = field(default_factory=list)
    tone: str = "info"  # "info" | "warn" | "bad" | "good"

    @property
    def recovery(self) -> bool:
        return self.kind in RECOVERY_KINDS


@dataclass
class Verdict:
    """An Auditor's verdict on an attempt, as recorded (``audit_verdict`` events) or as far as known."""

    model: str
    approved: bool | None
    summary: str = ""
    issues: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class AttemptView:
    attempt_id: int
    number: int
    model: str
    complexity: str
    outcome: str
    category: str | None
    message: str
    patch: str
    gate_tail: str | None
    started: float
    finished: float | None
    calls: list[CallRow] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def duration_s(self) -> float | None:
        return None if self.finished is None else max(0.0, self.finished - self.started)

    @property
    def tokens_in(self) -> int:
        return sum(c.tokens_in for c in self.calls)

    @property
    def tokens_out(self) -> int:
        return sum(c.tokens_out for c in self.calls)

    @property
    def cost_usd(self) -> float:
        return sum(c.cost_usd for c in self.calls)

    @property
    def auditors(self) -> list[str]:
        return list(dict.fromkeys(c.model for c in self.calls if c.role == "auditor"))


@dataclass
class RuleView:
    rule_id: str
    text: str
    source: str
    phase_id: str | None
    at: float


@dataclass
class PhaseView:
    index: int
    phase_id: str
    name: str
    state: str
    complexity: str
    revision: int
    commit_sha: str | None
    description: str
    scope: list[str]
    checks: list[str]
    duration_s: float
    started: float | None
    ended: float | None
    outcome: str  # why it ended as it did (the last phase_complete/failed/skipped/fatal reason)
    attempts: list[AttemptView] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    calls: list[CallRow] = field(default_factory=list)  # every call of the phase, attempts' and the others'

    @property
    def tokens_in(self) -> int:
        return sum(c.tokens_in for c in self.calls)

    @property
    def tokens_out(self) -> int:
        return sum(c.tokens_out for c in self.calls)

    @property
    def cost_usd(self) -> float:
        return sum(c.cost_usd for c in self.calls)

    @property
    def needed_recovery(self) -> bool:
        return any(a.outcome != "approved" for a in self.attempts) or any(d.recovery for d in self.decisions)


@dataclass
class RunReport:
    run_id: str
    project: str
    goal: str
    status: str
    stop_reason: str | None
    branch: str | None
    base_commit: str | None
    project_dir: str | None
    home: Path
    home_flag: str  # " --home DIR" for the commands the report suggests, when the home is not the current directory
    created_at: float
    updated_at: float
    generated_at: float
    phases: list[PhaseView]
    decisions: list[Decision]  # every decision and note, in time order (the phases' ones too)
    rules: list[RuleView]
    models: list[ModelUsage]
    calls: int
    http_500: int
    idle: list[tuple[float, float]]  # spans when no executor ran (between a stop and the resume)

    @property
    def tokens_in(self) -> int:
        return sum(m.tokens_in for m in self.models)

    @property
    def tokens_out(self) -> int:
        return sum(m.tokens_out for m in self.models)

    @property
    def tokens_cached(self) -> int:
        return sum(m.tokens_cached for m in self.models)

    @property
    def cost_usd(self) -> float:
        return sum(m.cost_usd for m in self.models)

    @property
    def attempts(self) -> list[AttemptView]:
        return [a for p in self.phases for a in p.attempts]

    @property
    def active_s(self) -> float:
        return sum(p.duration_s for p in self.phases)

    @property
    def span(self) -> tuple[float, float]:
        """First and last moment anything in the timeline happened."""
        starts = [p.started for p in self.phases if p.started is not None]
        ends = [p.ended for p in self.phases if p.ended is not None]
        start = min(starts, default=self.created_at)
        return start, max(ends, default=start)


def build_report(store: RunStore, layout: Layout, run_id: str) -> RunReport:
    """Everything the report shows about ``run_id`` (``StoreError`` for an unknown run)."""
    run = store.require_run(run_id)
    specs = store.phase_specs(run_id)
    events = store.events(run_id)
    calls = store.llm_calls(run_id)
    durations = store.phase_durations(run_id)

    calls_by_attempt: dict[int, list[CallRow]] = {}
    calls_by_phase: dict[str, list[CallRow]] = {}
    for c in calls:
        if c.attempt_id is not None:
            calls_by_attempt.setdefault(c.attempt_id, []).append(c)
        if c.phase_id is not None:
            calls_by_phase.setdefault(c.phase_id, []).append(c)

    verdicts: dict[tuple[str, int], list[Verdict]] = {}
    first_seen: dict[str, float] = {}
    last_seen: dict[str, float] = {}
    outcome: dict[str, str] = {}
    decisions: list[Decision] = []
    rules: list[RuleView] = []
    boundaries: list[tuple[float, str]] = []
    for ev in events:
        pid, kind, data, at = ev.phase_id, ev.kind, ev.data, float(ev.created_at)
        data = data if isinstance(data, dict) else {"value": data}
        if pid is not None:
            first_seen.setdefault(pid, at)
            last_seen[pid] = at
            if kind in _TERMINAL_PHASE_EVENTS:
                outcome[pid] = str(data.get("reason") or "")
        else:
            if kind in RUN_BOUNDARY_EVENTS:
                boundaries.append((at, kind))
        if kind == "audit_verdict" and pid is not None:
            verdicts.setdefault((pid, int(data.get("attempt") or 0)), []).append(
                Verdict(
                    model=str(data.get("model") or "?"),
                    approved=bool(data["approved"]) if "approved" in data else None,
                    summary=str(data.get("summary") or ""),
                    issues=[i for i in data.get("issues") or [] if isinstance(i, dict)],
                )
            )
        if kind == "rule_learned":
            rules.append(
                RuleView(
                    str(data.get("rule_id") or "?"), str(data.get("text") or ""), str(data.get("source") or ""), pid, at
                )
            )
        decision = decision_for(kind, data, pid, at)
        if decision is not None:
            decisions.append(decision)

    attempts_by_phase: dict[str, list[AttemptView]] = {}
    for a in store.attempts(run_id):
        pid = a.phase_id
        view = AttemptView(
            attempt_id=a.attempt_id,
            number=a.number,
            model=a.model,
            complexity=a.complexity,
            outcome=a.outcome.value,
            category=a.error_category,
            message=a.message or "",
            patch=a.patch or "",
            gate_tail=a.gate_tail,
            started=float(a.started_at),
            finished=None if a.finished_at is None else float(a.finished_at),
            calls=calls_by_attempt.get(a.attempt_id, []),
            verdicts=verdicts.get((pid, a.number), []),
        )
        attempts_by_phase.setdefault(pid, []).append(view)

    by_phase_decisions: dict[str, list[Decision]] = {}
    for d in decisions:
        if d.phase_id is not None:
            by_phase_decisions.setdefault(d.phase_id, []).append(d)
    for r in rules:
        if r.phase_id is not None:
            by_phase_decisions.setdefault(r.phase_id, []).append(
                Decision(r.at, r.phase_id, "rule_learned", f"Rule learned {r.rule_id}", r.text, tone="good")
            )

    phases = []
    for i, p in enumerate(store.phases(run_id), 1):
        pid = p.phase_id
        spec = specs.get(pid, {})
        atts = attempts_by_phase.get(pid, [])
        ends = [x for x in [last_seen.get(pid), *[a.finished for a in atts]] if x is not None]
        starts = [x for x in [first_seen.get(pid), *[a.started for a in atts]] if x is not None]
        phases.append(
            PhaseView(
                index=i,
                phase_id=pid,
                name=p.name,
                state=p.state.value,
                complexity=p.complexity,
                revision=p.revision,
                commit_sha=p.commit_sha,
                description=str(spec.get("description") or ""),
                scope=[str(s) for s in spec.get("scope") or []],
                checks=[str(c) for c in spec.get("checks") or []],
                duration_s=durations.get(pid, 0.0),
                started=min(starts) if starts else None,
                ended=max(ends) if ends else None,
                outcome=outcome.get(pid, ""),
                attempts=atts,
                decisions=sorted(by_phase_decisions.get(pid, []), key=lambda d: d.at),
                calls=calls_by_phase.get(pid, []),
            )
        )

    return RunReport(
        run_id=run_id,
        project=run.project,
        goal=run.goal,
        status=run.status.value,
        stop_reason=run.stop_reason,
        branch=run.branch,
        base_commit=run.base_commit,
        project_dir=run.project_dir,
        home=layout.home,
        home_flag="" if layout.home == Path.cwd().resolve() else f" --home {shlex.quote(str(layout.home))}",
        created_at=float(run.created_at),
        updated_at=float(run.updated_at),
        generated_at=time.time(),
        phases=phases,
        decisions=decisions,
        rules=rules,
        models=store.usage_by_model(run_id),
        calls=len(calls),
        http_500=sum(1 for e in events if e.kind == "http_500"),
        idle=idle_spans(events, boundaries),
    )


def idle_spans(events: list[EventRow], boundaries: list[tuple[float, str]]) -> list[tuple[float, float]]:
    """When no executor ran: from the last event before each resume to the resume itself."""
    times = sorted(float(e.created_at) for e in events)
    spans = []
    for at, kind in boundaries:
        if kind != "run_resumed":
            continue
        before = [t for t in times if t < at]
        if before:
            spans.append((before[-1], at))
    return spans


def decision_for(kind: str, d: dict[str, Any], pid: str | None, at: float) -> Decision | None:
    """The decision (or note) an event stands for; None for the events told elsewhere."""
    if kind in _SILENT:
        return None
    s = _text
    if kind == "escalation":
        return Decision(
            at, pid, kind, f"Escalated {s(d.get('from'))} → {s(d.get('to'))}", s(d.get("reason")), tone="warn"
        )
    if kind == "approach_flaw":
        return Decision(at, pid, kind, f"Approach flaw detected ({s(d.get('kind'))})", s(d.get("reason")), tone="warn")
    if kind == "phase_replanned":
        who = f" by the {s(d.get('decided_by'))}" if d.get("decided_by") else ""
        return Decision(
            at,
            pid,
            kind,
            f"Re-planned to revision {s(d.get('revision'))}{who}",
            s(d.get("reason")),
            s(d.get("diff")),
            tone="warn",
        )
    if kind == "replan_failed":
        return Decision(at, pid, kind, "Re-plan failed", s(d.get("reason")), tone="bad")
    if kind == "doctor_diagnosis":
        model = f" ({s(d.get('model'))})" if d.get("model") else ""
        if not d.get("action"):
            return Decision(at, pid, kind, f"Doctor{model}: no usable diagnosis", s(d.get("error")), tone="bad")
        conf = d.get("confidence")
        conf_txt = f", confidence {float(conf):.2f}" if isinstance(conf, int | float) else ""
        text = s(d.get("rationale"))
        if d.get("hint"):
            text += f"\nHint: {s(d.get('hint'))}"
        items = [Item(s(c), "proposed") for c in d.get("commands") or []]
        items += [Item(s(c), "proposed set-up") for c in d.get("setup") or []]
        return Decision(at, pid, kind, f"Doctor{model}: {s(d.get('action'))}{conf_txt}", text, items=items, tone="warn")
    if kind == "doctor_failed":
        return Decision(at, pid, kind, "The Doctor could not be reached", s(d.get("reason")), tone="bad")
    if kind == "execute_fix":
        return Decision(
            at, pid, kind, "Fix commands", items=[_fix_item(o) for o in d.get("outcomes") or []], tone="warn"
        )
    if kind == "setup_added":
        items = [Item(s(c), "added", "good") for c in d.get("added") or []]
        items += [
            Item(s(r.get("command")), f"refused: {s(r.get('reason'))}", "bad")
            for r in d.get("refused") or []
            if isinstance(r, dict)
        ]
        return Decision(at, pid, kind, "Set-up commands from the Doctor", items=items, tone="warn")
    if kind == "mode_switch":
        return Decision(at, pid, kind, f"Edit mode switched to {s(d.get('to'))}", s(d.get("reason")), tone="warn")
    if kind == "run_rolled_back":
        kept = f"\nThe approved commits it took off are kept at {s(d.get('kept_as'))}" if d.get("kept_as") else ""
        return Decision(
            at, pid, kind, f"Run rolled back to {s(d.get('to'))[:10]}", s(d.get("rationale")) + kept, tone="bad"
        )
    if kind == "llm_fallback":
        return Decision(
            at, pid, kind, f"Provider fallback {s(d.get('from'))} → {s(d.get('to'))}", s(d.get("reason")), tone="warn"
        )
    if kind == "edits_inexact":
        items = [Item(s(e)) for e in d.get("edits") or []]
        return Decision(
            at, pid, kind, f"Edits placed by tolerant matching (attempt {s(d.get('attempt'))})", items=items
        )
    if kind == "phase_requeued":
        who = s(d.get("decided_by")) or "someone"
        return Decision(at, pid, kind, f"Queued again (by {who})", s(d.get("reason")), tone="warn")
    if kind == "phase_waiting":
        return Decision(
            at, pid, kind, "Not started", f"{s(d.get('reason'))}; it runs when the run resumes", tone="warn"
        )
    if kind in ("phase_skipped", "phase_fatal", "phase_failed"):
        title = {"phase_skipped": "Skipped", "phase_fatal": "Marked fatal", "phase_failed": "Failed"}[kind]
        return Decision(at, pid, kind, title, s(d.get("reason")), tone="bad")
    if kind == "warning":
        return Decision(at, pid, kind, "Warning", s(d.get("message")), tone="warn")
    if kind in ("run_stopped", "run_failed", "run_interrupted"):
        title = {"run_stopped": "Run stopped", "run_failed": "Run failed", "run_interrupted": "Run interrupted"}[kind]
        why = d.get("stop_reason") or d.get("error") or d.get("reason") or d.get("signal")
        return Decision(at, pid, kind, title, s(why), tone="bad")
    if kind == "run_resumed":
        return Decision(
            at, pid, kind, "Run resumed", f"{s(d.get('interrupted') or 0)} interrupted attempt(s) rolled back"
        )
    if kind == "run_merged":
        how = "squashed" if d.get("squash") else "merge commit"
        return Decision(
            at, pid, kind, f"Merged into {s(d.get('into'))}", f"{how} {s(d.get('commit'))[:10]}", tone="good"
        )
    rest = ", ".join(f"{k}={_text(v)[:120]}" for k, v in d.items() if k not in ("phase", "state"))
    return Decision(at, pid, kind, kind.replace("_", " ").capitalize(), rest)


def _fix_item(o: Any) -> Item:
    if not isinstance(o, dict):
        return Item(_text(o))
    cmd = _text(o.get("command"))
    if o.get("allowed") is False:
        return Item(cmd, f"refused: {_text(o.get('reason') or 'not allowed')}", "bad")
    code = o.get("exit_code")
    if code is None:
        return Item(cmd, f"not run: {_text(o.get('reason'))}" if o.get("reason") else "not run", "bad")
    output = _text(o.get("output") or "").strip()
    tail = f" — {output[-200:]}" if output else ""
    return Item(cmd, f"ran, exit {code}{tail}", "good" if code == 0 else "bad")


def _text(value: Any) -> str:
    return "" if value is None else str(value)
