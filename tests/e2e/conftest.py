"""Fixtures for end-to-end runs of ``autopack run`` through the real CLI.

Every test gets a tiny Python project (``calc.py`` plus a real pytest test) in a real git repository,
an autopack home in ``tmp_path/home``, and helpers that write run plans and scripted-response files
(the scripted provider is the only thing standing in for a model; edits, pytest, git and the store
are all real). ``AutopackEnv`` is the one object a test talks to.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import git
import pytest
import yaml

from autopack.config import SHIPPED_CONFIG, load_config
from autopack.recovery.escalation import first_model
from autopack.store import EventRow, RunStore
from conftest import CliResult, cli_env

PROJECT = "calc"
ACTOR = git.Actor("E2E Tests", "e2e@autopack.invalid")

CALC = """\
def add(a, b):
    return a + b


def subtract(a, b):
    return a - b
"""
TEST_CALC = """\
from calc import add, subtract


def test_add():
    assert add(2, 3) == 5


def test_subtract():
    assert subtract(5, 3) == 2
"""
PROJECT_FILES = {"calc.py": CALC, "tests/test_calc.py": TEST_CALC, "README.md": "# calc\n\nA tiny calculator.\n"}

# What a run without --config uses (the CLI subprocesses never see $AUTOPACK_CONFIG): the tests read
# model names from it rather than repeating them.
SHIPPED = load_config(SHIPPED_CONFIG)
CHEAP_DOCTOR, STRONG_DOCTOR = SHIPPED.doctor_models.cheap, SHIPPED.doctor_models.strong
FIRST_BUILDER = first_model(SHIPPED, "feature", "low", "builder")

# The real CLI, as the brief and users spell it.
AUTOPACK = [sys.executable, "-m", "autopack.cli"]

# A real pytest run, kept quick: no third-party plugins (the CLI env disables autoload), no cache dir.
PYTEST = "python -m pytest -q -p no:cacheprovider tests"

# Plugins installed in the venv (httpserver, ...) would slow every gate run and are not the project's.
RUN_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"}


# ----- edit texts the scripted Builder replies with ------------------------------------------------
def sr(path: str, search: str, replace: str) -> str:
    """One SEARCH/REPLACE block for ``path`` (structured_edit mode); empty search creates the file."""
    return f"{path}\n```\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n```\n"


ADD_MULTIPLY = sr(
    "calc.py",
    "def subtract(a, b):\n    return a - b\n",
    "def subtract(a, b):\n    return a - b\n\n\ndef multiply(a, b):\n    return a * b\n",
) + sr(
    "tests/test_calc.py",
    "from calc import add, subtract\n",
    "from calc import add, multiply, subtract\n\n\ndef test_multiply():\n    assert multiply(4, 2.5) == 10\n",
)

# SEARCH text close to, but not in, calc.py (the real lines say a and b): a patch_apply_error.
ADD_POWER = sr(
    "calc.py",
    "def add(a, b):\n    return a + b\n",
    "def add(a, b):\n    return a + b\n\n\ndef power(a, b):\n    return a**b\n",
)
WRONG_SEARCH = sr(
    "calc.py",
    "def subtract(x, y):\n    return x - y\n",
    "def subtract(x, y):\n    return x - y\n\n\ndef multiply(x, y):\n    return x * y\n",
)
# A reply with no edit blocks at all: an empty_reply failure.
NO_EDITS = "I could not work out what to change in calc.py."


# ----- script entries ---------------------------------------------------------------------------------
def builder(
    phase: str, text: str, *, retry: bool = False, label: str | None = None, repeat: bool = False
) -> dict[str, Any]:
    """A Builder reply for ``phase``; ``retry`` entries only match prompts that carry failure feedback."""
    pattern = rf"ROLE: builder[\s\S]*PHASE: {re.escape(phase)}\n"
    if retry:
        pattern += r"[\s\S]*The previous attempt failed"
    entry: dict[str, Any] = {
        "label": label or f"builder {phase}{' retry' if retry else ''}",
        "match": pattern,
        "text": text,
    }
    if repeat:
        entry["repeat"] = True
    return entry


def auditor(verdict: dict[str, Any] | str, *, repeat: bool = False, label: str | None = None) -> dict[str, Any]:
    text = verdict if isinstance(verdict, str) else json.dumps(verdict)
    entry: dict[str, Any] = {"label": label or "auditor", "match": "ROLE: auditor", "text": text}
    if repeat:
        entry["repeat"] = True
    return entry


APPROVE = auditor({"approved": True, "issues": [], "summary": "looks right"}, repeat=True, label="auditor approves")
RULE_TEXT = "Copy SEARCH text exactly from the current file so every edit applies."
WORD_RULE = {
    "label": "planner words a rule",
    "match": r"ROLE: planner[\s\S]*then a later attempt fixed it",
    "repeat": True,
    "text": json.dumps({"rule": RULE_TEXT}),
}


def doctor(diagnosis: dict[str, Any], *, label: str | None = None, repeat: bool = False) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "label": label or f"doctor {diagnosis['action']}",
        "match": "ROLE: doctor",
        "text": json.dumps(diagnosis),
    }
    if repeat:
        entry["repeat"] = True
    return entry


def phase(pid: str, **fields: Any) -> dict[str, Any]:
    """A plan phase with test-friendly defaults (structured edits on calc.py and its test, real pytest)."""
    spec: dict[str, Any] = {
        "id": pid,
        "name": f"Phase {pid}",
        "description": f"Do the work of {pid}.",
        "scope": ["calc.py", "tests/test_calc.py"],
        "checks": [PYTEST],
        "builder_mode": "structured_edit",
    }
    spec.update(fields)
    return spec


# ----- the environment a test drives ----------------------------------------------------------------
class AutopackEnv:
    """A project repository, an autopack home, and the CLI to drive them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.repo_dir = root / "project"
        self.repo = _make_repo(self.repo_dir)
        self.base = self.repo.head.commit.hexsha

    # files the run reads ---------------------------------------------------------------------
    def plan(self, phases: list[dict[str, Any]], name: str = "plan.yaml", **extra: Any) -> Path:
        data = {
            "project": PROJECT,
            "goal": "Grow the calc module.",
            "allowed_paths": ["calc.py", "tests/", "README.md"],
            "phases": phases,
            **extra,
        }
        return _dump(self.root / name, data)

    def script(self, entries: list[dict[str, Any]], name: str = "script.yaml", mode: str = "match") -> Path:
        return _dump(self.root / name, {"mode": mode, "responses": entries})

    def config(self, name: str = "config.yaml", **overrides: dict[str, Any]) -> Path:
        """The shipped config with ``section={key: value}`` overrides merged into it."""
        data = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
        for section, values in overrides.items():
            if isinstance(data.get(section), dict) and isinstance(values, dict):
                data[section] = {**data[section], **values}
            else:
                data[section] = values
        return _dump(self.root / name, data)

    # the CLI --------------------------------------------------------------------------------
    def run_args(self, run_id: str, plan: Path, script: Path | None, *extra: str) -> list[str]:
        args = [
            "run",
            "--run-id",
            run_id,
            "--plan",
            str(plan),
            "--project-dir",
            str(self.repo_dir),
            "--home",
            str(self.home),
        ]
        if script is not None:
            args += ["--script", str(script)]
        return [*args, *extra]

    def run(self, run_id: str, plan: Path, script: Path | None, *extra: str, timeout: float = 90) -> CliResult:
        """``autopack run ...`` in a subprocess; returns its exit code and output."""
        return self.cli(*self.run_args(run_id, plan, script, *extra), timeout=timeout)

    def cli(self, *args: str, timeout: float = 90) -> CliResult:
        proc = subprocess.run([*AUTOPACK, *args], cwd=self.root, env=self.env(), capture_output=True, timeout=timeout)
        return CliResult(
            proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
        )

    def popen(self, run_id: str, plan: Path, script: Path | None, *extra: str) -> subprocess.Popen[bytes]:
        """Start ``autopack run`` in its own process group (so a test can kill -9 all of it); its
        output goes to ``<root>/<run_id>.out`` (a pipe nobody reads could fill up and block it)."""
        with open(self.root / f"{run_id}.out", "wb") as out:
            return subprocess.Popen(
                [*AUTOPACK, *self.run_args(run_id, plan, script, *extra)],
                cwd=self.root,
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def env(self) -> dict[str, str]:
        return cli_env(RUN_ENV)

    def status(self, run_id: str) -> dict[str, Any]:
        """``autopack status --run-id ... --json``, in-process (reading the store needs no subprocess)."""
        out = self.invoke("status", "--run-id", run_id, "--home", str(self.home), "--json")
        data: dict[str, Any] = json.loads(out)
        return data

    def invoke(self, *args: str, expect: int = 0) -> str:
        """Run a CLI command in-process with Typer's runner; returns its stdout."""
        from typer.testing import CliRunner

        from autopack.cli import app

        res = CliRunner().invoke(app, list(args), env={"COLUMNS": "400"})
        assert res.exit_code == expect, f"exit {res.exit_code}: {res.output}"
        return res.stdout

    # what the run left behind ------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.home / ".autonomous_runs" / PROJECT / "autopack.db"

    @property
    def rules_path(self) -> Path:
        return self.home / ".autonomous_runs" / PROJECT / "rules.yaml"

    def run_dir(self, run_id: str) -> Path:
        return self.home / ".autonomous_runs" / PROJECT / "runs" / run_id

    @contextmanager
    def store(self) -> Iterator[RunStore]:
        with RunStore(self.db_path) as store:
            yield store

    def events(self, run_id: str, kind: str | None = None) -> list[EventRow]:
        with self.store() as store:
            return store.events(run_id, kind)

    def llm_calls(self, run_id: str, role: str | None = None) -> list[dict[str, Any]]:
        # The store has no public query for single calls; read the table it documents.
        import sqlite3

        with sqlite3.connect(self.db_path) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM llm_calls WHERE run_id=? ORDER BY call_id", (run_id,)).fetchall()
        return [dict(r) for r in rows if role is None or r["role"] == role]

    def commits(self, run_id: str) -> list[git.Commit]:
        """Commits on ``autopack/<run_id>`` since the project's first commit, oldest first."""
        return list(reversed(list(self.repo.iter_commits(f"{self.base}..autopack/{run_id}"))))

    def show(self, run_id: str, path: str) -> str:
        return str(self.repo.git.show(f"autopack/{run_id}:{path}", strip_newline_in_stdout=False))

    def on_branch(self, run_id: str, path: str) -> bool:
        try:
            self.repo.git.cat_file("-e", f"autopack/{run_id}:{path}")
        except git.GitCommandError:
            return False
        return True

    def user_tree(self) -> dict[str, Any]:
        """What the user sees in their checkout: branch, HEAD, status, and every file's text."""
        files = {
            p.relative_to(self.repo_dir).as_posix(): p.read_bytes()
            for p in self.repo_dir.rglob("*")
            if p.is_file() and ".git" not in p.relative_to(self.repo_dir).parts
        }
        return {
            "branch": self.repo.active_branch.name,
            "head": self.repo.head.commit.hexsha,
            "status": self.repo.git.status("--porcelain", "--untracked-files=all"),
            "files": files,
        }


def _make_repo(path: Path) -> git.Repo:
    path.mkdir(parents=True)
    repo = git.Repo.init(path, initial_branch="main")
    with repo.config_writer() as cw:  # CI machines have no identity and may sign commits by default
        cw.set_value("user", "name", ACTOR.name)
        cw.set_value("user", "email", ACTOR.email)
        cw.set_value("commit", "gpgsign", "false")
    for rel, text in PROJECT_FILES.items():
        f = path / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text, encoding="utf-8")
    repo.index.add(list(PROJECT_FILES))
    repo.index.commit("calc: starting point", author=ACTOR, committer=ACTOR)
    return repo


