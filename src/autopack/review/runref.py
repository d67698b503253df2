"""A stored run as the review commands see it: where its project, branch, base and worktree are.

``RunRef`` is read from the run store (``load_run``); ``open_project`` opens the project's git
repository with autopack's git settings (``gitcmd``: hooks and signing off, UTF-8 paths). Errors a
user can meet here (a project folder that is gone, a run that never made its branch) are
``ReviewError`` with what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from git import Repo
from git.exc import InvalidGitRepositoryError, NoSuchPathError

from ..errors import AutopackError
from ..layout import Layout
from ..lock import LOCK_NAME, executor_holding
from ..store import RunStore
from ..workspace.gitcmd import configure, git_ok, git_text
from ..workspace.worktree import BASE_REF_PREFIX, BRANCH_PREFIX

RUNNING = "RUNNING"  # the one status of a run that is not finished (it may be running, or was killed)


class ReviewError(AutopackError):
    """A review command cannot do what was asked (the message says why and what to do)."""


@dataclass(frozen=True)
class RunRef:
    run_id: str
    project: str
    goal: str
    status: str
    project_dir: Path | None
    branch: str
    base_commit: str | None
    worktree: Path | None
    run_dir: Path
    log_path: Path
    base_branch: str | None  # the branch the run started from, when the store recorded it
    created_at: float
    updated_at: float
    executor_pid: int | None  # the executor holding the run right now, if any

    @property
    def running(self) -> bool:
        return self.executor_pid is not None


def load_run(store: RunStore, layout: Layout, run_id: str) -> RunRef:
    """The run ``run_id`` of ``store`` (``StoreError`` when the store has no such run)."""
    run = store.require_run(run_id)
    base_branch = None  # the workspace_ready event records it
    for ev in store.events(run_id, "workspace_ready"):
        base_branch = ev.data.get("base_branch") or base_branch
    run_dir = layout.run_dir(run_id)
    return RunRef(
        run_id=run_id,
        project=run.project,
        goal=run.goal,
        status=run.status.value,
        project_dir=Path(run.project_dir) if run.project_dir else None,
        branch=str(run.branch or BRANCH_PREFIX + run_id),
        base_commit=run.base_commit or None,
        worktree=Path(run.worktree) if run.worktree else None,
        run_dir=run_dir,
        log_path=layout.log_path(run_id),
        base_branch=str(base_branch) if base_branch else None,
        created_at=float(run.created_at),
        updated_at=float(run.updated_at),
        executor_pid=executor_holding(run_dir / LOCK_NAME),
    )


def open_project(run: RunRef) -> Repo:
    """The git repository the run worked on (``ReviewError`` when it is gone)."""
    if run.project_dir is None:
        raise ReviewError(
            f"run {run.run_id!r} stopped before it made its branch (no project directory is recorded): "
            f"there is nothing to review; `autopack clean --run-id {run.run_id}` removes its records"
        )
    try:
        return configure(Repo(run.project_dir))
    except (InvalidGitRepositoryError, NoSuchPathError):
        raise ReviewError(
            f"the project of run {run.run_id!r}, {run.project_dir}, is gone or no longer a git repository; "
            f"`autopack clean --run-id {run.run_id}` removes what is left of the run"
        ) from None


def branch_tip(repo: Repo, run: RunRef) -> str | None:
    """The commit the run branch points at, or None when the branch is gone."""
    ref = f"refs/heads/{run.branch}"
    if not git_ok(repo, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}"):
        return None
    return git_text(repo, "rev-parse", "--verify", f"{ref}^{{commit}}")


def require_tip(repo: Repo, run: RunRef) -> str:
    tip = branch_tip(repo, run)
    if tip is None:
        raise ReviewError(
            f"branch {run.branch} is gone from {run.project_dir}: the run's change cannot be shown or merged "
            f"(`autopack runs` marks such runs stale; `autopack clean --run-id {run.run_id}` removes what is left)"
        )
    return tip


def base_of(repo: Repo, run: RunRef) -> str:
    """The commit the run branch started from: as stored, else as its base ref remembers it, else where
    the branch meets HEAD."""
    for rev in (run.base_commit, BASE_REF_PREFIX + run.run_id):
        if rev and git_ok(repo, "rev-parse", "--verify", "-q", f"{rev}^{{commit}}"):
            return git_text(repo, "rev-parse", "--verify", f"{rev}^{{commit}}")
    return git_text(repo, "merge-base", "HEAD", f"refs/heads/{run.branch}")


def refuse_if_running(run: RunRef, action: str) -> None:
    if run.running:
        raise ReviewError(
            f"run {run.run_id!r} is being executed right now (process {run.executor_pid or 'unknown'}); "
            f"wait for it to finish before you {action}"
        )
