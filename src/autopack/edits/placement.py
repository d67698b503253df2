"""How each kind of edit changes one file: the new lines for a diff, a SEARCH/REPLACE or a whole file.

``apply_diff``, ``apply_search_replace`` and ``apply_full_file`` place one edit against a file's
current lines (exact, then tolerant matching from ``match``; part-of-line SEARCH text from
``fragment``) and return its new lines, or None with the refusal, its reason and the closest lines
written into the ``EditResult``. Nothing here reads or writes the disk: ``apply`` loads each file
into a ``WorkFile``, runs these in order and writes the result.

A SEARCH the file does not have is read again without the code fence (and file name) a model
wrapped both parts in, and without blank lines at its ends, each still placed at one place only. A
SEARCH that is not whole lines is used as exact text only where it starts and ends between
words or numbers, at one place, and its REPLACE does not repeat the rest of the line; otherwise it
is refused with the real line shown. A diff from ``--- /dev/null`` whose hunks remove or keep lines
of a file that exists changes that file. Whole-file replacements pass the size guards of ``guards``:
a file of 10+ lines may not lose more than 60 % of its lines (unless ``allow_mass_deletion``), and
a file of 20+ lines may not grow past 3x; smaller files are exempt from both.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .elide import ElisionRefused, has_elision, place_elided
from .fragment import PartRefused, part_places, place_fragment
from .guards import GuardHit, full_file_hits, is_placeholder_line
from .match import Ambiguous, FileIndex, Found, already_present, closest, indentation, place, place_tolerant
from .reply import FENCE, Edit, Hunk
from .report import Category, EditResult, HunkResult


@dataclass
class WorkFile:
    """One workspace file while a reply's edits apply: its lines as read, its lines now, and how to write it back."""

    rel: str
    target: Path
    original: list[str] | None = None  # lines as read (None: the file does not exist)
    lines: list[str] | None = None  # lines now, after the edits applied so far
    trailing_nl: bool = True
    newline: str = "\n"
    bom: bool = False
    mode: int | None = None
    error: str = ""
    touched: list[EditResult] = field(default_factory=list)

    def text(self, lines: list[str] | None = None) -> str:
        ls = self.lines if lines is None else lines
        if not ls:
            return ""
        return "\n".join(ls) + ("\n" if self.trailing_nl else "")


