"""A run killed with ``kill -9`` mid-phase resumes with the same command: nothing applied twice, nothing
half-applied left; and a second executor for the same run id is refused while the first holds it."""

from __future__ import annotations

import os
import shlex
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git
import pytest

from conftest import CliResult

from .conftest import (
    ADD_MULTIPLY,
    APPROVE,
    PYTEST,
    AutopackEnv,
    attempts,
    builder,
    kill_group,
    phase,
    sr,
    wait_for,
)

pytestmark = pytest.mark.slow  # real subprocesses, git and pytest: deselect with -m 'not slow'

# While the flag file exists, the check records its process group and sleeps: the gate of phase 2
# is then "in progress" for as long as the test needs. Without the flag it passes at once.
SLOW_CHECK = """\
import os, pathlib, sys, time
if pathlib.Path(sys.argv[1]).exists():
    pathlib.Path(sys.argv[2]).write_text(str(os.getpgrp()), encoding="utf-8")
    time.sleep(120)
"""

ADD_DIVIDE = sr(
    "calc.py",
    "def multiply(a, b):\n    return a * b\n",
    "def multiply(a, b):\n    return a * b\n\n\ndef divide(a, b):\n    return a / b\n",
) + sr(
    "tests/test_calc.py",
    "from calc import add, multiply, subtract\n",
    "from calc import add, divide, multiply, subtract\n\n\ndef test_divide():\n    assert divide(9, 3) == 3\n",
)
HALF_FILE = "tests/test_half.py"


@dataclass
class CrashedRun:
    ap: AutopackEnv
    pid: int
    concurrent: CliResult  # a second `autopack run` of the same run id while the first was alive
    before_resume: dict[str, Any]  # status --json right after the kill
    half_file_after_kill: bool  # the killed attempt's new file was in the worktree
    resumed: CliResult
    status: dict[str, Any]
    while_running: dict[str, Any] = field(default_factory=dict)  # status --json while the executor was alive
    before_resume_text: str = ""  # plain `status` right after the kill


def slow_plan(ap: AutopackEnv, flag: Path, marker: Path) -> Path:
    checker = ap.root / "slow_check.py"
    checker.write_text(SLOW_CHECK, encoding="utf-8")
    slow = f"python {shlex.quote(str(checker))} {shlex.quote(str(flag))} {shlex.quote(str(marker))}"
    return ap.plan(
        [
            phase("p1", name="Add multiply"),
            phase("p2", name="Add divide", scope=["calc.py", "tests/"], checks=[slow, PYTEST], depends_on=["p1"]),
        ]
    )


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> CrashedRun:
    ap = AutopackEnv(tmp_path_factory.mktemp("crash"))
    flag, marker = ap.root / "slow.flag", ap.root / "gate.pgid"
    flag.touch()
    plan = slow_plan(ap, flag, marker)
    # The first process also writes a file the resumed attempt will not: if it survives, a half-applied
    # edit was left behind.
    script = ap.script(
        [
            builder("p1", ADD_MULTIPLY),
            builder("p2", ADD_DIVIDE + sr(HALF_FILE, "", "def test_half():\n    assert True\n")),
            APPROVE,
        ]
    )
    proc = ap.popen("crash", plan, script)
    try:

        def gate_running() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"autopack exited early ({proc.returncode}): {(ap.root / 'crash.out').read_text()}")
            return marker.exists() and marker.read_text(encoding="utf-8").strip() != ""

        wait_for(gate_running, what="phase 2's gate to start")
        concurrent = ap.run("crash", plan, script)
        while_running = ap.status("crash")
    finally:
        kill_group(proc)
        if marker.exists():  # the check runs in a session of its own: kill it too
            try:
                os.killpg(int(marker.read_text(encoding="utf-8")), signal.SIGKILL)
            except ProcessLookupError:
                pass
    before = ap.status("crash")
    before_text = ap.invoke("status", "--run-id", "crash", "--home", str(ap.home))
    half = (ap.run_dir("crash") / "worktree" / HALF_FILE).exists()

    flag.unlink()
    ap.script([builder("p1", ADD_MULTIPLY), builder("p2", ADD_DIVIDE), APPROVE])  # same path, rewritten
    resumed = ap.run("crash", plan, script)
    return CrashedRun(ap, proc.pid, concurrent, before, half, resumed, ap.status("crash"), while_running, before_text)


def test_the_kill_left_phase_1_complete_and_phase_2_mid_attempt(crashed: CrashedRun) -> None:
    phases = {p["id"]: p for p in crashed.before_resume["phases"]}
    assert phases["p1"]["state"] == "COMPLETE"
    assert phases["p2"]["state"] == "GATING"
    assert attempts(crashed.before_resume, "p2") == [("running", None)]
    assert crashed.half_file_after_kill


