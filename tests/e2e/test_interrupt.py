"""Ctrl-C (SIGINT) and SIGTERM during a run: one line saying how to resume, exit 130 (143 for SIGTERM),
the run INTERRUPTED in the store with its open phase rolled back and its check ended; a resume with a
changed config says which keys changed."""

from __future__ import annotations

import shlex
import signal
import sys
from pathlib import Path

import pytest

from autopack.config import SHIPPED_CONFIG, load_config

from .conftest import ADD_MULTIPLY, APPROVE, CALC, PYTEST, AutopackEnv, builder, phase, wait_for

pytestmark = pytest.mark.slow

# While the flag exists, the check records its process group and waits (a slow test suite).
SLOW_CHECK = """\
import os, pathlib, sys, time
flag, record = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
if flag.exists():
    record.write_text(str(os.getpgrp()), encoding="utf-8")
    time.sleep(120)
"""


def _alive(pgid: int) -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        state, _ppid, group = text[text.rfind(")") + 2 :].split()[:3]
        if group == str(pgid) and state != "Z":
            return True
    return False


def _interrupted_run(ap: AutopackEnv, run_id: str, sig: signal.Signals) -> tuple[int, str, int, Path, Path]:
    """Start a run, send ``sig`` while its check runs; returns (exit code, output, check pgid, plan, script)."""
    script_py, flag, record = ap.root / "slow.py", ap.root / "flag", ap.root / f"{run_id}.pgid"
    script_py.write_text(SLOW_CHECK, encoding="utf-8")
    flag.write_text("on", encoding="utf-8")
    check = " ".join(shlex.quote(str(a)) for a in (sys.executable, script_py, flag, record))
    plan = ap.plan([phase("p1", name="Add multiply", checks=[check, PYTEST])], name=f"{run_id}.yaml")
    script = ap.script([builder("p1", ADD_MULTIPLY, repeat=True), APPROVE], name=f"{run_id}-script.yaml")
    proc = ap.popen(run_id, plan, script)
    wait_for(record.exists, what="the check to start")
    pgid = int(record.read_text(encoding="utf-8"))
    proc.send_signal(sig)
    code = proc.wait(timeout=60)
    flag.unlink()
    return code, (ap.root / f"{run_id}.out").read_text(encoding="utf-8"), pgid, plan, script


def test_ctrl_c_marks_the_run_interrupted_rolls_back_and_says_how_to_resume(ap: AutopackEnv) -> None:
    code, output, pgid, plan, script = _interrupted_run(ap, "r1", signal.SIGINT)
    assert code == 130, output
    assert "interrupted; run the same command to resume" in output
    assert "Traceback" not in output
    status = ap.status("r1")
    assert status["status"] == "INTERRUPTED"
    assert "SIGINT" in status["stop_reason"]
    assert [a["outcome"] for a in status["phases"][0]["attempts"]] == ["interrupted"]
    # the worktree is back at the phase's start, and the check is not left running
    worktree = Path(status["worktree"])
    assert (worktree / "calc.py").read_text(encoding="utf-8") == CALC
    assert not _alive(pgid)
    shown = ap.cli("status", "--run-id", "r1", "--home", str(ap.home))
    assert "INTERRUPTED" in shown.stdout

    resumed = ap.run("r1", plan, script)
    assert resumed.returncode == 0, resumed.output
    assert ap.status("r1")["status"] == "COMPLETE"
    assert len(ap.commits("r1")) == 1


def test_sigterm_is_an_interruption_too(ap: AutopackEnv) -> None:
    code, output, _pgid, _plan, _script = _interrupted_run(ap, "t1", signal.SIGTERM)
    assert code == 143, output
    assert "interrupted; run the same command to resume" in output
    assert ap.status("t1")["status"] == "INTERRUPTED"


def test_a_resume_with_a_changed_config_says_which_keys_changed(ap: AutopackEnv) -> None:
    code, output, _pgid, plan, script = _interrupted_run(ap, "c1", signal.SIGINT)
    assert code == 130, output
    resumed = ap.run("c1", plan, script, "--max-attempts", "3", "--max-cost", "2.5")
    assert resumed.returncode == 0, resumed.output
    assert "the config changed since this run last ran" in resumed.output
    shipped = load_config(SHIPPED_CONFIG).complexity_escalation.max_attempts_per_phase
    assert f"complexity_escalation.max_attempts_per_phase: {shipped} -> 3" in resumed.output
    assert "limits.run_cost_cap_usd: 10.0 -> 2.5" in resumed.output
    (changed,) = ap.events("c1", "config_changed")
    assert len(changed.data["changes"]) == 2
    # the same config again: nothing to say
    again = ap.run("c1", plan, script, "--max-attempts", "3", "--max-cost", "2.5")
    assert "config changed" not in again.output
