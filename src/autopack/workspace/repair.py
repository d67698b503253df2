"""Finding, creating and repairing a run's worktree: what a killed autopack or git leaves behind.

The caller holds the run's lock, so no other autopack process can be using this worktree: a
worktree that ``git worktree add`` never finished is removed and added again, a vanished one is
pruned, stale lock files in the worktree's own git directory and on the run branch are deleted, and
a worktree placed inside the user's checkout is listed in ``info/exclude``. Each repair is returned
as a note for the run's report.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from git import Repo

from .gitcmd import WorkspaceError, git_bytes, git_ok, git_text, same_path


def _worktrees(main: Repo) -> list[dict[str, str]]:
    """``git worktree list --porcelain`` as records: {"worktree": path, "branch": ref, ...}."""
    try:
        raw, sep = git_bytes(main, "worktree", "list", "--porcelain", "-z"), b"\0"
    except WorkspaceError:  # git < 2.36 has no -z; paths then come one per line
        raw, sep = git_bytes(main, "worktree", "list", "--porcelain"), b"\n"
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


def ensure_worktree(main: Repo, repo_dir: Path, branch: str, worktree_dir: Path) -> tuple[Path, list[str]]:
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
        here = same_path(where, path) and not same_path(where, repo_dir)
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
        git_text(main, "worktree", "prune")
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise WorkspaceError(f"cannot create the run worktree at {path}: it exists and is not empty")
    notes += _clear_stale_locks(main, path, ref)  # `worktree add` locks the branch too: a killed commit's lock
    path.parent.mkdir(parents=True, exist_ok=True)
    git_text(main, "worktree", "add", "-q", str(path), branch)
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
        if locked == "initializing" and gitdir and same_path(gitdir, path / ".git"):
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
    if git_ok(main, "worktree", "remove", "--force", "--force", str(path)):
        return
    # git refuses when the checkout has no valid .git file: unlock, delete, prune.
    _delete_checkout(path)
    git_ok(main, "worktree", "unlock", str(path))
    git_text(main, "worktree", "prune")


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
    if git_ok(main, "check-ignore", "-q", "--no-index", rel):
        return
    exclude = Path(main.common_dir) / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    existing = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
    line = f"/{rel}/"
    if line not in existing.splitlines():
        sep = "" if not existing or existing.endswith("\n") else "\n"
        exclude.write_text(f"{existing}{sep}# autopack run worktree\n{line}\n", encoding="utf-8")
