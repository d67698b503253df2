"""Parse a Builder reply into edits: unified diffs, whole files, or SEARCH/REPLACE blocks.

Owns reading what models actually write: prose around blocks, missing or extra fences, CRLF,
wrong hunk numbers and counts, missing ``a/``/``b/`` prefixes, several files per block. It never
decides whether an edit fits the files on disk (that is ``apply`` and ``kinds``), but it does decide whether a
reply was cut off: a truncated reply is flagged and must never be applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from .paths import normalize_rel

EditKind = Literal["diff", "full_file", "search_replace"]
MODES = ("diff", "full_file", "structured_edit")

FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[ \t]*([^`]*?)[ \t]*$")
_SR_START = re.compile(r"^[ \t]*<{5,9}[ \t]*SEARCH\b.*$", re.IGNORECASE)
_SR_DIVIDER = re.compile(r"^[ \t]*={5,9}[ \t]*$")
_SR_END = re.compile(r"^[ \t]*>{5,9}[ \t]*REPLACE\b.*$", re.IGNORECASE)
_PATH_PREFIX = re.compile(r"^(?:#{1,6}\s+)?(?:\*\*)?(?:file(?:name)?|path)\s*:\s*(?:\*\*)?\s*(.+)$", re.IGNORECASE)
_BACKTICKED = re.compile(r"`([^`\s]+)`")
_EXTLESS_NAMES = frozenset(
    {"Makefile", "Dockerfile", "LICENSE", "README", "Procfile", "Gemfile", "Rakefile", "Justfile"}
)


@dataclass
class Hunk:
    """One ``@@`` hunk: ``lines`` are (op, text) with op ``" "`` context, ``"-"`` removed, ``"+"`` added."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    old_start: int | None = None
    old_count: int | None = None
    new_start: int | None = None
    new_count: int | None = None
    number: int = 1

    @property
    def before(self) -> list[str]:
        return [t for op, t in self.lines if op != "+"]

    @property
    def after(self) -> list[str]:
        return [t for op, t in self.lines if op != "-"]


@dataclass
class Edit:
    """One edit to one file. ``index`` is 1-based in reply order and is how feedback names it."""

    kind: EditKind
    path: str
    index: int = 0
    hunks: list[Hunk] = field(default_factory=list)
    content: str | None = None
    search: str | None = None
    replace: str | None = None
    delete_file: bool = False
    new_file: bool = False


@dataclass
class ParsedReply:
    """What a reply holds. ``truncated`` replies were cut off mid-block and must not be applied."""

    edits: list[Edit] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    truncated: bool = False
    mode: str = "diff"


def _normalize(text: str) -> list[str]:
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def detect_mode(text: str) -> str:
    """Which format a reply is in: ``structured_edit`` (SEARCH/REPLACE), ``diff`` or ``full_file``."""
    if any(_SR_START.match(line) for line in text.splitlines()):
        return "structured_edit"
    if re.search(r"^@@", text, re.MULTILINE) and re.search(r"^(?:---|\+\+\+) \S", text, re.MULTILINE):
        return "diff"
    if re.search(r"^@@ .*@@", text, re.MULTILINE):
        return "diff"
    return "full_file"


def parse_reply(text: str, mode: str | None = None) -> ParsedReply:
    """Parse a Builder reply. ``mode`` (a phase's builder_mode) is tried first; None detects the format.

    When the named format finds nothing, the detected one is used instead (models do not always
    answer in the format asked for; the applier's checks make that safe).
    """
    if mode == "search_replace":
        mode = "structured_edit"
    if mode is not None and mode not in MODES:
        raise ValueError(f"unknown edit mode {mode!r}; expected one of {', '.join(MODES)}")
    lines = _normalize(text)
    detected = detect_mode(text)
    chosen = mode or detected
    complete = text.endswith(("\n", "\r"))
    reply = _PARSERS[chosen](lines, complete)
    if not reply.edits and not reply.truncated and detected != chosen:
        fallback = _PARSERS[detected](lines, complete)
        if fallback.edits or fallback.truncated:
            fallback.problems.insert(0, f"asked for {chosen} edits but the reply is in {detected} format; used that")
            reply = fallback
            chosen = detected
    reply.mode = chosen
    for i, edit in enumerate(reply.edits, 1):
        edit.index = i
    return reply


# paths in prose ------------------------------------------------------------------------------
def looks_like_path(token: str) -> bool:
    """A token a model would use as a file path (``src/x.py``, ``README.md``, ``Makefile``), not prose."""
    if not token or len(token) > 300 or any(c in token for c in " \t<>|*?\"'`"):
        return False
    if token.startswith(("http://", "https://", "-", "@")) or token.endswith((".", ",", ":", ";")):
        return False
    name = token.rsplit("/", 1)[-1]
    if name in _EXTLESS_NAMES or (name.startswith(".") and len(name) > 1 and "/" in token):
        return True
    if re.fullmatch(r"[\d.]+", name):  # a version number
        return False
    return bool(re.search(r"\.[\w-]{1,12}$", name)) or ("/" in token and bool(name))


def path_from_line(line: str, allow_prose: bool = True) -> str | None:
    """The file path a line announces (``### src/x.py``, ``File: x``, ``**x**``, a bare path), if any."""
    s = line.strip()
    if not s or FENCE.match(s):
        return None
    m = _PATH_PREFIX.match(s)
    if m:
        s = m.group(1)
    s = re.sub(r"^(?:#{1,6}|[-*+]|\d+[.)])\s+", "", s).strip()
    s = s.rstrip(":").strip().strip("*").strip()
    candidate = normalize_rel(s)
    if looks_like_path(candidate):
        return candidate
    if allow_prose:
        found = [t for t in _BACKTICKED.findall(line) if looks_like_path(normalize_rel(t))]
        if len(found) == 1 and (line.rstrip().endswith(":") or len(line.split()) <= 4):
            return normalize_rel(found[0])
    return None


