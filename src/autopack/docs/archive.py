"""Where documentation lives on disk for consolidation: which files are scanned, where each
archive and its ``superseded/`` folder are, atomic writes, and the archive index built from the
consolidated files that exist.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ..fileio import atomic_write_text
from ..layout import RUNS_DIR
from .classify import CATEGORIES
from .markdown import IndexArchive, IndexEntry, ParsedFile, is_generated, parse_consolidated, render_index

ARCHIVE = "archive"
SUPERSEDED = "superseded"
INDEX_NAME = "ARCHIVE_INDEX.md"
KEEP_AT_ROOT = {
    *("readme", "changelog", "contributing", "license", "code_of_conduct", "security", "authors", "notice"),
    *("claude", "agents", "gemini"),  # instructions coding agents read from the root
}
"""Root documents that are the project's front door, not archive material (compared without suffix)."""
_MD_SUFFIXES = {".md", ".markdown"}


def project_names(root: Path) -> list[str]:
    base = root / RUNS_DIR
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))


def archive_dir(root: Path, project: str | None) -> Path:
    return root / ARCHIVE if project is None else root / RUNS_DIR / project / ARCHIVE


def is_md(path: Path) -> bool:
    return path.suffix.lower() in _MD_SUFFIXES


def walk_md(folder: Path) -> list[Path]:
    """Markdown files under ``folder``, skipping superseded/ and dot-folders, not following symlinks."""
    out: list[Path] = []
    if not folder.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d != SUPERSEDED and not d.startswith("."))
        out += [Path(dirpath) / f for f in sorted(filenames) if is_md(Path(f))]
    return out


def candidates(root: Path) -> list[Path]:
    """Every Markdown file the command looks at (generated ones are filtered later, by content)."""
    found = [
        p
        for p in sorted(root.iterdir())
        if p.is_file()
        and is_md(p)
        and not p.name.startswith(".")
        and p.stem.lower().replace("-", "_") not in KEEP_AT_ROOT
    ]
    found += walk_md(root / ARCHIVE)
    for project in project_names(root):
        pdir = root / RUNS_DIR / project
        found += [p for p in sorted(pdir.iterdir()) if p.is_file() and is_md(p)]
        found += walk_md(pdir / ARCHIVE)
    return found


def first_line(data: bytes) -> str:
    return data.split(b"\n", 1)[0].decode("utf-8", "replace")


def existing_consolidated(root: Path, projects: list[str]) -> dict[Path, ParsedFile]:
    out: dict[Path, ParsedFile] = {}
    for project in [None, *projects]:
        for cat in CATEGORIES:
            path = archive_dir(root, project) / cat.filename
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if is_generated(text.split("\n", 1)[0]):
                out[path] = parse_consolidated(text)
    return out


def relative_name(rel: PurePosixPath) -> PurePosixPath:
    """The name a source keeps under superseded/: its path below its archive (or the root)."""
    parts = rel.parts
    if parts[0] == ARCHIVE:
        parts = parts[1:]
    elif parts[0] == RUNS_DIR:
        parts = parts[2:]
        if parts[:1] == (ARCHIVE,) and len(parts) > 1:
            parts = parts[1:]
    return PurePosixPath(*parts)


def free_path(path: Path, taken: set[Path]) -> Path:
    """``path``, or ``name-2.md``, ``name-3.md``... when that is taken on disk or by this plan."""
    candidate, n = path, 1
    while candidate in taken or candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    taken.add(candidate)
    return candidate


def posix_rel(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


def atomic_write(path: Path, text: str) -> None:
    atomic_write_text(path, text)


def prune_empty(folder: Path, root: Path) -> None:
    """Remove folders inside an archive that the moves left empty (never an archive itself)."""
    stops = {root, root / ARCHIVE, root / RUNS_DIR, *(root / RUNS_DIR / p for p in project_names(root))}
    stops |= {archive_dir(root, p) for p in project_names(root)}
    while folder not in stops and root in folder.parents:
        try:
            folder.rmdir()  # only succeeds when empty
        except OSError:
            return
        folder = folder.parent


def build_index(root: Path) -> str | None:
    """ARCHIVE_INDEX.md as it should be now, or None when there is no consolidated file anywhere."""
    archives: list[IndexArchive] = []
    index_dir = root / ARCHIVE
    any_file = False
    for project in [None, *project_names(root)]:
        folder = archive_dir(root, project)
        if project is not None and not folder.is_dir():
            continue
        label = f"{ARCHIVE}/" if project is None else f"{RUNS_DIR}/{project}/{ARCHIVE}/"
        heading = "Framework archive" if project is None else f"Project archive: {project}"
        arch = IndexArchive(heading, label, posix_rel(folder, index_dir) + "/")
        for cat in CATEGORIES:
            path = folder / cat.filename
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if is_generated(text.split("\n", 1)[0]):
                any_file = True
                arch.files.append(IndexEntry(posix_rel(path, index_dir), cat.description, parse_consolidated(text)))
        archives.append(arch)
    return render_index(archives) if any_file else None
