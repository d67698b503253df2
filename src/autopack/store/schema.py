"""The run store's schema: its tables, indexes and triggers, and the state vocabulary kept in them.

``create_schema`` brings a database up to the current tables (idempotent: every statement is
``IF NOT EXISTS``) and records ``SCHEMA_VERSION``; the store runs it only when some of the
``schema_objects`` are missing, so opening a complete store never writes to it. ``PhaseState``,
``RunStatus`` and ``AttemptStatus`` are the values of the ``phases.state``, ``runs.status`` and
``attempts.outcome`` columns.
``autopack.store`` re-exports the public names.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Protocol

SCHEMA_VERSION = 1


class PhaseState(StrEnum):
    QUEUED = "QUEUED"
    BUILDING = "BUILDING"
    APPLYING = "APPLYING"
    GATING = "GATING"
    AUDITING = "AUDITING"
    COMMITTING = "COMMITTING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    FATAL = "FATAL"


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    STOPPED = "STOPPED"  # budget or cap reached: resumable
    PARTIAL = "PARTIAL"  # finished, but some phases were skipped
    # Ctrl-C or SIGTERM: the open phase was rolled back, resumable. runs.status is plain TEXT (no CHECK
    # constraint), so stores written before this value existed take it without a migration.
    INTERRUPTED = "INTERRUPTED"


class AttemptStatus(StrEnum):
    """``attempts.outcome``: RUNNING until the attempt ends; a kill leaves it RUNNING until the resume
    marks it INTERRUPTED; STOPPED when the run stopped (budget, cost cap) during it."""

    RUNNING = "running"
    APPROVED = "approved"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    STOPPED = "stopped"


# Attempts that did not end by themselves: not part of a phase's history of tries.
UNFINISHED_ATTEMPTS = {AttemptStatus.RUNNING, AttemptStatus.INTERRUPTED, AttemptStatus.STOPPED}


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    goal TEXT NOT NULL,
    plan_json TEXT NOT NULL,
    plan_path TEXT,
    project_dir TEXT,
    status TEXT NOT NULL,
    stop_reason TEXT,
    branch TEXT,
    base_commit TEXT,
    worktree TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS phases (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    phase_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    revision INTEGER NOT NULL DEFAULT 0,
    complexity TEXT NOT NULL,
    start_commit TEXT,
    commit_sha TEXT,
    model TEXT,
    replans INTEGER NOT NULL DEFAULT 0,
    doctor_calls INTEGER NOT NULL DEFAULT 0,
    execute_fixes INTEGER NOT NULL DEFAULT 0,
    hint TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (run_id, phase_id)
);
CREATE TABLE IF NOT EXISTS phase_revisions (
    run_id TEXT NOT NULL,
    phase_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    spec_json TEXT NOT NULL,
    reason TEXT NOT NULL,
    diff TEXT,
    created_at REAL NOT NULL,
    PRIMARY KEY (run_id, phase_id, revision),
    FOREIGN KEY (run_id, phase_id) REFERENCES phases(run_id, phase_id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS attempts (
    attempt_id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    phase_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    model TEXT NOT NULL,
    complexity TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT 'running',
    error_category TEXT,
    message TEXT,
    normalized_message TEXT,
    reply_hash TEXT,
    patch TEXT,
    gate_tail TEXT,
    started_at REAL NOT NULL,
    finished_at REAL,
    FOREIGN KEY (run_id, phase_id) REFERENCES phases(run_id, phase_id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS llm_calls (
    call_id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    phase_id TEXT,
    attempt_id INTEGER,
    role TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    tokens_cached INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    latency_ms REAL NOT NULL DEFAULT 0,
    stop_reason TEXT,
    ok INTEGER NOT NULL DEFAULT 1,
    error TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    phase_id TEXT,
    kind TEXT NOT NULL,
    data_json TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run ON events(run_id, event_id);
CREATE INDEX IF NOT EXISTS events_kind ON events(run_id, kind, phase_id);
CREATE INDEX IF NOT EXISTS attempts_run ON attempts(run_id, phase_id);
CREATE INDEX IF NOT EXISTS calls_run ON llm_calls(run_id);
CREATE TRIGGER IF NOT EXISTS events_append_only_u BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
"""


class Executes(Protocol):
    """A connection, or the scrubbing view of one a transaction hands out."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> sqlite3.Cursor: ...


def schema_objects() -> set[str]:
    """The names of every table, index and trigger the schema creates."""
    return set(re.findall(r"CREATE (?:TABLE|INDEX|TRIGGER) IF NOT EXISTS (\w+)", _SCHEMA))


def create_schema(db: Executes) -> None:
    """Create whatever tables are missing and record the schema version (inside the caller's transaction)."""
    for stmt in _split_sql(_SCHEMA):
        db.execute(stmt)
    db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))


def _split_sql(script: str) -> list[str]:
    """Split the schema into statements, keeping trigger bodies (which contain ';') whole."""
    out, buf = [], []
    for line in script.strip().splitlines():
        buf.append(line)
        joined = "\n".join(buf).strip()
        if joined.endswith(";") and (
            not joined.upper().startswith("CREATE TRIGGER") or joined.upper().endswith("END;")
        ):
            out.append(joined)
            buf = []
    return out
