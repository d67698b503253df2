"""The run store: SQLite (WAL, foreign keys) at ``.autonomous_runs/<project>/autopack.db``.

Runs, phases and their states, phase revisions (re-plans), attempts, LLM calls and an append-only
event log. Every state change is one transaction that also appends its event, so a process killed
at any instant leaves the store consistent: either the change and its event are there, or neither.

``RunStore`` is the whole store: the connection, transactions, every write and every query (what
``status``, ``runs``, the journal, the review commands and the executor look up; none of the queries
writes or opens a transaction). The package's other modules are what it is made of: ``schema`` (the
tables and the state enums kept in them), ``rows`` (the typed rows the queries return and the
writers take) and ``errors`` (what a failing SQLite call means to the user). Callers import
everything from ``autopack.store``.

A store that cannot be used is an ``AutopackError`` naming the file, never a traceback, and never a
write to it (``errors`` words each case). Opening reads first: a file that is not an SQLite
database, or is another program's, is refused before anything is written, and a store that already
has every table is not written at all. With ``check`` (the default: ``run``, ``doctor diagnose``
and ``runs``) the open also runs ``PRAGMA quick_check``, so a truncated file or a damaged page is
found before the first write could extend it (about 60 ms for a 100 MB store); ``status`` and
``journal``, which only read one run, skip it and meet any damage in the query that reads it.
Either way every public method is ``guarded``: it converts an SQLite error that is not a bug,
however late it is found (by the query or by reading its rows). A lock held by another process is
waited for ``busy_timeout`` seconds, then named.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from time import monotonic, sleep
from typing import Any, NoReturn

from ..errors import StoreError
from ..layout import RUNS_DIR, Layout
from ..secrets import scrub
from .errors import damaged, folder_error, guarded, store_error
from .rows import (
    AttemptRow,
    CallRecord,
    CallRow,
    EventRow,
    ModelUsage,
    PhaseRow,
    RevisionRow,
    RunRow,
    RunSummary,
    Totals,
    Usage,
)
from .schema import (
    SCHEMA_VERSION,
    UNFINISHED_ATTEMPTS,
    AttemptStatus,
    PhaseState,
    RunStatus,
    create_schema,
    schema_objects,
)

__all__ = [
    "RUN_BOUNDARY_EVENTS",
    "UNFINISHED_ATTEMPTS",
    "AttemptRow",
    "AttemptStatus",
    "CallRecord",
    "CallRow",
    "EventRow",
    "ModelUsage",
    "PhaseRow",
    "PhaseState",
    "RevisionRow",
    "RunRow",
    "RunStatus",
    "RunStore",
    "RunSummary",
    "Totals",
    "Usage",
    "active_seconds",
    "find_run",
    "store_projects",
]


# Run-level events that mark an executor starting or ending: a phase's clock does not run across them
# (the time between a stop and the command that resumed it is nobody's work).
RUN_BOUNDARY_EVENTS = ("run_created", "run_resumed", "run_finished", "run_stopped", "run_failed", "run_interrupted")


def active_seconds(times: Iterable[float], boundaries: Iterable[float]) -> float:
    """How long work went on across the event times ``times`` (seconds since the epoch): the sum of
    the gaps between consecutive times, leaving out every gap that holds one of ``boundaries`` (an
    executor ending or starting), so a phase stopped on Friday and resumed on Monday is not 3 days long."""
    ordered = sorted(times)
    marks = sorted(boundaries)
    total = 0.0
    j = 0
    for before, after in zip(ordered, ordered[1:], strict=False):
        while j < len(marks) and marks[j] < before:
            j += 1
        if j < len(marks) and marks[j] <= after:
            continue
        total += after - before
    return total


class _ScrubbedWrites:
    """The connection as a transaction sees it: ``execute`` masks every secret in its text parameters,
    so no API key reaches the database at rest, whatever carried it (a diff, a reply, an error)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, [scrub(p) if isinstance(p, str) else p for p in params])


