"""The debug journal: one Markdown story of a run, rendered from the run store.

Everything the executor did is already in the store (attempts and the append-only event log); this
module only reads it and tells it in order, phase by phase: each attempt with its error, the Doctor's
diagnoses, fixes, re-plans with their diffs, escalations, learned rules and how the phase ended.
Event kinds it does not know are listed generically, so new kinds never break the journal.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..fileio import atomic_write_text
from ..secrets import scrub
from ..store import AttemptRow, AttemptStatus, EventRow, PhaseRow, PhaseState, RunStore

MESSAGE_EXCERPT = 600
GATE_TAIL_LINES = 25

# Events the attempt rows already tell (or that only repeat a state the outcome line gives).
_QUIET = {"attempt_started", "attempt_finished", "attempt_interrupted"}


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _clock(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%H:%M:%S") if ts else "--:--:--"


def _excerpt(text: str | None, limit: int = MESSAGE_EXCERPT) -> str:
    t = (text or "").strip()
    return t if len(t) <= limit else t[:limit].rstrip() + f"… ({len(t) - limit} more characters)"


def _tail(text: str | None, lines: int = GATE_TAIL_LINES) -> str:
    rows = (text or "").rstrip().splitlines()
    if len(rows) <= lines:
        return "\n".join(rows)
    return f"… ({len(rows) - lines} earlier lines)\n" + "\n".join(rows[-lines:])


def fenced(text: str, lang: str = "") -> str:
    """A code block whose fence is longer than any backtick run inside, so nothing can close it early."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}"


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def _generic(kind: str, data: dict[str, Any]) -> str:
    if not data:
        return f"`{kind}`"
    parts = []
    for key, value in data.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        parts.append(f"{key}={_excerpt(_one_line(shown), 200)}")
    return f"`{kind}`: " + ", ".join(parts)


def _attempt_lines(att: AttemptRow) -> list[str]:
    head = f"**Attempt {att.number}** on `{att.model}` ({att.complexity}): **{att.outcome.value}**"
    if att.error_category:
        head += f" - {att.error_category}"
    out = [f"- {head}"]
    if att.message:
        msg = _excerpt(att.message)
        if "\n" in msg:
            out.append("  - message:\n\n" + _indent(fenced(msg), 4) + "\n")
        else:
            out.append(f"  - message: {msg}")
    if att.gate_tail:
        out.append("  - gate output (tail):\n\n" + _indent(fenced(_tail(att.gate_tail), "text"), 4) + "\n")
    return out


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + ln if ln else ln for ln in text.splitlines())


def _event_lines(ev: EventRow, attempts: dict[int, AttemptRow]) -> list[str]:
    """Markdown list lines for one event (the attempt events render the attempt row they close)."""
    kind, data = ev.kind, ev.data if isinstance(ev.data, dict) else {"value": ev.data}
    at = f"`{_clock(ev.created_at)}` "
    if kind in ("attempt_finished", "attempt_interrupted"):
        att = attempts.get(int(data.get("attempt", 0)))
        if att is None:
            return [f"- {at}{_generic(kind, data)}"]
        lines = _attempt_lines(att)
        lines[0] = f"- {at}" + lines[0][2:]
        return lines
    if kind == "attempt_started":
        att = attempts.get(int(data.get("attempt", 0)))
        if att is not None and att.outcome is AttemptStatus.RUNNING:  # no finish event will tell this one
            return [f"- {at}**Attempt {att.number}** on `{att.model}`: still running (or the process died)"]
        return []
    if kind == "doctor_diagnosis":
        conf = data.get("confidence")
        conf_txt = f", confidence {float(conf):.2f}" if isinstance(conf, (int, float)) else ""
        model = f" (`{data['model']}`)" if data.get("model") else ""
        if not data.get("action"):
            why = f": {_excerpt(_one_line(data['error']), 300)}" if data.get("error") else ""
            return [f"- {at}**Doctor**{model}: no usable diagnosis{why}"]
        out = [f"- {at}**Doctor**{model}: `{data['action']}`{conf_txt}"]
        if data.get("rationale"):
            out.append(f"  - rationale: {_excerpt(_one_line(data['rationale']))}")
        if data.get("hint"):
            out.append(f"  - hint: {_excerpt(_one_line(data['hint']))}")
        if data.get("commands"):
            out.append("  - commands: " + ", ".join(f"`{c}`" for c in data["commands"]))
        return out
    if kind == "phase_replanned":
        who = f" by {data['decided_by']}" if data.get("decided_by") else ""
        out = [f"- {at}**Re-plan** to revision {data.get('revision', '?')}{who}: {_one_line(data.get('reason', ''))}"]
        if data.get("diff"):
            out.append("\n" + _indent(fenced(str(data["diff"]), "diff"), 2) + "\n")
        return out
    if kind == "execute_fix":
        return [f"- {at}**Fix executed**", *_fix_lines(data)]
    if kind == "edits_inexact":
        edits = "; ".join(_one_line(str(e)) for e in data.get("edits", []))
        return [f"- {at}**Edits applied inexactly** (attempt {data.get('attempt', '?')}): {edits}"]
    if kind == "escalation":
        reason = f": {_one_line(data['reason'])}" if data.get("reason") else ""
        return [f"- {at}**Escalation** `{data.get('from', '?')}` -> `{data.get('to', '?')}`{reason}"]
    if kind == "rule_learned":
        return [f"- {at}**Rule learned** `{data.get('rule_id', '?')}`: {_one_line(data.get('text', ''))}"]
    if "state" in data and (kind == "phase_state" or kind.startswith("phase_")):
        rest = {k: v for k, v in data.items() if k != "state"}
        extra = f" ({_generic(kind, rest).split(': ', 1)[1]})" if rest else ""
        return [f"- {at}state -> **{data['state']}** `{kind}`{extra}"]
    return [f"- {at}{_generic(kind, data)}"]


