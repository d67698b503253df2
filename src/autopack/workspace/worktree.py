"""The git workspace of a run: its own branch ``autopack/<run_id>``, checked out in its own worktree.

Everything a run does to code happens in that worktree: edits, checks, one commit per phase,
restores after failed attempts. The user's checkout (HEAD, current branch, index, files) is never
touched: the branch is created with ``git branch`` (no checkout) and materialised with
``git worktree add``. Commits carry ``Autopack-Run``/``Autopack-Phase`` trailers so a resumed run can
tell which phases are already applied. A phase is staged, diffed for the Auditor and committed by
git itself (so its filters, ignore rules, index formats and submodules apply as they do for the
user), through gitcmd.py with repository hooks and commit signing switched off (the quality gate is
the check; an unattended run cannot answer a hook's or gpg's prompt) and with paths read
NUL-separated and decoded as UTF-8, so non-ASCII names survive ``LANG=C``.

Opening repairs what a killed autopack leaves behind (``repair``); what was repaired is
listed in ``Workspace.notes``.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from git import Actor, Repo
from git.exc import InvalidGitRepositoryError, NoSuchPathError

from ..layout import MAX_ID_LENGTH
from .gitcmd import WorkspaceError, commit_sha, configure, git_bytes, git_ok, git_text, nul_paths
from .repair import ensure_worktree

__all__ = ["Workspace", "WorkspaceError", "validate_run_id"]

AUTOPACK_ACTOR = Actor("autopack", "autopack@localhost")
BRANCH_PREFIX = "autopack/"
# Where the commit a run branch started from is remembered, so a resume needs nothing but the run id.
BASE_REF_PREFIX = "refs/autopack/base/"
# Where a Doctor rollback_run keeps the phase commits it takes off the run branch.
ROLLED_BACK_PREFIX = "refs/autopack/rolled-back/"
RUN_TRAILER = "Autopack-Run"
PHASE_TRAILER = "Autopack-Phase"
INEXACT_TRAILER = "Autopack-Inexact"

_BAD_RUN_ID = re.compile(r"[\s~^:?*\[\\\x00-\x1f\x7f]|\.\.|@\{|//|/\.|^[-./]|[./]$|\.lock$")


def validate_run_id(run_id: str) -> str:
    """Return ``run_id`` if ``autopack/<run_id>`` is a safe branch name, else raise WorkspaceError."""
    if not run_id or _BAD_RUN_ID.search(run_id):
        _refuse_run_id(run_id)
    if len(run_id) > MAX_ID_LENGTH:
        raise WorkspaceError(
            f"run id {run_id[:40]!r}... is {len(run_id)} characters long; at most {MAX_ID_LENGTH} are allowed "
            "(it names the run's branch, folder and log files): choose a shorter one"
        )
    return run_id


def _refuse_run_id(run_id: str) -> NoReturn:
    raise WorkspaceError(
        f"run id {run_id!r} cannot name a git branch; use letters, digits, '-', '_' and '.' "
        "(no spaces, '..', '~^:?*[\\', or a leading '-')"
    )


class Workspace:
    """A run's branch and worktree. Create or resume one with ``Workspace.open``."""

    def __init__(self, repo_dir: Path, run_id: str, path: Path, base_commit: str, *, created: bool) -> None:
        self.repo_dir = repo_dir
        self.run_id = run_id
        self.root = path  # the worktree: edits are applied and checks run here
        self.branch = BRANCH_PREFIX + run_id
        self.base_commit = base_commit
        self.created = created  # True if this open() created the branch (a fresh run)
        self.notes: list[str] = []  # what open() repaired (a half-created worktree, stale locks), to report
        self._repo: Repo | None = configure(Repo(path))
        self._main_repo = configure(Repo(repo_dir))

    # ----- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        repo_dir: Path,
        run_id: str,
        worktree_dir: Path,
        *,
        base_commit: str | None = None,
        unknown_to: Path | None = None,
        tip: str | None = None,
    ) -> Workspace:
        """Create (or, on resume, reuse) branch ``autopack/<run_id>`` and its worktree at ``worktree_dir``.

        A new branch starts at ``base_commit`` if given, else at the repository's HEAD commit. On
        resume the base is ``base_commit`` if given, else the one remembered when the branch was made.
        The caller must hold the run's lock: leftovers of a killed run are repaired here (see ``notes``).

        ``unknown_to``: the run store that has no record of this run (a fresh start). A branch of that
        name holding commits is then refused, never built on: its phases would be committed twice.
        ``tip``: the last phase commit the store recorded; if the branch is gone, it is made again there
        (or refused when that commit is gone too), so recorded phases are never silently lost.
        """
        repo_dir = Path(repo_dir).resolve()
        main = cls._check(repo_dir, run_id, unknown_to)
        branch = BRANCH_PREFIX + run_id
        base_ref = BASE_REF_PREFIX + run_id
        created = not git_ok(main, "rev-parse", "--verify", "-q", f"refs/heads/{branch}")
        notes: list[str] = []
        if created and tip:
            if not git_ok(main, "rev-parse", "--verify", "-q", f"{tip}^{{commit}}"):
                raise WorkspaceError(
                    f"branch {branch} is gone from {repo_dir} and so is commit {tip[:10]}, the last phase the run "
                    f"store recorded; the run's approved work cannot be recovered: start a new run id"
                )
            base = commit_sha(main, base_commit) if base_commit else commit_sha(main, tip)
            git_text(main, "branch", branch, commit_sha(main, tip))
            notes.append(f"branch {branch} was missing; made again at {tip[:10]}, the last phase commit recorded")
        elif created:
            base = commit_sha(main, base_commit) if base_commit else commit_sha(main, "HEAD")
            git_text(main, "branch", branch, base)
        elif base_commit:
            base = commit_sha(main, base_commit)
            if not git_ok(main, "merge-base", "--is-ancestor", base, f"refs/heads/{branch}"):
                raise WorkspaceError(
                    f"base commit {base_commit} is not in the history of branch {branch}; "
                    "pass the commit the run started from, or start a new run id"
                )
        elif git_ok(main, "rev-parse", "--verify", "-q", f"{base_ref}^{{commit}}"):
            base = commit_sha(main, base_ref)
        else:  # a branch made by an older autopack or by hand: it forked where it meets HEAD
            base = git_text(main, "merge-base", "HEAD", f"refs/heads/{branch}")
        git_text(main, "update-ref", base_ref, base)
        path, repaired = ensure_worktree(main, repo_dir, branch, Path(worktree_dir))
        workspace = cls(repo_dir, run_id, path, base, created=created)
        workspace.notes = notes + repaired
        return workspace

    @classmethod
    def check_new(cls, repo_dir: Path, run_id: str, store: Path) -> None:
        """Everything ``open`` would refuse for a run ``store`` does not know, without writing
        anything: the caller checks before it makes any folder, lock or store row for the run."""
        cls._check(Path(repo_dir).resolve(), run_id, store)

    @staticmethod
    def _check(repo_dir: Path, run_id: str, unknown_to: Path | None) -> Repo:
        validate_run_id(run_id)
        main = _open_repo(repo_dir)
        branch = BRANCH_PREFIX + run_id
        if not git_ok(main, "check-ref-format", f"refs/heads/{branch}"):
            _refuse_run_id(run_id)
        if unknown_to is not None and git_ok(main, "rev-parse", "--verify", "-q", f"refs/heads/{branch}"):
            _refuse_unknown_branch(main, repo_dir, run_id, unknown_to)
        return main

    @property
    def path(self) -> Path:
        """Same as ``root``: the worktree directory."""
        return self.root

    # ----- reading ---------------------------------------------------------------------------

    def head(self) -> str:
        """The sha the run branch points at (the worktree's HEAD).

        Read in-process by GitPython (refs and packed-refs), not by spawning git: the executor asks
        for it on every phase, and a process spawn costs more than the rest of the bookkeeping."""
        return str(self._wt().head.commit.hexsha)

    def stage_and_diff(self, base: str) -> str:
        """Stage every change (new files included) in the worktree's own index and return the diff
        from ``base``. For the executor, which commits or restores right after (both settle the index),
        so ``commit(..., staged=True)`` need not stage again."""
        wt = self._wt()
        git_bytes(wt, "add", "-A")
        out = git_bytes(wt, "diff", "--cached", "--no-color", "--no-ext-diff", "--no-textconv", "-M", base, "--")
        return out.decode("utf-8", errors="replace")

    def diff(self, base: str | None = None) -> str:
        """Unified diff from ``base`` (default HEAD) to the worktree's files, new untracked files included."""
        return self._against(base, "--no-color", "--no-ext-diff", "--no-textconv", "-M").decode(
            "utf-8", errors="replace"
        )

    def changed_since(self, base: str) -> list[str]:
        """Like ``changed_files(base)``, but staged in the worktree's own index rather than a throwaway
        one (two git processes, not five). For the executor, whose ``stage_and_diff`` stages again
        after any ``discard``."""
        wt = self._wt()
        git_bytes(wt, "add", "-A")
        return nul_paths(git_bytes(wt, "diff", "--cached", "--name-only", "-z", "--no-renames", base, "--"))

    def changed_files(self, base: str | None = None) -> list[str]:
        """Paths (relative, ``/``-separated) that differ between ``base`` (default HEAD) and the worktree."""
        return nul_paths(self._against(base, "--name-only", "-z", "--no-renames"))

    def is_dirty(self) -> bool:
        """True if the worktree has modified, deleted or new (not ignored) files."""
        return bool(git_bytes(self._wt(), "status", "--porcelain", "-z", "--untracked-files=all").strip(b"\0"))

    def find_phase_commit(self, phase_id: str) -> str | None:
        """The newest commit since ``base_commit`` on the run branch that applied ``phase_id`` in
        this run (by its trailers), so a resumed run never applies a phase twice."""
        log = git_bytes(self._main(), "log", "--format=%H%x00%B%x1e", f"{self.base_commit}..refs/heads/{self.branch}")
        for record in log.decode("utf-8", errors="replace").split("\x1e"):
            sha, _, message = record.strip("\n").partition("\0")
            trailers = dict(re.findall(r"^(Autopack-(?:Run|Phase)): (.*?)\s*$", message, re.MULTILINE))
            if trailers.get(PHASE_TRAILER) == phase_id and trailers.get(RUN_TRAILER) == self.run_id:
                return sha
        return None

    @staticmethod
    def commit_message(
        run_id: str,
        phase_id: str,
        phase_name: str,
        model: str,
        gate_summary: str,
        attempt: int,
        inexact: Sequence[str] = (),
    ) -> str:
        """``autopack(<phase_id>): <name>``, a body with model, attempt and gate result, then trailers;
        an ``Autopack-Inexact`` trailer for each edit that applied only by tolerant matching."""
        name = " ".join(phase_name.split())
        if len(name) > 80:
            name = name[:79] + "…"
        gate = " ".join(gate_summary.split()) or "(no checks)"
        return (
            f"autopack({phase_id}): {name}\n\n"
            f"Model: {model}\nAttempt: {attempt}\nGate: {gate}\n\n"
            f"{RUN_TRAILER}: {run_id}\n{PHASE_TRAILER}: {phase_id}\n"
            + "".join(f"{INEXACT_TRAILER}: {' '.join(note.split())[:300]}\n" for note in inexact)
        )

    # ----- changing the run branch -----------------------------------------------------------

    def commit(self, message: str, *, allow_empty: bool = False, staged: bool = False) -> str | None:
        """Stage everything in the worktree and commit it as autopack; return the new sha, or None
        if there was nothing to commit (unless ``allow_empty``, which then makes an empty commit).
        ``staged``: everything is already staged (``stage_and_diff``), skip staging again."""
        wt = self._wt()
        if not staged:
            git_text(wt, "add", "-A")
        # With allow_empty the answer does not matter: --allow-empty commits either way.
        has_changes = allow_empty or not git_ok(wt, "diff", "--cached", "--quiet")
        if not has_changes:
            return None
        identity = {
            "GIT_AUTHOR_NAME": str(AUTOPACK_ACTOR.name),
            "GIT_AUTHOR_EMAIL": str(AUTOPACK_ACTOR.email),
            "GIT_COMMITTER_NAME": str(AUTOPACK_ACTOR.name),
            "GIT_COMMITTER_EMAIL": str(AUTOPACK_ACTOR.email),
        }
        args = ["commit", "-q", "--no-verify", "-m", message] + (["--allow-empty"] if allow_empty else [])
        git_text(wt, *args, env=identity)
        return self.head()

    def restore(self, sha: str) -> None:
        """Put the worktree and the run branch back at ``sha``: reset tracked files and delete
        untracked ones (ignored files stay). Used to undo a failed attempt."""
        wt = self._wt()
        target = commit_sha(wt, sha)
        git_text(wt, "reset", "-q", "--hard", target)
        git_text(wt, "clean", "-q", "-fd")

    def discard(self, paths: list[str], base: str) -> None:
        """Put ``paths`` (relative, ``/``-separated) back as they are in ``base``: tracked ones checked
        out from it, the rest deleted. Used for what the checks wrote outside the phase's scope."""
        if not paths:
            return
        wt = self._wt()
        target = commit_sha(wt, base)
        tracked = set(nul_paths(git_bytes(wt, "ls-tree", "-r", "-z", "--name-only", target, "--", *paths)))
        if tracked:
            git_text(wt, "checkout", target, "--", *sorted(tracked))
        for rel in paths:
            if rel in tracked:
                continue
            path = self.root / rel
            if path.is_symlink() or path.is_file():
                path.unlink()
            # Empty folders left behind are not files to git; they never reach a commit.

    def reset_branch(self, sha: str) -> str | None:
        """Roll the run back to ``sha`` (usually ``base_commit``), taking the phase commits after it off
        the branch. They are kept under ``refs/autopack/rolled-back/<run-id>/<n>`` (returned; None when
        there was nothing to take off), not left to the reflog and ``git gc``: approved work is never lost."""
        main = self._main()
        target = commit_sha(main, sha)
        if not git_ok(main, "merge-base", "--is-ancestor", target, f"refs/heads/{self.branch}"):
            raise WorkspaceError(f"{sha} is not in the history of {self.branch}; it cannot be rolled back to")
        tip = commit_sha(main, f"refs/heads/{self.branch}")
        kept: str | None = None
        if tip != target:
            prefix = f"{ROLLED_BACK_PREFIX}{self.run_id}/"
            taken = git_text(main, "for-each-ref", "--format=%(refname)", prefix).splitlines()
            kept = f"{prefix}{len(taken) + 1}"
            git_text(main, "update-ref", kept, tip)
        if self._repo is not None:
            self.restore(target)
        else:
            git_text(main, "branch", "-f", self.branch, target)
        return kept

    def remove(self) -> None:
        """Remove the worktree (the branch and its commits stay, for inspection or a later resume)."""
        main = self._main()
        if self.root.exists():
            git_text(main, "worktree", "remove", "--force", str(self.root))
        git_text(main, "worktree", "prune")
        if self._repo is not None:
            self._repo.close()
        self._repo = None

    # ----- helpers ---------------------------------------------------------------------------

    def _wt(self) -> Repo:
        if self._repo is None:
            raise WorkspaceError(f"the worktree of run {self.run_id!r} was removed; open the workspace again to resume")
        return self._repo

    def _main(self) -> Repo:
        return self._main_repo

    def _against(self, base: str | None, *diff_args: str) -> bytes:
        """``git diff --cached <diff_args> <base>`` with everything staged in a throwaway index,
        so untracked files show up and the worktree's real index is left alone."""
        wt = self._wt()
        target = commit_sha(wt, base or "HEAD")
        index = Path(git_text(wt, "rev-parse", "--git-path", "index"))
        index = index if index.is_absolute() else self.root / index
        with tempfile.TemporaryDirectory(prefix="autopack-index-") as tmp:
            tmp_index = Path(tmp) / "index"
            if index.exists():
                # copy2 keeps the stat cache (no re-hashing every file) AND the index's mtime, which
                # git's racy-entry check needs: a same-size edit within the second is still seen.
                shutil.copy2(index, tmp_index)
            env = {"GIT_INDEX_FILE": str(tmp_index)}
            git_bytes(wt, "add", "-A", env=env)
            return git_bytes(wt, "diff", "--cached", *diff_args, target, "--", env=env)


