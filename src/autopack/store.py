"""The run store: SQLite (WAL, foreign keys) at ``.autonomous_runs/<project>/autopack.db``.

Runs, phases and their states, phase revisions (re-plans), attempts, LLM calls and an append-only
event log. Every state change is one transaction that also appends its event, so a process killed
at any instant leaves the store consistent: either the change and its event are there, or neither.

This module owns the connection, transactions and every write; the tables and state enums live in
``store_schema`` and the read-only queries in ``store_queries`` (``RunStore`` inherits them), and
their public names are re-exported here, so callers import everything from ``autopack.store``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from .errors import StoreError
from .layout import RUNS_DIR, Layout, known_projects
from .secrets import scrub
from .store_queries import RunQueries
from .store_schema import SCHEMA_VERSION, TERMINAL_STATES, PhaseState, RunStatus, create_schema

__all__ = [
    "SCHEMA_VERSION",
    "TERMINAL_STATES",
    "CallRecord",
    "PhaseState",
    "RunQueries",
    "RunStatus",
    "RunStore",
    "find_run",
]


@dataclass(frozen=True)
class CallRecord:
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


class _ScrubbedWrites:
    """The connection as a transaction sees it: ``execute`` masks every secret in its text parameters,
    so no API key reaches the database at rest, whatever carried it (a diff, a reply, an error)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, [scrub(p) if isinstance(p, str) else p for p in params])