def _fix_lines(data: dict[str, Any]) -> list[str]:
    """One line per command: outcomes are dicts (command, allowed, reason, exit_code, output) or text."""
    commands = list(data.get("commands") or [])
    outcomes = list(data.get("outcomes") or [])
    out = []
    for i in range(max(len(commands), len(outcomes))):
        result = outcomes[i] if i < len(outcomes) else None
        cmd = commands[i] if i < len(commands) else (result.get("command") if isinstance(result, dict) else None)
        line = f"  - `{cmd}`" if cmd else "  -"
        if isinstance(result, dict):
            rest = {k: v for k, v in result.items() if k != "command"}
            if rest.get("allowed") is False:
                line += f" refused: {_one_line(rest.get('reason') or 'not allowed')}"
            elif "exit_code" in rest:
                line += f" exit {rest['exit_code']}"
                if rest.get("reason"):
                    line += f" ({_one_line(rest['reason'])})"
            else:
                line += " " + _generic("result", rest).split(": ", 1)[-1]
            output = rest.get("output") or rest.get("stdout") or rest.get("stderr")
            if output:
                line += f": {_excerpt(_one_line(output), 200)}"
        elif result is not None:
            line += f": {_excerpt(_one_line(result), 200)}"
        out.append(line)
    return out or ["  - (no commands)"]


def _outcome_line(phase: PhaseRow, attempts: list[AttemptRow]) -> str:
    bits = [f"{len(attempts)} attempt{'s' if len(attempts) != 1 else ''}"]
    if phase.replans:
        bits.append(f"{phase.replans} re-plan{'s' if phase.replans != 1 else ''}")
    if phase.doctor_calls:
        bits.append(f"{phase.doctor_calls} Doctor call{'s' if phase.doctor_calls != 1 else ''}")
    if phase.commit_sha:
        bits.append(f"commit `{phase.commit_sha[:10]}`")
    if phase.model:
        bits.append(f"last model `{phase.model}`")
    return f"**Outcome: {phase.state.value}** ({', '.join(bits)})"


def render_journal(store: RunStore, run_id: str) -> str:
    """The run's debug journal as Markdown (raises ``StoreError`` for an unknown run id)."""
    run = store.require_run(run_id)
    phases = store.phases(run_id)
    all_attempts = store.attempts(run_id)
    events = store.events(run_id)
    totals = store.totals(run_id)
    done = sum(1 for p in phases if p.state is PhaseState.COMPLETE)
    outcomes = Counter(a.outcome.value for a in all_attempts)
    outcome_txt = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())) or "none"

    out = [f"# Debug journal: {run_id}", ""]
    status = run.status.value + (f" ({run.stop_reason})" if run.stop_reason else "")
    out += [
        f"- **Project:** {run.project}",
        f"- **Goal:** {_one_line(run.goal)}",
        f"- **Status:** {status}",
        f"- **Started:** {_when(run.created_at)}; **last update:** {_when(run.updated_at)}",
    ]
    if run.branch:
        out.append(f"- **Branch:** `{run.branch}`" + (f" from `{run.base_commit[:10]}`" if run.base_commit else ""))
    out.append(
        f"- **Totals:** {done}/{len(phases)} phases complete, {len(all_attempts)} attempts ({outcome_txt}), "
        f"{totals.calls} LLM calls, {totals.tokens_in} tokens in / {totals.tokens_out} out, "
        f"${float(totals.cost_usd):.4f}"
    )

    run_events = [e for e in events if e.phase_id is None]
    if run_events:
        out += ["", "## Run events", ""]
        for ev in run_events:
            out += _event_lines(ev, {})

    known = {p.phase_id for p in phases}
    for idx, phase in enumerate(phases, 1):
        pid = phase.phase_id
        atts = [a for a in all_attempts if a.phase_id == pid]
        by_number = {a.number: a for a in atts}
        out += ["", f"## Phase {idx}: {pid} - {phase.name}", ""]
        meta = f"complexity {phase.complexity}, revision {phase.revision}"
        if phase.hint:
            meta += f", hint: {_one_line(phase.hint)}"
        out += [f"_{meta}_", ""]
        body: list[str] = []
        shown: set[int] = set()
        for ev in events:
            if ev.phase_id != pid:
                continue
            if ev.kind in ("attempt_finished", "attempt_interrupted"):
                shown.add(int(ev.data.get("attempt", 0)))
            body += _event_lines(ev, by_number)
        # attempts whose events are missing (written by hand or by an older executor) are still told
        for att in atts:
            if att.number not in shown and att.outcome is not AttemptStatus.RUNNING:
                body += _attempt_lines(att)
        out += body or ["- nothing happened in this phase yet"]
        out += ["", _outcome_line(phase, atts)]

    orphans = [e for e in events if e.phase_id is not None and e.phase_id not in known]
    if orphans:
        out += ["", "## Events of phases no longer in the plan", ""]
        for ev in orphans:
            out += [f"- phase `{ev.phase_id}`: " + _generic(ev.kind, ev.data)]

    out += ["", f"**Final outcome:** run {status}, {done}/{len(phases)} phases complete.", ""]
    return "\n".join(out)


def write_journal(store: RunStore, run_id: str, path: Path) -> Path:
    """Render the journal and write it atomically (UTF-8) to ``path``; returns ``path``."""
    atomic_write_text(path, scrub(render_journal(store, run_id)))
    return path
