"""``autopack merge``: land a run branch on the user's branch, or change nothing.

The target is ``--into``, else the branch the run started from (when the store recorded it), else
the branch checked out in the project. Before anything is touched, the merge is tried in memory
(``git merge-tree --write-tree``): a conflict is refused with the files it is in. A target checked
out in a worktree with uncommitted changes to tracked files is refused too. A checked-out target is
merged with ``git merge`` there (its files move with it); one that is not checked out gets the
merge commit directly, without touching any working tree. ``--squash`` makes one commit instead of
a merge commit. Each merge is recorded in the store (``run_merged``), which ``clean`` reads to know
a squashed branch is merged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from git import Repo

from ..layout import Layout
from ..store import PhaseRow, PhaseState, RunStore
from ..workspace.gitcmd import WorkspaceError, configure, git_bytes, git_ok, git_text
from .runref import ReviewError, RunRef, base_of, load_run, open_project, refuse_if_running, require_tip

MERGED_EVENT = "run_merged"
MAX_LISTED = 10


@dataclass
class MergeResult:
    target: str
    commit: str | None  # the merge (or squash) commit; None when there was nothing to merge
    squash: bool
    worktree: Path | None  # where the target is checked out (its files were updated), if anywhere
    branch_tip: str
    notes: list[str] = field(default_factory=list)
    already_merged: bool = False


def current_branch(repo: Repo) -> str | None:
    """The branch checked out in the project's own working tree (None on a detached HEAD)."""
    if not git_ok(repo, "symbolic-ref", "-q", "HEAD"):
        return None
    ref = git_text(repo, "symbolic-ref", "-q", "HEAD")
    return ref.removeprefix("refs/heads/")


def worktree_of(repo: Repo, branch: str) -> Path | None:
    """The working tree where ``branch`` is checked out, if any (the project's own or a linked one)."""
    raw = git_bytes(repo, "worktree", "list", "--porcelain")
    for block in raw.decode("utf-8", errors="surrogateescape").split("\n\n"):
        fields = dict(line.partition(" ")[::2] for line in block.splitlines() if line)
        if fields.get("branch") == f"refs/heads/{branch}" and fields.get("worktree"):
            return Path(fields["worktree"])
    return None


def choose_target(repo: Repo, run: RunRef, into: str | None) -> tuple[str, list[str]]:
    """The branch to merge into, with a note when it had to be guessed."""
    if into:
        return into.removeprefix("refs/heads/"), []
    if run.base_branch:
        return run.base_branch, []
    current = current_branch(repo)
    if current is None or current == run.branch:
        raise ReviewError(
            f"the run store does not record the branch run {run.run_id!r} started from, and {run.project_dir} has no "
            f"branch checked out; pass --into BRANCH"
        )
    note = (
        f"the run store does not record the branch run {run.run_id!r} started from; merging into {current}, the "
        f"branch checked out in {run.project_dir} (pass --into BRANCH to choose another)"
    )
    return current, [note]


def merge_stored_run(
    store: RunStore, layout: Layout, run_id: str, *, into: str | None, squash: bool
) -> tuple[RunRef, list[PhaseRow], MergeResult]:
    """``autopack merge``: the stored run ``run_id`` merged (``merge_run``), and the merge recorded in the
    store; refused while an executor runs it. The run, its phases and the result."""
    run = load_run(store, layout, run_id)
    refuse_if_running(run, "merge it")
    phases = store.phases(run_id)
    repo = open_project(run)
    result = merge_run(repo, run, phases, into=into, squash=squash)
    if result.commit:
        store.add_event(
            run_id,
            MERGED_EVENT,
            {"into": result.target, "commit": result.commit, "squash": squash, "branch_tip": result.branch_tip},
        )
    return run, phases, result


def merge_run(repo: Repo, run: RunRef, phases: list[PhaseRow], *, into: str | None, squash: bool) -> MergeResult:
    """Merge the run branch into the target branch, or raise ``ReviewError`` having changed nothing."""
    tip = require_tip(repo, run)
    target, notes = choose_target(repo, run, into)
    if target == run.branch:
        raise ReviewError(f"--into {target} is the run's own branch; name the branch the change should land on")
    target_ref = f"refs/heads/{target}"
    if not git_ok(repo, "rev-parse", "--verify", "-q", f"{target_ref}^{{commit}}"):
        raise ReviewError(f"there is no branch {target} in {run.project_dir}; pass --into with an existing branch")
    target_sha = git_text(repo, "rev-parse", "--verify", f"{target_ref}^{{commit}}")
    if tip == base_of(repo, run):
        notes.append(f"branch {run.branch} has no commits of its own: there is nothing to merge")
        return MergeResult(target, None, squash, None, tip, notes, already_merged=True)
    if git_ok(repo, "merge-base", "--is-ancestor", tip, target_sha):
        notes.append(f"{target} already contains every commit of {run.branch}: there is nothing to merge")
        return MergeResult(target, None, squash, None, tip, notes, already_merged=True)

    where = worktree_of(repo, target)
    if where is not None:
        _refuse_dirty(configure(Repo(where)), where, target)
    tree = _merged_tree(repo, target, target_sha, tip, run)
    message = merge_message(run, phases, target, squash)
    if where is None:
        if tree is None:
            raise ReviewError(
                f"git {git_text(repo, 'version')} cannot merge into a branch that is not checked out; check out "
                f"{target} and run the same command"
            )
        parents = [target_sha] if squash else [target_sha, tip]
        args = ["commit-tree", tree, *[a for p in parents for a in ("-p", p)], "-m", message]
        commit = git_text(repo, *args)
        git_text(repo, "update-ref", "-m", f"autopack merge {run.run_id}", target_ref, commit, target_sha)
    else:
        commit = _merge_in_worktree(configure(Repo(where)), where, run, target, message, squash)
    return MergeResult(target, commit, squash, where, tip, notes)


