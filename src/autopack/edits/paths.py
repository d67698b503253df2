"""Path safety for edits: which file an edit may touch.

Owns the rule that a model's path is hostile until proven otherwise: absolute paths, drive letters,
``..``, anything inside ``.git/``, symlinks that lead out of the workspace, and paths outside the
phase scope are refused. Scope entries are files, directories (``src/pkg/`` or ``src/pkg``) or globs
where ``*`` stays inside one directory and ``**`` spans any depth (``src/**/*.py``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path, PurePosixPath

from ..errors import AutopackError

_GLOB_CHARS = frozenset("*?[")


class PathRefused(AutopackError):
    """An edit names a path autopack will not write; ``reason`` says why in words for the Builder."""

    def __init__(self, reason: str, path: str = "") -> None:
        super().__init__(f"{path!r}: {reason}" if path else reason)
        self.path = path
        self.reason = reason


def normalize_rel(path: str) -> str:
    """The path as models write it, made comparable: quotes and backticks gone, ``/`` separators, no ``./``."""
    p = path.strip().strip("`'\"").strip().replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    p = re.sub(r"/{2,}", "/", p)
    return p


@lru_cache(maxsize=512)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate a glob to a regex: ``**/`` is zero or more directories, ``*`` and ``?`` stay in one."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (close := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : close]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = close + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def in_scope(rel: str, scope: Sequence[str]) -> bool:
    """True when the workspace-relative posix path ``rel`` is covered by one of the scope entries."""
    for raw in scope:
        entry = normalize_rel(raw)
        if entry in ("", ".", "**", "**/*"):
            return True
        if any(c in _GLOB_CHARS for c in entry):
            if _glob_regex(entry).match(rel):
                return True
            continue
        base = entry.rstrip("/")
        # A plain entry is a file, or a directory whose whole subtree is in scope.
        if rel == base or rel.startswith(base + "/"):
            return True
    return False


def scope_names(rel: str, scope: Sequence[str]) -> bool:
    """True when a scope entry names ``rel`` itself: the entry, a file under a directory entry, or a glob match.

    Unlike ``in_scope``, a catch-all does not count: ``**``, ``*``, ``.`` or a glob whose last part is
    only stars (``src/*``) allow every name without naming any, so they cannot tell a file name from
    a word of prose (the parser uses this to accept ``VERSION`` as a path line).
    """
    for raw in scope:
        entry = normalize_rel(raw)
        if any(c in _GLOB_CHARS for c in entry):
            if set(entry.rsplit("/", 1)[-1]) <= {"*"}:
                continue
            if _glob_regex(entry).match(rel):
                return True
            continue
        base = entry.rstrip("/")
        if base in ("", "."):
            continue
        if rel == base or rel.startswith(base + "/"):
            return True
    return False


def _walk_start(entry: str) -> str:
    """The directory a scope entry's files are under: the part before its first glob character."""
    cut = min((entry.find(c) for c in _GLOB_CHARS if c in entry), default=-1)
    if cut == -1:
        return entry.rstrip("/")
    return entry[:cut].rsplit("/", 1)[0] if "/" in entry[:cut] else ""


def iter_scope_files(root: Path, scope: Sequence[str]) -> Iterator[tuple[str, Path]]:
    """Every regular file under ``root`` in ``scope`` as (relative posix path, path), lazily.

    Symlinks are not followed and ``.git`` is skipped, so the walk stays inside the project.
    """
    root = Path(root)
    seen: set[str] = set()
    starts = {s if s != "." else "" for s in (_walk_start(normalize_rel(e)) for e in scope)}
    # a directory under another start is walked with it
    starts = {s for s in starts if not any(o != s and (o == "" or s.startswith(o + "/")) for o in starts)}
    for start in sorted(starts):
        if start.startswith(("/", "~")) or ".." in PurePosixPath(start).parts:
            continue  # such entries name nothing an edit may write
        base = root / start if start else root
        if base.is_symlink():
            continue
        if base.is_file():
            rel = base.relative_to(root).as_posix()
            if rel not in seen and in_scope(rel, scope):
                seen.add(rel)
                yield rel, base
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d.lower() != ".git")
            for name in sorted(filenames):
                path = Path(dirpath) / name
                rel = path.relative_to(root).as_posix()
                if rel in seen or path.is_symlink() or not in_scope(rel, scope):
                    continue
                seen.add(rel)
                yield rel, path


def check_syntax_of_path(rel_raw: str) -> str:
    """Refuse paths that are unsafe whatever the workspace holds; return the normalized relative path."""
    rel = normalize_rel(rel_raw)
    if not rel:
        raise PathRefused("the path is empty; put the file's path relative to the project root", rel_raw)
    if "\x00" in rel:
        raise PathRefused("the path contains a NUL character", rel_raw)
    if rel.startswith(("/", "~")):
        raise PathRefused("absolute paths are refused; use a path relative to the project root", rel_raw)
    if re.match(r"^[A-Za-z]:", rel):
        raise PathRefused("paths with a drive letter are refused; use a path relative to the project root", rel_raw)
    parts = PurePosixPath(rel).parts
    if ".." in parts:
        raise PathRefused("'..' is refused: edits must stay inside the project directory", rel_raw)
    if any(part.lower() == ".git" for part in parts):
        raise PathRefused("files inside .git/ are never edited", rel_raw)
    return rel


def resolve_in_workspace(root: Path, rel: str, scope: Sequence[str]) -> Path:
    """The absolute, symlink-resolved file an edit of ``rel`` would write, or ``PathRefused`` saying why.

    The scope is checked twice: for the path as written and for where its symlinks really lead, so a
    link inside the scope cannot smuggle a write to a file outside it.
    """
    clean = check_syntax_of_path(rel)
    if not in_scope(clean, scope):
        allowed = ", ".join(scope) if scope else "(nothing)"
        raise PathRefused(f"outside this phase's scope ({allowed}); edit only files in scope", rel)
    root_real = root.resolve()
    try:
        target = (root_real / clean).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise PathRefused(f"cannot be resolved ({exc})", rel) from exc
    if not target.is_relative_to(root_real):
        raise PathRefused("a symlink on this path leads outside the project directory", rel)
    real_rel = target.relative_to(root_real).as_posix()
    if real_rel != clean:
        if any(part.lower() == ".git" for part in PurePosixPath(real_rel).parts):
            raise PathRefused("a symlink on this path leads into .git/", rel)
        if not in_scope(real_rel, scope):
            raise PathRefused(f"a symlink on this path leads to {real_rel}, outside this phase's scope", rel)
    return target


def existing_alias(root: Path, rel: str, scope: Sequence[str], *, creates: bool) -> tuple[str, str] | None:
    """The existing file in scope a path that names no file stands for, with a note; None: the path as written.

    Models prefix a path with directories that do not exist (``path/to/sample.txt`` for
    ``sample.txt``) or drop its directories (``file3.py`` for ``dir/file3.py``). A missing path
    whose end is exactly one existing file in scope is that file, never a new file: an edit that
    ``creates`` (a whole file, an empty SEARCH, a diff from /dev/null) is refused instead when the
    missing path's directory exists, since a new file there is as likely. A missing path that is the
    end of exactly one file in scope is that file for an edit that needs the file's lines (an edit
    that creates keeps its path). Several candidates: ``PathRefused`` naming them. A path the phase
    scope names (other than by a catch-all) always means itself.
    """
    clean = check_syntax_of_path(rel)
    target = root / clean
    if target.exists() or target.is_symlink() or scope_names(clean, scope):
        return None
    parts = clean.split("/")
    tails = ["/".join(parts[k:]) for k in range(1, len(parts))]
    found = [t for t in tails if in_scope(t, scope) and (root / t).is_file() and not (root / t).is_symlink()]
    if len(found) > 1:
        raise PathRefused(
            f"{clean} does not exist, and its end names {len(found)} files: {', '.join(found)}; name the file by its path",
            rel,
        )
    if found:
        real = found[0]
        if creates and target.parent.is_dir():
            raise PathRefused(
                f"{clean} does not exist, but its end, {real!r}, is a file, and {clean.rsplit('/', 1)[0]}/ is a "
                f"directory: to change {real}, name it by its path; a new file at {clean} needs the phase's scope "
                "to name it",
                rel,
            )
        return real, f"{clean} does not exist; used {real}, the one file in scope its path ends with"
    if creates:
        return None
    longer = [r for r, _ in iter_scope_files(root, scope) if r.endswith("/" + clean)]
    if len(longer) > 1:
        shown = ", ".join(longer[:6]) + (" ..." if len(longer) > 6 else "")
        raise PathRefused(
            f"{clean} does not exist, and {len(longer)} files in scope end with it: {shown}; name the file by its path",
            rel,
        )
    if longer:
        return longer[0], f"{clean} does not exist; used {longer[0]}, the one file in scope whose path ends with it"
    return None
