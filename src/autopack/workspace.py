"""The git workspace of a run: its own branch ``autopack/<run_id>``, checked out in its own worktree.

Everything a run does to code happens in that worktree: edits, checks, one commit per phase,
restores after failed attempts. The user's checkout (HEAD, current branch, index, files) is never
touched: the branch is created with ``git branch`` (no checkout) and materialised with
``git worktree add``. Commits carry ``Autopack-Run``/``Autopack-Phase`` trailers so a resumed run can
tell which phases are already applied. Git runs through GitPython with repository hooks and commit
signing switched off (the quality gate is the check; an unattended run cannot answer a hook's or
gpg's prompt) and with paths read NUL-separated and decoded as UTF-8, so non-ASCII names survive
``LANG=C``.

Opening repairs what a killed autopack leaves behind (the caller holds the run's own lock, so no
other autopack process can be using this worktree): a worktree that ``git worktree add`` never
finished is removed and added again, and stale lock files in the worktree's own git directory and on
the run branch are deleted. What was repaired is listed in ``Workspace.notes``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, NoReturn

from git import Actor, Repo
from git.exc import GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from .encoding import subprocess_env
from .errors import AutopackError
from .staging import Staged, Stager, StagingError

AUTOPACK_ACTOR = Actor("autopack", "autopack@localhost")
BRANCH_PREFIX = "autopack/"
# Where the commit a run branch started from is remembered, so a resume needs nothing but the run id.
BASE_REF_PREFIX = "refs/autopack/base/"
IN_PROCESS_ENV = "AUTOPACK_GIT_IN_PROCESS"
RUN_TRAILER = "Autopack-Run"
PHASE_TRAILER = "Autopack-Phase"

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
_BAD_RUN_ID = re.compile(r"[\s~^:?*\[\\\x00-\x1f\x7f]|\.\.|@\{|//|/\.|^[-./]|[./]$|\.lock$")


class WorkspaceError(AutopackError):
    """The repository cannot host a run workspace, or a git operation on it failed."""


def validate_run_id(run_id: str) -> str:
    """Return ``run_id`` if ``autopack/<run_id>`` is a safe branch name, else raise WorkspaceError."""
    if not run_id or _BAD_RUN_ID.search(run_id):
        _refuse_run_id(run_id)
    return run_id


def _refuse_run_id(run_id: str) -> NoReturn:
    raise WorkspaceError(
        f"run id {run_id!r} cannot name a git branch; use letters, digits, '-', '_' and '.' "
        "(no spaces, '..', '~^:?*[\\', or a leading '-')"
    )


def _configure(repo: Repo) -> Repo:
    # GitPython starts git from os.environ plus these: together that is subprocess_env().
    repo.git.update_environment(**{k: v for k, v in subprocess_env().items() if os.environ.get(k) != v})
    return repo


def _git(repo: Repo, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``git <args>`` and return its text output; a failure becomes a WorkspaceError."""
    return _raw(repo, *args, env=env).decode("utf-8", errors="replace").strip()


def _raw(repo: Repo, *args: str, env: dict[str, str] | None = None) -> bytes:
    kwargs: dict[str, Any] = {"stdout_as_string": False, "strip_newline_in_stdout": False}
    if env:
        kwargs["env"] = env
    try:
        out: bytes = repo.git.execute(_command(repo, args), **kwargs)
    except GitCommandError as exc:
        err = exc.stderr.strip() if isinstance(exc.stderr, str) else str(exc)
        raise WorkspaceError(f"git {' '.join(args[:2])} failed in {repo.working_dir}: {err}") from exc
    return out


def _ok(repo: Repo, *args: str) -> bool:
    """True if ``git <args>`` exits 0 (for the yes/no commands: --verify, --is-ancestor, --quiet)."""
    status, _, _ = repo.git.execute(_command(repo, args), with_exceptions=False, with_extended_output=True)
    return status == 0


def _command(repo: Repo, args: tuple[str, ...]) -> list[str]:
    return [str(repo.git.GIT_PYTHON_GIT_EXECUTABLE or "git"), *_CONFIG_ARGS, *args]


def _paths(raw: bytes) -> list[str]:
    # NUL-separated output is never quoted; names are bytes, and git writes them as UTF-8.
    return [p.decode("utf-8", errors="surrogateescape") for p in raw.split(b"\0") if p]