@guarded
class RunStore:
    """One SQLite database per project. Methods that change state commit exactly once; queries never write."""

    busy_timeout: float = 10.0  # autopack's own transactions last milliseconds; longer means another program
    _unguarded = ("transaction", "close")  # they convert errors themselves

    def __init__(self, path: Path, *, check: bool = True) -> None:
        self.path = path
        if path.exists() and not path.is_file():
            raise damaged(path, "it is a directory" if path.is_dir() else "it is not a regular file")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise folder_error(path, exc) from exc
        try:
            self._db = sqlite3.connect(str(path), timeout=self.busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            self._reraise(exc)
        deadline = monotonic() + self.busy_timeout
        while True:
            try:
                self._open(check)
                break
            except sqlite3.OperationalError as exc:
                # Two processes opening one new store at once (a batch's runs of one project): switching
                # to WAL or reading the schema while the other creates it can answer "database is locked"
                # at once, without SQLite's busy wait. Opening writes nothing outside a transaction, so
                # it is tried again until busy_timeout, like any other wait for the lock.
                if "locked" in str(exc) and monotonic() < deadline:
                    sleep(0.05)
                    continue
                self._db.close()
                self._reraise(exc)
            except sqlite3.Error as exc:
                self._db.close()  # at once: a damaged file keeps no -wal or -shm file beside it
                self._reraise(exc)
            except BaseException:
                self._db.close()
                raise

    def _open(self, check: bool) -> None:
        """Read before writing: refuse what is not an autopack store, check it, and create the tables
        only when some are missing (a complete store is not written to)."""
        db = self._db
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA synchronous=NORMAL")
        names = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master")}  # "file is not a database"
        tables = sorted(n for n in names if not n.startswith("sqlite_"))
        if tables and "meta" not in names:
            raise damaged(self.path, f"an SQLite database of another program, with tables {', '.join(tables[:6])}")
        if check and names:
            problems = [" ".join(str(r[0]).split()) for r in db.execute("PRAGMA quick_check(3)")]
            if problems != ["ok"]:
                raise damaged(self.path, "database disk image is malformed: " + "; ".join(problems)[:300])
        version = None
        if names:
            row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = None if row is None else str(row[0])
            if version is not None and (not version.isdigit() or int(version) > SCHEMA_VERSION):
                raise StoreError(
                    f"{self.path} was written by a newer autopack (schema version {version}; this one knows "
                    f"{SCHEMA_VERSION}): upgrade autopack, or move the file aside to start afresh"
                )
        db.execute("PRAGMA journal_mode=WAL")
        if version is None or not schema_objects() <= names:
            with self.transaction() as tx:
                create_schema(tx)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[_ScrubbedWrites]:
        """BEGIN IMMEDIATE ... COMMIT; rolled back on any exception. Every write goes through it, and
        every text it writes has the registered secrets masked (``secrets.scrub``). An SQLite error
        that is not a bug (full disk, lock, damage) leaves as the store's ``AutopackError``."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._reraise(exc)
        try:
            yield _ScrubbedWrites(self._db)
        except BaseException as exc:
            self._rollback()
            err = self._user_error(exc) if isinstance(exc, sqlite3.Error) else None
            if err is None:
                raise
            raise err from exc
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:  # SQLITE_FULL shows here in WAL mode: the pages go to the WAL at commit
            self._rollback()
            self._reraise(exc)

    def _user_error(self, exc: sqlite3.Error) -> Exception | None:
        """The user's error ``exc`` stands for (``errors.store_error``), or None when it is a bug."""
        return store_error(self.path, exc, self.busy_timeout)

    def _reraise(self, exc: sqlite3.Error) -> NoReturn:
        """Raise the user's error ``exc`` stands for (``errors``), or ``exc`` itself when it is a bug."""
        err = self._user_error(exc)
        if err is None:
            raise exc
        raise err from exc

    def _rollback(self) -> None:
        """Roll back if a transaction is still open (SQLite ends some itself on an error, such as a full disk)."""
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the error that led here is the one to report

    @staticmethod
    def _event(db: _ScrubbedWrites, run_id: str, phase_id: str | None, kind: str, data: dict[str, Any]) -> int:
        cur = db.execute(
            "INSERT INTO events(run_id, phase_id, kind, data_json, created_at) VALUES (?,?,?,?,?)",
            (run_id, phase_id, kind, json.dumps(data, ensure_ascii=False, default=str), time.time()),
        )
        return int(cur.lastrowid or 0)

    # writing: runs ----------------------------------------------------------------------------
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

    # writing: phases --------------------------------------------------------------------------
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

    # writing: attempts ------------------------------------------------------------------------
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
        outcome: AttemptStatus,
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
            outcome = AttemptStatus(outcome)  # a bare string from a caller is checked, and stored as the enum's value
            db.execute(
                "UPDATE attempts SET outcome=?, error_category=?, message=?, normalized_message=?, reply_hash=?,"
                " patch=?, gate_tail=?, finished_at=? WHERE attempt_id=?",
                (
                    outcome.value,
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
                    "outcome": outcome.value,
                    "error_category": error_category,
                    "message": (message or "")[:500],
                },
            )

    def abandon_open_attempts(self, run_id: str) -> int:
        """Attempts left 'running' by a killed process are marked 'interrupted' (on resume)."""
        with self.transaction() as db:
            rows = db.execute(
                "SELECT attempt_id, phase_id, number FROM attempts WHERE run_id=? AND outcome=?",
                (run_id, AttemptStatus.RUNNING.value),
            ).fetchall()
            for r in rows:
                db.execute(
                    "UPDATE attempts SET outcome=?, finished_at=? WHERE attempt_id=?",
                    (AttemptStatus.INTERRUPTED.value, time.time(), r["attempt_id"]),
                )
                self._event(db, run_id, r["phase_id"], "attempt_interrupted", {"attempt": r["number"]})
        return len(rows)

    # writing: llm calls and events ------------------------------------------------------------
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

    # reading (no transaction, nothing written): runs ------------------------------------------
    def get_run(self, run_id: str) -> RunRow | None:
        row = self._db.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return RunRow.of(row) if row else None

    def require_run(self, run_id: str) -> RunRow:
        run = self.get_run(run_id)
        if run is None:
            raise StoreError(f"no run {run_id!r} in {self.path}; `autopack runs` lists the known runs")
        return run

    def list_runs(self) -> list[RunSummary]:
        rows = self._db.execute(
            "SELECT r.run_id, r.project, r.status, r.stop_reason, r.created_at, r.updated_at, r.branch,"
            " r.project_dir, r.worktree, r.base_commit,"
            " (SELECT COUNT(*) FROM phases p WHERE p.run_id=r.run_id) AS phases,"
            " (SELECT COUNT(*) FROM phases p WHERE p.run_id=r.run_id AND p.state='COMPLETE') AS complete,"
            " (SELECT COALESCE(SUM(cost_usd),0) FROM llm_calls c WHERE c.run_id=r.run_id) AS cost_usd"
            " FROM runs r ORDER BY r.created_at"
        ).fetchall()
        return [RunSummary.of(r) for r in rows]

    # reading: phases --------------------------------------------------------------------------
    def phases(self, run_id: str) -> list[PhaseRow]:
        rows = self._db.execute("SELECT * FROM phases WHERE run_id=? ORDER BY idx", (run_id,)).fetchall()
        return [PhaseRow.of(r) for r in rows]

    def phase(self, run_id: str, phase_id: str) -> PhaseRow:
        row = self._db.execute("SELECT * FROM phases WHERE run_id=? AND phase_id=?", (run_id, phase_id)).fetchone()
        if row is None:
            raise StoreError(f"run {run_id!r} has no phase {phase_id!r}")
        return PhaseRow.of(row)

    def phase_spec(self, run_id: str, phase_id: str) -> dict[str, Any]:
        """The spec of the phase's current revision."""
        row = self._db.execute(
            "SELECT r.spec_json FROM phase_revisions r JOIN phases p ON p.run_id=r.run_id AND p.phase_id=r.phase_id"
            " AND p.revision=r.revision WHERE r.run_id=? AND r.phase_id=?",
            (run_id, phase_id),
        ).fetchone()
        if row is None:
            raise StoreError(f"run {run_id!r} has no phase {phase_id!r}")
        spec: dict[str, Any] = json.loads(row["spec_json"])
        return spec

    def phase_specs(self, run_id: str) -> dict[str, dict[str, Any]]:
        """The spec of every phase's current revision, by phase id (one query for a whole run)."""
        rows = self._db.execute(
            "SELECT r.phase_id, r.spec_json FROM phase_revisions r JOIN phases p ON p.run_id=r.run_id"
            " AND p.phase_id=r.phase_id AND p.revision=r.revision WHERE r.run_id=?",
            (run_id,),
        ).fetchall()
        return {str(r["phase_id"]): json.loads(r["spec_json"]) for r in rows}

    def revisions(self, run_id: str, phase_id: str) -> list[RevisionRow]:
        rows = self._db.execute(
            "SELECT * FROM phase_revisions WHERE run_id=? AND phase_id=? ORDER BY revision", (run_id, phase_id)
        ).fetchall()
        return [RevisionRow.of(r) for r in rows]

    # reading: attempts ------------------------------------------------------------------------
    def attempts(self, run_id: str, phase_id: str | None = None) -> list[AttemptRow]:
        """The run's attempts (or one phase's), oldest first."""
        if phase_id is None:
            rows = self._db.execute("SELECT * FROM attempts WHERE run_id=? ORDER BY attempt_id", (run_id,)).fetchall()
        else:
            rows = self._db.execute(
                "SELECT * FROM attempts WHERE run_id=? AND phase_id=? ORDER BY attempt_id", (run_id, phase_id)
            ).fetchall()
        return [AttemptRow.of(r) for r in rows]

    # reading: llm calls and events ------------------------------------------------------------
    def events(
        self, run_id: str, kind: str | None = None, after: int = 0, phase_id: str | None = None
    ) -> list[EventRow]:
        q = "SELECT * FROM events WHERE run_id=? AND event_id>?"
        args: list[Any] = [run_id, after]
        if kind:
            q += " AND kind=?"
            args.append(kind)
        if phase_id is not None:
            q += " AND phase_id=?"
            args.append(phase_id)
        rows = self._db.execute(q + " ORDER BY event_id", args).fetchall()
        return [EventRow.of(r) for r in rows]

    def count_events(self, run_id: str, kind: str, phase_id: str | None = None) -> int:
        if phase_id is None:
            return int(
                self._db.execute("SELECT COUNT(*) FROM events WHERE run_id=? AND kind=?", (run_id, kind)).fetchone()[0]
            )
        return int(
            self._db.execute(
                "SELECT COUNT(*) FROM events WHERE run_id=? AND kind=? AND phase_id=?", (run_id, kind, phase_id)
            ).fetchone()[0]
        )

    def llm_calls(self, run_id: str) -> list[CallRow]:
        """Every LLM call of the run, oldest first."""
        rows = self._db.execute(
            "SELECT call_id, phase_id, attempt_id, role, provider, model, tokens_in, tokens_out, tokens_cached, cost_usd,"
            " latency_ms, ok, error, created_at FROM llm_calls WHERE run_id=? ORDER BY call_id",
            (run_id,),
        ).fetchall()
        return [CallRow.of(r) for r in rows]

    def phase_durations(self, run_id: str) -> dict[str, float]:
        """Seconds each phase was worked on: from its first event to its last, without the time the run
        was not running (``active_seconds``); a phase with no event yet is absent."""
        bounds = [
            float(r[0])
            for r in self._db.execute(
                f"SELECT created_at FROM events WHERE run_id=? AND phase_id IS NULL AND kind IN "
                f"({','.join('?' * len(RUN_BOUNDARY_EVENTS))})",
                (run_id, *RUN_BOUNDARY_EVENTS),
            )
        ]
        times: dict[str, list[float]] = {}
        for phase_id, created in self._db.execute(
            "SELECT phase_id, created_at FROM events WHERE run_id=? AND phase_id IS NOT NULL", (run_id,)
        ):
            times.setdefault(str(phase_id), []).append(float(created))
        return {pid: active_seconds(ts, bounds) for pid, ts in times.items()}

    def usage_by_model(self, run_id: str) -> list[ModelUsage]:
        """The run's LLM calls summed per model, the most expensive first."""
        rows = self._db.execute(
            "SELECT provider, model, COUNT(*) AS calls, SUM(tokens_in) AS tokens_in, SUM(tokens_out) AS tokens_out,"
            " SUM(tokens_cached) AS tokens_cached, SUM(cost_usd) AS cost_usd FROM llm_calls WHERE run_id=?"
            " GROUP BY provider, model ORDER BY cost_usd DESC",
            (run_id,),
        ).fetchall()
        return [ModelUsage(**dict(r)) for r in rows]

    def usage_by_phase(self, run_id: str) -> dict[str | None, Usage]:
        """The run's LLM calls summed per phase (None: the calls of no phase)."""
        rows = self._db.execute(
            "SELECT phase_id, SUM(tokens_in) AS tokens_in, SUM(tokens_out) AS tokens_out, SUM(cost_usd) AS cost_usd"
            " FROM llm_calls WHERE run_id=? GROUP BY phase_id",
            (run_id,),
        ).fetchall()
        return {r["phase_id"]: Usage(r["tokens_in"], r["tokens_out"], r["cost_usd"]) for r in rows}

    def totals(self, run_id: str) -> Totals:
        """Every LLM call of the run summed (zeros before the first)."""
        row = self._db.execute(
            "SELECT COUNT(*) AS calls, COALESCE(SUM(tokens_in),0) AS tokens_in, COALESCE(SUM(tokens_out),0) AS tokens_out,"
            " COALESCE(SUM(tokens_cached),0) AS tokens_cached, COALESCE(SUM(cost_usd),0) AS cost_usd FROM llm_calls WHERE run_id=?",
            (run_id,),
        ).fetchone()
        return Totals(**dict(row))

    def provider_tokens(self, run_id: str) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT provider, SUM(tokens_in + tokens_out) AS t FROM llm_calls WHERE run_id=? GROUP BY provider",
            (run_id,),
        ).fetchall()
        return {r["provider"]: int(r["t"] or 0) for r in rows}


