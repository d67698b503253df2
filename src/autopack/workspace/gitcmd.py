"""Running git as a process for the workspace rooms, through GitPython, with autopack's settings.

Every git command autopack starts goes through here: the environment is ``subprocess_env()`` (no
API keys, UTF-8), and ``-c`` settings switch off what an unattended run cannot answer or must not
trigger (user hooks, commit signing, background gc) and fix the output formats autopack parses
back (a/ b/ prefixes, unquoted UTF-8 paths, no colour). A failure is a ``WorkspaceError`` naming the
command and the repository.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from git import Repo
from git.exc import GitCommandError

from ..childenv import subprocess_env
from ..errors import AutopackError

_GIT_CONFIG = [
    "core.quotepath=false",  # show café.py, not "caf\303\251.py", in diffs shown to models
    "core.hooksPath=/dev/null",  # no user hooks: they may prompt, need tools, or rewrite our commits
    "commit.gpgsign=false",
    "diff.noprefix=false",  # our diffs are parsed back: always a/ and b/ prefixes
    "diff.mnemonicPrefix=false",
    "color.ui=never",
    "advice.detachedHead=false",
    # No background `git maintenance`/gc after every phase commit: it costs more than the commit.
    "maintenance.auto=false",
    "gc.auto=0",
]
_CONFIG_ARGS = [arg for setting in _GIT_CONFIG for arg in ("-c", setting)]


class WorkspaceError(AutopackError):
    """The repository cannot host a run workspace, or a git operation on it failed."""


def configure(repo: Repo) -> Repo:
    # GitPython starts git from os.environ plus these: together that is subprocess_env().
    repo.git.update_environment(**{k: v for k, v in subprocess_env().items() if os.environ.get(k) != v})
    return repo


def git_text(repo: Repo, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``git <args>`` and return its text output; a failure becomes a WorkspaceError."""
    return git_bytes(repo, *args, env=env).decode("utf-8", errors="replace").strip()


def git_bytes(repo: Repo, *args: str, env: dict[str, str] | None = None) -> bytes:
    kwargs: dict[str, Any] = {"stdout_as_string": False, "strip_newline_in_stdout": False}
    if env:
        kwargs["env"] = env
    try:
        out: bytes = repo.git.execute(_command(repo, args), **kwargs)
    except GitCommandError as exc:
        err = exc.stderr.strip() if isinstance(exc.stderr, str) else str(exc)
        raise WorkspaceError(f"git {' '.join(args[:2])} failed in {repo.working_dir}: {err}") from exc
    return out


def git_ok(repo: Repo, *args: str) -> bool:
    """True if ``git <args>`` exits 0 (for the yes/no commands: --verify, --is-ancestor, --quiet)."""
    status, _, _ = repo.git.execute(_command(repo, args), with_exceptions=False, with_extended_output=True)
    return status == 0


def _command(repo: Repo, args: tuple[str, ...]) -> list[str]:
    return [str(repo.git.GIT_PYTHON_GIT_EXECUTABLE or "git"), *_CONFIG_ARGS, *args]


def nul_paths(raw: bytes) -> list[str]:
    # NUL-separated output is never quoted; names are bytes, and git writes them as UTF-8.
    return [p.decode("utf-8", errors="surrogateescape") for p in raw.split(b"\0") if p]


def same_path(a: str | Path, b: str | Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def commit_sha(repo: Repo, rev: str) -> str:
    if rev.startswith("-") or not git_ok(repo, "rev-parse", "--verify", "-q", f"{rev}^{{commit}}"):
        raise WorkspaceError(f"{rev!r} is not a commit in {repo.working_dir}")
    return git_text(repo, "rev-parse", "--verify", f"{rev}^{{commit}}")