class RunStore(RunQueries):
    """One SQLite database per project. Methods that change state commit exactly once; reads are in ``RunQueries``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self.transaction() as db:
            create_schema(db)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[_ScrubbedWrites]:
        """BEGIN IMMEDIATE ... COMMIT; rolled back on any exception. Every write goes through it, and
        every text it writes has the registered secrets masked (``secrets.scrub``)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield _ScrubbedWrites(self._db)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @staticmethod
    def _event(db: _ScrubbedWrites, run_id: str, phase_id: str | None, kind: str, data: dict[str, Any]) -> int:
        cur = db.execute(
            "INSERT INTO events(run_id, phase_id, kind, data_json, created_at) VALUES (?,?,?,?,?)",
            (run_id, phase_id, kind, json.dumps(data, ensure_ascii=False, default=str), time.time()),
        )
        return int(cur.lastrowid or 0)

    # runs -----------------------------------------------------------------------------------
    def create_run(
        self,
        run_id: str,
        project: str,
        goal: str,
        plan_json: str,
        phases: list[dict[str, Any]],
        plan_path: str | None = None,
        project_dir: str | None = None,
    ) -> None:
        """Insert the run and its phases (QUEUED) in one transaction."""
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO runs(run_id, project, goal, plan_json, plan_path, project_dir, status, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (run_id, project, goal, plan_json, plan_path, project_dir, RunStatus.RUNNING.value, now, now),
            )
            for i, ph in enumerate(phases):
                db.execute(
                    "INSERT INTO phases(run_id, phase_id, idx, name, state, complexity, updated_at) VALUES (?,?,?,?,?,?,?)",
                    (run_id, ph["id"], i, ph["name"], PhaseState.QUEUED.value, ph["complexity"], now),
                )
                db.execute(
                    "INSERT INTO phase_revisions(run_id, phase_id, revision, spec_json, reason, created_at) VALUES (?,?,?,?,?,?)",
                    (run_id, ph["id"], 0, json.dumps(ph, ensure_ascii=False), "initial plan", now),
                )
            self._event(db, run_id, None, "run_created", {"phases": len(phases), "project": project})

    def update_run(
        self, run_id: str, event: str | None = None, data: dict[str, Any] | None = None, **fields: Any
    ) -> None:
        """Set run columns (status, stop_reason, branch, ...) and append ``event`` atomically."""
        allowed = {"status", "stop_reason", "branch", "base_commit", "worktree", "plan_json", "project_dir"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"unknown run fields {bad}")
        with self.transaction() as db:
            if fields:
                sets = ", ".join(f"{k}=?" for k in fields)
                vals = [v.value if isinstance(v, Enum) else v for v in fields.values()]
                db.execute(f"UPDATE runs SET {sets}, updated_at=? WHERE run_id=?", (*vals, time.time(), run_id))
            if event:
                self._event(
                    db,
                    run_id,
                    None,
                    event,
                    {
                        **(data or {}),
                        **{
                            k: (v.value if isinstance(v, Enum) else v)
                            for k, v in fields.items()
                            if k in ("status", "stop_reason")
                        },
                    },
                )

    # phases ---------------------------------------------------------------------------------
    def set_phase(
        self,
        run_id: str,
        phase_id: str,
        event: str,
        data: dict[str, Any] | None = None,
        **fields: Any,
    ) -> None:
        """Change phase columns (state, commit_sha, ...) and append ``event``, in one transaction."""
        allowed = {
            "state",
            "start_commit",
            "commit_sha",
            "model",
            "complexity",
            "replans",
            "doctor_calls",
            "execute_fixes",
            "hint",
        }
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"unknown phase fields {bad}")
        vals = {k: (v.value if isinstance(v, Enum) else v) for k, v in fields.items()}
        with self.transaction() as db:
            if vals:
                sets = ", ".join(f"{k}=?" for k in vals)
                changed = db.execute(
                    f"UPDATE phases SET {sets}, updated_at=? WHERE run_id=? AND phase_id=?",
                    (*vals.values(), time.time(), run_id, phase_id),
                ).rowcount
            else:
                changed = len(
                    db.execute("SELECT 1 FROM phases WHERE run_id=? AND phase_id=?", (run_id, phase_id)).fetchall()
                )
            if not changed:  # an event for a phase that does not exist would be a lie in the log
                raise StoreError(f"run {run_id!r} has no phase {phase_id!r}")
            self._event(db, run_id, phase_id, event, {**(data or {}), **vals})

    def add_revision(
        self, run_id: str, phase_id: str, spec: dict[str, Any], reason: str, diff: str, decided_by: str
    ) -> int:
        """Store a re-planned phase spec as a new revision; the phase returns to QUEUED with the event."""
        with self.transaction() as db:
            cur = db.execute(
                "SELECT revision, replans FROM phases WHERE run_id=? AND phase_id=?", (run_id, phase_id)
            ).fetchone()
            if cur is None:
                raise StoreError(f"run {run_id!r} has no phase {phase_id!r}")
            rev = int(cur["revision"]) + 1
            db.execute(
                "INSERT INTO phase_revisions(run_id, phase_id, revision, spec_json, reason, diff, created_at) VALUES (?,?,?,?,?,?,?)",
                (run_id, phase_id, rev, json.dumps(spec, ensure_ascii=False), reason, diff, time.time()),
            )
            db.execute(
                "UPDATE phases SET revision=?, replans=?, state=?, updated_at=? WHERE run_id=? AND phase_id=?",
                (rev, int(cur["replans"]) + 1, PhaseState.QUEUED.value, time.time(), run_id, phase_id),
            )
            self._event(
                db,
                run_id,
                phase_id,
                "phase_replanned",
                {"revision": rev, "reason": reason, "diff": diff, "decided_by": decided_by, "state": "QUEUED"},
            )
        return rev

    # attempts -------------------------------------------------------------------------------
    def start_attempt(self, run_id: str, phase_id: str, model: str, complexity: str) -> tuple[int, int]:
        """Open an attempt; returns (attempt_id, number within the phase)."""
        with self.transaction() as db:
            n = (
                db.execute(
                    "SELECT COUNT(*) FROM attempts WHERE run_id=? AND phase_id=?", (run_id, phase_id)
                ).fetchone()[0]
                + 1
            )
            cur = db.execute(
                "INSERT INTO attempts(run_id, phase_id, number, model, complexity, started_at) VALUES (?,?,?,?,?,?)",
                (run_id, phase_id, n, model, complexity, time.time()),
            )
            aid = int(cur.lastrowid or 0)
            self._event(
                db, run_id, phase_id, "attempt_started", {"attempt": n, "model": model, "complexity": complexity}
            )
        return aid, int(n)

    def finish_attempt(
        self,
        attempt_id: int,
        outcome: str,
        error_category: str | None = None,
        message: str | None = None,
        normalized_message: str | None = None,
        reply_hash: str | None = None,
        patch: str | None = None,
        gate_tail: str | None = None,
    ) -> None:
        with self.transaction() as db:
            row = db.execute(
                "SELECT run_id, phase_id, number FROM attempts WHERE attempt_id=?", (attempt_id,)
            ).fetchone()
            if row is None:
                raise StoreError(f"no attempt {attempt_id} in {self.path}")
            db.execute(
                "UPDATE attempts SET outcome=?, error_category=?, message=?, normalized_message=?, reply_hash=?,"
                " patch=?, gate_tail=?, finished_at=? WHERE attempt_id=?",
                (
                    outcome,
                    error_category,
                    message,
                    normalized_message,
                    reply_hash,
                    patch,
                    gate_tail,
                    time.time(),
                    attempt_id,
                ),
            )
            self._event(
                db,
                row["run_id"],
                row["phase_id"],
                "attempt_finished",
                {
                    "attempt": row["number"],
                    "outcome": outcome,
                    "error_category": error_category,
                    "message": (message or "")[:500],
                },
            )

    def abandon_open_attempts(self, run_id: str) -> int:
        """Attempts left 'running' by a killed process are marked 'interrupted' (on resume)."""
        with self.transaction() as db:
            rows = db.execute(
                "SELECT attempt_id, phase_id, number FROM attempts WHERE run_id=? AND outcome='running'", (run_id,)
            ).fetchall()
            for r in rows:
                db.execute(
                    "UPDATE attempts SET outcome='interrupted', finished_at=? WHERE attempt_id=?",
                    (time.time(), r["attempt_id"]),
                )
                self._event(db, run_id, r["phase_id"], "attempt_interrupted", {"attempt": r["number"]})
        return len(rows)

    # llm calls and events -------------------------------------------------------------------
    def record_call(
        self, run_id: str, call: CallRecord, phase_id: str | None = None, attempt_id: int | None = None
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO llm_calls(run_id, phase_id, attempt_id, role, provider, model, tokens_in, tokens_out,"
                " tokens_cached, cost_usd, latency_ms, stop_reason, ok, error, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    phase_id,
                    attempt_id,
                    call.role,
                    call.provider,
                    call.model,
                    call.tokens_in,
                    call.tokens_out,
                    call.tokens_cached,
                    call.cost_usd,
                    call.latency_ms,
                    call.stop_reason,
                    int(call.ok),
                    call.error,
                    time.time(),
                ),
            )

    def add_event(self, run_id: str, kind: str, data: dict[str, Any] | None = None, phase_id: str | None = None) -> int:
        with self.transaction() as db:
            return self._event(db, run_id, phase_id, kind, data or {})


def find_run(home: Path, run_id: str, project: str | None = None) -> tuple[Layout, RunStore]:
    """The layout and open store of whichever project under ``home`` holds ``run_id``.

    The caller closes the store. StoreError (exit 2) when no project has that run.
    """
    projects = [project] if project else known_projects(home)
    for proj in projects:
        layout = Layout(home, proj)
        if not layout.db_path.is_file():
            continue
        store = RunStore(layout.db_path)
        if store.get_run(run_id) is not None:
            return layout, store
        store.close()
    where = f"project {project!r}" if project else f"{home / RUNS_DIR}/*/autopack.db"
    raise StoreError(f"no run {run_id!r} in {where}; `autopack runs` lists the known runs (or pass --home / --project)")
