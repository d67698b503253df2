"""Destructive-output guards: catch replies that would silently throw code away.

Owns the checks run before a whole-file replacement is written (shrink, growth, dropped top-level
definitions) and the elision check run on every edit ("... rest of the code", a bare ``...`` where
the file had real code). Each guard has a name the Builder sees in the feedback.

Size thresholds:

- shrink: a file of at least 10 lines (``SHRINK_MIN_LINES``) may not lose more than 60 % of its
  lines (``SHRINK_LIMIT``) in a whole-file replacement; ``allow_mass_deletion`` lifts it. Smaller
  files are rewritten freely.
- mass deletion: the same rule over the whole phase scope, for every edit kind (diffs deleting
  files, SEARCH/REPLACE emptying them, whole files): a reply may not take away more than 60 % of
  the lines of the files in scope when they hold at least 10; ``allow_mass_deletion`` lifts it.
- growth: a file of at least 20 lines (``GROWTH_MIN_LINES``) may not grow to more than 3x its
  lines (``GROWTH_LIMIT``), even with ``allow_mass_deletion``. Smaller files are stubs that
  legitimately grow into modules.

Dropped definitions and elision are checked at every size, and no edit may put a NUL byte into a
text file (``nul_byte_hits``).
"""

from __future__ import annotations

import ast
import re
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

SHRINK_LIMIT = 0.60  # refuse a rewrite that loses more than 60 % of the file's lines
GROWTH_LIMIT = 3.0  # or that more than triples it
SHRINK_MIN_LINES = 10  # tiny files are rewritten freely: a 5-line stub becoming 1 line is not a loss
GROWTH_MIN_LINES = 20  # and small stubs legitimately grow into modules
_PROSE_SUFFIXES = (".md", ".rst", ".txt", ".adoc")  # where a line of "..." is writing, not elided code

_COMMENT = r"(?:#+|//+|/\*+|\*+|<!--|--|;+|%+|\{/\*|\(\*)"
_ELLIPSIS = r"(?:\.{3,}|…)"
_WORDS = re.compile(
    r"\b(?:existing|rest|remaining|remainder|unchanged|omitted|previous|original|same as|as before|"
    r"other (?:code|methods|functions|fields|imports|tests|classes)|for brevity|etc)\b"
)
_NOUN = (
    r"(?:code|implementation|methods?|functions?|content|logic|imports?|body|class(?:es)?|file|module|tests?|fields)"
)
_STANDINS = [
    re.compile(
        rf"^(?:the )?(?:existing |remaining |other |previous |original )?{_NOUN} "
        r"(?:is |are |remains? |stays? )?(?:unchanged|omitted|as before|the same|goes here|here)$"
    ),
    re.compile(r"^(?:unchanged|omitted|same as (?:before|above|original))(?: code)?$"),
    re.compile(
        rf"^(?:the )?(?:rest|remainder) of (?:the )?{_NOUN}(?: (?:is |remains )?(?:unchanged|here|as before|the same|omitted))?$"
    ),
    re.compile(rf"^(?:keep |keeping )?(?:the |all )?(?:existing|remaining|other) {_NOUN}(?: unchanged| here| as is)?$"),
    re.compile(r"^(?:the )?rest (?:is )?unchanged$"),
]
_TOP_LEVEL_DEF = re.compile(
    r"^(?:export\s+)?(?:default\s+)?(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?"
    r"(?:def|class|function|fn|func|interface|struct|enum|trait|type|module)\s+(?:\([^)]*\)\s*)?([A-Za-z_$][\w$]*)"
)


@dataclass
class GuardHit:
    """A guard that fired: ``name`` (shrink, growth, dropped_definitions, elision_placeholder) and why."""

    name: str
    message: str


def is_placeholder_line(line: str, bare_ellipsis: bool = True) -> bool:
    """True for lines that stand for omitted code: ``# ... existing code ...``, ``// rest unchanged``, ``...``."""
    s = line.strip()
    if not s:
        return False
    if s in ("...", "…"):
        return bare_ellipsis
    m = re.match(rf"^({_COMMENT})?\s*(.*)$", s)
    opener, body = (m.group(1), m.group(2)) if m else (None, s)
    has_ellipsis = bool(re.match(rf"^{_ELLIPSIS}", body) or re.search(rf"{_ELLIPSIS}\s*\)?\s*(?:\*/|-->)?$", body))
    if opener is None and not has_ellipsis:
        return False  # plain code or prose
    text = re.sub(rf"{_ELLIPSIS}|\*/|-->|\*\}}|\*\)|[()\[\]:,.!]", " ", body).lower()
    words = text.split()
    if not words:
        return has_ellipsis and opener is not None  # "# ..." or "// ..."
    if len(words) > 9:
        return False  # a real comment, not a stand-in
    joined = " ".join(words)
    if has_ellipsis:
        return bool(_WORDS.search(joined))
    return any(p.match(joined) for p in _STANDINS)


