"""A world for ``autopack batch`` tests: several real project repositories (each an ``AutopackEnv``), one
plan and scripted replies that fit every one of them, a batch file, and the CLI to run it.

A run of the shared plan adds multiply() (p1) and then divide() (p2) to calc.py; ``wait_for_flag``
makes a phase's check wait for a file the test creates, so a test can catch a run mid-way.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import git

from conftest import CliResult

from .conftest import ADD_MULTIPLY, APPROVE, AUTOPACK, PYTEST, AutopackEnv, _dump, builder, phase, sr

ADD_DIVIDE = sr(
    "calc.py",
    "def multiply(a, b):\n    return a * b\n",
    "def multiply(a, b):\n    return a * b\n\n\ndef divide(a, b):\n    return a / b\n",
)
ADD_POWER = sr(
    "calc.py",
    "def divide(a, b):\n    return a / b\n",
    "def divide(a, b):\n    return a / b\n\n\ndef power(a, b):\n    return a**b\n",
)


def wait_for_flag(flag: Path) -> str:
    """A check that passes once ``flag`` exists (bounded: two minutes at most)."""
    return f"for i in $(seq 2400); do [ -e '{flag}' ] && exit 0; sleep 0.05; done; exit 1"


class BatchWorld:
    def __init__(self, root: Path, projects: int = 2, *, phases: int = 2, hold: Path | None = None) -> None:
        self.root = root
        self.envs = [AutopackEnv(root / f"p{i}") for i in range(projects)]
        self.home = root / "home"
        specs = [phase("p1", name="Add multiply"), phase("p2", name="Add divide", depends_on=["p1"])]
        if phases == 3:
            specs.append(phase("p3", name="Add power", depends_on=["p2"]))
        if hold is not None:  # p2 waits for the flag file before its real checks
            specs[1]["checks"] = [wait_for_flag(hold), PYTEST]
        main = self.envs[0]
        self.plan = main.plan(specs)
        self.script = main.script(
            [builder("p1", ADD_MULTIPLY), builder("p2", ADD_DIVIDE), builder("p3", ADD_POWER), APPROVE]
        )

    def repo(self, i: int) -> Path:
        return self.envs[i].repo_dir

    def remote(self, i: int) -> Path:
        """A bare repository, made project ``i``'s ``origin``."""
        bare = self.root / f"origin{i}.git"
        git.Repo.init(bare, bare=True)
        git.Repo(self.repo(i)).create_remote("origin", str(bare))
        return bare

    def batch(self, name: str = "batch.yaml", **data: Any) -> Path:
        body = {"plan": str(self.plan), "script": str(self.script), **data}
        return _dump(self.root / name, body)

    def cli(self, *args: str, timeout: float = 240) -> CliResult:
        proc = subprocess.run(
            [*AUTOPACK, *args, "--home", str(self.home)],
            cwd=self.root,
            env=self.envs[0].env(),
            capture_output=True,
            timeout=timeout,
        )
        return CliResult(
            proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
        )

    def popen(self, *args: str) -> subprocess.Popen[bytes]:
        """``autopack`` in the background, in its own process group; output to ``<root>/batch.out``."""
        with open(self.root / "batch.out", "ab") as out:
            return subprocess.Popen(
                [*AUTOPACK, *args, "--home", str(self.home)],
                cwd=self.root,
                env=self.envs[0].env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def status(self, batch: Path) -> dict[str, Any]:
        result = self.cli("batch", "status", str(batch), "--json")
        assert result.returncode == 0, result.output
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    def run_row(self, batch: Path, run_id: str) -> dict[str, Any]:
        return next(r for r in self.status(batch)["runs"] if r["run_id"] == run_id)

    def folder(self, batch_id: str) -> Path:
        return self.home / ".autonomous_runs" / "_batches" / batch_id


def branch_commits(repo_dir: Path, run_id: str) -> list[git.Commit]:
    """The commits of ``autopack/<run_id>`` after the project's first commit, oldest first."""
    repo = git.Repo(repo_dir)
    base = list(repo.iter_commits("main"))[-1].hexsha
    return list(reversed(list(repo.iter_commits(f"{base}..autopack/{run_id}"))))


def phases_committed(repo_dir: Path, run_id: str) -> list[str]:
    """The ``Autopack-Phase`` trailer of each commit on the run's branch, oldest first."""
    out = []
    for commit in branch_commits(repo_dir, run_id):
        message = str(commit.message)
        out.append(
            next(line.split(":", 1)[1].strip() for line in message.splitlines() if line.startswith("Autopack-Phase:"))
        )
    return out


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]
