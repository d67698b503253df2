"""Unified diff parsing: ``---``/``+++`` headers and ``@@`` hunks, the way models really write them.

Owns the tolerant line-by-line reading of diffs: fences and prose around them, wrong hunk numbers
and counts (kept only as hints), missing ``a/``/``b/`` prefixes, bare empty lines for blank context,
context lines whose leading space was dropped, git's quoted non-ASCII paths. A hunk still short of
its announced lines when the reply ends is a cut-off reply. What cannot be applied is returned as an
``unusable`` edit, never skipped: hunks without a complete ``---``/``+++`` header, a rename, a
header without hunks (``--- /dev/null`` with no hunks creates an empty file).
"""

from __future__ import annotations

import re

from .paths import normalize_rel
from .reply import FENCE, Edit, Hunk, ParsedReply, unusable

_HUNK = re.compile(r"^@@+\s*(?:-(\d+)(?:,(\d+))?\s+\+(\d+)(?:,(\d+))?)?\s*@*(.*)$")


def _header_path(raw: str) -> str:
    """The path in a ``---``/``+++`` header: no timestamp, git's C-quoting undone (non-ASCII names)."""
    p = raw.split("\t", 1)[0].strip()
    if len(p) >= 2 and p[0] == '"' and p[-1] == '"':
        body = p[1:-1]
        raw_bytes = bytearray()
        i = 0
        while i < len(body):
            if body[i] == "\\" and i + 1 < len(body):
                nxt = body[i + 1]
                if nxt in "01234567" and re.fullmatch(r"[0-7]{3}", body[i + 1 : i + 4]):
                    raw_bytes.append(int(body[i + 1 : i + 4], 8))
                    i += 4
                    continue
                raw_bytes.extend({"n": b"\n", "t": b"\t"}.get(nxt, nxt.encode()))
                i += 2
                continue
            raw_bytes.extend(body[i].encode())
            i += 1
        p = raw_bytes.decode("utf-8", errors="replace")
    elif re.search(r"\s\d{4}-\d\d-\d\d \d\d:\d\d", p):  # `diff -u` timestamps separated by spaces
        p = re.split(r"\s+\d{4}-\d\d-\d\d \d\d:\d\d", p, maxsplit=1)[0]
    return p


def _strip_prefixes(old: str, new: str) -> tuple[str, str]:
    if old.startswith("a/") and new.startswith("b/"):
        return old[2:], new[2:]
    if old == "/dev/null" and new.startswith("b/"):
        return old, new[2:]
    if new == "/dev/null" and old.startswith("a/"):
        return old[2:], new
    if old.startswith("a/") and old[2:] == new:
        return new, new
    if new.startswith("b/") and new[2:] == old:
        return old, old
    return old, new


