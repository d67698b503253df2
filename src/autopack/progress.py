"""Live progress of a run, in three shapes: a rich live view on a terminal (a phase progress bar and a
status line under a scrolling log, each line coloured by its outcome), one plain line per event when
output is not a terminal, or JSON lines (``--json``) for scripts. The executor only calls
``Reporter.event``; what the user sees is decided here: ``describe`` gives every event kind a sentence.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TextIO

if TYPE_CHECKING:
    from rich.console import Console, RenderableType


class Reporter(Protocol):
    def event(self, kind: str, data: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


@dataclass
class RunView:
    """What the live view shows; updated from events."""

    total_phases: int = 0
    done_phases: int = 0  # complete or skipped
    phase_index: int = 0
    phase_id: str = ""
    step: str = "starting"
    model: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    cost_cap_usd: float | None = None
    simulated: bool = False  # --script / --replay: the costs are what the run would have cost
    started: float = field(default_factory=time.monotonic)
    last: str = ""

    def update(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "run_started":
            self.total_phases = int(data.get("phases", 0))
            self.done_phases = int(data.get("done") or 0)
            # a resumed run continues its counters from what the store recorded
            self.cost_usd = float(data.get("spent_usd") or 0.0)
            self.tokens_in = int(data.get("tokens_in") or 0)
            self.tokens_out = int(data.get("tokens_out") or 0)
            cap = data.get("cost_cap_usd")
            self.cost_cap_usd = None if cap is None else float(cap)
            self.simulated = bool(data.get("simulated"))
        elif kind == "phase_started":
            self.phase_index = int(data.get("index", 0))
            self.phase_id = str(data.get("phase", ""))
        elif kind == "step":
            self.step = str(data.get("step", ""))
            self.model = str(data.get("model", self.model) or self.model)
        elif kind == "llm_call":
            self.tokens_in += int(data.get("tokens_in", 0))
            self.tokens_out += int(data.get("tokens_out", 0))
            self.cost_usd += float(data.get("cost_usd", 0.0))
        elif kind in ("phase_complete", "phase_skipped"):
            self.done_phases = min(self.done_phases + 1, self.total_phases or self.done_phases + 1)
        if kind != "llm_call":
            self.last = describe(kind, data)

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        where = f"phase {self.phase_index}/{self.total_phases} {self.phase_id}".rstrip()
        parts = [
            where,
            self.step,
            self.model,
            f"tokens {self.tokens_in}/{self.tokens_out}",
            self.money(),
            f"{elapsed:.0f}s",
        ]
        return " | ".join(p for p in parts if p)

    def money(self) -> str:
        """``$spent / $cap``, marked simulated when the replies come from --script or --replay."""
        text = f"${self.cost_usd:.4f}" + (f" / ${self.cost_cap_usd:.2f}" if self.cost_cap_usd is not None else "")
        return text + (" simulated" if self.simulated else "")


def clip(text: Any, limit: int) -> str:
    """``text`` on one line, cut at a word boundary with an ellipsis when longer than ``limit``."""
    flat = " ".join(str(text or "").split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit + 1].rsplit(" ", 1)[0] if " " in flat[: limit + 1] else flat[:limit]
    return cut.rstrip(" ,;:.-") + "…"


def first_line(text: Any) -> str:
    """The first non-empty line of ``text``, plus the next when the first ends with ':' (a list follows)."""
    lines = [ln.strip() for ln in str(text or "").splitlines() if ln.strip()]
    if not lines:
        return ""
    if lines[0].endswith(":") and len(lines) > 1:
        return f"{lines[0]} {lines[1].lstrip('- ')}"
    return lines[0]


def _plural(n: Any, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _step(d: dict[str, Any]) -> str:
    step = str(d.get("step", ""))
    if d.get("note"):
        return f"  {d['note']}"
    if step == "building":
        return f"  building with {d.get('model')}" + (f" (attempt {d['attempt']})" if d.get("attempt") else "")
    if step == "applying":
        return f"  applying {_plural(d.get('edits', 0), 'edit')}"
    if step == "gating":
        if "setup" in d:
            return f"  running {_plural(d['setup'], 'set-up command')}"
        return f"  running {_plural(d.get('checks', 0), 'check')}"
    if step == "auditing":
        return "  the Auditor reviews the diff"
    if step == "committing":
        return "  committing the approved change"
    return f"  {step or 'working'}"


def _escalation(d: dict[str, Any]) -> str:
    frm, to = str(d.get("from", "")), str(d.get("to", ""))
    reason = str(d.get("reason") or "")
    head = reason.split(":", 1)[0].strip()
    # an intra-tier move's reason only repeats the two models ("failure on X: escalating ... to Y")
    why = "" if not head or head.startswith("failure on") else f" after {head}"
    return f"  escalating from {frm} to {to}{why}"


def _retry(d: dict[str, Any]) -> str:
    status, kind = d.get("status"), str(d.get("kind") or "error")
    what = f"HTTP {status}" if status else kind.replace("_", " ")
    return (
        f"  retrying {d.get('provider')} in {float(d.get('delay_seconds') or 0):.1f} s after {what}"
        f" (retry {d.get('retry')}): {clip(first_line(d.get('error')), 120)}"
    )


def _doctor(d: dict[str, Any]) -> str:
    conf = d.get("confidence")
    conf_txt = f" (confidence {float(conf):.2f})" if isinstance(conf, (int, float)) else ""
    return f"  the Doctor ({d.get('model')}) says {d.get('action')}{conf_txt}: {clip(d.get('rationale'), 200)}"


def _setup_added(d: dict[str, Any]) -> str:
    added = ", ".join(f"`{c}`" for c in d.get("added") or [])
    refused = "; ".join(f"`{r.get('command')}` ({r.get('reason')})" for r in d.get("refused") or [])
    parts = ([f"the Doctor added set-up {added}"] if added else []) + ([f"refused set-up {refused}"] if refused else [])
    return "  " + "; ".join(parts or ["the Doctor proposed no set-up"])


def _execute_fix(d: dict[str, Any]) -> str:
    if not d.get("allowed"):
        return f"  fix command `{d.get('command')}` refused: {d.get('reason')}"
    code = d.get("exit_code")
    return f"  fix command `{d.get('command')}` ran" + (f" (exit {code})" if code is not None else "")


def _run_started(d: dict[str, Any]) -> str:
    text = f"run {d.get('run_id')} started: {_plural(d.get('phases'), 'phase')} on branch {d.get('branch')}"
    if d.get("spent_usd"):
        text += f", ${float(d['spent_usd']):.4f} spent so far"
    if d.get("simulated"):
        text += " (model replies come from a script or recording: costs are simulated)"
    return text


def _phase_complete(d: dict[str, Any]) -> str:
    if d.get("attempt") is None:
        return f"  complete: {d.get('reason')}"
    return f"  complete on attempt {d.get('attempt')}: {d.get('gate')}; commit {str(d.get('commit', ''))[:10]}"


def _attempt(d: dict[str, Any]) -> str:
    text = f"  attempt {d.get('attempt')} {d.get('outcome')}"
    if d.get("error_category"):
        text += f" ({d['error_category']})"
    message = clip(first_line(d.get("message")), 200)
    return text + (f": {message}" if message else "")


def describe(kind: str, data: dict[str, Any]) -> str:
    """One human sentence for an event (every kind the executor, runner and service emit has one)."""
    d = data
    match kind:
        case "run_started":
            return _run_started(d)
        case "run_resumed":
            n = int(d.get("interrupted") or 0)
            return f"run {d.get('run_id')} resumed ({_plural(n, 'interrupted attempt')} rolled back)"
        case "run_finished":
            status = str(d.get("status", "")).lower()
            return f"run {status}" + (f": {d.get('reason')}" if d.get("reason") else "")
        case "checks_env":
            return f"checks run with {d.get('python') or 'no python on PATH'} ({d.get('source')})"
        case "plan_changed":
            return f"note: {d.get('note')}"
        case "config_changed":
            return f"warning: {d.get('message')}"
        case "warning":
            return f"warning: {d.get('message')}"
        case "phase_started":
            return f"phase {d.get('index')}/{d.get('total')} {d.get('phase')}: {d.get('name')}"
        case "step":
            return _step(d)
        case "attempt_finished":
            return _attempt(d)
        case "audit_verdict":
            said = "approved" if d.get("approved") else "rejected"
            issues = d.get("issues") or []
            extra = f" ({_plural(len(issues), 'issue')})" if issues else ""
            return f"  Auditor {d.get('model')} {said}{extra}: " + clip(str(d.get("summary") or ""), 200)
        case "edits_inexact":
            edits = d.get("edits") or []
            return f"  {_plural(len(edits), 'edit')} placed by tolerant matching: " + clip(
                "; ".join(map(str, edits)), 240
            )
        case "mode_switch":
            return f"  switching to {d.get('to')} edits: {d.get('reason')}"
        case "escalation":
            return _escalation(d)
        case "approach_flaw":
            return f"  the same kind of failure keeps coming back ({d.get('kind')}): {clip(d.get('reason'), 200)}"
        case "phase_replanned":
            return f"  re-planned the phase (revision {d.get('revision')}): {clip(first_line(d.get('reason')), 200)}"
        case "replan_failed":
            return f"  could not re-plan the phase: {clip(first_line(d.get('reason')), 200)}"
        case "doctor_diagnosis":
            return _doctor(d)
        case "doctor_failed":
            return f"  could not ask the Doctor: {clip(first_line(d.get('reason')), 200)}"
        case "setup_added":
            return _setup_added(d)
        case "execute_fix":
            return _execute_fix(d)
        case "run_rolled_back":
            return f"the Doctor rolled the run back to its start: {d.get('rationale')}"
        case "rule_learned":
            return f"  learned rule {d.get('rule_id')} ({d.get('source')}): {clip(d.get('text'), 200)}"
        case "rule_dropped":
            return f"  rule not kept ({d.get('reason')}): {clip(d.get('text'), 200)}"
        case "phase_complete":
            return _phase_complete(d)
        case "phase_failed":
            return f"  failed: {d.get('reason')}"
        case "phase_skipped":
            return f"  skipped: {d.get('reason')}"
        case "phase_waiting":
            return f"  not started: {d.get('reason')}; it runs when the same command resumes the run"
        case "phase_fatal":
            return f"  fatal: {d.get('reason')}"
        case "llm_retry":
            return _retry(d)
        case "llm_fallback":
            return f"  {d.get('to')} answers for {d.get('from')} ({d.get('model')}): {clip(first_line(d.get('reason')), 160)}"
        case "llm_cost_unknown":
            return f"  warning: {d.get('message')}"
        case "llm_call":
            return f"  {d.get('model')} answered: {d.get('tokens_in')}/{d.get('tokens_out')} tokens, ${float(d.get('cost_usd') or 0):.4f}"
        case _:
            return f"  {kind.replace('_', ' ')}" + (
                f": {clip(d.get('message') or d.get('reason'), 200)}" if d.get("message") or d.get("reason") else ""
            )


# Colours by outcome on a terminal: what went well, what failed, what changed course, what was left out.
_STYLES = {
    "phase_complete": "green",
    "phase_failed": "bold red",
    "phase_fatal": "bold red",
    "phase_skipped": "magenta",
    "phase_waiting": "magenta",
    "escalation": "yellow",
    "approach_flaw": "yellow",
    "phase_replanned": "yellow",
    "doctor_diagnosis": "cyan",
    "warning": "yellow",
    "config_changed": "yellow",
    "llm_cost_unknown": "yellow",
    "rule_learned": "blue",
    "phase_started": "bold",
}
_RUN_STYLES = {
    "COMPLETE": "bold green",
    "FAILED": "bold red",
    "PARTIAL": "bold magenta",
    "STOPPED": "bold yellow",
    "INTERRUPTED": "bold yellow",
}


def style_for(kind: str, data: dict[str, Any]) -> str | None:
    """The rich style of an event's line on a terminal (None: the default colour)."""
    if kind == "attempt_finished":
        return "red" if data.get("outcome") == "failed" else None
    if kind == "run_finished":
        return _RUN_STYLES.get(str(data.get("status")))
    return _STYLES.get(kind)


