"""Shared fixtures: run the real CLI in a subprocess, and make real git repositories.

Kept small and generic on purpose; a fixture that only one test file needs belongs in that file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

# Variables that would make a test depend on the developer's own setup (or on a CI runner that
# forces colour: rich would then wrap the text the tests read in escape codes).
_LEAKY_ENV = ("AUTOPACK_CONFIG", "AUTOPACK_HOME", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")

GIT_AUTHOR = {
    "GIT_AUTHOR_NAME": "Autopack Tests",
    "GIT_AUTHOR_EMAIL": "tests@autopack.invalid",
    "GIT_COMMITTER_NAME": "Autopack Tests",
    "GIT_COMMITTER_EMAIL": "tests@autopack.invalid",
}


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together, for assertions that do not care which stream."""
        return self.stdout + self.stderr


def cli_env(extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The environment for a CLI subprocess: ours, minus autopack overrides, plus ``extra``.

    A value of ``None`` in ``extra`` removes that variable. COLUMNS is wide so that rich does not
    wrap the one-line error messages the tests read.
    """
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY_ENV}
    env["COLUMNS"] = "400"
    # A developer's own ~/.config/autopack/config.yaml must not reach the CLI under test.
    env["XDG_CONFIG_HOME"] = os.path.join(tempfile.gettempdir(), "autopack-tests-no-user-config")
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


RunCli = Callable[..., CliResult]


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """``run_cli(*args, cwd=None, env=None)`` runs ``python -m autopack.cli`` for real.

    ``cwd`` defaults to ``tmp_path`` so nothing a command writes can land in the checkout.
    """

    def run(*args: str, cwd: Path | None = None, env: Mapping[str, str | None] | None = None) -> CliResult:
        proc = subprocess.run(
            [sys.executable, "-m", "autopack.cli", *args],
            cwd=cwd or tmp_path,
            env=cli_env(env),
            capture_output=True,
            timeout=120,
        )
        # Decoded leniently: a test about encoding must see what was printed, not crash on it.
        return CliResult(
            proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
        )

    return run


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with a fixed identity (CI machines have none) and return its stdout."""
    proc = subprocess.run(
        ["git", *args],
        cwd=repo,
        env={**os.environ, **GIT_AUTHOR, "GIT_CONFIG_NOSYSTEM": "1"},
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
    )
    return proc.stdout


MakeRepo = Callable[..., Path]


@pytest.fixture
def git_repo(tmp_path: Path) -> MakeRepo:
    """``git_repo(name="repo", files={path: text})``: a real repo on branch main with one commit."""

    def make(name: str = "repo", files: Mapping[str, str] | None = None) -> Path:
        repo = tmp_path / name
        repo.mkdir(parents=True)
        git(repo, "init", "-q", "-b", "main")
        git(repo, "config", "user.name", GIT_AUTHOR["GIT_AUTHOR_NAME"])
        git(repo, "config", "user.email", GIT_AUTHOR["GIT_AUTHOR_EMAIL"])
        git(repo, "config", "commit.gpgsign", "false")
        for rel, text in (files or {"README.md": "# test repo\n"}).items():
            path = repo / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "initial commit")
        return repo

    return make
