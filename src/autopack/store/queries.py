"""Read-only queries of the run store: what ``status``, ``runs``, the journal, the review commands
(``diff``, ``merge``, ``clean``, ``report``) and the executor look up.

``RunQueries`` holds every method of ``RunStore`` that only reads (runs, phases and their current
spec, revisions, attempts, events, LLM calls, usage and cost, and how long each phase took). None of
them writes or opens a transaction; ``RunStore`` (in ``autopack.store``) adds the connection and the
writers.

Every public method of both is ``guarded``: an SQLite error that is not a bug (a damaged file, a
lock held past the wait, a full disk, a file that cannot be read or written) leaves it as the
``AutopackError`` that names the store's file (``store_errors``), however late it is discovered.
"""

from __future__ import annotations

import functools
import inspect
import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..errors import StoreError
from .errors import store_error

C = TypeVar("C", bound=type)

# Run-level events that mark an executor starting or ending: a phase's clock does not run across them
# (the time between a stop and the command that resumed it is nobody's work).
RUN_BOUNDARY_EVENTS = ("run_created", "run_resumed", "run_finished", "run_stopped", "run_failed", "run_interrupted")


@dataclass(frozen=True)
class CallRow:
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


def guarded(cls: C) -> C:
    """Wrap every public method defined in ``cls`` so that an ``sqlite3.Error`` raised in it (by the
    query or by reading its rows) becomes the store's user error; a bug's error passes unchanged."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(member) and name not in getattr(cls, "_unguarded", ()):
            setattr(cls, name, _guard(member))
    return cls


def _guard(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: RunQueries, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            err = self._user_error(exc)
            if err is None:
                raise
            raise err from exc

    return wrapper


@guarded
class RunQueries:
    """The reading half of ``RunStore``; the store supplies the open connection and its path."""

    path: Path
    _db: sqlite3.Connection
    busy_timeout: float  # seconds a statement waits for another process's lock

    def _user_error(self, exc: sqlite3.Error) -> Exception | None:
        return store_error(self.path, exc, self.busy_timeout)

    # runs -----------------------------------------------------------------------------------
    def get_run(self, run_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return dict(row) if row else None

    def require_run(self, run_id: str) -> dict[str, Any]:
        run = self.get_run(run_id)
        if run is None:
            raise StoreError(f"no run {run_id!r} in {self.path}; `autopack runs` lists the known runs")
        return run

    def list_runs(self) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT r.run_id, r.project, r.status, r.stop_reason, r.created_at, r.updated_at, r.branch,"
            " r.project_dir, r.worktree, r.base_commit,"
            " (SELECT COUNT(*) FROM phases p WHERE p.run_id=r.run_id) AS phases,"
            " (SELECT COUNT(*) FROM phases p WHERE p.run_id=r.run_id AND p.state='COMPLETE') AS complete,"
            " (SELECT COALESCE(SUM(cost_usd),0) FROM llm_calls c WHERE c.run_id=r.run_id) AS cost_usd"
            " FROM runs r ORDER BY r.created_at"
        ).fetchall()
        return [dict(r) for r in rows]

    # phases ---------------------------------------------------------------------------------
    def phases(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT * FROM phases WHERE run_id=? ORDER BY idx", (run_id,)).fetchall()
        return [dict(r) for r in rows]

    def phase(self, run_id: str, phase_id: str) -> dict[str, Any]:
        row = self._db.execute("SELECT * FROM phases WHERE run_id=? AND phase_id=?", (run_id, phase_id)).fetchone()
        if row is None:
            raise StoreError(f"run {run_id!r} has no phase {phase_id!r}")
        return dict(row)

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

    def revisions(self, run_id: str, phase_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT * FROM phase_revisions WHERE run_id=? AND phase_id=? ORDER BY revision", (run_id, phase_id)
        ).fetchall()
        return [dict(r) for r in rows]

    # attempts -------------------------------------------------------------------------------
    def attempts(self, run_id: str, phase_id: str | None = None) -> list[dict[str, Any]]:
        if phase_id is None:
            rows = self._db.execute("SELECT * FROM attempts WHERE run_id=? ORDER BY attempt_id", (run_id,)).fetchall()
        else:
            rows = self._db.execute(
                "SELECT * FROM attempts WHERE run_id=? AND phase_id=? ORDER BY attempt_id", (run_id, phase_id)
            ).fetchall()
        return [dict(r) for r in rows]

    # llm calls and events -------------------------------------------------------------------
    def events(
        self, run_id: str, kind: str | None = None, after: int = 0, phase_id: str | None = None
    ) -> list[dict[str, Any]]:
        q = "SELECT * FROM events WHERE run_id=? AND event_id>?"
        args: list[Any] = [run_id, after]
        if kind:
            q += " AND kind=?"
            args.append(kind)
        if phase_id is not None:
            q += " AND phase_id=?"
            args.append(phase_id)
        rows = self._db.execute(q + " ORDER BY event_id", args).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["data"] = json.loads(d.pop("data_json"))
            out.append(d)
        return out

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
        return [
            CallRow(
                call_id=int(r["call_id"]),
                phase_id=r["phase_id"],
                attempt_id=None if r["attempt_id"] is None else int(r["attempt_id"]),
                role=str(r["role"]),
                provider=str(r["provider"]),
                model=str(r["model"]),
                tokens_in=int(r["tokens_in"] or 0),
                tokens_out=int(r["tokens_out"] or 0),
                tokens_cached=int(r["tokens_cached"] or 0),
                cost_usd=float(r["cost_usd"] or 0.0),
                latency_ms=float(r["latency_ms"] or 0.0),
                ok=bool(r["ok"]),
                error=r["error"],
                created_at=float(r["created_at"]),
            )
            for r in rows
        ]

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

    def usage_by_model(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT provider, model, COUNT(*) AS calls, SUM(tokens_in) AS tokens_in, SUM(tokens_out) AS tokens_out,"
            " SUM(tokens_cached) AS tokens_cached, SUM(cost_usd) AS cost_usd FROM llm_calls WHERE run_id=?"
            " GROUP BY provider, model ORDER BY cost_usd DESC",
            (run_id,),
        ).fetchall()
        return [dict(r) for r in rows]

    def usage_by_phase(self, run_id: str) -> dict[str, dict[str, Any]]:
        rows = self._db.execute(
            "SELECT phase_id, SUM(tokens_in) AS tokens_in, SUM(tokens_out) AS tokens_out, SUM(cost_usd) AS cost_usd"
            " FROM llm_calls WHERE run_id=? GROUP BY phase_id",
            (run_id,),
        ).fetchall()
        return {r["phase_id"]: dict(r) for r in rows}

    def totals(self, run_id: str) -> dict[str, Any]:
        row = self._db.execute(
            "SELECT COUNT(*) AS calls, COALESCE(SUM(tokens_in),0) AS tokens_in, COALESCE(SUM(tokens_out),0) AS tokens_out,"
            " COALESCE(SUM(tokens_cached),0) AS tokens_cached, COALESCE(SUM(cost_usd),0) AS cost_usd FROM llm_calls WHERE run_id=?",
            (run_id,),
        ).fetchone()
        return dict(row)

    def provider_tokens(self, run_id: str) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT provider, SUM(tokens_in + tokens_out) AS t FROM llm_calls WHERE run_id=? GROUP BY provider",
            (run_id,),
        ).fetchall()
        return {r["provider"]: int(r["t"] or 0) for r in rows}
