"""``autopack run`` on a disk that fills up: one line naming where (exit 3), no traceback, nothing
half-written; once there is space again the same command resumes, and every phase is committed once.
"""

from __future__ import annotations

import errno
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import CliResult

from .conftest import ADD_MULTIPLY, APPROVE, AUTOPACK, AutopackEnv, builder, phase, sr

pytestmark = pytest.mark.slow  # real subprocesses, git and pytest: deselect with -m 'not slow'

NO_SPACE = "; free space and run the same command"

# Phase 2's edit is large (a long docstring), so recording it needs new pages in the store.
DOCSTRING = "".join(f"    step {i}: divide a by b, carefully, and say so in words\n" for i in range(400))
ADD_DIVIDE = sr(
    "calc.py",
    "def multiply(a, b):\n    return a * b\n",
    f'def multiply(a, b):\n    return a * b\n\n\ndef divide(a, b):\n    """Divide.\n\n{DOCSTRING}    """\n'
    "    return a / b\n",
)

# The real CLI, whose run store stops growing once the first phase is complete: SQLite then reports
# SQLITE_FULL ("database or disk is full") at the next write that needs a page, as on a full disk.
STORE_FILLS_AFTER_PHASE_1 = """\
import sys
from autopack.store import RunStore

set_phase = RunStore.set_phase

def filling(self, run_id, phase_id, event, data=None, **fields):
    set_phase(self, run_id, phase_id, event, data, **fields)
    if str(fields.get("state")) == "COMPLETE":
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        self._db.execute(f"PRAGMA max_page_count={pages}")

RunStore.set_phase = filling
from autopack.cli import main
sys.argv[0] = "autopack"
main()
"""


def plan_and_script(ap: AutopackEnv) -> tuple[Path, Path]:
    plan = ap.plan([phase("p1", name="Add multiply"), phase("p2", name="Add divide", depends_on=["p1"])])
    script = ap.script([builder("p1", ADD_MULTIPLY), builder("p2", ADD_DIVIDE), APPROVE])
    return plan, script


def committed_phases(ap: AutopackEnv, run_id: str) -> list[str]:
    return [str(c.message).split("Autopack-Phase: ")[1].strip() for c in ap.commits(run_id)]


def assert_disk_full(result: CliResult, path: str) -> None:
    assert result.returncode == 3, result.output
    assert "Traceback" not in result.output, result.output
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    assert re.fullmatch(rf"error: no space left on {path}{re.escape(NO_SPACE)}", errors[0]), errors[0]


def test_a_store_that_fills_mid_run_stops_with_one_line_and_resumes(ap: AutopackEnv) -> None:
    plan, script = plan_and_script(ap)
    args = ap.run_args("full", plan, script)
    proc = subprocess.run(
        [AUTOPACK[0], "-c", STORE_FILLS_AFTER_PHASE_1, *args],
        cwd=ap.root,
        env=ap.env(),
        capture_output=True,
        timeout=120,
    )
    full = CliResult(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))

    assert_disk_full(full, re.escape(str(ap.db_path)))
    assert ap.status("full")["phases"][0]["state"] == "COMPLETE"

    resumed = ap.run("full", plan, script)  # space freed: the same command, in a fresh process

    assert resumed.returncode == 0, resumed.output
    assert ap.status("full")["status"] == "COMPLETE"
    assert committed_phases(ap, "full") == ["p1", "p2"]
    assert ap.show("full", "calc.py").count("def divide") == 1


@pytest.fixture
def full_home(ap: AutopackEnv) -> Iterator[Path]:
    """The autopack home on a 2 MiB tmpfs filled to the last byte by ``<home>/filler``."""
    ap.home.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command here")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(ap.home)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): {mounted.stderr.decode().strip()}")
    try:
        with open(ap.home / "filler", "wb", buffering=0) as fh:
            try:
                while True:
                    fh.write(b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
        yield ap.home
    finally:
        subprocess.run(["umount", "-l", str(ap.home)], check=False)


def test_a_run_on_a_full_disk_stops_with_one_line_and_runs_once_space_is_freed(
    ap: AutopackEnv, full_home: Path
) -> None:
    plan, script = plan_and_script(ap)

    full = ap.run("full", plan, script)

    assert_disk_full(full, re.escape(str(full_home)) + r"/\S+")
    (full_home / "filler").unlink()
    resumed = ap.run("full", plan, script)
    assert resumed.returncode == 0, resumed.output
    assert ap.status("full")["status"] == "COMPLETE"
    assert committed_phases(ap, "full") == ["p1", "p2"]
