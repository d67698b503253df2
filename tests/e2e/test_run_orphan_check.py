"""kill -9 of autopack while a check runs: the check lives on in its own process group. The resumed run
ends it before it restores the worktree, so nothing the orphan writes reaches the phase's commit."""

from __future__ import annotations

import os
import shlex
import signal
import sys
from pathlib import Path

import pytest

from .conftest import ADD_MULTIPLY, APPROVE, PYTEST, AutopackEnv, builder, phase, wait_for

pytestmark = pytest.mark.slow

# While the flag exists: record the process group, then keep writing a line into calc.py (in scope),
# as a slow formatter or code generator would, for a minute.
ORPHAN = """\
import os, pathlib, sys, time
flag, record = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
if flag.exists():
    record.write_text(str(os.getpgrp()), encoding="utf-8")
    end = time.time() + 60
    while time.time() < end:
        calc = pathlib.Path("calc.py")
        text = calc.read_text(encoding="utf-8")
        if "ORPHAN" not in text:
            calc.write_text(text + "ORPHAN = 1\\n", encoding="utf-8")
        time.sleep(0.05)
"""


def _alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (a zombie awaiting its reaper does not count: in a
    container whose init does not reap, a killed orphan stays a zombie)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        state, _ppid, group = text[text.rfind(")") + 2 :].split()[:3]
        if group == str(pgid) and state != "Z":
            return True
    return False


def test_a_check_left_running_by_a_killed_run_is_ended_and_writes_nothing_into_the_commit(ap: AutopackEnv) -> None:
    script_py, flag, record = ap.root / "orphan.py", ap.root / "flag", ap.root / "pgid"
    script_py.write_text(ORPHAN, encoding="utf-8")
    flag.write_text("on", encoding="utf-8")
    check = f"{shlex.quote(sys.executable)} {shlex.quote(str(script_py))} {shlex.quote(str(flag))} {shlex.quote(str(record))}"
    plan = ap.plan([phase("p1", name="Add multiply", checks=[check, PYTEST])])
    script = ap.script([builder("p1", ADD_MULTIPLY, repeat=True), APPROVE])
    proc = ap.popen("r1", plan, script)
    wait_for(record.exists, what="the check to start")
    pgid = int(record.read_text(encoding="utf-8"))
    proc.send_signal(signal.SIGKILL)  # autopack only: the check has its own process group and lives on
    proc.wait(timeout=30)
    assert _alive(pgid)
    flag.unlink()

    resumed = ap.run("r1", plan, script)

    try:
        assert resumed.returncode == 0, resumed.output
        assert not _alive(pgid)
        assert "ORPHAN" not in ap.show("r1", "calc.py")
        assert "ended" in resumed.stdout and "left running" in resumed.stdout
    finally:
        if _alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