def _refuse_unknown_branch(main: Repo, repo_dir: Path, run_id: str, store: Path) -> None:
    """Refuse a run branch with commits on it that the run store does not know (another ``--home``,
    another current directory, a deleted store): starting again would commit every phase twice.
    A branch with no commit of its own is what a start killed before its first store write leaves:
    that one is taken over."""
    branch = BRANCH_PREFIX + run_id
    base_ref = BASE_REF_PREFIX + run_id
    if git_ok(main, "rev-parse", "--verify", "-q", f"{base_ref}^{{commit}}"):
        since = base_ref
    else:
        since = git_text(main, "merge-base", "HEAD", f"refs/heads/{branch}")
    count = int(git_text(main, "rev-list", "--count", f"{since}..refs/heads/{branch}") or "0")
    if count == 0:
        return
    where = ""
    for block in git_text(main, "worktree", "list", "--porcelain").split("\n\n"):
        fields = dict(line.partition(" ")[::2] for line in block.splitlines())
        if fields.get("branch") == f"refs/heads/{branch}" and fields.get("worktree"):
            where = f"; its worktree is {fields['worktree']} (the home it ran from holds its store)"
    raise WorkspaceError(
        f"branch {branch} already exists in {repo_dir} with {count} commit{'s' if count != 1 else ''}, but the run "
        f"store {store} has no run {run_id!r}{where}. It was started with another --home or from another directory, "
        f"or its store was deleted. Resume it from where it was started, use a new run id, or delete the branch "
        f"(git -C {repo_dir} branch -D {branch}) to start over"
    )


def _open_repo(repo_dir: Path) -> Repo:
    fix = f"cd {repo_dir} && git init && git add -A && git commit -m initial"
    if not repo_dir.is_dir():
        raise WorkspaceError(f"project directory {repo_dir} does not exist")
    try:
        repo = configure(Repo(repo_dir, search_parent_directories=True))
    except (InvalidGitRepositoryError, NoSuchPathError):
        raise WorkspaceError(
            f"{repo_dir} is not a git repository; autopack works on a branch of one. Create it with: {fix}"
        ) from None
    if repo.bare or repo.working_tree_dir is None:
        raise WorkspaceError(f"{repo_dir} is a bare git repository; point autopack at a checkout with files")
    top = Path(repo.working_tree_dir).resolve()
    if top != repo_dir:
        raise WorkspaceError(
            f"{repo_dir} is inside the git repository {top}; run autopack on the repository root {top}"
        )
    if not repo.head.is_valid():
        raise WorkspaceError(f"the git repository {repo_dir} has no commits yet; make a first one: {fix}")
    return repo
