"""The batch folder, ``<home>/.autonomous_runs/_batches/<batch>/`` (a name no project can have), and
what it holds: ``batch.db`` (SQLite: one row per run, where it stands; the batch process is its only
writer), ``batch.lock`` (held by the running ``autopack batch``: a second one is refused, and
``batch status`` tells a live batch from a killed one), ``limits/`` (the shared provider limits),
``runs/<run-id>/`` (its config layer, its output, its report), ``clones/``, ``bundles/``,
``summary.json`` and ``report.html``.

A run's own store stays the truth about the run; the batch's row is what the batch last saw of it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..layout import RUNS_DIR
from ..lock import RunLock, executor_holding
from .spec import BatchError

BATCHES_DIR = "_batches"


class RunState(StrEnum):
    PENDING = "PENDING"  # not started yet
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    PARTIAL = "PARTIAL"  # finished with skipped phases
    FAILED = "FAILED"  # a phase failed
    STOPPED = "STOPPED"  # its cost cap, the batch's, or its health budget: resumable
    INTERRUPTED = "INTERRUPTED"  # Ctrl-C, SIGTERM, or its worker was killed: resumable
    ERROR = "ERROR"  # the run could not start or ended on an error (exit 2): the message says why


FINISHED = {RunState.COMPLETE, RunState.PARTIAL, RunState.FAILED}

COLUMNS = {
    "run_id": "TEXT PRIMARY KEY",
    "position": "INTEGER NOT NULL",
    "source": "TEXT",
    "state": "TEXT NOT NULL DEFAULT 'PENDING'",
    "exit_code": "INTEGER",
    "message": "TEXT",
    "project": "TEXT",
    "phase": "TEXT",
    "phases_done": "INTEGER NOT NULL DEFAULT 0",
    "phases_total": "INTEGER NOT NULL DEFAULT 0",
    "cost_usd": "REAL NOT NULL DEFAULT 0",
    "cost_cap_usd": "REAL",
    "simulated": "INTEGER NOT NULL DEFAULT 0",
    "waits": "INTEGER NOT NULL DEFAULT 0",
    "waited_s": "REAL NOT NULL DEFAULT 0",
    "rate_limited": "INTEGER NOT NULL DEFAULT 0",
    "home": "TEXT",
    "repo_dir": "TEXT",
    "branch": "TEXT",
    "worker": "TEXT",
    "pid": "INTEGER",
    "starts": "INTEGER NOT NULL DEFAULT 0",
    "started_at": "REAL",
    "finished_at": "REAL",
    "elapsed_s": "REAL NOT NULL DEFAULT 0",
    "report": "TEXT",
    "bundle": "TEXT",
    "pushed": "TEXT",
    "store_json": "TEXT",
}


def batch_dir(home: Path, batch_id: str) -> Path:
    return home / RUNS_DIR / BATCHES_DIR / batch_id


@dataclass(frozen=True)
class BatchPaths:
    root: Path

    @property
    def db(self) -> Path:
        return self.root / "batch.db"

    @property
    def lock(self) -> Path:
        return self.root / "batch.lock"

    @property
    def limits(self) -> Path:
        return self.root / "limits"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / run_id

    def clone_dir(self, run_id: str) -> Path:
        return self.root / "clones" / run_id

    def bundle(self, run_id: str) -> Path:
        return self.root / "bundles" / f"{run_id}.bundle"


class BatchStore:
    """``batch.db``: the runs of the batch and where each stands."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=10, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        cols = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
        self.db.execute(f"CREATE TABLE IF NOT EXISTS runs ({cols})")
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    @classmethod
    def open_existing(cls, path: Path) -> BatchStore:
        if not path.is_file():
            raise BatchError(
                f"no batch at {path.parent}: run `autopack batch BATCH.yaml` first (or pass the --home it ran with)"
            )
        try:
            return cls(path)
        except sqlite3.DatabaseError as exc:
            raise BatchError(
                f"{path} is not a readable batch table ({exc}); move it aside to start the batch afresh"
            ) from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> BatchStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_run(self, run_id: str, position: int, source: str) -> None:
        self.db.execute(
            "INSERT INTO runs (run_id, position, source) VALUES (?, ?, ?) ON CONFLICT(run_id) DO UPDATE "
            "SET position=excluded.position, source=excluded.source",
            (run_id, position, source),
        )

    def update(self, run_id: str, **values: Any) -> None:
        if not values:
            return
        unknown = set(values) - set(COLUMNS)
        if unknown:
            raise ValueError(f"no batch column {sorted(unknown)}")
        sets = ", ".join(f"{k}=?" for k in values)
        self.db.execute(f"UPDATE runs SET {sets} WHERE run_id=?", (*values.values(), run_id))

    def runs(self) -> list[dict[str, Any]]:
        rows = [dict(r) for r in self.db.execute("SELECT * FROM runs ORDER BY position, run_id")]
        for r in rows:
            r["store"] = json.loads(r.pop("store_json") or "null")
        return rows

    def get(self, run_id: str) -> dict[str, Any] | None:
        return next((r for r in self.runs() if r["run_id"] == run_id), None)

    def set_meta(self, key: str, value: Any) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, json.dumps(value)),
        )

    def meta(self) -> dict[str, Any]:
        return {r["key"]: json.loads(r["value"]) for r in self.db.execute("SELECT key, value FROM meta")}


@contextmanager
def batch_lock(paths: BatchPaths, batch_id: str) -> Iterator[None]:
    """One ``autopack batch`` per batch at a time (an OS lock, let go even on ``kill -9``)."""
    from ..errors import LockHeldError

    lock = RunLock(paths.lock, batch_id)
    try:
        lock.acquire()
    except LockHeldError:
        holder = executor_holding(paths.lock)
        raise BatchError(
            f"batch {batch_id!r} is already running (process {holder or 'unknown'}); "
            "`autopack batch status` shows it; wait for it or stop it, then run the command again"
        ) from None
    try:
        yield
    finally:
        lock.release()


def batch_running(paths: BatchPaths) -> int | None:
    """The pid of the ``autopack batch`` running this batch now, or None."""
    return executor_holding(paths.lock)


def now() -> float:
    return time.time()
