"""The environment a phase's checks (and the Doctor's ``pip``/``pytest`` fixes) run in: the project's.

A check like ``python -m pytest`` must find the project's interpreter, with the project's
dependencies, and must import the code in the run's worktree, not the user's checkout that an
editable install (``pip install -e .``) points at. Which interpreter, in this order:

1. ``quality_gate.checks_env`` when set: a virtual environment directory (or its ``bin/python``),
   ``inherit`` (the ``PATH`` autopack was started with, as is) or ``autopack`` (autopack's own
   interpreter first, for projects that rely on it);
2. the virtual environment active when autopack was started (``VIRTUAL_ENV``, or a venv's ``bin`` first
   on ``PATH``): the user chose it;
3. the project's own ``.venv`` or ``venv`` directory;
4. otherwise autopack's own interpreter, first on ``PATH`` (and said so, since it is a guess).

Whatever is chosen, the worktree's import roots (``src/`` of a src layout, and the worktree itself)
go first on ``PYTHONPATH``: they come before site-packages and the path entries and import hooks an
editable install adds, so ``import pkg`` in a check means the worktree's ``pkg``.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..childenv import python_first, subprocess_env
from ..errors import AutopackError

VENV_DIRS = (".venv", "venv")


class ChecksEnvError(AutopackError):
    """``quality_gate.checks_env`` names something that is not a virtual environment."""


@dataclass(frozen=True)
class ChecksEnv:
    """Where ``python`` comes from in checks, and why (``source`` is said at the start of a run)."""

    source: str  # e.g. "the project's .venv"
    path_first: tuple[str, ...] = ()  # directories put first on PATH
    virtual_env: str | None = None
    base_path: str | None = None  # the PATH at launch (None: this process's)

    def environ(self, worktree: Path | None = None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The full environment for a check or fix run in ``worktree``: no provider keys (``subprocess_env``),
        UTF-8, no ``.pyc`` litter, the chosen interpreter first, the worktree's code first to import."""
        env = python_first(subprocess_env(extra), self.path_first, self.base_path)
        if self.virtual_env:
            env["VIRTUAL_ENV"] = self.virtual_env
        elif self.path_first:  # autopack's own interpreter: a venv of the user's must not claim the checks
            env.pop("VIRTUAL_ENV", None)
        env.pop("PYTHONHOME", None)
        if worktree is not None:
            roots = [str(p) for p in import_roots(worktree)]
            old = env.get("PYTHONPATH")
            env["PYTHONPATH"] = os.pathsep.join([*roots, *([old] if old else [])])
        return env

    def python(self) -> str | None:
        """The interpreter ``python`` (else ``python3``) names in this environment, if any."""
        path = os.pathsep.join(
            [*self.path_first, self.base_path if self.base_path is not None else os.environ.get("PATH", "")]
        )
        return shutil.which("python", path=path) or shutil.which("python3", path=path)

    def describe(self) -> str:
        return f"{self.python() or 'no python on PATH'} ({self.source})"


def import_roots(worktree: Path) -> list[Path]:
    """Where the worktree's Python code is imported from: ``src/`` when it holds packages or modules
    (a src layout), then the worktree itself (a flat layout)."""
    roots = []
    src = worktree / "src"
    if src.is_dir() and any(
        p.suffix == ".py" or (p / "__init__.py").is_file() or _namespace_pkg(p) for p in src.iterdir()
    ):
        roots.append(src)
    roots.append(worktree)
    return roots


def _namespace_pkg(p: Path) -> bool:
    return p.is_dir() and not p.name.startswith(".") and any(c.suffix == ".py" for c in p.iterdir())


def _venv_bin(venv: Path) -> Path | None:
    """The ``bin`` (``Scripts`` on Windows) directory of a virtual environment with a python, else None."""
    for name in ("bin", "Scripts"):
        d = venv / name
        if (d / "python").exists() or (d / "python3").exists() or (d / "python.exe").exists():
            return d
    return None


def _is_venv(directory: Path) -> bool:
    return (directory / "pyvenv.cfg").is_file()


def _active_venv(launch: Mapping[str, str]) -> Path | None:
    """The virtual environment the user had active: VIRTUAL_ENV, or a venv whose bin is first to offer python."""
    own = Path(sys.prefix).resolve()
    named = launch.get("VIRTUAL_ENV")
    if named and _is_venv(Path(named)) and Path(named).resolve() != own:
        return Path(named)
    found = shutil.which("python", path=launch.get("PATH", "")) or shutil.which("python3", path=launch.get("PATH", ""))
    if found:
        venv = Path(found).parent.parent
        if _is_venv(venv) and venv.resolve() != own:
            return venv
    return None


def resolve_checks_env(project_dir: Path, setting: str | None, launch: Mapping[str, str] | None = None) -> ChecksEnv:
    """Choose the checks' environment for ``project_dir`` (see the module docstring for the order)."""
    launch = dict(os.environ if launch is None else launch)
    base = launch.get("PATH", "")
    own_bin = os.path.dirname(sys.executable)
    if setting and setting not in ("auto", "inherit", "autopack"):
        given = Path(setting).expanduser()
        given = given if given.is_absolute() else project_dir / given
        venv = given.parent.parent if given.is_file() else given
        bindir = _venv_bin(venv)
        if bindir is None:
            raise ChecksEnvError(
                f"quality_gate.checks_env: {setting!r} is not a virtual environment (no bin/python under {venv}); "
                "give a venv directory, its bin/python, 'auto', 'inherit' or 'autopack'"
            )
        return ChecksEnv(f"quality_gate.checks_env {setting}", (str(bindir),), str(venv), base)
    if setting == "inherit":
        return ChecksEnv("the PATH autopack was started with (quality_gate.checks_env: inherit)", (), None, base)
    if setting == "autopack":
        return ChecksEnv("autopack's own interpreter (quality_gate.checks_env: autopack)", (own_bin,), None, base)
    active = _active_venv(launch)
    if active is not None:
        bindir = _venv_bin(active)
        first = (str(bindir),) if bindir else ()
        return ChecksEnv(f"the virtual environment active at launch, {active}", first, str(active), base)
    for name in VENV_DIRS:
        venv = project_dir / name
        bindir = _venv_bin(venv)
        if bindir is not None and _is_venv(venv):
            return ChecksEnv(f"the project's {name}", (str(bindir),), str(venv), base)
    return ChecksEnv(
        "autopack's own interpreter: no virtual environment was active and the project has no .venv "
        "(set quality_gate.checks_env to choose)",
        (own_bin,),
        None,
        base,
    )
