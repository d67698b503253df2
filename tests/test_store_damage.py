"""A run store that is damaged, locked by another process, or not readable or writable: every command
that opens it says so in one line naming the file, what is wrong and what to do (exit 2), never with a
traceback, and never writes to the file (its bytes are compared before and after)."""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from autopack.errors import StoreDamaged, StoreError, StoreLocked
from autopack.layout import Layout
from autopack.lock import RunLock
from autopack.store import CallRecord, PhaseState, RunStore
from conftest import CliResult, MakeRepo, RunCli, cli_env

AFRESH = "move it aside to start afresh, or restore it from a backup"
NOT_A_STORE = "is not a valid autopack run store"

PLAN = """\
project: demo
goal: Add a greeting module
phases:
  - id: p1
    name: Greeting
    description: Write greet() in greet.py
    scope: [greet.py]
"""
SCRIPT = "mode: match\nresponses:\n  - {match: 'ROLE: builder', text: 'no edits'}\n"

# Raw SQLite, as another program (or a person with the sqlite3 shell) would hold the database.
HOLD = r"""
import sqlite3, sys
from pathlib import Path
db = sqlite3.connect(sys.argv[1], isolation_level=None)
if sys.argv[2] == "whole-file":  # readers are locked out too, not only writers
    db.execute("PRAGMA locking_mode=EXCLUSIVE")
if len(sys.argv) > 3:  # an autopack executor: it holds its run's lock, which records its pid
    from autopack.lock import RunLock
    RunLock(Path(sys.argv[3]), "r1").acquire()
db.execute("BEGIN EXCLUSIVE")
db.execute("INSERT INTO meta(key, value) VALUES ('held', 'yes')")
print("held", flush=True)
sys.stdin.read()
"""

# Naming the holder of a lock needs the kernel's lock table (Linux); elsewhere the message says it could not.
needs_proc_locks = pytest.mark.skipif(not Path("/proc/locks").exists(), reason="no /proc/locks to name the holder")

# The CLI with the store's wait for a lock shortened, so a test need not sit out the real one.
QUICK_LOCK_CLI = (
    "import sys; from autopack.store import RunStore; RunStore.busy_timeout = 1.0; "
    "from autopack.cli import main; sys.argv[0] = 'autopack'; main()"
)


# a real store, and ways to damage it ---------------------------------------------------------------
def make_store(home: Path, project: str = "demo", run_id: str = "run-1") -> Path:
    """A store whose bulk is one run's attempts (so a page from the middle of the file is theirs)."""
    db_path = Layout(home, project).db_path
    with RunStore(db_path) as store:
        phases = [
            {"id": "p1", "name": "Greeting", "complexity": "low"},
            {"id": "p2", "name": "Tests", "complexity": "low"},
        ]
        store.create_run(run_id, project, "Add a greeting module", "{}", phases)
        for i in range(80):
            aid, _ = store.start_attempt(run_id, "p1", "glm-4.6", "low")
            store.record_call(run_id, CallRecord("builder", "glm", "glm-4.6", tokens_in=100, cost_usd=0.001), "p1", aid)
            store.finish_attempt(aid, "failed", "ci_fail", f"attempt {i} failed", patch=f"+line {i}\n" * 300)
        store.set_phase(run_id, "p1", "phase_failed", state=PhaseState.FAILED)
    assert sorted(p.name for p in db_path.parent.glob("autopack.db*")) == ["autopack.db"]  # checkpointed, closed
    return db_path


def random_bytes(db: Path) -> str:
    db.write_bytes(random.Random(5).randbytes(db.stat().st_size))
    return "file is not a database"


def truncated(db: Path) -> str:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    return "database disk image is malformed"


def corrupted_page(db: Path) -> str:
    """Random bytes over one page from the middle of the file: the one holding attempt 40 of 80 (which
    ``status``, ``journal`` and the executor all read)."""
    data = bytearray(db.read_bytes())
    size = int.from_bytes(data[16:18], "big") or 65536
    middle = data.index(b"+line 40\n+line 40\n") // size
    data[middle * size : (middle + 1) * size] = random.Random(7).randbytes(size)
    db.write_bytes(bytes(data))
    return "database disk image is malformed"


def directory(db: Path) -> str:
    db.unlink()
    db.mkdir()
    (db / "notes.txt").write_text("something else\n", encoding="utf-8")
    return "it is a directory"


DAMAGES: dict[str, Callable[[Path], str]] = {
    "random_bytes": random_bytes,
    "truncated": truncated,
    "corrupted_page": corrupted_page,
    "directory": directory,
}