class _Repeats:
    """Lines that would say the same thing on every call (a provider without a key handing each call to
    the fallback) are shown once."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def first(self, kind: str, data: dict[str, Any]) -> bool:
        if kind != "llm_fallback":
            return True
        key = f"{data.get('from')}>{data.get('to')}>{first_line(data.get('reason'))}"
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


class PlainReporter:
    """One line per event (non-terminal output, CI logs)."""

    QUIET = {"llm_call"}

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.repeats = _Repeats()

    def event(self, kind: str, data: dict[str, Any]) -> None:
        if kind in self.QUIET or not self.repeats.first(kind, data):
            return
        try:
            self.out.write(describe(kind, data) + "\n")
            self.out.flush()
        except OSError as exc:  # a log file on a full disk: say which file (the error alone names none)
            name = getattr(self.out, "name", None)
            if exc.filename is None and isinstance(name, str) and not name.startswith("<"):
                raise OSError(exc.errno, exc.strerror, name) from exc
            raise

    def close(self) -> None:
        pass


class JsonReporter:
    """Events as JSON lines on stdout."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def event(self, kind: str, data: dict[str, Any]) -> None:
        self.out.write(json.dumps({"event": kind, "time": time.time(), **data}, ensure_ascii=False, default=str) + "\n")
        self.out.flush()

    def close(self) -> None:
        pass


