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
    ``mode`` sets the permission bits (default: the umask's, like a new file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".autopack-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fh:
            fh.write(text)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