class _DiffParser:
    def __init__(self, lines: list[str], complete_last_line: bool) -> None:
        self.lines = lines
        self.complete_last_line = complete_last_line
        self.reply = ParsedReply(mode="diff")
        self.edit: Edit | None = None
        self.hunk: Hunk | None = None
        self.implicit_blanks = 0  # trailing bare empty lines, dropped if the hunk ends after them
        self.last = 0  # the last reply line read into the current edit

    def close_hunk(self, at_eof: bool = False) -> None:
        hunk = self.hunk
        if hunk is None:
            return
        if self.implicit_blanks:
            del hunk.lines[-self.implicit_blanks :]
        self.implicit_blanks = 0
        self.hunk = None
        if not hunk.lines:
            if self.edit is not None and hunk in self.edit.hunks:
                self.edit.hunks.remove(hunk)
            if at_eof:
                self.reply.truncated = True
                self.reply.problems.append(
                    f"hunk {hunk.number} of {self._name()} is empty at the end of the reply (cut off?)"
                )
            return
        old_n = sum(1 for op, _ in hunk.lines if op != "+")
        new_n = sum(1 for op, _ in hunk.lines if op != "-")
        short = (hunk.old_count is not None and old_n < hunk.old_count) or (
            hunk.new_count is not None and new_n < hunk.new_count
        )
        if not (at_eof and short):
            return
        # Counts are often wrong, so a short hunk at the very end is only taken as cut off when the text
        # stops mid-line or on a changed line; a complete line of context reads as a miscount.
        if self.complete_last_line and hunk.lines[-1][0] == " ":
            self.reply.problems.append(
                f"hunk {hunk.number} of {self._name()} is shorter than its header says; read as a miscount"
            )
            return
        self.reply.truncated = True
        self.reply.problems.append(
            f"hunk {hunk.number} of {self._name()} ends with the reply before the lines its header announces (cut off?)"
        )

    def _name(self) -> str:
        return self.edit.path if self.edit and self.edit.path else "the diff"

    def close_file(self, at_eof: bool = False) -> None:
        self.close_hunk(at_eof)
        edit = self.edit
        self.edit = None
        if edit is None:
            return
        edit.span = (edit.span[0], self.last + 1)
        if edit.kind == "diff" and not edit.hunks and not edit.delete_file:
            if at_eof:
                self.reply.truncated = True
                self.reply.problems.append(f"the diff for {edit.path} has a header but no hunks (cut off?)")
                return
            if not edit.new_file:
                edit = unusable(
                    f"the diff at reply line {edit.line} for {edit.path} has a ---/+++ header but no @@ hunks, so it "
                    "was not applied; put its hunks right after the header",
                    edit.line,
                    edit.span,
                    edit.path,
                )
        self.reply.edits.append(edit)

    def start_file(self, old_raw: str, new_raw: str, at: int) -> None:
        self.close_file()
        old, new = _strip_prefixes(_header_path(old_raw), _header_path(new_raw))
        self.last = at + 1
        if old != "/dev/null" and new != "/dev/null" and normalize_rel(old) != normalize_rel(new) and old and new:
            self.edit = unusable(
                f"the diff at reply line {at + 1} renames {old} to {new}, which a diff cannot do here, so it was not "
                f"applied; send {new} whole (a diff from --- /dev/null) and delete {old} with a diff to +++ /dev/null",
                at + 1,
                (at, at + 2),
                normalize_rel(new),
            )
            return
        path = old if new == "/dev/null" else new
        self.edit = Edit(
            kind="diff",
            path=normalize_rel(path),
            delete_file=new == "/dev/null",
            new_file=old == "/dev/null",
            line=at + 1,
            span=(at, at + 2),
        )

    def is_body(self, line: str) -> bool:
        return line[:1] in (" ", "+", "-")

    def run(self) -> ParsedReply:
        lines = self.lines
        fence_open: int | None = None
        i = 0
        while i < len(lines):
            line = lines[i]
            nxt = lines[i + 1] if i + 1 < len(lines) else None
            if line.startswith("--- ") and nxt is not None and nxt.startswith("+++ "):
                self.start_file(line[4:], nxt[4:], i)
                i += 2
                continue
            if line.startswith("diff --git "):
                self.close_file()
                i += 1
                continue
            if FENCE.match(line):
                self.close_file()
                fence_open = None if fence_open is not None else i
                i += 1
                continue
            if line.startswith("@@"):
                self.close_hunk()
                m = _HUNK.match(line)
                if self.edit is None:
                    # Read the hunks anyway, so the refusal covers them (and their lines are not taken for anything else).
                    self.edit = unusable(
                        f"the hunk at reply line {i + 1} ({line.strip()[:60]!r}) has no ---/+++ file header, so it was not "
                        "applied; put both header lines (--- a/path and +++ b/path) right before the first @@ line",
                        i + 1,
                        (i, i + 1),
                    )
                self.last = i
                if m:
                    g = m.groups()
                    to_int = lambda s: int(s) if s is not None else None  # noqa: E731
                    count = lambda start, n: (1 if n is None else int(n)) if start is not None else None  # noqa: E731
                    self.hunk = Hunk(
                        old_start=to_int(g[0]), old_count=count(g[0], g[1]),
                        new_start=to_int(g[2]), new_count=count(g[2], g[3]),
                        number=len(self.edit.hunks) + 1,
                    )  # fmt: skip
                    self.edit.hunks.append(self.hunk)
                i += 1
                continue
            if self.hunk is not None:
                if line.startswith("\\"):  # "\ No newline at end of file": the file keeps its own ending
                    self.last = i
                    i += 1
                    continue
                if self.is_body(line):
                    self.implicit_blanks = 0
                    self.hunk.lines.append((line[0], line[1:]))
                    self.last = i
                    i += 1
                    continue
                follows = nxt is not None and (self.is_body(nxt) or nxt == "")
                if line == "" and follows:
                    self.implicit_blanks += 1
                    self.hunk.lines.append((" ", ""))
                    i += 1
                    continue
                if line.strip() and nxt is not None and self.is_body(nxt):
                    # A context line whose leading space the model dropped (common for column-0 code).
                    self.implicit_blanks = 0
                    self.hunk.lines.append((" ", line))
                    self.last = i
                    i += 1
                    continue
                self.close_hunk()
            i += 1
        self.close_file(at_eof=fence_open is None)
        if fence_open is not None:
            self.reply.truncated = True
            self.reply.problems.append(
                f"the code block opened at reply line {fence_open + 1} is never closed (reply cut off?)"
            )
        return self.reply


def parse_diff(lines: list[str], complete_last_line: bool = True) -> ParsedReply:
    """Parse the LF-normalized lines of a reply holding unified diffs (``complete_last_line``: it ended with a newline)."""
    return _DiffParser(lines, complete_last_line).run()
