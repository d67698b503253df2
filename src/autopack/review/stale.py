"""Stale marks for ``autopack runs``: a run whose worktree is missing, whose branch is gone, or whose
project folder is gone. Each project repository is asked once for its run branches."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..store import RunSummary
from ..workspace.worktree import BRANCH_PREFIX


def stale_marks(rows: Iterable[RunSummary]) -> dict[tuple[str, str], list[str]]:
    """``{(project, run_id): [reason, ...]}`` for each stale run among ``rows`` (``list_runs`` rows);
    a run that never got as far as recording its project or worktree is not marked."""
    rows = list(rows)
    branches: dict[str, set[str] | None] = {}
    for r in rows:
        d = r.project_dir
        if d and d not in branches:
            branches[d] = _run_branches(Path(d))
    marks: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        why = []
        d, wt, br = r.project_dir, r.worktree, r.branch
        if d and not Path(d).is_dir():
            why.append("project folder gone")
        elif d and br and branches.get(d) is not None and br not in (branches[d] or set()):
            why.append("branch gone")
        if wt and not Path(wt).is_dir():
            why.append("worktree missing")
        if why:
            marks[(r.project, r.run_id)] = why
    return marks


def _run_branches(repo_dir: Path) -> set[str] | None:
    """The ``autopack/*`` branches of the repository at ``repo_dir``; None when it cannot be read."""
    if not repo_dir.is_dir():
        return None
    from git import Repo
    from git.exc import GitError

    from ..workspace.gitcmd import WorkspaceError, configure, git_text

    try:
        repo = configure(Repo(repo_dir))
        out = git_text(repo, "for-each-ref", "--format=%(refname:short)", f"refs/heads/{BRANCH_PREFIX}")
    except (GitError, WorkspaceError):
        return None
    return {line for line in out.splitlines() if line}
