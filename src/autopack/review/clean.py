"""``autopack clean``: remove what finished runs left behind.

For each selected run: its worktree, its branch (only when merged, unless ``force``), its base ref
(with the branch), the refs keeping commits a Doctor rollback took off the branch (only with
``force``: they are approved work), its run folder (plan copy, gate logs, journal), its log files
and its rows in the run store. A branch is merged when another local branch contains it, when a
``autopack merge --squash`` of its current commit is recorded, or when it has no commits of its
own. A run an executor is running right now is never touched. ``plan_clean`` only decides (that is
all ``--dry-run`` shows); ``carry_out`` does it.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from git import Repo

from ..layout import Layout
from ..store import RunStore
from ..workspace.gitcmd import WorkspaceError, git_ok, git_text
from ..workspace.worktree import BASE_REF_PREFIX, BRANCH_PREFIX, ROLLED_BACK_PREFIX
from .merge import MERGED_EVENT, worktree_of
from .runref import RUNNING, ReviewError, RunRef, base_of, branch_tip, load_run, open_project

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """``7d``, ``12h``, ``30m``, ``2w``, ``90s`` in seconds (``ReviewError`` for anything else)."""
    m = _AGE.match(text)
    if not m:
        raise ReviewError(f"--older-than {text!r}: write a number and a unit (s, m, h, d or w), e.g. 7d or 12h")
    return float(m.group(1)) * _UNIT_SECONDS[m.group(2)]


@dataclass
class Step:
    what: str  # "worktree /path", "branch autopack/r1 (merged into main)", ...
    do: Callable[[], None]


@dataclass
class CleanPlan:
    run: RunRef
    steps: list[Step] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # what stays, and why
    skipped: str | None = None  # why the whole run is left alone


def select_runs(
    store: RunStore, *, run_id: str | None, older_than: float | None, all_finished: bool, now: float | None = None
) -> list[str]:
    """The ids of the store's runs the selectors name (``run_id`` alone, or the others combined)."""
    if run_id is not None:
        store.require_run(run_id)
        return [run_id]
    now = time.time() if now is None else now
    chosen = []
    for r in store.list_runs():
        if older_than is not None and float(r.updated_at) > now - older_than:
            continue
        if all_finished and r.status == RUNNING:
            continue
        chosen.append(r.run_id)
    return chosen


def merged_into(repo: Repo, store: RunStore, run: RunRef, tip: str) -> str | None:
    """Where the run branch's commit ``tip`` is merged (words for the user), or None when it is not."""
    if tip == base_of(repo, run):
        return "it has no commits of its own"
    holders = [
        ref.removeprefix("refs/heads/")
        for ref in git_text(repo, "for-each-ref", "--format=%(refname)", "--contains", tip, "refs/heads/").splitlines()
        if ref and not ref.startswith(f"refs/heads/{BRANCH_PREFIX}")
    ]
    if holders:
        return "merged into " + ", ".join(holders[:3])
    for ev in store.events(run.run_id, MERGED_EVENT):
        data = ev.data
        if data.get("branch_tip") == tip:
            return f"merged into {data.get('into')}" + (" (squashed)" if data.get("squash") else "")
    return None


def plan_clean(store: RunStore, layout: Layout, run_id: str, *, force: bool) -> CleanPlan:
    """What cleaning ``run_id`` would remove and keep; nothing is changed."""
    run = load_run(store, layout, run_id)
    plan = CleanPlan(run)
    if run.running:
        plan.skipped = f"an executor is running it (process {run.executor_pid or 'unknown'}); wait for it to finish"
        return plan
    repo: Repo | None = None
    try:
        repo = open_project(run)
    except ReviewError:
        plan.kept.append(f"no git clean-up: its project {run.project_dir or '(none recorded)'} is gone")
    home_runs = layout.project_dir.resolve()
    if repo is not None:
        _plan_git(plan, repo, store, run, force, home_runs)
    elif run.worktree is not None and run.worktree.exists() and _inside(run.worktree, home_runs):
        folder = run.worktree
        plan.steps.append(Step(f"worktree {folder}", lambda: shutil.rmtree(folder, ignore_errors=True)))
    if run.run_dir.exists():
        plan.steps.append(Step(f"run folder {run.run_dir}", lambda: shutil.rmtree(run.run_dir, ignore_errors=True)))
    for log in _logs(layout, run):
        plan.steps.append(Step(f"log {log}", _unlinker(log)))
    plan.steps.append(Step("its records in the run store", lambda: _delete_rows(store, run_id)))
    return plan


