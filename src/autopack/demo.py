"""The offline demo's files: the shipped example (a plan, scripted replies, a small project) found as
package data with importlib.resources, so an installed autopack (pipx, uv tool, a wheel) runs it from
any directory; a fresh git repository made from its project; and the clean-up afterwards.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import shutil
import tempfile
from collections.abc import Iterator
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import AutopackError
from .layout import Layout

if TYPE_CHECKING:
    from .runner import RunRequest

EXAMPLE = ("examples", "calc")
PROJECT = "calc"  # the example plan's project name


def example_resource() -> Traversable:
    """The example folder inside the installed package."""
    return importlib.resources.files("autopack").joinpath(*EXAMPLE)


@contextlib.contextmanager
def example_dir() -> Iterator[Path]:
    """The example as a real folder: in place when the package is files on disk, else (a zipped
    package) a temporary copy removed afterwards."""
    res = example_resource()
    if not res.joinpath("plan.yaml").is_file():
        raise AutopackError(f"the demo's example is missing from the installed package ({res}); reinstall autopack")
    if isinstance(res, Path):
        yield res
        return
    with tempfile.TemporaryDirectory(prefix="autopack-example-") as tmp:
        target = Path(tmp) / EXAMPLE[-1]
        _copy(res, target)
        yield target


def _copy(src: Traversable, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.is_dir():
            _copy(item, dest / item.name)
        else:
            (dest / item.name).write_bytes(item.read_bytes())


def project_copy(home: Path, run_id: str) -> Path:
    """Where the demo's project repository for ``run_id`` lives under ``home``."""
    return Layout(home, PROJECT).project_dir / "demo-projects" / run_id


def make_project(example: Path, home: Path, run_id: str) -> Path:
    """A fresh git repository holding the example's project, with one commit (kept if it exists)."""
    import git

    work = project_copy(home, run_id)
    if not work.exists():
        shutil.copytree(example / "project", work, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
        repo = git.Repo.init(work)
        with repo.config_writer() as cw:  # a machine without a git identity, or one that signs commits
            cw.set_value("user", "name", "autopack demo")
            cw.set_value("user", "email", "demo@autopack.local")
            cw.set_value("commit", "gpgsign", "false")
        repo.git.add(A=True)
        actor = git.Actor("autopack demo", "demo@autopack.local")
        repo.index.commit("calc: starting point", author=actor, committer=actor)
    return work


def remove_demo(home: Path, run_id: str, *, whole_home: bool) -> None:
    """Remove what the demo made: the whole ``home`` when it was the demo's own temporary folder, else
    the project copy and the run's folder (its worktree); the run's record stays in the store."""
    if whole_home:
        shutil.rmtree(home, ignore_errors=True)
        return
    shutil.rmtree(project_copy(home, run_id), ignore_errors=True)
    shutil.rmtree(Layout(home, PROJECT).run_dir(run_id), ignore_errors=True)


def demo_request(example: Path, work: Path, home: Path, run_id: str, env: dict[str, str]) -> RunRequest:
    """The run of the example's plan on its project copy ``work``, answered by its scripted replies."""
    from .config import SHIPPED_CONFIG
    from .overrides import RunOverrides
    from .runner import RunRequest

    return RunRequest(
        run_id=run_id,
        plan_path=example / "plan.yaml",
        project_dir=work,
        home=home,
        # the shipped config on top: the demo runs the same whatever a user or project config says
        config_path=SHIPPED_CONFIG,
        script=example / "script.yaml",
        env=env,
        # its checks need pytest, which comes with autopack, whatever virtualenv is active
        overrides=RunOverrides(extra={"quality_gate": {"checks_env": "autopack"}}),
    )
