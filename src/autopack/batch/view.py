"""What a batch shows while it runs: a live table of its runs on a terminal (state, phase, step, cost,
provider waits, time), one line per change when output is not a terminal, or JSON lines (``--json``:
the batch's own events and every run's events, each tagged with its ``run_id``). The tables of the
end and of ``autopack batch status`` are drawn here too.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TextIO

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table

STATE_STYLES = {
    "COMPLETE": "green",
    "PARTIAL": "magenta",
    "FAILED": "bold red",
    "ERROR": "bold red",
    "STOPPED": "yellow",
    "INTERRUPTED": "yellow",
    "RUNNING": "cyan",
    "PENDING": "dim",
}


@dataclass
class RunLine:
    """One run as the batch sees it, updated from its events."""

    run_id: str
    source: str = ""
    state: str = "PENDING"
    phase: str = ""
    phase_index: int = 0
    step: str = ""
    phases_done: int = 0
    phases_total: int = 0
    cost_usd: float = 0.0
    cost_cap_usd: float | None = None
    simulated: bool = False
    waits: int = 0
    waited_s: float = 0.0
    rate_limited: int = 0  # HTTP 429 answers the run saw
    worker: str = ""
    message: str = ""
    started: float | None = None  # time.monotonic() when it started here
    elapsed_s: float = 0.0

    def apply(self, event: dict[str, Any]) -> None:
        kind = str(event.get("event", ""))
        if kind == "run_started":
            self.phases_total = int(event.get("phases") or 0)
            self.phases_done = int(event.get("done") or 0)
            self.cost_usd = float(event.get("spent_usd") or 0.0)
            self.simulated = bool(event.get("simulated"))
        elif kind == "phase_started":
            self.phase_index = int(event.get("index") or 0)
            self.phase = str(event.get("phase") or "")
            self.step = ""
        elif kind == "step":
            self.step = str(event.get("step") or "")
        elif kind == "llm_call":
            self.cost_usd += float(event.get("cost_usd") or 0.0)
        elif kind in ("phase_complete", "phase_skipped"):
            self.phases_done = min(self.phases_done + 1, self.phases_total or self.phases_done + 1)
        elif kind == "provider_wait":
            self.waits += 1
            self.waited_s += float(event.get("waited_s") or 0.0)
            self.step = f"waited {float(event.get('waited_s') or 0):.1f}s for {event.get('provider')}"
        elif kind == "llm_retry" and (event.get("status") == 429 or event.get("kind") == "rate_limit"):
            self.rate_limited += 1
        elif kind == "run_finished":
            self.step = str(event.get("status") or "").lower()

    def time_s(self) -> float:
        if self.started is not None and self.state == "RUNNING":
            return time.monotonic() - self.started
        return self.elapsed_s

    def where(self) -> str:
        if self.state == "RUNNING" and self.phase:
            return f"{self.phase_index}/{self.phases_total} {self.phase}"
        return f"{self.phases_done}/{self.phases_total}" if self.phases_total else "-"

    def money(self) -> str:
        cap = f" / ${self.cost_cap_usd:.2f}" if self.cost_cap_usd is not None else ""
        return f"${self.cost_usd:.4f}{cap}"


@dataclass
class BatchInfo:
    batch_id: str
    folder: str
    workers: int
    engine: str
    max_cost: float | None
    runs: int
    todo: int
    started: float = field(default_factory=time.monotonic)


class BatchView(Protocol):
    def started(self, info: BatchInfo, lines: dict[str, RunLine]) -> None: ...

    def run_event(self, line: RunLine, event: dict[str, Any]) -> None: ...

    def run_changed(self, line: RunLine, note: str = "") -> None: ...

    def tick(self) -> None: ...

    def finished(self, summary: dict[str, Any], lines: dict[str, RunLine]) -> None: ...

    def close(self) -> None: ...


def runs_table(lines: list[RunLine], title: str = "runs") -> Table:
    from rich.table import Table

    table = Table(title=title)
    for col in ("run", "state", "phase", "step", "cost (USD)", "waits", "time", "note"):
        table.add_column(col, overflow="fold", no_wrap=col in ("run", "state"))
    for ln in lines:
        waits = f"{ln.waits} ({ln.waited_s:.0f}s)" if ln.waits else "-"
        note = ln.message if ln.state != "RUNNING" else (f"on {ln.worker}" if ln.worker else "")
        table.add_row(
            ln.run_id,
            f"[{STATE_STYLES.get(ln.state, '')}]{ln.state}[/]",
            ln.where(),
            ln.step if ln.state == "RUNNING" else "",
            ln.money() + (" sim" if ln.simulated else ""),
            waits,
            f"{ln.time_s():.0f}s",
            note,
        )
    return table


def totals_line(summary: dict[str, Any]) -> str:
    t = summary["totals"]
    counts = ", ".join(f"{n} {state.lower()}" for state, n in t["states"].items())
    cap = f" of the ${t['max_cost']:.2f} cap" if t.get("max_cost") is not None else ""
    return (
        f"batch {summary['batch']}: {counts}; ${t['cost_usd']:.4f} spent{cap}"
        f"{' (simulated)' if t.get('simulated') else ''}; {t['rate_limited']} HTTP 429s; "
        f"{t['waits']} provider waits ({t['waited_s']:.1f}s)"
        + (f"; {summary['wall_s']:.1f}s" if summary.get("wall_s") is not None else "")
    )


class JsonView:
    """JSON lines: ``batch_started``, each run's events (with ``run_id``), ``batch_run`` on each change of
    a run's state, ``batch_finished`` with the summary."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def _write(self, data: dict[str, Any]) -> None:
        self.out.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
        self.out.flush()

    def started(self, info: BatchInfo, lines: dict[str, RunLine]) -> None:
        self._write(
            {"event": "batch_started", "time": time.time(), **{k: v for k, v in vars(info).items() if k != "started"}}
        )

    def run_event(self, line: RunLine, event: dict[str, Any]) -> None:
        self._write({**event, "run_id": line.run_id})

    def run_changed(self, line: RunLine, note: str = "") -> None:
        self._write(
            {
                "event": "batch_run",
                "time": time.time(),
                "run_id": line.run_id,
                "state": line.state,
                "phases_done": line.phases_done,
                "phases_total": line.phases_total,
                "cost_usd": round(line.cost_usd, 6),
                "worker": line.worker,
                "message": note or line.message,
            }
        )

    def tick(self) -> None:
        pass

    def finished(self, summary: dict[str, Any], lines: dict[str, RunLine]) -> None:
        self._write({"event": "batch_finished", "time": time.time(), **summary})

    def close(self) -> None:
        pass