def split_lines(text: str | None) -> list[str]:
    """An edit's text as lines (CRLF read as LF; a final newline does not add an empty line)."""
    if not text:
        return []
    lines = text.replace("\r\n", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _where(start: int, end: int) -> str:
    return f"line {start + 1}" if end - start <= 1 else f"lines {start + 1}-{end}"


def refuse(res: EditResult, reason: str, category: Category = "patch_apply_error") -> None:
    """Mark ``res`` refused with the reason the Builder will read."""
    res.status, res.reason, res.category = "refused", reason, category


def _miss_reason(idx: FileIndex, seq: Sequence[tuple[str, str]], what: str) -> tuple[str, str]:
    before = [t for op, t in seq if op != "+"]
    if not any(t.strip() and not is_placeholder_line(t) for t in before):
        return (
            f"{what} has no lines that identify a place (only blank lines or '...'); include real lines from the file",
            "",
        )
    shown, missing = closest(idx.lines, before)
    reason = f"{what} was not found in the file"
    if any(is_placeholder_line(t) for t in before):
        reason += " (it contains '...' or a placeholder; list every line exactly, elided lines cannot be matched)"
    if missing:
        listed = "; ".join(repr(m.strip()) for m in missing[:4]) + (
            f" and {len(missing) - 4} more" if len(missing) > 4 else ""
        )
        reason += f"; these lines of it are not in the file near the closest match: {listed}"
    return reason, shown


def _ambiguous_reason(amb: Ambiguous, what: str) -> str:
    if amb.level == "line-or-part" and amb.exact_at is not None:
        parts = ", ".join(str(s + 1) for s in amb.starts if s != amb.exact_at)
        return (
            f"{what} was sent without indentation: it is the whole of line {amb.exact_at + 1} (indentation aside) "
            f"and also part of line {parts}; send it with its exact indentation and a few surrounding lines so "
            "only one place fits"
        )
    if amb.exact_at is not None:
        elsewhere = ", ".join(str(s + 1) for s in amb.starts if s != amb.exact_at)
        return (
            f"{what} matches line {amb.exact_at + 1} exactly but also, with other indentation, line {elsewhere}; "
            "send it with its exact indentation and a few surrounding lines so only one place fits"
        )
    if amb.level == "part":
        where = ", ".join(str(s + 1) for s in amb.starts[:6])
        return (
            f"{what} is part of a line and occurs {len(amb.starts)} times (lines {where}); "
            "SEARCH whole lines copied from the file, enough of them that only one place fits"
        )
    if len(amb.starts) == 1:
        return (
            f"{what} fits line {amb.starts[0] + 1} in more than one way (a context line differs or is missing); "
            "send the lines exactly as they are in the file"
        )
    where = ", ".join(str(s + 1) for s in amb.starts[:6])
    return f"{what} matches {len(amb.starts)} places (lines {where}); add surrounding lines so it matches only one"


def guard_refusal(res: EditResult, hits: list[GuardHit]) -> None:
    """Refuse ``res`` as destructive output, naming every guard that fired."""
    res.guards = [h.name for h in hits]
    refuse(res, "refused by guard " + "; ".join(f"{h.name}: {h.message}" for h in hits), "destructive_output")


def _apply_hunks(edit: Edit, f: WorkFile, res: EditResult) -> list[str] | None:
    """New lines for a diff against a present file, or None (``res`` says why)."""
    lines = f.lines or []
    idx = FileIndex(lines)
    found: list[tuple[Hunk, Found]] = []
    offset = 0
    for h in edit.hunks:
        hr = HunkResult(h.number, "applied")
        res.hunks.append(hr)
        declared = h.old_start - 1 if h.old_start else None
        if not h.before:
            if not lines:
                found.append((h, Found(0, 0, h.after)))
                continue
            hr.status, hr.reason = "refused", "the hunk has no context or removed lines, so where it goes is unknown"
            continue
        hint = None if declared is None else declared + offset
        placed = place(idx, h.lines, hint=hint)
        if placed is None and already_present(idx, h.lines):
            hr.status, hr.reason = "already_applied", "its result is already in the file"
            continue
        if placed is None:
            placed = place_tolerant(idx, h.lines, hint=hint)
        if isinstance(placed, Found):
            if declared is not None:
                if placed.start != declared:
                    placed.fuzz.append(f"found at line {placed.start + 1} (the hunk header said {declared + 1})")
                offset = placed.start - declared
            hr.location, hr.fuzz = _where(placed.start, placed.end), placed.fuzz
            found.append((h, placed))
        elif isinstance(placed, Ambiguous):
            hr.status, hr.reason = "refused", _ambiguous_reason(placed, f"hunk {h.number}")
        else:
            hr.status = "refused"
            hr.reason, shown = _miss_reason(idx, h.lines, f"hunk {h.number}")
            res.closest = res.closest or shown
    bad = [hr for hr in res.hunks if hr.status == "refused"]
    spans = sorted((p.start, p.end, h.number) for h, p in found)
    for (_, e1, n1), (s2, _, n2) in zip(spans, spans[1:], strict=False):
        if s2 < e1:
            refuse(res, f"hunks {n1} and {n2} overlap at line {s2 + 1}; send one hunk for that region")
            return None
    if bad:
        held = [hr for hr in res.hunks if hr.status == "applied"]
        for hr in held:
            hr.status, hr.reason = "refused", "matches, but held back because another hunk of this diff did not apply"
        first = bad[0]
        refuse(
            res,
            first.reason if len(bad) == 1 else f"{len(bad)} of {len(res.hunks)} hunks did not apply: {first.reason}",
        )
        return None
    if not found:
        res.status, res.reason = "already_applied", "every hunk's result is already in the file"
        return None
    new = list(lines)
    for _, p in sorted(found, key=lambda hp: hp[1].start, reverse=True):
        new[p.start : p.end] = p.new_lines
    res.location = ", ".join(_where(p.start, p.end) for _, p in sorted(found, key=lambda hp: hp[1].start))
    res.fuzz = [note for _, p in found for note in p.fuzz]
    if len(found) < len(edit.hunks):
        res.fuzz.append("some hunks were already applied")
    return new


def apply_diff(edit: Edit, f: WorkFile, res: EditResult, allow_mass_deletion: bool) -> list[str] | None:
    """New lines for a diff (create, delete or change), [] for a deletion, or None (``res`` says why)."""
    after = [t for h in edit.hunks for op, t in h.lines if op != "-"]
    if edit.delete_file:
        if f.lines is None:
            res.status, res.reason = "already_applied", "the file is already absent"
            return None
        if not edit.hunks:
            if any(t.strip() for t in f.lines) and not allow_mass_deletion:
                guard_refusal(res, [GuardHit("delete_without_content", "a deletion diff must list the file's lines")])
                return None
            res.location = "deleted"
            return []
        remaining = _apply_hunks(edit, f, res)
        if remaining is not None and any(t.strip() for t in remaining):
            refuse(res, "the deletion diff does not cover the whole file; list every line as removed")
            return None
        res.location = "deleted" if remaining is not None else res.location
        return remaining
    removes = any(op == "-" for h in edit.hunks for op, _ in h.lines)
    if (
        edit.new_file
        and f.lines is not None
        and (removes or any(op == " " and t.strip() for h in edit.hunks for op, t in h.lines))
    ):
        # `--- /dev/null` over hunks with removed or context lines of a file that exists: the header is
        # the slip (Aider's test_find_diffs_dev_null), the hunks say what changes.
        changed = _apply_hunks(edit, f, res)
        if changed is not None:
            res.fuzz.insert(
                0, "the diff says --- /dev/null, but its hunks change the existing file; applied them to it"
            )
        return changed
    if edit.new_file or f.lines is None:
        if f.lines is None:
            if not edit.new_file and any(h.before for h in edit.hunks):
                refuse(res, "the file does not exist; create it with a diff from /dev/null (or a whole-file edit)")
                return None
            if removes:
                refuse(
                    res,
                    "the diff creates the file (--- /dev/null) but removes lines from it; a new file has only + lines",
                )
                return None
            res.location = "new file"
            return after
        if [t.rstrip() for t in f.lines] == [t.rstrip() for t in after]:
            res.status, res.reason = "already_applied", "the file already exists with this content"
            return None
        if any(t.strip() for t in f.lines):
            refuse(
                res, "the diff creates the file (--- /dev/null) but it already exists; send a diff against its content"
            )
            return None
        res.location = "new file"
        return after
    return _apply_hunks(edit, f, res)


def _as_hunk(search: list[str], replace: list[str]) -> list[tuple[str, str]]:
    """A SEARCH/REPLACE pair as a hunk: lines the REPLACE keeps are context, the others removed or added."""
    out: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, search, replace, autojunk=False).get_opcodes():
        if tag == "equal":
            out += [(" ", t) for t in search[i1:i2]]
        else:
            out += [("-", t) for t in search[i1:i2]] + [("+", t) for t in replace[j1:j2]]
    return out


