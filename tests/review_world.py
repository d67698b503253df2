"""A recorded run to review, built for real: a git repository whose run branch holds two phase commits
in its own worktree, and a run store that tells the run (phases, attempts with their stored patches
and gate output, LLM calls, recovery events), as ``autopack run`` would leave them. No model and no
executor: the tests of ``diff``, ``merge``, ``clean``, ``runs`` and ``report`` read what is here.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from autopack.layout import Layout
from autopack.store import CallRecord, PhaseState, RunStatus, RunStore
from conftest import CliResult

PROJECT = "demo"
FAILED_PATCH = (
    "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,4 @@\n def add(a, b):\n"
    "     return a + b\n+\n+def mul(a, b): return a + b  # wrong\n"
)
GATE_TAIL = "$ python -m pytest -q  (exit 1)\nFAILED tests/test_calc.py::test_mul - assert 5 == 6\n1 failed, 2 passed"


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()


def autopack(*args: str) -> CliResult:
    """``autopack ARGS`` in this process, through the real entry point (``cli.main``: red line, exit code)."""
    from autopack.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["autopack", *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as stop:
            main()
    finally:
        sys.argv = argv
    code = stop.value.code
    return CliResult(code if isinstance(code, int) else (0 if code is None else 1), out.getvalue(), err.getvalue())


@dataclass
class World:
    root: Path
    home: Path
    repo: Path
    base: str
    p1: str  # the commit of phase p1 on the run branch
    p2: str
    run_id: str = "r1"

    @property
    def layout(self) -> Layout:
        return Layout(self.home, PROJECT)

    @property
    def worktree(self) -> Path:
        return self.layout.run_dir(self.run_id) / "worktree"

    def cli(self, *args: str) -> CliResult:
        return autopack(*args, "--home", str(self.home))

    def store(self) -> RunStore:
        return RunStore(self.layout.db_path)

    def branches(self) -> list[str]:
        return git(self.repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/").splitlines()

    def head(self, ref: str = "HEAD") -> str:
        return git(self.repo, "rev-parse", ref)


def make_world(root: Path, *, run_id: str = "r1", status: RunStatus = RunStatus.COMPLETE) -> World:
    """The project, its run branch ``autopack/<run_id>`` (p1 adds mul, p2 documents it) and the store."""
    repo = root / "project"
    home = root / "home"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Review Tests")
    git(repo, "config", "user.email", "review@autopack.invalid")
    git(repo, "config", "commit.gpgsign", "false")
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n", encoding="utf-8")
    (repo / "README.md").write_text("# calc\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    base = git(repo, "rev-parse", "HEAD")
    layout = Layout(home, PROJECT)
    wt = layout.run_dir(run_id) / "worktree"
    git(repo, "worktree", "add", "-q", "-b", f"autopack/{run_id}", str(wt), base)
    git(repo, "update-ref", f"refs/autopack/base/{run_id}", base)
    (wt / "calc.py").write_text(
        "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n", encoding="utf-8"
    )
    git(wt, "commit", "-q", "-am", "autopack(p1): Add mul")
    p1 = git(wt, "rev-parse", "HEAD")
    (wt / "README.md").write_text("# calc\n\n- mul(a, b): the product\n", encoding="utf-8")
    git(wt, "commit", "-q", "-am", "autopack(p2): Document mul")
    p2 = git(wt, "rev-parse", "HEAD")
    layout.logs_dir.mkdir(parents=True, exist_ok=True)
    layout.log_path(run_id).write_text("run log\n", encoding="utf-8")

    phases = [
        {"id": "p1", "name": "Add mul", "complexity": "low", "description": "Add mul(a, b).", "scope": ["calc.py"]},
        {
            "id": "p2",
            "name": "Document mul",
            "complexity": "low",
            "description": "Say what mul does.",
            "scope": ["README.md"],
        },
    ]
    with RunStore(layout.db_path) as store:
        store.create_run(run_id, PROJECT, "Grow calc", "{}", phases, project_dir=str(repo))
        store.update_run(
            run_id,
            "workspace_ready",
            {"worktree": str(wt)},
            branch=f"autopack/{run_id}",
            base_commit=base,
            worktree=str(wt),
        )
        store.set_phase(
            run_id, "p1", "phase_state", {"reason": "phase started"}, state=PhaseState.BUILDING, start_commit=base
        )
        a1, _ = store.start_attempt(run_id, "p1", "cheap-model", "low")
        store.record_call(run_id, CallRecord("builder", "scripted", "cheap-model", 500, 80, 0, 0.001), "p1", a1)
        store.finish_attempt(
            a1,
            "failed",
            "ci_fail",
            f"quality gate failed: 1 of 1 checks failed\n{GATE_TAIL}",
            patch=FAILED_PATCH,
            gate_tail=GATE_TAIL,
        )
        store.add_event(
            run_id,
            "escalation",
            {
                "phase": "p1",
                "from": "cheap-model (low)",
                "to": "strong-model (low)",
                "reason": "failure on cheap-model",
            },
            phase_id="p1",
        )
        a2, _ = store.start_attempt(run_id, "p1", "strong-model", "low")
        store.record_call(run_id, CallRecord("builder", "scripted", "strong-model", 600, 90, 0, 0.004), "p1", a2)
        store.record_call(run_id, CallRecord("auditor", "scripted", "cheap-model", 300, 20, 0, 0.0005), "p1", a2)
        store.finish_attempt(a2, "approved", patch="diff --git a/calc.py b/calc.py\n+def mul(a, b):\n", gate_tail="")
        store.set_phase(
            run_id,
            "p1",
            "phase_complete",
            {"reason": "approved on attempt 2 (1/1 checks passed)"},
            state=PhaseState.COMPLETE,
            commit_sha=p1,
        )
        store.add_event(
            run_id,
            "rule_learned",
            {"rule_id": "r-0001", "text": "Multiply, do not add.", "source": "model"},
            phase_id="p1",
        )
        store.set_phase(
            run_id, "p2", "phase_state", {"reason": "phase started"}, state=PhaseState.BUILDING, start_commit=p1
        )
        a3, _ = store.start_attempt(run_id, "p2", "cheap-model", "low")
        store.finish_attempt(a3, "approved", patch="diff --git a/README.md b/README.md\n", gate_tail="")
        store.set_phase(
            run_id,
            "p2",
            "phase_complete",
            {"reason": "approved on attempt 1"},
            state=PhaseState.COMPLETE,
            commit_sha=p2,
        )
        store.update_run(run_id, "run_finished", {"reason": None}, status=status)
    return World(root, home, repo, base, p1, p2, run_id)
