"""The shapes of the run store's rows: what its queries return and what its writers take.

Each query of ``RunStore`` returns one of these frozen dataclasses, never a dict: a row's states and
outcomes are the enums of ``schema`` (``PhaseState``, ``RunStatus``, ``AttemptStatus``), everything
else is the column as stored. ``to_dict`` gives a row's fields in column order with the enums as
their strings, for the commands that print rows as JSON.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any, TypeVar

from ..errors import StoreError
from .schema import AttemptStatus, PhaseState, RunStatus


@dataclass(frozen=True)
class CallRecord:
    """One LLM call as the service reports it: what ``RunStore.record_call`` writes."""

    role: str
    provider: str
    model: str
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    stop_reason: str | None = None
    ok: bool = True
    error: str | None = None


def _columns(cls: type, row: sqlite3.Row) -> dict[str, Any]:
    """The columns of ``row`` that ``cls`` has a field for, as they are stored (no conversion, so a
    row dumped to JSON reads exactly as the column did)."""
    return {f.name: row[f.name] for f in fields(cls)}


E = TypeVar("E", bound=Enum)


def _known(enum: type[E], value: Any, column: str) -> E:
    """``value`` of ``column`` as ``enum``; a value this autopack does not know (a newer one wrote it:
    the status and state columns take new values without a schema change) is the store's error."""
    try:
        return enum(value)
    except ValueError:
        raise StoreError(
            f"the run store holds {column} {value!r}, which this autopack does not know (a newer autopack "
            "wrote it?): upgrade autopack"
        ) from None


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


@dataclass(frozen=True)
class _Row:
    """What every row can do: give its fields as a dict, enums as their stored strings (for JSON)."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class RunRow(_Row):
    """A row of ``runs``."""

    run_id: str
    project: str
    goal: str
    plan_json: str
    plan_path: str | None
    project_dir: str | None
    status: RunStatus
    stop_reason: str | None
    branch: str | None
    base_commit: str | None
    worktree: str | None
    created_at: float
    updated_at: float

    @classmethod
    def of(cls, row: sqlite3.Row) -> RunRow:
        return cls(**{**_columns(cls, row), "status": _known(RunStatus, row["status"], "runs.status")})


@dataclass(frozen=True)
class RunSummary(_Row):
    """A run as ``autopack runs`` lists it: its row's columns that say where it is, with its phase
    counts and cost (``RunStore.list_runs``). ``to_dict`` is the ``runs --json`` shape."""

    run_id: str
    project: str
    status: RunStatus
    stop_reason: str | None
    created_at: float
    updated_at: float
    branch: str | None
    project_dir: str | None
    worktree: str | None
    base_commit: str | None
    phases: int
    complete: int
    cost_usd: float

    @classmethod
    def of(cls, row: sqlite3.Row) -> RunSummary:
        return cls(**{**_columns(cls, row), "status": _known(RunStatus, row["status"], "runs.status")})


@dataclass(frozen=True)
class PhaseRow(_Row):
    """A row of ``phases``: where the phase is, not what it asks (``RunStore.phase_spec``)."""

    run_id: str
    phase_id: str
    idx: int
    name: str
    state: PhaseState
    revision: int
    complexity: str
    start_commit: str | None
    commit_sha: str | None
    model: str | None
    replans: int
    doctor_calls: int
    execute_fixes: int
    hint: str | None
    updated_at: float

    @classmethod
    def of(cls, row: sqlite3.Row) -> PhaseRow:
        return cls(**{**_columns(cls, row), "state": _known(PhaseState, row["state"], "phases.state")})


@dataclass(frozen=True)
class RevisionRow(_Row):
    """A row of ``phase_revisions``: revision 0 is the plan's spec, each re-plan adds one."""

    run_id: str
    phase_id: str
    revision: int
    spec_json: str
    reason: str
    diff: str | None
    created_at: float

    @classmethod
    def of(cls, row: sqlite3.Row) -> RevisionRow:
        return cls(**_columns(cls, row))


@dataclass(frozen=True)
class AttemptRow(_Row):
    """A row of ``attempts``: one try at a phase, ``outcome`` RUNNING until it ends."""

    attempt_id: int
    run_id: str
    phase_id: str
    number: int
    model: str
    complexity: str
    outcome: AttemptStatus
    error_category: str | None
    message: str | None
    normalized_message: str | None
    reply_hash: str | None
    patch: str | None
    gate_tail: str | None
    started_at: float
    finished_at: float | None

    @classmethod
    def of(cls, row: sqlite3.Row) -> AttemptRow:
        return cls(**{**_columns(cls, row), "outcome": _known(AttemptStatus, row["outcome"], "attempts.outcome")})


@dataclass(frozen=True)
class EventRow(_Row):
    """A row of ``events``, its ``data_json`` read (``data``): ``phase_id`` is None for a run's event."""

    event_id: int
    run_id: str
    phase_id: str | None
    kind: str
    created_at: float
    data: dict[str, Any]

    @classmethod
    def of(cls, row: sqlite3.Row) -> EventRow:
        return cls(
            event_id=row["event_id"],
            run_id=row["run_id"],
            phase_id=row["phase_id"],
            kind=row["kind"],
            created_at=row["created_at"],
            data=json.loads(row["data_json"]),
        )


@dataclass(frozen=True)
class CallRow(_Row):
    """One stored LLM call (a row of ``llm_calls``)."""

    call_id: int
    phase_id: str | None
    attempt_id: int | None
    role: str
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    tokens_cached: int
    cost_usd: float
    latency_ms: float
    ok: bool
    error: str | None
    created_at: float

    @classmethod
    def of(cls, row: sqlite3.Row) -> CallRow:
        return cls(
            call_id=int(row["call_id"]),
            phase_id=row["phase_id"],
            attempt_id=None if row["attempt_id"] is None else int(row["attempt_id"]),
            role=str(row["role"]),
            provider=str(row["provider"]),
            model=str(row["model"]),
            tokens_in=int(row["tokens_in"] or 0),
            tokens_out=int(row["tokens_out"] or 0),
            tokens_cached=int(row["tokens_cached"] or 0),
            cost_usd=float(row["cost_usd"] or 0.0),
            latency_ms=float(row["latency_ms"] or 0.0),
            ok=bool(row["ok"]),
            error=row["error"],
            created_at=float(row["created_at"]),
        )


@dataclass(frozen=True)
class Usage(_Row):
    """Tokens and cost summed over some LLM calls (``RunStore.usage_by_phase``)."""

    tokens_in: int
    tokens_out: int
    cost_usd: float


@dataclass(frozen=True)
class Totals(_Row):
    """Every LLM call of a run summed (``RunStore.totals``; ``to_dict`` is ``status --json``'s ``totals``)."""

    calls: int
    tokens_in: int
    tokens_out: int
    tokens_cached: int
    cost_usd: float


@dataclass(frozen=True)
class ModelUsage(_Row):
    """One model's LLM calls summed (``RunStore.usage_by_model``; ``to_dict`` is a ``by_model`` entry)."""

    provider: str
    model: str
    calls: int
    tokens_in: int
    tokens_out: int
    tokens_cached: int
    cost_usd: float