class LiveReporter:
    """A rich live view (terminal only): a phase progress bar and a status line (phase, step, model,
    tokens, ``spent / cap``, time) under a scrolling log of coloured sentences."""

    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console
        from rich.live import Live

        self.view = RunView()
        self.repeats = _Repeats()
        self.console = console or Console(highlight=False)
        self.live = Live(_LiveView(self.view), console=self.console, refresh_per_second=4, transient=True)
        self.live.start()
        self._closed = False

    def event(self, kind: str, data: dict[str, Any]) -> None:
        from rich.text import Text

        self.view.update(kind, data)
        if kind in PlainReporter.QUIET or kind == "step" or not self.repeats.first(kind, data):
            return
        self.console.print(Text(describe(kind, data), style=style_for(kind, data) or ""))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.live.stop()


class _LiveView:
    """Rendered on every refresh, so the elapsed time moves during a long check too."""

    def __init__(self, view: RunView) -> None:
        self.view = view

    def __rich__(self) -> RenderableType:
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        v = self.view
        grid = Table.grid(padding=(0, 1))
        grid.add_row(
            ProgressBar(total=max(v.total_phases, 1), completed=v.done_phases, width=30),
            Text(f"{v.done_phases}/{v.total_phases} phases done", style="bold"),
        )
        bar = Table.grid()
        bar.add_row(grid)
        bar.add_row(Text(v.line(), style="bold cyan"))
        return bar


def make_reporter(json_mode: bool, out: TextIO | None = None) -> Reporter:
    stream = out or sys.stdout
    if json_mode:
        return JsonReporter(stream)
    if stream.isatty():
        return LiveReporter()
    return PlainReporter(stream)
