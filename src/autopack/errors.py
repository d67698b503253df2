"""Errors a user can cause. The CLI prints each as one red line and exits with its ``exit_code``
(2 unless said otherwise; 3 for a clean stop or a full disk, both resumable with the same command).

Tracebacks are for bugs; anything the user can fix (a bad file, a missing key, a lock held by
another process, a damaged run store, a full disk) is an ``AutopackError`` whose message says what
to do. ``user_error`` turns what the environment raises (``OSError`` for a full disk or a denied
permission, SQLite's "database or disk is full") into one, wherever it was raised: ``cli.main`` asks
it about every exception that reaches the command line.
"""

from __future__ import annotations

import errno
from pathlib import Path

# SQLite's primary result code for "database or disk is full" (``sqlite3.Error.sqlite_errorcode``).
SQLITE_FULL = 13
_NO_SPACE = {errno.ENOSPC: "", errno.EDQUOT: " (disk quota exceeded)"}
_DENIED = {errno.EACCES, errno.EPERM, errno.EROFS}
_GIT_ERRORS = {"WorkspaceError", "GitCommandError", "GitError"}


class AutopackError(Exception):
    """Base class for errors caused by input or environment rather than by a bug."""

    exit_code: int = 2


class ConfigError(AutopackError):
    """config/models.yaml (or an override) is unreadable or invalid."""


class PlanError(AutopackError):
    """A run plan is unreadable or invalid."""


class StoreError(AutopackError):
    """The run store does not hold what was asked for (unknown run id, ...), or cannot be opened."""


class StoreDamaged(StoreError):
    """The run store's file is not a usable autopack database (damaged, truncated, a directory, another
    program's file). Nothing writes to it; the message says to move it aside or restore a backup."""


class StoreLocked(StoreError):
    """Another process holds the run store's database locked for longer than the store waits."""


class LockHeldError(AutopackError):
    """Another executor already holds the lock for this run id."""


class AccessDenied(AutopackError):
    """A file or folder autopack must read or write is not readable or writable for this user."""


class RunStopped(AutopackError):
    """A run stopped cleanly (budget, cost cap, fatal phase); state is saved and resumable."""

    exit_code = 3


class DiskFull(AutopackError):
    """A write found no space left (ENOSPC, EDQUOT, SQLite's SQLITE_FULL). Every state change is one
    transaction and the files autopack keeps are replaced atomically, so nothing is half-written: free
    space and run the same command, and the run resumes where it stopped (exit 3, like a clean stop)."""

    exit_code = 3

    def __init__(self, path: Path | str | None, detail: str = "") -> None:
        self.path = None if path is None else str(path)
        where = self.path or "the disk"
        super().__init__(f"no space left on {where}{detail}; free space and run the same command")


def user_error(exc: BaseException) -> AutopackError | None:
    """The ``AutopackError`` that ``exc`` stands for, or None when it is a bug (or already handled).

    A full disk wins wherever it shows in the chain of causes and contexts (an error raised while
    handling a full disk, such as a journal that could not be written either, is a consequence of it);
    then an ``AutopackError`` itself; then an ``OSError`` that denies access to a named file.
    """
    full = [f for f in map(_disk_full, _chain(exc)) if f is not None]
    if full:  # the first write that failed (deepest in the chain) names the file best
        return next((f for f in reversed(full) if f.path), full[-1])
    if isinstance(exc, AutopackError):
        return exc
    if isinstance(exc, OSError) and exc.errno in _DENIED and exc.filename:
        return AccessDenied(
            f"{exc.filename}: {exc.strerror or 'permission denied'}; give this user read and write access to it "
            "(or choose another --home), then run the same command again"
        )
    return None


def _disk_full(exc: BaseException) -> DiskFull | None:
    if isinstance(exc, DiskFull):
        return exc
    if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
        return DiskFull(exc.filename, _NO_SPACE[exc.errno])
    code = getattr(exc, "sqlite_errorcode", None)  # duck-typed: this module does not import sqlite3
    if isinstance(code, int) and code & 0xFF == SQLITE_FULL:
        return DiskFull(None)
    # git reports a full disk only in its message: "No space left on device".
    if type(exc).__name__ in _GIT_ERRORS and "No space left on device" in str(exc):
        return DiskFull(None)
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc``, then its causes and contexts (explicit cause first), each once."""
    out: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        cur = todo.pop(0)
        if any(cur is seen for seen in out):
            continue
        out.append(cur)
        todo.extend(e for e in (cur.__cause__, cur.__context__) if e is not None)
    return out
