"""One executor per run id: the run lock, tested with real second processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from autopack.childenv import subprocess_env
from autopack.errors import AutopackError, LockHeldError
from autopack.lock import RunLock, describe_holders, lock_holders

HOLDER = r"""
import sys
from pathlib import Path
from autopack.lock import RunLock, describe_holders, lock_holders

lock = RunLock(Path(sys.argv[1]), sys.argv[2])
lock.acquire()
print("locked", flush=True)
sys.stdin.read()  # hold the lock until the parent closes our stdin (or kills us)
"""

TRY_ACQUIRE = r"""
import sys
from pathlib import Path
from autopack.errors import LockHeldError
from autopack.lock import RunLock, describe_holders, lock_holders

try:
    RunLock(Path(sys.argv[1]), sys.argv[2]).acquire()
except LockHeldError as exc:
    print(exc)
    sys.exit(exc.exit_code)
print("acquired")
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A second process that holds the lock for run 'r1' until it is stopped."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "runs" / "r1.lock"), "r1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env(),
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line == b"locked\n", child.stderr.read() if child.stderr else line
    yield child
    if child.poll() is None:
        child.kill()
    child.wait(timeout=30)


def test_lock_can_be_taken_released_and_taken_again(tmp_path: Path) -> None:
    lock = RunLock(tmp_path / "r1.lock", "r1")
    lock.acquire()
    lock.release()
    with RunLock(tmp_path / "r1.lock", "r1"):
        pass


def test_lock_file_records_the_holders_pid_and_its_folder_is_created(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "runs" / "r1.lock"
    with RunLock(path, "r1"):
        assert path.read_text(encoding="utf-8") == str(os.getpid())


def test_second_process_gets_lock_held_error_naming_the_holder_pid(
    tmp_path: Path, holder: subprocess.Popen[bytes]
) -> None:
    with pytest.raises(LockHeldError) as info:
        RunLock(tmp_path / "runs" / "r1.lock", "r1").acquire()
    msg = str(info.value)
    assert f"process {holder.pid}" in msg
    assert "run 'r1' is already being executed" in msg
    assert "stop that process" in msg  # says what to do
    assert isinstance(info.value, AutopackError) and info.value.exit_code == 2


def test_a_held_lock_is_refused_to_another_process_too(tmp_path: Path) -> None:
    path = tmp_path / "r1.lock"
    with RunLock(path, "r1"):
        proc = subprocess.run(
            [sys.executable, "-c", TRY_ACQUIRE, str(path), "r1"], capture_output=True, text=True, env=subprocess_env()
        )
        assert proc.returncode == 2, proc.stderr
        assert f"process {os.getpid()}" in proc.stdout


def test_other_run_ids_are_not_blocked(tmp_path: Path, holder: subprocess.Popen[bytes]) -> None:
    with RunLock(tmp_path / "runs" / "r2.lock", "r2"):
        pass


def test_holder_killed_with_sigkill_releases_the_lock(tmp_path: Path, holder: subprocess.Popen[bytes]) -> None:
    path = tmp_path / "runs" / "r1.lock"
    with pytest.raises(LockHeldError):
        RunLock(path, "r1").acquire()
    holder.send_signal(signal.SIGKILL)
    assert holder.wait(timeout=30) == -signal.SIGKILL
    lock = RunLock(path, "r1")
    lock.acquire()  # no stale lock to clean up by hand
    try:
        assert path.read_text(encoding="utf-8") == str(os.getpid())
    finally:
        lock.release()


def test_holder_exiting_normally_releases_the_lock(tmp_path: Path, holder: subprocess.Popen[bytes]) -> None:
    assert holder.stdin is not None
    holder.stdin.close()
    assert holder.wait(timeout=30) == 0
    proc = subprocess.run(
        [sys.executable, "-c", TRY_ACQUIRE, str(tmp_path / "runs" / "r1.lock"), "r1"],
        capture_output=True,
        text=True,
        env=subprocess_env(),
    )
    assert (proc.returncode, proc.stdout.strip()) == (0, "acquired"), proc.stderr


def test_a_file_nobody_holds_is_described_with_how_to_find_the_holder(tmp_path: Path) -> None:
    db = tmp_path / "autopack.db"
    db.write_bytes(b"")
    assert describe_holders(db) == f"which one could not be found out; `fuser -v {db}*` may name it"


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="no /proc/locks (not Linux)")
def test_the_holder_of_a_write_lock_is_named_by_pid(tmp_path: Path, holder: subprocess.Popen[bytes]) -> None:
    lock = tmp_path / "runs" / "r1.lock"  # flock'ed by the holder process
    assert lock_holders(lock) == [holder.pid]
    assert f"process {holder.pid}" in describe_holders(lock)