def _plan_git(plan: CleanPlan, repo: Repo, store: RunStore, run: RunRef, force: bool, home_runs: Path) -> None:
    where = worktree_of(repo, run.branch)
    path = where or run.worktree
    if path is not None and (where is not None or path.exists()):
        plan.steps.append(Step(f"worktree {path}", lambda: _remove_worktree(repo, path, home_runs)))
    tip = branch_tip(repo, run)
    if tip is not None:
        merged = merged_into(repo, store, run, tip)
        if merged or force:
            why = merged or "not merged; --force"
            plan.steps.append(Step(f"branch {run.branch} ({why})", lambda: _delete_branch(repo, run)))
        else:
            plan.kept.append(
                f"branch {run.branch}: not merged into any branch (autopack merge --run-id {run.run_id} lands it; "
                "--force deletes it)"
            )
    elif git_ok(repo, "rev-parse", "--verify", "-q", BASE_REF_PREFIX + run.run_id):
        plan.steps.append(
            Step(f"ref {BASE_REF_PREFIX}{run.run_id}", lambda: _delete_refs(repo, [BASE_REF_PREFIX + run.run_id]))
        )
    rolled = [
        r
        for r in git_text(
            repo, "for-each-ref", "--format=%(refname)", ROLLED_BACK_PREFIX + run.run_id + "/"
        ).splitlines()
        if r
    ]
    if rolled and force:
        plan.steps.append(
            Step(
                f"{len(rolled)} rolled-back ref(s) {ROLLED_BACK_PREFIX}{run.run_id}/* (--force)",
                lambda: _delete_refs(repo, rolled),
            )
        )
    elif rolled:
        plan.kept.append(
            f"{len(rolled)} ref(s) {ROLLED_BACK_PREFIX}{run.run_id}/*: approved phases a Doctor rollback took off the "
            "branch (--force deletes them)"
        )


def clean_runs(
    layouts: list[Layout],
    *,
    run_id: str | None,
    older_than: float | None,
    all_finished: bool,
    force: bool,
    dry_run: bool,
) -> list[dict[str, Any]]:
    """``autopack clean``: in each project of ``layouts``, the runs ``select_runs`` picks, planned and
    (unless ``dry_run``) carried out; one record per run of what was removed, would be, and was kept."""
    report: list[dict[str, Any]] = []
    for layout in layouts:
        with RunStore(layout.db_path) as store:
            for rid in select_runs(store, run_id=run_id, older_than=older_than, all_finished=all_finished):
                plan = plan_clean(store, layout, rid, force=force)
                removed = [] if (dry_run or plan.skipped) else carry_out(plan)
                report.append(
                    {
                        "run_id": rid,
                        "project": layout.project,
                        "skipped": plan.skipped,
                        "removed": removed,
                        "would_remove": [s.what for s in plan.steps] if dry_run and not plan.skipped else [],
                        "kept": plan.kept,
                    }
                )
    return report


def carry_out(plan: CleanPlan) -> list[str]:
    """Do every step of ``plan``, in order; returns what was removed."""
    done = []
    for step in plan.steps:
        step.do()
        done.append(step.what)
    return done


def _unlinker(path: Path) -> Callable[[], None]:
    return lambda: path.unlink(missing_ok=True)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def _remove_worktree(repo: Repo, path: Path, home_runs: Path) -> None:
    try:
        git_text(repo, "worktree", "remove", "--force", "--force", str(path))
    except WorkspaceError:
        if path.exists() and _inside(path, home_runs):  # git no longer knows it: it is only a folder of ours
            shutil.rmtree(path, ignore_errors=True)
    git_ok(repo, "worktree", "prune")


def _delete_branch(repo: Repo, run: RunRef) -> None:
    git_ok(repo, "worktree", "prune")  # a worktree folder removed by hand still holds the branch until pruned
    git_text(repo, "branch", "-D", run.branch)
    _delete_refs(repo, [BASE_REF_PREFIX + run.run_id])


def _delete_refs(repo: Repo, refs: list[str]) -> None:
    for ref in refs:
        if git_ok(repo, "rev-parse", "--verify", "-q", ref):
            git_text(repo, "update-ref", "-d", ref)


def _logs(layout: Layout, run: RunRef) -> list[Path]:
    name = f"{layout.project}__{run.run_id}"
    found = [layout.log_path(run.run_id)]
    archived = layout.logs_dir / "archived_runs"
    if archived.is_dir():
        found += [
            p
            for p in archived.iterdir()
            if p.name == f"{name}.log" or re.fullmatch(re.escape(name) + r"\.\d+\.log", p.name)
        ]
    return [p for p in found if p.is_file()]


def _delete_rows(store: RunStore, run_id: str) -> None:
    """The run and everything hanging off it (phases, revisions, attempts, calls, events: ``ON DELETE CASCADE``)."""
    with store.transaction() as tx:
        tx.execute("DELETE FROM attempts WHERE run_id=?", (run_id,))
        tx.execute("DELETE FROM runs WHERE run_id=?", (run_id,))
