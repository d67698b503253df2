"""The Python syntax check of an edited file: refuse an edit whose result no longer compiles.

Compiling a whole module costs about 3 ms per 500 lines (docs/BENCHMARKS.md), more than placing and
writing the edit. Most edits touch one function, so the check first compiles only the top-level
statements around the changed lines (from the column-0 statement above the change to the one after
it). If that part compiles, the edit is accepted; if it does not, or the change touches a
``from __future__`` import, changes the number of triple quotes or the bracket balance of the file,
or ends a line with a backslash, the whole file is compiled and only that verdict counts. So an edit is
never refused because the part was cut in the wrong place (inside a string or brackets that span a
column-0 line); what the part cannot see (an error that shows only elsewhere in the file) is left to
the quality gate, which runs the real checks anyway.
"""

from __future__ import annotations

import re
import warnings

# Column-0 lines that continue the statement above rather than start one.
_CONTINUES = ("@", ")", "]", "}", "#", "else", "elif", "except", "finally")
# Below this many lines the whole file compiles about as fast as any part of it.
_WHOLE_BELOW = 150


def compile_error(text: str) -> SyntaxError | ValueError | None:
    """What ``compile()`` says of ``text`` as a module, or None if it compiles."""
    # compile() rather than ast.parse: it is faster (no Python AST objects) and also catches what only
    # the compiler rejects ('return' outside a function, duplicate arguments), which imports would hit.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(text, "<edit>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            return exc
    return None


def changed_span(old: list[str], new: list[str]) -> tuple[int, int]:
    """Lines ``new[start:end]`` that differ from ``old`` (the common head and tail left out)."""
    start, limit = 0, min(len(old), len(new))
    while start < limit and old[start] == new[start]:
        start += 1
    end_old, end_new = len(old), len(new)
    while end_old > start and end_new > start and old[end_old - 1] == new[end_new - 1]:
        end_old -= 1
        end_new -= 1
    return start, end_new


def _starts_statement(line: str, indent: str) -> bool:
    """A statement begins on this line at exactly ``indent`` (not a continuation, comment or decorator)."""
    rest = line[len(indent) :]
    return line.startswith(indent) and bool(rest) and rest[0] not in " \t\f" and not rest.startswith(_CONTINUES)


def _block(lines: list[str], start: int, end: int, indent: str) -> tuple[int, int] | None:
    """Lines ``[first, last)``: the statements at ``indent`` from the one above the change through
    the change, every line of them indented at least that much; None if no such run holds it."""
    first = min(max(start - 1, 0), len(lines) - 1)
    while first > 0 and not _starts_statement(lines[first], indent):
        first -= 1
    if not _starts_statement(lines[first], indent):
        return None
    while first > 0 and lines[first - 1].startswith(indent + "@"):  # decorators belong to the def below
        first -= 1
    last = max(end, first + 1)
    while last < len(lines):
        line = lines[last]
        if line.strip() and not line.lstrip().startswith("#"):
            if not line.startswith(indent) or _starts_statement(line, indent):
                break
        last += 1
    inside = all(not line.strip() or line.startswith(indent) for line in lines[first:last])
    return (first, last) if inside and first <= start <= end <= last else None


_DEF = re.compile(r"^([ ]+)(?:async[ ]+def|def|class)[ ]")


def part_compiles(lines: list[str], start: int, end: int) -> bool:
    """True if the statements holding ``lines[start:end]`` compile on their own: first the innermost
    ``def``/``class`` block around them (dedented), else the top-level statements. False means "not
    shown": the parts failed or are not worth cutting; compile the whole file."""
    if len(lines) < _WHOLE_BELOW or any("__future__" in line for line in lines[start:end]):
        return False
    # From the line before the change: a line inserted or deleted at a statement's edge can break
    # the statement above it (a def left without its body).
    levels = [""]
    near = [line for line in lines[max(start - 1, 0) : end] if line.strip()]
    floor = min((len(line) - len(line.lstrip()) for line in near), default=0)
    for n in range(min(start, len(lines)) - 1, -1, -1):
        m = _DEF.match(lines[n])
        if m and len(m.group(1)) <= floor:  # a def the changed lines can be inside (not a deeper one that ended)
            levels.insert(0, m.group(1))
            break
        if lines[n][:1] not in (" ", "\t", ""):
            break  # back at column 0: no enclosing def or class
    for indent in levels:
        span = _block(lines, start, end, indent)
        if span is None or (span[1] - span[0]) * 2 > len(lines):
            continue
        first, last = span
        above = "\n".join(lines[:first])
        if above.count('"""') % 2 or above.count("'''") % 2:
            return False  # the part would start inside a triple-quoted string: its closing quotes would open one
        part = "\n".join(line[len(indent) :] for line in lines[first:last]) + "\n"
        if compile_error(part) is None:
            return True
    return False


def _same_nesting(old: str, new: str, changed: list[str]) -> bool:
    """True if the edit left what spans lines as it was: the same number of triple quotes and the
    same bracket balance in the whole file, and no changed line continued with a backslash. Where
    it did not (``template = \"\"\"`` closed on its own line), the part can compile while the
    rest of the file now sits inside a string or a bracket: only the whole file tells."""
    for mark in ('"""', "'''"):
        if old.count(mark) != new.count(mark):
            return False
    for opening, closing in ("()", "[]", "{}"):
        if old.count(opening) - old.count(closing) != new.count(opening) - new.count(closing):
            return False
    return not any(line.rstrip().endswith("\\") for line in changed)


def syntax_error(
    path: str, new: str, old: str | None, *, changed: tuple[int, int] | None = None
) -> tuple[int, str, str] | None:
    """(line, that line's text, message) when a Python file's new text does not compile and the old
    one did. ``changed``: the lines of ``new`` (``start, end``, 0-based) the edits changed; when
    given, the statements around them are compiled first, and a part that compiles settles it."""
    if not path.endswith((".py", ".pyi")):
        return None
    lines = new.split("\n")
    if changed is not None and old is not None and _same_nesting(old, new, lines[changed[0] : changed[1]]):
        if part_compiles(lines, *changed):
            return None
    exc = compile_error(new)
    if exc is None:
        return None
    if old is not None and compile_error(old) is not None:
        return None  # already broken before the edit: do not block a partial fix
    if isinstance(exc, SyntaxError):
        lineno = exc.lineno or 0
        text = lines[lineno - 1] if 0 < lineno <= len(lines) else (exc.text or "").rstrip("\n")
        return lineno, text, exc.msg
    return 0, "", str(exc)  # NUL bytes