def _place_lines(idx: FileIndex, search: list[str], replace: list[str]) -> Found | Ambiguous | None:
    """A SEARCH placed as whole lines by ``match``'s tiers, or None."""
    placed = place(idx, [("-", s) for s in search] + [("+", r) for r in replace])
    if (
        isinstance(placed, Found)
        and len(search) == 1
        and not indentation(search[0])
        and indentation(idx.lines[placed.start])
    ):
        # One line sent without indentation, placed at an indented line: the model may as well have
        # meant the same text inside another line (`cnt_t = 0` in `cnt_s = cnt_t = 0`). Two readings:
        # refuse. (A line sent with tabs for spaces kept its indentation: it means the whole line.)
        elsewhere = [n for n in part_places(idx, search[0]) if n != placed.start]
        if elsewhere:
            return Ambiguous(sorted({placed.start, *elsewhere}), "line-or-part", exact_at=placed.start)
    return placed


def _unwrapped(part: list[str], rel: str) -> list[str] | None:
    """The lines of a SEARCH or REPLACE part that a model wrapped in a code fence, perhaps after the
    file's name (``foo.py`` / ```` ```python ```` / ... / ```` ``` ````), else None."""
    lines = list(part)
    if len(lines) >= 3 and lines[0].strip().endswith(rel.rsplit("/", 1)[-1]) and not FENCE.match(lines[0]):
        lines = lines[1:]
    closing = FENCE.match(lines[-1]) if len(lines) >= 2 else None
    if closing is not None and not closing.group(2) and FENCE.match(lines[0]):
        return lines[1:-1]
    return None


def _trimmed(search: list[str], replace: list[str]) -> tuple[list[str], list[str]] | None:
    """SEARCH without its leading and trailing blank lines (and as many of the REPLACE's), else None."""
    lo = next((k for k, s in enumerate(search) if s.strip()), len(search))
    hi = len(search) - next((k for k, s in enumerate(reversed(search)) if s.strip()), 0)
    if (lo, hi) == (0, len(search)) or sum(1 for s in search[lo:hi] if s.strip()) < 2:
        return None  # what is left must still say where it goes: two lines or more
    r_lo = min(lo, next((k for k, r in enumerate(replace) if r.strip()), len(replace)))
    r_hi = len(replace) - min(len(search) - hi, next((k for k, r in enumerate(reversed(replace)) if r.strip()), 0))
    return search[lo:hi], replace[r_lo : max(r_lo, r_hi)]