# Python ellipsis statements ------------------------------------------------------------------
def _is_ellipsis(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and stmt.value.value is Ellipsis


def _is_trivial(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Pass) or _is_ellipsis(stmt):
        return True
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _parse(text: str) -> ast.Module | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences etc. are not our business here
        try:
            return ast.parse(text)
        except (SyntaxError, ValueError):
            return None


def _scopes(tree: ast.Module) -> dict[str, tuple[bool, int, list[int]]]:
    """qualname -> (has real code, number of ``...`` statements, their line numbers) for module, classes, defs."""
    out: dict[str, tuple[bool, int, list[int]]] = {}

    def visit(node: ast.AST, name: str) -> None:
        body = getattr(node, "body", [])
        ellipses: list[int] = []

        def walk(stmts: list[ast.stmt]) -> None:
            for st in stmts:
                if _is_ellipsis(st):
                    if not (len([s for s in stmts if not _is_trivial(s)]) == 0 and stmts is not body):
                        ellipses.append(st.lineno)  # a sole `...` in an if/with/for block is a stub, not elision
                elif isinstance(st, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    visit(st, f"{name}.{st.name}" if name else st.name)
                else:
                    for attr in ("body", "orelse", "finalbody", "handlers"):
                        sub = getattr(st, attr, None)
                        if isinstance(sub, list) and sub and isinstance(sub[0], ast.stmt | ast.ExceptHandler):
                            walk([s for s in sub if isinstance(s, ast.stmt)])
                            for h in sub:
                                if isinstance(h, ast.ExceptHandler):
                                    walk(h.body)

        walk(body)
        real = any(not _is_trivial(s) for s in body)
        out[name] = (real, len(ellipses), ellipses)

    visit(tree, "")
    return out


def python_elisions(old: str | None, new: str) -> list[int]:
    """Line numbers of ``...`` statements in ``new`` that stand for code the old file really had.

    A ``...`` that is the whole body of a def/class is a stub (legit in Protocols and overloads)
    unless the old file's def/class of the same name had real code; a ``...`` among other
    statements is an elision unless the old scope had as many.
    """
    new_tree = _parse(new)
    if new_tree is None:
        return []
    old_tree = _parse(old) if old is not None else None
    old_scopes = _scopes(old_tree) if old_tree is not None else {}
    hits: list[int] = []
    for name, (real, count, lines) in _scopes(new_tree).items():
        if not count:
            continue
        old_real, old_count, _ = old_scopes.get(name, (False, 0, []))
        if not real:  # the body is only `...` (and perhaps a docstring): a stub
            if old_real:
                hits.extend(lines)
        elif count > old_count:
            hits.extend(lines[old_count:])
    return sorted(hits)


# guards --------------------------------------------------------------------------------------
def elision_hits(path: str, old: str | None, new: str) -> list[GuardHit]:
    """Placeholders in ``new`` that are not already in ``old``: the elision guard, for every edit kind."""
    old_lines = Counter(s.strip() for s in (old or "").split("\n"))
    found: list[str] = []
    seen: Counter[str] = Counter()
    for n, line in enumerate(new.split("\n"), 1):
        s = line.strip()
        if s in ("...", "…") or not is_placeholder_line(line):
            continue
        seen[s] += 1
        if seen[s] > old_lines[s]:
            found.append(f"line {n}: {s!r}")
    if path.endswith((".py", ".pyi")) and _parse(new) is not None:
        if old is None or _parse(old) is not None:
            found.extend(f"line {n}: '...' where the old file had code" for n in python_elisions(old, new))
    elif not path.endswith(_PROSE_SUFFIXES):
        bare_new = sum(1 for s in new.split("\n") if s.strip() in ("...", "…"))
        bare_old = sum(1 for s in (old or "").split("\n") if s.strip() in ("...", "…"))
        if bare_new > bare_old:
            found.append(f"{bare_new - bare_old} line(s) that are only '...'")
    if not found:
        return []
    shown = "; ".join(found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
    return [
        GuardHit(
            "elision_placeholder",
            f"the new text stands for omitted code instead of writing it ({shown}); write the code out in full",
        )
    ]


def top_level_names(path: str, text: str) -> set[str]:
    """Names of top-level functions and classes (Python via ast, other languages by a regex on column 0)."""
    if path.endswith((".py", ".pyi")):
        tree = _parse(text)
        if tree is not None:
            return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
    return {m.group(1) for line in text.split("\n") if (m := _TOP_LEVEL_DEF.match(line))}


def shrinks(old_n: int, new_n: int) -> bool:
    """The shrink rule: ``old_n`` lines (at least ``SHRINK_MIN_LINES``) losing more than ``SHRINK_LIMIT`` of them."""
    return old_n >= SHRINK_MIN_LINES and new_n < old_n * (1 - SHRINK_LIMIT)


def mass_deletion_hit(old_n: int, new_n: int, deleted: Sequence[str], emptied: Sequence[str]) -> GuardHit:
    """The shrink rule fired for the whole phase scope: ``old_n`` lines in scope would become ``new_n``."""
    named = [f"deleting {', '.join(deleted[:6])}{' ...' if len(deleted) > 6 else ''}"] if deleted else []
    named += [f"emptying {', '.join(emptied[:6])}{' ...' if len(emptied) > 6 else ''}"] if emptied else []
    return GuardHit(
        "mass_deletion",
        f"the reply would take the files in this phase's scope from {old_n} to {new_n} lines "
        f"(-{100 - 100 * new_n // old_n}%{'; ' + '; '.join(named) if named else ''}); a reply may remove at most "
        f"{SHRINK_LIMIT:.0%} of the lines in scope unless the phase allows mass deletion, and this one does not: "
        "keep the code and change only what the phase asks",
    )


def nul_byte_hits(path: str, old: Sequence[str] | None, new: Sequence[str]) -> list[GuardHit]:
    """A NUL byte the edit would put into a text file (one without NUL bytes before; a new file is text)."""
    if old is not None and any("\x00" in t for t in old):
        return []  # the file already held NUL bytes: not text, not this guard's business
    at = next((n for n, t in enumerate(new, 1) if "\x00" in t), None)
    if at is None:
        return []
    return [
        GuardHit(
            "nul_byte",
            f"line {at} of the new text of {path} holds a NUL byte (\\x00), which would turn a text file into a "
            "binary one; write the escape sequence (\\0 or \\x00) the language uses instead of the raw byte",
        )
    ]


def full_file_hits(
    path: str, old: str, new: str, *, allow_mass_deletion: bool = False, removed_ok: Sequence[str] = ()
) -> list[GuardHit]:
    """Every guard that fires for replacing ``old`` with the whole-file ``new`` (empty list = safe)."""
    hits: list[GuardHit] = []
    old_n = len(old.splitlines())
    new_n = len(new.splitlines())
    if not allow_mass_deletion and shrinks(old_n, new_n):
        hits.append(
            GuardHit(
                "shrink",
                f"the file would go from {old_n} to {new_n} lines (-{100 - 100 * new_n // old_n}%; a whole-file "
                f"rewrite of a file of {SHRINK_MIN_LINES}+ lines may drop at most {SHRINK_LIMIT:.0%} of them); "
                "send the whole file, or change it with a diff or SEARCH/REPLACE edit",
            )
        )
    if old_n >= GROWTH_MIN_LINES and new_n > old_n * GROWTH_LIMIT:
        hits.append(
            GuardHit(
                "growth",
                f"the file would grow from {old_n} to {new_n} lines (more than {GROWTH_LIMIT:g}x, the limit for "
                f"files of {GROWTH_MIN_LINES}+ lines); check it is not duplicated, or put new code in a new file",
            )
        )
    if not allow_mass_deletion:
        ok = {r.rsplit(":", 1)[-1] for r in removed_ok} | set(removed_ok)
        dropped = sorted(top_level_names(path, old) - top_level_names(path, new) - ok)
        if dropped:
            hits.append(
                GuardHit(
                    "dropped_definitions",
                    f"top-level definitions would disappear: {', '.join(dropped)}; keep them (send the complete file)",
                )
            )
    hits.extend(elision_hits(path, old, new))
    return hits