def _same_path(a: str | Path, b: str | Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


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
        self._repo: Repo | None = _configure(Repo(path))
        self._main_repo = _configure(Repo(repo_dir))
        # Stage, diff and commit in process where libgit2 can (staging.py); git processes otherwise,
        # or always with AUTOPACK_GIT_IN_PROCESS=0 (the escape hatch if libgit2 misreads a repository).
        in_process = os.environ.get(IN_PROCESS_ENV, "1").strip().lower() not in ("0", "false", "no", "off")
        self._stager: Stager | None = Stager.open(path) if in_process else None
        self._staged: Staged | None = None  # what stage_and_diff staged in process, for commit(staged=True)

    # ----- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, repo_dir: Path, run_id: str, worktree_dir: Path, *, base_commit: str | None = None) -> Workspace:
        """Create (or, on resume, reuse) branch ``autopack/<run_id>`` and its worktree at ``worktree_dir``.

        A new branch starts at ``base_commit`` if given, else at the repository's HEAD commit. On
        resume the base is ``base_commit`` if given, else the one remembered when the branch was made.
        The caller must hold the run's lock: leftovers of a killed run are repaired here (see ``notes``).
        """
        validate_run_id(run_id)
        repo_dir = Path(repo_dir).resolve()
        main = _open_repo(repo_dir)
        branch = BRANCH_PREFIX + run_id
        if not _ok(main, "check-ref-format", f"refs/heads/{branch}"):
            _refuse_run_id(run_id)
        base_ref = BASE_REF_PREFIX + run_id
        created = not _ok(main, "rev-parse", "--verify", "-q", f"refs/heads/{branch}")
        if created:
            base = _commit_sha(main, base_commit) if base_commit else _commit_sha(main, "HEAD")
            _git(main, "branch", branch, base)
        elif base_commit:
            base = _commit_sha(main, base_commit)
            if not _ok(main, "merge-base", "--is-ancestor", base, f"refs/heads/{branch}"):
                raise WorkspaceError(
                    f"base commit {base_commit} is not in the history of branch {branch}; "
                    "pass the commit the run started from, or start a new run id"
                )
        elif _ok(main, "rev-parse", "--verify", "-q", f"{base_ref}^{{commit}}"):
            base = _commit_sha(main, base_ref)
        else:  # a branch made by an older autopack or by hand: it forked where it meets HEAD
            base = _git(main, "merge-base", "HEAD", f"refs/heads/{branch}")
        _git(main, "update-ref", base_ref, base)
        path, notes = _ensure_worktree(main, repo_dir, branch, Path(worktree_dir))
        workspace = cls(repo_dir, run_id, path, base, created=created)
        workspace.notes = notes
        return workspace

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
        self._staged = self._stager.stage() if self._stager else None
        if self._stager and self._staged is not None:
            return self._stager.diff(base, self._staged)
        wt = self._wt()
        _raw(wt, "add", "-A")
        out = _raw(wt, "diff", "--cached", "--no-color", "--no-ext-diff", "--no-textconv", "-M", base, "--")
        return out.decode("utf-8", errors="replace")

    @property
    def in_process(self) -> bool:
        """True while staging and committing run in process (libgit2) rather than through git."""
        return self._stager is not None and self._stager.disabled_reason is None

    def diff(self, base: str | None = None) -> str:
        """Unified diff from ``base`` (default HEAD) to the worktree's files, new untracked files included."""
        return self._against(base, "--no-color", "--no-ext-diff", "--no-textconv", "-M").decode(
            "utf-8", errors="replace"
        )

    def changed_files(self, base: str | None = None) -> list[str]:
        """Paths (relative, ``/``-separated) that differ between ``base`` (default HEAD) and the worktree."""
        return _paths(self._against(base, "--name-only", "-z", "--no-renames"))

    def is_dirty(self) -> bool:
        """True if the worktree has modified, deleted or new (not ignored) files."""
        return bool(_raw(self._wt(), "status", "--porcelain", "-z", "--untracked-files=all").strip(b"\0"))

    def find_phase_commit(self, phase_id: str) -> str | None:
        """The newest commit since ``base_commit`` on the run branch that applied ``phase_id`` in
        this run (by its trailers), so a resumed run never applies a phase twice."""
        log = _raw(self._main(), "log", "--format=%H%x00%B%x1e", f"{self.base_commit}..refs/heads/{self.branch}")
        for record in log.decode("utf-8", errors="replace").split("\x1e"):
            sha, _, message = record.strip("\n").partition("\0")
            trailers = dict(re.findall(r"^(Autopack-(?:Run|Phase)): (.*?)\s*$", message, re.MULTILINE))
            if trailers.get(PHASE_TRAILER) == phase_id and trailers.get(RUN_TRAILER) == self.run_id:
                return sha
        return None

    @staticmethod
    def commit_message(run_id: str, phase_id: str, phase_name: str, model: str, gate_summary: str, attempt: int) -> str:
        """``autopack(<phase_id>): <name>``, a body with model, attempt and gate result, then trailers."""
        name = " ".join(phase_name.split())
        if len(name) > 80:
            name = name[:79] + "…"
        gate = " ".join(gate_summary.split()) or "(no checks)"
        return (
            f"autopack({phase_id}): {name}\n\n"
            f"Model: {model}\nAttempt: {attempt}\nGate: {gate}\n\n"
            f"{RUN_TRAILER}: {run_id}\n{PHASE_TRAILER}: {phase_id}\n"
        )

    # ----- changing the run branch -----------------------------------------------------------

    def commit(self, message: str, *, allow_empty: bool = False, staged: bool = False) -> str | None:
        """Stage everything in the worktree and commit it as autopack; return the new sha, or None
        if there was nothing to commit (unless ``allow_empty``, which then makes an empty commit).
        ``staged``: everything is already staged (``stage_and_diff``), skip staging again."""
        wt = self._wt()
        done_staging, self._staged = (self._staged if staged else None), None
        if self._stager is not None and done_staging is None and not staged:
            done_staging = self._stager.stage()
        if self._stager is not None and done_staging is not None:
            try:
                return self._stager.commit(
                    done_staging, message, str(AUTOPACK_ACTOR.name), str(AUTOPACK_ACTOR.email), allow_empty=allow_empty
                )
            except StagingError as exc:
                raise WorkspaceError(f"commit failed in {self.root}: {exc}") from exc
        if not staged:
            _git(wt, "add", "-A")
        # With allow_empty the answer does not matter: --allow-empty commits either way.
        has_changes = allow_empty or not _ok(wt, "diff", "--cached", "--quiet")
        if not has_changes:
            return None
        identity = {
            "GIT_AUTHOR_NAME": str(AUTOPACK_ACTOR.name),
            "GIT_AUTHOR_EMAIL": str(AUTOPACK_ACTOR.email),
            "GIT_COMMITTER_NAME": str(AUTOPACK_ACTOR.name),
            "GIT_COMMITTER_EMAIL": str(AUTOPACK_ACTOR.email),
        }
        args = ["commit", "-q", "--no-verify", "-m", message] + (["--allow-empty"] if allow_empty else [])
        _git(wt, *args, env=identity)
        return self.head()

    def restore(self, sha: str) -> None:
        """Put the worktree and the run branch back at ``sha``: reset tracked files and delete
        untracked ones (ignored files stay). Used to undo a failed attempt."""
        wt = self._wt()
        target = _commit_sha(wt, sha)
        self._staged = None
        _git(wt, "reset", "-q", "--hard", target)
        _git(wt, "clean", "-q", "-fd")

    def reset_branch(self, sha: str) -> None:
        """Roll the run back to ``sha`` (usually ``base_commit``), dropping the phase commits after it."""
        main = self._main()
        target = _commit_sha(main, sha)
        if not _ok(main, "merge-base", "--is-ancestor", target, f"refs/heads/{self.branch}"):
            raise WorkspaceError(f"{sha} is not in the history of {self.branch}; it cannot be rolled back to")
        if self._repo is not None:
            self.restore(target)
        else:
            _git(main, "branch", "-f", self.branch, target)

    def remove(self) -> None:
        """Remove the worktree (the branch and its commits stay, for inspection or a later resume)."""
        main = self._main()
        if self.root.exists():
            _git(main, "worktree", "remove", "--force", str(self.root))
        _git(main, "worktree", "prune")
        if self._repo is not None:
            self._repo.close()
        self._repo = None
        if self._stager is not None:
            self._stager.close()
        self._stager = None

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
        target = _commit_sha(wt, base or "HEAD")
        index = Path(_git(wt, "rev-parse", "--git-path", "index"))
        index = index if index.is_absolute() else self.root / index
        with tempfile.TemporaryDirectory(prefix="autopack-index-") as tmp:
            tmp_index = Path(tmp) / "index"
            if index.exists():
                # copy2 keeps the stat cache (no re-hashing every file) AND the index's mtime, which
                # git's racy-entry check needs: a same-size edit within the second is still seen.
                shutil.copy2(index, tmp_index)
            env = {"GIT_INDEX_FILE": str(tmp_index)}
            _raw(wt, "add", "-A", env=env)
            return _raw(wt, "diff", "--cached", *diff_args, target, "--", env=env)


def _open_repo(repo_dir: Path) -> Repo:
    fix = f"cd {repo_dir} && git init && git add -A && git commit -m initial"
    if not repo_dir.is_dir():
        raise WorkspaceError(f"project directory {repo_dir} does not exist")
    try:
        repo = _configure(Repo(repo_dir, search_parent_directories=True))
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


def _commit_sha(repo: Repo, rev: str) -> str:
    if rev.startswith("-") or not _ok(repo, "rev-parse", "--verify", "-q", f"{rev}^{{commit}}"):
        raise WorkspaceError(f"{rev!r} is not a commit in {repo.working_dir}")
    return _git(repo, "rev-parse", "--verify", f"{rev}^{{commit}}")


def _worktrees(main: Repo) -> list[dict[str, str]]:
    """``git worktree list --porcelain`` as records: {"worktree": path, "branch": ref, ...}."""
    try:
        raw, sep = _raw(main, "worktree", "list", "--porcelain", "-z"), b"\0"
    except WorkspaceError:  # git < 2.36 has no -z; paths then come one per line
        raw, sep = _raw(main, "worktree", "list", "--porcelain"), b"\n"
    records: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for field in raw.split(sep):
        if not field:
            if current:
                records.append(current)
            current = {}
            continue
        key, _, value = field.decode("utf-8", errors="surrogateescape").partition(" ")
        current[key] = value
    if current:
        records.append(current)
    return records


def _ensure_worktree(main: Repo, repo_dir: Path, branch: str, worktree_dir: Path) -> tuple[Path, list[str]]:
    """The worktree of ``branch`` at ``worktree_dir``: reused on resume (stale locks cleared), added
    otherwise; a half-created or vanished registration at that path is cleared first."""
    path = worktree_dir.resolve()
    ref = f"refs/heads/{branch}"
    notes: list[str] = []
    for admin in _initializing(main, path):  # first: a half-written one can break `git worktree list` itself
        _delete_checkout(path)
        shutil.rmtree(admin)
        notes.append(f"removed the half-created run worktree at {path} (an interrupted 'git worktree add')")
    prune = False
    for entry in _worktrees(main):
        where = entry.get("worktree", "")
        here = _same_path(where, path) and not _same_path(where, repo_dir)
        if here and (not path.exists() or _half_created(main, entry, path)):
            if path.exists():
                notes.append(f"removed the half-created run worktree at {path} (an interrupted 'git worktree add')")
            _discard_worktree(main, path)
            continue
        if entry.get("branch") == ref:
            if here and (path / ".git").exists():
                return path, notes + _clear_stale_locks(main, path, ref)  # resume: the worktree is there
            if here or not Path(where).exists():
                prune = True  # its .git is gone, or it is registered elsewhere and that folder vanished
                continue
            raise WorkspaceError(
                f"branch {branch} is already checked out at {where}; resume with that "
                f"worktree directory, or free it with: git worktree remove {where}"
            )
        elif here:
            raise WorkspaceError(f"{path} is already a worktree of another branch; choose another directory")
    if prune:
        _git(main, "worktree", "prune")
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise WorkspaceError(f"cannot create the run worktree at {path}: it exists and is not empty")
    notes += _clear_stale_locks(main, path, ref)  # `worktree add` locks the branch too: a killed commit's lock
    path.parent.mkdir(parents=True, exist_ok=True)
    _git(main, "worktree", "add", "-q", str(path), branch)
    _exclude_from_user_tree(main, repo_dir, path)
    return path, notes


def _admin_dir(main: Repo, path: Path) -> Path | None:
    """The worktree's own git directory (``<main>/.git/worktrees/<name>``), read from its ``.git``
    file; None unless that is a valid pointer into this repository's worktrees directory."""
    try:
        text = (path / ".git").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None  # missing, a directory (a repository of its own), or never written
    key, _, value = text.strip().partition(":")
    if key != "gitdir" or not value.strip():
        return None
    admin = (path / value.strip()).resolve()  # a relative gitdir is relative to the worktree
    worktrees = (Path(main.common_dir) / "worktrees").resolve()
    return admin if admin.parent == worktrees and admin.is_dir() else None


def _initializing(main: Repo, path: Path) -> list[Path]:
    """Git dirs of worktrees at ``path`` still locked 'initializing': their ``git worktree add`` was
    killed. Found by reading the files, since a half-written one (an empty ``commondir``) makes
    every ``git worktree`` command fail."""
    worktrees = Path(main.common_dir).resolve() / "worktrees"
    found = []
    for admin in sorted(worktrees.iterdir()) if worktrees.is_dir() else []:
        try:
            locked = (admin / "locked").read_text(encoding="utf-8").strip()
            gitdir = (admin / "gitdir").read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            continue  # not locked, or too early to tell where it points: not recognisably ours
        if locked == "initializing" and gitdir and _same_path(gitdir, path / ".git"):
            found.append(admin)
    return found


def _delete_checkout(path: Path) -> None:
    """Delete the folder of a worktree git could not finish or remove; never a repository of its own."""
    if (path / ".git").is_dir():
        raise WorkspaceError(
            f"{path} holds a git repository of its own, not a run worktree; move it away or choose another directory"
        )
    if path.exists():
        shutil.rmtree(path)


def _half_created(main: Repo, entry: dict[str, str], path: Path) -> bool:
    """A registration that ``git worktree add`` never finished (it was killed): still locked with the
    reason git gives while initializing, HEAD never written (all zeros), or nothing checked out (the
    folder holds only ``.git`` and the worktree has no index: a checkout of even an empty tree writes one)."""
    if entry.get("locked") == "initializing" or set(entry.get("HEAD", "x")) == {"0"}:
        return True
    if not path.is_dir() or [p.name for p in path.iterdir()] != [".git"]:
        return False
    admin = _admin_dir(main, path)
    return admin is None or not (admin / "index").exists()


def _discard_worktree(main: Repo, path: Path) -> None:
    """Unregister the worktree at ``path`` and delete its folder, even when it is locked or broken."""
    if _ok(main, "worktree", "remove", "--force", "--force", str(path)):
        return
    # git refuses when the checkout has no valid .git file: unlock, delete, prune.
    _delete_checkout(path)
    _ok(main, "worktree", "unlock", str(path))
    _git(main, "worktree", "prune")


def _clear_stale_locks(main: Repo, path: Path, ref: str) -> list[str]:
    """Delete lock files a killed ``git add/commit/reset`` left on what only this run uses: the
    worktree's own index and HEAD, and the run branch. Never the main repository's index.lock."""
    admin = _admin_dir(main, path)
    locks = [admin / "index.lock", admin / "HEAD.lock"] if admin is not None else []
    locks.append(Path(main.common_dir).resolve() / f"{ref}.lock")
    notes = []
    for lock in locks:
        if lock.is_file():
            lock.unlink()
            notes.append(f"removed the stale lock {lock} left by an interrupted git command in the run worktree")
    return notes


def _exclude_from_user_tree(main: Repo, repo_dir: Path, path: Path) -> None:
    """A worktree placed inside the user's checkout must not show up in their ``git status`` (or
    get committed by their ``git add -A`` as an embedded repository): list it in info/exclude."""
    try:
        rel = path.relative_to(repo_dir).as_posix()
    except ValueError:
        return  # outside the user's tree: nothing to hide
    if _ok(main, "check-ignore", "-q", "--no-index", rel):
        return
    exclude = Path(main.common_dir) / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    existing = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
    line = f"/{rel}/"
    if line not in existing.splitlines():
        sep = "" if not existing or existing.endswith("\n") else "\n"
        exclude.write_text(f"{existing}{sep}# autopack run worktree\n{line}\n", encoding="utf-8")
