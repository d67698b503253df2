"""Crash-safe file writes shared by every room that writes user-visible files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_text(
    path: Path, text: str, *, newline: str = "\n", fsync: bool = True, mode: int | None = None
) -> None:
    """Write UTF-8 text to a temp file beside ``path``, then rename it over: readers and a crashed
    process see the old file or the new one, never half of one. ``newline=""`` writes text as is;
    ``mode`` sets the permission bits (default: the umask's, like a new file). An ``OSError`` (a full
    disk: ENOSPC) names ``path``, and leaves the old file as it was and no temporary file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".autopack-tmp", dir=path.parent)
    except OSError as exc:
        raise _naming(exc, path) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fh:
            fh.write(text)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        if mode is None:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _naming(exc, path) from exc
        raise


def _naming(exc: OSError, path: Path) -> OSError:
    """``exc`` naming ``path``, the file the caller asked for: a write through a file descriptor (a full
    disk, most often) names no file at all, and the temporary file's name would mean nothing to a user."""
    if exc.errno is None:
        return exc
    return OSError(exc.errno, exc.strerror, str(path))


def _umask() -> int:
    """The process's umask. Read from /proc where there is one: setting it to read it back (the only
    portable way) changes it for every thread meanwhile, and batches write from several threads."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0)
    os.umask(umask)
    return umask