# whole files ---------------------------------------------------------------------------------
@dataclass
class _Block:
    open_line: int
    close_line: int | None
    info: str
    body: list[str]


def _fenced_blocks(lines: list[str]) -> list[_Block]:
    """Top-level fenced blocks. Inner fences that carry a language (```python) open a nested block."""
    blocks: list[_Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        marker, info = m.group(1), m.group(2)
        depth, j, close = 0, i + 1, None
        while j < len(lines):
            inner = FENCE.match(lines[j])
            if inner and inner.group(1)[0] == marker[0]:
                if inner.group(2):
                    depth += 1
                elif depth > 0:
                    depth -= 1
                elif len(inner.group(1)) >= len(marker):
                    close = j
                    break
            j += 1
        blocks.append(_Block(i, close, info, lines[i + 1 : close if close is not None else len(lines)]))
        i = (close if close is not None else len(lines)) + 1
    return blocks


def _parse_full_files(lines: list[str], complete: bool = True) -> ParsedReply:
    reply = ParsedReply(mode="full_file")
    for block in _fenced_blocks(lines):
        if block.close_line is None:
            reply.truncated = True
            reply.problems.append(
                f"the code block opened at reply line {block.open_line + 1} is never closed (reply cut off?)"
            )
            continue
        path = None
        info_tokens = block.info.split()
        for token in info_tokens[1:] if len(info_tokens) > 1 else info_tokens:
            if "." in token and looks_like_path(normalize_rel(token.split(":", 1)[-1])):
                path = normalize_rel(token.split(":", 1)[-1])
        j, blanks = block.open_line - 1, 0
        while path is None and j >= 0 and blanks <= 1:
            if not lines[j].strip():
                blanks += 1
            else:
                path = path_from_line(lines[j])
                break
            j -= 1
        if path is None:
            reply.problems.append(
                f"the code block at reply line {block.open_line + 1} has no file path line before it; skipped"
            )
            continue
        if any(_SR_START.match(b) for b in block.body) or (
            block.info.split()[:1] in (["diff"], ["patch"])
            and not path.endswith((".diff", ".patch"))
            and any(b.startswith("@@") for b in block.body)
        ):
            reply.problems.append(
                f"the code block for {path} holds a diff or SEARCH/REPLACE edit, not a whole file; skipped"
            )
            continue
        reply.edits.append(
            Edit(kind="full_file", path=path, content="\n".join(block.body) + ("\n" if block.body else ""))
        )
    return reply


# search/replace ------------------------------------------------------------------------------
def _parse_search_replace(lines: list[str], complete: bool = True) -> ParsedReply:
    reply = ParsedReply(mode="structured_edit")
    fence_open: int | None = None
    last_path: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if FENCE.match(line):
            fence_open = None if fence_open is not None else i
            i += 1
            continue
        if not _SR_START.match(line):
            i += 1
            continue
        path, j = None, i - 1
        while j >= 0 and i - j <= 4:
            prev = lines[j]
            if prev.strip() and not FENCE.match(prev):
                if _SR_END.match(prev):
                    break
                path = path_from_line(prev)
                break
            if FENCE.match(prev):
                fm = FENCE.match(prev)
                for token in (fm.group(2) if fm else "").split():
                    if ("/" in token or "." in token) and looks_like_path(normalize_rel(token)):
                        path = normalize_rel(token)
            j -= 1
        path = path or last_path
        start = i
        search: list[str] = []
        replace: list[str] = []
        k = i + 1
        while k < len(lines) and not _SR_DIVIDER.match(lines[k]) and not _SR_END.match(lines[k]):
            search.append(lines[k])
            k += 1
        if k >= len(lines):
            reply.truncated = True
            reply.problems.append(
                f"SEARCH block at reply line {start + 1} has no ======= or >>>>>>> REPLACE (reply cut off?)"
            )
            break
        if _SR_END.match(lines[k]):
            reply.problems.append(f"SEARCH block at reply line {start + 1} has no ======= line; skipped")
            i = k + 1
            continue
        k += 1
        while k < len(lines) and not _SR_END.match(lines[k]):
            if _SR_START.match(lines[k]) or _SR_DIVIDER.match(lines[k]):
                break
            replace.append(lines[k])
            k += 1
        if k >= len(lines):
            reply.truncated = True
            reply.problems.append(
                f"SEARCH/REPLACE block at reply line {start + 1} has no >>>>>>> REPLACE (reply cut off?)"
            )
            break
        if not _SR_END.match(lines[k]):
            reply.problems.append(
                f"SEARCH/REPLACE block at reply line {start + 1} is malformed (marker inside REPLACE); skipped"
            )
            i = k
            continue
        if path is None:
            reply.problems.append(
                f"SEARCH/REPLACE block at reply line {start + 1} has no file path line before it; skipped"
            )
        else:
            last_path = path
            reply.edits.append(
                Edit(
                    kind="search_replace",
                    path=path,
                    search="\n".join(search) + ("\n" if search else ""),
                    replace="\n".join(replace) + ("\n" if replace else ""),
                )
            )
        i = k + 1
    if fence_open is not None and not reply.truncated:
        reply.truncated = True
        reply.problems.append(f"the code block opened at reply line {fence_open + 1} is never closed (reply cut off?)")
    return reply


def _parse_diff(lines: list[str], complete: bool = True) -> ParsedReply:
    from .udiff import parse_diff  # the diff parser lives in its own module and imports these types

    return parse_diff(lines, complete)


_PARSERS = {"diff": _parse_diff, "full_file": _parse_full_files, "structured_edit": _parse_search_replace}