def merge_message(run: RunRef, phases: list[PhaseRow], target: str, squash: bool) -> str:
    done = [p for p in phases if p.state is PhaseState.COMPLETE and p.commit_sha]
    head = (
        f"autopack run {run.run_id}: {' '.join(run.goal.split())}"
        if squash
        else f"Merge autopack run {run.run_id} into {target}"
    )
    body = "\n".join(f"- {p.phase_id}: {p.name}" for p in done)
    goal = "" if squash else f"Goal: {' '.join(run.goal.split())}\n\n"
    return f"{head}\n\n{goal}Phases:\n{body or '- (none)'}\n\nAutopack-Run: {run.run_id}\n"


def _refuse_dirty(wt: Repo, where: Path, target: str) -> None:
    raw = git_bytes(wt, "status", "--porcelain", "-z", "--untracked-files=no").decode("utf-8", errors="replace")
    files = [entry[3:] for entry in raw.split("\0") if len(entry) > 3 and entry[2] == " "]
    if files:
        listed = ", ".join(files[:MAX_LISTED]) + (
            f" and {len(files) - MAX_LISTED} more" if len(files) > MAX_LISTED else ""
        )
        raise ReviewError(
            f"{where} (where {target} is checked out) has uncommitted changes ({listed}); commit or stash them, then run "
            "the same command. Nothing was changed"
        )
    for name in ("MERGE_HEAD", "REBASE_HEAD", "CHERRY_PICK_HEAD"):
        if git_ok(wt, "rev-parse", "--verify", "-q", name):
            raise ReviewError(
                f"{where} is in the middle of a {name.split('_')[0].lower().replace('cherry', 'cherry-pick')}; finish "
                "or abort it, then run the same command. Nothing was changed"
            )


def _merged_tree(repo: Repo, target: str, target_sha: str, tip: str, run: RunRef) -> str | None:
    """The merged tree, from a merge done in memory (no file, index or ref touched); ``ReviewError``
    naming the conflicted files when there is a conflict; None when git is too old to merge in memory."""
    status, out, _ = repo.git.execute(
        [
            str(repo.git.GIT_PYTHON_GIT_EXECUTABLE or "git"),
            "merge-tree",
            "--write-tree",
            "--name-only",
            "--no-messages",
            "-z",
            target_sha,
            tip,
        ],
        with_exceptions=False,
        with_extended_output=True,
        stdout_as_string=True,
    )
    fields = [f for f in str(out).split("\0") if f]
    if status == 0 and fields:
        return fields[0].strip()
    if status == 1 and fields:
        files = sorted(set(fields[1:]))
        listed = ", ".join(files[:MAX_LISTED]) + (
            f" and {len(files) - MAX_LISTED} more" if len(files) > MAX_LISTED else ""
        )
        raise ReviewError(
            f"merging {run.branch} into {target} conflicts in {listed}; nothing was changed. Bring {target} into the "
            f"run branch's worktree ({run.worktree}) and resolve it there, or merge by hand: git -C {run.project_dir} "
            f"merge {run.branch}"
        )
    return None  # git older than 2.38 (no --write-tree): the merge itself will tell


def _merge_in_worktree(wt: Repo, where: Path, run: RunRef, target: str, message: str, squash: bool) -> str:
    args = ["merge", "--squash", run.branch] if squash else ["merge", "--no-ff", "--no-edit", "-m", message, run.branch]
    try:
        git_text(wt, *args)
        if squash:
            git_text(wt, "commit", "-q", "--no-verify", "-m", message)
    except WorkspaceError as exc:
        # Put the tree back as it was: a merge git refused (a file it would overwrite) changed nothing,
        # one that started is aborted.
        if git_ok(wt, "rev-parse", "--verify", "-q", "MERGE_HEAD"):
            git_ok(wt, "merge", "--abort")
        elif squash:
            git_ok(wt, "reset", "-q", "--merge")
        raise ReviewError(f"merging {run.branch} into {target} in {where} failed, and was undone: {exc}") from exc
    return git_text(wt, "rev-parse", "HEAD")
