"""Live progress of a run, in three shapes: a rich live view on a terminal, one plain line per event
when output is not a terminal, or JSON lines (``--json``) for scripts. The executor only calls
``Reporter.event``; what the user sees is decided here.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO


class Reporter(Protocol):
    def event(self, kind: str, data: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


@dataclass
class RunView:
    """What the live view shows; updated from events."""

    total_phases: int = 0
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
        if kind not in ("llm_call",):
            self.last = describe(kind, data)

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        return (
            f"phase {self.phase_index}/{self.total_phases} {self.phase_id} | {self.step} | {self.model} | "
            f"tokens {self.tokens_in}/{self.tokens_out} | {self.money()} | {elapsed:.0f}s"
        )

    def money(self) -> str:
        """``$spent / $cap``, marked simulated when the replies come from --script or --replay."""
        text = f"${self.cost_usd:.4f}" + (f" / ${self.cost_cap_usd:.2f}" if self.cost_cap_usd is not None else "")
        return text + (" simulated" if self.simulated else "")


def describe(kind: str, data: dict[str, Any]) -> str:
    """One human sentence for an event."""
    d = data
    match kind:
        case "run_started":
            return f"run {d.get('run_id')} started: {d.get('phases')} phases on branch {d.get('branch')}"
        case "edits_inexact":
            return "  applied inexactly: " + "; ".join(str(e) for e in d.get("edits", []))[:300]
        case "checks_env":
            return f"checks run with {d.get('python') or 'no python on PATH'} ({d.get('source')})"
        case "run_resumed":
            return f"run {d.get('run_id')} resumed ({d.get('interrupted', 0)} interrupted attempts rolled back)"
        case "phase_started":
            return f"phase {d.get('index')}/{d.get('total')} {d.get('phase')}: {d.get('name')}"
        case "step":
            return f"  {d.get('step')}" + (f" ({d.get('model')})" if d.get("model") else "") + (
                f": {d.get('note')}" if d.get("note") else ""
            )
        case "attempt_finished":
            extra = f" [{d.get('error_category')}] {str(d.get('message', ''))[:160]}" if d.get("error_category") else ""
            return f"  attempt {d.get('attempt')} {d.get('outcome')}{extra}"
        case "escalation":
            return f"  escalate {d.get('from')} -> {d.get('to')}: {d.get('reason')}"
        case "approach_flaw":
            return f"  approach flaw: {d.get('reason')}"
        case "phase_replanned":
            return f"  re-planned (revision {d.get('revision')}): {d.get('reason')}"
        case "doctor_diagnosis":
            return f"  doctor ({d.get('model')}): {d.get('action')} (confidence {d.get('confidence')}) {d.get('rationale', '')[:160]}"
        case "phase_complete":
            return f"  complete on attempt {d.get('attempt')}: {d.get('gate')}; commit {str(d.get('commit', ''))[:10]}"
        case "warning":
            return f"warning: {d.get('message')}"
        case "rule_learned":
            return f"  learned rule {d.get('rule_id')} ({d.get('source')}): {d.get('text')}"
        case "phase_failed" | "phase_skipped" | "phase_fatal":
            return f"  {kind.removeprefix('phase_')}: {d.get('reason')}"
        case "llm_fallback":
            return f"  fallback {d.get('from')} -> {d.get('to')}: {d.get('reason')}"
        case "run_finished":
            return f"run {d.get('status')}" + (f": {d.get('reason')}" if d.get("reason") else "")
        case _:
            return f"  {kind}: " + ", ".join(f"{k}={v}" for k, v in list(d.items())[:5])


class PlainReporter:
    """One line per event (non-terminal output, CI logs)."""

    QUIET = {"llm_call"}

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def event(self, kind: str, data: dict[str, Any]) -> None:
        if kind in self.QUIET:
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
    """A rich live status line under a scrolling log of events (terminal only)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live
        from rich.text import Text

        view = self.view = RunView()

        class _Line:
            # Rendered on every refresh, so the elapsed time moves during a long check too.
            def __rich__(self) -> Text:
                return Text(view.line(), style="bold cyan")

        self.console = Console(highlight=False)
        self.live = Live(_Line(), console=self.console, refresh_per_second=4, transient=True)
        self.live.start()

    def event(self, kind: str, data: dict[str, Any]) -> None:
        self.view.update(kind, data)
        if kind not in PlainReporter.QUIET and kind != "step":
            self.console.print(describe(kind, data), markup=False)

    def close(self) -> None:
        self.live.stop()


def make_reporter(json_mode: bool, out: TextIO | None = None) -> Reporter:
    stream = out or sys.stdout
    if json_mode:
        return JsonReporter(stream)
    if stream.isatty():
        return LiveReporter()
    return PlainReporter(stream)