def snapshot(db: Path) -> dict[str, str]:
    """The store's file (or folder) and its neighbours, by content: what "unchanged" means."""
    out = {}
    for p in sorted(db.parent.glob("autopack.db*")):
        files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
        for f in files:
            out[str(f.relative_to(db.parent))] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def assert_one_line(result: CliResult, code: int, *fragments: str, prefix: str = "error: ") -> None:
    assert result.returncode == code, result.output
    assert "Traceback" not in result.output, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in:\n{lines[0]}"


# every command on every kind of damage ---------------------------------------------------------------
@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def command_args(command: str, home: Path, repo: Path, tmp_path: Path) -> list[str]:
    where = ["--home", str(home)]
    if command == "run":
        plan, script = tmp_path / "plan.yaml", tmp_path / "script.yaml"
        plan.write_text(PLAN, encoding="utf-8")
        script.write_text(SCRIPT, encoding="utf-8")
        return [
            "run",
            "--run-id",
            "run-2",
            "--plan",
            str(plan),
            "--project-dir",
            str(repo),
            "--script",
            str(script),
            *where,
        ]
    return {
        "status": ["status", "--run-id", "run-1", *where],
        "runs": ["runs", *where],
        "journal": ["journal", "--run-id", "run-1", *where],
        "doctor": ["doctor", "diagnose", "--run-id", "run-1", *where],
    }[command]


@pytest.mark.parametrize("damage", list(DAMAGES))
@pytest.mark.parametrize("command", ["run", "status", "runs", "journal", "doctor"])
def test_a_damaged_store_is_one_line_naming_it_and_is_left_as_it_was(
    run_cli: RunCli, git_repo: MakeRepo, home: Path, tmp_path: Path, command: str, damage: str
) -> None:
    db = make_store(home)
    reason = DAMAGES[damage](db)
    before = snapshot(db)

    result = run_cli(*command_args(command, home, git_repo(), tmp_path))

    warning = command == "runs"  # it lists the stores it can read, and names the others
    assert_one_line(result, 2, str(db), NOT_A_STORE, reason, AFRESH, prefix="warning: " if warning else "error: ")
    assert snapshot(db) == before


def test_runs_lists_the_readable_stores_and_warns_of_the_damaged_one(run_cli: RunCli, home: Path) -> None:
    make_store(home, "shop", "run-shop")
    damaged = make_store(home, "blog", "run-blog")
    truncated(damaged)

    result = run_cli("runs", "--json", "--home", str(home))

    assert [r["run_id"] for r in json.loads(result.stdout)] == ["run-shop"]
    assert_one_line(result, 2, str(damaged), NOT_A_STORE, prefix="warning: ")


def test_status_finds_a_run_in_a_healthy_store_beside_a_damaged_one(run_cli: RunCli, home: Path) -> None:
    make_store(home, "shop", "run-shop")
    random_bytes(make_store(home, "blog", "run-blog"))

    result = run_cli("status", "--run-id", "run-shop", "--json", "--home", str(home))

    assert result.returncode == 0, result.output
    assert json.loads(result.stdout)["project"] == "shop"


def test_status_of_a_run_in_no_readable_store_names_the_damaged_one(run_cli: RunCli, home: Path) -> None:
    make_store(home, "shop", "run-shop")
    db = make_store(home, "blog", "run-blog")
    random_bytes(db)

    result = run_cli("status", "--run-id", "run-blog", "--home", str(home))

    assert_one_line(result, 2, "no run 'run-blog' in the stores that could be read", str(db), NOT_A_STORE, AFRESH)


# the store itself ------------------------------------------------------------------------------------
def test_damage_found_only_by_a_later_query_is_a_store_error_naming_the_file(home: Path) -> None:
    db = make_store(home)
    corrupted_page(db)
    before = snapshot(db)
    with RunStore(db, check=False) as store:  # as the read-only commands open it: no integrity check
        assert store.require_run("run-1").project == "demo"
        with pytest.raises(StoreDamaged, match=f"{db} {NOT_A_STORE} \\(database disk image is malformed\\)"):
            store.attempts("run-1")
    assert snapshot(db) == before


def test_damage_met_inside_a_write_is_rolled_back_and_names_the_file(home: Path) -> None:
    db = make_store(home)
    corrupted_page(db)
    before = snapshot(db)
    with RunStore(db, check=False) as store:
        with pytest.raises(StoreDamaged, match=NOT_A_STORE):
            store.abandon_open_attempts("run-1")  # reads every attempt of the run, then would write
        assert not store._db.in_transaction
    assert snapshot(db) == before