def _rereadings(search: list[str], replace: list[str], rel: str) -> list[tuple[list[str], list[str], list[str]]]:
    """Other readings of a SEARCH the file does not have, each with its note: the block without the code
    fence (and file name) a model wrapped both parts in, without blank lines at its ends that the file
    lacks (Aider issue #25), or both. Each must still place at one place."""
    out: list[tuple[list[str], list[str], list[str]]] = []
    s_in, r_in = _unwrapped(search, rel), _unwrapped(replace, rel) if replace else []
    if s_in is not None and r_in is not None and any(t.strip() for t in s_in):
        out.append((s_in, r_in, ["SEARCH and REPLACE were wrapped in a code fence; used the lines inside it"]))
    for s, r, notes in [(search, replace, []), *out]:
        trimmed = _trimmed(s, r)
        if trimmed is not None:
            out.append(
                (
                    *trimmed,
                    [*notes, "blank lines at the ends of the SEARCH are not in the file there; matched without them"],
                )
            )
    return out


def apply_search_replace(edit: Edit, f: WorkFile, res: EditResult) -> list[str] | None:
    """New lines for one SEARCH/REPLACE block, or None (``res`` says why)."""
    search, replace = split_lines(edit.search), split_lines(edit.replace)
    hr = HunkResult(1, "applied")
    res.hunks.append(hr)
    if not any(s.strip() for s in search):
        if f.lines is None or not any(t.strip() for t in f.lines):
            res.location = hr.location = "new file" if f.lines is None else "whole file"
            return replace
        if replace and already_present(FileIndex(f.lines), [("+", r) for r in replace]):
            res.status = hr.status = "already_applied"
            res.reason = "the REPLACE text is already in the file"
            return None
        refuse(
            res,
            "an empty SEARCH only creates a new file; to add to this file, SEARCH for the lines next to where the code goes",
        )
        return None
    if f.lines is None:
        refuse(res, "the file does not exist; to create it, use an empty SEARCH section")
        return None
    idx = FileIndex(f.lines)
    seq = [("-", s) for s in search] + [("+", r) for r in replace]
    placed: Found | Ambiguous | PartRefused | ElisionRefused | None = _place_lines(idx, search, replace)
    if placed is None:
        if any(r.strip() for r in replace) and already_present(idx, [("+", r) for r in replace]):
            res.status = hr.status = "already_applied"
            res.reason = "the SEARCH text is gone and the REPLACE text is already in the file"
            return None
        for s2, r2, notes in _rereadings(search, replace, f.rel):
            placed = _place_lines(idx, s2, r2)
            if isinstance(placed, Found):
                placed.fuzz[:0] = notes
            if placed is not None:
                break
    if placed is None:
        placed = place_fragment(idx, search, replace)
    if placed is None and has_elision(search):
        placed = place_elided(idx, search, replace)
    elif placed is None:
        # One wrong or left-out line (never one the REPLACE changes): the tier diff hunks have.
        placed = place_tolerant(idx, _as_hunk(search, replace), unnumbered=True)
    if isinstance(placed, Found):
        new = f.lines[: placed.start] + placed.new_lines + f.lines[placed.end :]
        res.location = hr.location = _where(placed.start, placed.end)
        res.fuzz = hr.fuzz = placed.fuzz
        if new == f.lines:
            res.status = hr.status = "already_applied"
            res.reason = "SEARCH and REPLACE are the same text"
            return None
        return new
    if isinstance(placed, Ambiguous):
        refuse(res, _ambiguous_reason(placed, "the SEARCH text"))
        return None
    if isinstance(placed, ElisionRefused):
        reason = f"the SEARCH text was not found as sent; {placed.problem}"
        res.closest = _miss_reason(idx, seq, "the SEARCH text")[1]
    elif isinstance(placed, PartRefused):
        # Show the line the text was found in, whichever stretch ``closest`` would have picked: it is
        # the line the model was aiming at, and seeing it whole is the fix.
        reason = f"the SEARCH text was not found as whole lines in the file; {placed.problem}"
        shown = range(placed.start, min(placed.end, placed.start + 30))
        res.closest = "\n".join(f"{n + 1:>5} | {f.lines[n]}" for n in shown)
    else:
        reason, res.closest = _miss_reason(idx, seq, "the SEARCH text")
    refuse(res, reason)
    return None


def apply_full_file(
    edit: Edit, f: WorkFile, res: EditResult, allow_mass_deletion: bool, removed_ok: Sequence[str]
) -> list[str] | None:
    """New lines for a whole-file edit that passes the size guards, or None (``res`` says why)."""
    new = split_lines(edit.content)
    res.hunks.append(HunkResult(1, "applied", "whole file"))
    if f.lines is None:
        res.location = "new file"
        return new
    if [t.rstrip() for t in new] == [t.rstrip() for t in f.lines]:
        res.status, res.reason = "already_applied", "the file already has this content"
        return None
    hits = full_file_hits(f.rel, f.text(), f.text(new), allow_mass_deletion=allow_mass_deletion, removed_ok=removed_ok)
    if hits:
        guard_refusal(res, hits)
        return None
    res.location = "whole file"
    return new
