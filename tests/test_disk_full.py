"""A full disk is one line, "no space left on <path>; free space and run the same command", exit 3,
wherever the write was: the run store (SQLite's "database or disk is full"), a file autopack writes
atomically, the run lock. Nothing is half-written, so the same command works once there is space.

Real full disks come from a tiny tmpfs (``tiny_disk``, skipped where this process may not mount one);
the same failures are also raised in-process, so every case runs everywhere.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from autopack.errors import DiskFull, StoreLocked, user_error
from autopack.fileio import atomic_write_text
from autopack.layout import Layout
from autopack.lock import RunLock
from autopack.store import RunStore
from conftest import CliResult, cli_env

NO_SPACE = "; free space and run the same command"


def fill(store: RunStore) -> None:
    """Let the store's file grow no more, as a full disk would (SQLite then says SQLITE_FULL)."""
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count={pages}")


def new_store(tmp_path: Path) -> RunStore:
    store = RunStore(Layout(tmp_path, "demo").db_path)
    store.create_run("r1", "demo", "goal", "{}", [{"id": "p1", "name": "One", "complexity": "low"}])
    return store


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs, filled to the last byte by ``<disk>/filler`` (delete it to free space)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command here")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): {mounted.stderr.decode().strip()}")
    try:
        fill_up(disk / "filler")
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill_up(filler: Path) -> None:
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


# the run store ---------------------------------------------------------------------------------------
def test_a_store_write_on_a_full_disk_is_disk_full_naming_the_store(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    fill(store)
    with pytest.raises(DiskFull) as info:
        store.add_event("r1", "note", {"text": "x" * 50_000})
    assert str(info.value) == f"no space left on {store.path}{NO_SPACE}"
    assert info.value.exit_code == 3
    store.close()


def test_a_store_write_on_a_full_disk_leaves_nothing_half_written_and_works_once_there_is_space(
    tmp_path: Path,
) -> None:
    store = new_store(tmp_path)
    fill(store)
    with pytest.raises(DiskFull):
        store.add_event("r1", "note", {"text": "x" * 50_000})
    assert not store._db.in_transaction
    assert store.count_events("r1", "note") == 0
    store._db.execute("PRAGMA max_page_count=1073741823")  # space freed
    store.add_event("r1", "note", {"text": "x" * 50_000})
    assert store.count_events("r1", "note") == 1
    store.close()


# the one place that words it -------------------------------------------------------------------------
def test_enospc_from_a_named_file_is_disk_full_naming_it() -> None:
    err = user_error(OSError(errno.ENOSPC, "No space left on device", "/data/logs/run.log"))
    assert isinstance(err, DiskFull) and err.exit_code == 3
    assert str(err) == f"no space left on /data/logs/run.log{NO_SPACE}"


def test_an_exceeded_quota_is_disk_full_too() -> None:
    err = user_error(OSError(errno.EDQUOT, "Disk quota exceeded", "/home/me/.autonomous_runs"))
    assert str(err) == f"no space left on /home/me/.autonomous_runs (disk quota exceeded){NO_SPACE}"


def test_an_error_raised_while_handling_a_full_disk_is_reported_as_the_full_disk() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/data/autopack.db")
        except OSError:
            raise StoreLocked("could not record the failure either") from None
    except StoreLocked as exc:
        err = user_error(exc)
    assert str(err) == f"no space left on /data/autopack.db{NO_SPACE}"


def test_sqlite_full_met_outside_the_store_is_disk_full(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "other.db", isolation_level=None)
    db.execute("CREATE TABLE t (x TEXT)")
    db.execute(f"PRAGMA max_page_count={db.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(sqlite3.OperationalError) as info:
        db.execute("INSERT INTO t VALUES (?)", ("x" * 50_000,))
    db.close()
    assert str(user_error(info.value)) == f"no space left on the disk{NO_SPACE}"


def test_other_errors_are_left_as_bugs() -> None:
    assert user_error(ValueError("a bug")) is None
    assert user_error(OSError(errno.EIO, "Input/output error", "/x")) is None


# files written atomically, and the run lock -----------------------------------------------------------
def test_an_atomic_write_on_a_full_disk_names_the_file_and_keeps_the_old_one(tiny_disk: Path) -> None:
    target = tiny_disk / "rules.yaml"
    (tiny_disk / "filler").unlink()
    target.write_text("old: true\n", encoding="utf-8")
    fill_up(tiny_disk / "filler")
    with pytest.raises(OSError) as info:
        atomic_write_text(target, "new: true\n" * 10_000)
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, str(target))
    assert target.read_text(encoding="utf-8") == "old: true\n"
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler", "rules.yaml"]  # no temporary file left


def test_an_atomic_write_failing_on_a_descriptor_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")  # as the kernel reports it: no file name

    monkeypatch.setattr("autopack.fileio.os.fsync", no_space)
    target = tmp_path / "journal.md"
    with pytest.raises(OSError) as info:
        atomic_write_text(target, "# journal\n")
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, str(target))
    assert list(tmp_path.iterdir()) == []


def test_the_run_lock_on_a_full_disk_names_its_file(tiny_disk: Path) -> None:
    path = tiny_disk / "runs" / "r1" / "executor.lock"
    with pytest.raises(OSError) as info:
        RunLock(path, "r1").acquire()
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, str(path))


def test_the_run_lock_that_could_not_record_its_pid_is_let_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space(fd: int, data: bytes, offset: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    path = tmp_path / "executor.lock"
    with monkeypatch.context() as m:
        m.setattr("autopack.lock.os.pwrite", no_space)
        with pytest.raises(OSError) as info:
            RunLock(path, "r1").acquire()
    assert info.value.filename == str(path)
    with RunLock(path, "r1"):  # the failed attempt holds nothing
        pass


# the command line ------------------------------------------------------------------------------------
NO_SPACE_FOR_FILES = (
    "import errno, os, sys\n"
    "import autopack.fileio\n"
    "def full(fd):\n"
    "    raise OSError(errno.ENOSPC, 'No space left on device')\n"
    "autopack.fileio.os.fsync = full\n"
    "from autopack.cli import main\n"
    "sys.argv[0] = 'autopack'\n"
    "main()\n"
)


def run_cli_with(wrapper: str, *args: str, cwd: Path) -> CliResult:
    proc = subprocess.run(
        [sys.executable, "-c", wrapper, *args], cwd=cwd, env=cli_env(), capture_output=True, timeout=120
    )
    return CliResult(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


def assert_disk_full(result: CliResult, path: Path) -> None:
    assert result.returncode == 3, result.output
    assert "Traceback" not in result.output, result.output
    assert result.stderr.strip() == f"error: no space left on {path}{NO_SPACE}", result.stderr


def test_journal_to_a_file_on_a_full_disk_is_one_line_exit_3(tmp_path: Path) -> None:
    new_store(tmp_path).close()
    out = tmp_path / "journal.md"
    result = run_cli_with(
        NO_SPACE_FOR_FILES, "journal", "--run-id", "r1", "--home", str(tmp_path), "-o", str(out), cwd=tmp_path
    )
    assert_disk_full(result, out)
    assert not out.exists()


def test_journal_to_a_really_full_disk_is_one_line_exit_3(tmp_path: Path, tiny_disk: Path) -> None:
    new_store(tmp_path).close()
    out = tiny_disk / "journal.md"
    result = run_cli_with(
        "import sys; from autopack.cli import main; main()",
        "journal",
        "--run-id",
        "r1",
        "--home",
        str(tmp_path),
        "-o",
        str(out),
        cwd=tmp_path,
    )
    assert_disk_full(result, out)
