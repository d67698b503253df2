"""What a failing SQLite call on the run store means to the user: ``store_error`` turns an
``sqlite3.Error`` into the ``AutopackError`` that names the store's file, what is wrong with it and
what to do, or returns None for an error that is a bug (bad SQL, a broken constraint) and must stay
a traceback.

- damaged (``SQLITE_CORRUPT``, ``SQLITE_NOTADB``, a directory in the file's place): ``StoreDamaged``,
  "move it aside to start afresh, or restore it from a backup" (exit 2);
- locked past the store's wait (``SQLITE_BUSY``, ``SQLITE_LOCKED``): ``StoreLocked`` naming the
  process that holds it when the OS says (an autopack executor is named with its run id), exit 2;
- full (``SQLITE_FULL``, or an I/O error on a disk with no space left): ``DiskFull`` (exit 3);
- read-only, unreadable or in an unwritable folder: ``StoreError`` saying which (exit 2).

``guarded`` puts that conversion around every public method of ``RunStore``.
"""

from __future__ import annotations

import errno
import functools
import inspect
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import AutopackError, DiskFull, StoreDamaged, StoreError, StoreLocked
from ..lock import describe_holders

# SQLite primary result codes (the low byte of ``sqlite3.Error.sqlite_errorcode``).
SQLITE_PERM, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY = 3, 5, 6, 8
SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN = 10, 11, 13, 14
SQLITE_AUTH, SQLITE_NOTADB = 23, 26

C = TypeVar("C", bound=type)

AFRESH = "move it aside to start afresh, or restore it from a backup"
AGAIN = "then run the same command again"


def damaged(path: Path, reason: str) -> StoreDamaged:
    return StoreDamaged(f"{path} is not a valid autopack run store ({reason}): {AFRESH}")


def store_error(path: Path, exc: sqlite3.Error, waited: float) -> AutopackError | None:
    """The user's error for ``exc``, raised on the store at ``path`` (which waited ``waited`` seconds
    for a lock); None when ``exc`` is a bug."""
    code = getattr(exc, "sqlite_errorcode", None)
    name = getattr(exc, "sqlite_errorname", "") or ""
    primary = code & 0xFF if isinstance(code, int) else None
    reason = str(exc)
    if primary in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return damaged(path, reason)
    if primary == SQLITE_FULL:
        return DiskFull(path)
    if primary in (SQLITE_BUSY, SQLITE_LOCKED):
        return StoreLocked(
            f"{path} is locked by another process ({describe_holders(path)}) and stayed locked for {waited:g} s: "
            f"wait for it to finish or stop it, {AGAIN}"
        )
    if primary == SQLITE_READONLY:
        if name == "SQLITE_READONLY_DIRECTORY" or not _writable(path.parent):
            return StoreError(
                f"the folder {path.parent} of the run store is not writable (SQLite creates {path.name}-wal and "
                f"{path.name}-shm beside {path.name}): make it writable for this user, {AGAIN}"
            )
        return StoreError(f"{path} is read-only ({reason}): make it writable for this user, {AGAIN}")
    if primary in (SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_AUTH):
        return _cannot_open(path, reason)
    if primary == SQLITE_IOERR:
        if _no_space(path):
            return DiskFull(path)
        return StoreError(f"cannot read or write {path} ({reason}): check the disk and the file, {AGAIN}")
    return None


def folder_error(path: Path, exc: OSError) -> AutopackError:
    """The store's folder could not be made (``mkdir`` of ``path.parent`` failed)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFull(exc.filename or path.parent)
    where = exc.filename or path.parent
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        return StoreError(
            f"cannot create the run store {path}: {where} is in the way and is not a folder; move it aside, {AGAIN}"
        )
    return StoreError(f"cannot create the run store's folder {where} ({exc.strerror}): fix that, {AGAIN}")


def _cannot_open(path: Path, reason: str) -> AutopackError:
    if path.is_dir():
        return damaged(path, "it is a directory")
    if not path.parent.is_dir():
        return StoreError(f"cannot open {path}: its folder {path.parent} is missing or not a folder; {AGAIN}")
    if path.exists():
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            return StoreError(
                f"cannot open {path} ({exc.strerror}): give this user read and write access to it, {AGAIN}"
            )
    elif not _writable(path.parent):
        return StoreError(
            f"cannot create {path}: the folder {path.parent} is not writable; make it writable for this user, {AGAIN}"
        )
    return StoreError(
        f"cannot open {path} ({reason}): check that it and its folder are readable and writable for this user, {AGAIN}"
    )


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def _no_space(path: Path) -> bool:
    try:
        st = os.statvfs(path.parent)
    except OSError:
        return False
    root = os.geteuid() == 0  # root may write into the blocks reserved for it
    blocks, inodes = (st.f_bfree, st.f_ffree) if root else (st.f_bavail, st.f_favail)
    return blocks == 0 or (st.f_files > 0 and inodes == 0)  # some filesystems report no inode counts


def guarded(cls: C) -> C:
    """Wrap every public method defined in ``cls`` so that an ``sqlite3.Error`` raised in it (by the
    query or by reading its rows) becomes the store's user error; a bug's error passes unchanged."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(member) and name not in getattr(cls, "_unguarded", ()):
            setattr(cls, name, _guard(member))
    return cls


def _guard(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            err = self._user_error(exc)
            if err is None:
                raise
            raise err from exc

    return wrapper
