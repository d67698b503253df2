"""A run's events: the one way anything that happens in a run is recorded and shown.

Every event goes to the run store first (one transaction with the state change it belongs to), then to
the progress view; a crash between the two loses a line on the screen, never a record. The executor,
the LLM service (through ``StoreSink``) and the Doctor command all write through a ``RunEvents``.
"""

from __future__ import annotations

from typing import Any

from .progress import Reporter
from .store import PhaseState, RunStore

# Phase outcomes whose event also says how long the phase was worked on.
FINAL_PHASE_EVENTS = frozenset({"phase_complete", "phase_failed", "phase_skipped", "phase_fatal"})


class RunEvents:
    """Records a run's events in its store, then shows them."""

    def __init__(self, store: RunStore, run_id: str, reporter: Reporter) -> None:
        self.store, self.run_id, self.reporter = store, run_id, reporter

    def emit(self, kind: str, data: dict[str, Any], phase_id: str | None = None) -> None:
        """An event with no state change (an escalation, a Doctor's diagnosis, a retry)."""
        self.store.add_event(self.run_id, kind, data, phase_id=phase_id)
        self.reporter.event(kind, data)

    def show(self, kind: str, data: dict[str, Any]) -> None:
        """Shown only: what the store already holds in its own tables (a call, a finished attempt)."""
        self.reporter.event(kind, data)

    def phase(self, phase_id: str, event: str, reason: str, **fields: Any) -> None:
        """A phase's state change (``fields``: the columns it sets) with the event that explains it."""
        self.store.set_phase(self.run_id, phase_id, event, {"reason": reason}, **fields)
        data = {"phase": phase_id, "reason": reason, **{k: v for k, v in fields.items() if k != "state"}}
        if event in FINAL_PHASE_EVENTS:
            data["duration_s"] = self.duration(phase_id)
        self.reporter.event(event, data)

    def step(self, phase_id: str, state: str, data: dict[str, Any]) -> None:
        """A step of an attempt (BUILDING, APPLYING, GATING, AUDITING, COMMITTING) and what it is about."""
        self.store.set_phase(self.run_id, phase_id, "phase_state", data, state=PhaseState(state))
        self.reporter.event("step", {"step": state.lower(), **data})

    def duration(self, phase_id: str) -> float:
        """Seconds the phase was worked on (its events' span, without the time the run was stopped)."""
        return round(self.store.phase_durations(self.run_id).get(phase_id, 0.0), 3)