def test_opening_for_writing_finds_a_damaged_page_before_anything_is_written(home: Path) -> None:
    db = make_store(home)
    corrupted_page(db)
    before = snapshot(db)
    with pytest.raises(StoreDamaged, match="database disk image is malformed"):
        RunStore(db)
    assert snapshot(db) == before


def test_another_programs_sqlite_database_is_refused_and_not_written(home: Path) -> None:
    db = Layout(home, "demo").db_path
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    before = snapshot(db)
    with pytest.raises(StoreDamaged, match=r"an SQLite database of another program, with tables notes"):
        RunStore(db)
    assert snapshot(db) == before


def test_a_store_from_a_newer_autopack_is_refused_and_not_written(home: Path) -> None:
    db = make_store(home)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    conn.close()
    before = snapshot(db)
    with pytest.raises(StoreError, match="written by a newer autopack"):
        RunStore(db)
    assert snapshot(db) == before


def test_something_in_the_way_of_the_stores_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / ".autonomous_runs").mkdir()
    (tmp_path / ".autonomous_runs" / "demo").write_text("a file, not a folder\n", encoding="utf-8")
    with pytest.raises(StoreError, match="is in the way and is not a folder"):
        RunStore(Layout(tmp_path, "demo").db_path)


# another process holds the database -------------------------------------------------------------------
@pytest.fixture
def hold(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``hold(db, how, lock=None)``: another process holding ``db`` locked until the test ends."""
    children: list[subprocess.Popen[bytes]] = []

    def start(db: Path, how: str = "writer", run_lock: Path | None = None) -> subprocess.Popen[bytes]:
        args = [sys.executable, "-c", HOLD, str(db), how, *([str(run_lock)] if run_lock else [])]
        child = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env()
        )
        children.append(child)
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line == b"held\n", child.stderr.read() if child.stderr else line
        return child

    yield start
    for child in children:
        child.kill()
        child.wait(timeout=30)


@needs_proc_locks
def test_run_on_a_locked_store_waits_briefly_then_names_the_holder(
    run_cli: RunCli, git_repo: MakeRepo, home: Path, tmp_path: Path, hold: Callable[..., subprocess.Popen[bytes]]
) -> None:
    db = make_store(home)
    holder = hold(db)
    started = time.monotonic()

    result = run_cli(*command_args("run", home, git_repo(), tmp_path))  # the real wait, not a shortened one

    assert time.monotonic() - started < RunStore.busy_timeout + 10
    assert_one_line(
        result,
        2,
        f"{db} is locked by another process (process {holder.pid}",
        "wait for it to finish or stop it",
        "run the same command again",
    )


@needs_proc_locks
@pytest.mark.parametrize("command", ["status", "runs", "journal"])
def test_a_store_locked_against_readers_is_one_line_naming_the_holder(
    home: Path, tmp_path: Path, hold: Callable[..., subprocess.Popen[bytes]], command: str
) -> None:
    db = make_store(home)
    holder = hold(db, "whole-file")
    args = command_args(command, home, tmp_path, tmp_path)

    proc = subprocess.run(
        [sys.executable, "-c", QUICK_LOCK_CLI, *args], cwd=tmp_path, env=cli_env(), capture_output=True
    )
    result = CliResult(proc.returncode, proc.stdout.decode(), proc.stderr.decode())

    prefix = "warning: " if command == "runs" else "error: "
    assert_one_line(
        result, 2, f"{db} is locked by another process (process {holder.pid}", "stayed locked for 1 s", prefix=prefix
    )


def test_readers_are_not_held_up_by_a_writer(run_cli: RunCli, home: Path, hold: Callable[..., Any]) -> None:
    hold(make_store(home))  # WAL: a write transaction does not lock readers out
    result = run_cli("status", "--run-id", "run-1", "--json", "--home", str(home))
    assert result.returncode == 0, result.output
    assert json.loads(result.stdout)["phases"][0]["state"] == "FAILED"


@needs_proc_locks
def test_an_autopack_executor_holding_the_store_is_named_with_its_run(
    home: Path, hold: Callable[..., subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = make_store(home)
    holder = hold(db, "writer", Layout(home, "demo").run_dir("r1") / "executor.lock")
    monkeypatch.setattr(RunStore, "busy_timeout", 0.3)
    with RunStore(db) as store, pytest.raises(StoreLocked) as info:
        store.add_event("run-1", "note")
    assert f"(autopack executing run 'r1', process {holder.pid})" in str(info.value)


@needs_proc_locks
def test_the_run_lock_of_a_finished_executor_does_not_name_it(
    home: Path, hold: Callable[..., subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = make_store(home)
    with RunLock(Layout(home, "demo").run_dir("r0") / "executor.lock", "r0"):
        pass  # the file keeps this process's pid after the lock is released
    holder = hold(db)
    monkeypatch.setattr(RunStore, "busy_timeout", 0.3)
    with RunStore(db) as store, pytest.raises(StoreLocked) as info:
        store.add_event("run-1", "note")
    assert f"(process {holder.pid}, " in str(info.value) and "'r0'" not in str(info.value)


# a store this user may not read or write -------------------------------------------------------------
def _drop_file_permission_override() -> None:
    """In the child, before exec: give up CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (root then obeys
    permission bits like any user, as root in a container without those capabilities does)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.fixture
def as_user(tmp_path: Path) -> Callable[..., CliResult]:
    """``as_user(*args)``: the CLI as a process that permission bits bind. Not root: as is. Root: with
    the capabilities that override them dropped (skipped where that cannot be done)."""
    preexec = _drop_file_permission_override if os.geteuid() == 0 else None
    if preexec is not None:
        probe = tmp_path / "probe"
        probe.write_text("x", encoding="utf-8")
        probe.chmod(0)
        check = subprocess.run(
            [sys.executable, "-c", f"open({str(probe)!r}).read()"], preexec_fn=preexec, capture_output=True
        )
        probe.unlink()
        if check.returncode == 0:
            pytest.skip("running as root, and root here cannot give up overriding file permissions")

    def run(*args: str) -> CliResult:
        proc = subprocess.run(
            [sys.executable, "-m", "autopack.cli", *args],
            cwd=tmp_path,
            env=cli_env(),
            capture_output=True,
            preexec_fn=preexec,
            timeout=120,
        )
        return CliResult(
            proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
        )

    return run


@pytest.mark.parametrize("command", ["status", "runs"])
def test_an_unreadable_store_is_named_with_what_to_do(
    as_user: Callable[..., CliResult], home: Path, command: str
) -> None:
    db = make_store(home)
    db.chmod(0)
    args = ["status", "--run-id", "run-1"] if command == "status" else ["runs"]

    result = as_user(*args, "--home", str(home))

    prefix = "warning: " if command == "runs" else "error: "
    assert_one_line(
        result, 2, f"cannot open {db} (Permission denied)", "give this user read and write access", prefix=prefix
    )


def test_run_on_a_read_only_store_says_so_and_leaves_it_unchanged(
    as_user: Callable[..., CliResult], git_repo: MakeRepo, home: Path, tmp_path: Path
) -> None:
    db = make_store(home)
    db.chmod(0o444)
    before = db.read_bytes()

    result = as_user(*command_args("run", home, git_repo(), tmp_path))

    assert_one_line(result, 2, f"{db} is read-only", "make it writable for this user", "run the same command again")
    assert db.read_bytes() == before
    wal = db.with_name("autopack.db-wal")  # SQLite, reading, made an empty one it may not remove
    assert not wal.exists() or wal.stat().st_size == 0


def test_run_when_the_stores_folder_is_not_writable_names_the_folder(
    as_user: Callable[..., CliResult], git_repo: MakeRepo, home: Path, tmp_path: Path
) -> None:
    db = make_store(home)
    before = snapshot(db)
    db.parent.chmod(0o555)
    try:
        result = as_user(*command_args("run", home, git_repo(), tmp_path))
    finally:
        db.parent.chmod(0o755)

    assert_one_line(result, 2, f"the folder {db.parent} of the run store is not writable", "make it writable")
    assert snapshot(db) == before


def test_run_when_the_home_is_not_writable_names_the_folder(
    as_user: Callable[..., CliResult], git_repo: MakeRepo, home: Path, tmp_path: Path
) -> None:
    runs = home / ".autonomous_runs"
    runs.mkdir(parents=True)
    runs.chmod(0o555)
    try:
        result = as_user(*command_args("run", home, git_repo(), tmp_path))
    finally:
        runs.chmod(0o755)

    assert_one_line(result, 2, f"{runs / 'demo'}: Permission denied", "give this user read and write access to it")
    assert list(runs.iterdir()) == []
