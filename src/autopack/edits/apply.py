"""Apply parsed edits to a workspace: safely, tolerantly, and never at a guessed place.

Owns the order of checks for one reply: blocks the parser could not use are refused with the
parser's reason; every path next (one bad path refuses the whole reply; a path that names no file
but whose end is one existing file in scope is that file, see ``paths.existing_alias``), then each edit in order
against the file as the earlier edits left it (each kind placed by ``placement``), destructive-output
guards (per edit: elision, NUL bytes; per reply: mass deletion across the scope, which refuses
the whole reply), a Python syntax check of each changed file, and finally atomic UTF-8 writes
that keep each file's newline style, BOM and final newline. Loading a file (encoding, newline
style, BOM, final newline, mode) and writing it back are here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..fileio import atomic_write_text
from .guards import (
    SHRINK_LIMIT,
    GuardHit,
    elision_hits,
    is_placeholder_line,
    mass_deletion_hit,
    nul_byte_hits,
    shrinks,
)
from .paths import PathRefused, existing_alias, iter_scope_files, normalize_rel, resolve_in_workspace
from .placement import (
    WorkFile,
    apply_diff,
    apply_full_file,
    apply_search_replace,
    guard_refusal,
    refuse,
    split_lines,
)
from .reply import Edit
from .report import ApplyReport, EditResult
from .syntax import changed_span, syntax_error


def _creates(e: Edit) -> bool:
    """The edit can create its file (a whole file, an empty SEARCH, a diff from /dev/null or with only added lines)."""
    if e.kind == "full_file":
        return True
    if e.kind == "search_replace":
        return not (e.search or "").strip()
    return e.new_file or (not e.delete_file and not any(h.before for h in e.hunks))


def _load(rel: str, target: Path) -> WorkFile:
    f = WorkFile(rel, target)
    if target.is_dir():
        f.error = "is a directory, not a file"
        return f
    if not target.exists():
        return f
    try:
        raw = target.read_bytes()
        text = raw.decode("utf-8")
        f.mode = target.stat().st_mode & 0o7777
    except UnicodeDecodeError:
        f.error = "is not UTF-8 text; autopack only edits text files"
        return f
    except OSError as exc:
        f.error = f"cannot be read ({exc.strerror or exc})"
        return f
    if text.startswith("\ufeff"):
        f.bom, text = True, text[1:]
    first = text.find("\n")
    f.newline = "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"
    text = text.replace("\r\n", "\n")
    f.trailing_nl = text.endswith("\n") or text == ""
    lines = text.split("\n")
    if f.trailing_nl:
        lines.pop()
    f.original, f.lines = lines, list(lines)
    return f


def _placeholder_hits(f: WorkFile, new_lines: list[str], added: list[str]) -> list[GuardHit]:
    """The elision guard for diffs and SEARCH/REPLACE: only run when an added line looks like a stand-in
    and is in the new text (an elided SEARCH/REPLACE's '...' lines mark where file lines stay; they are
    not written, so they cannot stand for code there)."""
    marks = {t.strip() for t in added if is_placeholder_line(t)}
    if not marks or not any(t.strip() in marks for t in new_lines):
        return []
    return elision_hits(f.rel, f.text(), f.text(new_lines))


def _line_count(path: Path) -> int:
    """Lines of a text file on disk (0 for binary or unreadable files: they are not the guards' business)."""
    try:
        data = path.read_bytes()
    except OSError:
        return 0
    if not data or b"\x00" in data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _mass_deletion(files: dict[Path, WorkFile], root: Path, scope: Sequence[str]) -> GuardHit | None:
    """The shrink rule over the whole scope: the lines of the files in scope before and after this reply.

    Files the reply does not touch count as they are; they are read only when the touched files
    lost more than the limit, and only until they dilute the loss below it.
    """
    old_n = sum(len(f.original or []) for f in files.values() if not f.error)
    new_n = sum(len(f.lines or []) for f in files.values() if not f.error)
    if new_n >= old_n * (1 - SHRINK_LIMIT):
        return None  # untouched files could only dilute a loss already within the limit
    touched = {f.rel for f in files.values()}
    for rel, path in iter_scope_files(root, scope):
        if rel not in touched:
            n = _line_count(path)
            old_n, new_n = old_n + n, new_n + n
            if new_n >= old_n * (1 - SHRINK_LIMIT):
                return None
    if not shrinks(old_n, new_n):
        return None
    live = [f for f in files.values() if not f.error and any(t.strip() for t in f.original or [])]
    deleted = sorted(f.rel for f in live if f.lines is None)
    emptied = sorted(f.rel for f in live if f.lines is not None and not any(t.strip() for t in f.lines))
    return mass_deletion_hit(old_n, new_n, deleted, emptied)


def _write_atomic(f: WorkFile) -> None:
    """Write the file's new text with its own line endings, BOM and mode, through a temp file, so a
    crash never leaves half a file.

    No fsync: the rename already gives readers and a crashed process all-or-nothing, and the run
    commits to git right after; syncing every edit would cost more than the rest of applying it.
    """
    data = f.text().replace("\n", f.newline) if f.newline != "\n" else f.text()
    if f.bom:
        data = "\ufeff" + data
    atomic_write_text(f.target, data, newline="", fsync=False, mode=f.mode)


def apply_edits(
    edits: Sequence[Edit],
    root: Path,
    scope: Sequence[str],
    *,
    allow_mass_deletion: bool = False,
    dry_run: bool = False,
    removed_ok: Sequence[str] = (),
) -> ApplyReport:
    """Apply a reply's edits under ``root`` within ``scope``; see the module docstring for the order of checks."""
    root = Path(root)
    report = ApplyReport(dry_run=dry_run)
    results = [EditResult(e.index, normalize_rel(e.path), e.kind, "applied", line=e.line) for e in edits]
    report.results = results
    targets: dict[int, Path] = {}
    aliases: dict[int, str] = {}  # edit index -> why its path stands for another file
    bad: list[tuple[Edit, str]] = []
    for e, res in zip(edits, results, strict=True):
        if e.kind == "unusable":  # the parser's refusal: a block it could not tie to a file or read
            refuse(res, e.problem or "this block could not be read as an edit")
            continue
        try:
            alias = existing_alias(root, e.path, scope, creates=_creates(e))
            if alias is not None:
                res.path, aliases[e.index] = alias
            targets[e.index] = resolve_in_workspace(root, res.path, scope)
        except PathRefused as exc:
            bad.append((e, exc.reason))
    if bad:
        first = ", ".join(f"edit {e.index} ({e.path}): {why}" for e, why in bad)
        for e, res in zip(edits, results, strict=True):
            if e.kind == "unusable":
                continue
            why = next((w for b, w in bad if b is e), None)
            refuse(res, why or f"not applied because the reply has a refused path: {first}", "scope_violation")
        return report
    files: dict[Path, WorkFile] = {}
    root_real = root.resolve()
    for e, res in zip(edits, results, strict=True):
        if e.kind == "unusable":
            continue
        target = targets[e.index]
        f = files.get(target) or files.setdefault(target, _load(target.relative_to(root_real).as_posix(), target))
        if f.error:
            refuse(res, f"{f.rel} {f.error}")
            continue
        if e.kind == "diff":
            new = apply_diff(e, f, res, allow_mass_deletion)
        elif e.kind == "search_replace":
            new = apply_search_replace(e, f, res)
        else:
            new = apply_full_file(e, f, res, allow_mass_deletion, removed_ok)
        if e.index in aliases:
            res.fuzz = [aliases[e.index], *res.fuzz]
        if new is None or res.status != "applied":
            continue
        if e.kind != "full_file" and f.lines is not None and not (e.kind == "diff" and e.delete_file):
            added = (
                [t for h in e.hunks for op, t in h.lines if op == "+"] if e.kind == "diff" else split_lines(e.replace)
            )
            hits = _placeholder_hits(f, new, added)
            if hits:
                guard_refusal(res, hits)
                continue
        hits = nul_byte_hits(f.rel, f.original, new)
        if hits:
            guard_refusal(res, hits)
            continue
        if f.lines is None:
            f.trailing_nl = True
        f.lines = None if (e.kind == "diff" and e.delete_file) else new
        f.touched.append(res)
    hit = None if allow_mass_deletion else _mass_deletion(files, root_real, scope)
    if hit is not None:
        # The whole reply is refused: part of a mass deletion is no safer than all of it.
        for f in files.values():
            for res in f.touched:
                lost = f.lines is None or len(f.lines) < len(f.original or [])
                if lost:
                    guard_refusal(res, [hit])
                else:
                    refuse(res, f"not applied because the reply was refused by guard {hit.name}", "destructive_output")
            f.lines = f.original
        return report
    for f in files.values():
        if f.lines == f.original:
            continue
        if f.lines is not None:
            changed = changed_span(f.original, f.lines) if f.original is not None else None
            err = syntax_error(f.rel, f.text(), None if f.original is None else f.text(f.original), changed=changed)
            if err is not None:
                line, text, msg = err
                for res in f.touched:
                    refuse(
                        res,
                        f"the result does not parse as Python: line {line}: {text.strip()!r}: {msg}",
                        "syntax_error",
                    )
                f.lines = f.original
                continue
        report.files_changed.append(f.rel)
        if dry_run:
            continue
        try:
            if f.lines is None:
                f.target.unlink()
            else:
                _write_atomic(f)
        except OSError as exc:
            report.files_changed.remove(f.rel)
            for res in f.touched:
                refuse(res, f"could not write {f.rel}: {exc.strerror or exc}")
    return report
