"""The environment of every child process autopack starts (checks, git, the Doctor's fixes, a batch's
clones): the current one without the provider keys (``secrets``: checks and fixes never need them, and
must not print them), with ``PYTHONUTF8=1`` (the seed's "pre-emptive encoding fix"); for git run as a
plain process, no terminal prompt; for Python checks, the chosen interpreter first on PATH and no
``.pyc`` litter in the workspace. Git's own ``-c`` settings (hooks, signing off) are in
``workspace.gitcmd``; which interpreter the checks use is ``gate.checks_env``'s choice.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence


def subprocess_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for every child process: the current one plus PYTHONUTF8=1, without the
    provider keys, then ``extra``."""
    from .secrets import secret_env_names

    hidden = secret_env_names()
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    env["PYTHONUTF8"] = "1"
    env.setdefault("PYTHONIOENCODING", "utf-8")
    if extra:
        env.update(extra)
    return env


def git_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: ``subprocess_env()``) for a git process nobody can answer: a prompt for a
    password or passphrase fails at once instead of waiting."""
    env = dict(environ) if environ is not None else subprocess_env()
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


def python_first(env: dict[str, str], dirs: Sequence[str], base_path: str | None = None) -> dict[str, str]:
    """``env`` with ``dirs`` first on PATH (before ``base_path``, else ``env``'s own PATH) and no ``.pyc``
    files written (checks run in the workspace, whose diff must show only the Builder's edits)."""
    path = base_path if base_path is not None else env.get("PATH", "")
    env["PATH"] = os.pathsep.join([*dirs, *([path] if path else [])])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env
