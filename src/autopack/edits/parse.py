"""Parse a Builder reply into edits: unified diffs, whole files, or SEARCH/REPLACE blocks.

Owns reading what models actually write: prose around blocks, missing or extra fences, CRLF,
wrong hunk numbers and counts, missing ``a/``/``b/`` prefixes, several files per block. It never
decides whether an edit fits the files on disk (that is ``apply`` and ``placement``), but it does decide whether a
reply was cut off: a truncated reply is flagged and must never be applied.

No edit block is ever dropped: a block that looks like an edit but cannot be used (no path line
before it, a hunk without its ``---``/``+++`` header, a rename, a whole file in a SEARCH/REPLACE
reply...) becomes an ``unusable`` edit whose ``problem`` the applier reports as a refusal. Prose,
and in diff and SEARCH/REPLACE replies code blocks that follow prose, stay harmless. A line is a
path line when it names a file: by its shape (a directory or an extension), by a ``File:`` label,
or, when the caller passes ``scope``/``root``, because the phase scope names it or the file exists.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .paths import PathRefused, check_syntax_of_path, normalize_rel, scope_names
from .reply import FENCE, Edit, ParsedReply, unusable
from .udiff import parse_diff

MODES = ("diff", "full_file", "structured_edit")
FORMAT_NAMES = {"diff": "a unified diff", "full_file": "whole files", "structured_edit": "SEARCH/REPLACE blocks"}
_CREATE_HINT = {
    "diff": "a diff from --- /dev/null creates a file",
    "full_file": "a path line, then the complete file in a code block",
    "structured_edit": "an empty SEARCH creates a file",
}

_SR_START = re.compile(r"^[ \t]*<{5,9}[ \t]*SEARCH\b.*$", re.IGNORECASE)
_SR_DIVIDER = re.compile(r"^[ \t]*={5,9}[ \t]*$")
_SR_END = re.compile(r"^[ \t]*>{5,9}[ \t]*REPLACE\b.*$", re.IGNORECASE)
_PATH_PREFIX = re.compile(r"^(?:#{1,6}\s+)?(?:\*\*)?(?:file(?:name)?|path)\s*:\s*(?:\*\*)?\s*(.+)$", re.IGNORECASE)
_BACKTICKED = re.compile(r"`([^`\s]+)`")
_EXTLESS_NAMES = frozenset(
    {"Makefile", "Dockerfile", "LICENSE", "README", "Procfile", "Gemfile", "Rakefile", "Justfile"}
    | {"CODEOWNERS", "Jenkinsfile", "Vagrantfile", "Containerfile", "Brewfile", "Pipfile"}
)
_PROSE_SUFFIXES = (".md", ".markdown", ".rst", ".txt", ".adoc")  # where ======= can underline a title
# HTML-like fences (Aider asks for them when a file holds ```): skipped between a path line and SEARCH.
_TAG_FENCE = re.compile(r"^[ \t]*</?(?:source|code|pre|codeblock|sourcecode)>[\w+-]*[ \t]*$", re.IGNORECASE)
# Code blocks that are a terminal or REPL session, never a file: a whole-file reply may show them.
_TRANSCRIPT_LANGS = frozenset({"console", "shell-session", "sh-session", "terminal", "pycon", "output"})
# A line that runs a program ("Run it like this:" then `python hello.py`), as models show after a file.
_COMMAND = re.compile(
    r"^(?:python[\d.]*|pip[\d.]*|pytest|uv|poetry|node|npm|npx|yarn|pnpm|deno|bun|cargo|go|make|git|bash|sh|zsh|"
    r"ruby|bundle|java|javac|mvn|gradle|gcc|g\+\+|clang|docker|curl|cd|chmod|\./[\w./-]+)(?:\s+\S.*)?$"
)


@dataclass(frozen=True)
class PathHints:
    """What the parser may know of the workspace to recognise path lines: the phase scope and the root."""

    scope: tuple[str, ...] = ()
    root: Path | None = None

    def names_file(self, token: str) -> bool:
        """The scope names ``token`` (exactly or by a glob that is not a catch-all) or it is an existing file."""
        try:
            rel = check_syntax_of_path(token)
        except PathRefused:
            return False
        if scope_names(rel, self.scope):
            return True
        if self.root is None:
            return False
        try:
            return (self.root / rel).is_file()
        except OSError:
            return False


_NO_HINTS = PathHints()


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


def parse_reply(
    text: str, mode: str | None = None, *, scope: Sequence[str] | None = None, root: Path | str | None = None
) -> ParsedReply:
    """Parse a Builder reply. ``mode`` (a phase's builder_mode) is tried first; None detects the format.

    When the named format finds nothing usable, the detected one is used instead (models do not
    always answer in the format asked for; the applier's checks make that safe). Edit blocks of
    another format than the one used are returned as ``unusable`` edits, never dropped.
    ``scope`` (the phase scope) and ``root`` (the workspace) let a line naming a file without an
    extension (``VERSION``, ``CODEOWNERS``) count as a path line when the scope names it or it exists.
    """
    if mode == "search_replace":
        mode = "structured_edit"
    if mode is not None and mode not in MODES:
        raise ValueError(f"unknown edit mode {mode!r}; expected one of {', '.join(MODES)}")
    hints = PathHints(tuple(scope or ()), Path(root) if root is not None else None)
    lines = _normalize(text)
    detected = detect_mode(text)
    chosen = mode or detected
    complete = text.endswith(("\n", "\r"))
    reply = _PARSERS[chosen](lines, complete, hints)
    if not reply.usable and not reply.truncated and detected != chosen:
        fallback = _PARSERS[detected](lines, complete, hints)
        if _weight(fallback) > _weight(reply):
            fallback.problems.insert(0, f"asked for {chosen} edits but the reply is in {detected} format; used that")
            reply = fallback
            chosen = detected
    reply.mode = chosen
    if not reply.truncated:
        reply.edits.extend(_strays(lines, complete, hints, reply))
        reply.edits.sort(key=lambda e: e.line)
    for i, edit in enumerate(reply.edits, 1):
        edit.index = i
    return reply


def _weight(reply: ParsedReply) -> tuple[bool, bool]:
    """Which reading explains the reply: usable edits (or a cut-off reply) first, then any edit block.

    Unusable whole-file blocks do not count: read as whole files, every code block of a reply with
    no edits at all would be refused as a file without a path; such a reply has no edits.
    """
    marked = reply.mode != "full_file" and bool(reply.edits)
    return bool(reply.usable) or reply.truncated, marked


def _overlaps(span: tuple[int, int], spans: Sequence[tuple[int, int]]) -> bool:
    return any(start < span[1] and span[0] < end for start, end in spans)


def _strays(lines: list[str], complete: bool, hints: PathHints, reply: ParsedReply) -> list[Edit]:
    """Edit blocks of another format than the reply's, each as an ``unusable`` edit saying why."""
    mode = reply.mode
    covered = list(reply.spans) + [e.span for e in reply.edits]
    found: list[Edit] = []
    wanted = f"this reply is read as {FORMAT_NAMES[mode]}, so it was not applied; send every edit as {FORMAT_NAMES[mode]} ({_CREATE_HINT[mode]})"
    if mode != "structured_edit" and any(_SR_START.match(t) for t in lines):
        for e in _parse_search_replace(lines, complete, hints).edits:
            if not _overlaps(e.span, covered):
                what = f"the SEARCH/REPLACE block at reply line {e.line}" + (f" for {e.path}" if e.path else "")
                found.append(unusable(f"{what} is not {FORMAT_NAMES[mode]}: {wanted}", e.line, e.span, e.path))
    if mode != "diff" and any(t.startswith(("@@", "+++ ")) for t in lines):
        for e in _parse_diff(lines, complete, hints).edits:
            if not _overlaps(e.span, covered):
                what = f"the diff at reply line {e.line}" + (f" for {e.path}" if e.path else "")
                found.append(unusable(f"{what} is not {FORMAT_NAMES[mode]}: {wanted}", e.line, e.span, e.path))
    if mode != "full_file":
        taken = covered + [e.span for e in found]
        for block in _fenced_blocks(lines):
            if block.close_line is None:
                continue
            span = (block.open_line, block.close_line + 1)
            if _overlaps(span, taken):
                continue
            path, name = _block_path(lines, block, hints, allow_prose=False)
            where = f"the code block at reply line {block.open_line + 1} (first line {_first_line(block.body)})"
            if path is not None:
                found.append(
                    unusable(f"{where} is a whole file for {path}, but {wanted}", block.open_line + 1, span, path)
                )
            elif name is not None:
                found.append(
                    unusable(
                        f"{where} follows {name!r}, which looks like a file name but is not a file in the workspace "
                        f"or named by this phase's scope; {wanted}, or leave the block out if it is not a file",
                        block.open_line + 1,
                        span,
                    )
                )
    return found


# paths in prose ------------------------------------------------------------------------------
def _plain_token(token: str) -> bool:
    """One word that could be a file name: no spaces, quotes or shell characters, not a URL or an option."""
    if not token or len(token) > 300 or any(c in token for c in " \t<>|*?\"'`"):
        return False
    if token.startswith(("http://", "https://", "-", "@")) or token.endswith((".", ",", ":", ";")):
        return False
    return bool(re.search(r"[A-Za-z0-9_]", token))


def looks_like_path(token: str) -> bool:
    """A token a model would use as a file path (``src/x.py``, ``README.md``, ``Makefile``), not prose."""
    if not _plain_token(token):
        return False
    name = token.rsplit("/", 1)[-1]
    if name in _EXTLESS_NAMES or re.fullmatch(r"\.[A-Za-z_][\w.-]*", name):  # a known name, a dotfile
        return True
    if re.fullmatch(r"[\d.]+", name):  # a version number
        return False
    return bool(re.search(r"\.[\w-]{1,12}$", name)) or ("/" in token and bool(name))


def _is_path(token: str, hints: PathHints) -> bool:
    return looks_like_path(token) or (_plain_token(token) and hints.names_file(token))


def _undecorated(line: str) -> tuple[str, bool, bool] | None:
    """The line without the markdown models put around a name: (text, had a ``File:`` label, had a trailing colon)."""
    s = line.strip()
    if not s or FENCE.match(s):
        return None
    labelled = False
    m = _PATH_PREFIX.match(s)
    if m:
        s, labelled = m.group(1), True
    s = re.sub(r"^(?:#{1,6}|[-*+]|\d+[.)])\s+", "", s).strip()
    colon, prev = False, None
    while s != prev:  # **`VERSION`**: and the like, in any nesting
        prev = s
        s = s.strip().strip("*").strip()
        if s.endswith(":"):
            s, colon = s[:-1], True
        if len(s) >= 2 and s[0] == s[-1] and s[0] in "`'\"":
            s = s[1:-1]
    return normalize_rel(s), labelled, colon


def path_from_line(line: str, allow_prose: bool = True, hints: PathHints = _NO_HINTS) -> str | None:
    """The file path a line announces (``### src/x.py``, ``File: x``, ``**x**``, a bare path), if any.

    A name without an extension counts when it has a ``File:``/``Path:`` label, or ``hints`` say the
    phase scope names it or the file exists. ``allow_prose`` also accepts one backticked path in a
    short line or a line ending with a colon (``Here is the updated `src/x.py`:``).
    """
    bare = _undecorated(line)
    if bare is None:
        return None
    candidate, labelled, _ = bare
    if _is_path(candidate, hints) or (labelled and _plain_token(candidate)):
        return candidate
    if allow_prose:
        found = [normalize_rel(t) for t in _BACKTICKED.findall(line) if _is_path(normalize_rel(t), hints)]
        if len(found) == 1 and (line.rstrip().endswith(":") or len(line.split()) <= 4):
            return found[0]
    return None


def bare_name(line: str) -> str | None:
    """A line that is one file-like word not known as a path (``VERSION``, ``Jenkinsfile``), else None.

    Ordinary words (``Changes``, ``example``) and labels ending with a colon (``Output:``) are prose.
    """
    bare = _undecorated(line)
    if bare is None:
        return None
    name, _, colon = bare
    if colon or not _plain_token(name) or not re.search(r"[A-Za-z]", name):
        return None
    if re.fullmatch(r"[A-Z]?[a-z]+", name) and not name.lower().endswith("file"):
        return None
    return name


def _first_line(body: list[str]) -> str:
    text = next((b.strip() for b in body if b.strip()), "")
    return repr(text if len(text) <= 60 else text[:57] + "...")


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


def _block_path(
    lines: list[str], block: _Block, hints: PathHints, allow_prose: bool = True
) -> tuple[str | None, str | None]:
    """The path a fenced block is tied to (its info string, or the line before it, one blank line allowed),
    else the file-like word on that line (see ``bare_name``), else (None, None)."""
    info_tokens = block.info.split()
    for token in info_tokens[1:] if len(info_tokens) > 1 else info_tokens:
        if "." in token and looks_like_path(normalize_rel(token.split(":", 1)[-1])):
            return normalize_rel(token.split(":", 1)[-1]), None
    j, blanks = block.open_line - 1, 0
    while j >= 0 and blanks <= 1:
        if not lines[j].strip():
            blanks += 1
            j -= 1
            continue
        path = path_from_line(lines[j], allow_prose, hints)
        return path, (None if path is not None else bare_name(lines[j]))
    return None, None


def _is_transcript(block: _Block) -> bool:
    """A terminal or REPL session (``console``, ``pycon``, first line ``$ cmd`` or ``>>> x``) or a command
    to run (up to 3 lines, each a command such as ``python app.py``): never a file."""
    lang = block.info.split()[:1]
    if lang and lang[0].lower() in _TRANSCRIPT_LANGS:
        return True
    body = [b.strip() for b in block.body if b.strip()]
    if body and body[0].startswith(("$ ", ">>> ")):
        return True
    return 0 < len(body) <= 3 and all(_COMMAND.match(b) for b in body)


def _parse_full_files(lines: list[str], complete: bool = True, hints: PathHints = _NO_HINTS) -> ParsedReply:
    reply = ParsedReply(mode="full_file")
    for block in _fenced_blocks(lines):
        if block.close_line is None:
            reply.truncated = True
            reply.problems.append(
                f"the code block opened at reply line {block.open_line + 1} is never closed (reply cut off?)"
            )
            continue
        n, span = block.open_line + 1, (block.open_line, block.close_line + 1)
        reply.spans.append(span)
        path, name = _block_path(lines, block, hints)
        if path is None:
            if _is_transcript(block):
                reply.problems.append(f"the code block at reply line {n} is a terminal session, not a file; ignored")
                continue
            why = (
                f"{name!r} on the line before it is not a file in the workspace or named by this phase's scope"
                if name is not None
                else "no file path line comes before it"
            )
            reply.edits.append(
                unusable(
                    f"the code block at reply line {n} (first line {_first_line(block.body)}) is not tied to a file: "
                    f"{why}, so it was not applied; put the file's path alone on the line right before its opening "
                    "fence (for a name without an extension: `File: NAME`), and leave out code blocks that are not files",
                    n,
                    span,
                )
            )
            continue
        if any(_SR_START.match(b) for b in block.body) or (
            block.info.split()[:1] in (["diff"], ["patch"])
            and not path.endswith((".diff", ".patch"))
            and any(b.startswith("@@") for b in block.body)
        ):
            reply.edits.append(
                unusable(
                    f"the code block at reply line {n} for {path} holds a diff or SEARCH/REPLACE edit, not the whole "
                    "file, so it was not applied; send the complete new content of the file",
                    n,
                    span,
                    path,
                )
            )
            continue
        reply.edits.append(
            Edit(
                kind="full_file",
                path=path,
                content="\n".join(block.body) + ("\n" if block.body else ""),
                line=n,
                span=span,
            )
        )
    return reply


# search/replace ------------------------------------------------------------------------------
def _sr_path(lines: list[str], i: int, hints: PathHints) -> tuple[str | None, str | None]:
    """The path line of the SEARCH marker at ``i`` (up to 4 lines up, past its fence), else the file-like
    word standing there (see ``bare_name``), else (None, None): then the previous block's path applies."""
    j = i - 1
    while j >= 0 and i - j <= 4:
        prev = lines[j]
        fm = FENCE.match(prev)
        if _TAG_FENCE.match(prev):
            pass  # <source>python: the fence Aider asks for when a file holds ```
        elif fm:
            for token in fm.group(2).split():
                if ("/" in token or "." in token) and looks_like_path(normalize_rel(token)):
                    return normalize_rel(token), None
        elif prev.strip():
            if _SR_END.match(prev):
                return None, None
            path = path_from_line(prev, hints=hints)
            return path, (None if path is not None else bare_name(prev))
        j -= 1
    return None, None


def _underline(lines: list[str], n: int, prose: bool) -> bool:
    """In a text file, a ======= line right under a title at column 0 no longer than it: a
    reStructuredText or Markdown title underline, not a divider."""
    prev = lines[n - 1].rstrip() if n > 0 else ""
    return (
        prose
        and bool(re.match(r"\w", prev))
        and len(lines[n].strip()) >= len(prev)
        and not any(p.match(prev) for p in (_SR_START, _SR_DIVIDER, _SR_END))
    )


def _stutter(lines: list[str], n: int, divider: int, end: int, prose: bool) -> bool:
    """A ======= repeated right after the divider, or right before >>>>>>> REPLACE: a stutter (seen from
    Claude: ``=======`` twice over an empty REPLACE, or ``=======`` then ``>>>>>>> REPLACE``), not text."""
    if not _SR_DIVIDER.match(lines[n]) or _underline(lines, n, prose):
        return False
    return all(_SR_DIVIDER.match(t) for t in lines[divider + 1 : n + 1]) or all(
        _SR_DIVIDER.match(t) for t in lines[n:end]
    )


def _divider(lines: list[str], start: int, stop: int, ended: bool, prose: bool) -> tuple[int, int] | None:
    """(divider line, end line) of the block from ``start`` to ``stop`` (its >>>>>>> REPLACE when ``ended``),
    end -1 when the REPLACE part has no end; None: no divider.

    ``=======`` lines are told apart: in a text file (``prose``), one under a title is its underline (when
    another candidate remains); one repeated right after the divider or right before the end is a
    stutter. Without >>>>>>> REPLACE, a second ``=======`` ends the REPLACE (another slip seen from
    Claude) when the block has no other: nothing after that line belongs to it; more are malformed.
    """
    cands = [n for n in range(start + 1, stop) if _SR_DIVIDER.match(lines[n])]
    if not cands:
        return None
    if len(cands) > 1:
        cands = [n for n in cands if not _underline(lines, n, prose)] or cands
    first = cands[0]
    if not ended:
        return first, cands[1] if len(cands) == 2 else -1
    rest = [n for n in cands[1:] if not _stutter(lines, n, first, stop, prose)]
    return first, -1 if rest else stop


def _parse_search_replace(lines: list[str], complete: bool = True, hints: PathHints = _NO_HINTS) -> ParsedReply:
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
        path, name = _sr_path(lines, i, hints)
        if path is None and name is None:
            path = last_path
        start = i
        what = f"the SEARCH/REPLACE block at reply line {start + 1}" + (f" for {path}" if path else "")
        stop = start + 1
        while stop < len(lines) and not _SR_END.match(lines[stop]) and not _SR_START.match(lines[stop]):
            stop += 1
        ended = stop < len(lines) and bool(_SR_END.match(lines[stop]))
        prose = (path or "").lower().endswith(_PROSE_SUFFIXES)
        split = _divider(lines, start, stop, ended, prose)
        if split is None:
            if stop >= len(lines):
                reply.truncated = True
                reply.problems.append(
                    f"SEARCH block at reply line {start + 1} has no ======= or >>>>>>> REPLACE (reply cut off?)"
                )
                break
            why = (
                "no ======= line between its SEARCH and REPLACE parts"
                if ended
                else "another SEARCH marker before its ======="
            )
            reply.edits.append(
                unusable(f"{what} has {why}, so it was not applied", start + 1, (start, stop + ended), path or "")
            )
            i = stop + ended
            continue
        divider, k = split
        if k < 0:
            if stop >= len(lines):
                reply.truncated = True
                reply.problems.append(
                    f"SEARCH/REPLACE block at reply line {start + 1} has no >>>>>>> REPLACE (reply cut off?)"
                )
                break
            reply.edits.append(
                unusable(
                    f"{what} is malformed (a SEARCH or ======= marker inside its REPLACE part), so it was not applied",
                    start + 1,
                    (start, stop + ended),
                    path or "",
                )
            )
            i = stop + ended
            continue
        search = lines[start + 1 : divider]
        replace = [
            t for n, t in enumerate(lines[divider + 1 : k], divider + 1) if not _stutter(lines, n, divider, k, prose)
        ]
        span = (start, k + 1)
        if path is None:
            why = (
                f"{name!r} before it is not a file in the workspace or named by this phase's scope"
                if name is not None
                else "no file path line comes before it"
            )
            first = _first_line(search) if any(t.strip() for t in search) else "(empty SEARCH)"
            reply.edits.append(
                unusable(
                    f"{what} (SEARCH starts {first}) is not tied to a file: {why}, so it was not applied; put the "
                    "file's path alone on the line right before the block or its code fence (for a name without "
                    "an extension: `File: NAME`)",
                    start + 1,
                    span,
                )
            )
        else:
            last_path = path
            reply.edits.append(
                Edit(
                    kind="search_replace",
                    path=path,
                    search="\n".join(search) + ("\n" if search else ""),
                    replace="\n".join(replace) + ("\n" if replace else ""),
                    line=start + 1,
                    span=span,
                )
            )
        i = k + 1
    if fence_open is not None and not reply.truncated:
        reply.truncated = True
        reply.problems.append(f"the code block opened at reply line {fence_open + 1} is never closed (reply cut off?)")
    return reply


def _parse_diff(lines: list[str], complete: bool = True, hints: PathHints = _NO_HINTS) -> ParsedReply:

    return parse_diff(lines, complete)


_PARSERS = {"diff": _parse_diff, "full_file": _parse_full_files, "structured_edit": _parse_search_replace}
