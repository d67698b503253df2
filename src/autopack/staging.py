"""Staging, diffing and committing a run's worktree in process, through libgit2 (pygit2).

Every phase ends the same way: stage what the Builder and the checks changed, show the Auditor the
diff from the phase's start, commit. Done with git processes that is three spawns (``git add -A``,
``git diff --cached``, ``git commit``), most of autopack's own time per phase (see
docs/BENCHMARKS.md). libgit2 does the same work in process, on the same repository files, with the
same rules for what is staged: ``.gitignore``, ``info/exclude`` and ``core.excludesFile``, file modes,
symlinks, and the built-in ``text``/``eol``/``core.autocrlf``/``ident`` conversions.

libgit2 does not do everything git does, and where it would record something else git stages
instead: ``stage`` says ``None`` (nothing written) when a changed path has a ``filter`` attribute (Git
LFS and other clean filters) or ``working-tree-encoding``; when a ``.gitignore`` below the root has a
negation (libgit2 does not let it re-include what a parent excludes); when the index carries
skip-worktree or intent-to-add entries (sparse checkout, ``git add -N``: git then writes index
version 3) or is at version 4; when the repository has submodules or a changed path is a nested
repository; when ``core.ignorecase`` is set; when the index has a conflict or a lock. It says
``None`` for the rest of the run when libgit2 cannot read the repository or its index (a split or
sparse index). tests/test_staging_equivalence.py holds each case against ``git add -A``. Hooks
and commit signing are off for autopack's commits either way (gitcmd.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pygit2 is loaded when a workspace opens, not when the CLI starts
    import pygit2


class StagingError(Exception):
    """libgit2 refused to commit (a lock held, a ref it cannot move); the message says which."""


@dataclass(frozen=True)
class Staged:
    """The worktree's state written as a tree (not yet committed)."""

    tree: str
    paths: tuple[str, ...]  # the paths whose index entries changed in this staging


_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def _as_git_writes_it(patch: str) -> str:
    """Write a patch's header lines as git does: non-ASCII file names as they are (git with
    ``core.quotepath=false``; libgit2 always quotes them: ``"caf\\303\\251.py"``), names with quotes,
    backslashes or control characters still quoted, a tab after a ``---``/``+++`` name that
    contains a space (git's mark for GNU patch), and no ``---``/``+++`` lines without a hunk."""
    head, sep, hunks = patch.partition("\n@@")
    lines = []
    for line in _QUOTED.sub(_plain_if_safe, head).split("\n"):
        if line[:4] in ("--- ", "+++ "):
            if not sep:
                continue  # no hunk (an empty new or deleted file): git writes no ---/+++ lines
            if " " in line[4:] and not line.endswith("\t"):
                line += "\t"
        lines.append(line)
    return "\n".join(lines) + sep + hunks


def _plain_if_safe(match: re.Match[str]) -> str:
    raw = bytearray()
    text, i = match.group(1), 0
    while i < len(text):
        char = text[i]
        if char != "\\":
            raw += char.encode("utf-8")
            i += 1
        elif text[i + 1 : i + 4].isdigit() and len(text[i + 1 : i + 4]) == 3:
            raw.append(int(text[i + 1 : i + 4], 8) & 0xFF)
            i += 4
        elif text[i + 1 : i + 2] in _ESCAPES:
            raw.append(_ESCAPES[text[i + 1]])
            i += 2
        else:
            return match.group(0)
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        return match.group(0)
    if any(c in name for c in '"\\') or any(ord(c) < 32 or ord(c) == 127 for c in name):
        return match.group(0)
    return name


# Attributes that make git convert content in ways libgit2 does not: external clean filters (Git
# LFS) and re-encoding to UTF-8. A changed path with one of them is staged by git.
_GIT_ONLY_ATTRIBUTES = ("filter", "working-tree-encoding")


