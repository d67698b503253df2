"""One executor per run id: an OS file lock (``fcntl.flock``) that the kernel releases when the
holder dies, even on ``kill -9``. The lock file records the holder's pid for the error message.

``describe_holders`` names whoever holds a file locked right now (from ``/proc/locks`` on Linux), and
says when that process is an autopack executor: the run store's "database is locked" error uses it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from .errors import LockHeldError

LOCK_NAME = "executor.lock"


class RunLock:
    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("utf-8", "replace").strip() or "unknown"
            os.close(fd)
            raise LockHeldError(
                f"run {self.run_id!r} is already being executed by process {holder} (lock {self.path}); "
                "wait for it to finish or stop that process, then run the command again"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            os.fsync(fd)
        except OSError as exc:  # a full disk, most likely: say which file (the fd calls do not)
            os.close(fd)  # and let go of the lock
            raise OSError(exc.errno, exc.strerror, str(self.path)) from exc
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def executor_holding(path: Path) -> int | None:
    """The pid of the executor holding the run lock at ``path`` right now (0 when it holds it but its
    pid is not readable), or None when no process holds it: a run whose store says RUNNING while
    nobody holds its lock was interrupted (``kill -9``, a crash, a reboot) and resumes with the same command."""
    if not path.exists():
        return None
    if Path("/proc/locks").exists():  # read who holds it without touching the lock (Linux)
        holders = lock_holders(path)
        return holders[0] if holders else None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:  # elsewhere: a shared lock taken and let go at once fails only while an executor holds it
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 64, 0).decode("utf-8", "replace").strip()
            return int(text) if text.isdigit() else 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def lock_holders(*paths: Path) -> list[int]:
    """Pids of the other processes holding a write lock (POSIX, OFD or flock) on any of ``paths``
    right now, from ``/proc/locks``; [] where that file does not exist (not Linux) or names nobody."""
    wanted = set()
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        wanted.add((os.major(st.st_dev), os.minor(st.st_dev), st.st_ino))
    try:
        lines = Path("/proc/locks").read_text(encoding="ascii", errors="replace").splitlines()
    except OSError:
        return []
    pids: list[int] = []
    for line in lines:
        fields = line.split()
        if len(fields) < 6 or "->" in fields:  # "->" marks a process waiting for the lock, not holding it
            continue
        access, pid_text, where = fields[3], fields[4], fields[5]
        try:
            major, minor, inode = where.split(":")
            key = (int(major, 16), int(minor, 16), int(inode))
            pid = int(pid_text)
        except ValueError:
            continue
        if access == "WRITE" and key in wanted and pid > 0 and pid != os.getpid() and pid not in pids:
            pids.append(pid)
    return pids


def describe_holders(db_path: Path) -> str:
    """Who holds the run store at ``db_path`` (or its -wal/-shm files) locked, in words: an autopack
    executor is named with its run id (its lock file under ``runs/`` records its pid)."""
    side = [db_path.with_name(db_path.name + suffix) for suffix in ("-wal", "-shm")]
    pids = lock_holders(db_path, *side)
    if not pids:
        return f"which one could not be found out; `fuser -v {db_path}*` may name it"
    runs = _executors(db_path.parent / "runs")
    named = []
    for pid in pids:
        if pid in runs:
            named.append(f"autopack executing run {runs[pid]!r}, process {pid}")
        else:
            named.append(f"process {pid}{_command_name(pid)}")
    return "; ".join(named)


def _executors(runs_dir: Path) -> dict[int, str]:
    """pid -> run id, from the pids the executor lock files record (the last holder of each)."""
    out: dict[int, str] = {}
    try:
        locks = list(runs_dir.glob(f"*/{LOCK_NAME}"))
    except OSError:
        return out
    for lock in locks:
        try:
            out[int(lock.read_text(encoding="utf-8").strip())] = lock.parent.name
        except (OSError, ValueError):
            continue
    return out


def _command_name(pid: int) -> str:
    try:
        name = Path(f"/proc/{pid}/comm").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
    return f", {name}" if name else ""