def test_status_says_whether_an_executor_holds_the_run(crashed: CrashedRun) -> None:
    assert crashed.while_running["executor_pid"] == crashed.pid and not crashed.while_running["interrupted"]
    assert crashed.before_resume["executor_pid"] is None and crashed.before_resume["interrupted"]
    assert "no executor is running this run" in crashed.before_resume_text
    assert "run the same `autopack run` command to resume" in crashed.before_resume_text
    assert not crashed.status["interrupted"]  # complete now


def test_a_second_executor_for_the_same_run_is_refused_naming_the_holder(crashed: CrashedRun) -> None:
    assert crashed.concurrent.returncode == 2, crashed.concurrent.output
    assert f"already being executed by process {crashed.pid}" in crashed.concurrent.stderr
    assert "Traceback" not in crashed.concurrent.output


def test_the_same_command_resumes_the_killed_run_to_completion(crashed: CrashedRun) -> None:
    assert crashed.resumed.returncode == 0, crashed.resumed.output
    assert crashed.status["status"] == "COMPLETE"
    assert "resumed (1 interrupted" in crashed.resumed.stdout


def test_phase_1_is_not_applied_twice(crashed: CrashedRun) -> None:
    p1_commits = [c for c in crashed.ap.commits("crash") if "Autopack-Phase: p1\n" in str(c.message)]
    assert len(p1_commits) == 1
    assert attempts(crashed.status, "p1") == [("approved", None)]
    assert len([c for c in crashed.ap.llm_calls("crash", "builder") if c["phase_id"] == "p1"]) == 1
    assert crashed.ap.show("crash", "calc.py").count("def multiply") == 1


def test_phase_2_is_committed_once_after_its_interrupted_attempt(crashed: CrashedRun) -> None:
    commits = crashed.ap.commits("crash")
    assert [str(c.message).split("Autopack-Phase: ")[1].strip() for c in commits] == ["p1", "p2"]
    assert attempts(crashed.status, "p2") == [("interrupted", None), ("approved", None)]
    interrupted = crashed.ap.events("crash", "attempt_interrupted")
    assert [(e.phase_id, e.data["attempt"]) for e in interrupted] == [("p2", 1)]


def test_no_half_applied_edit_survives_the_resume(crashed: CrashedRun) -> None:
    worktree = crashed.ap.run_dir("crash") / "worktree"
    assert not crashed.ap.on_branch("crash", HALF_FILE)
    assert not (worktree / HALF_FILE).exists()
    assert crashed.ap.repo.git.status("--porcelain", "--untracked-files=all") == ""  # the user's tree
    assert git.Repo(worktree).git.status("--porcelain", "--untracked-files=all") == ""
    assert crashed.ap.show("crash", "calc.py").count("def divide") == 1


def test_running_a_complete_run_again_changes_nothing(crashed: CrashedRun) -> None:
    ap = crashed.ap
    commits = [c.hexsha for c in ap.commits("crash")]
    calls = len(ap.llm_calls("crash"))
    again = ap.run("crash", ap.root / "plan.yaml", ap.root / "script.yaml")
    assert again.returncode == 0, again.output
    assert "already complete" in again.stdout
    assert [c.hexsha for c in ap.commits("crash")] == commits
    assert len(ap.llm_calls("crash")) == calls


def test_a_phase_committed_just_before_a_crash_is_recognised_by_its_trailer(ap: AutopackEnv) -> None:
    plan = ap.plan([phase("p1", name="Add multiply")])
    script = ap.script([builder("p1", ADD_MULTIPLY), APPROVE])
    assert ap.run("late", plan, script).returncode == 0
    (commit,) = ap.commits("late")
    # Put the store back to the instant between `git commit` and the store's record of it: the phase
    # still COMMITTING with no commit, its attempt running, the run RUNNING.
    with ap.store() as store:
        store.set_phase("late", "p1", "phase_state", state="COMMITTING", commit_sha=None)
        store.update_run("late", status="RUNNING")
        with store.transaction() as db:
            db.execute("UPDATE attempts SET outcome='running', finished_at=NULL WHERE run_id='late'")
    calls = len(ap.llm_calls("late"))
    ap.script([builder("p1", ADD_MULTIPLY.replace("a * b", "b * a")), APPROVE])  # a re-build would differ

    resumed = ap.run("late", plan, script)

    assert resumed.returncode == 0, resumed.output
    assert [c.hexsha for c in ap.commits("late")] == [commit.hexsha]
    assert len(ap.llm_calls("late")) == calls
    status = ap.status("late")
    assert (status["status"], status["phases"][0]["state"], status["phases"][0]["commit"]) == (
        "COMPLETE",
        "COMPLETE",
        commit.hexsha,
    )
    recovered = [e for e in ap.events("late", "phase_complete") if "recovered after a crash" in e.data["reason"]]
    assert len(recovered) == 1