class PlainView:
    """One line per change (CI logs, pipes), then the table and totals."""

    QUIET = {"llm_call", "step", "checks_env", "llm_fallback", "run_config"}

    def __init__(self, console: Console) -> None:
        self.console = console

    def _say(self, text: str, style: str = "") -> None:
        from rich.text import Text

        self.console.print(Text(text, style=style), soft_wrap=True)

    def started(self, info: BatchInfo, lines: dict[str, RunLine]) -> None:
        done = info.runs - info.todo
        cap = f", batch cap ${info.max_cost:.2f}" if info.max_cost is not None else ""
        self._say(
            f"batch {info.batch_id}: {info.todo} of {info.runs} runs to go ({done} finished before) on "
            f"{info.engine} with {info.workers} workers{cap}; folder {info.folder}"
        )

    def run_event(self, line: RunLine, event: dict[str, Any]) -> None:
        kind = str(event.get("event", ""))
        if kind == "phase_started":
            self._say(f"{line.run_id}: phase {event.get('index')}/{event.get('total')} {event.get('phase')}")
        elif kind == "provider_wait":
            self._say(f"{line.run_id}: {event.get('message')}", "yellow")
        elif kind in ("phase_failed", "phase_fatal", "warning"):
            from ..progress import describe

            self._say(f"{line.run_id}: {describe(kind, event).strip()}", "red" if kind != "warning" else "yellow")

    def run_changed(self, line: RunLine, note: str = "") -> None:
        if line.state == "RUNNING":
            text = f"{line.run_id}: started on {line.worker}" + (
                f" (cap ${line.cost_cap_usd:.2f})" if line.cost_cap_usd is not None else ""
            )
        else:
            text = (
                f"{line.run_id}: {line.state} - {line.phases_done}/{line.phases_total} phases, {line.money()}, "
                f"{line.time_s():.1f}s" + (f": {note or line.message}" if (note or line.message) else "")
            )
        self._say(text, STATE_STYLES.get(line.state, ""))

    def tick(self) -> None:
        pass

    def finished(self, summary: dict[str, Any], lines: dict[str, RunLine]) -> None:
        self.console.print(runs_table(list(lines.values()), title=f"batch {summary['batch']}"))
        self._say(totals_line(summary), "bold")
        self._say(f"report: {summary['report']}")

    def close(self) -> None:
        pass


class LiveView(PlainView):
    """On a terminal: the table of runs, redrawn four times a second, under a log of what changed."""

    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self.lines: dict[str, RunLine] = {}
        self.info: BatchInfo | None = None
        self.live: Any = None

    def started(self, info: BatchInfo, lines: dict[str, RunLine]) -> None:
        from rich.live import Live

        super().started(info, lines)
        self.info, self.lines = info, lines
        self.live = Live(_Table(self), console=self.console, refresh_per_second=4, transient=True)
        self.live.start()

    def run_event(self, line: RunLine, event: dict[str, Any]) -> None:
        if event.get("event") in ("phase_failed", "phase_fatal", "warning", "provider_wait"):
            super().run_event(line, event)

    def finished(self, summary: dict[str, Any], lines: dict[str, RunLine]) -> None:
        self.close()
        super().finished(summary, lines)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


class _Table:
    def __init__(self, view: LiveView) -> None:
        self.view = view

    def __rich__(self) -> RenderableType:
        from rich.table import Table
        from rich.text import Text

        lines = list(self.view.lines.values())
        running = [ln for ln in lines if ln.state == "RUNNING"]
        shown = running + [ln for ln in lines if ln.state != "RUNNING"][: max(0, 30 - len(running))]
        spent = sum(ln.cost_usd for ln in lines)
        info = self.view.info
        cap = f" / ${info.max_cost:.2f}" if info and info.max_cost is not None else ""
        states: dict[str, int] = {}
        for ln in lines:
            states[ln.state] = states.get(ln.state, 0) + 1
        head = ", ".join(f"{n} {s.lower()}" for s, n in states.items())
        elapsed = time.monotonic() - info.started if info else 0.0
        grid = Table.grid()
        grid.add_row(runs_table(shown, title=f"batch {info.batch_id if info else ''}"))
        grid.add_row(Text(f"{head} | ${spent:.4f}{cap} | {elapsed:.0f}s", style="bold cyan"))
        return grid


def make_view(as_json: bool, console: Console) -> BatchView:
    if as_json:
        return JsonView()
    if console.is_terminal:
        return LiveView(console)
    return PlainView(console)