class _Literal(str):
    pass


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def _blocks(value: Any) -> Any:
    """Multi-line strings as YAML literal blocks, so a failing test's script file is readable."""
    if (
        isinstance(value, str)
        and "\n" in value
        and not value.startswith((" ", "\n"))
        and value.endswith("\n")
        and not any(line != line.rstrip() for line in value.splitlines())
    ):
        return _Literal(value)
    if isinstance(value, dict):
        return {k: _blocks(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blocks(v) for v in value]
    return value


def _dump(path: Path, data: Mapping[str, Any]) -> Path:
    path.write_text(
        yaml.dump(_blocks(dict(data)), Dumper=_Dumper, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return path


def recorded_prompts(record_dir: Path, role: str) -> list[str]:
    """The full prompt (system text, then each message) of every recorded call of ``role``, in order."""
    prompts = []
    for line in (record_dir / "calls.jsonl").read_text(encoding="utf-8").splitlines():
        request = json.loads(line)["request"]
        if request["system"].startswith(f"ROLE: {role}"):
            prompts.append("\n".join([request["system"], *(m["content"] for m in request["messages"])]))
    return prompts


def attempts(status: dict[str, Any], phase_id: str) -> list[tuple[str, str | None]]:
    """(outcome, error_category) of each attempt at ``phase_id``, from ``autopack status --json``."""
    found = next(p for p in status["phases"] if p["id"] == phase_id)
    return [(a["outcome"], a["error_category"]) for a in found["attempts"]]


@pytest.fixture
def ap(tmp_path: Path) -> AutopackEnv:
    return AutopackEnv(tmp_path)


def wait_for(
    predicate: Callable[[], bool],
    timeout: float = 60.0,
    what: str = "condition",
    diagnose: Callable[[], str] | None = None,
) -> None:
    """Poll ``predicate`` until it holds; fail the test (not hang it) after ``timeout`` seconds, with what
    ``diagnose`` says (e.g. the output of the process it waited on)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}" + (f"\n{diagnose()}" if diagnose else ""))


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and everything in its group (the gate's checks included)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