def _negates(gitignore: Path) -> bool:
    """True if this ignore file has a negation (``!pattern``) line."""
    try:
        return any(line.startswith(b"!") for line in gitignore.read_bytes().splitlines())
    except OSError:
        return False


def clean_message(message: str) -> str:
    """The message as ``git commit -m`` stores it (cleanup mode "whitespace"): trailing spaces cut,
    runs of blank lines made one, no blank lines at either end, one final newline."""
    lines: list[str] = []
    for line in message.splitlines():
        line = line.rstrip()
        if line or (lines and lines[-1]):
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


class Stager:
    """In-process staging for one worktree. Build it with ``Stager.open``; ``None`` means use git."""

    def __init__(self, repo: pygit2.Repository) -> None:
        self._repo = repo
        self.disabled_reason: str | None = None  # set when libgit2 gave up on this repository
        # .gitignore files below the root with a '!' line: libgit2 does not let such a negation
        # re-include what a parent directory's rules exclude (libgit2 issue #7284); git then stages.
        self._negating: set[str] = set()

    @classmethod
    def open(cls, worktree: Path) -> Stager | None:
        """A stager for ``worktree``, or None if libgit2 cannot handle this repository."""
        try:
            import pygit2
        except ImportError:  # a broken install; git processes still do the job
            return None
        try:
            repo = pygit2.Repository(str(worktree))
            repo.index.read()
        except (pygit2.GitError, OSError, ValueError):
            return None
        if repo.is_bare or repo.workdir is None:
            return None
        stager = cls(repo)
        try:
            stager._negating = {
                str(entry.path)
                for entry in repo.index
                if str(entry.path).endswith("/.gitignore") and _negates(Path(repo.workdir, str(entry.path)))
            }
        except (pygit2.GitError, ValueError):  # a name pygit2 cannot decode
            return None
        return stager

    def stage(self) -> Staged | None:
        """Stage every change in the worktree (new files included, ignored files not), like
        ``git add -A``, and write the tree. ``None``: git must stage this change (see the module
        docstring); nothing was written to the index in that case."""
        import pygit2

        if self.disabled_reason:
            return None
        repo = self._repo
        workdir = Path(str(repo.workdir))
        try:
            if not self._index_is_plain() or (workdir / ".gitmodules").exists() or self._ignores_case():
                return None  # flagged entries (sparse checkout, add -N), index v4, submodules, ignorecase
            index = repo.index
            index.read()
            if index.conflicts is not None:
                return None
            status = repo.status(untracked_files="all", ignored=False)
            self._negating = {p for p in self._negating if _negates(workdir / p)}  # a restore may have removed one
            for path in status:
                if path.endswith("/.gitignore"):
                    if _negates(workdir / path):
                        self._negating.add(path)
                    else:
                        self._negating.discard(path)
            if self._negating:
                return None
            adds: list[str] = []
            removes: list[str] = []
            for path, flags in status.items():
                if path.endswith("/"):  # a nested repository or submodule: git decides what to record
                    return None
                if flags & pygit2.GIT_STATUS_WT_DELETED:
                    removes.append(path)
                elif flags & (
                    pygit2.GIT_STATUS_WT_NEW | pygit2.GIT_STATUS_WT_MODIFIED | pygit2.GIT_STATUS_WT_TYPECHANGE
                ):
                    if any(repo.get_attr(path, name) not in (None, False) for name in _GIT_ONLY_ATTRIBUTES):
                        return None
                    if not (workdir / path).is_file() and not (workdir / path).is_symlink():
                        return None  # a directory where a file was (a nested repository)
                    adds.append(path)
            for path in removes:
                index.remove(path)
            for path in adds:
                index.add(path)
            if adds or removes:
                index.write()
            tree = index.write_tree()
        except OSError:  # a lock held (a killed git left index.lock): git stages, and reports it clearly
            return None
        except (pygit2.GitError, ValueError, KeyError) as exc:
            self.disabled_reason = f"libgit2 could not stage this worktree ({exc}); git is used instead"
            return None
        return Staged(tree=str(tree), paths=tuple(sorted(removes + adds)))

    def _ignores_case(self) -> bool:
        """core.ignorecase: git and libgit2 resolve a rename that changes only letter case differently."""
        config = self._repo.config
        return "core.ignorecase" in config and config.get_bool("core.ignorecase")

    def _index_is_plain(self) -> bool:
        """True if the index is at version 2. Git writes version 3 exactly when an entry carries an
        extended flag: skip-worktree (sparse checkout), which libgit2's status reports as deleted,
        or intent-to-add. Version 4 (``feature.manyFiles``) may carry them too, unseen from here."""
        try:
            with open(Path(self._repo.path, "index"), "rb") as fh:
                header = fh.read(8)
        except FileNotFoundError:
            return True  # no index yet: nothing flagged
        return header[:4] == b"DIRC" and int.from_bytes(header[4:8], "big") == 2

    def diff(self, base: str, staged: Staged) -> str | None:
        """The unified diff from commit ``base`` to the staged tree, renames detected (as ``git diff
        -M``); None when libgit2 cannot make it (a config value it rejects): git then diffs."""
        import pygit2

        repo = self._repo
        try:
            old = repo.revparse_single(base).peel(pygit2.Tree)
            new = repo[pygit2.Oid(hex=staged.tree)].peel(pygit2.Tree)
            # As the git fallback shows it: `git diff -M` (renames, never copies, whatever diff.renames
            # says) with the context sizes git reads from the config.
            config = repo.config
            context = config.get_int("diff.context") if "diff.context" in config else 3
            between = config.get_int("diff.interHunkContext") if "diff.interHunkContext" in config else 0
            if context < 0 or between < 0:
                return None  # git refuses these, with its own message
            diff = old.diff_to_tree(new, context_lines=context, interhunk_lines=between)
            diff.find_similar(flags=pygit2.enums.DiffFind.FIND_RENAMES)
            # Bytes, joined and decoded here: a file in another encoding must not make the diff fail.
            patches = [patch.data.decode("utf-8", errors="replace") for patch in diff if patch is not None]
        except (pygit2.GitError, OSError, ValueError, KeyError):
            return None
        return "".join(_as_git_writes_it(text) for text in patches)

    def changed_paths(self, base: str, staged: Staged) -> list[str] | None:
        """Paths that differ between commit ``base`` and the staged tree (both sides of a change, no
        rename detection); None when libgit2 cannot tell (git is asked then)."""
        import pygit2

        repo = self._repo
        try:
            old = repo.revparse_single(base).peel(pygit2.Tree)
            new = repo[pygit2.Oid(hex=staged.tree)].peel(pygit2.Tree)
            deltas = old.diff_to_tree(new).deltas
            return sorted({p for d in deltas for p in (d.old_file.path, d.new_file.path) if p})
        except (pygit2.GitError, OSError, ValueError, KeyError):
            return None

    def commit(self, staged: Staged, message: str, name: str, email: str, *, allow_empty: bool) -> str | None:
        """Commit the staged tree on top of HEAD (the run branch moves, its reflog records it);
        the new sha, or None if the tree equals HEAD's and ``allow_empty`` is false."""
        import pygit2

        repo = self._repo
        try:
            parent = repo.head.peel(pygit2.Commit)
            if not allow_empty and str(parent.tree_id) == staged.tree:
                return None
            signature = pygit2.Signature(name, email)
            tree = pygit2.Oid(hex=staged.tree)
            sha = repo.create_commit("HEAD", signature, signature, clean_message(message), tree, [parent.id])
        except (pygit2.GitError, OSError, ValueError, KeyError) as exc:  # e.g. the branch's ref lock is held
            raise StagingError(str(exc).rstrip(": ")) from exc
        return str(sha)

    def close(self) -> None:
        self._repo.free()