def store_projects(home: Path) -> list[str]:
    """Every project under ``home`` with something named ``autopack.db`` (a file, or whatever is in
    its place: opening it says what is wrong with it)."""
    root = home / RUNS_DIR
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and os.path.lexists(p / "autopack.db"))


def find_run(home: Path, run_id: str, project: str | None = None, *, check: bool = True) -> tuple[Layout, RunStore]:
    """The layout and open store of whichever project under ``home`` holds ``run_id``.

    The caller closes the store. StoreError (exit 2) when no project has that run. A store that cannot
    be read is skipped while another may hold the run; if none does, its error is the answer (with
    ``project`` given, at once). ``check`` as for ``RunStore`` (False for commands that only read).
    """
    projects = [project] if project else store_projects(home)
    unreadable: list[StoreError] = []
    for proj in projects:
        layout = Layout(home, proj)
        if not os.path.lexists(layout.db_path):
            continue
        try:
            store = RunStore(layout.db_path, check=check)
            try:
                found = store.get_run(run_id) is not None
            except BaseException:
                store.close()
                raise
        except StoreError as exc:
            if project:
                raise
            unreadable.append(exc)
            continue
        if found:
            return layout, store
        store.close()
    where = f"project {project!r}" if project else f"{home / RUNS_DIR}/*/autopack.db"
    if unreadable:
        first = unreadable[0]
        more = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
        raise type(first)(f"no run {run_id!r} in the stores that could be read; {first}{more}")
    raise StoreError(f"no run {run_id!r} in {where}; `autopack runs` lists the known runs (or pass --home / --project)")
